//! The standalone `telnyx-sim` binary, started as another team's script would.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use testkit::receiver::Receiver;

/// Kills the simulator when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `telnyx-sim` and reads the JSON object on its first line.
fn start(webhook_url: &str) -> (Running, Value) {
    start_with(webhook_url, &[])
}

fn start_with(webhook_url: &str, extra: &[&str]) -> (Running, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_telnyx-sim"))
        .args(["--listen", "127.0.0.1:0", "--webhook-url", webhook_url])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("telnyx-sim starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout is piped"))
        .read_line(&mut first)
        .expect("a first line");
    let ready = serde_json::from_str(&first).expect("the first line is one JSON object");
    (Running(child), ready)
}

#[tokio::test]
async fn its_first_line_says_where_it_is_and_its_webhooks_verify() {
    let hooks = Receiver::start().await;
    let (_sim, ready) = start(&hooks.url());
    for field in ["base_url", "api_key", "public_key", "connection_id"] {
        assert!(
            ready[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field} in {ready}"
        );
    }
    assert_eq!(ready["webhook_url"], hooks.url());
    hooks.trust(ready["public_key"].as_str().unwrap());

    let http = reqwest::Client::new();
    let base = ready["base_url"].as_str().unwrap();
    let dial = json!({
        "connection_id": ready["connection_id"],
        "to": "+15551230001",
        "from": "+15559870000",
    });
    let refused = http
        .post(format!("{base}/calls"))
        .bearer_auth("KEYnot-the-simulators")
        .json(&dial)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401, "only its own key is accepted");

    let answer: Value = http
        .post(format!("{base}/calls"))
        .bearer_auth(ready["api_key"].as_str().unwrap())
        .json(&dial)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = answer["data"]["call_control_id"].as_str().expect("a call");
    let answered = hooks.wait_for_event("call.answered", id).await;
    assert_eq!(answered["data"]["payload"]["call_control_id"], id);
    hooks.assert_all_valid();
}

#[test]
fn two_starts_share_no_key() {
    let (_a, first) = start("http://127.0.0.1:9/webhooks/telnyx");
    let (_b, second) = start("http://127.0.0.1:9/webhooks/telnyx");
    assert_ne!(first["api_key"], second["api_key"]);
    assert_ne!(first["public_key"], second["public_key"]);
}

#[tokio::test]
async fn its_retry_window_bounds_retries_and_its_caller_side_needs_no_key() {
    let hooks = Receiver::start().await;
    let (_sim, ready) = start_with(&hooks.url(), &["--webhook-retry-window-secs", "0"]);
    hooks.trust(ready["public_key"].as_str().unwrap());
    hooks.fail_next(1);
    let base = ready["base_url"].as_str().unwrap();
    let sim = base.trim_end_matches("/v2");
    let http = reqwest::Client::new();
    let placed: Value = http
        .post(format!("{sim}/_sim/calls"))
        .json(&json!({"from": "+15559870000", "to": "+15551230001"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = placed["call_control_id"].as_str().expect("a call");
    let answered = http
        .post(format!("{base}/calls/{id}/actions/answer"))
        .bearer_auth(ready["api_key"].as_str().unwrap())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    hooks.wait_for_event("call.answered", id).await;
    assert_eq!(
        hooks.attempts(),
        2,
        "call.initiated was refused once and given up"
    );
    let failed: Value = http
        .get(format!(
            "{base}/webhook_deliveries?filter[status][eq]=failed"
        ))
        .bearer_auth(ready["api_key"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(failed["data"][0]["webhook"]["event_type"], "call.initiated");
    assert_eq!(failed["data"][0]["attempts"].as_array().unwrap().len(), 1);
    hooks.assert_all_valid();
}

#[test]
fn a_retry_window_beyond_a_day_is_refused() {
    let status = Command::new(env!("CARGO_BIN_EXE_telnyx-sim"))
        .args(["--webhook-retry-window-secs", "86401"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("telnyx-sim runs");
    assert_eq!(status.code(), Some(2));
}
