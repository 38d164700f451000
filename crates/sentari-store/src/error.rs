//! The one error type of the storage layer, with variants the server maps to HTTP statuses.

use std::path::PathBuf;

/// Everything that can go wrong in the storage layer.
///
/// The server maps [`StoreError::Unavailable`] to `503`, [`StoreError::NotFound`] to `404` and
/// [`StoreError::Conflict`] to `409`; everything else is an internal error. Messages name the
/// problem in a sentence an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL could not be understood.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),

    /// The database could not be reached, a connection broke, or a file could not be read or
    /// written; retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),

    /// Applying or inspecting the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),

    /// The object the caller named does not exist.
    #[error("not found: {0}")]
    NotFound(String),

    /// The change conflicts with the current state (a duplicate key, a lost lease).
    #[error("conflict: {0}")]
    Conflict(String),

    /// The caller passed a value the store cannot accept (an unknown job state, say).
    #[error("invalid input: {0}")]
    Invalid(String),

    /// An external program the operation needs (`pg_dump`, `pg_restore`) is not installed.
    #[error(
        "`{0}` was not found on PATH; install the PostgreSQL client tools (Debian: postgresql-client) that match the server's major version"
    )]
    ToolMissing(String),

    /// A backup or restore could not be completed.
    #[error("backup/restore failed: {0}")]
    Backup(String),

    /// A file-system operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Any other error reported by the database driver.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    /// Whether this error means the database is unreachable rather than that the request was
    /// wrong; the health endpoint and the worker loops use it to back off instead of failing.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        // Connection-level failures are sorted out here so that every call site reports an
        // unreachable database the same way, which is what lets the server answer 503.
        match err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err.to_string()),
            sqlx::Error::Database(ref db) if is_unavailable_code(db.code().as_deref()) => {
                StoreError::Unavailable(err.to_string())
            }
            sqlx::Error::Database(ref db)
                if matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation) =>
            {
                StoreError::Conflict(db.message().to_owned())
            }
            other => StoreError::Database(other),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        match err {
            sqlx::migrate::MigrateError::Execute(e) => match StoreError::from(e) {
                StoreError::Unavailable(m) => StoreError::Unavailable(m),
                other => StoreError::Migration(other.to_string()),
            },
            other => StoreError::Migration(other.to_string()),
        }
    }
}

/// SQLSTATE codes and SQLite result codes that mean "the server is going away or busy", as
/// opposed to "your statement is wrong".
fn is_unavailable_code(code: Option<&str>) -> bool {
    matches!(
        code,
        // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, too many connections,
        // and the whole connection-exception class.
        Some("57P01" | "57P02" | "57P03" | "53300" | "08000" | "08003" | "08006" | "08001" | "08004")
            // SQLite: SQLITE_BUSY (5), SQLITE_LOCKED (6), SQLITE_CANTOPEN (14).
            | Some("5" | "6" | "14" | "517" | "261")
    )
}
