//! The license (ARCHITECTURE.md §8, seed `000_…` "License"): an optional signed key in
//! `SENTARI_LICENSE_KEY`, verified offline against the vendor's public keys.
//!
//! - No key configured: community mode, everything works and nothing is shown.
//! - A key whose signature verifies and which has not expired: licensed; from 30 days before
//!   its expiry the dashboard and `/api/health` warn.
//! - A key that is malformed, signed by an unknown key, or expired: **read-only mode**. Reads,
//!   signing in, the caller's own account (password, MFA, API keys) and agent scans keep
//!   working; every other write (user management, settings, suppressions, tokens, feed syncs,
//!   device deletion, agent registration) answers `402 license_read_only`, and every page shows
//!   a banner saying why ([`management_write`] is the one rule both the API and the dashboard
//!   apply).
//!
//! The claims' format and the clock rules are in `sentari_core::license`; this module holds the
//! signature check (aws-lc-rs, the workspace's one crypto provider), the trusted keys and the
//! vendor's signing tools behind `sentari license`.
//!
//! **Trusted keys.** A release build trusts the Ed25519 public keys given at build time in
//! `SENTARI_LICENSE_VENDOR_PUBLIC_KEY` (base64 of the 32-byte key; several, comma-separated, to
//! rotate), so the vendor's private key never has to be near this repository. A debug build also
//! trusts the test key whose private half is `tests/fixtures/license/test-signing.key`, so the
//! integration tests can issue keys; release builds never trust it.

use std::time::Duration;

use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use axum::http::Method;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
pub use sentari_core::license::{LicenseClaims, LicenseFormatError, SignedLicense, Standing};
use time::OffsetDateTime;

use crate::logging::SECURITY;
use crate::state::AppState;

/// The vendor keys compiled into this build (see the module documentation).
const VENDOR_KEYS: Option<&str> = option_env!("SENTARI_LICENSE_VENDOR_PUBLIC_KEY");

/// The public half of `tests/fixtures/license/test-signing.key`, trusted by debug builds only.
#[cfg(debug_assertions)]
const TEST_KEY: &str = "oLxdrdbYDqRB8CjTc5ptIAch4JAh50yXkwNCfX814TY=";

/// How often a running server re-reads the clock against the key's expiry for its logs. The
/// request path checks the clock on every write, so this only decides how soon the transition
/// is logged.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(3600);

/// Why a license tool failed.
#[derive(Debug, thiserror::Error)]
pub enum LicenseError {
    /// The key text cannot be read.
    #[error(transparent)]
    Format(#[from] LicenseFormatError),
    /// The signature is not from any trusted vendor key.
    #[error(
        "the license key's signature does not verify against the vendor keys this build trusts (was it edited, or issued for another product?)"
    )]
    Signature,
    /// The build trusts no vendor key at all.
    #[error(
        "this build trusts no license signing key (it was built without SENTARI_LICENSE_VENDOR_PUBLIC_KEY), so no key can be verified"
    )]
    NoTrustedKey,
    /// A public key given to the build or on the command line is not base64 of 32 bytes.
    #[error("invalid Ed25519 public key {0:?}: expected base64 of 32 bytes")]
    PublicKey(String),
    /// The signing key file is not an Ed25519 PKCS#8 key.
    #[error("invalid signing key: {0}")]
    SigningKey(String),
    /// The claims break a rule of the format.
    #[error("invalid license claims: {0}")]
    Claims(String),
}

/// The Ed25519 public keys whose signatures this process accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedKeys(Vec<[u8; 32]>);

impl TrustedKeys {
    /// The keys compiled into this build.
    pub fn built_in() -> TrustedKeys {
        let vendor = VENDOR_KEYS.unwrap_or_default();
        #[cfg(debug_assertions)]
        let list = format!("{vendor},{TEST_KEY}");
        #[cfg(not(debug_assertions))]
        let list = vendor.to_owned();
        // A malformed build-time key is a packaging mistake: it is skipped here, so the other
        // keys still work, and `sentari license verify` names it.
        TrustedKeys(
            list.split(',')
                .filter_map(|k| TrustedKeys::parse(k).ok())
                .flat_map(|k| k.0)
                .collect(),
        )
    }

    /// The build-time vendor key list, parsed strictly (for `sentari license verify`).
    pub fn check_built_in() -> Result<(), LicenseError> {
        TrustedKeys::parse(VENDOR_KEYS.unwrap_or_default()).map(|_| ())
    }

