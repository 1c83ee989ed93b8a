//! One subscriber's stream: an optional replay from a cursor, then live events,
//! with no gap and no repeat at the seam.
//!
//! The order of the two steps is what makes the seam exact, for any bus that
//! puts an event in its history before feeding it to the hub: the subscriber
//! registers with the hub first, so every event fed from then on is queued for
//! it, and replays the history second, so every event fed before is in the
//! replay (unless it already left the history, which the replay reports). The
//! events in both are recognised by position and skipped the second time.

use std::sync::Arc;

use super::bus::{EventBus, Replay, ReplayError};
use super::cursor::{Cursor, Position};
use super::filter::Filter;
use super::hub::{Lost, Subscription};
use super::model::Event;

/// Why a stream ended after it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub why: Lost,
    /// The cursor of the last event the stream returned (or the one it
    /// resumed from): resuming from it continues exactly where it stopped.
    pub last: Option<Cursor>,
}

/// The events of one subscriber, oldest first.
#[derive(Debug)]
pub struct EventStream {
    bus: Arc<dyn EventBus>,
    live: Subscription,
    /// The replayed page's events not yet looked at, newest last.
    backlog: std::vec::IntoIter<Arc<Event>>,
    /// Where the replay's next page starts, while more may follow.
    next_page: Option<Cursor>,
    /// Live events at or before this position were in the replay.
    replayed_up_to: Option<Position>,
    last: Option<Cursor>,
}

/// Opens a stream on `bus`: live from now, or resumed after `resume_after`.
///
/// A resume reads the history a page at a time ([`super::bus::PAGE`]),
/// each page when the previous one is used up, and keeps only the events the
/// filter wants: what one stream holds is one page, however far back it
/// resumes.
pub async fn open(
    bus: &Arc<dyn EventBus>,
    filter: Filter,
    resume_after: Option<&str>,
) -> Result<EventStream, ReplayError> {
    let live = bus.hub().subscribe(filter);
    let mut stream = EventStream {
        bus: Arc::clone(bus),
        live,
        backlog: Vec::new().into_iter(),
        next_page: None,
        replayed_up_to: None,
        last: None,
    };
    if let Some(cursor) = resume_after {
        let replay = bus.replay(cursor).await?;
        stream.last = Some(replay.after);
        stream.take(replay);
    }
    Ok(stream)
}

impl EventStream {
    fn take(&mut self, page: Replay) {
        self.replayed_up_to = Some(page.up_to());
        self.next_page = page.next_page();
        self.backlog = page.events.into_iter();
    }

    /// The next event the subscriber wants, or why there will be none.
    pub async fn next(&mut self) -> Result<Arc<Event>, Ended> {
        loop {
            for event in self.backlog.by_ref() {
                if self.live.filter().matches(&event) {
                    self.last = Some(event.cursor);
                    return Ok(event);
                }
            }
            let Some(from) = self.next_page else { break };
            match self.bus.replay(&from.to_string()).await {
                Ok(page) => self.take(page),
                Err(error) => {
                    // Unavailable, or trimmed away while it was read: the
                    // subscriber resumes from its last cursor, which then
                    // says which (or carries on where this stopped).
                    tracing::warn!(%error, "a resuming stream cannot read its next page of the history");
                    self.next_page = None;
                    return Err(Ended {
                        why: Lost::Stopped,
                        last: self.last,
                    });
                }
            }
        }
        loop {
            let event = self.live.recv().await.map_err(|why| Ended {
                why,
                last: self.last,
            })?;
            if self
                .replayed_up_to
                .is_some_and(|seen| event.cursor.position <= seen)
            {
                continue;
            }
            self.last = Some(event.cursor);
            return Ok(event);
        }
    }

    /// The cursor of the last event returned, or the one resumed from.
    pub fn last_cursor(&self) -> Option<Cursor> {
        self.last
    }
}
