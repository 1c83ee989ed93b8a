//! Whole flows and the exact webhooks they send, in order, with their
//! payloads correlated and `client_state` echoed.

use serde_json::{Value, json};

use testkit::sim::{Sandbox, expect, sequence};

fn payload(delivery: &Value) -> &Value {
    &delivery["data"]["payload"]
}

#[tokio::test]
async fn conference_flow_sends_the_exact_webhook_sequence() {
    let sb = Sandbox::start().await;
    let a = sb.answered_call().await;
    let b = sb.answered_call().await;
    let conference = sb
        .api
        .post("/conferences", json!({"call_control_id": a, "name": "standup", "client_state": "Y3JlYXRvcg==", "beep_enabled": "never"}))
        .await;
    assert_eq!(conference["data"]["status"], "in_progress");
    let id = conference["data"]["id"].as_str().unwrap().to_owned();
    let actions = format!("/conferences/{id}/actions");
    sb.api
        .post(
            &format!("{actions}/join"),
            json!({"call_control_id": b, "client_state": "am9pbmVy", "supervisor_role": "none"}),
        )
        .await;
    sb.api
        .post(&format!("{actions}/mute"), json!({"call_control_ids": [b]}))
        .await;
    let muted = sb
        .api
        .get(&format!(
            "/conferences/{id}/participants?filter[muted]=true"
        ))
        .await;
    assert_eq!(muted["data"].as_array().unwrap().len(), 1);
    assert_eq!(muted["data"][0]["call_control_id"], b.as_str());
    sb.api
        .post(
            &format!("{actions}/speak"),
            json!({"payload": "Welcome to the standup", "voice": "female", "language": "en-US"}),
        )
        .await;
    sb.hooks
        .wait_until(|d| {
            d.iter()
                .any(|d| d["data"]["event_type"] == "conference.speak.ended")
        })
        .await;
    sb.api
        .post(
            &format!("{actions}/record_start"),
            json!({"format": "mp3", "channels": "single"}),
        )
        .await;
    sb.api
        .post(
            &format!("{actions}/record_stop"),
            json!({"client_state": "c3RvcHBlZA=="}),
        )
        .await;
    sb.api
        .post(&format!("{actions}/leave"), json!({"call_control_id": b}))
        .await;
    sb.api
        .post(&format!("{actions}/leave"), json!({"call_control_id": a}))
        .await;

    let deliveries = sb.settle().await;
    assert_eq!(
        sequence(&deliveries),
        expect(&[
            ("call.initiated", &a),
            ("call.answered", &a),
            ("call.initiated", &b),
            ("call.answered", &b),
            ("conference.created", &a),
            ("conference.participant.joined", &a),
            ("conference.participant.joined", &b),
            ("conference.speak.started", ""),
            ("conference.speak.ended", ""),
            ("conference.recording.saved", &a),
            ("conference.participant.left", &b),
            ("conference.participant.left", &a),
            ("conference.ended", &a),
        ])
    );
    sb.hooks.assert_all_valid();

    let call_initiated = payload(&deliveries[0]);
    assert_eq!(call_initiated["direction"], "outgoing");
    assert_eq!(call_initiated["state"], "bridging");
    assert_eq!(call_initiated["client_state"], "ZGlhbGxlZA==");
    assert_eq!(
        call_initiated["connection_id"],
        sb.sim.connection_id().as_str()
    );
    for delivery in &deliveries[4..] {
        assert_eq!(
            payload(delivery)["conference_id"],
            id.as_str(),
            "{delivery:#}"
        );
    }
    assert_eq!(payload(&deliveries[4])["client_state"], "Y3JlYXRvcg==");
    assert_eq!(payload(&deliveries[6])["client_state"], "am9pbmVy");
    assert_eq!(
        payload(&deliveries[6])["call_leg_id"],
        payload(&deliveries[2])["call_leg_id"]
    );
    assert_eq!(
        payload(&deliveries[7])["creator_call_session_id"],
        payload(&deliveries[0])["call_session_id"]
    );
    let saved = payload(&deliveries[9]);
    assert_eq!(saved["client_state"], "c3RvcHBlZA==");
    assert_eq!(
        (saved["format"].as_str(), saved["channels"].as_str()),
        (Some("mp3"), Some("single"))
    );
    assert!(saved["recording_urls"]["mp3"].is_string());
    assert_eq!(payload(&deliveries[12])["reason"], "all_left");
    for delivery in &deliveries {
        assert_eq!(delivery["meta"]["attempt"], 1);
        assert_eq!(delivery["meta"]["delivered_to"], sb.hooks.url().as_str());
    }

    let ended = sb.api.get(&format!("/conferences/{id}")).await;
    assert_eq!(ended["data"]["status"], "completed");
    assert_eq!(ended["data"]["end_reason"], "all_left");
    let everyone = sb.api.get(&format!("/conferences/{id}/participants")).await;
    let statuses: Vec<&str> = everyone["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["left", "left"]);
}

#[tokio::test]
async fn queue_flow_reports_positions_wait_times_and_why_calls_left() {
    let sb = Sandbox::start().await;
    let a = sb.answered_call().await;
    let b = sb.answered_call().await;
    for call in [&a, &b] {
        sb.api
            .post(
                &format!("/calls/{call}/actions/enqueue"),
                json!({"queue_name": "support", "client_state": "cXVldWVk"}),
            )
            .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let waiting = sb.api.get("/queues/support/calls").await;
    let rows = waiting["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, (call, position)) in rows.iter().zip([(&a, 1), (&b, 2)]) {
        assert_eq!(row["call_control_id"], call.as_str());
        assert_eq!(row["queue_position"], position);
        assert!(row["wait_time_secs"].as_u64().unwrap() >= 1, "{row:#}");
        assert_eq!(row["is_alive"], true);
    }
    assert_eq!(waiting["meta"]["total_results"], 2);
    let queue = sb.api.get("/queues/support").await;
    assert_eq!(queue["data"]["current_size"], 2);
    assert!(queue["data"]["average_wait_time_secs"].as_u64().unwrap() >= 1);

    sb.api
        .post(
            &format!("/calls/{a}/actions/leave_queue"),
            json!({"client_state": "bGVmdA=="}),
        )
        .await;
    let waiting = sb.api.get("/queues/support/calls").await;
    assert_eq!(waiting["data"][0]["call_control_id"], b.as_str());
    assert_eq!(waiting["data"][0]["queue_position"], 1);
    sb.api
        .post(&format!("/calls/{b}/actions/hangup"), json!({}))
        .await;

    let deliveries = sb.settle().await;
    let queue_events: Vec<&Value> = deliveries
        .iter()
        .filter(|d| {
            d["data"]["event_type"].as_str().unwrap().contains("queue")
                || d["data"]["event_type"] == "call.hangup"
        })
        .collect();
    let kinds: Vec<(String, String)> = sequence(
        &queue_events
            .iter()
            .map(|d| (*d).clone())
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        kinds,
        expect(&[
            ("call.enqueued", &a),
            ("call.enqueued", &b),
            ("call.dequeued", &a),
            ("call.hangup", &b),
            ("call.dequeued", &b),
        ])
    );
    let enqueued: Vec<&Value> = queue_events.iter().map(|d| payload(d)).collect();
    assert_eq!(enqueued[0]["current_position"], 1);
    assert_eq!(enqueued[1]["current_position"], 2);
    assert_eq!(enqueued[0]["queue"], "support");
    assert_eq!(enqueued[0]["client_state"], "cXVldWVk");
    let left = enqueued[2];
    assert_eq!(
        (left["reason"].as_str(), left["queue_position"].as_u64()),
        (Some("leave"), Some(1))
    );
    assert!(left["wait_time_secs"].as_u64().unwrap() >= 1);
    assert_eq!(left["client_state"], "bGVmdA==");
    assert_eq!(enqueued[4]["reason"], "hangup");
    assert_eq!(
        sb.api.get("/queues/support").await["data"]["current_size"],
        0
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn failed_deliveries_are_retried_in_order() {
    let sb = Sandbox::start().await;
    sb.hooks.fail_next(2);
    let a = sb.dial(json!({})).await;
    let answered = sb.hooks.wait_for_event("call.answered", &a).await;
    let deliveries = sb.hooks.deliveries();
    assert_eq!(
        sequence(&deliveries),
        expect(&[("call.initiated", &a), ("call.answered", &a)])
    );
    assert_eq!(deliveries[0]["meta"]["attempt"], 3);
    assert_eq!(answered["meta"]["attempt"], 1);
    assert_eq!(sb.hooks.attempts(), 4);
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn hanging_up_a_bridged_call_ends_both_legs() {
    let sb = Sandbox::start().await;
    let a = sb.answered_call().await;
    let b = sb.answered_call().await;
    sb.api
        .post(
            &format!("/calls/{a}/actions/bridge"),
            json!({"call_control_id": b, "client_state": "YnJpZGdl"}),
        )
        .await;
    sb.api
        .post(&format!("/calls/{a}/actions/hangup"), json!({}))
        .await;
    let deliveries = sb.settle().await;
    assert_eq!(
        sequence(&deliveries[4..]),
        expect(&[
            ("call.bridged", &a),
            ("call.bridged", &b),
            ("call.hangup", &a),
            ("call.hangup", &b),
        ])
    );
    assert_eq!(payload(&deliveries[4])["client_state"], "YnJpZGdl");
    assert_eq!(payload(&deliveries[6])["hangup_source"], "caller");
    sb.hooks.assert_all_valid();
}
