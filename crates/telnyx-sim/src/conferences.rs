//! Conferences: create, list, retrieve, join, leave and end.
//!
//! Creating a conference seats its creator (`conference.created`, then the
//! creator's `conference.participant.joined`); the last participant out ends
//! it (`conference.ended`, reason `all_left`), and so does a participant who
//! joined with `end_conference_on_exit` (reason `host_left`).

use std::time::Duration;

use super::error::ApiError;
use super::events::{
    CONFERENCE_CREATED, CONFERENCE_ENDED, PARTICIPANT_JOINED, PARTICIPANT_LEFT, With,
};
use super::ids;
use super::model::{Conference, ConferenceStatus, Participant, ParticipantStatus};
use super::paging;
use super::reply::Reply;
use super::request::Request;
use super::state::World;

pub const REGIONS: &[&str] = &["Australia", "Europe", "Middle East", "US"];
pub const BEEP: &[&str] = &["always", "never", "on_enter", "on_exit"];
pub const SUPERVISOR_ROLES: &[&str] = &["barge", "monitor", "none", "whisper"];
const STATUSES: &[&str] = &["init", "in_progress", "completed"];

/// Conferences expire after four hours unless told otherwise.
const DEFAULT_DURATION_MINUTES: i64 = 240;

/// What a participant's leaving means for the conference.
struct Exit {
    end_conference: bool,
    soft_end_conference: bool,
    was_last: bool,
}

/// How a call takes its seat.
#[derive(Debug, Default)]
pub struct Seat {
    pub muted: bool,
    pub on_hold: bool,
    pub supervisor_role: Option<&'static str>,
    pub whisper_call_control_ids: Vec<String>,
    pub end_conference_on_exit: bool,
    pub soft_end_conference_on_exit: bool,
    pub beep_enabled: Option<&'static str>,
}

/// `GET /conferences`, newest first, filtered by `filter[name]`,
/// `filter[status]` and `filter[connection_id]`.
pub fn list(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let status = request.query("filter[status]");
    if let Some(status) = status.filter(|s| !STATUSES.contains(s)) {
        return Err(ApiError::not_one_of(status, STATUSES).at_parameter("filter[status]"));
    }
    let mut conferences: Vec<&Conference> = world
        .conferences
        .values()
        .filter(|c| request.query("filter[name]").is_none_or(|n| c.name == n))
        .filter(|c| {
            request
                .query("filter[connection_id]")
                .is_none_or(|id| c.connection_id == id)
        })
        .collect();
    conferences.sort_by_key(|c| std::cmp::Reverse((c.expires_at, c.seq)));
    let rows = conferences
        .iter()
        .map(|c| c.to_json())
        .filter(|c| status.is_none_or(|s| c["status"] == s))
        .collect();
    paging::numbered(request, rows)
}

/// `GET /conferences/{id}`
pub fn retrieve(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let conference = world.conference(request.param("id"))?;
    Ok(Reply::data(conference.to_json()))
}

/// `POST /conferences`
pub fn create(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let call_id = request.required_str("call_control_id")?;
    let name = request.required_str("name")?;
    let client_state = request.str("client_state")?;
    let beep_enabled = request.one_of("beep_enabled", BEEP)?;
    let region = request.one_of("region", REGIONS)?;
    let max_participants = request.int("max_participants", 2..=800)?.unwrap_or(250);
    let minutes = request
        .int("duration_minutes", 1..=24 * 60)?
        .unwrap_or(DEFAULT_DURATION_MINUTES);
    request.bool("start_conference_on_create")?;
    request.bool("comfort_noise")?;
    seatable(world, call_id)?;
    if world
        .conferences
        .values()
        .any(|c| c.is_active() && c.name == name)
    {
        return Err(ApiError::conference_name_taken());
    }
    world.set_client_state(call_id, client_state);
    let now = world.now();
    let seq = world.next_seq();
    let duration = Duration::from_secs(minutes as u64 * 60);
    let call = &world.calls[call_id];
    let conference = Conference {
        id: ids::uuid(),
        name: name.to_owned(),
        connection_id: call.connection_id.clone(),
        region,
        status: ConferenceStatus::InProgress,
        end_reason: None,
        ended_by: None,
        created_at: now,
        updated_at: now,
        expires_at: now + duration,
        max_participants: max_participants as usize,
        creator_call_control_id: call.call_control_id.clone(),
        creator_call_session_id: call.call_session_id.clone(),
        participants: Vec::new(),
        recording: None,
        media: Vec::new(),
        floor: None,
        seq,
    };
    let id = conference.id.clone();
    let context = call.context().with("conference_id", id.as_str());
    let reply = Reply::data(conference.to_json());
    world.conferences.insert(id.clone(), conference);
    world.emit(&CONFERENCE_CREATED, &context);
    let seat = Seat {
        beep_enabled,
        ..Seat::default()
    };
    world.seat(&id, call_id, seat);
    world.later(duration, move |world| {
        world.end_conference(&id, "time_exceeded", None, false)
    });
    Ok(reply)
}

