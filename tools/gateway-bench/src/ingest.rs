//! Ingest: signed webhooks accepted per second through the whole HTTP path
//! (headers, body, signature, JSON, conversion, bus), with the latency of the
//! 200. Webhooks are signed before the clock starts, so the bench's own
//! signing does not compete with the gateway for CPU.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::common::{self, Signed};
use crate::procs::{Gateway, GatewaySpec, StartError};

#[derive(Debug, Clone)]
pub struct Settings {
    pub duration: Duration,
    /// Keep-alive connections posting concurrently.
    pub connections: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ingest {
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub cores: usize,
    pub accepted: u64,
    pub refused: u64,
    pub connections: usize,
    pub seconds: f64,
    /// Accepted per second per gateway core, as a share of `verify_per_sec`.
    pub share_of_verify_per_core: f64,
    /// The gateway's CPU use during the run, in cores (1.0 = one core busy).
    pub gateway_cpu: f64,
    /// `per_sec / gateway_cpu`: what one fully busy gateway core would accept
    /// at the measured cost per webhook (derived; meaningful when the load
    /// generator, not the gateway, is what limits `per_sec`).
    pub per_busy_core_sec: f64,
}

pub async fn run(
    spec: &GatewaySpec,
    settings: &Settings,
    verify_per_sec: f64,
) -> Result<Ingest, StartError> {
    let gateway = tokio::task::block_in_place(|| Gateway::start(spec))?;
    let url = common::webhook_url(gateway.http_addr);
    let client = common::http_client();
    // Enough for the ceiling (every core verifying flat out), plus a margin.
    let ceiling = verify_per_sec * gateway.cores as f64 * settings.duration.as_secs_f64();
    let count = ((ceiling * 1.15) as usize).clamp(1_000, 2_000_000);
    let key = gateway.key.clone();
    let bodies = tokio::task::block_in_place(|| {
        Arc::new(common::presign(&key, "ingest", count, "conf-ingest"))
    });
    // Warm up: connections open, allocator and caches settled.
    let warm = common::presign(&key, "warm", 200, "conf-ingest");
    for signed in &warm {
        common::post(&client, &url, signed).await;
    }

    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = gateway.cpu_seconds().unwrap_or(0.0);
    let started = Instant::now();
    let deadline = started + settings.duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..settings.connections.max(1) {
        let (client, url, bodies, next) = (
            client.clone(),
            url.clone(),
            Arc::clone(&bodies),
            Arc::clone(&next),
        );
        workers.spawn(async move { worker(client, url, bodies, next, deadline).await });
    }
    let mut latencies = Vec::new();
    let (mut accepted, mut refused) = (0u64, 0u64);
    while let Some(done) = workers.join_next().await {
        let (lat, ok, bad) = done.expect("ingest workers do not panic");
        latencies.extend(lat);
        accepted += ok;
        refused += bad;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cores = gateway.cores;
    let busy = gateway.cpu_seconds().unwrap_or(0.0) - cpu_before;
    drop(gateway);
    let (p50_ms, p99_ms) = common::percentiles_ms(&mut latencies);
    let per_sec = accepted as f64 / seconds;
    Ok(Ingest {
        per_sec: per_sec.round(),
        p50_ms,
        p99_ms,
        cores,
        accepted,
        refused,
        connections: settings.connections,
        seconds: common::round3(seconds),
        share_of_verify_per_core: common::round3(per_sec / cores as f64 / verify_per_sec),
        gateway_cpu: common::round3(busy / seconds),
        per_busy_core_sec: if busy > 0.0 {
            (accepted as f64 / busy).round()
        } else {
            0.0
        },
    })
}

async fn worker(
    client: reqwest::Client,
    url: String,
    bodies: Arc<Vec<Signed>>,
    next: Arc<AtomicUsize>,
    deadline: Instant,
) -> (Vec<Duration>, u64, u64) {
    let mut latencies = Vec::new();
    let (mut ok, mut bad) = (0, 0);
    while Instant::now() < deadline {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(signed) = bodies.get(index) else {
            break;
        };
        let sent = Instant::now();
        if common::post(&client, &url, signed).await {
            ok += 1;
            latencies.push(sent.elapsed());
        } else {
            bad += 1;
        }
    }
    (latencies, ok, bad)
}
