//! Cursors: where an event sits in a bus's history, as an opaque resume token.
//!
//! A cursor is the bus's epoch and the event's position. The position orders
//! every event a bus accepted, which is what lets a resumed stream merge its
//! replay with the live feed without a gap or a repeat at the seam. The epoch
//! names one history: the memory bus draws a new one at every start, a Redis bus
//! keeps one in Redis and changes it when Redis lost its data. A cursor from
//! another epoch is refused rather than read against the wrong history, where
//! it would silently skip or repeat events.
//!
//! Text form: `{epoch:x}.{major}-{minor}`, e.g. `5f0c2a9be1d34c77.42-0`. The
//! memory bus counts in `major`; a Redis bus can put its stream id (`ms-seq`)
//! there as it is. Callers treat the text as opaque.

use std::fmt;
use std::str::FromStr;

/// Total order of the events of one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub major: u64,
    pub minor: u64,
}

impl Position {
    pub const fn new(major: u64, minor: u64) -> Self {
        Position { major, minor }
    }
}

/// An event's place in one bus history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub epoch: u64,
    pub position: Position,
}

/// Text that is not a cursor of any bus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a cursor of this gateway")]
pub struct MalformedCursor(pub String);

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:x}.{}-{}",
            self.epoch, self.position.major, self.position.minor
        )
    }
}

impl FromStr for Cursor {
    type Err = MalformedCursor;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || MalformedCursor(text.chars().take(64).collect());
        let (epoch, position) = text.split_once('.').ok_or_else(malformed)?;
        let (major, minor) = position.split_once('-').ok_or_else(malformed)?;
        let digits = |s: &str, radix| {
            (!s.is_empty() && s.len() <= 20 && s.chars().all(|c| c.is_digit(radix)))
                .then(|| u64::from_str_radix(s, radix).ok())
                .flatten()
        };
        Ok(Cursor {
            epoch: digits(epoch, 16).ok_or_else(malformed)?,
            position: Position {
                major: digits(major, 10).ok_or_else(malformed)?,
                minor: digits(minor, 10).ok_or_else(malformed)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_orders() {
        let cursor = Cursor {
            epoch: 0x5f0c_2a9b_e1d3_4c77,
            position: Position::new(1_718_000_000_000, 3),
        };
        let text = cursor.to_string();
        assert_eq!(text, "5f0c2a9be1d34c77.1718000000000-3");
        assert_eq!(text.parse::<Cursor>(), Ok(cursor));
        assert!(Position::new(1, 9) < Position::new(2, 0));
        assert!(Position::new(2, 0) < Position::new(2, 1));
    }

    #[test]
    fn refuses_what_is_not_a_cursor() {
        for text in [
            "",
            "42",
            "x.1-0",
            "a.1",
            "a.-0",
            "a.1-",
            "a.+1-0",
            "a.1-0.",
            "a.99999999999999999999999-0",
            "a.1-0 ",
        ] {
            assert!(text.parse::<Cursor>().is_err(), "{text:?}");
        }
    }
}