/// `POST /conferences/{id}/actions/join`
pub fn join(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("id");
    let call_id = request.required_str("call_control_id")?;
    let seat = Seat {
        muted: request.bool("mute")?.unwrap_or(false),
        on_hold: request.bool("hold")?.unwrap_or(false),
        supervisor_role: request.one_of("supervisor_role", SUPERVISOR_ROLES)?,
        whisper_call_control_ids: request
            .str_list("whisper_call_control_ids")?
            .unwrap_or_default(),
        end_conference_on_exit: request.bool("end_conference_on_exit")?.unwrap_or(false),
        soft_end_conference_on_exit: request
            .bool("soft_end_conference_on_exit")?
            .unwrap_or(false),
        beep_enabled: request.one_of("beep_enabled", BEEP)?,
    };
    request.one_of("region", REGIONS)?;
    request.bool("start_conference_on_enter")?;
    let client_state = request.str("client_state")?;
    let conference = world.live_conference(id)?;
    if conference.joined().count() >= conference.max_participants {
        return Err(ApiError::conference_full(
            conference.max_participants as u32,
        ));
    }
    seatable(world, call_id)?;
    world.set_client_state(call_id, client_state);
    world.dequeue(call_id, "bridged");
    world.seat(id, call_id, seat);
    Ok(Reply::ok())
}

/// `POST /conferences/{id}/actions/leave`: back to parked.
pub fn leave(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("id");
    let call_id = request.required_str("call_control_id")?;
    request.one_of("beep_enabled", BEEP)?;
    request.one_of("region", REGIONS)?;
    world.live_conference(id)?;
    world.live_call(call_id, "call_control_id")?;
    participant_of(world, id, call_id)?;
    world.leave_conference(id, call_id);
    Ok(Reply::ok())
}

/// `POST /conferences/{id}/actions/end`: everyone leaves and is hung up.
pub fn end(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("id");
    world.live_conference(id)?;
    world.end_conference(id, "ended_via_api", None, true);
    Ok(Reply::ok())
}

/// Refuses a call that is not `call_control_id` of a participant of `id`.
pub fn participant_of(world: &mut World, id: &str, call_id: &str) -> Result<(), ApiError> {
    match world.conference(id)?.participant_mut(call_id) {
        Some(_) => Ok(()),
        None => Err(ApiError::invalid_value(
            "call_control_id",
            "The call is not a participant of this conference.",
        )),
    }
}

/// A call that can take a seat: answered, not in a conference or bridge.
fn seatable(world: &mut World, call_id: &str) -> Result<(), ApiError> {
    let call = world.answered_call(call_id, "call_control_id")?;
    if call.conference_id.is_some() || call.bridged_with.is_some() {
        return Err(ApiError::invalid_value(
            "call_control_id",
            "The call is already in a conference or bridged.",
        ));
    }
    Ok(())
}

