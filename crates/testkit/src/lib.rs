//! Test support shared by the integration tests of the workspace's crates,
//! compiled once instead of once per test binary. Never shipped.
//!
//! - [`redis`]: private `redis-server` processes on free ports (never one
//!   already running), killed when dropped.
//! - [`spec`]: every request and answer checked against Telnyx's OpenAPI spec,
//!   with objects closed so a misnamed field fails.
//! - [`receiver`]: a webhook endpoint that verifies signatures as Telnyx's SDKs do.
//! - [`webhook`]: webhook bodies and signatures, from the simulator's one signer.
//! - [`sim`]: a simulated Telnyx with fast timing, a receiver and a checking REST client.
//!
//! It depends on `telnyx-sim` only.

pub mod receiver;
pub mod redis;
pub mod sim;
pub mod spec;
pub mod webhook;

/// The Telnyx API key gateways under test are given, and that mocks and
/// simulators under test accept.
pub const TEST_API_KEY: &str = "KEY0123456789TESTSECRET";
