//! EventService over real gRPC streams, fed by signed webhooks over real HTTP:
//! typed payloads for every event type, filters, resume, and what ends a stream.

use std::time::Duration;

use crate::support::webhook::event;
use crate::support::{TestGateway, assert_quiet, end_status, fixtures, next_event, spec};
use api::v1::{Event, SubscribeRequest};
use events::converter;
use prost::Message as _;
use prost_reflect::{DynamicMessage, Value as Reflected};
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt;

fn types(patterns: &[&str]) -> SubscribeRequest {
    SubscribeRequest {
        event_types: patterns.iter().map(|p| p.to_string()).collect(),
        ..Default::default()
    }
}

fn after(cursor: &str) -> SubscribeRequest {
    SubscribeRequest {
        resume_after: cursor.to_owned(),
        ..Default::default()
    }
}

/// The set payload member of a received event, as Telnyx JSON.
fn typed_payload(event: &Event) -> Option<(String, Value)> {
    let descriptor = mapping::catalog()
        .pool()
        .get_message_by_name("conference_gateway.v1.Event")
        .unwrap();
    let dynamic = DynamicMessage::decode(descriptor, event.encode_to_vec().as_slice()).unwrap();
    dynamic.fields().find_map(|(field, value)| {
        let in_payload = field
            .containing_oneof()
            .is_some_and(|o| o.name() == "payload");
        match value {
            Reflected::Message(payload) if in_payload => Some((
                field.name().to_owned(),
                mapping::catalog().encode_message(payload),
            )),
            _ => None,
        }
    })
}

#[test]
fn every_webhook_of_the_spec_has_a_fixture_and_a_typed_payload() {
    let mut fixtures: Vec<&str> = fixtures::all()
        .iter()
        .map(|f| f.event_type.as_str())
        .collect();
    let mut typed: Vec<&str> = converter().event_types().collect();
    fixtures.sort_unstable();
    typed.sort_unstable();
    assert_eq!(fixtures, typed);
    assert_eq!(typed.len(), 55);
    for fixture in fixtures::all() {
        let delivery = json!({"data": fixture.data()});
        if let Err(problems) = spec::check_event(&delivery) {
            panic!(
                "{}: the fixture is not what the spec describes: {problems}",
                fixture.key
            );
        }
    }
}

#[tokio::test]
async fn every_event_type_arrives_typed_with_its_fields_intact() {
    let gateway = TestGateway::spawn().await;
    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
    for fixture in fixtures::all() {
        let data = fixture.data();
        gateway.post_event(&data).await.ok();
        let received = next_event(&mut stream).await;
        let what = &fixture.key;
        assert_eq!(received.id, data["id"].as_str().unwrap(), "{what}");
        assert_eq!(received.event_type, fixture.event_type, "{what}");
        assert_eq!(
            received.json,
            data.to_string(),
            "{what}: json is the data as sent"
        );
        assert!(!received.cursor.is_empty(), "{what}");
        let occurred_at = received.occurred_at.expect("occurred_at");
        assert_eq!(
            occurred_at.to_string(),
            "2024-05-01T12:34:56.789Z",
            "{what}"
        );

        let (member, payload) =
            typed_payload(&received).unwrap_or_else(|| panic!("{what}: no typed payload"));
        assert_eq!(
            member,
            converter()
                .payload_member(&fixture.event_type)
                .unwrap()
                .name(),
            "{what}"
        );
        assert_eq!(
            payload, data["payload"],
            "{what}: every payload field survives"
        );
        for field in &fixture.documented {
            assert!(
                payload.get(field).is_some(),
                "{what}: documented {field} missing"
            );
        }
    }
    assert_quiet(&mut stream).await;
}

#[tokio::test]
async fn occurred_at_is_read_from_the_payload_when_telnyx_puts_it_there() {
    let gateway = TestGateway::spawn().await;
    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
    let mut data = event(
        "conference.created",
        json!({"conference_id": "c1", "occurred_at": "2024-06-01T08:00:00Z"}),
    );
    data.as_object_mut().unwrap().remove("occurred_at");
    gateway.post_event(&data).await.ok();
    let received = next_event(&mut stream).await;
    assert_eq!(
        received.occurred_at.unwrap().to_string(),
        "2024-06-01T08:00:00Z"
    );
}

