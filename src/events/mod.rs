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
//! - [`service`] and [`codec`]: the gRPC `EventService`, sending pre-encoded events.
//! - [`status`]: every stream failure mapped to a gRPC status, in one place.

pub mod bus;
pub mod codec;
pub mod convert;
pub mod cursor;
pub mod filter;
pub mod hub;
pub mod memory;
pub mod model;
pub mod redis;
pub mod service;
pub mod status;
pub mod stream;

pub use self::redis::{RedisBus, RedisBusError, RedisBusSettings};
pub use bus::{BusError, EventBus, Published, Replay, ReplayError};
pub use convert::{Converter, converter};
pub use cursor::{Cursor, Position};
pub use filter::Filter;
pub use hub::Hub;
pub use memory::{MemoryBus, MemoryBusSettings};
pub use model::{Envelope, Event, Keys, Prepared};
pub use service::EventService;
