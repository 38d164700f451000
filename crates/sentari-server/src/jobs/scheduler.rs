//! The scheduler loop: fires due schedules by compare-and-swap (ARCHITECTURE.md §7).
//!
//! Every scheduler reads the due schedules and tries to advance each one's `next_run_at` from the
//! value it read to the next cron time; only the scheduler whose update wins enqueues the job, in
//! the same transaction. So any number of `sentari beat` processes fire each tick exactly once.
//! Ticks missed while no scheduler ran collapse into one firing rather than a burst.

use std::time::Duration;

use sentari_core::schedule::Cron;
use sentari_store::{NewJob, Store, StoreError};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::handlers::RETENTION;

/// A schedule known to the server: name (also the job kind) and cron expression.
#[derive(Debug, Clone)]
pub struct BuiltinSchedule {
    /// Schedule name and job kind.
    pub name: &'static str,
    /// When it fires, in UTC.
    pub cron: &'static str,
}

/// The schedules this build registers. Later features add theirs here.
pub const BUILTIN: &[BuiltinSchedule] = &[
    BuiltinSchedule {
        name: RETENTION,
        cron: "0 * * * *",
    },
    BuiltinSchedule {
        name: crate::feeds::sync::OSV_SYNC,
        cron: "0 2 * * *",
    },
    BuiltinSchedule {
        name: crate::feeds::sync::EOL_SYNC,
        cron: "0 3 * * *",
    },
    BuiltinSchedule {
        name: super::handlers::DAILY,
        cron: "30 3 * * *",
    },
];

/// Inserts the built-in schedules, keeping the `next_run_at` of those already present.
pub async fn register(store: &Store, now: OffsetDateTime) -> Result<(), StoreError> {
    for s in BUILTIN {
        // The expressions are constants tested below, so a parse failure is a programming error
        // that must not take the scheduler down: skip it loudly.
        let Ok(cron) = Cron::parse(s.cron) else {
            tracing::error!(
                schedule = s.name,
                cron = s.cron,
                "invalid built-in cron expression"
            );
            continue;
        };
        if let Some(next) = cron.next_after(now) {
            store.upsert_schedule(s.name, s.cron, next).await?;
        }
    }
    Ok(())
}

/// One pass: fires every due schedule this scheduler wins. Returns how many it fired.
pub async fn tick(store: &Store, now: OffsetDateTime) -> Result<usize, StoreError> {
    let mut fired = 0;
    for s in store.due_schedules(now).await? {
        let cron = match Cron::parse(&s.cron) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(schedule = %s.name, error = %e, "skipping schedule with an invalid cron expression");
                continue;
            }
        };
        let Some(next) = cron.next_after(now) else {
            continue;
        };
        let job = NewJob::new(
            s.name.clone(),
            serde_json::json!({"scheduled_for": s.next_run_at.unix_timestamp()}),
        )
        .unique_key(format!(
            "schedule:{}:{}",
            s.name,
            s.next_run_at.unix_timestamp()
        ));
        if store
            .fire_schedule(&s.name, s.next_run_at, next, job)
            .await?
        {
            fired += 1;
            tracing::info!(schedule = %s.name, next = %next, "schedule fired");
        }
    }
    Ok(fired)
}

/// Runs ticks every `interval` until `stop` is cancelled.
pub async fn run(store: Store, interval: Duration, stop: CancellationToken) {
    if let Err(e) = register(&store, OffsetDateTime::now_utc()).await {
        tracing::error!(error = %e, "could not register built-in schedules");
    }
    tracing::info!("scheduler started");
    loop {
        if let Err(e) = tick(&store, OffsetDateTime::now_utc()).await {
            tracing::warn!(error = %e, "scheduler tick failed; retrying");
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
    tracing::info!("scheduler stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_expressions_parse() {
        for s in BUILTIN {
            assert!(Cron::parse(s.cron).is_ok(), "{}", s.name);
        }
    }
}
