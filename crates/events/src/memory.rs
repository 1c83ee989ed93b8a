//! The in-process bus, for one replica and for tests.
//!
//! One lock guards the dedupe set, the sequence counter and the history ring,
//! and the event is fed to the hub under it too, so the acceptance order, the
//! history order and the order subscribers see are one and the same. The work
//! under the lock is a hash lookup, a counter, a copy of the encoded event to
//! append its cursor, and two pushes: conversion happened before, fan-out
//! happens after, in the hub's dispatcher.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::time::Instant;

use super::bus::{BusError, EventBus, PAGE, Published, Replay, ReplayError};
use super::cursor::{Cursor, Position};
use super::hub::{FEED_CAPACITY, FeedError, Hub};
use super::model::{Event, Prepared};

/// How the memory bus is sized.
#[derive(Debug, Clone, Copy)]
pub struct MemoryBusSettings {
    /// A second event with the same id within this window is a duplicate.
    pub dedupe_window: Duration,
    /// At most this many ids are remembered: beyond it the oldest is
    /// forgotten before its window is over, so a burst of events cannot grow
    /// the set without bound (each id costs about 100 bytes).
    pub dedupe_max_ids: usize,
    /// How many accepted events are kept for resuming streams.
    pub history: usize,
    /// How many events a subscriber may have waiting before it is cut off.
    pub subscriber_queue: usize,
}

/// The memory bus. Its history and dedupe set live as long as the process:
/// a restart draws a new epoch, so cursors from before it are refused.
#[derive(Debug)]
pub struct MemoryBus {
    epoch: u64,
    settings: MemoryBusSettings,
    state: Mutex<State>,
    hub: Hub,
}

#[derive(Debug)]
struct State {
    /// The sequence number the next accepted event gets; the first is 1.
    next_seq: u64,
    /// The newest `settings.history` events, oldest first.
    history: VecDeque<Arc<Event>>,
    seen: Dedupe,
    /// When the newest event was accepted; `None` until one is.
    last_accepted: Option<SystemTime>,
}

/// Recently accepted ids, expiring in acceptance order, and never more than
/// `max` of them: the oldest goes first either way.
#[derive(Debug)]
struct Dedupe {
    ids: HashSet<Arc<str>>,
    order: VecDeque<(Instant, Arc<str>)>,
    max: usize,
}

impl Dedupe {
    fn new(max: usize) -> Self {
        Dedupe {
            ids: HashSet::new(),
            order: VecDeque::new(),
            max: max.max(1),
        }
    }

