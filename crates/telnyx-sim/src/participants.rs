//! What is done to participants: mute, hold, supervisor roles, the
//! participant settings, and listing or retrieving them.

use super::conferences::{BEEP, REGIONS, SUPERVISOR_ROLES, participant_of};
use super::error::ApiError;
use super::model::{Participant, ParticipantStatus};
use super::paging;
use super::reply::Reply;
use super::request::Request;
use super::state::World;

/// The participants a command is for: the `call_control_ids` it names (each
/// must be seated in the conference), or every participant when it names none.
pub fn targets(
    world: &mut World,
    id: &str,
    request: &Request,
    required: bool,
) -> Result<Vec<String>, ApiError> {
    let named = if required {
        Some(request.required_str_list("call_control_ids")?)
    } else {
        request.str_list("call_control_ids")?
    };
    request.one_of("region", REGIONS)?;
    let conference = world.live_conference(id)?;
    match named {
        None => Ok(Vec::new()),
        Some(ids) => {
            for (index, call_id) in ids.iter().enumerate() {
                if conference.participant_mut(call_id).is_none() {
                    return Err(ApiError::invalid_call(&format!("call_control_ids/{index}")));
                }
            }
            Ok(ids)
        }
    }
}

/// Applies `change` to the targeted participants (all when none are named).
fn update_targets(
    world: &mut World,
    request: &Request,
    required: bool,
    change: impl Fn(&mut Participant),
) -> Result<Reply, ApiError> {
    let id = request.param("id");
    let named = targets(world, id, request, required)?;
    let now = world.now();
    let conference = world.live_conference(id)?;
    for participant in conference.joined_mut() {
        if named.is_empty() || named.contains(&participant.call_control_id) {
            change(participant);
            participant.updated_at = now;
        }
    }
    Ok(Reply::ok())
}

/// `POST /conferences/{id}/actions/mute`
pub fn mute(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    update_targets(world, request, false, |p| p.muted = true)
}

/// `POST /conferences/{id}/actions/unmute`
pub fn unmute(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    update_targets(world, request, false, |p| p.muted = false)
}

/// `POST /conferences/{id}/actions/hold`
pub fn hold(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    request.str("audio_url")?;
    request.str("media_name")?;
    update_targets(world, request, false, |p| p.on_hold = true)
}

/// `POST /conferences/{id}/actions/unhold` (names its participants: required).
pub fn unhold(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    update_targets(world, request, true, |p| p.on_hold = false)
}

/// `POST /conferences/{id}/actions/update`: a participant's supervisor role
/// and whom it whispers to.
pub fn update_supervisor(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("id");
    let call_id = request.required_str("call_control_id")?;
    let role = request.required_one_of("supervisor_role", SUPERVISOR_ROLES)?;
    let whisper = request.str_list("whisper_call_control_ids")?;
    request.one_of("region", REGIONS)?;
    world.live_conference(id)?;
    participant_of(world, id, call_id)?;
    let now = world.now();
    if let Some(participant) = world.live_conference(id)?.participant_mut(call_id) {
        participant.supervisor_role = role;
        if let Some(whisper) = whisper {
            participant.whisper_call_control_ids = whisper;
        }
        participant.updated_at = now;
    }
    Ok(Reply::ok())
}

/// `GET /conferences/{conference_id}/participants`, everyone who ever took
/// a seat, filtered by `filter[muted]`, `filter[on_hold]`, `filter[whispering]`.
pub fn list(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let muted = request.query_bool("filter[muted]")?;
    let on_hold = request.query_bool("filter[on_hold]")?;
    let whispering = request.query_bool("filter[whispering]")?;
    let conference = world.conference(request.param("conference_id"))?;
    let rows = conference
        .participants
        .iter()
        .filter(|p| muted.is_none_or(|m| p.muted == m))
        .filter(|p| on_hold.is_none_or(|h| p.on_hold == h))
        .filter(|p| whispering.is_none_or(|w| p.is_whispering() == w))
        .map(|p| p.list_json(conference))
        .collect();
    paging::numbered(request, rows)
}

/// `GET /conferences/{id}/participants/{participant_id}`; the participant
/// is named by its id or by its call control id.
pub fn retrieve(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let conference = world.conference(request.param("id"))?;
    let participant = find(&conference.participants, request.param("participant_id"))?;
    Ok(Reply::data(participant.detail_json(conference)))
}

/// `PATCH /conferences/{id}/participants/{participant_id}`
pub fn update(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let beep = request.one_of("beep_enabled", BEEP)?;
    let end = request.bool("end_conference_on_exit")?;
    let soft_end = request.bool("soft_end_conference_on_exit")?;
    let now = world.now();
    let conference = world.live_conference(request.param("id"))?;
    let wanted = request.param("participant_id");
    let index = conference
        .participants
        .iter()
        .position(|p| {
            p.status == ParticipantStatus::Joined && (p.id == wanted || p.call_control_id == wanted)
        })
        .ok_or_else(ApiError::not_found)?;
    let participant = &mut conference.participants[index];
    participant.beep_enabled = beep.or(participant.beep_enabled);
    participant.end_conference_on_exit = end.unwrap_or(participant.end_conference_on_exit);
    participant.soft_end_conference_on_exit =
        soft_end.unwrap_or(participant.soft_end_conference_on_exit);
    participant.updated_at = now;
    let participant = conference.participants[index].detail_json(conference);
    Ok(Reply::data(participant))
}

/// The latest seat of a participant named by id or call control id.
fn find<'a>(participants: &'a [Participant], wanted: &str) -> Result<&'a Participant, ApiError> {
    participants
        .iter()
        .rev()
        .find(|p| p.id == wanted || p.call_control_id == wanted)
        .ok_or_else(ApiError::not_found)
}
