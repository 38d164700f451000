//! Heartbeats of running server processes (serve, api, worker, beat), for `sentari status`
//! and the restore safety check.

use time::OffsetDateTime;

use crate::error::StoreError;
use crate::store::{Store, with_pool};
use crate::ts::Ts;

/// One running server process as it last reported itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Unique per process, e.g. `host:pid:role:random`.
    pub id: String,
    pub host: String,
    pub pid: i64,
    /// `serve`, `api`, `worker` or `beat`.
    pub role: String,
    pub version: String,
    pub started_at: OffsetDateTime,
    pub last_heartbeat: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct ProcessRecord {
    id: String,
    host: String,
    pid: i64,
    role: String,
    version: String,
    started_at: Ts,
    last_heartbeat: Ts,
}

impl From<ProcessRecord> for ProcessInfo {
    fn from(r: ProcessRecord) -> Self {
        ProcessInfo {
            id: r.id,
            host: r.host,
            pid: r.pid,
            role: r.role,
            version: r.version,
            started_at: r.started_at.get(),
            last_heartbeat: r.last_heartbeat.get(),
        }
    }
}

impl Store {
    /// Records a process, replacing an earlier record with the same id.
    pub async fn register_process(&self, p: &ProcessInfo) -> Result<(), StoreError> {
        self.timed("register_process", async {
            with_pool!(self, |pool| sqlx::query(
                "INSERT INTO processes (id, host, pid, role, version, started_at, last_heartbeat) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, \
                   role = excluded.role, version = excluded.version, \
                   started_at = excluded.started_at, last_heartbeat = excluded.last_heartbeat"
            )
            .bind(&p.id)
            .bind(&p.host)
            .bind(p.pid)
            .bind(&p.role)
            .bind(&p.version)
            .bind(Ts::new(p.started_at))
            .bind(Ts::new(p.last_heartbeat))
            .execute(pool)
            .await?
            .rows_affected());
            Ok(())
        })
        .await
    }

    /// Sets the process's heartbeat to now. Fails with [`StoreError::NotFound`] when the record
    /// is gone (an operator removed it, or a restore replaced the database), so the caller
    /// knows to register again.
    pub async fn heartbeat_process(&self, id: &str) -> Result<(), StoreError> {
        self.timed("heartbeat_process", async {
            let n = with_pool!(self, |pool| sqlx::query(
                "UPDATE processes SET last_heartbeat = $2 WHERE id = $1"
            )
            .bind(id)
            .bind(Ts::now())
            .execute(pool)
            .await?
            .rows_affected());
            if n == 0 {
                return Err(StoreError::NotFound(format!(
                    "process `{id}` is not registered"
                )));
            }
            Ok(())
        })
        .await
    }

    /// Deletes the process's record on clean shutdown.
    pub async fn remove_process(&self, id: &str) -> Result<(), StoreError> {
        self.timed("remove_process", async {
            with_pool!(self, |pool| sqlx::query(
                "DELETE FROM processes WHERE id = $1"
            )
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected());
            Ok(())
        })
        .await
    }

    /// Processes whose last heartbeat is at or after `seen_since`, by role, host and pid.
    pub async fn list_processes(
        &self,
        seen_since: OffsetDateTime,
    ) -> Result<Vec<ProcessInfo>, StoreError> {
        self.timed("list_processes", async {
            let rows: Vec<ProcessRecord> = with_pool!(self, |pool| {
                sqlx::query_as(
                "SELECT id, host, pid, role, version, started_at, last_heartbeat FROM processes \
                 WHERE last_heartbeat >= $1 ORDER BY role, host, pid, id"
            )
            .bind(Ts::new(seen_since))
            .fetch_all(pool)
            .await?
            });
            Ok(rows.into_iter().map(ProcessInfo::from).collect())
        })
        .await
    }

    /// How many processes that run jobs (`worker` and `serve`) were seen since `seen_since`.
    pub async fn active_workers(&self, seen_since: OffsetDateTime) -> Result<u64, StoreError> {
        self.timed("active_workers", async {
            let n: i64 = with_pool!(self, |pool| sqlx::query_scalar(
                "SELECT COUNT(*) FROM processes \
                 WHERE last_heartbeat >= $1 AND role IN ('worker', 'serve')"
            )
            .bind(Ts::new(seen_since))
            .fetch_one(pool)
            .await?);
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    /// Deletes records whose heartbeat stopped before `older_than` (crashed processes), so
    /// `sentari status` does not list them forever; returns how many.
    pub async fn prune_processes(&self, older_than: OffsetDateTime) -> Result<u64, StoreError> {
        self.timed("prune_processes", async {
            let n = with_pool!(self, |pool| sqlx::query(
                "DELETE FROM processes WHERE last_heartbeat < $1"
            )
            .bind(Ts::new(older_than))
            .execute(pool)
            .await?
            .rows_affected());
            Ok(n)
        })
        .await
    }
}
