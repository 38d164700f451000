//! PEP 440 versions (PyPI), through the `pep440_rs` crate.
//!
//! `pep440_rs` implements the specification's normalisation (case, `-`/`_`/`.` separators,
//! `alpha`/`c`/`pre`/`preview` spellings, implicit post releases, a leading `v`, surrounding
//! whitespace) and its total order (epoch, release with trailing zeros ignored, dev < pre <
//! final < post, local versions after their public version), which is what Python's
//! `packaging.version` does. This module only adapts its errors.

use std::cmp::Ordering;
use std::str::FromStr;

use super::ParseError;

/// A parsed PEP 440 version.
#[derive(Debug, Clone)]
pub struct Pep440Version {
    raw: Box<str>,
    version: pep440_rs::Version,
}

impl Pep440Version {
    /// Parses a PEP 440 version; legacy (non-PEP 440) versions are errors, as in
    /// `packaging` 22 and later.
    pub fn parse(input: &str) -> Result<Pep440Version, ParseError> {
        let version =
            pep440_rs::Version::from_str(input).map_err(|e| ParseError::owned(e.to_string()))?;
        Ok(Pep440Version {
            raw: input.into(),
            version,
        })
    }

    /// The normalised form (`1.0RC1` → `1.0rc1`).
    pub fn normalized(&self) -> String {
        self.version.to_string()
    }

    /// The version as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The underlying `pep440_rs` version.
    pub fn inner(&self) -> &pep440_rs::Version {
        &self.version
    }
}

impl PartialEq for Pep440Version {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
    }
}

impl Eq for Pep440Version {}

impl PartialOrd for Pep440Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pep440Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.version.cmp(&other.version)
    }
}

/// Parses and compares two version strings.
pub fn compare(a: &str, b: &str) -> Result<Ordering, ParseError> {
    // Straight to `pep440_rs`, skipping the copy of the input a `Pep440Version` keeps.
    let parse =
        |s: &str| pep440_rs::Version::from_str(s).map_err(|e| ParseError::owned(e.to_string()));
    Ok(parse(a)?.cmp(&parse(b)?))
}
