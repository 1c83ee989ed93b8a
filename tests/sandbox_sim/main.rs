//! The simulated Telnyx, driven over real HTTP: every operation group, the
//! webhook sequences of conference and queue flows (each delivery's
//! signature verified), Telnyx's error codes, `command_id` replay, chaos,
//! and the gateway's own control path through it.

#[path = "../support/mod.rs"]
mod support;

mod chaos;
mod errors;
mod flows;
mod gateway;
mod harness;
mod operations;