    /// Reads a comma-separated list of base64 public keys; empty entries are skipped.
    pub fn parse(list: &str) -> Result<TrustedKeys, LicenseError> {
        let mut keys = Vec::new();
        for k in list.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            let raw = STANDARD
                .decode(k)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .ok_or_else(|| LicenseError::PublicKey(k.to_owned()))?;
            keys.push(raw);
        }
        Ok(TrustedKeys(keys))
    }

    /// Reads `text` and checks its signature against every trusted key.
    pub fn verify(&self, text: &str) -> Result<LicenseClaims, LicenseError> {
        let signed = SignedLicense::parse(text)?;
        if self.0.is_empty() {
            return Err(LicenseError::NoTrustedKey);
        }
        let ok = self.0.iter().any(|k| {
            UnparsedPublicKey::new(&signature::ED25519, k)
                .verify(signed.signed.as_bytes(), &signed.signature)
                .is_ok()
        });
        if ok {
            Ok(signed.claims)
        } else {
            Err(LicenseError::Signature)
        }
    }
}

/// What the configured key means for this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum License {
    /// No key configured: full community mode.
    Community,
    /// A verified key; whether it is still in force depends on the clock.
    Licensed(LicenseClaims),
    /// A key that cannot be accepted, and why: the server is read-only.
    Rejected(String),
}

impl License {
    /// Verifies the configured key (blank counts as none).
    pub fn from_key(key: Option<&str>, trusted: &TrustedKeys) -> License {
        match key.filter(|k| !k.trim().is_empty()) {
            None => License::Community,
            Some(k) => match trusted.verify(k) {
                Ok(claims) => License::Licensed(claims),
                Err(e) => License::Rejected(e.to_string()),
            },
        }
    }

    /// Why the server is read-only at `now`, or `None` when writes are allowed.
    pub fn read_only(&self, now: OffsetDateTime) -> Option<String> {
        match self {
            License::Community => None,
            License::Rejected(reason) => {
                Some(format!("the configured license key is invalid: {reason}"))
            }
            License::Licensed(c) => (c.standing(now) == Standing::Expired).then(|| {
                format!(
                    "license {} for {} expired on {}",
                    c.id,
                    c.licensee,
                    c.expires_at.date()
                )
            }),
        }
    }

    /// The warning `/api/health` lists and the dashboard shows as a banner, if any:
    /// `license_read_only: …` or `license_expiring: …`.
    pub fn warning(&self, now: OffsetDateTime) -> Option<String> {
        if let Some(reason) = self.read_only(now) {
            return Some(format!(
                "license_read_only: {reason}; management changes are refused (HTTP 402) until a valid SENTARI_LICENSE_KEY is configured and the server restarted"
            ));
        }
        match self {
            License::Licensed(c) => match c.standing(now) {
                Standing::ExpiringSoon { days_left } => Some(format!(
                    "license_expiring: license {} for {} expires on {} ({} left); the server turns read-only then",
                    c.id,
                    c.licensee,
                    c.expires_at.date(),
                    match days_left {
                        0 => "less than a day".to_owned(),
                        1 => "1 day".to_owned(),
                        n => format!("{n} days"),
                    }
                )),
                _ => None,
            },
            _ => None,
        }
    }

    /// A one-line description for the startup log and `sentari license verify`.
    pub fn describe(&self, now: OffsetDateTime) -> String {
        match self {
            License::Community => "no license key configured: community mode".to_owned(),
            License::Rejected(_) => self.read_only(now).unwrap_or_default(),
            License::Licensed(c) => match c.standing(now) {
                Standing::Expired => self.read_only(now).unwrap_or_default(),
                _ => format!(
                    "license {} for {} valid until {}",
                    c.id,
                    c.licensee,
                    c.expires_at.date()
                ),
            },
        }
    }
}

/// Whether a request is a management write, refused in read-only mode.
///
/// Reads never are. Writes are, except what a user needs to keep reading and to keep their own
/// account safe (signing in and out, single sign-on, their own password, MFA and API keys) and
/// what enrolled agents need to keep reporting (scan upload, certificate renewal). Agent
/// *registration* adds a device, so it is a management write, as the seed says.
pub fn management_write(method: &Method, path: &str) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let own_account = path == "/login"
        || path == "/logout"
        || path == "/profile"
        || path.starts_with("/profile/")
        || path.starts_with("/api/v1/auth/");
    let agent_upkeep = path == "/api/v1/agent/scan" || path == "/api/v1/agent/renew";
    !(own_account || agent_upkeep)
}

