//! Reading offline OSV bundles into an [`OsvIndex`], streaming and bounded.
//!
//! A bundle is any of: an osv.dev `all.zip`; a directory of `<Ecosystem>/all.zip`; a
//! directory of OSV `.json` files; a single `.json` record; or NDJSON (one record a line),
//! plain, gzip or zstd (recognised by content, not name). Records are handed to the index
//! one at a time, so memory follows what the index keeps, not the size of the file. Every
//! read is capped — entries in a zip, bytes per record, decompressed bytes in total — so a
//! zip or gzip bomb ends in a [`BundleError`], never in exhausted memory. A record that does
//! not parse is reported in the [`LoadReport`] and skipped; a truncated or corrupt container
//! fails the load with an error that names the file.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use sentari_core::osv::{OsvIndex, RecordError};

/// Limits on what one load may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleLimits {
    /// Most entries one zip may have.
    pub max_entries: usize,
    /// Most bytes one record (zip entry, NDJSON line, JSON file) may have once decompressed.
    pub max_record_bytes: u64,
    /// Most decompressed bytes one load may read in total.
    pub max_total_bytes: u64,
    /// Deepest directory level searched for `.json` files.
    pub max_depth: usize,
}

impl Default for BundleLimits {
    /// Sized for the full osv.dev export (hundreds of thousands of records, a few GiB
    /// unpacked) with room to spare, while still stopping a bomb long before memory runs out.
    fn default() -> Self {
        BundleLimits {
            max_entries: 2_000_000,
            max_record_bytes: 32 * 1024 * 1024,
            max_total_bytes: 16 * 1024 * 1024 * 1024,
            max_depth: 8,
        }
    }
}

/// Why a bundle could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The path could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The zip is corrupt or truncated.
    #[error("{path}: not a readable zip archive (corrupt or truncated): {source}")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// The zip library's error.
        source: zip::result::ZipError,
    },
    /// Compressed data ended early or does not decompress.
    #[error("{path}: corrupt or truncated {what}: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// `gzip data`, `zstd data`, `zip entry …`.
        what: String,
        /// The decoder's error.
        source: io::Error,
    },
    /// A zip has more entries than allowed.
    #[error("{path}: {entries} zip entries exceed the limit of {limit}")]
    TooManyEntries {
        /// The archive.
        path: PathBuf,
        /// Its entry count.
        entries: usize,
        /// The limit.
        limit: usize,
    },
    /// One record is larger than allowed once decompressed.
    #[error("{path}: {what} exceeds {limit} bytes")]
    RecordTooLarge {
        /// The file.
        path: PathBuf,
        /// Which record (zip entry name or NDJSON line number).
        what: String,
        /// The limit.
        limit: u64,
    },
    /// The load decompressed more bytes than allowed in total.
    #[error("{path}: more than {limit} decompressed bytes in total")]
    TotalTooLarge {
        /// The file being read when the limit was reached.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// The directory holds nothing that looks like OSV data.
    #[error("{0}: no OSV data found (expected all.zip, .json files or NDJSON)")]
    Empty(PathBuf),
}

/// What a load read and what it had to skip.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Containers read (zip files, JSON files, NDJSON files).
    pub files: usize,
    /// Records handed to the index (including withdrawn and stale copies).
    pub records: usize,
    /// Records that could not be used: where, and why. At most [`MAX_REPORTED`] are kept.
    pub errors: Vec<(String, RecordError)>,
    /// How many records failed, including those not kept in `errors`.
    pub error_count: usize,
    /// Decompressed bytes read.
    pub bytes: u64,
}

/// The number of record errors a report keeps verbatim.
pub const MAX_REPORTED: usize = 1000;

impl LoadReport {
    fn record_error(&mut self, location: String, e: RecordError) {
        self.error_count += 1;
        if self.errors.len() < MAX_REPORTED {
            self.errors.push((location, e));
        }
    }
}

/// Receives each record of a bundle as its JSON bytes; the in-memory index is one sink, the
/// database import another.
pub trait RecordSink {
    /// Takes one record; an error is reported for that record and the load goes on.
    fn record(&mut self, json: &[u8]) -> Result<(), RecordError>;
}

impl RecordSink for OsvIndex {
    fn record(&mut self, json: &[u8]) -> Result<(), RecordError> {
        self.insert_json(json).map(|_| ())
    }
}

struct Loader<'a> {
    index: &'a mut dyn RecordSink,
    limits: BundleLimits,
    report: LoadReport,
    buf: Vec<u8>,
}

