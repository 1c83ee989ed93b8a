//! The simulated Telnyx, driven over real HTTP: every operation group, the
//! webhook sequences of call, conference and queue flows (each delivery's
//! signature and schema verified), the caller's side (`/_sim/`), the far
//! end's conventions, delivery records, Telnyx's error codes, `command_id`
//! replay, chaos, and the standalone `telnyx-sim` binary.

mod ai;
mod binary;
mod call_commands;
mod call_flows;
mod call_media;
mod caller;
mod chaos;
mod deliveries;
mod errors;
mod far_end;
mod flows;
mod gathers;
mod operations;
mod recordings;
mod streams;
