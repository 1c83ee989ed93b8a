//! The webhook events the simulator sends, and exactly which payload fields
//! each one carries.
//!
//! Every event is built the same way: the action gathers a context of
//! everything it knows (the call's ids, the conference's, the queue
//! position, ...) and the event keeps the fields its reference table lists.
//! One table, no per-event code, and no event can grow a field Telnyx does
//! not send.

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::{clock, ids};

/// What an action knows when it emits events; keys are payload field names.
pub type Context = Map<String, Value>;

/// Adds a field to a [`Context`], builder style.
pub trait With {
    fn with(self, key: &str, value: impl Into<Value>) -> Self;
}

impl With for Context {
    fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.insert(key.to_owned(), value.into());
        self
    }
}

/// One kind of webhook event: its wire name and payload fields.
#[derive(Debug, PartialEq, Eq)]
pub struct EventKind {
    pub name: &'static str,
    /// Groups of field names, in payload order.
    fields: &'static [&'static [&'static str]],
}

/// The ids every call event carries, and the `client_state` echoed back.
const CALL: &[&str] = &[
    "call_control_id",
    "call_leg_id",
    "call_session_id",
    "client_state",
    "connection_id",
];
/// What a call event adds about the call itself.
const LEG: &[&str] = &["from", "to", "start_time", "state"];
const CONFERENCE: &[&str] = &["conference_id"];
/// What conference-wide media events carry.
const MEDIA: &[&str] = &[
    "conference_id",
    "connection_id",
    "creator_call_session_id",
    "occurred_at",
];
const MEDIA_FILE: &[&str] = &["media_url", "media_name"];
/// The parties of a call, as most call events repeat them.
const PARTIES: &[&str] = &["from", "to"];
/// What an AI conversation's events add.
const AI: &[&str] = &["message_history"];
/// What `call.recording.saved` says about the recording.
const RECORDING: &[&str] = &[
    "channels",
    "recording_started_at",
    "recording_ended_at",
    "recording_urls",
    "public_recording_urls",
];

macro_rules! kinds {
    ($($constant:ident = $name:literal [$($group:expr),* $(,)?];)*) => {
        $(pub const $constant: EventKind = EventKind { name: $name, fields: &[$($group),*] };)*
        /// Every kind, for tests and documentation.
        pub const ALL: &[EventKind] = &[$($constant),*];
    };
}

kinds! {
    CALL_INITIATED = "call.initiated" [CALL, LEG, &["direction"]];
    CALL_ANSWERED = "call.answered" [CALL, LEG];
    CALL_BRIDGED = "call.bridged" [CALL, &["from", "to"]];
    CALL_HANGUP = "call.hangup" [CALL, LEG, &["hangup_cause", "hangup_source", "sip_hangup_cause"]];
    CALL_ENQUEUED = "call.enqueued" [CALL, &["queue", "current_position", "queue_avg_wait_time_secs"]];
    CALL_DEQUEUED = "call.dequeued" [CALL, &["queue", "queue_position", "reason", "wait_time_secs"]];
    CONFERENCE_CREATED = "conference.created" [CALL, CONFERENCE, &["occurred_at"]];
    CONFERENCE_ENDED = "conference.ended" [CALL, CONFERENCE, &["occurred_at", "reason"]];
    PARTICIPANT_JOINED = "conference.participant.joined" [CALL, CONFERENCE];
    PARTICIPANT_LEFT = "conference.participant.left" [CALL, CONFERENCE];
    PARTICIPANT_PLAYBACK_STARTED = "conference.participant.playback.started" [CALL, MEDIA, MEDIA_FILE];
    PARTICIPANT_PLAYBACK_ENDED = "conference.participant.playback.ended" [CALL, MEDIA, MEDIA_FILE];
    PARTICIPANT_SPEAK_STARTED = "conference.participant.speak.started" [CALL, MEDIA];
    PARTICIPANT_SPEAK_ENDED = "conference.participant.speak.ended" [CALL, MEDIA];
    PLAYBACK_STARTED = "conference.playback.started" [MEDIA, MEDIA_FILE];
    PLAYBACK_ENDED = "conference.playback.ended" [MEDIA, MEDIA_FILE];
    SPEAK_STARTED = "conference.speak.started" [MEDIA];
    SPEAK_ENDED = "conference.speak.ended" [MEDIA];
    RECORDING_SAVED = "conference.recording.saved" [
        &["call_control_id", "call_session_id", "client_state", "connection_id"],
        CONFERENCE,
        &["channels", "format", "recording_id", "recording_started_at", "recording_ended_at"],
        &["recording_urls", "public_recording_urls"],
    ];
    CALL_SPEAK_STARTED = "call.speak.started" [CALL];
    CALL_SPEAK_ENDED = "call.speak.ended" [CALL, &["status"]];
    CALL_PLAYBACK_STARTED = "call.playback.started" [CALL, MEDIA_FILE, &["overlay"]];
    CALL_PLAYBACK_ENDED = "call.playback.ended" [CALL, MEDIA_FILE, &["overlay", "status", "status_detail"]];
    CALL_DTMF_RECEIVED = "call.dtmf.received" [CALL, PARTIES, &["digit"]];
    CALL_GATHER_ENDED = "call.gather.ended" [CALL, PARTIES, &["digits", "status"]];
    CALL_HOLD = "call.hold" [CALL, PARTIES];
    CALL_UNHOLD = "call.unhold" [CALL, PARTIES];
    // Telnyx's schema for it names the leg, not the call control id.
    CALL_RECORDING_SAVED = "call.recording.saved" [
        &["call_leg_id", "call_session_id", "client_state", "connection_id"],
        RECORDING,
    ];
    CALL_RECORDING_TRANSCRIPTION_SAVED = "call.recording.transcription.saved" [
        CALL,
        &["calling_party_type", "recording_id", "recording_transcription_id", "status", "transcription_text"],
    ];
    CALL_FORK_STARTED = "call.fork.started" [CALL, &["stream_type"]];
    CALL_FORK_STOPPED = "call.fork.stopped" [CALL, &["stream_type"]];
    STREAMING_STARTED = "streaming.started" [CALL, &["stream_url"]];
    STREAMING_STOPPED = "streaming.stopped" [CALL, &["stream_url"]];
    STREAMING_FAILED = "streaming.failed" [CALL, &["failure_reason", "stream_id", "stream_params", "stream_type"]];
    CALL_TRANSCRIPTION = "call.transcription" [CALL, &["transcription_data"]];
    SIPREC_STARTED = "siprec.started" [CALL];
    SIPREC_STOPPED = "siprec.stopped" [CALL, &["hangup_cause"]];
    SIPREC_FAILED = "siprec.failed" [CALL, &["failure_cause"]];
    REFER_STARTED = "call.refer.started" [CALL, PARTIES, &["sip_notify_response"]];
    REFER_COMPLETED = "call.refer.completed" [CALL, PARTIES, &["sip_notify_response"]];
    REFER_FAILED = "call.refer.failed" [CALL, PARTIES, &["sip_notify_response"]];
    MACHINE_DETECTION_ENDED = "call.machine.detection.ended" [CALL, PARTIES, &["result"]];
    MACHINE_GREETING_ENDED = "call.machine.greeting.ended" [CALL, PARTIES, &["result"]];
    MACHINE_PREMIUM_DETECTION_ENDED = "call.machine.premium.detection.ended" [CALL, PARTIES, &["result"]];
    MACHINE_PREMIUM_GREETING_ENDED = "call.machine.premium.greeting.ended" [CALL, PARTIES, &["result"]];
    AI_GATHER_ENDED = "call.ai_gather.ended" [CALL, PARTIES, AI, &["result", "status"]];
    AI_GATHER_PARTIAL_RESULTS = "call.ai_gather.partial_results" [CALL, PARTIES, AI, &["partial_results"]];
    AI_GATHER_MESSAGE_HISTORY_UPDATED = "call.ai_gather.message_history_updated" [CALL, PARTIES, AI];
    CONVERSATION_ENDED = "call.conversation.ended" [
        CALL,
        PARTIES,
        &["assistant_id", "calling_party_type", "conversation_id", "duration_sec", "llm_model", "reason"],
        &["stt_model", "tts_provider", "tts_voice_id"],
    ];
    CONFERENCE_FLOOR_CHANGED = "conference.floor.changed" [CALL, CONFERENCE, &["occurred_at"]];
    DEEPFAKE_DETECTION_RESULT = "call.deepfake_detection.result" [CALL, &["consistency", "result", "score"]];
    CONVERSATION_INSIGHTS_GENERATED = "call.conversation_insights.generated" [
        CALL,
        &["calling_party_type", "insight_group_id", "results"],
    ];
}

/// The started/ended event pairs of one kind of media, for the whole
/// conference and for chosen participants.
#[derive(Debug, PartialEq, Eq)]
pub struct MediaKind {
    pub started: &'static EventKind,
    pub ended: &'static EventKind,
    pub participant_started: &'static EventKind,
    pub participant_ended: &'static EventKind,
}

pub const PLAYBACK: MediaKind = MediaKind {
    started: &PLAYBACK_STARTED,
    ended: &PLAYBACK_ENDED,
    participant_started: &PARTICIPANT_PLAYBACK_STARTED,
    participant_ended: &PARTICIPANT_PLAYBACK_ENDED,
};

pub const SPEAK: MediaKind = MediaKind {
    started: &SPEAK_STARTED,
    ended: &SPEAK_ENDED,
    participant_started: &PARTICIPANT_SPEAK_STARTED,
    participant_ended: &PARTICIPANT_SPEAK_ENDED,
};

/// One event, ready to be wrapped in a delivery envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub event_type: &'static str,
    pub occurred_at: String,
    pub payload: Map<String, Value>,
}

