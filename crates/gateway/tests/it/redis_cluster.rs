//! `GATEWAY_REDIS_CLUSTER`: two gateway replicas on a Redis Cluster of three
//! primaries with a replica each, each given a different node in
//! `REDIS_URL`, share one history whose keys carry the prefix's hash tag.

use std::time::Duration;

use crate::support::redis::RedisCluster;
use crate::support::webhook::event;
use crate::support::{TestGateway, next_event};
use api::v1::SubscribeRequest;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_on_a_redis_cluster_share_one_tagged_history() {
    let cluster = RedisCluster::start();
    let mut gateways = Vec::new();
    for node in [0, 4] {
        gateways.push(
            TestGateway::spawn_with(&[
                "--redis-url",
                &cluster.nodes[node].url(),
                "--redis-cluster",
                "true",
                "--redis-min-replicas-ack",
                "1",
            ])
            .await,
        );
    }
    for gateway in &gateways {
        gateway.ready_becomes(200, Duration::from_secs(20)).await;
    }
    let mut live = gateways[1].subscribe(SubscribeRequest::default()).await;
    let events: Vec<serde_json::Value> = (0..20)
        .map(|n| event("call.hangup", json!({"call_control_id": format!("v3:{n}")})))
        .collect();
    for (n, data) in events.iter().enumerate() {
        let posted = gateways[n % 2].post_event(data).await;
        assert_eq!(posted.status, 200, "{}", posted.body);
    }
    // Telnyx delivering one again, to the other replica: a duplicate.
    let again = gateways[1].post_event(&events[0]).await;
    assert_eq!(again.status, 200, "{}", again.body);
    for data in &events {
        assert_eq!(next_event(&mut live).await.id, data["id"].as_str().unwrap());
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), live.message())
            .await
            .is_err(),
        "the duplicate was delivered"
    );
    // Every key is in the hash tag's slot, on its primary.
    let primary = cluster
        .primary_of("{conference-gateway}:events")
        .expect("a primary serves the slot");
    let node = &cluster.nodes[primary];
    assert!(
        node.command(&["XLEN", "{conference-gateway}:events"])
            .contains(":20"),
        "the stream holds the 20 events"
    );
    assert!(
        node.command(&["EXISTS", "{conference-gateway}:epoch"])
            .contains(":1")
    );
}
