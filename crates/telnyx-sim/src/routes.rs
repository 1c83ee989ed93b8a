//! The REST surface: the 83 operations of Telnyx's spec in one table, and
//! the single path every request takes through it: bearer check, chaos,
//! parsing, `command_id` replay, the handler under the world's lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use serde_json::{Value, json};

use super::chaos::Dice;
use super::error::ApiError;
use super::reply::Reply;
use super::request::Request;
use super::state::World;
use super::{
    ai_gather, applications, assistant, call_actions, calls, conference_media, conferences,
    deliveries, gather, media, participants, queues, recording, sim_control, streams,
    transcription,
};

/// A handler: runs under the world's lock, so it is atomic.
pub type Handler = fn(&mut World, &Request) -> Result<Reply, ApiError>;

/// What a repeated `command_id` is remembered against: Telnyx ignores a
/// second command with the same id for the same call or conference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The operation takes no `command_id`.
    None,
    /// The resource named by this path parameter.
    Path(&'static str),
    /// The call named by this body field.
    Body(&'static str),
    /// The whole account (dial: there is no call yet).
    Account,
}

/// One operation of Telnyx's spec.
pub struct Operation {
    pub method: Method,
    /// The spec's path, under `/v2`.
    pub path: &'static str,
    /// The spec's `operationId`, used as the command name in call events.
    pub name: &'static str,
    pub handler: Handler,
    pub scope: Scope,
}

const fn op(
    method: Method,
    path: &'static str,
    name: &'static str,
    handler: Handler,
    scope: Scope,
) -> Operation {
    Operation {
        method,
        path,
        name,
        handler,
        scope,
    }
}

const CALL: Scope = Scope::Path("call_control_id");
const CONFERENCE: Scope = Scope::Path("id");
const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PATCH: Method = Method::PATCH;
const PUT: Method = Method::PUT;
const DELETE: Method = Method::DELETE;

/// Every operation the simulator serves: exactly those of the spec, one
/// row each so the table reads like the spec.
#[rustfmt::skip]
pub static OPERATIONS: [Operation; 83] = [
    op(GET, "/call_control_applications", "ListCallControlApplications", applications::list, Scope::None),
    op(POST, "/call_control_applications", "CreateCallControlApplication", applications::create, Scope::None),
    op(GET, "/call_control_applications/{id}", "RetrieveCallControlApplication", applications::retrieve, Scope::None),
    op(PATCH, "/call_control_applications/{id}", "UpdateCallControlApplication", applications::update, Scope::None),
    op(DELETE, "/call_control_applications/{id}", "DeleteCallControlApplication", applications::delete, Scope::None),
    op(GET, "/call_events", "ListCallEvents", calls::call_events, Scope::None),
    op(POST, "/calls", "DialCall", calls::dial, Scope::Account),
    op(GET, "/calls/{call_control_id}", "RetrieveCallStatus", call_actions::retrieve, Scope::None),
    op(POST, "/calls/{call_control_id}/actions/ai_assistant_add_messages", "CallAddMessagesToAIAssistant", assistant::ai_assistant_add_messages, CALL),
    op(POST, "/calls/{call_control_id}/actions/ai_assistant_join", "CallJoinAIAssistant", assistant::ai_assistant_join, CALL),
    op(POST, "/calls/{call_control_id}/actions/ai_assistant_start", "CallStartAIAssistant", assistant::ai_assistant_start, CALL),
    op(POST, "/calls/{call_control_id}/actions/ai_assistant_stop", "CallStopAIAssistant", assistant::ai_assistant_stop, CALL),
    op(POST, "/calls/{call_control_id}/actions/answer", "AnswerCall", calls::answer, CALL),
    op(POST, "/calls/{call_control_id}/actions/bridge", "BridgeCall", calls::bridge, CALL),
    op(PUT, "/calls/{call_control_id}/actions/client_state_update", "UpdateClientState", call_actions::client_state_update, CALL),
    op(POST, "/calls/{call_control_id}/actions/conversation_relay_start", "CallStartConversationRelay", assistant::conversation_relay_start, CALL),
    op(POST, "/calls/{call_control_id}/actions/conversation_relay_stop", "CallStopConversationRelay", assistant::conversation_relay_stop, CALL),
    op(POST, "/calls/{call_control_id}/actions/enqueue", "EnqueueCall", queues::enqueue, CALL),
    op(POST, "/calls/{call_control_id}/actions/fork_start", "StartCallFork", streams::fork_start, CALL),
    op(POST, "/calls/{call_control_id}/actions/fork_stop", "StopCallFork", streams::fork_stop, CALL),
    op(POST, "/calls/{call_control_id}/actions/gather", "GatherCall", gather::gather, CALL),
    op(POST, "/calls/{call_control_id}/actions/gather_stop", "StopCallGather", gather::gather_stop, CALL),
    op(POST, "/calls/{call_control_id}/actions/gather_using_ai", "callGatherUsingAI", ai_gather::gather_using_ai, CALL),
    op(POST, "/calls/{call_control_id}/actions/gather_using_audio", "GatherUsingAudio", gather::gather_using_audio, CALL),
    op(POST, "/calls/{call_control_id}/actions/gather_using_speak", "GatherUsingSpeak", gather::gather_using_speak, CALL),
    op(POST, "/calls/{call_control_id}/actions/hangup", "HangupCall", calls::hangup, CALL),
    op(POST, "/calls/{call_control_id}/actions/leave_queue", "LeaveQueue", queues::leave_queue, CALL),
    op(POST, "/calls/{call_control_id}/actions/playback_start", "StartCallPlayback", media::playback_start, CALL),
    op(POST, "/calls/{call_control_id}/actions/playback_stop", "StopCallPlayback", media::playback_stop, CALL),
    op(POST, "/calls/{call_control_id}/actions/record_pause", "PauseCallRecording", recording::record_pause, CALL),
    op(POST, "/calls/{call_control_id}/actions/record_resume", "ResumeCallRecording", recording::record_resume, CALL),
    op(POST, "/calls/{call_control_id}/actions/record_start", "StartCallRecord", recording::record_start, CALL),
    op(POST, "/calls/{call_control_id}/actions/record_stop", "StopCallRecording", recording::record_stop, CALL),
    op(POST, "/calls/{call_control_id}/actions/refer", "ReferCall", call_actions::refer, CALL),
    op(POST, "/calls/{call_control_id}/actions/reject", "RejectCall", call_actions::reject, CALL),
    op(POST, "/calls/{call_control_id}/actions/send_dtmf", "SendDTMF", call_actions::send_dtmf, CALL),
    op(POST, "/calls/{call_control_id}/actions/send_sip_info", "SendSIPInfo", call_actions::send_sip_info, CALL),
    op(POST, "/calls/{call_control_id}/actions/siprec_start", "StartSiprecSession", streams::siprec_start, CALL),
    op(POST, "/calls/{call_control_id}/actions/siprec_stop", "StopSiprecSession", streams::siprec_stop, CALL),
    op(POST, "/calls/{call_control_id}/actions/speak", "SpeakCall", media::speak, CALL),
    op(POST, "/calls/{call_control_id}/actions/streaming_start", "StartCallStreaming", streams::streaming_start, CALL),
    op(POST, "/calls/{call_control_id}/actions/streaming_stop", "StopCallStreaming", streams::streaming_stop, CALL),
    op(POST, "/calls/{call_control_id}/actions/suppression_start", "noiseSuppressionStart", transcription::suppression_start, CALL),
    op(POST, "/calls/{call_control_id}/actions/suppression_stop", "noiseSuppressionStop", transcription::suppression_stop, CALL),
    op(POST, "/calls/{call_control_id}/actions/switch_supervisor_role", "SwitchSupervisorRole", call_actions::switch_supervisor_role, CALL),
    op(POST, "/calls/{call_control_id}/actions/transcription_start", "StartCallTranscription", transcription::transcription_start, CALL),
    op(POST, "/calls/{call_control_id}/actions/transcription_stop", "StopCallTranscription", transcription::transcription_stop, CALL),
    op(POST, "/calls/{call_control_id}/actions/transfer", "TransferCall", calls::transfer, CALL),
    op(GET, "/conferences", "ListConferences", conferences::list, Scope::None),
    op(POST, "/conferences", "CreateConference", conferences::create, Scope::Body("call_control_id")),
    op(GET, "/conferences/{conference_id}/participants", "ListConferenceParticipants", participants::list, Scope::None),
    op(GET, "/conferences/{id}", "RetrieveConference", conferences::retrieve, Scope::None),
    op(POST, "/conferences/{id}/actions/end", "EndConference", conferences::end, CONFERENCE),
    op(POST, "/conferences/{id}/actions/gather_using_audio", "ConferenceGatherUsingAudio", conference_media::gather_using_audio, Scope::None),
    op(POST, "/conferences/{id}/actions/hold", "HoldConferenceParticipants", participants::hold, Scope::None),
    op(POST, "/conferences/{id}/actions/join", "JoinConference", conferences::join, CONFERENCE),
    op(POST, "/conferences/{id}/actions/leave", "LeaveConference", conferences::leave, CONFERENCE),
    op(POST, "/conferences/{id}/actions/mute", "MuteConferenceParticipants", participants::mute, Scope::None),
    op(POST, "/conferences/{id}/actions/play", "PlayConferenceAudio", conference_media::play, Scope::None),
    op(POST, "/conferences/{id}/actions/record_pause", "PauseConferenceRecording", conference_media::record_pause, CONFERENCE),
    op(POST, "/conferences/{id}/actions/record_resume", "ResumeConferenceRecording", conference_media::record_resume, CONFERENCE),
    op(POST, "/conferences/{id}/actions/record_start", "StartConferenceRecording", conference_media::record_start, CONFERENCE),
    op(POST, "/conferences/{id}/actions/record_stop", "StopConferenceRecording", conference_media::record_stop, CONFERENCE),
    op(POST, "/conferences/{id}/actions/send_dtmf", "ConferenceSendDTMF", conference_media::send_dtmf, Scope::None),
    op(POST, "/conferences/{id}/actions/speak", "SpeakTextToConference", conference_media::speak, CONFERENCE),
    op(POST, "/conferences/{id}/actions/stop", "StopConferenceAudio", conference_media::stop, Scope::None),
    op(POST, "/conferences/{id}/actions/unhold", "UnholdConferenceParticipants", participants::unhold, Scope::None),
    op(POST, "/conferences/{id}/actions/unmute", "UnmuteConferenceParticipants", participants::unmute, Scope::None),
    op(POST, "/conferences/{id}/actions/update", "UpdateConference", participants::update_supervisor, CONFERENCE),
    op(GET, "/conferences/{id}/participants/{participant_id}", "RetrieveConferenceParticipant", participants::retrieve, Scope::None),
    op(PATCH, "/conferences/{id}/participants/{participant_id}", "UpdateConferenceParticipant", participants::update, Scope::None),
    op(GET, "/connections/{connection_id}/active_calls", "ListConnectionActiveCalls", calls::active_calls, Scope::None),
    op(GET, "/queues", "ListQueues", queues::list, Scope::None),
    op(POST, "/queues", "CreateQueue", queues::create, Scope::None),
    op(DELETE, "/queues/{queue_name}", "DeleteQueue", queues::delete, Scope::None),
    op(GET, "/queues/{queue_name}", "RetrieveCallQueue", queues::retrieve, Scope::None),
    op(POST, "/queues/{queue_name}", "UpdateQueue", queues::update, Scope::None),
    op(GET, "/queues/{queue_name}/calls", "ListQueueCalls", queues::list_calls, Scope::None),
    op(DELETE, "/queues/{queue_name}/calls/{call_control_id}", "RemoveQueueCall", queues::remove_call, Scope::None),
    op(GET, "/queues/{queue_name}/calls/{call_control_id}", "RetrieveCallFromQueue", queues::retrieve_call, Scope::None),
    op(PATCH, "/queues/{queue_name}/calls/{call_control_id}", "UpdateCallInQueue", queues::update_call, Scope::None),
    op(GET, "/webhook_deliveries", "GetWebhookDeliveries", deliveries::list, Scope::None),
    op(GET, "/webhook_deliveries/{id}", "GetWebhookDelivery", deliveries::retrieve, Scope::None),
];

/// What every request shares.
pub struct Shared {
    pub world: Arc<Mutex<World>>,
    pub dice: Arc<Dice>,
    /// The key clients must present; any bearer token when `None`.
    pub api_key: Option<String>,
}

/// The router: every operation under `/v2`, the caller's side under
/// `/_sim`, Telnyx's 404 and 405 elsewhere.
pub fn router(shared: Arc<Shared>) -> Router {
    let mut paths: Vec<(&'static str, MethodRouter<Arc<Shared>>)> = Vec::new();
    for operation in &OPERATIONS {
        let filter = MethodFilter::try_from(operation.method.clone()).unwrap_or(MethodFilter::GET);
        let route = on(filter, move |state, path, query, headers, body| {
            serve(operation, state, path, query, headers, body)
        });
        match paths.iter_mut().find(|(path, _)| *path == operation.path) {
            Some((_, existing)) => *existing = std::mem::take(existing).merge(route),
            None => paths.push((operation.path, route)),
        }
    }
    let api = paths
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router.route(
                path,
                methods.fallback(|| async { ApiError::method_not_allowed() }),
            )
        });
    Router::new()
        .nest("/v2", api)
        .nest("/_sim", sim_control::router())
        .fallback(|| async { ApiError::not_found() })
        .with_state(shared)
}

