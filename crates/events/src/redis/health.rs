//! Whether this replica's Redis can keep the bus's promise, and if not, why.
//!
//! Two things decide it: the subscription is up (Redis is reachable), and
//! Redis never drops the bus's keys on its own. A `maxmemory-policy` other
//! than `noeviction` lets Redis evict the epoch, the dedupe keys or the stream
//! itself when memory runs short: redeliveries then pass as new events and a
//! re-created stream restarts its ids below cursors already handed out. Full
//! under `noeviction`, Redis refuses writes instead (the webhook answers 503
//! and Telnyx retries), which loses nothing. So the policy is checked at
//! every (re)connection and the replica is not ready, naming the setting,
//! while it is anything else.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::cursor::Position;

/// The one policy under which Redis never drops the bus's keys.
pub const REQUIRED_POLICY: &str = "noeviction";

/// Shared by the bus (readiness) and its subscription task (which learns it).
#[derive(Debug)]
pub struct Health {
    connected: AtomicBool,
    /// What is known of why Redis is unreachable, when it is worth saying.
    unreachable: Mutex<Option<String>>,
    /// Why Redis's policy is unfit although it is reachable, when it is.
    unfit: Mutex<Option<String>>,
    /// Why Redis cannot take writes now (full), when it cannot.
    full: Mutex<Option<String>>,
    /// Why events cannot reach the replicas they must, when they cannot.
    replicas: Mutex<Option<String>>,
    /// The newest stream id this replica accepted: after a reconnection the
    /// stream must still reach it, or acknowledged events were lost (see
    /// `whole`).
    newest_accepted: Mutex<Position>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            connected: AtomicBool::new(false),
            unreachable: Mutex::new(None),
            unfit: Mutex::new(None),
            full: Mutex::new(None),
            replicas: Mutex::new(None),
            newest_accepted: Mutex::new(Position::new(0, 0)),
        }
    }
}

impl Health {
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Sets whether the subscription is up; returns what it was.
    pub fn set_connected(&self, connected: bool) -> bool {
        self.connected.swap(connected, Ordering::AcqRel)
    }

    pub fn set_unreachable(&self, why: Option<String>) {
        *self
            .unreachable
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = why;
    }

    pub fn set_unfit(&self, why: Option<String>) {
        *self.unfit.lock().unwrap_or_else(PoisonError::into_inner) = why;
    }

    pub fn note_accepted(&self, position: Position) {
        let mut newest = self
            .newest_accepted
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *newest = (*newest).max(position);
    }

    pub fn newest_accepted(&self) -> Position {
        *self
            .newest_accepted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets what was accepted before a new history began.
    pub fn reset_accepted(&self, position: Position) {
        *self
            .newest_accepted
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = position;
    }

    pub fn set_replicas_short(&self, why: Option<String>) {
        *self.replicas.lock().unwrap_or_else(PoisonError::into_inner) = why;
    }

    /// Why events cannot reach enough replicas now, when they cannot.
    pub fn replicas_short(&self) -> Option<String> {
        self.replicas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set_full(&self, why: Option<String>) {
        *self.full.lock().unwrap_or_else(PoisonError::into_inner) = why;
    }

    /// Why the bus should not receive traffic, or `None` when it should.
    pub fn unready_reason(&self) -> Option<String> {
        if !self.is_connected() {
            let why = self
                .unreachable
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            return Some(match why {
                Some(why) => format!("event bus unreachable: {why}"),
                None => "event bus unreachable".to_owned(),
            });
        }
        let unfit = self
            .unfit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        unfit
            .or_else(|| {
                self.full
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            })
            .or_else(|| self.replicas_short())
    }
}

/// A field of an `INFO` reply (`name:value` lines).
pub fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// Why the primary has fewer replicas connected than events must reach,
/// from its `INFO replication` text, or `None` when it has enough (or none
/// are asked for).
pub fn replicas_short(info: &str, wanted: u32) -> Option<String> {
    if wanted == 0 {
        return None;
    }
    let connected = info_field(info, "connected_slaves")
        .and_then(|value| value.parse::<u32>().ok())
        .unwrap_or(0);
    (connected < wanted).then(|| {
        format!(
            "Redis has {connected} connected replicas; GATEWAY_REDIS_MIN_REPLICAS_ACK asks \
             every event to reach {wanted}"
        )
    })
}

/// Why Redis refuses writes for lack of memory, from its `INFO memory`
/// text, or `None` while it has room (or no limit). Full under
/// `noeviction`, Redis answers every webhook's write with OOM, so the
/// replica should not receive them; resuming subscribers are still served.
pub fn full(info: &str) -> Option<String> {
    let field = |name: &str| info_field(info, name).and_then(|value| value.parse::<u64>().ok());
    let used = field("used_memory")?;
    let max = field("maxmemory").filter(|max| *max > 0)?;
    (used >= max).then(|| {
        format!(
            "Redis is full (used_memory {used} >= maxmemory {max}) and refuses new events;              free memory or raise maxmemory"
        )
    })
}

/// What `CONFIG GET maxmemory-policy` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// `noeviction`.
    Safe,
    /// Another policy: the bus's keys may be evicted.
    Evicting(String),
    /// CONFIG is not available (managed services often rename or forbid
    /// it): the policy cannot be checked, only documented.
    Unknown(String),
}

impl Policy {
    /// Judges the reply: `["maxmemory-policy", value]`, or an error.
    pub fn judge(reply: Result<Vec<String>, String>) -> Policy {
        match reply {
            Ok(pair) => match pair.as_slice() {
                [_, value] if value.eq_ignore_ascii_case(REQUIRED_POLICY) => Policy::Safe,
                [_, value] => Policy::Evicting(value.clone()),
                _ => Policy::Unknown(format!("unexpected reply {pair:?}")),
            },
            Err(error) => Policy::Unknown(error),
        }
    }

