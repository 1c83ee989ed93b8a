//! `/readyz` and the Redis the gateway runs on: not ready, saying why, while
//! Redis may evict the bus's keys. Each test starts its own `redis-server`.

use std::time::Duration;

use crate::support::TestGateway;
use crate::support::redis::RedisServer;

/// Polls `/readyz` until it answers `status`; fails after ten seconds.
async fn ready_becomes(gateway: &TestGateway, status: u16) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (got, body) = gateway.http_get("/readyz").await;
        if got == status {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz stayed {got} ({body}), expected {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_refuses_an_evicting_redis_naming_maxmemory_policy() {
    let redis = RedisServer::start();
    assert!(
        redis
            .command(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
            .contains("OK")
    );
    let gateway = TestGateway::spawn_with(&["--redis-url", &redis.url()]).await;
    let body = ready_becomes(&gateway, 503).await;
    assert!(body.contains("maxmemory-policy"), "{body}");
    assert!(body.contains("allkeys-lru"), "{body}");
    assert!(body.contains("noeviction"), "{body}");

    assert!(
        redis
            .command(&["CONFIG", "SET", "maxmemory-policy", "noeviction"])
            .contains("OK")
    );
    // Checked again whenever the gateway reconnects.
    redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert_eq!(ready_becomes(&gateway, 200).await, "ready\n");
}
