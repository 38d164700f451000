//! Per-advisory fleet counts for the findings list grouped by advisory (issue 7 (d), issue 8
//! Security → CVE).
//!
//! Counting distinct devices per advisory reads every open device finding; at 10,000 devices
//! that is 22 million rows, more than a minute per page. `advisory_fleet_stats` stores those
//! counts for the default view (open, unsuppressed). The advisories of every changed
//! `device_findings` row are marked in `advisory_stats_dirty`, in the changing transaction:
//! by triggers for updates and deletes, whichever statement makes them, so no write path can
//! forget to; for inserts, by the one function that builds every insert
//! (`findings::insert_device_findings`), whose marking statement SQLite runs beside the insert
//! (a row trigger cost a tenth of a feed import's fan-out) and PostgreSQL's statement trigger
//! replaces. The list reads the stored counts of unmarked advisories and
//! counts the marked ones live, and is therefore always exact. [`Store::refresh_advisory_stats`]
//! recounts the marked advisories and clears their marks; the server runs it in the background
//! when the marks stop growing (see `sentari-server/src/jobs/advisory_stats.rs`).

use sqlx::types::Json;
use sqlx::{PgPool, SqlitePool};

use crate::error::StoreError;
use crate::fleet::{OPEN, advisory_counts};
use crate::inventory::json_rows;
use crate::store::{BackendKind, BeginWrite, Pool, Store, with_pool};

const INSERT_STATS: &str =
    "INSERT INTO advisory_fleet_stats (advisory_id, devices, packages, first_detected, rank)";

/// Where the recount of the per-advisory counts stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvisoryMarks {
    /// The newest mark's sequence number.
    pub newest: i64,
    /// Marks waiting for a recount: the span of their sequence numbers, so an upper bound
    /// that is 0 exactly when there are none.
    pub pending: i64,
}

/// True when so many advisories are marked that recounting all of them in one pass is the
/// cheaper way.
fn many(marks: i64, stored: i64) -> bool {
    marks.saturating_mul(10) > stored
}

impl Store {
    /// Recounts the advisories marked since the last refresh and clears their marks. Returns
    /// how many marks it cleared.
    ///
    /// When marks are many (a fleet's first scans, a large feed import) it recounts every
    /// advisory in one pass over the open device findings, which costs the same as recounting
    /// most of them one by one and does not depend on the planner's statistics; otherwise it
    /// recounts the marked advisories through the open-findings-by-advisory index.
    pub async fn refresh_advisory_stats(&self) -> Result<u64, StoreError> {
        self.timed("refresh_advisory_stats", async {
            match &self.inner.pool {
                Pool::Postgres(pool) => self.refresh_postgres(pool).await,
                Pool::Sqlite(pool) => self.refresh_sqlite(pool).await,
            }
        })
        .await
    }

