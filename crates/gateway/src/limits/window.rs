//! A sliding window: at most `limit` admissions in any `window`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Telnyx's dial limit is a count over a window, not a rate with a burst, so
/// it is kept as the admission times within the window.
#[derive(Debug)]
pub struct SlidingWindow {
    limit: usize,
    window: Duration,
    admitted: VecDeque<Instant>,
}

impl SlidingWindow {
    pub fn new(limit: usize, window: Duration) -> Self {
        SlidingWindow {
            limit,
            window,
            admitted: VecDeque::with_capacity(limit),
        }
    }

    /// Admits one more now, or says how long until the oldest admission
    /// leaves the window.
    pub fn admit(&mut self, now: Instant) -> Result<(), Duration> {
        while let Some(&oldest) = self.admitted.front() {
            if now.saturating_duration_since(oldest) >= self.window {
                self.admitted.pop_front();
            } else {
                break;
            }
        }
        if self.admitted.len() < self.limit {
            self.admitted.push_back(now);
            return Ok(());
        }
        let oldest = self.admitted.front().copied().unwrap_or(now);
        Err((oldest + self.window).saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_admits_more_than_the_limit_in_any_window() {
        let start = Instant::now();
        let mut window = SlidingWindow::new(150, Duration::from_secs(5));
        for i in 0..150 {
            assert!(window.admit(start + Duration::from_millis(i)).is_ok());
        }
        let wait = window
            .admit(start + Duration::from_millis(150))
            .unwrap_err();
        assert_eq!(wait, Duration::from_millis(4850));
        // At 5 s the first admission leaves: one more fits, not two.
        let later = start + Duration::from_secs(5);
        assert!(window.admit(later).is_ok());
        assert_eq!(window.admit(later).unwrap_err(), Duration::from_millis(1));
    }
}
