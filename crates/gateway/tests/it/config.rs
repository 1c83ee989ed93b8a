//! The built binary refuses to start without a usable TELNYX_PUBLIC_KEY:
//! exit status 2 and one line naming the variable.

use std::process::{Command, Output};

fn run(public_key: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_conference-gateway"));
    for (name, _) in std::env::vars() {
        if name.starts_with("GATEWAY_") || name.starts_with("TELNYX_") {
            command.env_remove(name);
        }
    }
    command
        .env("TELNYX_API_KEY", "KEY0123456789")
        .env("GATEWAY_GRPC_ADDR", "127.0.0.1:0")
        .env("GATEWAY_HTTP_ADDR", "127.0.0.1:0");
    if let Some(key) = public_key {
        command.env("TELNYX_PUBLIC_KEY", key);
    }
    command.output().expect("the binary runs")
}

#[track_caller]
fn refused(output: &Output, says: &str) {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("TELNYX_PUBLIC_KEY"), "{stderr}");
    assert!(stderr.contains(says), "{stderr}");
}

#[test]
fn a_missing_public_key_stops_the_gateway() {
    refused(&run(None), "is not set");
}

#[test]
fn a_malformed_public_key_stops_the_gateway() {
    refused(&run(Some("not-a-key")), "is malformed");
    refused(&run(Some("")), "is malformed");
    // Valid first key, truncated second: rotation lists are checked whole.
    refused(
        &run(Some(
            "WGZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=,WGZmZmZm",
        )),
        "key 2",
    );
}

/// A build without trace export, asked to export, says so once at start
/// instead of exporting nothing silently.
#[cfg(not(feature = "otlp"))]
#[tokio::test]
async fn a_build_without_export_warns_when_asked_to_export() {
    let telnyx = wiremock::MockServer::start().await;
    let gateway = crate::process::Gateway::start(
        &telnyx,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")],
    )
    .await;
    gateway.terminate();
    let (code, logs) =
        tokio::task::spawn_blocking(move || gateway.wait(std::time::Duration::from_secs(10)))
            .await
            .unwrap();
    assert_eq!(code, Some(0), "{logs}");
    let warning: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("OTEL_EXPORTER_OTLP_ENDPOINT is set"))
        .collect();
    assert_eq!(warning.len(), 1, "{logs}");
    assert!(warning[0].contains("WARN"), "{logs}");
    assert!(warning[0].contains("`otlp` feature"), "{logs}");
}
