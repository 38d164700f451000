//! Package ecosystems as OSV names them, and the host facts that decide them.
//!
//! OSV scopes every advisory to an ecosystem string such as `PyPI`, `Debian:12` or
//! `Ubuntu:Pro:18.04:LTS`. Matching is only correct when both sides agree on that string, so
//! [`Ecosystem`] parses and prints it exactly, keeps unknown strings verbatim as
//! [`Ecosystem::Unsupported`] instead of guessing, and knows which version comparator each
//! ecosystem uses. [`OsRelease`] reads `/etc/os-release` text and [`os_package_ecosystem`]
//! turns it into the release-scoped ecosystem under which the host's OS packages are judged.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::version::VersionScheme;

/// An OSV ecosystem, parsed from and printed back to the exact OSV string.
///
/// Distribution ecosystems carry their optional release suffix verbatim (everything after the
/// first `:`), so `Ubuntu:Pro:18.04:LTS` is `Ubuntu(Some("Pro:18.04:LTS"))` and prints back
/// unchanged. Strings that are not an ecosystem Sentari knows are kept as
/// [`Ecosystem::Unsupported`] so they can be reported rather than mis-matched.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    /// `PyPI`: Python packages, PEP 440 versions.
    PyPI,
    /// `npm`: JavaScript packages, SemVer versions.
    Npm,
    /// `Maven`: Java artifacts named `groupId:artifactId`, Maven `ComparableVersion` order.
    Maven,
    /// `Go`: Go modules, SemVer versions with a leading `v`.
    Go,
    /// `crates.io`: Rust crates, SemVer versions.
    CratesIo,
    /// `NuGet`: .NET packages. Recognised, but no comparator is implemented yet.
    NuGet,
    /// `Debian` or `Debian:<release>`, dpkg versions.
    Debian(Option<String>),
    /// `Ubuntu` or `Ubuntu:<release>` (e.g. `22.04:LTS`, `Pro:18.04:LTS`), dpkg versions.
    Ubuntu(Option<String>),
    /// `Alpine` or `Alpine:v<major>.<minor>`, apk versions.
    Alpine(Option<String>),
    /// `Wolfi`, apk versions.
    Wolfi,
    /// `Chainguard`, apk versions.
    Chainguard,
    /// `AlmaLinux` or `AlmaLinux:<major>`, rpm versions.
    AlmaLinux(Option<String>),
    /// `Rocky Linux` or `Rocky Linux:<major>`, rpm versions.
    RockyLinux(Option<String>),
    /// `Red Hat` or `Red Hat:<cpe-like stream>`, rpm versions.
    RedHat(Option<String>),
    /// `SUSE` or `SUSE:<product>`, rpm versions.
    Suse(Option<String>),
    /// `openSUSE` or `openSUSE:<product>`, rpm versions.
    OpenSuse(Option<String>),
    /// Any other string, kept verbatim. Never matched by range evaluation.
    Unsupported(String),
}

impl Ecosystem {
    /// Parses an OSV ecosystem string. Never fails: unknown strings become
    /// [`Ecosystem::Unsupported`] holding the input unchanged.
    pub fn parse(s: &str) -> Ecosystem {
        let (base, release) = match s.split_once(':') {
            Some((b, r)) => (b, Some(r)),
            None => (s, None),
        };
        // An empty release (`Debian:`) is not a valid OSV string; keeping it verbatim as
        // unsupported guarantees that printing gives back exactly what was read.
        if release.is_some_and(str::is_empty) {
            return Ecosystem::Unsupported(s.to_owned());
        }
        let rel = release.map(str::to_owned);
        match (base, release) {
            ("PyPI", None) => Ecosystem::PyPI,
            ("npm", None) => Ecosystem::Npm,
            ("Maven", None) => Ecosystem::Maven,
            ("Go", None) => Ecosystem::Go,
            ("crates.io", None) => Ecosystem::CratesIo,
            ("NuGet", None) => Ecosystem::NuGet,
            ("Wolfi", None) => Ecosystem::Wolfi,
            ("Chainguard", None) => Ecosystem::Chainguard,
            ("Debian", _) => Ecosystem::Debian(rel),
            ("Ubuntu", _) => Ecosystem::Ubuntu(rel),
            ("Alpine", _) => Ecosystem::Alpine(rel),
            ("AlmaLinux", _) => Ecosystem::AlmaLinux(rel),
            ("Rocky Linux", _) => Ecosystem::RockyLinux(rel),
            ("Red Hat", _) => Ecosystem::RedHat(rel),
            ("SUSE", _) => Ecosystem::Suse(rel),
            ("openSUSE", _) => Ecosystem::OpenSuse(rel),
            _ => Ecosystem::Unsupported(s.to_owned()),
        }
    }

