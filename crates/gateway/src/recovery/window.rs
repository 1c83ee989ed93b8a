//! How far back recovery looks: pure, so it is tested without a clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Deliveries Telnyx finished (gave up on) in `[since, until]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: SystemTime,
    pub until: SystemTime,
}

/// The window of one recovery run at `now`.
///
/// It starts `margin` before the newest accepted event, so deliveries that
/// were already failing while events still got in, and clocks that disagree
/// (the Redis server's, Telnyx's), are covered; but never more than
/// `lookback` before now. With nothing accepted yet (a fresh in-process bus,
/// an empty Redis) the whole lookback is asked for. It ends now, so pages
/// do not shift while they are read.
pub fn window(
    last_accepted: Option<SystemTime>,
    now: SystemTime,
    margin: Duration,
    lookback: Duration,
) -> Window {
    let oldest = now.checked_sub(lookback).unwrap_or(UNIX_EPOCH);
    let since = last_accepted
        .and_then(|at| at.checked_sub(margin))
        .map_or(oldest, |at| at.max(oldest))
        .min(now);
    Window { since, until: now }
}

/// `at` as Telnyx's filters take it: RFC 3339 in UTC, to the millisecond.
pub fn rfc3339(at: SystemTime) -> String {
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);
    const DAY: Duration = Duration::from_secs(86_400);

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn starts_a_margin_before_the_last_accepted_event() {
        let now = at(1_000_000);
        let w = window(Some(at(999_000)), now, 5 * MIN, DAY);
        assert_eq!(w.since, at(999_000 - 300));
        assert_eq!(w.until, now);
    }

    #[test]
    fn never_looks_further_back_than_the_lookback() {
        let now = at(1_000_000);
        let long_ago = window(Some(at(10)), now, 5 * MIN, DAY);
        assert_eq!(long_ago.since, at(1_000_000 - 86_400));
        let fresh = window(None, now, 5 * MIN, DAY);
        assert_eq!(
            fresh.since,
            at(1_000_000 - 86_400),
            "nothing accepted: the lookback"
        );
    }

    #[test]
    fn a_last_accepted_time_ahead_of_this_clock_still_gives_a_window() {
        let now = at(1_000_000);
        let w = window(Some(at(1_000_900)), now, 5 * MIN, DAY);
        assert_eq!(w.since, now);
        assert_eq!(w.until, now);
    }

    #[test]
    fn formats_as_telnyx_filters_take_it() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(951_782_400_250)),
            "2000-02-29T00:00:00.250Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1_718_000_000_123)),
            "2024-06-10T06:13:20.123Z"
        );
    }
}
