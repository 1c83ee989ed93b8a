//! The gate every gRPC call passes before it reaches a service: caller
//! authentication, and load shedding for control calls.
//!
//! It is one tower layer around the whole server rather than an interceptor
//! per service, so a service added later is protected without anyone having to
//! remember to wrap it. Health checks and reflection stay open: Kubernetes and
//! tooling must reach them without a token.

use std::{
    collections::HashSet,
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use tokio::sync::Semaphore;
use tonic::{Status, body::Body};
use tower::{Layer, Service};

use crate::auth::Authenticator;
use crate::metrics::Metrics;

/// Paths open to everyone.
const OPEN_PREFIXES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// The paths of the API's server-streaming methods (`EventService/Subscribe`):
/// their calls are long-lived, and are not counted against the limit on
/// concurrent calls (they have their own bounds). Every unary call is, in
/// every service, EventService's included. Read from the descriptors, so a
/// method is a stream here exactly when the protos say so.
fn stream_paths() -> HashSet<String> {
    api::descriptor_pool()
        .services()
        .flat_map(|service| service.methods().collect::<Vec<_>>())
        .filter(|method| method.is_server_streaming())
        .map(|method| format!("/{}/{}", method.parent_service().full_name(), method.name()))
        .collect()
}

/// Builds a `Guard` around the server's services.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    auth: Authenticator,
    in_flight: Arc<Semaphore>,
    streams: Arc<HashSet<String>>,
    metrics: Arc<Metrics>,
}

impl GuardLayer {
    /// `max_in_flight` bounds concurrent control calls; beyond it calls are
    /// refused at once with RESOURCE_EXHAUSTED rather than queued, so an
    /// overload shows up as fast errors the callers can back off from.
    pub fn new(auth: Authenticator, max_in_flight: usize, metrics: Arc<Metrics>) -> Self {
        GuardLayer {
            auth,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            streams: Arc::new(stream_paths()),
            metrics,
        }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`GuardLayer`].
#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    layer: GuardLayer,
}

impl<S> Service<http::Request<Body>> for Guard<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let path = request.uri().path();
        let method = path.rsplit('/').next().unwrap_or_default().to_owned();
        if OPEN_PREFIXES.iter().any(|p| path.starts_with(p)) {
            return Box::pin(self.inner.call(request));
        }
        let stream = self.layer.streams.contains(path);

        let header = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let caller = match self.layer.auth.authenticate(header) {
            Ok(caller) => caller,
            Err(status) => {
                self.layer
                    .metrics
                    .record_rpc(&method, status.code(), "unauthenticated", 0.0);
                return reject(status);
            }
        };

        let permit = if stream {
            None
        } else {
            match Arc::clone(&self.layer.in_flight).try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    let status = Status::resource_exhausted(
                        "the gateway is at its limit of concurrent calls (GATEWAY_MAX_CONCURRENT_CALLS); retry with backoff",
                    );
                    self.layer
                        .metrics
                        .record_rpc(&method, status.code(), caller.name(), 0.0);
                    return reject(status);
                }
            }
        };
        request.extensions_mut().insert(caller);

        // The clone that was polled ready is the one called; the fresh clone
        // stays behind for the next call (tower's usual pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = inner.call(request).await;
            drop(permit);
            response
        })
    }
}

fn reject<E: Send + 'static>(
    status: Status,
) -> BoxFuture<'static, Result<http::Response<Body>, E>> {
    Box::pin(async move { Ok(status.into_http()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_subscribe_is_exempt_from_the_limit() {
        let streams = stream_paths();
        assert_eq!(
            streams.into_iter().collect::<Vec<_>>(),
            [super::super::event_service::SUBSCRIBE_PATH]
        );
    }
}
