//! gateway-bench: measures a real `conference-gateway` process on loopback:
//! webhook ingest, delivery latency, fan-out to many streams, and the cost of
//! a unary call through the gateway. `--json` prints one JSON object; without
//! it, a table. See docs/BENCHMARKS.md for what each figure means.
//!
//! It depends on `api` (the clients) and `telnyx-sim` (the webhook signer)
//! only: the gateway is measured as the separate process it is in production,
//! never linked in, and the benchmark is never part of the image.

mod common;
mod delivery;
mod fanout;
mod floor;
mod ingest;
mod plot;
mod procs;
mod report;
mod sweep;
mod unary;
mod upstream;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use procs::{GatewaySpec, StartError};
use report::{Machine, Pair, Ratios, Report};

/// Benchmarks the gateway binary against a local upstream and Redis.
#[derive(Debug, Clone, Parser)]
#[command(name = "gateway-bench", about)]
struct Args {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// The gateway binary (default: `conference-gateway` next to this one).
    #[arg(long)]
    gateway_bin: Option<PathBuf>,
    /// Cores the gateway is pinned to (taskset -c 0..N-1).
    #[arg(long, default_value_t = 1)]
    cores: usize,
    /// Scenarios to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "verify,ingest,delivery,fanout,floor,unary"
    )]
    only: Vec<String>,
    /// Skip the Redis variants even when the gateway supports REDIS_URL.
    #[arg(long)]
    no_redis: bool,

    /// Seconds of raw signature verification.
    #[arg(long, default_value_t = 2.0)]
    verify_secs: f64,

    /// Seconds of webhook ingest per bus.
    #[arg(long, default_value_t = 5.0)]
    ingest_secs: f64,
    /// Concurrent keep-alive connections posting webhooks.
    #[arg(long, default_value_t = 32)]
    ingest_connections: usize,

    /// Events per second in the delivery scenario.
    #[arg(long, default_value_t = 1000)]
    delivery_rate: u32,
    /// Seconds of the delivery scenario per bus.
    #[arg(long, default_value_t = 5.0)]
    delivery_secs: f64,
    /// Subscribers timing each event.
    #[arg(long, default_value_t = 4)]
    delivery_subscribers: usize,

    /// HTTP/2 connections carrying the fan-out streams.
    #[arg(long, default_value_t = 100)]
    fanout_connections: usize,
    /// `Subscribe` streams per connection.
    #[arg(long, default_value_t = 200)]
    fanout_streams_per_connection: usize,
    /// Events per second during fan-out (each to every stream by default:
    /// 6/s to 20,000 streams offers 120,000 deliveries/s).
    #[arg(long, default_value_t = 6)]
    fanout_rate: u32,
    /// Seconds of events during fan-out.
    #[arg(long, default_value_t = 10.0)]
    fanout_secs: f64,
    /// 1: every stream gets every event; N: streams filter on one of N
    /// conferences and each event reaches 1/N of them.
    #[arg(long, default_value_t = 1)]
    fanout_groups: usize,
    /// Events a stream may have queued in the gateway (GATEWAY_EVENT_SUBSCRIBER_QUEUE).
    #[arg(long, default_value_t = 1024)]
    fanout_queue: u64,

    /// Sequential calls timed each way in the unary scenario.
    #[arg(long, default_value_t = 3000)]
    unary_calls: usize,
    /// Seconds of each unary throughput run.
    #[arg(long, default_value_t = 3.0)]
    unary_secs: f64,
    /// Calls in flight during the unary throughput runs.
    #[arg(long, default_value_t = 32)]
    unary_concurrency: usize,

    /// Run the sweep instead of the scenarios: fan-out at 1,000 to 50,000
    /// streams (broad and filtered), ingest at 1 to 128 connections; writes
    /// sweep.md and sweep.svg into --sweep-dir.
    #[arg(long)]
    sweep: bool,
    /// Where --sweep writes sweep.md and sweep.svg.
    #[arg(long, default_value = "docs")]
    sweep_dir: PathBuf,
    /// Stream counts of the sweep's fan-out points.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,20000,50000")]
    sweep_streams: Vec<usize>,
    /// Connection counts of the sweep's ingest points.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,128")]
    sweep_connections: Vec<usize>,
    /// Seconds of events at each fan-out point of the sweep.
    #[arg(long, default_value_t = 5.0)]
    sweep_fanout_secs: f64,
    /// Seconds of webhooks at each ingest point of the sweep.
    #[arg(long, default_value_t = 3.0)]
    sweep_ingest_secs: f64,

    /// Serve the bare gRPC floor on this address until killed (how the bench
    /// starts its own floor process; not for use by hand).
    #[arg(long, hide = true)]
    serve_grpc_floor: Option<std::net::SocketAddr>,
}

