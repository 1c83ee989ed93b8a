//! The run's figures: one JSON object (`--json`) or a readable table.

use serde::Serialize;

use crate::delivery::Delivery;
use crate::fanout::Fanout;
use crate::floor::Floors;
use crate::ingest::Ingest;
use crate::unary::Unary;

#[derive(Debug, Clone, Serialize)]
pub struct Pair<T> {
    pub memory: Option<T>,
    pub redis: Option<T>,
    /// Why a bus's scenario did not run, by bus.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub skipped: std::collections::BTreeMap<&'static str, String>,
}

impl<T> Pair<T> {
    pub fn new() -> Self {
        Pair {
            memory: None,
            redis: None,
            skipped: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu: String,
    pub memory_bytes: u64,
    /// Whether the gateway was pinned to its cores with taskset.
    pub gateway_pinned: bool,
    /// The CPUs the bench itself ran on, when kept off the gateway's.
    pub bench_cpus: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub verify_per_sec: f64,
    pub ingest: Pair<Ingest>,
    pub delivery: Pair<Delivery>,
    pub fanout: Option<Fanout>,
    pub unary: Option<Unary>,
    /// What the machine does without the gateway, measured in the same run.
    pub floor: Floors,
    /// The gateway's figures over the floors, each with its target.
    pub ratios: Ratios,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub skipped: std::collections::BTreeMap<&'static str, String>,
    pub seconds: f64,
}

/// One figure over its floor, with the target it is held to.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// `null` when a figure it needs was not measured.
    pub value: Option<f64>,
    /// `"at_most"` or `"at_least"`.
    pub bound: &'static str,
    pub target: f64,
    pub met: Option<bool>,
}

impl Ratio {
    fn at_most(value: Option<f64>, target: f64) -> Ratio {
        Ratio::new(value, "at_most", target, |v| v <= target)
    }

    fn at_least(value: Option<f64>, target: f64) -> Ratio {
        Ratio::new(value, "at_least", target, |v| v >= target)
    }

