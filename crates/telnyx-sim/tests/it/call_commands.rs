//! The call commands that are not about media: the call's status, reject,
//! refer, client state, supervisor role, DTMF and SIP INFO.

use reqwest::Method;
use serde_json::json;

use testkit::sim::{Sandbox, payload, types};

#[tokio::test]
async fn the_status_of_a_call_follows_it_to_its_end() {
    let sb = Sandbox::start().await;
    let id = sb.answered_call().await;
    let alive = sb.api.get(&format!("/calls/{id}")).await;
    assert_eq!(alive["data"]["is_alive"], true);
    assert_eq!(alive["data"]["call_control_id"], id.as_str());
    assert_eq!(alive["data"]["client_state"], "ZGlhbGxlZA==");
    assert!(alive["data"].get("end_time").is_none());
    sb.api
        .post(&format!("/calls/{id}/actions/hangup"), json!({}))
        .await;
    let ended = sb.api.get(&format!("/calls/{id}")).await;
    assert_eq!(ended["data"]["is_alive"], false);
    assert!(ended["data"]["end_time"].is_string());
    let (status, error) = sb
        .api
        .fails(Method::GET, "/calls/v3:unknown", json!(null))
        .await;
    assert_eq!((status, error["code"].as_str()), (422, Some("90015")));
}

