//! Background work: the job handlers, the worker loop that runs them, and the scheduler that
//! enqueues periodic jobs (ARCHITECTURE.md §7).
//!
//! The queue itself lives in the database (`sentari-store`), so any number of workers and
//! schedulers can run, in one process or many.

pub mod advisory_stats;
pub mod handlers;
pub mod periodic;
pub mod scheduler;
pub mod suppression_expiry;
pub mod table_maintenance;
pub mod wal_checkpoint;
pub mod worker;

/// Identifies this process in `jobs.locked_by` and the `processes` table.
pub fn process_id(role: &str) -> String {
    let host = hostname();
    format!(
        "{host}:{}:{role}:{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// The host name, best effort, for operator displays.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}