impl Event {
    /// The event of `kind` that `context` describes, stamped `at`.
    pub fn new(kind: &EventKind, context: &Context, at: SystemTime) -> Self {
        let occurred_at = clock::rfc3339(at);
        let payload = kind
            .fields
            .iter()
            .flat_map(|group| group.iter())
            .filter_map(|field| {
                let value = match *field {
                    "occurred_at" => Value::String(occurred_at.clone()),
                    _ => context.get(*field)?.clone(),
                };
                Some(((*field).to_owned(), value))
            })
            .collect();
        Event {
            id: ids::uuid(),
            event_type: kind.name,
            occurred_at,
            payload,
        }
    }

    /// The `data` member of a delivery.
    pub fn data(&self) -> Value {
        json!({
            "record_type": "event",
            "event_type": self.event_type,
            "id": self.id,
            "occurred_at": self.occurred_at,
            "payload": self.payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_keep_only_the_fields_of_their_table() {
        let context = Context::new()
            .with("call_control_id", "v3:abc")
            .with("conference_id", "c1")
            .with("queue", "not-a-conference-field");
        let event = Event::new(&PARTICIPANT_JOINED, &context, SystemTime::now());
        assert_eq!(
            Value::Object(event.payload.clone()),
            json!({"call_control_id": "v3:abc", "conference_id": "c1"})
        );
        let created = Event::new(&CONFERENCE_CREATED, &context, SystemTime::now());
        assert_eq!(created.payload["occurred_at"], json!(created.occurred_at));
        assert_eq!(created.data()["record_type"], "event");
        assert_eq!(ALL.len(), 52);
    }

    /// Every kind is a webhook of Telnyx's spec, and every field it keeps is
    /// a field of that webhook's payload.
    #[test]
    fn kinds_and_fields_are_those_of_the_spec() {
        let spec = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../spec/telnyx-openapi.yaml"
        ))
        .unwrap();
        let spec: Value = serde_norway::from_str(&spec).unwrap();
        let resolve = |value: &Value| {
            let mut value = value.clone();
            while let Some(reference) = value["$ref"].as_str() {
                value = spec.pointer(&reference[1..]).unwrap().clone();
            }
            value
        };
        let mut payloads = std::collections::HashMap::new();
        for hook in spec["webhooks"].as_object().unwrap().values() {
            let body =
                resolve(&hook["post"]["requestBody"]["content"]["application/json"]["schema"]);
            let event = match body["properties"].get("data") {
                Some(data) => resolve(data),
                None => body,
            };
            let name = event["properties"]["event_type"]["enum"][0]
                .as_str()
                .unwrap()
                .to_owned();
            payloads.insert(name, resolve(&event["properties"]["payload"]));
        }
        for kind in ALL {
            let payload = payloads
                .get(kind.name)
                .unwrap_or_else(|| panic!("{} is not a webhook of the spec", kind.name));
            for field in kind.fields.iter().flat_map(|group| group.iter()) {
                assert!(
                    payload["properties"].get(*field).is_some(),
                    "{} has no payload field {field}",
                    kind.name
                );
            }
        }
    }
}
