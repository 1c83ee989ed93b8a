//! One call's state machine, from the `call.*` events (and the queue and
//! conference events that name it).
//!
//! Status is a register ranked by life step (initiated, answered, bridged,
//! hung up), and a call that hung up is ended whatever arrives after. Facts
//! that never change for a call (its numbers, its leg and session ids,
//! direction) keep the value of the earliest event that carried them.

use std::sync::Arc;

use api::v1 as pb;

use crate::input::{Input, timestamp};
use crate::media::{self, Media};
use crate::stamp::{self, Lww};

/// A fact that does not change over a call's life: the earliest event's
/// value, so any order of events gives the same one.
#[derive(Debug, Clone, Default)]
struct Fixed(Option<(i64, Box<str>)>);

impl Fixed {
    fn offer(&mut self, at: i64, value: Option<&str>) -> bool {
        let Some(value) = value else { return false };
        match &self.0 {
            Some((held_at, held)) if (*held_at, held.as_ref()) <= (at, value) => false,
            _ => {
                let changed = self
                    .0
                    .as_ref()
                    .is_none_or(|(_, held)| held.as_ref() != value);
                self.0 = Some((at, value.into()));
                changed
            }
        }
    }

    fn get(&self) -> String {
        self.0
            .as_ref()
            .map(|(_, value)| value.to_string())
            .unwrap_or_default()
    }
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hangup {
    cause: Box<str>,
    source: Box<str>,
    sip_cause: Box<str>,
}

/// Everything the fold keeps about one call.
#[derive(Debug, Clone, Default)]
pub struct Call {
    status: Option<Lww<pb::CallStatus>>,
    direction: Fixed,
    from: Fixed,
    to: Fixed,
    leg: Fixed,
    session: Fixed,
    initiated_at: Option<i64>,
    answered_at: Option<i64>,
    ended_at: Option<i64>,
    hangup: Option<Lww<Hangup>>,
    hold: Option<Lww<bool>>,
    /// The queue it waits in (`None`: it left one).
    queue: Option<Lww<Option<Arc<str>>>>,
    /// The conference it is in (`None`: it left one).
    conference: Option<Lww<Option<Arc<str>>>>,
    media: Media,
    client_state: Option<Lww<Box<str>>>,
    /// The newest `occurred_at` of its events: a call silent for longer than
    /// the horizon is forgotten.
    pub last_event: i64,
}

/// What an event did to a call, for the fold to pass on.
#[derive(Debug, Default, Clone, Copy)]
pub struct CallChange {
    /// Anything of the call's state.
    pub any: bool,
    /// Its numbers, which queue states show.
    pub numbers: bool,
    /// Its hold, which its conference's state shows.
    pub hold: bool,
}

impl Call {
    /// Applies an event about this call.
    pub fn apply(&mut self, input: &Input, at: i64) -> CallChange {
        let mut change = CallChange::default();
        self.last_event = self.last_event.max(at);
        let status = match input.event_type.as_str() {
            "call.initiated" => Some(if input.text("direction") == Some("incoming") {
                (pb::CallStatus::Ringing, 0)
            } else {
                (pb::CallStatus::Initiated, 0)
            }),
            "call.answered" => Some((pb::CallStatus::Answered, 1)),
            "call.bridged" => Some((pb::CallStatus::Bridged, 2)),
            "call.hangup" => Some((pb::CallStatus::Ended, 3)),
            _ => None,
        };
        if let Some((status, rank)) = status {
            if let Some(stamp) = input.stamp(rank) {
                change.any |= stamp::set(&mut self.status, stamp, status);
            }
            let first = match status {
                pb::CallStatus::Initiated | pb::CallStatus::Ringing => Some(&mut self.initiated_at),
                pb::CallStatus::Answered => Some(&mut self.answered_at),
                pb::CallStatus::Ended => Some(&mut self.ended_at),
                _ => None,
            };
            if let Some(first) = first {
                change.any |= stamp::earliest(first, at);
            }
        }
        // Numbers from the events about the leg itself; `call.bridged`
        // may describe the other side.
        if matches!(
            input.event_type.as_str(),
            "call.initiated" | "call.answered" | "call.hangup"
        ) {
            change.numbers |= self.from.offer(at, input.text("from"));
            change.numbers |= self.to.offer(at, input.text("to"));
            change.any |= self.direction.offer(at, input.text("direction"));
        }
        change.any |= change.numbers;
        change.any |= self.leg.offer(at, input.text("call_leg_id"));
        change.any |= self.session.offer(at, input.text("call_session_id"));
        match input.event_type.as_str() {
            "call.hangup" => {
                let hangup = Hangup {
                    cause: input.text("hangup_cause").unwrap_or_default().into(),
                    source: input.text("hangup_source").unwrap_or_default().into(),
                    sip_cause: input.text("sip_hangup_cause").unwrap_or_default().into(),
                };
                if let Some(stamp) = input.stamp(0) {
                    change.any |= stamp::set(&mut self.hangup, stamp, hangup);
                }
            }
            "call.hold" | "call.unhold" => {
                let held = input.event_type == "call.hold";
                if let Some(stamp) = input.stamp(u8::from(!held)) {
                    change.hold |= stamp::set(&mut self.hold, stamp, held);
                }
            }
            "call.enqueued" | "call.dequeued" => {
                let entered = input.event_type == "call.enqueued";
                let queue = entered
                    .then(|| input.text("queue").map(Arc::from))
                    .flatten();
                if let Some(stamp) = input.stamp(u8::from(!entered)) {
                    change.any |= stamp::set(&mut self.queue, stamp, queue);
                }
            }
            "conference.participant.joined" | "conference.participant.left" => {
                let joined = input.event_type == "conference.participant.joined";
                let conference = joined
                    .then(|| input.text("conference_id").map(Arc::from))
                    .flatten();
                if let Some(stamp) = input.stamp(u8::from(!joined)) {
                    change.any |= stamp::set(&mut self.conference, stamp, conference);
                }
            }
            kind if kind.starts_with("call.") || !kind.starts_with("conference.") => {
                if let Some(step) = media::step(kind) {
                    change.any |= self.media.apply(step, input);
                }
            }
            _ => {}
        }
        if let (Some(client_state), Some(stamp)) = (input.text("client_state"), input.stamp(0)) {
            change.any |= stamp::set(&mut self.client_state, stamp, client_state.into());
        }
        change.any |= change.hold;
        change
    }

