//! Several gateway replicas on one Redis, and what happens when a part fails:
//! Redis restarting or flushed, a replica killed under its subscribers. Each
//! test starts its own `redis-server` on a free port.

use std::time::Duration;

use crate::support::redis::RedisServer;
use crate::support::webhook::event;
use crate::support::{TestGateway, assert_quiet, next_event};
use api::v1::{Event, SubscribeRequest};
use serde_json::json;
use tonic::{Code, Streaming};

async fn replica(redis: &RedisServer) -> TestGateway {
    TestGateway::spawn_with(&["--redis-url", &redis.url()]).await
}

fn joined(conference: &str) -> serde_json::Value {
    event(
        "conference.participant.joined",
        json!({"conference_id": conference, "call_control_id": "v3:abc"}),
    )
}

fn after(cursor: &str) -> SubscribeRequest {
    SubscribeRequest {
        resume_after: cursor.to_owned(),
        ..Default::default()
    }
}

async fn ids(stream: &mut Streaming<Event>, count: usize) -> Vec<Event> {
    let mut events = Vec::new();
    for _ in 0..count {
        events.push(next_event(stream).await);
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_deliver_every_event_once_in_one_order_and_share_cursors() {
    let redis = RedisServer::start();
    let a = replica(&redis).await;
    let b = replica(&redis).await;
    let mut on_a = a.subscribe(SubscribeRequest::default()).await;
    let mut on_b = b.subscribe(SubscribeRequest::default()).await;

    let mut posted = Vec::new();
    for i in 0..10 {
        let data = joined(&format!("conf-{i}"));
        let to = if i % 2 == 0 { &a } else { &b };
        to.post_event(&data).await.ok();
        posted.push(data["id"].as_str().unwrap().to_owned());
    }
    // Telnyx delivering the same event to both replicas: accepted once.
    let twice = joined("conf-twice");
    assert_eq!(a.post_event(&twice).await.ok().body, "accepted\n");
    assert_eq!(
        b.post_event(&twice).await.ok().body,
        "duplicate of an accepted event\n"
    );
    posted.push(twice["id"].as_str().unwrap().to_owned());

    let from_a = ids(&mut on_a, 11).await;
    let from_b = ids(&mut on_b, 11).await;
    let id_list = |events: &[Event]| events.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(id_list(&from_a), posted, "in acceptance order, once each");
    assert_eq!(id_list(&from_b), posted, "the same order on both replicas");
    assert_eq!(
        from_a.iter().map(|e| &e.cursor).collect::<Vec<_>>(),
        from_b.iter().map(|e| &e.cursor).collect::<Vec<_>>(),
        "one cursor per event, whichever replica delivers it"
    );
    assert_quiet(&mut on_a).await;
    assert_quiet(&mut on_b).await;

    // A cursor from replica a resumes on replica b.
    let mut resumed = b.subscribe(after(&from_a[4].cursor)).await;
    assert_eq!(id_list(&ids(&mut resumed, 6).await), posted[5..]);
    assert_quiet(&mut resumed).await;
}

/// Redis dies (SIGKILL) and comes back empty: readiness follows it, webhooks
/// are refused meanwhile so that Telnyx retries them, and an open stream
/// carries on with what is accepted after the restart, without the refused
/// one. The event accepted before the kill is awaited on the stream first:
/// Redis writes its reply to the gateway before the subscription's copy, so
/// a kill between the two writes would take the only copy with it (this
/// Redis keeps nothing on disk; `GATEWAY_REDIS_MIN_REPLICAS_ACK` is what
/// closes that window, and `redis_replication` tests it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_restart_keeps_streams_open_and_readiness_follows_it() {
    let mut redis = RedisServer::start();
    let gateway = replica(&redis).await;
    assert_eq!(gateway.http_get("/readyz").await, (200, "ready\n".into()));
    let mut stream = gateway.subscribe(SubscribeRequest::default()).await;
    let before = joined("conf-1");
    gateway.post_event(&before).await.ok();
    assert_eq!(
        next_event(&mut stream).await.id,
        before["id"].as_str().unwrap()
    );

    redis.stop();
    let body = gateway.ready_becomes(503, Duration::from_secs(10)).await;
    assert_eq!(body, "not ready: event bus unreachable\n");
    assert_eq!(gateway.http_get("/healthz").await.0, 200);
    let refused = gateway.post_event(&joined("conf-2")).await;
    assert_eq!(refused.status, 503, "Telnyx retries: {}", refused.body);

    redis.restart();
    gateway.ready_becomes(200, Duration::from_secs(10)).await;
    let after_restart = joined("conf-3");
    gateway.post_event(&after_restart).await.ok();

    assert_eq!(
        next_event(&mut stream).await.id,
        after_restart["id"].as_str().unwrap(),
        "the same stream, and not the refused event"
    );
    assert_quiet(&mut stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_of_a_killed_replica_resumes_on_another() {
    let redis = RedisServer::start();
    let doomed = TestGateway::spawn_killable(&["--redis-url", &redis.url()]).await;
    let survivor = replica(&redis).await;
    let mut stream = doomed.subscribe(SubscribeRequest::default()).await;
    let first = joined("conf-1");
    survivor.post_event(&first).await.ok();
    let last = next_event(&mut stream).await;
    assert_eq!(last.id, first["id"].as_str().unwrap());

    doomed.kill();
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("the stream ends when its replica dies");
    assert!(!matches!(ended, Ok(Some(_))), "no event after the kill");

    let mut missed = Vec::new();
    for i in 2..=4 {
        let data = joined(&format!("conf-{i}"));
        survivor.post_event(&data).await.ok();
        missed.push(data["id"].as_str().unwrap().to_owned());
    }
    let mut resumed = survivor.subscribe(after(&last.cursor)).await;
    let got: Vec<_> = ids(&mut resumed, 3)
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(got, missed);
    assert_quiet(&mut resumed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flushed_redis_refuses_old_cursors_and_carries_on() {
    let redis = RedisServer::start();
    let gateway = replica(&redis).await;
    let mut open = gateway.subscribe(SubscribeRequest::default()).await;
    gateway.post_event(&joined("conf-1")).await.ok();
    let old = next_event(&mut open).await;

    assert!(redis.command(&["FLUSHALL"]).starts_with("+OK"));

    let status = gateway
        .events()
        .subscribe(after(&old.cursor))
        .await
        .expect_err("a cursor of the lost history is refused");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");

    let mut fresh = gateway.subscribe(SubscribeRequest::default()).await;
    let next = joined("conf-2");
    gateway.post_event(&next).await.ok();
    let on_fresh = next_event(&mut fresh).await;
    let on_open = next_event(&mut open).await;
    assert_eq!(on_fresh.id, next["id"].as_str().unwrap());
    assert_eq!(on_open.id, on_fresh.id, "open streams carry on");
    assert_ne!(
        on_fresh.cursor.split('.').next(),
        old.cursor.split('.').next(),
        "a new history has a new epoch"
    );
    // And the new cursors resume.
    gateway.post_event(&joined("conf-3")).await.ok();
    let mut resumed = gateway.subscribe(after(&on_fresh.cursor)).await;
    assert_eq!(
        next_event(&mut resumed).await.event_type,
        "conference.participant.joined"
    );
}
