//! Where the bus's connections go: the Redis `REDIS_URL` names, or, with
//! Sentinel, whichever server the Sentinels name as the primary now.
//!
//! With Sentinel, `REDIS_URL` still gives the password, database and
//! `rediss://` of the data connections; only its host and port are replaced
//! by the primary's. The subscription task asks the Sentinels at every
//! (re)connection, so after a failover each replica finds the new primary by
//! itself, as soon as its connection to the old one drops; until then
//! webhooks get 503 and `/readyz` says why.
//!
//! In cluster mode (`GATEWAY_REDIS_CLUSTER`), `REDIS_URL` names any node.
//! Events are accepted and read through the cluster client, which follows
//! MOVED and ASK; the subscription (pub/sub and the health checks) goes to
//! the primary of the shard holding the bus's hash tag, asked of the cluster
//! at every (re)connection like the Sentinels are, so a cluster failover
//! drops it and it moves to the promoted replica.

use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisError, Value};
use tokio::sync::OnceCell;

use super::conn::Conn;

/// How long one Sentinel may take to answer.
const SENTINEL_TIMEOUT: Duration = Duration::from_secs(1);

/// Sentinel discovery: the Sentinels, the name of the master they watch,
/// and how to log in to them.
#[derive(Debug, Clone)]
pub struct SentinelSettings {
    /// `host:port` of each Sentinel.
    pub nodes: Vec<String>,
    /// The master's name in the Sentinels' configuration.
    pub master: String,
    /// The Sentinels' own credentials (their `requirepass`, or an ACL
    /// user), when they require one; the data connections keep `REDIS_URL`'s.
    pub auth: Option<SentinelAuth>,
}

/// What the gateway sends in `AUTH` to a Sentinel. The password never
/// leaves this type but to the Sentinel: it prints as `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct SentinelAuth {
    /// An ACL user; `None` logs in as the default user (`requirepass`).
    pub username: Option<String>,
    pub password: secrecy::SecretString,
}

/// The connections of one primary.
#[derive(Clone)]
pub struct Links {
    pub client: redis::Client,
    /// Reads, and writes when they need not wait for replicas.
    pub conn: ConnectionManager,
    /// The connections events are accepted on: `conn` alone, or a few of
    /// their own when each waits for replicas (`WAIT` holds its connection
    /// until the replicas answer, so one would serialise every webhook).
    pub writers: Vec<ConnectionManager>,
}

/// The cluster client and its connections, made at first use.
struct Cluster {
    client: ClusterClient,
    /// The slot every key of the bus is in.
    slot: u16,
    /// How many connections to make (see [`Links::writers`]).
    count: usize,
    conns: OnceCell<Vec<ClusterConnection>>,
}

/// The primary the bus talks to, and how to find it again.
pub struct Target {
    base: ConnectionInfo,
    sentinel: Option<SentinelSettings>,
    cluster: Option<Cluster>,
    config: ConnectionManagerConfig,
    writers: usize,
    current: RwLock<(ConnectionAddr, Links)>,
}

impl Target {
    /// Connections (made lazily) to `url`'s server; with Sentinel, to it
    /// until the Sentinels have been asked.
    /// In cluster mode (`cluster_slot` set: the slot of the bus's keys),
    /// `url` is any node of the cluster.
    pub fn new(
        url: &str,
        sentinel: Option<SentinelSettings>,
        cluster_slot: Option<u16>,
        response_timeout: Duration,
        config: ConnectionManagerConfig,
        writers: usize,
    ) -> Result<Self, RedisError> {
        let base = url.into_connection_info()?;
        let addr = base.addr().clone();
        let links = links(&base, &config, writers)?;
        let cluster = match cluster_slot {
            None => None,
            Some(slot) => Some(Cluster {
                client: ClusterClient::builder(vec![base.clone()])
                    .connection_timeout(Duration::from_secs(2))
                    .response_timeout(response_timeout)
                    .retries(3)
                    .build()?,
                slot,
                count: writers.max(1),
                conns: OnceCell::new(),
            }),
        };
        Ok(Target {
            base,
            sentinel,
            cluster,
            config,
            writers: writers.max(1),
            current: RwLock::new((addr, links)),
        })
    }

    pub fn sentinel(&self) -> Option<&SentinelSettings> {
        self.sentinel.as_ref()
    }

