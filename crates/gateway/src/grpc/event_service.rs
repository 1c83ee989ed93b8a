//! `conference_gateway.v1.EventService`: the gRPC face of the bus, and
//! Telnyx's record of its webhook deliveries.
//!
//! `Subscribe` is served here instead of by the generated server, for one
//! reason: the generated server would encode every event once per subscriber,
//! and this one sends the bytes the bus encoded once (see [`super::event_codec`]).
//! Every other path goes to the generated server over [`TelnyxApi`]: the
//! unary RPCs (`ListWebhookDeliveries`, `GetWebhookDelivery`) are Telnyx
//! operations like those of the control services, declared in the protos and
//! served by the same generic path. Clients use the generated client as usual.
//!
//! A stream ends, with a status that says how to resume, when the subscriber
//! falls behind, when the bus stops, or when the gateway shuts down: a
//! server-streaming call that never ends would otherwise hold shutdown open.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio_util::sync::CancellationToken;
use tonic::codegen::{Body, BoxFuture, StdError, http};
use tonic::server::{Grpc, NamedService, ServerStreamingService};
use tonic::{Request, Response, Status};

use super::access_status::AccessError;
use super::event_codec::EventCodec;
use super::filter_limits::FilterLimits;
use super::guard::Grant;
use super::stream_status::StreamError;
use super::telnyx_api::TelnyxApi;
use super::trace::TraceContext;
use crate::audit::{self, ActedOn, Outcome};
use crate::auth::Caller;
use crate::metrics::Metrics;
use api::v1 as pb;
use events::bus::EventBus;
use events::filter::Filter;
use events::hub::Lost;
use events::stream::{self, Ended, EventStream};

/// The full name of the service, as declared in `event_service.proto`.
pub const SERVICE_NAME: &str = "conference_gateway.v1.EventService";
/// The one streaming method; its calls are not counted against the limit
/// on concurrent calls (see [`super::guard`]).
pub(super) const SUBSCRIBE_PATH: &str = "/conference_gateway.v1.EventService/Subscribe";

/// Serves `Subscribe` from a bus until `shutdown` is cancelled, and the unary
/// RPCs through the Telnyx API.
#[derive(Clone)]
pub struct EventService {
    bus: Arc<dyn EventBus>,
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
    /// GATEWAY_MAX_MESSAGE_BYTES, both ways, for `Subscribe` as for the rest.
    max_message_bytes: usize,
    /// The bounds on a filter, checked before it is read.
    filter_limits: FilterLimits,
    unary: pb::event_service_server::EventServiceServer<TelnyxApi>,
}

impl std::fmt::Debug for EventService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventService").finish_non_exhaustive()
    }
}

/// Counts a live subscriber for as long as its stream exists.
struct Live(Arc<Metrics>);

impl Live {
    fn new(metrics: Arc<Metrics>) -> Self {
        metrics.subscribers.inc();
        Live(metrics)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.subscribers.dec();
    }
}

type EventBytes = BoxStream<'static, Result<Bytes, Status>>;

impl EventService {
    /// `max_message_bytes` bounds every message of the service, both ways, as
    /// on the other services.
    pub fn new(
        bus: Arc<dyn EventBus>,
        api: TelnyxApi,
        max_message_bytes: usize,
        shutdown: CancellationToken,
        metrics: Arc<Metrics>,
    ) -> Self {
        let unary = pb::event_service_server::EventServiceServer::new(api)
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes);
        EventService {
            bus,
            shutdown,
            metrics,
            max_message_bytes,
            filter_limits: FilterLimits::default(),
            unary,
        }
    }

    /// Bounds the filters subscribers may give.
    pub fn with_filter_limits(mut self, limits: FilterLimits) -> Self {
        self.filter_limits = limits;
        self
    }

    /// Opens the subscriber's stream. Errors here end the call before any
    /// event: a bad filter, or a cursor that cannot be served.
    async fn subscribe(&self, request: pb::SubscribeRequest) -> Result<EventBytes, StreamError> {
        self.filter_limits.check(
            &request.event_types,
            [
                ("conference_id", &request.conference_id),
                ("call_control_id", &request.call_control_id),
                ("queue_name", &request.queue_name),
            ],
        )?;
        let filter = Filter::new(
            &request.event_types,
            &request.conference_id,
            &request.call_control_id,
            &request.queue_name,
        )?;
        let resume_after = Some(request.resume_after.as_str()).filter(|c| !c.is_empty());
        let stream = stream::open(&self.bus, filter, resume_after).await?;
        Ok(respond(
            stream,
            self.bus.hub().queue_capacity(),
            self.shutdown.clone(),
            Live::new(Arc::clone(&self.metrics)),
        ))
    }
}

