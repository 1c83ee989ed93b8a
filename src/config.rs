//! Settings: every one a command-line flag and an environment variable.
//!
//! A typo in a variable name is the most common way to misconfigure a service
//! without noticing, so a `GATEWAY_*` or `TELNYX_*` variable the gateway does
//! not know is refused at start, like a malformed value.

use std::{
    convert::Infallible,
    ffi::OsString,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

use crate::events::{MemoryBusSettings, RedisBusSettings};
use crate::sandbox::SandboxArgs;
use crate::telnyx::{RetryPolicy, TelnyxConfig};
use crate::webhook::{KeyError, PublicKeys, WebhookSettings};

/// Prefixes of the environment variables the gateway reads.
const OWN_PREFIXES: [&str; 2] = ["GATEWAY_", "TELNYX_"];

/// gRPC gateway to Telnyx conferences, queues, call control and their events.
#[derive(Debug, Clone, Parser)]
#[command(name = "conference-gateway", version, about, args_override_self = true)]
// Every setting is global so it may follow a subcommand too
// (`conference-gateway sandbox --grpc-addr ...`).
#[command(mut_args(|arg| arg.global(true)))]
pub struct Config {
    /// What to run; without one, the gateway against Telnyx.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Telnyx API key the gateway calls Telnyx with (never logged).
    #[arg(long, env = "TELNYX_API_KEY", value_name = "TELNYX_API_KEY", value_parser = parse_secret, hide_env_values = true)]
    pub telnyx_api_key: Option<SecretString>,

    /// Base URL of Telnyx's REST API.
    #[arg(
        long,
        env = "TELNYX_BASE_URL",
        default_value = "https://api.telnyx.com/v2"
    )]
    pub telnyx_base_url: reqwest::Url,

    /// Upper bound, in seconds, for one request to Telnyx; a caller's shorter
    /// gRPC deadline wins.
    #[arg(long, env = "TELNYX_TIMEOUT_SECS", value_name = "TELNYX_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub telnyx_timeout_secs: u64,

    /// How many times a failed Telnyx request is retried (408, 409, 429, 5xx,
    /// connection errors), with capped, jittered backoff.
    #[arg(long, env = "TELNYX_MAX_RETRIES", value_name = "TELNYX_MAX_RETRIES", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub telnyx_max_retries: u32,

    /// Deadline, in seconds, for control calls whose caller set none, so no
    /// call (retries included) can hang on forever.
    #[arg(long, env = "GATEWAY_DEFAULT_DEADLINE_SECS", value_name = "GATEWAY_DEFAULT_DEADLINE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub default_deadline_secs: u64,

    /// Address of the gRPC listener.
    #[arg(
        long,
        env = "GATEWAY_GRPC_ADDR",
        value_name = "GATEWAY_GRPC_ADDR",
        default_value = "0.0.0.0:50051"
    )]
    pub grpc_addr: SocketAddr,

    /// Address of the HTTP listener (health, webhooks, metrics).
    #[arg(
        long,
        env = "GATEWAY_HTTP_ADDR",
        value_name = "GATEWAY_HTTP_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    pub http_addr: SocketAddr,

    /// Callers allowed to use the gateway: comma-separated `name:token` pairs.
    #[arg(long, env = "GATEWAY_AUTH_TOKENS", value_name = "GATEWAY_AUTH_TOKENS", value_parser = parse_secret, hide_env_values = true)]
    pub auth_tokens: Option<SecretString>,

    /// A file of `name:token` lines (`#` comments), re-read when it changes.
    #[arg(
        long,
        env = "GATEWAY_AUTH_TOKENS_FILE",
        value_name = "GATEWAY_AUTH_TOKENS_FILE"
    )]
    pub auth_tokens_file: Option<PathBuf>,

    /// Run without caller authentication (a warning is logged at start).
    #[arg(long, env = "GATEWAY_ALLOW_UNAUTHENTICATED", value_name = "GATEWAY_ALLOW_UNAUTHENTICATED", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_unauthenticated: bool,

    /// PEM certificate chain for gRPC over TLS (with GATEWAY_TLS_KEY).
    #[arg(
        long,
        env = "GATEWAY_TLS_CERT",
        value_name = "GATEWAY_TLS_CERT",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for gRPC over TLS (with GATEWAY_TLS_CERT).
    #[arg(
        long,
        env = "GATEWAY_TLS_KEY",
        value_name = "GATEWAY_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// PEM CA bundle: when set, callers must present a client certificate it signed (mutual TLS).
    #[arg(
        long,
        env = "GATEWAY_TLS_CLIENT_CA",
        value_name = "GATEWAY_TLS_CLIENT_CA",
        requires = "tls_cert"
    )]
    pub tls_client_ca: Option<PathBuf>,

    /// Seconds in-flight calls get to finish after SIGTERM before the process exits.
    #[arg(long, env = "GATEWAY_SHUTDOWN_GRACE_SECS", value_name = "GATEWAY_SHUTDOWN_GRACE_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_secs: u64,

    /// Concurrent control calls beyond which calls are refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "GATEWAY_MAX_CONCURRENT_CALLS", value_name = "GATEWAY_MAX_CONCURRENT_CALLS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_concurrent_calls: u32,

    /// Largest gRPC message accepted or sent, in bytes.
    #[arg(long, env = "GATEWAY_MAX_MESSAGE_BYTES", value_name = "GATEWAY_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024, value_parser = clap::value_parser!(u32).range(1024..))]
    pub max_message_bytes: u32,
    /// Telnyx's base64 Ed25519 public key, which webhooks must be signed with
    /// (Mission Control, Keys & Credentials). Comma-separate several to rotate:
    /// a signature valid under any of them passes.
    #[arg(long, env = "TELNYX_PUBLIC_KEY", value_name = "TELNYX_PUBLIC_KEY")]
    pub telnyx_public_key: Option<String>,

    /// How far, in seconds, a webhook's `telnyx-timestamp` may be from now,
    /// either way, before it is refused as a replay.
    #[arg(long, env = "GATEWAY_WEBHOOK_TOLERANCE_SECS", value_name = "GATEWAY_WEBHOOK_TOLERANCE_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub webhook_tolerance_secs: u64,

    /// The largest webhook body accepted, in bytes.
    #[arg(long, env = "GATEWAY_WEBHOOK_MAX_BODY_BYTES", value_name = "GATEWAY_WEBHOOK_MAX_BODY_BYTES", default_value_t = 1_048_576, value_parser = clap::value_parser!(u64).range(1024..=67_108_864))]
    pub webhook_max_body_bytes: u64,

    /// A webhook whose event id was accepted less than this many seconds ago
    /// is a duplicate: answered 200, not delivered again.
    #[arg(long, env = "GATEWAY_EVENT_DEDUPE_WINDOW_SECS", value_name = "GATEWAY_EVENT_DEDUPE_WINDOW_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub event_dedupe_window_secs: u64,

    /// How many recent events are kept for subscribers resuming from a cursor.
    #[arg(long, env = "GATEWAY_EVENT_HISTORY", value_name = "GATEWAY_EVENT_HISTORY", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub event_history: u64,

    /// How many events may wait for one subscriber; a subscriber further
    /// behind is cut off with RESOURCE_EXHAUSTED and a cursor to resume from.
    #[arg(long, env = "GATEWAY_EVENT_SUBSCRIBER_QUEUE", value_name = "GATEWAY_EVENT_SUBSCRIBER_QUEUE", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub event_subscriber_queue: u64,

    /// Redis for the event bus shared by several replicas (`redis://` or
    /// `rediss://`, password and database in the URL). Unset: the in-process
    /// bus, for one replica.
    #[arg(long, env = "REDIS_URL", value_name = "REDIS_URL", value_parser = parse_redis_url, hide_env_values = true)]
    pub redis_url: Option<SecretString>,

    /// Namespaces every Redis key and channel of the event bus, so several
    /// deployments can share one Redis.
    #[arg(
        long,
        env = "GATEWAY_REDIS_PREFIX",
        value_name = "GATEWAY_REDIS_PREFIX",
        default_value = "conference-gateway"
    )]
    pub redis_prefix: String,

    /// Approximately how many recent events the Redis bus keeps for
    /// subscribers resuming from a cursor (trimmed in blocks, never below this).
    #[arg(long, env = "GATEWAY_REDIS_HISTORY", value_name = "GATEWAY_REDIS_HISTORY", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub redis_history: u64,

    /// Log format; the level comes from RUST_LOG (default `info`).
    #[arg(long, env = "GATEWAY_LOG_FORMAT", value_name = "GATEWAY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// What the binary runs instead of the gateway alone.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the gateway and a simulated Telnyx in one process, on loopback,
    /// with a generated webhook key and caller token: no Telnyx account needed.
    Sandbox(SandboxArgs),
}

