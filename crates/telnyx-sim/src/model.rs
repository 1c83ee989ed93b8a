//! The simulated account's resources and how each renders as Telnyx JSON.
//!
//! Calls stay in memory after they end, so a command on an ended call meets
//! 90018 rather than 90015, as on the real platform.

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::activity::Activity;
use super::clock::{rfc3339, secs_between};
use super::events::{Context, MediaKind, With};
use super::ids;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// Outbound, not answered yet.
    Dialing,
    /// Inbound, waiting to be answered.
    Ringing,
    /// Up and parked (not bridged to another call).
    Answered,
    Bridged,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Incoming,
    Outgoing,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Call {
    pub call_control_id: String,
    pub call_leg_id: String,
    pub call_session_id: String,
    pub connection_id: String,
    pub from: String,
    pub to: String,
    pub direction: Direction,
    pub state: CallState,
    /// The last `client_state` a command set; echoed in later webhooks.
    pub client_state: Option<String>,
    pub started_at: SystemTime,
    pub ended_at: Option<SystemTime>,
    pub bridged_with: Option<String>,
    /// Stay up (parked) when the other leg of a bridge hangs up.
    pub park_after_unbridge: bool,
    pub conference_id: Option<String>,
    pub queue: Option<String>,
    pub recording_id: Option<String>,
    /// The recording a dial asked for (`record-from-answer`), started when
    /// the call is answered.
    pub record_on_answer: Option<Recording>,
    /// The answering machine detection a dial or transfer asked for.
    pub amd: Option<&'static str>,
    /// The call a transfer leg is bridged with once it answers.
    pub bridge_on_answer: Option<String>,
    /// The role last set with `switch_supervisor_role`.
    pub supervisor_role: Option<&'static str>,
    /// The far end put the call on hold.
    pub on_hold: bool,
    /// Deepfake detection runs when the call is answered.
    pub deepfake_detection: bool,
    /// The stream (URL, track) started when the call is answered.
    pub stream_on_answer: Option<(String, &'static str)>,
    /// The tracks transcribed from when the call is answered.
    pub transcribe_on_answer: Option<&'static str>,
    pub activity: Activity,
    /// Creation order, for stable listings.
    pub seq: u64,
}

/// What a new call leg starts from.
#[derive(Debug, Clone)]
pub struct Leg {
    pub direction: Direction,
    pub connection_id: String,
    pub from: String,
    pub to: String,
    pub call_session_id: String,
}

impl Call {
    /// A leg that has not been answered yet: dialling out or ringing in.
    pub fn new(leg: Leg, seq: u64, now: SystemTime) -> Self {
        Call {
            call_control_id: ids::call_control_id(),
            call_leg_id: ids::uuid(),
            call_session_id: leg.call_session_id,
            connection_id: leg.connection_id,
            from: leg.from,
            to: leg.to,
            state: match leg.direction {
                Direction::Incoming => CallState::Ringing,
                Direction::Outgoing => CallState::Dialing,
            },
            direction: leg.direction,
            client_state: None,
            started_at: now,
            ended_at: None,
            bridged_with: None,
            park_after_unbridge: false,
            conference_id: None,
            queue: None,
            recording_id: None,
            record_on_answer: None,
            amd: None,
            bridge_on_answer: None,
            supervisor_role: None,
            on_hold: false,
            deepfake_detection: false,
            stream_on_answer: None,
            transcribe_on_answer: None,
            activity: Activity::default(),
            seq,
        }
    }

    /// Whether the call is up: answered, bridged or in a conference.
    pub fn is_up(&self) -> bool {
        matches!(self.state, CallState::Answered | CallState::Bridged)
    }

    /// `pstn` or `sip`, as AI and transcription events name the far end.
    pub fn calling_party_type(&self) -> &'static str {
        let far_end = match self.direction {
            Direction::Incoming => &self.from,
            Direction::Outgoing => &self.to,
        };
        if far_end.starts_with("sip:") {
            "sip"
        } else {
            "pstn"
        }
    }

    pub fn is_alive(&self) -> bool {
        self.state != CallState::Ended
    }

    /// Everything a call contributes to its events.
    pub fn context(&self) -> Context {
        let context = Context::new()
            .with("call_control_id", self.call_control_id.as_str())
            .with("call_leg_id", self.call_leg_id.as_str())
            .with("call_session_id", self.call_session_id.as_str())
            .with("connection_id", self.connection_id.as_str())
            .with("from", self.from.as_str())
            .with("to", self.to.as_str())
            .with("direction", self.direction.as_str())
            .with("start_time", rfc3339(self.started_at));
        match &self.client_state {
            Some(state) => context.with("client_state", state.as_str()),
            None => context,
        }
    }

    fn duration_secs(&self, now: SystemTime) -> u64 {
        secs_between(self.started_at, self.ended_at.unwrap_or(now))
    }

    /// The call as dial answers it.
    pub fn to_json(&self, now: SystemTime) -> Value {
        let mut call = json!({
            "record_type": "call",
            "call_control_id": self.call_control_id,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "is_alive": self.is_alive(),
            "start_time": rfc3339(self.started_at),
            "call_duration": self.duration_secs(now),
        });
        insert_some(&mut call, "client_state", self.client_state.clone());
        insert_some(&mut call, "recording_id", self.recording_id.clone());
        insert_some(&mut call, "end_time", self.ended_at.map(rfc3339));
        call
    }

    /// The call as the active-calls list shows it.
    pub fn active_json(&self, now: SystemTime) -> Value {
        json!({
            "record_type": "call",
            "call_control_id": self.call_control_id,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "client_state": self.client_state.clone().unwrap_or_default(),
            "call_duration": self.duration_secs(now),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConferenceStatus {
    InProgress,
    Completed,
}

#[derive(Debug, Clone)]
pub struct Conference {
    pub id: String,
    pub name: String,
    pub connection_id: String,
    pub region: Option<&'static str>,
    pub status: ConferenceStatus,
    pub end_reason: Option<&'static str>,
    pub ended_by: Option<(String, String)>,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
    pub expires_at: SystemTime,
    pub max_participants: usize,
    pub creator_call_control_id: String,
    pub creator_call_session_id: String,
    pub participants: Vec<Participant>,
    pub recording: Option<Recording>,
    /// Audio playing or text being spoken now.
    pub media: Vec<Media>,
    /// The participant who spoke last (`conference.floor.changed`).
    pub floor: Option<String>,
    pub seq: u64,
}

impl Conference {
    pub fn is_active(&self) -> bool {
        self.status != ConferenceStatus::Completed
    }

    pub fn joined(&self) -> impl Iterator<Item = &Participant> {
        self.participants
            .iter()
            .filter(|p| p.status == ParticipantStatus::Joined)
    }

    pub fn joined_mut(&mut self) -> impl Iterator<Item = &mut Participant> {
        self.participants
            .iter_mut()
            .filter(|p| p.status == ParticipantStatus::Joined)
    }

    /// The joined participant for a call, if it is in this conference.
    pub fn participant_mut(&mut self, call_control_id: &str) -> Option<&mut Participant> {
        self.joined_mut()
            .find(|p| p.call_control_id == call_control_id)
    }

    /// Everything a conference contributes to its events.
    pub fn context(&self) -> Context {
        Context::new()
            .with("conference_id", self.id.as_str())
            .with("connection_id", self.connection_id.as_str())
            .with(
                "creator_call_session_id",
                self.creator_call_session_id.as_str(),
            )
    }

    pub fn to_json(&self) -> Value {
        let mut conference = json!({
            "record_type": "conference",
            "id": self.id,
            "name": self.name,
            "connection_id": self.connection_id,
            "status": match self.status {
                ConferenceStatus::InProgress => "in_progress",
                ConferenceStatus::Completed => "completed",
            },
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "expires_at": rfc3339(self.expires_at),
        });
        insert_some(&mut conference, "region", self.region);
        insert_some(&mut conference, "end_reason", self.end_reason);
        if let Some((call_control_id, call_session_id)) = &self.ended_by {
            conference["ended_by"] = json!({
                "call_control_id": call_control_id,
                "call_session_id": call_session_id,
            });
        }
        conference
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipantStatus {
    Joined,
    Left,
}

#[derive(Debug, Clone)]
pub struct Participant {
    pub id: String,
    pub call_control_id: String,
    pub call_leg_id: String,
    pub status: ParticipantStatus,
    pub muted: bool,
    pub on_hold: bool,
    pub supervisor_role: &'static str,
    pub whisper_call_control_ids: Vec<String>,
    pub end_conference_on_exit: bool,
    pub soft_end_conference_on_exit: bool,
    pub beep_enabled: Option<&'static str>,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

impl Participant {
    pub fn is_whispering(&self) -> bool {
        self.supervisor_role == "whisper" || !self.whisper_call_control_ids.is_empty()
    }

    fn common(&self) -> Value {
        json!({
            "id": self.id,
            "call_control_id": self.call_control_id,
            "call_leg_id": self.call_leg_id,
            "status": match self.status {
                ParticipantStatus::Joined => "joined",
                ParticipantStatus::Left => "left",
            },
            "muted": self.muted,
            "on_hold": self.on_hold,
            "whisper_call_control_ids": self.whisper_call_control_ids,
            "end_conference_on_exit": self.end_conference_on_exit,
            "soft_end_conference_on_exit": self.soft_end_conference_on_exit,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
        })
    }

    /// As the participants list shows it.
    pub fn list_json(&self, conference: &Conference) -> Value {
        let mut participant = self.common();
        participant["record_type"] = json!("participant");
        participant["conference"] = json!({"id": conference.id, "name": conference.name});
        participant
    }

    /// As retrieving one participant shows it.
    pub fn detail_json(&self, conference: &Conference) -> Value {
        let mut participant = self.common();
        participant["conference_id"] = json!(conference.id);
        participant
    }
}

/// One play or speak in progress.
#[derive(Debug, Clone)]
pub struct Media {
    pub id: u64,
    pub kind: &'static MediaKind,
    /// The participants it is for; empty means the whole conference.
    pub call_control_ids: Vec<String>,
    /// `media_url` / `media_name` as the command gave them.
    pub context: Context,
}

#[derive(Debug, Clone)]
pub struct Recording {
    pub id: String,
    pub format: &'static str,
    pub channels: &'static str,
    pub started_at: SystemTime,
    pub paused: bool,
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub id: String,
    pub name: String,
    pub max_size: usize,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
    /// Waiting calls, first in line first.
    pub calls: Vec<QueuedCall>,
}

#[derive(Debug, Clone)]
pub struct QueuedCall {
    pub call_control_id: String,
    pub enqueued_at: SystemTime,
    pub keep_after_hangup: bool,
}

impl Queue {
    /// The average wait of the calls waiting now, as Telnyx reports it.
    pub fn average_wait_secs(&self, now: SystemTime) -> u64 {
        let total: u64 = self
            .calls
            .iter()
            .map(|c| secs_between(c.enqueued_at, now))
            .sum();
        total.checked_div(self.calls.len() as u64).unwrap_or(0)
    }

    /// 1-based position of a call in line.
    pub fn position(&self, call_control_id: &str) -> Option<usize> {
        self.calls
            .iter()
            .position(|c| c.call_control_id == call_control_id)
            .map(|i| i + 1)
    }

    pub fn to_json(&self, now: SystemTime) -> Value {
        json!({
            "record_type": "queue",
            "id": self.id,
            "name": self.name,
            "current_size": self.calls.len(),
            "max_size": self.max_size,
            "average_wait_time_secs": self.average_wait_secs(now),
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
        })
    }

    /// One waiting call, with its position and how long it has waited.
    pub fn call_json(&self, position: usize, call: &Call, now: SystemTime) -> Value {
        let queued = &self.calls[position - 1];
        json!({
            "record_type": "queue_call",
            "call_control_id": call.call_control_id,
            "call_leg_id": call.call_leg_id,
            "call_session_id": call.call_session_id,
            "connection_id": call.connection_id,
            "from": call.from,
            "to": call.to,
            "is_alive": call.is_alive(),
            "queue_id": self.id,
            "queue_position": position,
            "enqueued_at": rfc3339(queued.enqueued_at),
            "wait_time_secs": secs_between(queued.enqueued_at, now),
        })
    }
}

/// A Call Control application: its settings as last written, plus the
/// fields Telnyx maintains.
#[derive(Debug, Clone)]
pub struct Application {
    pub id: String,
    pub settings: Map<String, Value>,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

impl Application {
    pub fn to_json(&self) -> Value {
        let mut application = Value::Object(self.settings.clone());
        application["record_type"] = json!("call_control_application");
        application["id"] = json!(self.id);
        application["created_at"] = json!(rfc3339(self.created_at));
        application["updated_at"] = json!(rfc3339(self.updated_at));
        application
    }

    pub fn name(&self) -> &str {
        self.settings
            .get("application_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

fn insert_some(object: &mut Value, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        object[key] = value.into();
    }
}
