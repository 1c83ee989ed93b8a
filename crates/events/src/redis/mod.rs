//! The Redis bus: one history and one order of events for every replica of a
//! deployment.
//!
//! - `script`: accepting an event is one Lua script (dedupe, XADD to a capped
//!   stream, PUBLISH), atomic and durable before the webhook's 200.
//! - `subscriber`: one pub/sub subscription per replica feeds the local hub,
//!   catching up from the stream after every reconnection.
//! - `history`: XRANGE reads for resuming subscribers and catch-up.
//! - `epoch`: the history's identity, kept in Redis, in every cursor.
//! - `record`: how an event is framed in the stream and on the channel.
//! - `lease`: work one replica does for all (recovery), under a lease key.
//!
//! A cursor is the epoch and the stream id (`ms-seq`), so a cursor from any
//! replica is served by every other. While Redis is unreachable publishing
//! fails (the webhook answers 503 and Telnyx retries), open streams stay open,
//! the replica reports not ready, and everything resumes when Redis is back.
//! It also reports not ready while Redis may evict its keys (`health`).

mod conn;
mod epoch;
mod health;
mod history;
mod lease;
mod links;
mod record;
mod script;
mod subscriber;
mod whole;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use futures::future::BoxFuture;
use redis::aio::ConnectionManagerConfig;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::bus::{BusError, EventBus, Published, Replay, ReplayError};
use super::hub::Hub;
use super::model::Prepared;
pub use conn::Conn;
use health::Health;
use links::Target;
pub use links::{SentinelAuth, SentinelSettings, parse_nodes as parse_sentinel_nodes};
use script::{Accepted, ScriptError};

/// How the Redis bus connects and is sized.
#[derive(Clone)]
pub struct RedisBusSettings {
    /// `redis://` or `rediss://`, password and database included (never logged).
    pub url: String,
    /// Namespaces every key and channel, so deployments can share a Redis.
    pub prefix: String,
    /// Approximately how many events the stream keeps (XADD MAXLEN ~).
    pub history: u64,
    /// A second event with the same id within this window is a duplicate.
    pub dedupe_window: Duration,
    /// How many events a subscriber may have waiting before it is cut off.
    pub subscriber_queue: usize,
    /// How long [`RedisBus::connect`] waits for the first subscription before
    /// it carries on unready (the gateway starts while Redis is down).
    pub connect_wait: Duration,
    /// How many replicas must have an event before it counts as accepted
    /// (`WAIT`); 0: the primary's copy is enough.
    pub min_replicas_ack: u32,
    /// How long to wait for them before the event is refused.
    pub ack_timeout: Duration,
    /// Sentinel discovery of the primary, when set; `url` then gives only
    /// the password, database and TLS of the data connections.
    pub sentinel: Option<SentinelSettings>,
    /// Redis Cluster: `url` is any node; every key carries the hash tag
    /// `{prefix}`, so all of them are in one slot.
    pub cluster: bool,
}

impl std::fmt::Debug for RedisBusSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBusSettings")
            .field("prefix", &self.prefix)
            .field("history", &self.history)
            .field("dedupe_window", &self.dedupe_window)
            .field("subscriber_queue", &self.subscriber_queue)
            .field("min_replicas_ack", &self.min_replicas_ack)
            .field("ack_timeout", &self.ack_timeout)
            .field("sentinel", &self.sentinel)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

/// Connections that accept events when each waits for replicas.
const WAITING_WRITERS: usize = 4;

/// The bus cannot be set up from its settings.
#[derive(Debug, thiserror::Error)]
pub enum RedisBusError {
    #[error("REDIS_URL is not a usable Redis URL: {0}")]
    Url(redis::RedisError),
    #[error(
        "REDIS_URL selects database {0}, but a Redis Cluster (GATEWAY_REDIS_CLUSTER) has only database 0"
    )]
    ClusterDatabase(i64),
}

