//! Raw Ed25519 verification on one core: the most a gateway core could ever
//! ingest, since every webhook costs one `verify_strict` before anything else.

use std::time::{Duration, Instant};

use ed25519_dalek::{Signer as _, SigningKey};

use crate::common::webhook_body;

/// Verifications per second of a typical webhook (`"{timestamp}|{body}"`)
/// on the calling thread, measured for `duration`.
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
    let mut done: u64 = 0;
    while started.elapsed() < duration {
        for _ in 0..100 {
            let ok = public.verify_strict(std::hint::black_box(&message), &signature);
            assert!(ok.is_ok());
        }
        done += 100;
    }
    done as f64 / started.elapsed().as_secs_f64()
}
