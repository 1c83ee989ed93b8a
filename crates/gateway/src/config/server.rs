//! The listeners and the limits every call lives within.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// Where the gateway listens, with what TLS, and within which limits.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Listeners and limits")]
pub struct ServerSettings {
    /// Address of the gRPC listener [default: 0.0.0.0:50051; 127.0.0.1:50051 under `sandbox`].
    #[arg(
        hide_default_value = true,
        global = true,
        long = "grpc-addr",
        env = "GATEWAY_GRPC_ADDR",
        value_name = "GATEWAY_GRPC_ADDR",
        default_value = "0.0.0.0:50051"
    )]
    pub grpc_addr: SocketAddr,

    /// Address of the HTTP listener (health, webhooks, metrics) [default: 0.0.0.0:8080;
    /// 127.0.0.1:8080 under `sandbox`].
    #[arg(
        hide_default_value = true,
        global = true,
        long = "http-addr",
        env = "GATEWAY_HTTP_ADDR",
        value_name = "GATEWAY_HTTP_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    pub http_addr: SocketAddr,

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
}
