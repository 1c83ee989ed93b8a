//! The tracker against a real memory bus: the history folded before it is
//! ready, live events after, a fall-behind caught up from the history, and
//! watches that skip rather than wait.

extern crate conference_gateway_state as state;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use events::{Envelope, EventBus, MemoryBus, MemoryBusSettings, converter};
use serde_json::json;
use state::{Settings, Subject, Tracker};

fn bus(subscriber_queue: usize) -> Arc<dyn EventBus> {
    Arc::new(MemoryBus::new(MemoryBusSettings {
        dedupe_window: Duration::from_secs(900),
        dedupe_max_ids: 1_000_000,
        history: 100_000,
        subscriber_queue,
    }))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Publishes `call.enqueued` of `call` into `queue`, `n` ms after a fixed second.
async fn enqueue(bus: &dyn EventBus, call: &str, queue: &str, n: u64) {
    let id = format!("enqueued-{call}-{queue}");
    let data = json!({
        "record_type": "event",
        "id": id,
        "event_type": "call.enqueued",
        "occurred_at": format!("2024-05-01T12:00:{:02}.{:03}Z", n / 1000 % 60, n % 1000),
        "payload": {"call_control_id": call, "queue": queue, "current_position": n + 1},
    });
    let envelope = Envelope {
        id,
        event_type: "call.enqueued".into(),
        json: data.to_string(),
        data,
    };
    bus.publish(converter().prepare(envelope))
        .await
        .expect("the bus accepts");
}

async fn ready(tracker: &Tracker) {
    assert!(
        tracker.wait_ready(Duration::from_secs(5)).await,
        "the tracker is ready"
    );
}

/// Polls until the queue holds `count` calls.
async fn waiting(tracker: &Tracker, queue: &str, count: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let line = tracker
            .read(|fold| fold.queue(queue, now_secs() as i64 * 1000))
            .map(|state| {
                state
                    .calls
                    .into_iter()
                    .map(|c| c.call_control_id)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if line.len() == count {
            return line;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} calls, expected {count}",
            line.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_history_is_folded_before_the_tracker_is_ready_then_live_events() {
    let bus = bus(1024);
    for i in 0..5 {
        enqueue(bus.as_ref(), &format!("v3:{i}"), "support", i).await;
    }
    let tracker = Tracker::start(Arc::clone(&bus), Settings::default());
    ready(&tracker).await;
    let state = tracker.read(|fold| fold.queue("support", 0)).unwrap();
    assert_eq!(state.calls.len(), 5, "the history, before answering");
    enqueue(bus.as_ref(), "v3:5", "support", 5).await;
    let line = waiting(&tracker, "support", 6).await;
    assert_eq!(line.last().unwrap(), "v3:5");
}

#[tokio::test]
async fn a_history_of_several_pages_is_folded_whole_a_page_at_a_time() {
    let bus = bus(1024);
    let total = 2 * events::PAGE as u64 + 500;
    for i in 0..total {
        enqueue(
            bus.as_ref(),
            &format!("v3:{i:05}"),
            &format!("q{}", i % 7),
            i,
        )
        .await;
    }
    let tracker = Tracker::start(Arc::clone(&bus), Settings::default());
    ready(&tracker).await;
    let cursor = tracker.read(|fold| fold.cursor()).unwrap().unwrap();
    assert_eq!(cursor.position.major, total, "every page folded");
    let line = waiting(&tracker, "q0", total.div_ceil(7) as usize).await;
    assert_eq!(line.first().unwrap(), "v3:00000");
}

#[tokio::test]
async fn a_tracker_that_fell_behind_catches_up_from_the_history() {
    // A hub queue of one event: the tracker overflows at once.
    let bus = bus(1);
    let tracker = Tracker::start(Arc::clone(&bus), Settings::default());
    ready(&tracker).await;
    for i in 0..500 {
        enqueue(bus.as_ref(), &format!("v3:{i:03}"), "busy", i).await;
    }
    let line = waiting(&tracker, "busy", 500).await;
    let expected: Vec<String> = (0..500).map(|i| format!("v3:{i:03}")).collect();
    assert_eq!(line, expected, "every event once, in order");
    let cursor = tracker.read(|fold| fold.cursor()).unwrap().unwrap();
    assert_eq!(cursor.position.major, 500);
}

#[tokio::test]
async fn a_watch_skips_to_the_latest_state_and_says_how_many_it_skipped() {
    let bus = bus(1024);
    let tracker = Tracker::start(Arc::clone(&bus), Settings::default());
    ready(&tracker).await;
    let mut watch = tracker.watch(Subject::Queue("support".into()));
    assert!(watch.changed().await, "the first render needs no change");
    let (first, skipped) = watch
        .render(|fold, skipped| (fold.queue("support", 0).calls.len(), skipped))
        .unwrap();
    assert_eq!((first, skipped), (0, 0));
    assert_eq!(tracker.watched(), 1);

    for i in 0..10 {
        enqueue(bus.as_ref(), &format!("v3:{i}"), "support", i).await;
    }
    // An event about another queue is no change to this one.
    enqueue(bus.as_ref(), "v3:other", "sales", 0).await;
    waiting(&tracker, "sales", 1).await;
    assert!(watch.changed().await);
    let (calls, skipped) = watch
        .render(|fold, skipped| (fold.queue("support", 0).calls.len(), skipped))
        .unwrap();
    assert_eq!(
        (calls, skipped),
        (10, 9),
        "ten changes: one sent, nine skipped"
    );
    let unchanged = tokio::time::timeout(Duration::from_millis(200), watch.changed()).await;
    assert!(unchanged.is_err(), "no change, no wake-up");

    drop(watch);
    assert_eq!(tracker.watched(), 0, "an unwatched subject costs nothing");
}
