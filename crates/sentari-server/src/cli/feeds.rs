//! `sentari feeds import|sync|status`: the vulnerability and end-of-life feeds from the shell.
//!
//! `import --osv PATH` reads an offline OSV bundle (air-gapped deployments, seed §9) straight
//! into the database with progress on stderr and a summary at the end; `--eol PATH` does the
//! same for an endoflife.date bundle. `sync` runs the same jobs the scheduler runs (network or
//! configured bundle), in this process. `status` prints what each source holds and how old it is.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::{connect, format_age};
use crate::config::Config;
use crate::feeds::osv_import::import_bundle;
use crate::feeds::sync::{FeedSettings, eol_sync, import_eol_bundle, osv_sync};

/// `sentari feeds …`.
#[derive(Debug, Subcommand)]
pub enum FeedsCommand {
    /// Import an offline bundle: OSV (all.zip, a directory, NDJSON[.gz|.zst]) and/or EOL.
    Import(ImportArgs),
    /// Run the OSV and EOL syncs now (network, or the configured offline bundles).
    Sync(SyncArgs),
    /// Show each feed source: last success, last error, records, age.
    Status,
}

/// Options of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An OSV bundle to import.
    #[arg(long, value_name = "PATH")]
    pub osv: Option<PathBuf>,
    /// An endoflife.date bundle (NDJSON) or a directory of `<product>.json` to import.
    #[arg(long, value_name = "PATH")]
    pub eol: Option<PathBuf>,
}

/// Options of `sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only the OSV feed.
    #[arg(long, conflicts_with = "eol_only")]
    pub osv_only: bool,
    /// Only the EOL feed.
    #[arg(long)]
    pub eol_only: bool,
}

/// Runs a `feeds` subcommand.
pub async fn run(config: &Config, cmd: FeedsCommand) -> ExitCode {
    let Some(store) = connect(config).await else {
        return ExitCode::from(1);
    };
    if let Err(e) = store.migrate().await {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    let settings = FeedSettings::from_config(config);
    match cmd {
        FeedsCommand::Import(a) => {
            if a.osv.is_none() && a.eol.is_none() {
                eprintln!("error: give --osv PATH and/or --eol PATH");
                return ExitCode::from(2);
            }
            let mut ok = true;
            if let Some(path) = a.osv {
                ok &= import_osv(&store, &path).await;
            }
            if let Some(path) = a.eol {
                let started = Instant::now();
                store.feed_attempt("eol").await.ok();
                match import_eol_bundle(&store, &path).await {
                    Ok(n) => {
                        let detail = serde_json::json!({"path": path.display().to_string()});
                        store.feed_success("eol", n as i64, &detail).await.ok();
                        println!(
                            "EOL import of {}: {n} cycles stored, runtime status refreshed in {} ms",
                            path.display(),
                            started.elapsed().as_millis()
                        );
                    }
                    Err(e) => {
                        store.feed_failure("eol", &e.to_string()).await.ok();
                        eprintln!("error: EOL import of {} failed: {e}", path.display());
                        ok = false;
                    }
                }
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        FeedsCommand::Sync(a) => {
            let mut ok = true;
            if !a.eol_only {
                match osv_sync(&store, &settings).await {
                    Ok(s) => println!(
                        "CVE feed sync completed: {} packages correlated ({} added, {} updated, {} withdrawn, {} unchanged, {} rejected)",
                        s.versions_evaluated,
                        s.added,
                        s.updated,
                        s.withdrawn,
                        s.unchanged,
                        s.rejected
                    ),
                    Err(e) => {
                        eprintln!("error: OSV sync failed: {e}");
                        ok = false;
                    }
                }
            }
            if !a.osv_only {
                match eol_sync(&store, &settings).await {
                    Ok(n) => println!("EOL feed sync completed: {n} cycles"),
                    Err(e) => {
                        eprintln!("error: EOL sync failed: {e}");
                        ok = false;
                    }
                }
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        FeedsCommand::Status => status(&store).await,
    }
}

async fn import_osv(store: &sentari_store::Store, path: &std::path::Path) -> bool {
    let source = "osv:bundle";
    store.feed_attempt(source).await.ok();
    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    // Progress goes to stderr: a line rewritten in place on a terminal, none when redirected
    // (the summary on stdout is what scripts read).
    let progress: Option<Box<dyn FnMut(u64) + Send>> = if tty {
        Some(Box::new(move |n| {
            let secs = started.elapsed().as_secs_f64().max(0.001);
            eprint!("\rreading {n} records ({:.0} records/s)…", n as f64 / secs);
            let _ = std::io::stderr().flush();
        }))
    } else {
        None
    };
    eprintln!("importing OSV bundle {}", path.display());
    match import_bundle(store, path, source, progress).await {
        Ok(s) => {
            if tty {
                eprintln!();
            }
            let (count, _) = store.advisory_counts().await.unwrap_or((0, 0));
            let detail = serde_json::json!({"path": path.display().to_string(), "last_run": s});
            store.feed_success(source, count, &detail).await.ok();
            println!(
                "OSV import of {}: {} records read: {} added, {} updated, {} withdrawn, {} unchanged, {} rejected",
                path.display(),
                s.records,
                s.added,
                s.updated,
                s.withdrawn,
                s.unchanged,
                s.rejected
            );
            println!(
                "correlation: {} keys changed, {} package versions evaluated, {} new findings, {} resolved; {} ms in all",
                s.keys_changed, s.versions_evaluated, s.findings_new, s.findings_resolved, s.ms
            );
            true
        }
        Err(e) => {
            if tty {
                eprintln!();
            }
            store
                .feed_failure(source, &format!("{}: {e}", path.display()))
                .await
                .ok();
            eprintln!(
                "error: OSV import of {} failed: {e}\nnothing was changed: the advisories stored before are intact",
                path.display()
            );
            false
        }
    }
}

async fn status(store: &sentari_store::Store) -> ExitCode {
    let statuses = match store.feed_statuses().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let (advisories, withdrawn) = store.advisory_counts().await.unwrap_or((0, 0));
    println!("advisories: {advisories} ({withdrawn} withdrawn)");
    if statuses.is_empty() {
        println!(
            "no feed has run yet: `sentari feeds sync`, or `sentari feeds import --osv PATH` offline"
        );
        return ExitCode::SUCCESS;
    }
    println!(
        "{:<22} {:<10} {:>9} {:<14} LAST ERROR",
        "SOURCE", "STATE", "RECORDS", "AGE"
    );
    let now = OffsetDateTime::now_utc();
    for s in statuses {
        let age = s
            .last_success
            .map(|t| format_age((now - t).unsigned_abs()))
            .unwrap_or_else(|| "never".into());
        let stale = s
            .last_success
            .is_none_or(|t| (now - t).whole_seconds() > 3 * 24 * 3600);
        let state = if s.last_success.is_none() {
            "FAILED"
        } else if stale {
            "STALE"
        } else {
            "OK"
        };
        println!(
            "{:<22} {:<10} {:>9} {:<14} {}",
            s.source,
            state,
            s.record_count,
            age,
            s.last_error.as_deref().unwrap_or("")
        );
    }
    ExitCode::SUCCESS
}
