//! Secrets at rest in the database, sealed with AES-256-GCM under a key derived from
//! `SENTARI_SECRET_KEY` (ARCHITECTURE.md §6).
//!
//! Each purpose (TOTP secrets, and later SMTP passwords or webhook tokens) derives its own key
//! with HKDF-SHA-256 and a label, so one sealed value can never be opened as another kind. The
//! caller also passes associated data (for TOTP secrets, the user's id), which binds a sealed
//! value to its row: copying one user's sealed secret onto another user's row makes it fail to
//! open. Sealed values are `v1:` followed by base64 of a random 96-bit nonce and the ciphertext
//! with its tag. Rotating `SENTARI_SECRET_KEY` makes every sealed value unreadable.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngExt;

/// The version prefix of sealed values.
const PREFIX: &str = "v1:";

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not a value this module wrote.
    #[error("the sealed value is malformed")]
    Malformed,
    /// Wrong key (was `SENTARI_SECRET_KEY` rotated?), wrong row, or tampered.
    #[error(
        "the sealed value cannot be opened with the current SENTARI_SECRET_KEY (rotated key, or altered data)"
    )]
    Open,
    /// The cipher refused to seal (cannot happen with a valid key; reported rather than panicking).
    #[error("sealing failed")]
    Seal,
}

/// A key for one purpose.
pub struct SecretBox {
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(…)")
    }
}

struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl SecretBox {
    /// Derives the key of `purpose` (a fixed label such as `"sentari totp secret v1"`) from the
    /// master secret.
    pub fn new(master: &str, purpose: &str) -> Result<Self, SealError> {
        let salt = Salt::new(HKDF_SHA256, b"sentari secretbox salt v1");
        let prk = salt.extract(master.as_bytes());
        let info = [purpose.as_bytes()];
        let okm = prk
            .expand(&info, Len(AES_256_GCM.key_len()))
            .map_err(|_| SealError::Seal)?;
        let mut bytes = [0u8; 32];
        okm.fill(&mut bytes).map_err(|_| SealError::Seal)?;
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| SealError::Seal)?;
        Ok(SecretBox {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Encrypts `plain`, bound to `aad`.
    pub fn seal(&self, plain: &[u8], aad: &[u8]) -> Result<String, SealError> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::rng().random();
        let mut buf = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| SealError::Seal)?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// Decrypts a value sealed with the same key and `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let b64 = sealed.strip_prefix(PREFIX).ok_or(SealError::Malformed)?;
        let raw = STANDARD.decode(b64).map_err(|_| SealError::Malformed)?;
        if raw.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Malformed);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Malformed)?;
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| SealError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn seals_and_opens_bound_to_key_purpose_and_aad() {
        let a = SecretBox::new("master one", "p1").unwrap();
        let sealed = a.seal(b"hello", b"row-1").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert_eq!(a.open(&sealed, b"row-1").unwrap(), b"hello");
        // Two seals of the same value differ (random nonce).
        assert_ne!(sealed, a.seal(b"hello", b"row-1").unwrap());
        assert_eq!(a.open(&sealed, b"row-2"), Err(SealError::Open));
        let other_purpose = SecretBox::new("master one", "p2").unwrap();
        assert_eq!(other_purpose.open(&sealed, b"row-1"), Err(SealError::Open));
        let rotated = SecretBox::new("master two", "p1").unwrap();
        assert_eq!(rotated.open(&sealed, b"row-1"), Err(SealError::Open));
        assert_eq!(a.open("v1:AAAA", b"row-1"), Err(SealError::Malformed));
        assert_eq!(a.open("plain", b"row-1"), Err(SealError::Malformed));
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(
            a.open(std::str::from_utf8(&tampered).unwrap(), b"row-1")
                .is_err()
        );
    }
}
