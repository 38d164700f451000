//! Python packages and interpreters, found in every environment under the scan root: the
//! system's and `/usr/local`'s `site-packages`/`dist-packages`, pyenv versions, virtualenvs
//! and venvs (`pyvenv.cfg`, uv's included), conda environments (`conda-meta/`), pipx
//! environments and user sites (`~/.local/lib/pythonX.Y/site-packages`).
//!
//! A distribution is what `importlib.metadata.distributions()` would report for the same
//! directory: every `*.dist-info` and `*.egg-info` child (directory, or egg-info file) with its
//! `METADATA`/`PKG-INFO` headers, plus the `*.egg-info` a legacy `.egg-link` (setuptools
//! develop install) points at. Interpreter versions come from the installation layout (pyenv,
//! conda, uv directory names), from the version string compiled into the interpreter, or from
//! the `pyvenv.cfg` of a venv made with it; no interpreter is ever run.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sentari_core::ecosystem::normalize_pypi_name;
use sentari_proto::agent::{Package, Runtime};

use super::{Findings, Root, purl_encode, read_text_capped, runtimes};

/// Metadata headers come first; nothing past this many bytes is read.
const METADATA_CAP: u64 = 1024 * 1024;
/// `pyvenv.cfg`, `.egg-link` and similar are a few lines.
const SMALL_CAP: u64 = 64 * 1024;
/// Entries of one site directory listed before giving up.
const MAX_SITE_ENTRIES: usize = 200_000;
/// Interpreter binaries (or `libpython`) searched for their version string.
const BINARY_SCAN_CAP: u64 = 256 * 1024 * 1024;

/// Whether a file name in a `bin` directory names a Python interpreter (`python`, `python3`,
/// `python3.12`, free-threaded `python3.13t`), not one of its helper scripts.
pub fn is_interpreter_name(name: &[u8]) -> bool {
    let Some(rest) = name.strip_prefix(b"python") else {
        return false;
    };
    let rest = rest.strip_suffix(b"t").unwrap_or(rest);
    if rest.is_empty() {
        return true;
    }
    let mut parts = rest.split(|b| *b == b'.');
    let major_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    let rest_ok = parts.all(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    major_ok && rest_ok && rest.iter().filter(|b| **b == b'.').count() <= 1
}

/// What the Python jobs found, resolved together in [`finish`] once the walk is over.
#[derive(Debug, Default)]
pub struct Partial {
    sites: Vec<SiteDir>,
    venvs: Vec<Venv>,
    interpreters: Vec<Interpreter>,
}

impl Partial {
    /// Moves everything from `other` into `self`.
    pub fn merge(&mut self, other: Partial) {
        self.sites.extend(other.sites);
        self.venvs.extend(other.venvs);
        self.interpreters.extend(other.interpreters);
    }
}

#[derive(Debug)]
struct SiteDir {
    shown: String,
    prefix: String,
    /// `3.11` from `lib/python3.11/site-packages`.
    xy: Option<String>,
    /// `3` from Debian's version-less `lib/python3/dist-packages`.
    major: Option<String>,
    env_type: &'static str,
    /// The environment's exact interpreter version, when the environment records it.
    env_version: Option<String>,
    dists: Vec<(String, String)>,
}

#[derive(Debug)]
struct Venv {
    home: Option<String>,
    version: Option<String>,
}

#[derive(Debug)]
struct Interpreter {
    path: String,
    prefix: String,
    bin_dir: String,
    xy: Option<String>,
    version: Option<String>,
    id: (u64, u64),
}

/// The `key = value` settings of a `pyvenv.cfg`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VenvConfig {
    /// `home`: the directory of the interpreter the venv was made from.
    pub home: Option<String>,
    /// `version` or `version_info` (uv): the interpreter's full version.
    pub version: Option<String>,
}

