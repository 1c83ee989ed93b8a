//! How long the simulated network takes, and how hard webhook delivery tries.
//!
//! The defaults are short so that a sandbox session feels live; tests shrink
//! them further.

use std::time::Duration;

/// The "a moment later" of every simulated action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// From dial (or transfer) to `call.answered`, or to the busy signal of
    /// a number that is busy; also how long answering machine detection and
    /// a SIP REFER take.
    pub answer_delay: Duration,
    /// From `*.playback.started` / `*.speak.started` to the matching `ended`,
    /// per play; also how long an answering machine's greeting lasts.
    pub media_duration: Duration,
    /// How long an outbound call to a number that never answers rings
    /// before it is given up with `hangup_cause` `timeout`. Telnyx waits the
    /// dial's `timeout_secs` (30 s by default); the simulator waits the
    /// shorter of the two, so a sandbox needn't sit through half a minute.
    pub no_answer_timeout: Duration,
    /// Delivery attempts per webhook, the first included.
    pub webhook_attempts: u32,
    /// Wait before the first retry; doubled for each retry after it.
    pub webhook_backoff: Duration,
    /// How long a delivery is retried after its first attempt before it is
    /// given up and recorded as failed, whatever attempts remain (Telnyx's
    /// default is 60 s).
    pub webhook_retry_window: Duration,
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
            no_answer_timeout: Duration::from_secs(5),
            webhook_attempts: 4,
            webhook_backoff: Duration::from_millis(200),
            webhook_retry_window: Duration::from_secs(60),
            webhook_timeout: Duration::from_secs(2),
            reorder_window: Duration::from_millis(100),
        }
    }
}
