//! Findings: the evaluation results per distinct package version × advisory, their fan-out to
//! the devices that have each version, the per-device open counts, and suppressions.
//!
//! The correlator (in the server) evaluates package versions with `sentari-core` and hands the
//! results here; [`Store::record_evaluations`] turns them into new, updated, reopened and
//! resolved findings and propagates each change to `device_findings` in the same transaction.
//! Suppression is materialised on `device_findings.suppressed` so that every list and count is a
//! plain indexed filter; changing a suppression refreshes the rows in its scope.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;
use crate::inventory::{in_write_tx, json_rows};
use crate::store::{BackendKind, Store, with_pool};
use crate::ts::Ts;

/// A package version to evaluate.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PackageVersionKey {
    pub id: i64,
    pub ecosystem: String,
    pub name: String,
    pub version: String,
    pub source_name: String,
    pub match_ecosystem: String,
    pub match_name: String,
}

/// One advisory that matched a package version.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFinding {
    pub advisory_id: String,
    /// Lowercase rating, or `unknown`.
    pub severity_rating: String,
    pub severity_score: Option<f64>,
    pub severity_type: Option<String>,
    pub severity_vector: Option<String>,
    /// The `fixed` event above the version, when the range has one.
    pub fixed_version: Option<String>,
    /// Why it matched (advisory, aliases, ecosystem, range or listed version, comparator).
    pub reason: Value,
}

/// The result of evaluating one package version.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub package_version_id: i64,
    /// `evaluated`, `unparsable_version` or `unsupported_ecosystem`.
    pub status: String,
    /// Every advisory that matches now (for `evaluated`).
    pub findings: Vec<NewFinding>,
}

/// What recording evaluations changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvaluationChanges {
    pub new_findings: u64,
    pub reopened: u64,
    pub updated: u64,
    pub resolved: u64,
    /// Devices whose open findings changed.
    pub devices: u64,
}

/// A suppression rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppression {
    pub id: Uuid,
    /// `advisory`, `advisory_package`, `device` or `tag`.
    pub scope: String,
    pub advisory_id: Option<String>,
    pub ecosystem: Option<String>,
    pub package_name: Option<String>,
    pub device_id: Option<Uuid>,
    pub tag: Option<String>,
    pub reason: String,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct SuppressionRecord {
    id: Uuid,
    scope: String,
    advisory_id: Option<String>,
    ecosystem: Option<String>,
    package_name: Option<String>,
    device_id: Option<Uuid>,
    tag: Option<String>,
    reason: String,
    created_by: String,
    created_at: Ts,
    expires_at: Option<Ts>,
}

impl From<SuppressionRecord> for Suppression {
    fn from(r: SuppressionRecord) -> Self {
        Suppression {
            id: r.id,
            scope: r.scope,
            advisory_id: r.advisory_id,
            ecosystem: r.ecosystem,
            package_name: r.package_name,
            device_id: r.device_id,
            tag: r.tag,
            reason: r.reason,
            created_by: r.created_by,
            created_at: r.created_at.get(),
            expires_at: r.expires_at.map(Ts::get),
        }
    }
}

const SUPPRESSION_COLUMNS: &str = "id, scope, advisory_id, ecosystem, package_name, device_id, tag, \
    reason, created_by, created_at, expires_at";

/// The SQL truth value "a live suppression covers this device finding", for a row where `d` is
/// the device, `pv` the package version and `adv` the advisory id expression; `now` is the
/// parameter holding the current time.
pub(crate) fn suppressed_expr(backend: BackendKind, adv: &str, now: &str) -> String {
    let tag_check = match backend {
        BackendKind::Sqlite => "EXISTS (SELECT 1 FROM json_each(d.tags) t WHERE t.value = s.tag)",
        BackendKind::Postgres => "jsonb_exists(d.tags, s.tag)",
    };
    format!(
        "EXISTS (SELECT 1 FROM suppressions s WHERE (s.expires_at IS NULL OR s.expires_at > {now}) AND (\
         (s.scope = 'advisory' AND s.advisory_id = {adv}) OR \
         (s.scope = 'advisory_package' AND s.advisory_id = {adv} AND s.ecosystem = pv.match_ecosystem \
          AND s.package_name = pv.match_name) OR \
         (s.scope = 'device' AND s.device_id = d.id AND (s.advisory_id IS NULL OR s.advisory_id = {adv})) OR \
         (s.scope = 'tag' AND (s.advisory_id IS NULL OR s.advisory_id = {adv}) AND {tag_check})))"
    )
}