/// The sandbox's listeners when their settings are left unset: loopback, not
/// every interface, because the sandbox prints its caller token.
const SANDBOX_GRPC_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50051);
const SANDBOX_HTTP_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A setting that stops the gateway from starting. Printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("TELNYX_API_KEY is not set: the gateway needs the Telnyx API key to call Telnyx")]
    MissingApiKey,
    #[error(
        "TELNYX_PUBLIC_KEY is not set: the gateway needs Telnyx's public key to verify webhooks \
         (Mission Control, Keys & Credentials)"
    )]
    MissingPublicKey,
    #[error(
        "TELNYX_PUBLIC_KEY is malformed: {0}; expected base64 Ed25519 public keys, comma-separated"
    )]
    MalformedPublicKey(KeyError),
    #[error("{name} is not a setting of this gateway (known: {known})")]
    UnknownVariable { name: String, known: String },
}

impl Config {
    /// Reads the command line and the environment, exiting with clap's
    /// message (status 2) when they do not parse.
    pub fn load() -> Config {
        Config::try_load_from(std::env::args_os()).unwrap_or_else(|error| error.exit())
    }

    /// Like [`Parser::try_parse_from`], and under `sandbox` a listener whose
    /// address was left unset defaults to loopback instead of every interface.
    pub fn try_load_from<I, T>(args: I) -> Result<Config, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Config::command().try_get_matches_from(args)?;
        let mut config = Config::from_arg_matches(&matches)?;
        if matches!(config.command, Some(Command::Sandbox(_))) {
            if is_default(&matches, "grpc_addr") {
                config.grpc_addr = SANDBOX_GRPC_ADDR;
            }
            if is_default(&matches, "http_addr") {
                config.http_addr = SANDBOX_HTTP_ADDR;
            }
        }
        Ok(config)
    }

    /// Checks what clap cannot: required secrets and keys, and unknown variables.
    pub fn validate(
        &self,
        environment: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        let known = known_variables();
        for (name, _) in environment {
            if OWN_PREFIXES.iter().any(|p| name.starts_with(p)) && !known.contains(&name) {
                return Err(ConfigError::UnknownVariable {
                    name,
                    known: known.join(", "),
                });
            }
        }
        if self.telnyx_api_key.is_none() {
            return Err(ConfigError::MissingApiKey);
        }
        self.public_keys()?;
        Ok(())
    }

    /// The keys webhooks must be signed with.
    pub fn public_keys(&self) -> Result<PublicKeys, ConfigError> {
        self.telnyx_public_key
            .as_deref()
            .ok_or(ConfigError::MissingPublicKey)?
            .parse()
            .map_err(ConfigError::MalformedPublicKey)
    }

    /// The webhook route's settings. Call after [`Config::validate`].
    pub fn webhook(&self) -> Result<WebhookSettings, ConfigError> {
        Ok(WebhookSettings {
            keys: self.public_keys()?,
            tolerance: Duration::from_secs(self.webhook_tolerance_secs),
            max_body_bytes: saturating_usize(self.webhook_max_body_bytes),
        })
    }

    /// The memory bus's sizes.
    pub fn memory_bus(&self) -> MemoryBusSettings {
        MemoryBusSettings {
            dedupe_window: Duration::from_secs(self.event_dedupe_window_secs),
            history: saturating_usize(self.event_history),
            subscriber_queue: saturating_usize(self.event_subscriber_queue),
        }
    }

    /// The Redis bus's settings, when `REDIS_URL` is set.
    pub fn redis_bus(&self) -> Option<RedisBusSettings> {
        let url = self.redis_url.as_ref()?;
        Some(RedisBusSettings {
            url: secrecy::ExposeSecret::expose_secret(url).to_owned(),
            prefix: self.redis_prefix.clone(),
            history: self.redis_history,
            dedupe_window: Duration::from_secs(self.event_dedupe_window_secs),
            subscriber_queue: saturating_usize(self.event_subscriber_queue),
            connect_wait: Duration::from_secs(5),
        })
    }

    /// The Telnyx client's settings. Call after [`Config::validate`].
    pub fn telnyx(&self) -> Result<TelnyxConfig, ConfigError> {
        Ok(TelnyxConfig {
            api_key: self
                .telnyx_api_key
                .clone()
                .ok_or(ConfigError::MissingApiKey)?,
            base_url: self.telnyx_base_url.clone(),
            timeout: Duration::from_secs(self.telnyx_timeout_secs),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                max_retries: self.telnyx_max_retries,
            },
        })
    }
}

