//! The gRPC surface: services, deadlines, and the mapping of errors to statuses.

mod deadline;
mod guard;
mod status;
mod telnyx_api;
mod trace;

pub use guard::GuardLayer;
pub use status::{ERROR_DOMAIN, GatewayError};
pub use telnyx_api::TelnyxApi;
pub use trace::TraceContext;
