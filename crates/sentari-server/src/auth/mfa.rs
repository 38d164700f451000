//! TOTP multi-factor authentication (RFC 6238): secrets, otpauth URIs and QR codes, code and
//! recovery-code checks, and the MFA policy ("require MFA from this role up").
//!
//! Parameters are the ones every authenticator app understands: HMAC-SHA-1, 6 digits, 30-second
//! steps, and one step of clock skew either way. The secret (160 random bits) is sealed with
//! [`SecretBox`] bound to the user's id before it reaches the database. A code is accepted only
//! if its step is later than the last accepted one, recorded atomically in the store, so a code
//! seen over someone's shoulder cannot be replayed, not even within its 30 seconds. Recovery
//! codes carry 80 random bits each, so a plain SHA-256 (salted with the user's id) is enough to
//! store them: guessing one is hopeless, and the hash survives a rotation of the master key.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use qrcode::QrCode;
use qrcode::render::svg;
use rand::RngExt;
use sentari_core::auth::{IdentityProvider, Role};
use sentari_store::{Store, StoreError, User};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Builder, Totp};
use uuid::Uuid;

use crate::auth::secretbox::{SealError, SecretBox};

/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "Sentari";
/// How many recovery codes an enrollment hands out.
pub const RECOVERY_CODES: usize = 10;
/// The settings key of the MFA policy.
pub const POLICY_KEY: &str = "auth.mfa_policy";
/// The label of the key TOTP secrets are sealed with.
pub const SEAL_PURPOSE: &str = "sentari totp secret v1";

const STEP_SECONDS: u64 = 30;

/// What can go wrong checking or enrolling a second factor.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// The code is wrong, or was already used.
    #[error("the code is not valid (wrong, expired or already used)")]
    InvalidCode,
    /// No enrollment is in progress.
    #[error("no MFA enrollment is in progress; start one first")]
    NoEnrollment,
    /// The stored secret cannot be decrypted (usually: `SENTARI_SECRET_KEY` was rotated).
    #[error(
        "the stored MFA secret cannot be decrypted (was SENTARI_SECRET_KEY rotated?); use a recovery code or ask an admin to reset MFA"
    )]
    Sealed(#[from] SealError),
    /// The secret could not be turned into a TOTP generator.
    #[error("TOTP setup failed: {0}")]
    Totp(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which kind of second factor was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    /// A TOTP code.
    Totp,
    /// A recovery code (now used up).
    RecoveryCode,
}

fn totp(secret: &[u8], account: &str) -> Result<Totp, MfaError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS)
        .with_secret(secret.to_vec())
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| MfaError::Totp(e.to_string()))
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A new enrollment: the secret to seal and everything the user needs to add it to an app.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The raw secret.
    pub secret: Vec<u8>,
    /// The secret in base32, for manual entry.
    pub secret_base32: String,
    /// The `otpauth://totp/...` URI.
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
}

/// An `otpauth://` URI as a QR code (an SVG document). The dashboard draws it again from the URI
/// when a confirmation code was wrong, so the user need not start the enrollment over.
pub fn qr_svg(uri: &str) -> Result<String, MfaError> {
    let qr = QrCode::new(uri.as_bytes()).map_err(|e| MfaError::Totp(e.to_string()))?;
    Ok(qr
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// Makes a new secret for `account` (the user's e-mail).
pub fn new_enrollment(account: &str) -> Result<Enrollment, MfaError> {
    let secret: [u8; 20] = rand::rng().random();
    let t = totp(&secret, account)?;
    let uri = t.to_url().map_err(|e| MfaError::Totp(e.to_string()))?;
    let svg = qr_svg(&uri)?;
    Ok(Enrollment {
        secret_base32: t.secret().to_base32(),
        secret: secret.to_vec(),
        otpauth_uri: uri,
        qr_svg: svg,
    })
}

/// The step a code matches at time `now` (Unix seconds), if any.
pub fn code_step(secret: &[u8], code: &str, now: u64) -> Result<Option<u64>, MfaError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Ok(None);
    }
    Ok(totp(secret, "x")?.check(&code, now))
}

/// Whether the input has the shape of a TOTP code (six digits) rather than a recovery code.
pub fn looks_like_totp(code: &str) -> bool {
    let c: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    c.len() == 6 && c.chars().all(|c| c.is_ascii_digit())
}

/// Ten fresh recovery codes (`xxxx-xxxx-xxxx-xxxx`, base32 lowercase, 80 bits each).
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut rng = rand::rng();
            let chars: Vec<char> = (0..16)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect();
            chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// The stored hash of a recovery code: dashes, spaces and case do not matter.
pub fn recovery_hash(user: Uuid, code: &str) -> String {
    let norm: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mut h = Sha256::new();
    h.update(b"sentari recovery code v1\0");
    h.update(user.as_bytes());
    h.update(norm.as_bytes());
    hex::encode(h.finalize())
}

/// Opens a sealed secret of `user`.
pub fn open_secret(sbox: &SecretBox, user: Uuid, sealed: &str) -> Result<Vec<u8>, MfaError> {
    Ok(sbox.open(sealed, user.as_bytes())?)
}

/// Seals a secret for `user`.
pub fn seal_secret(sbox: &SecretBox, user: Uuid, secret: &[u8]) -> Result<String, MfaError> {
    Ok(sbox.seal(secret, user.as_bytes())?)
}

