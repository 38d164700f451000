//! Session tokens and API keys: generation and the hashes under which they are stored.
//!
//! Session tokens are hashed with HMAC-SHA-256 under a key derived from `SENTARI_SECRET_KEY`, so a
//! key rotation makes every stored session unreachable (everyone is signed out), as the admin
//! guide promises. API keys are hashed with plain SHA-256: they are 256-bit random values, and
//! automation should survive a rotation of the session key.

use hmac::{Hmac, Mac};
use rand::RngExt;
use sha2::{Digest, Sha256};

/// The prefix that marks an API key in an `Authorization: Bearer` header.
pub const API_KEY_PREFIX: &str = "sk_";

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "sentari_session";

/// Derives the session-hash key from the master secret, with a label so the same secret used
/// elsewhere yields an unrelated key.
pub fn derive_session_key(secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"sentari session token key v1\0");
    h.update(secret.as_bytes());
    h.finalize().into()
}

fn random_hex() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

/// A new session token (64 hex characters).
pub fn new_session_token() -> String {
    random_hex()
}

/// The stored hash of a session token.
pub fn session_hash(key: &[u8; 32], token: &str) -> String {
    // HMAC accepts keys of any length, so building it cannot fail; the fallback keeps the
    // function total without a panic path.
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(token.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// A new API key: `sk_` and 64 hex characters.
pub fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_hex())
}

/// The stored hash of an API key.
pub fn api_key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The part of a key shown in listings.
pub fn api_key_prefix(key: &str) -> String {
    key.chars().take(API_KEY_PREFIX.len() + 8).collect()
}

/// A random password meeting the policy, for the generated bootstrap owner.
pub fn random_password() -> String {
    let bytes: [u8; 18] = rand::rng().random();
    // Hex alone has no uppercase letter or special character; the fixed suffix supplies the
    // classes the policy asks for, while the 144 random bits carry the strength.
    format!("{}-Sx9", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_hashes_depend_on_the_secret() {
        let a = derive_session_key("one secret");
        let b = derive_session_key("another secret");
        let t = new_session_token();
        assert_eq!(t.len(), 64);
        assert_ne!(session_hash(&a, &t), session_hash(&b, &t));
        assert_eq!(session_hash(&a, &t), session_hash(&a, &t));
        assert!(new_api_key().starts_with("sk_"));
        assert!(sentari_core::auth::check_password_policy(&random_password()).is_ok());
    }
}
