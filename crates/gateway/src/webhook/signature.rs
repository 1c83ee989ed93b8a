//! Telnyx's webhook signature: Ed25519 over `"{telnyx-timestamp}|{raw body}"`.
//!
//! The signature is checked over the bytes exactly as received, never over a
//! re-serialised body, with `verify_strict` (which also refuses the malleable
//! and small-order edge cases plain verification lets through). The timestamp
//! is checked first, against a window on both sides of now, so a captured
//! request cannot be replayed later. Several keys may be configured so that a
//! key can be rotated without a gap: a signature valid under any of them passes.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, Signature, VerifyingKey};

/// Header carrying the base64 signature.
pub const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
/// Header carrying the Unix time, in seconds, at which Telnyx signed.
pub const TIMESTAMP_HEADER: &str = "telnyx-timestamp";

/// The account's Ed25519 public keys (`TELNYX_PUBLIC_KEY`), at least one.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKeys(Vec<VerifyingKey>);

/// Why `TELNYX_PUBLIC_KEY` cannot be used. Keys are numbered from 1 in the
/// order listed; a public key is not a secret, but it is not echoed either, to
/// keep the message one short line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("it lists no key")]
    Empty,
    #[error("key {0} is empty (keys are separated by commas)")]
    Blank(usize),
    #[error("key {0} is not base64")]
    NotBase64(usize),
    #[error("key {index} is {len} bytes, an Ed25519 public key is {PUBLIC_KEY_LENGTH}")]
    Length { index: usize, len: usize },
    #[error("key {0} is not a usable Ed25519 public key")]
    Invalid(usize),
}

impl FromStr for PublicKeys {
    type Err = KeyError;

    /// Reads a comma-separated list of base64 keys.
    fn from_str(text: &str) -> Result<Self, KeyError> {
        if text.trim().is_empty() {
            return Err(KeyError::Empty);
        }
        let keys = text
            .split(',')
            .enumerate()
            .map(|(i, key)| parse_key(i + 1, key.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PublicKeys(keys))
    }
}

fn parse_key(index: usize, text: &str) -> Result<VerifyingKey, KeyError> {
    if text.is_empty() {
        return Err(KeyError::Blank(index));
    }
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| KeyError::NotBase64(index))?;
    let bytes: [u8; PUBLIC_KEY_LENGTH] =
        bytes.as_slice().try_into().map_err(|_| KeyError::Length {
            index,
            len: bytes.len(),
        })?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::Invalid(index))?;
    // A small-order key would make every signature check fail; say so at start.
    if key.is_weak() {
        return Err(KeyError::Invalid(index));
    }
    Ok(key)
}

impl fmt::Debug for PublicKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKeys({} keys)", self.0.len())
    }
}

/// Why a request is not a verified Telnyx webhook. Each is answered 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing {SIGNATURE_HEADER} header")]
    MissingSignature,
    #[error("missing {TIMESTAMP_HEADER} header")]
    MissingTimestamp,
    #[error("{TIMESTAMP_HEADER} is not a Unix time in seconds")]
    MalformedTimestamp,
    #[error("{TIMESTAMP_HEADER} is {age} s old, outside the {tolerance} s window")]
    Stale { age: u64, tolerance: u64 },
    #[error("{TIMESTAMP_HEADER} is {ahead} s in the future, outside the {tolerance} s window")]
    Future { ahead: u64, tolerance: u64 },
    #[error("{SIGNATURE_HEADER} is not a base64 Ed25519 signature")]
    MalformedSignature,
    #[error("{SIGNATURE_HEADER} does not match the body under any configured TELNYX_PUBLIC_KEY")]
    Mismatch,
}

/// Checks signatures and timestamps against the configured keys.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: PublicKeys,
    tolerance: Duration,
}

/// A request whose headers passed: what the body check needs.
#[derive(Debug)]
pub struct Signed<'a> {
    timestamp: &'a [u8],
    signature: Signature,
}

impl Verifier {
    /// `tolerance`: how far the timestamp may be from now, either way.
    pub fn new(keys: PublicKeys, tolerance: Duration) -> Self {
        Verifier { keys, tolerance }
    }

