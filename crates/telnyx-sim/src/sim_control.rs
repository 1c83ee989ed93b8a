//! The caller's side: a control API of the simulator's own, under `/_sim/`
//! on its address, that plays the people and phones at the far end of calls,
//! so whole call flows can be driven without a phone.
//!
//! | request | what happens |
//! |---------|--------------|
//! | `POST /_sim/calls` `{"from", "to", "connection_id"?}` | someone calls in: `call.initiated` (direction `incoming`, state `parked`) on the application (the simulator's own when none is named); answers `{"call_control_id", "call_leg_id", "call_session_id"}` |
//! | `POST /_sim/calls/{id}/dtmf` `{"digits": "1#"}` | the far end presses keys: a running gather takes them, each key left over sends `call.dtmf.received` |
//! | `POST /_sim/calls/{id}/speech` `{"text": "..."}` | the far end says something: heard by an AI gather or assistant, a transcription, a recording's transcription; in a conference it takes the floor (`conference.floor.changed`) |
//! | `POST /_sim/calls/{id}/hold`, `.../unhold` | the far end puts the call on hold (`call.hold`) or takes it off (`call.unhold`) |
//! | `POST /_sim/calls/{id}/hangup` | the far end hangs up: `call.hangup` (`normal_clearing` from the `caller` of an inbound call, the `callee` of an outbound one; `originator_cancel` before an inbound call is answered), a queued call leaving its queue with `call.dequeued` reason `hangup` |
//!
//! No API key is asked for: this side plays the public phone network, which
//! anyone may call, and it can only touch a call whose call control id it is
//! given. It is not subject to chaos (the phone network is not Telnyx's API).
//! Errors have Telnyx's shape and codes. So that nothing sent here can grow
//! the simulator's memory without bound: at most [`MAX_INBOUND_CALLS`] calls
//! placed here may be alive at once, ended calls are forgotten after a while,
//! what a call keeps (speech, digits, audio in line) is capped, and requests
//! are answered 429 (`Retry-After: 1`) while more than 10 000 webhooks wait
//! to be delivered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use super::error::ApiError;
use super::events::{CALL_HOLD, CALL_UNHOLD};
use super::gather::KEYS;
use super::lifecycle::Hangup;
use super::model::{CallState, Direction};
use super::reply::Reply;
use super::request::Request;
use super::routes::{Handler, Shared};
use super::state::World;

/// Inbound calls placed through `/_sim/calls` that may be alive at once.
pub const MAX_INBOUND_CALLS: usize = 1_000;
/// The longest utterance `/_sim/calls/{id}/speech` takes, in characters.
const MAX_SPEECH: usize = 3_000;
/// The most keys one `/_sim/calls/{id}/dtmf` presses.
const MAX_DIGITS: usize = 64;
/// Webhooks waiting for delivery, and steps waiting to run, beyond which
/// the caller's side answers 429 until the simulator has caught up.
const MAX_WAITING_EVENTS: usize = 10_000;
const MAX_WAITING_STEPS: usize = 100_000;

/// The `/_sim` routes.
pub fn router() -> Router<Arc<Shared>> {
    let route = |handler: Handler| post(move |state, path, body| serve(handler, state, path, body));
    Router::new()
        .route("/calls", route(place_call))
        .route("/calls/{call_control_id}/dtmf", route(dtmf))
        .route("/calls/{call_control_id}/speech", route(speech))
        .route("/calls/{call_control_id}/hold", route(hold))
        .route("/calls/{call_control_id}/unhold", route(unhold))
        .route("/calls/{call_control_id}/hangup", route(hangup))
}

async fn serve(
    handler: Handler,
    State(shared): State<Arc<Shared>>,
    path: Option<Path<HashMap<String, String>>>,
    body: Bytes,
) -> Response {
    let params = path.map(|Path(p)| p).unwrap_or_default();
    let answer = Request::parse(params, None, &body).and_then(|request| {
        let mut world = shared.world.lock().unwrap_or_else(|e| e.into_inner());
        let (events, steps) = world.backlog();
        if events > MAX_WAITING_EVENTS || steps > MAX_WAITING_STEPS {
            return Err(ApiError::rate_limited(Duration::from_secs(1)));
        }
        handler(&mut world, &request)
    });
    match answer {
        Ok(reply) => reply.into_response(),
        Err(error) => error.into_response(),
    }
}