impl World {
    /// Seats a call in a conference and sends `conference.participant.joined`.
    fn seat(&mut self, id: &str, call_id: &str, seat: Seat) {
        let now = self.now();
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let Some(conference) = self.conferences.get_mut(id) else {
            return;
        };
        call.conference_id = Some(id.to_owned());
        conference.participants.push(Participant {
            id: ids::uuid(),
            call_control_id: call_id.to_owned(),
            call_leg_id: call.call_leg_id.clone(),
            status: ParticipantStatus::Joined,
            muted: seat.muted,
            on_hold: seat.on_hold,
            supervisor_role: seat.supervisor_role.unwrap_or("none"),
            whisper_call_control_ids: seat.whisper_call_control_ids,
            end_conference_on_exit: seat.end_conference_on_exit,
            soft_end_conference_on_exit: seat.soft_end_conference_on_exit,
            beep_enabled: seat.beep_enabled,
            created_at: now,
            updated_at: now,
        });
        conference.updated_at = now;
        let context = call.context().with("conference_id", id);
        self.emit(&PARTICIPANT_JOINED, &context);
    }

    /// Takes a call out of a conference (`conference.participant.left`), and
    /// ends the conference when it was the last one or its host.
    pub fn leave_conference(&mut self, id: &str, call_id: &str) {
        let Some(exit) = self.unseat(id, call_id) else {
            return;
        };
        if exit.end_conference || exit.soft_end_conference {
            self.end_conference(id, "host_left", Some(call_id), exit.end_conference);
        } else if exit.was_last {
            self.end_conference(id, "all_left", Some(call_id), false);
        }
    }

    /// Ends a conference: the remaining participants leave (and are hung up
    /// when `hang_up`), a running recording is saved, `conference.ended` is
    /// sent. Does nothing to a conference that already ended.
    pub fn end_conference(
        &mut self,
        id: &str,
        reason: &'static str,
        by: Option<&str>,
        hang_up: bool,
    ) {
        let now = self.now();
        let Some(conference) = self.conferences.get_mut(id).filter(|c| c.is_active()) else {
            return;
        };
        let remaining: Vec<String> = conference
            .joined()
            .map(|p| p.call_control_id.clone())
            .collect();
        self.finish_all_media(id);
        for call_id in &remaining {
            self.unseat(id, call_id);
        }
        self.save_recording(id, None);
        let by_call = by.and_then(|c| self.calls.get(c));
        let ended_by = by_call.map(|c| (c.call_control_id.clone(), c.call_session_id.clone()));
        let mut context = by_call.map(|c| c.context()).unwrap_or_default();
        let Some(conference) = self.conferences.get_mut(id) else {
            return;
        };
        conference.status = ConferenceStatus::Completed;
        conference.end_reason = Some(reason);
        conference.ended_by = ended_by;
        conference.updated_at = now;
        context.extend(conference.context());
        // The event's reason has no `ended_via_api`; an ended conference has
        // no one left in it.
        let event_reason = if reason == "ended_via_api" {
            "all_left"
        } else {
            reason
        };
        self.emit(&CONFERENCE_ENDED, &context.with("reason", event_reason));
        if hang_up {
            for call_id in &remaining {
                self.hang_up(call_id, "unknown");
            }
        }
    }

    /// Marks a participant as left and sends `conference.participant.left`;
    /// `None` when the call was not seated there.
    fn unseat(&mut self, id: &str, call_id: &str) -> Option<Exit> {
        let now = self.now();
        let conference = self.conferences.get_mut(id)?;
        let participant = conference.participant_mut(call_id)?;
        participant.status = ParticipantStatus::Left;
        participant.updated_at = now;
        let exit = Exit {
            end_conference: participant.end_conference_on_exit,
            soft_end_conference: participant.soft_end_conference_on_exit,
            was_last: conference.joined().next().is_none(),
        };
        conference.updated_at = now;
        if let Some(call) = self.calls.get_mut(call_id) {
            call.conference_id = None;
        }
        let context = self.call_context(call_id).with("conference_id", id);
        self.emit(&PARTICIPANT_LEFT, &context);
        Some(exit)
    }
}
