//! The event path: verifying webhooks, the bus that holds the events, and
//! how much each subscriber may fall behind.

use std::time::Duration;

use clap::Args;
use events::{MemoryBusSettings, RedisBusSettings, SentinelAuth, SentinelSettings};

use crate::recovery::RecoverySettings;
use secrecy::{ExposeSecret, SecretString};

use super::{ConfigError, saturating_usize};
use crate::webhook::{PublicKeys, WebhookSettings};

/// Telnyx's webhooks: whose signature they must carry, how fresh and how big.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Webhooks")]
pub struct WebhookArgs {
    /// Telnyx's base64 Ed25519 public key, which webhooks must be signed with
    /// (Mission Control, Keys & Credentials). Comma-separate several to rotate:
    /// a signature valid under any of them passes.
    #[arg(
        long = "telnyx-public-key",
        env = "TELNYX_PUBLIC_KEY",
        value_name = "TELNYX_PUBLIC_KEY"
    )]
    pub public_key: Option<String>,

    /// How far, in seconds, a webhook's `telnyx-timestamp` may be from now,
    /// either way, before it is refused as a replay.
    #[arg(global = true, long = "webhook-tolerance-secs", env = "GATEWAY_WEBHOOK_TOLERANCE_SECS", value_name = "GATEWAY_WEBHOOK_TOLERANCE_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub tolerance_secs: u64,

    /// The largest webhook body accepted, in bytes.
    #[arg(global = true, long = "webhook-max-body-bytes", env = "GATEWAY_WEBHOOK_MAX_BODY_BYTES", value_name = "GATEWAY_WEBHOOK_MAX_BODY_BYTES", default_value_t = 1_048_576, value_parser = clap::value_parser!(u64).range(1024..=67_108_864))]
    pub max_body_bytes: u64,
}

impl WebhookArgs {
    /// The keys webhooks must be signed with.
    pub fn public_keys(&self) -> Result<PublicKeys, ConfigError> {
        self.public_key
            .as_deref()
            .ok_or(ConfigError::MissingPublicKey)?
            .parse()
            .map_err(ConfigError::MalformedPublicKey)
    }

    /// The webhook route's settings.
    pub fn settings(&self) -> Result<WebhookSettings, ConfigError> {
        Ok(WebhookSettings {
            keys: self.public_keys()?,
            tolerance: Duration::from_secs(self.tolerance_secs),
            max_body_bytes: saturating_usize(self.max_body_bytes),
        })
    }
}

/// What the bus remembers and how far a subscriber may fall behind.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Events")]
pub struct EventArgs {
    /// A webhook whose event id was accepted less than this many seconds ago
    /// is a duplicate: answered 200, not delivered again.
    #[arg(global = true, long = "event-dedupe-window-secs", env = "GATEWAY_EVENT_DEDUPE_WINDOW_SECS", value_name = "GATEWAY_EVENT_DEDUPE_WINDOW_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub dedupe_window_secs: u64,

    /// The most event ids the in-process bus remembers for deduplication;
    /// beyond it the oldest is forgotten before its window is over, so memory
    /// stays bounded (about 100 bytes an id) whatever the event rate.
    #[arg(global = true, long = "event-dedupe-max-ids", env = "GATEWAY_EVENT_DEDUPE_MAX_IDS", value_name = "GATEWAY_EVENT_DEDUPE_MAX_IDS", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub dedupe_max_ids: u64,

    /// Recover the events Telnyx gave up on: at start and after the bus was
    /// unavailable, list the webhook deliveries that failed since the newest
    /// accepted event and publish them, flagged `recovered`.
    #[arg(global = true, long = "recovery", env = "GATEWAY_RECOVERY", value_name = "GATEWAY_RECOVERY", default_value_t = true, action = clap::ArgAction::Set)]
    pub recovery: bool,

    /// How far back, in seconds, recovery looks at most (the whole of it when
    /// the bus has accepted nothing yet, as after a restart of the in-process bus).
    #[arg(global = true, long = "recovery-lookback-secs", env = "GATEWAY_RECOVERY_LOOKBACK_SECS", value_name = "GATEWAY_RECOVERY_LOOKBACK_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(60..=2_592_000))]
    pub recovery_lookback_secs: u64,

    /// How many recent events the in-process bus keeps for subscribers
    /// resuming from a cursor.
    #[arg(global = true, id = "event_history", long = "event-history", env = "GATEWAY_EVENT_HISTORY", value_name = "GATEWAY_EVENT_HISTORY", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub history: u64,

