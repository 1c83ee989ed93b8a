//! Whether the history a replica reconnects to is the one it left, whole.
//!
//! Redis replicates asynchronously: a primary that dies (or restarts without
//! its data) may take the newest acknowledged events with it, and the
//! surviving copy carries on from an older point. The epoch key usually
//! survives, so without a check cursors from before the loss would still be
//! served, silently missing what was lost. So every replica remembers, per
//! connection, the primary's replication id and the newest stream id it knew
//! of (fed to its hub or accepted by it; with replica acks, only those it
//! acknowledged), and after reconnecting it judges:
//!
//! - the stream's newest id is older than one it knew: events were lost;
//! - the primary's replication id changed (a failover, or a restart that did
//!   not keep its replication history) while events were not required to
//!   reach a replica (`GATEWAY_REDIS_MIN_REPLICAS_ACK=0`): events may have
//!   been lost that this replica never saw.
//!
//! Either way it changes the epoch, so every older cursor is refused with
//! OUT_OF_RANGE instead of resuming across a gap. With
//! `MIN_REPLICAS_ACK >= 1` every acknowledged event was on a replica, so a
//! new primary alone is no evidence of loss; the newest-id check still is.

use crate::cursor::Position;

/// What a replica knew of Redis on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `master_replid` from `INFO replication`; `None` where INFO is refused.
    pub replid: Option<String>,
    /// The newest stream id known.
    pub newest: Position,
}

/// The judgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Whole,
    /// Events may be lost, and why.
    MaybeLost(String),
}

/// Judges `now` against what was known `before` the connection dropped.
pub fn judge(before: &Seen, now: &Seen, min_replicas_ack: u32) -> Verdict {
    if now.newest < before.newest {
        return Verdict::MaybeLost(format!(
            "the event stream's newest id went back from {}-{} to {}-{}",
            before.newest.major, before.newest.minor, now.newest.major, now.newest.minor
        ));
    }
    if min_replicas_ack == 0
        && let (Some(was), Some(is)) = (&before.replid, &now.replid)
        && was != is
    {
        return Verdict::MaybeLost(format!(
            "Redis's primary changed (replication id {was} -> {is}) and events were not \
             required to reach a replica (GATEWAY_REDIS_MIN_REPLICAS_ACK=0)"
        ));
    }
    Verdict::Whole
}

/// The replication id in an `INFO replication` reply.
pub fn replid(info: &str) -> Option<String> {
    super::health::info_field(info, "master_replid")
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(replid: &str, major: u64) -> Seen {
        Seen {
            replid: Some(replid.to_owned()),
            newest: Position::new(major, 0),
        }
    }

    #[test]
    fn the_same_primary_further_on_is_whole() {
        assert_eq!(judge(&seen("a", 5), &seen("a", 5), 0), Verdict::Whole);
        assert_eq!(judge(&seen("a", 5), &seen("a", 9), 0), Verdict::Whole);
    }

    #[test]
    fn a_stream_that_went_back_lost_events_whatever_the_acks() {
        for acks in [0, 1, 2] {
            let verdict = judge(&seen("a", 9), &seen("a", 5), acks);
            assert!(matches!(verdict, Verdict::MaybeLost(why) if why.contains("went back")));
            assert!(matches!(
                judge(&seen("a", 9), &seen("b", 5), acks),
                Verdict::MaybeLost(_)
            ));
        }
    }

    #[test]
    fn a_new_primary_is_a_possible_loss_only_without_replica_acks() {
        let verdict = judge(&seen("a", 5), &seen("b", 5), 0);
        assert!(matches!(verdict, Verdict::MaybeLost(why) if why.contains("MIN_REPLICAS_ACK")));
        assert_eq!(judge(&seen("a", 5), &seen("b", 7), 1), Verdict::Whole);
    }

    #[test]
    fn an_unknown_replication_id_proves_nothing_either_way() {
        let unknown = Seen {
            replid: None,
            newest: Position::new(5, 0),
        };
        assert_eq!(judge(&unknown, &seen("b", 5), 0), Verdict::Whole);
        assert_eq!(judge(&seen("a", 5), &unknown, 0), Verdict::Whole);
    }

    #[test]
    fn reads_the_replication_id() {
        let info = "# Replication\r\nrole:master\r\nmaster_replid:8f3a\r\nmaster_replid2:0000\r\n";
        assert_eq!(replid(info).as_deref(), Some("8f3a"));
        assert_eq!(replid("role:master\r\n"), None);
    }
}
