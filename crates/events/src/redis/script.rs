//! The one server-side script that accepts an event.
//!
//! Dedupe, history and feed change together or not at all: Redis runs a script
//! without interleaving other commands, so no replica can see the id taken
//! without the event stored, and a replica that dies mid-request leaves either
//! nothing or everything (the event stored, published and its id taken). A
//! retried webhook then finds the id and is answered as a duplicate.
//!
//! Keys: `KEYS[1]` the epoch, `KEYS[2]` the stream, `KEYS[3]` the event id's
//! dedupe key. Arguments: `ARGV[1]` an epoch to create if there is none (Redis
//! lost its data), `ARGV[2]` the dedupe window in seconds, `ARGV[3]` the
//! history length, `ARGV[4]` the channel, `ARGV[5]` the event record, `ARGV[6]`
//! `1` when the caller then waits for replicas (`WAIT`).
//!
//! Returns `{epoch, stream id}`, or `{epoch, ""}` for a duplicate.

use std::sync::LazyLock;

use redis::Script;
use redis::aio::ConnectionLike;

use super::Names;
use super::epoch;
use super::record;
use crate::cursor::{Cursor, Position};
use crate::model::Prepared;

const ACCEPT_LUA: &str = r"
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  redis.call('SET', KEYS[1], ARGV[1])
  epoch = ARGV[1]
end
if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[2]) then
  if ARGV[6] == '1' then
    -- A write of this connection's own after the original's, so that WAIT
    -- answers for the original too: a duplicate is acknowledged only once
    -- the event it duplicates is on the replicas.
    local ttl = redis.call('PTTL', KEYS[3])
    if ttl > 0 then
      redis.call('PEXPIRE', KEYS[3], ttl)
    end
  end
  return {epoch, ''}
end
local added = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'e', ARGV[5])
if type(added) == 'table' and added.err then
  -- Not stored, so the id must not count as seen: Telnyx's retry has to get in.
  redis.call('DEL', KEYS[3])
  return added
end
redis.call('PUBLISH', ARGV[4], epoch .. '\n' .. added .. '\n' .. ARGV[5])
return {epoch, added}
";

/// Loaded once per connection (EVALSHA, falling back to EVAL on NOSCRIPT).
static ACCEPT: LazyLock<Script> = LazyLock::new(|| Script::new(ACCEPT_LUA));

/// What the script did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    New(Cursor),
    Duplicate,
}

/// A reply the script never gives.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("unexpected reply from the accept script: {0:?}")]
    Reply(Vec<String>),
}

/// Runs the script for one event.
pub async fn accept<C: ConnectionLike + Send>(
    conn: &mut C,
    names: &Names,
    history: u64,
    dedupe_window_secs: u64,
    waits_for_replicas: bool,
    event: &Prepared,
) -> Result<Accepted, ScriptError> {
    let reply: Vec<String> = ACCEPT
        .key(&names.epoch)
        .key(&names.stream)
        .key(names.seen(&event.id))
        .arg(epoch::candidate())
        .arg(dedupe_window_secs)
        .arg(history)
        .arg(&names.channel)
        .arg(record::encode(event))
        .arg(if waits_for_replicas { "1" } else { "0" })
        .invoke_async(conn)
        .await?;
    let parsed = match reply.as_slice() {
        [epoch, id] => epoch::parse(epoch).and_then(|epoch| {
            if id.is_empty() {
                Some(Accepted::Duplicate)
            } else {
                record::parse_id(id)
                    .map(|position: Position| Accepted::New(Cursor { epoch, position }))
            }
        }),
        _ => None,
    };
    parsed.ok_or(ScriptError::Reply(reply))
}