    pub fn is_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    /// The connections events are accepted on (see [`Links::writers`]).
    pub async fn writers(&self) -> Result<Vec<Conn>, RedisError> {
        match &self.cluster {
            None => Ok(self.links().writers.into_iter().map(Conn::Single).collect()),
            Some(cluster) => Ok(cluster
                .conns()
                .await?
                .iter()
                .cloned()
                .map(Conn::Cluster)
                .collect()),
        }
    }

    /// The connection resuming subscribers read on.
    pub async fn reader(&self) -> Result<Conn, RedisError> {
        match &self.cluster {
            None => Ok(Conn::Single(self.links().conn)),
            Some(cluster) => Ok(Conn::Cluster(cluster.conns().await?[0].clone())),
        }
    }

    /// The current primary's connections.
    pub fn links(&self) -> Links {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .clone()
    }

    /// The primary's connections after asking the Sentinels (when there are
    /// any) which server it is now; new connections when it moved.
    pub async fn resolve(&self) -> Result<Links, RedisError> {
        let (host, port) = match (&self.sentinel, &self.cluster) {
            (Some(sentinel), _) => ask_sentinels(sentinel).await?,
            (None, Some(cluster)) => cluster.primary().await?,
            (None, None) => return Ok(self.links()),
        };
        let addr = match self.base.addr() {
            ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => ConnectionAddr::TcpTls {
                host: host.clone(),
                port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => ConnectionAddr::Tcp(host.clone(), port),
        };
        {
            let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
            if current.0 == addr {
                return Ok(current.1.clone());
            }
        }
        let info = self.base.clone().set_addr(addr.clone());
        let fresh = links(&info, &self.config, self.writers)?;
        tracing::info!(primary = %format_args!("{host}:{port}"), "a new Redis primary holds the event bus's keys; the subscription moves to it");
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = (addr, fresh.clone());
        Ok(fresh)
    }
}

impl Cluster {
    async fn conns(&self) -> Result<&Vec<ClusterConnection>, RedisError> {
        self.conns
            .get_or_try_init(|| async {
                let mut conns = Vec::with_capacity(self.count);
                for _ in 0..self.count {
                    conns.push(self.client.get_async_connection().await?);
                }
                Ok(conns)
            })
            .await
    }

