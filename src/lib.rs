//! conference-gateway: Telnyx conferences, queues and call control over gRPC.
//!
//! Internal services call gRPC; the gateway holds the Telnyx API key, speaks
//! Telnyx's REST API, retries safely, and maps every answer to a typed
//! response or a precise gRPC status. Callers never see Telnyx's key, its
//! pagination or its error bodies.
//!
//! # Layout
//!
//! - [`config`] holds every setting, as a flag and an environment variable.
//! - [`app`] binds the listeners, wires the services and owns shutdown.
//! - [`proto`] is the generated API and the descriptors it was compiled from.
//! - [`mapping`] is the declarative RPC-to-REST mapping read from proto
//!   options: validation, request building, the JSON codec, paging.
//! - [`telnyx`] is the HTTP client: authentication, timeouts, retries, errors.
//! - [`grpc`] has the services, deadlines, and errors mapped to statuses in one place.
//! - [`http`] is the plain-HTTP listener (health).
//! - [`telemetry`] sets up logging.

pub mod app;
pub mod config;
pub mod events;
pub mod grpc;
pub mod http;
pub mod mapping;
pub mod proto;
pub mod telemetry;
pub mod telnyx;