    /// Why the replica must not be ready under this policy, if it must not.
    pub fn unfit(&self) -> Option<String> {
        match self {
            Policy::Evicting(value) => Some(format!(
                "Redis maxmemory-policy is {value}; the event bus needs maxmemory-policy \
                 {REQUIRED_POLICY} (an evicting policy silently drops accepted events and \
                 dedupe keys)"
            )),
            Policy::Safe | Policy::Unknown(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(value: &str) -> Result<Vec<String>, String> {
        Ok(vec!["maxmemory-policy".to_owned(), value.to_owned()])
    }

    #[test]
    fn only_noeviction_is_fit() {
        assert_eq!(Policy::judge(pair("noeviction")), Policy::Safe);
        assert_eq!(Policy::judge(pair("noeviction")).unfit(), None);
        for evicting in [
            "allkeys-lru",
            "volatile-lru",
            "allkeys-random",
            "volatile-ttl",
        ] {
            let reason = Policy::judge(pair(evicting)).unfit().expect("unfit");
            assert!(reason.contains("maxmemory-policy"), "{reason}");
            assert!(reason.contains(evicting), "{reason}");
        }
    }

    #[test]
    fn an_unavailable_config_command_is_not_a_refusal() {
        let unknown = Policy::judge(Err("ERR unknown command 'CONFIG'".to_owned()));
        assert!(matches!(unknown, Policy::Unknown(_)));
        assert_eq!(unknown.unfit(), None);
        assert!(matches!(Policy::judge(Ok(vec![])), Policy::Unknown(_)));
    }

    #[test]
    fn full_is_used_memory_at_maxmemory() {
        let info = |used: u64, max: u64| {
            format!("# Memory\r\nused_memory:{used}\r\nused_memory_human:1M\r\nmaxmemory:{max}\r\n")
        };
        assert_eq!(full(&info(5_000_000, 0)), None, "no limit");
        assert_eq!(full(&info(5_000_000, 6_000_000)), None);
        let reason = full(&info(6_000_000, 6_000_000)).expect("full");
        assert!(reason.contains("maxmemory"), "{reason}");
        assert_eq!(full("garbage"), None);
    }

    #[test]
    fn replicas_short_counts_connected_replicas() {
        let info = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1\r\n";
        assert_eq!(replicas_short(info, 0), None);
        assert_eq!(replicas_short(info, 1), None);
        let short = replicas_short(info, 2).expect("short");
        assert!(short.contains("GATEWAY_REDIS_MIN_REPLICAS_ACK"), "{short}");
        assert!(replicas_short("role:master\r\nconnected_slaves:0\r\n", 1).is_some());
    }

    #[test]
    fn readiness_names_what_is_wrong() {
        let health = Health::default();
        assert!(health.unready_reason().unwrap().contains("unreachable"));
        health.set_connected(true);
        assert_eq!(health.unready_reason(), None);
        health.set_unfit(Policy::judge(pair("allkeys-lru")).unfit());
        assert!(
            health
                .unready_reason()
                .unwrap()
                .contains("maxmemory-policy")
        );
        health.set_unfit(None);
        health.set_full(full("used_memory:10\nmaxmemory:10\n"));
        assert!(health.unready_reason().unwrap().contains("full"));
        health.set_full(None);
        assert_eq!(health.unready_reason(), None);
    }
}
