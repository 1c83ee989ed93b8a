//! Identifiers shaped like Telnyx's, so logs and tests look like production:
//! `v3:`-prefixed call control ids, UUIDs for legs, sessions, conferences and
//! recordings, long decimal ids for Call Control applications.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

/// A new UUID string (legs, sessions, conferences, participants, events).
pub fn uuid() -> String {
    Uuid::new_v4().to_string()
}

/// A call control id: `v3:` and 43 URL-safe characters, as Telnyx issues them.
pub fn call_control_id() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    format!("v3:{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A Call Control application id: a 19-digit decimal string, unique per process.
pub fn application_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}", 1_293_384_261_075_731_461u64 + n * 7_919)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_telnyx_shapes() {
        let id = call_control_id();
        assert!(id.starts_with("v3:") && id.len() == 46, "{id}");
        assert_ne!(call_control_id(), id);
        assert_eq!(application_id().len(), 19);
        assert_ne!(application_id(), application_id());
        assert!(Uuid::parse_str(&uuid()).is_ok());
    }
}
