//! Planner statistics and dead-row cleanup on a PostgreSQL whose autovacuum is off.
//!
//! PostgreSQL plans every query from the statistics that `ANALYZE` gathers, and reuses the
//! space of updated rows only after `VACUUM`; autovacuum does both as tables change. With
//! autovacuum off (some hardened or hand-tuned installations turn it off), a fleet's first
//! scans leave the inventory tables without any statistics and bloat the few rows that every
//! scan updates (a version's device count, a device's counters). In the fleet benchmark at
//! 10,000 devices that made the packages list take 287 ms at p95 and the critical findings
//! list 1.3 s; a plain `ANALYZE` brought them to 17 and 31 ms (`docs/BENCHMARKS.md`).
//!
//! [`Store::maintain_tables`] does what autovacuum would, with its default thresholds (dead
//! rows, changed rows, and inserted rows since PostgreSQL 13), and
//! nothing at all when autovacuum is on or on SQLite (whose planner keeps no statistics here
//! and whose freed pages are reused without a vacuum).

use sqlx::PgPool;

use crate::error::StoreError;
use crate::store::{Pool, Store};

/// Autovacuum's default `autovacuum_analyze_threshold` and `autovacuum_analyze_scale_factor`:
/// a table is analyzed once this many rows changed since its last analysis.
const ANALYZE_BASE: f64 = 50.0;
const ANALYZE_SCALE: f64 = 0.1;
/// Autovacuum's default `autovacuum_vacuum_threshold` and `autovacuum_vacuum_scale_factor`.
const VACUUM_BASE: f64 = 50.0;
const VACUUM_SCALE: f64 = 0.2;
/// Autovacuum's default `autovacuum_vacuum_insert_threshold` and
/// `autovacuum_vacuum_insert_scale_factor` (PostgreSQL 13 and later): a table that only grows
/// is vacuumed too, which sets its pages all-visible so that index-only scans need not visit
/// the table. The inventory tables mostly grow (device packages and findings).
const INSERT_BASE: f64 = 1000.0;
const INSERT_SCALE: f64 = 0.2;

/// A lock key of `pg_try_advisory_lock`, so that only one process maintains the tables at a
/// time (two would wait on each other's `VACUUM` of the same table). It spells "sentari".
const MAINTENANCE_LOCK: i64 = 0x0073_656e_7461_7269;

/// What one maintenance pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableMaintenance {
    /// Tables vacuumed (and analyzed with it).
    pub vacuumed: Vec<String>,
    /// Tables analyzed only.
    pub analyzed: Vec<String>,
}

impl Store {
    /// On PostgreSQL with autovacuum off, vacuums and analyzes the tables of the current
    /// schema that autovacuum would have (by its default thresholds, from the table's activity
    /// counters). Returns `None` when there is nothing for it to do here: SQLite, autovacuum
    /// on, or another process holding the maintenance lock.
    pub async fn maintain_tables(&self) -> Result<Option<TableMaintenance>, StoreError> {
        self.timed("maintain_tables", async {
            match &self.inner.pool {
                Pool::Postgres(pool) => maintain_postgres(pool).await,
                Pool::Sqlite(_) => Ok(None),
            }
        })
        .await
    }
}

async fn maintain_postgres(pool: &PgPool) -> Result<Option<TableMaintenance>, StoreError> {
    // VACUUM cannot run in a transaction, and an advisory lock belongs to its session: one
    // connection holds the lock and runs every statement.
    let mut conn = pool.acquire().await?;
    let autovacuum: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
        .fetch_one(&mut *conn)
        .await?;
    if autovacuum == "on" {
        return Ok(None);
    }
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(MAINTENANCE_LOCK)
        .fetch_one(&mut *conn)
        .await?;
    if !locked {
        return Ok(None);
    }
    // Paced like autovacuum (its default `autovacuum_vacuum_cost_delay`), so that a vacuum of
    // a large table yields to the ingest instead of competing with it for the disk.
    let outcome = match sqlx::query("SET vacuum_cost_delay = '2ms'")
        .execute(&mut *conn)
        .await
    {
        Ok(_) => maintain_with(&mut conn).await,
        Err(e) => Err(e.into()),
    };
    // The lock and the setting are given back even when a statement failed; should that fail
    // too, the connection is closed instead of going back to the pool with the lock held.
    let released = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MAINTENANCE_LOCK)
        .execute(&mut *conn)
        .await
        .and(Ok(()));
    let reset = sqlx::query("RESET vacuum_cost_delay")
        .execute(&mut *conn)
        .await
        .and(Ok(()));
    if released.and(reset).is_err() {
        conn.detach();
    }
    outcome.map(Some)
}

async fn maintain_with(conn: &mut sqlx::PgConnection) -> Result<TableMaintenance, StoreError> {
    // PostgreSQL counts inserts since the last vacuum from version 13 on.
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut *conn)
        .await?;
    let inserted = if version >= 130_000 {
        "n_ins_since_vacuum"
    } else {
        "0::bigint"
    };
    let tables: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT relname::text, n_live_tup, n_dead_tup, n_mod_since_analyze, {inserted} \
             FROM pg_stat_user_tables WHERE schemaname = current_schema() ORDER BY relname"
    )))
    .fetch_all(&mut *conn)
    .await?;
    let mut done = TableMaintenance::default();
    for (table, live, dead, modified, inserted) in tables {
        let live = live as f64;
        let vacuum = dead as f64 > VACUUM_BASE + VACUUM_SCALE * live
            || inserted as f64 > INSERT_BASE + INSERT_SCALE * live;
        let analyze = modified as f64 > ANALYZE_BASE + ANALYZE_SCALE * live;
        let sql = match (vacuum, analyze) {
            (true, _) => format!("VACUUM (ANALYZE) {}", quote_ident(&table)),
            (false, true) => format!("ANALYZE {}", quote_ident(&table)),
            (false, false) => continue,
        };
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await?;
        if vacuum {
            done.vacuumed.push(table);
        } else {
            done.analyzed.push(table);
        }
    }
    Ok(done)
}

/// A table name as a quoted SQL identifier. The names come from the catalog, not from users,
/// but quoting keeps any name (mixed case, a quote in it) a single identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::quote_ident;

    #[test]
    fn identifiers_are_quoted_whole() {
        assert_eq!(quote_ident("devices"), "\"devices\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
