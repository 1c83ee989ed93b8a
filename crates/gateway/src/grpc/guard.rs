//! The gate every gRPC call passes before it reaches a service: caller
//! authentication, and load shedding for control calls.
//!
//! It is one tower layer around the whole server rather than an interceptor
//! per service, so a service added later is protected without anyone having to
//! remember to wrap it. Health checks and reflection stay open: Kubernetes and
//! tooling must reach them without a token.

use std::{
    collections::HashMap,
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use tokio::sync::Semaphore;
use tonic::{Status, body::Body};
use tower::{Layer, Service};

use super::stream_caps::{self, ANONYMOUS, StreamCaps, StreamSlot, StreamSlots};
use crate::auth::Authenticator;
use crate::metrics::Metrics;

/// Paths open to everyone.
const OPEN_PREFIXES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// The one open path that streams: it counts against the stream caps as the
/// caller `anonymous`.
const HEALTH_WATCH_PATH: &str = "/grpc.health.v1.Health/Watch";

/// The `method` label of a path that names no RPC of the gateway's API. Any
/// caller can send any path, so a path is never a label value itself.
pub const UNKNOWN_METHOD: &str = "unknown";

/// Builds a `Guard` around the server's services.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    auth: Authenticator,
    in_flight: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    methods: Arc<Methods>,
    streams: Arc<StreamSlots>,
}

/// Every RPC path of the API, read once from the descriptors: its `method`
/// label (a fixed set), and whether it is a server stream.
#[derive(Debug)]
pub struct Methods(HashMap<String, Method>);

#[derive(Debug)]
struct Method {
    label: String,
    /// Long-lived calls (`EventService/Subscribe`) are not counted against
    /// the limit on concurrent calls: they have their own bounds. Every unary
    /// call is, in every service, EventService's included; a method is a
    /// stream here exactly when the protos say so.
    streaming: bool,
}

impl Methods {
    /// Every method of every service in `pool` under `package`.
    pub fn of(pool: &prost_reflect::DescriptorPool, package: &str) -> Self {
        let mut paths = HashMap::new();
        for service in pool.services().filter(|s| s.package_name() == package) {
            for method in service.methods() {
                let path = format!("/{}/{}", service.full_name(), method.name());
                let streaming = method.is_server_streaming();
                let label = method.name().to_owned();
                paths.insert(path, Method { label, streaming });
            }
        }
        Methods(paths)
    }

    /// The label of `path`: its method's name, or [`UNKNOWN_METHOD`].
    pub fn label(&self, path: &str) -> &str {
        self.0
            .get(path)
            .map_or(UNKNOWN_METHOD, |m| m.label.as_str())
    }

    /// Whether `path` is a server-streaming method of the API.
    pub fn is_stream(&self, path: &str) -> bool {
        self.0.get(path).is_some_and(|m| m.streaming)
    }
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
            methods: Arc::new(Methods::of(api::descriptor_pool(), "conference_gateway.v1")),
            streams: StreamSlots::new(StreamCaps::default()),
        }
    }

    /// Caps open streams per caller and per connection.
    pub fn with_stream_caps(mut self, caps: StreamCaps) -> Self {
        self.streams = StreamSlots::new(caps);
        self
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
        if OPEN_PREFIXES.iter().any(|p| path.starts_with(p)) {
            if path != HEALTH_WATCH_PATH {
                return Box::pin(self.inner.call(request));
            }
            let connection = stream_caps::connection_of(&request);
            return match self.layer.streams.acquire(ANONYMOUS, connection) {
                Ok(slot) => self.call_inner(request, None, Some(slot)),
                Err(status) => reject(status),
            };
        }
        let stream = self.layer.methods.is_stream(path);
        let method = self.layer.methods.label(path);

        let header = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let caller = match self.layer.auth.authenticate(header) {
            Ok(caller) => caller,
            Err(status) => {
                self.layer
                    .metrics
                    .count_rpc(method, status.code(), "unauthenticated");
                return reject(status);
            }
        };

        let mut slot = None;
        let permit = if stream {
            match self
                .layer
                .streams
                .acquire(caller.name(), stream_caps::connection_of(&request))
            {
                Ok(acquired) => slot = Some(acquired),
                Err(status) => {
                    self.layer
                        .metrics
                        .count_rpc(method, status.code(), caller.name());
                    return reject(status);
                }
            }
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
                        .count_rpc(method, status.code(), caller.name());
                    return reject(status);
                }
            }
        };
        request.extensions_mut().insert(caller);
        self.call_inner(request, permit, slot)
    }
}

impl<S> Guard<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    /// Calls the service; a control call's permit is held until it answered,
    /// a stream's place until its body is dropped.
    fn call_inner(
        &mut self,
        request: http::Request<Body>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
        slot: Option<StreamSlot>,
    ) -> BoxFuture<'static, Result<http::Response<Body>, S::Error>> {
        // The clone that was polled ready is the one called; the fresh clone
        // stays behind for the next call (tower's usual pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = inner.call(request).await;
            drop(permit);
            match slot {
                Some(slot) => response.map(|response| stream_caps::hold(response, slot)),
                None => response,
            }
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
    fn only_the_apis_own_paths_are_method_labels() {
        let names = Methods::of(api::descriptor_pool(), "conference_gateway.v1");
        assert_eq!(
            names.label("/conference_gateway.v1.CallService/Dial"),
            "Dial"
        );
        assert_eq!(
            names.label("/conference_gateway.v1.EventService/Subscribe"),
            "Subscribe"
        );
        for stranger in [
            "/conference_gateway.v1.CallService/Dial2",
            "/x.Y/Dial",
            "/grpc.health.v1.Health/Check",
            "/",
            "",
        ] {
            assert_eq!(names.label(stranger), UNKNOWN_METHOD, "{stranger:?}");
        }
    }

    #[test]
    fn only_the_streams_are_exempt_from_the_limit() {
        let methods = Methods::of(api::descriptor_pool(), "conference_gateway.v1");
        let streams: Vec<&str> = methods
            .0
            .iter()
            .filter(|(_, m)| m.streaming)
            .map(|(path, _)| path.as_str())
            .collect();
        let mut streams = streams;
        streams.sort_unstable();
        assert_eq!(
            streams,
            [
                super::super::event_service::SUBSCRIBE_PATH,
                "/conference_gateway.v1.StateService/WatchCall",
                "/conference_gateway.v1.StateService/WatchConference",
                "/conference_gateway.v1.StateService/WatchQueue",
            ]
        );
        assert!(!methods.is_stream("/conference_gateway.v1.EventService/ListWebhookDeliveries"));
    }
}
