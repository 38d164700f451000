//! Argon2id password hashing and verification, off the async runtime.
//!
//! Hashes are PHC strings, so the parameters travel with each hash; a login whose hash was made
//! with other parameters than the current ones is rehashed. Verification of an unknown user runs
//! against a fixed dummy hash so that "no such user" and "wrong password" take the same time.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngExt;

/// Why hashing failed (never because of the password itself).
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The Argon2 library refused the parameters or the salt.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The blocking task was cancelled.
    #[error("password hashing task failed: {0}")]
    Task(String),
}

/// The parameters new hashes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl HashParams {
    /// OWASP's recommended minimum for Argon2id (19 MiB, 2 iterations, 1 lane), with the
    /// memory overridable for small test machines.
    pub fn new(memory_kib: Option<u32>) -> Self {
        HashParams {
            m_cost: memory_kib.unwrap_or(19 * 1024).max(8),
            t_cost: 2,
            p_cost: 1,
        }
    }

    fn argon2(self) -> Result<Argon2<'static>, PasswordError> {
        let params = Params::new(self.m_cost, self.t_cost, self.p_cost, None)
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

fn hash_now(params: HashParams, password: &str) -> Result<String, PasswordError> {
    let salt_bytes: [u8; 16] = rand::rng().random();
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| PasswordError::Hash(e.to_string()))?;
    params
        .argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Hashes a password with the given parameters, on a blocking thread.
pub async fn hash(params: HashParams, password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || hash_now(params, &password))
        .await
        .map_err(|e| PasswordError::Task(e.to_string()))?
}

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password (or unknown user, or an unusable stored hash).
    No,
    /// Right password, hash parameters current.
    Yes,
    /// Right password, but the hash should be recomputed with the current parameters.
    YesRehash,
}

fn dummy_hash(params: HashParams) -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now(params, "sentari-dummy-password").unwrap_or_default())
}

fn verify_now(params: HashParams, stored: Option<&str>, password: &str) -> Verified {
    let (phc, real) = match stored {
        Some(s) => (s, true),
        None => (dummy_hash(params), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return Verified::No;
    };
    // Verification uses the parameters recorded in the hash itself.
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    if !(ok && real) {
        return Verified::No;
    }
    let current = Params::try_from(&parsed)
        .map(|p| {
            p.m_cost() == params.m_cost
                && p.t_cost() == params.t_cost
                && p.p_cost() == params.p_cost
        })
        .unwrap_or(false);
    let algorithm_ok = parsed.algorithm.as_str() == "argon2id";
    if current && algorithm_ok {
        Verified::Yes
    } else {
        Verified::YesRehash
    }
}

/// Verifies `password` against `stored` (or, when `None`, against a dummy hash so the timing
/// does not reveal whether the user exists), on a blocking thread.
pub async fn verify(params: HashParams, stored: Option<String>, password: String) -> Verified {
    tokio::task::spawn_blocking(move || verify_now(params, stored.as_deref(), &password))
        .await
        .unwrap_or(Verified::No)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hashes_verify_and_old_parameters_ask_for_a_rehash() {
        let small = HashParams::new(Some(64));
        let h = hash_now(small, "Correct-Horse-9").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(
            verify_now(small, Some(&h), "Correct-Horse-9"),
            Verified::Yes
        );
        assert_eq!(verify_now(small, Some(&h), "wrong"), Verified::No);
        assert_eq!(
            verify_now(small, None, "sentari-dummy-password"),
            Verified::No
        );
        let bigger = HashParams::new(Some(128));
        assert_eq!(
            verify_now(bigger, Some(&h), "Correct-Horse-9"),
            Verified::YesRehash
        );
    }
}
