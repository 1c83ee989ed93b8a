//! The HTTP client for Telnyx's REST API.
//!
//! It knows HTTP, authentication, deadlines, retries and Telnyx's error
//! bodies, and owns the call type ([`RestCall`]) that callers fill in. What to
//! send for which RPC is the mapping crate's business, which builds on this
//! one; this crate depends on no other crate of the workspace, so nothing here
//! reaches back up into the mapping.

mod call;
mod client;
mod error;
mod observer;
mod rate_limit;
mod retry;

pub use call::RestCall;
pub use client::{
    CallContext, ClientError, DEFAULT_MAX_RESPONSE_BYTES, TelnyxClient, TelnyxConfig,
};
pub use error::{ApiError, ErrorSource, TelnyxError};
pub use observer::{NoObserver, Observer};
pub use rate_limit::{MAX_EXHAUSTION, RateLimitState, UNIX_TIME_FLOOR};
pub use retry::RetryPolicy;