/// The refusal a management write gets at `now`, when the server is read-only: the detail of
/// the `402` answer. Logged to `security.log` (the seed's "license rejections").
pub fn refusal(state: &AppState, method: &Method, path: &str, user: &str) -> Option<String> {
    if !management_write(method, path) {
        return None;
    }
    let reason = state.license().read_only(OffsetDateTime::now_utc())?;
    tracing::warn!(
        target: SECURITY,
        event = "license_read_only",
        user = %user,
        method = %method,
        path = %path,
        reason = %reason,
        "management write refused: read-only license mode"
    );
    Some(format!(
        "Sentari is in read-only mode because {reason}. Reading, signing in and agent scans still work; configure a valid SENTARI_LICENSE_KEY and restart the server to make changes again."
    ))
}

/// Logs the license at start (the seed's "Startup license validation completed"), then every
/// [`WATCH_INTERVAL`] logs when a key expires or enters its last month, until `stop`.
pub async fn watch(state: AppState, stop: tokio_util::sync::CancellationToken) {
    let license = state.license().clone();
    let mut last = license.warning(OffsetDateTime::now_utc());
    log_state(&license, OffsetDateTime::now_utc());
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(WATCH_INTERVAL) => {}
        }
        let now = OffsetDateTime::now_utc();
        let warning = license.warning(now);
        if warning != last {
            log_state(&license, now);
            last = warning;
        }
    }
}

fn log_state(license: &License, now: OffsetDateTime) {
    let text = license.describe(now);
    if matches!(license, License::Community) {
        tracing::info!("{text}");
    } else if license.read_only(now).is_some() {
        tracing::warn!(target: SECURITY, event = "license_rejected", reason = %text, "license not in force: read-only mode");
        tracing::warn!("license not in force, the server is read-only: {text}");
    } else if let Some(w) = license.warning(now) {
        tracing::warn!("{}", w.trim_start_matches("license_expiring: "));
    } else {
        tracing::info!("Startup license validation completed: {text}");
    }
}

/// A new vendor signing key: the PKCS#8 PEM to keep secret and the public key (base64) to
/// build into releases.
pub fn generate_signing_key() -> Result<(String, String), LicenseError> {
    let pair = Ed25519KeyPair::generate()
        .map_err(|_| LicenseError::SigningKey("generation failed".into()))?;
    let der = pair
        .to_pkcs8v1()
        .map_err(|_| LicenseError::SigningKey("encoding failed".into()))?;
    let pem = pkcs8::der::pem::encode_string("PRIVATE KEY", pkcs8::LineEnding::LF, der.as_ref())
        .map_err(|e| LicenseError::SigningKey(format!("encoding failed ({e})")))?;
    Ok((pem, STANDARD.encode(pair.public_key().as_ref())))
}

/// Signs `claims` with a PKCS#8 PEM Ed25519 key (as written by [`generate_signing_key`] or
/// `openssl genpkey -algorithm ED25519`) and returns the key text.
pub fn issue(claims: &LicenseClaims, signing_key_pem: &str) -> Result<String, LicenseError> {
    claims.check().map_err(LicenseError::Claims)?;
    let sig = signing_pair(signing_key_pem)?.sign(claims.signing_input().as_bytes());
    Ok(claims.key_text(sig.as_ref()))
}

/// The public key (base64) of a PKCS#8 PEM Ed25519 signing key.
pub fn public_key_of(signing_key_pem: &str) -> Result<String, LicenseError> {
    Ok(STANDARD.encode(signing_pair(signing_key_pem)?.public_key().as_ref()))
}

