//! RPM packages (RHEL, AlmaLinux, Rocky, Fedora, SUSE) from the rpm database.
//!
//! Current systems keep it in SQLite (`rpmdb.sqlite`, table `Packages(hnum, blob)`), one rpm
//! header per row; the agent opens the file read-only and decodes the headers itself. Legacy
//! BerkeleyDB (`Packages`) and NDB (`Packages.db`) databases are read through
//! `rpm -qa --queryformat …` when the `rpm` tool is installed — the one exception to "never run
//! package managers" (ARCHITECTURE.md §3, invariant 4) — and are a clear scan error otherwise.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rusqlite::{Connection, OpenFlags};
use sentari_proto::agent::Package;

use super::host::OsEcosystem;
use super::{Findings, Root, SourceError, purl_encode};

/// Where current rpm versions keep the SQLite database.
const SQLITE_PATHS: &[&str] = &[
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
    "/var/lib/rpm/rpmdb.sqlite",
];
/// Where legacy BerkeleyDB (`Packages`) and NDB (`Packages.db`) databases live.
const LEGACY_PATHS: &[&str] = &[
    "/usr/lib/sysimage/rpm/Packages.db",
    "/var/lib/rpm/Packages.db",
    "/usr/lib/sysimage/rpm/Packages",
    "/var/lib/rpm/Packages",
];
/// rpm itself refuses headers above 256 MiB; real ones are well under 1 MiB.
const MAX_HEADER_BYTES: usize = 64 * 1024 * 1024;
/// rpm refuses more than 0xffff index entries in one header.
const MAX_INDEX_ENTRIES: usize = 0xffff;
/// More rows than any real system has packages.
const MAX_ROWS: usize = 500_000;
/// Output of `rpm -qa` is one short line per package.
const MAX_RPM_OUTPUT: u64 = 64 * 1024 * 1024;

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// The identifying fields of one rpm header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RpmEntry {
    /// `NAME`.
    pub name: String,
    /// `EPOCH`, when set.
    pub epoch: Option<u32>,
    /// `VERSION`.
    pub version: String,
    /// `RELEASE`.
    pub release: String,
    /// `ARCH`.
    pub arch: Option<String>,
    /// `SOURCERPM` (`openssl-3.0.7-27.el9.src.rpm`).
    pub source_rpm: Option<String>,
}

impl RpmEntry {
    /// `[epoch:]version-release`, the form OSV's rpm ecosystems use.
    pub fn evr(&self) -> String {
        match self.epoch {
            Some(e) => format!("{e}:{}-{}", self.version, self.release),
            None => format!("{}-{}", self.version, self.release),
        }
    }

    /// The source package name and `version-release` from `SOURCERPM`.
    pub fn source(&self) -> Option<(String, String)> {
        let srpm = self.source_rpm.as_deref()?;
        let stem = srpm
            .strip_suffix(".src.rpm")
            .or_else(|| srpm.strip_suffix(".nosrc.rpm"))?;
        let (rest, release) = stem.rsplit_once('-')?;
        let (name, version) = rest.rsplit_once('-')?;
        if name.is_empty() {
            return None;
        }
        Some((name.to_owned(), format!("{version}-{release}")))
    }
}

