//! Raw Ed25519 verification on one core: the most a gateway core could ever
//! ingest, since every webhook costs one `verify_strict` before anything else.

use std::time::{Duration, Instant};

use ed25519_dalek::{Signer as _, SigningKey};

use crate::common::webhook_body;

/// Verifications per second of a typical webhook (`"{timestamp}|{body}"`)
/// on the calling thread, measured for `duration`: per second of CPU time
/// the thread had (per busy core), wall-clock time where that is unknown.
pub fn run(duration: Duration) -> f64 {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the OS has randomness");
    let key = SigningKey::from_bytes(&seed);
    let public = key.verifying_key();
    let mut message = b"1714567890|".to_vec();
    message.extend_from_slice(&webhook_body("verify-0", "conf-0"));
    let signature = key.sign(&message);
    // Warm the caches and the branch predictors.
    for _ in 0..200 {
        assert!(public.verify_strict(&message, &signature).is_ok());
    }
    let started = Instant::now();
    let cpu_before = thread_cpu_seconds();
    let mut done: u64 = 0;
    while started.elapsed() < duration {
        for _ in 0..100 {
            let ok = public.verify_strict(std::hint::black_box(&message), &signature);
            assert!(ok.is_ok());
        }
        done += 100;
    }
    let wall = started.elapsed().as_secs_f64();
    // Per second of this thread's CPU time where the kernel tells it: on a
    // shared machine the thread is not always on a core, and the ceiling is
    // what a busy core does, like the gateway's `per_busy_core_sec`.
    let cpu = match (cpu_before, thread_cpu_seconds()) {
        (Some(before), Some(after)) if after > before => after - before,
        _ => wall,
    };
    done as f64 / cpu.min(wall)
}

/// This thread's time on a CPU so far, from /proc/thread-self/schedstat
/// (nanoseconds, first field).
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(nanos as f64 / 1e9)
}
