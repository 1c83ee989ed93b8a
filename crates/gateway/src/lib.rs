//! conference-gateway: Telnyx conferences, queues and call control over gRPC.
//!
//! Internal services call gRPC; the gateway holds the Telnyx API key, speaks
//! Telnyx's REST API, retries safely, and maps every answer to a typed
//! response or a precise gRPC status. Callers never see Telnyx's key, its
//! pagination or its error bodies. Telnyx's webhooks arrive on the HTTP
//! listener, verified and deduplicated, and go out to internal services as a
//! live, filtered, resumable gRPC stream.
//!
//! This is the deployable: the `conference-gateway` binary and everything that
//! exists only to run it. It depends on every library of the workspace
//! (`api`, `telnyx-client`, `mapping`, `events`, `state`, and with the `sandbox`
//! feature `telnyx-sim`); nothing depends on it.
//!
//! # Layout
//!
//! - [`config`] holds every setting, as a flag and an environment variable,
//!   grouped by component.
//! - [`app`] binds the listeners, wires the services and owns shutdown.
//! - [`auth`] checks callers' bearer tokens and reloads them when they rotate,
//!   and reads the access policy (per-caller permissions and rates).
//! - [`limits`] keeps the callers' rate limits and the account's dial limit,
//!   in Redis when replicas share one.
//! - [`audit`] writes the audit trail of control calls and refusals.
//! - [`metrics`] is the Prometheus registry behind `GET /metrics`.
//! - [`grpc`] has the services (the three Telnyx ones from one generic
//!   handler, `EventService`, and `StateService` over the `state` crate's
//!   fold), deadlines, and every error mapped to a status in one place.
//! - [`http`] is the plain-HTTP listener (health, webhooks).
//! - [`webhook`] verifies Telnyx's webhook signatures and reads the events.
//! - [`telemetry`] sets up logging and trace export.
//! - `sandbox` (feature `sandbox`) runs the gateway and a simulated Telnyx in
//!   one process.

pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod grpc;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod recovery;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod telemetry;
pub mod webhook;
