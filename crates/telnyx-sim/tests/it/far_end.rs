//! The far end of outbound calls by the dialled number's convention: busy,
//! no answer, declined, unknown, an answering machine, a person.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use telnyx_sim::Timing;

use testkit::sim::{Sandbox, fast, payload, types};

#[tokio::test]
async fn numbers_that_never_answer_end_with_their_cause() {
    let sb = Sandbox::start().await;
    let cases = [
        ("+15551230486", "user_busy", "callee", "486"),
        ("+15551230480", "timeout", "caller", "487"),
        ("+15551230603", "call_rejected", "callee", "603"),
        ("sip:0404@pbx.example.com", "not_found", "callee", "404"),
    ];
    let mut dialled = Vec::new();
    for (to, ..) in cases {
        dialled.push(sb.dial(json!({"to": to, "timeout_secs": 5})).await);
    }
    for id in &dialled {
        sb.wait_for("call.hangup", id).await;
    }
    for ((to, cause, source, sip), id) in cases.iter().zip(&dialled) {
        let events = sb.events_of(id);
        assert_eq!(types(&events), ["call.initiated", "call.hangup"], "{to}");
        let hangup = payload(&events[1]);
        assert_eq!(
            (
                hangup["hangup_cause"].as_str(),
                hangup["hangup_source"].as_str(),
                hangup["sip_hangup_cause"].as_str()
            ),
            (Some(*cause), Some(*source), Some(*sip)),
            "{to}"
        );
    }
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn machine_detection_tells_a_voicemail_from_a_person() {
    let sb = Sandbox::start().await;
    let voicemail = sb
        .dial(json!({"to": "+15551230999", "answering_machine_detection": "detect_beep"}))
        .await;
    let premium = sb
        .dial(json!({"to": "+15551230999", "answering_machine_detection": "premium"}))
        .await;
    let person = sb
        .dial(json!({"to": "+15551230001", "answering_machine_detection": "greeting_end"}))
        .await;
    let plain = sb.dial(json!({"to": "+15551230999"})).await;
    sb.wait_for("call.machine.greeting.ended", &voicemail).await;
    sb.wait_for("call.machine.premium.greeting.ended", &premium)
        .await;
    sb.wait_for("call.machine.detection.ended", &person).await;
    sb.settle().await;
    let results = |id: &str| -> Vec<(String, String)> {
        sb.events_of(id)[2..]
            .iter()
            .map(|d| {
                (
                    d["data"]["event_type"].as_str().unwrap().to_owned(),
                    payload(d)["result"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let row = |e: &str, r: &str| (e.to_owned(), r.to_owned());
    assert_eq!(
        results(&voicemail),
        [
            row("call.machine.detection.ended", "machine"),
            row("call.machine.greeting.ended", "beep_detected"),
        ]
    );
    assert_eq!(
        results(&premium),
        [
            row("call.machine.premium.detection.ended", "machine"),
            row("call.machine.premium.greeting.ended", "beep_detected"),
        ]
    );
    assert_eq!(
        results(&person),
        [row("call.machine.detection.ended", "human")]
    );
    assert_eq!(
        types(&sb.events_of(&plain)),
        ["call.initiated", "call.answered"]
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn a_transfer_to_a_busy_number_leaves_the_call_as_it_was() {
    let sb = Sandbox::start().await;
    let id = sb.answered_call().await;
    sb.api
        .post(
            &format!("/calls/{id}/actions/transfer"),
            json!({"to": "+15551230486", "target_leg_client_state": "bGVn"}),
        )
        .await;
    let leg = sb
        .hooks
        .wait_until(|all| all.iter().any(|d| d["data"]["event_type"] == "call.hangup"))
        .await
        .into_iter()
        .find(|d| d["data"]["event_type"] == "call.hangup")
        .unwrap();
    assert_eq!(payload(&leg)["hangup_cause"], "user_busy");
    assert_eq!(payload(&leg)["client_state"], "bGVn");
    assert_ne!(payload(&leg)["call_control_id"], id.as_str());
    let status = sb.api.get(&format!("/calls/{id}")).await;
    assert_eq!(status["data"]["is_alive"], true);
    sb.settle().await;
    assert_eq!(
        types(&sb.events_of(&id)),
        ["call.initiated", "call.answered"]
    );
    let (_, error) = sb
        .api
        .fails(
            Method::POST,
            "/calls",
            json!({"connection_id": sb.sim.connection_id(), "to": "+15551230001", "from": "+15559870000", "answering_machine_detection": "guess"}),
        )
        .await;
    assert_eq!(error["code"], "10032");
    let (_, error) = sb
        .api
        .fails(
            Method::POST,
            "/calls",
            json!({"connection_id": sb.sim.connection_id(), "to": "+15551230001", "from": "+15559870000", "timeout_secs": 4}),
        )
        .await;
    assert_eq!(
        (error["code"].as_str(), error["source"]["pointer"].as_str()),
        (Some("10033"), Some("/timeout_secs"))
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn deepfake_detection_finds_the_far_end_real() {
    let sb = Sandbox::start().await;
    let dialled = sb
        .dial(json!({"deepfake_detection": {"enabled": true, "timeout": 15}}))
        .await;
    let inbound = sb
        .caller
        .call_in(testkit::sim::CALLER, testkit::sim::CALLEE)
        .await;
    sb.api
        .post(
            &format!("/calls/{inbound}/actions/answer"),
            json!({"deepfake_detection": {"enabled": true}}),
        )
        .await;
    for id in [&dialled, &inbound] {
        let result = sb.wait_for("call.deepfake_detection.result", id).await;
        assert_eq!(payload(&result)["result"], "real");
        assert!(payload(&result)["score"].as_f64().unwrap() < 0.5);
    }
    let (_, error) = sb
        .api
        .fails(
            Method::POST,
            "/calls",
            json!({"connection_id": sb.sim.connection_id(), "to": "+15551230001", "from": "+15559870000", "deepfake_detection": {"timeout": 15}}),
        )
        .await;
    assert_eq!(
        (error["code"].as_str(), error["source"]["pointer"].as_str()),
        (Some("10004"), Some("/deepfake_detection/enabled"))
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn only_the_far_end_answers_an_outgoing_call() {
    let timing = Timing {
        no_answer_timeout: Duration::from_secs(60),
        ..fast()
    };
    let sb = Sandbox::start_built(|b| b.timing(timing)).await;
    let ringing = sb.dial(json!({"to": "+15551230480"})).await;
    let (_, error) = sb
        .api
        .fails(
            Method::POST,
            &format!("/calls/{ringing}/actions/answer"),
            json!({}),
        )
        .await;
    assert_eq!(
        (error["code"].as_str(), error["source"]["pointer"].as_str()),
        (Some("10015"), Some("/call_control_id"))
    );
    sb.api
        .post(&format!("/calls/{ringing}/actions/hangup"), json!({}))
        .await;
    let hangup = sb.wait_for("call.hangup", &ringing).await;
    assert_eq!(payload(&hangup)["hangup_source"], "caller");
    sb.hooks.assert_all_valid();
}