impl Args {
    fn runs(&self, scenario: &str) -> bool {
        self.only.iter().any(|s| s == scenario)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(addr) = args.serve_grpc_floor {
        return floor::serve(addr);
    }
    let binary = match procs::gateway_binary(args.gateway_bin.clone()) {
        Ok(binary) => binary,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let bench_cpus = procs::Gateway::pin_bench_away(args.cores);
    let started = Instant::now();
    // First, while nothing else runs: the ceiling ingest is compared with.
    let verify_per_sec = verify::run(Duration::from_secs_f64(args.verify_secs)).round();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    if args.sweep {
        return run_sweep(&args, &runtime, binary, verify_per_sec, bench_cpus);
    }
    let mut report = runtime.block_on(run(&args, binary, verify_per_sec));
    report.ratios = Ratios::of(&report);
    report.machine = Machine::read(procs::Gateway::pinning_available(), bench_cpus);
    report.seconds = common::round3(started.elapsed().as_secs_f64());
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("the report serialises")
        );
    } else {
        print!("{}", report::table(&report));
    }
    ExitCode::SUCCESS
}

fn run_sweep(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    binary: PathBuf,
    verify_per_sec: f64,
    bench_cpus: Option<String>,
) -> ExitCode {
    let sweep = runtime.block_on(async {
        let upstream = upstream::start().await.expect("a local upstream");
        let memory = GatewaySpec {
            binary,
            cores: args.cores,
            upstream: upstream::base_url(upstream),
            env: Vec::new(),
        };
        let settings = sweep::Settings {
            fanout_secs: args.sweep_fanout_secs,
            ingest_secs: args.sweep_ingest_secs,
            queue: args.fanout_queue,
            streams: args.sweep_streams.clone(),
            connections: args.sweep_connections.clone(),
        };
        sweep::run(&memory, &settings, verify_per_sec).await
    });
    let machine = Machine::read(procs::Gateway::pinning_available(), bench_cpus);
    let command = std::iter::once("gateway-bench".to_owned())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    if let Err(error) = sweep::write(&sweep, &machine, &command, &args.sweep_dir) {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&sweep).expect("the sweep serialises")
        );
    } else {
        print!("{}", sweep::markdown(&sweep, &machine, &command));
    }
    ExitCode::SUCCESS
}

fn note<T>(
    name: &str,
    result: Result<T, StartError>,
    skipped: &mut std::collections::BTreeMap<&'static str, String>,
    key: &'static str,
) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            eprintln!("{name}: {error}");
            skipped.insert(key, error.to_string());
            None
        }
    }
}

