//! How long the simulated network takes, and how hard webhook delivery tries.
//!
//! The defaults are short so that a sandbox session feels live; tests shrink
//! them further.

use std::time::Duration;

/// The "a moment later" of every simulated action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// From dial (or transfer) to `call.answered`.
    pub answer_delay: Duration,
    /// From `*.playback.started` / `*.speak.started` to the matching `ended`.
    pub media_duration: Duration,
    /// Delivery attempts per webhook, the first included.
    pub webhook_attempts: u32,
    /// Wait before the first retry; doubled for each retry after it.
    pub webhook_backoff: Duration,
    /// How long the receiver has to answer one delivery.
    pub webhook_timeout: Duration,
    /// How long a held-back (reordered) webhook waits for a successor.
    pub reorder_window: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            answer_delay: Duration::from_millis(50),
            media_duration: Duration::from_millis(200),
            webhook_attempts: 4,
            webhook_backoff: Duration::from_millis(200),
            webhook_timeout: Duration::from_secs(2),
            reorder_window: Duration::from_millis(100),
        }
    }
}
