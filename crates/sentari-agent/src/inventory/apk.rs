//! Alpine (and Wolfi/Chainguard) packages from apk's installed database,
//! `/lib/apk/db/installed`.
//!
//! The database is a list of blank-line separated records of `X:value` lines; every record is
//! an installed package. `P` is the name, `V` the version, `A` the architecture and `o` the
//! origin (the source package the advisories are written against).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use sentari_proto::agent::Package;

use super::host::OsEcosystem;
use super::{Findings, Root, SourceError, purl_encode};

/// Real databases are a few MiB (one line per installed file).
const INSTALLED_CAP: u64 = 512 * 1024 * 1024;
/// More records than any real system has packages.
const MAX_RECORDS: usize = 200_000;

/// One installed apk package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApkEntry {
    /// `P`.
    pub name: String,
    /// `V`.
    pub version: String,
    /// `A`.
    pub arch: Option<String>,
    /// `o`, or the name when the record has no origin.
    pub origin: String,
}

/// Parses apk's installed database.
pub fn parse_installed<R: BufRead>(reader: R) -> Result<Vec<ApkEntry>, SourceError> {
    let mut out = Vec::new();
    let (mut p, mut v, mut a, mut o) = (None::<String>, None::<String>, None::<String>, None);
    let mut flush = |p: &mut Option<String>,
                     v: &mut Option<String>,
                     a: &mut Option<String>,
                     o: &mut Option<String>|
     -> Result<(), SourceError> {
        if let (Some(name), Some(version)) = (p.take(), v.take()) {
            if out.len() >= MAX_RECORDS {
                return Err(SourceError::Limit(format!(
                    "more than {MAX_RECORDS} records"
                )));
            }
            let origin = o.take().unwrap_or_else(|| name.clone());
            out.push(ApkEntry {
                name,
                version,
                arch: a.take(),
                origin,
            });
        }
        *a = None;
        *o = None;
        Ok(())
    };
    for line in reader.split(b'\n') {
        let line = line?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.is_empty() {
            flush(&mut p, &mut v, &mut a, &mut o)?;
            continue;
        }
        let (Some(key), Some(b':')) = (line.first(), line.get(1)) else {
            continue;
        };
        let value = || String::from_utf8_lossy(&line[2..]).trim().to_owned();
        match key {
            b'P' => p = Some(value()),
            b'V' => v = Some(value()),
            b'A' => a = Some(value()).filter(|s| !s.is_empty()),
            b'o' => o = Some(value()).filter(|s| !s.is_empty()),
            _ => {}
        }
    }
    flush(&mut p, &mut v, &mut a, &mut o)?;
    Ok(out)
}

/// Reads apk's database under the root, if there is one.
pub fn scan(root: &Root, eco: &OsEcosystem, out: &mut Findings) {
    const INSTALLED: &str = "/lib/apk/db/installed";
    let Some(path) = root.resolve(INSTALLED).filter(|p| p.is_file()) else {
        return;
    };
    let result = File::open(&path).map_err(SourceError::from).and_then(|f| {
        if f.metadata()?.len() > INSTALLED_CAP {
            return Err(SourceError::TooLarge(INSTALLED_CAP));
        }
        parse_installed(BufReader::new(f.take(INSTALLED_CAP)))
    });
    let entries = match result {
        Ok(e) => e,
        Err(e) => {
            out.error("apk", INSTALLED, e.to_string());
            return;
        }
    };
    for e in entries {
        let mut qualifiers = Vec::new();
        if let Some(a) = &e.arch {
            qualifiers.push(format!("arch={}", purl_encode(a)));
        }
        if let Some(d) = &eco.purl_distro {
            qualifiers.push(format!("distro={}", purl_encode(d)));
        }
        let purl = format!(
            "pkg:apk/{}/{}@{}{}{}",
            purl_encode(&eco.purl_namespace),
            purl_encode(&e.name),
            purl_encode(&e.version),
            if qualifiers.is_empty() { "" } else { "?" },
            qualifiers.join("&")
        );
        out.packages.push(Package {
            ecosystem: eco.ecosystem.clone(),
            name: e.name,
            version: e.version,
            source_name: Some(e.origin),
            source_version: None,
            arch: e.arch,
            install_path: INSTALLED.to_owned(),
            env_type: "os".to_owned(),
            environment: None,
            interpreter_version: None,
            purl: Some(purl),
            origin: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_with_origin() {
        let db = "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nS:383152\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\n\nC:Q1def=\nP:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\n\nP:noorigin\nV:1\n";
        let e = parse_installed(db.as_bytes()).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[1].name, "libcrypto3");
        assert_eq!(e[1].origin, "openssl");
        assert_eq!(e[1].arch.as_deref(), Some("x86_64"));
        assert_eq!(e[2].origin, "noorigin");
    }
}