/// Loads the bundle at `path` into `index`.
pub fn load_osv_bundle(
    path: &Path,
    index: &mut OsvIndex,
    limits: &BundleLimits,
) -> Result<LoadReport, BundleError> {
    read_osv_bundle(path, index, limits)
}

/// Reads the bundle at `path`, handing every record to `sink`.
pub fn read_osv_bundle(
    path: &Path,
    sink: &mut dyn RecordSink,
    limits: &BundleLimits,
) -> Result<LoadReport, BundleError> {
    let index = sink;
    let mut loader = Loader {
        index,
        limits: *limits,
        report: LoadReport::default(),
        buf: Vec::new(),
    };
    loader.load_path(path, 0)?;
    Ok(loader.report)
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Content kinds, recognised by their first bytes.
enum Kind {
    Zip,
    Gzip,
    Zstd,
    Text,
}

fn sniff(path: &Path) -> Result<Kind, BundleError> {
    let mut head = [0u8; 4];
    let mut f = File::open(path).map_err(io_err(path))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(path)(e)),
        }
    }
    Ok(match &head[..n] {
        [b'P', b'K', 3, 4] | [b'P', b'K', 5, 6] => Kind::Zip,
        [0x1f, 0x8b, ..] => Kind::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Kind::Zstd,
        _ => Kind::Text,
    })
}

impl Loader<'_> {
    fn load_path(&mut self, path: &Path, depth: usize) -> Result<(), BundleError> {
        let meta = std::fs::metadata(path).map_err(io_err(path))?;
        if meta.is_dir() {
            let before = self.report.files;
            self.load_dir(path, depth)?;
            if depth == 0 && self.report.files == before {
                return Err(BundleError::Empty(path.to_owned()));
            }
            return Ok(());
        }
        self.report.files += 1;
        match sniff(path)? {
            Kind::Zip => self.load_zip(path),
            Kind::Gzip => {
                let f = File::open(path).map_err(io_err(path))?;
                self.load_ndjson(path, flate2::read::MultiGzDecoder::new(f), "gzip data")
            }
            Kind::Zstd => {
                let f = File::open(path).map_err(io_err(path))?;
                let dec = zstd::stream::read::Decoder::new(f).map_err(io_err(path))?;
                self.load_ndjson(path, dec, "zstd data")
            }
            Kind::Text if path.extension().is_some_and(|e| e == "json") => {
                self.load_json_file(path)
            }
            Kind::Text => {
                let f = File::open(path).map_err(io_err(path))?;
                self.load_ndjson(path, f, "data")
            }
        }
    }

    /// A directory: `<Ecosystem>/all.zip` files, `.json` files, and NDJSON files, found
    /// recursively down to the depth limit, in a stable (sorted) order.
    fn load_dir(&mut self, dir: &Path, depth: usize) -> Result<(), BundleError> {
        if depth > self.limits.max_depth {
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io_err(dir))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io_err(dir))?;
        entries.sort();
        for p in entries {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                self.load_dir(&p, depth + 1)?;
            } else if [".zip", ".json", ".ndjson", ".jsonl", ".gz", ".zst"]
                .iter()
                .any(|ext| name.ends_with(ext))
            {
                self.load_path(&p, depth + 1)?;
            }
        }
        Ok(())
    }

    fn count_bytes(&mut self, path: &Path, n: u64) -> Result<(), BundleError> {
        self.report.bytes += n;
        if self.report.bytes > self.limits.max_total_bytes {
            return Err(BundleError::TotalTooLarge {
                path: path.to_owned(),
                limit: self.limits.max_total_bytes,
            });
        }
        Ok(())
    }

    fn insert(&mut self, location: impl FnOnce() -> String) {
        self.report.records += 1;
        if let Err(e) = self.index.record(&self.buf) {
            self.report.record_error(location(), e);
        }
    }

    fn load_zip(&mut self, path: &Path) -> Result<(), BundleError> {
        let f = File::open(path).map_err(io_err(path))?;
        let zip_err = |source| BundleError::Zip {
            path: path.to_owned(),
            source,
        };
        let mut zip = zip::ZipArchive::new(BufReader::new(f)).map_err(zip_err)?;
        if zip.len() > self.limits.max_entries {
            return Err(BundleError::TooManyEntries {
                path: path.to_owned(),
                entries: zip.len(),
                limit: self.limits.max_entries,
            });
        }
        let max = self.limits.max_record_bytes;
        for i in 0..zip.len() {
            let entry = zip.by_index(i).map_err(zip_err)?;
            let name = entry
                .name()
                .map(|n| n.into_owned())
                .unwrap_or_else(|_| format!("entry #{i}"));
            if entry.is_dir() || !name.ends_with(".json") {
                continue;
            }
            // The declared size is checked first to fail fast, and the read itself is capped
            // because a crafted archive can declare less than it inflates to.
            let too_large = || BundleError::RecordTooLarge {
                path: path.to_owned(),
                what: format!("zip entry {name}"),
                limit: max,
            };
            if entry.size() > max {
                return Err(too_large());
            }
            self.buf.clear();
            let read = entry
                .take(max + 1)
                .read_to_end(&mut self.buf)
                .map_err(|source| BundleError::Corrupt {
                    path: path.to_owned(),
                    what: format!("zip entry {name}"),
                    source,
                })?;
            if read as u64 > max {
                return Err(too_large());
            }
            self.count_bytes(path, read as u64)?;
            self.insert(|| format!("{}:{name}", path.display()));
        }
        Ok(())
    }

    fn load_json_file(&mut self, path: &Path) -> Result<(), BundleError> {
        let max = self.limits.max_record_bytes;
        let f = File::open(path).map_err(io_err(path))?;
        self.buf.clear();
        let read = f
            .take(max + 1)
            .read_to_end(&mut self.buf)
            .map_err(io_err(path))?;
        if read as u64 > max {
            return Err(BundleError::RecordTooLarge {
                path: path.to_owned(),
                what: "JSON file".into(),
                limit: max,
            });
        }
        self.count_bytes(path, read as u64)?;
        let loc = path.display().to_string();
        self.insert(|| loc);
        Ok(())
    }

    fn load_ndjson(
        &mut self,
        path: &Path,
        reader: impl Read,
        what: &str,
    ) -> Result<(), BundleError> {
        let mut r = BufReader::with_capacity(256 * 1024, reader);
        let max = self.limits.max_record_bytes;
        let mut line_no = 0usize;
        loop {
            self.buf.clear();
            line_no += 1;
            let n = read_line_capped(&mut r, &mut self.buf, max).map_err(|e| {
                if e.kind() == io::ErrorKind::InvalidData && e.to_string() == LINE_TOO_LONG {
                    BundleError::RecordTooLarge {
                        path: path.to_owned(),
                        what: format!("line {line_no}"),
                        limit: max,
                    }
                } else {
                    BundleError::Corrupt {
                        path: path.to_owned(),
                        what: what.to_owned(),
                        source: e,
                    }
                }
            })?;
            if n == 0 {
                return Ok(());
            }
            self.count_bytes(path, n as u64)?;
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.insert(|| format!("{}:{line_no}", path.display()));
        }
    }
}

