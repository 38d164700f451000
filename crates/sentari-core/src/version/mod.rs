//! Version comparators, one total order per ecosystem family.
//!
//! Each family follows its reference tool exactly (dpkg, rpm, apk-tools, Python `packaging`,
//! SemVer 2.0 as npm's `semver` implements it, Maven's `ComparableVersion`), because a
//! comparator that disagrees with the package manager produces false findings or hides real
//! ones. Parsing is separate from comparing so that hot paths can parse once; strings that
//! the reference tool would reject are a [`VersionError`], never a panic.

use std::fmt;
use std::str::FromStr;

/// A version order: which reference tool's rules decide `a < b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VersionScheme {
    /// dpkg (Debian, Ubuntu).
    Dpkg,
    /// rpm `rpmvercmp` with `E:V-R` (AlmaLinux, Rocky Linux, Red Hat, SUSE, openSUSE, Fedora).
    Rpm,
    /// apk-tools (Alpine, Wolfi, Chainguard).
    Apk,
    /// PEP 440 (PyPI).
    Pep440,
    /// SemVer 2.0 (npm, Go, crates.io).
    Semver,
    /// Maven `ComparableVersion`.
    Maven,
}

impl VersionScheme {
    /// The short name used in match explanations and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            VersionScheme::Dpkg => "dpkg",
            VersionScheme::Rpm => "rpm",
            VersionScheme::Apk => "apk",
            VersionScheme::Pep440 => "pep440",
            VersionScheme::Semver => "semver",
            VersionScheme::Maven => "maven",
        }
    }
}

impl fmt::Display for VersionScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name of a version scheme was not recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown version scheme {0:?}")]
pub struct UnknownScheme(pub String);

impl FromStr for VersionScheme {
    type Err = UnknownScheme;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "dpkg" => VersionScheme::Dpkg,
            "rpm" => VersionScheme::Rpm,
            "apk" => VersionScheme::Apk,
            "pep440" => VersionScheme::Pep440,
            "semver" => VersionScheme::Semver,
            "maven" => VersionScheme::Maven,
            _ => return Err(UnknownScheme(s.to_owned())),
        })
    }
}

pub mod apk;
pub mod dpkg;
pub mod maven;
pub mod pep440;
pub mod rpm;
pub mod semver;

use std::borrow::Cow;
use std::cmp::Ordering;

pub use apk::ApkVersion;
pub use dpkg::DpkgVersion;
pub use maven::MavenVersion;
pub use pep440::Pep440Version;
pub use rpm::RpmVersion;
pub use semver::SemverVersion;

/// Why one comparator rejected a string, without the string itself (the caller has it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    reason: Cow<'static, str>,
}

impl ParseError {
    pub(crate) fn new(reason: &'static str) -> ParseError {
        ParseError {
            reason: Cow::Borrowed(reason),
        }
    }

    pub(crate) fn owned(reason: String) -> ParseError {
        ParseError {
            reason: Cow::Owned(reason),
        }
    }

    /// The reason, in the reference tool's words where it has them.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// A version string that its scheme cannot parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {scheme} version {version:?}: {reason}")]
pub struct VersionError {
    /// The scheme that rejected it.
    pub scheme: VersionScheme,
    /// The rejected input (cut to 200 bytes).
    pub version: String,
    /// Why it was rejected.
    pub reason: ParseError,
}

impl VersionError {
    fn new(scheme: VersionScheme, version: &str, reason: ParseError) -> VersionError {
        let mut end = version.len().min(200);
        while !version.is_char_boundary(end) {
            end -= 1;
        }
        VersionError {
            scheme,
            version: version[..end].to_owned(),
            reason,
        }
    }
}

/// A parsed version of some scheme.
///
/// Versions of one scheme are totally ordered by that scheme's rules, and equality is the
/// scheme's (`1.0` = `1.0.0` in PEP 440). Versions of different schemes are never equal;
/// they order by scheme only so that `Ord` stays total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// A dpkg version.
    Dpkg(DpkgVersion),
    /// An rpm `E:V-R` label.
    Rpm(RpmVersion),
    /// An apk version.
    Apk(ApkVersion),
    /// A PEP 440 version.
    Pep440(Pep440Version),
    /// A SemVer version.
    Semver(SemverVersion),
    /// A Maven version.
    Maven(MavenVersion),
}

