//! One queue: who waits, in which order, and who left recently and why.
//!
//! Each call has one membership register per queue, written by
//! `call.enqueued` (waiting) and `call.dequeued` (left, ranked above), so a
//! dequeue that arrives first is not undone by its enqueue, and a call
//! enqueued again later waits again. The line is ordered by when each call
//! entered (`occurred_at` of its `call.enqueued`), then by the position
//! Telnyx gave it on entry: positions are therefore right whatever order the
//! events came in. Departures are kept for the statistics window.

use std::collections::HashMap;
use std::sync::Arc;

use api::v1 as pb;

use crate::input::{Input, duration, timestamp};
use crate::stamp::Lww;

/// Whether a call waits in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    Waiting {
        /// `occurred_at` of `call.enqueued`.
        since: i64,
        /// `current_position` Telnyx reported on entry: orders calls that
        /// entered in the same millisecond.
        entry: u32,
    },
    Left {
        at: i64,
        /// Telnyx's `reason`.
        reason: Box<str>,
        /// Telnyx's `wait_time_secs`, in milliseconds.
        waited: Option<i64>,
    },
}

/// The state of one queue.
#[derive(Debug, Clone, Default)]
pub struct Queue {
    members: HashMap<Arc<str>, Lww<Membership>>,
}

/// A waiting call, in line order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct InLine<'a> {
    since: i64,
    entry: u32,
    id: &'a str,
}

impl Queue {
    /// Applies `call.enqueued` or `call.dequeued`; returns whether the
    /// queue changed.
    pub fn apply(&mut self, call: &Arc<str>, input: &Input, at: i64) -> bool {
        let (rank, membership) = match input.event_type.as_str() {
            "call.enqueued" => (
                0,
                Membership::Waiting {
                    since: at,
                    entry: input
                        .number("current_position")
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(0),
                },
            ),
            "call.dequeued" => (
                1,
                Membership::Left {
                    at,
                    reason: input.text("reason").unwrap_or_default().into(),
                    waited: input
                        .number("wait_time_secs")
                        .map(|secs| secs.saturating_mul(1000)),
                },
            ),
            _ => return false,
        };
        let Some(stamp) = input.stamp(rank) else {
            return false;
        };
        match self.members.get_mut(call) {
            Some(register) => register.set(stamp, membership),
            None => {
                self.members
                    .insert(Arc::clone(call), Lww::new(stamp, membership));
                true
            }
        }
    }

    /// The waiting calls, first in line first.
    fn line(&self) -> Vec<InLine<'_>> {
        let mut line: Vec<InLine<'_>> = self
            .members
            .iter()
            .filter_map(|(id, register)| match register.get() {
                Membership::Waiting { since, entry } => Some(InLine {
                    since: *since,
                    entry: *entry,
                    id,
                }),
                Membership::Left { .. } => None,
            })
            .collect();
        line.sort_unstable();
        line
    }

    /// Telnyx's reason for the call's last departure, while it is kept.
    pub fn reason(&self, call: &str) -> Option<&str> {
        match self.members.get(call)?.get() {
            Membership::Left { reason, .. } => Some(reason),
            Membership::Waiting { .. } => None,
        }
    }

    /// Drops departures older than `left_before` and calls waiting since
    /// before `waiting_before`. Returns whether anything went.
    pub fn sweep(&mut self, left_before: i64, waiting_before: i64) -> bool {
        let before = self.members.len();
        self.members.retain(|_, register| match register.get() {
            Membership::Waiting { since, .. } => *since >= waiting_before,
            Membership::Left { at, .. } => *at >= left_before,
        });
        self.members.len() != before
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// How many membership records it holds (waiting and recently left).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// The queue as the API shows it; `numbers` gives a call's from and to,
    /// `now` is the time waits are measured to.
    pub fn render(
        &self,
        name: &str,
        numbers: impl Fn(&str) -> (String, String),
        now: i64,
        window: i64,
    ) -> pb::QueueState {
        let line = self.line();
        let calls: Vec<pb::QueuedCall> = line
            .iter()
            .enumerate()
            .map(|(i, waiting)| {
                let (from, to) = numbers(waiting.id);
                pb::QueuedCall {
                    call_control_id: waiting.id.to_owned(),
                    from,
                    to,
                    position: i32::try_from(i + 1).unwrap_or(i32::MAX),
                    enqueued_at: Some(timestamp(waiting.since)),
                    wait: Some(duration(now - waiting.since)),
                }
            })
            .collect();
        let mut statistics = pb::QueueStatistics {
            waiting: u32::try_from(line.len()).unwrap_or(u32::MAX),
            longest_wait: Some(duration(line.first().map_or(0, |first| now - first.since))),
            window: Some(duration(window)),
            ..Default::default()
        };
        let (mut waited, mut timed) = (0i64, 0i64);
        for register in self.members.values() {
            let Membership::Left {
                reason,
                waited: wait,
                ..
            } = register.get()
            else {
                continue;
            };
            let counter = match reason.as_ref() {
                "bridged" | "bridging-in-process" => &mut statistics.answered,
                "hangup" => &mut statistics.abandoned,
                "timeout" => &mut statistics.timed_out,
                _ => &mut statistics.removed,
            };
            *counter += 1;
            if let Some(wait) = wait {
                waited = waited.saturating_add(*wait);
                timed += 1;
            }
        }
        statistics.average_wait = Some(duration(if timed == 0 { 0 } else { waited / timed }));
        pb::QueueState {
            queue_name: name.to_owned(),
            calls,
            statistics: Some(statistics),
            ..Default::default()
        }
    }
}

/// What differs between two states of one queue: who entered, who left (with
/// the reason `reason` knows), whose position moved.
pub fn changes(
    previous: &pb::QueueState,
    current: &pb::QueueState,
    reason: impl Fn(&str) -> Option<String>,
) -> pb::QueueChanges {
    let before: HashMap<&str, i32> = previous
        .calls
        .iter()
        .map(|c| (c.call_control_id.as_str(), c.position))
        .collect();
    let now: HashMap<&str, i32> = current
        .calls
        .iter()
        .map(|c| (c.call_control_id.as_str(), c.position))
        .collect();
    let mut changes = pb::QueueChanges::default();
    for call in &current.calls {
        match before.get(call.call_control_id.as_str()) {
            None => changes.entered.push(pb::QueueEntry {
                call_control_id: call.call_control_id.clone(),
                position: call.position,
            }),
            Some(&previous_position) if previous_position != call.position => {
                changes.moved.push(pb::QueueMove {
                    call_control_id: call.call_control_id.clone(),
                    previous_position,
                    position: call.position,
                });
            }
            Some(_) => {}
        }
    }
    for call in &previous.calls {
        if !now.contains_key(call.call_control_id.as_str()) {
            changes.left.push(pb::QueueExit {
                call_control_id: call.call_control_id.clone(),
                reason: reason(&call.call_control_id).unwrap_or_default(),
                last_position: call.position,
            });
        }
    }
    changes
}