async fn serve(
    operation: &'static Operation,
    State(shared): State<Arc<Shared>>,
    path: Result<Path<HashMap<String, String>>, axum::extract::rejection::PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match path {
        Ok(Path(params)) => params,
        Err(_) => return ApiError::not_found().into_response(),
    };
    match handle(
        operation,
        &shared,
        params,
        query.as_deref(),
        &headers,
        &body,
    ) {
        Ok(reply) => reply.into_response(),
        Err(error) => error.into_response(),
    }
}

fn handle(
    operation: &Operation,
    shared: &Shared,
    params: HashMap<String, String>,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Reply, ApiError> {
    authorize(shared.api_key.as_deref(), headers)?;
    // Chaos strikes before anything is read or changed: a retry is safe.
    if let Some(failure) = shared.dice.request_failure() {
        return Err(failure);
    }
    let request = Request::parse(params, query, body)?;
    let mut world = shared.world.lock().unwrap_or_else(|e| e.into_inner());
    let replay_key = replay_key(operation.scope, &request)?;
    if let Some((scope, command_id)) = &replay_key
        && let Some(reply) = world.replay(scope, command_id)
    {
        return Ok(reply);
    }
    let reply = (operation.handler)(&mut world, &request)?;
    log_command(&mut world, operation, &request, &reply);
    if let Some((scope, command_id)) = replay_key {
        world.remember(scope, command_id, reply.clone());
    }
    Ok(reply)
}

/// Bearer authentication, answered with Telnyx's 401 body when it fails.
fn authorize(api_key: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(ApiError::unauthorized)?;
    match api_key {
        Some(expected) if expected != token => Err(ApiError::unauthorized()),
        _ => Ok(()),
    }
}

/// The (scope, command_id) a command is remembered under, if it has both.
fn replay_key(scope: Scope, request: &Request) -> Result<Option<(String, String)>, ApiError> {
    let scope = match scope {
        Scope::None => return Ok(None),
        Scope::Path(param) => request.param(param).to_owned(),
        Scope::Body(field) => request.str(field)?.unwrap_or_default().to_owned(),
        Scope::Account => String::new(),
    };
    Ok(request
        .str("command_id")?
        .map(|command_id| (scope, command_id.to_owned())))
}

/// Logs a command against the call it concerns, for `GET /call_events`.
fn log_command(world: &mut World, operation: &Operation, request: &Request, reply: &Reply) {
    let answered = match reply {
        Reply::Json(_, body) => body["data"]["call_control_id"].as_str(),
        Reply::NoContent => None,
    };
    let call_id = request
        .params
        .get("call_control_id")
        .map(String::as_str)
        .or_else(|| request.body.get("call_control_id").and_then(Value::as_str))
        .or(answered);
    if let Some(call_id) = call_id {
        let context = world.call_context(call_id);
        let metadata = json!({"path": operation.path, "body": request.body});
        world.log_call_event("command", operation.name, &context, metadata);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table and Telnyx's spec list the same operations.
    #[test]
    fn serves_exactly_the_operations_of_the_spec() {
        let spec = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../spec/telnyx-openapi.yaml"
        ))
        .unwrap();
        let spec: Value = serde_norway::from_str(&spec).unwrap();
        let mut expected: Vec<(String, String, String)> = Vec::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if let Some(id) = operation["operationId"].as_str() {
                    expected.push((method.to_uppercase(), path.clone(), id.to_owned()));
                }
            }
        }
        let mut served: Vec<(String, String, String)> = OPERATIONS
            .iter()
            .map(|o| (o.method.to_string(), o.path.to_owned(), o.name.to_owned()))
            .collect();
        expected.sort();
        served.sort();
        assert_eq!(served, expected);
    }

    #[test]
    fn bearer_tokens_are_checked() {
        let mut headers = HeaderMap::new();
        assert_eq!(authorize(None, &headers).unwrap_err().status, 401);
        headers.insert(header::AUTHORIZATION, "Bearer KEY".parse().unwrap());
        assert!(authorize(None, &headers).is_ok());
        assert!(authorize(Some("KEY"), &headers).is_ok());
        assert_eq!(
            authorize(Some("OTHER"), &headers).unwrap_err().code,
            "10009"
        );
        headers.insert(header::AUTHORIZATION, "Basic KEY".parse().unwrap());
        assert!(authorize(None, &headers).is_err());
    }
}
