//! The control services, and EventService's unary RPCs: every RPC is one
//! Telnyx operation, served by one generic method.
//!
//! What each RPC sends is declared in the proto files (see [`crate::mapping`]),
//! so the service impls below are a table: an RPC that needed a hand-written
//! handler would be a defect in the mapping, not a reason for a special case.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use prost_reflect::DynamicMessage;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::access_status::AccessError;
use super::deadline;
use super::guard::Grant;
use super::status::GatewayError;
use super::trace::TraceContext;
use crate::audit::{self, ActedOn, Outcome};
use crate::auth::{Caller, Resource, Rules};
use crate::limits::{DIAL, Limits};
use crate::metrics::Metrics;
use api::v1 as pb;
use mapping::{Catalog, Operation};
use telnyx_client::{CallContext, TelnyxClient};

/// The state every control RPC shares: the catalog, the Telnyx client, and
/// the deadline given to calls that set none.
#[derive(Debug, Clone)]
pub struct TelnyxApi {
    catalog: &'static Catalog,
    client: Arc<TelnyxClient>,
    metrics: Arc<Metrics>,
    default_deadline: Duration,
    limits: Arc<Limits>,
}

/// Why a control call failed: refused by the policy or a limit (counted and
/// audited as such), or anything else.
enum Failure {
    Access(AccessError),
    Other(Status),
}

impl From<Status> for Failure {
    fn from(status: Status) -> Self {
        Failure::Other(status)
    }
}

impl From<GatewayError> for Failure {
    fn from(error: GatewayError) -> Self {
        Failure::Other(error.into())
    }
}

impl TelnyxApi {
    pub fn new(
        catalog: &'static Catalog,
        client: TelnyxClient,
        metrics: Arc<Metrics>,
        default_deadline: Duration,
    ) -> Self {
        TelnyxApi {
            catalog,
            client: Arc::new(client),
            metrics,
            default_deadline,
            limits: Arc::new(Limits::new(None)),
        }
    }

    /// Shares `limits` (the account's dial limit) with the rest of the
    /// gateway, instead of limits of its own.
    #[must_use]
    pub fn with_limits(mut self, limits: Arc<Limits>) -> Self {
        self.limits = limits;
        self
    }

    /// Runs one RPC in its own span (caller, trace id) and counts it.
    async fn invoke<Req, Resp>(&self, request: Request<Req>) -> Result<Response<Resp>, Status>
    where
        Req: prost::Message + prost::Name,
        Resp: prost::Message + Default,
    {
        let started = Instant::now();
        let operation = self.catalog.operation(&Req::full_name()).ok_or_else(|| {
            GatewayError::Internal(format!("no Telnyx operation for {}", Req::full_name()))
        })?;
        #[cfg_attr(not(feature = "otlp"), expect(unused_mut))]
        let mut trace = TraceContext::from_metadata(request.metadata());
        let caller = request.extensions().get::<Caller>().cloned();
        let caller = caller.as_ref().map_or("anonymous", Caller::name);
        let grant = request.extensions().get::<Grant>().cloned();
        let method = grant
            .as_ref()
            .map_or_else(|| Req::full_name().to_string(), |g| g.method.to_string());
        let rules = grant.and_then(|g| g.rules);
        let mut acted_on = ActedOn::default();
        let span = tracing::info_span!(
            "rpc",
            otel.kind = "server",
            method = operation.short_name(),
            caller,
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
        );
        #[cfg(feature = "otlp")]
        super::trace::link(&span, &mut trace);
        span.record("trace_id", trace.trace_id.as_str());
        span.record("span_id", trace.span_id.as_str());
        let outcome = self
            .execute(
                operation,
                request,
                &trace,
                (caller, rules.as_deref()),
                &mut acted_on,
            )
            .instrument(span)
            .await;
        let (outcome, audited) = match outcome {
            Ok(response) => (Ok(response), Outcome::Ok),
            Err(Failure::Other(status)) => (Err(status), Outcome::Failed),
            Err(Failure::Access(refused)) => {
                let limited = !matches!(refused, AccessError::Denied(_));
                self.metrics
                    .record_refusal(caller, refused.reason(), limited);
                let audited = if limited {
                    Outcome::Limited
                } else {
                    Outcome::Denied
                };
                (Err(Status::from(refused)), audited)
            }
        };
        let code = outcome
            .as_ref()
            .map_or_else(Status::code, |_| tonic::Code::Ok);
        audit::Record {
            caller,
            method: &method,
            acted_on: &acted_on,
            outcome: audited,
            code,
            trace_id: &trace.trace_id,
        }
        .emit();
        self.metrics.record_rpc(
            operation.short_name(),
            code,
            caller,
            started.elapsed().as_secs_f64(),
        );
        outcome.map(Response::new)
    }

