//! Misuse answered as Telnyx answers it, `command_id` replay, and garbage
//! that never takes the simulator down.

use reqwest::Method;
use serde_json::{Value, json};

use testkit::receiver::event_types;
use testkit::sim::{API_KEY, CALLEE, CALLER, Sandbox};

#[tokio::test]
async fn misuse_gets_telnyx_error_codes() {
    let sb = Sandbox::start().await;
    let api = &sb.api;

    let (status, error) = api
        .fails(Method::POST, "/calls/v3:nope/actions/hangup", json!({}))
        .await;
    assert_eq!((status, error["code"].as_str()), (422, Some("90015")));
    assert_eq!(error["source"]["pointer"], "/call_control_id");

    let ended = sb.answered_call().await;
    api.post(&format!("/calls/{ended}/actions/hangup"), json!({}))
        .await;
    let (status, error) = api
        .fails(
            Method::POST,
            &format!("/calls/{ended}/actions/hangup"),
            json!({}),
        )
        .await;
    assert_eq!((status, error["code"].as_str()), (422, Some("90018")));
    assert_eq!(error["title"], "Call has already ended");

    let host = sb.answered_call().await;
    let guest = sb.answered_call().await;
    let conference = sb.conference(&host, "short-lived").await;
    api.post(
        &format!("/conferences/{conference}/actions/leave"),
        json!({"call_control_id": host}),
    )
    .await;
    let (status, error) = api
        .fails(
            Method::POST,
            &format!("/conferences/{conference}/actions/join"),
            json!({"call_control_id": guest}),
        )
        .await;
    assert_eq!((status, error["code"].as_str()), (422, Some("90019")));

    api.post(
        &format!("/calls/{host}/actions/enqueue"),
        json!({"queue_name": "tiny", "max_size": 1}),
    )
    .await;
    let (status, error) = api
        .fails(
            Method::POST,
            &format!("/calls/{guest}/actions/enqueue"),
            json!({"queue_name": "tiny"}),
        )
        .await;
    assert_eq!((status, error["code"].as_str()), (422, Some("90036")));
    assert!(error["detail"].as_str().unwrap().contains("'tiny'"));
    let (status, error) = api
        .fails(
            Method::POST,
            &format!("/calls/{host}/actions/enqueue"),
            json!({"queue_name": "other"}),
        )
        .await;
    assert_eq!((status, error["code"].as_str()), (422, Some("90038")));

    let ringing = sb.sim.incoming_call(CALLER, CALLEE);
    let (_, error) = api
        .fails(
            Method::POST,
            &format!("/calls/{ringing}/actions/enqueue"),
            json!({"queue_name": "support"}),
        )
        .await;
    assert_eq!(error["code"], "90034");

    let dial = json!({"connection_id": sb.sim.connection_id(), "from": CALLER});
    let (status, error) = api.fails(Method::POST, "/calls", dial).await;
    assert_eq!((status, error["code"].as_str()), (422, Some("10004")));
    assert_eq!(error["source"]["pointer"], "/to");
    let (_, error) = api
        .fails(
            Method::POST,
            "/conferences",
            json!({"call_control_id": guest}),
        )
        .await;
    assert_eq!(
        (error["code"].as_str(), error["source"]["pointer"].as_str()),
        (Some("10004"), Some("/name"))
    );
    let (_, error) = api
        .fails(
            Method::POST,
            "/calls",
            json!({"connection_id": "0", "to": CALLEE, "from": CALLER}),
        )
        .await;
    assert_eq!(
        (error["code"].as_str(), error["source"]["pointer"].as_str()),
        (Some("10015"), Some("/connection_id"))
    );
    let (_, error) = api
        .fails(
            Method::POST,
            "/calls",
            json!({"connection_id": sb.sim.connection_id(), "to": "5551230001", "from": CALLER}),
        )
        .await;
    assert_eq!(error["code"], "10016");
    let (_, error) = api
        .fails(
            Method::POST,
            &format!("/conferences/{conference}/actions/record_start"),
            json!({"format": "ogg"}),
        )
        .await;
    assert_eq!(error["code"], "10032");

    for path in [
        "/conferences/nope",
        "/queues/nope",
        "/call_control_applications/1",
        "/no/such/thing",
    ] {
        let (status, _, body) = api.raw(Method::GET, path, None, Some(API_KEY)).await;
        assert_eq!(status, 404, "{path}");
        assert!(body["errors"][0]["code"].is_string(), "{path}: {body}");
    }
    let (status, _, body) = api.raw(Method::GET, "/queues", None, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["code"], "10009");
    assert_eq!(body["errors"][0]["title"], "Authentication failed");
    let (status, _, _) = api.raw(Method::GET, "/queues", None, Some("WRONG")).await;
    assert_eq!(status, 401);
    let (status, _, body) = api
        .raw(
            Method::POST,
            "/queues",
            Some(b"{\"queue_name\":"),
            Some(API_KEY),
        )
        .await;
    assert_eq!(
        (status, body["errors"][0]["code"].as_str()),
        (400, Some("10015"))
    );
    let (status, _, _) = api.raw(Method::PUT, "/queues", None, Some(API_KEY)).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn a_repeated_command_id_is_ignored() {
    let sb = Sandbox::start().await;
    let api = &sb.api;
    let dial = json!({
        "connection_id": sb.sim.connection_id(),
        "to": CALLEE,
        "from": CALLER,
        "command_id": "dial-once",
    });
    let first = api.post("/calls", dial.clone()).await;
    let again = api.post("/calls", dial).await;
    assert_eq!(first, again, "the replay answers like the first time");
    let a = first["data"]["call_control_id"]
        .as_str()
        .unwrap()
        .to_owned();
    sb.hooks.wait_for_event("call.answered", &a).await;
    let b = sb.answered_call().await;

    let conference = sb.conference(&a, "once").await;
    let join = json!({"call_control_id": b, "command_id": "join-once"});
    for _ in 0..2 {
        api.post(
            &format!("/conferences/{conference}/actions/join"),
            join.clone(),
        )
        .await;
    }
    api.post(
        &format!("/conferences/{conference}/actions/leave"),
        json!({"call_control_id": b}),
    )
    .await;
    let hangup = json!({"command_id": "bye-once"});
    for _ in 0..2 {
        api.post(&format!("/calls/{b}/actions/hangup"), hangup.clone())
            .await;
    }
    let (_, error) = api
        .fails(
            Method::POST,
            &format!("/calls/{b}/actions/hangup"),
            json!({"command_id": "bye-twice"}),
        )
        .await;
    assert_eq!(error["code"], "90018", "a new command_id acts again");

    let types = event_types(&sb.settle().await);
    let count = |t: &str| types.iter().filter(|x| *x == t).count();
    assert_eq!(count("call.initiated"), 2, "{types:?}");
    assert_eq!(count("conference.participant.joined"), 2, "{types:?}");
    assert_eq!(count("call.hangup"), 1, "{types:?}");
    let participants = api
        .get(&format!("/conferences/{conference}/participants"))
        .await;
    assert_eq!(participants["meta"]["total_results"], 2);
}

/// Every operation, fed garbage: wrong JSON types, non-objects, odd ids.
/// Each answer is a Telnyx error, and the simulator keeps serving.
#[tokio::test]
async fn garbage_never_takes_the_simulator_down() {
    let sb = Sandbox::start().await;
    let live = sb.answered_call().await;
    let spec: Value = serde_norway::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../spec/telnyx-openapi.yaml"
        ))
        .unwrap(),
    )
    .unwrap();
    let bodies: [&[u8]; 5] = [
        b"[]",
        b"\"text\"",
        b"{\"call_control_id\": 5, \"name\": {}, \"to\": [7], \"queue_name\": null, \"max_size\": 1e308}",
        b"{\"format\": [], \"call_control_ids\": \"x\", \"digits\": 12, \"application_name\": true}",
        b"\xff\xfe",
    ];
    for (template, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            for id in ["nope", "%00%ff", &"x".repeat(5000), &live] {
                let path = template
                    .split('/')
                    .map(|s| if s.starts_with('{') { id } else { s })
                    .collect::<Vec<_>>()
                    .join("/");
                for body in bodies {
                    let path = format!("{path}?page[size]=0&filter[muted]=perhaps");
                    let (status, _, answer) = sb
                        .api
                        .raw(method.clone(), &path, Some(body), Some(API_KEY))
                        .await;
                    assert!(
                        (200..300).contains(&status) || answer["errors"][0]["code"].is_string(),
                        "{method} {path}: {status} {answer}"
                    );
                }
            }
        }
    }
    assert_eq!(sb.api.get("/queues").await["meta"]["page_number"], 1);
    sb.hooks.assert_all_valid();
}
