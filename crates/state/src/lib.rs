//! Live call-center state: who waits in each queue, who is in each
//! conference, what each call is doing, as a deterministic fold of the event
//! stream.
//!
//! Every team building on the event stream would otherwise write this fold
//! itself, and get duplicates, reordering and restarts wrong in its own way.
//! The gateway holds the one ordered copy of the events, so it folds them
//! once and serves the result (`StateService` in the gateway crate).
//!
//! - [`stamp`]: last-writer-wins registers ordered by `occurred_at`, why the
//!   fold is indifferent to duplicates and delivery order.
//! - [`input`]: what the fold reads of an accepted event (Telnyx's JSON).
//! - [`call`], [`queue`], [`conference`], [`media`]: each subject's state
//!   and how events change it.
//! - [`fold`]: all subjects, the retention that bounds memory, reads.
//! - [`tracker`]: one replica's fold kept in step with its bus (history
//!   first, then live), and watches with latest-state semantics
//!   ([`watchers`]).
//!
//! The fold is pure and unit-tested event by event; the tracker needs a Tokio
//! runtime. This crate depends on `api` (the state messages it renders) and
//! `events` (the bus it folds), and on nothing else of the workspace.

pub mod call;
pub mod conference;
pub mod fold;
pub mod input;
pub mod media;
pub mod queue;
pub mod stamp;
pub mod tracker;
pub mod watchers;

#[cfg(test)]
mod tests;

pub use fold::{Fold, Gone, Settings, Sizes, Subject};
pub use input::Input;
pub use tracker::{NotReady, Tracker, Watch};