    /// Validates the request, checks it against the caller's resources and
    /// the account's limits, sends it to Telnyx and reads the answer back.
    async fn execute<Req, Resp>(
        &self,
        operation: &Operation,
        request: Request<Req>,
        trace: &TraceContext,
        (caller, rules): (&str, Option<&Rules>),
        acted_on: &mut ActedOn,
    ) -> Result<Resp, Failure>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
    {
        let deadline = deadline::from_metadata(request.metadata())
            .unwrap_or_else(|| tokio::time::Instant::now() + self.default_deadline);
        let mut message = DynamicMessage::new(operation.input.clone());
        message
            .transcode_from(request.get_ref())
            .map_err(|e| GatewayError::Internal(e.to_string()))?;
        *acted_on = ActedOn::of(&message);
        if let Some(rules) = rules {
            for resource in Resource::ALL {
                let value = match resource {
                    Resource::Connection => &acted_on.connection_id,
                    Resource::Queue => &acted_on.queue_name,
                    Resource::Application => &acted_on.application_id,
                };
                rules
                    .check_resource(caller, resource, value)
                    .map_err(|denied| Failure::Access(denied.into()))?;
            }
        }
        let planned = self
            .catalog
            .build_call(operation, &message)
            .map_err(GatewayError::from)?;
        let (request_span, traceparent) =
            super::trace::telnyx_request(trace, operation.short_name());
        let context = CallContext {
            operation: operation.short_name(),
            idempotent: operation.is_idempotent(),
            deadline,
            traceparent: Some(&traceparent),
        };
        if operation.short_name() == DIAL {
            self.limits.admit_dial(deadline).await.map_err(|limited| {
                Failure::Access(AccessError::AccountLimited {
                    retry_after: limited.retry_after,
                })
            })?;
        } else {
            self.limits
                .admit_account(deadline)
                .await
                .map_err(|limited| {
                    Failure::Access(AccessError::AccountExhausted {
                        retry_after: limited.retry_after,
                    })
                })?;
        }
        let started = Instant::now();
        let outcome = self
            .client
            .send(&planned.call, context)
            .instrument(request_span)
            .await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let body = match outcome {
            Ok(body) => {
                tracing::debug!(elapsed_ms, "Telnyx call succeeded");
                body
            }
            Err(error) => {
                tracing::info!(elapsed_ms, %error, "Telnyx call failed");
                return Err(GatewayError::from(error).into());
            }
        };
        let response = self
            .catalog
            .decode_response(operation, &body, planned.page.as_ref());
        Ok(response
            .transcode_to::<Resp>()
            .map_err(|e| GatewayError::Internal(e.to_string()))?)
    }
}

/// Implements a generated service trait by forwarding every RPC to `invoke`.
/// Items after the table complete the trait for RPCs served elsewhere.
macro_rules! telnyx_rpcs {
    ($server:path { $($rpc:ident($request:ident) -> $response:ident;)* } $($other:tt)*) => {
        #[tonic::async_trait]
        impl $server for TelnyxApi {
            $(
                async fn $rpc(&self, request: Request<pb::$request>) -> Result<Response<pb::$response>, Status> {
                    self.invoke(request).await
                }
            )*
            $($other)*
        }
    };
}