/// `POST /_sim/calls`: someone calls the account.
fn place_call(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let from = party(request, "from")?;
    let to = party(request, "to")?;
    let connection_id = match request.str("connection_id")? {
        Some(id) => id.to_owned(),
        None => world
            .default_connection_id
            .clone()
            .ok_or_else(|| ApiError::missing("connection_id"))?,
    };
    if !world.applications.contains_key(&connection_id) {
        return Err(ApiError::invalid_connection());
    }
    let ringing = world
        .calls
        .values()
        .filter(|c| c.direction == Direction::Incoming && c.is_alive())
        .count();
    if ringing >= MAX_INBOUND_CALLS {
        return Err(ApiError::too_many_calls(MAX_INBOUND_CALLS));
    }
    let id = world.ring(&connection_id, from, to);
    let call = &world.calls[&id];
    Ok(Reply::Json(
        StatusCode::OK,
        json!({
            "call_control_id": call.call_control_id,
            "call_leg_id": call.call_leg_id,
            "call_session_id": call.call_session_id,
        }),
    ))
}

/// `POST /_sim/calls/{id}/dtmf`
fn dtmf(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let digits = request.required_str("digits")?;
    if digits.chars().count() > MAX_DIGITS || !digits.chars().all(|c| KEYS.contains(c)) {
        return Err(ApiError::invalid_value(
            "digits",
            format_args!("Digits may only contain 0-9, *, #, A-D, at most {MAX_DIGITS} of them."),
        ));
    }
    let id = up(world, request)?;
    world.press(&id, digits);
    Ok(ok())
}

/// `POST /_sim/calls/{id}/speech`
fn speech(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let text = request.required_str("text")?;
    if text.chars().count() > MAX_SPEECH {
        return Err(ApiError::invalid_value(
            "text",
            format_args!("The 'text' parameter is at most {MAX_SPEECH} characters long."),
        ));
    }
    let id = up(world, request)?;
    world.hear(&id, text);
    Ok(ok())
}

/// `POST /_sim/calls/{id}/hold`
fn hold(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    set_hold(world, request, true)
}

/// `POST /_sim/calls/{id}/unhold`
fn unhold(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    set_hold(world, request, false)
}

fn set_hold(world: &mut World, request: &Request, on_hold: bool) -> Result<Reply, ApiError> {
    let call = world.commanded_call(request)?;
    if call.on_hold == on_hold {
        let state = if on_hold { "already" } else { "not" };
        return Err(ApiError::invalid_value(
            "call_control_id",
            format_args!("The call is {state} on hold."),
        ));
    }
    call.on_hold = on_hold;
    let context = call.context();
    world.emit(if on_hold { &CALL_HOLD } else { &CALL_UNHOLD }, &context);
    Ok(ok())
}

/// `POST /_sim/calls/{id}/hangup`
fn hangup(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("call_control_id");
    let call = world.live_call(id, "call_control_id")?;
    let hangup = match (call.direction, call.state) {
        (Direction::Incoming, CallState::Ringing) => Hangup::CANCELLED,
        (Direction::Outgoing, CallState::Dialing) => Hangup {
            cause: "call_rejected",
            source: "callee",
            sip: "603",
        },
        (Direction::Incoming, _) => Hangup::normal("caller"),
        (Direction::Outgoing, _) => Hangup::normal("callee"),
    };
    world.hang_up_with(id, hangup);
    Ok(ok())
}

/// The id of the call a request names, which must be up (90034 otherwise).
fn up(world: &mut World, request: &Request) -> Result<String, ApiError> {
    world.commanded_call(request)?;
    Ok(request.param("call_control_id").to_owned())
}

/// A party of a call: a +E.164 number or a SIP URI (of at most 256 bytes).
fn party<'a>(request: &'a Request, field: &str) -> Result<&'a str, ApiError> {
    let value = request.required_str(field)?;
    let e164 = value.strip_prefix('+').is_some_and(|digits| {
        (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    });
    if e164 || (value.starts_with("sip:") && value.len() <= 256) {
        Ok(value)
    } else {
        Err(ApiError::invalid_phone_number(field))
    }
}

fn ok() -> Reply {
    Reply::Json(StatusCode::OK, json!({"result": "ok"}))
}
