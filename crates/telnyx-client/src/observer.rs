//! How the client reports each request, so the deployable can count them
//! without this crate knowing its metrics registry.

use crate::rate_limit::RateLimitState;

/// Told about every request once it is finished, retries included.
pub trait Observer: Send + Sync + 'static {
    /// `operation` is the RPC's short name; `status` a short, fixed label
    /// (`ok`, an HTTP status, or an error kind); `retries` how many attempts
    /// followed the first.
    fn request_finished(&self, operation: &str, status: &str, retries: u32, seconds: f64);

    /// Told about each answer (retries included) that carried Telnyx's
    /// `x-ratelimit-*` headers or was a 429, so the account's remaining
    /// requests can be honoured before the next call is sent. Answers
    /// without them are not reported.
    fn rate_limit(&self, _operation: &str, _state: RateLimitState) {}
}

/// Reports nowhere: for tools and tests that count nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn request_finished(&self, _: &str, _: &str, _: u32, _: f64) {}
}
