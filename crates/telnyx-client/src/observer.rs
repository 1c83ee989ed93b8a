//! How the client reports each request, so the deployable can count them
//! without this crate knowing its metrics registry.

/// Told about every request once it is finished, retries included.
pub trait Observer: Send + Sync + 'static {
    /// `operation` is the RPC's short name; `status` a short, fixed label
    /// (`ok`, an HTTP status, or an error kind); `retries` how many attempts
    /// followed the first.
    fn request_finished(&self, operation: &str, status: &str, retries: u32, seconds: f64);
}

/// Reports nowhere: for tools and tests that count nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn request_finished(&self, _: &str, _: &str, _: u32, _: f64) {}
}
