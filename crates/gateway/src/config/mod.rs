//! Settings: every one a command-line flag and an environment variable,
//! grouped by the component they configure.
//!
//! A typo in a variable name is the most common way to misconfigure a service
//! without noticing, so a `GATEWAY_*` or `TELNYX_*` variable the gateway does
//! not know is refused at start, like a malformed value, naming the known one
//! it resembles. Every refusal is one line, and names every problem at once,
//! so one run is enough to learn what to fix.

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
pub use self::server::{InvalidListenAddr, ListenAddr, ServerSettings};
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

/// How far (in edits) an unknown variable may be from a known one to be
/// offered as what was meant.
const SUGGESTION_DISTANCE: usize = 3;

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
    #[error(
        "no caller tokens configured: set GATEWAY_AUTH_TOKENS or GATEWAY_AUTH_TOKENS_FILE \
         (or GATEWAY_ALLOW_UNAUTHENTICATED=true to run without authentication)"
    )]
    MissingTokens,
    #[error(
        "GATEWAY_EVENT_DEDUPE_WINDOW_SECS ({window} s) is shorter than \
         GATEWAY_WEBHOOK_TOLERANCE_SECS ({tolerance} s): a webhook replayed within the tolerance \
         would be delivered twice; set the window to at least the tolerance"
    )]
    DedupeWindowTooShort { window: u64, tolerance: u64 },
    #[error("{name} is not a setting of this gateway{}", suggestion(.meant))]
    UnknownVariable { name: String, meant: Option<String> },
    /// Several of the above, all reported by one start.
    #[error("{} problems with the settings: {}", .0.len(), numbered(.0))]
    Several(Vec<ConfigError>),
}

fn suggestion(meant: &Option<String>) -> String {
    match meant {
        Some(name) => format!("; did you mean {name}?"),
        None => " (`conference-gateway --help` lists the settings)".to_owned(),
    }
}

fn numbered(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .enumerate()
        .map(|(i, error)| format!("({}) {error}", i + 1))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Config {
    /// Reads the command line and the environment, exiting with status 2 and
    /// clap's message, on one line, when they do not parse. `--help` and
    /// `--version` print as usual.
    pub fn load() -> Config {
        Config::try_load_from(std::env::args_os()).unwrap_or_else(|error| {
            if !error.use_stderr() {
                error.exit();
            }
            eprintln!("{}", one_line(&error));
            std::process::exit(2);
        })
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
                config.server.grpc_addr = SANDBOX_GRPC_ADDR.into();
            }
            if is_default(&matches, "http_addr") {
                config.server.http_addr = SANDBOX_HTTP_ADDR.into();
            }
        }
        Ok(config)
    }

    /// Checks what clap cannot: required secrets, keys and caller tokens, and
    /// unknown variables. Every problem found is reported in the one error.
    pub fn validate(
        &self,
        environment: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        let known = known_variables();
        let mut unknown: Vec<String> = environment
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| {
                OWN_PREFIXES.iter().any(|p| name.starts_with(p)) && !known.contains(name)
            })
            .collect();
        unknown.sort();
        let mut problems: Vec<ConfigError> = unknown
            .into_iter()
            .map(|name| ConfigError::UnknownVariable {
                meant: closest(&name, &known),
                name,
            })
            .collect();
        problems.extend(self.telnyx.api_key().err());
        problems.extend(self.webhook.public_keys().err());
        // A replay the signature check lets through (its timestamp is within
        // the tolerance) must still find its id in the dedupe set.
        if self.events.dedupe_window_secs < self.webhook.tolerance_secs {
            problems.push(ConfigError::DedupeWindowTooShort {
                window: self.events.dedupe_window_secs,
                tolerance: self.webhook.tolerance_secs,
            });
        }
        let auth = &self.auth;
        if auth.tokens.is_none() && auth.tokens_file.is_none() && !auth.allow_unauthenticated {
            problems.push(ConfigError::MissingTokens);
        }
        match problems.len() {
            0 => Ok(()),
            1 => Err(problems.remove(0)),
            _ => Err(ConfigError::Several(problems)),
        }
    }
}

