//! `--sweep`: how the gateway's cost grows with the work. Fan-out at 1,000,
//! 5,000, 20,000 and 50,000 streams, broad (every stream wants every event)
//! and filtered (each stream names one of 100 conferences), and ingest at 1,
//! 8, 32 and 128 connections; each point on a fresh gateway. Writes
//! `sweep.md` (the table) and `sweep.svg` (the curves) into `--sweep-dir`.
//!
//! Broad fan-out is offered the same 120,000 deliveries/s at every size
//! (events/s = 120,000 / streams, at least 1 and at most 1,000), so what changes along the
//! curve is the number of streams, not the load. Filtered fan-out posts
//! 200 events/s over 100 conferences, so each event reaches 1 % of the
//! streams and the deliveries grow with the streams (2 per stream per second).

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::common::round3;
use crate::fanout;
use crate::ingest;
use crate::procs::{GatewaySpec, StartError};

/// Deliveries per second offered to broad fan-out at every size.
const BROAD_DELIVERIES_PER_SEC: usize = 120_000;
/// The most events per second a fan-out point posts (small stream counts).
const MAX_RATE: usize = 1_000;
/// Conferences the filtered streams are spread over.
const FILTER_GROUPS: usize = 100;
/// Events per second in filtered fan-out.
const FILTERED_RATE: u32 = 200;
/// Streams per HTTP/2 connection, as in the default fan-out scenario.
const STREAMS_PER_CONNECTION: usize = 200;

