//! `GATEWAY_REDIS_MIN_REPLICAS_ACK`: a webhook is answered 200 only once the
//! event is on the replicas asked for. A private primary and replica.

use std::time::Duration;

use crate::support::redis::RedisServer;
use crate::support::webhook::event;
use crate::support::{TestGateway, assert_quiet, next_event};
use api::v1::SubscribeRequest;
use serde_json::json;

fn hangup(call: &str) -> serde_json::Value {
    event("call.hangup", json!({"call_control_id": call}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_acknowledged_only_once_a_replica_has_it() {
    let primary = RedisServer::start();
    let mut replica = RedisServer::start();
    replica.replicate(&primary);
    let gateway = TestGateway::spawn_with(&[
        "--redis-url",
        &primary.url(),
        "--redis-min-replicas-ack",
        "1",
        "--redis-ack-timeout-ms",
        "300",
    ])
    .await;
    assert_eq!(
        gateway.ready_becomes(200, Duration::from_secs(15)).await,
        "ready\n"
    );
    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;

    let first = hangup("v3:1");
    assert_eq!(gateway.post_event(&first).await.ok().body, "accepted\n");
    assert!(
        replica.command(&["INFO", "keyspace"]).contains("keys="),
        "the replica holds the bus's keys"
    );

    // The replica is gone: nothing is acknowledged that only the primary has.
    replica.stop();
    let second = hangup("v3:2");
    let refused = gateway.post_event(&second).await;
    assert_eq!(refused.status, 503, "Telnyx retries: {}", refused.body);
    let body = gateway.ready_becomes(503, Duration::from_secs(15)).await;
    assert!(body.contains("GATEWAY_REDIS_MIN_REPLICAS_ACK"), "{body}");

    // Back: Telnyx's retry of the refused event is answered 200, and the
    // event reaches the subscriber once either way.
    replica.restart();
    replica.replicate(&primary);
    assert_eq!(
        gateway.ready_becomes(200, Duration::from_secs(15)).await,
        "ready\n"
    );
    let retried = gateway.post_event(&second).await;
    assert_eq!(retried.status, 200, "{}", retried.body);
    let third = hangup("v3:3");
    assert_eq!(gateway.post_event(&third).await.ok().body, "accepted\n");

    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next_event(&mut stream).await.id);
    }
    let expected: Vec<String> = [&first, &second, &third]
        .iter()
        .map(|data| data["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, expected);
    assert_quiet(&mut stream).await;
}
