//! Collecting keys: the caller presses them through `/_sim/`, gathers end
//! with them (or time out, or are tried again), and keys pressed outside a
//! gather arrive one by one.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use telnyx_sim::Timing;

use testkit::sim::{Sandbox, fast, payload, types};

/// (event type, digits or media, status) of a call's events after answering.
fn summary(events: &[Value]) -> Vec<(String, String, String)> {
    events
        .iter()
        .filter(|d| {
            !["call.initiated", "call.answered"]
                .contains(&d["data"]["event_type"].as_str().unwrap())
        })
        .map(|d| {
            let p = payload(d);
            let what = ["digits", "digit", "media_url"]
                .iter()
                .find_map(|f| p[*f].as_str())
                .unwrap_or("");
            (
                d["data"]["event_type"].as_str().unwrap().to_owned(),
                what.to_owned(),
                p["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn row(event: &str, what: &str, status: &str) -> (String, String, String) {
    (event.to_owned(), what.to_owned(), status.to_owned())
}

#[tokio::test]
async fn a_caller_answers_a_spoken_menu_with_a_key() {
    let sb = Sandbox::start().await;
    let id = sb.answered_inbound().await;
    sb.api
        .post(
            &format!("/calls/{id}/actions/gather_using_speak"),
            json!({
                "payload": "For sales press 1, for support press 2",
                "voice": "female",
                "maximum_digits": 1,
                "client_state": "bWVudQ==",
            }),
        )
        .await;
    sb.caller.press(&id, "2#").await;
    sb.wait_for("call.dtmf.received", &id).await;
    let events = sb.events_of(&id);
    assert_eq!(
        summary(&events),
        [
            row("call.gather.ended", "2", "valid"),
            row("call.dtmf.received", "#", ""),
        ]
    );
    let ended = payload(&events[2]);
    assert_eq!(ended["client_state"], "bWVudQ==");
    assert_eq!(
        (ended["from"].as_str(), ended["to"].as_str()),
        (Some(testkit::sim::CALLER), Some(testkit::sim::CALLEE))
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn keys_pressed_without_a_gather_arrive_one_by_one() {
    let sb = Sandbox::start().await;
    let id = sb.answered_inbound().await;
    sb.caller.press(&id, "1*").await;
    sb.settle().await;
    assert_eq!(
        summary(&sb.events_of(&id)),
        [
            row("call.dtmf.received", "1", ""),
            row("call.dtmf.received", "*", ""),
        ]
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn an_invalid_try_plays_the_invalid_prompt_and_the_menu_again() {
    // Prompts long enough that the second key surely lands during the menu.
    let timing = Timing {
        media_duration: Duration::from_secs(1),
        ..fast()
    };
    let sb = Sandbox::start_built(|b| b.timing(timing)).await;
    let id = sb.answered_inbound().await;
    let menu = "https://example.com/menu.mp3";
    let invalid = "https://example.com/invalid.mp3";
    sb.api
        .post(
            &format!("/calls/{id}/actions/gather_using_audio"),
            json!({
                "audio_url": menu,
                "invalid_audio_url": invalid,
                "valid_digits": "123",
                "maximum_digits": 1,
                "maximum_tries": 2,
            }),
        )
        .await;
    sb.wait_for("call.playback.started", &id).await;
    sb.caller.press(&id, "9").await;
    let menus = |all: &[Value]| {
        all.iter()
            .filter(|d| {
                d["data"]["event_type"] == "call.playback.started"
                    && payload(d)["media_url"] == menu
            })
            .count()
    };
    sb.hooks.wait_until(|all| menus(all) == 2).await;
    sb.caller.press(&id, "9").await;
    sb.wait_for("call.gather.ended", &id).await;
    assert_eq!(
        summary(&sb.events_of(&id)),
        [
            row("call.playback.started", menu, ""),
            row("call.playback.ended", menu, "cancelled"),
            row("call.playback.started", invalid, ""),
            row("call.playback.ended", invalid, "completed"),
            row("call.playback.started", menu, ""),
            row("call.playback.ended", menu, "cancelled"),
            row("call.gather.ended", "9", "invalid"),
        ]
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn silence_and_pauses_end_a_gather_by_its_timeouts() {
    let sb = Sandbox::start().await;
    let silent = sb.answered_inbound().await;
    sb.api
        .post(
            &format!("/calls/{silent}/actions/gather"),
            json!({"initial_timeout_millis": 100}),
        )
        .await;
    let ended = sb.wait_for("call.gather.ended", &silent).await;
    assert_eq!(
        (
            payload(&ended)["status"].as_str(),
            payload(&ended)["digits"].as_str()
        ),
        (Some("timeout"), Some(""))
    );

    let slow = sb.answered_inbound().await;
    sb.api
        .post(
            &format!("/calls/{slow}/actions/gather"),
            json!({"minimum_digits": 2, "maximum_digits": 6, "inter_digit_timeout_millis": 100, "gather_id": "account"}),
        )
        .await;
    sb.caller.press(&slow, "42").await;
    let ended = sb.wait_for("call.gather.ended", &slow).await;
    assert_eq!(
        (
            payload(&ended)["status"].as_str(),
            payload(&ended)["digits"].as_str()
        ),
        (Some("valid"), Some("42"))
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn a_stopped_gather_and_a_hangup_end_it_with_what_was_pressed() {
    let sb = Sandbox::start().await;
    let stopped = sb.answered_inbound().await;
    sb.api
        .post(&format!("/calls/{stopped}/actions/gather"), json!({}))
        .await;
    sb.caller.press(&stopped, "4").await;
    sb.api
        .post(
            &format!("/calls/{stopped}/actions/gather_stop"),
            json!({"client_state": "c3RvcA=="}),
        )
        .await;

    let gone = sb.answered_inbound().await;
    sb.api
        .post(
            &format!("/calls/{gone}/actions/gather_using_speak"),
            json!({"payload": "Enter your PIN", "voice": "female"}),
        )
        .await;
    sb.caller.press(&gone, "12").await;
    sb.caller.hang_up(&gone).await;
    sb.settle().await;
    let events = sb.events_of(&stopped);
    assert_eq!(
        summary(&events),
        [row("call.gather.ended", "4", "cancelled")]
    );
    assert_eq!(payload(&events[2])["client_state"], "c3RvcA==");
    assert_eq!(
        summary(&sb.events_of(&gone)),
        [
            row("call.gather.ended", "12", "call_hangup"),
            row("call.hangup", "", ""),
        ]
    );
    sb.hooks.assert_all_valid();
}

#[tokio::test]
async fn gathers_are_validated_as_telnyx_does() {
    let sb = Sandbox::start().await;
    let id = sb.answered_inbound().await;
    let actions = format!("/calls/{id}/actions");
    let cases = [
        (
            "gather",
            json!({"minimum_digits": 5, "maximum_digits": 2}),
            "10015",
            "/minimum_digits",
        ),
        (
            "gather",
            json!({"maximum_digits": 129}),
            "10033",
            "/maximum_digits",
        ),
        (
            "gather",
            json!({"terminating_digit": "##"}),
            "10015",
            "/terminating_digit",
        ),
        (
            "gather",
            json!({"valid_digits": "12x"}),
            "10015",
            "/valid_digits",
        ),
        (
            "gather",
            json!({"gather_id": "x".repeat(41)}),
            "10015",
            "/gather_id",
        ),
        (
            "gather_using_speak",
            json!({"voice": "female"}),
            "10004",
            "/payload",
        ),
        ("gather_using_audio", json!({}), "10004", "/audio_url"),
        (
            "gather_using_audio",
            json!({"media_name": "menu", "maximum_tries": 0}),
            "10033",
            "/maximum_tries",
        ),
        ("gather_stop", json!({}), "10015", "/call_control_id"),
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
    sb.settle().await;
    assert_eq!(
        types(&sb.events_of(&id)),
        ["call.initiated", "call.answered"]
    );
}
