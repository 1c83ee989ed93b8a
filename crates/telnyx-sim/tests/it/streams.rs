//! Media leaving the call (fork, WebSocket streams, SIPREC), transcription
//! and noise suppression: their webhooks, their failures by convention, and
//! how they stop with the call.

use reqwest::Method;
use serde_json::json;

use testkit::sim::{Sandbox, payload, types};

#[tokio::test]
async fn forks_streams_and_siprec_start_and_stop_before_the_hangup() {
    let sb = Sandbox::start().await;
    let id = sb.answered_inbound().await;
    let actions = format!("/calls/{id}/actions");
    sb.api
        .post(
            &format!("{actions}/fork_start"),
            json!({"rx": "udp:192.0.2.1:9000", "tx": "udp:192.0.2.1:9001", "client_state": "Zm9yaw=="}),
        )
        .await;
    sb.api
        .post(&format!("{actions}/fork_stop"), json!({}))
        .await;
    sb.api
        .post(
            &format!("{actions}/fork_start"),
            json!({"rx": "udp:192.0.2.1:9000"}),
        )
        .await;
    for url in ["wss://media.example.com/a", "wss://media.example.com/b"] {
        sb.api
            .post(
                &format!("{actions}/streaming_start"),
                json!({"stream_url": url, "stream_track": "both_tracks", "stream_bidirectional_sampling_rate": 16000}),
            )
            .await;
    }
    sb.api
        .post(
            &format!("{actions}/siprec_start"),
            json!({"connector_name": "recorder", "sip_transport": "tls"}),
        )
        .await;
    sb.caller.hang_up(&id).await;
    sb.settle().await;
    let events = sb.events_of(&id);
    assert_eq!(
        types(&events[2..]),
        [
            "call.fork.started",
            "call.fork.stopped",
            "call.fork.started",
            "streaming.started",
            "streaming.started",
            "siprec.started",
            "call.fork.stopped",
            "streaming.stopped",
            "streaming.stopped",
            "siprec.stopped",
            "call.hangup",
        ]
    );
    assert_eq!(
        (
            payload(&events[2])["stream_type"].as_str(),
            payload(&events[2])["client_state"].as_str()
        ),
        (Some("decrypted"), Some("Zm9yaw=="))
    );
    assert_eq!(
        payload(&events[5])["stream_url"],
        "wss://media.example.com/a"
    );
    assert_eq!(
        payload(&events[10])["stream_url"],
        "wss://media.example.com/b"
    );
    assert_eq!(payload(&events[11])["hangup_cause"], "normal_clearing");
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn unreachable_targets_fail_by_convention() {
    let sb = Sandbox::start().await;
    let id = sb.answered_call().await;
    let actions = format!("/calls/{id}/actions");
    sb.api
        .post(
            &format!("{actions}/streaming_start"),
            json!({"stream_url": "wss://nowhere.invalid/media", "stream_track": "outbound_track"}),
        )
        .await;
    sb.api
        .post(&format!("{actions}/siprec_start"), json!({}))
        .await;
    sb.api
        .post(
            &format!("{actions}/siprec_start"),
            json!({"connector_name": "invalid-srs"}),
        )
        .await;
    sb.settle().await;
    let events = sb.events_of(&id);
    assert_eq!(
        types(&events[2..]),
        ["streaming.failed", "siprec.failed", "siprec.failed"]
    );
    let failed = payload(&events[2]);
    assert_eq!(
        failed["stream_params"],
        json!({"stream_url": "wss://nowhere.invalid/media", "track": "outbound_track"})
    );
    assert_eq!(failed["stream_type"], "websocket");
    assert!(payload(&events[3])["failure_cause"].is_string());
    // Nothing runs after a failure: stopping is refused.
    let (_, error) = sb
        .api
        .fails(
            Method::POST,
            &format!("{actions}/streaming_stop"),
            json!({}),
        )
        .await;
    assert_eq!(error["code"], "10015");
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn transcription_follows_the_tracks_it_listens_to() {
    let sb = Sandbox::start().await;
    let id = sb.answered_inbound().await;
    let actions = format!("/calls/{id}/actions");
    sb.api
        .post(
            &format!("{actions}/transcription_start"),
            json!({"transcription_engine": "Google", "transcription_tracks": "both", "transcription_engine_config": {"transcription_engine": "Google", "language": "en"}}),
        )
        .await;
    sb.api
        .post(
            &format!("{actions}/suppression_start"),
            json!({"direction": "both", "noise_suppression_engine": "Krisp"}),
        )
        .await;
    sb.caller.say(&id, "I would like to cancel my order").await;
    sb.api
        .post(
            &format!("{actions}/speak"),
            json!({"payload": "Sorry to hear that", "voice": "female"}),
        )
        .await;
    sb.wait_for("call.speak.ended", &id).await;
    sb.api
        .post(&format!("{actions}/transcription_stop"), json!({}))
        .await;
    sb.api
        .post(&format!("{actions}/suppression_stop"), json!({}))
        .await;
    sb.caller.say(&id, "Not transcribed").await;
    sb.settle().await;
    let transcripts: Vec<(String, String)> = sb
        .events_of(&id)
        .iter()
        .filter(|d| d["data"]["event_type"] == "call.transcription")
        .map(|d| {
            let data = &payload(d)["transcription_data"];
            assert_eq!(data["is_final"], true);
            (
                data["transcription_track"].as_str().unwrap().to_owned(),
                data["transcript"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        transcripts,
        [
            (
                "inbound".to_owned(),
                "I would like to cancel my order".to_owned()
            ),
            ("outbound".to_owned(), "Sorry to hear that".to_owned()),
        ]
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn stream_commands_are_validated_as_telnyx_does() {
    let sb = Sandbox::start().await;
    let id = sb.answered_call().await;
    let actions = format!("/calls/{id}/actions");
    let cases = [
        ("fork_start", json!({}), "10004", "/rx"),
        (
            "fork_start",
            json!({"rx": "192.0.2.1:9000"}),
            "10015",
            "/rx",
        ),
        (
            "fork_start",
            json!({"rx": "udp:192.0.2.1:9000", "stream_type": "raw"}),
            "10032",
            "/stream_type",
        ),
        ("fork_stop", json!({}), "10015", "/call_control_id"),
        ("streaming_start", json!({}), "10004", "/stream_url"),
        (
            "streaming_start",
            json!({"stream_url": "https://example.com"}),
            "10015",
            "/stream_url",
        ),
        (
            "streaming_start",
            json!({"stream_url": "wss://example.com", "stream_bidirectional_sampling_rate": 11025}),
            "10032",
            "/stream_bidirectional_sampling_rate",
        ),
        (
            "streaming_stop",
            json!({"stream_id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0"}),
            "10015",
            "/stream_id",
        ),
        (
            "siprec_start",
            json!({"sip_transport": "sctp"}),
            "10032",
            "/sip_transport",
        ),
        ("siprec_stop", json!({}), "10015", "/call_control_id"),
        (
            "transcription_start",
            json!({"transcription_engine": "Whisper"}),
            "10032",
            "/transcription_engine",
        ),
        (
            "transcription_start",
            json!({"transcription_engine": "Google", "transcription_engine_config": {"transcription_engine": "Deepgram"}}),
            "10015",
            "/transcription_engine_config",
        ),
        ("transcription_stop", json!({}), "10015", "/call_control_id"),
        (
            "suppression_start",
            json!({"direction": "sideways"}),
            "10032",
            "/direction",
        ),
        ("suppression_stop", json!({}), "10015", "/call_control_id"),
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
            &format!("{actions}/fork_start"),
            json!({"tx": "udp:192.0.2.1:9001"}),
        )
        .await;
    let (_, error) = sb
        .api
        .fails(
            Method::POST,
            &format!("{actions}/fork_start"),
            json!({"tx": "udp:192.0.2.1:9001"}),
        )
        .await;
    assert_eq!(error["detail"], "The call is already forked.");
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn dial_streams_and_transcribes_from_the_answer() {
    let sb = Sandbox::start().await;
    let id = sb
        .dial(json!({
            "stream_url": "wss://media.example.com/live",
            "stream_track": "both_tracks",
            "transcription": true,
            "transcription_config": {"transcription_engine": "Google", "transcription_tracks": "inbound"},
        }))
        .await;
    sb.wait_for("streaming.started", &id).await;
    sb.caller.say(&id, "Hello, who is this?").await;
    sb.api
        .post(&format!("/calls/{id}/actions/hangup"), json!({}))
        .await;
    sb.settle().await;
    let events = sb.events_of(&id);
    assert_eq!(
        types(&events),
        [
            "call.initiated",
            "call.answered",
            "streaming.started",
            "call.transcription",
            "streaming.stopped",
            "call.hangup",
        ]
    );
    assert_eq!(
        payload(&events[3])["transcription_data"]["transcript"],
        "Hello, who is this?"
    );
    let (_, error) = sb
        .api
        .fails(
            Method::POST,
            "/calls",
            json!({"connection_id": sb.sim.connection_id(), "to": "+15551230001", "from": "+15559870000", "stream_url": "https://example.com"}),
        )
        .await;
    assert_eq!(error["source"]["pointer"], "/stream_url");
    sb.hooks.assert_all_valid();
}
