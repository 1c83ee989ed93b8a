//! conference-gateway: Telnyx conferences, queues and call control over gRPC.
//!
//! Internal services call gRPC; the gateway holds the Telnyx API key, speaks
//! Telnyx's REST API, retries safely, and maps every answer to a typed
//! response or a precise gRPC status. Callers never see Telnyx's key, its
//! pagination or its error bodies. Telnyx's webhooks arrive on the HTTP
//! listener, verified and deduplicated, and go out to internal services as a
//! live, filtered, resumable gRPC stream.
//!
//! # Layout
//!
//! - [`config`] holds every setting, as a flag and an environment variable.
//! - [`app`] binds the listeners, wires the services and owns shutdown.
//! - [`auth`] checks callers' bearer tokens and reloads them when they rotate.
//! - [`proto`] is the generated API and the descriptors it was compiled from.
//! - [`mapping`] is the declarative RPC-to-REST mapping read from proto
//!   options: validation, request building, the JSON codec, paging.
//! - [`metrics`] is the Prometheus registry behind `GET /metrics`.
//! - [`telnyx`] is the HTTP client: authentication, timeouts, retries, errors.
//! - [`grpc`] has the services, deadlines, and errors mapped to statuses in one place.
//! - [`http`] is the plain-HTTP listener (health, webhooks).
//! - [`webhook`] verifies Telnyx's webhook signatures and reads the events.
//! - [`events`] is the event path after that: conversion, the bus, fan-out,
//!   and the gRPC `EventService`.
//! - [`telemetry`] sets up logging.
//! - [`sandbox`] is a simulated Telnyx for development and tests.

pub mod app;
pub mod auth;
pub mod config;
pub mod events;
pub mod grpc;
pub mod http;
pub mod mapping;
pub mod metrics;
pub mod proto;
pub mod sandbox;
pub mod telemetry;
pub mod telnyx;
pub mod webhook;
