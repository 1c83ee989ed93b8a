//! Reading the stream: what a resuming subscriber replays and what a replica
//! catches up on after its subscription dropped.
//!
//! The stream is read in pages, so one resume of a long history never asks
//! Redis for everything in one reply. Each read of a replay runs in one
//! read-only script with a GET of the epoch, so events are never read against
//! a cursor of another history; nothing here needs Redis to have room to write.

use std::sync::LazyLock;

use redis::Script;
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

/// Reads a page of the stream together with the epoch and the stream's two
/// ends, in one server-side step so they describe one moment.
///
/// A script that only reads, not MULTI/EXEC: Redis refuses every MULTI with
/// OOM once it is over `maxmemory` under `noeviction`, even one that only
/// reads, while it runs a script until the script tries to write. So a full
/// Redis still serves resuming subscribers. (No `#!lua flags=no-writes`
/// line: Redis before 7 cannot parse it, and without it reads are allowed
/// over `maxmemory` all the same.)
const READ_LUA: &str = r"
local page = redis.call('XRANGE', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2])
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
return {redis.call('GET', KEYS[1]), page, oldest, newest}
";

static READ: LazyLock<Script> = LazyLock::new(|| Script::new(READ_LUA));

/// What one [`READ_LUA`] call saw.
struct Read {
    epoch: Option<u64>,
    page: StreamRangeReply,
    oldest: Option<Position>,
    newest: Option<Position>,
}

async fn read(
    conn: &mut ConnectionManager,
    names: &Names,
    start: &str,
    count: usize,
) -> redis::RedisResult<Read> {
    let (epoch, page, oldest, newest): (
        Option<String>,
        StreamRangeReply,
        StreamRangeReply,
        StreamRangeReply,
    ) = READ
        .key(&names.epoch)
        .key(&names.stream)
        .arg(start)
        .arg(count)
        .invoke_async(conn)
        .await?;
    let first_id = |reply: &StreamRangeReply| {
        reply
            .ids
            .first()
            .and_then(|entry| record::parse_id(&entry.id))
    };
    Ok(Read {
        epoch: epoch.as_deref().and_then(epoch::parse),
        oldest: first_id(&oldest),
        newest: first_id(&newest),
        page,
    })
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
    let first = read(conn, names, &record::format_id(cursor.position), PAGE + 1)
        .await
        .map_err(unavailable)?;
    if first.epoch != Some(cursor.epoch) {
        return Err(ReplayError::OtherEpoch(text.to_owned()));
    }
    let at_cursor = first
        .page
        .ids
        .first()
        .and_then(|entry| record::parse_id(&entry.id));
    if at_cursor != Some(cursor.position) {
        let expired = first.oldest.is_some_and(|oldest| cursor.position < oldest)
            && first.newest.is_some_and(|newest| cursor.position < newest);
        return Err(if expired {
            ReplayError::Expired(text.to_owned())
        } else {
            ReplayError::Unknown(text.to_owned())
        });
    }
    let mut more = first.page.ids.len() > PAGE;
    let mut events: Vec<_> = entries(first.page).into_iter().skip(1).collect();
    while more {
        let after = events
            .last()
            .map_or(cursor.position, |(position, _)| *position);
        let next = read(conn, names, &format!("({}", record::format_id(after)), PAGE)
            .await
            .map_err(unavailable)?;
        if next.epoch != Some(cursor.epoch) {
            return Err(ReplayError::OtherEpoch(text.to_owned()));
        }
        more = next.page.ids.len() >= PAGE;
        events.extend(entries(next.page));
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
