//! The floors the gateway is compared with, measured in the same run on the
//! same cores: what a bare gRPC hop costs (`grpc_hop`) and what a bare
//! HTTP/1.1 keep-alive request to the upstream costs (`http_hop`). A unary
//! call through the gateway is one of each, so the gateway's own work is what
//! it adds above them; the ratios in the report say how close it gets.
//!
//! The gRPC floor is this binary started again (`--serve-grpc-floor`) as a
//! separate process pinned with `taskset` exactly like the gateway, serving
//! `ConferenceService/EndConference` with no work but the same bearer-token
//! check and no TLS (as the gateway runs in the bench). The bench drives it
//! with the very client code that drives the gateway.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use api::v1::{EndConferenceRequest, EndConferenceResponse};
use serde::Serialize;
use tonic::codegen::BoxFuture;
use tonic::codegen::http;
use tonic_prost::ProstCodec;

use crate::procs::{self, BENCH_TOKEN, StartError};
use crate::unary::{self, Settings};

/// One floor: sequential latency, then throughput with calls in flight.
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub p50_us: f64,
    pub p99_us: f64,
    pub per_sec: f64,
    pub concurrency: usize,
    /// The serving process's CPU use during the throughput run, in cores
    /// (the bench's in-process upstream for `http_hop`: not pinned, not
    /// measured, so 0 there).
    pub server_cpu: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Floors {
    pub grpc_hop: Option<Hop>,
    pub http_hop: Option<Hop>,
}

/// A bare gRPC server process, pinned like the gateway, killed on drop.
pub struct GrpcFloor {
    child: Child,
    pub addr: SocketAddr,
}

impl GrpcFloor {
    pub fn start(cores: usize) -> Result<GrpcFloor, StartError> {
        let addr: SocketAddr = ([127, 0, 0, 1], procs::free_port()).into();
        let this = std::env::current_exe().map_err(|e| StartError::Failed(e.to_string()))?;
        let (mut command, _) = procs::pinned_command(&this, cores);
        command
            .arg("--serve-grpc-floor")
            .arg(addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command
            .spawn()
            .map_err(|e| StartError::Failed(format!("{}: {e}", this.display())))?;
        let mut floor = GrpcFloor { child, addr };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = floor.child.try_wait() {
                return Err(StartError::Failed(format!(
                    "the gRPC floor exited with {status}"
                )));
            }
            if std::net::TcpStream::connect(addr).is_ok() {
                return Ok(floor);
            }
            if Instant::now() > deadline {
                return Err(StartError::Failed(
                    "the gRPC floor was not listening within 10 s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn cpu_seconds(&self) -> Option<f64> {
        procs::cpu_seconds_of(self.child.id())
    }
}

impl Drop for GrpcFloor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Measures the gRPC hop against a fresh floor process on `cores` cores.
pub async fn grpc_hop(cores: usize, settings: &Settings) -> Result<Hop, StartError> {
    let floor = tokio::task::block_in_place(|| GrpcFloor::start(cores))?;
    let client = unary::grpc_client(floor.addr)
        .await
        .map_err(|e| StartError::Failed(e.to_string()))?;
    let call = move |_| unary::via_gateway(client.clone());
    let mut latency = unary::latencies(call.clone(), settings.calls).await;
    let cpu_before = floor.cpu_seconds().unwrap_or(0.0);
    let per_sec = unary::throughput(call, settings).await;
    let cpu = (floor.cpu_seconds().unwrap_or(0.0) - cpu_before)
        / settings.duration.as_secs_f64().max(1e-9);
    drop(floor);
    Ok(hop(&mut latency, per_sec, settings.concurrency, cpu))
}

/// Measures a bare keep-alive `GET` to the upstream the gateway calls.
pub async fn http_hop(upstream: SocketAddr, settings: &Settings) -> Hop {
    let client = unary::http1_client();
    let url: Arc<str> = format!("{}/", crate::upstream::base_url(upstream)).into();
    let call = move |_| bare_get(client.clone(), Arc::clone(&url));
    let mut latency = unary::latencies(call.clone(), settings.calls).await;
    let per_sec = unary::throughput(call, settings).await;
    hop(&mut latency, per_sec, settings.concurrency, 0.0)
}

fn hop(latency: &mut [Duration], per_sec: f64, concurrency: usize, cpu: f64) -> Hop {
    let (p50, p99) = crate::common::percentiles_ms(latency);
    Hop {
        p50_us: (p50 * 1e3).round(),
        p99_us: (p99 * 1e3).round(),
        per_sec: per_sec.round(),
        concurrency,
        server_cpu: crate::common::round3(cpu),
    }
}

async fn bare_get(client: reqwest::Client, url: Arc<str>) -> bool {
    match client.get(&*url).send().await {
        Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
        Err(_) => false,
    }
}

/// Runs the bare gRPC service on `addr` until killed (the hidden
/// `--serve-grpc-floor ADDR` mode of this binary).
pub fn serve(addr: SocketAddr) -> std::process::ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let served = runtime.block_on(async move {
        tonic::transport::Server::builder()
            .add_service(Bare {
                expected: Arc::from(format!("Bearer {BENCH_TOKEN}")),
            })
            .serve(addr)
            .await
    });
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("grpc floor: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `ConferenceService` reduced to a bearer check and an empty answer.
#[derive(Clone)]
struct Bare {
    expected: Arc<str>,
}

impl tonic::server::NamedService for Bare {
    const NAME: &'static str = "conference_gateway.v1.ConferenceService";
}

struct EndConference;

impl tonic::server::UnaryService<EndConferenceRequest> for EndConference {
    type Response = EndConferenceResponse;
    type Future = std::future::Ready<Result<tonic::Response<EndConferenceResponse>, tonic::Status>>;

    fn call(&mut self, _request: tonic::Request<EndConferenceRequest>) -> Self::Future {
        std::future::ready(Ok(tonic::Response::new(EndConferenceResponse {
            result: "ok".into(),
        })))
    }
}

impl tonic::codegen::Service<http::Request<tonic::body::Body>> for Bare {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let authorised = request
            .headers()
            .get("authorization")
            .is_some_and(|value| value.as_bytes() == self.expected.as_bytes());
        let known =
            request.uri().path() == "/conference_gateway.v1.ConferenceService/EndConference";
        Box::pin(async move {
            if !authorised {
                return Ok(tonic::Status::unauthenticated("a bearer token is required").into_http());
            }
            if !known {
                return Ok(tonic::Status::unimplemented("only EndConference").into_http());
            }
            let codec: ProstCodec<EndConferenceResponse, EndConferenceRequest> =
                ProstCodec::default();
            Ok(tonic::server::Grpc::new(codec)
                .unary(EndConference, request)
                .await)
        })
    }
}
