//! How long a subscription waits before reconnecting.

use std::time::Duration;

/// Exponential from `initial`, capped at `maximum`, each delay shortened by a
/// random share of up to `jitter`, so that subscribers cut off together (a
/// replica's shutdown ends all its streams at once) do not all return at
/// once. The count restarts once an event arrives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub maximum: Duration,
    pub multiplier: f64,
    /// Share (0 to 1) of a delay that may be taken off at random.
    pub jitter: f64,
}

impl Default for Backoff {
    /// 0.25 s, doubling, capped at 10 s, up to half taken off: the Python
    /// client's defaults.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(250),
            maximum: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: 0.5,
        }
    }
}

impl Backoff {
    /// The wait before reconnect number `attempt` (1 for the first), with
    /// `random` a number from 0 to 1.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(64);
        let grown = self.initial.as_secs_f64() * self.multiplier.max(1.0).powi(exponent as i32);
        let ceiling = grown.min(self.maximum.as_secs_f64());
        let share = 1.0 - self.jitter.clamp(0.0, 1.0) * random.clamp(0.0, 1.0);
        Duration::from_secs_f64((ceiling * share).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_its_cap_and_jitter_only_shortens() {
        let backoff = Backoff::default();
        let no_jitter: Vec<u128> = (1..=8)
            .map(|attempt| backoff.delay(attempt, 0.0).as_millis())
            .collect();
        assert_eq!(
            no_jitter,
            [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]
        );
        assert_eq!(backoff.delay(1, 1.0), Duration::from_millis(125));
        assert_eq!(backoff.delay(u32::MAX, 1.0), Duration::from_secs(5));
        for _ in 0..100 {
            let delay = backoff.delay(3, fastrand::f64());
            assert!(delay >= Duration::from_millis(500) && delay <= Duration::from_secs(1));
        }
    }
}
