//! Reading offline endoflife.date data into an [`EolDb`].
//!
//! Accepted: the NDJSON bundle (`{product, cycle, …}` a line; plain, gzip or zstd), one
//! product's API JSON named `<product>.json`, or a directory of either. Reads are capped like
//! the OSV bundle's; the data is small, so the caps are too.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sentari_core::eol::{EolDb, EolError, parse_bundle_line, parse_product_json};

use super::osv_bundle::read_line_capped;

/// The most bytes one EOL file may decompress to.
pub const MAX_EOL_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Why EOL data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EolBundleError {
    /// The path could not be read, or its compressed data is corrupt.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file is larger than [`MAX_EOL_FILE_BYTES`].
    #[error("{0}: larger than {MAX_EOL_FILE_BYTES} bytes")]
    TooLarge(PathBuf),
    /// A product JSON file does not parse.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        source: EolError,
    },
    /// Nothing usable was found.
    #[error("{0}: no EOL data found (expected bundle.ndjson or <product>.json)")]
    Empty(PathBuf),
}

/// What a load read and skipped.
#[derive(Debug, Default)]
pub struct EolLoadReport {
    /// Files read.
    pub files: usize,
    /// Cycles loaded.
    pub cycles: usize,
    /// Bundle lines that did not parse: `path:line: reason`.
    pub errors: Vec<String>,
}

/// Loads EOL data from `path` into `db`.
pub fn load_eol_bundle(path: &Path, db: &mut EolDb) -> Result<EolLoadReport, EolBundleError> {
    let mut report = EolLoadReport::default();
    load(path, db, &mut report, 0)?;
    if report.files == 0 {
        return Err(EolBundleError::Empty(path.to_owned()));
    }
    Ok(report)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EolBundleError + '_ {
    move |source| EolBundleError::Io {
        path: path.to_owned(),
        source,
    }
}

fn load(
    path: &Path,
    db: &mut EolDb,
    report: &mut EolLoadReport,
    depth: usize,
) -> Result<(), EolBundleError> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    if meta.is_dir() {
        if depth > 2 {
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io(path))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io(path))?;
        entries.sort();
        for p in entries {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if p.is_dir()
                || [".json", ".ndjson", ".jsonl", ".gz", ".zst"]
                    .iter()
                    .any(|e| name.ends_with(e))
            {
                load(&p, db, report, depth + 1)?;
            }
        }
        return Ok(());
    }
    report.files += 1;
    let mut head = [0u8; 4];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(io(path))?;
    let f = File::open(path).map_err(io(path))?;
    let reader: Box<dyn Read> = match &head[..n] {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(f)),
        [0x28, 0xb5, 0x2f, 0xfd] => {
            Box::new(zstd::stream::read::Decoder::new(f).map_err(io(path))?)
        }
        _ => Box::new(f),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if let Some(product) = name.strip_suffix(".json") {
        let mut buf = Vec::new();
        reader
            .take(MAX_EOL_FILE_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(io(path))?;
        if buf.len() as u64 > MAX_EOL_FILE_BYTES {
            return Err(EolBundleError::TooLarge(path.to_owned()));
        }
        let cycles =
            parse_product_json(product, &buf).map_err(|source| EolBundleError::Invalid {
                path: path.to_owned(),
                source,
            })?;
        report.cycles += cycles.len();
        cycles.into_iter().for_each(|c| db.insert(c));
        return Ok(());
    }
    let mut r = BufReader::new(reader.take(MAX_EOL_FILE_BYTES + 1));
    let mut buf = Vec::new();
    let mut line_no = 0;
    let mut total = 0u64;
    loop {
        buf.clear();
        line_no += 1;
        let n = read_line_capped(&mut r, &mut buf, 1024 * 1024).map_err(io(path))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > MAX_EOL_FILE_BYTES {
            return Err(EolBundleError::TooLarge(path.to_owned()));
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_bundle_line(&buf) {
            Ok(c) => {
                report.cycles += 1;
                db.insert(c);
            }
            Err(e) => report
                .errors
                .push(format!("{}:{line_no}: {e}", path.display())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/eol");

    #[test]
    fn shared_data_loads_both_ways() {
        let mut a = EolDb::new();
        let r = load_eol_bundle(&Path::new(DATA).join("bundle.ndjson"), &mut a).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(a.products(), 15);
        let mut b = EolDb::new();
        load_eol_bundle(Path::new(DATA), &mut b).unwrap();
        assert_eq!(a.cycles(), b.cycles());
        let mut c = EolDb::new();
        load_eol_bundle(&Path::new(DATA).join("python.json"), &mut c).unwrap();
        assert!(c.find("python", "3.12.1").is_some());
    }

    #[test]
    fn bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.ndjson");
        std::fs::write(&p, "{\"product\":\"a\",\"cycle\":\"1\"}\nnope\n").unwrap();
        let mut db = EolDb::new();
        let r = load_eol_bundle(&p, &mut db).unwrap();
        assert_eq!((r.cycles, r.errors.len()), (1, 1));
        let j = dir.path().join("python.json");
        std::fs::write(&j, "{}").unwrap();
        assert!(load_eol_bundle(&j, &mut db).is_err());
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            load_eol_bundle(empty.path(), &mut db),
            Err(EolBundleError::Empty(_))
        ));
    }
}
