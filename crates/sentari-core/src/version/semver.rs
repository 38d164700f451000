//! SemVer 2.0 versions (npm, Go, crates.io), through the `semver` crate.
//!
//! The rules are those of npm's `semver` package in strict mode: surrounding whitespace and
//! one leading `v` (Go always writes it) are ignored, numeric identifiers have no leading
//! zeros, major/minor/patch stay within JavaScript's safe integers, versions are at most 256
//! characters, and build metadata never affects precedence (`1.0.0+a` = `1.0.0+b`).

use std::cmp::Ordering;

use super::ParseError;

/// npm's `MAX_LENGTH`.
const MAX_LENGTH: usize = 256;
/// npm's `MAX_SAFE_INTEGER` bound on major, minor and patch.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A parsed SemVer version. Equality and order ignore build metadata.
#[derive(Debug, Clone)]
pub struct SemverVersion {
    raw: Box<str>,
    version: ::semver::Version,
}

impl SemverVersion {
    /// Parses a version, accepting surrounding whitespace and one leading `v`.
    pub fn parse(input: &str) -> Result<SemverVersion, ParseError> {
        Ok(SemverVersion {
            raw: input.into(),
            version: parse_inner(input)?,
        })
    }

    /// The version as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The underlying `semver` version.
    pub fn inner(&self) -> &::semver::Version {
        &self.version
    }
}

fn parse_inner(input: &str) -> Result<::semver::Version, ParseError> {
    let t = input.trim();
    if t.len() > MAX_LENGTH {
        return Err(ParseError::new("version is longer than 256 characters"));
    }
    let t = t.strip_prefix('v').unwrap_or(t);
    let v = ::semver::Version::parse(t).map_err(|e| ParseError::owned(e.to_string()))?;
    if v.major > MAX_SAFE_INTEGER || v.minor > MAX_SAFE_INTEGER || v.patch > MAX_SAFE_INTEGER {
        return Err(ParseError::new(
            "version number exceeds the safe integer range",
        ));
    }
    Ok(v)
}

impl PartialEq for SemverVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SemverVersion {}

impl PartialOrd for SemverVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SemverVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.version.cmp_precedence(&other.version)
    }
}

/// Parses and compares two version strings.
pub fn compare(a: &str, b: &str) -> Result<Ordering, ParseError> {
    Ok(parse_inner(a)?.cmp_precedence(&parse_inner(b)?))
}