/// `IN (…)` over the distinct package version ids in the first element of each row of the
/// JSON array parameter `param`: `[[id, …], …]`. PostgreSQL gets an array, which it probes an
/// index with (a join against the JSON rows could be planned as a full scan). The array is
/// sorted: when the planner puts the probe inside a nested loop, PostgreSQL 15 sorts the array
/// again on every rescan of the index, and a sorted array passes that sort's presorted check in
/// one pass (the correlation fan-out of 5,222 findings of a new 20,000-package device, which
/// used this array before it probed each finding's devices with `LATERAL`, took 1,145 ms with
/// an unsorted array, 327 ms with a sorted one).
fn versions_in(backend: BackendKind, param: &str) -> String {
    match backend {
        BackendKind::Sqlite => {
            format!("IN (SELECT CAST(j.value ->> 0 AS BIGINT) FROM json_each({param}) AS j)")
        }
        BackendKind::Postgres => format!(
            "= ANY(ARRAY(SELECT DISTINCT CAST(j.value ->> 0 AS BIGINT) AS v \
             FROM jsonb_array_elements({param}) AS j(value) ORDER BY v))"
        ),
    }
}

/// For statements that also join the JSON rows: on PostgreSQL, `AND {col}` restricted to the
/// versions as an array (see [`versions_in`]), so the planner can probe `col`'s index instead
/// of scanning the table; nothing on SQLite, whose planner drives such a join from the JSON
/// rows already, and which given the extra `IN` drove it from the table instead, re-reading
/// the JSON for every row (the OSV import into a 1,000-device fleet never finished).
fn and_versions(backend: BackendKind, col: &str, param: &str) -> String {
    match backend {
        BackendKind::Sqlite => String::new(),
        BackendKind::Postgres => format!(" AND {col} {}", versions_in(backend, param)),
    }
}

/// Recomputes the open-finding counters of devices (`None`: of every device).
macro_rules! refresh_counts {
    ($tx:expr, $backend:expr, $devices:expr) => {{
        let devices: Option<&[Uuid]> = $devices;
        // One pass over the device's open findings for all six counters.
        let count = |cond: &str| format!("COALESCE(sum(CASE WHEN {cond} THEN 1 ELSE 0 END), 0)");
        let set = format!(
            "(open_critical, open_high, open_medium, open_low, open_unknown, open_suppressed) = \
             (SELECT {}, {}, {}, {}, {}, {} FROM device_findings df \
             WHERE df.device_id = devices.id AND df.resolved_at IS NULL)",
            count("NOT df.suppressed AND df.severity_rating = 'critical'"),
            count("NOT df.suppressed AND df.severity_rating = 'high'"),
            count("NOT df.suppressed AND df.severity_rating = 'medium'"),
            count("NOT df.suppressed AND df.severity_rating = 'low'"),
            count("NOT df.suppressed AND df.severity_rating NOT IN ('critical', 'high', 'medium', 'low')"),
            count("df.suppressed"),
        );
        match devices {
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE devices SET {set}")))
                    .execute(&mut *$tx)
                    .await?;
            }
            Some(ids) if ids.is_empty() => {}
            Some(ids) => {
                let sql = match $backend {
                    $crate::store::BackendKind::Sqlite => format!(
                        "UPDATE devices SET {set} WHERE id IN (SELECT unhex(j.value) FROM {})",
                        $crate::inventory::json_rows($backend, "$1")
                    ),
                    $crate::store::BackendKind::Postgres => format!(
                        "UPDATE devices SET {set} WHERE id IN (SELECT (j.value #>> '{{}}')::uuid FROM {})",
                        $crate::inventory::json_rows($backend, "$1")
                    ),
                };
                let list: Vec<String> = ids.iter().map(|u| $crate::findings::device_key($backend, u)).collect();
                for chunk in list.chunks(10_000) {
                    sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(Json(chunk)).execute(&mut *$tx).await?;
                }
            }
        }
    }};
}
pub(crate) use refresh_counts;

/// How the statement of [`insert_device_findings`] meets device findings that exist already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExistingRows {
    /// A device may have the finding already, open or resolved: a resolved one is reopened.
    Reopen,
    /// No device row can exist yet: the findings are new to the fleet, or the device has never
    /// had a scan applied. The statement then skips the update clause, which made every row
    /// cost a fifth more on SQLite (fanning out one million device findings: 7.1–7.9 s against
    /// 8.5–10.9 s).
    NoneYet,
}

