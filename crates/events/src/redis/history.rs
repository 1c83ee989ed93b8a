//! Reading the stream: what a resuming subscriber replays and what a replica
//! catches up on after its subscription dropped.
//!
//! The stream is read in pages, so one resume of a long history never asks
//! Redis for everything in one reply. Each read of a replay runs in one
//! MULTI with a GET of the epoch, so events are never read against a cursor of
//! another history.

use redis::aio::ConnectionManager;
use redis::streams::{StreamId, StreamRangeReply};

use super::record::{self, FIELD};
use super::{Names, epoch};
use crate::bus::ReplayError;
use crate::cursor::{Cursor, Position};
use crate::model::Prepared;

/// Stream entries read per round trip.
const PAGE: usize = 1000;

/// Events read from the stream, oldest first.
pub struct Page {
    pub events: Vec<(Position, Prepared)>,
    /// Whether the page was full, so more may follow.
    pub full: bool,
}

fn entries(reply: StreamRangeReply) -> Vec<(Position, Prepared)> {
    reply.ids.into_iter().filter_map(entry).collect()
}

fn entry(entry: StreamId) -> Option<(Position, Prepared)> {
    let position = record::parse_id(&entry.id)?;
    let bytes = match entry.map.get(FIELD)? {
        redis::Value::BulkString(bytes) => bytes,
        _ => return None,
    };
    match record::decode(bytes) {
        Ok(event) => Some((position, event)),
        Err(error) => {
            tracing::error!(%error, id = %entry.id, "skipping a malformed entry of the event stream");
            None
        }
    }
}

/// Up to one page of events after `after`.
pub async fn page_after(
    conn: &mut ConnectionManager,
    names: &Names,
    after: Position,
) -> redis::RedisResult<Page> {
    let start = format!("({}", record::format_id(after));
    let reply: StreamRangeReply = redis::cmd("XRANGE")
        .arg(&names.stream)
        .arg(start)
        .arg("+")
        .arg("COUNT")
        .arg(PAGE)
        .query_async(conn)
        .await?;
    let full = reply.ids.len() >= PAGE;
    Ok(Page {
        events: entries(reply),
        full,
    })
}

/// The newest stream id, or `0-0` for an empty stream.
pub async fn newest(conn: &mut ConnectionManager, names: &Names) -> redis::RedisResult<Position> {
    let reply: StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(&names.stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    Ok(reply
        .ids
        .first()
        .and_then(|entry| record::parse_id(&entry.id))
        .unwrap_or(Position::new(0, 0)))
}

fn unavailable(error: redis::RedisError) -> ReplayError {
    ReplayError::Unavailable(error.to_string())
}

/// Every retained event after the cursor `text`, for a resuming subscriber.
///
/// The cursor's own entry must still be in the stream: trimming removes the
/// oldest entries first, so if it is there, everything after it is too. If it
/// is gone and older than the oldest entry, the events after it may be gone
/// with it (Expired); otherwise it never was an event of this history (Unknown).
pub async fn replay(
    conn: &mut ConnectionManager,
    names: &Names,
    text: &str,
) -> Result<(Cursor, Vec<(Position, Prepared)>), ReplayError> {
    let cursor: Cursor = text.parse()?;
    let (current, from_cursor, oldest, newest): (
        Option<String>,
        StreamRangeReply,
        StreamRangeReply,
        StreamRangeReply,
    ) = redis::pipe()
        .atomic()
        .get(&names.epoch)
        .cmd("XRANGE")
        .arg(&names.stream)
        .arg(record::format_id(cursor.position))
        .arg("+")
        .arg("COUNT")
        .arg(PAGE + 1)
        .cmd("XRANGE")
        .arg(&names.stream)
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .cmd("XREVRANGE")
        .arg(&names.stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await
        .map_err(unavailable)?;
    if current.as_deref().and_then(epoch::parse) != Some(cursor.epoch) {
        return Err(ReplayError::OtherEpoch(text.to_owned()));
    }
    let first_id = |reply: &StreamRangeReply| {
        reply
            .ids
            .first()
            .and_then(|entry| record::parse_id(&entry.id))
    };
    if first_id(&from_cursor) != Some(cursor.position) {
        let expired = first_id(&oldest).is_some_and(|oldest| cursor.position < oldest)
            && first_id(&newest).is_some_and(|newest| cursor.position < newest);
        return Err(if expired {
            ReplayError::Expired(text.to_owned())
        } else {
            ReplayError::Unknown(text.to_owned())
        });
    }
    let full = from_cursor.ids.len() > PAGE;
    let mut events: Vec<_> = entries(from_cursor).into_iter().skip(1).collect();
    let mut more = full;
    while more {
        let after = events
            .last()
            .map_or(cursor.position, |(position, _)| *position);
        let page = page_after(conn, names, after).await.map_err(unavailable)?;
        // Read after the page: an unchanged epoch means the page is of the
        // cursor's history.
        let current: Option<String> = redis::cmd("GET")
            .arg(&names.epoch)
            .query_async(conn)
            .await
            .map_err(unavailable)?;
        if current.as_deref().and_then(epoch::parse) != Some(cursor.epoch) {
            return Err(ReplayError::OtherEpoch(text.to_owned()));
        }
        more = page.full;
        events.extend(page.events);
    }
    Ok((cursor, events))
}

/// The epoch and every event of the stream, read page by page; refused as
/// `OtherEpoch` when the epoch changed while it was read.
pub async fn all(
    conn: &mut ConnectionManager,
    names: &Names,
) -> Result<(u64, Vec<(Position, Prepared)>), ReplayError> {
    let epoch = epoch::ensure(conn, &names.epoch)
        .await
        .map_err(unavailable)?;
    let mut events: Vec<(Position, Prepared)> = Vec::new();
    loop {
        let after = events
            .last()
            .map_or(Position::new(0, 0), |(position, _)| *position);
        let page = page_after(conn, names, after).await.map_err(unavailable)?;
        events.extend(page.events);
        if !page.full {
            break;
        }
    }
    let current: Option<String> = redis::cmd("GET")
        .arg(&names.epoch)
        .query_async(conn)
        .await
        .map_err(unavailable)?;
    if current.as_deref().and_then(epoch::parse) != Some(epoch) {
        return Err(ReplayError::OtherEpoch(format!("{epoch:x}")));
    }
    Ok((epoch, events))
}