/// Parses `pyvenv.cfg`.
pub fn parse_pyvenv_cfg(text: &str) -> VenvConfig {
    let mut cfg = VenvConfig::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().to_owned();
        match k.trim().to_ascii_lowercase().as_str() {
            "home" => cfg.home = Some(v),
            "version" => cfg.version = Some(v),
            "version_info" if cfg.version.is_none() => {
                // uv writes `3.12.1`; virtualenv writes `3.12.1.final.0`.
                let mut parts = v.split('.');
                let short: Vec<&str> = parts.by_ref().take(3).collect();
                let tail: Vec<&str> = parts.collect();
                let mut version = short.join(".");
                if let [level, serial] = tail.as_slice() {
                    let tag = match *level {
                        "alpha" => "a",
                        "beta" => "b",
                        "candidate" => "rc",
                        _ => "",
                    };
                    if !tag.is_empty() {
                        version.push_str(tag);
                        version.push_str(serial);
                    }
                }
                cfg.version = Some(version);
            }
            _ => {}
        }
    }
    cfg
}

/// The `Name` and `Version` headers of a core-metadata file (`METADATA`, `PKG-INFO`), read
/// only up to the end of the header block.
pub fn read_metadata(path: &Path) -> Result<(Option<String>, Option<String>), super::SourceError> {
    let file = File::open(path)?;
    let mut reader = BufReader::new(file.take(METADATA_CAP));
    let (mut name, mut version) = (None, None);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if text.is_empty() {
            break;
        }
        if text.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((k, v)) = text.split_once(':') {
            if k.eq_ignore_ascii_case("name") && name.is_none() {
                name = Some(v.trim().to_owned());
            } else if k.eq_ignore_ascii_case("version") && version.is_none() {
                version = Some(v.trim().to_owned());
            }
        }
        if name.is_some() && version.is_some() {
            break;
        }
    }
    Ok((name, version))
}

fn file_name_bytes(p: &Path) -> &[u8] {
    p.file_name().map(|n| n.as_bytes()).unwrap_or_default()
}

/// `3.11` from `python3.11`.
fn xy_of_dir_name(name: &[u8]) -> Option<String> {
    let rest = name.strip_prefix(b"python")?;
    let rest = std::str::from_utf8(rest).ok()?.trim_end_matches('t');
    let (x, y) = rest.split_once('.')?;
    (!x.is_empty()
        && !y.is_empty()
        && x.bytes().all(|b| b.is_ascii_digit())
        && y.bytes().all(|b| b.is_ascii_digit()))
    .then(|| format!("{x}.{y}"))
}

/// Reads the distributions of one `site-packages`/`dist-packages` directory.
pub fn scan_site_dir(root: &Root, path: &Path, partial: &mut Partial, out: &mut Findings) {
    let shown = root.display(path);
    let parent = path.parent().unwrap_or(path);
    let parent_name = file_name_bytes(parent);
    let grand = parent.parent().unwrap_or(parent);
    let (prefix_host, xy, major) = if parent_name.starts_with(b"python")
        && matches!(file_name_bytes(grand), b"lib" | b"lib64")
    {
        let major = parent_name
            .strip_prefix(b"python")
            .filter(|r| !r.is_empty() && r.iter().all(u8::is_ascii_digit))
            .map(|r| String::from_utf8_lossy(r).into_owned());
        (
            grand.parent().unwrap_or(grand).to_path_buf(),
            xy_of_dir_name(parent_name),
            major,
        )
    } else if parent_name == b"Lib" {
        (grand.to_path_buf(), None, None)
    } else {
        (parent.to_path_buf(), None, None)
    };
    let prefix = root.display(&prefix_host);

    let (env_type, env_version) = if prefix_host.join("pyvenv.cfg").is_file() {
        let cfg = read_text_capped(&prefix_host.join("pyvenv.cfg"), SMALL_CAP)
            .map(|t| parse_pyvenv_cfg(&t))
            .unwrap_or_default();
        let kind = if prefix.contains("/pipx/venvs/") {
            "pipx"
        } else {
            "venv"
        };
        (kind, cfg.version)
    } else if prefix_host.join("conda-meta").is_dir() {
        (
            "conda",
            conda_python_version(&prefix_host.join("conda-meta")),
        )
    } else if prefix.ends_with("/.local") {
        ("user", None)
    } else {
        ("system", None)
    };

    let entries = match std::fs::read_dir(path) {
        Ok(rd) => rd,
        Err(e) => {
            out.error("python", &shown, format!("cannot list: {e}"));
            return;
        }
    };
    let mut dists = Vec::new();
    for (i, entry) in entries.enumerate() {
        if i >= MAX_SITE_ENTRIES {
            out.error(
                "python",
                &shown,
                format!("more than {MAX_SITE_ENTRIES} entries; the rest were skipped"),
            );
            break;
        }
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let lower = name.to_string_lossy().to_ascii_lowercase();
        let entry_path = entry.path();
        if lower.ends_with(".dist-info") || lower.ends_with(".egg-info") {
            read_distribution(root, &entry_path, &mut dists, out);
        } else if lower.ends_with(".egg-link") {
            read_egg_link(root, &entry_path, &mut dists, out);
        }
    }
    partial.sites.push(SiteDir {
        shown,
        prefix,
        xy,
        major,
        env_type,
        env_version,
        dists,
    });
}

