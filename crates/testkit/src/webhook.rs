//! Signing like Telnyx, with the simulator's own signer: fixed test keys, and
//! webhook bodies built from `data`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
pub use telnyx_sim::Signer;

/// The key the gateway under test trusts (`TELNYX_PUBLIC_KEY`).
pub fn test_key() -> Signer {
    Signer::from_seed([0x42; 32])
}

/// A second key, for rotation and for "signed with the wrong key".
pub fn other_key() -> Signer {
    Signer::from_seed([0x17; 32])
}

/// The base64 public key of `key`, as Telnyx shows it.
pub fn public_key(key: &Signer) -> String {
    key.public_key_base64()
}

/// Now, in Unix seconds, as `telnyx-timestamp` carries it.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64
}

/// The base64 `telnyx-signature-ed25519` of `body` sent at `timestamp`.
pub fn sign(key: &Signer, timestamp: &str, body: &[u8]) -> String {
    key.sign(timestamp, body)
}

/// The body Telnyx posts for a `data` object.
pub fn body(data: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"data": data, "meta": {"attempt": 1, "delivered_to": "https://gateway.example/webhooks/telnyx"}}))
        .expect("JSON serialises")
}

/// A `data` object of `event_type` with a fresh id.
pub fn event(event_type: &str, payload: Value) -> Value {
    json!({
        "record_type": "event",
        "id": uuid::Uuid::new_v4().to_string(),
        "event_type": event_type,
        "occurred_at": "2024-05-01T12:34:56.789Z",
        "payload": payload,
    })
}
