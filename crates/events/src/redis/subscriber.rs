//! The replica's one subscription: Redis's channel in, the local hub out.
//!
//! Redis pub/sub delivers at most once: a message published while the
//! connection is down is gone. So the subscription remembers the stream id of
//! the last event it fed, and every time it (re)subscribes it first reads the
//! stream after that id (XRANGE), feeding what it missed, then carries on with
//! the channel, skipping anything at or before what it already fed. The hub
//! therefore gets every accepted event once, in stream-id order, across any
//! number of drops; subscribers' streams stay open through them.
//!
//! Reconnection is this task's own loop, with capped exponential backoff, so a
//! Redis outage needs no restart. A PING on the subscribed connection notices
//! a silently dead peer; while the subscription is down the replica reports
//! itself not ready. Every (re)subscription also checks Redis's
//! `maxmemory-policy` (see `health`).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Names;
use super::health::{self, Health, Policy};
use super::links::Target;
use super::whole::{self, Seen, Verdict};
use super::{epoch, history, record};
use crate::cursor::{Cursor, Position};
use crate::hub::Hub;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const PING_EVERY: Duration = Duration::from_secs(5);

/// What one connection learnt of Redis, for judging the next.
struct Known {
    replid: Option<String>,
    epoch: u64,
}

/// Why a subscription session ended.
#[derive(Debug, thiserror::Error)]
enum Dropped {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("timed out talking to Redis")]
    Timeout,
    #[error("the subscription connection closed")]
    Closed,
    #[error("the event hub stopped")]
    HubStopped,
    #[error("the Redis server is not a primary (it is a replica)")]
    NotPrimary,
}

/// Everything the subscription task needs.
pub(super) struct Subscriber {
    /// Where the primary is; asked again at every (re)connection.
    pub target: Arc<Target>,
    /// The current primary's command connection.
    pub conn: ConnectionManager,
    pub names: Arc<Names>,
    pub hub: Arc<Hub>,
    /// Whether the subscription is up and Redis fit: the bus's readiness.
    pub health: Arc<Health>,
    /// How many replicas every event must reach (0: none).
    pub min_replicas_ack: u32,
    /// Bumped at every successful (re)subscription, for whoever waits for one.
    pub sessions: watch::Sender<u64>,
    pub stop: CancellationToken,
}

