//! The Rust client of conference-gateway.
//!
//! - [`Client`]: a channel to the gateway whose every call carries the
//!   caller's `authorization: Bearer <token>`, and the generated clients of
//!   its four services on it.
//! - [`Subscription`]: `EventService.Subscribe` as a stream that resumes by
//!   itself. It reconnects with the cursor of the last event it delivered when
//!   the gateway shuts down for a restart or a rollout, when the connection is
//!   lost, or when the gateway cut this subscriber off for reading too slowly;
//!   it waits a capped, jittered [`Backoff`] in between. When the gateway cannot
//!   resume from that cursor (`OUT_OF_RANGE`: older than its history, or from
//!   before the restart of a gateway without Redis), it yields an
//!   [`Item::Gap`], which the caller must match on, then carries on live.
//!
//! ```no_run
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use conference_gateway_client::{Client, Item, pb::SubscribeRequest};
//!
//! let client = Client::connect("http://127.0.0.1:50051", token)?;
//! let mut events = client.subscribe(SubscribeRequest {
//!     event_types: vec!["conference.*".into()],
//!     ..Default::default()
//! });
//! loop {
//!     match events.next().await? {
//!         Item::Event(event) => println!("{} {}", event.event_type, event.cursor),
//!         Item::Gap(gap) => println!("missed events after {}: reconcile", gap.cursor),
//!     }
//! }
//! # }
//! ```
//!
//! This crate depends on the gateway's published API only (the `api` crate),
//! never on the gateway.

mod auth;
mod backoff;
mod client;
mod subscription;

/// The messages and service clients of `conference_gateway.v1`.
pub use api::v1 as pb;

pub use auth::{AuthedChannel, BearerToken, InvalidToken};
pub use backoff::Backoff;
pub use client::{Client, ConnectError};
pub use subscription::{EVENTS_ERROR_DOMAIN, Gap, Item, Subscription};
