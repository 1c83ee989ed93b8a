//! The gate every gRPC call passes before it reaches a service: caller
//! authentication, the access policy's RPC permissions, the caller's rate
//! limits, and load shedding for control calls.
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
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Status, body::Body};
use tower::{Layer, Service};

use super::access_status::AccessError;
use super::stream_caps::{self, ANONYMOUS, StreamCaps, StreamSlot, StreamSlots};
use super::trace::TraceContext;
use crate::audit::{self, ActedOn, Outcome};
use crate::auth::{AccessPolicy, Authenticator, Caller, Policy, Rules, identity};
use crate::limits::Limits;
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

/// The caller label of metrics for a certificate identity the policy does not
/// name: any client of the CA can present any name.
pub const UNKNOWN_CALLER: &str = "unknown";

/// What the guard granted a call, for the services behind it: the caller's
/// rules (`None` without a policy) and the RPC's full name.
#[derive(Debug, Clone)]
pub struct Grant {
    pub rules: Option<Arc<Rules>>,
    /// `package.Service/Method`.
    pub method: Arc<str>,
}

/// Builds a `Guard` around the server's services.
#[derive(Debug, Clone)]
pub struct GuardLayer {
    auth: Authenticator,
    access: AccessPolicy,
    limits: Arc<Limits>,
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

    /// Every RPC's full name, `package.Service/Method`.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .0
            .keys()
            .map(|path| path.trim_start_matches('/').to_owned())
            .collect();
        names.sort_unstable();
        names
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
    pub fn new(
        auth: Authenticator,
        access: AccessPolicy,
        limits: Arc<Limits>,
        max_in_flight: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        GuardLayer {
            auth,
            access,
            limits,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            metrics,
            methods: Arc::new(api_methods()),
            streams: StreamSlots::new(StreamCaps::default()),
        }
    }

    /// Caps open streams per caller and per connection.
    pub fn with_stream_caps(mut self, caps: StreamCaps) -> Self {
        self.streams = StreamSlots::new(caps);
        self
    }

    /// Refuses a call the policy does not allow or the caller's rate does not
    /// admit, counting and auditing the refusal.
    async fn admit(
        &self,
        policy: &Policy,
        caller: &Caller,
        label: &str,
        method: &str,
        headers: &http::HeaderMap,
    ) -> Result<Arc<Rules>, Status> {
        let name = caller.name();
        let checked = match policy.rules(name) {
            Ok(rules) => match rules.check_method(name, method) {
                Ok(()) => match self.limits.check_caller(name, method, &rules).await {
                    Ok(()) => return Ok(rules),
                    Err(limited) => AccessError::CallerLimited {
                        caller: name.to_owned(),
                        retry_after: limited.retry_after,
                    },
                },
                Err(denied) => denied.into(),
            },
            Err(denied) => denied.into(),
        };
        let limited = !matches!(checked, AccessError::Denied(_));
        self.metrics
            .record_refusal(label, checked.reason(), limited);
        let status = Status::from(checked);
        let trace = TraceContext::from_metadata(&tonic::metadata::MetadataMap::from_headers(
            headers.clone(),
        ));
        audit::Record {
            caller: name,
            method,
            acted_on: &ActedOn::default(),
            outcome: if limited {
                Outcome::Limited
            } else {
                Outcome::Denied
            },
            code: status.code(),
            trace_id: &trace.trace_id,
        }
        .emit();
        Err(status)
    }
}

/// The RPCs of the gateway's API.
pub fn api_methods() -> Methods {
    Methods::of(api::descriptor_pool(), "conference_gateway.v1")
}

/// Who made a call: the bearer token's caller; or, with a policy and no token,
/// the verified client certificate's name the policy knows (else its first
/// name, which the policy then refuses). The second value says whether the
/// name is from a bounded set (a metrics label) or a stranger's certificate.
fn identify(
    auth: &Authenticator,
    policy: Option<&Policy>,
    authorization: Option<&str>,
    extensions: &http::Extensions,
) -> Result<(Caller, bool), Status> {
    if authorization.is_none()
        && let Some(policy) = policy
    {
        let names = extensions
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(TlsConnectInfo::peer_certs)
            .and_then(|certs| certs.first().map(|c| identity::certificate_names(c)))
            .unwrap_or_default();
        if let Some(first) = names.first() {
            let known = names.iter().find(|n| policy.knows(n));
            let name = known.unwrap_or(first);
            return Ok((Caller(Arc::from(name.as_str())), known.is_some()));
        }
    }
    auth.authenticate(authorization)
        .map(|caller| (caller, true))
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
                Ok(slot) => {
                    let clone = self.inner.clone();
                    let mut inner = std::mem::replace(&mut self.inner, clone);
                    Box::pin(async move {
                        inner
                            .call(request)
                            .await
                            .map(|response| stream_caps::hold(response, slot))
                    })
                }
                Err(status) => reject(status),
            };
        }
        let stream = self.layer.methods.is_stream(path);
        let label = self.layer.methods.label(path).to_owned();
        let method: Arc<str> = Arc::from(path.trim_start_matches('/'));

        let header = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let policy = self.layer.access.current();
        let (caller, bounded) = match identify(
            &self.layer.auth,
            policy.as_deref(),
            header,
            request.extensions(),
        ) {
            Ok(identified) => identified,
            Err(status) => {
                self.layer
                    .metrics
                    .count_rpc(&label, status.code(), "unauthenticated");
                return reject(status);
            }
        };
        let caller_label = if bounded {
            caller.name().to_owned()
        } else {
            UNKNOWN_CALLER.to_owned()
        };

        let mut slot: Option<StreamSlot> = None;
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
                        .count_rpc(&label, status.code(), &caller_label);
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
                        .count_rpc(&label, status.code(), &caller_label);
                    return reject(status);
                }
            }
        };

        // The clone that was polled ready is the one called; the fresh clone
        // stays behind for the next call (tower's usual pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let rules = match &policy {
                Some(policy) => {
                    match layer
                        .admit(policy, &caller, &caller_label, &method, request.headers())
                        .await
                    {
                        Ok(rules) => Some(rules),
                        Err(status) => {
                            layer
                                .metrics
                                .count_rpc(&label, status.code(), &caller_label);
                            return Ok(status.into_http());
                        }
                    }
                }
                None => None,
            };
            request.extensions_mut().insert(caller);
            request.extensions_mut().insert(Grant { rules, method });
            // A control call's permit is held until it is answered, a
            // stream's place until its body is dropped.
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
