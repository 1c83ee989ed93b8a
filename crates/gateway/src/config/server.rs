//! The listeners and the limits every call lives within.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;

/// Where the gateway listens, with what TLS, and within which limits.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Listeners and limits")]
pub struct ServerSettings {
    /// Address of the gRPC listener, `ip:port` or `host:port` [default: 0.0.0.0:50051;
    /// 127.0.0.1:50051 under `sandbox`].
    #[arg(
        hide_default_value = true,
        global = true,
        long = "grpc-addr",
        env = "GATEWAY_GRPC_ADDR",
        value_name = "GATEWAY_GRPC_ADDR",
        default_value = "0.0.0.0:50051"
    )]
    pub grpc_addr: ListenAddr,

    /// Address of the HTTP listener (health, webhooks, metrics), `ip:port` or `host:port`
    /// [default: 0.0.0.0:8080; 127.0.0.1:8080 under `sandbox`].
    #[arg(
        hide_default_value = true,
        global = true,
        long = "http-addr",
        env = "GATEWAY_HTTP_ADDR",
        value_name = "GATEWAY_HTTP_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    pub http_addr: ListenAddr,

    /// PEM certificate chain for gRPC over TLS (with GATEWAY_TLS_KEY).
    #[arg(
        global = true,
        long = "tls-cert",
        env = "GATEWAY_TLS_CERT",
        value_name = "GATEWAY_TLS_CERT",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for gRPC over TLS (with GATEWAY_TLS_CERT).
    #[arg(
        global = true,
        long = "tls-key",
        env = "GATEWAY_TLS_KEY",
        value_name = "GATEWAY_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// PEM CA bundle: when set, callers must present a client certificate it signed (mutual TLS).
    #[arg(
        global = true,
        long = "tls-client-ca",
        env = "GATEWAY_TLS_CLIENT_CA",
        value_name = "GATEWAY_TLS_CLIENT_CA",
        requires = "tls_cert"
    )]
    pub tls_client_ca: Option<PathBuf>,

    /// Deadline, in seconds, for control calls whose caller set none, so no
    /// call (retries included) can hang on forever.
    #[arg(global = true, long = "default-deadline-secs", env = "GATEWAY_DEFAULT_DEADLINE_SECS", value_name = "GATEWAY_DEFAULT_DEADLINE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub default_deadline_secs: u64,

    /// Seconds in-flight calls get to finish after SIGTERM before the process exits.
    #[arg(global = true, long = "shutdown-grace-secs", env = "GATEWAY_SHUTDOWN_GRACE_SECS", value_name = "GATEWAY_SHUTDOWN_GRACE_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_secs: u64,

    /// Concurrent control calls beyond which calls are refused with RESOURCE_EXHAUSTED.
    #[arg(global = true, long = "max-concurrent-calls", env = "GATEWAY_MAX_CONCURRENT_CALLS", value_name = "GATEWAY_MAX_CONCURRENT_CALLS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_concurrent_calls: u32,

    /// Largest gRPC message accepted or sent, in bytes, by every service.
    #[arg(global = true, long = "max-message-bytes", env = "GATEWAY_MAX_MESSAGE_BYTES", value_name = "GATEWAY_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024, value_parser = clap::value_parser!(u32).range(1024..))]
    pub max_message_bytes: u32,

    /// Milliseconds an HTTP client has to send a request's headers, from the
    /// moment the gateway waits for them; slower connections are closed.
    #[arg(global = true, long = "http-header-timeout-ms", env = "GATEWAY_HTTP_HEADER_TIMEOUT_MS", value_name = "GATEWAY_HTTP_HEADER_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub http_header_timeout_ms: u64,

    /// Milliseconds one HTTP request may take once its headers are in, body
    /// included; beyond it the gateway answers 408 (Telnyx delivers the
    /// webhook again).
    #[arg(global = true, long = "http-body-timeout-ms", env = "GATEWAY_HTTP_BODY_TIMEOUT_MS", value_name = "GATEWAY_HTTP_BODY_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub http_body_timeout_ms: u64,

    /// Milliseconds an HTTP connection may stay open without a request in
    /// progress (keep-alive) before the gateway closes it.
    #[arg(global = true, long = "http-idle-timeout-ms", env = "GATEWAY_HTTP_IDLE_TIMEOUT_MS", value_name = "GATEWAY_HTTP_IDLE_TIMEOUT_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub http_idle_timeout_ms: u64,

    /// Open HTTP connections the gateway serves. At the cap, a new connection
    /// replaces the one that has waited longest for a request; when every one
    /// is mid-request, it is served on a small reserve that answers only the
    /// probes (`/healthz`, `/readyz`, `/metrics`).
    #[arg(global = true, long = "http-max-connections", env = "GATEWAY_HTTP_MAX_CONNECTIONS", value_name = "GATEWAY_HTTP_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub http_max_connections: u32,

    /// Open streams (`Subscribe`, `Watch*`, health `Watch`) one caller may
    /// hold at once; more is RESOURCE_EXHAUSTED. Unauthenticated streams
    /// (health `Watch`, or every stream under GATEWAY_ALLOW_UNAUTHENTICATED)
    /// share the caller `anonymous`.
    #[arg(global = true, long = "max-streams-per-caller", env = "GATEWAY_MAX_STREAMS_PER_CALLER", value_name = "GATEWAY_MAX_STREAMS_PER_CALLER", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_streams_per_caller: u32,

    /// Open streams one gRPC connection may carry at once; more is
    /// RESOURCE_EXHAUSTED.
    #[arg(global = true, long = "max-streams-per-connection", env = "GATEWAY_MAX_STREAMS_PER_CONNECTION", value_name = "GATEWAY_MAX_STREAMS_PER_CONNECTION", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_streams_per_connection: u32,
}

