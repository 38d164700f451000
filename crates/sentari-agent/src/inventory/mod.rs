//! Host inventory: everything installed on a machine, found by reading files.
//!
//! [`scan`] is the one entry point. It reads the OS package databases (dpkg, rpm, apk) under the
//! scan root, walks the tree once on a small worker pool to find Python environments, JVM
//! archives, `node_modules` and language runtimes, and returns a sorted [`ScanUpload`]. Per
//! ARCHITECTURE.md §3 the agent never runs package managers or interpreters to do this
//! (invariant 4; the `rpm -qa` fallback for legacy rpm databases is the one exception), and every
//! read and parser is bounded (invariant 5). A file that cannot be read or parsed becomes a
//! [`ScanError`] in the result and the scan goes on.

pub mod apk;
pub mod dpkg;
pub mod host;
pub mod jvm;
pub mod npm;
pub mod python;
pub mod rpm;
pub mod runtimes;
pub mod walk;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use sentari_proto::agent::{Package, Runtime, ScanError, ScanUpload};
use time::OffsetDateTime;
use uuid::Uuid;

/// The version string the agent reports in every scan.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything that shapes one scan. [`ScanOptions::default`] scans the whole host.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// The directory treated as the root of the scanned filesystem (`/` for the host itself, or
    /// a mounted disk image or unpacked container root).
    pub root: PathBuf,
    /// How many directory levels below the root the walk descends.
    pub max_depth: usize,
    /// Glob patterns (matched against the reported absolute path inside the root) of paths the
    /// walk skips.
    pub exclude: Vec<String>,
    /// Paths inside the root the walk never enters.
    pub skip_paths: Vec<String>,
    /// Filesystem types (from `/proc/self/mountinfo`) the walk never enters.
    pub skip_fs_types: Vec<String>,
    /// Worker threads for the walk and the parsers.
    pub threads: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            root: PathBuf::from("/"),
            max_depth: 32,
            exclude: Vec::new(),
            skip_paths: DEFAULT_SKIP_PATHS.iter().map(|s| (*s).to_owned()).collect(),
            skip_fs_types: DEFAULT_SKIP_FS_TYPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            threads: default_threads(),
        }
    }
}

/// Kernel interfaces and runtime state hold no installed software, and container storage is
/// inventoried per image by the container scanner, not as part of the host.
pub const DEFAULT_SKIP_PATHS: &[&str] = &[
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var/run",
    "/var/lib/docker",
    "/var/lib/containers",
    "/var/lib/containerd",
];

/// Pseudo filesystems hold no installed software and network filesystems can be huge, slow or
/// hang; both are skipped unless configured otherwise.
pub const DEFAULT_SKIP_FS_TYPES: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "securityfs",
    "debugfs",
    "tracefs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
    "efivarfs",
    "rpc_pipefs",
    "nsfs",
    "selinuxfs",
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ncpfs",
    "afs",
    "ceph",
    "glusterfs",
    "lustre",
    "gpfs",
    "davfs",
    "sshfs",
    "fuse.sshfs",
    "fuse.rclone",
    "fuse.s3fs",
    "fuse.gvfsd-fuse",
    "fuse.portal",
    "9p",
];

/// The number of worker threads used when none is configured: one per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Scans the filesystem under `opts.root` and returns the complete, sorted inventory.
///
/// Never fails: every problem is reported in [`ScanUpload::errors`].
pub fn scan(opts: &ScanOptions) -> ScanUpload {
    let started = Instant::now();
    let root = Root::new(&opts.root);
    let host = host::collect(&root);
    let os_ecosystem = host::os_ecosystem(&root);
    let mut findings = walk::run(&root, opts, &os_ecosystem);
    if let Some(message) = &os_ecosystem.unsupported
        && findings.packages.iter().any(|p| p.env_type == "os")
    {
        findings.error("os", &os_ecosystem.source_path, message.clone());
    }
    findings.finish();
    ScanUpload {
        scan_id: Uuid::now_v7(),
        scanned_at: OffsetDateTime::now_utc(),
        agent_version: AGENT_VERSION.to_owned(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        host,
        packages: findings.packages,
        runtimes: findings.runtimes,
        errors: findings.errors,
    }
}

/// What the sources found; each worker fills its own and they are merged at the end.
#[derive(Debug, Default)]
pub struct Findings {
    /// Installed packages.
    pub packages: Vec<Package>,
    /// Language runtimes.
    pub runtimes: Vec<Runtime>,
    /// Problems met.
    pub errors: Vec<ScanError>,
}

impl Findings {
    /// Records a problem.
    pub fn error(&mut self, scanner: &str, path: &str, error: impl Into<String>) {
        self.errors.push(ScanError {
            scanner: scanner.to_owned(),
            path: path.to_owned(),
            error: error.into(),
        });
    }

    /// Moves everything from `other` into `self`.
    pub fn merge(&mut self, other: Findings) {
        self.packages.extend(other.packages);
        self.runtimes.extend(other.runtimes);
        self.errors.extend(other.errors);
    }

    /// Sorts and deduplicates, so that two scans of an unchanged host serialize identically.
    pub fn finish(&mut self) {
        self.packages.sort();
        self.packages.dedup();
        self.runtimes.sort();
        self.runtimes.dedup();
        self.errors.sort();
        self.errors.dedup();
    }
}

/// Why a source could not read a file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The operating system refused or failed the read.
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    /// The file is larger than the cap for its kind.
    #[error("larger than the {0}-byte cap for this kind of file")]
    TooLarge(u64),
    /// The content does not follow the expected format.
    #[error("malformed: {0}")]
    Malformed(String),
    /// A parser limit (entries, nesting, ratio) was reached.
    #[error("limit reached: {0}")]
    Limit(String),
    /// A ZIP-based archive could not be read.
    #[error("archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// The rpm SQLite database could not be queried.
    #[error("rpm database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Reads a whole file, refusing files larger than `cap` bytes.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, SourceError> {
    let file = File::open(path)?;
    let mut buf = Vec::new();
    file.take(cap.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(SourceError::TooLarge(cap));
    }
    Ok(buf)
}

