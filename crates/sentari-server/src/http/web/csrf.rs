//! Per-session CSRF tokens for the dashboard's forms.
//!
//! Every form post carries a hidden `csrf` field. Its value is an HMAC of the session's id under
//! the session key (itself derived from `SENTARI_SECRET_KEY`), so it needs no storage, differs
//! for every session, changes at every login (a new session id), and dies with the session or
//! with a key rotation. The guard checks it in addition to the `Sec-Fetch-Site`/`Origin` check
//! the API applies to cookie writes: either alone stops a cross-site form post; together they
//! also cover old browsers and same-site subdomains.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// The name of the hidden form field.
pub const FIELD: &str = "csrf";

/// The token of one session.
pub fn token(session_key: &[u8; 32], session_id: Uuid) -> String {
    // HMAC accepts keys of any length, so building it cannot fail; the fallback keeps the
    // function total without a panic path (and an empty token never verifies, see `verify`).
    match <Hmac<Sha256> as Mac>::new_from_slice(session_key) {
        Ok(mut mac) => {
            // A label keeps these MACs apart from the session-token hashes made with the same key.
            mac.update(b"sentari dashboard csrf v1\0");
            mac.update(session_id.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Whether a submitted token equals the expected one, in constant time.
pub fn verify(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_per_session_and_per_key() {
        let k1 = [1u8; 32];
        let k2 = [2u8; 32];
        let s1 = Uuid::now_v7();
        let s2 = Uuid::now_v7();
        let t = token(&k1, s1);
        assert_eq!(t.len(), 64);
        assert!(verify(&t, &token(&k1, s1)));
        assert!(!verify(&t, &token(&k1, s2)));
        assert!(!verify(&t, &token(&k2, s1)));
        assert!(!verify(&t, ""));
        assert!(!verify("", ""));
        assert!(!verify(&t, &t[..63]));
    }
}
