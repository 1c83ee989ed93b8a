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
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut server = RedisServer {
            port,
            dir: tempfile::tempdir().expect("a temporary directory"),
            child: None,
            sentinel_of: None,
        };
        server.spawn();
        server
    }

    /// Starts a Sentinel on a free port watching `primary` as `master`
    /// (quorum 2, down after 1 s, so a failover takes a few seconds).
    pub fn start_sentinel(master: &str, primary: &RedisServer) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut server = RedisServer {
            port,
            dir: tempfile::tempdir().expect("a temporary directory"),
            child: None,
            sentinel_of: Some((master.to_owned(), primary.port)),
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
            None => format!(
                "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no \
                 --dir {dir} --logfile '' --loglevel warning",
                port = self.port,
                dir = self.dir.path().display(),
            ),
            Some((master, primary)) => {
                // Sentinel rewrites its configuration file: one of its own.
                let conf = self.dir.path().join("sentinel.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile \"\"\nloglevel warning\n\
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
        let mut reply = [0; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
