//! Call control: dial, answer, hang up, bridge, transfer, and the lists of
//! active calls and call events.
//!
//! A dialled call is `dialing` until its far end answers or refuses a moment
//! later, by the dialled number's convention (`far_end`); hanging up takes
//! the call out of its conference, queue or bridge with the events each of
//! those sends (`lifecycle`).

use serde_json::{Value, json};

use super::error::ApiError;
use super::far_end::AMD;
use super::ids;
use super::lifecycle::Hangup;
use super::model::{Call, CallState, Direction, Leg};
use super::paging;
use super::recording::record_from_answer;
use super::reply::Reply;
use super::request::Request;
use super::state::World;
use super::streams::stream_on_answer;
use super::transcription::transcription_on_answer;

/// `POST /calls`
pub fn dial(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let connection_id = request.required_str("connection_id")?;
    let to = destination(request)?;
    let from = request.required_str("from")?;
    let client_state = request.str("client_state")?;
    let link_to = request.str("link_to")?;
    let record = record_from_answer(request)?;
    let amd = request.one_of("answering_machine_detection", AMD)?;
    let timeout_secs = request.int("timeout_secs", 5..=600)?;
    request.int("time_limit_secs", 30..=14_400)?;
    let deepfake = deepfake_detection(request)?;
    let stream = stream_on_answer(request)?;
    let transcription = transcription_on_answer(request)?;
    if !world.applications.contains_key(connection_id) {
        return Err(ApiError::invalid_connection());
    }
    let call_session_id = match link_to {
        Some(other) => world.live_call(other, "link_to")?.call_session_id.clone(),
        None => ids::uuid(),
    };
    let mut call = world.new_call(Leg {
        direction: Direction::Outgoing,
        connection_id: connection_id.to_owned(),
        from: from.to_owned(),
        to,
        call_session_id,
    });
    call.client_state = client_state.map(str::to_owned);
    call.recording_id = record.as_ref().map(|r| r.id.clone());
    call.record_on_answer = record;
    call.amd = amd;
    call.deepfake_detection = deepfake;
    call.stream_on_answer = stream;
    call.transcribe_on_answer = transcription;
    let reply = Reply::data(call.to_json(world.now()));
    let id = world.start_call(call, "bridging");
    world.ring_far_end(&id, timeout_secs);
    Ok(reply)
}

/// `POST /calls/{call_control_id}/actions/answer`: answers a ringing inbound
/// call; a call that is already up stays as it is. With `record`, the answer
/// carries the id of the recording it starts.
pub fn answer(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("call_control_id");
    let client_state = request.str("client_state")?;
    let record = record_from_answer(request)?;
    let deepfake = deepfake_detection(request)?;
    let stream = stream_on_answer(request)?;
    let transcription = transcription_on_answer(request)?;
    let call = world.live_call(id, "call_control_id")?;
    if call.direction == Direction::Outgoing && call.state == CallState::Dialing {
        return Err(ApiError::invalid_value(
            "call_control_id",
            "Only an incoming call can be answered; the far end answers an outgoing one.",
        ));
    }
    call.deepfake_detection |= deepfake;
    if stream.is_some() {
        call.stream_on_answer = stream;
    }
    if transcription.is_some() {
        call.transcribe_on_answer = transcription;
    }
    let recording_id = record.as_ref().map(|r| r.id.clone());
    if call.record_on_answer.is_none() && call.activity.recording.is_none() {
        call.recording_id = recording_id.clone().or(call.recording_id.take());
        call.record_on_answer = record;
    }
    world.set_client_state(id, client_state);
    world.answer(id);
    Ok(match recording_id {
        Some(recording_id) => Reply::data(json!({"result": "ok", "recording_id": recording_id})),
        None => Reply::ok(),
    })
}