    /// The address of the primary of the bus's slot, as that primary (per
    /// the client's slot map) sees the cluster.
    async fn primary(&self) -> Result<(String, u16), RedisError> {
        let mut conn = Conn::Cluster(self.conns().await?[0].clone());
        let ranges: Vec<Vec<Value>> = conn
            .on_slot(redis::cmd("CLUSTER").arg("SLOTS"), self.slot)
            .await?;
        primary_in(&ranges, self.slot)
    }
}

/// The primary serving `slot` in a `CLUSTER SLOTS` reply: ranges of
/// `[start, end, [host, port, id, ...], replicas...]`.
fn primary_in(ranges: &[Vec<Value>], slot: u16) -> Result<(String, u16), RedisError> {
    for range in ranges {
        let [start, end, master, ..] = range.as_slice() else {
            continue;
        };
        let start: u16 = redis::from_redis_value_ref(start)?;
        let end: u16 = redis::from_redis_value_ref(end)?;
        if !(start..=end).contains(&slot) {
            continue;
        }
        if let Value::Array(node) = master
            && let [host, port, ..] = node.as_slice()
        {
            return Ok((
                redis::from_redis_value_ref(host)?,
                redis::from_redis_value_ref(port)?,
            ));
        }
    }
    Err(RedisError::from((
        redis::ErrorKind::Io,
        "no Redis Cluster node serves the event bus's slot",
        slot.to_string(),
    )))
}

fn links(
    info: &ConnectionInfo,
    config: &ConnectionManagerConfig,
    writers: usize,
) -> Result<Links, RedisError> {
    let client = redis::Client::open(info.clone())?;
    let conn = client.get_connection_manager_lazy(config.clone())?;
    let mut all = vec![conn.clone()];
    for _ in 1..writers.max(1) {
        all.push(client.get_connection_manager_lazy(config.clone())?);
    }
    Ok(Links {
        client,
        conn,
        writers: all,
    })
}

/// The primary's address, from the first Sentinel that knows it.
async fn ask_sentinels(sentinel: &SentinelSettings) -> Result<(String, u16), RedisError> {
    let mut last_error = None;
    for node in &sentinel.nodes {
        match tokio::time::timeout(
            SENTINEL_TIMEOUT,
            ask(node, &sentinel.master, sentinel.auth.as_ref()),
        )
        .await
        {
            Ok(Ok(Some(addr))) => return Ok(addr),
            Ok(Ok(None)) => {
                last_error = Some(format!(
                    "Sentinel {node} knows no master {:?}",
                    sentinel.master
                ));
            }
            Ok(Err(error)) => last_error = Some(format!("Sentinel {node}: {error}")),
            Err(_) => last_error = Some(format!("Sentinel {node} did not answer")),
        }
    }
    Err(RedisError::from((
        redis::ErrorKind::Io,
        "no Sentinel named the Redis primary",
        last_error.unwrap_or_default(),
    )))
}

async fn ask(
    node: &str,
    master: &str,
    auth: Option<&SentinelAuth>,
) -> Result<Option<(String, u16)>, RedisError> {
    let client = redis::Client::open(sentinel_info(node, auth)?)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let reply: Option<(String, u16)> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(master)
        .query_async(&mut conn)
        .await?;
    Ok(reply)
}

/// How to reach the Sentinel at `node`, logging in with `auth` when given.
fn sentinel_info(node: &str, auth: Option<&SentinelAuth>) -> Result<ConnectionInfo, RedisError> {
    use secrecy::ExposeSecret;
    let info = format!("redis://{node}").into_connection_info()?;
    let Some(auth) = auth else { return Ok(info) };
    let mut login = info
        .redis_settings()
        .clone()
        .set_password(auth.password.expose_secret());
    if let Some(username) = &auth.username {
        login = login.set_username(username);
    }
    Ok(info.set_redis_settings(login))
}

/// Parses `GATEWAY_REDIS_SENTINELS`: comma-separated `host:port`.
pub fn parse_nodes(text: &str) -> Result<Vec<String>, String> {
    let nodes: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|node| !node.is_empty())
        .map(str::to_owned)
        .collect();
    if nodes.is_empty() {
        return Err("expected one or more host:port, comma-separated".to_owned());
    }
    for node in &nodes {
        let valid = node.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !valid {
            return Err(format!("{node:?} is not host:port"));
        }
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slots_primary_is_the_first_node_of_its_range() {
        let node = |host: &str, port: i64| {
            Value::Array(vec![
                Value::BulkString(host.as_bytes().to_vec()),
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
            ])
        };
        let ranges = vec![
            vec![
                Value::Int(0),
                Value::Int(5460),
                node("10.0.0.1", 7000),
                node("10.0.0.4", 7003),
            ],
            vec![Value::Int(5461), Value::Int(10922), node("10.0.0.2", 7001)],
        ];
        assert_eq!(
            primary_in(&ranges, 5461).unwrap(),
            ("10.0.0.2".to_owned(), 7001)
        );
        assert_eq!(
            primary_in(&ranges, 0).unwrap(),
            ("10.0.0.1".to_owned(), 7000)
        );
        assert!(primary_in(&ranges, 16000).is_err(), "an uncovered slot");
    }

    #[test]
    fn sentinels_are_asked_with_their_own_credentials_only_when_given() {
        let bare = sentinel_info("10.0.0.1:26379", None).unwrap();
        assert_eq!(bare.redis_settings().password(), None);
        assert_eq!(bare.redis_settings().username(), None);
        let auth = SentinelAuth {
            username: Some("gateway".to_owned()),
            password: "s3cret".into(),
        };
        let info = sentinel_info("10.0.0.1:26379", Some(&auth)).unwrap();
        assert_eq!(info.redis_settings().password(), Some("s3cret"));
        assert_eq!(info.redis_settings().username(), Some("gateway"));
        assert_eq!(
            info.addr(),
            &ConnectionAddr::Tcp("10.0.0.1".to_owned(), 26379)
        );
        assert!(!format!("{auth:?}").contains("s3cret"), "{auth:?}");
    }

    #[test]
    fn sentinel_nodes_are_host_port_pairs() {
        assert_eq!(
            parse_nodes("10.0.0.1:26379, sentinel-b:26379,").unwrap(),
            vec!["10.0.0.1:26379".to_owned(), "sentinel-b:26379".to_owned()]
        );
        for bad in ["", ",", "sentinel", "sentinel:", ":26379", "s:0", "s:99999"] {
            assert!(parse_nodes(bad).is_err(), "{bad:?}");
        }
    }
}
