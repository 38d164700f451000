//! Test harness (cargo feature `testing`): throw-away databases on both backends.
//!
//! `TestDb::sqlite()` makes a database file in a temporary directory; `TestDb::postgres()`
//! creates a fresh database `sentari_test_<unix-seconds>_<random>` through the admin URL in
//! `SENTARI_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and drops
//! it when the `TestDb` is dropped, also when the test panicked. Databases left behind by killed
//! test processes are dropped by the first harness call of a later run once they are an hour
//! old (the creation time is in the name).
//!
//! When PostgreSQL cannot be reached the PostgreSQL tests fail with a message saying so, unless
//! `SENTARI_TEST_SKIP_POSTGRES=1` is set: then `postgres()` prints a skip note and returns
//! `None`.
//!
//! The harness panics on setup failures on purpose: a panic is how a test reports that it could
//! not run.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tempfile::TempDir;

use crate::{BackendKind, Store, StoreOptions, redact_url};

/// The environment variable naming the PostgreSQL admin URL used to create test databases.
pub const ADMIN_URL_ENV: &str = "SENTARI_TEST_DATABASE_URL";
/// Set to `1` to skip PostgreSQL tests when the server is unreachable.
pub const SKIP_POSTGRES_ENV: &str = "SENTARI_TEST_SKIP_POSTGRES";
/// The admin URL used when [`ADMIN_URL_ENV`] is not set.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Prefix of every database the harness creates.
pub const DB_PREFIX: &str = "sentari_test_";

const STALE_AFTER_SECS: i64 = 3600;
static STALE_SWEPT: AtomicBool = AtomicBool::new(false);

/// The PostgreSQL admin URL tests use.
pub fn admin_url() -> String {
    std::env::var(ADMIN_URL_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned())
}

fn skip_postgres_allowed() -> bool {
    matches!(
        std::env::var(SKIP_POSTGRES_ENV).as_deref(),
        Ok("1" | "true" | "yes")
    )
}

/// `admin` with its database replaced by `name`.
pub fn database_url(admin: &str, name: &str) -> String {
    let mut u = url::Url::parse(admin).expect("the PostgreSQL admin URL must be a valid URL");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

/// Drops the database when the last handle on it goes away.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, where blocking on another future is not allowed;
        // a separate thread with its own small runtime can block freely.
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for dropping the test database");
            rt.block_on(async {
                if let Err(e) = drop_database(&admin, &name).await {
                    eprintln!("note: could not drop test database {name}: {e}");
                }
            });
        });
        let _ = handle.join();
    }
}

async fn admin_connection(admin: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(admin)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 5 s".to_owned()),
    }
}

async fn drop_database(admin: &str, name: &str) -> Result<(), String> {
    let mut conn = admin_connection(admin).await?;
    // FORCE terminates connections the test's pool still holds.
    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    let _ = conn.close().await;
    Ok(())
}

/// Drops `sentari_test_*` databases older than an hour: leftovers of test processes that were
/// killed before their guards ran.
async fn sweep_stale(conn: &mut PgConnection) {
    if STALE_SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'sentari\\_test\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    for name in names {
        let created = name
            .strip_prefix(DB_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<i64>().ok());
        if created.is_some_and(|c| now - c > STALE_AFTER_SECS) {
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *conn)
                .await;
        }
    }
}

/// A throw-away database and a [`Store`] connected to it.
pub struct TestDb {
    store: Store,
    url: String,
    backend: BackendKind,
    // Dropped after `store`: first the pool handle, then the database itself.
    pg: Option<PgDatabase>,
    dir: TempDir,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("backend", &self.backend)
            .field("url", &redact_url(&self.url))
            .finish()
    }
}

impl TestDb {
    /// A migrated SQLite database in a temporary directory.
    pub async fn sqlite() -> TestDb {
        Self::sqlite_with(true).await
    }

    /// An empty SQLite database (no migrations applied).
    pub async fn sqlite_unmigrated() -> TestDb {
        Self::sqlite_with(false).await
    }