    /// Checks what the headers alone can tell, before the body is read: both
    /// present, the timestamp within the window, the signature well-formed.
    pub fn check_headers<'a>(
        &self,
        timestamp: Option<&'a [u8]>,
        signature: Option<&[u8]>,
        now: SystemTime,
    ) -> Result<Signed<'a>, SignatureError> {
        let signature = signature.ok_or(SignatureError::MissingSignature)?;
        let timestamp = timestamp.ok_or(SignatureError::MissingTimestamp)?;
        let signed_at = parse_seconds(timestamp).ok_or(SignatureError::MalformedTimestamp)?;
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let tolerance = self.tolerance.as_secs();
        if now > signed_at && now - signed_at > tolerance {
            return Err(SignatureError::Stale {
                age: now - signed_at,
                tolerance,
            });
        }
        if signed_at > now && signed_at - now > tolerance {
            return Err(SignatureError::Future {
                ahead: signed_at - now,
                tolerance,
            });
        }
        let bytes = STANDARD
            .decode(signature)
            .map_err(|_| SignatureError::MalformedSignature)?;
        let bytes: [u8; SIGNATURE_LENGTH] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SignatureError::MalformedSignature)?;
        Ok(Signed {
            timestamp,
            signature: Signature::from_bytes(&bytes),
        })
    }

    /// Checks the signature over `"{timestamp}|{body}"`, body as received.
    pub fn verify(&self, signed: &Signed<'_>, body: &[u8]) -> Result<(), SignatureError> {
        let mut message = Vec::with_capacity(signed.timestamp.len() + 1 + body.len());
        message.extend_from_slice(signed.timestamp);
        message.push(b'|');
        message.extend_from_slice(body);
        self.keys
            .0
            .iter()
            .any(|key| key.verify_strict(&message, &signed.signature).is_ok())
            .then_some(())
            .ok_or(SignatureError::Mismatch)
    }
}

/// Unix seconds as Telnyx writes them: ASCII digits only.
fn parse_seconds(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 12 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    const NOW: u64 = 1_700_000_000;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn public(keys: &[&SigningKey]) -> PublicKeys {
        let text: Vec<String> = keys
            .iter()
            .map(|k| STANDARD.encode(k.verifying_key().as_bytes()))
            .collect();
        text.join(",").parse().unwrap()
    }

    fn sign(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
        let mut message = format!("{timestamp}|").into_bytes();
        message.extend_from_slice(body);
        STANDARD.encode(key.sign(&message).to_bytes())
    }

    fn check(
        verifier: &Verifier,
        timestamp: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        let signed =
            verifier.check_headers(Some(timestamp.as_bytes()), Some(signature.as_bytes()), now)?;
        verifier.verify(&signed, body)
    }

    #[test]
    fn accepts_any_listed_key_and_nothing_else() {
        let (old, new, other) = (key(1), key(2), key(3));
        let verifier = Verifier::new(public(&[&old, &new]), Duration::from_secs(300));
        let ts = NOW.to_string();
        let body = br#"{"data":{}}"#;
        assert_eq!(check(&verifier, &ts, &sign(&old, &ts, body), body), Ok(()));
        assert_eq!(check(&verifier, &ts, &sign(&new, &ts, body), body), Ok(()));
        assert_eq!(
            check(&verifier, &ts, &sign(&other, &ts, body), body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&verifier, &ts, &sign(&old, &ts, body), br#"{"data":{} }"#),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_window_holds_both_ways() {
        let k = key(1);
        let verifier = Verifier::new(public(&[&k]), Duration::from_secs(300));
        for (offset, ok) in [(-300i64, true), (300, true), (-301, false), (301, false)] {
            let ts = (NOW as i64 + offset).to_string();
            let result = check(&verifier, &ts, &sign(&k, &ts, b"x"), b"x");
            assert_eq!(result.is_ok(), ok, "offset {offset}: {result:?}");
        }
        for bad in ["", "-5", "1e9", " 1700000000", "17000000000000"] {
            assert_eq!(
                check(&verifier, bad, &sign(&k, bad, b"x"), b"x"),
                Err(SignatureError::MalformedTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reads_key_lists_strictly() {
        let k = STANDARD.encode(key(1).verifying_key().as_bytes());
        assert!(format!(" {k} , {k} ").parse::<PublicKeys>().is_ok());
        assert_eq!("".parse::<PublicKeys>(), Err(KeyError::Empty));
        assert_eq!(
            format!("{k},").parse::<PublicKeys>(),
            Err(KeyError::Blank(2))
        );
        assert_eq!(
            "not base64!".parse::<PublicKeys>(),
            Err(KeyError::NotBase64(1))
        );
        assert_eq!(
            STANDARD.encode([7u8; 31]).parse::<PublicKeys>(),
            Err(KeyError::Length { index: 1, len: 31 })
        );
        // The identity point has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            STANDARD.encode(identity).parse::<PublicKeys>(),
            Err(KeyError::Invalid(1))
        );
    }
}
