//! What every event bus must do, as one suite run against each implementation.
//!
//! The suite is written against the `EventBus` trait and the stream built on
//! it, never against one bus: each bus adds one line at the bottom, with a
//! factory that maps [`Sizes`] onto its own settings, and must pass every test
//! unchanged. The Redis bus runs against a real `redis-server` the suite starts.

// The crate under test, by the name its dependents use.
extern crate conference_gateway_events as events;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use events::{
    BusError, Cursor, Envelope, EventBus, Filter, Hub, MemoryBus, MemoryBusSettings, PAGE,
    Prepared, Published, RedisBus, RedisBusSettings, Replay, ReplayError, converter,
    hub::Lost,
    stream::{self, EventStream},
};
use futures::future::BoxFuture;

mod redis_cluster_failover;
mod redis_limits;
mod redis_loss;
use serde_json::json;

/// The sizes a test asks of the bus.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub dedupe_window: Duration,
    pub history: usize,
    pub subscriber_queue: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            dedupe_window: Duration::from_secs(900),
            history: 10_000,
            subscriber_queue: 1024,
        }
    }
}

/// Builds a fresh, empty bus.
pub type Factory = fn(Sizes) -> BoxFuture<'static, Arc<dyn EventBus>>;

fn memory_bus(sizes: Sizes) -> BoxFuture<'static, Arc<dyn EventBus>> {
    Box::pin(async move {
        Arc::new(MemoryBus::new(MemoryBusSettings {
            dedupe_window: sizes.dedupe_window,
            dedupe_max_ids: 1_000_000,
            history: sizes.history,
            subscriber_queue: sizes.subscriber_queue,
        })) as Arc<dyn EventBus>
    })
}

/// One redis-server for the whole suite; each bus gets keys of its own under
/// a fresh prefix, so tests running in parallel never see each other's events.
fn redis_bus(sizes: Sizes) -> BoxFuture<'static, Arc<dyn EventBus>> {
    static SERVER: OnceLock<testkit::redis::RedisServer> = OnceLock::new();
    let url = SERVER.get_or_init(testkit::redis::RedisServer::start).url();
    Box::pin(async move {
        let bus = RedisBus::connect(RedisBusSettings {
            url,
            prefix: format!("conformance-{:x}", fastrand::u64(..)),
            history: sizes.history as u64,
            dedupe_window: sizes.dedupe_window,
            subscriber_queue: sizes.subscriber_queue,
            connect_wait: Duration::from_secs(10),
            min_replicas_ack: 0,
            ack_timeout: Duration::from_secs(1),
            sentinel: None,
            cluster: false,
        })
        .await
        .expect("the Redis bus sets up");
        assert!(bus.is_ready(), "the Redis bus subscribed within 10 s");
        Arc::new(bus) as Arc<dyn EventBus>
    })
}

/// One Redis Cluster (three primaries, a replica each) for the whole suite;
/// each bus's prefix, a hash tag there, lands on one of the three shards.
fn redis_cluster_bus(sizes: Sizes) -> BoxFuture<'static, Arc<dyn EventBus>> {
    static CLUSTER: OnceLock<testkit::redis::RedisCluster> = OnceLock::new();
    let url = CLUSTER
        .get_or_init(testkit::redis::RedisCluster::start)
        .url();
    Box::pin(async move {
        let bus = RedisBus::connect(RedisBusSettings {
            url,
            prefix: format!("conformance-{:x}", fastrand::u64(..)),
            history: sizes.history as u64,
            dedupe_window: sizes.dedupe_window,
            subscriber_queue: sizes.subscriber_queue,
            connect_wait: Duration::from_secs(10),
            min_replicas_ack: 0,
            ack_timeout: Duration::from_secs(1),
            sentinel: None,
            cluster: true,
        })
        .await
        .expect("the Redis cluster bus sets up");
        assert!(
            bus.is_ready(),
            "the Redis cluster bus subscribed within 10 s"
        );
        Arc::new(bus) as Arc<dyn EventBus>
    })
}