/// The names of everything the bus keeps in Redis, under the prefix.
///
/// In cluster mode the prefix is a hash tag, `{prefix}`, so every key is in
/// one slot (the accept script may only touch keys of one slot). Only then:
/// renaming the keys of a running single Redis would lose its history.
#[derive(Debug)]
pub(crate) struct Names {
    /// `{prefix}:epoch`: the history's identity.
    pub epoch: String,
    /// `{prefix}:events`: the capped stream of accepted events.
    pub stream: String,
    /// `{prefix}:events`: the channel every replica subscribes to.
    pub channel: String,
    /// `{prefix}:seen:`: followed by an event id, the dedupe key.
    seen: String,
    /// `{prefix}:lease:`: followed by a lease's name (`recovery`).
    lease: String,
}

impl Names {
    fn new(prefix: &str, cluster: bool) -> Self {
        let tagged;
        let prefix = if cluster {
            tagged = format!("{{{prefix}}}");
            tagged.as_str()
        } else {
            prefix
        };
        Names {
            epoch: format!("{prefix}:epoch"),
            stream: format!("{prefix}:events"),
            channel: format!("{prefix}:events"),
            seen: format!("{prefix}:seen:"),
            lease: format!("{prefix}:lease:"),
        }
    }

    fn lease(&self, name: &str) -> String {
        format!("{}{name}", self.lease)
    }

    /// `{prefix}:lease:NAME:done`: how far the lease's work was last done.
    fn done(&self, name: &str) -> String {
        format!("{}{name}:done", self.lease)
    }

    fn seen(&self, id: &str) -> String {
        format!("{}{id}", self.seen)
    }

    /// The cluster slot of every key.
    fn slot(&self) -> u16 {
        conn::slot(&self.stream)
    }
}

/// The Redis bus of one replica.
pub struct RedisBus {
    target: Arc<Target>,
    next_writer: AtomicUsize,
    min_replicas_ack: u32,
    ack_timeout: Duration,
    names: Arc<Names>,
    history: u64,
    dedupe_window_secs: u64,
    hub: Arc<Hub>,
    health: Arc<Health>,
    /// Counts the subscription's sessions: one more after every reconnection.
    sessions: watch::Receiver<u64>,
    stop: CancellationToken,
}

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus")
            .field("names", &self.names)
            .field("history", &self.history)
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

