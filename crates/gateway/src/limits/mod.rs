//! Rate limits: each caller's (from the access policy), the Telnyx
//! account's dial limit that every caller shares, and the account's budget
//! for everything else, as Telnyx's `x-ratelimit-*` headers and 429s tell it
//! (see [`budget`]).
//!
//! With `REDIS_URL` set the counts live in Redis, so every replica draws from
//! the same buckets; otherwise each replica keeps its own. When Redis does not
//! answer, a replica falls back to its own counts (and logs it) rather than
//! refuse every call.

mod bucket;
pub mod budget;
mod reported;
mod shared;
mod window;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use bucket::Bucket;
pub use budget::Budget;
pub use reported::Reported;
pub use shared::Shared;
pub use window::SlidingWindow;

use crate::auth::policy::{Rate, Rules};

/// The operation Telnyx's account-wide dial limit applies to; every other
/// one draws from the budget Telnyx's `x-ratelimit-*` headers describe.
pub const DIAL: &str = "Dial";

/// Telnyx's dial limit for an account: about 30 dials a second over a 5 s
/// window, that is at most 150 in any 5 s.
pub const DIALS_PER_WINDOW: usize = 150;
/// After Redis fails to answer, how long the replica counts alone before it
/// asks Redis again: a Redis that is down must not add its timeout to every call.
const REDIS_BACKOFF: Duration = Duration::from_secs(5);

/// The window of [`DIALS_PER_WINDOW`], held 100 ms longer than Telnyx's so
/// that network jitter between two dials never lands 151 in Telnyx's window.
pub const DIAL_WINDOW: Duration = Duration::from_millis(5_100);

/// Every limit the gateway applies before a call reaches Telnyx.
#[derive(Debug)]
pub struct Limits {
    shared: Option<Shared>,
    /// Until when Redis is left alone after it failed.
    redis_down_until: Mutex<Option<Instant>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    dials: Mutex<SlidingWindow>,
    budget: Mutex<Budget>,
}

/// A call refused by a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    /// How long until the call would be admitted.
    pub retry_after: Duration,
}

impl Limits {
    /// Limits kept in Redis when `shared` is given, in this process otherwise.
    pub fn new(shared: Option<Shared>) -> Self {
        Limits {
            shared,
            redis_down_until: Mutex::new(None),
            buckets: Mutex::new(HashMap::new()),
            dials: Mutex::new(SlidingWindow::new(DIALS_PER_WINDOW, DIAL_WINDOW)),
            budget: Mutex::new(Budget::default()),
        }
    }

    /// Takes one call of `caller` to `method` from each of its buckets: its
    /// overall `rate`, and each `rates` entry whose patterns match `method`.
    pub async fn check_caller(
        &self,
        caller: &str,
        method: &str,
        rules: &Rules,
    ) -> Result<(), Limited> {
        let mut buckets: Vec<(String, Rate)> = Vec::new();
        if let Some(rate) = rules.rate {
            buckets.push((format!("caller:{caller}"), rate));
        }
        for (i, extra) in rules.rates.iter().enumerate() {
            if extra.applies_to(method) {
                buckets.push((format!("caller:{caller}:rates{i}"), extra.rate()));
            }
        }
        let mut longest: Option<Duration> = None;
        for (name, rate) in buckets {
            if let Err(wait) = self.take(&name, rate).await {
                longest = Some(longest.map_or(wait, |l| l.max(wait)));
            }
        }
        longest.map_or(Ok(()), |retry_after| Err(Limited { retry_after }))
    }

    /// Waits until the account may dial once more, or refuses at once when
    /// that moment is after `deadline`.
    pub async fn admit_dial(&self, deadline: tokio::time::Instant) -> Result<(), Limited> {
        loop {
            let Err(wait) = self.admit("telnyx:dial").await else {
                return Ok(());
            };
            if tokio::time::Instant::now() + wait > deadline {
                return Err(Limited { retry_after: wait });
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Telnyx said the account has no requests (but dials) for `wait`: this
    /// replica holds its calls from now, and tells the others through Redis
    /// (in the background: the answer that said so is not held up).
    pub fn exhaust(&self, wait: Duration) {
        self.budget
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .exhaust(Instant::now(), wait);
        if let Some(shared) = self.redis().cloned()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(error) = shared.exhaust(wait).await {
                    tracing::warn!(%error, "cannot share the Telnyx account's reset through Redis");
                }
            });
        }
    }

