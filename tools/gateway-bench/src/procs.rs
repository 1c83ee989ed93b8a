//! The processes a scenario runs against: the gateway binary, pinned to its
//! cores, and a throwaway `redis-server`, both on free loopback ports and
//! killed when dropped.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use telnyx_sim::Signer;

/// The caller the bench authenticates as, and its token.
pub const BENCH_TOKEN: &str = "bench-token-0123456789abcdef";

/// Why a gateway did not start.
#[derive(Debug)]
pub enum StartError {
    /// The gateway refused the settings (exit 2): a feature it does not have.
    Refused(String),
    /// Anything else.
    Failed(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Refused(why) => write!(f, "the gateway refused the settings: {why}"),
            StartError::Failed(why) => write!(f, "the gateway did not start: {why}"),
        }
    }
}

/// The machine's cores, whatever this process is pinned to.
pub fn machine_cores() -> usize {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|info| info.lines().filter(|l| l.starts_with("processor")).count())
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// The gateway binary: `--gateway-bin`, else `conference-gateway` next to
/// this binary (cargo builds both into the same directory).
pub fn gateway_binary(explicit: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    let here = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = here.parent().ok_or("the bench binary has no directory")?;
    // Integration tests run from target/<profile>/deps.
    for candidate in [
        dir.join("conference-gateway"),
        dir.join("../conference-gateway"),
    ] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(format!(
        "conference-gateway is not built next to {}: run `cargo build --release` first \
         or pass --gateway-bin",
        here.display()
    ))
}

/// Whether the gateway binary knows a setting, from its `--help`.
pub fn gateway_knows(binary: &PathBuf, variable: &str) -> bool {
    Command::new(binary)
        .arg("--help")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains(variable))
        .unwrap_or(false)
}

/// How to start a gateway.
#[derive(Debug, Clone)]
pub struct GatewaySpec {
    pub binary: PathBuf,
    /// Cores it is pinned to with `taskset` (0..cores), when taskset exists.
    pub cores: usize,
    /// `TELNYX_BASE_URL`.
    pub upstream: String,
    /// Extra environment (`REDIS_URL`, queue sizes, ...).
    pub env: Vec<(String, String)>,
}

/// A running gateway, killed on drop.
pub struct Gateway {
    child: Child,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// The key its `TELNYX_PUBLIC_KEY` belongs to.
    pub key: Signer,
    /// How many cores it was given.
    pub cores: usize,
}

/// A command running `binary` pinned with `taskset` to CPUs 0..cores-1
/// when taskset is there, and how many cores that leaves it: every process
/// measured (the gateway and the floors) is started through this, so all
/// are pinned the same way.
pub fn pinned_command(binary: &std::path::Path, cores: usize) -> (Command, usize) {
    let machine = machine_cores();
    let cores = cores.clamp(1, machine);
    if taskset_available() {
        let mut command = Command::new("taskset");
        command
            .arg("-c")
            .arg(format!("0-{}", cores - 1))
            .arg(binary);
        (command, cores)
    } else {
        (Command::new(binary), machine)
    }
}

/// CPU time process `pid` has used so far (user + system), in seconds.
pub fn cpu_seconds_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are
    // the 14th and 15th fields, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn taskset_available() -> bool {
    Command::new("taskset")
        .args(["-c", "0", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

impl Gateway {
    pub fn start(spec: &GatewaySpec) -> Result<Gateway, StartError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| StartError::Failed(e.to_string()))?;
        let key = Signer::from_seed(seed);
        let public = key.public_key_base64();
        let grpc_addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let http_addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let (mut command, cores) = pinned_command(&spec.binary, spec.cores);
        let stderr = tempfile_path();
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "error")
            .env("TELNYX_API_KEY", "KEYBENCH0123456789")
            .env("TELNYX_BASE_URL", &spec.upstream)
            .env("TELNYX_PUBLIC_KEY", public)
            .env("GATEWAY_AUTH_TOKENS", format!("bench:{BENCH_TOKEN}"))
            .env("GATEWAY_GRPC_ADDR", grpc_addr.to_string())
            .env("GATEWAY_HTTP_ADDR", http_addr.to_string())
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(&stderr)
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            );
        let child = command
            .spawn()
            .map_err(|e| StartError::Failed(format!("{}: {e}", spec.binary.display())))?;
        let mut gateway = Gateway {
            child,
            grpc_addr,
            http_addr,
            key,
            cores,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = gateway.child.try_wait() {
                let said = std::fs::read_to_string(&stderr).unwrap_or_default();
                let said = said.lines().last().unwrap_or("").to_owned();
                let _ = std::fs::remove_file(&stderr);
                return Err(if status.code() == Some(2) {
                    StartError::Refused(said)
                } else {
                    StartError::Failed(format!("exited with {status}: {said}"))
                });
            }
            if http_ok(http_addr, "/readyz") && TcpStream::connect(grpc_addr).is_ok() {
                let _ = std::fs::remove_file(&stderr);
                return Ok(gateway);
            }
            if Instant::now() > deadline {
                return Err(StartError::Failed("not ready within 20 s".into()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The gateway's resident memory (VmRSS), in bytes.
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// CPU time the gateway has used so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds_of(self.pid())
    }

    /// Keeps the bench itself (load generators, subscribers, upstream) off
    /// the gateway's cores, so the two do not take each other's CPU. Call
    /// before any thread starts: threads inherit the affinity. Returns the
    /// bench's cores, when it could be pinned.
    pub fn pin_bench_away(gateway_cores: usize) -> Option<String> {
        let machine = machine_cores();
        if machine <= gateway_cores || !taskset_available() {
            return None;
        }
        let cpus = format!("{gateway_cores}-{}", machine - 1);
        Command::new("taskset")
            .args(["-p", "-c", &cpus, &std::process::id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
            .then_some(cpus)
    }

    /// Whether gateways are pinned to their cores (taskset is there).
    pub fn pinning_available() -> bool {
        taskset_available()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tempfile_path() -> PathBuf {
    std::env::temp_dir().join(format!(
        "gateway-bench-{}-{}.stderr",
        std::process::id(),
        fastrand::u64(..)
    ))
}

/// A plain `GET` answered 200, over one short HTTP/1.0 exchange.
fn http_ok(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if write!(stream, "GET {path} HTTP/1.0\r\nhost: bench\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).is_ok()
        && answer.starts_with(b"HTTP/1.")
        && &answer[9..12] == b"200"
}

/// A `redis-server` on a free port, without persistence, killed on drop.
pub struct Redis {
    child: Child,
    pub port: u16,
}

impl Redis {
    pub fn start() -> Result<Redis, String> {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server: {e}"))?;
        let redis = Redis { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
                let mut pong = [0u8; 7];
                if stream.write_all(b"PING\r\n").is_ok()
                    && stream.read_exact(&mut pong).is_ok()
                    && &pong == b"+PONG\r\n"
                {
                    return Ok(redis);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("redis-server did not answer PING within 10 s".into())
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
