//! `POST /webhooks/telnyx` over real HTTP: what is accepted, what is refused
//! and why, and that nothing refused ever reaches a subscriber.

use std::sync::LazyLock;

use crate::support::webhook::{self, body, event, now, other_key, public_key, sign, test_key};
use crate::support::{Posted, TestGateway, assert_quiet, next_event};
use api::v1::SubscribeRequest;
use proptest::prelude::*;
use serde_json::json;

/// Posts `body` signed with the test key at `timestamp`.
async fn post_at(gateway: &TestGateway, timestamp: i64, body: &[u8]) -> Posted {
    let timestamp = timestamp.to_string();
    gateway
        .post_webhook(
            body.to_vec(),
            &[
                ("telnyx-timestamp", timestamp.clone()),
                (
                    "telnyx-signature-ed25519",
                    sign(&test_key(), &timestamp, body),
                ),
            ],
        )
        .await
}

#[track_caller]
fn refused(posted: &Posted, status: u16, says: &str) {
    assert_eq!(posted.status, status, "{}", posted.body);
    assert!(
        posted.body.contains(says),
        "{:?} should say {says:?}",
        posted.body
    );
    assert!(
        posted.body.ends_with('\n') && posted.body.lines().count() == 1,
        "one line: {:?}",
        posted.body
    );
}

#[tokio::test]
async fn a_signed_event_is_accepted_and_delivered() {
    let gateway = TestGateway::spawn().await;
    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
    let data = event("call.hangup", json!({"call_control_id": "v3:one"}));
    let posted = gateway.post_event(&data).await.ok();
    assert_eq!(posted.body, "accepted\n");
    let delivered = next_event(&mut stream).await;
    assert_eq!(delivered.id, data["id"].as_str().unwrap());
    assert_eq!(delivered.event_type, "call.hangup");
}

#[tokio::test]
async fn every_refusal_says_why_and_delivers_nothing() {
    let gateway = TestGateway::spawn_with(&["--webhook-max-body-bytes", "2048"]).await;
    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
    let good = body(&event("call.hangup", json!({})));
    let ts = now().to_string();
    let signature = sign(&test_key(), &ts, &good);

    let no_signature = gateway
        .post_webhook(good.clone(), &[("telnyx-timestamp", ts.clone())])
        .await;
    refused(&no_signature, 401, "missing telnyx-signature-ed25519");

    let no_timestamp = gateway
        .post_webhook(
            good.clone(),
            &[("telnyx-signature-ed25519", signature.clone())],
        )
        .await;
    refused(&no_timestamp, 401, "missing telnyx-timestamp");

    let wrong_key = gateway.post_signed(&other_key(), &good).await;
    refused(&wrong_key, 401, "does not match");

    let mut altered = good.clone();
    let at = altered.len() - 3;
    altered[at] ^= 0x01;
    let altered = gateway
        .post_webhook(
            altered,
            &[
                ("telnyx-timestamp", ts.clone()),
                ("telnyx-signature-ed25519", signature.clone()),
            ],
        )
        .await;
    refused(&altered, 401, "does not match");

    let other_timestamp = gateway
        .post_webhook(
            good.clone(),
            &[
                // Another second than the one signed, whenever the clock ticks.
                (
                    "telnyx-timestamp",
                    (ts.parse::<i64>().unwrap() - 1).to_string(),
                ),
                ("telnyx-signature-ed25519", signature.clone()),
            ],
        )
        .await;
    refused(&other_timestamp, 401, "does not match");

    refused(&post_at(&gateway, now() - 301, &good).await, 401, "s old");
    refused(
        &post_at(&gateway, now() + 301, &good).await,
        401,
        "in the future",
    );

    let oversize = body(&event(
        "call.hangup",
        json!({"client_state": "x".repeat(4096)}),
    ));
    refused(
        &gateway.post_signed(&test_key(), &oversize).await,
        413,
        "2048 bytes",
    );

    for (garbage, says) in [
        (&b"\x00\x01 definitely not json"[..], "not a Telnyx event"),
        (b"{\"data\": {\"event_type\": \"call.hangup\"}}", "data.id"),
        (b"{\"data\": {\"id\": \"x\"}}", "data.event_type"),
        (
            b"[{\"id\": \"x\", \"event_type\": \"call.hangup\"}]",
            "not a Telnyx event",
        ),
    ] {
        refused(&gateway.post_signed(&test_key(), garbage).await, 400, says);
    }

    // The first event that reaches the subscriber is the one accepted next.
    let marker = event("call.answered", json!({}));
    gateway.post_event(&marker).await.ok();
    assert_eq!(
        next_event(&mut stream).await.id,
        marker["id"].as_str().unwrap()
    );
    assert_quiet(&mut stream).await;
}

#[tokio::test]
async fn the_window_edges_are_accepted() {
    let gateway = TestGateway::spawn_with(&["--webhook-tolerance-secs", "60"]).await;
    // A second of slack on each side for the clock moving during the test.
    for offset in [-59, 59] {
        let data = event("call.hangup", json!({}));
        let posted = post_at(&gateway, now() + offset, &body(&data)).await;
        assert_eq!(posted.status, 200, "offset {offset}: {}", posted.body);
    }
    refused(
        &post_at(
            &gateway,
            now() - 62,
            &body(&event("call.hangup", json!({}))),
        )
        .await,
        401,
        "s old",
    );
}

