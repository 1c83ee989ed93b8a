//! Unary overhead: `EndConference` through the gateway against the same
//! `POST /conferences/{id}/actions/end` sent straight to the upstream, one
//! call at a time for latency, then many at once for sustained throughput.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use api::v1::EndConferenceRequest;
use api::v1::conference_service_client::ConferenceServiceClient;
use serde::Serialize;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::common;
use crate::procs::{BENCH_TOKEN, Gateway, GatewaySpec, StartError};

#[derive(Debug, Clone)]
pub struct Settings {
    /// Sequential calls timed for the percentiles, each way.
    pub calls: usize,
    /// How long each throughput run lasts.
    pub duration: Duration,
    /// Calls in flight during the throughput runs.
    pub concurrency: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unary {
    pub rpc: &'static str,
    pub gateway_p50_us: f64,
    pub gateway_p99_us: f64,
    pub direct_p50_us: f64,
    pub direct_p99_us: f64,
    pub added_p50_us: f64,
    pub added_p99_us: f64,
    pub gateway_per_sec: f64,
    pub direct_per_sec: f64,
    pub throughput_ratio: f64,
    pub concurrency: usize,
    pub cores: usize,
    /// The gateway's CPU use during its throughput run, in cores.
    pub gateway_cpu: f64,
}

#[derive(Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub type Client = ConferenceServiceClient<InterceptedService<Channel, Bearer>>;

/// The gRPC client every unary figure is driven with (the gateway's and the
/// bare gRPC floor's): one HTTP/2 connection, the bench's bearer token.
pub async fn grpc_client(addr: std::net::SocketAddr) -> Result<Client, tonic::transport::Error> {
    let channel = common::connect(addr).await?;
    let bearer = Bearer(
        format!("Bearer {BENCH_TOKEN}")
            .parse()
            .expect("a valid header"),
    );
    Ok(ConferenceServiceClient::new(InterceptedService::new(
        channel, bearer,
    )))
}

/// The HTTP/1.1 keep-alive client for calls straight to the upstream.
pub fn http1_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1024)
        .build()
        .expect("an HTTP client")
}

pub async fn via_gateway(client: Client) -> bool {
    let mut client = client;
    let request = EndConferenceRequest {
        conference_id: "3fa85f64-5717-4562-b3fc-2c963f66afa6".into(),
        command_id: String::new(),
    };
    client.end_conference(request).await.is_ok()
}

async fn direct(client: reqwest::Client, url: Arc<str>) -> bool {
    let sent = client
        .post(&*url)
        .header("authorization", "Bearer KEYBENCH0123456789")
        .header("content-type", "application/json")
        .body(format!(r#"{{"command_id":"{}"}}"#, uuid::Uuid::new_v4()))
        .send()
        .await;
    match sent {
        Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
        Err(_) => false,
    }
}

pub async fn run(
    spec: &GatewaySpec,
    upstream: std::net::SocketAddr,
    settings: &Settings,
) -> Result<Unary, StartError> {
    let gateway = tokio::task::block_in_place(|| Gateway::start(spec))?;
    let grpc = grpc_client(gateway.grpc_addr)
        .await
        .map_err(|e| StartError::Failed(e.to_string()))?;
    let http = http1_client();
    let url: Arc<str> = format!(
        "{}/conferences/3fa85f64-5717-4562-b3fc-2c963f66afa6/actions/end",
        crate::upstream::base_url(upstream)
    )
    .into();

    let gw = move |_| via_gateway(grpc.clone());
    let dr = move |_| direct(http.clone(), Arc::clone(&url));
    let mut gateway_latency = latencies(gw.clone(), settings.calls).await;
    let mut direct_latency = latencies(dr.clone(), settings.calls).await;
    let cpu_before = gateway.cpu_seconds().unwrap_or(0.0);
    let gateway_per_sec = throughput(gw, settings).await;
    let gateway_cpu = (gateway.cpu_seconds().unwrap_or(0.0) - cpu_before)
        / settings.duration.as_secs_f64().max(1e-9);
    let direct_per_sec = throughput(dr, settings).await;
    let cores = gateway.cores;
    drop(gateway);

    let (g50, g99) = common::percentiles_ms(&mut gateway_latency);
    let (d50, d99) = common::percentiles_ms(&mut direct_latency);
    let us = |ms: f64| (ms * 1e3).round();
    Ok(Unary {
        rpc: "ConferenceService.EndConference",
        gateway_p50_us: us(g50),
        gateway_p99_us: us(g99),
        direct_p50_us: us(d50),
        direct_p99_us: us(d99),
        added_p50_us: us(g50 - d50),
        added_p99_us: us(g99 - d99),
        gateway_per_sec: gateway_per_sec.round(),
        direct_per_sec: direct_per_sec.round(),
        throughput_ratio: common::round3(gateway_per_sec / direct_per_sec),
        concurrency: settings.concurrency,
        cores,
        gateway_cpu: common::round3(gateway_cpu),
    })
}

/// `calls` sequential calls after a warm-up, each timed.
pub async fn latencies<F, Fut>(call: F, calls: usize) -> Vec<Duration>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = bool>,
{
    for n in 0..200 {
        call(n).await;
    }
    let mut samples = Vec::with_capacity(calls);
    for n in 0..calls {
        let started = Instant::now();
        if call(n).await {
            samples.push(started.elapsed());
        }
    }
    samples
}

/// Successful calls per second with `concurrency` in flight.
pub async fn throughput<F, Fut>(call: F, settings: &Settings) -> f64
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + settings.duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..settings.concurrency.max(1) {
        let (call, done) = (call.clone(), Arc::clone(&done));
        workers.spawn(async move {
            while Instant::now() < deadline {
                if call(0).await {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}
