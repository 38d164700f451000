//! The `Store` handle: picking the backend from the URL, connecting, migrating, health checks.
//!
//! `Store` is an enum over a SQLite pool and a PostgreSQL pool rather than sqlx's `Any` driver,
//! so that each backend keeps its native types (`timestamptz`, `jsonb`, `uuid`) and its own SQL
//! where the dialects differ. Shared SQL is written once and expanded for both pools by the
//! [`with_pool!`] macro.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Postgres, Sqlite, Transaction};

use crate::error::StoreError;

/// The tracing target for slow statements; the server routes it to `performance.log`.
pub const PERFORMANCE_TARGET: &str = "sentari::performance";

/// How long `ping` waits before declaring the database unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// How long acquiring a pooled connection may take before the call fails as unavailable.
///
/// While the database is down every call waits this long (sqlx keeps retrying the connection),
/// so it is kept short enough for the worker loops to notice an outage promptly.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");
pub(crate) static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// An embedded SQLite file (the default, single host).
    Sqlite,
    /// A PostgreSQL server (scale-out).
    Postgres,
}

impl BackendKind {
    /// The lowercase name used in logs and status output.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tuning knobs for the connection pool.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// How long SQLite waits for the write lock before reporting the database busy.
    pub busy_timeout: Duration,
    /// Operations slower than this are logged at warn on [`PERFORMANCE_TARGET`].
    pub slow_query_threshold: Duration,
    /// SQLite: the process runs [`Store::checkpoint_wal`] in the background, so committing
    /// writers leave checkpoints to it (they still checkpoint, as a safety net, should the WAL
    /// reach 256 MiB). Without it each writer checkpoints every 32 MiB of WAL inside its
    /// commit. Ignored on PostgreSQL.
    pub background_wal_checkpoint: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 10,
            busy_timeout: Duration::from_secs(5),
            slow_query_threshold: Duration::from_millis(200),
            background_wal_checkpoint: false,
        }
    }
}

/// What one WAL checkpoint found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalCheckpoint {
    /// Another connection was checkpointing at the same time.
    pub busy: bool,
    /// Pages (frames) in the log.
    pub frames: i64,
    /// Of those, the ones now copied into the database file.
    pub checkpointed: i64,
}

/// Where the migrations of a database stand relative to the ones built into this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Migrations recorded as applied in the database.
    pub applied: i64,
    /// Migrations embedded in this binary.
    pub known: i64,
    /// Embedded migrations not yet applied, as `"<version> <description>"`.
    pub pending: Vec<String>,
    /// True when nothing is pending.
    pub current: bool,
    /// Versions applied in the database that this binary does not know: the database was
    /// migrated by a newer release.
    pub unknown: Vec<i64>,
}

pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

pub(crate) struct Inner {
    pub(crate) pool: Pool,
    /// The SQLite database file, for backup and restore.
    pub(crate) sqlite_path: Option<PathBuf>,
    /// The PostgreSQL URL, for `pg_dump`; never logged (it may hold a password).
    pub(crate) url: String,
    pub(crate) slow: Duration,
    /// Woken whenever this process enqueues a job, so an in-process worker starts it at once
    /// instead of at its next poll.
    pub(crate) job_enqueued: tokio::sync::Notify,
    /// Whose turn it is to write, among this process's SQLite write transactions. SQLite has
    /// one write lock per database, and a writer that finds it taken polls for it with sleeps
    /// of up to 100 ms: with the gateway, four ingest workers and the job queue all writing,
    /// the lock sat idle between those sleeps and the fleet benchmark's ingest stalled at
    /// ~10 scans/s. Queueing here first hands the lock over the moment it is released; other
    /// processes (the CLI, separate workers) still meet at SQLite's lock and `busy_timeout`.
    /// Scan applies share write transactions through it (group commit, see
    /// [`crate::write_turn`]).
    pub(crate) write_turn: crate::write_turn::WriteTurn,
    /// Package version ids already stored, so an ingest looks up only the versions new to
    /// this process.
    pub(crate) version_ids: crate::inventory::VersionIds,
}

/// A handle on the database; cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .field("url", &redact_url(&self.inner.url))
            .finish()
    }
}

/// Runs the same block against whichever pool the store holds.
///
/// The block is expanded twice, once per backend, so code inside it is type-checked against
/// `SqlitePool` and `PgPool` separately: this is how shared SQL is written once without sqlx's
/// `Any` driver.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.inner.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// A write transaction and, on SQLite, this process's turn at the database's single write
/// lock. It dereferences to the connection, so statements run on `&mut *tx` as on a plain
/// transaction.
pub(crate) struct WriteTx<DB: sqlx::Database> {
    tx: Transaction<'static, DB>,
    _turn: Option<crate::write_turn::TurnGuard>,
}

