//! A Redis Cluster failover mid-stream, with every event acknowledged by a
//! replica (`min_replicas_ack` 1): the primary of the bus's shard is killed
//! (SIGKILL) while events are published one after another, each retried
//! with the same id until accepted, as Telnyx retries a 503. Every event
//! answered OK reaches a live subscriber and a subscriber resuming from
//! before the failover on another replica, each exactly once, in order.

use super::*;
use testkit::redis::RedisCluster;

const EVENTS: usize = 600;
const KILL_AT: usize = 200;

fn settings(url: String) -> RedisBusSettings {
    RedisBusSettings {
        url,
        prefix: "failover".into(),
        history: 100_000,
        dedupe_window: Duration::from_secs(900),
        subscriber_queue: 4096,
        connect_wait: Duration::from_secs(10),
        min_replicas_ack: 1,
        ack_timeout: Duration::from_millis(500),
        sentinel: None,
        cluster: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_primary_failover_mid_stream_loses_nothing_acknowledged() {
    let mut cluster = RedisCluster::start();
    let key = "{failover}:events";
    let primary = cluster.primary_of(key).expect("a primary serves the slot");
    let bus: Arc<dyn EventBus> = Arc::new(
        RedisBus::connect(settings(cluster.url()))
            .await
            .expect("the Redis cluster bus sets up"),
    );
    assert!(bus.is_ready(), "subscribed within 10 s");
    let mut live = open(&bus, None).await;

    let mut first: Option<Cursor> = None;
    let mut refused = 0_usize;
    let mut killed_at: Option<tokio::time::Instant> = None;
    let mut restarted = false;
    let mut outage: Option<Duration> = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    for i in 0..EVENTS {
        if i == KILL_AT {
            cluster.nodes[primary].stop();
            killed_at = Some(tokio::time::Instant::now());
        }
        let id = format!("e{i:04}");
        loop {
            match try_publish(bus.as_ref(), &id, "conference.participant.joined", "conf-a").await {
                Ok(published) => {
                    if outage.is_none() && refused > 0 {
                        outage = killed_at.map(|at| at.elapsed());
                    }
                    if let (None, Published::Accepted(cursor)) = (&first, published) {
                        first = Some(cursor);
                    }
                    break;
                }
                Err(error) => {
                    refused += 1;
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "{id} still refused after 90 s: {error}"
                    );
                    // Once a replica took over, the killed node comes back
                    // (as its replica), so acknowledgements are possible
                    // again.
                    if !restarted
                        && killed_at.is_some()
                        && cluster.primary_of(key).is_some_and(|now| now != primary)
                    {
                        cluster.nodes[primary].restart();
                        restarted = true;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    assert!(restarted, "the failover happened mid-stream");
    assert!(refused > 0, "some events were refused during the failover");
    let took_over = cluster.primary_of(key).expect("a primary serves the slot");
    assert_ne!(took_over, primary, "the replica took over");
    eprintln!(
        "cluster failover: {EVENTS} events, {refused} refusals (retried), primary killed at \
         {KILL_AT}, first acknowledgement after the kill {outage:?} later"
    );

    // The live subscriber: every event once, in order.
    let all: Vec<String> = (0..EVENTS).map(|i| format!("e{i:04}")).collect();
    let mut seen = Vec::new();
    for _ in 0..EVENTS {
        seen.push(next_id(&mut live).await);
    }
    assert_eq!(seen, all);
    assert_quiet(&mut live).await;

    // A subscriber resuming from before the failover on another replica of
    // the gateway: the same events, once each, in order.
    let other: Arc<dyn EventBus> = Arc::new(
        RedisBus::connect(settings(cluster.url()))
            .await
            .expect("a second bus sets up"),
    );
    let first = first.expect("the first event was accepted").to_string();
    let mut resumed = open(&other, Some(&first)).await;
    let mut replayed = Vec::new();
    for _ in 1..EVENTS {
        replayed.push(next_id(&mut resumed).await);
    }
    assert_eq!(replayed, all[1..]);
    assert_quiet(&mut resumed).await;
}

#[tokio::test]
async fn a_cluster_url_selecting_another_database_is_refused_naming_it() {
    let error = RedisBus::connect(settings("redis://127.0.0.1:1/3".into()))
        .await
        .expect_err("a cluster has only database 0");
    let text = error.to_string();
    assert!(
        text.contains("database 3") && text.contains("GATEWAY_REDIS_CLUSTER"),
        "{text}"
    );
}
