//! `POST /webhooks/telnyx`: Telnyx's webhooks, verified, parsed and published.
//!
//! - [`signature`]: Ed25519 over the raw bytes, the timestamp window, key rotation.
//! - [`envelope`]: what a verified body must hold to be an event.
//! - [`handler`]: the route, in the order that parses nothing unverified.
//! - [`error`]: every refusal mapped to an HTTP status, in one place.

pub mod envelope;
pub mod error;
pub mod handler;
pub mod signature;

pub use error::WebhookError;
pub use handler::{WEBHOOK_PATH, WebhookSettings, WebhookState};
pub use signature::{KeyError, PublicKeys, Verifier};
