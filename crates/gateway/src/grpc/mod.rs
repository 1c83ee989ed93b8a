//! The gRPC surface: services, deadlines, and the mapping of errors to statuses.
//!
//! - `telnyx_api`: the Conference, Queue and Call services and EventService's
//!   unary RPCs, one generic handler driven by the mapping catalog.
//! - `event_service`, `event_codec`: `EventService.Subscribe`, sending events
//!   encoded once for every subscriber; its other paths go to `telnyx_api`.
//! - `state_service`: `StateService`, the live call-center state of
//!   `state::Tracker`, read and watched.
//! - `status`, `stream_status` and `state_status`: every error of a control
//!   call, an event stream and a state call becomes a status there, and
//!   nowhere else.
//! - `guard`: authentication, the access policy's RPC permissions, caller
//!   rate limits, load shedding and per-call metrics for every service.
//! - `access_status`: every refusal by the policy or a limit becomes a status there.
//! - `deadline`, `trace`: the caller's deadline and W3C trace context.

mod access_status;
mod deadline;
pub mod echo;
mod event_codec;
mod event_service;
mod filter_limits;
mod guard;
mod state_service;
mod state_status;
mod status;
mod stream_caps;
mod stream_status;
mod telnyx_api;
mod trace;

pub use access_status::{ACCESS_ERROR_DOMAIN, AccessError};
pub use event_service::EventService;
pub use filter_limits::{FilterLimits, MAX_FILTER_ID_BYTES};
pub use guard::{GuardLayer, api_methods};
pub use state_service::StateService;
pub use state_status::{STATE_ERROR_DOMAIN, StateError};
pub use status::{ERROR_DOMAIN, GatewayError};
pub use stream_caps::{ANONYMOUS, StreamCaps};
pub use stream_status::{EVENTS_ERROR_DOMAIN, StreamError};
pub use telnyx_api::TelnyxApi;
pub use trace::TraceContext;
