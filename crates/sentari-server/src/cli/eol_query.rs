//! `sentari eol query --bundle PATH [--date YYYY-MM-DD]`: EOL status of installed runtimes.
//!
//! Reads JSON lines `{"product", "version"}` on stdin and writes each back with the matching
//! cycle, its dates and the status (`eol_past`, `eol_soon`, `supported`, `unknown`) on the
//! given date (default: today, UTC).

use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sentari_core::eol::{EolDb, EolError, EolStatus, format_date, parse_iso_date};
use serde_json::{Map, Value};
use time::Date;

use crate::feeds::eol_bundle::{EolBundleError, load_eol_bundle};

/// `sentari eol …`.
#[derive(Debug, Clone, Subcommand)]
pub enum EolCommand {
    /// Report the EOL status of JSON lines {"product","version"} from stdin.
    Query(EolQueryArgs),
}

/// Arguments of `sentari eol query`.
#[derive(Debug, Clone, Args)]
pub struct EolQueryArgs {
    /// EOL data: the NDJSON bundle, a <product>.json file, or a directory of them. Repeat
    /// for several.
    #[arg(long = "bundle", required = true, value_name = "PATH")]
    pub bundles: Vec<PathBuf>,
    /// Judge status on this date (YYYY-MM-DD) instead of today (UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
}

/// Why `eol query` could not run.
#[derive(Debug, thiserror::Error)]
pub enum EolQueryError {
    /// The data could not be read.
    #[error(transparent)]
    Bundle(#[from] EolBundleError),
    /// `--date` is not a date.
    #[error("--date: {0}")]
    Date(#[from] EolError),
    /// Reading stdin or writing stdout failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// Runs an `eol` subcommand.
pub fn run_command(cmd: EolCommand) -> Result<ExitCode, EolQueryError> {
    match cmd {
        EolCommand::Query(args) => run(args),
    }
}

/// Runs `sentari eol query`.
pub fn run(args: EolQueryArgs) -> Result<ExitCode, EolQueryError> {
    let today = match &args.date {
        Some(d) => parse_iso_date(d)?,
        None => time::OffsetDateTime::now_utc().date(),
    };
    let mut db = EolDb::new();
    for path in &args.bundles {
        let report = load_eol_bundle(path, &mut db)?;
        for e in report.errors.iter().take(20) {
            eprintln!("skipped {e}");
        }
    }
    let stdin = io::stdin();
    let mut input = io::BufReader::new(stdin.lock());
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    answer_lines(&db, today, &mut input, &mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Answers every JSON line of `input` on `out`.
pub fn answer_lines(
    db: &EolDb,
    today: Date,
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
            _ => {
                let mut m = Map::new();
                m.insert("status".into(), "invalid_input".into());
                serde_json::to_writer(&mut *out, &m)?;
                out.write_all(b"\n")?;
                continue;
            }
        };
        let product = obj
            .get("product")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let version = obj
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let status = match db.find(product, version) {
            Some(c) => {
                obj.insert("cycle".into(), c.cycle.clone().into());
                obj.insert(
                    "release_date".into(),
                    c.release_date.clone().map_or(Value::Null, Value::from),
                );
                obj.insert(
                    "eol".into(),
                    serde_json::to_value(c.eol).unwrap_or(Value::Null),
                );
                obj.insert(
                    "support".into(),
                    serde_json::to_value(c.support).unwrap_or(Value::Null),
                );
                obj.insert(
                    "latest".into(),
                    c.latest.clone().map_or(Value::Null, Value::from),
                );
                obj.insert("lts".into(), c.lts.into());
                c.status(today)
            }
            None => {
                obj.insert("cycle".into(), Value::Null);
                EolStatus::Unknown
            }
        };
        obj.insert(
            "status".into(),
            serde_json::to_value(status).unwrap_or(Value::Null),
        );
        obj.insert("date".into(), format_date(today).into());
        serde_json::to_writer(&mut *out, &obj)?;
        out.write_all(b"\n")?;
    }
}