impl Subscriber {
    /// Runs until `stop` is cancelled.
    pub async fn run(mut self) {
        // The stream id of the last event fed; `None` until the first
        // session, which starts live from the stream's newest entry.
        let mut last: Option<Position> = None;
        // What the previous connection knew, to judge the next one by.
        let mut known: Option<Known> = None;
        let mut backoff = MIN_BACKOFF;
        loop {
            let stop = self.stop.clone();
            let ended = tokio::select! {
                () = stop.cancelled() => return,
                ended = self.session(&mut last, &mut known, &mut backoff) => match ended {
                    Err(dropped) => dropped,
                    Ok(never) => match never {},
                },
            };
            if let Some(sentinel) = self.target.sentinel() {
                self.health.set_unreachable(Some(format!(
                    "the Redis primary of Sentinel master {:?}: {ended}",
                    sentinel.master
                )));
            } else if self.target.is_cluster() {
                self.health.set_unreachable(Some(format!(
                    "the Redis Cluster primary of slot {} ({}): {ended}",
                    super::conn::slot(&self.names.stream),
                    self.names.stream
                )));
            }
            if self.health.set_connected(false) {
                tracing::warn!(error = %ended, "event bus subscription to Redis lost; reconnecting");
            } else {
                tracing::debug!(error = %ended, retry_in = ?backoff, "Redis still unreachable");
            }
            if matches!(ended, Dropped::HubStopped) {
                return;
            }
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One connection: subscribe, catch up, then relay until it drops.
    async fn session(
        &mut self,
        last: &mut Option<Position>,
        known: &mut Option<Known>,
        backoff: &mut Duration,
    ) -> Result<std::convert::Infallible, Dropped> {
        let links = self.target.resolve().await?;
        self.conn = links.conn;
        if last.is_none() {
            // The first subscription starts live: from the newest entry,
            // read before subscribing, so whatever is accepted while the
            // subscription is set up is caught up below rather than skipped.
            *last = Some(history::newest(&mut self.conn, &self.names).await?);
        }
        let pubsub = tokio::time::timeout(CONNECT_TIMEOUT, links.client.get_async_pubsub())
            .await
            .map_err(|_| Dropped::Timeout)??;
        let (mut sink, mut messages) = pubsub.split();
        tokio::time::timeout(CONNECT_TIMEOUT, sink.subscribe(&self.names.channel))
            .await
            .map_err(|_| Dropped::Timeout)??;
        // Subscribed: from here every new event is on the channel, so the
        // stream read below leaves no gap behind it.
        let replication = self.info("replication").await?;
        if health::info_field(&replication, "role").is_some_and(|role| role != "master") {
            // A former primary that came back as a replica (Sentinel
            // reconfigures it): ask the Sentinels again.
            return Err(Dropped::NotPrimary);
        }
        let mut epoch = epoch::ensure(&mut self.conn, &self.names.epoch).await?;
        let now = Seen {
            replid: whole::replid(&replication),
            newest: history::newest(&mut self.conn, &self.names).await?,
        };
        if let Some(before) = known.as_ref() {
            let before_seen = Seen {
                replid: before.replid.clone(),
                // With replica acks only what was acknowledged must
                // survive: an event fed but refused 503 may be gone, and its
                // retry is accepted anew.
                newest: if self.min_replicas_ack == 0 {
                    last.unwrap_or(Position::new(0, 0))
                        .max(self.health.newest_accepted())
                } else {
                    self.health.newest_accepted()
                },
            };
            if let Verdict::MaybeLost(why) = whole::judge(&before_seen, &now, self.min_replicas_ack)
            {
                if epoch == before.epoch {
                    epoch = epoch::replace(&mut self.conn, &self.names.epoch, epoch).await?;
                }
                tracing::warn!(
                    %why,
                    epoch = %format_args!("{epoch:x}"),
                    "the event history may have lost acknowledged events; it starts a new epoch, \
                     so cursors from before are refused rather than resumed across a gap"
                );
                // Nothing after the surviving newest entry is of the old
                // history; carry on from there.
                *last = Some(now.newest);
                self.health.reset_accepted(now.newest);
            }
        }
        *known = Some(Known {
            replid: now.replid,
            epoch,
        });
        if let Some(mut after) = *last {
            loop {
                let page = history::page_after(&mut self.conn, &self.names, after).await?;
                for (position, event) in page.events {
                    self.feed(event.seal(Cursor { epoch, position })).await?;
                    *last = Some(position);
                    after = position;
                }
                if !page.full {
                    break;
                }
            }
        }
        self.check_policy().await?;
        self.check_capacity().await?;
        self.health.set_unreachable(None);
        self.health.set_connected(true);
        self.sessions.send_modify(|n| *n += 1);
        *backoff = MIN_BACKOFF;
        tracing::info!(channel = %self.names.channel, "event bus subscribed to Redis");

        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else { return Err(Dropped::Closed) };
                    let (epoch, position, bytes) = match record::split_message(message.get_payload_bytes()) {
                        Ok(parts) => parts,
                        Err(error) => {
                            tracing::error!(%error, "skipping a message on the event channel");
                            continue;
                        }
                    };
                    if last.is_some_and(|seen| position <= seen) {
                        continue;
                    }
                    match record::decode(bytes) {
                        Ok(event) => self.feed(event.seal(Cursor { epoch, position })).await?,
                        Err(error) => tracing::error!(%error, "skipping an event on the event channel"),
                    }
                    *last = Some(position);
                }
                _ = ping.tick() => {
                    tokio::time::timeout(CONNECT_TIMEOUT, sink.ping::<redis::Value>())
                        .await
                        .map_err(|_| Dropped::Timeout)??;
                    self.check_capacity().await?;
                }
            }
        }
    }

    /// Checks Redis's `maxmemory-policy` (see [`super::health`]). Where
    /// CONFIG is not allowed, as on some managed services, the policy cannot
    /// be seen: a warning says so and the bus carries on.
    async fn check_policy(&mut self) -> Result<(), Dropped> {
        let reply: redis::RedisResult<Vec<String>> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory-policy")
            .query_async(&mut self.conn)
            .await;
        let reply = match reply {
            Err(error) if error.is_io_error() || error.is_connection_dropped() => {
                return Err(error.into());
            }
            other => other.map_err(|error| error.to_string()),
        };
        let policy = Policy::judge(reply);
        match &policy {
            Policy::Safe => {}
            Policy::Evicting(value) => tracing::error!(
                maxmemory_policy = %value,
                "Redis may evict the event bus's keys; not ready until its maxmemory-policy is noeviction"
            ),
            Policy::Unknown(why) => tracing::warn!(
                %why,
                "cannot read Redis's maxmemory-policy (CONFIG GET); make sure it is noeviction"
            ),
        }
        self.health.set_unfit(policy.unfit());
        Ok(())
    }

    /// One `INFO` section; empty where INFO is forbidden (some managed
    /// services), which leaves nothing to learn.
    async fn info(&mut self, section: &str) -> Result<String, Dropped> {
        let info: redis::RedisResult<String> = tokio::time::timeout(
            CONNECT_TIMEOUT,
            redis::cmd("INFO").arg(section).query_async(&mut self.conn),
        )
        .await
        .map_err(|_| Dropped::Timeout)?;
        match info {
            Ok(info) => Ok(info),
            Err(error) if error.is_io_error() || error.is_connection_dropped() => Err(error.into()),
            Err(_) => Ok(String::new()),
        }
    }

    /// Whether Redis is full (see [`health::full`]) and, when events must
    /// reach replicas, whether enough are connected.
    async fn check_capacity(&mut self) -> Result<(), Dropped> {
        let full = health::full(&self.info("memory").await?);
        if let Some(why) = &full {
            tracing::warn!(%why, "Redis refuses new events until it has memory");
        }
        self.health.set_full(full);
        if self.min_replicas_ack > 0 {
            let short =
                health::replicas_short(&self.info("replication").await?, self.min_replicas_ack);
            if let Some(why) = &short {
                tracing::warn!(%why, "webhooks are refused until enough Redis replicas are connected");
            }
            self.health.set_replicas_short(short);
        }
        Ok(())
    }

    async fn feed(&self, event: crate::model::Event) -> Result<(), Dropped> {
        self.hub
            .feed()
            .send(Arc::new(event))
            .await
            .map_err(|_| Dropped::HubStopped)
    }
}