    async fn sqlite_with(migrate: bool) -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary directory for the SQLite test database");
        let url = format!("sqlite://{}", dir.path().join("sentari.db").display());
        let store = Store::connect(&url, &StoreOptions::default())
            .await
            .expect("opening the SQLite test database");
        if migrate {
            store
                .migrate()
                .await
                .expect("migrating the SQLite test database");
        }
        TestDb {
            store,
            url,
            backend: BackendKind::Sqlite,
            pg: None,
            dir,
        }
    }

    /// A migrated, freshly created PostgreSQL database; `None` only when PostgreSQL is
    /// unreachable and `SENTARI_TEST_SKIP_POSTGRES=1` is set.
    pub async fn postgres() -> Option<TestDb> {
        Self::postgres_with(true).await
    }

    /// A freshly created, empty PostgreSQL database (no migrations applied).
    pub async fn postgres_unmigrated() -> Option<TestDb> {
        Self::postgres_with(false).await
    }

    async fn postgres_with(migrate: bool) -> Option<TestDb> {
        let admin = admin_url();
        let mut conn = match admin_connection(&admin).await {
            Ok(c) => c,
            Err(e) if skip_postgres_allowed() => {
                eprintln!(
                    "note: skipping a PostgreSQL test: {} is unreachable ({e}) and {SKIP_POSTGRES_ENV} is set",
                    redact_url(&admin)
                );
                return None;
            }
            Err(e) => panic!(
                "PostgreSQL is not reachable at {} ({e}). Start it (e.g. `pg_ctlcluster 15 main start`), point {ADMIN_URL_ENV} at a server where this user may CREATE DATABASE, or set {SKIP_POSTGRES_ENV}=1 to skip the PostgreSQL tests",
                redact_url(&admin)
            ),
        };
        sweep_stale(&mut conn).await;
        let name = format!(
            "{DB_PREFIX}{}_{}",
            time::OffsetDateTime::now_utc().unix_timestamp(),
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let sql = format!("CREATE DATABASE \"{name}\"");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "creating test database {name} via {}: {e}",
                    redact_url(&admin)
                )
            });
        let _ = conn.close().await;
        let guard = PgDatabase {
            admin_url: admin.clone(),
            name: name.clone(),
        };
        let url = database_url(&admin, &name);
        let store = Store::connect(&url, &StoreOptions::default())
            .await
            .expect("connecting to the PostgreSQL test database");
        if migrate {
            store
                .migrate()
                .await
                .expect("migrating the PostgreSQL test database");
        }
        Some(TestDb {
            store,
            url,
            backend: BackendKind::Postgres,
            pg: Some(guard),
            dir: tempfile::tempdir().expect("a temporary directory for the test"),
        })
    }

    /// A migrated database on `backend`; `None` when PostgreSQL tests are skipped.
    pub async fn new(backend: BackendKind) -> Option<TestDb> {
        match backend {
            BackendKind::Sqlite => Some(Self::sqlite().await),
            BackendKind::Postgres => Self::postgres().await,
        }
    }

    /// PostgreSQL when `SENTARI_TEST_DATABASE_URL` is set (failing if it is unreachable),
    /// SQLite otherwise: what the server's API tests use (ARCHITECTURE.md §15).
    pub async fn from_env() -> TestDb {
        if std::env::var(ADMIN_URL_ENV).is_ok_and(|s| !s.trim().is_empty())
            && let Some(db) = Self::postgres().await
        {
            return db;
        }
        Self::sqlite().await
    }

    /// The URL of the test database, for `Store::connect` or a server under test.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The store connected to the test database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Which backend this is.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// A temporary directory that lives as long as this database, for backups and other files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The PostgreSQL database name, `None` for SQLite.
    pub fn pg_database(&self) -> Option<&str> {
        self.pg.as_ref().map(|p| p.name.as_str())
    }

    /// Another store with its own pool on the same database, like a second server process.
    pub async fn connect_another(&self, opts: &StoreOptions) -> Store {
        Store::connect(&self.url, opts)
            .await
            .expect("connecting a second store to the test database")
    }
}
