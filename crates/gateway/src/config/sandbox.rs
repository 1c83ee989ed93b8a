//! The `sandbox` subcommand's own settings. The gateway's settings
//! (`GATEWAY_*`, flags like `--grpc-addr`) still apply; these add where the
//! simulated Telnyx listens, whether anything may listen beyond loopback,
//! how badly the simulator behaves, and how long it retries a webhook.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use telnyx_sim::Chaos;

/// Run the gateway and a simulated Telnyx in one process, on this machine only.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Sandbox")]
pub struct SandboxArgs {
    /// Address of the simulated Telnyx REST API (the gateway's TELNYX_BASE_URL).
    #[arg(
        long,
        env = "GATEWAY_SANDBOX_TELNYX_SIM_ADDR",
        value_name = "GATEWAY_SANDBOX_TELNYX_SIM_ADDR",
        default_value = "127.0.0.1:0"
    )]
    pub telnyx_sim_addr: SocketAddr,

    /// Let the sandbox listen beyond loopback. Its caller token is printed and
    /// its Telnyx is fake, so other machines should not reach it by accident.
    #[arg(long, env = "GATEWAY_SANDBOX_ALLOW_NON_LOOPBACK", value_name = "GATEWAY_SANDBOX_ALLOW_NON_LOOPBACK", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub allow_non_loopback: bool,

    /// Share (0 to 1) of webhooks the simulator delivers twice.
    #[arg(
        long,
        env = "GATEWAY_SANDBOX_DUPLICATE_WEBHOOKS",
        value_name = "SHARE",
        default_value_t = 0.0
    )]
    pub duplicate_webhooks: f64,

    /// Share (0 to 1) of webhooks held back and delivered after the next one.
    #[arg(
        long,
        env = "GATEWAY_SANDBOX_REORDER_WEBHOOKS",
        value_name = "SHARE",
        default_value_t = 0.0
    )]
    pub reorder_webhooks: f64,

    /// Each webhook waits a random time up to this many milliseconds.
    #[arg(long, env = "GATEWAY_SANDBOX_MAX_WEBHOOK_DELAY_MS", value_name = "MILLISECONDS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub max_webhook_delay_ms: u64,

    /// Share (0 to 1) of REST calls the simulator refuses with 429.
    #[arg(
        long,
        env = "GATEWAY_SANDBOX_RATE_LIMITED_REQUESTS",
        value_name = "SHARE",
        default_value_t = 0.0
    )]
    pub rate_limited_requests: f64,

    /// Share (0 to 1) of REST calls the simulator refuses with 500 or 503.
    #[arg(
        long,
        env = "GATEWAY_SANDBOX_FAILED_REQUESTS",
        value_name = "SHARE",
        default_value_t = 0.0
    )]
    pub failed_requests: f64,

    /// Seed of every misbehaviour above, so a session replays exactly.
    #[arg(
        long,
        env = "GATEWAY_SANDBOX_CHAOS_SEED",
        value_name = "SEED",
        default_value_t = 0
    )]
    pub chaos_seed: u64,

    /// How long the simulator retries a webhook delivery the gateway did not
    /// accept before recording it failed (GET /webhook_deliveries lists it),
    /// as Telnyx does; 0 never retries.
    #[arg(long, env = "GATEWAY_SANDBOX_WEBHOOK_RETRY_WINDOW_SECS", value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub webhook_retry_window_secs: u64,
}

impl Default for SandboxArgs {
    fn default() -> Self {
        SandboxArgs {
            telnyx_sim_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            allow_non_loopback: false,
            duplicate_webhooks: 0.0,
            reorder_webhooks: 0.0,
            max_webhook_delay_ms: 0,
            rate_limited_requests: 0.0,
            failed_requests: 0.0,
            chaos_seed: 0,
            webhook_retry_window_secs: 60,
        }
    }
}

impl SandboxArgs {
    /// The simulator's misbehaviour; checked when the simulator starts.
    pub fn chaos(&self) -> Chaos {
        Chaos {
            seed: self.chaos_seed,
            duplicate_webhooks: self.duplicate_webhooks,
            reorder_webhooks: self.reorder_webhooks,
            max_webhook_delay: Duration::from_millis(self.max_webhook_delay_ms),
            rate_limited_requests: self.rate_limited_requests,
            failed_requests: self.failed_requests,
            ..Chaos::default()
        }
    }

    /// How long the simulator retries a webhook delivery.
    pub fn webhook_retry_window(&self) -> Duration {
        Duration::from_secs(self.webhook_retry_window_secs)
    }
}
