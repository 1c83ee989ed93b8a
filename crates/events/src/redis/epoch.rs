//! The epoch: which history of events a cursor belongs to.
//!
//! It lives in Redis (`{prefix}:epoch`), so every replica of a deployment puts
//! the same one in its cursors and a cursor from one replica is valid on all.
//! It is created at random when missing: at the first start, and again after
//! Redis lost its data (restarted without persistence, flushed). Cursors of the
//! old history then no longer match and are refused with OUT_OF_RANGE, instead
//! of being read against a stream they do not belong to. It is also replaced
//! when a replica cannot prove the history whole after reconnecting (see
//! `whole`).

use std::sync::LazyLock;

use redis::Script;
use redis::aio::ConnectionLike;

const ENSURE_LUA: &str = r"
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  redis.call('SET', KEYS[1], ARGV[1])
  epoch = ARGV[1]
end
return epoch
";

static ENSURE: LazyLock<Script> = LazyLock::new(|| Script::new(ENSURE_LUA));

/// Replaces the epoch `ARGV[1]` by `ARGV[2]`, unless it already changed (a
/// flush, or another replica that judged the same loss first).
const REPLACE_LUA: &str = r"
local epoch = redis.call('GET', KEYS[1])
if epoch == ARGV[1] or not epoch then
  redis.call('SET', KEYS[1], ARGV[2])
  return ARGV[2]
end
return epoch
";

static REPLACE: LazyLock<Script> = LazyLock::new(|| Script::new(REPLACE_LUA));

/// A fresh random epoch, in the text form kept in Redis (hex, never zero).
pub fn candidate() -> String {
    format!("{:x}", fastrand::u64(1..))
}

/// Reads an epoch as kept in Redis.
pub fn parse(text: &str) -> Option<u64> {
    u64::from_str_radix(text, 16).ok()
}

/// Starts a new history: replaces the epoch `known` by a fresh one, unless
/// it changed already. Returns the epoch now in Redis.
pub async fn replace<C: ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
    known: u64,
) -> redis::RedisResult<u64> {
    let text: String = REPLACE
        .key(key)
        .arg(format!("{known:x}"))
        .arg(candidate())
        .invoke_async(conn)
        .await?;
    parse(&text).ok_or_else(|| {
        redis::RedisError::from((
            redis::ErrorKind::Client,
            "the epoch in Redis is not a hex number",
            text,
        ))
    })
}

/// The deployment's epoch, created if Redis has none.
pub async fn ensure<C: ConnectionLike + Send>(conn: &mut C, key: &str) -> redis::RedisResult<u64> {
    let text: String = ENSURE.key(key).arg(candidate()).invoke_async(conn).await?;
    parse(&text).ok_or_else(|| {
        redis::RedisError::from((
            redis::ErrorKind::Client,
            "the epoch in Redis is not a hex number",
            text,
        ))
    })
}