/// Every environment variable the command line declares, subcommands' included.
fn known_variables() -> Vec<String> {
    let command = Config::command();
    std::iter::once(&command)
        .chain(command.get_subcommands())
        .flat_map(|command| command.get_arguments())
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .collect()
}

/// Whether a setting was left unset (neither flag nor environment variable).
fn is_default(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        Some(ValueSource::DefaultValue) | None
    )
}

fn saturating_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

fn parse_secret(value: &str) -> Result<SecretString, Infallible> {
    Ok(SecretString::from(value))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid public key (the Ed25519 base point's encoding is a valid key).
    const PUBLIC_KEY: &str = "WGZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=";

    fn parse(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("conference-gateway").chain(args.iter().copied()))
            .unwrap()
    }

    #[test]
    fn defaults_match_the_documented_contract() {
        let config = parse(&["--telnyx-api-key", "KEY", "--telnyx-public-key", PUBLIC_KEY]);
        assert_eq!(config.grpc_addr.to_string(), "0.0.0.0:50051");
        assert_eq!(config.http_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(config.telnyx_base_url.as_str(), "https://api.telnyx.com/v2");
        assert!(config.validate(Vec::new()).is_ok());
        let webhook = config.webhook().unwrap();
        assert_eq!(webhook.tolerance, Duration::from_secs(300));
        assert_eq!(webhook.max_body_bytes, 1024 * 1024);
        let bus = config.memory_bus();
        assert_eq!(bus.dedupe_window, Duration::from_secs(15 * 60));
        assert_eq!(bus.history, 10_000);
    }

    #[test]
    fn redis_is_chosen_by_its_url_and_sized_by_its_settings() {
        let base = ["--telnyx-api-key", "KEY", "--telnyx-public-key", PUBLIC_KEY];
        assert!(parse(&base).redis_bus().is_none(), "no URL: the memory bus");
        let mut args = base.to_vec();
        args.extend(["--redis-url", "rediss://:pw@redis.internal:6380/2"]);
        let redis = parse(&args).redis_bus().expect("a URL: the Redis bus");
        assert_eq!(redis.prefix, "conference-gateway");
        assert_eq!(redis.history, 100_000);
        assert_eq!(redis.dedupe_window, Duration::from_secs(900));
        assert!(
            !format!("{redis:?}").contains("pw@"),
            "the URL is never printed"
        );
        let wrong = Config::try_parse_from(
            ["conference-gateway", "--redis-url", "http://redis.internal"].iter(),
        );
        assert!(wrong.is_err());
    }

    #[test]
    fn refuses_unknown_variables_and_a_missing_key() {
        let config = parse(&["--telnyx-api-key", "KEY", "--telnyx-public-key", PUBLIC_KEY]);
        let typo = vec![("GATEWAY_GRCP_ADDR".to_owned(), "x".to_owned())];
        let error = config.validate(typo).unwrap_err().to_string();
        assert!(
            error.starts_with("GATEWAY_GRCP_ADDR is not a setting"),
            "{error}"
        );
        let other = vec![("HOME".to_owned(), "/root".to_owned())];
        assert!(config.validate(other).is_ok());
        let error = parse(&[]).validate(Vec::new()).unwrap_err().to_string();
        assert!(error.starts_with("TELNYX_API_KEY is not set"), "{error}");
    }

    #[test]
    fn refuses_a_missing_or_malformed_public_key() {
        let error = parse(&["--telnyx-api-key", "KEY"])
            .validate(Vec::new())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("TELNYX_PUBLIC_KEY is not set"), "{error}");
        for bad in ["", "abc", "WGZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=,"] {
            let error = parse(&["--telnyx-api-key", "KEY", "--telnyx-public-key", bad])
                .validate(Vec::new())
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with("TELNYX_PUBLIC_KEY is malformed"),
                "{bad:?}: {error}"
            );
            assert!(!error.contains('\n'));
        }
    }

    #[test]
    fn the_sandbox_listens_on_loopback_unless_told_otherwise() {
        let load = |args: &[&str]| {
            Config::try_load_from(std::iter::once("conference-gateway").chain(args.iter().copied()))
                .unwrap()
        };
        let sandbox = load(&["sandbox"]);
        assert_eq!(sandbox.grpc_addr.to_string(), "127.0.0.1:50051");
        assert_eq!(sandbox.http_addr.to_string(), "127.0.0.1:8080");
        // Gateway flags may follow the subcommand, and an explicit address stays.
        let explicit = load(&["sandbox", "--grpc-addr", "0.0.0.0:50051"]);
        assert_eq!(explicit.grpc_addr.to_string(), "0.0.0.0:50051");
        assert_eq!(explicit.http_addr.to_string(), "127.0.0.1:8080");
        let gateway = load(&[]);
        assert!(gateway.command.is_none());
        assert_eq!(gateway.grpc_addr.to_string(), "0.0.0.0:50051");
    }

    #[test]
    fn the_sandbox_variables_are_known() {
        let config = parse(&["--telnyx-api-key", "KEY", "--telnyx-public-key", PUBLIC_KEY]);
        let sandbox = vec![(
            "GATEWAY_SANDBOX_ALLOW_NON_LOOPBACK".to_owned(),
            "true".to_owned(),
        )];
        assert!(config.validate(sandbox).is_ok());
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let config = parse(&["--telnyx-api-key", "KEY-abc123-secret"]);
        assert!(!format!("{config:?}").contains("abc123"));
        assert!(!format!("{:?}", config.telnyx().unwrap()).contains("abc123"));
    }
}
