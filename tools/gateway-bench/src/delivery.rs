//! Delivery latency: from the webhook's 200 to a subscriber's receipt of the
//! event, at a fixed event rate. A subscriber often has the event before the
//! poster has read its 200; such a delivery counts as 0.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use api::v1::SubscribeRequest;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::common;
use crate::procs::{Gateway, GatewaySpec, StartError};

#[derive(Debug, Clone)]
pub struct Settings {
    pub rate: u32,
    pub duration: Duration,
    pub subscribers: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub events_per_sec: u32,
    pub events: usize,
    pub subscribers: usize,
    pub lost: u64,
}

pub async fn run(spec: &GatewaySpec, settings: &Settings) -> Result<Delivery, StartError> {
    let gateway = tokio::task::block_in_place(|| Gateway::start(spec))?;
    let failed = |e: String| StartError::Failed(e);
    let count = (settings.rate as f64 * settings.duration.as_secs_f64()) as usize;
    let key = gateway.key.clone();
    let bodies =
        tokio::task::block_in_place(|| common::presign(&key, "delivery", count, "conf-delivery"));
    let url = common::webhook_url(gateway.http_addr);
    let client = common::http_client();
    let base = Instant::now();
    let acks: Arc<Vec<AtomicU64>> = Arc::new((0..count).map(|_| AtomicU64::new(0)).collect());

    let channel = common::connect(gateway.grpc_addr)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let stop = CancellationToken::new();
    let mut subscribers = tokio::task::JoinSet::new();
    for _ in 0..settings.subscribers.max(1) {
        let mut stream = common::subscribe(channel.clone(), SubscribeRequest::default())
            .await
            .map_err(|e| failed(e.to_string()))?;
        let stop = stop.clone();
        subscribers.spawn(async move {
            let mut received: Vec<(usize, u64)> = Vec::with_capacity(count);
            loop {
                let message = tokio::select! {
                    _ = stop.cancelled() => break,
                    message = stream.message() => message,
                };
                match message {
                    Ok(Some(event)) => {
                        let at = base.elapsed().as_nanos() as u64;
                        if let Some(seq) = common::seq_of(&event.id, "delivery") {
                            received.push((seq, at));
                        }
                        if received.len() >= count {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            received
        });
    }
    // Warm up the connections.
    for signed in common::presign(&key, "warm", 50, "conf-delivery") {
        common::post(&client, &url, &signed).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / settings.rate as f64));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut posts = tokio::task::JoinSet::new();
    for (seq, signed) in bodies.into_iter().enumerate() {
        ticks.tick().await;
        let (client, url, acks) = (client.clone(), url.clone(), Arc::clone(&acks));
        posts.spawn(async move {
            if common::post(&client, &url, &signed).await {
                acks[seq].store(base.elapsed().as_nanos() as u64, Ordering::Release);
            }
        });
    }
    while posts.join_next().await.is_some() {}
    let drain = tokio::time::sleep(Duration::from_secs(3));
    tokio::pin!(drain);
    let mut all = Vec::new();
    loop {
        tokio::select! {
            _ = &mut drain, if !stop.is_cancelled() => stop.cancel(),
            done = subscribers.join_next() => match done {
                Some(received) => all.push(received.expect("subscribers do not panic")),
                None => break,
            },
        }
    }
    drop(gateway);

    let mut latencies = Vec::new();
    let mut lost = 0u64;
    for received in &all {
        lost += count.saturating_sub(received.len()) as u64;
        for &(seq, at) in received {
            let Some(ack) = acks.get(seq).map(|a| a.load(Ordering::Acquire)) else {
                continue;
            };
            if ack != 0 {
                latencies.push(Duration::from_nanos(at.saturating_sub(ack)));
            }
        }
    }
    let max_ms = latencies
        .iter()
        .max()
        .map_or(f64::NAN, |d| common::round3(d.as_secs_f64() * 1e3));
    let (p50_ms, p99_ms) = common::percentiles_ms(&mut latencies);
    Ok(Delivery {
        p50_ms,
        p99_ms,
        max_ms,
        events_per_sec: settings.rate,
        events: count,
        subscribers: settings.subscribers,
        lost,
    })
}