impl Version {
    /// The scheme of this version.
    pub fn scheme(&self) -> VersionScheme {
        match self {
            Version::Dpkg(_) => VersionScheme::Dpkg,
            Version::Rpm(_) => VersionScheme::Rpm,
            Version::Apk(_) => VersionScheme::Apk,
            Version::Pep440(_) => VersionScheme::Pep440,
            Version::Semver(_) => VersionScheme::Semver,
            Version::Maven(_) => VersionScheme::Maven,
        }
    }
}

impl Version {
    /// The version string as given.
    pub fn as_str(&self) -> &str {
        match self {
            Version::Dpkg(v) => v.as_str(),
            Version::Rpm(v) => v.as_str(),
            Version::Apk(v) => v.as_str(),
            Version::Pep440(v) => v.as_str(),
            Version::Semver(v) => v.as_str(),
            Version::Maven(v) => v.as_str(),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Version::Dpkg(a), Version::Dpkg(b)) => a.cmp(b),
            (Version::Rpm(a), Version::Rpm(b)) => a.cmp(b),
            (Version::Apk(a), Version::Apk(b)) => a.cmp(b),
            (Version::Pep440(a), Version::Pep440(b)) => a.cmp(b),
            (Version::Semver(a), Version::Semver(b)) => a.cmp(b),
            (Version::Maven(a), Version::Maven(b)) => a.cmp(b),
            (a, b) => a.scheme().cmp(&b.scheme()),
        }
    }
}

impl VersionScheme {
    /// Every scheme, for tests and help texts.
    pub const ALL: [VersionScheme; 6] = [
        VersionScheme::Dpkg,
        VersionScheme::Rpm,
        VersionScheme::Apk,
        VersionScheme::Pep440,
        VersionScheme::Semver,
        VersionScheme::Maven,
    ];

    /// Parses `input` under this scheme.
    pub fn parse(self, input: &str) -> Result<Version, VersionError> {
        let r = match self {
            VersionScheme::Dpkg => DpkgVersion::parse(input).map(Version::Dpkg),
            VersionScheme::Rpm => RpmVersion::parse(input).map(Version::Rpm),
            VersionScheme::Apk => ApkVersion::parse(input).map(Version::Apk),
            VersionScheme::Pep440 => Pep440Version::parse(input).map(Version::Pep440),
            VersionScheme::Semver => SemverVersion::parse(input).map(Version::Semver),
            VersionScheme::Maven => MavenVersion::parse(input).map(Version::Maven),
        };
        r.map_err(|e| VersionError::new(self, input, e))
    }

    /// Compares two version strings under this scheme. dpkg, rpm and apk compare without
    /// allocating, which keeps bulk comparison fast.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        let check = |s: &str| -> Result<(), VersionError> { self.parse(s).map(|_| ()) };
        let r = match self {
            VersionScheme::Dpkg => dpkg::compare(a, b),
            VersionScheme::Rpm => rpm::compare(a, b),
            VersionScheme::Apk => apk::compare(a, b),
            VersionScheme::Pep440 => pep440::compare(a, b),
            VersionScheme::Semver => semver::compare(a, b),
            VersionScheme::Maven => maven::compare(a, b),
        };
        // The error names whichever side failed first.
        r.map_err(|e| match check(a) {
            Err(ea) => ea,
            Ok(()) => VersionError::new(self, b, e),
        })
    }
}

#[cfg(test)]
mod tests;
