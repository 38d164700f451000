//! JVM libraries in `.jar`, `.war` and `.ear` archives anywhere under the scan root (Maven's
//! `~/.m2`, Gradle caches, application servers, `/usr/share/java`, applications).
//!
//! Identity, best first: every `META-INF/maven/<group>/<artifact>/pom.properties` (a shaded jar
//! carries one per bundled library); else `META-INF/MANIFEST.MF` (main section, continuation
//! lines joined); else the file name, reported with `origin: filename` as a low-confidence
//! guess. Archives nested in `BOOT-INF/lib/`, `WEB-INF/lib/`, `APP-INF/lib/`, `lib/` or at the
//! top of an EAR/WAR are opened too, up to depth 3: stored entries (Spring Boot's layout) are
//! read in place through a window on the outer file; compressed ones are inflated into memory
//! under a size and ratio cap. Only the central directory and the few entries needed are read.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sentari_proto::agent::Package;
use zip::{CompressionMethod, ZipArchive};

use super::{Findings, Root, SourceError, purl_encode};

/// Entries in one archive's central directory; big application jars have tens of thousands.
const MAX_ENTRIES: usize = 250_000;
/// `pom.properties` is a handful of lines.
const POM_CAP: u64 = 64 * 1024;
/// Manifests with long `Class-Path` or OSGi headers reach a few hundred KiB.
const MANIFEST_CAP: u64 = 1024 * 1024;
/// How deep archives inside archives are opened.
const MAX_DEPTH: usize = 3;
/// Largest compressed nested archive inflated into memory.
const NESTED_MEMORY_CAP: u64 = 32 * 1024 * 1024;
/// Largest inflated/compressed ratio accepted for a nested archive (a zip bomb guard).
const MAX_RATIO: u64 = 200;
/// Nested archives opened for one top-level archive.
const MAX_NESTED: usize = 5_000;
/// `pom.properties` files read from one archive.
const MAX_POMS: usize = 10_000;

/// Whether a file name ends in `.jar`, `.war` or `.ear` (any case).
pub fn is_archive_name(name: &[u8]) -> bool {
    name.len() > 4 && {
        let ext = &name[name.len() - 4..];
        ext.eq_ignore_ascii_case(b".jar")
            || ext.eq_ignore_ascii_case(b".war")
            || ext.eq_ignore_ascii_case(b".ear")
    }
}

trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

type DynArchive = ZipArchive<Box<dyn ReadSeek>>;

/// A read-only view of `len` bytes of a file starting at `start`: a stored nested archive,
/// read in place.
struct Window {
    file: File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Window {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        if left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        self.file.seek(SeekFrom::Start(self.start + self.pos))?;
        let n = self.file.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => i128::from(n),
            SeekFrom::End(d) => i128::from(self.len) + i128::from(d),
            SeekFrom::Current(d) => i128::from(self.pos) + i128::from(d),
        };
        if target < 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before start",
            ));
        }
        self.pos = u64::try_from(target).unwrap_or(u64::MAX);
        Ok(self.pos)
    }
}

/// Where an archive's bytes live: in a file at an offset (top level and stored nesting), or in
/// memory (inflated nesting).
#[derive(Clone)]
enum Base {
    File { path: PathBuf, offset: u64 },
    Memory,
}

/// One identified library.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Coordinates {
    /// `groupId:artifactId`, or the artifact alone when the group is unknown.
    pub name: String,
    /// The version.
    pub version: String,
    /// `pom.properties`, `manifest` or `filename`.
    pub origin: &'static str,
}

/// Parses Java properties (`key=value`, `key: value`, `#`/`!` comments).
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            let at = l.find(['=', ':'])?;
            Some((l[..at].trim().to_owned(), l[at + 1..].trim().to_owned()))
        })
        .collect()
}

