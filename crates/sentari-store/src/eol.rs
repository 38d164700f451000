//! End-of-life cycles as imported from endoflife.date (online or the offline bundle).
//!
//! Each cycle is kept with its record in the bundle's line format (`{product, cycle, …}`), so
//! the server rebuilds its lookup table from the database exactly as it would from a bundle.

use sqlx::types::Json;

use crate::error::StoreError;
use crate::inventory::{in_write_tx, json_rows};
use crate::store::{Store, with_pool};
use crate::ts::Ts;

/// One cycle to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EolCycleRow {
    pub product: String,
    pub cycle: String,
    pub release_date: Option<String>,
    pub eol: Option<String>,
    pub support: Option<String>,
    pub latest: Option<String>,
    pub lts: Option<String>,
    /// The cycle as one bundle line (JSON object with `product`).
    pub record: serde_json::Value,
}

impl Store {
    /// Upserts cycles in one transaction; returns how many rows were written.
    pub async fn import_eol_cycles(&self, rows: &[EolCycleRow]) -> Result<u64, StoreError> {
        let backend = self.backend();
        self.timed("import_eol_cycles", async {
            let now = Ts::now();
            let n = in_write_tx!(self, |tx| {
                let mut n = 0;
                for chunk in rows.chunks(2_000) {
                    let data: Vec<_> = chunk
                        .iter()
                        .map(|r| {
                            (
                                &r.product,
                                &r.cycle,
                                &r.release_date,
                                &r.eol,
                                &r.support,
                                &r.latest,
                                &r.lts,
                                r.record.to_string(),
                            )
                        })
                        .collect();
                    let record_expr = match backend {
                        crate::store::BackendKind::Sqlite => "j.value ->> 7",
                        crate::store::BackendKind::Postgres => "(j.value ->> 7)::jsonb",
                    };
                    let sql = format!(
                        "INSERT INTO eol_cycles (product, cycle, release_date, eol, support, latest, lts, \
                         record, updated_at) SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, \
                         j.value ->> 3, j.value ->> 4, j.value ->> 5, j.value ->> 6, {record_expr}, $2 \
                         FROM {} WHERE true ON CONFLICT (product, cycle) DO UPDATE SET \
                         release_date = excluded.release_date, eol = excluded.eol, support = excluded.support, \
                         latest = excluded.latest, lts = excluded.lts, record = excluded.record, \
                         updated_at = excluded.updated_at",
                        json_rows(backend, "$1")
                    );
                    n += sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                        .bind(Json(&data))
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                n
            });
            Ok(n)
        })
        .await
    }

    /// Every stored cycle record (bundle line format).
    pub async fn eol_records(&self) -> Result<Vec<serde_json::Value>, StoreError> {
        self.timed("eol_records", async {
            let rows: Vec<Json<serde_json::Value>> = with_pool!(self, |pool| sqlx::query_scalar(
                "SELECT record FROM eol_cycles ORDER BY product, cycle"
            )
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(|j| j.0).collect())
        })
        .await
    }

    /// A cheap fingerprint of the stored cycles (count and newest update), for caches.
    pub async fn eol_fingerprint(&self) -> Result<(i64, Option<i64>), StoreError> {
        self.timed("eol_fingerprint", async {
            let (n, at): (i64, Option<Ts>) = with_pool!(self, |pool| sqlx::query_as(
                "SELECT count(*), max(updated_at) FROM eol_cycles"
            )
            .fetch_one(pool)
            .await?);
            Ok((n, at.map(|t| t.unix_micros())))
        })
        .await
    }
}