    /// How many events may wait for one subscriber; a subscriber further
    /// behind is cut off with RESOURCE_EXHAUSTED and a cursor to resume from.
    #[arg(global = true, long = "event-subscriber-queue", env = "GATEWAY_EVENT_SUBSCRIBER_QUEUE", value_name = "GATEWAY_EVENT_SUBSCRIBER_QUEUE", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub subscriber_queue: u64,

    /// Most `event_types` patterns one `Subscribe` may give; more is
    /// INVALID_ARGUMENT. Keeps what one filter costs the fan-out bounded.
    #[arg(global = true, long = "subscribe-max-event-types", env = "GATEWAY_SUBSCRIBE_MAX_EVENT_TYPES", value_name = "GATEWAY_SUBSCRIBE_MAX_EVENT_TYPES", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub subscribe_max_event_types: u32,

    /// Longest `event_types` pattern, in bytes, one `Subscribe` may give;
    /// longer is INVALID_ARGUMENT (Telnyx's longest event type has 40).
    #[arg(global = true, long = "subscribe-max-pattern-bytes", env = "GATEWAY_SUBSCRIBE_MAX_PATTERN_BYTES", value_name = "GATEWAY_SUBSCRIBE_MAX_PATTERN_BYTES", default_value_t = 128, value_parser = clap::value_parser!(u32).range(8..=4096))]
    pub subscribe_max_pattern_bytes: u32,
}

impl EventArgs {
    pub fn dedupe_window(&self) -> Duration {
        Duration::from_secs(self.dedupe_window_secs)
    }

    /// The bounds on one `Subscribe` filter.
    pub fn filter_limits(&self) -> crate::grpc::FilterLimits {
        crate::grpc::FilterLimits {
            max_event_types: self.subscribe_max_event_types as usize,
            max_pattern_bytes: self.subscribe_max_pattern_bytes as usize,
        }
    }

    /// Recovery's settings, unless it is turned off.
    pub fn recovery(&self) -> Option<RecoverySettings> {
        self.recovery.then(|| RecoverySettings {
            lookback: Duration::from_secs(self.recovery_lookback_secs),
        })
    }

    /// The in-process bus's sizes.
    pub fn memory_bus(&self) -> MemoryBusSettings {
        MemoryBusSettings {
            dedupe_window: self.dedupe_window(),
            dedupe_max_ids: saturating_usize(self.dedupe_max_ids),
            history: saturating_usize(self.history),
            subscriber_queue: saturating_usize(self.subscriber_queue),
        }
    }
}

/// The Redis several replicas share, when there is one.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Redis")]
pub struct RedisArgs {
    /// Redis for the event bus shared by several replicas (`redis://` or
    /// `rediss://`, password and database in the URL). Unset: the in-process
    /// bus, for one replica.
    #[arg(global = true, long = "redis-url", env = "REDIS_URL", value_name = "REDIS_URL", value_parser = parse_redis_url, hide_env_values = true)]
    pub url: Option<SecretString>,

