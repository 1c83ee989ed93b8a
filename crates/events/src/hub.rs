//! Fan-out: one ordered feed of accepted events in, one bounded queue per
//! subscriber out.
//!
//! Both buses feed the same hub, in acceptance order: the memory bus as it
//! accepts an event, a Redis bus from its one subscription per replica.
//! Subscribers are spread over shards, one per core, each with a dispatcher
//! task that takes every event off its own copy of the feed, in order, and
//! offers it to the shard's subscribers that want it. The order each
//! subscriber sees is therefore the acceptance order; one event reaches many
//! subscribers on all cores at once rather than one after the other; and
//! fan-out stays off the webhook's path: the webhook only waits for a slot in
//! the feed.
//!
//! Offering never waits. A subscriber whose queue is full is removed on the
//! spot and told so when it has read what its queue still holds; one slow
//! reader therefore costs the others nothing. Subscribers are indexed by the
//! most selective id of their filter (conference, then call, then queue), so an
//! event is checked only against those that name its ids, plus those that name
//! none.
//!
//! Per subscriber the hub holds a small entry and a bounded channel whose
//! slots are pointers to shared events; nothing is copied per subscriber.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::mpsc;

use super::filter::Filter;
use super::model::Event;

/// How many accepted events may wait for a shard's dispatcher. When one is that far
/// behind, the bus refuses new events (the webhook answers 503, Telnyx retries)
/// rather than buffering without bound.
pub const FEED_CAPACITY: usize = 4096;

/// The fan-out of one bus.
#[derive(Debug)]
pub struct Hub {
    shards: Vec<Arc<Shard>>,
    feed: Feed,
    queue_capacity: usize,
    next_shard: AtomicUsize,
}

/// One shard: its subscribers, served by its own dispatcher.
#[derive(Debug)]
struct Shard {
    registry: Mutex<Registry>,
}

/// Where the bus puts accepted events: one channel per shard, written
/// together so that every shard sees every event in the same order.
#[derive(Debug)]
pub struct Feed {
    shards: Vec<mpsc::Sender<Arc<Event>>>,
}

/// Room for one event in every shard's feed, reserved in advance so that an
/// event goes to all shards or to none.
#[derive(Debug)]
pub struct FeedPermit<'a> {
    permits: Vec<mpsc::Permit<'a, Arc<Event>>>,
}

/// The feed cannot take an event now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("{FEED_CAPACITY} accepted events are waiting for delivery")]
    Full,
    #[error("the event hub stopped")]
    Stopped,
}

