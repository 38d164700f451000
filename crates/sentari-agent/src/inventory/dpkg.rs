//! Debian and Ubuntu packages from dpkg's database: `/var/lib/dpkg/status`, and the
//! one-file-per-package `/var/lib/dpkg/status.d/` that distroless images ship instead.
//!
//! Only packages whose status is exactly `install ok installed` count, which is the set
//! `dpkg-query -W` shows as `ii`: half-installed, config-files-only and removed packages leave
//! paragraphs behind that are not installed software.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use sentari_proto::agent::Package;

use super::host::OsEcosystem;
use super::{Findings, Root, SourceError, purl_encode};

/// Real status files are a few MiB; anything past this is not a dpkg database.
const STATUS_CAP: u64 = 256 * 1024 * 1024;
/// A `status.d` entry holds one package (or a handful for multi-arch).
const STATUS_D_FILE_CAP: u64 = 4 * 1024 * 1024;
/// More paragraphs than any real system has packages.
const MAX_PARAGRAPHS: usize = 500_000;
/// More `status.d` files than any real image has packages.
const MAX_STATUS_D_FILES: usize = 100_000;
/// Longest line kept; longer lines are descriptions we never look at.
const MAX_LINE: usize = 64 * 1024;

/// One installed binary package as dpkg records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgEntry {
    /// `Package`.
    pub name: String,
    /// `Version`, verbatim (epoch included).
    pub version: String,
    /// `Architecture`.
    pub arch: Option<String>,
    /// The source package name from `Source:`, or the binary name when there is none.
    pub source_name: String,
    /// The source version from `Source: name (version)`, when dpkg recorded one.
    pub source_version: Option<String>,
}

/// Parses a dpkg status file. When `require_status` is false (distroless `status.d` entries,
/// which carry no `Status:` field) a paragraph without one counts as installed.
pub fn parse_status<R: BufRead>(
    mut reader: R,
    require_status: bool,
) -> Result<Vec<DpkgEntry>, SourceError> {
    let mut out = Vec::new();
    let mut fields = Paragraph::default();
    let mut paragraphs = 0usize;
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let n = read_line_capped(&mut reader, &mut line)?;
        let text = String::from_utf8_lossy(trim_eol(&line));
        if n == 0 || text.trim().is_empty() {
            if !fields.is_empty() {
                paragraphs += 1;
                if paragraphs > MAX_PARAGRAPHS {
                    return Err(SourceError::Limit(format!(
                        "more than {MAX_PARAGRAPHS} paragraphs"
                    )));
                }
                if let Some(entry) = fields.take().into_entry(require_status) {
                    out.push(entry);
                }
            }
            if n == 0 {
                break;
            }
            continue;
        }
        if text.starts_with([' ', '\t']) {
            // Continuation lines belong to multi-line fields (Description, Conffiles) that
            // identify nothing.
            continue;
        }
        let Some((key, value)) = text.split_once(':') else {
            continue;
        };
        let value = value.trim().to_owned();
        match key.to_ascii_lowercase().as_str() {
            "package" => fields.package = Some(value),
            "status" => fields.status = Some(value),
            "version" => fields.version = Some(value),
            "architecture" => fields.arch = Some(value),
            "source" => fields.source = Some(value),
            _ => {}
        }
    }
    Ok(out)
}

