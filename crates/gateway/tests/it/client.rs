//! The Rust client crate against real gateways: its subscription resumes by
//! itself across a rollout (graceful stop, Redis keeps the history) and a
//! subscriber cut-off with no gap and no repeat, and reports the history an
//! in-memory gateway lost in a crash as an explicit gap before going on live.

use std::time::Duration;

use client::{Backoff, Client, Item, Subscription};
use serde_json::{Value, json};

use crate::support::{TEST_CALLER_TOKEN, TestGateway, redis::RedisServer, webhook::event};
use api::v1::{Event, SubscribeRequest};

/// Reconnects within milliseconds, so the tests do not wait out the defaults.
const FAST: Backoff = Backoff {
    initial: Duration::from_millis(10),
    maximum: Duration::from_millis(200),
    multiplier: 2.0,
    jitter: 0.5,
};

fn joined(conference: &str) -> Value {
    event(
        "conference.participant.joined",
        json!({"conference_id": conference, "call_control_id": "v3:abc"}),
    )
}

fn id(data: &Value) -> &str {
    data["id"].as_str().unwrap()
}

/// A loopback address that is free now, for a gateway that must come back on it.
fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Waits until nothing listens on `addr` any more (a stopped gateway's
/// listener closes as its tasks end).
async fn until_free(addr: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpListener::bind(addr).is_err() {
        assert!(tokio::time::Instant::now() < deadline, "{addr} stays taken");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn subscribe(addr: &str) -> Subscription {
    Client::connect(format!("http://{addr}"), TEST_CALLER_TOKEN)
        .expect("a valid address and token")
        .subscribe(SubscribeRequest::default())
        .with_backoff(FAST)
}

/// The next item; fails the test after ten seconds.
async fn next(subscription: &mut Subscription) -> Item {
    tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .expect("an item within 10 s")
        .expect("the subscription carries on")
}

#[track_caller]
fn an_event(item: Item) -> Event {
    match item {
        Item::Event(event) => event,
        Item::Gap(gap) => panic!("expected an event, got {gap:?}"),
    }
}

/// The first event: the subscription opens its stream while `gateway` waits
/// for it to be registered, then takes `data`.
async fn first_event(
    subscription: &mut Subscription,
    gateway: &TestGateway,
    data: &Value,
) -> Event {
    let (item, ()) = tokio::join!(next(subscription), async {
        gateway.wait_for_subscribers(1).await;
        gateway.post_event(data).await.ok();
    });
    an_event(item)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_is_resumed_from_the_last_event_with_nothing_missed() {
    let redis = RedisServer::start();
    let url = redis.url();
    let addr = free_addr();
    let old = TestGateway::spawn_with(&["--redis-url", &url, "--grpc-addr", &addr]).await;
    let webhooks = TestGateway::spawn_with(&["--redis-url", &url]).await;
    let mut subscription = subscribe(&addr);
    let before = joined("conf-1");
    let delivered = first_event(&mut subscription, &old, &before).await;
    assert_eq!(delivered.id, id(&before));

    // The replica is replaced: it ends its streams with UNAVAILABLE and the
    // cursor; webhooks keep landing on another replica meanwhile.
    old.stop().await;
    let during: Vec<Value> = (2..=4).map(|i| joined(&format!("conf-{i}"))).collect();
    for data in &during {
        webhooks.post_event(data).await.ok();
    }
    until_free(&addr).await;
    let new = TestGateway::spawn_with(&["--redis-url", &url, "--grpc-addr", &addr]).await;

    for data in &during {
        assert_eq!(an_event(next(&mut subscription).await).id, id(data));
    }
    assert!(subscription.reconnects() >= 1);
    let after = joined("conf-5");
    new.post_event(&after).await.ok();
    let last = an_event(next(&mut subscription).await);
    assert_eq!(last.id, id(&after));
    assert_eq!(subscription.cursor(), last.cursor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_in_memory_gateway_comes_back_as_a_gap_then_live_events() {
    let addr = free_addr();
    let crashed = TestGateway::spawn_killable(&["--grpc-addr", &addr]).await;
    let mut subscription = subscribe(&addr);
    let before = joined("conf-1");
    let delivered = first_event(&mut subscription, &crashed, &before).await;

    // The process dies with its history: the connection just drops.
    crashed.kill();
    until_free(&addr).await;
    let restarted = TestGateway::spawn_killable(&["--grpc-addr", &addr]).await;

    let Item::Gap(gap) = next(&mut subscription).await else {
        panic!("the lost history must come back as a gap");
    };
    assert_eq!(
        gap.cursor, delivered.cursor,
        "the gap starts at the last event"
    );
    assert_eq!(gap.reason, "CURSOR_OTHER_HISTORY");
    // The gap comes once the live stream is registered: what happens while
    // the caller reconciles is delivered after it.
    assert_eq!(restarted.subscribers(), 1);
    let live = joined("conf-2");
    restarted.post_event(&live).await.ok();
    assert_eq!(an_event(next(&mut subscription).await).id, id(&live));
    assert!(
        subscription.reconnects() >= 2,
        "{}",
        subscription.reconnects()
    );
}

#[tokio::test]
async fn a_subscriber_cut_off_for_reading_slowly_resumes_with_no_gap_and_no_repeat() {
    let gateway = TestGateway::spawn_with(&["--event-subscriber-queue", "4"]).await;
    // HTTP/2's smallest windows: a stream not read stalls after about 64 KiB.
    let endpoint = Client::endpoint(format!("http://{}", gateway.grpc_addr))
        .unwrap()
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535);
    let mut subscription = Client::from_endpoint(endpoint, TEST_CALLER_TOKEN)
        .unwrap()
        .subscribe(SubscribeRequest::default())
        .with_backoff(FAST);
    // About 2 KiB each: far more than the windows and the queue hold.
    let posted: Vec<Value> = (0..300)
        .map(|_| event("call.hangup", json!({"client_state": "s".repeat(1000)})))
        .collect();
    first_event(&mut subscription, &gateway, &posted[0]).await;
    for data in &posted[1..] {
        gateway.post_event(data).await.ok();
    }
    // Not read meanwhile: the gateway has cut the subscriber off.
    gateway.wait_for_subscribers(0).await;

    for data in &posted[1..] {
        assert_eq!(an_event(next(&mut subscription).await).id, id(data));
    }
    assert!(subscription.reconnects() >= 1);
    let quiet = tokio::time::timeout(Duration::from_millis(300), subscription.next()).await;
    assert!(quiet.is_err(), "nothing repeated: {quiet:?}");
}
