//! A real `redis-server` for the tests, on a free port, never the machine's
//! own instance: no persistence, a temporary directory, killed when dropped
//! (or when the test process ends, even by a panic or a signal).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One redis-server process, restartable on the same port.
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// For a Sentinel: the master's name and port it watches.
    sentinel_of: Option<(String, u16)>,
    /// The password a Sentinel requires (`requirepass`), if any.
    password: Option<String>,
    /// A Redis Cluster node (its nodes.conf lives in `dir`, so it rejoins
    /// the cluster when restarted).
    cluster: bool,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING.
    pub fn start() -> Self {
        Self::launch(None, None, false)
    }

    /// Starts a node for a Redis Cluster (node timeout 1 s, so a failover
    /// takes a few seconds), not yet part of one: see [`RedisCluster`].
    pub fn start_cluster_node() -> Self {
        Self::launch(None, None, true)
    }

    /// Starts a Sentinel on a free port watching `primary` as `master`
    /// (quorum 2, down after 1 s, so a failover takes a few seconds).
    pub fn start_sentinel(master: &str, primary: &RedisServer) -> Self {
        Self::launch(Some((master.to_owned(), primary.port)), None, false)
    }

    /// Starts a Sentinel as [`RedisServer::start_sentinel`] does, requiring
    /// `password` of its clients (`requirepass`) and of the other Sentinels
    /// (`sentinel sentinel-pass`), as managed deployments set them up.
    pub fn start_sentinel_with_password(
        master: &str,
        primary: &RedisServer,
        password: &str,
    ) -> Self {
        Self::launch(
            Some((master.to_owned(), primary.port)),
            Some(password.to_owned()),
            false,
        )
    }

    fn launch(sentinel_of: Option<(String, u16)>, password: Option<String>, cluster: bool) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut server = RedisServer {
            port,
            dir: tempfile::tempdir().expect("a temporary directory"),
            child: None,
            sentinel_of,
            password,
            cluster,
        };
        server.spawn();
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Makes this server a replica of `primary` and waits (10 s at most)
    /// until it has synchronised.
    pub fn replicate(&self, primary: &RedisServer) {
        let reply = self.command(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]);
        assert!(reply.contains("OK"), "REPLICAOF: {reply}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self
            .command(&["INFO", "replication"])
            .contains("master_link_status:up")
        {
            assert!(
                Instant::now() < deadline,
                "the replica did not sync within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server abruptly (its data is lost: no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Closing the wrapper's stdin makes it kill -9 the server.
            drop(child.stdin.take());
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "redis-server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server and starts an empty one on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Runs one command with `redis-cli`-free RESP, returning the raw reply.
    pub fn command(&self, args: &[&str]) -> String {
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("redis answers");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        if let Some(password) = &self.password {
            let mut ok = [0; 5];
            stream.write_all(&auth(password)).unwrap();
            stream.read_exact(&mut ok).unwrap();
            assert_eq!(&ok, b"+OK\r\n", "the Sentinel accepts its password");
        }
        stream.write_all(request.as_bytes()).unwrap();
        let mut reply = vec![0; 64 * 1024];
        let n = stream.read(&mut reply).unwrap();
        String::from_utf8_lossy(&reply[..n]).into_owned()
    }

    fn spawn(&mut self) {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            panic!(
                "redis-server is not installed; the Redis bus tests need it \
                 (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)"
            );
        }
        // The wrapper ties the server's life to the test process: when the
        // test process ends for any reason, its stdin closes and it kills
        // the server.
        let server = match &self.sentinel_of {
            None if self.cluster => format!(
                "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no \
                 --dir {dir} --logfile '' --loglevel warning --cluster-enabled yes \
                 --cluster-config-file {dir}/nodes.conf --cluster-node-timeout 1000",
                port = self.port,
                dir = self.dir.path().display(),
            ),
            None => format!(
                "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no \
                 --dir {dir} --logfile '' --loglevel warning",
                port = self.port,
                dir = self.dir.path().display(),
            ),
            Some((master, primary)) => {
                // Sentinel rewrites its configuration file: one of its own.
                let conf = self.dir.path().join("sentinel.conf");
                let login = self.password.as_ref().map_or_else(String::new, |password| {
                    format!("requirepass {password}\nsentinel sentinel-pass {password}\n")
                });
                std::fs::write(
                    &conf,
                    format!(
                        "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile \"\"\nloglevel warning\n\
                         {login}\
                         sentinel monitor {master} 127.0.0.1 {primary} 2\n\
                         sentinel down-after-milliseconds {master} 1000\n\
                         sentinel failover-timeout {master} 5000\n\
                         sentinel parallel-syncs {master} 1\n",
                        port = self.port,
                        dir = self.dir.path().display(),
                    ),
                )
                .expect("the Sentinel's configuration is written");
                format!("redis-server {} --sentinel", conf.display())
            }
        };
        let script =
            format!("{server} >/dev/null & pid=$!; cat >/dev/null; kill -9 $pid; wait $pid");
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh runs");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.pings() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on port {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pings(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if let Some(password) = &self.password {
            let mut ok = [0; 5];
            if stream.write_all(&auth(password)).is_err()
                || stream.read_exact(&mut ok).is_err()
                || &ok != b"+OK\r\n"
            {
                return false;
            }
        }
        let mut reply = [0; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

/// `AUTH password` as RESP.
fn auth(password: &str) -> Vec<u8> {
    format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{password}\r\n", password.len()).into_bytes()
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis Cluster of three primaries with one replica each, on free ports,
/// killed when dropped.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts six nodes, joins them (`redis-cli --cluster create`) and waits
    /// until every node reports `cluster_state:ok` and every replica is in
    /// sync.
    pub fn start() -> Self {
        let nodes: Vec<RedisServer> = (0..6).map(|_| RedisServer::start_cluster_node()).collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let output = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs (it comes with redis-server)");
        assert!(
            output.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = RedisCluster { nodes };
        cluster.wait_ok();
        cluster
    }

    /// Waits (30 s at most) until every running node reports
    /// `cluster_state:ok` and every replica among them is in sync.
    pub fn wait_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for node in self.nodes.iter().filter(|node| node.child.is_some()) {
            loop {
                let ok = node
                    .command(&["CLUSTER", "INFO"])
                    .contains("cluster_state:ok");
                let replication = node.command(&["INFO", "replication"]);
                let synced = replication.contains("role:master")
                    || replication.contains("master_link_status:up");
                if ok && synced {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the Redis Cluster was not ok within 30 s"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// A URL naming one node (the first).
    pub fn url(&self) -> String {
        self.nodes[0].url()
    }

    /// The index in `nodes` of the primary serving `key`'s slot, as the
    /// first running node that knows one (not failed) sees it.
    pub fn primary_of(&self, key: &str) -> Option<usize> {
        for node in &self.nodes {
            if node.child.is_none() {
                continue;
            }
            let reply = node.command(&["CLUSTER", "KEYSLOT", key]);
            let Some(slot) = reply
                .trim()
                .strip_prefix(':')
                .and_then(|n| n.parse::<u16>().ok())
            else {
                continue;
            };
            // The node whose own line in CLUSTER NODES is a master owning
            // the slot.
            let nodes = node.command(&["CLUSTER", "NODES"]);
            for line in nodes.lines() {
                let fields: Vec<&str> = line.split(' ').collect();
                if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                    continue;
                }
                let owns = fields[8..].iter().any(|range| {
                    let mut ends = range.split('-');
                    let start = ends.next().and_then(|n| n.parse::<u16>().ok());
                    let end = ends.next().and_then(|n| n.parse::<u16>().ok()).or(start);
                    matches!((start, end), (Some(s), Some(e)) if (s..=e).contains(&slot))
                });
                if !owns {
                    continue;
                }
                let port = fields[1]
                    .split('@')
                    .next()
                    .and_then(|addr| addr.rsplit(':').next())
                    .and_then(|port| port.parse::<u16>().ok());
                if let Some(found) = self.nodes.iter().position(|n| Some(n.port) == port) {
                    return Some(found);
                }
            }
        }
        None
    }
}