/// The main section of a JAR manifest, continuation lines (starting with one space) joined.
pub fn parse_manifest(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some(last) = out.last_mut() {
                last.1.push_str(cont);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

/// `commons-lang3-3.12.0.jar` → (`commons-lang3`, `3.12.0`): the version starts at the first
/// `-` followed by a digit.
pub fn split_file_name(file_name: &str) -> (String, Option<String>) {
    let stem = match file_name.rfind('.') {
        Some(i) => &file_name[..i],
        None => file_name,
    };
    let bytes = stem.as_bytes();
    for i in 0..bytes.len() {
        if bytes[i] == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) && i > 0 {
            return (stem[..i].to_owned(), Some(stem[i + 1..].to_owned()));
        }
    }
    (stem.to_owned(), None)
}

/// Coordinates from a manifest's main section, when it names a version.
pub fn manifest_coordinates(fields: &[(String, String)], file_name: &str) -> Option<Coordinates> {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let version = get("Implementation-Version")
        .or_else(|| get("Bundle-Version"))
        .or_else(|| get("Specification-Version"))?;
    // OSGi headers carry directives after `;`.
    let symbolic = get("Bundle-SymbolicName")
        .or_else(|| get("Automatic-Module-Name"))
        .map(|s| s.split(';').next().unwrap_or_default().trim().to_owned())
        .filter(|s| !s.is_empty());
    let (file_artifact, _) = split_file_name(file_name);
    let artifact = if !file_artifact.is_empty() {
        file_artifact
    } else if let Some(sym) = &symbolic {
        sym.rsplit('.').next().unwrap_or(sym).to_owned()
    } else {
        get("Implementation-Title")?
    };
    let group = get("Implementation-Vendor-Id").or_else(|| {
        let sym = symbolic.as_ref()?;
        let (head, _) = sym.rsplit_once('.')?;
        head.contains('.').then(|| head.to_owned())
    });
    Some(Coordinates {
        name: match group {
            Some(g) => format!("{g}:{artifact}"),
            None => artifact,
        },
        version,
        origin: "manifest",
    })
}

/// Reads one archive found by the walk.
pub fn scan_archive(root: &Root, path: &Path, out: &mut Findings) {
    let shown = root.display(path);
    let opened = File::open(path).map_err(SourceError::from).and_then(|f| {
        let reader: Box<dyn ReadSeek> = Box::new(BufReader::with_capacity(16 * 1024, f));
        Ok(ZipArchive::new(reader)?)
    });
    let mut archive = match opened {
        Ok(a) => a,
        Err(e) => {
            out.error("jvm", &shown, e.to_string());
            return;
        }
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = Base::File {
        path: path.to_path_buf(),
        offset: 0,
    };
    let mut nested_budget = MAX_NESTED;
    let ctx = Ctx { top: &shown, out };
    let mut ctx = ctx;
    if let Err(e) = visit(
        &mut archive,
        &base,
        &shown,
        &file_name,
        0,
        &mut nested_budget,
        &mut ctx,
    ) {
        ctx.out.error("jvm", &shown, e.to_string());
    }
}

struct Ctx<'a> {
    top: &'a str,
    out: &'a mut Findings,
}

/// Identifies one (possibly nested) archive and descends into its nested archives.
fn visit(
    archive: &mut DynArchive,
    base: &Base,
    label: &str,
    file_name: &str,
    depth: usize,
    nested_budget: &mut usize,
    ctx: &mut Ctx<'_>,
) -> Result<(), SourceError> {
    if archive.len() > MAX_ENTRIES {
        return Err(SourceError::Limit(format!(
            "more than {MAX_ENTRIES} entries"
        )));
    }
    let mut poms = Vec::new();
    let mut manifest = None;
    let mut nested = Vec::new();
    for i in 0..archive.len() {
        let Some(Ok(name)) = archive.name_for_index(i) else {
            continue;
        };
        if is_pom_properties(&name) {
            poms.push(i);
        } else if name.eq_ignore_ascii_case("META-INF/MANIFEST.MF") {
            manifest = Some(i);
        } else if depth < MAX_DEPTH && is_nested_archive(&name) {
            nested.push((i, name.into_owned()));
        }
    }
    if poms.len() > MAX_POMS {
        return Err(SourceError::Limit(format!(
            "more than {MAX_POMS} pom.properties"
        )));
    }

    let mut found: Vec<Coordinates> = Vec::new();
    for i in poms {
        let text = read_entry_text(archive, i, POM_CAP)?;
        let props = parse_properties(&text);
        let get = |k: &str| {
            props
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        if let (Some(g), Some(a), Some(v)) = (get("groupId"), get("artifactId"), get("version")) {
            found.push(Coordinates {
                name: format!("{g}:{a}"),
                version: v,
                origin: "pom.properties",
            });
        }
    }
    if found.is_empty()
        && let Some(i) = manifest
    {
        let text = read_entry_text(archive, i, MANIFEST_CAP)?;
        found.extend(manifest_coordinates(&parse_manifest(&text), file_name));
    }
    if found.is_empty()
        && let (artifact, Some(version)) = split_file_name(file_name)
        && !artifact.is_empty()
    {
        found.push(Coordinates {
            name: artifact,
            version,
            origin: "filename",
        });
    }
    found.sort();
    found.dedup_by(|a, b| a.name == b.name && a.version == b.version);
    for c in found {
        push_package(ctx, label, depth, c);
    }

    for (i, name) in nested {
        if *nested_budget == 0 {
            ctx.out.error(
                "jvm",
                ctx.top,
                format!("more than {MAX_NESTED} nested archives; the rest were skipped"),
            );
            break;
        }
        *nested_budget -= 1;
        let inner_label = format!("{label}!/{name}");
        let inner_file = name.rsplit('/').next().unwrap_or(&name).to_owned();
        match open_nested(archive, i, base) {
            Ok((mut inner, inner_base)) => {
                if let Err(e) = visit(
                    &mut inner,
                    &inner_base,
                    &inner_label,
                    &inner_file,
                    depth + 1,
                    nested_budget,
                    ctx,
                ) {
                    ctx.out.error("jvm", &inner_label, e.to_string());
                }
            }
            Err(e) => ctx.out.error("jvm", &inner_label, e.to_string()),
        }
    }
    Ok(())
}

fn push_package(ctx: &mut Ctx<'_>, label: &str, depth: usize, c: Coordinates) {
    let purl = c.name.split_once(':').map(|(g, a)| {
        format!(
            "pkg:maven/{}/{}@{}",
            g.split('.').map(purl_encode).collect::<Vec<_>>().join("."),
            purl_encode(a),
            purl_encode(&c.version)
        )
    });
    ctx.out.packages.push(Package {
        ecosystem: "Maven".to_owned(),
        name: c.name,
        version: c.version,
        source_name: None,
        source_version: None,
        arch: None,
        install_path: label.to_owned(),
        env_type: "jar".to_owned(),
        environment: (depth > 0).then(|| ctx.top.to_owned()),
        interpreter_version: None,
        purl,
        origin: Some(c.origin.to_owned()),
    });
}

/// `META-INF/maven/<group>/<artifact>/pom.properties`.
fn is_pom_properties(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    matches!(parts.as_slice(), ["META-INF", "maven", g, a, "pom.properties"] if !g.is_empty() && !a.is_empty())
}

/// Nested archives in the places packagers put libraries.
fn is_nested_archive(name: &str) -> bool {
    if !is_archive_name(name.as_bytes()) {
        return false;
    }
    let dir = match name.rfind('/') {
        Some(i) => &name[..i],
        None => "",
    };
    matches!(
        dir,
        "" | "lib" | "BOOT-INF/lib" | "WEB-INF/lib" | "APP-INF/lib"
    )
}

fn read_entry_text(archive: &mut DynArchive, i: usize, cap: u64) -> Result<String, SourceError> {
    let entry = archive.by_index(i)?;
    if entry.size() > cap {
        return Err(SourceError::TooLarge(cap));
    }
    let mut buf = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0).min(64 * 1024));
    entry.take(cap).read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Opens a nested archive: in place when stored and the outer archive is a file, else inflated
/// into memory under the caps.
fn open_nested(
    archive: &mut DynArchive,
    i: usize,
    base: &Base,
) -> Result<(DynArchive, Base), SourceError> {
    let (method, size, compressed, data_start) = {
        let raw = archive.by_index_raw(i)?;
        (
            raw.compression(),
            raw.size(),
            raw.compressed_size(),
            raw.data_start(),
        )
    };
    if let (CompressionMethod::Stored, Base::File { path, offset }, Some(start)) =
        (method, base, data_start)
    {
        let window = Window {
            file: File::open(path)?,
            start: offset + start,
            len: size,
            pos: 0,
        };
        let reader: Box<dyn ReadSeek> = Box::new(BufReader::with_capacity(16 * 1024, window));
        let inner = ZipArchive::new(reader)?;
        return Ok((
            inner,
            Base::File {
                path: path.clone(),
                offset: offset + start,
            },
        ));
    }
    if size > NESTED_MEMORY_CAP {
        return Err(SourceError::Limit(format!(
            "nested archive of {size} bytes is over the {NESTED_MEMORY_CAP}-byte in-memory cap"
        )));
    }
    if method != CompressionMethod::Stored && size > compressed.max(1).saturating_mul(MAX_RATIO) {
        return Err(SourceError::Limit(format!(
            "nested archive expands more than {MAX_RATIO}x"
        )));
    }
    let entry = archive.by_index(i)?;
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    entry.take(NESTED_MEMORY_CAP + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > NESTED_MEMORY_CAP {
        return Err(SourceError::TooLarge(NESTED_MEMORY_CAP));
    }
    let reader: Box<dyn ReadSeek> = Box::new(Cursor::new(buf));
    Ok((ZipArchive::new(reader)?, Base::Memory))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names() {
        assert!(is_archive_name(b"a.jar"));
        assert!(is_archive_name(b"App.WAR"));
        assert!(!is_archive_name(b".jar"));
        assert!(!is_archive_name(b"a.jar.sha1"));
    }

    #[test]
    fn file_names_split_at_the_version() {
        assert_eq!(
            split_file_name("commons-lang3-3.12.0.jar"),
            ("commons-lang3".to_owned(), Some("3.12.0".to_owned()))
        );
        assert_eq!(split_file_name("tools.jar"), ("tools".to_owned(), None));
        assert_eq!(
            split_file_name("jetty-util-12.0.9.jar"),
            ("jetty-util".to_owned(), Some("12.0.9".to_owned()))
        );
    }

    #[test]
    fn manifests_join_continuation_lines() {
        let mf = "Manifest-Version: 1.0\r\nBundle-SymbolicName: org.apache.commons.comm\r\n ons-text;singleton:=true\r\nBundle-Version: 1.10.0\r\n\r\nName: other\r\nImplementation-Version: 9\r\n";
        let fields = parse_manifest(mf);
        assert!(fields.contains(&(
            "Bundle-SymbolicName".to_owned(),
            "org.apache.commons.commons-text;singleton:=true".to_owned()
        )));
        let c = manifest_coordinates(&fields, "commons-text.jar").unwrap();
        assert_eq!(c.name, "org.apache.commons:commons-text");
        assert_eq!(c.version, "1.10.0");
        assert!(!fields.iter().any(|(k, _)| k == "Implementation-Version"));
    }

    #[test]
    fn pom_paths() {
        assert!(is_pom_properties(
            "META-INF/maven/org.slf4j/slf4j-api/pom.properties"
        ));
        assert!(!is_pom_properties(
            "META-INF/maven/org.slf4j/pom.properties"
        ));
        assert!(is_nested_archive("BOOT-INF/lib/x-1.jar"));
        assert!(!is_nested_archive("src/test/resources/x-1.jar"));
    }
}
