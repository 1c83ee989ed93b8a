//! The gate every gRPC call passes before it reaches a service: caller
//! authentication, and load shedding for control calls.
//!
//! It is one tower layer around the whole server rather than an interceptor
//! per service, so a service added later is protected without anyone having to
//! remember to wrap it. Health checks and reflection stay open: Kubernetes and
//! tooling must reach them without a token.

use std::{
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

/// Paths whose calls are long-lived streams, not counted against the limit on
/// concurrent calls (they have their own bounds).
const STREAM_PREFIXES: [&str; 2] = [
    "/conference_gateway.v1.EventService/",
    "/conference_gateway.v1.StateService/Watch",
];

/// Builds a `Guard` around the server's services.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    auth: Authenticator,
    in_flight: Arc<Semaphore>,
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
        let stream = STREAM_PREFIXES.iter().any(|p| path.starts_with(p));

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