telnyx_rpcs!(pb::conference_service_server::ConferenceService {
    list_conferences(ListConferencesRequest) -> ListConferencesResponse;
    create_conference(CreateConferenceRequest) -> CreateConferenceResponse;
    get_conference(GetConferenceRequest) -> GetConferenceResponse;
    end_conference(EndConferenceRequest) -> EndConferenceResponse;
    join_conference(JoinConferenceRequest) -> JoinConferenceResponse;
    leave_conference(LeaveConferenceRequest) -> LeaveConferenceResponse;
    hold_participants(HoldParticipantsRequest) -> HoldParticipantsResponse;
    unhold_participants(UnholdParticipantsRequest) -> UnholdParticipantsResponse;
    mute_participants(MuteParticipantsRequest) -> MuteParticipantsResponse;
    unmute_participants(UnmuteParticipantsRequest) -> UnmuteParticipantsResponse;
    play_audio(PlayAudioRequest) -> PlayAudioResponse;
    stop_audio(StopAudioRequest) -> StopAudioResponse;
    speak(SpeakRequest) -> SpeakResponse;
    start_recording(StartRecordingRequest) -> StartRecordingResponse;
    stop_recording(StopRecordingRequest) -> StopRecordingResponse;
    pause_recording(PauseRecordingRequest) -> PauseRecordingResponse;
    resume_recording(ResumeRecordingRequest) -> ResumeRecordingResponse;
    send_dtmf(SendDtmfRequest) -> SendDtmfResponse;
    gather_using_audio(GatherUsingAudioRequest) -> GatherUsingAudioResponse;
    update_supervisor_role(UpdateSupervisorRoleRequest) -> UpdateSupervisorRoleResponse;
    list_participants(ListParticipantsRequest) -> ListParticipantsResponse;
    get_participant(GetParticipantRequest) -> GetParticipantResponse;
    update_participant(UpdateParticipantRequest) -> UpdateParticipantResponse;
});

telnyx_rpcs!(pb::queue_service_server::QueueService {
    list_queues(ListQueuesRequest) -> ListQueuesResponse;
    create_queue(CreateQueueRequest) -> CreateQueueResponse;
    get_queue(GetQueueRequest) -> GetQueueResponse;
    update_queue(UpdateQueueRequest) -> UpdateQueueResponse;
    delete_queue(DeleteQueueRequest) -> DeleteQueueResponse;
    list_queue_calls(ListQueueCallsRequest) -> ListQueueCallsResponse;
    get_queue_call(GetQueueCallRequest) -> GetQueueCallResponse;
    update_queue_call(UpdateQueueCallRequest) -> UpdateQueueCallResponse;
    delete_queue_call(DeleteQueueCallRequest) -> DeleteQueueCallResponse;
    enqueue_call(EnqueueCallRequest) -> EnqueueCallResponse;
    leave_queue(LeaveQueueRequest) -> LeaveQueueResponse;
});

