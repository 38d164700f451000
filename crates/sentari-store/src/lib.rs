//! Persistence of Sentari over SQLite or PostgreSQL.
//!
//! [`Store`] is the one handle the server holds: it picks the backend from the database URL,
//! applies the embedded migrations, and offers the job queue, the schedules, process
//! heartbeats and runtime settings. Only this crate imports sqlx (ARCHITECTURE.md, invariant 3).
//! See `docs/storage.md` for the operator's view.

mod advisories;
mod advisory_stats;
mod api_keys;
mod audit;
mod backup;
mod devices;
mod enrollment;
mod eol;
mod error;
mod findings;
mod fleet;
mod inventory;
mod jobs;
mod maintenance;
mod mfa;
mod processes;
mod scans;
mod schedules;
mod sessions;
mod settings;
mod store;
mod ts;
mod users;
mod write_turn;

#[cfg(feature = "testing")]
pub mod testing;

pub use advisories::{Advisory, AdvisoryRow, FeedStatus, ImportWrite, StoredVersion};
pub use advisory_stats::AdvisoryMarks;
pub use api_keys::{ApiKey, NewApiKey};
pub use audit::{AuditFilter, AuditRecord, NewAuditEntry};
pub use backup::{BackupReport, RestoreReport};
pub use devices::{Device, DeviceCert, DeviceEnrollment};
pub use enrollment::{EnrollmentToken, NewEnrollmentToken, TokenState};
pub use eol::EolCycleRow;
pub use error::StoreError;
pub use findings::{Evaluation, EvaluationChanges, NewFinding, PackageVersionKey, Suppression};
pub use fleet::*;
pub use inventory::{
    ApplyOutcome, ApplyReport, ApplyScan, HostFacts, InventoryError, InventoryPackage,
    InventoryRuntime, StoredScan,
};
pub use jobs::{
    DEFAULT_MAX_ATTEMPTS, DEFAULT_QUEUE, FailOutcome, Job, JobRow, JobState, MAX_BACKOFF, NewJob,
    PurgeFilter, PurgeState, QueueStat, backoff_delay,
};
pub use maintenance::TableMaintenance;
pub use mfa::MfaState;
pub use processes::ProcessInfo;
pub use scans::{NewScan, ScanRow, ScanStored};
pub use schedules::Schedule;
pub use sessions::{NewSession, Session};
pub use store::{
    BackendKind, MigrationStatus, PERFORMANCE_TARGET, Store, StoreOptions, WalCheckpoint,
    redact_url,
};
pub use users::{NewUser, User};