fn signing_pair(pem: &str) -> Result<Ed25519KeyPair, LicenseError> {
    let (label, der) = pkcs8::der::Document::from_pem(pem)
        .map_err(|e| LicenseError::SigningKey(format!("not a PEM \"PRIVATE KEY\" file ({e})")))?;
    if label != "PRIVATE KEY" {
        return Err(LicenseError::SigningKey(format!(
            "a PEM \"{label}\", not an unencrypted \"PRIVATE KEY\""
        )));
    }
    Ed25519KeyPair::from_pkcs8(der.as_bytes())
        .map_err(|e| LicenseError::SigningKey(format!("not an Ed25519 PKCS#8 key ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const TEST_SIGNING_KEY: &str = include_str!("../../tests/fixtures/license/test-signing.key");

    fn claims(expires: OffsetDateTime) -> LicenseClaims {
        LicenseClaims {
            id: "LIC-T-1".into(),
            licensee: "Test Agency".into(),
            issued_at: datetime!(2026-01-01 00:00 UTC),
            expires_at: expires,
        }
    }

    #[test]
    fn the_test_key_is_trusted_in_debug_builds_and_matches_its_private_half() {
        assert_eq!(public_key_of(TEST_SIGNING_KEY).unwrap(), TEST_KEY);
        let trusted = TrustedKeys::built_in();
        let key = issue(&claims(datetime!(2030-01-01 00:00 UTC)), TEST_SIGNING_KEY).unwrap();
        assert_eq!(trusted.verify(&key).unwrap().licensee, "Test Agency");
    }

    #[test]
    fn tampering_and_foreign_keys_are_rejected() {
        let trusted = TrustedKeys::built_in();
        let key = issue(&claims(datetime!(2030-01-01 00:00 UTC)), TEST_SIGNING_KEY).unwrap();
        // Another licensee under the same signature.
        let mut other = claims(datetime!(2030-01-01 00:00 UTC));
        other.licensee = "Someone Else".into();
        let sig = key.rsplit_once('.').unwrap().1;
        let forged = format!("{}.{sig}", other.signing_input());
        assert!(matches!(
            trusted.verify(&forged),
            Err(LicenseError::Signature)
        ));
        // A key signed by a vendor key this build does not trust.
        let (foreign_pem, foreign_pub) = generate_signing_key().unwrap();
        let foreign = issue(&claims(datetime!(2030-01-01 00:00 UTC)), &foreign_pem).unwrap();
        assert!(matches!(
            trusted.verify(&foreign),
            Err(LicenseError::Signature)
        ));
        let only_foreign = TrustedKeys::parse(&foreign_pub).unwrap();
        assert!(only_foreign.verify(&foreign).is_ok());
        assert!(matches!(
            TrustedKeys::default().verify(&foreign),
            Err(LicenseError::NoTrustedKey)
        ));
        assert!(matches!(
            TrustedKeys::parse("abc"),
            Err(LicenseError::PublicKey(_))
        ));
    }

    #[test]
    fn read_only_follows_the_key_and_the_clock() {
        let trusted = TrustedKeys::built_in();
        let key = issue(&claims(datetime!(2027-01-01 00:00 UTC)), TEST_SIGNING_KEY).unwrap();
        let l = License::from_key(Some(&key), &trusted);
        assert!(l.read_only(datetime!(2026-06-01 00:00 UTC)).is_none());
        assert!(l.warning(datetime!(2026-06-01 00:00 UTC)).is_none());
        let soon = l.warning(datetime!(2026-12-30 00:00 UTC)).unwrap();
        assert!(soon.starts_with("license_expiring:"), "{soon}");
        assert!(soon.contains("2 days"), "{soon}");
        let expired = l.warning(datetime!(2027-01-02 00:00 UTC)).unwrap();
        assert!(expired.starts_with("license_read_only:"), "{expired}");
        assert!(expired.contains("expired on 2027-01-01"), "{expired}");

        assert_eq!(License::from_key(None, &trusted), License::Community);
        assert_eq!(License::from_key(Some("  "), &trusted), License::Community);
        assert!(
            License::Community
                .warning(datetime!(2040-01-01 00:00 UTC))
                .is_none()
        );
        let bad = License::from_key(Some("sentari-license-v1.x.y"), &trusted);
        let why = bad.read_only(datetime!(2026-06-01 00:00 UTC)).unwrap();
        assert!(why.contains("invalid"), "{why}");
    }

    #[test]
    fn management_writes_are_every_write_but_the_own_account_and_agent_upkeep() {
        for (m, p) in [
            (Method::POST, "/api/v1/users"),
            (Method::PATCH, "/api/v1/users/3"),
            (Method::POST, "/api/v1/suppressions"),
            (Method::DELETE, "/api/v1/devices/abc"),
            (Method::POST, "/api/v1/feeds/sync"),
            (Method::PUT, "/api/v1/settings/mfa-policy"),
            (Method::POST, "/api/v1/agent/register"),
            (Method::POST, "/admin/settings/users"),
            (Method::POST, "/security/cve/suppressions"),
        ] {
            assert!(management_write(&m, p), "{m} {p}");
        }
        for (m, p) in [
            (Method::GET, "/api/v1/users"),
            (Method::GET, "/admin/settings"),
            (Method::POST, "/login"),
            (Method::POST, "/logout"),
            (Method::POST, "/profile/password"),
            (Method::POST, "/api/v1/auth/login"),
            (Method::POST, "/api/v1/auth/api-keys"),
            (Method::POST, "/api/v1/auth/mfa/enroll"),
            (Method::POST, "/api/v1/agent/scan"),
            (Method::POST, "/api/v1/agent/renew"),
        ] {
            assert!(!management_write(&m, p), "{m} {p}");
        }
    }
}
