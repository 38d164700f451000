//! `sentari backup` and `sentari restore` for both backends.
//!
//! Restore replaces the whole database, so it refuses to run while workers are active (they
//! would write into a database that is being swapped under them) unless `--force` is given.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use time::OffsetDateTime;

use super::connect;
use crate::config::Config;

/// Arguments of `sentari backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The file to write (default: `<backup dir>/sentari-<timestamp>.backup`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Arguments of `sentari restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file to restore.
    pub file: PathBuf,
    /// Restore even while workers are running.
    #[arg(long)]
    pub force: bool,
}

/// Writes a backup and prints where.
pub async fn backup(config: &Config, a: BackupArgs) -> ExitCode {
    let out = match a.out {
        Some(p) => p,
        None => {
            let dir = config.paths().backup_dir;
            if let Err(e) = std::fs::create_dir_all(&dir) {
                eprintln!(
                    "error: cannot create backup directory {}: {e}",
                    dir.display()
                );
                return ExitCode::from(1);
            }
            let ts = OffsetDateTime::now_utc().unix_timestamp();
            dir.join(format!("sentari-{ts}.backup"))
        }
    };
    if out.exists() {
        eprintln!(
            "error: {} already exists; choose another file",
            out.display()
        );
        return ExitCode::from(1);
    }
    let Some(store) = connect(config).await else {
        return ExitCode::from(1);
    };
    let r = store.backup(&out).await;
    store.close().await;
    match r {
        Ok(report) => {
            println!("backup written to {} ({report:?})", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: backup failed: {e}");
            ExitCode::from(1)
        }
    }
}

/// Restores a backup after the safety check.
pub async fn restore(config: &Config, a: RestoreArgs) -> ExitCode {
    if !a.file.is_file() {
        eprintln!("error: {} is not a readable file", a.file.display());
        return ExitCode::from(1);
    }
    let url = config.paths().database_url;
    if !a.force
        && let Some(store) = connect(config).await
    {
        let since = OffsetDateTime::now_utc() - Duration::from_secs(60);
        let active = store.active_workers(since).await;
        store.close().await;
        match active {
            Ok(0) => {}
            Ok(n) => {
                eprintln!(
                    "error: {n} worker process(es) were active in the last minute; stop them first or pass --force"
                );
                return ExitCode::from(1);
            }
            // A database without the processes table yet has no workers to worry about.
            Err(_) => {}
        }
    }
    match sentari_store::Store::restore(&url, &a.file).await {
        Ok(report) => {
            println!("restored {} ({report:?})", a.file.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: restore failed: {e}");
            ExitCode::from(1)
        }
    }
}