    /// Like [`Ecosystem::parse`], with the name in any letter case (`pypi`, `debian:12`), as
    /// an operator types it into a filter. A name Sentari does not know is kept as written,
    /// and so is a release.
    pub fn parse_any_case(s: &str) -> Ecosystem {
        const KNOWN: [&str; 16] = [
            "PyPI",
            "npm",
            "Maven",
            "Go",
            "crates.io",
            "NuGet",
            "Wolfi",
            "Chainguard",
            "Debian",
            "Ubuntu",
            "Alpine",
            "AlmaLinux",
            "Rocky Linux",
            "Red Hat",
            "SUSE",
            "openSUSE",
        ];
        let (base, release) = match s.split_once(':') {
            Some((b, r)) => (b, Some(r)),
            None => (s, None),
        };
        match KNOWN.iter().find(|k| k.eq_ignore_ascii_case(base)) {
            Some(k) => Ecosystem::parse(&match release {
                Some(r) => format!("{k}:{r}"),
                None => (*k).to_owned(),
            }),
            None => Ecosystem::parse(s),
        }
    }

    /// The ecosystem name without any release suffix, as OSV spells it.
    pub fn base_name(&self) -> &str {
        match self {
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Npm => "npm",
            Ecosystem::Maven => "Maven",
            Ecosystem::Go => "Go",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::NuGet => "NuGet",
            Ecosystem::Debian(_) => "Debian",
            Ecosystem::Ubuntu(_) => "Ubuntu",
            Ecosystem::Alpine(_) => "Alpine",
            Ecosystem::Wolfi => "Wolfi",
            Ecosystem::Chainguard => "Chainguard",
            Ecosystem::AlmaLinux(_) => "AlmaLinux",
            Ecosystem::RockyLinux(_) => "Rocky Linux",
            Ecosystem::RedHat(_) => "Red Hat",
            Ecosystem::Suse(_) => "SUSE",
            Ecosystem::OpenSuse(_) => "openSUSE",
            Ecosystem::Unsupported(s) => s,
        }
    }

    /// The release suffix of a distribution ecosystem (`12` for `Debian:12`), if any.
    pub fn release(&self) -> Option<&str> {
        match self {
            Ecosystem::Debian(r)
            | Ecosystem::Ubuntu(r)
            | Ecosystem::Alpine(r)
            | Ecosystem::AlmaLinux(r)
            | Ecosystem::RockyLinux(r)
            | Ecosystem::RedHat(r)
            | Ecosystem::Suse(r)
            | Ecosystem::OpenSuse(r) => r.as_deref(),
            _ => None,
        }
    }

    /// The same ecosystem with its release suffix removed (`Debian:12` → `Debian`).
    ///
    /// The index keys advisories by this bare form so that one lookup finds both the
    /// release-scoped records and the ones that apply to every release.
    pub fn without_release(&self) -> Ecosystem {
        match self {
            Ecosystem::Debian(_) => Ecosystem::Debian(None),
            Ecosystem::Ubuntu(_) => Ecosystem::Ubuntu(None),
            Ecosystem::Alpine(_) => Ecosystem::Alpine(None),
            Ecosystem::AlmaLinux(_) => Ecosystem::AlmaLinux(None),
            Ecosystem::RockyLinux(_) => Ecosystem::RockyLinux(None),
            Ecosystem::RedHat(_) => Ecosystem::RedHat(None),
            Ecosystem::Suse(_) => Ecosystem::Suse(None),
            Ecosystem::OpenSuse(_) => Ecosystem::OpenSuse(None),
            other => other.clone(),
        }
    }

