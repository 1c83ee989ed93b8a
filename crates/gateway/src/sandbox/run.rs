//! `conference-gateway sandbox`: the gateway and a simulated Telnyx in one
//! process, wired to each other, so a developer can call every RPC and watch
//! the events without a Telnyx account, a phone number or any setting.
//!
//! The gateway is built through the same [`Config`] and [`Application`] as in
//! production, so every `GATEWAY_*` setting (addresses, tokens, the event bus)
//! applies unchanged; only the Telnyx side is replaced: `TELNYX_BASE_URL`
//! points at the simulator, `TELNYX_API_KEY` is a key generated at every
//! start and shared with the simulator only, and `TELNYX_PUBLIC_KEY` is the
//! public half of a key pair generated at every start. Nothing is fixed, so
//! no sandbox key can ever be mistaken for a real one.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;

use events::EventBus;
use secrecy::SecretString;
use telnyx_sim::{Chaos, ChaosError, RunningSimulator, Signer, Simulator, SimulatorError};
use tokio::net::TcpListener;

use crate::app::{AppError, Application};
use crate::config::{Config, ConfigError, ListenAddr, SandboxArgs};

/// The caller name of the token generated at start.
pub const DEVELOPER: &str = "developer";

/// Why the sandbox could not start or stopped with an error. Printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "{setting}={addr} is not a loopback address: the sandbox prints its caller token and \
         fakes Telnyx, so it only listens on this machine unless --allow-non-loopback \
         (GATEWAY_SANDBOX_ALLOW_NON_LOOPBACK=true) is given"
    )]
    NotLoopback {
        setting: &'static str,
        addr: ListenAddr,
    },
    #[error("{}", chaos_message(.0))]
    Chaos(#[from] ChaosError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot generate a key or token: {0}")]
    Random(getrandom::Error),
    #[error("cannot listen on {addr} (GATEWAY_SANDBOX_TELNYX_SIM_ADDR): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    App(#[from] AppError),
    #[error("simulated Telnyx: {0}")]
    Simulator(#[from] SimulatorError),
}

impl SandboxError {
    /// Whether the settings are at fault (exit status 2), rather than the
    /// machine or the network.
    pub fn is_configuration(&self) -> bool {
        match self {
            SandboxError::NotLoopback { .. } | SandboxError::Chaos(_) | SandboxError::Config(_) => {
                true
            }
            SandboxError::App(error) => error.is_configuration(),
            SandboxError::Simulator(error) => matches!(error, SimulatorError::Chaos(_)),
            SandboxError::Random(_) | SandboxError::Bind { .. } => false,
        }
    }
}

/// Who may call the sandbox's gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callers {
    /// The caller `developer` with a token generated at start.
    Generated(String),
    /// The tokens of `GATEWAY_AUTH_TOKENS` / `GATEWAY_AUTH_TOKENS_FILE`.
    Configured,
    /// `GATEWAY_ALLOW_UNAUTHENTICATED=true` and no tokens: anyone.
    Anyone,
}

/// A started sandbox: both sides bound and wired, not yet serving gRPC.
pub struct Sandbox {
    app: Application,
    simulator: RunningSimulator,
    callers: Callers,
    chaos: Chaos,
}

impl Sandbox {
    /// Checks the settings, binds the simulator and the gateway's listeners
    /// (port 0 picks a free port) and wires them to each other. Settings the
    /// sandbox provides (`TELNYX_API_KEY`, `TELNYX_BASE_URL`,
    /// `TELNYX_PUBLIC_KEY`) replace whatever `config` holds.
    pub async fn start(mut config: Config, args: SandboxArgs) -> Result<Sandbox, SandboxError> {
        if !args.allow_non_loopback {
            refuse_non_loopback(&config, &args)?;
        }
        let chaos = args.chaos();
        chaos.validate()?;

        let signer = Signer::from_seed(random::<32>()?);
        let api_key = format!("KEY{}", hex(&random::<16>()?));
        let callers = if config.auth.tokens.is_some() || config.auth.tokens_file.is_some() {
            Callers::Configured
        } else if config.auth.allow_unauthenticated {
            Callers::Anyone
        } else {
            let token = hex(&random::<16>()?);
            config.auth.tokens = Some(SecretString::from(format!("{DEVELOPER}:{token}")));
            Callers::Generated(token)
        };

        // The simulator's address is the gateway's TELNYX_BASE_URL, and the
        // gateway's is the simulator's webhook URL: bind first, serve after.
        let listener = TcpListener::bind(args.telnyx_sim_addr)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: args.telnyx_sim_addr,
                source,
            })?;
        let sim_addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: args.telnyx_sim_addr,
            source,
        })?;
        config.telnyx.api_key = Some(SecretString::from(api_key.clone()));
        config.telnyx.base_url = format!("http://{}/v2", reachable(sim_addr))
            .parse()
            .expect("a socket address makes a valid URL");
        config.webhook.public_key = Some(signer.public_key_base64());
        config.validate(std::env::vars())?;

        let app = Application::build(&config).await?;
        let simulator = Simulator::builder()
            .webhook_url(format!(
                "http://{}/webhooks/telnyx",
                reachable(app.http_addr())
            ))
            .signer(signer)
            .api_key(api_key)
            .chaos(chaos.clone())
            .webhook_retry_window(args.webhook_retry_window())
            .serve(listener)?;
        Ok(Sandbox {
            app,
            simulator,
            callers,
            chaos,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.app.grpc_addr()
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.app.http_addr()
    }

    /// The generated `developer` token, when the sandbox generated one.
    pub fn token(&self) -> Option<&str> {
        match &self.callers {
            Callers::Generated(token) => Some(token),
            _ => None,
        }
    }

    pub fn callers(&self) -> &Callers {
        &self.callers
    }

    /// The simulated Telnyx: its address, its Call Control application
    /// (`connection_id`), and incoming calls on demand.
    pub fn simulator(&self) -> &RunningSimulator {
        &self.simulator
    }

    /// The gateway's event bus, for tests that watch it.
    pub fn event_bus(&self) -> std::sync::Arc<dyn EventBus> {
        self.app.event_bus()
    }

    /// What a developer needs to start: addresses, token, copy-paste calls.
    pub fn banner(&self) -> String {
        super::banner::render(&super::banner::Facts {
            grpc_addr: reachable(self.grpc_addr()),
            http_addr: reachable(self.http_addr()),
            telnyx_base_url: self.simulator.base_url(),
            sim_url: format!("http://{}", reachable(self.simulator.addr())),
            connection_id: self.simulator.connection_id(),
            callers: &self.callers,
            chaos: &self.chaos,
        })
    }

    /// Serves until `shutdown` completes, then stops the gateway (as in
    /// production: drain, then return) and the simulator.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), SandboxError> {
        let served = self.app.run_until(shutdown).await;
        self.simulator.shutdown().await;
        Ok(served?)
    }
}

