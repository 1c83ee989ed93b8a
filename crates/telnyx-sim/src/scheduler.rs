//! Runs deferred steps ("a moment later") in deadline order.
//!
//! One task keeps every pending step in a heap, so two steps due at the same
//! instant run in the order they were scheduled: two calls dialled one after
//! the other are answered in that order, every time.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::state::{Backlog, Deferred, World};

struct Pending {
    at: Instant,
    order: u64,
    step: Deferred,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    /// Reversed, so the max-heap pops the earliest deadline first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.order).cmp(&(self.at, self.order))
    }
}

/// Runs steps from `steps` on `world` when due, until cancelled.
pub async fn run(
    world: Arc<Mutex<World>>,
    mut steps: UnboundedReceiver<Deferred>,
    backlog: Arc<Backlog>,
    cancel: CancellationToken,
) {
    let mut pending = BinaryHeap::new();
    let mut order = 0u64;
    loop {
        let next_due = pending.peek().map(|p: &Pending| p.at);
        tokio::select! {
            () = cancel.cancelled() => return,
            step = steps.recv() => match step {
                Some(step) => {
                    order += 1;
                    pending.push(Pending { at: step.at, order, step });
                }
                None => return,
            },
            () = sleep_until(next_due), if next_due.is_some() => {
                let now = Instant::now();
                let mut world = world.lock().unwrap_or_else(|e| e.into_inner());
                while pending.peek().is_some_and(|p| p.at <= now) {
                    if let Some(due) = pending.pop() {
                        Backlog::taken(&backlog.steps);
                        (due.step.run)(&mut world);
                    }
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}