    /// The version order this ecosystem uses, or `None` when Sentari cannot compare its
    /// versions (unsupported ecosystems and NuGet).
    pub fn version_scheme(&self) -> Option<VersionScheme> {
        match self {
            Ecosystem::PyPI => Some(VersionScheme::Pep440),
            Ecosystem::Npm | Ecosystem::Go | Ecosystem::CratesIo => Some(VersionScheme::Semver),
            Ecosystem::Maven => Some(VersionScheme::Maven),
            Ecosystem::Debian(_) | Ecosystem::Ubuntu(_) => Some(VersionScheme::Dpkg),
            Ecosystem::Alpine(_) | Ecosystem::Wolfi | Ecosystem::Chainguard => {
                Some(VersionScheme::Apk)
            }
            Ecosystem::AlmaLinux(_)
            | Ecosystem::RockyLinux(_)
            | Ecosystem::RedHat(_)
            | Ecosystem::Suse(_)
            | Ecosystem::OpenSuse(_) => Some(VersionScheme::Rpm),
            Ecosystem::NuGet | Ecosystem::Unsupported(_) => None,
        }
    }

    /// True when Sentari can evaluate advisories of this ecosystem.
    pub fn is_supported(&self) -> bool {
        self.version_scheme().is_some()
    }

    /// Whether an advisory scoped to `self` (the record's ecosystem) applies to a package
    /// installed under `package` (the host's ecosystem).
    ///
    /// The bases must be equal. A record without a release applies to every release; a
    /// record with a release applies only to packages of exactly that release, so `Debian:12`
    /// records never match `Debian:11` packages. Red Hat is the one refinement: its records
    /// name a repository stream (`Red Hat:enterprise_linux:9::appstream`) that a host cannot
    /// know from `/etc/os-release`, so a package scoped to `Red Hat:enterprise_linux:9`
    /// matches every `::`-suffixed stream of that product. A package without a release
    /// only matches records without a release, because guessing the release could both
    /// invent and hide findings.
    pub fn applies_to(&self, package: &Ecosystem) -> bool {
        if !self.is_supported() || self.base_name() != package.base_name() {
            return false;
        }
        match (self.release(), package.release()) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(rec), Some(pkg)) => {
                rec == pkg
                    || (matches!(self, Ecosystem::RedHat(_))
                        && rec
                            .strip_prefix(pkg)
                            .is_some_and(|rest| rest.starts_with("::")))
            }
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base_name())?;
        if let Some(r) = self.release() {
            write!(f, ":{r}")?;
        }
        Ok(())
    }
}

impl FromStr for Ecosystem {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Ecosystem::parse(s))
    }
}

impl serde::Serialize for Ecosystem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Ecosystem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Ecosystem::parse(&s))
    }
}

/// The fields of `/etc/os-release` (os-release(5)) that decide a host's package ecosystem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    /// `ID`, lower-case (`debian`, `ubuntu`, `alpine`, `almalinux`, `rocky`, `rhel`, …);
    /// `linux` when the file does not set it, as os-release(5) specifies.
    pub id: String,
    /// `ID_LIKE`, split on whitespace.
    pub id_like: Vec<String>,
    /// `VERSION_ID` (`12`, `22.04`, `3.20.3`, `9.4`).
    pub version_id: Option<String>,
    /// `VERSION_CODENAME` (`bookworm`, `jammy`).
    pub version_codename: Option<String>,
    /// `PRETTY_NAME`, for display only.
    pub pretty_name: Option<String>,
}

impl OsRelease {
    /// Parses os-release text: `KEY=value` lines, `#` comments, blank lines, values optionally
    /// in single or double quotes, with shell-style backslash escapes. Malformed lines are
    /// ignored, as systemd does, so the parse never fails.
    pub fn parse(text: &str) -> OsRelease {
        let mut fields: HashMap<&str, String> = HashMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, raw)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                continue;
            }
            fields.insert(key, unquote(raw.trim()));
        }
        let non_empty = |k: &str| fields.get(k).filter(|v| !v.is_empty()).cloned();
        OsRelease {
            id: non_empty("ID")
                .map(|s| s.to_ascii_lowercase())
                .unwrap_or_else(|| "linux".to_owned()),
            id_like: fields
                .get("ID_LIKE")
                .map(|v| v.split_whitespace().map(str::to_ascii_lowercase).collect())
                .unwrap_or_default(),
            version_id: non_empty("VERSION_ID"),
            version_codename: non_empty("VERSION_CODENAME"),
            pretty_name: non_empty("PRETTY_NAME"),
        }
    }
}

