//! `sentari osv query --bundle PATH…`: match an inventory against offline OSV bundles.
//!
//! Reads JSON lines `{"ecosystem", "name", "version"}` on stdin and writes each back with
//! `"vulns"` (every matching advisory and why it matched) or a `"status"` saying why it could
//! not be judged (`unsupported_ecosystem`, `unparsable_version`, `invalid_input`). Loading
//! statistics and skipped records go to stderr, so stdout stays pure JSON lines.

use std::borrow::Cow;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand};
use sentari_core::ecosystem::Ecosystem;
use sentari_core::osv::{OsvIndex, QueryError};
use serde::Deserialize;
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
    // The process ends here; freeing a large index piece by piece would only delay the exit.
    std::mem::forget(index);
    Ok(ExitCode::SUCCESS)
}

fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

/// The three fields a query needs, read without building the whole object. Strings without
/// escapes are borrowed from the line.
#[derive(Deserialize)]
struct QueryLine<'a> {
    #[serde(borrow)]
    ecosystem: Cow<'a, str>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    version: Cow<'a, str>,
}

/// The keys this command adds to a line; an input that already has one of them takes the
/// general path, which replaces the value instead of writing the key twice.
const ADDED_KEYS: [&str; 4] = ["\"vulns\"", "\"status\"", "\"error\"", "\"indeterminate\""];

/// Lines read per batch. Each batch is split between the worker threads and the answers are
/// written in input order, so the output is the same whatever the number of threads.
const BATCH_LINES: usize = 4096;

/// Answers every JSON line of `input` on `out`, on every core the machine offers.
///
/// The common line (an object with string `ecosystem`, `name` and `version`) is answered by
/// echoing its text up to the closing brace and appending the result, each match written
/// straight from the index; anything unusual goes through a `serde_json::Value`. Both give
/// the same JSON object, only the key order differs.
pub fn answer_lines(
    index: &OsvIndex,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> io::Result<()> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(16);
    answer_lines_with(index, input, out, threads)
}