/// Reads one `*.dist-info`/`*.egg-info` (directory or file) the way importlib does:
/// `METADATA`, else `PKG-INFO`, else the file itself.
fn read_distribution(
    root: &Root,
    path: &Path,
    dists: &mut Vec<(String, String)>,
    out: &mut Findings,
) {
    let shown = root.display(path);
    let candidates: Vec<PathBuf> = if path.is_dir() {
        vec![path.join("METADATA"), path.join("PKG-INFO")]
    } else {
        vec![path.to_path_buf()]
    };
    let Some(meta) = candidates.into_iter().find(|p| p.is_file()) else {
        out.error("python", &shown, "distribution has no METADATA or PKG-INFO");
        return;
    };
    match read_metadata(&meta) {
        Ok((Some(name), Some(version))) if !name.is_empty() => dists.push((name, version)),
        Ok(_) => out.error(
            "python",
            &root.display(&meta),
            "metadata lacks Name or Version",
        ),
        Err(e) => out.error("python", &root.display(&meta), e.to_string()),
    }
}

/// A setuptools develop install: the link's first line is the project directory, which holds
/// the `*.egg-info`.
fn read_egg_link(root: &Root, path: &Path, dists: &mut Vec<(String, String)>, out: &mut Findings) {
    let shown = root.display(path);
    let text = match read_text_capped(path, SMALL_CAP) {
        Ok(t) => t,
        Err(e) => {
            out.error("python", &shown, e.to_string());
            return;
        }
    };
    let Some(target) = text.lines().next().map(str::trim).filter(|t| !t.is_empty()) else {
        out.error("python", &shown, "empty .egg-link");
        return;
    };
    let target_inside = if target.starts_with('/') {
        target.to_owned()
    } else {
        format!("{}/{target}", root.display(path.parent().unwrap_or(path)))
    };
    let Some(dir) = root.resolve(&target_inside).filter(|d| d.is_dir()) else {
        out.error(
            "python",
            &shown,
            format!("develop install target {target} does not exist"),
        );
        return;
    };
    let Ok(rd) = std::fs::read_dir(&dir) else {
        out.error(
            "python",
            &shown,
            format!("cannot list develop install target {target}"),
        );
        return;
    };
    let mut found = false;
    for entry in rd.flatten().take(MAX_SITE_ENTRIES) {
        if entry
            .file_name()
            .to_string_lossy()
            .to_ascii_lowercase()
            .ends_with(".egg-info")
        {
            found = true;
            read_distribution(root, &entry.path(), dists, out);
        }
    }
    if !found {
        out.error(
            "python",
            &shown,
            format!("no .egg-info in develop install target {target}"),
        );
    }
}

/// The Python version a conda environment holds, from its `conda-meta/python-X.Y.Z-build.json`.
fn conda_python_version(conda_meta: &Path) -> Option<String> {
    let rd = std::fs::read_dir(conda_meta).ok()?;
    for entry in rd.flatten().take(100_000) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(rest) = name
            .strip_prefix("python-")
            .and_then(|r| r.strip_suffix(".json"))
        {
            let version = rest.split('-').next().unwrap_or_default();
            if version.starts_with(|c: char| c.is_ascii_digit()) {
                return Some(version.to_owned());
            }
        }
    }
    None
}

