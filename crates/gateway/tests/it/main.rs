//! The gateway's integration tests, one binary so the shared support compiles
//! once: a real gateway on port 0, wiremock standing in for Telnyx and
//! asserting the exact requests, the simulated Telnyx for whole flows, private
//! Redis servers, and real gRPC clients.

// The full Dial body is one large `json!` literal.
#![recursion_limit = "256"]

mod support;

mod abuse;
mod access;
mod account_budget;
mod call_commands;
mod call_flows;
mod call_service;
mod client;
mod conference_service;
mod config;
mod control_path;
mod events;
mod operations;
mod process;
mod queue_service;
mod recovery;
mod redis_cluster;
mod redis_health;
mod redis_replication;
mod redis_sentinel;
mod reflection;
mod replicas;
#[cfg(feature = "sandbox")]
mod sandbox_e2e;
mod sim_control;
#[cfg(feature = "sandbox")]
mod state_sandbox;
mod state_service;
mod tls;
#[cfg(feature = "otlp")]
mod traces;
mod webhook;
mod webhook_deliveries;