impl<DB: sqlx::Database> WriteTx<DB> {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl<DB: sqlx::Database> std::ops::Deref for WriteTx<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.tx
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }
}

/// The pool a write holding this process's write turn runs on: SQLite's single writer
/// connection (see [`crate::write_turn::WriteTurn`]), or the pool itself.
pub(crate) trait WritePool {
    fn for_write<'a>(&'a self, turn: &'a crate::write_turn::WriteTurn) -> &'a Self;
}

impl WritePool for SqlitePool {
    fn for_write<'a>(&'a self, turn: &'a crate::write_turn::WriteTurn) -> &'a Self {
        turn.writer().unwrap_or(self)
    }
}

impl WritePool for PgPool {
    fn for_write<'a>(&'a self, _turn: &'a crate::write_turn::WriteTurn) -> &'a Self {
        self
    }
}

/// Opens a write transaction in the way each backend wants.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    /// `turn` orders this process's SQLite writers (see [`Inner::write_turn`]).
    fn begin_write(
        &self,
        turn: &crate::write_turn::WriteTurn,
    ) -> impl Future<Output = Result<WriteTx<Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = Sqlite;
    // `BEGIN IMMEDIATE` takes the write lock up front. A deferred transaction that reads first
    // and writes later can fail with SQLITE_BUSY without waiting when another connection
    // committed in between; taking the lock first makes it wait for `busy_timeout` instead.
    async fn begin_write(
        &self,
        turn: &crate::write_turn::WriteTurn,
    ) -> Result<WriteTx<Sqlite>, sqlx::Error> {
        let guard = turn.acquire().await;
        let tx = self.for_write(turn).begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx {
            tx,
            _turn: Some(guard),
        })
    }
}

impl BeginWrite for PgPool {
    type Db = Postgres;
    async fn begin_write(
        &self,
        _turn: &crate::write_turn::WriteTurn,
    ) -> Result<WriteTx<Postgres>, sqlx::Error> {
        Ok(WriteTx {
            tx: self.begin().await?,
            _turn: None,
        })
    }
}

/// What a database URL turned out to name.
enum Target {
    Sqlite(PathBuf),
    Postgres(Box<PgConnectOptions>),
}

/// Parses `sqlite://PATH` (also `sqlite:PATH`) or `postgres://…` / `postgresql://…`.
fn parse_url(url: &str) -> Result<Target, StoreError> {
    if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" || path.starts_with(":memory:") {
            return Err(StoreError::InvalidUrl(format!(
                "`{url}` names no database file; use sqlite://PATH, e.g. sqlite://data/sentari.db or sqlite:///var/lib/sentari/sentari.db"
            )));
        }
        return Ok(Target::Sqlite(PathBuf::from(path)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let opts = PgConnectOptions::from_str(url).map_err(|e| {
            StoreError::InvalidUrl(format!(
                "`{}` is not a valid PostgreSQL URL: {e}",
                redact_url(url)
            ))
        })?;
        return Ok(Target::Postgres(Box::new(opts)));
    }
    Err(StoreError::InvalidUrl(format!(
        "`{}` has an unsupported scheme; expected sqlite://PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
        redact_url(url)
    )))
}

/// Hides the password of a URL so it can be logged.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            // Setting a password only fails for URLs that cannot have one, which this one has.
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