    /// When it hung up, if it did.
    pub fn ended_at(&self) -> Option<i64> {
        self.ended_at
    }

    /// Whether it is on hold, when a hold event was seen.
    pub fn on_hold(&self) -> Option<bool> {
        self.hold.as_ref().map(|register| *register.get())
    }

    /// The queue it waits in.
    pub fn queue(&self) -> Option<&Arc<str>> {
        self.queue
            .as_ref()
            .and_then(|register| register.get().as_ref())
    }

    pub fn from(&self) -> String {
        self.from.get()
    }

    pub fn to(&self) -> String {
        self.to.get()
    }

    /// The call's state as the API shows it.
    pub fn render(&self, id: &str) -> pb::CallState {
        let status = if self.ended_at.is_some() {
            pb::CallStatus::Ended
        } else {
            self.status
                .as_ref()
                .map_or(pb::CallStatus::Unspecified, |register| *register.get())
        };
        let ended = status == pb::CallStatus::Ended;
        pb::CallState {
            call_control_id: id.to_owned(),
            status: status as i32,
            direction: self.direction.get(),
            from: self.from.get(),
            to: self.to.get(),
            call_leg_id: self.leg.get(),
            call_session_id: self.session.get(),
            initiated_at: self.initiated_at.map(timestamp),
            answered_at: self.answered_at.map(timestamp),
            ended_at: self.ended_at.map(timestamp),
            on_hold: !ended && self.on_hold().unwrap_or(false),
            queue_name: self.queue().map(|q| q.to_string()).unwrap_or_default(),
            conference_id: self
                .conference
                .as_ref()
                .and_then(|register| register.get().as_ref())
                .map(|c| c.to_string())
                .unwrap_or_default(),
            hangup: self.hangup.as_ref().map(|register| {
                let hangup = register.get();
                pb::Hangup {
                    cause: hangup.cause.to_string(),
                    source: hangup.source.to_string(),
                    sip_cause: hangup.sip_cause.to_string(),
                }
            }),
            media: if ended {
                Vec::new()
            } else {
                self.media.active()
            },
            client_state: self
                .client_state
                .as_ref()
                .map(|register| register.get().to_string())
                .unwrap_or_default(),
            ..Default::default()
        }
    }
}
