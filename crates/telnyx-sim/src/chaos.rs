//! Misbehaviour on purpose, so clients meet in tests what Telnyx does on a
//! bad day: webhooks duplicated, delayed and out of order, and REST calls
//! refused with 429 or 5xx.
//!
//! Every decision comes from a generator seeded with [`Chaos::seed`], so a
//! failing test replays exactly. REST failures are decided before the
//! request is acted on: a client that retries never makes anything happen
//! twice, as with the real API.

use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;

use super::error::ApiError;

/// How badly the simulator behaves. The default behaves perfectly.
#[derive(Debug, Clone, PartialEq)]
pub struct Chaos {
    /// Seeds every random decision below.
    pub seed: u64,
    /// Share (0 to 1) of webhooks delivered twice (same event `id`).
    pub duplicate_webhooks: f64,
    /// Share (0 to 1) of webhooks held back and delivered after the next one.
    pub reorder_webhooks: f64,
    /// Each webhook waits a random time up to this before it is sent.
    pub max_webhook_delay: Duration,
    /// Share (0 to 1) of REST calls answered 429 with `Retry-After`.
    pub rate_limited_requests: f64,
    /// Share (0 to 1) of REST calls answered 500 or 503.
    pub failed_requests: f64,
    /// The wait a 429 asks for.
    pub retry_after: Duration,
}

impl Default for Chaos {
    fn default() -> Self {
        Chaos {
            seed: 0,
            duplicate_webhooks: 0.0,
            reorder_webhooks: 0.0,
            max_webhook_delay: Duration::ZERO,
            rate_limited_requests: 0.0,
            failed_requests: 0.0,
            retry_after: Duration::from_secs(1),
        }
    }
}

/// A [`Chaos`] setting that makes no sense.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChaosError {
    #[error("{name} must be a share between 0 and 1, got {value}")]
    NotAShare { name: &'static str, value: f64 },
    #[error("rate_limited_requests and failed_requests add up to more than 1")]
    SharesAboveOne,
}

impl Chaos {
    /// Checks that every share is between 0 and 1.
    pub fn validate(&self) -> Result<(), ChaosError> {
        let shares = [
            ("duplicate_webhooks", self.duplicate_webhooks),
            ("reorder_webhooks", self.reorder_webhooks),
            ("rate_limited_requests", self.rate_limited_requests),
            ("failed_requests", self.failed_requests),
        ];
        for (name, value) in shares {
            if !(0.0..=1.0).contains(&value) {
                return Err(ChaosError::NotAShare { name, value });
            }
        }
        if self.rate_limited_requests + self.failed_requests > 1.0 {
            return Err(ChaosError::SharesAboveOne);
        }
        Ok(())
    }
}

/// What happens to one webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPlan {
    pub delay: Duration,
    pub duplicate: bool,
    pub hold_back: bool,
}

/// The seeded decisions. REST and webhooks draw from separate generators, so
/// the number of requests never shifts the webhook decisions and vice versa.
#[derive(Debug)]
pub struct Dice {
    chaos: Chaos,
    requests: Mutex<fastrand::Rng>,
    webhooks: Mutex<fastrand::Rng>,
}

impl Dice {
    pub fn new(chaos: Chaos) -> Self {
        let requests = fastrand::Rng::with_seed(chaos.seed);
        let webhooks = fastrand::Rng::with_seed(chaos.seed ^ 0x9e37_79b9_7f4a_7c15);
        Dice {
            chaos,
            requests: Mutex::new(requests),
            webhooks: Mutex::new(webhooks),
        }
    }

    /// The error a REST call is refused with, if this one is.
    pub fn request_failure(&self) -> Option<ApiError> {
        let (roll, pick) = {
            let mut rng = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            (rng.f64(), rng.bool())
        };
        let rate_limited = self.chaos.rate_limited_requests;
        if roll < rate_limited {
            Some(ApiError::rate_limited(self.chaos.retry_after))
        } else if roll < rate_limited + self.chaos.failed_requests {
            let status = if pick {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            Some(ApiError::server_error(status))
        } else {
            None
        }
    }

    /// How the next webhook is delivered. Always draws the same numbers, so
    /// changing one share leaves the other decisions of a seed unchanged.
    pub fn delivery(&self) -> DeliveryPlan {
        let mut rng = self.webhooks.lock().unwrap_or_else(|e| e.into_inner());
        let (delay, duplicate, hold_back) = (rng.f64(), rng.f64(), rng.f64());
        DeliveryPlan {
            delay: self.chaos.max_webhook_delay.mul_f64(delay),
            duplicate: duplicate < self.chaos.duplicate_webhooks,
            hold_back: hold_back < self.chaos.reorder_webhooks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_never_misbehaves() {
        let dice = Dice::new(Chaos::default());
        for _ in 0..1000 {
            assert!(dice.request_failure().is_none());
            let plan = dice.delivery();
            assert!(!plan.duplicate && !plan.hold_back && plan.delay.is_zero());
        }
    }

    #[test]
    fn shares_are_met_and_replay_under_a_seed() {
        let chaos = Chaos {
            seed: 7,
            duplicate_webhooks: 0.25,
            rate_limited_requests: 0.1,
            failed_requests: 0.1,
            ..Chaos::default()
        };
        let run = || {
            let dice = Dice::new(chaos.clone());
            let duplicates = (0..4000).filter(|_| dice.delivery().duplicate).count();
            let failures: Vec<u16> = (0..4000)
                .filter_map(|_| dice.request_failure().map(|e| e.status.as_u16()))
                .collect();
            (duplicates, failures)
        };
        let (duplicates, failures) = run();
        assert!((900..1100).contains(&duplicates), "{duplicates}");
        let limited = failures.iter().filter(|s| **s == 429).count();
        assert!((320..480).contains(&limited), "{limited}");
        assert!((650..950).contains(&failures.len()), "{}", failures.len());
        assert_eq!(run(), (duplicates, failures));
    }

    #[test]
    fn nonsense_settings_are_refused() {
        let bad = Chaos {
            duplicate_webhooks: 1.5,
            ..Chaos::default()
        };
        assert!(matches!(bad.validate(), Err(ChaosError::NotAShare { .. })));
        let too_much = Chaos {
            rate_limited_requests: 0.6,
            failed_requests: 0.6,
            ..Chaos::default()
        };
        assert_eq!(too_much.validate(), Err(ChaosError::SharesAboveOne));
        assert_eq!(Chaos::default().validate(), Ok(()));
    }
}
