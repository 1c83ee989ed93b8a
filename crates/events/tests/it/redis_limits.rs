//! The Redis bus when Redis is full or may evict: reads keep working without
//! room to write, and the bus says why it should not receive traffic.

use super::*;
use testkit::redis::RedisServer;

async fn bus_on(redis: &RedisServer) -> Arc<dyn EventBus> {
    let bus = RedisBus::connect(RedisBusSettings {
        url: redis.url(),
        prefix: format!("limits-{:x}", fastrand::u64(..)),
        history: 10_000,
        dedupe_window: Duration::from_secs(900),
        subscriber_queue: 1024,
        connect_wait: Duration::from_secs(10),
        min_replicas_ack: 0,
        ack_timeout: Duration::from_secs(1),
        sentinel: None,
        cluster: false,
    })
    .await
    .expect("the Redis bus sets up");
    Arc::new(bus)
}

/// Waits up to `secs` for the bus's readiness reason to satisfy `check`.
async fn reason_becomes(bus: &dyn EventBus, secs: u64, check: impl Fn(Option<&str>) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let reason = bus.unready_reason();
        if check(reason.as_deref()) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readiness stayed {reason:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_full_redis_still_serves_resumes_and_the_history() {
    let redis = RedisServer::start();
    assert!(
        redis
            .command(&["CONFIG", "SET", "maxmemory-policy", "noeviction"])
            .contains("OK")
    );
    let bus = bus_on(&redis).await;
    assert_eq!(bus.unready_reason(), None);
    let mut cursors = Vec::new();
    for i in 1..=20 {
        cursors.push(accepted(bus.as_ref(), &format!("e{i}")).await);
    }
    // Over maxmemory under noeviction: Redis refuses every write, and every
    // MULTI even when it only reads.
    assert!(
        redis
            .command(&["CONFIG", "SET", "maxmemory", "1"])
            .contains("OK")
    );
    let refused = bus
        .publish(converter().prepare(Envelope {
            id: "e21".into(),
            event_type: "call.hangup".into(),
            json: "{}".into(),
            data: json!({"id": "e21", "event_type": "call.hangup", "payload": {}}),
        }))
        .await;
    match refused {
        Err(BusError::Unavailable(why)) => assert!(why.contains("OOM"), "{why}"),
        other => panic!("a full Redis took the event: {other:?}"),
    }

    let mut resumed = stream::open(&bus, Filter::default(), Some(&cursors[4].to_string()))
        .await
        .expect("resuming needs no room to write");
    let mut got = Vec::new();
    for _ in 6..=20 {
        got.push(next_id(&mut resumed).await);
    }
    assert_eq!(got, ids(6..=20));
    let history = bus.history().await.expect("the history reads without room");
    assert_eq!(history.events.len(), 20);

    // Readiness tells the truth: webhooks would all be refused.
    reason_becomes(bus.as_ref(), 10, |reason| {
        reason.is_some_and(|r| r.contains("full"))
    })
    .await;
    assert!(
        redis
            .command(&["CONFIG", "SET", "maxmemory", "0"])
            .contains("OK")
    );
    reason_becomes(bus.as_ref(), 10, |reason| reason.is_none()).await;
    accepted(bus.as_ref(), "e21").await;
    assert_eq!(next_id(&mut resumed).await, "e21");
}

#[tokio::test]
async fn an_evicting_policy_keeps_the_bus_unready_naming_the_setting() {
    let redis = RedisServer::start();
    assert!(
        redis
            .command(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
            .contains("OK")
    );
    let bus = bus_on(&redis).await;
    assert!(bus.is_ready(), "Redis is reachable");
    let reason = bus.unready_reason().expect("not ready under allkeys-lru");
    assert!(reason.contains("maxmemory-policy"), "{reason}");
    assert!(reason.contains("allkeys-lru"), "{reason}");

    // Fixed, and checked again at the next connection.
    assert!(
        redis
            .command(&["CONFIG", "SET", "maxmemory-policy", "noeviction"])
            .contains("OK")
    );
    redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    reason_becomes(bus.as_ref(), 10, |reason| reason.is_none()).await;
}
