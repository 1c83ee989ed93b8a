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
    for group in ["ingest", "delivery"] {
        let redis = &report[group]["redis"];
        let skipped = &report[group]["skipped"]["redis"];
        assert!(
            redis.is_object() || skipped.is_string(),
            "{group}: {report}"
        );
    }
}
