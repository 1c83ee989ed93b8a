//! The fold: every accepted event, in stream order, into the state of the
//! queues, conferences and calls it names.
//!
//! [`Fold::apply`] is pure: the same events in the same order give the same
//! state on every replica, and every register in it is last-writer-wins by
//! `occurred_at` (see [`crate::stamp`]), so duplicates change nothing and
//! reordered events give the state their meaning says.
//!
//! Memory stays bounded by a sweep that runs inside the fold, every 10 seconds
//! of event time (so replicas sweep at the same events):
//!
//! - a call or conference that ended is dropped [`Settings::retention`] after
//!   its end and leaves a 16-byte tombstone, so it answers NOT_FOUND (rather
//!   than an empty state) and late events cannot bring it back, for
//!   [`Settings::horizon`];
//! - a departure from a queue is kept for [`Settings::window`] (the queue
//!   statistics count them);
//! - anything silent for [`Settings::horizon`] (a call whose hangup was never
//!   delivered) is dropped.
//!
//! Event time is the newest `occurred_at` folded so far: never the local
//! clock, which differs between replicas.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use api::v1 as pb;
use events::cursor::Cursor;

use crate::call::Call;
use crate::conference::Conference;
use crate::input::{Input, timestamp};
use crate::queue::{self, Queue};
use crate::stamp::digest;

/// How long the fold remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long an ended call or conference stays readable.
    pub retention: Duration,
    /// The span of the queue statistics.
    pub window: Duration,
    /// How long an ended subject answers NOT_FOUND, and how long a silent
    /// one is kept.
    pub horizon: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retention: Duration::from_secs(600),
            window: Duration::from_secs(900),
            horizon: Duration::from_secs(86_400),
        }
    }
}

/// Event time between sweeps, in milliseconds.
const SWEEP_EVERY: i64 = 10_000;

/// A subject of the state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    Queue(Arc<str>),
    Conference(Arc<str>),
    Call(Arc<str>),
}

/// A call or conference that ended longer ago than the retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("it ended more than the retention ago")]
pub struct Gone;

/// The state of everything, as of one cursor.
#[derive(Debug, Clone, Default)]
pub struct Fold {
    settings: Settings,
    cursor: Option<Cursor>,
    /// Event time: the newest `occurred_at` folded.
    clock: i64,
    next_sweep: i64,
    calls: HashMap<Arc<str>, Call>,
    queues: HashMap<Arc<str>, Queue>,
    conferences: HashMap<Arc<str>, Conference>,
    /// Digests of the ids of calls dropped after their end, with the end.
    gone_calls: HashMap<u64, i64>,
    gone_conferences: HashMap<u64, i64>,
}

