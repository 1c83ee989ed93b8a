//! The account's budget for every Telnyx call but Dial: exhausted when
//! Telnyx said no requests remain (or answered 429), until the reset it named.
//!
//! With Redis, the replica learns of another replica's exhaustion by reading
//! the shared reset at most once per [`SHARED_READ_EVERY`]: calls in between
//! use what was read last, so a call while nothing is exhausted costs no
//! Redis round-trip except the one that refreshes the replica's copy.

use std::time::{Duration, Instant};

/// How long a replica trusts what it last read of the shared reset.
pub const SHARED_READ_EVERY: Duration = Duration::from_millis(250);

/// Until when the account has no requests left, as far as this replica knows.
#[derive(Debug, Default, Clone, Copy)]
pub struct Budget {
    until: Option<Instant>,
    read_at: Option<Instant>,
}

impl Budget {
    /// Telnyx said the account has no requests for `wait` from `now`. An
    /// earlier reset never shortens a later one already known.
    pub fn exhaust(&mut self, now: Instant, wait: Duration) {
        let until = now + wait;
        if self.until.is_none_or(|known| known < until) {
            self.until = Some(until);
        }
    }

    /// How long a call at `now` must wait, if at all.
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        self.until
            .map(|until| until.saturating_duration_since(now))
            .filter(|wait| !wait.is_zero())
    }

    /// Whether the shared reset should be read again before sending.
    pub fn stale(&self, now: Instant) -> bool {
        self.read_at
            .is_none_or(|at| now.saturating_duration_since(at) >= SHARED_READ_EVERY)
    }

    /// The shared reset was read at `now`: `left` until it, or none pending.
    pub fn learned(&mut self, now: Instant, left: Option<Duration>) {
        self.read_at = Some(now);
        if let Some(left) = left {
            self.exhaust(now, left);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_wait_until_the_reset_and_later_resets_win() {
        let now = Instant::now();
        let mut budget = Budget::default();
        assert_eq!(budget.wait(now), None);
        budget.exhaust(now, Duration::from_secs(2));
        assert_eq!(budget.wait(now), Some(Duration::from_secs(2)));
        budget.exhaust(now, Duration::from_secs(1));
        assert_eq!(
            budget.wait(now),
            Some(Duration::from_secs(2)),
            "not shortened"
        );
        assert_eq!(
            budget.wait(now + Duration::from_millis(1500)),
            Some(Duration::from_millis(500))
        );
        assert_eq!(budget.wait(now + Duration::from_secs(2)), None);
    }

    #[test]
    fn the_shared_reset_is_read_at_most_every_quarter_second() {
        let now = Instant::now();
        let mut budget = Budget::default();
        assert!(budget.stale(now));
        budget.learned(now, None);
        assert!(!budget.stale(now + Duration::from_millis(249)));
        assert!(budget.stale(now + SHARED_READ_EVERY));
        budget.learned(now, Some(Duration::from_secs(1)));
        assert_eq!(budget.wait(now), Some(Duration::from_secs(1)));
    }
}
