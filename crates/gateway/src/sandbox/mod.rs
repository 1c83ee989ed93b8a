//! `conference-gateway sandbox`: the gateway and the simulated Telnyx of the
//! `telnyx-sim` crate in one process, wired to each other, for the quickstart
//! and for end-to-end tests. Only built with the `sandbox` feature, which the
//! container image leaves off.

mod banner;
mod run;

pub use run::{Callers, DEVELOPER, Sandbox, SandboxError, run};