impl RedisBus {
    /// Sets up the bus and its subscription. Redis need not be reachable: the
    /// bus then starts unready and connects as soon as Redis answers.
    pub async fn connect(settings: RedisBusSettings) -> Result<Self, RedisBusError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            // A WAIT answers within its own timeout; the reply may take that long.
            .set_response_timeout(Some(Duration::from_secs(5) + settings.ack_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let writers = if settings.min_replicas_ack > 0 {
            WAITING_WRITERS
        } else {
            1
        };
        if settings.cluster {
            let db = redis::IntoConnectionInfo::into_connection_info(settings.url.as_str())
                .map_err(RedisBusError::Url)?
                .redis_settings()
                .db();
            if db != 0 {
                return Err(RedisBusError::ClusterDatabase(db));
            }
        }
        let names = Arc::new(Names::new(&settings.prefix, settings.cluster));
        let target = Arc::new(
            Target::new(
                &settings.url,
                settings.sentinel.clone(),
                settings.cluster.then(|| names.slot()),
                Duration::from_secs(5) + settings.ack_timeout,
                config,
                writers,
            )
            .map_err(RedisBusError::Url)?,
        );
        let hub = Arc::new(Hub::start(settings.subscriber_queue));
        let health = Arc::new(Health::default());
        let stop = CancellationToken::new();
        let (sessions, mut subscribed) = watch::channel(0);
        tokio::spawn(
            subscriber::Subscriber {
                conn: target.links().conn,
                target: Arc::clone(&target),
                names: Arc::clone(&names),
                hub: Arc::clone(&hub),
                health: Arc::clone(&health),
                min_replicas_ack: settings.min_replicas_ack,
                sessions,
                stop: stop.clone(),
            }
            .run(),
        );
        let first = subscribed.wait_for(|n| *n > 0);
        if tokio::time::timeout(settings.connect_wait, first)
            .await
            .is_err()
        {
            tracing::warn!("Redis is unreachable; the event bus starts unready and keeps trying");
        }
        Ok(RedisBus {
            target,
            next_writer: AtomicUsize::new(0),
            min_replicas_ack: settings.min_replicas_ack,
            ack_timeout: settings.ack_timeout,
            names,
            history: settings.history.max(1),
            dedupe_window_secs: settings.dedupe_window.as_secs().max(1),
            hub,
            health,
            sessions: subscribed,
            stop,
        })
    }

    /// A connection to the bus's Redis as it is now (after a Sentinel
    /// failover, the new primary; in cluster mode, the cluster), for other
    /// state the replicas share through the same Redis.
    pub async fn connection(&self) -> Result<Conn, redis::RedisError> {
        self.target.reader().await
    }

    async fn accept(&self, event: Prepared) -> Result<Published, BusError> {
        if let Some(short) = self.health.replicas_short() {
            // Known short of replicas: refuse before writing rather than make
            // every webhook wait out the timeout.
            return Err(BusError::Unavailable(short));
        }
        let turn = self.next_writer.fetch_add(1, Ordering::Relaxed);
        let writers = self.target.writers().await.map_err(down)?;
        let mut conn = writers[turn % writers.len()].clone();
        let mut retried = false;
        let result = loop {
            let result = script::accept(
                &mut conn,
                &self.names,
                self.history,
                self.dedupe_window_secs,
                self.min_replicas_ack > 0,
                &event,
            )
            .await;
            // After Redis came back the first command on the old connection
            // fails while the manager reconnects. Once more is safe: had the
            // script run, the retry finds the id and reports a duplicate,
            // which is still a 200.
            match &result {
                Err(ScriptError::Redis(error))
                    if !retried && (error.is_connection_dropped() || error.is_io_error()) =>
                {
                    retried = true;
                }
                _ => break result,
            }
        };
        let accepted = result.map_err(down)?;
        if self.min_replicas_ack > 0 {
            self.wait_for_replicas(&mut conn).await?;
        }
        Ok(match accepted {
            Accepted::New(cursor) => {
                self.health.note_accepted(cursor.position);
                Published::Accepted(cursor)
            }
            Accepted::Duplicate => Published::Duplicate,
        })
    }

    /// Waits until `min_replicas_ack` replicas have every write of `conn`
    /// so far: the event just stored, or for a duplicate the script's touch
    /// of its dedupe key, which comes after the original's write.
    async fn wait_for_replicas(&self, conn: &mut Conn) -> Result<(), BusError> {
        let timeout_ms = u64::try_from(self.ack_timeout.as_millis()).unwrap_or(u64::MAX);
        // On a cluster, to the shard that took the write (over the same
        // connection), not to every primary.
        let acks: u32 = conn
            .on_slot(
                redis::cmd("WAIT")
                    .arg(self.min_replicas_ack)
                    .arg(timeout_ms.max(1)),
                self.names.slot(),
            )
            .await
            .map_err(down)?;
        if acks >= self.min_replicas_ack {
            return Ok(());
        }
        Err(BusError::Unavailable(format!(
            "{acks} of the {} Redis replicas GATEWAY_REDIS_MIN_REPLICAS_ACK asks for had the event \
             within {timeout_ms} ms",
            self.min_replicas_ack
        )))
    }

    async fn events_after(&self, text: &str) -> Result<Replay, ReplayError> {
        let mut conn = self.target.reader().await.map_err(unavailable)?;
        let (after, events, more) = history::replay(&mut conn, &self.names, text).await?;
        let epoch = after.epoch;
        Ok(Replay {
            after,
            events: events
                .into_iter()
                .map(|(position, event)| {
                    Arc::new(event.seal(super::cursor::Cursor { epoch, position }))
                })
                .collect(),
            more,
        })
    }
}

impl RedisBus {
    async fn retained(&self) -> Result<Replay, ReplayError> {
        let mut conn = self.target.reader().await.map_err(unavailable)?;
        let (epoch, events, more) = history::first_page(&mut conn, &self.names).await?;
        let cursor = |position| super::cursor::Cursor { epoch, position };
        Ok(Replay {
            after: cursor(super::cursor::Position::new(0, 0)),
            events: events
                .into_iter()
                .map(|(position, event)| Arc::new(event.seal(cursor(position))))
                .collect(),
            more,
        })
    }
}

/// A Redis error as the bus reports it to publishers and recovery.
fn down(error: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(error.to_string())
}

fn unavailable(error: redis::RedisError) -> ReplayError {
    ReplayError::Unavailable(error.to_string())
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl EventBus for RedisBus {
    fn publish(&self, event: Prepared) -> BoxFuture<'_, Result<Published, BusError>> {
        self.accept(event).boxed()
    }

    fn replay<'a>(&'a self, cursor: &'a str) -> BoxFuture<'a, Result<Replay, ReplayError>> {
        self.events_after(cursor).boxed()
    }

    fn history(&self) -> BoxFuture<'_, Result<Replay, ReplayError>> {
        self.retained().boxed()
    }

