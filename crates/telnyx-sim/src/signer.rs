//! Signing webhooks as Telnyx signs them: Ed25519 over `"{timestamp}|{body}"`,
//! base64 in `telnyx-signature-ed25519`, the Unix time in `telnyx-timestamp`.
//!
//! The one signer of the workspace: the simulator's webhooks, the tests' and
//! the benchmark's all come from here, so they cannot drift apart.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey};

/// The header carrying the base64 signature.
pub const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
/// The header carrying the Unix timestamp the signature covers.
pub const TIMESTAMP_HEADER: &str = "telnyx-timestamp";

/// An account's webhook signing key.
#[derive(Clone)]
pub struct Signer {
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("public_key", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

impl Signer {
    pub fn new(key: SigningKey) -> Self {
        Signer { key }
    }

    /// A signer from a 32-byte seed: the same seed, the same key.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Signer::new(SigningKey::from_bytes(&seed))
    }

    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)?;
        Ok(Signer::from_seed(secret))
    }

    /// The public key as Telnyx shows it in the portal: base64 of 32 bytes.
    pub fn public_key_base64(&self) -> String {
        STANDARD.encode(self.key.verifying_key().to_bytes())
    }

    /// The private seed, base64: what a test or tool needs to sign again.
    pub fn seed_base64(&self) -> String {
        STANDARD.encode(self.key.to_bytes())
    }

    /// The `telnyx-signature-ed25519` value for `body` sent at `timestamp`.
    pub fn sign(&self, timestamp: impl std::fmt::Display, body: &[u8]) -> String {
        let mut message = format!("{timestamp}|").into_bytes();
        message.extend_from_slice(body);
        STANDARD.encode(self.key.sign(&message).to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};

    #[test]
    fn a_signature_verifies_over_timestamp_and_body() {
        let signer = Signer::from_seed([7; 32]);
        let signature = signer.sign(1_700_000_000, b"{\"data\":{}}");
        let key: [u8; 32] = STANDARD
            .decode(signer.public_key_base64())
            .unwrap()
            .try_into()
            .unwrap();
        let key = VerifyingKey::from_bytes(&key).unwrap();
        let bytes: [u8; 64] = STANDARD.decode(signature).unwrap().try_into().unwrap();
        let signature = Signature::from_bytes(&bytes);
        assert!(key.verify(b"1700000000|{\"data\":{}}", &signature).is_ok());
        assert!(key.verify(b"1700000001|{\"data\":{}}", &signature).is_err());
        assert_ne!(
            Signer::generate().unwrap().public_key_base64(),
            Signer::generate().unwrap().public_key_base64(),
            "every generated key is new"
        );
    }

    #[test]
    fn the_seed_round_trips_and_never_shows_in_debug_output() {
        let signer = Signer::from_seed([9; 32]);
        let seed: [u8; 32] = STANDARD
            .decode(signer.seed_base64())
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            Signer::from_seed(seed).public_key_base64(),
            signer.public_key_base64()
        );
        assert!(!format!("{signer:?}").contains(&signer.seed_base64()));
    }
}
