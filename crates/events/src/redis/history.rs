//! Reading the stream: what a resuming subscriber replays and what a replica
//! catches up on after its subscription dropped.
//!
//! The stream is read in pages, and a reader asks for the next page only
//! when it is done with the last, so what one resume holds is bounded by the
//! page, not by the history. Each read of a replay runs in one
//! read-only script with a GET of the epoch, so events are never read against
//! a cursor of another history; nothing here needs Redis to have room to write.

use std::sync::LazyLock;

use redis::Script;
use redis::aio::ConnectionLike;
use redis::streams::{StreamId, StreamRangeReply};

use super::record::{self, FIELD};
use super::{Names, epoch};
use crate::bus::{PAGE, ReplayError};
use crate::cursor::{Cursor, Position};
use crate::model::Prepared;

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
pub async fn page_after<C: ConnectionLike + Send>(
    conn: &mut C,
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
pub async fn newest<C: ConnectionLike + Send>(
    conn: &mut C,
    names: &Names,
) -> redis::RedisResult<Position> {
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

async fn read<C: ConnectionLike + Send>(
    conn: &mut C,
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

/// The first page of the retained events after the cursor `text`, for a
/// resuming subscriber, and whether more follow.
///
/// The cursor's own entry must still be in the stream: trimming removes the
/// oldest entries first, so if it is there, everything after it is too. If it
/// is gone and older than the oldest entry, the events after it may be gone
/// with it (Expired); otherwise it never was an event of this history (Unknown).
pub async fn replay<C: ConnectionLike + Send>(
    conn: &mut C,
    names: &Names,
    text: &str,
) -> Result<(Cursor, Vec<(Position, Prepared)>, bool), ReplayError> {
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
    let more = first.page.ids.len() > PAGE;
    let events = entries(first.page).into_iter().skip(1).collect();
    Ok((cursor, events, more))
}

/// The epoch and the first page of the stream, oldest first, and whether
/// more follow.
pub async fn first_page<C: ConnectionLike + Send>(
    conn: &mut C,
    names: &Names,
) -> Result<(u64, Vec<(Position, Prepared)>, bool), ReplayError> {
    let epoch = epoch::ensure(conn, &names.epoch)
        .await
        .map_err(unavailable)?;
    let first = read(conn, names, "-", PAGE).await.map_err(unavailable)?;
    if first.epoch != Some(epoch) {
        return Err(ReplayError::OtherEpoch(format!("{epoch:x}")));
    }
    let more = first.page.ids.len() >= PAGE;
    Ok((epoch, entries(first.page), more))
}
