//! Each operation group with realistic bodies; every request and every
//! success is checked against Telnyx's spec by the harness.

use serde_json::{Value, json};

use testkit::receiver::event_types;
use testkit::sim::{CALLEE, CALLER, Sandbox, expect, sequence};

fn ids(list: &Value, key: &str) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[key].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn call_control_applications() {
    let sb = Sandbox::start().await;
    let api = &sb.api;
    let created = api
        .post(
            "/call_control_applications",
            json!({
                "application_name": "call-router",
                "webhook_event_url": "https://example.com/hooks",
                "dtmf_type": "Inband",
                "inbound": {"channel_limit": 10, "sip_subdomain": "router"},
                "webhook_timeout_secs": 25,
            }),
        )
        .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["data"]["record_type"], "call_control_application");
    assert_eq!(
        created["data"]["active"], true,
        "defaults fill what was not sent"
    );
    assert_eq!(created["data"]["inbound"]["channel_limit"], 10);

    let updated = api
        .patch(
            &format!("/call_control_applications/{id}"),
            json!({"application_name": "call-router-2", "webhook_event_url": "https://example.com/v2", "active": false, "tags": ["blue"]}),
        )
        .await;
    assert_eq!(updated["data"]["active"], false);
    assert_eq!(
        updated["data"]["dtmf_type"], "Inband",
        "an update keeps what it does not name"
    );
    let fetched = api.get(&format!("/call_control_applications/{id}")).await;
    assert_eq!(fetched["data"]["application_name"], "call-router-2");

    let found = api
        .get("/call_control_applications?filter[application_name][contains]=ROUTER&sort=connection_name")
        .await;
    assert_eq!(ids(&found, "id"), [id.as_str()]);
    let all = api
        .get("/call_control_applications?page[number]=1&page[size]=1")
        .await;
    assert_eq!(
        all["meta"]["total_results"], 2,
        "the sandbox's own application and this one"
    );
    assert_eq!(all["meta"]["total_pages"], 2);

    let deleted = api
        .delete(&format!("/call_control_applications/{id}"))
        .await;
    assert_eq!(deleted["data"]["id"], id.as_str());
    let (status, _) = api
        .call(
            reqwest::Method::GET,
            &format!("/call_control_applications/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn calls_dial_answer_bridge_transfer_and_lists() {
    let sb = Sandbox::start().await;
    let api = &sb.api;
    let dialled = api
        .post(
            "/calls",
            json!({
                "connection_id": sb.sim.connection_id(),
                "to": [CALLEE],
                "from": CALLER,
                "from_display_name": "Support",
                "timeout_secs": 30,
                "record": "record-from-answer",
            }),
        )
        .await;
    let a = dialled["data"]["call_control_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(dialled["data"]["is_alive"], true);
    assert!(dialled["data"]["recording_id"].is_string());
    sb.hooks.wait_for_event("call.answered", &a).await;

    let b = sb.sim.incoming_call(CALLER, CALLEE);
    let initiated = sb.hooks.wait_for_event("call.initiated", &b).await;
    assert_eq!(initiated["data"]["payload"]["direction"], "incoming");
    assert_eq!(initiated["data"]["payload"]["state"], "parked");
    api.post(
        &format!("/calls/{b}/actions/answer"),
        json!({"client_state": "YW5zd2VyZWQ="}),
    )
    .await;
    let answered = sb.hooks.wait_for_event("call.answered", &b).await;
    assert_eq!(answered["data"]["payload"]["client_state"], "YW5zd2VyZWQ=");

    api.post(
        &format!("/calls/{a}/actions/bridge"),
        json!({"call_control_id": b, "park_after_unbridge": "self"}),
    )
    .await;
    let c = sb.answered_call().await;
    api.post(
        &format!("/calls/{c}/actions/transfer"),
        json!({"to": "sip:agent@example.com", "target_leg_client_state": "dGFyZ2V0"}),
    )
    .await;

    let active = api
        .get(&format!(
            "/connections/{}/active_calls?page[limit]=2",
            sb.sim.connection_id()
        ))
        .await;
    assert_eq!(
        active["meta"]["total_items"], 4,
        "a, b, c and the transfer leg"
    );
    let after = active["meta"]["cursors"]["after"].as_str().unwrap();
    let rest = api
        .get(&format!(
            "/connections/{}/active_calls?page[limit]=2&page[after]={after}",
            sb.sim.connection_id()
        ))
        .await;
    let mut seen = ids(&active, "call_control_id");
    seen.extend(ids(&rest, "call_control_id"));
    assert_eq!(seen.len(), 4);
    assert!(rest["meta"]["cursors"].get("after").is_none());

    api.post(&format!("/calls/{b}/actions/hangup"), json!({}))
        .await;
    let deliveries = sb.settle().await;
    let leg = deliveries
        .iter()
        .find(|d| d["data"]["payload"]["client_state"] == "dGFyZ2V0")
        .expect("the transfer leg's events carry its client state");
    let leg = leg["data"]["payload"]["call_control_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tail: Vec<(String, String)> = sequence(&deliveries)
        .into_iter()
        .filter(|(_, call)| [&a, &b, &c, &leg].contains(&call))
        .skip_while(|(event, _)| event != "call.bridged")
        .collect();
    assert_eq!(
        tail,
        expect(&[
            ("call.bridged", &a),
            ("call.bridged", &b),
            ("call.initiated", &c),
            ("call.answered", &c),
            ("call.initiated", &leg),
            ("call.answered", &leg),
            ("call.bridged", &c),
            ("call.bridged", &leg),
            ("call.hangup", &b),
        ]),
        "a parks after its bridge ends"
    );
    let still_up = api
        .get(&format!(
            "/connections/{}/active_calls",
            sb.sim.connection_id()
        ))
        .await;
    assert!(ids(&still_up, "call_control_id").contains(&a));

    let leg_id = answered["data"]["payload"]["call_leg_id"].as_str().unwrap();
    let events = api
        .get(&format!(
            "/call_events?filter[leg_id]={leg_id}&filter[type]=webhook"
        ))
        .await;
    assert_eq!(
        ids(&events, "name"),
        [
            "call.initiated",
            "call.answered",
            "call.bridged",
            "call.hangup"
        ]
    );
    let commands = api
        .get(&format!(
            "/call_events?filter[leg_id]={leg_id}&filter[type]=command"
        ))
        .await;
    assert_eq!(ids(&commands, "name"), ["AnswerCall", "HangupCall"]);
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn conference_actions_and_participants() {
    let sb = Sandbox::start().await;
    let api = &sb.api;
    let host = sb.answered_call().await;
    let agent = sb.answered_call().await;
    let coach = sb.answered_call().await;
    let id = sb.conference(&host, "support-room").await;
    let actions = format!("/conferences/{id}/actions");
    api.post(
        &format!("{actions}/join"),
        json!({"call_control_id": agent, "hold": true, "end_conference_on_exit": false}),
    )
    .await;
    api.post(
        &format!("{actions}/join"),
        json!({"call_control_id": coach, "supervisor_role": "whisper", "whisper_call_control_ids": [agent], "mute": true}),
    )
    .await;

    let whispering = api
        .get(&format!(
            "/conferences/{id}/participants?filter[whispering]=true"
        ))
        .await;
    assert_eq!(ids(&whispering, "call_control_id"), [coach.as_str()]);
    let held = api
        .get(&format!(
            "/conferences/{id}/participants?filter[on_hold]=true"
        ))
        .await;
    assert_eq!(ids(&held, "call_control_id"), [agent.as_str()]);
    api.post(
        &format!("{actions}/unhold"),
        json!({"call_control_ids": [agent]}),
    )
    .await;
    api.post(
        &format!("{actions}/hold"),
        json!({"audio_url": "https://example.com/hold.mp3"}),
    )
    .await;
    api.post(&format!("{actions}/unmute"), json!({})).await;
    api.post(
        &format!("{actions}/update"),
        json!({"call_control_id": coach, "supervisor_role": "barge"}),
    )
    .await;
    let everyone = api.get(&format!("/conferences/{id}/participants")).await;
    for participant in everyone["data"].as_array().unwrap() {
        assert_eq!(
            (
                participant["on_hold"].as_bool(),
                participant["muted"].as_bool()
            ),
            (Some(true), Some(false))
        );
        assert_eq!(participant["conference"]["name"], "support-room");
    }

    let participant_id = everyone["data"][1]["id"].as_str().unwrap();
    let one = api
        .get(&format!("/conferences/{id}/participants/{participant_id}"))
        .await;
    assert_eq!(one["data"]["call_control_id"], agent.as_str());
    let patched = api
        .patch(
            &format!("/conferences/{id}/participants/{agent}"),
            json!({"soft_end_conference_on_exit": true, "beep_enabled": "on_exit"}),
        )
        .await;
    assert_eq!(patched["data"]["soft_end_conference_on_exit"], true);

    api.post(
        &format!("{actions}/play"),
        json!({"audio_url": "https://example.com/welcome.wav", "call_control_ids": [agent]}),
    )
    .await;
    api.post(
        &format!("{actions}/play"),
        json!({"media_name": "hold_music", "loop": "infinity"}),
    )
    .await;
    api.post(&format!("{actions}/stop"), json!({})).await;
    api.post(
        &format!("{actions}/speak"),
        json!({"payload": "Hello", "voice": "male", "call_control_ids": [coach]}),
    )
    .await;
    api.post(
        &format!("{actions}/send_dtmf"),
        json!({"digits": "1234#", "duration_millis": 250}),
    )
    .await;
    api.post(&format!("{actions}/gather_using_audio"), json!({"call_control_id": agent, "audio_url": "https://example.com/menu.wav", "maximum_digits": 4}))
        .await;
    api.post(
        &format!("{actions}/record_start"),
        json!({"format": "wav", "channels": "dual", "play_beep": true}),
    )
    .await;
    api.post(&format!("{actions}/record_pause"), json!({}))
        .await;
    api.post(&format!("{actions}/record_resume"), json!({}))
        .await;

    let named = api
        .get("/conferences?filter[name]=support-room&filter[status]=in_progress")
        .await;
    assert_eq!(ids(&named, "id"), [id.as_str()]);
    api.post(&format!("{actions}/end"), json!({})).await;
    let ended = api.get(&format!("/conferences/{id}")).await;
    assert_eq!(ended["data"]["end_reason"], "ended_via_api");

    let types = event_types(&sb.settle().await);
    let media: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|t| t.contains("playback") || t.contains("speak"))
        .collect();
    assert_eq!(
        media,
        [
            "conference.participant.playback.started",
            "conference.playback.started",
            "conference.participant.playback.ended",
            "conference.playback.ended",
            "conference.participant.speak.started",
            "conference.participant.speak.ended",
        ]
    );
    let tail: Vec<&str> = types
        .iter()
        .rev()
        .take(8)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "conference.participant.left",
            "conference.participant.left",
            "conference.participant.left",
            "conference.recording.saved",
            "conference.ended",
            "call.hangup",
            "call.hangup",
            "call.hangup",
        ],
        "ending a conference saves its recording and hangs everyone up"
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn queues_and_waiting_calls() {
    let sb = Sandbox::start().await;
    let api = &sb.api;
    let created = api
        .post("/queues", json!({"queue_name": "tier_1", "max_size": 10}))
        .await;
    assert_eq!(
        (
            created["data"]["max_size"].as_u64(),
            created["data"]["current_size"].as_u64()
        ),
        (Some(10), Some(0))
    );
    let updated = api.post("/queues/tier_1", json!({"max_size": 20})).await;
    assert_eq!(updated["data"]["max_size"], 20);
    assert_eq!(api.get("/queues/tier_1").await["data"]["name"], "tier_1");

    let kept = sb.answered_call().await;
    let timed = sb.answered_call().await;
    api.post(
        &format!("/calls/{kept}/actions/enqueue"),
        json!({"queue_name": "tier_1"}),
    )
    .await;
    api.post(
        &format!("/calls/{timed}/actions/enqueue"),
        json!({"queue_name": "tier_1", "max_wait_time_secs": 1}),
    )
    .await;
    let (status, error) = api
        .fails(reqwest::Method::DELETE, "/queues/tier_1", json!(null))
        .await;
    assert_eq!((status, error["code"].as_str()), (400, Some("90050")));

    let one = api.get(&format!("/queues/tier_1/calls/{timed}")).await;
    assert_eq!(one["data"]["queue_position"], 2);
    api.patch(
        &format!("/queues/tier_1/calls/{kept}"),
        json!({"keep_after_hangup": true}),
    )
    .await;
    api.post(&format!("/calls/{kept}/actions/hangup"), json!({}))
        .await;
    let waiting = api.get("/queues/tier_1/calls").await;
    assert_eq!(waiting["data"][0]["is_alive"], false, "kept after hangup");

    let timed_out = sb
        .hooks
        .wait_until(|d| d.iter().any(|d| d["data"]["event_type"] == "call.dequeued"))
        .await;
    let dequeued = timed_out
        .iter()
        .find(|d| d["data"]["event_type"] == "call.dequeued")
        .unwrap();
    assert_eq!(
        dequeued["data"]["payload"]["call_control_id"],
        timed.as_str()
    );
    assert_eq!(dequeued["data"]["payload"]["reason"], "timeout");

    api.delete(&format!("/queues/tier_1/calls/{kept}")).await;
    let list = api.get("/queues?page[number]=1&page[size]=5").await;
    assert_eq!(list["data"][0]["current_size"], 0);
    api.delete("/queues/tier_1").await;
    assert_eq!(api.get("/queues").await["meta"]["total_results"], 0);
    sb.hooks.assert_all_valid();
}