    /// Waits until the account has requests again (for any call but Dial),
    /// or refuses at once when that is after `deadline`.
    pub async fn admit_account(&self, deadline: tokio::time::Instant) -> Result<(), Limited> {
        loop {
            let now = Instant::now();
            let stale = self.lock_budget().stale(now);
            if stale && let Some(shared) = self.redis() {
                match shared.reset_left().await {
                    Ok(left) => self.lock_budget().learned(Instant::now(), left),
                    Err(error) => self.redis_failed(&error, "the account's budget is"),
                }
            }
            let Some(wait) = self.lock_budget().wait(Instant::now()) else {
                return Ok(());
            };
            if tokio::time::Instant::now() + wait > deadline {
                return Err(Limited { retry_after: wait });
            }
            tokio::time::sleep(wait).await;
        }
    }

    fn lock_budget(&self) -> std::sync::MutexGuard<'_, Budget> {
        self.budget.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Redis, unless there is none or it failed within [`REDIS_BACKOFF`].
    fn redis(&self) -> Option<&Shared> {
        let until = *self
            .redis_down_until
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match until {
            Some(until) if Instant::now() < until => None,
            _ => self.shared.as_ref(),
        }
    }

    fn redis_failed(&self, error: &redis::RedisError, what: &str) {
        tracing::warn!(
            %error,
            "Redis does not answer; {what} this replica's alone for {} s",
            REDIS_BACKOFF.as_secs()
        );
        *self
            .redis_down_until
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + REDIS_BACKOFF);
    }

    async fn take(&self, name: &str, rate: Rate) -> Result<(), Duration> {
        if let Some(shared) = self.redis() {
            match shared.take(name, rate).await {
                Ok(taken) => return taken,
                Err(error) => self.redis_failed(&error, "caller rate limits are"),
            }
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets
            .entry(name.to_owned())
            .or_insert_with(|| Bucket::new(rate, now));
        if bucket.rate() != rate {
            *bucket = Bucket::new(rate, now);
        }
        bucket.take(now)
    }

    async fn admit(&self, name: &str) -> Result<(), Duration> {
        if let Some(shared) = self.redis() {
            match shared.admit(name, DIALS_PER_WINDOW, DIAL_WINDOW).await {
                Ok(admitted) => return admitted,
                Err(error) => self.redis_failed(&error, "dial limits are"),
            }
        }
        self.dials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::policy::{Format, Policy};

    #[tokio::test]
    async fn without_redis_answering_the_replica_limits_alone() {
        // Nothing listens on port 1: every Redis call fails at once.
        let shared = Shared::connect("redis://127.0.0.1:1/0", "test").unwrap();
        let limits = Limits::new(Some(shared));
        let text = "callers:\n  a:\n    allow: [\"*\"]\n    rate: {per_second: 1, burst: 2}\n";
        let methods = ["x.Y/Z".to_owned()];
        let policy = Policy::parse(text, Format::Yaml, "p", &methods).unwrap();
        let rules = policy.rules("a").unwrap();
        assert!(limits.check_caller("a", "x.Y/Z", &rules).await.is_ok());
        assert!(
            limits.redis().is_none(),
            "Redis is left alone after failing"
        );
        assert!(limits.check_caller("a", "x.Y/Z", &rules).await.is_ok());
        let limited = limits.check_caller("a", "x.Y/Z", &rules).await.unwrap_err();
        assert!(limited.retry_after <= Duration::from_secs(1));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        assert!(limits.admit_dial(deadline).await.is_ok());
    }

    #[tokio::test]
    async fn a_dial_over_the_limit_is_refused_when_its_deadline_cannot_wait() {
        let limits = Limits::new(None);
        let soon = tokio::time::Instant::now() + Duration::from_millis(100);
        for _ in 0..DIALS_PER_WINDOW {
            limits.admit_dial(soon).await.unwrap();
        }
        let limited = limits.admit_dial(soon).await.unwrap_err();
        assert!(limited.retry_after > Duration::from_secs(4), "{limited:?}");
    }

    #[tokio::test]
    async fn calls_wait_for_the_accounts_reset_within_their_deadline() {
        let limits = Limits::new(None);
        let soon = tokio::time::Instant::now() + Duration::from_millis(100);
        assert!(limits.admit_account(soon).await.is_ok());
        limits.exhaust(Duration::from_millis(300));
        let limited = limits.admit_account(soon).await.unwrap_err();
        assert!(
            limited.retry_after > Duration::from_millis(200),
            "{limited:?}"
        );
        let later = tokio::time::Instant::now() + Duration::from_secs(2);
        let started = Instant::now();
        assert!(limits.admit_account(later).await.is_ok());
        assert!(started.elapsed() >= Duration::from_millis(250));
    }
}