    fn expire(&mut self, now: Instant, window: Duration) {
        while let Some((accepted, _)) = self.order.front() {
            if now.duration_since(*accepted) < window {
                break;
            }
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        if let Some((_, id)) = self.order.pop_front() {
            self.ids.remove(&id);
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    fn insert(&mut self, id: &str, now: Instant) {
        while self.order.len() >= self.max {
            self.forget_oldest();
        }
        let id: Arc<str> = Arc::from(id);
        self.ids.insert(Arc::clone(&id));
        self.order.push_back((now, id));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.ids.len()
    }
}

impl MemoryBus {
    /// A new, empty bus with a fresh epoch. Needs a Tokio runtime (the hub's
    /// dispatcher is a task).
    pub fn new(settings: MemoryBusSettings) -> Self {
        MemoryBus {
            epoch: fastrand::u64(1..),
            settings,
            state: Mutex::new(State {
                next_seq: 1,
                history: VecDeque::with_capacity(settings.history.clamp(1, 65_536)),
                seen: Dedupe::new(settings.dedupe_max_ids),
                last_accepted: None,
            }),
            hub: Hub::start(settings.subscriber_queue),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn accept(&self, event: Prepared) -> Result<Published, BusError> {
        let now = Instant::now();
        let mut state = self.lock();
        state.seen.expire(now, self.settings.dedupe_window);
        if state.seen.contains(&event.id) {
            return Ok(Published::Duplicate);
        }
        let permit = self.hub.feed().try_reserve().map_err(|error| match error {
            FeedError::Full => BusError::Full(FEED_CAPACITY),
            FeedError::Stopped => BusError::Unavailable(error.to_string()),
        })?;
        let cursor = Cursor {
            epoch: self.epoch,
            position: Position::new(state.next_seq, 0),
        };
        state.next_seq += 1;
        state.seen.insert(&event.id, now);
        state.last_accepted = Some(SystemTime::now());
        let event = Arc::new(event.seal(cursor));
        if state.history.len() >= self.settings.history.max(1) {
            state.history.pop_front();
        }
        state.history.push_back(Arc::clone(&event));
        permit.send(event);
        Ok(Published::Accepted(cursor))
    }

    fn events_after(&self, text: &str) -> Result<Replay, ReplayError> {
        let cursor: Cursor = text.parse()?;
        if cursor.epoch != self.epoch {
            return Err(ReplayError::OtherEpoch(text.to_owned()));
        }
        let Position { major: seq, minor } = cursor.position;
        let state = self.lock();
        let newest = state.next_seq - 1;
        if minor != 0 || seq == 0 || seq > newest {
            return Err(ReplayError::Unknown(text.to_owned()));
        }
        let oldest = state
            .history
            .front()
            .map_or(state.next_seq, |event| event.cursor.position.major);
        // Servable while the event right after the cursor is still held.
        if seq + 1 < oldest {
            return Err(ReplayError::Expired(text.to_owned()));
        }
        let skip = usize::try_from(seq + 1 - oldest).unwrap_or(usize::MAX);
        Ok(Replay {
            after: cursor,
            events: state
                .history
                .iter()
                .skip(skip)
                .take(PAGE)
                .cloned()
                .collect(),
            more: state.history.len().saturating_sub(skip) > PAGE,
        })
    }
}

impl MemoryBus {
    fn retained(&self) -> Replay {
        let state = self.lock();
        Replay {
            after: Cursor {
                epoch: self.epoch,
                position: Position::new(0, 0),
            },
            events: state.history.iter().take(PAGE).cloned().collect(),
            more: state.history.len() > PAGE,
        }
    }
}

impl EventBus for MemoryBus {
    fn publish(&self, event: Prepared) -> BoxFuture<'_, Result<Published, BusError>> {
        futures::future::ready(self.accept(event)).boxed()
    }

    fn replay<'a>(&'a self, cursor: &'a str) -> BoxFuture<'a, Result<Replay, ReplayError>> {
        futures::future::ready(self.events_after(cursor)).boxed()
    }

    fn history(&self) -> BoxFuture<'_, Result<Replay, ReplayError>> {
        futures::future::ready(Ok(self.retained())).boxed()
    }

    fn hub(&self) -> &Hub {
        &self.hub
    }

    fn last_accepted(&self) -> BoxFuture<'_, Result<Option<SystemTime>, BusError>> {
        futures::future::ready(Ok(self.lock().last_accepted)).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dedupe_set_forgets_the_oldest_beyond_its_cap() {
        let window = Duration::from_secs(900);
        let now = Instant::now();
        let mut seen = Dedupe::new(3);
        for id in ["a", "b", "c", "d"] {
            seen.expire(now, window);
            seen.insert(id, now);
        }
        assert_eq!(seen.len(), 3, "never more than the cap");
        assert!(!seen.contains("a"), "the oldest went first");
        assert!(["b", "c", "d"].iter().all(|id| seen.contains(id)));
    }

    #[test]
    fn the_dedupe_set_still_expires_by_time() {
        let window = Duration::from_secs(10);
        let start = Instant::now();
        let mut seen = Dedupe::new(1_000);
        seen.insert("a", start);
        seen.insert("b", start + Duration::from_secs(5));
        seen.expire(start + Duration::from_secs(10), window);
        assert!(!seen.contains("a"));
        assert!(seen.contains("b"));
        assert_eq!(seen.len(), 1);
    }

    #[tokio::test]
    async fn a_bus_at_its_cap_accepts_an_id_again_once_forgotten() {
        let bus = MemoryBus::new(MemoryBusSettings {
            dedupe_window: Duration::from_secs(900),
            dedupe_max_ids: 2,
            history: 100,
            subscriber_queue: 16,
        });
        let event = |id: &str| Prepared {
            id: id.to_owned(),
            event_type: "call.hangup".to_owned(),
            keys: crate::model::Keys::default(),
            body: bytes::Bytes::new(),
        };
        for id in ["a", "b", "c"] {
            assert!(matches!(bus.accept(event(id)), Ok(Published::Accepted(_))));
        }
        assert_eq!(bus.accept(event("c")).unwrap(), Published::Duplicate);
        assert!(
            matches!(bus.accept(event("a")), Ok(Published::Accepted(_))),
            "`a` was forgotten to keep the set within its cap"
        );
        assert_eq!(bus.lock().seen.len(), 2);
    }

    #[tokio::test]
    async fn the_last_accepted_time_is_kept_from_the_first_event_on() {
        let bus = MemoryBus::new(MemoryBusSettings {
            dedupe_window: Duration::from_secs(900),
            dedupe_max_ids: 10,
            history: 10,
            subscriber_queue: 16,
        });
        assert_eq!(bus.last_accepted().await.unwrap(), None, "a fresh bus");
        let before = SystemTime::now();
        bus.accept(Prepared {
            id: "a".to_owned(),
            event_type: "call.hangup".to_owned(),
            keys: crate::model::Keys::default(),
            body: bytes::Bytes::new(),
        })
        .unwrap();
        let at = bus.last_accepted().await.unwrap().expect("one accepted");
        assert!(at >= before && at <= SystemTime::now());
        assert!(
            bus.lease("recovery", "me", Duration::from_secs(1))
                .await
                .unwrap()
        );
    }
}
