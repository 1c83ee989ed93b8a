//! Sentinel: a primary, two replicas and three Sentinels, all private
//! processes; two gateway replicas find the primary through the Sentinels,
//! and find the new one by themselves after the old one is SIGKILLed.

use std::collections::HashSet;
use std::time::Duration;

use crate::support::redis::RedisServer;
use crate::support::webhook::event;
use crate::support::{TestGateway, assert_quiet, next_event};
use api::v1::SubscribeRequest;
use serde_json::json;

fn hangup(n: usize) -> serde_json::Value {
    event("call.hangup", json!({"call_control_id": format!("v3:{n}")}))
}

async fn ready(gateway: &TestGateway) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = gateway.http_get("/readyz").await;
        if status == 200 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not ready within 20 s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sentinel_failover_loses_no_acknowledged_webhook() {
    let mut primary = RedisServer::start();
    let replicas = [RedisServer::start(), RedisServer::start()];
    for replica in &replicas {
        replica.replicate(&primary);
    }
    let sentinels: Vec<_> = (0..3)
        .map(|_| RedisServer::start_sentinel("gw", &primary))
        .collect();
    // Sentinels find each other and the replicas through the primary.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(sentinels[0]
        .command(&["SENTINEL", "ckquorum", "gw"])
        .contains("OK 3 usable")
        && sentinels[0]
            .command(&["SENTINEL", "replicas", "gw"])
            .matches("slave")
            .count()
            >= 2)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the Sentinels did not find each other and the replicas"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let nodes = sentinels
        .iter()
        .map(|sentinel| format!("127.0.0.1:{}", sentinel.port()))
        .collect::<Vec<_>>()
        .join(",");
    let args = [
        // Host and port come from the Sentinels; the URL gives the rest.
        "--redis-url",
        "redis://named-by-sentinel:6379/0",
        "--redis-sentinels",
        &nodes,
        "--redis-sentinel-master",
        "gw",
        "--redis-min-replicas-ack",
        "1",
        "--redis-ack-timeout-ms",
        "500",
    ];
    let gateways = [
        TestGateway::spawn_with(&args).await,
        TestGateway::spawn_with(&args).await,
    ];
    for gateway in &gateways {
        ready(gateway).await;
    }
    let mut live = gateways[0].subscribe(SubscribeRequest::default()).await;
    let start = event("call.initiated", json!({"call_control_id": "v3:start"}));
    gateways[0].post_event(&start).await.ok();
    let start_cursor = next_event(&mut live).await.cursor;

    const TOTAL: usize = 2_000;
    const KILL_AT: usize = 600;
    let mut refused = Vec::new();
    let mut first_refusal = None;
    let started = std::time::Instant::now();
    for n in 0..TOTAL {
        if n == KILL_AT {
            primary.stop();
        }
        let posted = gateways[n % 2].post_event(&hangup(n)).await;
        if posted.status != 200 {
            assert_eq!(posted.status, 503, "{}", posted.body);
            first_refusal.get_or_insert(started.elapsed());
            refused.push(n);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let refused_count = refused.len();
    // Telnyx retries what was refused, until it is acknowledged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while let Some(&n) = refused.first() {
        let posted = gateways[n % 2].post_event(&hangup(n)).await;
        if posted.status == 200 {
            refused.remove(0);
        } else {
            assert!(
                tokio::time::Instant::now() < deadline,
                "webhooks still refused a minute after the failover: {}",
                posted.body
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    eprintln!(
        "failover: {refused_count} of {TOTAL} webhooks answered 503 first, the first after {first_refusal:?}"
    );
    assert!(refused_count > 0, "the failover was noticed");

    // Every event, acknowledged once, reaches a subscriber resuming on
    // either replica, once, in one order.
    let mut orders = Vec::new();
    for gateway in &gateways {
        let mut resumed = gateway
            .subscribe(SubscribeRequest {
                resume_after: start_cursor.clone(),
                ..Default::default()
            })
            .await;
        let mut ids = Vec::new();
        for _ in 0..TOTAL {
            ids.push(next_event(&mut resumed).await.id);
        }
        assert_quiet(&mut resumed).await;
        orders.push(ids);
    }
    assert_eq!(orders[0], orders[1], "one order on both replicas");
    let unique: HashSet<_> = orders[0].iter().collect();
    assert_eq!(unique.len(), TOTAL, "each event once");
    drop(sentinels);
}
