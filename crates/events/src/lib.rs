//! Events: from an accepted webhook to every subscriber that wants it.
//!
//! ```text
//! webhook -> Converter::prepare -> EventBus::publish -> Hub (dispatcher) -> Subscription
//!            (typed, encoded)      (dedupe, cursor,      (filters,          -> EventStream
//!                                   history)              bounded queues)   -> EventService
//! ```
//!
//! - [`model`]: the event at each stage, and why each stage does its work once.
//! - [`convert`]: Telnyx's JSON to the typed protobuf `Event`, declared in the protos.
//! - [`cursor`]: positions, epochs, and the opaque resume token.
//! - [`filter`]: what a subscriber asked for.
//! - [`bus`]: the trait every bus implements; [`memory`] is the one-replica bus,
//!   [`redis`] the bus shared by several replicas.
//! - [`hub`]: ordered fan-out with a bounded queue per subscriber.
//! - [`stream`]: one subscriber's replay-then-live stream, seamless.
//!
//! The gRPC `EventService` that serves these streams, and the statuses their
//! failures become, live in the gateway crate. This crate depends on `api`
//! (the `Event` message) and `mapping` (the catalog the conversion reads the
//! event types from), and on nothing else of the workspace.

pub mod bus;
pub mod convert;
pub mod cursor;
pub mod filter;
pub mod hub;
pub mod memory;
pub mod model;
pub mod redis;
pub mod stream;

pub use self::redis::{
    RedisBus, RedisBusError, RedisBusSettings, SentinelAuth, SentinelSettings, parse_sentinel_nodes,
};
pub use bus::{BusError, EventBus, PAGE, Published, Replay, ReplayError};
pub use convert::{Converter, converter};
pub use cursor::{Cursor, Position};
pub use filter::Filter;
pub use hub::Hub;
pub use memory::{MemoryBus, MemoryBusSettings};
pub use model::{Envelope, Event, Keys, Prepared};