/// Publishes an event with this id, type and conference.
async fn publish(bus: &dyn EventBus, id: &str, event_type: &str, conference: &str) -> Published {
    try_publish(bus, id, event_type, conference)
        .await
        .expect("the bus accepts")
}

/// Publishes an event, the bus's refusal included.
async fn try_publish(
    bus: &dyn EventBus,
    id: &str,
    event_type: &str,
    conference: &str,
) -> Result<Published, events::BusError> {
    let data = json!({
        "record_type": "event",
        "id": id,
        "event_type": event_type,
        "occurred_at": "2024-05-01T12:00:00Z",
        "payload": {"conference_id": conference, "call_control_id": format!("call-{id}")},
    });
    let envelope = Envelope {
        id: id.to_owned(),
        event_type: event_type.to_owned(),
        json: data.to_string(),
        data,
    };
    bus.publish(converter().prepare(envelope)).await
}

async fn accepted(bus: &dyn EventBus, id: &str) -> Cursor {
    match publish(bus, id, "conference.participant.joined", "conf-a").await {
        Published::Accepted(cursor) => cursor,
        Published::Duplicate => panic!("{id} was taken for a duplicate"),
    }
}

async fn open(bus: &Arc<dyn EventBus>, resume_after: Option<&str>) -> EventStream {
    stream::open(bus, Filter::default(), resume_after)
        .await
        .expect("the stream opens")
}

/// The next event's id; fails after five seconds.
async fn next_id(stream: &mut EventStream) -> String {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event within 5 s")
        .expect("the stream carries on")
        .id
        .clone()
}

async fn assert_quiet(stream: &mut EventStream) {
    if let Ok(next) = tokio::time::timeout(Duration::from_millis(200), stream.next()).await {
        panic!("expected nothing, got {next:?}");
    }
}

/// Waits up to five seconds for `condition`: shards dispatch independently,
/// so one subscriber's shard may be a moment behind another's.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within 5 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn ids(range: std::ops::RangeInclusive<usize>) -> Vec<String> {
    range.map(|i| format!("e{i}")).collect()
}