/// Reads a whole text file (lossily decoded), refusing files larger than `cap` bytes.
pub fn read_text_capped(path: &Path, cap: u64) -> Result<String, SourceError> {
    let bytes = read_capped(path, cap)?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// The scanned filesystem's root: maps between paths inside it (as reported) and host paths
/// (as opened), and resolves symlinks as if the root were `/`.
#[derive(Debug, Clone)]
pub struct Root {
    host: PathBuf,
}

/// How many symlinks one resolution may follow before it is treated as a loop.
const MAX_SYMLINK_HOPS: usize = 40;

impl Root {
    /// A root at `host` (a directory on this machine).
    pub fn new(host: &Path) -> Root {
        Root {
            host: host.to_path_buf(),
        }
    }

    /// Whether this root is the running host's own `/`.
    pub fn is_host(&self) -> bool {
        self.host == Path::new("/")
    }

    /// The host directory of the root.
    pub fn host_dir(&self) -> &Path {
        &self.host
    }

    /// The host path of an absolute path inside the root, without resolving symlinks.
    pub fn host_path(&self, inside: &str) -> PathBuf {
        self.host.join(inside.trim_start_matches('/'))
    }

    /// The path inside the root that a host path under it stands for (`/` + the relative part).
    pub fn display(&self, host_path: &Path) -> String {
        match host_path.strip_prefix(&self.host) {
            Ok(rel) => {
                let rel = rel.to_string_lossy();
                if rel.is_empty() {
                    "/".to_owned()
                } else {
                    format!("/{rel}")
                }
            }
            Err(_) => host_path.to_string_lossy().into_owned(),
        }
    }

    /// Resolves an absolute path inside the root to a host path, following every symlink on the
    /// way as the root's own kernel would (absolute targets stay inside the root). Returns
    /// `None` for loops and for paths that leave the root through `..`.
    pub fn resolve(&self, inside: &str) -> Option<PathBuf> {
        let mut pending: Vec<String> = components_of(inside);
        pending.reverse();
        let mut resolved: Vec<String> = Vec::new();
        let mut hops = 0usize;
        while let Some(part) = pending.pop() {
            match part.as_str() {
                "." => continue,
                ".." => {
                    resolved.pop();
                    continue;
                }
                _ => {}
            }
            resolved.push(part);
            let host = self.host.join(resolved.join("/"));
            let Ok(meta) = std::fs::symlink_metadata(&host) else {
                // A missing component: the rest is appended as-is so callers get a path
                // whose non-existence they can report.
                while let Some(rest) = pending.pop() {
                    resolved.push(rest);
                }
                break;
            };
            if meta.file_type().is_symlink() {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return None;
                }
                let target = std::fs::read_link(&host).ok()?;
                resolved.pop();
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    resolved.clear();
                }
                let mut parts = components_of(&target);
                parts.reverse();
                pending.extend(parts);
            }
        }
        Some(self.host.join(resolved.join("/")))
    }

    /// Resolves a host path under the root (see [`Root::resolve`]).
    pub fn resolve_host(&self, host_path: &Path) -> Option<PathBuf> {
        self.resolve(&self.display(host_path))
    }
}

/// The normal components of a path, as strings (`.` and `..` kept for the resolver).
fn components_of(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_owned()),
            Component::CurDir => Some(".".to_owned()),
            Component::RootDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// Percent-encodes one purl segment (name, namespace or version) per the purl specification.
pub(crate) fn purl_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_keeps_absolute_links_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        std::fs::create_dir_all(dir.path().join("usr/lib")).unwrap();
        std::fs::write(dir.path().join("usr/lib/os-release"), "ID=debian\n").unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/usr/lib/os-release", dir.path().join("etc/os-release"))
            .unwrap();
        std::os::unix::fs::symlink("usr/lib", dir.path().join("lib")).unwrap();
        assert_eq!(
            root.resolve("/etc/os-release").unwrap(),
            dir.path().join("usr/lib/os-release")
        );
        assert_eq!(
            root.resolve("/lib/os-release").unwrap(),
            dir.path().join("usr/lib/os-release")
        );
        assert_eq!(root.display(&dir.path().join("usr/lib")), "/usr/lib");
        std::os::unix::fs::symlink("/loop", dir.path().join("loop")).unwrap();
        assert!(root.resolve("/loop/x").is_none());
    }

    #[test]
    fn purl_segments_are_percent_encoded() {
        assert_eq!(purl_encode("1:2.3+dfsg-1"), "1%3A2.3%2Bdfsg-1");
        assert_eq!(purl_encode("@types"), "%40types");
    }
}
