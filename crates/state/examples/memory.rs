//! Measures the memory the live state takes per tracked call, queue and
//! conference: `cargo run -p conference-gateway-state --example memory`.
//!
//! Each case runs in a process of its own (this program starts itself once
//! per case), folds many subjects with realistic ids and payloads, and
//! reports how much the resident set grew, divided by the count. The events
//! are built one at a time and dropped after folding, so only the state is
//! counted.

use std::process::Command;

use conference_gateway_state::{Fold, Input, Settings};
use events::cursor::{Cursor, Position};
use serde_json::{Value, json};

const CALLS: usize = 100_000;
/// Midday, 2024-05-01, in milliseconds.
const T0: i64 = 1_714_564_800_000;

/// The resident set size of this process, in bytes (Linux).
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("statm has a resident field");
    pages * 4096
}

/// A call control id as long as Telnyx's.
fn call_id(i: usize) -> String {
    format!("v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2ax{i:08}")
}

struct Feeder {
    fold: Fold,
    seq: u64,
}

impl Feeder {
    fn new() -> Self {
        Feeder {
            fold: Fold::new(Settings::default()),
            seq: 0,
        }
    }

    fn event(&mut self, event_type: &str, at: i64, payload: Value) {
        self.seq += 1;
        let Value::Object(payload) = payload else {
            unreachable!()
        };
        let input = Input {
            id: format!("0ccc7b54-4df3-4bca-a65a-{:012x}", self.seq),
            event_type: event_type.to_owned(),
            occurred_at: Some(at),
            payload,
            cursor: Cursor {
                epoch: 1,
                position: Position::new(self.seq, 0),
            },
        };
        self.fold.apply(&input);
    }

    /// `call.initiated` and `call.answered` of call `i`, as Telnyx sends them.
    fn call(&mut self, i: usize, at: i64) {
        let id = call_id(i);
        let leg = format!("428c31b6-7af4-4bcb-b7f5-{i:012}");
        let common = json!({
            "call_control_id": id, "call_leg_id": leg, "call_session_id": leg,
            "connection_id": "1684641123236054244", "client_state": "aGF2ZSBhIG5pY2UgZGF5ID1d",
            "from": "+15559870000", "to": "+15551230001", "direction": "incoming",
            "start_time": "2024-05-01T12:00:00.000Z", "state": "parked",
        });
        self.event("call.initiated", at, common.clone());
        self.event("call.answered", at + 50, common);
    }
}

/// One case: what to fold, and what to divide by.
fn run(case: &str) -> (usize, usize, String) {
    let before = resident();
    let mut feeder = Feeder::new();
    let (count, what) = match case {
        "call" => {
            for i in 0..CALLS {
                feeder.call(i, T0 + i as i64);
            }
            (CALLS, "answered call (initiated + answered)")
        }
        "queued-call" => {
            for i in 0..CALLS {
                let at = T0 + i as i64;
                feeder.call(i, at);
                let payload = json!({"call_control_id": call_id(i), "queue": format!("queue-{}", i % 100),
                                     "current_position": i / 100 + 1, "queue_avg_wait_time_secs": 30});
                feeder.event("call.enqueued", at + 100, payload);
            }
            (CALLS, "call waiting in a queue (call + membership)")
        }
        "queue" => {
            let queues = 10_000;
            for q in 0..queues {
                let at = T0 + q as i64;
                let payload = json!({"call_control_id": call_id(q), "queue": format!("queue-{q:05}"),
                                     "current_position": 1});
                feeder.event("call.enqueued", at, payload);
            }
            (
                queues,
                "queue with one call (queue + membership + bare call)",
            )
        }
        "conference" => {
            let conferences = 10_000;
            for c in 0..conferences {
                let at = T0 + c as i64;
                let conference = format!("428c31b6-abf3-3bc1-b7f4-{c:012}");
                feeder.event(
                    "conference.created",
                    at,
                    json!({"conference_id": conference, "call_control_id": call_id(c * 5)}),
                );
                for p in 0..5 {
                    feeder.event(
                        "conference.participant.joined",
                        at + 1,
                        json!({"conference_id": conference, "call_control_id": call_id(c * 5 + p)}),
                    );
                }
            }
            (
                conferences,
                "conference with 5 participants (and their 5 bare calls)",
            )
        }
        "ended-call" => {
            // In batches 11 minutes of event time apart, so each batch is swept
            // (to tombstones) before the next one reuses its memory: what
            // remains is the tombstones, plus one batch.
            const BATCH: usize = 1_000;
            for batch in 0..CALLS / BATCH {
                let start = T0 + batch as i64 * 660_000;
                for i in batch * BATCH..(batch + 1) * BATCH {
                    let at = start + (i % BATCH) as i64;
                    feeder.call(i, at);
                    feeder.event(
                        "call.hangup",
                        at + 100,
                        json!({"call_control_id": call_id(i), "hangup_cause": "normal_clearing",
                               "hangup_source": "caller", "sip_hangup_cause": "200"}),
                    );
                }
            }
            feeder.event(
                "call.answered",
                T0 + (CALLS / BATCH) as i64 * 660_000,
                json!({"call_control_id": "v3:last"}),
            );
            (
                CALLS,
                "ended call after the retention (its tombstone; one batch of 1000 calls in flight)",
            )
        }
        other => panic!("unknown case {other}"),
    };
    let grown = resident().saturating_sub(before);
    let sizes = feeder.fold.sizes();
    (grown, count, format!("{what}; fold holds {sizes:?}"))
}

fn main() {
    let mut args = std::env::args().skip(1);
    if let Some(case) = args.next() {
        let (grown, count, what) = run(&case);
        println!("{case}\t{}\t{count}\t{what}", grown / count);
        return;
    }
    let me = std::env::current_exe().expect("the program's path");
    println!("case\tbytes each\tcount\twhat");
    for case in ["call", "queued-call", "queue", "conference", "ended-call"] {
        let output = Command::new(&me).arg(case).output().expect("a case runs");
        assert!(output.status.success(), "{case} failed");
        print!("{}", String::from_utf8_lossy(&output.stdout));
    }
}