#[tokio::test]
async fn an_unanswered_inbound_call_can_be_rejected() {
    let sb = Sandbox::start().await;
    let busy = sb
        .caller
        .call_in(testkit::sim::CALLER, testkit::sim::CALLEE)
        .await;
    let declined = sb
        .caller
        .call_in(testkit::sim::CALLER, testkit::sim::CALLEE)
        .await;
    sb.api
        .post(
            &format!("/calls/{busy}/actions/reject"),
            json!({"cause": "USER_BUSY", "client_state": "YnVzeQ=="}),
        )
        .await;
    sb.api
        .post(
            &format!("/calls/{declined}/actions/reject"),
            json!({"cause": "CALL_REJECTED"}),
        )
        .await;
    sb.settle().await;
    for (id, cause, sip) in [
        (&busy, "user_busy", "486"),
        (&declined, "call_rejected", "603"),
    ] {
        let events = sb.events_of(id);
        assert_eq!(types(&events), ["call.initiated", "call.hangup"]);
        let hangup = payload(&events[1]);
        assert_eq!(
            (
                hangup["hangup_cause"].as_str(),
                hangup["sip_hangup_cause"].as_str(),
                hangup["hangup_source"].as_str()
            ),
            (Some(cause), Some(sip), Some("callee"))
        );
    }
    assert_eq!(payload(&sb.events_of(&busy)[1])["client_state"], "YnVzeQ==");
    let answered = sb.answered_inbound().await;
    let path = format!("/calls/{answered}/actions/reject");
    let (_, error) = sb
        .api
        .fails(Method::POST, &path, json!({"cause": "USER_BUSY"}))
        .await;
    assert_eq!(error["code"], "10015");
    let (_, error) = sb.api.fails(Method::POST, &path, json!({})).await;
    assert_eq!(
        (error["code"].as_str(), error["source"]["pointer"].as_str()),
        (Some("10004"), Some("/cause"))
    );
    let (_, error) = sb
        .api
        .fails(Method::POST, &path, json!({"cause": "NO"}))
        .await;
    assert_eq!(error["code"], "10032");
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn a_refer_completes_and_the_call_leaves_or_fails_and_it_stays() {
    let sb = Sandbox::start().await;
    let moved = sb.answered_inbound().await;
    let refused = sb.answered_inbound().await;
    sb.api
        .post(
            &format!("/calls/{moved}/actions/refer"),
            json!({"sip_address": "sip:agent@pbx.example.com", "client_state": "cmVmZXI="}),
        )
        .await;
    sb.api
        .post(
            &format!("/calls/{refused}/actions/refer"),
            json!({"sip_address": "sip:0486@pbx.example.com", "custom_headers": [{"name": "X-Ticket", "value": "42"}]}),
        )
        .await;
    sb.wait_for("call.refer.failed", &refused).await;
    sb.wait_for("call.hangup", &moved).await;
    let events = sb.events_of(&moved);
    assert_eq!(
        types(&events[2..]),
        ["call.refer.started", "call.refer.completed", "call.hangup"]
    );
    let notified: Vec<u64> = events[2..4]
        .iter()
        .map(|d| payload(d)["sip_notify_response"].as_u64().unwrap())
        .collect();
    assert_eq!(notified, [100, 200]);
    assert_eq!(payload(&events[3])["client_state"], "cmVmZXI=");
    assert_eq!(payload(&events[4])["hangup_source"], "callee");
    let events = sb.events_of(&refused);
    assert_eq!(
        types(&events[2..]),
        ["call.refer.started", "call.refer.failed"]
    );
    assert_eq!(payload(&events[3])["sip_notify_response"], 486);
    assert_eq!(
        sb.api.get(&format!("/calls/{refused}")).await["data"]["is_alive"],
        true
    );
    let (_, error) = sb
        .api
        .fails(
            Method::POST,
            &format!("/calls/{refused}/actions/refer"),
            json!({"sip_address": "+15551230001"}),
        )
        .await;
    assert_eq!(
        (error["code"].as_str(), error["source"]["pointer"].as_str()),
        (Some("10015"), Some("/sip_address"))
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn client_state_roles_dtmf_and_sip_info() {
    let sb = Sandbox::start().await;
    let a = sb.answered_call().await;
    let b = sb.answered_call().await;
    sb.api
        .put(
            &format!("/calls/{a}/actions/client_state_update"),
            json!({"client_state": "dXBkYXRlZA=="}),
        )
        .await;
    let (_, error) = sb
        .api
        .fails(
            Method::POST,
            &format!("/calls/{a}/actions/switch_supervisor_role"),
            json!({"role": "barge"}),
        )
        .await;
    assert_eq!(
        error["detail"],
        "The call is neither bridged nor in a conference."
    );
    sb.api
        .post(
            &format!("/calls/{a}/actions/bridge"),
            json!({"call_control_id": b}),
        )
        .await;
    sb.api
        .post(
            &format!("/calls/{a}/actions/switch_supervisor_role"),
            json!({"role": "whisper"}),
        )
        .await;
    sb.api
        .post(
            &format!("/calls/{a}/actions/send_dtmf"),
            json!({"digits": "1w2#", "duration_millis": 250}),
        )
        .await;
    sb.api
        .post(
            &format!("/calls/{a}/actions/send_sip_info"),
            json!({"content_type": "application/json", "body": "{\"key\": \"value\"}"}),
        )
        .await;
    let bridged = sb.wait_for("call.bridged", &a).await;
    assert_eq!(payload(&bridged)["client_state"], "dXBkYXRlZA==");
    let cases = [
        (
            "PUT",
            "client_state_update",
            json!({}),
            "10004",
            "/client_state",
        ),
        (
            "POST",
            "switch_supervisor_role",
            json!({"role": "boss"}),
            "10032",
            "/role",
        ),
        (
            "POST",
            "send_dtmf",
            json!({"digits": "12x"}),
            "10015",
            "/digits",
        ),
        (
            "POST",
            "send_dtmf",
            json!({"digits": "1", "duration_millis": 50}),
            "10033",
            "/duration_millis",
        ),
        (
            "POST",
            "send_sip_info",
            json!({"content_type": "application/json"}),
            "10004",
            "/body",
        ),
        (
            "POST",
            "send_sip_info",
            json!({"content_type": "json", "body": "{}"}),
            "10015",
            "/content_type",
        ),
    ];
    for (method, action, body, code, pointer) in cases {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (status, error) = sb
            .api
            .fails(
                method,
                &format!("/calls/{a}/actions/{action}"),
                body.clone(),
            )
            .await;
        assert_eq!(
            (
                status,
                error["code"].as_str(),
                error["source"]["pointer"].as_str()
            ),
            (422, Some(code), Some(pointer)),
            "{action} {body}: {error}"
        );
    }
    sb.settle().await;
    // Neither DTMF sent to the far end nor SIP INFO sends a webhook here.
    assert_eq!(
        types(&sb.events_of(&a)),
        ["call.initiated", "call.answered", "call.bridged"]
    );
    sb.hooks.assert_all_valid();
}
