//! A failover that lost acknowledged events: cursors from before it are
//! refused (a new epoch) rather than resumed across the gap. A private
//! primary and replica; the "failover" makes the primary resynchronise from
//! a replica that missed the newest events, which is what a promoted replica
//! serves after the old primary died.

use super::*;
use testkit::redis::RedisServer;

fn info_has(redis: &RedisServer, section: &str, needle: &str) -> bool {
    redis.command(&["INFO", section]).contains(needle)
}

async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within 15 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_that_lost_acknowledged_events_starts_a_new_epoch() {
    let primary = RedisServer::start();
    let replica = RedisServer::start();
    replica.replicate(&primary);
    let bus: Arc<dyn EventBus> = Arc::new(
        RedisBus::connect(RedisBusSettings {
            url: primary.url(),
            prefix: "loss".into(),
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
        .expect("the Redis bus sets up"),
    );
    let mut cursors = Vec::new();
    for i in 1..=10 {
        cursors.push(accepted(bus.as_ref(), &format!("e{i}")).await);
    }
    let survivors = cursors[9].position.to_owned();
    until("the replica has the first ten", || {
        replica.command(&["XLEN", "loss:events"]).contains(":10")
    })
    .await;

    // The replica stops following; five more are acknowledged by the
    // primary alone.
    assert!(replica.command(&["REPLICAOF", "NO", "ONE"]).contains("OK"));
    for i in 11..=15 {
        cursors.push(accepted(bus.as_ref(), &format!("e{i}")).await);
    }
    // The primary takes the replica's data (losing e11..e15) and becomes a
    // primary again: what a promoted replica would serve.
    assert!(
        primary
            .command(&["REPLICAOF", "127.0.0.1", &replica.port().to_string()])
            .contains("OK")
    );
    until("the old primary resynchronised", || {
        info_has(&primary, "replication", "master_link_status:up")
    })
    .await;
    assert!(primary.command(&["REPLICAOF", "NO", "ONE"]).contains("OK"));
    assert!(primary.command(&["XLEN", "loss:events"]).contains(":10"));
    assert!(
        primary.command(&["EXISTS", "loss:epoch"]).contains(":1"),
        "the epoch key survived: only the judgement can tell"
    );
    primary.command(&["CLIENT", "KILL", "TYPE", "pubsub"]);

    // Every cursor from before is refused, the survivors' too.
    let bus_ref = Arc::clone(&bus);
    let before = cursors[4].to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match bus_ref.replay(&before).await {
            Err(ReplayError::OtherEpoch(_)) => break,
            other => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "a cursor from before the loss is still served: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert!(matches!(
        bus.replay(&cursors[14].to_string()).await,
        Err(ReplayError::OtherEpoch(_))
    ));
    until("the bus is ready again", || bus.is_ready()).await;

    // The new history carries on, and its cursors resume.
    let fresh = accepted(bus.as_ref(), "e16").await;
    assert_ne!(fresh.epoch, cursors[0].epoch, "a new epoch");
    assert!(fresh.position > survivors);
    let mut resumed = stream::open(&bus, Filter::default(), Some(&fresh.to_string()))
        .await
        .expect("a cursor of the new history resumes");
    accepted(bus.as_ref(), "e17").await;
    assert_eq!(next_id(&mut resumed).await, "e17");
}
