//! Leases: work that one replica of a deployment does for all of them.
//!
//! A lease is a key holding its holder's id with an expiry (SET NX PX). The
//! holder renews it while it works and deletes it when done; a holder that
//! dies simply lets it expire. Renewing and releasing compare the holder
//! first, in one script, so a replica whose lease expired while it stalled
//! never extends or deletes the lease another replica took since.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionLike;

const TAKE_LUA: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

const RELEASE_LUA: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

const MARK_LUA: &str = r"
local now = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > now then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 0
";

static MARK: LazyLock<Script> = LazyLock::new(|| Script::new(MARK_LUA));
static TAKE: LazyLock<Script> = LazyLock::new(|| Script::new(TAKE_LUA));
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(RELEASE_LUA));

/// Takes or renews the lease at `key` for `holder`; whether it is `holder`'s.
pub async fn take<C: ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
    holder: &str,
    ttl: Duration,
) -> redis::RedisResult<bool> {
    let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    let held: i64 = TAKE
        .key(key)
        .arg(holder)
        .arg(millis)
        .invoke_async(conn)
        .await?;
    Ok(held == 1)
}

/// Deletes the lease at `key` if `holder` has it.
pub async fn release<C: ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
    holder: &str,
) -> redis::RedisResult<()> {
    let _: i64 = RELEASE.key(key).arg(holder).invoke_async(conn).await?;
    Ok(())
}

/// Moves the mark at `key` forward to `millis` (never back).
pub async fn mark<C: ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
    millis: u64,
) -> redis::RedisResult<()> {
    let _: i64 = MARK.key(key).arg(millis).invoke_async(conn).await?;
    Ok(())
}

/// The mark at `key`, in milliseconds since the Unix epoch.
pub async fn marked<C: ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
) -> redis::RedisResult<Option<u64>> {
    redis::cmd("GET").arg(key).query_async(conn).await
}
