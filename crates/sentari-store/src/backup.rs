//! Online backup and offline restore of the whole database.
//!
//! SQLite backups are `VACUUM INTO` copies: a consistent snapshot taken while the server keeps
//! running, compact, and itself a valid database. PostgreSQL backups are `pg_dump -Fc` archives
//! restored with `pg_restore --clean --if-exists` in one transaction. Both write to a temporary
//! file beside the target and rename it into place, so a failed backup never leaves a truncated
//! file under the final name.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::error::StoreError;
use crate::store::{BackendKind, Pool, Store, redact_url};

/// What `Store::backup` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub backend: BackendKind,
    /// The backup file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    pub duration: Duration,
}

/// What `Store::restore` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub backend: BackendKind,
    /// The backup file that was restored.
    pub source: PathBuf,
    /// Its size.
    pub bytes: u64,
    pub duration: Duration,
    /// SQLite only: where the database that was replaced was kept, if there was one.
    pub previous: Option<PathBuf>,
}

/// A sibling of `path` with a unique suffix, used as the temporary name before a rename.
fn temp_sibling(path: &Path, tag: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sentari".to_owned());
    path.with_file_name(format!(".{name}.{tag}-{}", uuid::Uuid::new_v4().simple()))
}

async fn file_size(path: &Path) -> Result<u64, StoreError> {
    Ok(tokio::fs::metadata(path)
        .await
        .map_err(|e| StoreError::io(path, e))?
        .len())
}

/// Flushes a file to disk so that a rename after it cannot expose an empty file after a crash.
async fn sync_file(path: &Path) -> Result<(), StoreError> {
    let f = tokio::fs::File::open(path)
        .await
        .map_err(|e| StoreError::io(path, e))?;
    f.sync_all().await.map_err(|e| StoreError::io(path, e))
}

async fn ensure_parent(path: &Path) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| StoreError::io(dir, e))?;
    }
    Ok(())
}

/// Finds an executable on `PATH`, the way a shell would.
fn find_tool(name: &str) -> Result<PathBuf, StoreError> {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| StoreError::ToolMissing(name.to_owned()))
}

/// Splits a PostgreSQL URL into the URL libpq gets on the command line (without the password,
/// which other local users could read from the process list) and the password, passed in the
/// environment instead.
fn libpq_target(url: &str) -> Result<(String, Option<String>), StoreError> {
    let mut u = url::Url::parse(url).map_err(|e| {
        StoreError::InvalidUrl(format!(
            "`{}` is not a valid PostgreSQL URL: {e}",
            redact_url(url)
        ))
    })?;
    let password = u.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    if password.is_some() {
        // Clearing the password of a URL that has one cannot fail.
        let _ = u.set_password(None);
    }
    Ok((u.to_string(), password))
}