/// [`answer_lines`] with a given number of threads.
pub fn answer_lines_with(
    index: &OsvIndex,
    input: &mut impl BufRead,
    out: &mut impl Write,
    threads: usize,
) -> io::Result<()> {
    // The line buffers are reused from batch to batch; `filled` says how many hold a line.
    let mut lines: Vec<String> = Vec::new();
    loop {
        let mut filled = 0;
        let mut eof = false;
        while filled < BATCH_LINES {
            if filled == lines.len() {
                lines.push(String::new());
            }
            let line = &mut lines[filled];
            line.clear();
            if input.read_line(line)? == 0 {
                eof = true;
                break;
            }
            if !line.trim().is_empty() {
                filled += 1;
            }
        }
        let batch = &lines[..filled];
        if threads <= 1 || batch.len() < 256 {
            let mut buf = Vec::new();
            answer_batch(index, batch, &mut buf)?;
            out.write_all(&buf)?;
        } else {
            let per_thread = batch.len().div_ceil(threads);
            let answers: Vec<io::Result<Vec<u8>>> = std::thread::scope(|scope| {
                let workers: Vec<_> = batch
                    .chunks(per_thread)
                    .map(|chunk| {
                        scope.spawn(move || {
                            let mut buf = Vec::new();
                            answer_batch(index, chunk, &mut buf).map(|()| buf)
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| {
                        w.join()
                            .unwrap_or_else(|_| Err(io::Error::other("a query thread panicked")))
                    })
                    .collect()
            });
            for answer in answers {
                out.write_all(&answer?)?;
            }
        }
        if eof {
            return Ok(());
        }
    }
}

/// Answers a run of non-empty lines into `buf`, one output line each.
fn answer_batch(index: &OsvIndex, lines: &[String], buf: &mut Vec<u8>) -> io::Result<()> {
    let mut one = Vec::with_capacity(1 << 12);
    for line in lines {
        let text = line.trim();
        one.clear();
        if !answer_fast(index, text, &mut one)? {
            one.clear();
            answer_general(index, text, &mut one)?;
        }
        buf.extend_from_slice(&one);
        buf.push(b'\n');
    }
    Ok(())
}

/// The fast path; false when the line needs the general one.
fn answer_fast(index: &OsvIndex, text: &str, buf: &mut Vec<u8>) -> io::Result<bool> {
    let Some(body) = text.strip_suffix('}') else {
        return Ok(false);
    };
    if !text.starts_with('{') || ADDED_KEYS.iter().any(|k| text.contains(k)) {
        return Ok(false);
    }
    let Ok(q) = serde_json::from_str::<QueryLine<'_>>(text) else {
        return Ok(false);
    };
    buf.extend_from_slice(body.trim_end().as_bytes());
    match index.query_refs(&Ecosystem::parse(&q.ecosystem), &q.name, &q.version) {
        Ok(refs) => {
            buf.extend_from_slice(b",\"vulns\":[");
            for (i, m) in refs.matches.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                m.write_json(buf);
            }
            buf.push(b']');
            if !refs.indeterminate.is_empty() {
                buf.extend_from_slice(b",\"indeterminate\":");
                serde_json::to_writer(&mut *buf, &refs.indeterminate)?;
            }
        }
        Err(QueryError::UnsupportedEcosystem(_)) => {
            buf.extend_from_slice(b",\"status\":\"unsupported_ecosystem\"");
        }
        Err(QueryError::UnparsableVersion(e)) => {
            buf.extend_from_slice(b",\"status\":\"unparsable_version\",\"error\":");
            serde_json::to_writer(&mut *buf, &e.to_string())?;
        }
    }
    buf.push(b'}');
    Ok(true)
}

/// The general path: any line, including ones that are not objects or lack a field.
fn answer_general(index: &OsvIndex, text: &str, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut obj = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => m,
        Ok(_) | Err(_) => {
            let mut m = Map::new();
            m.insert("status".into(), "invalid_input".into());
            m.insert("error".into(), "expected a JSON object per line".into());
            serde_json::to_writer(&mut *buf, &m)?;
            return Ok(());
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
        serde_json::to_writer(&mut *buf, &obj)?;
        return Ok(());
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
    serde_json::to_writer(&mut *buf, &obj)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn index() -> OsvIndex {
        let mut idx = OsvIndex::new();
        let rec = serde_json::json!({
            "id": "PYSEC-0000-1", "modified": "2024-01-01T00:00:00Z",
            "aliases": ["CVE-0000-1"], "summary": "a \"quoted\" summary",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{"package": {"ecosystem": "PyPI", "name": "Demo_Pkg"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
                "versions": ["9.9"]}]
        });
        idx.insert_json(rec.to_string().as_bytes()).unwrap();
        idx
    }

    fn answer(idx: &OsvIndex, input: &str) -> Vec<Value> {
        let mut out = Vec::new();
        answer_lines(idx, &mut input.as_bytes(), &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Both paths must give the same object for the same query; only key order may differ.
    #[test]
    fn fast_and_general_paths_agree() {
        let idx = index();
        let lines = [
            r#"{"ecosystem":"PyPI","name":"demo-pkg","version":"1.5","tag":7}"#,
            r#"{"ecosystem":"PyPI","name":"demo.pkg","version":"9.9"}"#,
            r#"{"ecosystem":"PyPI","name":"demo-pkg","version":"2.0"}"#,
            r#"{"ecosystem":"PyPI","name":"demo-pkg","version":"not a version!"}"#,
            r#"{"ecosystem":"Nope","name":"x","version":"1"}"#,
            r#" { "ecosystem" : "PyPI" , "name" : "demo\u002dpkg" , "version" : "1.0" } "#,
        ];
        for l in lines {
            let mut fast = Vec::new();
            assert!(answer_fast(&idx, l.trim(), &mut fast).unwrap(), "{l}");
            let mut general = Vec::new();
            answer_general(&idx, l.trim(), &mut general).unwrap();
            let a: Value = serde_json::from_slice(&fast).unwrap();
            let b: Value = serde_json::from_slice(&general).unwrap();
            assert_eq!(a, b, "{l}");
        }
        let got = answer(&idx, &lines.join("\n"));
        assert_eq!(got[0]["tag"], 7);
        assert_eq!(got[0]["vulns"][0]["id"], "PYSEC-0000-1");
        assert_eq!(got[0]["vulns"][0]["summary"], "a \"quoted\" summary");
        assert_eq!(got[0]["vulns"][0]["matched"]["fixed"], "2.0");
        assert_eq!(got[0]["vulns"][0]["severity"]["score"], 9.8);
        assert_eq!(got[1]["vulns"][0]["matched"]["via"], "versions");
        assert_eq!(got[2]["vulns"].as_array().unwrap().len(), 0);
        assert_eq!(got[3]["status"], "unparsable_version");
        assert_eq!(got[4]["status"], "unsupported_ecosystem");
        assert_eq!(got[5]["vulns"][0]["id"], "PYSEC-0000-1");
    }

    /// The answers come out in input order and identical whatever the number of threads.
    #[test]
    fn threads_do_not_change_the_output() {
        let idx = index();
        let mut input = String::new();
        for i in 0..5000 {
            let v = ["1.5", "9.9", "2.0", "bad version!", "0.1"][i % 5];
            input.push_str(&format!(
                "{{\"ecosystem\":\"PyPI\",\"name\":\"demo-pkg\",\"version\":\"{v}\",\"n\":{i}}}\n\n"
            ));
        }
        let run = |threads| {
            let mut out = Vec::new();
            answer_lines_with(&idx, &mut input.as_bytes(), &mut out, threads).unwrap();
            out
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(7));
        let text = String::from_utf8(one).unwrap();
        assert_eq!(text.lines().count(), 5000);
        for (i, l) in text.lines().enumerate() {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["n"], i);
        }
    }

    #[test]
    fn unusual_lines_take_the_general_path() {
        let idx = index();
        let got = answer(
            &idx,
            "[1]\n{\"ecosystem\":\"PyPI\",\"name\":5,\"version\":\"1\"}\n{\"ecosystem\":\"PyPI\",\"name\":\"demo-pkg\",\"version\":\"1\",\"vulns\":\"old\"}\n",
        );
        assert_eq!(got[0]["status"], "invalid_input");
        assert_eq!(got[1]["status"], "invalid_input");
        assert_eq!(got[1]["name"], 5);
        assert_eq!(got[2]["vulns"][0]["id"], "PYSEC-0000-1");
    }
}
