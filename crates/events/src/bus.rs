//! The event bus: what every implementation (memory now, Redis for several
//! replicas) promises, so the webhook, the gRPC service and one conformance
//! suite (`tests/bus_conformance.rs`) are written once against it.
//!
//! A bus does three things, and only these:
//!
//! 1. Accept an event at most once per id within the dedupe window
//!    ([`EventBus::publish`]), giving it the next [`Position`](super::cursor::Position) of the bus's
//!    single order and a [`Cursor`] naming it.
//! 2. Keep a bounded history of accepted events and hand back, for a cursor,
//!    the retained events after it, a page at a time ([`EventBus::replay`]).
//! 3. Feed every accepted event, in order, to its [`Hub`] ([`EventBus::hub`]),
//!    which fans out to subscribers. An event must be in the history before the
//!    hub sees it: a subscriber registers with the hub first and replays second,
//!    so whatever it misses live it finds in the replay (see [`super::stream`]).
//!
//! Beside these, a bus tells recovery (in the gateway) when it last accepted
//! an event and whether it just became ready again, and lends it a lease so
//! that one replica of a deployment recovers for all.
//!
//! For Redis that is one script per event (SET NX with expiry for the dedupe,
//! XADD MAXLEN ~ for the history, PUBLISH for the feed), the stream id as the
//! position, and an epoch kept in Redis in every cursor.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;

use super::cursor::{Cursor, MalformedCursor};
use super::hub::Hub;
use super::model::{Event, Prepared};

/// What became of a published event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// New: it is in the history and on its way to subscribers.
    Accepted(Cursor),
    /// Its id was accepted within the dedupe window; nothing was done.
    Duplicate,
}

/// The bus could not take the event; Telnyx should deliver it again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    #[error("the event bus is full: {0} accepted events are waiting for delivery")]
    Full(usize),
    #[error("the event bus is unavailable: {0}")]
    Unavailable(String),
}

/// How many events one read of the history hands back at most. A reader of
/// a long history reads page after page, so what it holds at once is bounded
/// by the page, not by the history.
pub const PAGE: usize = 1000;

/// One page of the events after a cursor.
#[derive(Debug)]
pub struct Replay {
    /// The cursor replayed from.
    pub after: Cursor,
    /// The retained events after it, oldest first: at most [`PAGE`].
    pub events: Vec<Arc<Event>>,
    /// Whether more events may follow the page: read on with
    /// [`EventBus::replay`] from the cursor of the page's last event. When
    /// `false` the page reaches the newest event accepted when it was read.
    pub more: bool,
}

impl Replay {
    /// Where the next page starts, when there is one.
    pub fn next_page(&self) -> Option<Cursor> {
        if self.more {
            self.events.last().map(|event| event.cursor)
        } else {
            None
        }
    }

    /// The position of the newest event the page holds, or the one it was
    /// replayed from.
    pub fn up_to(&self) -> super::cursor::Position {
        self.events
            .last()
            .map_or(self.after.position, |event| event.cursor.position)
    }
}

/// Why a cursor cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Malformed(#[from] MalformedCursor),
    #[error(
        "cursor {0} is from another history of events (the gateway restarted or its store was reset)"
    )]
    OtherEpoch(String),
    #[error("cursor {0} is older than the events the gateway still holds")]
    Expired(String),
    #[error("cursor {0} names no event the gateway accepted")]
    Unknown(String),
    #[error("the event history is unavailable: {0}")]
    Unavailable(String),
}

/// The bus the gateway publishes to and subscribes from. Object-safe, so the
/// implementation is chosen at start from the settings.
pub trait EventBus: Send + Sync + std::fmt::Debug + 'static {
    /// Accepts `event` unless its id was accepted within the dedupe window.
    /// Resolves once the event is in the history and queued for the hub, so
    /// the webhook may then acknowledge it; on error nothing was recorded, not
    /// even the id, so a redelivery can succeed.
    fn publish(&self, event: Prepared) -> BoxFuture<'_, Result<Published, BusError>>;

    /// The first page of the retained events after `cursor` (text as given
    /// by a caller).
    fn replay<'a>(&'a self, cursor: &'a str) -> BoxFuture<'a, Result<Replay, ReplayError>>;

    /// The first page of every retained event, oldest first, for a reader
    /// that folds the whole history (the call-center state) rather than
    /// resuming from a cursor; it reads on with [`EventBus::replay`].
    /// `Replay::after` names the history's epoch at position `0-0`, before
    /// any event. Used like [`EventBus::replay`]: register with the hub first.
    fn history(&self) -> BoxFuture<'_, Result<Replay, ReplayError>>;

    /// The fan-out this bus feeds.
    fn hub(&self) -> &Hub;

    /// Whether the bus can take events now: the gateway reports not ready
    /// while it cannot, so traffic goes to replicas that can. A bus that
    /// lives in the process always can.
    fn is_ready(&self) -> bool {
        true
    }

    /// Why the gateway should not receive traffic because of its bus, in
    /// one line, or `None` when it may: [`EventBus::is_ready`], or a store
    /// that is reachable but cannot keep the bus's promise (a Redis that may
    /// evict its keys).
    fn unready_reason(&self) -> Option<String> {
        (!self.is_ready()).then(|| "event bus unreachable".to_owned())
    }

    /// Whether accepted events outlive this process: kept in a store that
    /// other replicas, and this one after a restart, read. A bus that lives in
    /// the process is not, so once its streams are closing for shutdown an
    /// event it accepted would reach no one: the webhook then refuses it and
    /// Telnyx delivers it again, to another replica or after the restart.
    fn is_shared(&self) -> bool {
        false
    }

    /// How many times the bus has become ready since it was set up: it
    /// changes after every outage, however short, so a watcher that looks
    /// now and then cannot miss one. A bus that is always ready says 1.
    fn ready_sessions(&self) -> u64 {
        1
    }

    /// When the newest event in the history was accepted, by any replica;
    /// `None` when the bus holds none (a fresh in-process bus, an empty
    /// Redis). Recovery asks Telnyx for what failed since then.
    fn last_accepted(&self) -> BoxFuture<'_, Result<Option<SystemTime>, BusError>>;

    /// Takes the lease `name` for `holder`, or renews it if `holder` has it,
    /// for `ttl`; `false` when another holder has it. Work that one replica of
    /// a deployment should do for all (recovery) runs under a lease. A bus of
    /// one replica has no one to share with: the lease is always its own.
    fn lease<'a>(
        &'a self,
        name: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, BusError>> {
        let _ = (name, holder, ttl);
        Box::pin(futures::future::ready(Ok(true)))
    }

    /// Gives up the lease `name` if `holder` has it.
    fn release<'a>(
        &'a self,
        name: &'a str,
        holder: &'a str,
    ) -> BoxFuture<'a, Result<(), BusError>> {
        let _ = (name, holder);
        Box::pin(futures::future::ready(Ok(())))
    }

    /// Records that the work under lease `name` is done for everything up to
    /// `through`, so replicas that waited for the holder need not do it
    /// again. It only ever moves forward. A bus of one replica has no one to
    /// tell.
    fn mark_done<'a>(
        &'a self,
        name: &'a str,
        through: SystemTime,
    ) -> BoxFuture<'a, Result<(), BusError>> {
        let _ = (name, through);
        Box::pin(futures::future::ready(Ok(())))
    }

    /// How far the work under lease `name` was last done ([`EventBus::mark_done`]).
    fn done_through<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<SystemTime>, BusError>> {
        let _ = name;
        Box::pin(futures::future::ready(Ok(None)))
    }
}
