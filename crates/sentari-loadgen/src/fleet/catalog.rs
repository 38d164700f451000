//! The package catalog the virtual fleet draws from, built from real inventories.
//!
//! Realism matters for two reasons. The server's costs depend on how many *distinct* package
//! versions a fleet has (correlation is per version, ARCHITECTURE.md §4), so devices must
//! overlap the way real ones do; and findings must actually occur, so the names and versions
//! must be the ones the OSV advisories talk about. The catalog therefore takes this machine's
//! dpkg database and Python dist-info directories, plus every package name and version that
//! appears in the shared OSV archives (`<dir>/<Ecosystem>/all.zip`): PyPI and Go names become
//! language packages, AlmaLinux names become the OS packages of AlmaLinux hosts.
//!
//! Everything is sorted after loading, so the same inputs give the same catalog, and the
//! generator ([`super::generate`]) is deterministic for a given catalog and seed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sentari_core::ecosystem::{OsRelease, os_package_ecosystem};

/// At most this many versions are kept per package name: enough for upgrades and for a mix of
/// affected and fixed versions, few enough that popular versions repeat across devices.
const MAX_VERSIONS: usize = 12;

/// The largest OSV record the loader reads (a bound, since the archives are input).
const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// What went wrong building the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// An OSV archive could not be read.
    #[error("cannot read OSV archive {path}: {detail}")]
    Osv {
        /// The archive.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// Nothing at all was found to build devices from.
    #[error("the catalog is empty: no dpkg database, no Python packages and no OSV archive")]
    Empty,
}

/// One package name with the versions devices may have, the most common first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The package name as the agent would report it.
    pub name: String,
    /// The source package (OS packages), when it differs from the name.
    pub source_name: Option<String>,
    /// Candidate versions; `versions[0]` is the popular one most devices get.
    pub versions: Vec<String>,
}

/// The OS of one kind of host and its packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsProfile {
    /// `ID` of os-release (`debian`, `almalinux`).
    pub id: String,
    /// `VERSION_ID` (`12`, `9.4`).
    pub version_id: String,
    /// `PRETTY_NAME`.
    pub pretty_name: String,
    /// The release-scoped ecosystem the agent reports for its OS packages (`Debian:12`).
    pub ecosystem: String,
    /// `dpkg` or `rpm`: decides the install path and architecture strings.
    pub format: OsFormat,
    /// Packages in popularity order.
    pub entries: Vec<Entry>,
}

/// The package format of an OS profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsFormat {
    /// Debian and derivatives.
    Dpkg,
    /// Red Hat and derivatives.
    Rpm,
}

/// Everything devices are drawn from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// OS profiles; a device runs one of them.
    pub os: Vec<OsProfile>,
    /// PyPI packages in popularity order.
    pub python: Vec<Entry>,
    /// Go modules in popularity order.
    pub go: Vec<Entry>,
}

impl Catalog {
    /// The catalog from this machine and the OSV archives under `osv_dir` (when given).
    pub fn load(osv_dir: Option<&Path>) -> Result<Catalog, CatalogError> {
        let mut cat = Catalog::default();
        let mut python: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut local_python: Vec<String> = Vec::new();
        for (name, version) in local_python_packages() {
            local_python.push(name.clone());
            python.entry(name).or_default().insert(version);
        }
        if let Some(p) = local_dpkg_profile() {
            cat.os.push(p);
        }
        let mut go: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut alma: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        if let Some(dir) = osv_dir {
            for (eco, name, versions) in osv_packages(dir)? {
                let target = if eco == "PyPI" {
                    python.entry(name.to_lowercase()).or_default()
                } else if eco == "Go" {
                    go.entry(name).or_default()
                } else if let Some(release) = eco.strip_prefix("AlmaLinux:") {
                    alma.entry(release.to_owned())
                        .or_default()
                        .entry(name)
                        .or_default()
                } else {
                    continue;
                };
                target.extend(versions);
            }
        }
        // Locally installed Python packages are the most common ones; OSV names follow.
        cat.python = ranked(python, &local_python);
        cat.go = ranked(go, &[]);
        for (release, names) in alma {
            let os = OsRelease {
                id: "almalinux".into(),
                id_like: Vec::new(),
                version_id: Some(release.clone()),
                version_codename: None,
                pretty_name: None,
            };
            let Ok(eco) = os_package_ecosystem(&os) else {
                continue;
            };
            cat.os.push(OsProfile {
                id: "almalinux".into(),
                version_id: release.clone(),
                pretty_name: format!("AlmaLinux {release}"),
                ecosystem: eco.to_string(),
                format: OsFormat::Rpm,
                entries: ranked(names, &[]),
            });
        }
        if cat.os.is_empty() && cat.python.is_empty() && cat.go.is_empty() {
            return Err(CatalogError::Empty);
        }
        Ok(cat)
    }

