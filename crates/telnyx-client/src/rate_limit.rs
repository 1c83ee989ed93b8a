//! What Telnyx says about the account's remaining requests: the
//! `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset`
//! headers of every answer, and a 429's `Retry-After`.
//!
//! `x-ratelimit-reset` is read as seconds until the window resets; a value
//! above [`UNIX_TIME_FLOOR`] cannot be a delay of a rate window (it would be
//! more than 31 years) and is read as the Unix time of the reset instead.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

/// Reset values above this (seconds) are Unix timestamps, not delays.
pub const UNIX_TIME_FLOOR: u64 = 1_000_000_000;

/// The longest the account is held exhausted on Telnyx's word: longer values
/// are capped, as `Retry-After` is (see the retry policy).
pub const MAX_EXHAUSTION: Duration = Duration::from_secs(60);

/// The rate-limit headers of one answer (all optional), its status and the
/// wait a 429 asked for. `Copy`, so reporting it allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimitState {
    pub status: u16,
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Until the window resets, from `x-ratelimit-reset`.
    pub reset: Option<Duration>,
    /// A 429's `Retry-After` / `retry-after-ms`.
    pub retry_after: Option<Duration>,
}

impl RateLimitState {
    /// Reads the headers of an answer; `None` when it is neither a 429 nor
    /// carries any of the headers (the common case, which costs three
    /// header look-ups and nothing else).
    pub fn read(
        status: u16,
        headers: &HeaderMap,
        retry_after: Option<Duration>,
    ) -> Option<RateLimitState> {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let limit = number("x-ratelimit-limit");
        let remaining = number("x-ratelimit-remaining");
        let reset = number("x-ratelimit-reset").map(reset_delay);
        if status != 429 && limit.is_none() && remaining.is_none() && reset.is_none() {
            return None;
        }
        Some(RateLimitState {
            status,
            limit,
            remaining,
            reset,
            retry_after: if status == 429 { retry_after } else { None },
        })
    }

    /// How long the account has no requests left: until the reset when
    /// Telnyx says none remain, or what a 429 asked (its `Retry-After`, else
    /// the reset). `None` when requests remain or Telnyx did not say when.
    pub fn exhausted_for(&self) -> Option<Duration> {
        let wait = if self.status == 429 {
            self.retry_after.or(self.reset)?
        } else if self.remaining == Some(0) {
            self.reset?
        } else {
            return None;
        };
        Some(wait.min(MAX_EXHAUSTION))
    }
}

fn reset_delay(value: u64) -> Duration {
    if value > UNIX_TIME_FLOOR {
        let at = UNIX_EPOCH + Duration::from_secs(value);
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    } else {
        Duration::from_secs(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn answers_without_the_headers_report_nothing() {
        assert_eq!(RateLimitState::read(200, &HeaderMap::new(), None), None);
        assert_eq!(
            RateLimitState::read(404, &headers(&[("x-other", "1")]), None),
            None
        );
    }

    #[test]
    fn none_remaining_exhausts_the_account_until_the_reset() {
        let read = |pairs| RateLimitState::read(200, &headers(pairs), None).unwrap();
        let state = read(&[
            ("x-ratelimit-limit", "100"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "2"),
        ]);
        assert_eq!(state.limit, Some(100));
        assert_eq!(state.exhausted_for(), Some(Duration::from_secs(2)));
        let state = read(&[("x-ratelimit-remaining", "3"), ("x-ratelimit-reset", "2")]);
        assert_eq!(state.exhausted_for(), None);
        // Without a reset there is nothing to wait for.
        assert_eq!(
            read(&[("x-ratelimit-remaining", "0")]).exhausted_for(),
            None
        );
        // Absurd resets are capped.
        let state = read(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "86400"),
        ]);
        assert_eq!(state.exhausted_for(), Some(MAX_EXHAUSTION));
    }

    #[test]
    fn large_resets_are_unix_timestamps() {
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 10;
        let state = RateLimitState::read(
            200,
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &at.to_string()),
            ]),
            None,
        )
        .unwrap();
        let wait = state.exhausted_for().unwrap();
        assert!(
            wait <= Duration::from_secs(10) && wait >= Duration::from_secs(8),
            "{wait:?}"
        );
        assert_eq!(
            reset_delay(UNIX_TIME_FLOOR + 1),
            Duration::ZERO,
            "a past instant"
        );
    }

    #[test]
    fn a_429_exhausts_the_account_for_its_retry_after() {
        let state =
            RateLimitState::read(429, &HeaderMap::new(), Some(Duration::from_secs(3))).unwrap();
        assert_eq!(state.exhausted_for(), Some(Duration::from_secs(3)));
        let state =
            RateLimitState::read(429, &headers(&[("x-ratelimit-reset", "4")]), None).unwrap();
        assert_eq!(state.exhausted_for(), Some(Duration::from_secs(4)));
        assert_eq!(
            RateLimitState::read(429, &HeaderMap::new(), None)
                .unwrap()
                .exhausted_for(),
            None
        );
    }
}
