//! The `conference-gateway` binary: parse settings, start logging, serve.

use std::process::ExitCode;

use clap::Parser;
use conference_gateway::{app::Application, config::Config, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    if let Err(error) = config.validate(std::env::vars()) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    telemetry::init(config.log_format);
    let app = match Application::build(&config).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "conference-gateway could not start");
            return ExitCode::FAILURE;
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
