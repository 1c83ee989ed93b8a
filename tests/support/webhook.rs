//! Signing like Telnyx: a fixed test key, and webhook bodies built from `data`.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

/// The key the gateway under test trusts (`TELNYX_PUBLIC_KEY`).
pub fn test_key() -> SigningKey {
    SigningKey::from_bytes(&[0x42; 32])
}

/// A second key, for rotation and for "signed with the wrong key".
pub fn other_key() -> SigningKey {
    SigningKey::from_bytes(&[0x17; 32])
}

/// The base64 public key of `key`, as Telnyx shows it.
pub fn public_key(key: &SigningKey) -> String {
    STANDARD.encode(key.verifying_key().as_bytes())
}

/// Now, in Unix seconds, as `telnyx-timestamp` carries it.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64
}

/// The base64 `telnyx-signature-ed25519` of `body` sent at `timestamp`.
pub fn sign(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
    let mut message = format!("{timestamp}|").into_bytes();
    message.extend_from_slice(body);
    STANDARD.encode(key.sign(&message).to_bytes())
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