/// The response stream: each event's shared bytes, then one closing status.
fn respond(
    stream: EventStream,
    capacity: usize,
    shutdown: CancellationToken,
    live: Live,
) -> EventBytes {
    futures::stream::unfold(Some((stream, shutdown, live)), move |state| async move {
        let (mut stream, shutdown, live) = state?;
        let ended = tokio::select! {
            biased;
            () = shutdown.cancelled() => StreamError::ShuttingDown { last: stream.last_cursor() },
            next = stream.next() => match next {
                Ok(event) => {
                    live.0.events_delivered.inc();
                    return Some((Ok(event.encoded.clone()), Some((stream, shutdown, live))));
                }
                Err(Ended { why: Lost::Overflowed, last }) => {
                    live.0.subscribers_cut_off.inc();
                    StreamError::Overflowed { capacity, last }
                }
                Err(Ended { why: Lost::Stopped, last }) => StreamError::Stopped { last },
            },
        };
        Some((Err(Status::from(ended)), None))
    })
    .boxed()
}

/// The `Subscribe` method, as tonic's server-streaming handler wants it.
struct Subscribe(EventService);

impl ServerStreamingService<pb::SubscribeRequest> for Subscribe {
    type Response = Bytes;
    type ResponseStream = EventBytes;
    type Future = BoxFuture<Response<EventBytes>, Status>;

    fn call(&mut self, request: Request<pb::SubscribeRequest>) -> Self::Future {
        let service = self.0.clone();
        let caller = request.extensions().get::<Caller>().cloned();
        let rules = request
            .extensions()
            .get::<Grant>()
            .and_then(|g| g.rules.clone());
        let trace_id = TraceContext::from_metadata(request.metadata()).trace_id;
        Box::pin(async move {
            let caller = caller.as_ref().map_or("anonymous", Caller::name);
            let mut request = request.into_inner();
            // A subscriber only ever receives the event types it may see,
            // whatever it asks for: its filter is narrowed here, once.
            let narrowed = match &rules {
                Some(rules) => rules.event_types(caller, &request.event_types),
                None if request.event_types.iter().any(|t| t == "*") => Ok(Vec::new()),
                None => Ok(std::mem::take(&mut request.event_types)),
            };
            let opened = match narrowed {
                Ok(types) => {
                    request.event_types = types;
                    service.subscribe(request).await.map_err(Status::from)
                }
                Err(denied) => {
                    service.metrics.record_refusal(caller, denied.reason, false);
                    let status = Status::from(AccessError::Denied(denied));
                    audit::Record {
                        caller,
                        method: SUBSCRIBE_PATH.trim_start_matches('/'),
                        acted_on: &ActedOn::default(),
                        outcome: Outcome::Denied,
                        code: status.code(),
                        trace_id: &trace_id,
                    }
                    .emit();
                    Err(status)
                }
            };
            let code = opened
                .as_ref()
                .map_or_else(Status::code, |_| tonic::Code::Ok);
            service.metrics.count_rpc("Subscribe", code, caller);
            Ok(Response::new(opened?))
        })
    }
}

impl<B> tower::Service<http::Request<B>> for EventService
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != SUBSCRIBE_PATH {
            // The generated server is always ready, and answers UNIMPLEMENTED
            // for a path that is none of its methods.
            return tower::Service::call(&mut self.unary, request);
        }
        let service = self.clone();
        Box::pin(async move {
            let limit = Some(service.max_message_bytes);
            Ok(Grpc::new(EventCodec)
                .apply_max_message_size_config(limit, limit)
                .server_streaming(Subscribe(service), request)
                .await)
        })
    }
}

impl NamedService for EventService {
    const NAME: &'static str = SERVICE_NAME;
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::DescriptorPool;

    #[test]
    fn the_hand_written_route_matches_the_proto() {
        let pool: &DescriptorPool = api::descriptor_pool();
        let service = pool.get_service_by_name(SERVICE_NAME).unwrap();
        let (streams, unary): (Vec<_>, Vec<_>) =
            service.methods().partition(|m| m.is_server_streaming());
        assert_eq!(streams.len(), 1, "Subscribe is the one stream");
        let subscribe = &streams[0];
        assert_eq!(
            format!("/{}/{}", SERVICE_NAME, subscribe.name()),
            SUBSCRIBE_PATH
        );
        assert!(!subscribe.is_client_streaming());
        // Every other method is a Telnyx operation, served by the generic path.
        for method in &unary {
            assert!(
                mapping::catalog()
                    .operation(method.input().full_name())
                    .is_some(),
                "{} declares no Telnyx operation",
                method.name()
            );
        }
        assert_eq!(
            unary.iter().map(|m| m.name()).collect::<Vec<_>>(),
            ["ListWebhookDeliveries", "GetWebhookDelivery"]
        );
        assert_eq!(
            subscribe.input().full_name(),
            "conference_gateway.v1.SubscribeRequest"
        );
        assert_eq!(
            subscribe.output().full_name(),
            "conference_gateway.v1.Event"
        );
    }
}
