//! The simulated Telnyx, driven over real HTTP: every operation group, the
//! webhook sequences of conference and queue flows (each delivery's
//! signature verified), Telnyx's error codes, `command_id` replay, chaos,
//! and the standalone `telnyx-sim` binary.

mod binary;
mod chaos;
mod errors;
mod flows;
mod operations;