/// The known variable `name` most likely misspells, if one is close enough.
fn closest(name: &str, known: &[String]) -> Option<String> {
    known
        .iter()
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= SUGGESTION_DISTANCE)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.clone())
}

/// Edits (insert, delete, substitute, swap two neighbours) turning `a` into
/// `b`: the optimal string alignment distance, so `GRCP` is one edit from `GRPC`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// clap's message on one line: its first line and its tips, without the usage
/// block, so a log collector keeps the refusal as one record.
fn one_line(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut text = lines.next().unwrap_or("error: invalid settings").to_owned();
    for tip in lines.filter(|line| line.starts_with("tip:")) {
        text.push_str("; ");
        text.push_str(tip);
    }
    text
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
    use secrecy::ExposeSecret;
    use std::time::Duration;

    /// A valid public key (the Ed25519 base point's encoding is a valid key).
    const PUBLIC_KEY: &str = "WGZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=";
    const TOKENS: &str = "svc:token-0123456789";

    fn parse(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("conference-gateway").chain(args.iter().copied()))
            .unwrap()
    }

    #[test]
    fn defaults_match_the_documented_contract() {
        let config = parse(&[
            "--telnyx-api-key",
            "KEY",
            "--telnyx-public-key",
            PUBLIC_KEY,
            "--auth-tokens",
            TOKENS,
        ]);
        assert_eq!(config.server.grpc_addr.to_string(), "0.0.0.0:50051");
        assert_eq!(config.server.http_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(config.telnyx.base_url.as_str(), "https://api.telnyx.com/v2");
        assert!(config.validate(Vec::new()).is_ok());
        let webhook = config.webhook.settings().unwrap();
        assert_eq!(webhook.tolerance, Duration::from_secs(300));
        assert_eq!(webhook.max_body_bytes, 1024 * 1024);
        let bus = config.events.memory_bus();
        assert_eq!(bus.dedupe_window, Duration::from_secs(15 * 60));
        assert_eq!(bus.dedupe_max_ids, 1_000_000);
        assert_eq!(bus.history, 10_000);
    }

    #[test]
    fn redis_is_chosen_by_its_url_and_sized_by_its_settings() {
        let base = [
            "--telnyx-api-key",
            "KEY",
            "--telnyx-public-key",
            PUBLIC_KEY,
            "--auth-tokens",
            TOKENS,
        ];
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
        assert_eq!(redis.min_replicas_ack, 0, "today's behaviour by default");
        assert_eq!(redis.ack_timeout, Duration::from_millis(1_000));
        assert!(
            !format!("{redis:?}").contains("pw@"),
            "the URL is never printed"
        );
        let wrong = Config::try_parse_from(
            ["conference-gateway", "--redis-url", "http://redis.internal"].iter(),
        );
        assert!(wrong.is_err());
        args.extend([
            "--redis-min-replicas-ack",
            "1",
            "--redis-ack-timeout-ms",
            "250",
        ]);
        let waits = parse(&args).redis.bus(&parse(&args).events).unwrap();
        assert_eq!(waits.min_replicas_ack, 1);
        assert_eq!(waits.ack_timeout, Duration::from_millis(250));
        let sentinel = parse(
            &[
                args.as_slice(),
                &[
                    "--redis-sentinels",
                    "10.0.0.1:26379,10.0.0.2:26379",
                    "--redis-sentinel-master",
                    "mymaster",
                ],
            ]
            .concat(),
        );
        let discovered = sentinel
            .redis
            .bus(&sentinel.events)
            .unwrap()
            .sentinel
            .unwrap();
        assert_eq!(discovered.nodes, ["10.0.0.1:26379", "10.0.0.2:26379"]);
        assert_eq!(discovered.master, "mymaster");
        assert!(discovered.auth.is_none(), "no password unless given");
        let sentinel_args = [
            args.as_slice(),
            &[
                "--redis-sentinels",
                "10.0.0.1:26379",
                "--redis-sentinel-master",
                "mymaster",
            ],
        ]
        .concat();
        let login = parse(
            &[
                sentinel_args.as_slice(),
                &[
                    "--redis-sentinel-password",
                    "s3cret",
                    "--redis-sentinel-username",
                    "gateway",
                ],
            ]
            .concat(),
        );
        let auth = login
            .redis
            .bus(&login.events)
            .unwrap()
            .sentinel
            .unwrap()
            .auth
            .unwrap();
        assert_eq!(auth.password.expose_secret(), "s3cret");
        assert_eq!(auth.username.as_deref(), Some("gateway"));
        assert!(
            !format!("{login:?}").contains("s3cret"),
            "the password is never printed"
        );
        for (refused_args, names) in [
            (
                vec!["--redis-sentinel-password", ""],
                "GATEWAY_REDIS_SENTINEL_PASSWORD",
            ),
            (
                vec!["--redis-sentinel-username", "gateway"],
                "GATEWAY_REDIS_SENTINEL_PASSWORD",
            ),
        ] {
            let all = [sentinel_args.as_slice(), refused_args.as_slice()].concat();
            let text = Config::try_parse_from(
                std::iter::once("conference-gateway").chain(all.iter().copied()),
            )
            .expect_err("refused")
            .to_string();
            assert!(text.contains(names), "{text}");
            assert!(!text.contains("s3cret"), "{text}");
        }
        let without_sentinels = Config::try_parse_from(
            [
                "conference-gateway",
                "--redis-url",
                "redis://r",
                "--redis-sentinel-password",
                "s3cret",
            ]
            .iter(),
        )
        .expect_err("a Sentinel password without Sentinels")
        .to_string();
        assert!(
            without_sentinels.contains("GATEWAY_REDIS_SENTINELS"),
            "{without_sentinels}"
        );
        for alone in [
            ["--redis-sentinels", "10.0.0.1:26379"],
            ["--redis-sentinel-master", "mymaster"],
        ] {
            let refused = Config::try_parse_from(
                [
                    &["conference-gateway", "--redis-url", "redis://r"][..],
                    &alone[..],
                ]
                .concat()
                .iter(),
            )
            .expect_err("one without the other");
            let text = refused.to_string();
            assert!(text.contains("GATEWAY_REDIS_SENTINEL"), "{text}");
        }
        let cluster = parse(&[args.as_slice(), &["--redis-cluster", "true"]].concat());
        assert!(cluster.redis.bus(&cluster.events).unwrap().cluster);
        assert!(
            !parse(&args)
                .redis
                .bus(&parse(&args).events)
                .unwrap()
                .cluster
        );
        let both = Config::try_parse_from(
            [
                "conference-gateway",
                "--redis-url",
                "redis://r",
                "--redis-cluster",
                "true",
                "--redis-sentinels",
                "10.0.0.1:26379",
                "--redis-sentinel-master",
                "mymaster",
            ]
            .iter(),
        )
        .expect_err("cluster and Sentinel together");
        let text = both.to_string();
        assert!(
            text.contains("GATEWAY_REDIS_CLUSTER") && text.contains("GATEWAY_REDIS_SENTINEL"),
            "{text}"
        );
        for (flag, value) in [
            ("--redis-sentinels", "sentinel-without-port"),
            ("--redis-min-replicas-ack", "17"),
            ("--redis-ack-timeout-ms", "0"),
        ] {
            let refused = Config::try_parse_from(
                [
                    "conference-gateway",
                    "--redis-url",
                    "redis://r",
                    flag,
                    value,
                ]
                .iter(),
            )
            .expect_err("out of range");
            let text = refused.to_string();
            assert!(
                text.contains(&flag[2..].to_uppercase().replace('-', "_")),
                "{text}"
            );
        }
    }

    /// The settings every other test here starts from: all required ones.
    fn complete(extra: &[&str]) -> Config {
        let mut args = vec![
            "--telnyx-api-key",
            "KEY",
            "--telnyx-public-key",
            PUBLIC_KEY,
            "--auth-tokens",
            TOKENS,
        ];
        args.extend_from_slice(extra);
        parse(&args)
    }

    fn env(names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|name| ((*name).to_owned(), "x".to_owned()))
            .collect()
    }

    #[test]
    fn refuses_unknown_variables_and_a_missing_key() {
        let config = complete(&[]);
        let error = config
            .validate(env(&["GATEWAY_GRCP_ADDR"]))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("GATEWAY_GRCP_ADDR is not a setting"),
            "{error}"
        );
        assert!(config.validate(env(&["HOME", "REDIS_URL"])).is_ok());
        let error = parse(&["--telnyx-public-key", PUBLIC_KEY, "--auth-tokens", TOKENS])
            .validate(Vec::new())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("TELNYX_API_KEY is not set"), "{error}");
    }

    #[test]
    fn a_near_miss_names_the_variable_it_resembles_and_nothing_else() {
        let config = complete(&[]);
        for (typo, meant) in [
            ("GATEWAY_GRCP_ADDR", "GATEWAY_GRPC_ADDR"),
            ("GATEWAY_HTTP_ADR", "GATEWAY_HTTP_ADDR"),
            ("TELNYX_APIKEY", "TELNYX_API_KEY"),
            ("TELNYX_PUBLIC_KEYS", "TELNYX_PUBLIC_KEY"),
            ("GATEWAY_AUTH_TOKEN", "GATEWAY_AUTH_TOKENS"),
        ] {
            let error = config.validate(env(&[typo])).unwrap_err().to_string();
            assert_eq!(
                error,
                format!("{typo} is not a setting of this gateway; did you mean {meant}?")
            );
        }
        let error = config
            .validate(env(&["GATEWAY_COLOUR_SCHEME"]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "GATEWAY_COLOUR_SCHEME is not a setting of this gateway \
             (`conference-gateway --help` lists the settings)"
        );
    }

    #[test]
    fn edit_distance_counts_a_swap_as_one_edit() {
        assert_eq!(edit_distance("GRPC", "GRPC"), 0);
        assert_eq!(edit_distance("GRCP", "GRPC"), 1);
        assert_eq!(edit_distance("ADR", "ADDR"), 1);
        assert_eq!(edit_distance("", "ABC"), 3);
        assert_eq!(edit_distance("KITTEN", "SITTING"), 3);
    }

    #[test]
    fn every_missing_setting_is_named_in_one_line() {
        let error = parse(&[]).validate(Vec::new()).unwrap_err().to_string();
        assert!(
            error.starts_with("3 problems with the settings: (1) TELNYX_API_KEY is not set"),
            "{error}"
        );
        assert!(
            error.contains("(2) TELNYX_PUBLIC_KEY is not set"),
            "{error}"
        );
        assert!(
            error.contains("(3) no caller tokens configured: set GATEWAY_AUTH_TOKENS"),
            "{error}"
        );
        assert!(!error.contains('\n'), "{error}");
        // Unknown variables join the missing settings in the same message.
        let error = parse(&["--telnyx-api-key", "KEY", "--allow-unauthenticated", "true"])
            .validate(env(&["TELNYX_PUBLIC_KY"]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "2 problems with the settings: (1) TELNYX_PUBLIC_KY is not a setting of this \
             gateway; did you mean TELNYX_PUBLIC_KEY?; (2) TELNYX_PUBLIC_KEY is not set: the \
             gateway needs Telnyx's public key to verify webhooks (Mission Control, Keys & \
             Credentials)"
        );
    }

    #[test]
    fn a_dedupe_window_shorter_than_the_webhook_tolerance_is_refused() {
        let error = complete(&[
            "--event-dedupe-window-secs",
            "60",
            "--webhook-tolerance-secs",
            "300",
        ])
        .validate(Vec::new())
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            "GATEWAY_EVENT_DEDUPE_WINDOW_SECS (60 s) is shorter than \
             GATEWAY_WEBHOOK_TOLERANCE_SECS (300 s): a webhook replayed within the tolerance \
             would be delivered twice; set the window to at least the tolerance"
        );
        let equal = complete(&[
            "--event-dedupe-window-secs",
            "300",
            "--webhook-tolerance-secs",
            "300",
        ]);
        assert!(equal.validate(Vec::new()).is_ok());
        // Reported with the other problems of the same start.
        let error = parse(&["--event-dedupe-window-secs", "10"])
            .validate(Vec::new())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("4 problems with the settings"), "{error}");
        assert!(
            error.contains("(3) GATEWAY_EVENT_DEDUPE_WINDOW_SECS (10 s) is shorter"),
            "{error}"
        );
    }

    #[test]
    fn a_token_file_or_allowing_anyone_stands_in_for_tokens() {
        let base = ["--telnyx-api-key", "KEY", "--telnyx-public-key", PUBLIC_KEY];
        let without = parse(&base).validate(Vec::new()).unwrap_err().to_string();
        assert!(
            without.starts_with("no caller tokens configured"),
            "{without}"
        );
        for extra in [
            ["--auth-tokens-file", "/etc/gateway/tokens"],
            ["--allow-unauthenticated", "true"],
        ] {
            let mut args = base.to_vec();
            args.extend(extra);
            assert!(parse(&args).validate(Vec::new()).is_ok(), "{extra:?}");
        }
    }

    #[test]
    fn listen_addresses_accept_host_names() {
        let config = complete(&["--grpc-addr", "localhost:50051", "--http-addr", "[::]:8080"]);
        assert_eq!(
            config.server.grpc_addr,
            ListenAddr::Host {
                host: "localhost".into(),
                port: 50051
            }
        );
        assert_eq!(config.server.http_addr.to_string(), "[::]:8080");
    }

    #[test]
    fn a_parse_error_is_one_line_with_its_tip() {
        let error =
            Config::try_parse_from(["conference-gateway", "--grpc-addr", "localhost"]).unwrap_err();
        assert_eq!(
            one_line(&error),
            "error: invalid value 'localhost' for '--grpc-addr <GATEWAY_GRPC_ADDR>': expected \
             ip:port or host:port (0.0.0.0:50051, [::]:50051, localhost:50051), the port is \
             missing"
        );
        let error = Config::try_parse_from(["conference-gateway", "--grcp-addr", "x"]).unwrap_err();
        let line = one_line(&error);
        assert!(
            line.starts_with("error: unexpected argument '--grcp-addr' found; tip:"),
            "{line}"
        );
        assert!(line.contains("'--grpc-addr'"), "{line}");
        assert!(!line.contains("Usage"), "{line}");
    }

    #[test]
    fn refuses_a_missing_or_malformed_public_key() {
        let error = parse(&["--telnyx-api-key", "KEY", "--auth-tokens", TOKENS])
            .validate(Vec::new())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("TELNYX_PUBLIC_KEY is not set"), "{error}");
        for bad in ["", "abc", "WGZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=,"] {
            let error = parse(&[
                "--telnyx-api-key",
                "KEY",
                "--telnyx-public-key",
                bad,
                "--auth-tokens",
                TOKENS,
            ])
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
            "--auth-tokens",
            TOKENS,
        ]);
        assert!(config.validate(Vec::new()).is_ok());
        let client = config.telnyx.client().unwrap();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&client.api_key),
            "KEY123"
        );
        for bad in ["KEY\n123", "KEY\u{7f}", "  \n"] {
            let error = parse(&[
                "--telnyx-api-key",
                bad,
                "--telnyx-public-key",
                PUBLIC_KEY,
                "--auth-tokens",
                TOKENS,
            ])
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
    fn the_sandbox_takes_the_simulators_webhook_retry_window() {
        let args = |extra: &[&str]| {
            let mut argv = vec!["conference-gateway", "sandbox"];
            argv.extend_from_slice(extra);
            Config::try_load_from(argv).map(|config| match config.command {
                Some(Command::Sandbox(args)) => args,
                other => panic!("not the sandbox: {other:?}"),
            })
        };
        let default = args(&[]).unwrap();
        assert_eq!(default.webhook_retry_window(), Duration::from_secs(60));
        assert_eq!(
            default.webhook_retry_window(),
            SandboxArgs::default().webhook_retry_window()
        );
        let never = args(&["--webhook-retry-window-secs", "0"]).unwrap();
        assert_eq!(never.webhook_retry_window(), Duration::ZERO);
        let error = args(&["--webhook-retry-window-secs", "86401"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--webhook-retry-window-secs"), "{error}");
    }

    #[cfg(feature = "sandbox")]
    #[test]
    fn the_sandbox_variables_are_known() {
        let config = parse(&[
            "--telnyx-api-key",
            "KEY",
            "--telnyx-public-key",
            PUBLIC_KEY,
            "--auth-tokens",
            TOKENS,
        ]);
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