#[derive(Debug, Clone)]
pub struct Settings {
    pub fanout_secs: f64,
    pub ingest_secs: f64,
    pub queue: u64,
    /// Stream counts of the fan-out points (1,000, 5,000, 20,000, 50,000).
    pub streams: Vec<usize>,
    /// Connection counts of the ingest points (1, 8, 32, 128).
    pub connections: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FanoutPoint {
    pub streams: usize,
    /// `"broad"` or `"filtered"`.
    pub kind: &'static str,
    pub events_per_sec: u32,
    pub deliveries_per_sec: f64,
    pub gateway_cpu: f64,
    /// Gateway CPU time per delivery (the webhooks' ingest included).
    pub cpu_us_per_delivery: f64,
    /// Deliveries per second one fully busy gateway core would make.
    pub deliveries_per_busy_core_sec: f64,
    pub rss_bytes_per_stream: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub lost: u64,
    pub cut_off: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestPoint {
    pub connections: usize,
    pub per_sec: f64,
    pub gateway_cpu: f64,
    pub per_busy_core_sec: f64,
    pub per_busy_core_over_verify: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub refused: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    pub verify_per_sec: f64,
    pub cores: usize,
    pub fanout: Vec<FanoutPoint>,
    pub ingest: Vec<IngestPoint>,
    /// Points that did not run, and why.
    pub skipped: Vec<String>,
}

pub async fn run(memory: &GatewaySpec, settings: &Settings, verify_per_sec: f64) -> Sweep {
    let mut sweep = Sweep {
        verify_per_sec,
        cores: memory.cores,
        fanout: Vec::new(),
        ingest: Vec::new(),
        skipped: Vec::new(),
    };
    for kind in ["broad", "filtered"] {
        for &streams in &settings.streams {
            let streams = streams.max(1);
            let (groups, rate) = if kind == "broad" {
                (
                    1,
                    (BROAD_DELIVERIES_PER_SEC / streams).clamp(1, MAX_RATE) as u32,
                )
            } else {
                (FILTER_GROUPS, FILTERED_RATE)
            };
            let point = fanout::Settings {
                connections: streams.div_ceil(STREAMS_PER_CONNECTION),
                streams_per_connection: STREAMS_PER_CONNECTION.min(streams),
                rate,
                duration: Duration::from_secs_f64(settings.fanout_secs),
                groups,
            };
            eprintln!("sweep: fan-out {kind} {streams} streams, {rate} events/s");
            let spec = GatewaySpec {
                env: point.gateway_env(settings.queue),
                ..memory.clone()
            };
            match fanout::run(&spec, &point).await {
                Ok(f) => sweep.fanout.push(fanout_point(kind, &f)),
                Err(error) => sweep
                    .skipped
                    .push(skip(&format!("{kind} {streams}"), error)),
            }
        }
    }
    for &connections in &settings.connections {
        let connections = connections.max(1);
        let point = ingest::Settings {
            duration: Duration::from_secs_f64(settings.ingest_secs),
            connections,
        };
        eprintln!("sweep: ingest over {connections} connection(s)");
        match ingest::run(memory, &point, verify_per_sec).await {
            Ok(i) => sweep.ingest.push(IngestPoint {
                connections,
                per_sec: i.per_sec,
                gateway_cpu: i.gateway_cpu,
                per_busy_core_sec: i.per_busy_core_sec,
                per_busy_core_over_verify: round3(i.per_busy_core_sec / verify_per_sec),
                p50_ms: i.p50_ms,
                p99_ms: i.p99_ms,
                refused: i.refused,
            }),
            Err(error) => sweep
                .skipped
                .push(skip(&format!("ingest {connections}"), error)),
        }
    }
    sweep
}

fn skip(what: &str, error: StartError) -> String {
    eprintln!("sweep: {what}: {error}");
    format!("{what}: {error}")
}

fn fanout_point(kind: &'static str, f: &fanout::Fanout) -> FanoutPoint {
    // CPU while events flowed, over the deliveries made in that time.
    let cpu_seconds_per_sec = f.gateway_cpu;
    let per_delivery = if f.deliveries_per_sec > 0.0 {
        cpu_seconds_per_sec / f.deliveries_per_sec * 1e6
    } else {
        f64::NAN
    };
    FanoutPoint {
        streams: f.streams,
        kind,
        events_per_sec: f.events_per_sec,
        deliveries_per_sec: f.deliveries_per_sec,
        gateway_cpu: f.gateway_cpu,
        cpu_us_per_delivery: round3(per_delivery),
        deliveries_per_busy_core_sec: if per_delivery > 0.0 {
            (1e6 / per_delivery).round()
        } else {
            0.0
        },
        rss_bytes_per_stream: f.rss_bytes_per_stream,
        p50_ms: f.p50_ms,
        p99_ms: f.p99_ms,
        lost: f.lost,
        cut_off: f.cut_off,
    }
}

/// The sweep as a Markdown table (what docs/sweep.md holds).
pub fn markdown(sweep: &Sweep, machine: &crate::report::Machine, command: &str) -> String {
    let mut out = String::new();
    out.push_str("# Sweep: how the gateway's cost grows with the work\n\n");
    out.push_str(&format!(
        "Written by `{command}`. Machine: {} cores, {}; gateway pinned to {} core(s){}. \
         `verify_per_sec` {:.0}. Plot: [sweep.svg](sweep.svg). What the columns mean and \
         where the curves bend: [BENCHMARKS.md](BENCHMARKS.md#how-cost-grows-the-sweep).\n\n",
        machine.nproc,
        machine.cpu,
        sweep.cores,
        machine
            .bench_cpus
            .as_ref()
            .map_or(String::new(), |cpus| format!(", bench on CPUs {cpus}")),
        sweep.verify_per_sec
    ));
    out.push_str("## Fan-out\n\n");
    out.push_str(
        "| kind | streams | events/s | deliveries/s | gateway busy (cores) | CPU per delivery (µs) \
         | deliveries/s per busy core | RSS per idle stream (B) | p50 (ms) | p99 (ms) | lost | cut off |\n",
    );
    out.push_str(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for p in &sweep.fanout {
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.3} | {:.0} | {:.0} | {:.3} | {:.3} | {} | {} |\n",
            p.kind,
            p.streams,
            p.events_per_sec,
            p.deliveries_per_sec,
            p.gateway_cpu,
            p.cpu_us_per_delivery,
            p.deliveries_per_busy_core_sec,
            p.rss_bytes_per_stream,
            p.p50_ms,
            p.p99_ms,
            p.lost,
            p.cut_off
        ));
    }
    out.push_str("\n## Ingest (in-process bus)\n\n");
    out.push_str(
        "| connections | accepted/s | gateway busy (cores) | per busy core/s | per busy core / verify \
         | p50 (ms) | p99 (ms) | refused |\n",
    );
    out.push_str("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for p in &sweep.ingest {
        out.push_str(&format!(
            "| {} | {:.0} | {:.2} | {:.0} | {:.3} | {:.3} | {:.3} | {} |\n",
            p.connections,
            p.per_sec,
            p.gateway_cpu,
            p.per_busy_core_sec,
            p.per_busy_core_over_verify,
            p.p50_ms,
            p.p99_ms,
            p.refused
        ));
    }
    if !sweep.skipped.is_empty() {
        out.push_str("\n## Not run\n\n");
        for why in &sweep.skipped {
            out.push_str(&format!("- {why}\n"));
        }
    }
    out
}

/// Writes `sweep.md` and `sweep.svg` into `dir`.
pub fn write(
    sweep: &Sweep,
    machine: &crate::report::Machine,
    command: &str,
    dir: &Path,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let md = dir.join("sweep.md");
    std::fs::write(&md, markdown(sweep, machine, command))
        .map_err(|e| format!("{}: {e}", md.display()))?;
    let svg = dir.join("sweep.svg");
    crate::plot::draw(sweep, &svg).map_err(|e| format!("{}: {e}", svg.display()))
}