    /// Namespaces every Redis key and channel of the event bus, so several
    /// deployments can share one Redis.
    #[arg(
        global = true,
        long = "redis-prefix",
        env = "GATEWAY_REDIS_PREFIX",
        value_name = "GATEWAY_REDIS_PREFIX",
        default_value = "conference-gateway"
    )]
    pub prefix: String,

    /// Approximately how many recent events the Redis bus keeps for
    /// subscribers resuming from a cursor (trimmed in blocks, never below this).
    #[arg(global = true, id = "redis_history", long = "redis-history", env = "GATEWAY_REDIS_HISTORY", value_name = "GATEWAY_REDIS_HISTORY", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub history: u64,

    /// How many Redis replicas must have copied an event before its webhook
    /// is answered 200 (Redis `WAIT`). 0 answers once the primary has it: a
    /// failover may then lose events acknowledged just before it. An event
    /// that did not reach enough replicas in time is answered 503, and
    /// Telnyx's retry is deduplicated by event id.
    #[arg(global = true, long = "redis-min-replicas-ack", env = "GATEWAY_REDIS_MIN_REPLICAS_ACK", value_name = "GATEWAY_REDIS_MIN_REPLICAS_ACK", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=16))]
    pub min_replicas_ack: u32,

    /// How long, in milliseconds, a webhook waits for the replicas
    /// `GATEWAY_REDIS_MIN_REPLICAS_ACK` asks for before it is answered 503.
    #[arg(global = true, long = "redis-ack-timeout-ms", env = "GATEWAY_REDIS_ACK_TIMEOUT_MS", value_name = "GATEWAY_REDIS_ACK_TIMEOUT_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub ack_timeout_ms: u64,

    /// Sentinels to ask for the Redis primary (`host:port`, comma-separated),
    /// with `GATEWAY_REDIS_SENTINEL_MASTER`. `REDIS_URL` then gives only the
    /// password, database and `rediss://` of the data connections.
    #[arg(global = true, long = "redis-sentinels", env = "GATEWAY_REDIS_SENTINELS", value_name = "GATEWAY_REDIS_SENTINELS", value_parser = parse_sentinels, requires = "sentinel_master")]
    pub sentinels: Option<String>,

    /// The master's name in the Sentinels' configuration (`sentinel monitor
    /// <name> ...`), with `GATEWAY_REDIS_SENTINELS`.
    #[arg(
        global = true,
        id = "sentinel_master",
        long = "redis-sentinel-master",
        env = "GATEWAY_REDIS_SENTINEL_MASTER",
        value_name = "GATEWAY_REDIS_SENTINEL_MASTER",
        requires = "sentinels"
    )]
    pub sentinel_master: Option<String>,

    /// The password the Sentinels require (their `requirepass`, or the
    /// password of `GATEWAY_REDIS_SENTINEL_USERNAME`), when they require one.
    /// Not Redis's: the data connections keep `REDIS_URL`'s.
    #[arg(global = true, long = "redis-sentinel-password", env = "GATEWAY_REDIS_SENTINEL_PASSWORD", value_name = "GATEWAY_REDIS_SENTINEL_PASSWORD", value_parser = parse_sentinel_password, hide_env_values = true, requires = "sentinels")]
    pub sentinel_password: Option<SecretString>,

    /// The ACL user the gateway logs in to the Sentinels as, with
    /// `GATEWAY_REDIS_SENTINEL_PASSWORD`; unset: the default user.
    #[arg(
        global = true,
        long = "redis-sentinel-username",
        env = "GATEWAY_REDIS_SENTINEL_USERNAME",
        value_name = "GATEWAY_REDIS_SENTINEL_USERNAME",
        requires = "sentinel_password"
    )]
    pub sentinel_username: Option<String>,

    /// `REDIS_URL` names a node of a Redis Cluster: the bus follows the
    /// cluster's redirections and failovers, and its keys share the hash tag
    /// `{GATEWAY_REDIS_PREFIX}`, so they live on one shard. Not with Sentinel.
    #[arg(global = true, long = "redis-cluster", env = "GATEWAY_REDIS_CLUSTER", value_name = "GATEWAY_REDIS_CLUSTER", default_value_t = false, action = clap::ArgAction::Set, conflicts_with_all = ["sentinels", "sentinel_master"])]
    pub cluster: bool,
}

impl RedisArgs {
    /// The Redis bus's settings, when `REDIS_URL` is set.
    pub fn bus(&self, events: &EventArgs) -> Option<RedisBusSettings> {
        let url = self.url.as_ref()?;
        Some(RedisBusSettings {
            url: url.expose_secret().to_owned(),
            prefix: self.prefix.clone(),
            history: self.history,
            dedupe_window: events.dedupe_window(),
            subscriber_queue: saturating_usize(events.subscriber_queue),
            connect_wait: Duration::from_secs(5),
            min_replicas_ack: self.min_replicas_ack,
            ack_timeout: Duration::from_millis(self.ack_timeout_ms),
            sentinel: self.sentinels.as_deref().map(|nodes| SentinelSettings {
                nodes: events::parse_sentinel_nodes(nodes).unwrap_or_default(),
                master: self.sentinel_master.clone().unwrap_or_default(),
                auth: self.sentinel_password.clone().map(|password| SentinelAuth {
                    username: self.sentinel_username.clone(),
                    password,
                }),
            }),
            cluster: self.cluster,
        })
    }
}

/// `host:port`, comma-separated; kept as text, split when the bus is built.
fn parse_sentinels(value: &str) -> Result<String, String> {
    events::parse_sentinel_nodes(value).map(|_| value.to_owned())
}

/// A Sentinel password: anything but empty (an empty `requirepass` means
/// none, and sending it would fail every login).
fn parse_sentinel_password(value: &str) -> Result<SecretString, String> {
    if value.is_empty() {
        Err("empty; unset it when the Sentinels require no password".to_owned())
    } else {
        Ok(SecretString::from(value))
    }
}

/// Only the scheme is checked here (the rest may hold a password, which must
/// not end up in an error message); the Redis client parses the rest.
fn parse_redis_url(value: &str) -> Result<SecretString, String> {
    if value.starts_with("redis://") || value.starts_with("rediss://") {
        Ok(SecretString::from(value))
    } else {
        Err("expected a redis:// or rediss:// URL".to_owned())
    }
}