/// Removes shell quoting from an os-release value. Inside double quotes (and unquoted) a
/// backslash escapes the next character; inside single quotes everything is literal.
fn unquote(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => out.push(c),
            (_, '\\') => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            (None, '#') if out.is_empty() => break,
            (_, c) => out.push(c),
        }
    }
    out
}

/// Why a host's OS packages cannot be matched against OSV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsupportedOs {
    /// The distribution is known, but OSV publishes no advisories for it (Amazon Linux,
    /// Fedora, CentOS, Oracle Linux, …).
    #[error("OSV has no advisories for the OS packages of {id}")]
    NotInOsv {
        /// The os-release `ID`.
        id: String,
    },
    /// The distribution is not one Sentari knows. Derivatives (`ID_LIKE`) are deliberately
    /// not mapped to their parent: their package versions and release numbers differ.
    #[error("unknown OS {id:?} (ID_LIKE {id_like:?}): not matched against OSV")]
    Unknown {
        /// The os-release `ID`.
        id: String,
        /// The os-release `ID_LIKE`, for the operator's information.
        id_like: Vec<String>,
    },
    /// The distribution is supported, but `VERSION_ID` (or a codename Sentari knows) is
    /// missing or malformed, so the release-scoped ecosystem cannot be named.
    #[error("cannot tell the release of {id} from VERSION_ID {version_id:?}")]
    UnknownRelease {
        /// The os-release `ID`.
        id: String,
        /// The os-release `VERSION_ID`, if present.
        version_id: Option<String>,
    },
}

/// The release-scoped OSV ecosystem of a host's OS packages.
///
/// | `ID` | example `VERSION_ID` | ecosystem |
/// |---|---|---|
/// | `debian` | `12` (or codename `bookworm` when testing has no `VERSION_ID`) | `Debian:12` |
/// | `ubuntu` | `22.04` / `23.10` | `Ubuntu:22.04:LTS` (even year, April) / `Ubuntu:23.10` |
/// | `alpine` | `3.20.3` | `Alpine:v3.20` |
/// | `almalinux` | `9.4` | `AlmaLinux:9` |
/// | `rocky` | `9.4` | `Rocky Linux:9` |
/// | `rhel` | `9.4` | `Red Hat:enterprise_linux:9` (matches its `::baseos`, `::appstream`, … streams) |
/// | `sles` | `15.5` | `SUSE:Linux Enterprise Server 15 SP5` |
/// | `opensuse-leap` | `15.5` | `openSUSE:Leap 15.5` |
/// | `opensuse-tumbleweed` | — | `openSUSE:Tumbleweed` |
/// | `wolfi`, `chainguard` | — | `Wolfi`, `Chainguard` |
///
/// Amazon Linux, Fedora, CentOS and Oracle Linux are [`UnsupportedOs::NotInOsv`]; anything
/// else is [`UnsupportedOs::Unknown`].
pub fn os_package_ecosystem(os: &OsRelease) -> Result<Ecosystem, UnsupportedOs> {
    let unknown_release = || UnsupportedOs::UnknownRelease {
        id: os.id.clone(),
        version_id: os.version_id.clone(),
    };
    let vid = os.version_id.as_deref().map(str::trim);
    let numeric_parts =
        |v: &str| -> Option<Vec<u32>> { v.split('.').map(|p| p.parse::<u32>().ok()).collect() };
    let major = || -> Result<String, UnsupportedOs> {
        let v = vid.ok_or_else(unknown_release)?;
        let first = v.split('.').next().unwrap_or_default();
        first
            .parse::<u32>()
            .map(|m| m.to_string())
            .map_err(|_| unknown_release())
    };
    match os.id.as_str() {
        "debian" => {
            let release = match vid {
                Some(_) => major()?,
                None => debian_codename_release(os.version_codename.as_deref())
                    .ok_or_else(unknown_release)?
                    .to_owned(),
            };
            Ok(Ecosystem::Debian(Some(release)))
        }
        "ubuntu" => {
            let v = vid.ok_or_else(unknown_release)?;
            let parts = numeric_parts(v).ok_or_else(unknown_release)?;
            let (Some(&year), Some(&month)) = (parts.first(), parts.get(1)) else {
                return Err(unknown_release());
            };
            let base = format!("{year:02}.{month:02}");
            // Canonical publishes an LTS every two years in April (even year, `.04`).
            if month == 4 && year % 2 == 0 {
                Ok(Ecosystem::Ubuntu(Some(format!("{base}:LTS"))))
            } else {
                Ok(Ecosystem::Ubuntu(Some(base)))
            }
        }
        "alpine" => {
            let v = vid.ok_or_else(unknown_release)?;
            let mut it = v.split('.');
            let maj = it.next().and_then(|p| p.parse::<u32>().ok());
            // Edge snapshots carry suffixes such as `3.21.0_alpha20240807`; only the
            // major.minor digits name the release branch.
            let min = it.next().and_then(|p| {
                let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<u32>().ok()
            });
            match (maj, min) {
                (Some(a), Some(b)) => Ok(Ecosystem::Alpine(Some(format!("v{a}.{b}")))),
                _ => Err(unknown_release()),
            }
        }
        "almalinux" => Ok(Ecosystem::AlmaLinux(Some(major()?))),
        "rocky" => Ok(Ecosystem::RockyLinux(Some(major()?))),
        "rhel" => Ok(Ecosystem::RedHat(Some(format!(
            "enterprise_linux:{}",
            major()?
        )))),
        "sles" | "sled" => {
            let v = vid.ok_or_else(unknown_release)?;
            let parts = numeric_parts(v).ok_or_else(unknown_release)?;
            let product = if os.id == "sles" { "Server" } else { "Desktop" };
            match parts.as_slice() {
                [m] | [m, 0] => Ok(Ecosystem::Suse(Some(format!(
                    "Linux Enterprise {product} {m}"
                )))),
                [m, sp] => Ok(Ecosystem::Suse(Some(format!(
                    "Linux Enterprise {product} {m} SP{sp}"
                )))),
                _ => Err(unknown_release()),
            }
        }
        "opensuse-leap" => {
            let v = vid.ok_or_else(unknown_release)?;
            numeric_parts(v).ok_or_else(unknown_release)?;
            Ok(Ecosystem::OpenSuse(Some(format!("Leap {v}"))))
        }
        "opensuse-tumbleweed" => Ok(Ecosystem::OpenSuse(Some("Tumbleweed".to_owned()))),
        "wolfi" => Ok(Ecosystem::Wolfi),
        "chainguard" => Ok(Ecosystem::Chainguard),
        "amzn" | "fedora" | "centos" | "ol" => Err(UnsupportedOs::NotInOsv { id: os.id.clone() }),
        _ => Err(UnsupportedOs::Unknown {
            id: os.id.clone(),
            id_like: os.id_like.clone(),
        }),
    }
}