impl Store {
    /// Connects to the database named by `url` and checks that it answers.
    ///
    /// `sqlite://PATH` creates the file (and its directory) if missing and opens it in WAL mode
    /// with foreign keys on and `synchronous = NORMAL`; `postgres://…` opens a pool.
    pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Store, StoreError> {
        let store = Store::connect_lazy(url, opts)?;
        // sqlx creates a missing SQLite file but not its directory; `./data` on a first start
        // is the common case.
        if let Some(dir) = store
            .inner
            .sqlite_path
            .as_deref()
            .and_then(Path::parent)
            .filter(|d| !d.as_os_str().is_empty())
        {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| StoreError::io(dir, e))?;
        }
        let checked = with_pool!(store, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ()));
        checked.map_err(|e| {
            StoreError::Unavailable(format!(
                "could not connect to {} database at {}: {e}",
                store.backend(),
                redact_url(url)
            ))
        })?;
        Ok(store)
    }

    /// Builds the pool without connecting; connections open on first use. Health checks and
    /// tests use it to start while the database is still down.
    pub fn connect_lazy(url: &str, opts: &StoreOptions) -> Result<Store, StoreError> {
        let max = opts.max_connections.max(1);
        // sqlx would log every statement at debug and slow ones at warn on its own target; the
        // store logs slow operations itself on the performance target, so sqlx's copies are
        // demoted to avoid logging the same slow query twice.
        let (pool, sqlite_path, write_turn) = match parse_url(url)? {
            Target::Sqlite(path) => {
                let connect = SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(opts.busy_timeout)
                    // After a checkpoint, shrink the WAL back to 64 MiB rather than leaving it
                    // at its high-water mark forever.
                    .pragma("journal_size_limit", "67108864")
                    // SQLite's default page cache is 2 MiB per connection: with a fleet's
                    // inventory and findings (hundreds of MiB) nearly every index lookup of an
                    // ingest became a read() system call copying a page from the OS cache (the
                    // fleet benchmark spent most of its CPU there). Memory-mapping the file
                    // serves those pages without a copy and is shared by every connection; a
                    // 16 MiB private cache keeps the hottest pages decoded.
                    .pragma("mmap_size", "1073741824")
                    .pragma("cache_size", "-16384")
                    // Statement journals (every multi-row INSERT … ON CONFLICT of an ingest
                    // keeps one) and sort spills stay in memory instead of temporary files:
                    // they were 9 % of the server's CPU in the fleet benchmark, mostly
                    // write() calls.
                    .pragma("temp_store", "memory")
                    // Checkpoint every 32 MiB of WAL instead of every 4 MiB: an ingest rewrites
                    // the same index pages scan after scan, and a larger interval copies each
                    // of them into the database once per checkpoint instead of many times
                    // (checkpoints were 12 % of the server's CPU, inside the writers' commits).
                    // A checkpoint runs inside the commit that crosses the mark, while that
                    // writer still holds this process's write turn (fsync included), so a
                    // server checkpoints from a background task instead and keeps this only as
                    // a far-off safety net.
                    .pragma(
                        "wal_autocheckpoint",
                        if opts.background_wal_checkpoint {
                            "65536"
                        } else {
                            "8192"
                        },
                    )
                    .log_statements(log::LevelFilter::Trace)
                    .log_slow_statements(log::LevelFilter::Debug, opts.slow_query_threshold);
                // The writer connection (see `WriteTurn`) keeps the pages that every write
                // touches (the version index, the jobs table) decoded, with a larger cache.
                let writer = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(ACQUIRE_TIMEOUT.max(opts.busy_timeout))
                    .connect_lazy_with(connect.clone().pragma("cache_size", "-65536"));
                let pool = SqlitePoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(ACQUIRE_TIMEOUT.max(opts.busy_timeout))
                    .connect_lazy_with(connect);
                (
                    Pool::Sqlite(pool),
                    Some(path),
                    crate::write_turn::WriteTurn::with_writer(writer),
                )
            }
            Target::Postgres(connect) => {
                // The JIT compiles a query once its estimated cost is high, which for this
                // workload (short statements over big, fast-changing tables whose estimates
                // lag) cost 100–250 ms per statement in the fleet benchmark and saved nothing.
                let connect = (*connect)
                    .application_name("sentari")
                    .options([("jit", "off")])
                    .log_statements(log::LevelFilter::Trace)
                    .log_slow_statements(log::LevelFilter::Debug, opts.slow_query_threshold);
                let pool = PgPoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_lazy_with(connect);
                (Pool::Postgres(pool), None, Default::default())
            }
        };
        Ok(Store {
            inner: Arc::new(Inner {
                pool,
                sqlite_path,
                url: url.to_owned(),
                slow: opts.slow_query_threshold,
                job_enqueued: tokio::sync::Notify::new(),
                write_turn,
                version_ids: Default::default(),
            }),
        })
    }

    /// Which engine this store talks to.
    pub fn backend(&self) -> BackendKind {
        match self.inner.pool {
            Pool::Sqlite(_) => BackendKind::Sqlite,
            Pool::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Notified whenever this process enqueues a job; in-process workers wait on it between
    /// polls (create and enable the `notified()` future before claiming, so none is missed).
    pub fn job_notify(&self) -> &tokio::sync::Notify {
        &self.inner.job_enqueued
    }

    /// Wakes the workers of this process waiting on [`Store::job_notify`].
    pub fn notify_job_enqueued(&self) {
        self.inner.job_enqueued.notify_waiters();
    }

    /// The database URL with any password hidden, for logs and status output.
    pub fn display_url(&self) -> String {
        redact_url(&self.inner.url)
    }

    /// Applies every embedded migration not yet applied. Safe to call on every start: applying
    /// twice is a no-op, and on PostgreSQL concurrent callers serialise on an advisory lock.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let before = self.migration_status().await?;
        if !before.unknown.is_empty() {
            return Err(StoreError::Migration(format!(
                "the database has migrations {:?} that this release does not know; it was migrated by a newer Sentari, so upgrade this binary instead",
                before.unknown
            )));
        }
        let started = Instant::now();
        // sqlx's migrator takes `pg_advisory_lock` before it even creates its bookkeeping
        // table, so several servers starting at once apply each migration exactly once.
        match &self.inner.pool {
            Pool::Sqlite(pool) => {
                // SQLite has no advisory locks, so the whole run happens inside one
                // `BEGIN IMMEDIATE` transaction: a second process (or task) waits for the write
                // lock and then finds everything applied. The migrator's own transactions nest
                // inside as savepoints.
                // `run_direct` (rather than `run`) keeps the future `Send`: `run` on a borrowed
                // connection trips the compiler's "Acquire is not general enough" limitation.
                let mut tx = pool.begin_write(&self.inner.write_turn).await?;
                SQLITE_MIGRATOR.run_direct(None, &mut *tx, false).await?;
                tx.commit().await?;
            }
            Pool::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
        }
        if !before.pending.is_empty() {
            tracing::info!(
                backend = %self.backend(),
                applied = ?before.pending,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "database migrations applied"
            );
        }
        Ok(())
    }

    /// Compares the migrations recorded in the database with the embedded ones, without
    /// changing anything.
    pub async fn migration_status(&self) -> Result<MigrationStatus, StoreError> {
        let migrator = match self.inner.pool {
            Pool::Sqlite(_) => &SQLITE_MIGRATOR,
            Pool::Postgres(_) => &POSTGRES_MIGRATOR,
        };
        let has_table: bool = match &self.inner.pool {
            Pool::Sqlite(pool) => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
                )
                .fetch_one(pool)
                .await?
                    > 0
            }
            Pool::Postgres(pool) => {
                sqlx::query_scalar::<_, bool>(
                    "SELECT to_regclass('_sqlx_migrations') IS NOT NULL",
                )
                .fetch_one(pool)
                .await?
            }
        };
        let applied_versions: Vec<i64> = if has_table {
            with_pool!(self, |pool| sqlx::query_scalar::<_, i64>(
                "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version"
            )
            .fetch_all(pool)
            .await?)
        } else {
            Vec::new()
        };
        let known: Vec<_> = migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .collect();
        let pending: Vec<String> = known
            .iter()
            .filter(|m| !applied_versions.contains(&m.version))
            .map(|m| format!("{:04} {}", m.version, m.description))
            .collect();
        let unknown: Vec<i64> = applied_versions
            .iter()
            .copied()
            .filter(|v| !known.iter().any(|m| m.version == *v))
            .collect();
        Ok(MigrationStatus {
            applied: applied_versions.len() as i64,
            known: known.len() as i64,
            current: pending.is_empty(),
            pending,
            unknown,
        })
    }

    /// Checks that the database answers `SELECT 1` within two seconds.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let query = async {
            with_pool!(self, |pool| sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map(|_| ()))
        };
        match tokio::time::timeout(PING_TIMEOUT, query).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Unavailable(format!(
                "{} database did not answer: {e}",
                self.backend()
            ))),
            Err(_) => Err(StoreError::Unavailable(format!(
                "{} database did not answer within {} s",
                self.backend(),
                PING_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Closes every pooled connection; later calls fail as unavailable.
    pub async fn close(&self) {
        if let Some(writer) = self.inner.write_turn.writer() {
            writer.close().await;
        }
        with_pool!(self, |pool| pool.close().await)
    }

    /// Copies what the SQLite write-ahead log holds into the database file (a passive
    /// checkpoint: it never waits for, or blocks, readers and writers), so the log can start
    /// over. `None` on PostgreSQL, which checkpoints by itself.
    pub async fn checkpoint_wal(&self) -> Result<Option<WalCheckpoint>, StoreError> {
        match &self.inner.pool {
            Pool::Sqlite(pool) => {
                let (busy, frames, checkpointed): (i64, i64, i64) =
                    sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                        .fetch_one(pool)
                        .await?;
                Ok(Some(WalCheckpoint {
                    busy: busy != 0,
                    frames,
                    checkpointed,
                }))
            }
            Pool::Postgres(_) => Ok(None),
        }
    }

    /// On SQLite, how many scan applies this process has run and how many commits they took
    /// (applies share commits, see [`crate::write_turn`]); `None` on PostgreSQL.
    pub fn scan_apply_commits(&self) -> Option<(u64, u64)> {
        match &self.inner.pool {
            Pool::Sqlite(_) => Some(self.inner.write_turn.stats()),
            Pool::Postgres(_) => None,
        }
    }

    /// This process's turn at SQLite's write lock (see [`Inner::write_turn`]) for a write
    /// outside a transaction, held until the guard drops; nothing on PostgreSQL.
    pub(crate) async fn sqlite_write_turn(&self) -> Option<crate::write_turn::TurnGuard> {
        match &self.inner.pool {
            Pool::Sqlite(_) => Some(self.inner.write_turn.acquire().await),
            Pool::Postgres(_) => None,
        }
    }

    /// Runs one storage operation and logs it on the performance target when it is slow.
    pub(crate) async fn timed<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = fut.await;
        let elapsed = started.elapsed();
        if elapsed >= self.inner.slow {
            tracing::warn!(
                target: PERFORMANCE_TARGET,
                op,
                backend = self.backend().as_str(),
                elapsed_ms = elapsed.as_millis() as u64,
                threshold_ms = self.inner.slow.as_millis() as u64,
                ok = result.is_ok(),
                "slow database operation"
            );
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// The server drives the store from spawned tasks, so every operation's future must be
    /// `Send`; this fails to compile otherwise.
    #[allow(dead_code)]
    fn futures_are_send(s: &Store, p: &Path) {
        use crate::{NewJob, PurgeFilter, PurgeState};
        let now = time::OffsetDateTime::now_utc();
        let d = Duration::from_secs(1);
        let id = uuid::Uuid::nil();
        let job = || NewJob::new("k", serde_json::Value::Null);
        assert_send(&Store::connect("sqlite://x", &StoreOptions::default()));
        assert_send(&s.migrate());
        assert_send(&s.migration_status());
        assert_send(&s.ping());
        assert_send(&s.close());
        assert_send(&s.backup(p));
        assert_send(&Store::restore("sqlite://x", p));
        assert_send(&s.enqueue(job()));
        assert_send(&s.enqueue_many(vec![job()]));
        assert_send(&s.claim_jobs("w", &[], d, 1));
        assert_send(&s.heartbeat_job(id, "w", d));
        assert_send(&s.complete_job(id, "w"));
        assert_send(&s.complete_jobs(&[id], "w"));
        assert_send(&s.fail_job(id, "w", "e", d));
        assert_send(&s.queue_stats());
        let f = PurgeFilter {
            queue: None,
            kind: None,
            state: PurgeState::Dead,
        };
        assert_send(&s.purge_jobs(&f, true));
        assert_send(&s.retry_dead_job(id));
        assert_send(&s.list_jobs(None, None, 1));
        assert_send(&s.get_job(id));
        assert_send(&s.prune_finished_jobs(now));
        assert_send(&s.upsert_schedule("n", "c", now));
        assert_send(&s.list_schedules());
        assert_send(&s.due_schedules(now));
        assert_send(&s.fire_schedule("n", now, now, job()));
        assert_send(&s.heartbeat_process("p"));
        assert_send(&s.list_processes(now));
        assert_send(&s.active_workers(now));
        assert_send(&s.get_setting("k"));
        assert_send(&s.put_setting("k", &serde_json::Value::Null));
    }

    #[test]
    fn rejects_unknown_schemes_and_memory_databases() {
        assert!(matches!(
            parse_url("mysql://x"),
            Err(StoreError::InvalidUrl(_))
        ));
        assert!(matches!(
            parse_url("sqlite::memory:"),
            Err(StoreError::InvalidUrl(_))
        ));
        assert!(matches!(
            parse_url("sqlite://"),
            Err(StoreError::InvalidUrl(_))
        ));
        assert!(matches!(
            parse_url("sqlite://data/x.db?mode=rwc"),
            Ok(Target::Sqlite(p)) if p == Path::new("data/x.db")
        ));
        assert!(matches!(
            parse_url("sqlite:///var/lib/x.db"),
            Ok(Target::Sqlite(p)) if p == Path::new("/var/lib/x.db")
        ));
        assert!(matches!(
            parse_url("postgres://u:p@localhost:5432/db"),
            Ok(Target::Postgres(_))
        ));
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