/// The statements that give devices open findings (and, with [`ExistingRows::Reopen`],
/// reopen ones they had resolved): `source` is the `FROM … WHERE …` that yields `dp` (device
/// package), `f` (finding), `d` (device) and `pv` (package version); `$2` is the current time.
///
/// A device that has a version at several paths yields its findings once per path. The
/// repeats are left to the conflict clause, where they meet the row just opened and change
/// nothing: a `DISTINCT` sorted every row of the statement in a temporary b-tree that spilled
/// to disk (on SQLite, fanning out one million device findings took 15.8–19.3 s with it,
/// 10.8 s without). Only PostgreSQL's `ON CONFLICT DO UPDATE` keeps the `DISTINCT`: it
/// refuses to meet a row that the same statement inserted.
///
/// On SQLite the second statement marks the advisories the insert may have added rows for
/// (those `advisories` yields, a `SELECT` of one `advisory_id` column) for the advisory-count
/// refresh; the caller runs it in the same transaction, with its own parameters, whenever the
/// insert wrote a row. A row trigger did this before and cost about a tenth of the insert
/// (migration 0440). PostgreSQL's statement trigger marks them itself, once per statement, so
/// it has no second statement.
pub(crate) fn insert_device_findings(
    backend: BackendKind,
    source: &str,
    existing: ExistingRows,
    advisories: &str,
) -> (String, Option<String>) {
    let (distinct, conflict) = match (existing, backend) {
        (ExistingRows::NoneYet, _) => ("", "DO NOTHING"),
        (ExistingRows::Reopen, BackendKind::Sqlite) => ("", REOPEN),
        (ExistingRows::Reopen, BackendKind::Postgres) => ("DISTINCT ", REOPEN),
    };
    let insert = format!(
        "INSERT INTO device_findings (device_id, package_version_id, advisory_id, \
         severity_rating, suppressed, detected_at) \
         SELECT {distinct}dp.device_id, f.package_version_id, f.advisory_id, f.severity_rating, \
         {sup}, $2 FROM {source} \
         ON CONFLICT (device_id, package_version_id, advisory_id) {conflict}",
        sup = suppressed_expr(backend, "f.advisory_id", "$2"),
    );
    let mark = match backend {
        BackendKind::Sqlite => Some(format!(
            "INSERT INTO advisory_stats_dirty (advisory_id) \
             SELECT DISTINCT x.advisory_id FROM ({advisories}) AS x \
             WHERE NOT EXISTS (SELECT 1 FROM advisory_stats_dirty m \
             WHERE m.advisory_id = x.advisory_id \
             AND m.id > (SELECT upto FROM advisory_stats_horizon WHERE id = 1))"
        )),
        BackendKind::Postgres => None,
    };
    (insert, mark)
}

/// The conflict clause that reopens a device finding the device had resolved.
const REOPEN: &str = "DO UPDATE SET \
    resolved_at = NULL, resolution = NULL, detected_at = excluded.detected_at, \
    severity_rating = excluded.severity_rating, suppressed = excluded.suppressed \
    WHERE device_findings.resolved_at IS NOT NULL";

/// Gives a device the open findings of its package versions among `versions` (a JSON list of
/// ids), reopening ones it had resolved unless `existing` says it has none; evaluates to the
/// number of rows written. The caller refreshes the device's counters.
macro_rules! fan_out_findings {
    ($tx:expr, $backend:expr, $device_id:expr, $versions:expr, $now:expr, $existing:expr) => {{
        let versions: &[i64] = $versions;
        let (sql, mark) = $crate::findings::insert_device_findings(
            $backend,
            &format!(
                "device_packages dp \
                 JOIN findings f ON f.package_version_id = dp.package_version_id AND f.resolved_at IS NULL \
                 JOIN devices d ON d.id = dp.device_id \
                 JOIN package_versions pv ON pv.id = dp.package_version_id \
                 WHERE dp.device_id = $1 \
                 AND dp.package_version_id IN (SELECT CAST(j.value AS BIGINT) FROM {})",
                $crate::inventory::json_rows($backend, "$3")
            ),
            $existing,
            &format!(
                "SELECT f.advisory_id FROM findings f WHERE f.resolved_at IS NULL \
                 AND f.package_version_id IN (SELECT CAST(j.value AS BIGINT) FROM {})",
                $crate::inventory::json_rows($backend, "$1")
            ),
        );
        let n = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind($device_id)
            .bind($now)
            .bind(sqlx::types::Json(versions))
            .execute(&mut *$tx)
            .await?
            .rows_affected();
        if let Some(mark) = mark.filter(|_| n > 0) {
            sqlx::query(sqlx::AssertSqlSafe(mark.as_str()))
                .bind(sqlx::types::Json(versions))
                .execute(&mut *$tx)
                .await?;
        }
        n
    }};
}
pub(crate) use fan_out_findings;

/// How a device id travels inside a JSON list: hex for SQLite's blob ids, the usual text
/// form for PostgreSQL's uuid.
pub(crate) fn device_key(backend: BackendKind, id: &Uuid) -> String {
    match backend {
        BackendKind::Sqlite => hex_of(id.as_bytes()),
        BackendKind::Postgres => id.to_string(),
    }
}