impl Feed {
    /// Reserves room in every shard without waiting. The bus calls it under
    /// the lock that orders its events, then sends with the permit.
    pub fn try_reserve(&self) -> Result<FeedPermit<'_>, FeedError> {
        let permits = self
            .shards
            .iter()
            .map(|shard| {
                shard.try_reserve().map_err(|error| match error {
                    mpsc::error::TrySendError::Full(()) => FeedError::Full,
                    mpsc::error::TrySendError::Closed(()) => FeedError::Stopped,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(FeedPermit { permits })
    }

    /// Sends one event, waiting for room. For a single feeding task (a Redis
    /// bus's subscription), which keeps the order.
    pub async fn send(&self, event: Arc<Event>) -> Result<(), FeedError> {
        for shard in &self.shards {
            shard
                .send(Arc::clone(&event))
                .await
                .map_err(|_| FeedError::Stopped)?;
        }
        Ok(())
    }
}

impl FeedPermit<'_> {
    pub fn send(self, event: Arc<Event>) {
        for permit in self.permits {
            permit.send(Arc::clone(&event));
        }
    }
}

#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    count: usize,
    broad: Bucket,
    by_conference: HashMap<String, Bucket>,
    by_call: HashMap<String, Bucket>,
    by_queue: HashMap<String, Bucket>,
}

type Bucket = HashMap<u64, Entry>;

#[derive(Debug)]
struct Entry {
    watch: Arc<Watch>,
    queue: mpsc::Sender<Arc<Event>>,
}

/// What the hub and the subscriber share.
#[derive(Debug)]
struct Watch {
    filter: Filter,
    /// Set by the dispatcher when it dropped the subscriber for a full queue.
    overflowed: AtomicBool,
}

/// Where a subscriber is indexed: by the most selective id of its filter.
enum Slot<'a> {
    Broad,
    Conference(&'a str),
    Call(&'a str),
    Queue(&'a str),
}

impl<'a> Slot<'a> {
    fn of(filter: &'a Filter) -> Self {
        if let Some(id) = &filter.conference_id {
            Slot::Conference(id)
        } else if let Some(id) = &filter.call_control_id {
            Slot::Call(id)
        } else if let Some(name) = &filter.queue {
            Slot::Queue(name)
        } else {
            Slot::Broad
        }
    }
}

impl Hub {
    /// Starts one shard per core. Each subscriber may have `queue_capacity`
    /// events waiting before it is cut off.
    pub fn start(queue_capacity: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_shards(queue_capacity, cores)
    }

    /// Starts `shards` dispatchers.
    pub fn with_shards(queue_capacity: usize, shards: usize) -> Self {
        let queue_capacity = queue_capacity.max(1);
        let mut senders = Vec::new();
        let mut registries = Vec::new();
        for _ in 0..shards.max(1) {
            let shared = Arc::new(Shard {
                registry: Mutex::new(Registry::default()),
            });
            let (feed, mut events) = mpsc::channel::<Arc<Event>>(FEED_CAPACITY);
            let dispatcher = Arc::clone(&shared);
            tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    dispatcher.dispatch(&event);
                }
                // The bus is gone: dropping the registry ends every subscription.
                dispatcher.lock().clear();
            });
            senders.push(feed);
            registries.push(shared);
        }
        Hub {
            shards: registries,
            feed: Feed { shards: senders },
            queue_capacity,
            next_shard: AtomicUsize::new(0),
        }
    }

    /// Where the bus puts accepted events, in acceptance order. An event must
    /// be in the bus's history before it is fed, so that a subscriber who
    /// registers and then replays the history misses nothing (see
    /// [`super::stream`]).
    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    /// Registers a subscriber: every event fed from now on that `filter`
    /// accepts is queued for it.
    pub fn subscribe(&self, filter: Filter) -> Subscription {
        let (queue, events) = mpsc::channel(self.queue_capacity);
        let watch = Arc::new(Watch {
            filter,
            overflowed: AtomicBool::new(false),
        });
        // Spread subscribers evenly: the shards take them in turn.
        let turn = self.next_shard.fetch_add(1, Ordering::Relaxed);
        let shard = &self.shards[turn % self.shards.len()];
        let mut registry = shard.lock();
        let id = registry.next_id;
        registry.next_id += 1;
        registry.count += 1;
        let entry = Entry {
            watch: Arc::clone(&watch),
            queue,
        };
        registry.bucket(Slot::of(&watch.filter)).insert(id, entry);
        Subscription {
            id,
            events,
            watch,
            hub: Arc::downgrade(shard),
        }
    }

    /// How many subscribers are registered.
    pub fn subscriber_count(&self) -> usize {
        self.shards.iter().map(|shard| shard.lock().count).sum()
    }

    /// How many events each subscriber may have waiting.
    pub fn queue_capacity(&self) -> usize {
        self.queue_capacity
    }
}

impl Shard {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic elsewhere while holding the lock leaves the registry usable.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn dispatch(&self, event: &Arc<Event>) {
        let mut registry = self.lock();
        let registry = &mut *registry;
        let mut removed = offer(&mut registry.broad, event);
        for (index, key) in [
            (&mut registry.by_conference, &event.keys.conference_id),
            (&mut registry.by_call, &event.keys.call_control_id),
            (&mut registry.by_queue, &event.keys.queue),
        ] {
            if key.is_empty() {
                continue;
            }
            if let Some(bucket) = index.get_mut(key.as_str()) {
                removed += offer(bucket, event);
                if bucket.is_empty() {
                    index.remove(key.as_str());
                }
            }
        }
        registry.count -= removed;
    }
}

