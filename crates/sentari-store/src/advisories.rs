//! OSV advisories as imported from a feed, the keys they name, and feed status per source.
//!
//! An import is applied in one transaction: a bundle that turns out to be truncated or corrupt
//! is rejected before anything is written, so the previous data stays intact. Records are
//! upserted by id and `modified`; the import reports which `(ecosystem, name)` keys changed so
//! correlation re-evaluates only those.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::inventory::{in_write_tx, json_rows};
use crate::store::{BackendKind, Store, with_pool};
use crate::ts::Ts;

/// One advisory ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvisoryRow {
    pub id: String,
    pub modified: String,
    pub published: Option<String>,
    pub withdrawn: Option<String>,
    pub summary: Option<String>,
    pub aliases: Vec<String>,
    pub severity_type: Option<String>,
    pub severity_vector: Option<String>,
    pub severity_score: Option<f64>,
    /// Lowercase rating (`critical` … `none`), when known.
    pub severity_rating: Option<String>,
    /// Where it came from (`osv:PyPI`, `bundle:/path`).
    pub source: String,
    /// The record as published (JSON text).
    pub record: String,
    /// The `(ecosystem without release, normalised name)` keys it names.
    pub keys: Vec<(String, String)>,
}

/// What is stored of an advisory id, to decide whether an incoming copy is newer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    pub modified: String,
    pub withdrawn: bool,
}

/// What an import wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportWrite {
    /// Advisories new to the database.
    pub added: u64,
    /// Advisories replaced by a newer copy.
    pub updated: u64,
    /// Advisories now withdrawn (new withdrawn records count too).
    pub withdrawn: u64,
    /// Keys whose advisories changed.
    pub changed_keys: Vec<(String, String)>,
}

/// An advisory as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Advisory {
    pub id: String,
    pub modified: String,
    pub published: Option<String>,
    pub withdrawn: Option<String>,
    pub summary: Option<String>,
    pub aliases: Vec<String>,
    pub severity_type: Option<String>,
    pub severity_vector: Option<String>,
    pub severity_score: Option<f64>,
    pub severity_rating: Option<String>,
    pub source: String,
    pub record: Value,
    pub first_seen: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct AdvisoryRecord {
    id: String,
    modified: String,
    published: Option<String>,
    withdrawn: Option<String>,
    summary: Option<String>,
    aliases: Json<Vec<String>>,
    severity_type: Option<String>,
    severity_vector: Option<String>,
    severity_score: Option<f64>,
    severity_rating: Option<String>,
    source: String,
    record: String,
    first_seen: Ts,
    updated_at: Ts,
}

/// Feed status of one source (`osv:PyPI`, `osv:bundle`, `eol`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeedStatus {
    pub source: String,
    pub last_attempt: Option<OffsetDateTime>,
    pub last_success: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub last_error_at: Option<OffsetDateTime>,
    pub record_count: i64,
    /// Source-specific details (ETag, Last-Modified, file, summary of the last run).
    pub detail: Value,
}

#[derive(sqlx::FromRow)]
struct FeedRecord {
    source: String,
    last_attempt: Option<Ts>,
    last_success: Option<Ts>,
    last_error: Option<String>,
    last_error_at: Option<Ts>,
    record_count: i64,
    detail: Json<Value>,
}

impl From<FeedRecord> for FeedStatus {
    fn from(r: FeedRecord) -> Self {
        FeedStatus {
            source: r.source,
            last_attempt: r.last_attempt.map(Ts::get),
            last_success: r.last_success.map(Ts::get),
            last_error: r.last_error,
            last_error_at: r.last_error_at.map(Ts::get),
            record_count: r.record_count,
            detail: r.detail.0,
        }
    }
}

const ADVISORY_COLUMNS: &str = "id, modified, published, withdrawn, summary, aliases, severity_type, \
    severity_vector, severity_score, severity_rating, source, record, first_seen, updated_at";