    /// Distinct (ecosystem, name, version) triples the catalog can produce.
    pub fn distinct_versions(&self) -> usize {
        let lists = self
            .os
            .iter()
            .map(|p| &p.entries)
            .chain([&self.python, &self.go]);
        lists
            .map(|l| l.iter().map(|e| e.versions.len()).sum::<usize>())
            .sum()
    }
}

/// Orders names for popularity: the `first` names in their order, then the rest in a fixed
/// pseudo-random order (a hash of the name), so the common base of every device mixes
/// packages with and without advisories instead of taking the alphabet's head.
fn ranked(map: BTreeMap<String, BTreeSet<String>>, first: &[String]) -> Vec<Entry> {
    let mut entries: Vec<(u64, Entry)> = map
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(name, versions)| {
            let rank = match first.iter().position(|f| *f == name) {
                Some(i) => i as u64,
                None => first.len() as u64 + (fnv(name.as_bytes()) >> 8),
            };
            let versions = spread(versions.into_iter().collect(), MAX_VERSIONS);
            (
                rank,
                Entry {
                    name,
                    source_name: None,
                    versions,
                },
            )
        })
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    entries.into_iter().map(|(_, e)| e).collect()
}

/// Keeps at most `max` of `versions`, evenly spread, with a stable "popular" one first.
fn spread(mut versions: Vec<String>, max: usize) -> Vec<String> {
    if versions.len() > max {
        let step = versions.len() as f64 / max as f64;
        versions = (0..max)
            .map(|i| versions[(i as f64 * step) as usize].clone())
            .collect();
    }
    // The popular version is picked by hash, not by sort order, so it is not always the
    // oldest (always affected) or the newest (never affected).
    if let Some(i) = versions
        .iter()
        .enumerate()
        .min_by_key(|(_, v)| fnv(v.as_bytes()))
        .map(|(i, _)| i)
    {
        versions.swap(0, i);
    }
    versions
}

/// FNV-1a: a stable hash (std's `DefaultHasher` may change between releases).
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// This machine's dpkg packages as an OS profile, when dpkg is present.
fn local_dpkg_profile() -> Option<OsProfile> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Package}\t${Version}\t${source:Package}\n"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut entries: Vec<Entry> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (name, version) = (f.next()?, f.next()?);
            let source = f.next().unwrap_or("");
            (!name.is_empty() && !version.is_empty()).then(|| Entry {
                name: name.to_owned(),
                source_name: (!source.is_empty() && source != name).then(|| source.to_owned()),
                versions: vec![version.to_owned()],
            })
        })
        .collect();
    if entries.is_empty() {
        return None;
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let os = read_os_release(Path::new("/etc/os-release"));
    let eco = os_package_ecosystem(&os).ok()?;
    Some(OsProfile {
        id: os.id.clone(),
        version_id: os.version_id.clone().unwrap_or_default(),
        pretty_name: os.pretty_name.clone().unwrap_or_else(|| os.id.clone()),
        ecosystem: eco.to_string(),
        format: OsFormat::Dpkg,
        entries,
    })
}

fn read_os_release(path: &Path) -> OsRelease {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_owned())
    };
    OsRelease {
        id: get("ID").unwrap_or_else(|| "linux".into()),
        id_like: Vec::new(),
        version_id: get("VERSION_ID"),
        version_codename: get("VERSION_CODENAME"),
        pretty_name: get("PRETTY_NAME"),
    }
}

