//! The plain-HTTP listener: Telnyx's webhooks, probes and metrics, served
//! within the timeouts and connection cap of [`connections`].

pub mod connections;

use std::borrow::Cow;
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    Router, extract::State, http::StatusCode, http::header, response::IntoResponse, routing::get,
};

use crate::metrics::Metrics;
use crate::webhook::WebhookState;
use events::EventBus;

/// What the HTTP handlers share.
#[derive(Debug, Clone)]
pub struct HttpState {
    pub readiness: Readiness,
    pub metrics: Arc<Metrics>,
}

/// Whether the gateway should receive traffic: started, its event bus
/// reachable, and not shutting down.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    started: Arc<AtomicBool>,
    shutting_down: Arc<AtomicBool>,
    bus: Option<Arc<dyn EventBus>>,
}

impl Readiness {
    /// Readiness that also requires `bus` to be reachable: a replica whose
    /// bus is down would answer every webhook 503, so the load balancer should
    /// send Telnyx elsewhere.
    pub fn with_bus(bus: Arc<dyn EventBus>) -> Self {
        Readiness {
            bus: Some(bus),
            ..Readiness::default()
        }
    }

    pub fn set_started(&self) {
        self.started.store(true, Ordering::Release);
    }

    pub fn set_shutting_down(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// `Err` says why the gateway is not ready, in one line.
    pub fn check(&self) -> Result<(), Cow<'static, str>> {
        if self.shutting_down.load(Ordering::Acquire) {
            Err(Cow::Borrowed("shutting down"))
        } else if !self.started.load(Ordering::Acquire) {
            Err(Cow::Borrowed("starting"))
        } else if let Some(reason) = self.bus.as_ref().and_then(|bus| bus.unready_reason()) {
            Err(Cow::Owned(reason))
        } else {
            Ok(())
        }
    }
}

/// The HTTP routes.
pub fn router(state: HttpState, webhook: WebhookState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(webhook.routes())
}

/// Alive: the process runs and answers. Kubernetes restarts it otherwise, so
/// this never depends on anything outside the process.
async fn healthz() -> (StatusCode, &'static str) {
    (StatusCode::OK, "ok\n")
}

/// Ready for traffic: started, dependencies reachable, not shutting down.
async fn readyz(State(state): State<HttpState>) -> (StatusCode, String) {
    match state.readiness.check() {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        ),
    }
}

/// Prometheus text exposition.
async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
