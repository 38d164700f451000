//! Cron schedules fired by compare-and-swap, so that any number of schedulers fire each tick
//! exactly once.
//!
//! The store only keeps and swaps timestamps; computing the next tick from the cron expression
//! is the caller's job (sentari-core). A scheduler that sees a due schedule computes the
//! following tick and calls [`Store::fire_schedule`] with the `next_run_at` it read: the update
//! succeeds for exactly one of the racing schedulers, and only the winner enqueues the job, in
//! the same transaction.

use time::OffsetDateTime;

use crate::error::StoreError;
use crate::jobs::{NewJob, insert_job};
use crate::store::{BeginWrite, Store, with_pool};
use crate::ts::Ts;

/// A named recurring job and its next tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub name: String,
    pub cron: String,
    pub next_run_at: OffsetDateTime,
    pub last_run_at: Option<OffsetDateTime>,
    pub enabled: bool,
}

#[derive(sqlx::FromRow)]
struct ScheduleRecord {
    name: String,
    cron: String,
    next_run_at: Ts,
    last_run_at: Option<Ts>,
    enabled: bool,
}

impl From<ScheduleRecord> for Schedule {
    fn from(r: ScheduleRecord) -> Self {
        Schedule {
            name: r.name,
            cron: r.cron,
            next_run_at: r.next_run_at.get(),
            last_run_at: r.last_run_at.map(Ts::get),
            enabled: r.enabled,
        }
    }
}

impl Store {
    /// Registers a schedule. A new one is inserted with `next_run_at`; an existing one whose
    /// cron expression changed gets the new expression and `next_run_at`; an unchanged one is
    /// left alone, so restarting a scheduler never skips or repeats a tick.
    pub async fn upsert_schedule(
        &self,
        name: &str,
        cron: &str,
        next_run_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.timed("upsert_schedule", async {
            let now = Ts::now();
            with_pool!(self, |pool| sqlx::query(
                "INSERT INTO schedules (name, cron, next_run_at, last_run_at, enabled, created_at, updated_at) \
                 VALUES ($1, $2, $3, NULL, TRUE, $4, $4) \
                 ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, \
                   next_run_at = excluded.next_run_at, updated_at = excluded.updated_at \
                 WHERE schedules.cron <> excluded.cron"
            )
            .bind(name)
            .bind(cron)
            .bind(Ts::new(next_run_at))
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
            Ok(())
        })
        .await
    }

    /// Enables or disables a schedule; `false` when no schedule has this name.
    pub async fn set_schedule_enabled(
        &self,
        name: &str,
        enabled: bool,
    ) -> Result<bool, StoreError> {
        self.timed("set_schedule_enabled", async {
            let n = with_pool!(self, |pool| sqlx::query(
                "UPDATE schedules SET enabled = $2, updated_at = $3 WHERE name = $1"
            )
            .bind(name)
            .bind(enabled)
            .bind(Ts::now())
            .execute(pool)
            .await?
            .rows_affected());
            Ok(n == 1)
        })
        .await
    }

    /// Every schedule, by name.
    pub async fn list_schedules(&self) -> Result<Vec<Schedule>, StoreError> {
        self.timed("list_schedules", async {
            let rows: Vec<ScheduleRecord> = with_pool!(self, |pool| {
                sqlx::query_as(
                "SELECT name, cron, next_run_at, last_run_at, enabled FROM schedules ORDER BY name"
            )
            .fetch_all(pool)
            .await?
            });
            Ok(rows.into_iter().map(Schedule::from).collect())
        })
        .await
    }

    /// Enabled schedules whose `next_run_at` is at or before `now`, earliest first.
    pub async fn due_schedules(&self, now: OffsetDateTime) -> Result<Vec<Schedule>, StoreError> {
        self.timed("due_schedules", async {
            let rows: Vec<ScheduleRecord> = with_pool!(self, |pool| sqlx::query_as(
                "SELECT name, cron, next_run_at, last_run_at, enabled FROM schedules \
                 WHERE enabled AND next_run_at <= $1 ORDER BY next_run_at, name"
            )
            .bind(Ts::new(now))
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(Schedule::from).collect())
        })
        .await
    }

    /// Fires one tick: in one transaction, moves `next_run_at` from `expected_next_run_at` to
    /// `new_next_run_at` (recording the tick as `last_run_at`) and, only if that swap changed
    /// the row, enqueues `job`. Returns whether this caller won the tick; losers do nothing.
    pub async fn fire_schedule(
        &self,
        name: &str,
        expected_next_run_at: OffsetDateTime,
        new_next_run_at: OffsetDateTime,
        job: NewJob,
    ) -> Result<bool, StoreError> {
        self.timed("fire_schedule", async {
            let now = Ts::now();
            let expected = Ts::new(expected_next_run_at);
            let won = with_pool!(self, |pool| {
                let mut tx = pool.begin_write(&self.inner.write_turn).await?;
                // On PostgreSQL a concurrent swap waits on the row lock and then re-checks the
                // WHERE clause against the committed row, so only the first one matches; on
                // SQLite the write lock serialises the transactions outright.
                let n = sqlx::query(
                    "UPDATE schedules SET next_run_at = $3, last_run_at = $2, updated_at = $4 \
                     WHERE name = $1 AND next_run_at = $2",
                )
                .bind(name)
                .bind(expected)
                .bind(Ts::new(new_next_run_at))
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 1 {
                    insert_job!(&mut *tx, &job, now)?;
                    tx.commit().await?;
                    true
                } else {
                    tx.rollback().await?;
                    false
                }
            });
            if won {
                tracing::debug!(schedule = name, kind = %job.kind, "schedule fired");
            }
            Ok(won)
        })
        .await
    }
}