/// Checks a venv (a directory with `pyvenv.cfg`): its interpreter must still exist.
pub fn scan_venv(root: &Root, dir: &Path, partial: &mut Partial, out: &mut Findings) {
    let shown = root.display(dir);
    let cfg_path = dir.join("pyvenv.cfg");
    let cfg = match read_text_capped(&cfg_path, SMALL_CAP) {
        Ok(t) => parse_pyvenv_cfg(&t),
        Err(e) => {
            out.error("python", &root.display(&cfg_path), e.to_string());
            return;
        }
    };
    let bin = ["bin/python3", "bin/python", "Scripts/python.exe"]
        .iter()
        .map(|b| format!("{}/{b}", shown.trim_end_matches('/')))
        .find(|p| root.host_path(p).symlink_metadata().is_ok());
    let interpreter_ok = match &bin {
        Some(p) => root.resolve(p).is_some_and(|h| h.is_file()),
        None => cfg.home.as_deref().is_some_and(|home| {
            ["python3", "python"].iter().any(|n| {
                root.resolve(&format!("{home}/{n}"))
                    .is_some_and(|h| h.is_file())
            })
        }),
    };
    if !interpreter_ok {
        let what = bin
            .map(|b| format!("{b} (home = {})", cfg.home.as_deref().unwrap_or("?")))
            .unwrap_or_else(|| format!("home = {}", cfg.home.as_deref().unwrap_or("?")));
        out.error(
            "python",
            &shown,
            format!("the interpreter of this virtual environment is gone: {what}"),
        );
    }
    partial.venvs.push(Venv {
        home: cfg.home.map(|h| h.trim_end_matches('/').to_owned()),
        version: cfg.version,
    });
}