pub async fn delivers_in_acceptance_order_to_every_subscriber(factory: Factory) {
    let bus = factory(Sizes::default()).await;
    let mut first = open(&bus, None).await;
    let mut second = open(&bus, None).await;
    let publishers: Vec<_> = (0..8)
        .map(|p| {
            let bus = Arc::clone(&bus);
            tokio::spawn(async move {
                for i in 0..50 {
                    accepted(bus.as_ref(), &format!("p{p}-{i}")).await;
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.await.unwrap();
    }
    let mut seen = Vec::new();
    let mut last = None;
    for _ in 0..400 {
        let event = first.next().await.unwrap();
        assert!(
            last < Some(event.cursor.position),
            "positions increase in delivery order"
        );
        last = Some(event.cursor.position);
        assert_eq!(next_id(&mut second).await, event.id, "both see one order");
        seen.push(event.id.clone());
    }
    // Each publisher's own events stay in the order it published them.
    for p in 0..8 {
        let own: Vec<_> = seen
            .iter()
            .filter(|id| id.starts_with(&format!("p{p}-")))
            .cloned()
            .collect();
        let expected: Vec<_> = (0..50).map(|i| format!("p{p}-{i}")).collect();
        assert_eq!(own, expected);
    }
    assert_quiet(&mut first).await;
}

pub async fn dedupes_an_id_within_the_window(factory: Factory) {
    let bus = factory(Sizes::default()).await;
    let mut stream = open(&bus, None).await;
    let kinds = [
        publish(bus.as_ref(), "same", "call.hangup", "").await,
        publish(bus.as_ref(), "same", "call.hangup", "").await,
        publish(bus.as_ref(), "same", "call.hangup", "").await,
    ];
    assert!(matches!(kinds[0], Published::Accepted(_)));
    assert_eq!(kinds[1..], [Published::Duplicate, Published::Duplicate]);
    assert_eq!(next_id(&mut stream).await, "same");
    assert_quiet(&mut stream).await;
}

pub async fn accepts_an_id_again_after_the_window(factory: Factory) {
    let bus = factory(Sizes {
        dedupe_window: Duration::from_secs(1),
        ..Sizes::default()
    })
    .await;
    accepted(bus.as_ref(), "again").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    accepted(bus.as_ref(), "again").await;
}

pub async fn resumes_with_no_gap_and_no_repeat_at_the_seam(factory: Factory) {
    let bus = factory(Sizes::default()).await;
    let mut cursors = Vec::new();
    for i in 1..=100 {
        cursors.push(accepted(bus.as_ref(), &format!("e{i}")).await);
    }
    // Events keep arriving while the subscriber resumes from e30.
    let publisher = {
        let bus = Arc::clone(&bus);
        tokio::spawn(async move {
            for i in 101..=300 {
                accepted(bus.as_ref(), &format!("e{i}")).await;
                if i % 20 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut stream = open(&bus, Some(&cursors[29].to_string())).await;
    let mut received = Vec::new();
    for _ in 31..=300 {
        received.push(next_id(&mut stream).await);
    }
    publisher.await.unwrap();
    assert_eq!(received, ids(31..=300));
    assert_quiet(&mut stream).await;
}

pub async fn resuming_from_the_newest_event_continues_live(factory: Factory) {
    let bus = factory(Sizes::default()).await;
    accepted(bus.as_ref(), "e1").await;
    let newest = accepted(bus.as_ref(), "e2").await;
    let mut stream = open(&bus, Some(&newest.to_string())).await;
    accepted(bus.as_ref(), "e3").await;
    assert_eq!(next_id(&mut stream).await, "e3");
    assert_quiet(&mut stream).await;
}

pub async fn refuses_cursors_it_cannot_serve(factory: Factory) {
    let bus = factory(Sizes {
        history: 5,
        ..Sizes::default()
    })
    .await;
    let first = accepted(bus.as_ref(), "e1").await;
    let mut newest = first;
    for i in 2..=250 {
        newest = accepted(bus.as_ref(), &format!("e{i}")).await;
    }
    let refusal = |cursor: String| {
        let bus = Arc::clone(&bus);
        async move {
            stream::open(&bus, Filter::default(), Some(&cursor))
                .await
                .expect_err("the cursor is refused")
        }
    };
    assert!(matches!(
        refusal(first.to_string()).await,
        ReplayError::Expired(_)
    ));
    assert!(matches!(
        refusal("not-a-cursor".into()).await,
        ReplayError::Malformed(_)
    ));
    let other_history = Cursor {
        epoch: newest.epoch ^ 1,
        ..newest
    };
    assert!(matches!(
        refusal(other_history.to_string()).await,
        ReplayError::OtherEpoch(_)
    ));
    let mut ahead = newest;
    ahead.position.major += 1_000;
    assert!(matches!(
        refusal(ahead.to_string()).await,
        ReplayError::Unknown(_)
    ));
    // A refused stream holds nothing.
    assert_eq!(bus.hub().subscriber_count(), 0);
}

pub async fn cuts_off_a_slow_subscriber_with_a_cursor_to_resume_from(factory: Factory) {
    let bus = factory(Sizes {
        subscriber_queue: 4,
        ..Sizes::default()
    })
    .await;
    let mut slow = open(&bus, None).await;
    let mut fast = open(&bus, None).await;
    for i in 1..=20 {
        accepted(bus.as_ref(), &format!("e{i}")).await;
        // The fast subscriber keeps up.
        assert_eq!(next_id(&mut fast).await, format!("e{i}"));
    }
    eventually("the slow one is dropped", || {
        bus.hub().subscriber_count() == 1
    })
    .await;
    let mut got = Vec::new();
    let ended = loop {
        match slow.next().await {
            Ok(event) => got.push(event.id.clone()),
            Err(ended) => break ended,
        }
    };
    assert_eq!(ended.why, Lost::Overflowed);
    assert_eq!(got, ids(1..=4), "what was queued is delivered first");
    let last = ended.last.expect("a cursor to resume from");
    let mut resumed = open(&bus, Some(&last.to_string())).await;
    let mut rest = Vec::new();
    for _ in 5..=20 {
        rest.push(next_id(&mut resumed).await);
    }
    assert_eq!(rest, ids(5..=20));
}

pub async fn frees_a_subscriber_that_goes_away(factory: Factory) {
    let bus = factory(Sizes::default()).await;
    let first = open(&bus, None).await;
    let filtered = stream::open(&bus, Filter::new(&[], "conf-a", "", "").unwrap(), None)
        .await
        .unwrap();
    assert_eq!(bus.hub().subscriber_count(), 2);
    drop(first);
    drop(filtered);
    assert_eq!(bus.hub().subscriber_count(), 0);
    // Publishing to nobody is fine.
    accepted(bus.as_ref(), "e1").await;
}

pub async fn filters_live_and_replayed_events(factory: Factory) {
    let bus = factory(Sizes::default()).await;
    let only_b = || Filter::new(&["conference.*".into()], "conf-b", "", "").unwrap();
    let mut live = stream::open(&bus, only_b(), None).await.unwrap();
    let mut everything = open(&bus, None).await;
    let start = accepted(bus.as_ref(), "e0").await;
    assert_eq!(next_id(&mut everything).await, "e0");
    for (i, (kind, conference)) in [
        ("conference.participant.joined", "conf-a"),
        ("conference.participant.joined", "conf-b"),
        ("call.hangup", "conf-b"),
        ("conference.ended", "conf-b"),
    ]
    .into_iter()
    .enumerate()
    {
        publish(bus.as_ref(), &format!("e{}", i + 1), kind, conference).await;
    }
    assert_eq!(next_id(&mut live).await, "e2");
    assert_eq!(next_id(&mut live).await, "e4");
    assert_quiet(&mut live).await;
    for i in 1..=4 {
        assert_eq!(next_id(&mut everything).await, format!("e{i}"));
    }
    let mut replayed = stream::open(&bus, only_b(), Some(&start.to_string()))
        .await
        .unwrap();
    assert_eq!(next_id(&mut replayed).await, "e2");
    assert_eq!(next_id(&mut replayed).await, "e4");
    assert_quiet(&mut replayed).await;
}

pub async fn hands_over_the_whole_history_oldest_first(factory: Factory) {
    let bus = factory(Sizes {
        history: 5,
        ..Sizes::default()
    })
    .await;
    let empty = bus.history().await.expect("the history is readable");
    assert!(empty.events.is_empty());
    let mut cursors = Vec::new();
    for i in 1..=3 {
        cursors.push(accepted(bus.as_ref(), &format!("e{i}")).await);
    }
    let held = bus.history().await.expect("the history is readable");
    let got: Vec<_> = held.events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(got, ids(1..=3));
    assert_eq!(
        held.events.iter().map(|e| e.cursor).collect::<Vec<_>>(),
        cursors
    );
    assert_eq!(held.after.epoch, cursors[0].epoch);
    assert!(held.after.position < cursors[0].position);
    // Trimmed: the oldest go, the order stays. Redis trims approximately, so
    // only the newest five are sure to be there.
    for i in 4..=200 {
        accepted(bus.as_ref(), &format!("e{i}")).await;
    }
    let trimmed = bus.history().await.expect("the history is readable");
    let got: Vec<_> = trimmed.events.iter().map(|e| e.id.clone()).collect();
    assert!(got.len() >= 5 && got.len() < 200, "{}", got.len());
    assert_eq!(got[got.len() - 5..], ids(196..=200));
    assert!(
        trimmed
            .events
            .windows(2)
            .all(|w| w[0].cursor.position < w[1].cursor.position)
    );
}

/// A bus that remembers the pages of history it handed out: how many, and
/// the largest, which bounds what a resuming stream held at once.
#[derive(Debug)]
struct Pages {
    bus: Arc<dyn EventBus>,
    reads: AtomicUsize,
    largest: AtomicUsize,
}

impl Pages {
    fn count(&self, replay: Result<Replay, ReplayError>) -> Result<Replay, ReplayError> {
        if let Ok(page) = &replay {
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.largest.fetch_max(page.events.len(), Ordering::Relaxed);
        }
        replay
    }
}

impl EventBus for Pages {
    fn publish(&self, event: Prepared) -> BoxFuture<'_, Result<Published, BusError>> {
        self.bus.publish(event)
    }

    fn replay<'a>(&'a self, cursor: &'a str) -> BoxFuture<'a, Result<Replay, ReplayError>> {
        Box::pin(async move { self.count(self.bus.replay(cursor).await) })
    }

    fn history(&self) -> BoxFuture<'_, Result<Replay, ReplayError>> {
        Box::pin(async move { self.count(self.bus.history().await) })
    }

    fn hub(&self) -> &Hub {
        self.bus.hub()
    }

    fn last_accepted(&self) -> BoxFuture<'_, Result<Option<std::time::SystemTime>, BusError>> {
        self.bus.last_accepted()
    }
}

pub async fn resumes_far_back_holding_one_page_at_a_time(factory: Factory) {
    const BACK: usize = 100_000;
    const TASKS: usize = 16;
    let inner = factory(Sizes {
        history: 2 * BACK,
        ..Sizes::default()
    })
    .await;
    let start = accepted(inner.as_ref(), "start").await;
    let publishers: Vec<_> = (0..TASKS)
        .map(|task| {
            let bus = Arc::clone(&inner);
            tokio::spawn(async move {
                for i in (task..BACK).step_by(TASKS) {
                    // Ten of them, spread over the whole range, are wanted.
                    let conference = if i % 10_000 == 5_000 {
                        "conf-b"
                    } else {
                        "conf-a"
                    };
                    let id = format!("e{i}");
                    let data = json!({
                        "id": id,
                        "event_type": "call.hangup",
                        "payload": {"conference_id": conference},
                    });
                    let envelope = Envelope {
                        id: id.clone(),
                        event_type: "call.hangup".into(),
                        json: data.to_string(),
                        data,
                    };
                    let prepared = converter().prepare(envelope);
                    // Faster than the dispatchers drain: wait for room, as
                    // Telnyx's retry would.
                    while let Err(BusError::Full(_)) = bus.publish(prepared.clone()).await {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.await.unwrap();
    }
    let pages = Arc::new(Pages {
        bus: Arc::clone(&inner),
        reads: AtomicUsize::new(0),
        largest: AtomicUsize::new(0),
    });
    let bus: Arc<dyn EventBus> = pages.clone();
    let wanted = || Filter::new(&[], "conf-b", "", "").unwrap();
    let mut stream = stream::open(&bus, wanted(), Some(&start.to_string()))
        .await
        .expect("the stream resumes");
    let mut got = Vec::new();
    let mut last = start.position;
    for _ in 0..10 {
        let event = tokio::time::timeout(Duration::from_secs(60), stream.next())
            .await
            .expect("the wanted events within 60 s")
            .expect("the stream carries on");
        assert!(event.cursor.position > last, "in acceptance order");
        last = event.cursor.position;
        got.push(event.id.clone());
    }
    got.sort();
    let mut expected: Vec<_> = (0..10)
        .map(|k| format!("e{}", k * 10_000 + 5_000))
        .collect();
    expected.sort();
    assert_eq!(got, expected, "exactly the ten wanted, once each");
    // Then live, with nothing repeated at the seam.
    publish(bus.as_ref(), "live-b", "call.hangup", "conf-b").await;
    assert_eq!(next_id(&mut stream).await, "live-b");
    assert_quiet(&mut stream).await;
    let reads = pages.reads.load(Ordering::Relaxed);
    let largest = pages.largest.load(Ordering::Relaxed);
    assert!(reads >= BACK / PAGE, "read in pages: {reads} reads");
    assert!(largest <= PAGE, "at most one page held at once: {largest}");
}

/// Instantiates the suite for one bus.
/// Recovery asks Telnyx for what failed since the newest accepted event.
pub async fn knows_when_it_last_accepted_an_event(factory: Factory) {
    let bus = factory(Sizes::default()).await;
    assert_eq!(
        bus.last_accepted().await.unwrap(),
        None,
        "nothing accepted yet"
    );
    let before = std::time::SystemTime::now() - Duration::from_secs(1);
    accepted(&*bus, "first").await;
    let at = bus.last_accepted().await.unwrap().expect("one accepted");
    assert!(
        at >= before && at <= std::time::SystemTime::now() + Duration::from_secs(1),
        "{at:?}"
    );
}

/// Two replicas on one Redis: the lease is one holder's at a time, renewed
/// by it, refused to the other, and free again once released or expired.
#[tokio::test]
async fn a_redis_lease_has_one_holder_at_a_time() {
    let server = testkit::redis::RedisServer::start();
    let prefix = format!("lease-{:x}", fastrand::u64(..));
    let connect = || {
        RedisBus::connect(RedisBusSettings {
            url: server.url(),
            prefix: prefix.clone(),
            history: 100,
            dedupe_window: Duration::from_secs(900),
            subscriber_queue: 16,
            connect_wait: Duration::from_secs(10),
            min_replicas_ack: 0,
            ack_timeout: Duration::from_secs(1),
            sentinel: None,
            cluster: false,
        })
    };
    let (a, b) = (connect().await.unwrap(), connect().await.unwrap());
    let ttl = Duration::from_millis(600);
    assert!(a.lease("recovery", "a", ttl).await.unwrap());
    assert!(!b.lease("recovery", "b", ttl).await.unwrap(), "a holds it");
    assert!(a.lease("recovery", "a", ttl).await.unwrap(), "a renews it");
    b.release("recovery", "b").await.unwrap();
    assert!(
        !b.lease("recovery", "b", ttl).await.unwrap(),
        "b cannot release a's lease"
    );
    a.release("recovery", "a").await.unwrap();
    assert!(
        b.lease("recovery", "b", ttl).await.unwrap(),
        "released: b takes it"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(
        a.lease("recovery", "a", ttl).await.unwrap(),
        "b's lease expired"
    );
    let key = format!("{prefix}:lease:recovery");
    assert!(
        server.command(&["GET", &key]).contains('a'),
        "kept under the prefix"
    );
}

macro_rules! conformance {
    ($name:ident, $factory:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn delivers_in_acceptance_order_to_every_subscriber() {
                super::delivers_in_acceptance_order_to_every_subscriber($factory).await;
            }

            #[tokio::test]
            async fn dedupes_an_id_within_the_window() {
                super::dedupes_an_id_within_the_window($factory).await;
            }

            #[tokio::test]
            async fn accepts_an_id_again_after_the_window() {
                super::accepts_an_id_again_after_the_window($factory).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn resumes_with_no_gap_and_no_repeat_at_the_seam() {
                super::resumes_with_no_gap_and_no_repeat_at_the_seam($factory).await;
            }

            #[tokio::test]
            async fn resuming_from_the_newest_event_continues_live() {
                super::resuming_from_the_newest_event_continues_live($factory).await;
            }

            #[tokio::test]
            async fn refuses_cursors_it_cannot_serve() {
                super::refuses_cursors_it_cannot_serve($factory).await;
            }

            #[tokio::test]
            async fn cuts_off_a_slow_subscriber_with_a_cursor_to_resume_from() {
                super::cuts_off_a_slow_subscriber_with_a_cursor_to_resume_from($factory).await;
            }

            #[tokio::test]
            async fn frees_a_subscriber_that_goes_away() {
                super::frees_a_subscriber_that_goes_away($factory).await;
            }

            #[tokio::test]
            async fn filters_live_and_replayed_events() {
                super::filters_live_and_replayed_events($factory).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn resumes_far_back_holding_one_page_at_a_time() {
                super::resumes_far_back_holding_one_page_at_a_time($factory).await;
            }

            #[tokio::test]
            async fn knows_when_it_last_accepted_an_event() {
                super::knows_when_it_last_accepted_an_event($factory).await;
            }

            #[tokio::test]
            async fn hands_over_the_whole_history_oldest_first() {
                super::hands_over_the_whole_history_oldest_first($factory).await;
            }
        }
    };
}

conformance!(memory, memory_bus);
conformance!(redis, redis_bus);
conformance!(redis_cluster, redis_cluster_bus);
