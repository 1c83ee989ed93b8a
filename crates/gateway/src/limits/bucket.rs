//! A token bucket: a caller's requests per second, with a burst.

use std::time::{Duration, Instant};

use crate::auth::policy::Rate;

/// Holds up to `burst` tokens, refilled at `per_second`; each call takes one.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: Rate,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: Rate, now: Instant) -> Self {
        Bucket {
            rate,
            tokens: f64::from(rate.burst),
            at: now,
        }
    }

    /// The rate it was made for (a reloaded policy may change it).
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Takes a token, or says how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens =
            (self.tokens + elapsed * self.rate.per_second).min(f64::from(self.rate.burst));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / self.rate.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::new(
            Rate {
                per_second: 5.0,
                burst: 10,
            },
            start,
        );
        for _ in 0..10 {
            assert!(bucket.take(start).is_ok());
        }
        let wait = bucket.take(start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(200));
        // 200 ms later one token is back, and only one.
        let later = start + Duration::from_millis(200);
        assert!(bucket.take(later).is_ok());
        assert!(bucket.take(later).is_err());
        // Long idle refills to the burst, not beyond.
        let idle = later + Duration::from_secs(60);
        for _ in 0..10 {
            assert!(bucket.take(idle).is_ok());
        }
        assert!(bucket.take(idle).is_err());
    }
}
