//! The plain-HTTP listener: liveness now; webhooks and metrics join it.

use axum::{Router, http::StatusCode, routing::get};

/// The HTTP routes.
pub fn router() -> Router {
    Router::new().route("/healthz", get(healthz))
}

/// Alive: the process runs and answers. Kubernetes restarts it otherwise.
async fn healthz() -> (StatusCode, &'static str) {
    (StatusCode::OK, "ok\n")
}