/// Checks a second factor of a user with MFA on: a TOTP code whose step was not used yet, or
/// an unused recovery code (which this uses up).
pub async fn verify_second_factor(
    store: &Store,
    sbox: &SecretBox,
    user: &User,
    code: &str,
) -> Result<SecondFactor, MfaError> {
    let code = code.trim();
    if code.is_empty() || code.len() > 64 {
        return Err(MfaError::InvalidCode);
    }
    if looks_like_totp(code) {
        let state = store.mfa_state(user.id).await?;
        let sealed = state.secret.ok_or(MfaError::InvalidCode)?;
        let secret = open_secret(sbox, user.id, &sealed)?;
        let step = code_step(&secret, code, now_unix())?.ok_or(MfaError::InvalidCode)?;
        let step = i64::try_from(step).map_err(|_| MfaError::InvalidCode)?;
        return if store.claim_totp_step(user.id, step).await? {
            Ok(SecondFactor::Totp)
        } else {
            Err(MfaError::InvalidCode)
        };
    }
    if store
        .use_recovery_code(user.id, &recovery_hash(user.id, code))
        .await?
    {
        Ok(SecondFactor::RecoveryCode)
    } else {
        Err(MfaError::InvalidCode)
    }
}

/// Who must use MFA. Stored under [`POLICY_KEY`]; `null` means nobody is forced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaPolicy {
    /// Users with this role or a higher one must enroll (`viewer` = everyone).
    #[serde(default)]
    pub required_from_role: Option<Role>,
}

impl MfaPolicy {
    /// Whether the policy demands MFA of this user. OIDC users are exempt: their identity
    /// provider owns the second factor, and Sentari never sees their password.
    pub fn requires(&self, user: &User) -> bool {
        user.provider != IdentityProvider::Oidc
            && self.required_from_role.is_some_and(|min| user.role >= min)
    }

    /// Whether this user must still enroll before doing anything else.
    pub fn must_enroll(&self, user: &User) -> bool {
        self.requires(user) && !user.mfa_enabled
    }
}

/// The policy with a short cache, so the per-request enforcement does not read the database
/// every time. A change made through this process is seen at once; other processes see it
/// within [`PolicyCache::TTL`].
#[derive(Debug, Default)]
pub struct PolicyCache {
    cached: RwLock<Option<(Instant, MfaPolicy)>>,
}

impl PolicyCache {
    /// How long a read policy is trusted.
    pub const TTL: Duration = Duration::from_secs(5);

    /// The current policy.
    pub async fn get(&self, store: &Store) -> Result<MfaPolicy, StoreError> {
        if let Ok(guard) = self.cached.read()
            && let Some((at, p)) = *guard
            && at.elapsed() < Self::TTL
        {
            return Ok(p);
        }
        let p = match store.get_setting(POLICY_KEY).await? {
            Some(v) => serde_json::from_value(v).unwrap_or_default(),
            None => MfaPolicy::default(),
        };
        self.remember(p);
        Ok(p)
    }

    /// Stores a new policy and refreshes the cache.
    pub async fn put(&self, store: &Store, p: MfaPolicy) -> Result<(), StoreError> {
        let v = serde_json::to_value(p).map_err(|e| StoreError::Invalid(e.to_string()))?;
        store.put_setting(POLICY_KEY, &v).await?;
        self.remember(p);
        Ok(())
    }

    fn remember(&self, p: MfaPolicy) {
        if let Ok(mut guard) = self.cached.write() {
            *guard = Some((Instant::now(), p));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", truncated to 6 digits.
        let secret = b"12345678901234567890";
        let t = totp(secret, "x").unwrap();
        assert_eq!(t.generate(59).to_string(), "287082");
        assert_eq!(t.generate(1111111109).to_string(), "081804");
        assert_eq!(t.generate(1234567890).to_string(), "005924");
        assert_eq!(code_step(secret, "287082", 59).unwrap(), Some(1));
        assert_eq!(code_step(secret, "287082", 59 + 30).unwrap(), Some(1));
        assert_eq!(code_step(secret, "287082", 59 + 90).unwrap(), None);
        assert_eq!(code_step(secret, "28708", 59).unwrap(), None);
    }

    #[test]
    fn enrollment_has_uri_qr_and_base32() {
        let e = new_enrollment("alice@example.com").unwrap();
        assert!(
            e.otpauth_uri
                .starts_with("otpauth://totp/Sentari:alice%40example.com?")
        );
        assert!(e.otpauth_uri.contains("issuer=Sentari"));
        assert!(e.qr_svg.contains("<svg"));
        assert_eq!(e.secret.len(), 20);
        assert_eq!(e.secret_base32.len(), 32);
    }

    #[test]
    fn recovery_codes_are_unique_and_hash_normalised() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let mut d = codes.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), 10);
        assert_eq!(codes[0].len(), 19);
        let u = Uuid::now_v7();
        assert_eq!(
            recovery_hash(u, &codes[0]),
            recovery_hash(u, &codes[0].to_uppercase().replace('-', " "))
        );
        assert_ne!(
            recovery_hash(u, &codes[0]),
            recovery_hash(Uuid::now_v7(), &codes[0])
        );
        assert!(!looks_like_totp(&codes[0]));
        assert!(looks_like_totp("123 456"));
    }
}