impl Store {
    /// `modified` and withdrawn state of every stored advisory.
    pub async fn advisory_versions(&self) -> Result<HashMap<String, StoredVersion>, StoreError> {
        self.timed("advisory_versions", async {
            let rows: Vec<(String, String, Option<String>)> = with_pool!(self, |pool| {
                sqlx::query_as("SELECT id, modified, withdrawn FROM advisories")
                    .fetch_all(pool)
                    .await?
            });
            Ok(rows
                .into_iter()
                .map(|(id, modified, w)| {
                    (
                        id,
                        StoredVersion {
                            modified,
                            withdrawn: w.is_some(),
                        },
                    )
                })
                .collect())
        })
        .await
    }

    /// Writes new and changed advisories in one transaction and reports the changed keys
    /// (those the old copies named and those the new copies name).
    pub async fn import_advisories(&self, rows: &[AdvisoryRow]) -> Result<ImportWrite, StoreError> {
        let backend = self.backend();
        self.timed("import_advisories", async {
            let now = Ts::now();
            let mut out = ImportWrite::default();
            let mut keys: BTreeSet<(String, String)> = BTreeSet::new();
            in_write_tx!(self, |tx| {
                for chunk in rows.chunks(2_000) {
                    let ids: Vec<&str> = chunk.iter().map(|r| r.id.as_str()).collect();
                    let sql = format!(
                        "SELECT ap.ecosystem, ap.name FROM advisory_packages ap WHERE ap.advisory_id IN \
                         (SELECT j.value ->> 0 FROM {})",
                        json_rows(backend, "$1")
                    );
                    let wrapped: Vec<[&str; 1]> = ids.iter().map(|i| [*i]).collect();
                    let old_keys: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                        .bind(Json(&wrapped))
                        .fetch_all(&mut *tx)
                        .await?;
                    keys.extend(old_keys);
                    let sql = format!(
                        "SELECT id, withdrawn FROM advisories WHERE id IN (SELECT j.value ->> 0 FROM {})",
                        json_rows(backend, "$1")
                    );
                    let existing: Vec<(String, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                        .bind(Json(&wrapped))
                        .fetch_all(&mut *tx)
                        .await?;
                    let existing: HashMap<String, bool> = existing
                        .into_iter()
                        .map(|(id, w)| (id, w.is_some()))
                        .collect();
                    for r in chunk {
                        match existing.get(&r.id) {
                            None => out.added += 1,
                            Some(_) => out.updated += 1,
                        }
                        if r.withdrawn.is_some() && !existing.get(&r.id).copied().unwrap_or(false) {
                            out.withdrawn += 1;
                        }
                        keys.extend(r.keys.iter().cloned());
                    }
                    let adv_rows: Vec<_> = chunk
                        .iter()
                        .map(|r| {
                            (
                                &r.id,
                                &r.modified,
                                &r.published,
                                &r.withdrawn,
                                &r.summary,
                                serde_json::to_string(&r.aliases).unwrap_or_else(|_| "[]".into()),
                                &r.severity_type,
                                &r.severity_vector,
                                r.severity_score,
                                &r.severity_rating,
                                &r.source,
                                &r.record,
                            )
                        })
                        .collect();
                    let aliases_expr = match backend {
                        BackendKind::Sqlite => "j.value ->> 5",
                        BackendKind::Postgres => "(j.value ->> 5)::jsonb",
                    };
                    let score_expr = match backend {
                        BackendKind::Sqlite => "j.value ->> 8",
                        BackendKind::Postgres => "(j.value ->> 8)::double precision",
                    };
                    let sql = format!(
                        "INSERT INTO advisories (id, modified, published, withdrawn, summary, aliases, \
                         severity_type, severity_vector, severity_score, severity_rating, source, record, \
                         first_seen, updated_at) \
                         SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, \
                         {aliases_expr}, j.value ->> 6, j.value ->> 7, {score_expr}, j.value ->> 9, \
                         j.value ->> 10, j.value ->> 11, $2, $2 FROM {} WHERE true \
                         ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, \
                         published = excluded.published, withdrawn = excluded.withdrawn, \
                         summary = excluded.summary, aliases = excluded.aliases, \
                         severity_type = excluded.severity_type, severity_vector = excluded.severity_vector, \
                         severity_score = excluded.severity_score, severity_rating = excluded.severity_rating, \
                         source = excluded.source, record = excluded.record, updated_at = excluded.updated_at",
                        json_rows(backend, "$1")
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                        .bind(Json(&adv_rows))
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    let sql = format!(
                        "DELETE FROM advisory_packages WHERE advisory_id IN (SELECT j.value ->> 0 FROM {})",
                        json_rows(backend, "$1")
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                        .bind(Json(&wrapped))
                        .execute(&mut *tx)
                        .await?;
                    let sql = format!(
                        "DELETE FROM advisory_aliases WHERE advisory_id IN (SELECT j.value ->> 0 FROM {})",
                        json_rows(backend, "$1")
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                        .bind(Json(&wrapped))
                        .execute(&mut *tx)
                        .await?;
                    let mut key_rows: Vec<(&str, &str, &str)> = Vec::new();
                    let mut alias_rows: Vec<(&str, &str)> = Vec::new();
                    for r in chunk {
                        let mut seen = BTreeSet::new();
                        for (e, n) in &r.keys {
                            if seen.insert((e, n)) {
                                key_rows.push((e, n, &r.id));
                            }
                        }
                        let mut seen = BTreeSet::new();
                        for a in &r.aliases {
                            if seen.insert(a) {
                                alias_rows.push((a, &r.id));
                            }
                        }
                    }
                    if !key_rows.is_empty() {
                        let sql = format!(
                            "INSERT INTO advisory_packages (ecosystem, name, advisory_id) \
                             SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2 FROM {} WHERE true \
                             ON CONFLICT DO NOTHING",
                            json_rows(backend, "$1")
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                            .bind(Json(&key_rows))
                            .execute(&mut *tx)
                            .await?;
                    }
                    if !alias_rows.is_empty() {
                        let sql = format!(
                            "INSERT INTO advisory_aliases (alias, advisory_id) \
                             SELECT j.value ->> 0, j.value ->> 1 FROM {} WHERE true ON CONFLICT DO NOTHING",
                            json_rows(backend, "$1")
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                            .bind(Json(&alias_rows))
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            });
            out.changed_keys = keys.into_iter().collect();
            Ok(out)
        })
        .await
    }

    /// The JSON records of the live (not withdrawn) advisories naming any of `keys`.
    pub async fn advisory_records_for_keys(
        &self,
        keys: &[(String, String)],
    ) -> Result<Vec<String>, StoreError> {
        let backend = self.backend();
        self.timed("advisory_records_for_keys", async {
            let mut out = Vec::new();
            let sql = format!(
                "SELECT a.record FROM advisories a WHERE a.withdrawn IS NULL AND a.id IN \
                 (SELECT ap.advisory_id FROM {} JOIN advisory_packages ap \
                  ON ap.ecosystem = j.value ->> 0 AND ap.name = j.value ->> 1)",
                json_rows(backend, "$1")
            );
            for chunk in keys.chunks(5_000) {
                let rows: Vec<String> = with_pool!(self, |pool| sqlx::query_scalar(
                    sqlx::AssertSqlSafe(sql.as_str())
                )
                .bind(Json(chunk))
                .fetch_all(pool)
                .await?);
                out.extend(rows);
            }
            Ok(out)
        })
        .await
    }

    /// One advisory by id or by one of its aliases (CVE, GHSA).
    pub async fn get_advisory(&self, id: &str) -> Result<Option<Advisory>, StoreError> {
        self.timed("get_advisory", async {
            let sql = format!(
                "SELECT {ADVISORY_COLUMNS} FROM advisories WHERE id = $1 \
                 OR id = (SELECT advisory_id FROM advisory_aliases WHERE alias = $1 ORDER BY advisory_id LIMIT 1) \
                 ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1"
            );
            let r: Option<AdvisoryRecord> = with_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(id)
                .fetch_optional(pool)
                .await?);
            Ok(r.map(|r| Advisory {
                id: r.id,
                modified: r.modified,
                published: r.published,
                withdrawn: r.withdrawn,
                summary: r.summary,
                aliases: r.aliases.0,
                severity_type: r.severity_type,
                severity_vector: r.severity_vector,
                severity_score: r.severity_score,
                severity_rating: r.severity_rating,
                source: r.source,
                record: serde_json::from_str(&r.record).unwrap_or(Value::Null),
                first_seen: r.first_seen.get(),
                updated_at: r.updated_at.get(),
            }))
        })
        .await
    }

    /// Advisories stored, and how many are withdrawn.
    pub async fn advisory_counts(&self) -> Result<(i64, i64), StoreError> {
        self.timed("advisory_counts", async {
            let r: (i64, i64) = with_pool!(self, |pool| sqlx::query_as(
                "SELECT count(*), count(withdrawn) FROM advisories"
            )
            .fetch_one(pool)
            .await?);
            Ok(r)
        })
        .await
    }

    /// Records the start of a feed run.
    pub async fn feed_attempt(&self, source: &str) -> Result<(), StoreError> {
        self.timed("feed_attempt", async {
            with_pool!(self, |pool| sqlx::query(
                "INSERT INTO feed_status (source, last_attempt) VALUES ($1, $2) \
                 ON CONFLICT (source) DO UPDATE SET last_attempt = excluded.last_attempt"
            )
            .bind(source)
            .bind(Ts::now())
            .execute(pool)
            .await?
            .rows_affected());
            Ok(())
        })
        .await
    }

    /// Records a successful feed run with what the source now holds.
    pub async fn feed_success(
        &self,
        source: &str,
        record_count: i64,
        detail: &Value,
    ) -> Result<(), StoreError> {
        self.timed("feed_success", async {
            let now = Ts::now();
            with_pool!(self, |pool| sqlx::query(
                "INSERT INTO feed_status (source, last_attempt, last_success, record_count, detail) \
                 VALUES ($1, $2, $2, $3, $4) \
                 ON CONFLICT (source) DO UPDATE SET last_success = excluded.last_success, \
                 record_count = excluded.record_count, detail = excluded.detail"
            )
            .bind(source)
            .bind(now)
            .bind(record_count)
            .bind(Json(detail))
            .execute(pool)
            .await?
            .rows_affected());
            Ok(())
        })
        .await
    }

    /// Records a failed feed run; the data it had stays as it was.
    pub async fn feed_failure(&self, source: &str, error: &str) -> Result<(), StoreError> {
        self.timed("feed_failure", async {
            let now = Ts::now();
            with_pool!(self, |pool| sqlx::query(
                "INSERT INTO feed_status (source, last_attempt, last_error, last_error_at) \
                 VALUES ($1, $2, $3, $2) \
                 ON CONFLICT (source) DO UPDATE SET last_error = excluded.last_error, \
                 last_error_at = excluded.last_error_at"
            )
            .bind(source)
            .bind(now)
            .bind(error)
            .execute(pool)
            .await?
            .rows_affected());
            Ok(())
        })
        .await
    }

    /// Every feed source's status, by source name.
    pub async fn feed_statuses(&self) -> Result<Vec<FeedStatus>, StoreError> {
        self.timed("feed_statuses", async {
            let rows: Vec<FeedRecord> = with_pool!(self, |pool| sqlx::query_as(
                "SELECT source, last_attempt, last_success, last_error, last_error_at, record_count, detail \
                 FROM feed_status ORDER BY source"
            )
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(FeedStatus::from).collect())
        })
        .await
    }

    /// The status of one source.
    pub async fn feed_status(&self, source: &str) -> Result<Option<FeedStatus>, StoreError> {
        Ok(self
            .feed_statuses()
            .await?
            .into_iter()
            .find(|f| f.source == source))
    }
}