    fn new(
        value: Option<f64>,
        bound: &'static str,
        target: f64,
        ok: impl Fn(f64) -> bool,
    ) -> Ratio {
        let value = value.filter(|v| v.is_finite()).map(crate::common::round3);
        Ratio {
            value,
            bound,
            target,
            met: value.map(ok),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Ratios {
    /// `unary.added_p50_us / floor.grpc_hop.p50_us`: what the gateway adds
    /// over calling Telnyx directly, in bare gRPC hops.
    pub unary_added_p50_over_grpc_hop_p50: Ratio,
    /// `unary.gateway_per_sec / unary.direct_per_sec`, calls in flight.
    pub unary_per_sec_over_direct: Ratio,
    /// `ingest.memory.per_busy_core_sec / verify_per_sec`.
    pub ingest_memory_per_busy_core_over_verify: Ratio,
    /// `ingest.redis.per_busy_core_sec / verify_per_sec`.
    pub ingest_redis_per_busy_core_over_verify: Ratio,
}

impl Ratios {
    /// The ratios of the figures in `report` (its floors included).
    pub fn of(report: &Report) -> Ratios {
        let unary = report.unary.as_ref();
        let hop = report.floor.grpc_hop.as_ref();
        let ingest = |i: &Option<Ingest>| {
            i.as_ref()
                .filter(|_| report.verify_per_sec > 0.0)
                .map(|i| i.per_busy_core_sec / report.verify_per_sec)
        };
        Ratios {
            unary_added_p50_over_grpc_hop_p50: Ratio::at_most(
                unary
                    .zip(hop)
                    .filter(|(_, h)| h.p50_us > 0.0)
                    .map(|(u, h)| u.added_p50_us / h.p50_us),
                1.5,
            ),
            unary_per_sec_over_direct: Ratio::at_least(unary.map(|u| u.throughput_ratio), 0.6),
            ingest_memory_per_busy_core_over_verify: Ratio::at_least(
                ingest(&report.ingest.memory),
                0.6,
            ),
            ingest_redis_per_busy_core_over_verify: Ratio::at_least(
                ingest(&report.ingest.redis),
                0.5,
            ),
        }
    }

    pub fn empty() -> Ratios {
        Ratios {
            unary_added_p50_over_grpc_hop_p50: Ratio::at_most(None, 1.5),
            unary_per_sec_over_direct: Ratio::at_least(None, 0.6),
            ingest_memory_per_busy_core_over_verify: Ratio::at_least(None, 0.6),
            ingest_redis_per_busy_core_over_verify: Ratio::at_least(None, 0.5),
        }
    }

    fn rows(&self) -> [(&'static str, &Ratio); 4] {
        [
            (
                "unary.added_p50 / grpc_hop.p50",
                &self.unary_added_p50_over_grpc_hop_p50,
            ),
            ("unary.per_sec / direct", &self.unary_per_sec_over_direct),
            (
                "ingest.memory / verify (busy core)",
                &self.ingest_memory_per_busy_core_over_verify,
            ),
            (
                "ingest.redis / verify (busy core)",
                &self.ingest_redis_per_busy_core_over_verify,
            ),
        ]
    }
}

impl Machine {
    pub fn read(gateway_pinned: bool, bench_cpus: Option<String>) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|line| line.starts_with("model name"))
            .and_then(|line| line.split_once(':'))
            .map_or("unknown", |(_, model)| model.trim())
            .to_owned();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_bytes = meminfo
            .lines()
            .find(|line| line.starts_with("MemTotal:"))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024);
        Machine {
            nproc: crate::procs::machine_cores(),
            cpu,
            memory_bytes,
            gateway_pinned,
            bench_cpus,
        }
    }
}

fn opt<T>(value: &Option<T>, skipped: Option<&String>, show: impl Fn(&T) -> String) -> String {
    match (value, skipped) {
        (Some(value), _) => show(value),
        (None, Some(why)) => format!("skipped: {why}"),
        (None, None) => "not run".into(),
    }
}

/// The table printed without `--json`.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let mut row = |name: &str, value: String| out.push_str(&format!("{name:<18} {value}\n"));
    let m = &report.machine;
    row(
        "machine",
        format!(
            "{} cores, {}, {:.1} GiB{}{}",
            m.nproc,
            m.cpu,
            m.memory_bytes as f64 / (1u64 << 30) as f64,
            if m.gateway_pinned {
                ", gateway pinned with taskset"
            } else {
                ""
            },
            m.bench_cpus
                .as_ref()
                .map_or(String::new(), |cpus| format!(", bench on CPUs {cpus}"))
        ),
    );
    row(
        "verify",
        format!(
            "{:.0} Ed25519 verifications/s on one core",
            report.verify_per_sec
        ),
    );
    for (bus, value) in [
        ("memory", &report.ingest.memory),
        ("redis", &report.ingest.redis),
    ] {
        row(
            &format!("ingest.{bus}"),
            opt(value, report.ingest.skipped.get(bus), |i| {
                format!(
                    "{:.0}/s on {} core(s) (busy {:.2}; {:.0}/s per busy core) = {:.0}% of verify/core, 200 p50 {:.3} ms p99 {:.3} ms, {} refused",
                    i.per_sec,
                    i.cores,
                    i.gateway_cpu,
                    i.per_busy_core_sec,
                    i.share_of_verify_per_core * 100.0,
                    i.p50_ms,
                    i.p99_ms,
                    i.refused
                )
            }),
        );
    }
    for (bus, value) in [
        ("memory", &report.delivery.memory),
        ("redis", &report.delivery.redis),
    ] {
        row(
            &format!("delivery.{bus}"),
            opt(value, report.delivery.skipped.get(bus), |d| {
                format!(
                    "200 -> receipt p50 {:.3} ms p99 {:.3} ms (max {:.3}) at {}/s to {} subscriber(s), {} lost",
                    d.p50_ms, d.p99_ms, d.max_ms, d.events_per_sec, d.subscribers, d.lost
                )
            }),
        );
    }
    row(
        "fanout",
        opt(&report.fanout, report.skipped.get("fanout"), |f| {
            format!(
                "{} streams / {} conns, {} events/s, gateway busy {:.2} cores: {:.0} deliveries/s, p50 {:.3} ms p99 {:.3} ms, {} lost, {} cut off, {:.0} B RSS per idle stream",
                f.streams,
                f.connections,
                f.events_per_sec,
                f.gateway_cpu,
                f.deliveries_per_sec,
                f.p50_ms,
                f.p99_ms,
                f.lost,
                f.cut_off,
                f.rss_bytes_per_stream
            )
        }),
    );
    row(
        "unary",
        opt(&report.unary, report.skipped.get("unary"), |u| {
            format!(
                "{}: gateway p50 {} us p99 {} us, direct p50 {} us p99 {} us, added p50 {} us p99 {} us; {:.0}/s (gateway busy {:.2} cores) vs {:.0}/s direct (ratio {:.2})",
                u.rpc,
                u.gateway_p50_us,
                u.gateway_p99_us,
                u.direct_p50_us,
                u.direct_p99_us,
                u.added_p50_us,
                u.added_p99_us,
                u.gateway_per_sec,
                u.gateway_cpu,
                u.direct_per_sec,
                u.throughput_ratio
            )
        }),
    );
    for (name, hop) in [
        ("floor.grpc_hop", &report.floor.grpc_hop),
        ("floor.http_hop", &report.floor.http_hop),
    ] {
        row(
            name,
            opt(hop, report.skipped.get("floor"), |h| {
                format!(
                    "p50 {} us p99 {} us; {:.0}/s with {} in flight (server busy {:.2} cores)",
                    h.p50_us, h.p99_us, h.per_sec, h.concurrency, h.server_cpu
                )
            }),
        );
    }
    for (name, ratio) in report.ratios.rows() {
        let bound = if ratio.bound == "at_most" { "<=" } else { ">=" };
        let value = ratio
            .value
            .map_or("not measured".to_owned(), |v| format!("{v:.3}"));
        let verdict = match ratio.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "-",
        };
        out.push_str(&format!(
            "ratio {name:<36} {value:>12}  target {bound} {}  {verdict}\n",
            ratio.target
        ));
    }
    let mut row = |name: &str, value: String| out.push_str(&format!("{name:<18} {value}\n"));
    row("took", format!("{:.1} s", report.seconds));
    out
}
