//! Fan-out: one ordered feed of accepted events in, one bounded queue per
//! subscriber out.
//!
//! Both buses feed the same hub, in acceptance order: the memory bus as it
//! accepts an event, a Redis bus from its one subscription per replica. A single
//! dispatcher task takes events off the feed and offers each to the subscribers
//! that want it, which keeps the order every subscriber sees identical to the
//! acceptance order, and keeps fan-out off the webhook's path: the webhook only
//! waits for a slot in the feed.
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::mpsc;

use super::filter::Filter;
use super::model::Event;

/// How many accepted events may wait for the dispatcher. When it is that far
/// behind, the bus refuses new events (the webhook answers 503, Telnyx retries)
/// rather than buffering without bound.
pub const FEED_CAPACITY: usize = 4096;

/// The fan-out of one bus.
#[derive(Debug)]
pub struct Hub {
    shared: Arc<Shared>,
    feed: mpsc::Sender<Arc<Event>>,
}

#[derive(Debug)]
struct Shared {
    registry: Mutex<Registry>,
    queue_capacity: usize,
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
    /// Starts the dispatcher. Each subscriber may have `queue_capacity`
    /// events waiting before it is cut off.
    pub fn start(queue_capacity: usize) -> Self {
        let shared = Arc::new(Shared {
            registry: Mutex::new(Registry::default()),
            queue_capacity: queue_capacity.max(1),
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
        Hub { shared, feed }
    }

    /// Where the bus puts accepted events, in acceptance order. An event must
    /// be in the bus's history before it is fed, so that a subscriber who
    /// registers and then replays the history misses nothing (see
    /// [`super::stream`]).
    pub fn feed(&self) -> &mpsc::Sender<Arc<Event>> {
        &self.feed
    }

    /// Registers a subscriber: every event fed from now on that `filter`
    /// accepts is queued for it.
    pub fn subscribe(&self, filter: Filter) -> Subscription {
        let (queue, events) = mpsc::channel(self.shared.queue_capacity);
        let watch = Arc::new(Watch {
            filter,
            overflowed: AtomicBool::new(false),
        });
        let mut registry = self.shared.lock();
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
            hub: Arc::downgrade(&self.shared),
        }
    }

    /// How many subscribers are registered.
    pub fn subscriber_count(&self) -> usize {
        self.shared.lock().count
    }

    /// How many events each subscriber may have waiting.
    pub fn queue_capacity(&self) -> usize {
        self.shared.queue_capacity
    }
}

impl Shared {
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
    hub: Weak<Shared>,
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
