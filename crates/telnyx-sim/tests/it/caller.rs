//! The caller's side (`/_sim/`): calls placed to the account, keys, speech,
//! hold and hang-ups, as a whole IVR flow and one by one, with no API key.

use std::time::Duration;

use serde_json::json;

use telnyx_sim::Timing;
use testkit::sim::{CALLEE, CALLER, Sandbox, fast, payload, types};

#[tokio::test]
async fn an_ivr_menu_routes_a_caller_to_the_support_queue() {
    let sb = Sandbox::start().await;
    let id = sb.caller.call_in(CALLER, CALLEE).await;
    let ringing = sb.wait_for("call.initiated", &id).await;
    assert_eq!(
        (
            payload(&ringing)["direction"].as_str(),
            payload(&ringing)["state"].as_str()
        ),
        (Some("incoming"), Some("parked"))
    );
    assert_eq!(
        payload(&ringing)["connection_id"],
        sb.sim.connection_id().as_str()
    );
    sb.api
        .post(
            &format!("/calls/{id}/actions/answer"),
            json!({"client_state": "aXZy"}),
        )
        .await;
    sb.api
        .post(
            &format!("/calls/{id}/actions/gather_using_speak"),
            json!({"payload": "Press 1 for sales, 2 for support", "voice": "female", "valid_digits": "12", "maximum_digits": 1}),
        )
        .await;
    sb.caller.press(&id, "2").await;
    let gathered = sb.wait_for("call.gather.ended", &id).await;
    assert_eq!(payload(&gathered)["digits"], "2");
    sb.api
        .post(
            &format!("/calls/{id}/actions/enqueue"),
            json!({"queue_name": "support"}),
        )
        .await;
    sb.caller.hang_up(&id).await;
    sb.settle().await;
    let events = sb.events_of(&id);
    assert_eq!(
        types(&events),
        [
            "call.initiated",
            "call.answered",
            "call.gather.ended",
            "call.enqueued",
            "call.hangup",
            "call.dequeued",
        ]
    );
    let hangup = payload(&events[4]);
    assert_eq!(
        (
            hangup["hangup_cause"].as_str(),
            hangup["hangup_source"].as_str(),
            hangup["client_state"].as_str()
        ),
        (Some("normal_clearing"), Some("caller"), Some("aXZy"))
    );
    assert_eq!(payload(&events[5])["reason"], "hangup");
    assert_eq!(
        sb.api.get("/queues/support").await["data"]["current_size"],
        0
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn hold_hangups_and_who_hung_up() {
    let sb = Sandbox::start().await;
    let held = sb.answered_inbound().await;
    for action in ["hold", "unhold"] {
        let (status, _) = sb
            .caller
            .post(&format!("/calls/{held}/{action}"), json!({}))
            .await;
        assert_eq!(status, 200);
    }
    let (status, error) = sb
        .caller
        .post(&format!("/calls/{held}/unhold"), json!({}))
        .await;
    assert_eq!(
        (status, error["errors"][0]["code"].as_str()),
        (422, Some("10015"))
    );

    let gave_up = sb.caller.call_in(CALLER, CALLEE).await;
    sb.caller.hang_up(&gave_up).await;
    let outbound = sb.answered_call().await;
    sb.caller.hang_up(&outbound).await;
    sb.api
        .post(&format!("/calls/{held}/actions/hangup"), json!({}))
        .await;
    sb.settle().await;
    assert_eq!(
        types(&sb.events_of(&held)),
        [
            "call.initiated",
            "call.answered",
            "call.hold",
            "call.unhold",
            "call.hangup"
        ]
    );
    let hangup = |id: &str| {
        let events = sb.events_of(id);
        let last = payload(events.last().unwrap()).clone();
        (
            last["hangup_cause"].as_str().unwrap().to_owned(),
            last["hangup_source"].as_str().unwrap().to_owned(),
            last["sip_hangup_cause"].as_str().unwrap().to_owned(),
        )
    };
    let row = |c: &str, s: &str, sip: &str| (c.to_owned(), s.to_owned(), sip.to_owned());
    assert_eq!(hangup(&gave_up), row("originator_cancel", "caller", "487"));
    assert_eq!(hangup(&outbound), row("normal_clearing", "callee", "200"));
    assert_eq!(hangup(&held), row("normal_clearing", "callee", "200"));
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn the_caller_side_refuses_what_no_phone_can_do() {
    let sb = Sandbox::start().await;
    let ringing = sb.caller.call_in(CALLER, CALLEE).await;
    let ringing = format!("/calls/{ringing}/dtmf");
    let cases = [
        (
            "/calls",
            json!({"from": "12345", "to": CALLEE}),
            422,
            "10016",
        ),
        ("/calls", json!({"from": CALLER}), 422, "10004"),
        (
            "/calls",
            json!({"from": CALLER, "to": CALLEE, "connection_id": "nope"}),
            422,
            "10015",
        ),
        ("/calls/v3:nope/dtmf", json!({"digits": "1"}), 422, "90015"),
        (ringing.as_str(), json!({"digits": "1"}), 422, "90034"),
        ("/calls/v3:nope/hangup", json!({}), 422, "90015"),
    ];
    for (path, body, status, code) in cases {
        let (got, answer) = sb.caller.post(path, body.clone()).await;
        assert_eq!(
            (got, answer["errors"][0]["code"].as_str()),
            (status, Some(code)),
            "{path} {body}: {answer}"
        );
    }
    let answered = sb.answered_inbound().await;
    let long = "x".repeat(3_001);
    for (path, body, code) in [
        ("dtmf", json!({"digits": "12e"}), "10015"),
        ("dtmf", json!({}), "10004"),
        ("speech", json!({"text": long}), "10015"),
        ("speech", json!({"text": 7}), "10015"),
    ] {
        let (status, answer) = sb
            .caller
            .post(&format!("/calls/{answered}/{path}"), body)
            .await;
        assert_eq!(
            (status, answer["errors"][0]["code"].as_str()),
            (422, Some(code))
        );
    }
    sb.caller.hang_up(&answered).await;
    let (status, answer) = sb
        .caller
        .post(&format!("/calls/{answered}/hangup"), json!({}))
        .await;
    assert_eq!(
        (status, answer["errors"][0]["code"].as_str()),
        (422, Some("90018"))
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn who_speaks_in_a_conference_takes_the_floor() {
    let sb = Sandbox::start().await;
    let host = sb.answered_inbound().await;
    let guest = sb.answered_inbound().await;
    let conference = sb.conference(&host, "floor").await;
    sb.api
        .post(
            &format!("/conferences/{conference}/actions/join"),
            json!({"call_control_id": guest}),
        )
        .await;
    for (who, words) in [(&host, "Hello"), (&host, "Anyone there?"), (&guest, "Yes")] {
        sb.caller.say(who, words).await;
    }
    sb.settle().await;
    let floor: Vec<String> = sb
        .hooks
        .deliveries()
        .iter()
        .filter(|d| d["data"]["event_type"] == "conference.floor.changed")
        .map(|d| {
            assert_eq!(payload(d)["conference_id"], conference.as_str());
            payload(d)["call_control_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(floor, [host, guest]);
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn a_flood_of_keys_is_refused_while_webhooks_wait() {
    // A webhook endpoint that accepts connections and never answers: the
    // first delivery waits out its timeout while the keys pile up.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let timing = Timing {
        webhook_timeout: Duration::from_secs(30),
        ..fast()
    };
    let sb = Sandbox::start_built(|b| b.webhook_url(url).timing(timing)).await;
    let id = sb.caller.call_in(CALLER, CALLEE).await;
    sb.api
        .post(&format!("/calls/{id}/actions/answer"), json!({}))
        .await;
    let keys = "1".repeat(64);
    let mut accepted = 0;
    let refused = loop {
        let (status, answer) = sb
            .caller
            .post(&format!("/calls/{id}/dtmf"), json!({"digits": keys}))
            .await;
        if status != 200 {
            break (status, answer);
        }
        accepted += 1;
        assert!(accepted <= 200, "never refused");
    };
    assert_eq!(refused.0, 429);
    assert_eq!(refused.1["errors"][0]["code"], "10011");
    assert!(accepted * 64 >= 10_000, "refused after {accepted} presses");
}