impl ServerSettings {
    /// The caps on open streams.
    pub fn stream_caps(&self) -> crate::grpc::StreamCaps {
        crate::grpc::StreamCaps {
            per_caller: self.max_streams_per_caller as usize,
            per_connection: self.max_streams_per_connection as usize,
        }
    }

    /// The HTTP listener's timeouts and connection cap.
    pub fn http_limits(&self) -> crate::http::connections::HttpLimits {
        crate::http::connections::HttpLimits {
            header_timeout: Duration::from_millis(self.http_header_timeout_ms),
            request_timeout: Duration::from_millis(self.http_body_timeout_ms),
            idle_timeout: Duration::from_millis(self.http_idle_timeout_ms),
            max_connections: self.http_max_connections as usize,
        }
    }
}

/// Where a listener binds: an IP address, or a host name resolved when the
/// gateway starts (`localhost:50051`, a pod's own name), with a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    Ip(SocketAddr),
    Host { host: String, port: u16 },
}

impl ListenAddr {
    /// Whether only this machine can reach the listener: a loopback IP, or
    /// `localhost`, which resolves to loopback only (RFC 6761). Other host
    /// names are not resolved to find out, so they count as reachable.
    pub fn is_loopback(&self) -> bool {
        match self {
            ListenAddr::Ip(addr) => addr.ip().is_loopback(),
            ListenAddr::Host { host, .. } => {
                host.eq_ignore_ascii_case("localhost")
                    || host.to_ascii_lowercase().ends_with(".localhost")
            }
        }
    }
}

impl From<SocketAddr> for ListenAddr {
    fn from(addr: SocketAddr) -> Self {
        ListenAddr::Ip(addr)
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Ip(addr) => addr.fmt(f),
            ListenAddr::Host { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// Why a listen address does not parse; clap prints it after the setting's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected ip:port or host:port (0.0.0.0:50051, [::]:50051, localhost:50051), {0}")]
pub struct InvalidListenAddr(&'static str);

impl FromStr for ListenAddr {
    type Err = InvalidListenAddr;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(ListenAddr::Ip(addr));
        }
        let (host, port) = text
            .rsplit_once(':')
            .ok_or(InvalidListenAddr("the port is missing"))?;
        let port = port
            .parse::<u16>()
            .map_err(|_| InvalidListenAddr("the port is not a number from 0 to 65535"))?;
        if host.parse::<IpAddr>().is_ok() || host.starts_with('[') || host.contains(':') {
            return Err(InvalidListenAddr("IPv6 addresses go in brackets"));
        }
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
            return Err(InvalidListenAddr("the host is not a valid host name"));
        }
        Ok(ListenAddr::Host {
            host: host.to_owned(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_limits_default_as_documented_and_refuse_nonsense() {
        use clap::Parser as _;
        let parse = |args: &[&str]| {
            crate::config::Config::try_parse_from(
                std::iter::once("conference-gateway").chain(args.iter().copied()),
            )
        };
        assert_eq!(
            parse(&[]).unwrap().server.http_limits(),
            crate::http::connections::HttpLimits {
                header_timeout: Duration::from_secs(10),
                request_timeout: Duration::from_secs(30),
                idle_timeout: Duration::from_secs(60),
                max_connections: 1024,
            }
        );
        for (flag, bad) in [
            ("--http-max-connections", "0"),
            ("--http-header-timeout-ms", "10"),
            ("--http-body-timeout-ms", "600001"),
            ("--http-idle-timeout-ms", "x"),
        ] {
            let error = parse(&[flag, bad]).unwrap_err().to_string();
            assert!(error.contains(flag), "{flag}: {error}");
        }
    }

    #[test]
    fn listen_addresses_take_ips_and_host_names() {
        assert_eq!(
            "0.0.0.0:50051".parse::<ListenAddr>(),
            Ok(ListenAddr::Ip("0.0.0.0:50051".parse().unwrap()))
        );
        assert_eq!(
            "[::1]:8080".parse::<ListenAddr>().unwrap().to_string(),
            "[::1]:8080"
        );
        let host = "localhost:50051".parse::<ListenAddr>().unwrap();
        assert_eq!(
            host,
            ListenAddr::Host {
                host: "localhost".into(),
                port: 50051
            }
        );
        assert_eq!(host.to_string(), "localhost:50051");
        assert!(host.is_loopback());
        let pod = "gateway-0.gateway.default.svc:8080"
            .parse::<ListenAddr>()
            .unwrap();
        assert!(!pod.is_loopback());
        assert!(!"0.0.0.0:1".parse::<ListenAddr>().unwrap().is_loopback());
    }

    #[test]
    fn a_bad_listen_address_says_what_is_wrong() {
        for (bad, says) in [
            ("localhost", "port is missing"),
            ("localhost:http", "not a number"),
            ("localhost:70000", "not a number"),
            ("::1:50051", "brackets"),
            (":50051", "not a valid host name"),
            ("bad_host:1", "not a valid host name"),
            ("-x.example:1", "not a valid host name"),
        ] {
            let error = bad.parse::<ListenAddr>().unwrap_err().to_string();
            assert!(error.contains(says), "{bad}: {error}");
            assert!(
                error.starts_with("expected ip:port or host:port"),
                "{error}"
            );
        }
    }
}
