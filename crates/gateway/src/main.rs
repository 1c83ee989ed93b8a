//! The `conference-gateway` binary: parse settings, start logging, serve the
//! gateway, or with `sandbox` the gateway and a simulated Telnyx.

use std::process::ExitCode;

use conference_gateway::config::Config;
use conference_gateway::{app::Application, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    #[cfg_attr(not(feature = "sandbox"), allow(unused_mut))]
    let mut config = Config::load();
    #[cfg(feature = "sandbox")]
    if let Some(conference_gateway::config::Command::Sandbox(args)) = config.command.take() {
        let _telemetry = telemetry::init(config.log_format);
        return conference_gateway::sandbox::run(config, args, shutdown_signal()).await;
    }
    if let Err(error) = config.validate(std::env::vars()) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    let _telemetry = telemetry::init(config.log_format);
    let app = match Application::build(&config).await {
        Ok(app) => app,
        Err(error) => {
            // One line on stderr, like every other start-up refusal; status 2
            // when the settings are at fault, 1 when the machine is.
            eprintln!("error: {error}");
            return ExitCode::from(if error.is_configuration() { 2 } else { 1 });
        }
    };
    match app.run_until(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "conference-gateway failed");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGTERM (Kubernetes) or Ctrl-C.
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
    tracing::info!("shutdown signal received");
}
