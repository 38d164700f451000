//! The license key: its text format, its claims, and what a key means at a given time
//! (ARCHITECTURE.md §8).
//!
//! A key is one line, `sentari-license-v1.<claims>.<signature>`, where `<claims>` is the claims
//! JSON and `<signature>` an Ed25519 signature, both in unpadded base64url. The signature covers
//! the text before the second dot (`sentari-license-v1.<claims>`), so the version prefix is
//! signed too and a key cannot be replayed under another format. Checking the signature needs
//! a cryptographic library and the trusted vendor keys, which live in the server; this module
//! only splits and reads the text, and decides from the claims and the clock whether a key is
//! in force, so the rules are the same in the server and in `sentari license verify`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The first field of every key of this format.
pub const PREFIX: &str = "sentari-license-v1";

/// Keys longer than this are refused before decoding: a real key is a few hundred bytes.
pub const MAX_KEY_LEN: usize = 8 * 1024;

/// The length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Within this many days of its expiry, a valid key is reported as expiring soon, so operators
/// have a month to renew before the server turns read-only.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// What a license grants, as signed by the vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseClaims {
    /// The vendor's identifier of this license (shown to operators and in support requests).
    pub id: String,
    /// Who the license is issued to.
    pub licensee: String,
    /// When it was issued.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// The instant it stops being valid.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Why a key's text cannot be read. Each message tells the operator what is wrong with the
/// value they configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseFormatError {
    /// Nothing but whitespace.
    #[error("the license key is empty")]
    Empty,
    /// Over [`MAX_KEY_LEN`].
    #[error("the license key is {0} bytes long; a key is a single line of a few hundred bytes")]
    TooLong(usize),
    /// Not three dot-separated fields starting with [`PREFIX`].
    #[error("not a Sentari license key: expected `{PREFIX}.<claims>.<signature>`")]
    Shape,
    /// A field is not unpadded base64url.
    #[error("the license key's {0} is not valid base64url (was the key cut or re-wrapped?)")]
    Encoding(&'static str),
    /// The signature does not have the length of an Ed25519 signature.
    #[error("the license key's signature is {0} bytes long, expected {SIGNATURE_LEN}")]
    SignatureLength(usize),
    /// The claims are not the expected JSON.
    #[error("the license key's claims cannot be read: {0}")]
    Claims(String),
}

/// A key split into its parts, not yet checked against any trusted vendor key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLicense {
    /// The bytes the signature covers: `sentari-license-v1.<claims>`.
    pub signed: String,
    /// The decoded claims.
    pub claims: LicenseClaims,
    /// The Ed25519 signature.
    pub signature: Vec<u8>,
}

impl SignedLicense {
    /// Reads a key. Whitespace around it and line breaks inside it are ignored, since keys
    /// travel through e-mail and YAML, which wrap long lines.
    pub fn parse(text: &str) -> Result<SignedLicense, LicenseFormatError> {
        if text.len() > MAX_KEY_LEN {
            return Err(LicenseFormatError::TooLong(text.len()));
        }
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return Err(LicenseFormatError::Empty);
        }
        let mut fields = compact.split('.');
        let (Some(prefix), Some(claims), Some(signature), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(LicenseFormatError::Shape);
        };
        if prefix != PREFIX || claims.is_empty() || signature.is_empty() {
            return Err(LicenseFormatError::Shape);
        }
        let claims_json = URL_SAFE_NO_PAD
            .decode(claims)
            .map_err(|_| LicenseFormatError::Encoding("claims"))?;
        let signature_bytes = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| LicenseFormatError::Encoding("signature"))?;
        if signature_bytes.len() != SIGNATURE_LEN {
            return Err(LicenseFormatError::SignatureLength(signature_bytes.len()));
        }
        let parsed: LicenseClaims = serde_json::from_slice(&claims_json)
            .map_err(|e| LicenseFormatError::Claims(e.to_string()))?;
        parsed.check().map_err(LicenseFormatError::Claims)?;
        Ok(SignedLicense {
            signed: format!("{PREFIX}.{claims}"),
            claims: parsed,
            signature: signature_bytes,
        })
    }
}