/// Offers the event to every subscriber of the bucket that wants it; drops
/// those whose queue is full or whose stream is gone. Returns how many.
fn offer(bucket: &mut Bucket, event: &Arc<Event>) -> usize {
    let before = bucket.len();
    bucket.retain(|_, entry| {
        if !entry.watch.filter.matches(event) {
            return true;
        }
        match entry.queue.try_send(Arc::clone(event)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                entry.watch.overflowed.store(true, Ordering::Release);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    });
    before - bucket.len()
}

impl Registry {
    fn bucket(&mut self, slot: Slot<'_>) -> &mut Bucket {
        let (index, key) = match slot {
            Slot::Broad => return &mut self.broad,
            Slot::Conference(key) => (&mut self.by_conference, key),
            Slot::Call(key) => (&mut self.by_call, key),
            Slot::Queue(key) => (&mut self.by_queue, key),
        };
        index.entry(key.to_owned()).or_default()
    }

    fn remove(&mut self, slot: Slot<'_>, id: u64) {
        let (index, key) = match slot {
            Slot::Broad => {
                if self.broad.remove(&id).is_some() {
                    self.count -= 1;
                }
                return;
            }
            Slot::Conference(key) => (&mut self.by_conference, key),
            Slot::Call(key) => (&mut self.by_call, key),
            Slot::Queue(key) => (&mut self.by_queue, key),
        };
        if let Some(bucket) = index.get_mut(key) {
            if bucket.remove(&id).is_some() {
                self.count -= 1;
            }
            if bucket.is_empty() {
                index.remove(key);
            }
        }
    }

    fn clear(&mut self) {
        *self = Registry::default();
    }
}

/// Why a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// Its queue overflowed: the subscriber read too slowly.
    Overflowed,
    /// The bus stopped.
    Stopped,
}

/// A registered subscriber's end of the hub. Dropping it unregisters it and
/// frees its queue.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    events: mpsc::Receiver<Arc<Event>>,
    watch: Arc<Watch>,
    hub: Weak<Shard>,
}

impl Subscription {
    /// The next event for this subscriber, in acceptance order. After the
    /// hub dropped the subscriber, the events still queued come first.
    pub async fn recv(&mut self) -> Result<Arc<Event>, Lost> {
        match self.events.recv().await {
            Some(event) => Ok(event),
            None if self.watch.overflowed.load(Ordering::Acquire) => Err(Lost::Overflowed),
            None => Err(Lost::Stopped),
        }
    }

    pub fn filter(&self) -> &Filter {
        &self.watch.filter
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(shared) = self.hub.upgrade() {
            shared.lock().remove(Slot::of(&self.watch.filter), self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt as _;

    use super::*;
    use crate::cursor::{Cursor, Position};
    use crate::model::Keys;

    fn event(sequence: u64) -> Arc<Event> {
        Arc::new(Event {
            id: format!("e{sequence}"),
            event_type: "call.hangup".into(),
            keys: Keys::default(),
            cursor: Cursor {
                epoch: 1,
                position: Position::new(sequence, 0),
            },
            encoded: Default::default(),
        })
    }

    /// Feeding (what a webhook waits for) never evaluates a filter: on a
    /// single-threaded runtime, every event is fed before any dispatcher has
    /// run, however many and however large the subscribers' filters are; the
    /// filters are evaluated afterwards, by the dispatchers.
    #[tokio::test]
    async fn feeding_evaluates_no_filter() {
        let hub = Hub::with_shards(64, 2);
        let patterns: Vec<String> = (0..64)
            .map(|i| format!("conference.custom{i}.*"))
            .chain(["call.hangup".to_owned()])
            .collect();
        let mut subscriptions: Vec<Subscription> = (0..500)
            .map(|_| hub.subscribe(Filter::new(&patterns, "", "", "").unwrap()))
            .collect();
        for sequence in 1..=32 {
            let permit = hub.feed().try_reserve().expect("room in the feed");
            permit.send(event(sequence));
        }
        // Nothing delivered yet: no filter was checked while feeding.
        for subscription in &mut subscriptions {
            assert!(subscription.recv().now_or_never().is_none());
        }
        // The dispatchers then match and deliver everything, in order.
        for subscription in &mut subscriptions {
            for sequence in 1..=32 {
                let received = subscription.recv().await.unwrap();
                assert_eq!(received.cursor.position, Position::new(sequence, 0));
            }
        }
    }
}
