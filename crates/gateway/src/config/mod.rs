//! Settings: every one a command-line flag and an environment variable,
//! grouped by the component they configure.
//!
//! A typo in a variable name is the most common way to misconfigure a service
//! without noticing, so a `GATEWAY_*` or `TELNYX_*` variable the gateway does
//! not know is refused at start, like a malformed value.

mod auth;
mod events;
#[cfg(feature = "sandbox")]
mod sandbox;
mod server;
mod telnyx;

use std::{
    convert::Infallible,
    ffi::OsString,
    net::{IpAddr, Ipv4Addr, SocketAddr},
};

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

pub use self::auth::AuthSettings;
pub use self::events::{EventArgs, RedisArgs, WebhookArgs};
#[cfg(feature = "sandbox")]
pub use self::sandbox::SandboxArgs;
pub use self::server::ServerSettings;
pub use self::telnyx::TelnyxSettings;
use crate::webhook::KeyError;

/// Prefixes of the environment variables the gateway reads.
const OWN_PREFIXES: [&str; 2] = ["GATEWAY_", "TELNYX_"];

/// gRPC gateway to Telnyx conferences, queues, call control and their events.
#[derive(Debug, Clone, Parser)]
#[command(name = "conference-gateway", version, about, args_override_self = true)]
pub struct Config {
    /// What to run; without one, the gateway against Telnyx.
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub telnyx: TelnyxSettings,

    #[command(flatten)]
    pub server: ServerSettings,

    #[command(flatten)]
    pub auth: AuthSettings,

    #[command(flatten)]
    pub webhook: WebhookArgs,

    #[command(flatten)]
    pub events: EventArgs,

    #[command(flatten)]
    pub redis: RedisArgs,

    /// Log format; the level comes from RUST_LOG (default `info`).
    #[arg(global = true, long = "log-format", env = "GATEWAY_LOG_FORMAT", value_name = "GATEWAY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// What the binary runs instead of the gateway alone.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the gateway and a simulated Telnyx in one process, on loopback,
    /// with a generated webhook key, Telnyx key and caller token: no Telnyx
    /// account needed. Telnyx's key, URL and public key are the simulator's,
    /// so those settings are not taken here; the listeners default to
    /// 127.0.0.1.
    #[cfg(feature = "sandbox")]
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
        "TELNYX_API_KEY is malformed: it holds control characters or line breaks, which no \
         HTTP header can carry (check the Secret it comes from)"
    )]
    InvalidApiKey,
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
        if config.command.is_some() {
            if is_default(&matches, "grpc_addr") {
                config.server.grpc_addr = SANDBOX_GRPC_ADDR;
            }
            if is_default(&matches, "http_addr") {
                config.server.http_addr = SANDBOX_HTTP_ADDR;
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
        self.telnyx.api_key()?;
        self.webhook.public_keys()?;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A valid public key (the Ed25519 base point's encoding is a valid key).
    const PUBLIC_KEY: &str = "WGZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=";

    fn parse(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("conference-gateway").chain(args.iter().copied()))
            .unwrap()
    }

    #[test]
    fn defaults_match_the_documented_contract() {
        let config = parse(&["--telnyx-api-key", "KEY", "--telnyx-public-key", PUBLIC_KEY]);
        assert_eq!(config.server.grpc_addr.to_string(), "0.0.0.0:50051");
        assert_eq!(config.server.http_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(config.telnyx.base_url.as_str(), "https://api.telnyx.com/v2");
        assert!(config.validate(Vec::new()).is_ok());
        let webhook = config.webhook.settings().unwrap();
        assert_eq!(webhook.tolerance, Duration::from_secs(300));
        assert_eq!(webhook.max_body_bytes, 1024 * 1024);
        let bus = config.events.memory_bus();
        assert_eq!(bus.dedupe_window, Duration::from_secs(15 * 60));
        assert_eq!(bus.history, 10_000);
    }

    #[test]
    fn redis_is_chosen_by_its_url_and_sized_by_its_settings() {
        let base = ["--telnyx-api-key", "KEY", "--telnyx-public-key", PUBLIC_KEY];
        assert!(
            parse(&base).redis.bus(&parse(&base).events).is_none(),
            "no URL: the memory bus"
        );
        let mut args = base.to_vec();
        args.extend(["--redis-url", "rediss://:pw@redis.internal:6380/2"]);
        let parsed = parse(&args);
        let redis = parsed
            .redis
            .bus(&parsed.events)
            .expect("a URL: the Redis bus");
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
    fn the_api_key_is_trimmed_and_a_malformed_one_refused() {
        let config = parse(&[
            "--telnyx-api-key",
            "KEY123\n",
            "--telnyx-public-key",
            PUBLIC_KEY,
        ]);
        assert!(config.validate(Vec::new()).is_ok());
        let client = config.telnyx.client().unwrap();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&client.api_key),
            "KEY123"
        );
        for bad in ["KEY\n123", "KEY\u{7f}", "  \n"] {
            let error = parse(&["--telnyx-api-key", bad, "--telnyx-public-key", PUBLIC_KEY])
                .validate(Vec::new())
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("TELNYX_API_KEY is"), "{bad:?}: {error}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
    }

    #[cfg(feature = "sandbox")]
    #[test]
    fn sandbox_help_says_what_the_sandbox_takes() {
        let mut command = Config::command();
        // Global settings reach the subcommand when the command is built.
        command.build();
        let help = command
            .find_subcommand_mut("sandbox")
            .expect("the sandbox command")
            .render_long_help()
            .to_string();
        for replaced in [
            "--telnyx-api-key",
            "--telnyx-base-url",
            "--telnyx-public-key",
        ] {
            assert!(
                !help.contains(replaced),
                "{replaced} is the simulator's: {help}"
            );
        }
        assert!(help.contains("--grpc-addr"), "{help}");
        assert!(help.contains("127.0.0.1:50051 under `sandbox`"), "{help}");
        assert!(!help.contains("[default: 0.0.0.0:50051]"), "{help}");
    }

    #[cfg(feature = "sandbox")]
    #[test]
    fn the_sandbox_listens_on_loopback_unless_told_otherwise() {
        let load = |args: &[&str]| {
            Config::try_load_from(std::iter::once("conference-gateway").chain(args.iter().copied()))
                .unwrap()
        };
        let sandbox = load(&["sandbox"]);
        assert_eq!(sandbox.server.grpc_addr.to_string(), "127.0.0.1:50051");
        assert_eq!(sandbox.server.http_addr.to_string(), "127.0.0.1:8080");
        // Gateway flags may follow the subcommand, and an explicit address stays.
        let explicit = load(&["sandbox", "--grpc-addr", "0.0.0.0:50051"]);
        assert_eq!(explicit.server.grpc_addr.to_string(), "0.0.0.0:50051");
        assert_eq!(explicit.server.http_addr.to_string(), "127.0.0.1:8080");
        let gateway = load(&[]);
        assert!(gateway.command.is_none());
        assert_eq!(gateway.server.grpc_addr.to_string(), "0.0.0.0:50051");
    }

    #[cfg(feature = "sandbox")]
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
        assert!(!format!("{:?}", config.telnyx.client().unwrap()).contains("abc123"));
    }
}