/// Reads one line but keeps at most [`MAX_LINE`] bytes of it, so a corrupt file without
/// newlines cannot make the parser buffer unboundedly.
fn read_line_capped<R: BufRead>(reader: &mut R, line: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut total = 0usize;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(total);
        }
        let (chunk, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len();
        reader.consume(used);
        total += used;
        if done {
            return Ok(total);
        }
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[derive(Debug, Default)]
struct Paragraph {
    package: Option<String>,
    status: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    source: Option<String>,
}

impl Paragraph {
    fn is_empty(&self) -> bool {
        self.package.is_none()
            && self.status.is_none()
            && self.version.is_none()
            && self.arch.is_none()
            && self.source.is_none()
    }

    fn take(&mut self) -> Paragraph {
        std::mem::take(self)
    }

    fn into_entry(self, require_status: bool) -> Option<DpkgEntry> {
        let installed = match &self.status {
            Some(s) => s.split_whitespace().collect::<Vec<_>>() == ["install", "ok", "installed"],
            None => !require_status,
        };
        if !installed {
            return None;
        }
        let name = self.package?;
        let version = self.version?;
        let (source_name, source_version) = match self.source.as_deref().map(str::trim) {
            Some(src) if !src.is_empty() => match src.split_once('(') {
                Some((n, v)) => (
                    n.trim().to_owned(),
                    Some(v.trim_end_matches(')').trim().to_owned()).filter(|v| !v.is_empty()),
                ),
                None => (src.to_owned(), None),
            },
            _ => (name.clone(), None),
        };
        Some(DpkgEntry {
            name,
            version,
            arch: self.arch.filter(|a| !a.is_empty()),
            source_name,
            source_version,
        })
    }
}

/// Turns dpkg entries into packages of the root's ecosystem.
pub fn to_packages(entries: Vec<DpkgEntry>, eco: &OsEcosystem, install_path: &str) -> Vec<Package> {
    entries
        .into_iter()
        .map(|e| {
            let mut qualifiers = Vec::new();
            if let Some(a) = &e.arch {
                qualifiers.push(format!("arch={}", purl_encode(a)));
            }
            if let Some(d) = &eco.purl_distro {
                qualifiers.push(format!("distro={}", purl_encode(d)));
            }
            let purl = format!(
                "pkg:deb/{}/{}@{}{}{}",
                purl_encode(&eco.purl_namespace),
                purl_encode(&e.name),
                purl_encode(&e.version),
                if qualifiers.is_empty() { "" } else { "?" },
                qualifiers.join("&")
            );
            Package {
                ecosystem: eco.ecosystem.clone(),
                name: e.name,
                version: e.version,
                source_name: Some(e.source_name),
                source_version: e.source_version,
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

/// Reads dpkg's database under the root, if there is one.
pub fn scan(root: &Root, eco: &OsEcosystem, out: &mut Findings) {
    const STATUS: &str = "/var/lib/dpkg/status";
    const STATUS_D: &str = "/var/lib/dpkg/status.d";
    if let Some(path) = root.resolve(STATUS).filter(|p| p.is_file()) {
        let result = File::open(&path).map_err(SourceError::from).and_then(|f| {
            let len = f.metadata()?.len();
            if len > STATUS_CAP {
                return Err(SourceError::TooLarge(STATUS_CAP));
            }
            parse_status(BufReader::new(f.take(STATUS_CAP)), true)
        });
        match result {
            Ok(entries) => out.packages.extend(to_packages(entries, eco, STATUS)),
            Err(e) => out.error("dpkg", STATUS, e.to_string()),
        }
    }
    let Some(dir) = root.resolve(STATUS_D).filter(|p| p.is_dir()) else {
        return;
    };
    let mut files = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .take(MAX_STATUS_D_FILES + 1)
            .collect::<Vec<_>>(),
        Err(e) => {
            out.error("dpkg", STATUS_D, format!("cannot list: {e}"));
            return;
        }
    };
    if files.len() > MAX_STATUS_D_FILES {
        out.error(
            "dpkg",
            STATUS_D,
            format!("more than {MAX_STATUS_D_FILES} entries; the rest were skipped"),
        );
        files.truncate(MAX_STATUS_D_FILES);
    }
    files.sort();
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // distroless puts checksum lists beside the entries.
        if name.ends_with(".md5sums") || name.starts_with('.') || !file.is_file() {
            continue;
        }
        let shown = format!("{STATUS_D}/{name}");
        match super::read_capped(&file, STATUS_D_FILE_CAP)
            .and_then(|bytes| parse_status(bytes.as_slice(), false))
        {
            Ok(entries) => out.packages.extend(to_packages(entries, eco, &shown)),
            Err(e) => out.error("dpkg", &shown, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
Package: libssl3
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.15-1~deb12u1
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation.

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14
Conffiles:
 /etc/foo 0123

Package: removed-pkg
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: held
Status: hold ok installed
Architecture: all
Version: 2.0

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b7
Source: bash (5.2.15-2)
";

    #[test]
    fn parses_installed_packages_with_source() {
        let entries = parse_status(SAMPLE.as_bytes(), true).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].name, "libssl3");
        assert_eq!(entries[0].source_name, "openssl");
        assert_eq!(entries[0].source_version, None);
        assert_eq!(entries[1].source_name, "gcc-12");
        assert_eq!(entries[1].source_version.as_deref(), Some("12.2.0-14"));
        assert_eq!(entries[2].version, "5.2.15-2+b7");
        assert_eq!(entries[2].source_version.as_deref(), Some("5.2.15-2"));
    }

    #[test]
    fn status_d_entries_need_no_status_field() {
        let text = "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n";
        assert_eq!(parse_status(text.as_bytes(), false).unwrap().len(), 1);
        assert_eq!(parse_status(text.as_bytes(), true).unwrap().len(), 0);
    }

    #[test]
    fn crlf_and_missing_final_newline_are_fine() {
        let text = "Package: a\r\nStatus: install ok installed\r\nVersion: 1\r\n\r\nPackage: b\r\nStatus: install ok installed\r\nVersion: 2";
        let e = parse_status(text.as_bytes(), true).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].version, "1");
    }

    #[test]
    fn huge_lines_are_truncated_not_buffered() {
        let mut text =
            String::from("Package: a\nStatus: install ok installed\nVersion: 1\nDescription: ");
        text.push_str(&"x".repeat(MAX_LINE * 3));
        text.push('\n');
        let e = parse_status(text.as_bytes(), true).unwrap();
        assert_eq!(e.len(), 1);
    }
}