#[tokio::test]
async fn either_key_of_a_rotation_is_accepted() {
    let keys = format!("{},{}", public_key(&test_key()), public_key(&other_key()));
    let gateway = TestGateway::spawn_with(&["--telnyx-public-key", &keys]).await;
    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
    let old = event("call.hangup", json!({}));
    let new = event("call.hangup", json!({}));
    gateway.post_signed(&test_key(), &body(&old)).await.ok();
    gateway.post_signed(&other_key(), &body(&new)).await.ok();
    assert_eq!(
        next_event(&mut stream).await.id,
        old["id"].as_str().unwrap()
    );
    assert_eq!(
        next_event(&mut stream).await.id,
        new["id"].as_str().unwrap()
    );
    let stranger = webhook::Signer::from_seed([9; 32]);
    refused(
        &gateway.post_signed(&stranger, &body(&old)).await,
        401,
        "does not match",
    );
}

#[tokio::test]
async fn a_duplicate_is_acknowledged_and_delivered_once() {
    let gateway = TestGateway::spawn().await;
    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
    let data = event(
        "conference.participant.joined",
        json!({"conference_id": "c1"}),
    );
    let answers: Vec<String> = futures::future::join_all((0..3).map(|_| gateway.post_event(&data)))
        .await
        .into_iter()
        .map(|posted| posted.ok().body)
        .collect();
    assert_eq!(
        answers.iter().filter(|a| *a == "accepted\n").count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        answers
            .iter()
            .filter(|a| *a == "duplicate of an accepted event\n")
            .count(),
        2
    );
    assert_eq!(
        next_event(&mut stream).await.id,
        data["id"].as_str().unwrap()
    );
    assert_quiet(&mut stream).await;
}

/// Header values the fuzzer sends: anything a client can put in a header.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![0x20u8..=0x7e, 0x80u8..=0xff, Just(b'\t')],
        0..100,
    )
}

/// How the fuzzer signs: not at all, with garbage, or properly over bytes
/// that are not an event.
#[derive(Debug, Clone)]
enum Signing {
    Absent,
    Garbage(Vec<u8>),
    Valid { offset: i64, right_key: bool },
}

fn signing() -> impl Strategy<Value = Signing> {
    prop_oneof![
        Just(Signing::Absent),
        header_value().prop_map(Signing::Garbage),
        (-400i64..400, any::<bool>())
            .prop_map(|(offset, right_key)| Signing::Valid { offset, right_key }),
    ]
}

fn fuzz_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..3000),
        // JSON-ish text, closer to what would get past a careless parser.
        "\\{\"data\": ?\\{(\"(id|event_type|payload)\": ?(\"\"|[0-9]{1,3}|null|\\[\\]|\\{\\}),? ?){0,3}\\}? ?\\}?"
            .prop_map(String::into_bytes),
    ]
}

/// The ids of the fuzz cases' marker events, the only events they publish.
static MARKERS: LazyLock<std::sync::Mutex<std::collections::HashSet<String>>> =
    LazyLock::new(Default::default);

/// One gateway for every fuzz case, on a runtime that outlives them.
static FUZZ: LazyLock<(tokio::runtime::Runtime, TestGateway)> = LazyLock::new(|| {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let gateway = runtime.block_on(TestGateway::spawn_with(&[
        "--webhook-max-body-bytes",
        "2048",
    ]));
    (runtime, gateway)
});

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Arbitrary bytes and headers: the gateway always answers, with a
    /// one-line refusal, and publishes nothing.
    #[test]
    fn arbitrary_requests_are_refused_without_publishing(
        requests in prop::collection::vec(
            (fuzz_body(), signing(), prop::option::of(header_value()),
             prop::collection::vec(("[a-z][a-z0-9-]{0,15}", header_value()), 0..3)),
            1..8,
        )
    ) {
        let (runtime, gateway) = &*FUZZ;
        runtime.block_on(async {
            let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
            for (body, signing, timestamp, extra) in requests {
                let mut headers = reqwest::header::HeaderMap::new();
                for (name, value) in extra {
                    if let (Ok(name), Ok(value)) = (
                        reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                        reqwest::header::HeaderValue::from_bytes(&value),
                    ) {
                        headers.append(name, value);
                    }
                }
                let put = |headers: &mut reqwest::header::HeaderMap, name: &'static str, value: &[u8]| {
                    if let Ok(value) = reqwest::header::HeaderValue::from_bytes(value) {
                        headers.insert(name, value);
                    }
                };
                if let Some(timestamp) = &timestamp {
                    put(&mut headers, "telnyx-timestamp", timestamp);
                }
                match signing {
                    Signing::Absent => {}
                    Signing::Garbage(value) => put(&mut headers, "telnyx-signature-ed25519", &value),
                    Signing::Valid { offset, right_key } => {
                        let ts = (now() + offset).to_string();
                        let key = if right_key { test_key() } else { other_key() };
                        put(&mut headers, "telnyx-timestamp", ts.as_bytes());
                        put(&mut headers, "telnyx-signature-ed25519", sign(&key, &ts, &body).as_bytes());
                    }
                }
                let posted = gateway.post_webhook_with(body, headers).await;
                assert!(
                    [400, 401, 413].contains(&posted.status),
                    "answered {}: {}",
                    posted.status,
                    posted.body
                );
                assert_eq!(posted.body.lines().count(), 1, "{:?}", posted.body);
            }
            // A stream that starts live may still see an event accepted a
            // moment before it: the previous case's marker. Anything else
            // arriving first was published by one of the requests above.
            let marker = webhook::event("call.answered", json!({}));
            let id = marker["id"].as_str().unwrap().to_owned();
            MARKERS.lock().unwrap().insert(id.clone());
            gateway.post_event(&marker).await.ok();
            loop {
                let event = next_event(&mut stream).await;
                if event.id == id {
                    break;
                }
                assert!(MARKERS.lock().unwrap().contains(&event.id), "published: {event:?}");
            }
        });
    }
}