/// Decodes an rpm header blob as stored in the database (with or without the 8-byte header
/// magic in front), reading only the identifying tags and checking every offset.
pub fn parse_header(blob: &[u8]) -> Result<RpmEntry, SourceError> {
    let bad = |what: &str| SourceError::Malformed(format!("rpm header: {what}"));
    let blob = match blob.get(..4) {
        Some([0x8e, 0xad, 0xe8, 0x01]) => blob.get(8..).ok_or_else(|| bad("truncated magic"))?,
        _ => blob,
    };
    if blob.len() > MAX_HEADER_BYTES {
        return Err(SourceError::TooLarge(MAX_HEADER_BYTES as u64));
    }
    let be32 = |at: usize| -> Option<u32> {
        let b = blob.get(at..at.checked_add(4)?)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let il = be32(0).ok_or_else(|| bad("truncated"))? as usize;
    let dl = be32(4).ok_or_else(|| bad("truncated"))? as usize;
    if il == 0 || il > MAX_INDEX_ENTRIES {
        return Err(bad("implausible index count"));
    }
    let data_start = 8 + il * 16;
    let data = blob
        .get(
            data_start
                ..data_start
                    .checked_add(dl)
                    .ok_or_else(|| bad("size overflow"))?,
        )
        .ok_or_else(|| bad("data store past the end"))?;
    let mut entry = RpmEntry::default();
    let mut have_name = false;
    for i in 0..il {
        let at = 8 + i * 16;
        let (Some(tag), Some(ty), Some(offset), Some(count)) =
            (be32(at), be32(at + 4), be32(at + 8), be32(at + 12))
        else {
            return Err(bad("truncated index"));
        };
        if !matches!(
            tag,
            TAG_NAME | TAG_VERSION | TAG_RELEASE | TAG_EPOCH | TAG_ARCH | TAG_SOURCERPM
        ) {
            continue;
        }
        let offset = offset as usize;
        if offset >= data.len() || count == 0 {
            return Err(bad("entry offset past the data store"));
        }
        let field = &data[offset..];
        match (tag, ty) {
            (TAG_EPOCH, TYPE_INT32) => {
                let b = field.get(..4).ok_or_else(|| bad("truncated epoch"))?;
                entry.epoch = Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            }
            (_, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) => {
                let end = memchr::memchr(0, field).ok_or_else(|| bad("unterminated string"))?;
                let s = String::from_utf8_lossy(&field[..end]).into_owned();
                match tag {
                    TAG_NAME => {
                        entry.name = s;
                        have_name = true;
                    }
                    TAG_VERSION => entry.version = s,
                    TAG_RELEASE => entry.release = s,
                    TAG_ARCH => entry.arch = Some(s).filter(|a| !a.is_empty()),
                    TAG_SOURCERPM => entry.source_rpm = Some(s).filter(|a| !a.is_empty()),
                    _ => {}
                }
            }
            _ => return Err(bad("unexpected tag type")),
        }
    }
    if !have_name || entry.name.is_empty() {
        return Err(bad("no NAME tag"));
    }
    Ok(entry)
}

/// Reads every header of an rpm SQLite database.
pub fn read_sqlite(path: &Path) -> Result<Vec<RpmEntry>, SourceError> {
    let conn = open_read_only(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mut stmt = conn.prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    let mut n = 0usize;
    while let Some(row) = rows.next()? {
        n += 1;
        if n > MAX_ROWS {
            return Err(SourceError::Limit(format!("more than {MAX_ROWS} packages")));
        }
        let hnum: i64 = row.get(0)?;
        let blob = row
            .get_ref(1)?
            .as_blob()
            .map_err(|e| SourceError::Malformed(format!("Packages.blob: {e}")))?;
        let entry = parse_header(blob).map_err(|e| match e {
            SourceError::Malformed(m) => SourceError::Malformed(format!("{m} (hnum {hnum})")),
            other => other,
        })?;
        out.push(entry);
    }
    Ok(out)
}

/// Opens the database without ever writing to it. A normal read-only open needs to create the
/// WAL index beside the file; on a read-only mount (a disk image) that fails, and the file is
/// then opened as immutable, which reads it exactly as it is on disk.
fn open_read_only(path: &Path) -> Result<Connection, SourceError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if let Ok(conn) = Connection::open_with_flags(path, flags)
        && conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .is_ok()
    {
        return Ok(conn);
    }
    let uri = format!("file:{}?immutable=1", uri_path(path));
    Ok(Connection::open_with_flags(
        uri,
        flags | OpenFlags::SQLITE_OPEN_URI,
    )?)
}

/// Percent-encodes a path for an SQLite `file:` URI.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads a legacy database through the `rpm` tool, if it is installed.
fn read_with_rpm_tool(db_dir: &Path) -> Result<Vec<RpmEntry>, SourceError> {
    let Some(rpm) = find_in_path("rpm") else {
        return Err(SourceError::Malformed(
            "BerkeleyDB/NDB rpm database and no `rpm` tool on this host to read it; install \
             rpm or convert the database to SQLite (rpmdb --rebuilddb)"
                .to_owned(),
        ));
    };
    let mut child = Command::new(rpm)
        .arg("--dbpath")
        .arg(db_dir)
        .args([
            "-qa",
            "--queryformat",
            "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = Vec::new();
    if let Some(out) = child.stdout.take() {
        out.take(MAX_RPM_OUTPUT).read_to_end(&mut stdout)?;
    }
    let mut stderr = Vec::new();
    if let Some(err) = child.stderr.take() {
        err.take(64 * 1024).read_to_end(&mut stderr)?;
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(SourceError::Malformed(format!(
            "rpm -qa failed ({status}): {}",
            String::from_utf8_lossy(&stderr).trim()
        )));
    }
    let none = |s: &str| -> Option<String> {
        Some(s.to_owned()).filter(|s| !s.is_empty() && s != "(none)")
    };
    Ok(String::from_utf8_lossy(&stdout)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let [name, epoch, version, release, arch, srpm] = f.as_slice() else {
                return None;
            };
            Some(RpmEntry {
                name: (*name).to_owned(),
                epoch: epoch.parse().ok(),
                version: (*version).to_owned(),
                release: (*release).to_owned(),
                arch: none(arch),
                source_rpm: none(srpm),
            })
        })
        .collect())
}

/// Finds an executable on `PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Converts entries to packages; `gpg-pubkey` pseudo-packages (imported signing keys) are not
/// software and are left out.
pub fn to_packages(entries: Vec<RpmEntry>, eco: &OsEcosystem, install_path: &str) -> Vec<Package> {
    entries
        .into_iter()
        .filter(|e| e.name != "gpg-pubkey")
        .map(|e| {
            let version = e.evr();
            let vr = format!("{}-{}", e.version, e.release);
            let source = e.source();
            let mut qualifiers = Vec::new();
            if let Some(a) = &e.arch {
                qualifiers.push(format!("arch={}", purl_encode(a)));
            }
            if let Some(d) = &eco.purl_distro {
                qualifiers.push(format!("distro={}", purl_encode(d)));
            }
            if let Some(ep) = e.epoch {
                qualifiers.push(format!("epoch={ep}"));
            }
            let purl = format!(
                "pkg:rpm/{}/{}@{}{}{}",
                purl_encode(&eco.purl_namespace),
                purl_encode(&e.name),
                purl_encode(&vr),
                if qualifiers.is_empty() { "" } else { "?" },
                qualifiers.join("&")
            );
            let (source_name, source_version) = match source {
                Some((n, v)) => {
                    let differs = v != vr;
                    (n, differs.then_some(v))
                }
                None => (e.name.clone(), None),
            };
            Package {
                ecosystem: eco.ecosystem.clone(),
                name: e.name,
                version,
                source_name: Some(source_name),
                source_version,
                arch: e.arch,
                install_path: install_path.to_owned(),
                env_type: "os".to_owned(),
                environment: None,
                interpreter_version: None,
                purl: Some(purl),
                origin: None,
            }
        })
        .collect()
}

/// Reads the rpm database under the root, if there is one. The first database found wins;
/// the SQLite and legacy paths are often symlinks to one another.
pub fn scan(root: &Root, eco: &OsEcosystem, out: &mut Findings) {
    let mut seen = HashSet::new();
    for inside in SQLITE_PATHS {
        let Some(path) = root.resolve(inside).filter(|p| p.is_file()) else {
            continue;
        };
        if !seen.insert(path.clone()) {
            continue;
        }
        match read_sqlite(&path) {
            Ok(entries) => {
                out.packages.extend(to_packages(entries, eco, inside));
                return;
            }
            Err(e) => out.error("rpm", inside, e.to_string()),
        }
    }
    if !seen.is_empty() {
        return;
    }
    for inside in LEGACY_PATHS {
        let Some(path) = root.resolve(inside).filter(|p| p.is_file()) else {
            continue;
        };
        let Some(dir) = path.parent() else {
            continue;
        };
        match read_with_rpm_tool(dir) {
            Ok(entries) => out.packages.extend(to_packages(entries, eco, inside)),
            Err(e) => out.error("rpm", inside, e.to_string()),
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a header blob the way rpm lays it out: index entries then the data store.
    fn header(entries: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, ty, bytes) in entries {
            if *ty == TYPE_INT32 {
                while data.len() % 4 != 0 {
                    data.push(0);
                }
            }
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&ty.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&1u32.to_be_bytes());
            data.extend_from_slice(bytes);
        }
        let mut blob = Vec::new();
        blob.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
        blob.extend(index);
        blob.extend(data);
        blob
    }

    fn s(v: &str) -> Vec<u8> {
        let mut b = v.as_bytes().to_vec();
        b.push(0);
        b
    }

    #[test]
    fn decodes_identifying_tags() {
        let blob = header(&[
            (TAG_NAME, TYPE_STRING, s("openssl-libs")),
            (TAG_VERSION, TYPE_STRING, s("3.0.7")),
            (TAG_RELEASE, TYPE_STRING, s("27.el9")),
            (TAG_EPOCH, TYPE_INT32, 1u32.to_be_bytes().to_vec()),
            (TAG_ARCH, TYPE_STRING, s("x86_64")),
            (
                TAG_SOURCERPM,
                TYPE_STRING,
                s("openssl-3.0.7-27.el9.src.rpm"),
            ),
        ]);
        let e = parse_header(&blob).unwrap();
        assert_eq!(e.name, "openssl-libs");
        assert_eq!(e.evr(), "1:3.0.7-27.el9");
        assert_eq!(
            e.source(),
            Some(("openssl".to_owned(), "3.0.7-27.el9".to_owned()))
        );
        let mut with_magic = vec![0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];
        with_magic.extend_from_slice(&blob);
        assert_eq!(parse_header(&with_magic).unwrap(), e);
    }

    #[test]
    fn rejects_out_of_bounds_offsets() {
        let mut blob = header(&[(TAG_NAME, TYPE_STRING, s("x"))]);
        // Point the NAME entry far past the data store.
        blob[16..20].copy_from_slice(&1000u32.to_be_bytes());
        assert!(parse_header(&blob).is_err());
        assert!(parse_header(&[0, 0]).is_err());
        assert!(parse_header(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).is_err());
        let unterminated = header(&[(TAG_NAME, TYPE_STRING, b"abc".to_vec())]);
        assert!(parse_header(&unterminated).is_err());
    }
}
