//! Fan-out: many concurrent `Subscribe` streams on one replica, over a
//! realistic number of HTTP/2 connections, and a steady event rate. Measures
//! what the gateway delivers per second, how late (from the moment the
//! webhook was posted), whether anything is lost, and what an idle stream
//! costs the gateway in memory.
//!
//! With one group every stream subscribes to everything (broad: every event
//! goes to every stream). With `groups` > 1 stream `i` filters on conference
//! `conf-<i % groups>` and events rotate over the conferences, so each event
//! reaches `streams / groups` streams.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use api::v1::SubscribeRequest;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::common::{self, Signed};
use crate::procs::{Gateway, GatewaySpec, StartError};

#[derive(Debug, Clone)]
pub struct Settings {
    pub connections: usize,
    pub streams_per_connection: usize,
    /// Events posted per second.
    pub rate: u32,
    pub duration: Duration,
    pub groups: usize,
}

impl Settings {
    /// The gateway settings the scenario needs besides the defaults: every
    /// stream is the one bench caller's, so the stream caps are raised to
    /// what it opens, and `queue` events may wait per stream.
    pub fn gateway_env(&self, queue: u64) -> Vec<(String, String)> {
        let streams = self.connections * self.streams_per_connection;
        vec![
            ("GATEWAY_EVENT_SUBSCRIBER_QUEUE".into(), queue.to_string()),
            (
                "GATEWAY_MAX_STREAMS_PER_CALLER".into(),
                (streams + 64).to_string(),
            ),
            (
                "GATEWAY_MAX_STREAMS_PER_CONNECTION".into(),
                (self.streams_per_connection + 64).to_string(),
            ),
        ]
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Fanout {
    pub streams: usize,
    pub connections: usize,
    pub groups: usize,
    pub events_per_sec: u32,
    pub events: usize,
    pub deliveries: u64,
    pub deliveries_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub lost: u64,
    /// Streams the gateway ended early (a full queue: RESOURCE_EXHAUSTED).
    pub cut_off: u64,
    pub rss_bytes_per_stream: f64,
    pub rss_idle_bytes: u64,
    pub rss_with_streams_bytes: u64,
    pub cores: usize,
    /// The gateway's CPU use while events flowed, in cores (1.0 = one core busy).
    pub gateway_cpu: f64,
}

struct StreamOutcome {
    received: u64,
    expected: u64,
    cut_off: bool,
    latencies_us: Vec<u32>,
    last_at_ns: u64,
}

pub async fn run(spec: &GatewaySpec, settings: &Settings) -> Result<Fanout, StartError> {
    let gateway = tokio::task::block_in_place(|| Gateway::start(spec))?;
    let failed = |e: String| StartError::Failed(e);
    let groups = settings.groups.max(1);
    let count = (settings.rate as f64 * settings.duration.as_secs_f64()) as usize;
    let key = gateway.key.clone();
    let bodies: Vec<Signed> = tokio::task::block_in_place(|| {
        (0..count)
            .map(|n| {
                let conference = format!("conf-{}", n % groups);
                common::sign(
                    &key,
                    common::webhook_body(&format!("fanout-{n}"), &conference),
                )
            })
            .collect()
    });
    let url = common::webhook_url(gateway.http_addr);
    let client = common::http_client();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_idle = gateway.rss_bytes().unwrap_or(0);

    // Open every stream: each connection's streams one after the other, the
    // connections side by side.
    let base = Instant::now();
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..count).map(|_| AtomicU64::new(0)).collect());
    let stop = CancellationToken::new();
    let mut opening = tokio::task::JoinSet::new();
    for c in 0..settings.connections.max(1) {
        let addr = gateway.grpc_addr;
        let per = settings.streams_per_connection;
        opening.spawn(async move {
            let channel = common::connect(addr).await.map_err(|e| e.to_string())?;
            let mut streams = Vec::with_capacity(per);
            for s in 0..per {
                let index = c * per + s;
                let group = index % groups;
                let request = SubscribeRequest {
                    conference_id: if groups > 1 {
                        format!("conf-{group}")
                    } else {
                        String::new()
                    },
                    ..SubscribeRequest::default()
                };
                let stream = common::subscribe(channel.clone(), request)
                    .await
                    .map_err(|e| e.to_string())?;
                streams.push((group, stream));
            }
            Ok::<_, String>((channel, streams))
        });
    }
    let mut channels = Vec::new();
    let mut readers = tokio::task::JoinSet::new();
    let mut streams = 0;
    while let Some(opened) = opening.join_next().await {
        let (channel, opened) = opened
            .map_err(|e| failed(e.to_string()))?
            .map_err(|e| failed(format!("opening streams: {e}")))?;
        channels.push(channel);
        for (group, mut stream) in opened {
            streams += 1;
            let expected = (0..count).filter(|n| n % groups == group).count() as u64;
            let (stop, sent_at) = (stop.clone(), Arc::clone(&sent_at));
            readers.spawn(async move {
                let mut outcome = StreamOutcome {
                    received: 0,
                    expected,
                    cut_off: false,
                    latencies_us: Vec::with_capacity(expected as usize),
                    last_at_ns: 0,
                };
                while outcome.received < expected {
                    let message = tokio::select! {
                        _ = stop.cancelled() => break,
                        message = stream.message() => message,
                    };
                    match message {
                        Ok(Some(event)) => {
                            let at = base.elapsed().as_nanos() as u64;
                            if let Some(seq) = common::seq_of(&event.id, "fanout") {
                                let sent = sent_at[seq].load(Ordering::Acquire);
                                outcome.received += 1;
                                outcome.last_at_ns = at;
                                outcome
                                    .latencies_us
                                    .push((at.saturating_sub(sent) / 1_000) as u32);
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            outcome.cut_off = true;
                            break;
                        }
                    }
                }
                outcome
            });
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_streams = gateway.rss_bytes().unwrap_or(0);

    // A steady rate, each webhook posted on its tick.
    let cpu_before = gateway.cpu_seconds().unwrap_or(0.0);
    let first_sent_ns = base.elapsed().as_nanos() as u64;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / settings.rate as f64));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut posts = tokio::task::JoinSet::new();
    for (seq, signed) in bodies.into_iter().enumerate() {
        ticks.tick().await;
        sent_at[seq].store(base.elapsed().as_nanos() as u64, Ordering::Release);
        let (client, url) = (client.clone(), url.clone());
        posts.spawn(async move { common::post(&client, &url, &signed).await });
    }
    let mut refused = 0usize;
    while let Some(ok) = posts.join_next().await {
        if !ok.unwrap_or(false) {
            refused += 1;
        }
    }
    let drain = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(drain);
    let mut outcomes = Vec::with_capacity(streams);
    loop {
        tokio::select! {
            _ = &mut drain, if !stop.is_cancelled() => stop.cancel(),
            done = readers.join_next() => match done {
                Some(outcome) => outcomes.push(outcome.map_err(|e| failed(e.to_string()))?),
                None => break,
            },
        }
    }
    let cores = gateway.cores;
    let busy = gateway.cpu_seconds().unwrap_or(0.0) - cpu_before;
    let flowing = (base.elapsed().as_nanos() as u64).saturating_sub(first_sent_ns) as f64 / 1e9;
    drop(channels);
    drop(gateway);

    let deliveries: u64 = outcomes.iter().map(|o| o.received).sum();
    let expected: u64 = outcomes.iter().map(|o| o.expected).sum();
    let last_ns = outcomes.iter().map(|o| o.last_at_ns).max().unwrap_or(0);
    let seconds = (last_ns.saturating_sub(first_sent_ns)) as f64 / 1e9;
    let mut latencies: Vec<Duration> = outcomes
        .iter()
        .flat_map(|o| {
            o.latencies_us
                .iter()
                .map(|&us| Duration::from_micros(us.into()))
        })
        .collect();
    let (p50_ms, p99_ms) = common::percentiles_ms(&mut latencies);
    if refused > 0 {
        eprintln!("fanout: {refused} webhooks were not answered 200");
    }
    Ok(Fanout {
        streams,
        connections: settings.connections,
        groups,
        events_per_sec: settings.rate,
        events: count,
        deliveries,
        deliveries_per_sec: if seconds > 0.0 {
            (deliveries as f64 / seconds).round()
        } else {
            0.0
        },
        p50_ms,
        p99_ms,
        lost: expected.saturating_sub(deliveries),
        cut_off: outcomes.iter().filter(|o| o.cut_off).count() as u64,
        rss_bytes_per_stream: if streams > 0 {
            (rss_streams.saturating_sub(rss_idle) as f64 / streams as f64).round()
        } else {
            0.0
        },
        rss_idle_bytes: rss_idle,
        rss_with_streams_bytes: rss_streams,
        cores,
        gateway_cpu: common::round3(busy / flowing.max(1e-9)),
    })
}
