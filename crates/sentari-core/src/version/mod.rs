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
