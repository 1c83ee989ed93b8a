//! The limits kept in Redis, so every replica draws from the same buckets.
//!
//! Each check is one Lua script, atomic in Redis, timed by Redis's own clock
//! (`TIME`) so replicas with skewed clocks still agree. Keys expire once idle.

use std::time::Duration;

use redis::Script;
use std::sync::Arc;

use events::redis::Conn;
use futures::future::BoxFuture;
use redis::aio::ConnectionManagerConfig;

use crate::auth::policy::Rate;

/// Takes a token from the bucket at KEYS[1] (rate ARGV[1]/s, burst ARGV[2]).
/// Returns 0, or the milliseconds until a token is there.
const BUCKET: &str = r"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(v[1]) or burst
local at = tonumber(v[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
";

/// Admits one into the sliding window at KEYS[1] (ARGV[1] ms, at most ARGV[2]
/// admissions, ARGV[3] a unique member). Returns 0, or the milliseconds until
/// the oldest admission leaves the window.
const WINDOW: &str = r"
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window + 1 - now)
";

/// Records the account's reset at KEYS[1]: ARGV[1] the reset instant (Unix
/// ms, for whoever looks), ARGV[2] the milliseconds until it. A reset already
/// stored further out is kept.
const RESET: &str = r"
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 0
";

/// The key of the account's reset (non-dial calls), under the prefix.
pub const TELNYX_RESET: &str = "telnyx-reset";

/// Where the shared counters' connection comes from: the event bus's current
/// primary, so limits follow a Sentinel failover with the bus.
pub type Source = Arc<dyn Fn() -> BoxFuture<'static, redis::RedisResult<Conn>> + Send + Sync>;

/// A connection to the Redis the replicas share, and the scripts.
#[derive(Clone)]
pub struct Shared {
    conn: Source,
    prefix: String,
    bucket: Script,
    window: Script,
    reset: Script,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Connects lazily: Redis may be down at start, and limits then fall back
    /// to each replica's own until it answers.
    pub fn connect(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = client.get_connection_manager_lazy(config)?;
        Ok(Shared::through(
            Arc::new(move || {
                let conn = Conn::Single(conn.clone());
                Box::pin(async move { Ok(conn) })
            }),
            prefix,
        ))
    }

    /// Counts through the connections `source` hands out (the event bus's,
    /// which knows where the primary is now).
    pub fn through(source: Source, prefix: &str) -> Self {
        Shared {
            conn: source,
            prefix: format!("{prefix}:limits"),
            bucket: Script::new(BUCKET),
            window: Script::new(WINDOW),
            reset: Script::new(RESET),
        }
    }

    /// Takes a token from the bucket `name`.
    pub async fn take(
        &self,
        name: &str,
        rate: Rate,
    ) -> Result<Result<(), Duration>, redis::RedisError> {
        let mut conn = (self.conn)().await?;
        let wait: u64 = self
            .bucket
            .key(format!("{}:{name}", self.prefix))
            .arg(rate.per_second)
            .arg(rate.burst)
            .invoke_async(&mut conn)
            .await?;
        Ok(waited(wait))
    }

    /// Admits one into the window `name`.
    pub async fn admit(
        &self,
        name: &str,
        limit: usize,
        window: Duration,
    ) -> Result<Result<(), Duration>, redis::RedisError> {
        let mut conn = (self.conn)().await?;
        let wait: u64 = self
            .window
            .key(format!("{}:{name}", self.prefix))
            .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX))
            .arg(limit)
            .arg(uuid::Uuid::new_v4().to_string())
            .invoke_async(&mut conn)
            .await?;
        Ok(waited(wait))
    }
}

impl Shared {
    /// Tells every replica the account has no requests for `wait`.
    pub async fn exhaust(&self, wait: Duration) -> Result<(), redis::RedisError> {
        let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            + wait;
        let mut conn = (self.conn)().await?;
        let _: i64 = self
            .reset
            .key(format!("{}:{TELNYX_RESET}", self.prefix))
            .arg(u64::try_from(at.as_millis()).unwrap_or(u64::MAX))
            .arg(wait_ms)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    /// How long until the account's shared reset, if one is pending: one
    /// `PTTL`, so replicas' clocks need not agree.
    pub async fn reset_left(&self) -> Result<Option<Duration>, redis::RedisError> {
        let mut conn = (self.conn)().await?;
        let left: i64 = redis::cmd("PTTL")
            .arg(format!("{}:{TELNYX_RESET}", self.prefix))
            .query_async(&mut conn)
            .await?;
        Ok(u64::try_from(left)
            .ok()
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis))
    }
}

fn waited(wait_ms: u64) -> Result<(), Duration> {
    if wait_ms == 0 {
        Ok(())
    } else {
        Err(Duration::from_millis(wait_ms))
    }
}
