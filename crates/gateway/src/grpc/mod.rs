//! The gRPC surface: services, deadlines, and the mapping of errors to statuses.
//!
//! - `telnyx_api`: the Conference, Queue and Call services and EventService's
//!   unary RPCs, one generic handler driven by the mapping catalog.
//! - `event_service`, `event_codec`: `EventService.Subscribe`, sending events
//!   encoded once for every subscriber; its other paths go to `telnyx_api`.
//! - `status` and `stream_status`: every error of a control call and of an
//!   event stream becomes a status there, and nowhere else.
//! - `guard`: authentication, load shedding and per-call metrics for every service.
//! - `deadline`, `trace`: the caller's deadline and W3C trace context.

mod deadline;
mod event_codec;
mod event_service;
mod guard;
mod status;
mod stream_status;
mod telnyx_api;
mod trace;

pub use event_service::EventService;
pub use guard::GuardLayer;
pub use status::{ERROR_DOMAIN, GatewayError};
pub use stream_status::{EVENTS_ERROR_DOMAIN, StreamError};
pub use telnyx_api::TelnyxApi;
pub use trace::TraceContext;
