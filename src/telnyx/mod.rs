//! The REST client for Telnyx's Call Control API.
//!
//! It knows HTTP, authentication, retries and Telnyx's error bodies; what to
//! send for which RPC is the business of [`crate::mapping`].

mod client;
mod error;
mod retry;

pub use client::{CallContext, TelnyxClient, TelnyxConfig};
pub use error::{ApiError, ErrorSource, TelnyxError};
pub use retry::RetryPolicy;
