//! How a call lives: it starts (`call.initiated`), is answered, bridged, and
//! ends (`call.hangup` with its cause), taking with it everything it was
//! part of.

use serde_json::json;

use super::activity::CallRecording;
use super::events::{
    CALL_ANSWERED, CALL_BRIDGED, CALL_HANGUP, CALL_INITIATED, Context, DEEPFAKE_DETECTION_RESULT,
    With,
};
use super::ids;
use super::model::{Call, CallState, Direction, Leg};
use super::state::World;

/// How a call ended, as `call.hangup` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hangup {
    pub cause: &'static str,
    /// `caller`, `callee` or `unknown`.
    pub source: &'static str,
    pub sip: &'static str,
}

impl Hangup {
    /// A call that was up ends normally.
    pub const fn normal(source: &'static str) -> Self {
        Hangup {
            cause: "normal_clearing",
            source,
            sip: "200",
        }
    }

    /// The calling party gave up before the call was answered.
    pub const CANCELLED: Hangup = Hangup {
        cause: "originator_cancel",
        source: "caller",
        sip: "487",
    };
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
    pub fn new_call(&mut self, leg: Leg) -> Call {
        let seq = self.next_seq();
        Call::new(leg, seq, self.now())
    }

    /// Answers a call that is dialling or ringing, and starts the recording
    /// it asked for; anything else is left alone.
    pub fn answer(&mut self, id: &str) {
        let now = self.now();
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        if matches!(call.state, CallState::Dialing | CallState::Ringing) {
            call.state = CallState::Answered;
            if let Some(mut recording) = call.record_on_answer.take() {
                recording.started_at = now;
                call.activity.recording = Some(CallRecording {
                    recording,
                    transcription: false,
                    heard: Vec::new(),
                });
            }
            call.activity.transcription = call.transcribe_on_answer.take();
            let stream = call.stream_on_answer.take();
            let context = call.context().with("state", "answered");
            let deepfake = call.deepfake_detection;
            self.emit(&CALL_ANSWERED, &context);
            if let Some((url, track)) = stream {
                self.open_stream(id, &url, track);
            }
            if deepfake {
                let (id, after) = (id.to_owned(), self.timing.answer_delay);
                self.later(after, move |world| world.detect_deepfake(&id));
            }
        }
    }

    /// Deepfake detection finds the far end's voice real.
    fn detect_deepfake(&mut self, id: &str) {
        if !self.calls.get(id).is_some_and(Call::is_up) {
            return;
        }
        let context = self
            .call_context(id)
            .with("result", "real")
            .with("score", json!(0.02))
            .with("consistency", json!(0.98));
        self.emit(&DEEPFAKE_DETECTION_RESULT, &context);
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

    /// Ends a call normally, hung up by `source`.
    pub fn hang_up(&mut self, id: &str, source: &'static str) {
        self.hang_up_with(id, Hangup::normal(source));
    }

    /// Ends a call and everything it was part of: what it was doing, its
    /// conference seat, its place in a queue (unless kept after hangup), its
    /// bridge, its recording and AI conversation.
    pub fn hang_up_with(&mut self, id: &str, hangup: Hangup) {
        if !self.calls.get(id).is_some_and(Call::is_alive) {
            return;
        }
        self.stop_activities(id);
        let now = self.now();
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        call.state = CallState::Ended;
        call.ended_at = Some(now);
        let bridged = call.bridged_with.take();
        let conference = call.conference_id.clone();
        let context: Context = call
            .context()
            .with("state", "hangup")
            .with("hangup_cause", hangup.cause)
            .with("hangup_source", hangup.source)
            .with("sip_hangup_cause", hangup.sip);
        self.emit(&CALL_HANGUP, &context);
        if let Some(conference) = conference {
            self.leave_conference(&conference, id);
        }
        self.queued_call_hung_up(id);
        if let Some(other) = bridged {
            self.unbridge(&other);
        }
        self.finish_activities(id);
        self.forget_ended_calls(id);
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