/// How many things the fold holds, for metrics and measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sizes {
    pub calls: usize,
    pub queues: usize,
    pub queue_members: usize,
    pub conferences: usize,
    pub tombstones: usize,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Fold {
    pub fn new(settings: Settings) -> Self {
        Fold {
            settings,
            ..Fold::default()
        }
    }

    /// The cursor of the last event folded.
    pub fn cursor(&self) -> Option<Cursor> {
        self.cursor
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    pub fn sizes(&self) -> Sizes {
        Sizes {
            calls: self.calls.len(),
            queues: self.queues.len(),
            queue_members: self.queues.values().map(Queue::len).sum(),
            conferences: self.conferences.len(),
            tombstones: self.gone_calls.len() + self.gone_conferences.len(),
        }
    }

    /// Moves the cursor past an event that changes nothing (one that could
    /// not be read).
    pub fn pass(&mut self, cursor: Cursor) {
        self.cursor = Some(cursor);
    }

    /// Folds one event; returns the subjects whose state changed.
    pub fn apply(&mut self, input: &Input) -> Vec<Subject> {
        self.cursor = Some(input.cursor);
        let mut touched = Vec::new();
        // Without `occurred_at` an event cannot be ordered against the
        // others; Telnyx always sends one.
        let Some(at) = input.occurred_at else {
            return touched;
        };
        self.clock = self.clock.max(at);
        let call = input.text("call_control_id").map(Arc::<str>::from);
        let conference = input.text("conference_id").map(Arc::<str>::from);
        let kind = input.event_type.as_str();

        if let Some(id) = &call {
            let is_gone = self.gone_calls.contains_key(&digest(id));
            // Conference-wide events name the creator's call: not the call's.
            let about_call = !kind.starts_with("conference.")
                || kind.starts_with("conference.participant.joined")
                || kind.starts_with("conference.participant.left");
            if about_call && !is_gone {
                let record = self.calls.entry(Arc::clone(id)).or_default();
                let change = record.apply(input, at);
                if change.any {
                    touched.push(Subject::Call(Arc::clone(id)));
                }
                if let Some(queue) = record.queue().filter(|_| change.numbers) {
                    touched.push(Subject::Queue(Arc::clone(queue)));
                }
                if change.hold {
                    let seated: Vec<Arc<str>> = self
                        .conferences
                        .iter()
                        .filter(|(_, c)| c.seats(id))
                        .map(|(k, _)| Arc::clone(k))
                        .collect();
                    touched.extend(seated.into_iter().map(Subject::Conference));
                }
            }
        }

        let queue = input
            .text("queue")
            .filter(|_| matches!(kind, "call.enqueued" | "call.dequeued"))
            .map(Arc::<str>::from);
        if let (Some(id), Some(name)) = (&call, queue) {
            let queue = self.queues.entry(Arc::clone(&name)).or_default();
            if queue.apply(id, input, at) {
                touched.push(Subject::Queue(name));
            }
        }

        let conference = conference
            .filter(|_| kind.starts_with("conference."))
            .filter(|id| !self.gone_conferences.contains_key(&digest(id)));
        if let Some(id) = conference {
            let record = self.conferences.entry(Arc::clone(&id)).or_default();
            if record.apply(call.as_ref(), input, at) {
                touched.push(Subject::Conference(id));
            }
        }

        if self.clock >= self.next_sweep {
            self.next_sweep = self.clock.saturating_add(SWEEP_EVERY);
            self.sweep(&mut touched);
        }
        touched
    }

    /// Drops what the retention, window and horizon no longer cover.
    fn sweep(&mut self, touched: &mut Vec<Subject>) {
        let now = self.clock;
        let retention = millis(self.settings.retention);
        let horizon = millis(self.settings.horizon);
        let window = millis(self.settings.window);
        let silent_since = now.saturating_sub(horizon);
        let ended_before = now.saturating_sub(retention);

        let mut gone_calls = Vec::new();
        self.calls.retain(|id, call| match call.ended_at() {
            Some(ended) if ended < ended_before => {
                gone_calls.push((digest(id), ended));
                false
            }
            _ => call.last_event >= silent_since,
        });
        self.gone_calls.extend(gone_calls);

        let mut gone_conferences = Vec::new();
        self.conferences
            .retain(|id, conference| match conference.ended_at() {
                Some(ended) if ended < ended_before => {
                    gone_conferences.push((digest(id), ended));
                    false
                }
                _ => conference.last_event >= silent_since,
            });
        self.gone_conferences.extend(gone_conferences);

        let left_before = now.saturating_sub(window);
        self.queues.retain(|name, queue| {
            if queue.sweep(left_before, silent_since) {
                touched.push(Subject::Queue(Arc::clone(name)));
            }
            !queue.is_empty()
        });

        self.gone_calls.retain(|_, ended| *ended >= silent_since);
        self.gone_conferences
            .retain(|_, ended| *ended >= silent_since);
    }

    /// Whether an ended subject's retention ran out by `now` (the local
    /// clock) or by event time, whichever is later.
    fn expired(&self, ended: Option<i64>, now: i64) -> bool {
        ended.is_some_and(|ended| {
            ended.saturating_add(millis(self.settings.retention)) < now.max(self.clock)
        })
    }

    fn stamp_state(&self, now: i64) -> (String, Option<prost_types::Timestamp>) {
        (
            self.cursor.map(|c| c.to_string()).unwrap_or_default(),
            Some(timestamp(now)),
        )
    }

    /// A queue's state; `now` (ms since the epoch) is when waits end. A
    /// queue never ends: one without events is empty.
    pub fn queue(&self, name: &str, now: i64) -> pb::QueueState {
        let numbers = |id: &str| {
            self.calls
                .get(id)
                .map(|call| (call.from(), call.to()))
                .unwrap_or_default()
        };
        let window = millis(self.settings.window);
        let mut state = match self.queues.get(name) {
            Some(queue) => queue.render(name, numbers, now, window),
            None => Queue::default().render(name, numbers, now, window),
        };
        (state.cursor, state.observed_at) = self.stamp_state(now);
        state
    }

    /// What changed in a queue between two of its states.
    pub fn queue_changes(
        &self,
        name: &str,
        previous: &pb::QueueState,
        current: &pb::QueueState,
    ) -> pb::QueueChanges {
        let queue = self.queues.get(name);
        queue::changes(previous, current, |call| {
            queue.and_then(|q| q.reason(call)).map(str::to_owned)
        })
    }

    /// A conference's state, empty when it has no events yet.
    pub fn conference(&self, id: &str, now: i64) -> Result<pb::ConferenceState, Gone> {
        if self.gone_conferences.contains_key(&digest(id)) {
            return Err(Gone);
        }
        let held = |call: &str| self.calls.get(call).and_then(Call::on_hold);
        let mut state = match self.conferences.get(id) {
            Some(conference) if self.expired(conference.ended_at(), now) => return Err(Gone),
            Some(conference) => conference.render(id, held),
            None => Conference::default().render(id, held),
        };
        (state.cursor, state.observed_at) = self.stamp_state(now);
        Ok(state)
    }

    /// A call's state, empty when it has no events yet.
    pub fn call(&self, id: &str, now: i64) -> Result<pb::CallState, Gone> {
        if self.gone_calls.contains_key(&digest(id)) {
            return Err(Gone);
        }
        let mut state = match self.calls.get(id) {
            Some(call) if self.expired(call.ended_at(), now) => return Err(Gone),
            Some(call) => call.render(id),
            None => Call::default().render(id),
        };
        (state.cursor, state.observed_at) = self.stamp_state(now);
        Ok(state)
    }
}
