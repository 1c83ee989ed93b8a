//! Last-writer-wins registers: why the fold does not care in which order
//! events arrive, nor how often.
//!
//! Every value the fold keeps is written by events, and an event's write
//! carries a [`Stamp`]: when the event occurred, a rank for what it means
//! (`left` outranks `joined` at the same millisecond), and a number drawn
//! from the event's id to break the remaining ties. A register keeps the
//! write with the greatest stamp. Taking a maximum is commutative and
//! idempotent, so folding the same events in any order, any number of times,
//! gives the same register: a `call.dequeued` that arrives before its
//! `call.enqueued` still wins, and a duplicate changes nothing.

/// The order of two writes to one register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Stamp {
    /// `occurred_at`, in milliseconds since the Unix epoch.
    pub at: i64,
    /// What the event means, for writes at the same millisecond: the later
    /// step of a life (left after joined, dequeued after enqueued) ranks higher.
    pub rank: u8,
    /// From the event id: two different events never tie in practice.
    pub tie: u32,
}

impl Stamp {
    pub fn new(at: i64, rank: u8, tie: u32) -> Self {
        Stamp { at, rank, tie }
    }
}

/// A value and the stamp of the write that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lww<T> {
    stamp: Stamp,
    value: T,
}

impl<T: PartialEq> Lww<T> {
    pub fn new(stamp: Stamp, value: T) -> Self {
        Lww { stamp, value }
    }

    /// Keeps `value` if `stamp` is newer than the current write. Returns
    /// whether the value changed.
    pub fn set(&mut self, stamp: Stamp, value: T) -> bool {
        if stamp <= self.stamp {
            return false;
        }
        self.stamp = stamp;
        let changed = self.value != value;
        self.value = value;
        changed
    }

    pub fn get(&self) -> &T {
        &self.value
    }

    pub fn stamp(&self) -> Stamp {
        self.stamp
    }
}

/// Writes `value` into an optional register, creating it on the first write.
/// Returns whether the value changed.
pub fn set<T: PartialEq>(slot: &mut Option<Lww<T>>, stamp: Stamp, value: T) -> bool {
    match slot {
        Some(register) => register.set(stamp, value),
        None => {
            *slot = Some(Lww::new(stamp, value));
            true
        }
    }
}

/// Lowers `slot` to `at` if it is earlier (first-seen times: commutative too).
pub fn earliest(slot: &mut Option<i64>, at: i64) -> bool {
    match slot {
        Some(current) if *current <= at => false,
        _ => {
            *slot = Some(at);
            true
        }
    }
}

/// A stable 32-bit digest of an event id (FNV-1a): the same on every
/// replica and every run, unlike the standard library's seeded hasher.
pub fn tie(id: &str) -> u32 {
    let hash = digest(id);
    (hash ^ (hash >> 32)) as u32
}

/// A stable 64-bit digest (FNV-1a) of an id.
pub fn digest(id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_greatest_stamp_wins_in_any_order_and_repeats_change_nothing() {
        let writes = [
            (Stamp::new(10, 0, 1), "joined"),
            (Stamp::new(10, 1, 0), "left"),
            (Stamp::new(5, 9, 9), "early"),
        ];
        for order in [
            [0, 1, 2],
            [2, 1, 0],
            [1, 0, 2],
            [1, 2, 0],
            [0, 2, 1],
            [2, 0, 1],
        ] {
            let mut register: Option<Lww<&str>> = None;
            for i in order {
                set(&mut register, writes[i].0, writes[i].1);
                assert!(!set(&mut register, writes[i].0, writes[i].1), "a repeat");
            }
            assert_eq!(*register.unwrap().get(), "left", "{order:?}");
        }
    }

    #[test]
    fn earliest_keeps_the_first_time() {
        let mut slot = None;
        assert!(earliest(&mut slot, 7));
        assert!(!earliest(&mut slot, 9));
        assert!(earliest(&mut slot, 3));
        assert_eq!(slot, Some(3));
    }

    #[test]
    fn digests_are_stable() {
        assert_eq!(digest(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(digest("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(tie("event-1"), tie("event-2"));
    }
}