/// Identifies a Python interpreter binary (ELF only: pyenv shims and wrapper scripts share the
/// names).
pub fn scan_interpreter(root: &Root, path: &Path, partial: &mut Partial, out: &mut Findings) {
    if !runtimes::is_elf(path) {
        return;
    }
    let shown = root.display(path);
    let meta = match path.metadata() {
        Ok(m) => m,
        Err(e) => {
            out.error("python", &shown, format!("cannot stat: {e}"));
            return;
        }
    };
    let bin_dir = path.parent().unwrap_or(path);
    let prefix_host = bin_dir.parent().unwrap_or(bin_dir);
    let mut xy = xy_of_dir_name(file_name_bytes(path));
    if xy.is_none() {
        // `python3` alone: the stdlib directory next to it names the minor version.
        let mut found: Vec<String> = std::fs::read_dir(prefix_host.join("lib"))
            .map(|rd| {
                rd.flatten()
                    .take(10_000)
                    .filter_map(|e| xy_of_dir_name(e.file_name().as_bytes()))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found.dedup();
        if found.len() == 1 {
            xy = found.pop();
        }
    }
    let layout = conda_python_version(&prefix_host.join("conda-meta"))
        .or_else(|| version_in_dir_name(file_name_bytes(prefix_host), xy.as_deref()));
    let version = layout.or_else(|| {
        let mut candidates = vec![path.to_path_buf()];
        if let Some(xy) = &xy {
            for lib in [
                format!("lib/libpython{xy}.so.1.0"),
                format!("lib/libpython{xy}.so"),
            ] {
                candidates.push(prefix_host.join(lib));
            }
        }
        candidates
            .iter()
            .filter(|p| p.is_file())
            .find_map(|p| embedded_python_version(p, xy.as_deref()))
    });
    partial.interpreters.push(Interpreter {
        path: shown,
        prefix: root.display(prefix_host),
        bin_dir: root.display(bin_dir),
        xy,
        version,
        id: (meta.dev(), meta.ino()),
    });
}

/// A full version in an installation directory's name: pyenv's `3.11.7`, uv's
/// `cpython-3.12.4-linux-x86_64-gnu`, asdf's `3.11.7`.
fn version_in_dir_name(name: &[u8], xy: Option<&str>) -> Option<String> {
    let name = std::str::from_utf8(name).ok()?;
    for token in name.split(['-', '_', '+']) {
        let looks = token.split('.').count() >= 3
            && token.starts_with(|c: char| c.is_ascii_digit())
            && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
        let matches = xy.is_none_or(|xy| token.starts_with(&format!("{xy}.")));
        if looks && matches {
            return Some(token.to_owned());
        }
    }
    None
}

/// The `PY_VERSION` string CPython compiles into itself (`\03.11.2\0`), found by searching the
/// binary in bounded chunks.
fn embedded_python_version(path: &Path, xy: Option<&str>) -> Option<String> {
    let needles: Vec<Vec<u8>> = match xy {
        Some(xy) => vec![format!("\0{xy}.").into_bytes()],
        None => vec![b"\x003.".to_vec(), b"\x002.".to_vec()],
    };
    runtimes::search_file(path, BINARY_SCAN_CAP, &needles, |tail| {
        // `tail` starts right after the needle: the rest of the version, then NUL.
        let end = memchr::memchr(0, tail)?;
        let rest = std::str::from_utf8(&tail[..end]).ok()?;
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 || rest.len() > 16 {
            return None;
        }
        let suffix = &rest[digits_end..];
        let suffix_ok = suffix.is_empty()
            || suffix == "+"
            || ["a", "b", "rc"].iter().any(|t| {
                suffix.strip_prefix(t).is_some_and(|n| {
                    !n.is_empty() && n.trim_end_matches('+').bytes().all(|b| b.is_ascii_digit())
                })
            });
        suffix_ok.then(|| rest.to_owned())
    })
    .map(|(needle, rest)| format!("{}{rest}", String::from_utf8_lossy(&needle[1..])))
}

/// Resolves interpreter versions and environments once every job is done, and turns the
/// Python findings into packages and runtimes.
pub fn finish(root: &Root, mut partial: Partial, out: &mut Findings) {
    partial.interpreters.sort_by(|a, b| a.path.cmp(&b.path));
    let mut seen = HashSet::new();
    partial.interpreters.retain(|i| seen.insert(i.id));
    for interp in &mut partial.interpreters {
        if interp.version.is_some() {
            continue;
        }
        let from_venv = partial.venvs.iter().find_map(|v| {
            let same_home = v.home.as_deref() == Some(interp.bin_dir.as_str());
            let fits = match (&interp.xy, &v.version) {
                (Some(xy), Some(ver)) => ver.starts_with(&format!("{xy}.")),
                (None, Some(_)) => true,
                _ => false,
            };
            (same_home && fits).then(|| v.version.clone()).flatten()
        });
        interp.version = from_venv.or_else(|| interp.xy.clone());
    }
    // Installers often ship `python`, `python3` and `python3.12` as separate copies of one
    // interpreter; one runtime per installation is reported, under its most specific name.
    partial.interpreters.sort_by(|a, b| {
        (
            &a.bin_dir,
            &a.version,
            std::cmp::Reverse(a.path.len()),
            &a.path,
        )
            .cmp(&(
                &b.bin_dir,
                &b.version,
                std::cmp::Reverse(b.path.len()),
                &b.path,
            ))
    });
    partial
        .interpreters
        .dedup_by(|later, first| later.bin_dir == first.bin_dir && later.version == first.version);
    for interp in &partial.interpreters {
        match &interp.version {
            Some(v) => out.runtimes.push(Runtime {
                kind: "python".to_owned(),
                version: v.clone(),
                path: interp.path.clone(),
                vendor: None,
            }),
            None => out.error(
                "python",
                &interp.path,
                "cannot tell this interpreter's version",
            ),
        }
    }

    let by_prefix: HashMap<&str, Vec<&Interpreter>> =
        partial
            .interpreters
            .iter()
            .fold(HashMap::new(), |mut m, i| {
                m.entry(i.prefix.as_str()).or_default().push(i);
                m
            });
    for site in partial.sites {
        let interpreter_version = site
            .env_version
            .clone()
            .or_else(|| site_interpreter_version(root, &site, &by_prefix, &partial.interpreters))
            .or_else(|| site.xy.clone());
        for (name, version) in site.dists {
            let purl = format!(
                "pkg:pypi/{}@{}",
                purl_encode(&normalize_pypi_name(&name)),
                purl_encode(&version)
            );
            out.packages.push(Package {
                ecosystem: "PyPI".to_owned(),
                name,
                version,
                source_name: None,
                source_version: None,
                arch: None,
                install_path: site.shown.clone(),
                env_type: site.env_type.to_owned(),
                environment: Some(site.prefix.clone()),
                interpreter_version: interpreter_version.clone(),
                purl: Some(purl),
                origin: None,
            });
        }
    }
}

/// The interpreter that uses a site directory: the one installed in the same prefix with the
/// same minor version (for Debian's shared `python3/dist-packages`, the one `bin/python3`
/// points at); for user sites, any interpreter of that minor version when they all agree.
fn site_interpreter_version(
    root: &Root,
    site: &SiteDir,
    by_prefix: &HashMap<&str, Vec<&Interpreter>>,
    all: &[Interpreter],
) -> Option<String> {
    let fits = |i: &&&Interpreter| match (&site.xy, &site.major) {
        (Some(xy), _) => i.xy.as_deref() == Some(xy.as_str()),
        (None, Some(major)) => {
            i.xy.as_deref()
                .is_some_and(|x| x.starts_with(&format!("{major}.")))
        }
        (None, None) => true,
    };
    // Debian's interpreter in /usr also owns /usr/local's dist-packages.
    let prefixes: Vec<&str> = if site.prefix == "/usr/local" {
        vec!["/usr/local", "/usr"]
    } else {
        vec![site.prefix.as_str()]
    };
    for prefix in prefixes {
        let Some(list) = by_prefix.get(prefix) else {
            continue;
        };
        let candidates: Vec<&&Interpreter> = list.iter().filter(fits).collect();
        if candidates.len() == 1 {
            return candidates[0].version.clone();
        }
        if candidates.len() > 1 {
            let major = site.major.as_deref().unwrap_or("3");
            let link = format!("{}/bin/python{major}", prefix.trim_end_matches('/'));
            let target = root.resolve(&link).map(|h| root.display(&h));
            if let Some(hit) = candidates.iter().find(|i| Some(&i.path) == target.as_ref()) {
                return hit.version.clone();
            }
        }
    }
    // No interpreter in the environment itself (user sites, relocated trees): any interpreter
    // of that minor version, when they all agree.
    let versions: HashSet<&String> = all
        .iter()
        .filter(|i| site.xy.is_some() && i.xy == site.xy)
        .filter_map(|i| i.version.as_ref())
        .collect();
    if versions.len() == 1 {
        return versions.into_iter().next().cloned();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_names() {
        for ok in [
            "python",
            "python3",
            "python3.11",
            "python2.7",
            "python3.13t",
        ] {
            assert!(is_interpreter_name(ok.as_bytes()), "{ok}");
        }
        for no in [
            "python3-config",
            "python3.11-config",
            "python3.",
            "pythonw",
            "python3.1.2",
        ] {
            assert!(!is_interpreter_name(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn pyvenv_cfg_variants() {
        let venv = parse_pyvenv_cfg(
            "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n",
        );
        assert_eq!(venv.home.as_deref(), Some("/usr/bin"));
        assert_eq!(venv.version.as_deref(), Some("3.11.2"));
        let uv = parse_pyvenv_cfg(
            "home = /root/.local/share/uv/python/cpython-3.12.4/bin\nimplementation = CPython\nuv = 0.4.0\nversion_info = 3.12.4\n",
        );
        assert_eq!(uv.version.as_deref(), Some("3.12.4"));
        let ve = parse_pyvenv_cfg("home=/x\nversion_info=3.13.0.candidate.1\n");
        assert_eq!(ve.version.as_deref(), Some("3.13.0rc1"));
    }

    #[test]
    fn versions_in_directory_names() {
        assert_eq!(
            version_in_dir_name(b"3.11.7", Some("3.11")).as_deref(),
            Some("3.11.7")
        );
        assert_eq!(
            version_in_dir_name(b"cpython-3.12.4-linux-x86_64-gnu", Some("3.12")).as_deref(),
            Some("3.12.4")
        );
        assert_eq!(version_in_dir_name(b"usr", Some("3.11")), None);
        assert_eq!(version_in_dir_name(b"3.10.13", Some("3.11")), None);
    }

    #[test]
    fn metadata_headers_stop_at_the_body() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("METADATA");
        std::fs::write(
            &p,
            "Metadata-Version: 2.1\nname: Foo.Bar\nVersion: 1.0.post1\n\nName: not-this\n",
        )
        .unwrap();
        assert_eq!(
            read_metadata(&p).unwrap(),
            (Some("Foo.Bar".to_owned()), Some("1.0.post1".to_owned()))
        );
    }

    #[test]
    fn embedded_version_string_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("python3.11");
        let mut bytes = vec![0x7f, b'E', b'L', b'F'];
        bytes.extend(std::iter::repeat_n(b'x', 3 * 1024 * 1024));
        bytes.extend_from_slice(b"\x003.11.x\x00junk\x003.11.2\x00more");
        std::fs::write(&p, bytes).unwrap();
        assert_eq!(
            embedded_python_version(&p, Some("3.11")).as_deref(),
            Some("3.11.2")
        );
    }
}
