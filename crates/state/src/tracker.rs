//! Keeps one replica's fold in step with its event bus.
//!
//! The tracker subscribes to the bus's hub first and reads the history
//! second, like a resuming subscriber (see `events::stream`), so it misses
//! nothing between the two and folds each event once, in stream order:
//!
//! - at start it folds the whole retained history (`EventBus::history`, then
//!   page after page) into a fresh fold before it reports ready;
//! - afterwards it folds live events as the hub delivers them;
//! - when its hub queue overflowed, or the bus lost Redis and got it back, it
//!   catches up from its own cursor (`EventBus::replay`); when that cursor
//!   can no longer be served (another history after a Redis flush, or
//!   trimmed away) it rebuilds from the whole history. After a lost
//!   connection or a new history it is not ready until it has caught up;
//!   after an overflow it keeps answering from the state it has, a
//!   consistent prefix of the stream.
//!
//! While not ready, reads are refused ([`NotReady`]) rather than answered
//! from a state that may be behind the stream.

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use events::bus::{EventBus, ReplayError};
use events::cursor::{Cursor, Position};
use events::filter::Filter;
use events::hub::Lost;
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::fold::{Fold, Settings, Subject};
use crate::input::Input;
use crate::watchers::{Watcher, Watchers};

/// How often the tracker looks at the bus's readiness.
const READINESS_POLL: Duration = Duration::from_millis(200);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Events folded per write lock while catching up, so reads interleave.
const CHUNK: usize = 256;

/// The state is being rebuilt from the event history; it will be ready soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the live state is being rebuilt from the event history; retry shortly")]
pub struct NotReady;

#[derive(Debug)]
struct Shared {
    fold: RwLock<Fold>,
    watchers: Arc<Watchers>,
    ready: watch::Sender<bool>,
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, Fold> {
        self.fold.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Folds events under one write lock, telling watchers as it goes.
    fn fold(&self, events: &[Arc<events::Event>]) {
        let mut fold = self.fold.write().unwrap_or_else(PoisonError::into_inner);
        for event in events {
            let touched = apply(&mut fold, event);
            self.watchers.changed(&touched);
        }
    }

    /// Replaces the fold, telling every watcher.
    fn replace(&self, fresh: Fold) {
        let mut fold = self.fold.write().unwrap_or_else(PoisonError::into_inner);
        *fold = fresh;
        self.watchers.all_changed();
    }

    fn set_ready(&self, ready: bool) {
        self.ready.send_if_modified(|current| {
            let changed = *current != ready;
            *current = ready;
            changed
        });
    }
}

/// Folds one accepted event; one that cannot be read still moves the cursor.
fn apply(fold: &mut Fold, event: &events::Event) -> Vec<Subject> {
    match Input::decode(event) {
        Ok(input) => fold.apply(&input),
        Err(error) => {
            tracing::error!(%error, "the live state skips an event it cannot read");
            fold.pass(event.cursor);
            Vec::new()
        }
    }
}

/// The live state of one replica. Clones share it; the feeding task stops
/// when the last clone goes.
#[derive(Debug, Clone)]
pub struct Tracker {
    shared: Arc<Shared>,
    _stop: Arc<DropGuard>,
}

impl Tracker {
    /// Starts folding `bus` in a task of its own. Not ready until the
    /// history is folded ([`Tracker::wait_ready`]).
    pub fn start(bus: Arc<dyn EventBus>, settings: Settings) -> Self {
        let shared = Arc::new(Shared {
            fold: RwLock::new(Fold::new(settings)),
            watchers: Arc::new(Watchers::default()),
            ready: watch::channel(false).0,
        });
        let stop = CancellationToken::new();
        tokio::spawn(feed(Arc::clone(&shared), bus, settings, stop.clone()));
        Tracker {
            shared,
            _stop: Arc::new(stop.drop_guard()),
        }
    }

    pub fn is_ready(&self) -> bool {
        *self.shared.ready.borrow()
    }

    /// Waits until the state is ready, at most `limit`; returns whether it is.
    pub async fn wait_ready(&self, limit: Duration) -> bool {
        let mut ready = self.shared.ready.subscribe();
        tokio::time::timeout(limit, ready.wait_for(|ready| *ready))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }

    /// Reads the fold, when it is ready.
    pub fn read<R>(&self, read: impl FnOnce(&Fold) -> R) -> Result<R, NotReady> {
        if !self.is_ready() {
            return Err(NotReady);
        }
        Ok(read(&self.shared.read()))
    }

    /// Starts watching a subject.
    pub fn watch(&self, subject: Subject) -> Watch {
        Watch {
            watcher: self.shared.watchers.watch(subject),
            last: None,
            tracker: self.clone(),
        }
    }

    /// How many subjects are watched now.
    pub fn watched(&self) -> usize {
        self.shared.watchers.len()
    }
}

/// A watch of one subject: the state now, then at every change.
#[derive(Debug)]
pub struct Watch {
    watcher: Watcher,
    /// The version last rendered.
    last: Option<u64>,
    tracker: Tracker,
}

impl Watch {
    /// Waits for a change since the last [`Watch::render`]; returns at once
    /// before the first. `false` when the state went away.
    pub async fn changed(&mut self) -> bool {
        if self.last.is_none() {
            return true;
        }
        self.watcher.changed().await
    }

