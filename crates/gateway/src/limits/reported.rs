//! Where the Telnyx client reports: each request to the metrics, and what
//! Telnyx says of the account's remaining requests to the limits.

use std::sync::Arc;

use telnyx_client::{Observer, RateLimitState};

use super::{DIAL, Limits};
use crate::metrics::Metrics;

/// The client's observer: metrics, and the account's budget.
pub struct Reported {
    pub metrics: Arc<Metrics>,
    pub limits: Arc<Limits>,
}

impl Observer for Reported {
    fn request_finished(&self, operation: &str, status: &str, retries: u32, seconds: f64) {
        self.metrics
            .request_finished(operation, status, retries, seconds);
    }

    /// Dial has a limit class of its own (see [`super::DIAL_WINDOW`]); its
    /// answers say nothing of the budget of every other call.
    fn rate_limit(&self, operation: &str, state: RateLimitState) {
        if operation == DIAL {
            return;
        }
        if let Some(wait) = state.exhausted_for() {
            tracing::info!(
                operation,
                wait_ms = wait.as_millis() as u64,
                status = state.status,
                "Telnyx says the account has no requests left; holding calls until the reset"
            );
            self.limits.exhaust(wait);
        }
    }
}
