//! `telnyx-sim`: the simulated Telnyx on its own, for scripts and other teams'
//! test suites. It serves Telnyx's voice REST API from memory and signs and
//! sends its webhooks to `--webhook-url`.
//!
//! The first line on stdout is one JSON object (`base_url`, `api_key`,
//! `public_key`, `connection_id`, `webhook_url`) so a script can start it and
//! read what to point a gateway at; logs go to stderr. It stops on SIGTERM or
//! Ctrl-C. The caller's side (`/_sim/`, no API key) is at `base_url` without
//! its `/v2`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use telnyx_sim::{Chaos, Signer, Simulator};

/// A simulated Telnyx voice API with signed webhooks.
#[derive(Debug, Parser)]
#[command(name = "telnyx-sim", version, about)]
struct Args {
    /// Where the REST API listens (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,

    /// Where signed webhooks are posted, e.g. a gateway's
    /// `http://127.0.0.1:8080/webhooks/telnyx`. Without it, events are not sent.
    #[arg(long)]
    webhook_url: Option<String>,

    /// The bearer key the REST API accepts; generated at every start when unset.
    #[arg(long)]
    api_key: Option<String>,

    /// Share (0 to 1) of webhooks delivered twice.
    #[arg(long, default_value_t = 0.0)]
    duplicate_webhooks: f64,

    /// Share (0 to 1) of webhooks held back and delivered after the next one.
    #[arg(long, default_value_t = 0.0)]
    reorder_webhooks: f64,

    /// Each webhook waits a random time up to this many milliseconds.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    max_webhook_delay_ms: u64,

    /// Share (0 to 1) of REST calls answered 429.
    #[arg(long, default_value_t = 0.0)]
    rate_limited_requests: f64,

    /// Share (0 to 1) of REST calls answered 500 or 503.
    #[arg(long, default_value_t = 0.0)]
    failed_requests: f64,

    /// Seeds every misbehaviour above, so a run replays exactly.
    #[arg(long, default_value_t = 0)]
    chaos_seed: u64,

    /// How long a webhook delivery is retried before it is recorded as
    /// failed (listed by GET /webhook_deliveries), as on Telnyx; 0 never retries.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    webhook_retry_window_secs: u64,
}

impl Args {
    fn chaos(&self) -> Chaos {
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
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let signer = match Signer::generate() {
        Ok(signer) => signer,
        Err(error) => return fail(1, format!("cannot generate a signing key: {error}")),
    };
    let api_key = match args.api_key.clone() {
        Some(key) => key,
        None => {
            let mut bytes = [0u8; 16];
            if let Err(error) = getrandom::fill(&mut bytes) {
                return fail(1, format!("cannot generate an API key: {error}"));
            }
            // Telnyx's keys start with KEY; the rest is random hex.
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("KEY{hex}")
        }
    };
    let mut builder = Simulator::builder()
        .signer(signer)
        .api_key(api_key.clone())
        .chaos(args.chaos())
        .webhook_retry_window(Duration::from_secs(args.webhook_retry_window_secs));
    if let Some(url) = &args.webhook_url {
        builder = builder.webhook_url(url.clone());
    }
    let simulator = match builder.bind(args.listen).await {
        Ok(simulator) => simulator,
        Err(error) => return fail(2, error.to_string()),
    };
    let ready = serde_json::json!({
        "base_url": simulator.base_url(),
        "api_key": api_key,
        "public_key": simulator.public_key_base64(),
        "connection_id": simulator.connection_id(),
        "webhook_url": args.webhook_url,
    });
    println!("{ready}");
    shutdown_signal().await;
    simulator.shutdown().await;
    ExitCode::SUCCESS
}

fn fail(status: u8, message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(status)
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