/// Runs a PostgreSQL client tool and turns a failure into an error that quotes its stderr.
async fn run_pg_tool(
    tool: &str,
    args: &[String],
    password: Option<&str>,
) -> Result<(), StoreError> {
    let exe = find_tool(tool)?;
    let mut cmd = tokio::process::Command::new(&exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd.output().await.map_err(|e| StoreError::io(&exe, e))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stderr: String = stderr.trim().chars().take(2000).collect();
    Err(StoreError::Backup(format!(
        "`{tool}` failed ({}): {stderr}",
        out.status
    )))
}

impl Store {
    /// Writes a consistent backup of the whole database to `out` while the server keeps
    /// running. SQLite: a compact copy made with `VACUUM INTO`; PostgreSQL: a `pg_dump -Fc`
    /// archive (needs `pg_dump` on `PATH`, else [`StoreError::ToolMissing`]).
    pub async fn backup(&self, out: &Path) -> Result<BackupReport, StoreError> {
        let started = Instant::now();
        ensure_parent(out).await?;
        let tmp = temp_sibling(out, "backup-tmp");
        let result = match &self.inner.pool {
            Pool::Sqlite(pool) => {
                let target = tmp.to_str().ok_or_else(|| {
                    StoreError::Invalid(format!("backup path {} is not valid UTF-8", out.display()))
                })?;
                sqlx::query("VACUUM INTO $1")
                    .bind(target)
                    .execute(pool)
                    .await
                    .map(|_| ())
                    .map_err(StoreError::from)
            }
            Pool::Postgres(_) => {
                let (target, password) = libpq_target(&self.inner.url)?;
                let args = vec![
                    "--format=custom".to_owned(),
                    "--no-password".to_owned(),
                    format!("--file={}", tmp.display()),
                    format!("--dbname={target}"),
                ];
                run_pg_tool("pg_dump", &args, password.as_deref()).await
            }
        };
        let finished = async {
            result?;
            sync_file(&tmp).await?;
            tokio::fs::rename(&tmp, out)
                .await
                .map_err(|e| StoreError::io(out, e))
        }
        .await;
        if let Err(e) = finished {
            // The temporary file may not exist when the tool failed early; either way nothing
            // half-written should stay behind.
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        let report = BackupReport {
            backend: self.backend(),
            path: out.to_owned(),
            bytes: file_size(out).await?,
            duration: started.elapsed(),
        };
        tracing::info!(
            backend = %report.backend,
            path = %report.path.display(),
            bytes = report.bytes,
            elapsed_ms = report.duration.as_millis() as u64,
            "database backup written"
        );
        Ok(report)
    }

    /// Replaces the database named by `url` with the backup in `file`.
    ///
    /// Stop every server process first (the CLI checks `active_workers`). SQLite: the backup is
    /// validated (`PRAGMA integrity_check` and the migrations table), the current database is
    /// checkpointed and kept as `<db>.pre-restore-<time>`, and the backup is renamed into place
    /// atomically. PostgreSQL: `pg_restore --clean --if-exists` in a single transaction.
    pub async fn restore(url: &str, file: &Path) -> Result<RestoreReport, StoreError> {
        let started = Instant::now();
        let bytes = file_size(file).await?;
        let probe = Store::connect_lazy(url, &crate::StoreOptions::default())?;
        let backend = probe.backend();
        let previous = match backend {
            BackendKind::Sqlite => {
                let db = probe.inner.sqlite_path.clone().ok_or_else(|| {
                    StoreError::InvalidUrl(format!("`{url}` names no SQLite file"))
                })?;
                probe.close().await;
                restore_sqlite(&db, file).await?
            }
            BackendKind::Postgres => {
                probe.close().await;
                let (target, password) = libpq_target(url)?;
                // Listing the archive's table of contents first rejects a file that is not a
                // pg_dump archive before anything in the database is dropped.
                run_pg_tool(
                    "pg_restore",
                    &["--list".to_owned(), file.display().to_string()],
                    None,
                )
                .await?;
                let args = vec![
                    "--clean".to_owned(),
                    "--if-exists".to_owned(),
                    "--no-owner".to_owned(),
                    "--single-transaction".to_owned(),
                    "--exit-on-error".to_owned(),
                    "--no-password".to_owned(),
                    format!("--dbname={target}"),
                    file.display().to_string(),
                ];
                run_pg_tool("pg_restore", &args, password.as_deref()).await?;
                None
            }
        };
        let report = RestoreReport {
            backend,
            source: file.to_owned(),
            bytes,
            duration: started.elapsed(),
            previous,
        };
        tracing::info!(
            backend = %report.backend,
            source = %report.source.display(),
            bytes = report.bytes,
            elapsed_ms = report.duration.as_millis() as u64,
            "database restored"
        );
        Ok(report)
    }
}

/// Checks that `file` is an intact SQLite database that Sentari migrated.
async fn validate_sqlite_backup(file: &Path) -> Result<(), StoreError> {
    // `immutable` opens the file without locks or a WAL, which is right for a backup nobody
    // writes to and keeps the check from creating -wal/-shm files beside it.
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .immutable(true)
        .connect()
        .await
        .map_err(|e| {
            StoreError::Backup(format!(
                "{} is not a readable SQLite database: {e}",
                file.display()
            ))
        })?;
    let check: Result<String, sqlx::Error> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await;
    let has_migrations: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut conn)
    .await;
    let _ = conn.close().await;
    match check {
        Ok(s) if s == "ok" => {}
        Ok(s) => {
            return Err(StoreError::Backup(format!(
                "{} failed the integrity check: {s}",
                file.display()
            )));
        }
        Err(e) => {
            return Err(StoreError::Backup(format!(
                "{} is not a valid SQLite database: {e}",
                file.display()
            )));
        }
    }
    match has_migrations {
        Ok(n) if n > 0 => Ok(()),
        _ => Err(StoreError::Backup(format!(
            "{} is a SQLite database but not a Sentari one (it has no migrations table)",
            file.display()
        ))),
    }
}

async fn restore_sqlite(db: &Path, file: &Path) -> Result<Option<PathBuf>, StoreError> {
    validate_sqlite_backup(file).await?;
    ensure_parent(db).await?;
    let staged = temp_sibling(db, "restore-tmp");
    tokio::fs::copy(file, &staged)
        .await
        .map_err(|e| StoreError::io(&staged, e))?;
    let result = swap_in(db, &staged).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&staged).await;
    }
    result
}

async fn swap_in(db: &Path, staged: &Path) -> Result<Option<PathBuf>, StoreError> {
    sync_file(staged).await?;
    let mut previous = None;
    if tokio::fs::try_exists(db).await.unwrap_or(false) {
        // Fold the WAL into the main file so the kept copy is complete, and fail early if a
        // server still has the database open and busy.
        let mut conn = SqliteConnectOptions::new()
            .filename(db)
            .connect()
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", db.display())))?;
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut conn)
            .await?;
        let _ = conn.close().await;
        if busy != 0 {
            return Err(StoreError::Conflict(format!(
                "{} is in use by another process; stop every Sentari process before restoring",
                db.display()
            )));
        }
        let stamp = OffsetDateTime::now_utc()
            .format(format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap_or_else(|_| "previous".to_owned());
        let keep = PathBuf::from(format!("{}.pre-restore-{stamp}", db.display()));
        if tokio::fs::hard_link(db, &keep).await.is_err() {
            tokio::fs::copy(db, &keep)
                .await
                .map_err(|e| StoreError::io(&keep, e))?;
        }
        previous = Some(keep);
    }
    // A WAL left beside the new file would be replayed into it, so it goes before the swap.
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", db.display()));
        match tokio::fs::remove_file(&side).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(side, e)),
        }
    }
    tokio::fs::rename(staged, db)
        .await
        .map_err(|e| StoreError::io(db, e))?;
    Ok(previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_the_password_from_libpq_urls() {
        let (u, p) = libpq_target("postgres://me:s%40cret@db.example:5433/sentari?sslmode=require")
            .unwrap_or_default();
        assert_eq!(u, "postgres://me@db.example:5433/sentari?sslmode=require");
        assert_eq!(p.as_deref(), Some("s@cret"));
    }
}
