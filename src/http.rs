//! The plain-HTTP listener: liveness and Telnyx's webhooks; metrics join it.

use axum::{Router, http::StatusCode, routing::get};

use crate::webhook::WebhookState;

/// The HTTP routes.
pub fn router(webhook: WebhookState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(webhook.routes())
}

/// Alive: the process runs and answers. Kubernetes restarts it otherwise.
async fn healthz() -> (StatusCode, &'static str) {
    (StatusCode::OK, "ok\n")
}