#[tokio::test]
async fn an_unknown_event_type_arrives_with_its_json_only() {
    let gateway = TestGateway::spawn().await;
    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
    let data = event(
        "call.teleported",
        json!({"call_control_id": "v3:x", "to": "mars"}),
    );
    gateway.post_event(&data).await.ok();
    let received = next_event(&mut stream).await;
    assert_eq!(received.event_type, "call.teleported");
    assert!(received.payload.is_none());
    assert_eq!(serde_json::from_str::<Value>(&received.json).unwrap(), data);
}

#[tokio::test]
async fn filters_alone_and_combined() {
    let gateway = TestGateway::spawn().await;
    let requests = [
        ("all", SubscribeRequest::default(), vec![1, 2, 3, 4, 5, 6]),
        ("conference.*", types(&["conference.*"]), vec![1, 2, 5]),
        (
            "two types",
            types(&["call.hangup", "call.enqueued"]),
            vec![3, 4],
        ),
        (
            "conference A",
            SubscribeRequest {
                conference_id: "A".into(),
                ..Default::default()
            },
            vec![1, 5],
        ),
        (
            "call X",
            SubscribeRequest {
                call_control_id: "X".into(),
                ..Default::default()
            },
            vec![1, 3, 4],
        ),
        (
            "queue Q1",
            SubscribeRequest {
                queue_name: "Q1".into(),
                ..Default::default()
            },
            vec![3],
        ),
        (
            "conference.* on call X",
            SubscribeRequest {
                call_control_id: "X".into(),
                ..types(&["conference.*"])
            },
            vec![1],
        ),
        (
            "conference.ended in A",
            SubscribeRequest {
                conference_id: "A".into(),
                ..types(&["conference.ended"])
            },
            vec![5],
        ),
        (
            "nothing matches",
            SubscribeRequest {
                conference_id: "A".into(),
                queue_name: "Q1".into(),
                ..Default::default()
            },
            vec![],
        ),
    ];
    let mut streams = Vec::new();
    for (name, request, expected) in requests {
        streams.push((name, gateway.subscribe(request).await, expected));
    }
    let posted = [
        event(
            "conference.participant.joined",
            json!({"conference_id": "A", "call_control_id": "X"}),
        ),
        event(
            "conference.participant.left",
            json!({"conference_id": "B", "call_control_id": "Y"}),
        ),
        event(
            "call.enqueued",
            json!({"queue": "Q1", "call_control_id": "X"}),
        ),
        event("call.hangup", json!({"call_control_id": "X"})),
        event("conference.ended", json!({"conference_id": "A"})),
        event(
            "call.dequeued",
            json!({"queue": "Q2", "call_control_id": "Y"}),
        ),
    ];
    for data in &posted {
        gateway.post_event(data).await.ok();
    }
    for (name, stream, expected) in &mut streams {
        for n in expected.iter() {
            let received = next_event(stream).await;
            assert_eq!(
                received.id,
                posted[n - 1]["id"].as_str().unwrap(),
                "{name}: #{n}"
            );
        }
        assert_quiet(stream).await;
    }
}

