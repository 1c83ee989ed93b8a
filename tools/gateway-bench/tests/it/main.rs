//! The benchmark runs end to end against the real gateway binary, at tiny
//! sizes: every scenario reports, nothing is lost, and a gateway without the
//! Redis bus gets its Redis scenarios skipped with a reason, not failed.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The gateway binary to measure: `CONFERENCE_GATEWAY_BIN`, or the one cargo
/// built beside this test (`cargo test --workspace` builds it; run
/// `cargo build -p conference-gateway` first when testing this crate alone).
fn gateway_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("CONFERENCE_GATEWAY_BIN") {
        return path.into();
    }
    let test = std::env::current_exe().expect("the test knows where it is");
    let profile_dir = test
        .parent()
        .and_then(|deps| deps.parent())
        .expect("tests run from target/<profile>/deps");
    let path = profile_dir.join(format!(
        "conference-gateway{}",
        std::env::consts::EXE_SUFFIX
    ));
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p conference-gateway` first, or set CONFERENCE_GATEWAY_BIN",
        path.display()
    );
    path
}

#[test]
fn every_scenario_reports_at_tiny_sizes() {
    let output = Command::new(env!("CARGO_BIN_EXE_gateway-bench"))
        .args([
            "--json",
            "--gateway-bin",
            gateway_bin().to_str().expect("a UTF-8 path"),
            "--verify-secs",
            "0.1",
            "--ingest-secs",
            "0.3",
            "--ingest-connections",
            "2",
            "--delivery-rate",
            "200",
            "--delivery-secs",
            "0.3",
            "--delivery-subscribers",
            "1",
            "--fanout-connections",
            "2",
            "--fanout-streams-per-connection",
            "5",
            "--fanout-rate",
            "20",
            "--fanout-secs",
            "0.3",
            "--unary-calls",
            "20",
            "--unary-secs",
            "0.3",
            "--unary-concurrency",
            "2",
        ])
        .output()
        .expect("the bench runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert!(report["verify_per_sec"].as_f64().unwrap() > 0.0);
    assert!(
        report["ingest"]["memory"]["per_sec"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert!(
        report["delivery"]["memory"]["p99_ms"].is_number(),
        "{report}"
    );
    assert_eq!(report["fanout"]["streams"], 10, "{report}");
    assert_eq!(report["fanout"]["lost"], 0, "{report}");
    assert!(
        report["unary"]["throughput_ratio"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    // The floors, measured in the same run, and the ratios to them.
    for hop in ["grpc_hop", "http_hop"] {
        let floor = &report["floor"][hop];
        let p50 = floor["p50_us"].as_f64().unwrap_or(-1.0);
        let p99 = floor["p99_us"].as_f64().unwrap_or(-1.0);
        assert!(p50 > 0.0 && p99 >= p50, "{hop}: {report}");
        assert!(
            floor["per_sec"].as_f64().unwrap_or(0.0) > 0.0,
            "{hop}: {report}"
        );
        assert_eq!(floor["concurrency"], 2, "{hop}: {report}");
    }
    let ratios = &report["ratios"];
    for (name, bound) in [
        ("unary_added_p50_over_grpc_hop_p50", "at_most"),
        ("unary_per_sec_over_direct", "at_least"),
        ("ingest_memory_per_busy_core_over_verify", "at_least"),
    ] {
        let ratio = &ratios[name];
        assert_eq!(ratio["bound"], bound, "{name}: {report}");
        assert!(ratio["target"].as_f64().unwrap() > 0.0, "{name}: {report}");
        let value = ratio["value"].as_f64().expect("measured in this run");
        assert!(value.is_finite(), "{name}: {report}");
        assert_eq!(
            ratio["met"].as_bool(),
            Some(if bound == "at_most" {
                value <= ratio["target"].as_f64().unwrap()
            } else {
                value >= ratio["target"].as_f64().unwrap()
            }),
            "{name}: {report}"
        );
    }
    assert!(
        ratios["unary_per_sec_over_direct"]["value"]
            .as_f64()
            .unwrap()
            > 0.0,
        "{report}"
    );
    assert!(
        ratios["ingest_memory_per_busy_core_over_verify"]["value"]
            .as_f64()
            .unwrap()
            > 0.0,
        "{report}"
    );
    let redis_ratio = &ratios["ingest_redis_per_busy_core_over_verify"];
    assert_eq!(
        redis_ratio["value"].is_number(),
        report["ingest"]["redis"].is_object(),
        "{report}"
    );
    for group in ["ingest", "delivery"] {
        let redis = &report[group]["redis"];
        let skipped = &report[group]["skipped"]["redis"];
        assert!(
            redis.is_object() || skipped.is_string(),
            "{group}: {report}"
        );
    }
}

#[test]
fn the_sweep_writes_its_table_and_plot() {
    let dir = std::env::temp_dir().join(format!("gateway-bench-sweep-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_gateway-bench"))
        .args([
            "--sweep",
            "--json",
            "--gateway-bin",
            gateway_bin().to_str().expect("a UTF-8 path"),
            "--verify-secs",
            "0.1",
            // 1,100 streams: past the gateway's default cap of streams per
            // caller (1,024), which the sweep must raise as it opens them.
            "--sweep-streams",
            "10,1100",
            "--sweep-connections",
            "1,2",
            "--sweep-fanout-secs",
            "0.3",
            "--sweep-ingest-secs",
            "0.3",
            "--sweep-dir",
            dir.to_str().expect("a UTF-8 path"),
        ])
        .output()
        .expect("the bench runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let sweep: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let fanout = sweep["fanout"].as_array().expect("fan-out points");
    assert_eq!(fanout.len(), 4, "{sweep}");
    for point in fanout {
        assert_eq!(point["lost"], 0, "{sweep}");
        assert!(point["rss_bytes_per_stream"].is_number(), "{sweep}");
        assert!(
            point["cpu_us_per_delivery"].as_f64().unwrap_or(0.0) > 0.0,
            "{sweep}"
        );
    }
    let kinds: Vec<_> = fanout.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["broad", "broad", "filtered", "filtered"], "{sweep}");
    let ingest = sweep["ingest"].as_array().expect("ingest points");
    let connections: Vec<_> = ingest
        .iter()
        .map(|p| p["connections"].as_u64().unwrap())
        .collect();
    assert_eq!(connections, [1, 2], "{sweep}");
    assert!(
        ingest.iter().all(|p| p["per_sec"].as_f64().unwrap() > 0.0),
        "{sweep}"
    );

    let table = std::fs::read_to_string(dir.join("sweep.md")).expect("sweep.md is written");
    // 1,100 streams are opened as 6 connections of 200.
    assert!(table.contains("| broad | 1200 |"), "{table}");
    assert!(table.contains("## Ingest"), "{table}");
    let svg = std::fs::read_to_string(dir.join("sweep.svg")).expect("sweep.svg is written");
    assert!(
        svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );
    assert!(svg.contains("Memory per idle stream"), "{svg}");
    assert!(svg.contains("<polyline"), "the curves are drawn: {svg}");
    let _ = std::fs::remove_dir_all(&dir);
}
