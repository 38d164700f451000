//! Persistence of Sentari over SQLite or PostgreSQL.
//!
//! [`Store`] is the one handle the server holds: it picks the backend from the database URL,
//! applies the embedded migrations, and offers the job queue, the schedules, process
//! heartbeats and runtime settings. Only this crate imports sqlx (ARCHITECTURE.md, invariant 3).
//! See `docs/storage.md` for the operator's view.

mod backup;
mod error;
mod jobs;
mod processes;
mod schedules;
mod settings;
mod store;
mod ts;

#[cfg(feature = "testing")]
pub mod testing;

pub use backup::{BackupReport, RestoreReport};
pub use error::StoreError;
pub use jobs::{
    DEFAULT_MAX_ATTEMPTS, DEFAULT_QUEUE, FailOutcome, Job, JobRow, JobState, MAX_BACKOFF, NewJob,
    PurgeFilter, PurgeState, QueueStat, backoff_delay,
};
pub use processes::ProcessInfo;
pub use schedules::Schedule;
pub use store::{
    BackendKind, MigrationStatus, PERFORMANCE_TARGET, Store, StoreOptions, redact_url,
};