fn hex_of(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

#[derive(sqlx::FromRow)]
struct ExistingFinding {
    package_version_id: i64,
    advisory_id: String,
    severity_rating: String,
    severity_score: Option<f64>,
    fixed_version: Option<String>,
    reason: Json<Value>,
    resolved: bool,
}

impl Store {
    /// Package versions among `ids` that have never been evaluated.
    pub async fn pending_package_versions(
        &self,
        ids: &[i64],
    ) -> Result<Vec<PackageVersionKey>, StoreError> {
        let backend = self.backend();
        self.timed("pending_package_versions", async {
            let sql = format!(
                "SELECT id, ecosystem, name, version, source_name, match_ecosystem, match_name \
                 FROM package_versions WHERE status = 'pending' AND id IN \
                 (SELECT CAST(j.value AS BIGINT) FROM {})",
                json_rows(backend, "$1")
            );
            let mut out = Vec::new();
            for chunk in ids.chunks(20_000) {
                let rows: Vec<PackageVersionKey> = with_pool!(self, |pool| sqlx::query_as(
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

    /// Every never-evaluated package version (after a crash between ingest and correlation).
    pub async fn all_pending_package_versions(
        &self,
        limit: i64,
    ) -> Result<Vec<PackageVersionKey>, StoreError> {
        self.timed("all_pending_package_versions", async {
            let rows: Vec<PackageVersionKey> = with_pool!(self, |pool| sqlx::query_as(
                "SELECT id, ecosystem, name, version, source_name, match_ecosystem, match_name \
                 FROM package_versions WHERE status = 'pending' ORDER BY id LIMIT $1"
            )
            .bind(limit)
            .fetch_all(pool)
            .await?);
            Ok(rows)
        })
        .await
    }

    /// The package versions whose advisory key is one of `keys` (evaluated or not).
    pub async fn package_versions_for_keys(
        &self,
        keys: &[(String, String)],
    ) -> Result<Vec<PackageVersionKey>, StoreError> {
        let backend = self.backend();
        self.timed("package_versions_for_keys", async {
            let sql = format!(
                "SELECT pv.id, pv.ecosystem, pv.name, pv.version, pv.source_name, pv.match_ecosystem, \
                 pv.match_name FROM {} JOIN package_versions pv ON pv.match_ecosystem = j.value ->> 0 \
                 AND pv.match_name = j.value ->> 1",
                json_rows(backend, "$1")
            );
            let mut out = Vec::new();
            for chunk in keys.chunks(5_000) {
                let rows: Vec<PackageVersionKey> = with_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(Json(chunk))
                    .fetch_all(pool)
                    .await?);
                out.extend(rows);
            }
            Ok(out)
        })
        .await
    }

    /// Records evaluation results: new findings are inserted, findings that still match are
    /// updated when their severity or reason changed, resolved ones that match again are
    /// reopened, and open findings that no longer match are resolved (as withdrawn when their
    /// advisory was withdrawn). Every change reaches the devices that have the version.
    pub async fn record_evaluations(
        &self,
        evals: &[Evaluation],
    ) -> Result<EvaluationChanges, StoreError> {
        let backend = self.backend();
        self.timed("record_evaluations", async {
            let now = Ts::now();
            let mut changes = EvaluationChanges::default();
            in_write_tx!(self, |tx| {
                // The devices whose findings changed, for the counters. They are refreshed once
                // after the last chunk: a refresh reads all of a device's open findings, and a feed
                // import touches most devices in every chunk.
                let mut touched: BTreeSet<Uuid> = BTreeSet::new();
                for chunk in evals.chunks(5_000) {
                    // One statement per status (there are three) rather than a per-row lookup.
                    let mut by_status: HashMap<&str, Vec<i64>> = HashMap::new();
                    for e in chunk {
                        by_status
                            .entry(e.status.as_str())
                            .or_default()
                            .push(e.package_version_id);
                    }
                    let sql = format!(
                        "UPDATE package_versions SET status = $2, evaluated_at = $3 \
                         WHERE id IN (SELECT CAST(j.value AS BIGINT) FROM {})",
                        json_rows(backend, "$1")
                    );
                    for (status, ids) in &by_status {
                        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                            .bind(Json(ids))
                            .bind(*status)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                    let ids: Vec<i64> = chunk.iter().map(|e| e.package_version_id).collect();
                    let sql = format!(
                        "SELECT package_version_id, advisory_id, severity_rating, severity_score, \
                         fixed_version, reason, resolved_at IS NOT NULL AS resolved FROM findings \
                         WHERE package_version_id IN (SELECT CAST(j.value AS BIGINT) FROM {})",
                        json_rows(backend, "$1")
                    );
                    let existing: Vec<ExistingFinding> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                        .bind(Json(&ids))
                        .fetch_all(&mut *tx)
                        .await?;
                    let existing: HashMap<(i64, &str), &ExistingFinding> = existing
                        .iter()
                        .map(|f| ((f.package_version_id, f.advisory_id.as_str()), f))
                        .collect();
                    let mut upserts = Vec::new();
                    // Findings new to the fleet, which no device has a row for, and findings
                    // reopened, which devices may have resolved rows for.
                    let mut fan_new: Vec<(i64, &str)> = Vec::new();
                    let mut fan_reopen: Vec<(i64, &str)> = Vec::new();
                    let mut severity_changed: Vec<(i64, &str, &str)> = Vec::new();
                    let mut matched: HashSet<(i64, &str)> = HashSet::new();
                    for e in chunk {
                        // Versions that could not be judged keep their findings as they were:
                        // "unknown" is never silently "unaffected".
                        if e.status != "evaluated" {
                            for f in existing.values() {
                                if f.package_version_id == e.package_version_id {
                                    matched.insert((f.package_version_id, f.advisory_id.as_str()));
                                }
                            }
                            continue;
                        }
                        for f in &e.findings {
                            let key = (e.package_version_id, f.advisory_id.as_str());
                            matched.insert(key);
                            match existing.get(&key) {
                                None => {
                                    changes.new_findings += 1;
                                    upserts.push((e.package_version_id, f));
                                    fan_new.push(key);
                                }
                                Some(old) if old.resolved => {
                                    changes.reopened += 1;
                                    upserts.push((e.package_version_id, f));
                                    fan_reopen.push(key);
                                }
                                Some(old) => {
                                    let differs = old.severity_rating != f.severity_rating
                                        || old.severity_score != f.severity_score
                                        || old.fixed_version != f.fixed_version
                                        || old.reason.0 != f.reason;
                                    if differs {
                                        changes.updated += 1;
                                        upserts.push((e.package_version_id, f));
                                        if old.severity_rating != f.severity_rating {
                                            severity_changed.push((
                                                e.package_version_id,
                                                f.advisory_id.as_str(),
                                                f.severity_rating.as_str(),
                                            ));
                                        }
                                    }
                                }
                            }
                        }
                    }
                    let to_resolve: Vec<(i64, &str)> = existing
                        .values()
                        .filter(|f| !f.resolved)
                        .map(|f| (f.package_version_id, f.advisory_id.as_str()))
                        .filter(|k| !matched.contains(k))
                        .collect();
                    if !upserts.is_empty() {
                        let rows: Vec<_> = upserts
                            .iter()
                            .map(|(pv, f)| {
                                (
                                    pv,
                                    &f.advisory_id,
                                    &f.severity_rating,
                                    f.severity_score,
                                    &f.severity_type,
                                    &f.severity_vector,
                                    &f.fixed_version,
                                    serde_json::to_string(&f.reason).unwrap_or_else(|_| "{}".into()),
                                )
                            })
                            .collect();
                        let (score, reason) = match backend {
                            BackendKind::Sqlite => ("j.value ->> 3", "j.value ->> 7"),
                            BackendKind::Postgres => (
                                "(j.value ->> 3)::double precision",
                                "(j.value ->> 7)::jsonb",
                            ),
                        };
                        let sql = format!(
                            "INSERT INTO findings (package_version_id, advisory_id, severity_rating, \
                             severity_score, severity_type, severity_vector, fixed_version, reason, detected_at) \
                             SELECT CAST(j.value ->> 0 AS BIGINT), j.value ->> 1, j.value ->> 2, {score}, \
                             j.value ->> 4, j.value ->> 5, j.value ->> 6, {reason}, $2 FROM {} WHERE true \
                             ON CONFLICT (package_version_id, advisory_id) DO UPDATE SET \
                             severity_rating = excluded.severity_rating, severity_score = excluded.severity_score, \
                             severity_type = excluded.severity_type, severity_vector = excluded.severity_vector, \
                             fixed_version = excluded.fixed_version, reason = excluded.reason, \
                             detected_at = CASE WHEN findings.resolved_at IS NULL THEN findings.detected_at \
                             ELSE excluded.detected_at END, resolved_at = NULL, resolution = NULL",
                            json_rows(backend, "$1")
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                            .bind(Json(&rows))
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                    if !to_resolve.is_empty() {
                        changes.resolved += to_resolve.len() as u64;
                        let sql = format!(
                            "UPDATE findings SET resolved_at = $2, resolution = CASE WHEN EXISTS \
                             (SELECT 1 FROM advisories a WHERE a.id = findings.advisory_id AND a.withdrawn IS NOT NULL) \
                             THEN 'advisory_withdrawn' ELSE 'no_longer_affected' END \
                             WHERE resolved_at IS NULL AND (package_version_id, advisory_id) IN \
                             (SELECT CAST(j.value ->> 0 AS BIGINT), j.value ->> 1 FROM {})",
                            json_rows(backend, "$1")
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                            .bind(Json(&to_resolve))
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                    // Propagation to devices, collecting the devices touched for the counters.
                    let fan_outs = [
                        (&fan_new, ExistingRows::NoneYet),
                        (&fan_reopen, ExistingRows::Reopen),
                    ];
                    for (fan_out, existing) in fan_outs {
                        if fan_out.is_empty() {
                            continue;
                        }
                        // The versions are looked up in device_packages by index, one probe per
                        // distinct version. Joined to the JSON rows instead, PostgreSQL's
                        // estimate (a version's average device count times a guessed row count)
                        // made it scan all of device_packages per evaluation once the fleet grew.
                        let sql = format!(
                            "SELECT DISTINCT dp.device_id FROM device_packages dp \
                             WHERE dp.package_version_id {}",
                            versions_in(backend, "$1")
                        );
                        let devs: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
                            .bind(Json(fan_out))
                            .fetch_all(&mut *tx)
                            .await?;
                        touched.extend(devs);
                        // A finding's devices: on PostgreSQL one index probe per finding
                        // (`LATERAL`), each device once however many paths it has the version
                        // at. Joined directly, with the versions as an array to steer the
                        // planner to the index, the array was re-checked on every probe and a
                        // repeat met the conflict clause: a first scan's 33,043 device findings
                        // took 3.0–3.2 s, against 1.1 s this way. SQLite drives the join from the
                        // JSON rows by index anyway, and its repeats are cheap no-ops.
                        let devices = match backend {
                            BackendKind::Sqlite => {
                                "JOIN device_packages dp ON dp.package_version_id = f.package_version_id"
                            }
                            BackendKind::Postgres => {
                                "CROSS JOIN LATERAL (SELECT DISTINCT x.device_id \
                                 FROM device_packages x \
                                 WHERE x.package_version_id = f.package_version_id) dp"
                            }
                        };
                        let (sql, mark) = insert_device_findings(
                            backend,
                            &format!(
                                "{rows} \
                                 JOIN findings f ON f.package_version_id = CAST(j.value ->> 0 AS BIGINT) \
                                 AND f.advisory_id = j.value ->> 1 \
                                 {devices} \
                                 JOIN devices d ON d.id = dp.device_id \
                                 JOIN package_versions pv ON pv.id = f.package_version_id \
                                 WHERE true",
                                rows = json_rows(backend, "$1"),
                            ),
                            existing,
                            &format!(
                                "SELECT j.value ->> 1 AS advisory_id FROM {}",
                                json_rows(backend, "$1")
                            ),
                        );
                        let n = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                            .bind(Json(fan_out))
                            .bind(now)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        if let Some(mark) = mark.filter(|_| n > 0) {
                            sqlx::query(sqlx::AssertSqlSafe(mark.as_str()))
                                .bind(Json(fan_out))
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    if !to_resolve.is_empty() {
                        let list = &to_resolve;
                        let sql = format!(
                            "SELECT DISTINCT df.device_id FROM {} JOIN device_findings df \
                             ON df.package_version_id = CAST(j.value ->> 0 AS BIGINT) \
                             AND df.advisory_id = j.value ->> 1 WHERE df.resolved_at IS NULL{}",
                            json_rows(backend, "$1"),
                            and_versions(backend, "df.package_version_id", "$1")
                        );
                        let devs: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
                            .bind(Json(list))
                            .fetch_all(&mut *tx)
                            .await?;
                        touched.extend(devs);
                        let sql = format!(
                            "UPDATE device_findings SET resolved_at = $2, resolution = \
                             (SELECT f.resolution FROM findings f WHERE f.package_version_id = \
                              device_findings.package_version_id AND f.advisory_id = device_findings.advisory_id) \
                             WHERE resolved_at IS NULL{} \
                             AND (package_version_id, advisory_id) IN \
                             (SELECT CAST(j.value ->> 0 AS BIGINT), j.value ->> 1 FROM {})",
                            and_versions(backend, "package_version_id", "$1"),
                            json_rows(backend, "$1")
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                            .bind(Json(list))
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                    if !severity_changed.is_empty() {
                        let sql = format!(
                            "SELECT DISTINCT df.device_id FROM {} JOIN device_findings df \
                             ON df.package_version_id = CAST(j.value ->> 0 AS BIGINT) \
                             AND df.advisory_id = j.value ->> 1 WHERE df.resolved_at IS NULL{}",
                            json_rows(backend, "$1"),
                            and_versions(backend, "df.package_version_id", "$1")
                        );
                        let devs: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
                            .bind(Json(&severity_changed))
                            .fetch_all(&mut *tx)
                            .await?;
                        touched.extend(devs);
                        let sql = format!(
                            "UPDATE device_findings SET severity_rating = (SELECT j.value ->> 2 FROM {rows} \
                             WHERE CAST(j.value ->> 0 AS BIGINT) = device_findings.package_version_id \
                             AND j.value ->> 1 = device_findings.advisory_id) \
                             WHERE true{versions} AND (package_version_id, advisory_id) IN \
                             (SELECT CAST(j.value ->> 0 AS BIGINT), j.value ->> 1 FROM {rows})",
                            rows = json_rows(backend, "$1"),
                            versions = and_versions(backend, "package_version_id", "$1"),
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                            .bind(Json(&severity_changed))
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                changes.devices = touched.len() as u64;
                let touched: Vec<Uuid> = touched.into_iter().collect();
                refresh_counts!(&mut *tx, backend, Some(&touched[..]));
            });
            Ok(changes)
        })
        .await
    }

    /// Gives a device the open findings of its package versions among `versions`, reopening
    /// ones it had resolved, and refreshes its counters. The ingest uses it for versions
    /// that another ingest evaluated while this one was applying its scan.
    pub async fn fan_out_device_findings(
        &self,
        device_id: Uuid,
        versions: &[i64],
    ) -> Result<u64, StoreError> {
        let backend = self.backend();
        self.timed("fan_out_device_findings", async {
            let now = Ts::now();
            let n = in_write_tx!(self, |tx| {
                let n = fan_out_findings!(
                    &mut *tx,
                    backend,
                    device_id,
                    versions,
                    now,
                    ExistingRows::Reopen
                );
                refresh_counts!(&mut *tx, backend, Some(&[device_id][..]));
                n
            });
            Ok(n)
        })
        .await
    }

    /// Creates a suppression and applies it to the open findings in its scope.
    pub async fn create_suppression(&self, s: &Suppression) -> Result<u64, StoreError> {
        let backend = self.backend();
        self.timed("create_suppression", async {
            let n = in_write_tx!(self, |tx| {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO suppressions ({SUPPRESSION_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                )))
                .bind(s.id)
                .bind(&s.scope)
                .bind(&s.advisory_id)
                .bind(&s.ecosystem)
                .bind(&s.package_name)
                .bind(s.device_id)
                .bind(&s.tag)
                .bind(&s.reason)
                .bind(&s.created_by)
                .bind(Ts::new(s.created_at))
                .bind(s.expires_at.map(Ts::new))
                .execute(&mut *tx)
                .await?;
                refresh_suppressed!(&mut *tx, backend, s)
            });
            Ok(n)
        })
        .await
    }

    /// Deletes a suppression and re-applies the remaining ones to its scope.
    pub async fn delete_suppression(&self, id: Uuid) -> Result<Option<Suppression>, StoreError> {
        let backend = self.backend();
        self.timed("delete_suppression", async {
            let gone = in_write_tx!(self, |tx| {
                let r: Option<SuppressionRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {SUPPRESSION_COLUMNS} FROM suppressions WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                match r {
                    None => None,
                    Some(r) => {
                        let s = Suppression::from(r);
                        sqlx::query("DELETE FROM suppressions WHERE id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        refresh_suppressed!(&mut *tx, backend, &s);
                        Some(s)
                    }
                }
            });
            Ok(gone)
        })
        .await
    }

    /// One suppression.
    pub async fn get_suppression(&self, id: Uuid) -> Result<Option<Suppression>, StoreError> {
        self.timed("get_suppression", async {
            let r: Option<SuppressionRecord> =
                with_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {SUPPRESSION_COLUMNS} FROM suppressions WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(pool)
                .await?);
            Ok(r.map(Suppression::from))
        })
        .await
    }

    /// Every suppression, newest first unless `sort` names a field (`scope`, `-expires_at`, …);
    /// expired ones included when `include_expired`.
    pub async fn list_suppressions(
        &self,
        include_expired: bool,
        sort: Option<&str>,
    ) -> Result<Vec<Suppression>, StoreError> {
        let order = crate::fleet::order_by(
            sort,
            &[
                ("created_at", "created_at"),
                ("expires_at", "expires_at"),
                ("scope", "scope"),
                ("advisory", "advisory_id"),
                ("created_by", "created_by"),
            ],
            "created_at DESC, id",
        )?;
        self.timed("list_suppressions", async {
            let filter = if include_expired {
                ""
            } else {
                "WHERE expires_at IS NULL OR expires_at > $1"
            };
            let sql =
                format!("SELECT {SUPPRESSION_COLUMNS} FROM suppressions {filter} ORDER BY {order}");
            let rows: Vec<SuppressionRecord> = with_pool!(self, |pool| {
                let q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
                let q = if include_expired {
                    q
                } else {
                    q.bind(Ts::now())
                };
                q.fetch_all(pool).await?
            });
            Ok(rows.into_iter().map(Suppression::from).collect())
        })
        .await
    }

    /// Applies expiries that have passed since they were last applied: the findings they
    /// covered count as open again. Returns how many suppressions expired.
    pub async fn apply_suppression_expiry(&self) -> Result<u64, StoreError> {
        let backend = self.backend();
        self.timed("apply_suppression_expiry", async {
            let now = Ts::now();
            // Checked once a minute: a read first, so that the usual answer (nothing expired)
            // does not take SQLite's write lock.
            let due: Option<i32> = with_pool!(self, |pool| {
                sqlx::query_scalar(
                    "SELECT 1 FROM suppressions WHERE expires_at IS NOT NULL AND expires_at <= $1 \
                     AND NOT expired_applied LIMIT 1",
                )
                .bind(now)
                .fetch_optional(pool)
                .await?
            });
            if due.is_none() {
                return Ok(0);
            }
            let n = in_write_tx!(self, |tx| {
                let rows: Vec<SuppressionRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {SUPPRESSION_COLUMNS} FROM suppressions \
                     WHERE expires_at IS NOT NULL AND expires_at <= $1 AND NOT expired_applied"
                )))
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
                for r in &rows {
                    sqlx::query("UPDATE suppressions SET expired_applied = TRUE WHERE id = $1")
                        .bind(r.id)
                        .execute(&mut *tx)
                        .await?;
                }
                for r in rows.iter() {
                    let s = Suppression {
                        id: r.id,
                        scope: r.scope.clone(),
                        advisory_id: r.advisory_id.clone(),
                        ecosystem: r.ecosystem.clone(),
                        package_name: r.package_name.clone(),
                        device_id: r.device_id,
                        tag: r.tag.clone(),
                        reason: r.reason.clone(),
                        created_by: r.created_by.clone(),
                        created_at: r.created_at.get(),
                        expires_at: r.expires_at.map(Ts::get),
                    };
                    refresh_suppressed!(&mut *tx, backend, &s);
                }
                rows.len() as u64
            });
            Ok(n)
        })
        .await
    }
}

/// Re-computes `suppressed` for the open device findings in a suppression's scope and
/// refreshes the counters of the devices involved; evaluates to the rows re-computed.
macro_rules! refresh_suppressed {
    ($tx:expr, $backend:expr, $s:expr) => {{
        let s: &Suppression = $s;
        let backend: BackendKind = $backend;
        let sup = suppressed_expr(backend, "device_findings.advisory_id", "$1");
        // The rows in scope: by advisory, by device, or by the devices carrying the tag.
        let (where_sql, binds): (String, u8) = match s.scope.as_str() {
            "advisory" | "advisory_package" => ("df.resolved_at IS NULL AND df.advisory_id = $2".to_owned(), 1),
            "device" => ("df.resolved_at IS NULL AND df.device_id = $2 AND ($3 IS NULL OR df.advisory_id = $3)".to_owned(), 2),
            _ => {
                let tag_check = match backend {
                    BackendKind::Sqlite => "EXISTS (SELECT 1 FROM devices d2, json_each(d2.tags) t WHERE d2.id = df.device_id AND t.value = $2)",
                    BackendKind::Postgres => "EXISTS (SELECT 1 FROM devices d2 WHERE d2.id = df.device_id AND jsonb_exists(d2.tags, $2))",
                };
                (format!("df.resolved_at IS NULL AND ($3 IS NULL OR df.advisory_id = $3) AND {tag_check}"), 3)
            }
        };
        let select_devices = format!("SELECT DISTINCT df.device_id FROM device_findings df WHERE {where_sql}");
        let update = format!(
            "UPDATE device_findings SET suppressed = (SELECT {sup} FROM devices d, package_versions pv \
             WHERE d.id = device_findings.device_id AND pv.id = device_findings.package_version_id) \
             WHERE (device_id, package_version_id, advisory_id) IN \
             (SELECT df.device_id, df.package_version_id, df.advisory_id FROM device_findings df WHERE {where_sql})"
        );
        let now = Ts::now();
        let (devs, n): (Vec<Uuid>, u64) = match binds {
            1 => {
                let adv = s.advisory_id.clone().unwrap_or_default();
                let devs = sqlx::query_scalar(sqlx::AssertSqlSafe(select_devices.replace("$2", "$1")))
                    .bind(&adv)
                    .fetch_all(&mut *$tx)
                    .await?;
                let n = sqlx::query(sqlx::AssertSqlSafe(update.as_str())).bind(now).bind(&adv).execute(&mut *$tx).await?.rows_affected();
                (devs, n)
            }
            2 => {
                let devs = sqlx::query_scalar(sqlx::AssertSqlSafe(select_devices.replace("$2", "$1").replace("$3", "$2")))
                    .bind(s.device_id)
                    .bind(&s.advisory_id)
                    .fetch_all(&mut *$tx)
                    .await?;
                let n = sqlx::query(sqlx::AssertSqlSafe(update.as_str()))
                    .bind(now)
                    .bind(s.device_id)
                    .bind(&s.advisory_id)
                    .execute(&mut *$tx)
                    .await?
                    .rows_affected();
                (devs, n)
            }
            _ => {
                let devs = sqlx::query_scalar(sqlx::AssertSqlSafe(select_devices.replace("$2", "$1").replace("$3", "$2")))
                    .bind(&s.tag)
                    .bind(&s.advisory_id)
                    .fetch_all(&mut *$tx)
                    .await?;
                let n = sqlx::query(sqlx::AssertSqlSafe(update.as_str()))
                    .bind(now)
                    .bind(&s.tag)
                    .bind(&s.advisory_id)
                    .execute(&mut *$tx)
                    .await?
                    .rows_affected();
                (devs, n)
            }
        };
        refresh_counts!(&mut *$tx, backend, Some(&devs[..]));
        n
    }};
}
use refresh_suppressed;
