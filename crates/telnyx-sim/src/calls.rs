//! Call control: dial, answer, hang up, bridge, transfer, and the lists of
//! active calls and call events.
//!
//! A dialled call is `dialing` until the far end answers a moment later
//! (`call.answered`); hanging up takes the call out of its conference, queue
//! or bridge with the events each of those sends.

use serde_json::Value;

use super::error::ApiError;
use super::events::{CALL_ANSWERED, CALL_BRIDGED, CALL_HANGUP, CALL_INITIATED, Context, With};
use super::ids;
use super::model::{Call, CallState, Direction, Leg};
use super::paging;
use super::reply::Reply;
use super::request::Request;
use super::state::World;

/// `POST /calls`
pub fn dial(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let connection_id = request.required_str("connection_id")?;
    let to = destination(request)?;
    let from = request.required_str("from")?;
    let client_state = request.str("client_state")?;
    let link_to = request.str("link_to")?;
    let record = request.one_of("record", &["record-from-answer"])?;
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
    call.recording_id = record.map(|_| ids::uuid());
    let reply = Reply::data(call.to_json(world.now()));
    let id = world.start_call(call, "bridging");
    let delay = world.timing.answer_delay;
    world.later(delay, move |world| world.answer(&id));
    Ok(reply)
}

/// `POST /calls/{call_control_id}/actions/answer`: answers a ringing inbound
/// call; a call that is already up stays as it is.
pub fn answer(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("call_control_id");
    world.live_call(id, "call_control_id")?;
    world.set_client_state(id, request.str("client_state")?);
    world.answer(id);
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/hangup`
pub fn hangup(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("call_control_id");
    world.live_call(id, "call_control_id")?;
    world.set_client_state(id, request.str("client_state")?);
    world.hang_up(id, "caller");
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
/// bridged with this one when it answers.
pub fn transfer(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("call_control_id");
    let to = destination(request)?;
    let from = request.str("from")?;
    let target_state = request.str("target_leg_client_state")?;
    let client_state = request.str("client_state")?;
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
    let (a, b) = (id.to_owned(), world.start_call(leg, "bridging"));
    let delay = world.timing.answer_delay;
    world.later(delay, move |world| {
        world.answer(&b);
        let both_up = [&a, &b].iter().all(|id| {
            world
                .calls
                .get(id.as_str())
                .is_some_and(|c| c.state == CallState::Answered)
        });
        if both_up {
            world.bridge(&a, &b);
        }
    });
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

impl World {
    /// Adds a call and sends its `call.initiated` (`state` is `parked` or
    /// `bridging`); returns its call control id.
    pub fn start_call(&mut self, call: Call, state: &str) -> String {
        let id = call.call_control_id.clone();
        self.emit(&CALL_INITIATED, &call.context().with("state", state));
        self.calls.insert(id.clone(), call);
        id
    }

    /// A ringing inbound call on `connection_id`, as if someone dialled in.
    pub fn ring(&mut self, connection_id: &str, from: &str, to: &str) -> String {
        let call = self.new_call(Leg {
            direction: Direction::Incoming,
            connection_id: connection_id.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            call_session_id: ids::uuid(),
        });
        self.start_call(call, "parked")
    }

    /// A new leg, numbered and stamped now.
    fn new_call(&mut self, leg: Leg) -> Call {
        let seq = self.next_seq();
        Call::new(leg, seq, self.now())
    }

    /// Answers a call that is dialling or ringing; anything else is left alone.
    pub fn answer(&mut self, id: &str) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        if matches!(call.state, CallState::Dialing | CallState::Ringing) {
            call.state = CallState::Answered;
            let context = call.context().with("state", "answered");
            self.emit(&CALL_ANSWERED, &context);
        }
    }

    /// Bridges two answered calls, taking them out of any queue first.
    pub fn bridge(&mut self, a: &str, b: &str) {
        for (this, other) in [(a, b), (b, a)] {
            self.dequeue(this, "bridged");
            if let Some(call) = self.calls.get_mut(this) {
                call.state = CallState::Bridged;
                call.bridged_with = Some(other.to_owned());
            }
        }
        for id in [a, b] {
            let context = self.call_context(id);
            self.emit(&CALL_BRIDGED, &context);
        }
    }

    /// Ends a call and everything it was part of: its conference seat, its
    /// place in a queue (unless kept after hangup) and its bridge.
    pub fn hang_up(&mut self, id: &str, source: &str) {
        let now = self.now();
        let Some(call) = self.calls.get_mut(id).filter(|c| c.is_alive()) else {
            return;
        };
        call.state = CallState::Ended;
        call.ended_at = Some(now);
        let bridged = call.bridged_with.take();
        let conference = call.conference_id.clone();
        let context: Context = call
            .context()
            .with("state", "hangup")
            .with("hangup_cause", "normal_clearing")
            .with("hangup_source", source)
            .with("sip_hangup_cause", "200");
        self.emit(&CALL_HANGUP, &context);
        if let Some(conference) = conference {
            self.leave_conference(&conference, id);
        }
        self.queued_call_hung_up(id);
        if let Some(other) = bridged {
            self.unbridge(&other);
        }
    }

    /// The other leg of a bridge that ended: parked if it asked to be,
    /// hung up otherwise (Telnyx's default).
    fn unbridge(&mut self, id: &str) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        call.bridged_with = None;
        if call.park_after_unbridge && call.is_alive() {
            call.state = CallState::Answered;
        } else {
            self.hang_up(id, "callee");
        }
    }
}