/// The `sandbox` subcommand: start, print the banner on stdout, serve until
/// `shutdown`. Refusals are one line on stderr, status 2 when the settings
/// are at fault.
pub async fn run(
    config: Config,
    args: SandboxArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> ExitCode {
    let sandbox = match Sandbox::start(config, args).await {
        Ok(sandbox) => sandbox,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(if error.is_configuration() { 2 } else { 1 });
        }
    };
    if sandbox.callers == Callers::Anyone {
        tracing::warn!("sandbox: authentication is OFF (GATEWAY_ALLOW_UNAUTHENTICATED=true)");
    }
    println!("{}", sandbox.banner());
    match sandbox.run_until(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "conference-gateway sandbox failed");
            ExitCode::FAILURE
        }
    }
}

/// A chaos refusal in the words of the command line: the flag and its variable.
fn chaos_message(error: &ChaosError) -> String {
    match error {
        ChaosError::NotAShare { name, value } => format!(
            "--{} (GATEWAY_SANDBOX_{}) must be a share between 0 and 1, got {value}",
            name.replace('_', "-"),
            name.to_uppercase()
        ),
        ChaosError::SharesAboveOne => "--rate-limited-requests and --failed-requests add up to \
             more than 1"
            .to_owned(),
    }
}

/// Refuses any listener beyond loopback, naming its setting.
fn refuse_non_loopback(config: &Config, args: &SandboxArgs) -> Result<(), SandboxError> {
    let listeners = [
        ("GATEWAY_GRPC_ADDR", config.server.grpc_addr.clone()),
        ("GATEWAY_HTTP_ADDR", config.server.http_addr.clone()),
        (
            "GATEWAY_SANDBOX_TELNYX_SIM_ADDR",
            ListenAddr::from(args.telnyx_sim_addr),
        ),
    ];
    match listeners.into_iter().find(|(_, addr)| !addr.is_loopback()) {
        Some((setting, addr)) => Err(SandboxError::NotLoopback { setting, addr }),
        None => Ok(()),
    }
}

/// An address a local client can connect to: a listener on every interface
/// is reached through loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

fn random<const N: usize>() -> Result<[u8; N], SandboxError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(SandboxError::Random)?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_passes_unless_allowed() {
        let config = Config::try_load_from(["conference-gateway", "sandbox"]).unwrap();
        assert!(refuse_non_loopback(&config, &SandboxArgs::default()).is_ok());
        let config =
            Config::try_load_from(["conference-gateway", "sandbox", "--http-addr", "0.0.0.0:0"])
                .unwrap();
        let error = refuse_non_loopback(&config, &SandboxArgs::default()).unwrap_err();
        assert!(error.is_configuration());
        let message = error.to_string();
        assert!(
            message.starts_with("GATEWAY_HTTP_ADDR=0.0.0.0:0"),
            "{message}"
        );
        assert!(!message.contains('\n'));
    }

    #[test]
    fn a_wildcard_listener_is_reached_through_loopback() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(reachable(any).to_string(), "127.0.0.1:8080");
        let any6: SocketAddr = "[::]:8080".parse().unwrap();
        assert_eq!(reachable(any6).to_string(), "[::1]:8080");
    }

    #[test]
    fn chaos_refusals_name_the_flag() {
        let error = SandboxError::from(ChaosError::NotAShare {
            name: "failed_requests",
            value: 2.0,
        });
        assert!(error.is_configuration());
        assert_eq!(
            error.to_string(),
            "--failed-requests (GATEWAY_SANDBOX_FAILED_REQUESTS) must be a share between 0 and 1, got 2"
        );
    }
}