const LINE_TOO_LONG: &str = "line too long";

/// Reads one line (with its newline) into `buf`, failing once it passes `max` bytes instead
/// of growing without bound. Returns the number of bytes consumed; 0 at the end.
pub(crate) fn read_line_capped(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: u64,
) -> io::Result<usize> {
    let mut total = 0usize;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(total);
        }
        let (take, done) = match memchr_newline(chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if (buf.len() + take) as u64 > max + 1 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, LINE_TOO_LONG));
        }
        buf.extend_from_slice(&chunk[..take]);
        r.consume(take);
        total += take;
        if done {
            return Ok(total);
        }
    }
}

fn memchr_newline(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::io::Write;

    use sentari_core::ecosystem::Ecosystem;

    use super::*;

    fn record(id: &str, version: &str) -> String {
        serde_json::json!({"id": id, "modified": "2024-01-01T00:00:00Z", "affected": [
            {"package": {"ecosystem": "PyPI", "name": "pkg"}, "versions": [version]}]})
        .to_string()
    }

    fn hits(idx: &OsvIndex, v: &str) -> usize {
        idx.query(&Ecosystem::PyPI, "pkg", v).unwrap().matches.len()
    }

    fn write_zip(path: &Path, files: &[(&str, &[u8])]) {
        let mut z = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, data) in files {
            z.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap();
    }

    #[test]
    fn ndjson_plain_gzip_zstd() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{}\n\n{}\nnot json\n",
            record("A", "1.0"),
            record("B", "2.0")
        );
        let plain = dir.path().join("a.ndjson");
        std::fs::write(&plain, &text).unwrap();
        let gz = dir.path().join("b.ndjson.gz");
        let mut e = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap();
        let zst = dir.path().join("c.ndjson.zst");
        std::fs::write(&zst, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
        for p in [&plain, &gz, &zst] {
            let mut idx = OsvIndex::new();
            let rep = load_osv_bundle(p, &mut idx, &BundleLimits::default()).unwrap();
            assert_eq!(rep.records, 3, "{p:?}");
            assert_eq!(rep.error_count, 1);
            assert!(rep.errors[0].0.ends_with(":4"), "{:?}", rep.errors);
            assert_eq!(hits(&idx, "1.0") + hits(&idx, "2.0"), 2);
        }
    }

    #[test]
    fn zip_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let eco = dir.path().join("PyPI");
        std::fs::create_dir(&eco).unwrap();
        write_zip(
            &eco.join("all.zip"),
            &[
                ("A.json", record("A", "1.0").as_bytes()),
                ("B.json", b"{broken"),
                ("README.txt", b"ignored"),
            ],
        );
        let mut idx = OsvIndex::new();
        let rep = load_osv_bundle(dir.path(), &mut idx, &BundleLimits::default()).unwrap();
        assert_eq!((rep.files, rep.records, rep.error_count), (1, 2, 1));
        assert_eq!(hits(&idx, "1.0"), 1);

        let jdir = tempfile::tempdir().unwrap();
        std::fs::create_dir(jdir.path().join("sub")).unwrap();
        std::fs::write(jdir.path().join("sub/C.json"), record("C", "3.0")).unwrap();
        std::fs::write(jdir.path().join("D.json"), record("D", "3.0")).unwrap();
        let mut idx = OsvIndex::new();
        load_osv_bundle(jdir.path(), &mut idx, &BundleLimits::default()).unwrap();
        assert_eq!(hits(&idx, "3.0"), 2);

        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            load_osv_bundle(empty.path(), &mut idx, &BundleLimits::default()),
            Err(BundleError::Empty(_))
        ));
    }

    #[test]
    fn caps_stop_bombs() {
        let dir = tempfile::tempdir().unwrap();
        let zeros = vec![b' '; 5_000_000];
        let z = dir.path().join("bomb.zip");
        write_zip(&z, &[("big.json", &zeros)]);
        assert!(std::fs::metadata(&z).unwrap().len() < 100_000);
        let limits = BundleLimits {
            max_record_bytes: 1_000_000,
            ..BundleLimits::default()
        };
        let mut idx = OsvIndex::new();
        assert!(matches!(
            load_osv_bundle(&z, &mut idx, &limits),
            Err(BundleError::RecordTooLarge { .. })
        ));
        let many: Vec<(String, Vec<u8>)> = (0..20)
            .map(|i| {
                (
                    format!("{i}.json"),
                    record(&i.to_string(), "1").into_bytes(),
                )
            })
            .collect();
        let refs: Vec<(&str, &[u8])> = many
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        write_zip(&z, &refs);
        let few = BundleLimits {
            max_entries: 10,
            ..BundleLimits::default()
        };
        assert!(matches!(
            load_osv_bundle(&z, &mut idx, &few),
            Err(BundleError::TooManyEntries { .. })
        ));
        let small_total = BundleLimits {
            max_total_bytes: 500,
            ..BundleLimits::default()
        };
        assert!(matches!(
            load_osv_bundle(&z, &mut idx, &small_total),
            Err(BundleError::TotalTooLarge { .. })
        ));
        let gz = dir.path().join("bomb.gz");
        let mut e = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
        e.write_all(&zeros).unwrap();
        e.finish().unwrap();
        assert!(matches!(
            load_osv_bundle(&gz, &mut idx, &limits),
            Err(BundleError::RecordTooLarge { .. })
        ));
    }

    #[test]
    fn corrupt_and_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let z = dir.path().join("t.zip");
        write_zip(&z, &[("A.json", record("A", "1.0").as_bytes())]);
        let bytes = std::fs::read(&z).unwrap();
        std::fs::write(&z, &bytes[..bytes.len() / 2]).unwrap();
        let mut idx = OsvIndex::new();
        let e = load_osv_bundle(&z, &mut idx, &BundleLimits::default()).unwrap_err();
        assert!(matches!(e, BundleError::Zip { .. }), "{e}");
        assert!(e.to_string().contains("t.zip"));

        let gz = dir.path().join("t.ndjson.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        enc.write_all(record("A", "1.0").repeat(100).as_bytes())
            .unwrap();
        let full = enc.finish().unwrap();
        std::fs::write(&gz, &full[..full.len() - 10]).unwrap();
        let e = load_osv_bundle(&gz, &mut idx, &BundleLimits::default()).unwrap_err();
        assert!(matches!(e, BundleError::Corrupt { .. }), "{e}");

        let missing = dir.path().join("nope.zip");
        assert!(matches!(
            load_osv_bundle(&missing, &mut idx, &BundleLimits::default()),
            Err(BundleError::Io { .. })
        ));
    }
}
