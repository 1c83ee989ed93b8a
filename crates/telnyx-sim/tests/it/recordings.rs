//! Call recordings: started by command or by `record-from-answer`, saved
//! when stopped or after the call ends, with the transcription of what the
//! caller said while it ran.

use reqwest::Method;
use serde_json::json;

use testkit::sim::{Sandbox, payload, types};

#[tokio::test]
async fn a_stopped_recording_is_saved_with_the_transcription_of_the_caller() {
    let sb = Sandbox::start().await;
    let id = sb.answered_inbound().await;
    let actions = format!("/calls/{id}/actions");
    sb.api
        .post(
            &format!("{actions}/record_start"),
            json!({"format": "mp3", "channels": "single", "transcription": true, "play_beep": true}),
        )
        .await;
    sb.caller.say(&id, "My router is broken.").await;
    sb.api
        .post(&format!("{actions}/record_pause"), json!({}))
        .await;
    sb.caller.say(&id, "This is not recorded.").await;
    sb.api
        .post(&format!("{actions}/record_resume"), json!({}))
        .await;
    sb.caller.say(&id, "Please call me back.").await;
    sb.api
        .post(
            &format!("{actions}/record_stop"),
            json!({"client_state": "c2F2ZWQ="}),
        )
        .await;
    sb.settle().await;
    let events = sb.events_of(&id);
    assert_eq!(
        types(&events[2..]),
        ["call.recording.saved", "call.recording.transcription.saved"]
    );
    let saved = payload(&events[2]);
    assert_eq!(saved["channels"], "single");
    assert_eq!(saved["client_state"], "c2F2ZWQ=");
    let url = saved["recording_urls"]["mp3"].as_str().unwrap();
    assert!(url.ends_with(".mp3"), "{url}");
    assert_eq!(saved["public_recording_urls"]["mp3"], url);
    assert!(saved["recording_started_at"].as_str() <= saved["recording_ended_at"].as_str());
    let transcribed = payload(&events[3]);
    assert_eq!(
        transcribed["transcription_text"],
        "My router is broken. Please call me back."
    );
    assert_eq!(
        (
            transcribed["status"].as_str(),
            transcribed["calling_party_type"].as_str()
        ),
        (Some("completed"), Some("pstn"))
    );
    assert!(url.contains(transcribed["recording_id"].as_str().unwrap()));
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn a_recording_from_answer_is_saved_after_the_hangup() {
    let sb = Sandbox::start().await;
    let dialled = sb
        .dial(json!({"record": "record-from-answer", "record_format": "wav"}))
        .await;
    sb.wait_for("call.answered", &dialled).await;
    let status = sb.api.get(&format!("/calls/{dialled}")).await;
    assert_eq!(status["data"]["is_alive"], true);
    sb.api
        .post(&format!("/calls/{dialled}/actions/hangup"), json!({}))
        .await;

    let inbound = sb
        .caller
        .call_in(testkit::sim::CALLER, testkit::sim::CALLEE)
        .await;
    let answer = sb
        .api
        .post(
            &format!("/calls/{inbound}/actions/answer"),
            json!({"record": "record-from-answer", "record_channels": "single"}),
        )
        .await;
    let recording_id = answer["data"]["recording_id"].as_str().unwrap().to_owned();
    sb.caller.hang_up(&inbound).await;
    sb.settle().await;

    let events = sb.events_of(&dialled);
    assert_eq!(
        types(&events),
        [
            "call.initiated",
            "call.answered",
            "call.hangup",
            "call.recording.saved"
        ]
    );
    let saved = payload(&events[3]);
    assert_eq!(
        (
            saved["channels"].as_str(),
            saved["recording_urls"]["wav"].is_string()
        ),
        (Some("dual"), true)
    );
    let events = sb.events_of(&inbound);
    assert_eq!(
        types(&events),
        [
            "call.initiated",
            "call.answered",
            "call.hangup",
            "call.recording.saved"
        ]
    );
    let url = payload(&events[3])["recording_urls"]["mp3"]
        .as_str()
        .unwrap();
    assert!(url.contains(&recording_id), "{url}");
    let ended = sb.api.get(&format!("/calls/{inbound}")).await;
    assert_eq!(ended["data"]["is_alive"], false);
    assert!(ended["data"]["end_time"].is_string());
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn recording_commands_are_validated_as_telnyx_does() {
    let sb = Sandbox::start().await;
    let id = sb.answered_call().await;
    let actions = format!("/calls/{id}/actions");
    let cases = [
        (
            "record_start",
            json!({"format": "mp3"}),
            "10004",
            "/channels",
        ),
        (
            "record_start",
            json!({"format": "ogg", "channels": "dual"}),
            "10032",
            "/format",
        ),
        (
            "record_start",
            json!({"format": "mp3", "channels": "dual", "custom_file_name": "x".repeat(41)}),
            "10015",
            "/custom_file_name",
        ),
        ("record_stop", json!({}), "10015", "/recording_id"),
        ("record_pause", json!({}), "10015", "/recording_id"),
    ];
    for (action, body, code, pointer) in cases {
        let (status, error) = sb
            .api
            .fails(Method::POST, &format!("{actions}/{action}"), body.clone())
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
    sb.api
        .post(
            &format!("{actions}/record_start"),
            json!({"format": "wav", "channels": "dual"}),
        )
        .await;
    let (_, error) = sb
        .api
        .fails(
            Method::POST,
            &format!("{actions}/record_start"),
            json!({"format": "wav", "channels": "dual"}),
        )
        .await;
    assert_eq!(error["code"], "10015");
    let (_, error) = sb
        .api
        .fails(
            Method::POST,
            &format!("{actions}/record_stop"),
            json!({"recording_id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0"}),
        )
        .await;
    assert_eq!(error["source"]["pointer"], "/recording_id");
    sb.hooks.assert_all_valid();
}
