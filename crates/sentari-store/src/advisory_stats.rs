//! Per-advisory fleet counts for the findings list grouped by advisory (issue 7 (d), issue 8
//! Security → CVE).
//!
//! Counting distinct devices per advisory reads every open device finding; at 10,000 devices
//! that is 22 million rows, more than a minute per page. `advisory_fleet_stats` stores those
//! counts for the default view (open, unsuppressed). Triggers on `device_findings` mark the
//! advisories of every changed row in `advisory_stats_dirty`, in the changing transaction, so
//! no write path can forget to: the list reads the stored counts of unmarked advisories and
//! counts the marked ones live, and is therefore always exact. [`Store::refresh_advisory_stats`]
//! recounts the marked advisories and clears their marks; the server runs it in the background
//! when the marks stop growing (see `sentari-server/src/jobs/advisory_stats.rs`).

use crate::error::StoreError;
use crate::fleet::advisory_counts;
use crate::inventory::in_write_tx;
use crate::store::{BackendKind, Store, with_pool};

impl Store {
    /// Recounts the advisories marked since the last refresh and clears their marks. Returns
    /// how many marks it cleared.
    ///
    /// When marks are many (a fleet's first scans, a large feed import) it recounts every
    /// advisory in one pass over the open device findings, which costs the same as recounting
    /// most of them one by one and does not depend on the planner's statistics; otherwise it
    /// recounts the marked advisories through the open-findings-by-advisory index.
    pub async fn refresh_advisory_stats(&self) -> Result<u64, StoreError> {
        let backend = self.backend();
        let counts = advisory_counts();
        let open = "df.resolved_at IS NULL AND NOT df.suppressed";
        let recount_all = format!(
            "INSERT INTO advisory_fleet_stats (advisory_id, devices, packages, first_detected, rank) \
             {counts} WHERE {open} GROUP BY df.advisory_id"
        );
        let marked = match backend {
            BackendKind::Sqlite => {
                "df.advisory_id IN (SELECT advisory_id FROM advisory_stats_dirty)"
            }
            BackendKind::Postgres => {
                "df.advisory_id = ANY(ARRAY(SELECT DISTINCT advisory_id FROM advisory_stats_dirty))"
            }
        };
        let recount_marked = format!(
            "INSERT INTO advisory_fleet_stats (advisory_id, devices, packages, first_detected, rank) \
             {counts} WHERE {marked} AND {open} GROUP BY df.advisory_id"
        );
        self.timed("refresh_advisory_stats", async {
            let n = in_write_tx!(self, |tx| {
                if backend == BackendKind::Postgres {
                    // One snapshot for the whole refresh: the marks it clears are exactly those
                    // whose changes its counts saw, and a mark committed meanwhile stays for the
                    // next refresh. The lock (taken before the snapshot) keeps two refreshes from
                    // overwriting each other's counts; lists read on.
                    for sql in [
                        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                        "LOCK TABLE advisory_fleet_stats IN SHARE ROW EXCLUSIVE MODE",
                        // The recount sorts the open device findings by advisory: in memory
                        // rather than in temporary files where it can.
                        "SET LOCAL work_mem = '256MB'",
                    ] {
                        sqlx::query(sql).execute(&mut *tx).await?;
                    }
                }
                let marks: i64 = sqlx::query_scalar("SELECT count(*) FROM advisory_stats_dirty")
                    .fetch_one(&mut *tx)
                    .await?;
                if marks > 0 {
                    let stored: i64 =
                        sqlx::query_scalar("SELECT count(*) FROM advisory_fleet_stats")
                            .fetch_one(&mut *tx)
                            .await?;
                    if marks.saturating_mul(10) > stored {
                        if backend == BackendKind::Postgres {
                            // One sequential pass and a sort; an index walk over millions of
                            // rows reads the table in random order and took 2.5 times as long.
                            for sql in [
                                "SET LOCAL enable_indexscan = off",
                                "SET LOCAL enable_bitmapscan = off",
                            ] {
                                sqlx::query(sql).execute(&mut *tx).await?;
                            }
                        }
                        sqlx::query("DELETE FROM advisory_fleet_stats")
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(sqlx::AssertSqlSafe(recount_all.as_str()))
                            .execute(&mut *tx)
                            .await?;
                    } else {
                        sqlx::query(
                            "DELETE FROM advisory_fleet_stats WHERE advisory_id IN \
                             (SELECT advisory_id FROM advisory_stats_dirty)",
                        )
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(sqlx::AssertSqlSafe(recount_marked.as_str()))
                            .execute(&mut *tx)
                            .await?;
                    }
                    sqlx::query("DELETE FROM advisory_stats_dirty")
                        .execute(&mut *tx)
                        .await?;
                }
                u64::try_from(marks).unwrap_or(0)
            });
            // Every ingest appends marks and every refresh deletes them: on PostgreSQL the
            // dead rows would make each list's look at the marks read them all until
            // autovacuum comes by (and it may be off). Vacuuming the two small tables right
            // away costs milliseconds.
            if n > 0
                && let crate::store::Pool::Postgres(pool) = &self.inner.pool
            {
                sqlx::query("VACUUM (ANALYZE) advisory_stats_dirty, advisory_fleet_stats")
                    .execute(pool)
                    .await?;
            }
            Ok(n)
        })
        .await
    }

    /// The newest mark's sequence number (0 when none): unchanged between two looks means no
    /// device finding changed meanwhile.
    pub async fn advisory_stats_mark(&self) -> Result<i64, StoreError> {
        self.timed("advisory_stats_mark", async {
            let mark: i64 = with_pool!(self, |pool| {
                sqlx::query_scalar(
                    "SELECT CAST(COALESCE(max(id), 0) AS BIGINT) FROM advisory_stats_dirty",
                )
                .fetch_one(pool)
                .await?
            });
            Ok(mark)
        })
        .await
    }

    /// How many marks wait for a recount: 0 when every advisory's stored counts are current.
    pub async fn advisory_stats_pending(&self) -> Result<i64, StoreError> {
        self.timed("advisory_stats_pending", async {
            let n: i64 = with_pool!(self, |pool| {
                sqlx::query_scalar("SELECT count(*) FROM advisory_stats_dirty")
                    .fetch_one(pool)
                    .await?
            });
            Ok(n)
        })
        .await
    }
}