/// `POST /calls/{call_control_id}/actions/hangup`
pub fn hangup(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("call_control_id");
    let call = world.live_call(id, "call_control_id")?;
    // The application is the called party of an inbound call.
    let source = match call.direction {
        Direction::Incoming => "callee",
        Direction::Outgoing => "caller",
    };
    world.set_client_state(id, request.str("client_state")?);
    world.hang_up_with(id, Hangup::normal(source));
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/bridge`
pub fn bridge(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("call_control_id");
    let other = request.required_str("call_control_id")?;
    let client_state = request.str("client_state")?;
    let park = request.str("park_after_unbridge")? == Some("self");
    if id == other {
        return Err(ApiError::invalid_value(
            "call_control_id",
            "A call cannot be bridged with itself.",
        ));
    }
    for (call, field) in [(id, "call_control_id"), (other, "call_control_id")] {
        let call = world.answered_call(call, field)?;
        if call.bridged_with.is_some() || call.conference_id.is_some() {
            return Err(ApiError::invalid_value(
                field,
                "The call is already bridged or in a conference.",
            ));
        }
    }
    world.set_client_state(id, client_state);
    if let Some(call) = world.calls.get_mut(id) {
        call.park_after_unbridge = park;
    }
    world.bridge(id, other);
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/transfer`: a new leg to `to`,
/// bridged with this one when its far end answers.
pub fn transfer(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("call_control_id");
    let to = destination(request)?;
    let from = request.str("from")?;
    let target_state = request.str("target_leg_client_state")?;
    let client_state = request.str("client_state")?;
    let amd = request.one_of("answering_machine_detection", AMD)?;
    let timeout_secs = request.int("timeout_secs", 5..=600)?;
    let call = world.answered_call(id, "call_control_id")?;
    if call.bridged_with.is_some() || call.conference_id.is_some() {
        return Err(ApiError::invalid_value(
            "call_control_id",
            "The call is already bridged or in a conference.",
        ));
    }
    let leg = Leg {
        direction: Direction::Outgoing,
        connection_id: call.connection_id.clone(),
        from: from.map_or_else(|| call.to.clone(), str::to_owned),
        to,
        call_session_id: call.call_session_id.clone(),
    };
    world.set_client_state(id, client_state);
    let mut leg = world.new_call(leg);
    leg.client_state = target_state.map(str::to_owned);
    leg.amd = amd;
    leg.bridge_on_answer = Some(id.to_owned());
    let leg = world.start_call(leg, "bridging");
    world.ring_far_end(&leg, timeout_secs);
    Ok(Reply::ok())
}

/// `GET /connections/{connection_id}/active_calls`, cursor paged.
pub fn active_calls(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let connection_id = request.param("connection_id");
    if !world.applications.contains_key(connection_id) {
        return Err(ApiError::invalid_connection());
    }
    let now = world.now();
    let mut calls: Vec<&Call> = world
        .calls
        .values()
        .filter(|c| c.connection_id == connection_id && c.is_alive())
        .collect();
    calls.sort_by_key(|c| c.seq);
    paging::cursor(request, calls.iter().map(|c| c.active_json(now)).collect())
}

/// `GET /call_events`: commands and webhooks per leg, oldest first.
pub fn call_events(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let filters = [
        ("filter[leg_id]", "call_leg_id"),
        ("filter[application_session_id]", "call_session_id"),
        ("filter[type]", "type"),
        ("filter[name]", "name"),
    ];
    let bounds = [
        (
            "filter[occurred_at][gt]",
            std::cmp::Ordering::is_gt as fn(_) -> bool,
        ),
        ("filter[occurred_at][gte]", std::cmp::Ordering::is_ge),
        ("filter[occurred_at][lt]", std::cmp::Ordering::is_lt),
        ("filter[occurred_at][lte]", std::cmp::Ordering::is_le),
        ("filter[occurred_at][eq]", std::cmp::Ordering::is_eq),
    ];
    let rows = world
        .call_events
        .iter()
        .filter(|row| {
            filters.iter().all(|(param, key)| {
                request
                    .query(param)
                    .is_none_or(|wanted| row[key].as_str() == Some(wanted))
            })
        })
        .filter(|row| {
            // RFC 3339 timestamps in UTC compare correctly as strings.
            let at = row["event_timestamp"].as_str().unwrap_or_default();
            bounds
                .iter()
                .all(|(param, keep)| request.query(param).is_none_or(|bound| keep(at.cmp(bound))))
        })
        .cloned()
        .collect();
    paging::numbered(request, rows)
}

/// `deepfake_detection` of dial and answer: `enabled` is required.
fn deepfake_detection(request: &Request) -> Result<bool, ApiError> {
    let Some(settings) = request
        .body
        .get("deepfake_detection")
        .filter(|v| !v.is_null())
    else {
        return Ok(false);
    };
    if !settings.is_object() {
        return Err(ApiError::wrong_type("deepfake_detection", "an object"));
    }
    let enabled = match settings.get("enabled") {
        Some(Value::Bool(enabled)) => *enabled,
        None | Some(Value::Null) => return Err(ApiError::missing("deepfake_detection/enabled")),
        Some(_) => {
            return Err(ApiError::wrong_type(
                "deepfake_detection/enabled",
                "a boolean",
            ));
        }
    };
    for (field, range) in [("rtp_timeout", 5..=120), ("timeout", 5..=60)] {
        if let Some(value) = settings.get(field).filter(|v| !v.is_null()) {
            let pointer = format!("deepfake_detection/{field}");
            match value.as_i64() {
                Some(n) if range.contains(&n) => {}
                Some(_) => {
                    return Err(ApiError::out_of_range(*range.start(), *range.end()).at(&pointer));
                }
                None => return Err(ApiError::wrong_type(&pointer, "an integer")),
            }
        }
    }
    Ok(enabled)
}

/// `to` as dial and transfer take it: a +E.164 number or a SIP URI, or a
/// list of them (the simulator rings the first).
fn destination(request: &Request) -> Result<String, ApiError> {
    let to = match request.body.get("to") {
        Some(Value::Array(list)) => match list.first() {
            Some(Value::String(first)) => first.clone(),
            None => return Err(ApiError::missing("to")),
            Some(_) => {
                return Err(ApiError::wrong_type(
                    "to",
                    "a string or an array of strings",
                ));
            }
        },
        _ => request.required_str("to")?.to_owned(),
    };
    let e164 = to.strip_prefix('+').is_some_and(|digits| {
        (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    });
    if e164 || to.starts_with("sip:") {
        Ok(to)
    } else {
        Err(ApiError::invalid_phone_number("to"))
    }
}