    fn hub(&self) -> &Hub {
        &self.hub
    }

    fn is_ready(&self) -> bool {
        self.health.is_connected()
    }

    fn unready_reason(&self) -> Option<String> {
        self.health.unready_reason()
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn ready_sessions(&self) -> u64 {
        *self.sessions.borrow()
    }

    /// The newest stream id is the Redis clock, in milliseconds, when the
    /// newest event was accepted.
    fn last_accepted(&self) -> BoxFuture<'_, Result<Option<SystemTime>, BusError>> {
        async move {
            let mut conn = self.target.reader().await.map_err(down)?;
            let newest = history::newest(&mut conn, &self.names)
                .await
                .map_err(down)?;
            Ok((newest.major > 0).then(|| UNIX_EPOCH + Duration::from_millis(newest.major)))
        }
        .boxed()
    }

    fn lease<'a>(
        &'a self,
        name: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, BusError>> {
        async move {
            let mut conn = self.target.reader().await.map_err(down)?;
            lease::take(&mut conn, &self.names.lease(name), holder, ttl)
                .await
                .map_err(down)
        }
        .boxed()
    }

    fn release<'a>(
        &'a self,
        name: &'a str,
        holder: &'a str,
    ) -> BoxFuture<'a, Result<(), BusError>> {
        async move {
            let mut conn = self.target.reader().await.map_err(down)?;
            lease::release(&mut conn, &self.names.lease(name), holder)
                .await
                .map_err(down)
        }
        .boxed()
    }

    fn mark_done<'a>(
        &'a self,
        name: &'a str,
        through: SystemTime,
    ) -> BoxFuture<'a, Result<(), BusError>> {
        async move {
            let millis = through.duration_since(UNIX_EPOCH).map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
            let mut conn = self.target.reader().await.map_err(down)?;
            lease::mark(&mut conn, &self.names.done(name), millis)
                .await
                .map_err(down)
        }
        .boxed()
    }

    fn done_through<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<SystemTime>, BusError>> {
        async move {
            let mut conn = self.target.reader().await.map_err(down)?;
            let millis = lease::marked(&mut conn, &self.names.done(name))
                .await
                .map_err(down)?;
            Ok(millis.map(|ms| UNIX_EPOCH + Duration::from_millis(ms)))
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_keys_share_one_hash_tag_and_single_redis_keys_keep_their_names() {
        let single = Names::new("gw", false);
        assert_eq!(single.stream, "gw:events");
        assert_eq!(single.epoch, "gw:epoch");
        assert_eq!(single.seen("e1"), "gw:seen:e1");
        let cluster = Names::new("gw", true);
        assert_eq!(cluster.stream, "{gw}:events");
        assert_eq!(cluster.epoch, "{gw}:epoch");
        assert_eq!(cluster.seen("e1"), "{gw}:seen:e1");
        let slot = cluster.slot();
        for key in [&cluster.epoch, &cluster.seen("anything{else}")] {
            assert_eq!(conn::slot(key), slot, "{key}");
        }
    }
}
