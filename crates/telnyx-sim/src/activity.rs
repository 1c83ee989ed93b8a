//! What is going on in a call besides being connected: audio playing,
//! digits being gathered, a recording, media leaving the platform (fork,
//! stream, SIPREC), transcription, noise suppression, an AI conversation.
//!
//! Each start command refuses to start what already runs (streams and audio
//! excepted: a call may stream to several places, and audio queues), and
//! each stop command refuses to stop what does not run, so a client learns
//! of a mix-up at once rather than from a missing webhook.
//!
//! A call that ends ends all of it, in the order Telnyx reports it: what the
//! call was doing stops before `call.hangup` (audio and gathers ending with
//! status `call_hangup`, forks and streams stopped), and what is made of the
//! call comes after it (the recording saved, the conversation ended).

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use super::events::{CONFERENCE_FLOOR_CHANGED, Context, With};
use super::model::Recording;
use super::state::World;

/// How many utterances a recording or conversation keeps, so a caller who
/// talks for hours cannot grow the simulator's memory without bound.
pub const MAX_UTTERANCES: usize = 200;

/// Everything running on one call.
#[derive(Debug, Default, Clone)]
pub struct Activity {
    /// Audio in line, the first one playing (or waiting to start).
    pub audio: VecDeque<Audio>,
    /// A playback over the main audio (`overlay: true`).
    pub overlay: Option<Audio>,
    pub gather: Option<Gather>,
    pub recording: Option<CallRecording>,
    pub fork: bool,
    pub streams: Vec<Stream>,
    /// The tracks transcribed (`inbound`, `outbound` or `both`), while running.
    pub transcription: Option<&'static str>,
    pub suppression: bool,
    pub siprec: bool,
    /// The AI conversation the call takes part in.
    pub conversation: Option<String>,
}

/// One speak, playback or gather prompt.
#[derive(Debug, Clone)]
pub struct Audio {
    pub id: u64,
    pub sound: Sound,
    /// How many times it plays; `None` loops until stopped.
    pub plays: Option<u32>,
    /// Whether it started (and so sent its `started` event).
    pub started: bool,
    /// The prompt of the running gather: it ends when a digit is pressed,
    /// and the gather's first-digit timeout starts when it ends.
    pub prompt: bool,
}

#[derive(Debug, Clone)]
pub enum Sound {
    /// `call.speak.*`, with the text for an outbound transcription.
    Speak { text: Option<String> },
    /// `call.playback.*`, with `media_url` / `media_name` / `overlay`.
    Playback { context: Context },
    /// A gather_using_speak prompt: Telnyx sends no speak events for it.
    Silent,
}

/// A running gather and its rules.
#[derive(Debug, Clone)]
pub struct Gather {
    /// Which gather this is, for its overall timeout.
    pub id: u64,
    /// Changes with every try and every digit, so a timer set before knows
    /// it is stale.
    pub generation: u64,
    pub minimum_digits: usize,
    pub maximum_digits: usize,
    pub terminating_digit: Option<char>,
    pub valid_digits: String,
    pub initial_timeout: Duration,
    pub inter_digit_timeout: Duration,
    pub tries_left: u32,
    pub digits: String,
    /// What is played before each try (and after an invalid one), if anything.
    pub prompt: Option<Prompt>,
}

/// The audio a gather plays: the prompt, and what it plays after invalid input.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub sound: Sound,
    pub invalid: Option<Sound>,
}

/// A call's recording, with what the far end said while it ran (for its
/// transcription).
#[derive(Debug, Clone)]
pub struct CallRecording {
    pub recording: Recording,
    pub transcription: bool,
    pub heard: Vec<String>,
}

/// A media stream to a WebSocket.
#[derive(Debug, Clone)]
pub struct Stream {
    pub id: String,
    pub url: String,
}

/// An AI conversation: an assistant, an AI gather or a conversation relay.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: String,
    pub kind: ConversationKind,
    /// The call that started it.
    pub owner: String,
    /// Calls that joined it, and whether their hangup ends it.
    pub participants: Vec<(String, bool)>,
    pub started_at: SystemTime,
    /// `(role, content)`, oldest first.
    pub history: Vec<(&'static str, String)>,
    /// Fields of `call.conversation.ended` known from the command.
    pub context: Context,
}

#[derive(Debug, Clone)]
pub enum ConversationKind {
    Assistant,
    Relay,
    Gather(Box<super::ai_gather::AiGather>),
}

impl Conversation {
    pub fn say(&mut self, role: &'static str, content: impl Into<String>) {
        if self.history.len() >= MAX_UTTERANCES {
            self.history.remove(0);
        }
        self.history.push((role, content.into()));
    }
}

impl World {
    /// Stops what a call is doing before its `call.hangup` is sent.
    pub fn stop_activities(&mut self, id: &str) {
        self.end_gather(id, "call_hangup");
        self.stop_all_audio(id, "call_hangup");
        self.end_ai_gather_on_hangup(id);
        self.stop_fork(id);
        self.stop_streams(id, None);
        self.stop_siprec(id, "normal_clearing");
        if let Some(call) = self.calls.get_mut(id) {
            call.activity.transcription = None;
            call.activity.suppression = false;
        }
    }

    /// Finishes what is made of a call after its `call.hangup`.
    pub fn finish_activities(&mut self, id: &str) {
        self.save_call_recording(id, None);
        self.leave_conversation(id, "customer_disconnect");
    }

    /// The caller (or the far end of an outbound call) said something: it
    /// goes to the recording, the transcription and the AI conversation.
    pub fn hear(&mut self, id: &str, text: &str) {
        if let Some(recording) = self
            .calls
            .get_mut(id)
            .and_then(|c| c.activity.recording.as_mut())
            .filter(|r| !r.recording.paused)
            && recording.heard.len() < MAX_UTTERANCES
        {
            recording.heard.push(text.to_owned());
        }
        self.transcribe(id, "inbound", text);
        self.converse(id, text);
        self.take_floor(id);
    }

    /// A participant who speaks takes a conference's floor.
    fn take_floor(&mut self, id: &str) {
        let Some(conference_id) = self.calls.get(id).and_then(|c| c.conference_id.clone()) else {
            return;
        };
        let Some(conference) = self.conferences.get_mut(&conference_id) else {
            return;
        };
        if conference.floor.as_deref() == Some(id) {
            return;
        }
        conference.floor = Some(id.to_owned());
        let context = self.call_context(id).with("conference_id", conference_id);
        self.emit(&CONFERENCE_FLOOR_CHANGED, &context);
    }
}
