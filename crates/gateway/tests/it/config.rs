//! The built binary explains its settings: it refuses to start with exit
//! status 2 and one line naming every problem (a missing or unusable setting,
//! a misspelt variable with the one it resembles), takes host names as listen
//! addresses, and writes no colour codes to a stderr that is not a terminal.

use std::process::{Command, Output};

use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// The binary with only `env` among the gateway's variables.
fn run_with(env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_conference-gateway"));
    for (name, _) in std::env::vars() {
        if name.starts_with("GATEWAY_") || name.starts_with("TELNYX_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("the binary runs")
}

fn run(public_key: Option<&str>) -> Output {
    let mut env = vec![
        ("TELNYX_API_KEY", "KEY0123456789"),
        ("GATEWAY_AUTH_TOKENS", "svc:token-0123456789"),
        ("GATEWAY_GRPC_ADDR", "127.0.0.1:0"),
        ("GATEWAY_HTTP_ADDR", "127.0.0.1:0"),
    ];
    env.extend(public_key.map(|key| ("TELNYX_PUBLIC_KEY", key)));
    run_with(&env)
}

/// Exit status 2 and exactly one line on stderr; that line.
#[track_caller]
fn one_line_refusal(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no colour codes: {stderr:?}");
    stderr
}

#[track_caller]
fn refused(output: &Output, says: &str) {
    let stderr = one_line_refusal(output);
    assert!(stderr.starts_with("error: TELNYX_PUBLIC_KEY"), "{stderr}");
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

#[test]
fn a_fresh_start_names_every_missing_setting_at_once() {
    let line = one_line_refusal(&run_with(&[]));
    for setting in ["TELNYX_API_KEY", "TELNYX_PUBLIC_KEY", "GATEWAY_AUTH_TOKENS"] {
        assert!(line.contains(setting), "{setting} missing from {line}");
    }
    assert!(
        line.starts_with("error: 3 problems with the settings"),
        "{line}"
    );
}

#[test]
fn a_misspelt_variable_names_the_one_it_resembles() {
    let key = crate::support::webhook::public_key(&crate::support::webhook::test_key());
    let line = one_line_refusal(&run_with(&[
        ("TELNYX_API_KEY", "KEY0123456789"),
        ("TELNYX_PUBLIC_KEY", &key),
        ("GATEWAY_AUTH_TOKENS", "svc:token-0123456789"),
        ("GATEWAY_GRCP_ADDR", "127.0.0.1:0"),
    ]));
    assert_eq!(
        line.trim_end(),
        "error: GATEWAY_GRCP_ADDR is not a setting of this gateway; did you mean GATEWAY_GRPC_ADDR?"
    );
}

#[test]
fn a_dedupe_window_shorter_than_the_webhook_tolerance_stops_the_gateway() {
    let key = crate::support::webhook::public_key(&crate::support::webhook::test_key());
    let line = one_line_refusal(&run_with(&[
        ("TELNYX_API_KEY", "KEY0123456789"),
        ("TELNYX_PUBLIC_KEY", &key),
        ("GATEWAY_AUTH_TOKENS", "svc:token-0123456789"),
        ("GATEWAY_EVENT_DEDUPE_WINDOW_SECS", "120"),
        ("GATEWAY_WEBHOOK_TOLERANCE_SECS", "600"),
    ]));
    assert!(
        line.starts_with(
            "error: GATEWAY_EVENT_DEDUPE_WINDOW_SECS (120 s) is shorter than \
             GATEWAY_WEBHOOK_TOLERANCE_SECS (600 s)"
        ),
        "{line}"
    );
}

#[test]
fn a_malformed_value_is_refused_in_one_line() {
    let line = one_line_refusal(&run_with(&[("GATEWAY_GRPC_ADDR", "localhost")]));
    assert!(
        line.starts_with("error: invalid value 'localhost' for '--grpc-addr <GATEWAY_GRPC_ADDR>'"),
        "{line}"
    );
    assert!(line.contains("the port is missing"), "{line}");
}

#[tokio::test]
async fn listens_on_a_host_name_and_logs_without_colour_to_a_pipe() {
    let telnyx = wiremock::MockServer::start().await;
    let gateway = crate::process::Gateway::start_on("localhost", &telnyx, &[]).await;
    let channel =
        tonic::transport::Channel::from_shared(format!("http://localhost:{}", gateway.grpc))
            .unwrap()
            .connect()
            .await
            .expect("the gRPC listener answers on localhost");
    let health = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    gateway.terminate();
    let (code, logs) =
        tokio::task::spawn_blocking(move || gateway.wait(std::time::Duration::from_secs(10)))
            .await
            .unwrap();
    assert_eq!(code, Some(0), "{logs}");
    assert!(logs.contains("conference-gateway listening"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "colour codes in a pipe: {logs:?}");
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