#[tokio::test]
async fn a_filter_that_cannot_be_read_is_invalid_argument() {
    let gateway = TestGateway::spawn().await;
    let status = gateway
        .events()
        .subscribe(types(&["conference*"]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("event_types"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn the_message_size_limit_applies_to_subscribe_too() {
    let gateway = TestGateway::spawn_with(&["--max-message-bytes", "1024"]).await;
    let many: Vec<String> = (0..200).map(|n| format!("call.type{n}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let status = gateway.events().subscribe(types(&many)).await.unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(status.message().contains("1024"), "{}", status.message());

    // A request within the limit is served as before.
    let mut stream = gateway.subscribe(types(&["conference.*"])).await;
    gateway
        .post_event(&event("conference.created", json!({"conference_id": "c1"})))
        .await
        .ok();
    assert_eq!(
        next_event(&mut stream).await.event_type,
        "conference.created"
    );
}

#[tokio::test]
async fn resumes_after_a_cursor_then_continues_live() {
    let gateway = TestGateway::spawn().await;
    let mut first = gateway.subscribe(SubscribeRequest::default()).await;
    let posted: Vec<Value> = (0..5).map(|_| event("call.hangup", json!({}))).collect();
    for data in &posted {
        gateway.post_event(data).await.ok();
    }
    let mut cursors = Vec::new();
    for _ in &posted {
        cursors.push(next_event(&mut first).await.cursor);
    }
    drop(first);

    let mut resumed = gateway.subscribe(after(&cursors[1])).await;
    for data in &posted[2..] {
        assert_eq!(
            next_event(&mut resumed).await.id,
            data["id"].as_str().unwrap()
        );
    }
    let live = event("call.hangup", json!({}));
    gateway.post_event(&live).await.ok();
    let received = next_event(&mut resumed).await;
    assert_eq!(received.id, live["id"].as_str().unwrap());
    assert_quiet(&mut resumed).await;
}

#[tokio::test]
async fn a_cursor_that_cannot_be_served_is_out_of_range_at_once() {
    let gateway = TestGateway::spawn_with(&["--event-history", "3"]).await;
    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
    for _ in 0..6 {
        gateway
            .post_event(&event("call.hangup", json!({})))
            .await
            .ok();
    }
    let oldest = next_event(&mut stream).await.cursor;
    let elsewhere = TestGateway::spawn().await;
    let mut other = elsewhere.subscribe(SubscribeRequest::default()).await;
    elsewhere
        .post_event(&event("call.hangup", json!({})))
        .await
        .ok();
    let foreign = next_event(&mut other).await.cursor;

    for (what, cursor) in [
        ("expired", oldest.as_str()),
        ("malformed", "yesterday"),
        ("another gateway's", foreign.as_str()),
    ] {
        let status = gateway.events().subscribe(after(cursor)).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::OutOfRange,
            "{what}: {}",
            status.message()
        );
    }
    assert_eq!(gateway.subscribers(), 1);
}

#[tokio::test]
async fn a_stalled_subscriber_is_cut_off_with_a_cursor_while_others_get_everything() {
    let gateway = TestGateway::spawn_with(&["--event-subscriber-queue", "4"]).await;
    let mut stalled = gateway
        .events_on_own_connection()
        .await
        .subscribe(SubscribeRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut healthy = gateway.subscribe(SubscribeRequest::default()).await;
    // About 2 KiB per event: far more than the stalled connection's windows.
    let posted: Vec<Value> = (0..300)
        .map(|_| event("call.hangup", json!({"client_state": "s".repeat(1000)})))
        .collect();
    for data in &posted {
        gateway.post_event(data).await.ok();
        let received = next_event(&mut healthy).await;
        assert_eq!(received.id, data["id"].as_str().unwrap());
    }
    gateway.wait_for_subscribers(1).await;

    let (got, status) = end_status(&mut stalled).await;
    assert_eq!(
        status.code(),
        Code::ResourceExhausted,
        "{}",
        status.message()
    );
    assert!(!got.is_empty() && got.len() < posted.len(), "{}", got.len());
    let last = &got.last().unwrap().cursor;
    assert!(
        status
            .message()
            .contains(&format!("resume_after=\"{last}\"")),
        "{}",
        status.message()
    );
    assert_eq!(
        &status.get_details_error_info().unwrap().metadata["cursor"],
        last
    );

    let mut resumed = gateway.subscribe(after(last)).await;
    for data in &posted[got.len()..] {
        assert_eq!(
            next_event(&mut resumed).await.id,
            data["id"].as_str().unwrap()
        );
    }
    assert_quiet(&mut resumed).await;
}

#[tokio::test]
async fn a_subscriber_that_disconnects_is_freed() {
    let gateway = TestGateway::spawn().await;
    let client = gateway.events_on_own_connection().await;
    let stream = client
        .clone()
        .subscribe(SubscribeRequest {
            conference_id: "c1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(gateway.subscribers(), 1);
    drop(stream);
    drop(client);
    gateway.wait_for_subscribers(0).await;
}

#[tokio::test]
async fn shutdown_ends_streams_with_a_cursor_to_resume_from() {
    let gateway = TestGateway::spawn().await;
    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
    gateway
        .post_event(&event("call.hangup", json!({})))
        .await
        .ok();
    let cursor = next_event(&mut stream).await.cursor;
    tokio::time::timeout(Duration::from_secs(5), gateway.stop())
        .await
        .expect("shutdown does not wait on open streams");
    let (_, status) = end_status(&mut stream).await;
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains(&cursor), "{}", status.message());
}