/// Debian testing and unstable ship no `VERSION_ID`; their codename still names the release
/// the packages are heading for, which is what OSV scopes them to.
fn debian_codename_release(codename: Option<&str>) -> Option<&'static str> {
    match codename? {
        "buster" => Some("10"),
        "bullseye" => Some("11"),
        "bookworm" => Some("12"),
        "trixie" => Some("13"),
        "forky" => Some("14"),
        "duke" => Some("15"),
        _ => None,
    }
}

/// Normalises a PyPI project name per PEP 503: lower-case, and every run of `-`, `_` and
/// `.` becomes a single `-`. Both sides of a match go through it, so `Zope.Interface`,
/// `zope-interface` and `zope_interface` are one project.
pub fn normalize_pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
                in_sep = true;
            }
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// The name under which a package is looked up in `ecosystem`: PEP 503 for PyPI,
/// lower-case for NuGet (whose ids are case-insensitive), trimmed and otherwise unchanged for
/// the rest (Maven `groupId:artifactId`, npm `@scope/name`, Go module paths and distribution
/// source package names are case-sensitive).
pub fn normalize_package_name(ecosystem: &Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::PyPI => normalize_pypi_name(name),
        Ecosystem::NuGet => name.trim().to_lowercase(),
        _ => name.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn any_case_names_become_osv_spelling() {
        for (typed, osv) in [
            ("pypi", "PyPI"),
            ("NPM", "npm"),
            ("debian:12", "Debian:12"),
            ("rocky linux:9", "Rocky Linux:9"),
            ("CRATES.IO", "crates.io"),
            ("almalinux:8", "AlmaLinux:8"),
            ("PyPI", "PyPI"),
            ("Ubuntu:Pro:18.04:LTS", "Ubuntu:Pro:18.04:LTS"),
            ("jar", "jar"),
        ] {
            assert_eq!(Ecosystem::parse_any_case(typed).to_string(), osv, "{typed}");
        }
        assert_eq!(Ecosystem::parse_any_case("pypi"), Ecosystem::PyPI);
    }

    #[test]
    fn osv_strings_round_trip() {
        for s in [
            "PyPI",
            "npm",
            "Maven",
            "Go",
            "crates.io",
            "NuGet",
            "Debian",
            "Debian:12",
            "Ubuntu",
            "Ubuntu:22.04:LTS",
            "Ubuntu:Pro:18.04:LTS",
            "Ubuntu:23.10",
            "Alpine",
            "Alpine:v3.20",
            "AlmaLinux",
            "AlmaLinux:9",
            "Rocky Linux",
            "Rocky Linux:9",
            "Red Hat",
            "Red Hat:enterprise_linux:9::appstream",
            "SUSE",
            "SUSE:Linux Enterprise Server 15 SP5",
            "openSUSE",
            "openSUSE:Leap 15.5",
            "Wolfi",
            "Chainguard",
            "RubyGems",
            "pypi",
            "Debian:",
            "Go:1",
            "",
        ] {
            let e: Ecosystem = s.parse().unwrap();
            assert_eq!(e.to_string(), s, "{e:?}");
        }
        assert_eq!(
            Ecosystem::parse("Debian:12"),
            Ecosystem::Debian(Some("12".into()))
        );
        assert_eq!(
            Ecosystem::parse("Ubuntu:Pro:18.04:LTS"),
            Ecosystem::Ubuntu(Some("Pro:18.04:LTS".into()))
        );
        assert_eq!(
            Ecosystem::parse("pypi"),
            Ecosystem::Unsupported("pypi".into())
        );
        assert!(!Ecosystem::parse("RubyGems").is_supported());
        assert_eq!(
            serde_json::to_string(&Ecosystem::RockyLinux(Some("9".into()))).unwrap(),
            "\"Rocky Linux:9\""
        );
        let e: Ecosystem = serde_json::from_str("\"Alpine:v3.20\"").unwrap();
        assert_eq!(e, Ecosystem::Alpine(Some("v3.20".into())));
    }

    #[test]
    fn release_scoping() {
        let p = |s| Ecosystem::parse(s);
        assert!(p("Debian:12").applies_to(&p("Debian:12")));
        assert!(!p("Debian:12").applies_to(&p("Debian:11")));
        assert!(p("Debian").applies_to(&p("Debian:11")));
        assert!(!p("Debian:12").applies_to(&p("Debian")));
        assert!(!p("Debian:12").applies_to(&p("Ubuntu:12")));
        assert!(
            p("Red Hat:enterprise_linux:9::appstream").applies_to(&p("Red Hat:enterprise_linux:9"))
        );
        assert!(
            !p("Red Hat:enterprise_linux:9::appstream")
                .applies_to(&p("Red Hat:enterprise_linux:8"))
        );
        assert!(
            !p("Red Hat:enterprise_linux:90::appstream")
                .applies_to(&p("Red Hat:enterprise_linux:9"))
        );
        assert!(!p("RubyGems").applies_to(&p("RubyGems")));
        assert!(p("PyPI").applies_to(&p("PyPI")));
    }

    fn eco_of(text: &str) -> Result<String, UnsupportedOs> {
        os_package_ecosystem(&OsRelease::parse(text)).map(|e| e.to_string())
    }

    #[test]
    fn os_release_parsing() {
        let text = r#"
# comment
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
ID_LIKE='rhel  fedora'
BAD LINE
HOME_URL="https://www.debian.org/\"x\" \$y"
"#;
        let os = OsRelease::parse(text);
        assert_eq!(os.id, "debian");
        assert_eq!(os.version_id.as_deref(), Some("12"));
        assert_eq!(os.version_codename.as_deref(), Some("bookworm"));
        assert_eq!(
            os.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(os.id_like, vec!["rhel", "fedora"]);
        assert_eq!(
            unquote(r#""https://www.debian.org/\"x\" \$y""#),
            r#"https://www.debian.org/"x" $y"#
        );
        assert_eq!(OsRelease::parse("").id, "linux");
    }

    #[test]
    fn os_release_to_ecosystem() {
        assert_eq!(eco_of("ID=debian\nVERSION_ID=\"12\"").unwrap(), "Debian:12");
        assert_eq!(
            eco_of("ID=debian\nVERSION_CODENAME=trixie").unwrap(),
            "Debian:13"
        );
        assert_eq!(
            eco_of("ID=ubuntu\nVERSION_ID=\"22.04\"").unwrap(),
            "Ubuntu:22.04:LTS"
        );
        assert_eq!(
            eco_of("ID=ubuntu\nVERSION_ID=\"24.04\"").unwrap(),
            "Ubuntu:24.04:LTS"
        );
        assert_eq!(
            eco_of("ID=ubuntu\nVERSION_ID=\"23.10\"").unwrap(),
            "Ubuntu:23.10"
        );
        assert_eq!(
            eco_of("ID=ubuntu\nVERSION_ID=\"23.04\"").unwrap(),
            "Ubuntu:23.04"
        );
        assert_eq!(
            eco_of("ID=alpine\nVERSION_ID=3.20.3").unwrap(),
            "Alpine:v3.20"
        );
        assert_eq!(
            eco_of("ID=alpine\nVERSION_ID=3.21.0_alpha20240807").unwrap(),
            "Alpine:v3.21"
        );
        assert_eq!(
            eco_of("ID=\"almalinux\"\nVERSION_ID=\"9.4\"").unwrap(),
            "AlmaLinux:9"
        );
        assert_eq!(
            eco_of("ID=\"rocky\"\nVERSION_ID=\"8.10\"").unwrap(),
            "Rocky Linux:8"
        );
        assert_eq!(
            eco_of("ID=\"rhel\"\nVERSION_ID=\"9.4\"").unwrap(),
            "Red Hat:enterprise_linux:9"
        );
        assert_eq!(
            eco_of("ID=\"sles\"\nVERSION_ID=\"15.5\"").unwrap(),
            "SUSE:Linux Enterprise Server 15 SP5"
        );
        assert_eq!(
            eco_of("ID=\"opensuse-leap\"\nVERSION_ID=\"15.5\"").unwrap(),
            "openSUSE:Leap 15.5"
        );
        assert_eq!(
            eco_of("ID=opensuse-tumbleweed\nVERSION_ID=20240101").unwrap(),
            "openSUSE:Tumbleweed"
        );
        assert_eq!(eco_of("ID=wolfi").unwrap(), "Wolfi");
        assert!(matches!(
            eco_of("ID=amzn\nVERSION_ID=2023"),
            Err(UnsupportedOs::NotInOsv { .. })
        ));
        assert!(matches!(
            eco_of("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=21.3"),
            Err(UnsupportedOs::Unknown { .. })
        ));
        assert!(matches!(
            eco_of("ID=debian"),
            Err(UnsupportedOs::UnknownRelease { .. })
        ));
        assert!(matches!(
            eco_of("ID=ubuntu\nVERSION_ID=jammy"),
            Err(UnsupportedOs::UnknownRelease { .. })
        ));
        assert!(matches!(
            eco_of("ID=almalinux\nVERSION_ID=x"),
            Err(UnsupportedOs::UnknownRelease { .. })
        ));
    }

    #[test]
    fn pypi_names() {
        for n in [
            "Zope.Interface",
            "zope-interface",
            "zope_interface",
            "ZOPE__interface",
            "zope-._interface",
        ] {
            assert_eq!(normalize_pypi_name(n), "zope-interface");
        }
        assert_eq!(
            normalize_package_name(&Ecosystem::NuGet, "Newtonsoft.Json"),
            "newtonsoft.json"
        );
        assert_eq!(
            normalize_package_name(&Ecosystem::Npm, "@Scope/Pkg"),
            "@Scope/Pkg"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(s in "\\PC{0,40}") {
            prop_assert_eq!(Ecosystem::parse(&s).to_string(), s);
        }

        #[test]
        fn os_release_never_panics(s in "\\PC{0,200}") {
            let os = OsRelease::parse(&s);
            let _ = os_package_ecosystem(&os);
        }

        #[test]
        fn pypi_normalisation_is_idempotent(s in "[A-Za-z0-9._-]{0,30}") {
            let once = normalize_pypi_name(&s);
            prop_assert_eq!(normalize_pypi_name(&once), once.clone());
        }
    }
}
