//! Who watches which subject, and how a watcher learns that it changed.
//!
//! Each watched subject has one `tokio::sync::watch` channel carrying a
//! version: the number of changes to that subject since the first watcher
//! came. The fold bumps it under its write lock, in the same critical section
//! as the change, so a watcher that reads the version and renders the state
//! under the read lock sees exactly the state of that version. A watch
//! channel holds only the newest value, so a slow reader is never waited for
//! and wakes up to the latest state, the gap in versions saying how many it
//! skipped. Subjects nobody watches cost nothing: the entry goes with the last
//! watcher.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use crate::fold::Subject;

/// The registry of watched subjects.
#[derive(Debug, Default)]
pub struct Watchers {
    subjects: Mutex<HashMap<Subject, watch::Sender<u64>>>,
}

impl Watchers {
    fn lock(&self) -> MutexGuard<'_, HashMap<Subject, watch::Sender<u64>>> {
        self.subjects.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the watchers of these subjects that each changed once.
    pub fn changed(&self, subjects: &[Subject]) {
        if subjects.is_empty() {
            return;
        }
        let registry = self.lock();
        for subject in subjects {
            if let Some(version) = registry.get(subject) {
                version.send_modify(|v| *v += 1);
            }
        }
    }

    /// Tells every watcher that its subject changed (after a rebuild).
    pub fn all_changed(&self) {
        for version in self.lock().values() {
            version.send_modify(|v| *v += 1);
        }
    }

    /// How many subjects are watched.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts watching `subject`.
    pub fn watch(self: &Arc<Self>, subject: Subject) -> Watcher {
        let receiver = self
            .lock()
            .entry(subject.clone())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        Watcher {
            receiver: Some(receiver),
            subject,
            registry: Arc::clone(self),
        }
    }
}

/// One watcher of one subject. Dropping it unregisters it.
#[derive(Debug)]
pub struct Watcher {
    receiver: Option<watch::Receiver<u64>>,
    subject: Subject,
    registry: Arc<Watchers>,
}

impl Watcher {
    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// Waits for a version newer than the last one seen; `false` when the
    /// registry went away.
    pub async fn changed(&mut self) -> bool {
        match &mut self.receiver {
            Some(receiver) => receiver.changed().await.is_ok(),
            None => false,
        }
    }

    /// Marks the newest version seen and returns it. Call it under the
    /// fold's read lock, so that it names the state rendered there.
    pub fn seen(&mut self) -> u64 {
        self.receiver
            .as_mut()
            .map_or(0, |receiver| *receiver.borrow_and_update())
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let mut registry = self.registry.lock();
        if registry
            .get(&self.subject)
            .is_some_and(|version| version.receiver_count() == 0)
        {
            registry.remove(&self.subject);
        }
    }
}