    /// Renders the subject's current state, given how many states were
    /// skipped since the previous render, when the state is ready.
    pub fn render<R>(&mut self, render: impl FnOnce(&Fold, u64) -> R) -> Result<R, NotReady> {
        if !self.tracker.is_ready() {
            return Err(NotReady);
        }
        let fold = self.tracker.shared.read();
        let version = self.watcher.seen();
        let skipped = self
            .last
            .map_or(0, |last| version.saturating_sub(last).saturating_sub(1));
        self.last = Some(version);
        Ok(render(&fold, skipped))
    }

    /// Waits until the state is ready again, at most `limit`.
    pub async fn wait_ready(&self, limit: Duration) -> bool {
        self.tracker.wait_ready(limit).await
    }
}

/// Where the fold stands against the bus after catching up.
struct CaughtUp {
    epoch: u64,
    up_to: Position,
}

/// The feeding task.
async fn feed(
    shared: Arc<Shared>,
    bus: Arc<dyn EventBus>,
    settings: Settings,
    stop: CancellationToken,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let mut live = bus.hub().subscribe(Filter::default());
        let caught_up = tokio::select! {
            () = stop.cancelled() => return,
            caught_up = catch_up(&shared, bus.as_ref(), settings) => caught_up,
        };
        let CaughtUp { epoch, up_to } = match caught_up {
            Ok(caught_up) => caught_up,
            Err(error) => {
                shared.set_ready(false);
                tracing::warn!(%error, retry_in = ?backoff, "the live state cannot read the event history");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = MIN_BACKOFF;
        let mut bus_down = !bus.is_ready();
        shared.set_ready(!bus_down);
        let mut poll = tokio::time::interval(READINESS_POLL);
        // Whether the state may be answered from while catching up: after
        // an overflow it is a consistent prefix of the stream, as any state
        // read a moment earlier; after a lost connection or a new history it
        // may not be.
        let answerable = loop {
            tokio::select! {
                () = stop.cancelled() => return,
                next = live.recv() => match next {
                    Ok(event) if event.cursor.epoch != epoch => {
                        tracing::info!("the event history changed (Redis lost its data); rebuilding the live state");
                        break false;
                    }
                    Ok(event) if event.cursor.position <= up_to => {}
                    Ok(event) => shared.fold(std::slice::from_ref(&event)),
                    Err(Lost::Overflowed) => {
                        tracing::warn!("the live state fell behind the event stream; catching up from the history");
                        break true;
                    }
                    Err(Lost::Stopped) => return,
                },
                _ = poll.tick() => {
                    let up = bus.is_ready();
                    if !up && !bus_down {
                        shared.set_ready(false);
                        bus_down = true;
                    } else if up && bus_down {
                        // Reconnected: whatever the bus caught up on is in
                        // the history; fold it before answering again.
                        break false;
                    }
                }
            }
        };
        if !answerable {
            shared.set_ready(false);
        }
    }
}

/// Folds what the history holds beyond the fold's cursor, or rebuilds from
/// the whole history when that cursor cannot be served. Either way the
/// history is read a page at a time and each page folded before the next is
/// read, so catching up holds one page, not the history.
async fn catch_up(
    shared: &Shared,
    bus: &dyn EventBus,
    settings: Settings,
) -> Result<CaughtUp, ReplayError> {
    let started = Instant::now();
    let from: Option<Cursor> = shared.read().cursor();
    if let Some(cursor) = from {
        match bus.replay(&cursor.to_string()).await {
            Ok(mut page) => {
                let epoch = page.after.epoch;
                let mut folded = 0;
                loop {
                    for chunk in page.events.chunks(CHUNK) {
                        shared.fold(chunk);
                    }
                    folded += page.events.len();
                    let Some(next) = page.next_page() else { break };
                    page = bus.replay(&next.to_string()).await?;
                }
                tracing::info!(
                    events = folded,
                    elapsed = ?started.elapsed(),
                    "the live state caught up with the event history"
                );
                return Ok(CaughtUp {
                    epoch,
                    up_to: page.up_to(),
                });
            }
            Err(error @ ReplayError::Unavailable(_)) => return Err(error),
            Err(error) => {
                tracing::info!(%error, "the live state rebuilds from the whole event history");
            }
        }
    }
    let mut page = bus.history().await?;
    let epoch = page.after.epoch;
    let mut fresh = Fold::new(settings);
    let mut folded = 0;
    loop {
        for event in &page.events {
            apply(&mut fresh, event);
        }
        folded += page.events.len();
        let Some(next) = page.next_page() else { break };
        page = bus.replay(&next.to_string()).await?;
    }
    shared.replace(fresh);
    tracing::info!(
        events = folded,
        elapsed = ?started.elapsed(),
        "the live state was built from the event history"
    );
    Ok(CaughtUp {
        epoch,
        up_to: page.up_to(),
    })
}
