//! When and how long to wait before trying Telnyx again.
//!
//! The policy is Telnyx's own SDKs': retry 408, 409, 429, 5xx and connection
//! failures, twice by default, after `min(0.5 s * 2^n, 8 s)` less up to 25 %
//! jitter, or after what `retry-after-ms` / `Retry-After` asks when that is
//! between 0 and 60 s.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

const BASE_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(8);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub max_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_retries: 2 }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first retry).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(asked) = retry_after {
            return asked;
        }
        let exponential = BASE_DELAY.saturating_mul(1 << retry.min(16)).min(MAX_DELAY);
        exponential.mul_f64(1.0 - 0.25 * fastrand::f64())
    }
}

/// Whether an HTTP status is worth another attempt.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// The wait the server asked for, if it asked for a sensible one.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let asked = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| {
            let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
            if let Ok(seconds) = value.parse::<f64>() {
                return (seconds.is_finite() && seconds >= 0.0)
                    .then(|| Duration::from_secs_f64(seconds));
            }
            let at = httpdate::parse_http_date(value).ok()?;
            Some(
                at.duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO),
            )
        })?;
    (asked <= MAX_RETRY_AFTER).then_some(asked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_is_capped_and_jittered_down() {
        let policy = RetryPolicy::default();
        for retry in 0..10 {
            let full = BASE_DELAY.saturating_mul(1 << retry).min(MAX_DELAY);
            let delay = policy.delay(retry, None);
            assert!(
                delay <= full && delay >= full.mul_f64(0.75),
                "{retry}: {delay:?}"
            );
        }
    }

    #[test]
    fn honours_retry_after_headers_within_a_minute() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
        headers.insert("retry-after-ms", HeaderValue::from_static("600000"));
        assert_eq!(retry_after(&headers), None);
        let mut dated = HeaderMap::new();
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        dated.insert(RETRY_AFTER, HeaderValue::from_str(&soon).unwrap());
        let asked = retry_after(&dated).unwrap();
        assert!(asked <= Duration::from_secs(30) && asked >= Duration::from_secs(28));
    }

    #[test]
    fn retryable_statuses() {
        for status in [408, 409, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(status));
        }
        for status in [400, 401, 403, 404, 422] {
            assert!(!is_retryable_status(status));
        }
    }
}