impl LicenseClaims {
    /// The rules every key's claims follow, checked when a key is read and when one is issued.
    pub fn check(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("`id` is empty".to_owned());
        }
        if self.licensee.trim().is_empty() {
            return Err("`licensee` is empty".to_owned());
        }
        if self.expires_at <= self.issued_at {
            return Err("`expires_at` is not after `issued_at`".to_owned());
        }
        Ok(())
    }

    /// The text that gets signed for these claims: `sentari-license-v1.<claims>`.
    pub fn signing_input(&self) -> String {
        // Serialising a struct of strings and timestamps cannot fail; an empty object would
        // still fail `parse`, so a key made from it could never be accepted.
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{PREFIX}.{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// The whole key, given the signature of [`Self::signing_input`].
    pub fn key_text(&self, signature: &[u8]) -> String {
        format!(
            "{}.{}",
            self.signing_input(),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// Where the license stands at `now`.
    pub fn standing(&self, now: OffsetDateTime) -> Standing {
        if now >= self.expires_at {
            return Standing::Expired;
        }
        let days_left = (self.expires_at - now).whole_days();
        if days_left < EXPIRY_WARNING_DAYS {
            Standing::ExpiringSoon { days_left }
        } else {
            Standing::Valid
        }
    }
}

/// A signed key's standing at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// In force.
    Valid,
    /// In force, but for fewer than [`EXPIRY_WARNING_DAYS`] more days.
    ExpiringSoon {
        /// Whole days until it expires (0 on the last day).
        days_left: i64,
    },
    /// Past its expiry: the server is read-only.
    Expired,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn claims() -> LicenseClaims {
        LicenseClaims {
            id: "LIC-2026-0042".into(),
            licensee: "Example Agency".into(),
            issued_at: datetime!(2026-01-01 00:00 UTC),
            expires_at: datetime!(2027-01-01 00:00 UTC),
        }
    }

    #[test]
    fn a_key_reads_back_its_claims_and_signed_text() {
        let c = claims();
        let key = c.key_text(&[7u8; 64]);
        assert!(key.starts_with("sentari-license-v1."));
        let parsed = SignedLicense::parse(&key).unwrap();
        assert_eq!(parsed.claims, c);
        assert_eq!(parsed.signed, c.signing_input());
        assert_eq!(parsed.signature, vec![7u8; 64]);
        // Wrapped across lines and indented, as in an e-mail or a YAML block.
        let (a, b) = key.split_at(40);
        let wrapped = format!("  {a}\n    {b}\n");
        assert_eq!(SignedLicense::parse(&wrapped).unwrap(), parsed);
    }

    #[test]
    fn malformed_keys_get_a_reason() {
        use LicenseFormatError as E;
        let good = claims().key_text(&[1u8; 64]);
        let (head, sig) = good.rsplit_once('.').unwrap();
        assert_eq!(SignedLicense::parse(" \n"), Err(E::Empty));
        assert_eq!(SignedLicense::parse("abc"), Err(E::Shape));
        assert_eq!(
            SignedLicense::parse(&good.replacen("v1", "v2", 1)),
            Err(E::Shape)
        );
        assert_eq!(SignedLicense::parse(&format!("{good}.x")), Err(E::Shape));
        assert_eq!(
            SignedLicense::parse(&format!("{head}.{}", &sig[..20])),
            Err(E::SignatureLength(15))
        );
        assert_eq!(
            SignedLicense::parse(&format!("{head}.***")),
            Err(E::Encoding("signature"))
        );
        assert_eq!(
            SignedLicense::parse(&format!("{PREFIX}.e30.{sig}")),
            Err(E::Claims(
                "missing field `id` at line 1 column 2".to_owned()
            ))
        );
        assert!(matches!(
            SignedLicense::parse(&"a".repeat(MAX_KEY_LEN + 1)),
            Err(E::TooLong(_))
        ));
        let mut backwards = claims();
        backwards.expires_at = backwards.issued_at;
        assert!(matches!(
            SignedLicense::parse(&backwards.key_text(&[1u8; 64])),
            Err(E::Claims(m)) if m.contains("expires_at")
        ));
    }

    #[test]
    fn standing_follows_the_clock() {
        let c = claims();
        assert_eq!(c.standing(datetime!(2026-06-01 00:00 UTC)), Standing::Valid);
        assert_eq!(
            c.standing(datetime!(2026-12-10 12:00 UTC)),
            Standing::ExpiringSoon { days_left: 21 }
        );
        assert_eq!(
            c.standing(datetime!(2026-12-31 23:59 UTC)),
            Standing::ExpiringSoon { days_left: 0 }
        );
        assert_eq!(
            c.standing(datetime!(2027-01-01 00:00 UTC)),
            Standing::Expired
        );
    }
}