async fn run(args: &Args, binary: PathBuf, verify_per_sec: f64) -> Report {
    let upstream = upstream::start().await.expect("a local upstream");
    let memory = GatewaySpec {
        binary: binary.clone(),
        cores: args.cores,
        upstream: upstream::base_url(upstream),
        env: Vec::new(),
    };
    // The Redis bus is chosen with REDIS_URL; a gateway without it does not
    // list it among its settings (and refuses it at start, exit 2).
    let mut redis_skipped: Option<String> = None;
    let mut redis_server = None;
    if args.no_redis {
        redis_skipped = Some("--no-redis".into());
    } else if !procs::gateway_knows(&binary, "REDIS_URL") {
        redis_skipped =
            Some("this gateway does not support REDIS_URL (not among its settings)".into());
    } else {
        match procs::Redis::start() {
            Ok(server) => redis_server = Some(server),
            Err(error) => redis_skipped = Some(error),
        }
    }
    let redis = redis_server.as_ref().map(|server| GatewaySpec {
        env: vec![("REDIS_URL".into(), server.url())],
        ..memory.clone()
    });

    let mut report = Report {
        machine: Machine::read(false, None),
        verify_per_sec,
        ingest: Pair::new(),
        delivery: Pair::new(),
        fanout: None,
        unary: None,
        floor: floor::Floors {
            grpc_hop: None,
            http_hop: None,
        },
        ratios: Ratios::empty(),
        skipped: Default::default(),
        seconds: 0.0,
    };

    if args.runs("ingest") {
        let settings = ingest::Settings {
            duration: Duration::from_secs_f64(args.ingest_secs),
            connections: args.ingest_connections,
        };
        let result = ingest::run(&memory, &settings, verify_per_sec).await;
        report.ingest.memory = note(
            "ingest.memory",
            result,
            &mut report.ingest.skipped,
            "memory",
        );
        match &redis {
            Some(spec) => {
                let result = ingest::run(spec, &settings, verify_per_sec).await;
                report.ingest.redis =
                    note("ingest.redis", result, &mut report.ingest.skipped, "redis");
            }
            None => {
                let why = redis_skipped.clone().unwrap_or_default();
                report.ingest.skipped.insert("redis", why);
            }
        }
    }
    if args.runs("delivery") {
        let settings = delivery::Settings {
            rate: args.delivery_rate.max(1),
            duration: Duration::from_secs_f64(args.delivery_secs),
            subscribers: args.delivery_subscribers,
        };
        let result = delivery::run(&memory, &settings).await;
        report.delivery.memory = note(
            "delivery.memory",
            result,
            &mut report.delivery.skipped,
            "memory",
        );
        match &redis {
            Some(spec) => {
                let result = delivery::run(spec, &settings).await;
                report.delivery.redis = note(
                    "delivery.redis",
                    result,
                    &mut report.delivery.skipped,
                    "redis",
                );
            }
            None => {
                let why = redis_skipped.clone().unwrap_or_default();
                report.delivery.skipped.insert("redis", why);
            }
        }
    }
    if args.runs("fanout") {
        let settings = fanout::Settings {
            connections: args.fanout_connections.max(1),
            streams_per_connection: args.fanout_streams_per_connection.max(1),
            rate: args.fanout_rate.max(1),
            duration: Duration::from_secs_f64(args.fanout_secs),
            groups: args.fanout_groups.max(1),
        };
        let spec = GatewaySpec {
            env: settings.gateway_env(args.fanout_queue),
            ..memory.clone()
        };
        let result = fanout::run(&spec, &settings).await;
        report.fanout = note("fanout", result, &mut report.skipped, "fanout");
    }
    let settings = unary::Settings {
        calls: args.unary_calls.max(1),
        duration: Duration::from_secs_f64(args.unary_secs),
        concurrency: args.unary_concurrency.max(1),
    };
    // The floors right before the unary figures they divide, with the same
    // calls, durations and calls in flight.
    if args.runs("floor") {
        let result = floor::grpc_hop(args.cores, &settings).await;
        report.floor.grpc_hop = note("floor", result, &mut report.skipped, "floor");
        report.floor.http_hop = Some(floor::http_hop(upstream, &settings).await);
    }
    if args.runs("unary") {
        let result = unary::run(&memory, upstream, &settings).await;
        report.unary = note("unary", result, &mut report.skipped, "unary");
    }
    report
}
