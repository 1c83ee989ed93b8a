//! `/readyz` and the Redis the gateway runs on: not ready, saying why, while
//! Redis may evict the bus's keys. Each test starts its own `redis-server`.

use std::time::Duration;

use crate::support::TestGateway;
use crate::support::redis::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_refuses_an_evicting_redis_naming_maxmemory_policy() {
    let redis = RedisServer::start();
    assert!(
        redis
            .command(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
            .contains("OK")
    );
    let gateway = TestGateway::spawn_with(&["--redis-url", &redis.url()]).await;
    let body = gateway.ready_becomes(503, Duration::from_secs(10)).await;
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
    assert_eq!(
        gateway.ready_becomes(200, Duration::from_secs(10)).await,
        "ready\n"
    );
}
