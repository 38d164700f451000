//! `sentari osv query --bundle PATH…`: match an inventory against offline OSV bundles.
//!
//! Reads JSON lines `{"ecosystem", "name", "version"}` on stdin and writes each back with
//! `"vulns"` (every matching advisory and why it matched) or a `"status"` saying why it could
//! not be judged (`unsupported_ecosystem`, `unparsable_version`, `invalid_input`). Loading
//! statistics and skipped records go to stderr, so stdout stays pure JSON lines.

use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand};
use sentari_core::ecosystem::Ecosystem;
use sentari_core::osv::{OsvIndex, QueryError};
use serde_json::{Map, Value};

use crate::feeds::osv_bundle::{BundleError, BundleLimits, load_osv_bundle};

/// `sentari osv …`.
#[derive(Debug, Clone, Subcommand)]
pub enum OsvCommand {
    /// Match JSON lines {"ecosystem","name","version"} from stdin against OSV bundles.
    Query(OsvQueryArgs),
}

/// Arguments of `sentari osv query`.
#[derive(Debug, Clone, Args)]
pub struct OsvQueryArgs {
    /// An OSV bundle: all.zip, a directory (of <Ecosystem>/all.zip or .json files), a .json
    /// record, or NDJSON (plain, .gz, .zst). Repeat for several.
    #[arg(long = "bundle", required = true, value_name = "PATH")]
    pub bundles: Vec<PathBuf>,
    /// Print no load summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Why `osv query` could not run.
#[derive(Debug, thiserror::Error)]
pub enum OsvQueryError {
    /// A bundle could not be read.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// Reading stdin or writing stdout failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// Runs an `osv` subcommand.
pub fn run_command(cmd: OsvCommand) -> Result<ExitCode, OsvQueryError> {
    match cmd {
        OsvCommand::Query(args) => run(args),
    }
}

/// Loads every bundle into one index, reporting on stderr unless quiet.
pub fn load_index(bundles: &[PathBuf], quiet: bool) -> Result<OsvIndex, BundleError> {
    let mut index = OsvIndex::new();
    let limits = BundleLimits::default();
    for path in bundles {
        let started = Instant::now();
        let report = load_osv_bundle(path, &mut index, &limits)?;
        if !quiet {
            eprintln!(
                "loaded {}: {} records from {} file(s), {} unusable, in {} ms",
                path.display(),
                report.records,
                report.files,
                report.error_count,
                started.elapsed().as_millis()
            );
            for (location, e) in report.errors.iter().take(20) {
                eprintln!("  skipped {location}: {e}");
            }
        }
    }
    if !quiet {
        let s = index.stats();
        eprintln!(
            "index: {} advisories, {} package entries, {} withdrawn, {} GIT ranges skipped, {} unsupported entries, {} bad ranges",
            s.advisories,
            s.entries,
            s.withdrawn,
            s.git_ranges_skipped,
            s.unsupported_entries,
            s.bad_ranges
        );
    }
    Ok(index)
}

/// Runs `sentari osv query`.
pub fn run(args: OsvQueryArgs) -> Result<ExitCode, OsvQueryError> {
    let index = load_index(&args.bundles, args.quiet)?;
    let stdin = io::stdin();
    let mut input = io::BufReader::with_capacity(1 << 16, stdin.lock());
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    answer_lines(&index, &mut input, &mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

/// Answers every JSON line of `input` on `out`.
pub fn answer_lines(
    index: &OsvIndex,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line.trim().is_empty() {
            continue;
        }
        let mut obj = match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(m)) => m,
            Ok(_) | Err(_) => {
                let mut m = Map::new();
                m.insert("status".into(), "invalid_input".into());
                m.insert("error".into(), "expected a JSON object per line".into());
                serde_json::to_writer(&mut *out, &m)?;
                out.write_all(b"\n")?;
                continue;
            }
        };
        let (Some(eco), Some(name), Some(version)) = (
            field(&obj, "ecosystem"),
            field(&obj, "name"),
            field(&obj, "version"),
        ) else {
            obj.insert("status".into(), "invalid_input".into());
            obj.insert(
                "error".into(),
                "ecosystem, name and version must be strings".into(),
            );
            serde_json::to_writer(&mut *out, &obj)?;
            out.write_all(b"\n")?;
            continue;
        };
        match index.query(&Ecosystem::parse(eco), name, version) {
            Ok(outcome) => {
                let vulns = serde_json::to_value(&outcome.matches).unwrap_or(Value::Null);
                obj.insert("vulns".into(), vulns);
                if !outcome.indeterminate.is_empty() {
                    let ind = serde_json::to_value(&outcome.indeterminate).unwrap_or(Value::Null);
                    obj.insert("indeterminate".into(), ind);
                }
            }
            Err(QueryError::UnsupportedEcosystem(_)) => {
                obj.insert("status".into(), "unsupported_ecosystem".into());
            }
            Err(QueryError::UnparsableVersion(e)) => {
                obj.insert("status".into(), "unparsable_version".into());
                obj.insert("error".into(), e.to_string().into());
            }
        }
        serde_json::to_writer(&mut *out, &obj)?;
        out.write_all(b"\n")?;
    }
}
