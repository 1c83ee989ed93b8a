//! What a call hears: speak and playback queue, stop, overlay and loop, end
//! with the call, and are validated as Telnyx validates them.

use reqwest::Method;
use serde_json::json;

use testkit::sim::{CALLEE, CALLER, Sandbox, payload, types};

#[tokio::test]
async fn speech_and_playback_queue_and_end_in_order() {
    let sb = Sandbox::start().await;
    let id = sb.answered_call().await;
    let actions = format!("/calls/{id}/actions");
    sb.api
        .post(
            &format!("{actions}/speak"),
            json!({"payload": "Welcome", "voice": "female", "language": "en-US", "client_state": "c3BlYWs="}),
        )
        .await;
    sb.api
        .post(
            &format!("{actions}/playback_start"),
            json!({"audio_url": "https://example.com/hold.mp3", "client_state": "cGxheQ=="}),
        )
        .await;
    sb.wait_for("call.playback.ended", &id).await;
    let events = sb.events_of(&id);
    assert_eq!(
        types(&events),
        [
            "call.initiated",
            "call.answered",
            "call.speak.started",
            "call.speak.ended",
            "call.playback.started",
            "call.playback.ended",
        ]
    );
    assert_eq!(payload(&events[2])["client_state"], "c3BlYWs=");
    assert_eq!(payload(&events[3])["status"], "completed");
    let started = payload(&events[4]);
    assert_eq!(started["media_url"], "https://example.com/hold.mp3");
    assert_eq!(
        (
            started["overlay"].as_bool(),
            started["client_state"].as_str()
        ),
        (Some(false), Some("cGxheQ=="))
    );
    assert_eq!(payload(&events[5])["status"], "completed");
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn stopping_ends_the_current_audio_or_all_of_it() {
    let sb = Sandbox::start().await;
    let id = sb.answered_call().await;
    let actions = format!("/calls/{id}/actions");
    for name in ["first", "second"] {
        sb.api
            .post(
                &format!("{actions}/playback_start"),
                json!({"media_name": name, "loop": "infinity"}),
            )
            .await;
    }
    sb.api
        .post(
            &format!("{actions}/playback_stop"),
            json!({"stop": "current"}),
        )
        .await;
    sb.api
        .post(
            &format!("{actions}/playback_start"),
            json!({"audio_url": "https://example.com/beep.wav", "overlay": true, "loop": "infinity"}),
        )
        .await;
    sb.api
        .post(&format!("{actions}/playback_stop"), json!({}))
        .await;
    sb.settle().await;
    let played: Vec<(String, String, String)> = sb.events_of(&id)[2..]
        .iter()
        .map(|d| {
            let p = payload(d);
            let media = p["media_name"].as_str().or(p["media_url"].as_str());
            (
                d["data"]["event_type"].as_str().unwrap().to_owned(),
                media.unwrap().to_owned(),
                p["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let row = |e: &str, m: &str, s: &str| (e.to_owned(), m.to_owned(), s.to_owned());
    assert_eq!(
        played,
        [
            row("call.playback.started", "first", ""),
            row("call.playback.ended", "first", "cancelled"),
            row("call.playback.started", "second", ""),
            row("call.playback.started", "https://example.com/beep.wav", ""),
            row("call.playback.ended", "second", "cancelled"),
            row(
                "call.playback.ended",
                "https://example.com/beep.wav",
                "cancelled"
            ),
        ]
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn audio_still_playing_ends_with_the_call() {
    let sb = Sandbox::start().await;
    let id = sb.answered_call().await;
    sb.api
        .post(
            &format!("/calls/{id}/actions/speak"),
            json!({"payload": "Please hold", "voice": "male", "loop": "infinity"}),
        )
        .await;
    sb.api
        .post(&format!("/calls/{id}/actions/hangup"), json!({}))
        .await;
    sb.settle().await;
    let events = sb.events_of(&id);
    assert_eq!(
        types(&events[2..]),
        ["call.speak.started", "call.speak.ended", "call.hangup"]
    );
    assert_eq!(payload(&events[3])["status"], "call_hangup");
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn media_commands_are_validated_as_telnyx_does() {
    let sb = Sandbox::start().await;
    let id = sb.answered_call().await;
    let speak = format!("/calls/{id}/actions/speak");
    let play = format!("/calls/{id}/actions/playback_start");
    let cases = [
        (&speak, json!({"payload": "Hi"}), "10004", "/voice"),
        (
            &speak,
            json!({"payload": "Hi", "voice": "female", "language": "xx-XX"}),
            "10032",
            "/language",
        ),
        (
            &speak,
            json!({"payload": "Hi", "voice": "female", "loop": 0}),
            "10033",
            "/loop",
        ),
        (
            &speak,
            json!({"payload": "Hi", "voice": "female", "voice_settings": {}}),
            "10004",
            "/voice_settings/type",
        ),
        (&play, json!({}), "10004", "/audio_url"),
        (
            &play,
            json!({"audio_url": "https://example.com/a.mp3", "media_name": "a"}),
            "10015",
            "/media_name",
        ),
        (
            &play,
            json!({"media_name": "a", "loop": "forever"}),
            "10015",
            "/loop",
        ),
        (
            &play,
            json!({"media_name": "a", "overlay": true}),
            "10015",
            "/overlay",
        ),
    ];
    for (path, body, code, pointer) in cases {
        let (status, error) = sb.api.fails(Method::POST, path, body.clone()).await;
        assert_eq!(
            (
                status,
                error["code"].as_str(),
                error["source"]["pointer"].as_str()
            ),
            (422, Some(code), Some(pointer)),
            "{body}: {error}"
        );
    }
    let ringing = sb.sim.incoming_call(CALLER, CALLEE);
    let (_, error) = sb
        .api
        .fails(
            Method::POST,
            &format!("/calls/{ringing}/actions/speak"),
            json!({"payload": "Hi", "voice": "female"}),
        )
        .await;
    assert_eq!(error["code"], "90034");
    sb.settle().await;
    assert_eq!(
        types(&sb.events_of(&id)),
        ["call.initiated", "call.answered"]
    );
}
