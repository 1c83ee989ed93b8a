//! The call commands that are not about media: the call's status, reject,
//! refer, client state, supervisor role, DTMF and SIP INFO.

use serde_json::Value;

use super::error::ApiError;
use super::events::{REFER_COMPLETED, REFER_FAILED, REFER_STARTED, With};
use super::far_end::FarEnd;
use super::lifecycle::Hangup;
use super::model::{CallState, Direction};
use super::reply::Reply;
use super::request::Request;
use super::state::World;

/// `GET /calls/{call_control_id}`: alive or ended (until forgotten). The
/// call status names no recording (only dial's answer does).
pub fn retrieve(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let now = world.now();
    let call = world
        .calls
        .get(request.param("call_control_id"))
        .ok_or_else(|| ApiError::invalid_call("call_control_id"))?;
    let mut status = call.to_json(now);
    if let Some(status) = status.as_object_mut() {
        status.remove("recording_id");
    }
    Ok(Reply::data(status))
}

/// `POST /calls/{call_control_id}/actions/reject`: an inbound call that has
/// not been answered is refused with `call_rejected` or `user_busy`.
pub fn reject(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let cause = request.required_one_of("cause", &["CALL_REJECTED", "USER_BUSY"])?;
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    let call = world.live_call(id, "call_control_id")?;
    if call.direction != Direction::Incoming || call.state != CallState::Ringing {
        return Err(ApiError::invalid_value(
            "call_control_id",
            "Only an incoming call that has not been answered can be rejected.",
        ));
    }
    world.set_client_state(id, client_state);
    let (cause, sip) = match cause {
        "USER_BUSY" => ("user_busy", "486"),
        _ => ("call_rejected", "603"),
    };
    world.hang_up_with(
        id,
        Hangup {
            cause,
            source: "callee",
            sip,
        },
    );
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/refer`: `call.refer.started`, then
/// a moment later `call.refer.completed` and the call leaves the platform
/// (`call.hangup`), or `call.refer.failed` with the far end's SIP status
/// (by the address's dialled-number convention) and the call stays.
pub fn refer(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let address = request.required_str("sip_address")?;
    if !(address.starts_with("sip:") || address.starts_with("sips:")) {
        return Err(ApiError::invalid_value(
            "sip_address",
            "The 'sip_address' parameter must be a SIP URI (sip:user@host).",
        ));
    }
    request.str("sip_auth_username")?;
    request.str("sip_auth_password")?;
    headers(request, "custom_headers")?;
    headers(request, "sip_headers")?;
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    world.commanded_call(request)?;
    world.set_client_state(id, client_state);
    let context = world.call_context(id).with("sip_notify_response", 100);
    world.emit(&REFER_STARTED, &context);
    let status = FarEnd::dialled(address).sip_status();
    let (id, after) = (id.to_owned(), world.timing.answer_delay);
    world.later(after, move |world| {
        if !world.calls.get(&id).is_some_and(|c| c.is_up()) {
            return;
        }
        let context = world.call_context(&id).with("sip_notify_response", status);
        if status == 200 {
            world.emit(&REFER_COMPLETED, &context);
            let source = match world.calls.get(&id).map(|c| c.direction) {
                Some(Direction::Incoming) => "callee",
                _ => "caller",
            };
            world.hang_up_with(&id, Hangup::normal(source));
        } else {
            world.emit(&REFER_FAILED, &context);
        }
    });
    Ok(Reply::ok())
}

/// `PUT /calls/{call_control_id}/actions/client_state_update`
pub fn client_state_update(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let client_state = request.required_str("client_state")?;
    let id = request.param("call_control_id");
    world.live_call(id, "call_control_id")?;
    world.set_client_state(id, Some(client_state));
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/switch_supervisor_role`: for a
/// bridged call or a conference participant (whose role changes too).
pub fn switch_supervisor_role(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let role = request.required_one_of("role", &["barge", "whisper", "monitor"])?;
    let id = request.param("call_control_id");
    let now = world.now();
    let call = world.commanded_call(request)?;
    if call.bridged_with.is_none() && call.conference_id.is_none() {
        return Err(ApiError::invalid_value(
            "call_control_id",
            "The call is neither bridged nor in a conference.",
        ));
    }
    call.supervisor_role = Some(role);
    let conference = call.conference_id.clone();
    if let Some(participant) = conference
        .and_then(|c| world.conferences.get_mut(&c))
        .and_then(|c| c.participant_mut(id))
    {
        participant.supervisor_role = role;
        participant.updated_at = now;
    }
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/send_dtmf`: the far end hears
/// the keys; Telnyx sends no webhook for it.
pub fn send_dtmf(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let digits = request.required_str("digits")?;
    if digits.chars().count() > 64
        || !digits
            .chars()
            .all(|c| c.is_ascii_digit() || "*#ABCDwW".contains(c))
    {
        return Err(ApiError::invalid_value(
            "digits",
            "Digits may only contain 0-9, *, #, A-D, w and W, at most 64 of them.",
        ));
    }
    request.int("duration_millis", 100..=500)?;
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    world.commanded_call(request)?;
    world.set_client_state(id, client_state);
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/send_sip_info`. The other leg's
/// `call.sip_info.received` is not among the spec's webhooks, so none is sent.
pub fn send_sip_info(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let content_type = request.required_str("content_type")?;
    request.required_str("body")?;
    if !content_type.contains('/') {
        return Err(ApiError::invalid_value(
            "content_type",
            "The 'content_type' parameter must be a MIME type, such as application/json.",
        ));
    }
    let client_state = request.str("client_state")?;
    let id = request.param("call_control_id");
    world.commanded_call(request)?;
    world.set_client_state(id, client_state);
    Ok(Reply::ok())
}

/// Custom or SIP headers: a list of `{"name", "value"}`.
fn headers(request: &Request, field: &str) -> Result<(), ApiError> {
    let Some(list) = request.body.get(field).filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let Some(list) = list.as_array() else {
        return Err(ApiError::wrong_type(field, "an array"));
    };
    for (index, header) in list.iter().enumerate() {
        for member in ["name", "value"] {
            if !header.get(member).is_some_and(Value::is_string) {
                return Err(ApiError::missing(&format!("{field}/{index}/{member}")));
            }
        }
    }
    Ok(())
}
