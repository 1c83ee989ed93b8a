//! Whole call flows as a service writes them, with the caller played
//! through `/_sim/`: an IVR that routes a caller to an agent, and a
//! voicemail.

use serde_json::json;

use testkit::sim::{CALLEE, CALLER, Sandbox, payload, types};

#[tokio::test]
async fn an_ivr_routes_a_caller_through_a_queue_to_an_agent() {
    let sb = Sandbox::start().await;
    let caller = sb.caller.call_in(CALLER, CALLEE).await;
    sb.wait_for("call.initiated", &caller).await;
    sb.api
        .post(&format!("/calls/{caller}/actions/answer"), json!({}))
        .await;
    sb.api
        .post(
            &format!("/calls/{caller}/actions/gather_using_speak"),
            json!({"payload": "Press 2 for support", "voice": "female", "valid_digits": "12", "maximum_digits": 1}),
        )
        .await;
    sb.caller.press(&caller, "2").await;
    sb.wait_for("call.gather.ended", &caller).await;
    sb.api
        .post(
            &format!("/calls/{caller}/actions/enqueue"),
            json!({"queue_name": "support"}),
        )
        .await;
    sb.api
        .post(
            &format!("/calls/{caller}/actions/playback_start"),
            json!({"media_name": "hold-music", "loop": "infinity"}),
        )
        .await;
    let agent = sb
        .dial(json!({"to": "sip:agent-7@pbx.example.com", "client_state": "YWdlbnQ="}))
        .await;
    sb.wait_for("call.answered", &agent).await;
    sb.api
        .post(&format!("/calls/{caller}/actions/playback_stop"), json!({}))
        .await;
    sb.api
        .post(
            &format!("/calls/{caller}/actions/bridge"),
            json!({"call_control_id": agent}),
        )
        .await;
    sb.api
        .post(
            &format!("/calls/{caller}/actions/record_start"),
            json!({"format": "mp3", "channels": "dual"}),
        )
        .await;
    sb.caller.hang_up(&caller).await;
    sb.settle().await;

    assert_eq!(
        types(&sb.events_of(&caller)),
        [
            "call.initiated",
            "call.answered",
            "call.gather.ended",
            "call.enqueued",
            "call.playback.started",
            "call.playback.ended",
            "call.dequeued",
            "call.bridged",
            "call.hangup",
            "call.recording.saved",
        ]
    );
    let agent_events = sb.events_of(&agent);
    assert_eq!(
        types(&agent_events),
        [
            "call.initiated",
            "call.answered",
            "call.bridged",
            "call.hangup"
        ]
    );
    let dequeued = sb.wait_for("call.dequeued", &caller).await;
    assert_eq!(payload(&dequeued)["reason"], "bridged");
    let hangup = payload(&agent_events[3]);
    assert_eq!(
        (
            hangup["hangup_source"].as_str(),
            hangup["client_state"].as_str()
        ),
        (Some("callee"), Some("YWdlbnQ="))
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn a_voicemail_greets_records_and_saves_the_message() {
    let sb = Sandbox::start().await;
    let caller = sb.answered_inbound().await;
    sb.api
        .post(
            &format!("/calls/{caller}/actions/playback_start"),
            json!({"audio_url": "https://example.com/greeting.mp3"}),
        )
        .await;
    sb.wait_for("call.playback.ended", &caller).await;
    sb.api
        .post(
            &format!("/calls/{caller}/actions/record_start"),
            json!({"format": "wav", "channels": "single", "transcription": true, "play_beep": true}),
        )
        .await;
    sb.caller
        .say(&caller, "Hi, this is Ada, please call me back.")
        .await;
    sb.caller.hang_up(&caller).await;
    sb.wait_for("call.recording.transcription.saved", &caller)
        .await;
    let events = sb.events_of(&caller);
    assert_eq!(
        types(&events[2..]),
        [
            "call.playback.started",
            "call.playback.ended",
            "call.hangup",
            "call.recording.saved",
            "call.recording.transcription.saved",
        ]
    );
    assert!(payload(&events[5])["recording_urls"]["wav"].is_string());
    assert_eq!(
        payload(&events[6])["transcription_text"],
        "Hi, this is Ada, please call me back."
    );
    sb.hooks.assert_all_valid();
}