/// `(normalised name, version)` of every `*.dist-info` directory in the usual system places.
fn local_python_packages() -> Vec<(String, String)> {
    let mut dirs = vec![PathBuf::from("/usr/lib/python3/dist-packages")];
    for base in ["/usr/lib", "/usr/local/lib"] {
        if let Ok(rd) = std::fs::read_dir(base) {
            for d in rd.flatten() {
                let n = d.file_name().to_string_lossy().into_owned();
                if n.starts_with("python3") {
                    dirs.push(d.path().join("site-packages"));
                    dirs.push(d.path().join("dist-packages"));
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for d in rd.flatten() {
            let n = d.file_name().to_string_lossy().into_owned();
            if let Some(stem) = n.strip_suffix(".dist-info")
                && let Some((name, version)) = stem.rsplit_once('-')
            {
                out.insert((name.to_lowercase().replace('_', "-"), version.to_owned()));
            }
        }
    }
    out.into_iter().collect()
}

/// `(ecosystem, name, versions)` of every affected package of every record in
/// `<dir>/<Ecosystem>/all.zip`: the explicit versions and the range event versions.
pub fn osv_packages(dir: &Path) -> Result<Vec<(String, String, Vec<String>)>, CatalogError> {
    let mut zips: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| CatalogError::Osv {
            path: dir.to_owned(),
            detail: e.to_string(),
        })?
        .flatten()
        .map(|d| d.path().join("all.zip"))
        .filter(|p| p.is_file())
        .collect();
    zips.sort();
    let mut out = Vec::new();
    for path in zips {
        let err = |detail: String| CatalogError::Osv {
            path: path.clone(),
            detail,
        };
        let file = std::fs::File::open(&path).map_err(|e| err(e.to_string()))?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| err(e.to_string()))?;
        let mut buf = Vec::new();
        for i in 0..zip.len() {
            let entry = zip.by_index(i).map_err(|e| err(e.to_string()))?;
            if !entry.name().is_ok_and(|n| n.ends_with(".json")) {
                continue;
            }
            buf.clear();
            entry
                .take(MAX_RECORD_BYTES)
                .read_to_end(&mut buf)
                .map_err(|e| err(e.to_string()))?;
            // A record that does not parse is skipped: the catalog only needs names.
            let Ok(rec) = serde_json::from_slice::<serde_json::Value>(&buf) else {
                continue;
            };
            for a in rec["affected"].as_array().into_iter().flatten() {
                let (Some(eco), Some(name)) = (
                    a["package"]["ecosystem"].as_str(),
                    a["package"]["name"].as_str(),
                ) else {
                    continue;
                };
                let mut versions: Vec<String> = a["versions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect();
                for r in a["ranges"].as_array().into_iter().flatten() {
                    if r["type"].as_str() == Some("GIT") {
                        continue;
                    }
                    for ev in r["events"].as_array().into_iter().flatten() {
                        for k in ["introduced", "fixed", "last_affected"] {
                            if let Some(v) = ev[k].as_str().filter(|v| *v != "0") {
                                versions.push(v.to_owned());
                            }
                        }
                    }
                }
                if !versions.is_empty() {
                    out.push((eco.to_owned(), name.to_owned(), versions));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_keeps_at_most_max_and_is_stable() {
        let v: Vec<String> = (0..40).map(|i| format!("1.{i}")).collect();
        let a = spread(v.clone(), 12);
        assert_eq!(a.len(), 12);
        assert_eq!(a, spread(v, 12));
        let mut uniq = a.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), 12, "no version may repeat");
    }

    #[test]
    fn ranked_puts_local_names_first() {
        let mut m = BTreeMap::new();
        for n in ["alpha", "beta", "gamma", "delta"] {
            m.insert(n.to_owned(), BTreeSet::from(["1.0".to_owned()]));
        }
        let r = ranked(m, &["gamma".to_owned(), "alpha".to_owned()]);
        assert_eq!(r[0].name, "gamma");
        assert_eq!(r[1].name, "alpha");
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn the_shared_osv_archives_yield_pypi_go_and_almalinux_names() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/osv");
        if !dir.is_dir() {
            return;
        }
        let cat = Catalog::load(Some(&dir)).unwrap();
        assert!(cat.python.len() > 500, "{} PyPI names", cat.python.len());
        assert!(cat.go.len() > 500, "{} Go modules", cat.go.len());
        let alma9 = cat
            .os
            .iter()
            .find(|p| p.ecosystem == "AlmaLinux:9")
            .unwrap();
        assert!(alma9.entries.len() > 500);
        assert!(cat.python.iter().any(|e| e.name == "django"));
        assert!(cat.distinct_versions() > 20_000);
    }
}