    /// PostgreSQL: one repeatable-read transaction counts and replaces, so the marks it clears
    /// are exactly those whose changes its counts saw; a mark committed meanwhile is not in its
    /// snapshot and stays for the next refresh. Ingest never waits for it.
    async fn refresh_postgres(&self, pool: &PgPool) -> Result<u64, StoreError> {
        let counts = advisory_counts();
        let mut tx = pool.begin().await?;
        for sql in [
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            // Taken before the snapshot: two refreshes never overwrite each other's counts,
            // and lists read on.
            "LOCK TABLE advisory_fleet_stats IN SHARE ROW EXCLUSIVE MODE",
            // The recount sorts the open device findings by advisory: in memory rather than in
            // temporary files where it can.
            "SET LOCAL work_mem = '256MB'",
        ] {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        let (marks, stored): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM advisory_stats_dirty), \
             (SELECT count(*) FROM advisory_fleet_stats)",
        )
        .fetch_one(&mut *tx)
        .await?;
        if marks == 0 {
            tx.commit().await?;
            return Ok(0);
        }
        if many(marks, stored) {
            // One sequential pass and a sort: walking the index over millions of rows reads the
            // table in random order and took 2.5 times as long.
            for sql in [
                "SET LOCAL enable_indexscan = off",
                "SET LOCAL enable_bitmapscan = off",
                "DELETE FROM advisory_fleet_stats",
            ] {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
            let sql = format!("{INSERT_STATS} {counts} WHERE {OPEN} GROUP BY df.advisory_id");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "DELETE FROM advisory_fleet_stats WHERE advisory_id IN \
                 (SELECT advisory_id FROM advisory_stats_dirty)",
            )
            .execute(&mut *tx)
            .await?;
            let sql = format!(
                "{INSERT_STATS} {counts} WHERE df.advisory_id = ANY(ARRAY(SELECT DISTINCT \
                 advisory_id FROM advisory_stats_dirty)) AND {OPEN} GROUP BY df.advisory_id"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM advisory_stats_dirty")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // Every ingest appends marks and every refresh deletes them: the dead rows would make
        // each list's look at the marks read them all until autovacuum comes by (and it may be
        // off). Vacuuming the two small tables right away costs milliseconds.
        sqlx::query("VACUUM (ANALYZE) advisory_stats_dirty, advisory_fleet_stats")
            .execute(pool)
            .await?;
        Ok(u64::try_from(marks).unwrap_or(0))
    }

    /// SQLite: the counting runs in a read transaction, so the single write lock stays free for
    /// ingest and the job queue meanwhile (a full recount takes seconds at a thousand devices);
    /// only drawing the line and the replacement take it. With one writer, marks get their ids
    /// in commit order, so every mark up to the line was committed before the counts were read;
    /// later ones stay for the next refresh.
    async fn refresh_sqlite(&self, pool: &SqlitePool) -> Result<u64, StoreError> {
        let counts = advisory_counts();
        // First draw the line: marks up to here are this refresh's. From now on a change to an
        // advisory marked only at or below the line marks it again (the triggers), so a change
        // committed after the counts below were read is never left unmarked.
        let upto: i64 = {
            let mut tx = BeginWrite::begin_write(pool, &self.inner.write_turn).await?;
            let upto: i64 = sqlx::query_scalar(
                "UPDATE advisory_stats_horizon SET upto = \
                 (SELECT COALESCE(max(id), 0) FROM advisory_stats_dirty) WHERE id = 1 RETURNING upto",
            )
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            upto
        };
        let mut rx = pool.begin().await?;
        let (marks, stored): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM advisory_stats_dirty WHERE id <= $1), \
             (SELECT count(*) FROM advisory_fleet_stats)",
        )
        .bind(upto)
        .fetch_one(&mut *rx)
        .await?;
        if marks == 0 {
            rx.rollback().await?;
            return Ok(0);
        }
        let all = many(marks, stored);
        let scope = if all {
            String::new()
        } else {
            "df.advisory_id IN (SELECT advisory_id FROM advisory_stats_dirty WHERE id <= $1) AND"
                .to_owned()
        };
        let sql = format!("{counts} WHERE {scope} {OPEN} GROUP BY df.advisory_id");
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        if !all {
            q = q.bind(upto);
        }
        let rows: Vec<(String, i64, i64, i64, i64)> = q.fetch_all(&mut *rx).await?;
        let marked: Vec<String> = if all {
            Vec::new()
        } else {
            sqlx::query_scalar(
                "SELECT DISTINCT advisory_id FROM advisory_stats_dirty WHERE id <= $1",
            )
            .bind(upto)
            .fetch_all(&mut *rx)
            .await?
        };
        rx.rollback().await?;

        let mut tx = BeginWrite::begin_write(pool, &self.inner.write_turn).await?;
        if all {
            sqlx::query("DELETE FROM advisory_fleet_stats")
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "DELETE FROM advisory_fleet_stats WHERE advisory_id IN \
                 (SELECT j.value FROM json_each($1) AS j)",
            )
            .bind(Json(&marked))
            .execute(&mut *tx)
            .await?;
        }
        let sql = format!(
            "{INSERT_STATS} SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, \
             j.value ->> 4 FROM {}",
            json_rows(BackendKind::Sqlite, "$1")
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(Json(&rows))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM advisory_stats_dirty WHERE id <= $1")
            .bind(upto)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(u64::try_from(marks).unwrap_or(0))
    }

    /// The marks: the newest one's sequence number (unchanged between two looks means no
    /// device finding changed meanwhile) and how many wait for a recount, as the span of
    /// their sequence numbers (0 exactly when every advisory's stored counts are current;
    /// otherwise at least the number of marks, more where PostgreSQL's sequence skipped
    /// numbers). Both 0 when there are none.
    ///
    /// The span reads the two ends of the primary key. `count(*)` read every mark instead:
    /// while a fleet's first scans pile up millions of them on PostgreSQL, that took about
    /// 157 ms per metrics scrape.
    pub async fn advisory_stats_marks(&self) -> Result<AdvisoryMarks, StoreError> {
        self.timed("advisory_stats_marks", async {
            let (newest, pending): (i64, i64) = with_pool!(self, |pool| {
                sqlx::query_as(
                    "SELECT CAST(COALESCE(hi, 0) AS BIGINT), \
                     CAST(COALESCE(hi - lo + 1, 0) AS BIGINT) FROM \
                     (SELECT (SELECT max(id) FROM advisory_stats_dirty) AS hi, \
                     (SELECT min(id) FROM advisory_stats_dirty) AS lo) AS ends",
                )
                .fetch_one(pool)
                .await?
            });
            Ok(AdvisoryMarks { newest, pending })
        })
        .await
    }
}