telnyx_rpcs!(pb::call_service_server::CallService {
    dial(DialRequest) -> DialResponse;
    answer(AnswerRequest) -> AnswerResponse;
    hangup(HangupRequest) -> HangupResponse;
    bridge(BridgeRequest) -> BridgeResponse;
    transfer(TransferRequest) -> TransferResponse;
    list_active_calls(ListActiveCallsRequest) -> ListActiveCallsResponse;
    list_call_control_applications(ListCallControlApplicationsRequest) -> ListCallControlApplicationsResponse;
    create_call_control_application(CreateCallControlApplicationRequest) -> CreateCallControlApplicationResponse;
    get_call_control_application(GetCallControlApplicationRequest) -> GetCallControlApplicationResponse;
    update_call_control_application(UpdateCallControlApplicationRequest) -> UpdateCallControlApplicationResponse;
    delete_call_control_application(DeleteCallControlApplicationRequest) -> DeleteCallControlApplicationResponse;
    list_call_events(ListCallEventsRequest) -> ListCallEventsResponse;
    get_call(GetCallRequest) -> GetCallResponse;
    reject(RejectRequest) -> RejectResponse;
    refer(ReferRequest) -> ReferResponse;
    update_client_state(UpdateClientStateRequest) -> UpdateClientStateResponse;
    switch_supervisor_role(SwitchSupervisorRoleRequest) -> SwitchSupervisorRoleResponse;
    speak(CallServiceSpeakRequest) -> CallServiceSpeakResponse;
    start_playback(StartPlaybackRequest) -> StartPlaybackResponse;
    stop_playback(StopPlaybackRequest) -> StopPlaybackResponse;
    gather(GatherRequest) -> GatherResponse;
    stop_gather(StopGatherRequest) -> StopGatherResponse;
    gather_using_audio(CallServiceGatherUsingAudioRequest) -> CallServiceGatherUsingAudioResponse;
    gather_using_speak(GatherUsingSpeakRequest) -> GatherUsingSpeakResponse;
    gather_using_ai(GatherUsingAiRequest) -> GatherUsingAiResponse;
    send_dtmf(CallServiceSendDtmfRequest) -> CallServiceSendDtmfResponse;
    send_sip_info(SendSipInfoRequest) -> SendSipInfoResponse;
    start_recording(CallServiceStartRecordingRequest) -> CallServiceStartRecordingResponse;
    stop_recording(CallServiceStopRecordingRequest) -> CallServiceStopRecordingResponse;
    pause_recording(CallServicePauseRecordingRequest) -> CallServicePauseRecordingResponse;
    resume_recording(CallServiceResumeRecordingRequest) -> CallServiceResumeRecordingResponse;
    start_forking(StartForkingRequest) -> StartForkingResponse;
    stop_forking(StopForkingRequest) -> StopForkingResponse;
    start_streaming(StartStreamingRequest) -> StartStreamingResponse;
    stop_streaming(StopStreamingRequest) -> StopStreamingResponse;
    start_transcription(StartTranscriptionRequest) -> StartTranscriptionResponse;
    stop_transcription(StopTranscriptionRequest) -> StopTranscriptionResponse;
    start_noise_suppression(StartNoiseSuppressionRequest) -> StartNoiseSuppressionResponse;
    stop_noise_suppression(StopNoiseSuppressionRequest) -> StopNoiseSuppressionResponse;
    start_siprec(StartSiprecRequest) -> StartSiprecResponse;
    stop_siprec(StopSiprecRequest) -> StopSiprecResponse;
    start_ai_assistant(StartAiAssistantRequest) -> StartAiAssistantResponse;
    stop_ai_assistant(StopAiAssistantRequest) -> StopAiAssistantResponse;
    join_ai_assistant(JoinAiAssistantRequest) -> JoinAiAssistantResponse;
    add_ai_assistant_messages(AddAiAssistantMessagesRequest) -> AddAiAssistantMessagesResponse;
    start_conversation_relay(StartConversationRelayRequest) -> StartConversationRelayResponse;
    stop_conversation_relay(StopConversationRelayRequest) -> StopConversationRelayResponse;
});

// EventService's unary RPCs. Its stream, Subscribe, never reaches this impl:
// [`super::EventService`] answers it itself, with events encoded once for
// every subscriber, and hands every other path to this generated server.
telnyx_rpcs!(pb::event_service_server::EventService {
    list_webhook_deliveries(ListWebhookDeliveriesRequest) -> ListWebhookDeliveriesResponse;
    get_webhook_delivery(GetWebhookDeliveryRequest) -> GetWebhookDeliveryResponse;
}
    type SubscribeStream = futures::stream::Empty<Result<pb::Event, Status>>;

    async fn subscribe(
        &self,
        _request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        Err(GatewayError::Internal("Subscribe is routed to the event stream, not here".into()).into())
    }
);
