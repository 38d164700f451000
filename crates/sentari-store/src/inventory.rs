//! Applying an uploaded scan to a device's inventory, by diff, in one transaction.
//!
//! Package versions are stored once (`package_versions`) and linked to devices
//! (`device_packages`), so a fleet of ten thousand hosts running the same `openssl` costs one row
//! plus ten thousand small links. Applying a scan computes what was added, removed and changed
//! against the device's current rows and touches only those; an unchanged re-scan is recognised
//! by its digest and costs a handful of statements. Scans older than the device's newest applied
//! scan are recorded as superseded and never overwrite newer state; applying the same scan
//! twice changes nothing.
//!
//! What can be read before the write transaction is read before it, so that on SQLite (one
//! writer) it does not hold up the other ingests: the ids of the package versions already
//! stored (from [`VersionIds`], this process's memory of them, or a read), and the device's
//! current rows, taken as valid inside the transaction only if the device's last applied scan
//! is still the one seen before them.
//!
//! Bulk rows travel to the database as one JSON array parameter expanded by `json_each`
//! (SQLite) or `jsonb_array_elements` (PostgreSQL): one statement per bulk step whatever the
//! scan's size, with the same SQL on both backends apart from that row source.

use std::collections::{HashMap, HashSet};

use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;
use crate::store::{BackendKind, Store};
use crate::ts::Ts;

/// One installed package as the ingest hands it to the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InventoryPackage {
    /// The OSV ecosystem string as reported (`Debian:12`, `PyPI`).
    pub ecosystem: String,
    /// The package name as reported.
    pub name: String,
    /// The installed version, verbatim.
    pub version: String,
    /// The source package for OS packages; empty otherwise.
    pub source_name: String,
    /// The advisory lookup ecosystem (the ecosystem without its release); empty when the
    /// ecosystem is not supported.
    pub match_ecosystem: String,
    /// The normalised name advisories are looked up by.
    pub match_name: String,
    /// Where the package was found.
    pub install_path: String,
    /// The environment (venv root, project dir); empty when none.
    pub environment: String,
    /// Architecture for OS packages; empty otherwise.
    pub arch: String,
    /// `os`, `venv`, `jar`, …
    pub env_type: String,
    /// The source package version when it differs from the binary's.
    pub source_version: Option<String>,
    /// The interpreter version of the package's environment.
    pub interpreter_version: Option<String>,
    /// The package URL.
    pub purl: Option<String>,
    /// How the identity was established (JVM guesses).
    pub origin: Option<String>,
}

/// One runtime installation with its end-of-life status, computed by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryRuntime {
    /// `python`, `node`, `jdk`, …
    pub kind: String,
    /// Installation path.
    pub path: String,
    /// Version as reported.
    pub version: String,
    /// Vendor, when known.
    pub vendor: Option<String>,
    /// The endoflife.date product the runtime maps to.
    pub eol_product: Option<String>,
    /// The matched cycle.
    pub eol_cycle: Option<String>,
    /// The cycle's end-of-life date (ISO), when it has one.
    pub eol_date: Option<String>,
    /// `eol_past`, `eol_soon`, `supported` or `unknown`.
    pub eol_status: String,
}

/// One scan error, classified for Diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryError {
    /// The scanner that met it.
    pub scanner: String,
    /// A short class (`permission_denied`, `parse_error`, …).
    pub kind: String,
    /// The path involved.
    pub path: String,
    /// The message.
    pub message: String,
}

/// Facts about the host from the scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    pub hostname: String,
    pub os_id: String,
    pub os_version_id: String,
    pub os_pretty_name: String,
    /// The release-scoped OSV ecosystem of the OS packages (`Debian:12`), or empty.
    pub os_ecosystem: String,
    pub kernel: String,
    pub arch: String,
    pub host_kind: String,
    pub agent_version: String,
    /// The newest Python runtime's version, for the device list.
    pub python_version: String,
}

/// Everything needed to apply one scan.
#[derive(Debug, Clone)]
pub struct ApplyScan {
    pub scan_id: Uuid,
    pub device_id: Uuid,
    pub scanned_at: OffsetDateTime,
    pub duration_ms: u64,
    pub host: HostFacts,
    pub packages: Vec<InventoryPackage>,
    pub runtimes: Vec<InventoryRuntime>,
    pub errors: Vec<InventoryError>,
    /// A digest of the uploaded package list; equal digests mean an unchanged inventory.
    pub digest: String,
    /// `packages` was left empty because the caller saw the device's digest equal to
    /// `digest` (an unchanged re-scan, where building 20,000 rows would be wasted). If the
    /// digest differs once the device is locked, nothing is written and the outcome is
    /// [`ApplyOutcome::InventoryChanged`]: the caller must send the packages.
    pub packages_omitted: bool,
}

/// What applying changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Package rows added to the device.
    pub added: u64,
    /// Package rows removed from the device.
    pub removed: u64,
    /// Of those, packages whose version changed (an upgrade or downgrade counts once here and
    /// not in `added`/`removed`).
    pub changed: u64,
    /// True when the digest matched and the package diff was skipped.
    pub unchanged: bool,
    /// Package versions the device did not have before this scan.
    pub device_new_versions: Vec<i64>,
    /// Package versions that have never been evaluated against advisories.
    pub pending_versions: Vec<i64>,
    /// Open device findings resolved because their package left the device.
    pub findings_resolved: u64,
    /// Device findings opened for versions the device gained that were already evaluated.
    pub findings_fanned_out: u64,
}

/// The result of [`Store::apply_scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The scan was applied.
    Applied(ApplyReport),
    /// The scan had been applied (or superseded) before; nothing changed.
    AlreadyDone,
    /// A newer scan of the device is already applied; the scan was recorded as superseded.
    Superseded {
        /// When the applied newer scan was taken.
        newer_scan_at: OffsetDateTime,
    },
    /// The scan or its device no longer exists (the device was deleted).
    Gone,
    /// The packages were omitted but the device's inventory changed in the meantime; nothing
    /// was written.
    InventoryChanged,
}

/// A stored scan as the ingest job reads it.
#[derive(Debug, Clone)]
pub struct StoredScan {
    pub scan_id: Uuid,
    pub device_id: Uuid,
    pub scanned_at: OffsetDateTime,
    pub received_at: OffsetDateTime,
    /// `pending`, `applied`, `superseded` or `failed`.
    pub status: String,
    /// The upload: zstd-compressed JSON when stored compressed.
    pub body: Option<Vec<u8>>,
    /// The upload as JSON text when stored uncompressed (older rows).
    pub payload: Option<String>,
    /// The device's current inventory digest (empty before its first applied scan).
    pub device_digest: String,
}

/// The most package version ids [`VersionIds`] remembers before it starts over.
const VERSION_IDS_CAP: usize = 2_000_000;

/// The ids of package versions this process has seen stored. A `package_versions` row is
/// never deleted nor re-keyed, so an id read (or written and committed) once stays right for
/// the life of the database, and a scan whose versions are all known needs no lookup at all.
/// Only committed ids are added. Bounded: when full it is emptied and refills from lookups.
#[derive(Default)]
pub(crate) struct VersionIds(std::sync::Mutex<HashMap<String, i64>>);

impl VersionIds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        // A panic while holding the lock cannot leave a wrong id behind (inserts are single
        // map operations), so a poisoned map is still good.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remember(&self, ids: impl IntoIterator<Item = (String, i64)>) {
        let mut map = self.lock();
        for (k, id) in ids {
            if map.len() >= VERSION_IDS_CAP {
                map.clear();
            }
            map.insert(k, id);
        }
    }
}

/// The identity of a package version as one unambiguous string (each part length-prefixed).
fn version_key(ecosystem: &str, name: &str, version: &str, source_name: &str) -> String {
    let mut k = String::with_capacity(
        ecosystem.len() + name.len() + version.len() + source_name.len() + 16,
    );
    for part in [ecosystem, name, version, source_name] {
        k.push_str(&part.len().to_string());
        k.push(':');
        k.push_str(part);
    }
    k
}

fn version_key_of(p: &InventoryPackage) -> String {
    version_key(&p.ecosystem, &p.name, &p.version, &p.source_name)
}

/// Looks package versions up by identity; `$1` is a JSON array of
/// `[ecosystem, name, version, source_name, …]` rows.
fn version_lookup_sql(backend: BackendKind) -> String {
    format!(
        "SELECT pv.id, pv.ecosystem, pv.name, pv.version, pv.source_name \
         FROM {} JOIN package_versions pv ON pv.ecosystem = j.value ->> 0 \
         AND pv.name = j.value ->> 1 AND pv.version = j.value ->> 2 \
         AND pv.source_name = j.value ->> 3",
        json_rows(backend, "$1")
    )
}

/// What [`Store::apply_scan`] read before its transaction.
struct PriorRead {
    /// The [`version_key`] of each package, index-aligned with the scan's packages.
    keys: Vec<String>,
    /// Ids of the scan's versions already stored, by [`version_key`].
    known: HashMap<String, i64>,
    /// The device's last applied scan when `current` was read (outer `None`: not read).
    stamp: Option<Option<Uuid>>,
    current: Vec<CurrentRow>,
}

const CURRENT_ROWS_SQL: &str = "SELECT dp.package_version_id, dp.install_path, dp.environment, dp.arch, \
     dp.env_type, dp.source_version, dp.interpreter_version, dp.purl, dp.origin, \
     pv.ecosystem, pv.name \
     FROM device_packages dp JOIN package_versions pv ON pv.id = dp.package_version_id \
     WHERE dp.device_id = $1";

/// The device's rows without their package's ecosystem and name, for the read before the
/// transaction: those come from the scan's own packages for every version the scan still has,
/// and only the versions it dropped are looked up (joining 2,000 version rows per re-scan was
/// most of the read's time).
const CURRENT_ROWS_BARE_SQL: &str = "SELECT dp.package_version_id, dp.install_path, dp.environment, dp.arch, \
     dp.env_type, dp.source_version, dp.interpreter_version, dp.purl, dp.origin, \
     '' AS ecosystem, '' AS name \
     FROM device_packages dp WHERE dp.device_id = $1";

/// The `FROM` item that expands a JSON array parameter into rows `j.value`.
pub(crate) fn json_rows(backend: BackendKind, param: &str) -> String {
    match backend {
        BackendKind::Sqlite => format!("json_each({param}) AS j"),
        BackendKind::Postgres => format!("jsonb_array_elements({param}) AS j(value)"),
    }
}

/// Key of one device package row.
type RowKey = (i64, String, String, String);

#[derive(Debug, Clone, PartialEq, Eq)]
struct RowMeta {
    env_type: String,
    source_version: Option<String>,
    interpreter_version: Option<String>,
    purl: Option<String>,
    origin: Option<String>,
}

#[derive(sqlx::FromRow)]
struct CurrentRow {
    package_version_id: i64,
    install_path: String,
    environment: String,
    arch: String,
    env_type: String,
    source_version: Option<String>,
    interpreter_version: Option<String>,
    purl: Option<String>,
    origin: Option<String>,
    ecosystem: String,
    name: String,
}

#[derive(sqlx::FromRow)]
struct DeviceHead {
    last_scan_at: Option<Ts>,
    last_scan_id: Option<Uuid>,
    inventory_digest: String,
}

#[derive(sqlx::FromRow)]
struct ScanRecord {
    scan_id: Uuid,
    device_id: Uuid,
    scanned_at: Ts,
    received_at: Ts,
    status: String,
    body: Option<Vec<u8>>,
    payload: Option<String>,
    device_digest: Option<String>,
}

/// Runs the same transaction body against whichever pool the store holds; the body is a
/// macro-expanded block so it type-checks against each backend's transaction.
macro_rules! in_write_tx {
    ($store:expr, |$tx:ident| $body:expr) => {
        match &$store.inner.pool {
            $crate::store::Pool::Sqlite(pool) => {
                $crate::inventory::write_tx_on!(pool, $store, |$tx| $body)
            }
            $crate::store::Pool::Postgres(pool) => {
                $crate::inventory::write_tx_on!(pool, $store, |$tx| $body)
            }
        }
    };
}
pub(crate) use in_write_tx;

/// One write transaction on `pool` (either backend), committed after `body`.
macro_rules! write_tx_on {
    ($pool:expr, $store:expr, |$tx:ident| $body:expr) => {{
        let mut $tx =
            $crate::store::BeginWrite::begin_write($pool, &$store.inner.write_turn).await?;
        let out = $body;
        $tx.commit().await?;
        out
    }};
}
pub(crate) use write_tx_on;

/// [`in_write_tx!`] for scan applies: on SQLite the body runs inside a savepoint of a
/// transaction it may share with the applies queued around it (group commit, see
/// [`crate::write_turn`]); it evaluates to the body's value once that transaction has
/// committed ([`crate::write_turn::WriteTurn::apply`]). An error in the body rolls back only
/// its own savepoint.
macro_rules! in_batched_write_tx {
    ($store:expr, |$tx:ident| $body:expr) => {
        match &$store.inner.pool {
            $crate::store::Pool::Sqlite(pool) => {
                let pool = $crate::store::WritePool::for_write(pool, &$store.inner.write_turn);
                $store
                    .inner
                    .write_turn
                    .apply(pool, async |$tx: &mut sqlx::SqliteConnection| Ok($body))
                    .await?
            }
            $crate::store::Pool::Postgres(pool) => {
                $crate::inventory::write_tx_on!(pool, $store, |$tx| $body)
            }
        }
    };
}

impl Store {
    /// The stored scan for the ingest job, with its upload unless `with_upload` is false (the
    /// job already holds the parsed upload, so the compressed copy need not be read).
    pub async fn scan_for_ingest(
        &self,
        scan_id: Uuid,
        with_upload: bool,
    ) -> Result<Option<StoredScan>, StoreError> {
        self.timed("scan_for_ingest", async {
            // PostgreSQL keeps the JSON payload as jsonb; it is read back as text.
            let sql = match self.backend() {
                BackendKind::Sqlite => {
                    "SELECT s.scan_id, s.device_id, s.scanned_at, s.received_at, s.status, \
                     CASE WHEN $2 THEN s.body END AS body, \
                     CASE WHEN $2 AND s.payload != 'null' THEN s.payload END AS payload, \
                     d.inventory_digest AS device_digest \
                     FROM scans s LEFT JOIN devices d ON d.id = s.device_id WHERE s.scan_id = $1"
                }
                BackendKind::Postgres => {
                    "SELECT s.scan_id, s.device_id, s.scanned_at, s.received_at, s.status, \
                     CASE WHEN $2 THEN s.body END AS body, \
                     CASE WHEN $2 AND s.payload != 'null'::jsonb THEN s.payload::text END AS payload, \
                     d.inventory_digest AS device_digest \
                     FROM scans s LEFT JOIN devices d ON d.id = s.device_id WHERE s.scan_id = $1"
                }
            };
            let r: Option<ScanRecord> = crate::store::with_pool!(self, |pool| sqlx::query_as(sql)
                .bind(scan_id)
                .bind(with_upload)
                .fetch_optional(pool)
                .await?);
            Ok(r.map(|r| StoredScan {
                scan_id: r.scan_id,
                device_id: r.device_id,
                scanned_at: r.scanned_at.get(),
                received_at: r.received_at.get(),
                status: r.status,
                body: r.body,
                payload: r.payload,
                device_digest: r.device_digest.unwrap_or_default(),
            }))
        })
        .await
    }

    /// Marks a scan as failed to apply (its upload could not be read), with the reason.
    pub async fn fail_scan(&self, scan_id: Uuid, detail: &str) -> Result<(), StoreError> {
        self.timed("fail_scan", async {
            crate::store::with_pool!(self, |pool| sqlx::query(
                "UPDATE scans SET status = 'failed', detail = $2, applied_at = $3 WHERE scan_id = $1"
            )
            .bind(scan_id)
            .bind(detail)
            .bind(Ts::now())
            .execute(pool)
            .await?
            .rows_affected());
            Ok(())
        })
        .await
    }

    /// Applies a scan to its device by diff, in one transaction (see the module comment).
    pub async fn apply_scan(
        &self,
        scan: &ApplyScan,
        ingest_started: std::time::Instant,
    ) -> Result<ApplyOutcome, StoreError> {
        let backend = self.backend();
        self.timed("apply_scan", async {
            let mut prior = if scan.packages_omitted {
                PriorRead {
                    keys: Vec::new(),
                    known: HashMap::new(),
                    stamp: None,
                    current: Vec::new(),
                }
            } else {
                self.prior_read(scan).await?
            };
            // Versions this transaction inserted (or found inserted meanwhile), remembered once
            // it has committed.
            let mut fresh: Vec<(String, i64)> = Vec::new();
            let now = Ts::now();
            let outcome = in_batched_write_tx!(self, |tx| {
                // Locks the device row (PostgreSQL) so two ingests of one device serialise;
                // SQLite's BEGIN IMMEDIATE already holds the only write lock.
                let lock = match backend {
                    BackendKind::Sqlite => {
                        "SELECT last_scan_at, last_scan_id, inventory_digest FROM devices WHERE id = $1"
                    }
                    BackendKind::Postgres => {
                        "SELECT last_scan_at, last_scan_id, inventory_digest FROM devices \
                         WHERE id = $1 FOR UPDATE"
                    }
                };
                let head: Option<DeviceHead> = sqlx::query_as(lock)
                    .bind(scan.device_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let status: Option<String> =
                    sqlx::query_scalar("SELECT status FROM scans WHERE scan_id = $1")
                        .bind(scan.scan_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                match (head, status) {
                    (None, _) | (_, None) => ApplyOutcome::Gone,
                    (Some(_), Some(s)) if s != "pending" => ApplyOutcome::AlreadyDone,
                    (Some(head), Some(_))
                        if head
                            .last_scan_at
                            .is_some_and(|t| t.get() > scan.scanned_at) =>
                    {
                        let newer = head.last_scan_at.map(Ts::get).unwrap_or(scan.scanned_at);
                        sqlx::query(
                            "UPDATE scans SET status = 'superseded', applied_at = $2, \
                             agent_version = $3, duration_ms = $4, \
                             detail = 'a newer scan of this device was already applied', \
                             body = NULL WHERE scan_id = $1",
                        )
                        .bind(scan.scan_id)
                        .bind(now)
                        .bind(&scan.host.agent_version)
                        .bind(i64::try_from(scan.duration_ms).unwrap_or(i64::MAX))
                        .execute(&mut *tx)
                        .await?;
                        ApplyOutcome::Superseded {
                            newer_scan_at: newer,
                        }
                    }
                    (Some(head), Some(_))
                        if scan.packages_omitted
                            && (scan.digest.is_empty() || head.inventory_digest != scan.digest) =>
                    {
                        ApplyOutcome::InventoryChanged
                    }
                    (Some(head), Some(_)) => {
                        let mut report = ApplyReport::default();
                        // Versions this device lost entirely, for their device counts (the ones it
                        // gained are `report.device_new_versions`).
                        let mut lost: Vec<i64> = Vec::new();
                        if !scan.digest.is_empty() && head.inventory_digest == scan.digest {
                            report.unchanged = true;
                        } else {
                            let ids = upsert_versions!(
                                &mut *tx,
                                backend,
                                &scan.packages,
                                &prior.keys,
                                &prior.known,
                                &mut fresh,
                                now
                            );
                            // The rows read before the transaction are the device's rows still
                            // if no scan was applied to it since (each applied scan sets its
                            // own id; the stamp was read before the rows).
                            let current: Vec<CurrentRow> = if prior.stamp == Some(head.last_scan_id) {
                                std::mem::take(&mut prior.current)
                            } else {
                                sqlx::query_as(CURRENT_ROWS_SQL)
                                    .bind(scan.device_id)
                                    .fetch_all(&mut *tx)
                                    .await?
                            };
                            let mut diff = diff_rows(&scan.packages, &ids, current);
                            apply_diff!(&mut *tx, backend, scan, &mut diff, now);
                            report.added = diff.added.len() as u64;
                            report.removed = diff.removed.len() as u64;
                            report.changed = diff.changed;
                            report.device_new_versions = diff.new_versions.iter().copied().collect();
                            report.device_new_versions.sort_unstable();
                            report.findings_resolved = diff.findings_resolved;
                            lost = diff.gone_upgraded.iter().chain(&diff.gone_removed).copied().collect();
                            lost.sort_unstable();
                            if !report.device_new_versions.is_empty() {
                                let sql = format!(
                                    "SELECT pv.id FROM package_versions pv \
                                     WHERE pv.status = 'pending' AND pv.id IN \
                                     (SELECT CAST(j.value AS BIGINT) FROM {})",
                                    json_rows(backend, "$1")
                                );
                                report.pending_versions = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
                                    .bind(Json(&report.device_new_versions))
                                    .fetch_all(&mut *tx)
                                    .await?;
                                // The findings already known for the versions the device gained
                                // become its own in this same transaction, so a device is never
                                // seen with new packages but without their findings. Versions
                                // still pending get theirs when the correlation records them.
                                // A device's rows all come from its applied scans, so one
                                // never scanned has none to reopen. PostgreSQL keeps the
                                // reopening statement: its `DISTINCT` folds the repeats of a
                                // version at several paths, which without it each cost a
                                // conflict check (a device with each version at four paths:
                                // 485–631 ms, against 316–375 ms with its rows made distinct
                                // first). Made distinct in a subquery, the rows were
                                // misestimated at 10,000 devices and the planner read every
                                // open finding (1.27 s against 0.11 s for the select alone).
                                let existing = match (backend, head.last_scan_id) {
                                    (BackendKind::Sqlite, None) => {
                                        crate::findings::ExistingRows::NoneYet
                                    }
                                    _ => crate::findings::ExistingRows::Reopen,
                                };
                                report.findings_fanned_out = crate::findings::fan_out_findings!(
                                    &mut *tx,
                                    backend,
                                    scan.device_id,
                                    &report.device_new_versions,
                                    now,
                                    existing
                                );
                            }
                            crate::findings::refresh_counts!(&mut *tx, backend, Some(&[scan.device_id][..]));
                        }
                        // Runtimes and errors are small: replaced wholesale.
                        sqlx::query("DELETE FROM device_runtimes WHERE device_id = $1")
                            .bind(scan.device_id)
                            .execute(&mut *tx)
                            .await?;
                        if !scan.runtimes.is_empty() {
                            let rows: Vec<_> = scan
                                .runtimes
                                .iter()
                                .map(|r| {
                                    (
                                        &r.kind,
                                        &r.path,
                                        &r.version,
                                        &r.vendor,
                                        &r.eol_product,
                                        &r.eol_cycle,
                                        &r.eol_date,
                                        &r.eol_status,
                                    )
                                })
                                .collect();
                            let sql = format!(
                                "INSERT INTO device_runtimes (device_id, kind, path, version, vendor, \
                                 eol_product, eol_cycle, eol_date, eol_status, first_seen) \
                                 SELECT $1, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, \
                                 j.value ->> 4, j.value ->> 5, j.value ->> 6, j.value ->> 7, $3 \
                                 FROM {} WHERE true \
                                 ON CONFLICT (device_id, kind, path) DO UPDATE SET version = excluded.version",
                                json_rows(backend, "$2")
                            );
                            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                                .bind(scan.device_id)
                                .bind(Json(&rows))
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                        }
                        if !scan.errors.is_empty() {
                            let rows: Vec<_> = scan
                                .errors
                                .iter()
                                .enumerate()
                                .map(|(i, e)| (i as i64, &e.scanner, &e.kind, &e.path, &e.message))
                                .collect();
                            let sql = format!(
                                "INSERT INTO scan_errors (scan_id, seq, device_id, scanner, kind, path, message) \
                                 SELECT $1, CAST(j.value ->> 0 AS BIGINT), $2, j.value ->> 1, j.value ->> 2, \
                                 j.value ->> 3, j.value ->> 4 FROM {} WHERE true ON CONFLICT DO NOTHING",
                                json_rows(backend, "$3")
                            );
                            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                                .bind(scan.scan_id)
                                .bind(scan.device_id)
                                .bind(Json(&rows))
                                .execute(&mut *tx)
                                .await?;
                        }
                        let package_count: i64 = if report.unchanged {
                            sqlx::query_scalar("SELECT package_count FROM devices WHERE id = $1")
                                .bind(scan.device_id)
                                .fetch_one(&mut *tx)
                                .await?
                        } else {
                            scan.packages.len() as i64
                        };
                        let h = &scan.host;
                        sqlx::query(
                            "UPDATE devices SET hostname = CASE WHEN $2 = '' THEN hostname ELSE $2 END, \
                             os_id = $3, os_version_id = $4, os_pretty_name = $5, os_ecosystem = $6, \
                             kernel = $7, host_kind = $8, arch = CASE WHEN $9 = '' THEN arch ELSE $9 END, \
                             agent_version = CASE WHEN $10 = '' THEN agent_version ELSE $10 END, \
                             python_version = $11, last_scan_id = $12, last_scan_at = $13, \
                             last_scan_status = $14, package_count = $15, inventory_digest = $16, \
                             os = CASE WHEN $5 = '' THEN os ELSE $5 END, updated_at = $17 \
                             WHERE id = $1",
                        )
                        .bind(scan.device_id)
                        .bind(&h.hostname)
                        .bind(&h.os_id)
                        .bind(&h.os_version_id)
                        .bind(&h.os_pretty_name)
                        .bind(&h.os_ecosystem)
                        .bind(&h.kernel)
                        .bind(&h.host_kind)
                        .bind(&h.arch)
                        .bind(&h.agent_version)
                        .bind(&h.python_version)
                        .bind(scan.scan_id)
                        .bind(Ts::new(scan.scanned_at))
                        .bind(if scan.errors.is_empty() { "ok" } else { "errors" })
                        .bind(package_count)
                        .bind(&scan.digest)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        let ingest_ms =
                            i64::try_from(ingest_started.elapsed().as_millis()).unwrap_or(i64::MAX);
                        sqlx::query(
                            "UPDATE scans SET status = 'applied', applied_at = $2, duration_ms = $3, \
                             agent_version = $4, packages_added = $5, packages_removed = $6, \
                             packages_changed = $7, runtime_count = $8, error_count = $9, ingest_ms = $10, \
                             detail = $11, body = NULL WHERE scan_id = $1",
                        )
                        .bind(scan.scan_id)
                        .bind(now)
                        .bind(i64::try_from(scan.duration_ms).unwrap_or(i64::MAX))
                        .bind(&h.agent_version)
                        .bind(report.added as i64 - report.changed as i64)
                        .bind(report.removed as i64 - report.changed as i64)
                        .bind(report.changed as i64)
                        .bind(scan.runtimes.len() as i64)
                        .bind(scan.errors.len() as i64)
                        .bind(ingest_ms)
                        .bind(if report.unchanged { Some("inventory unchanged") } else { None })
                        .execute(&mut *tx)
                        .await?;
                        // Last, so the shared version rows stay locked (PostgreSQL) for as short
                        // a time as possible while concurrent ingests wait for them.
                        bump_device_counts!(&mut *tx, backend, &report.device_new_versions, 1);
                        bump_device_counts!(&mut *tx, backend, &lost, -1);
                        ApplyOutcome::Applied(report)
                    }
                }
            });
            self.inner.version_ids.remember(fresh);
            Ok(outcome)
        })
        .await
    }

    /// Fills in the ecosystem and name of rows read with [`CURRENT_ROWS_BARE_SQL`]: from the
    /// scan's packages for the versions it has (`known` holds their ids), from the database for
    /// the others. `false` when a row's version was not found (it cannot be, since versions
    /// are never deleted): the rows are then read again inside the transaction.
    async fn name_current_rows(
        &self,
        scan: &ApplyScan,
        keys: &[String],
        known: &HashMap<String, i64>,
        current: &mut [CurrentRow],
    ) -> Result<bool, StoreError> {
        if current.is_empty() {
            return Ok(true);
        }
        // The scan's package of each version it still has.
        let mut in_scan: HashMap<i64, &InventoryPackage> =
            HashMap::with_capacity(scan.packages.len());
        for (p, k) in scan.packages.iter().zip(keys) {
            if let Some(id) = known.get(k) {
                in_scan.entry(*id).or_insert(p);
            }
        }
        let mut others: Vec<i64> = current
            .iter()
            .map(|r| r.package_version_id)
            .filter(|id| !in_scan.contains_key(id))
            .collect();
        others.sort_unstable();
        others.dedup();
        let mut dropped: HashMap<i64, (String, String)> = HashMap::new();
        if !others.is_empty() {
            let sql = match self.backend() {
                BackendKind::Sqlite => {
                    "SELECT id, ecosystem, name FROM package_versions \
                     WHERE id IN (SELECT CAST(j.value AS INTEGER) FROM json_each($1) AS j)"
                }
                BackendKind::Postgres => {
                    "SELECT id, ecosystem, name FROM package_versions \
                     WHERE id = ANY(ARRAY(SELECT CAST(j.value AS BIGINT) \
                     FROM jsonb_array_elements($1) AS j(value)))"
                }
            };
            let rows: Vec<(i64, String, String)> = crate::store::with_pool!(self, |pool| {
                sqlx::query_as(sql)
                    .bind(Json(&others))
                    .fetch_all(pool)
                    .await?
            });
            dropped.extend(rows.into_iter().map(|(id, e, n)| (id, (e, n))));
        }
        for r in current.iter_mut() {
            let (e, n) = match (
                in_scan.get(&r.package_version_id),
                dropped.get(&r.package_version_id),
            ) {
                (Some(p), _) => (&p.ecosystem, &p.name),
                (None, Some((e, n))) => (e, n),
                (None, None) => return Ok(false),
            };
            r.ecosystem.clone_from(e);
            r.name.clone_from(n);
        }
        Ok(true)
    }
    /// The reads [`Store::apply_scan`] does before taking the write lock: the ids of the
    /// scan's versions already stored, then the device's last applied scan and its rows.
    async fn prior_read(&self, scan: &ApplyScan) -> Result<PriorRead, StoreError> {
        let keys: Vec<String> = scan.packages.iter().map(version_key_of).collect();
        let mut known: HashMap<String, i64> = HashMap::with_capacity(scan.packages.len());
        let mut missed: HashSet<&str> = HashSet::new();
        let mut misses: Vec<(&str, &str, &str, &str)> = Vec::new();
        {
            let cache = self.inner.version_ids.lock();
            for (p, k) in scan.packages.iter().zip(&keys) {
                if known.contains_key(k) || missed.contains(k.as_str()) {
                    continue;
                }
                match cache.get(k) {
                    Some(id) => {
                        known.insert(k.clone(), *id);
                    }
                    None => {
                        missed.insert(k);
                        misses.push((&p.ecosystem, &p.name, &p.version, &p.source_name));
                    }
                }
            }
        }
        let sql = version_lookup_sql(self.backend());
        let mut found: Vec<(String, i64)> = Vec::new();
        for chunk in misses.chunks(20_000) {
            let rows: Vec<(i64, String, String, String, String)> = crate::store::with_pool!(
                self,
                |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(Json(chunk))
                    .fetch_all(pool)
                    .await?
            );
            found.extend(
                rows.into_iter()
                    .map(|(id, e, n, v, s)| (version_key(&e, &n, &v, &s), id)),
            );
        }
        known.extend(found.iter().cloned());
        self.inner.version_ids.remember(found);
        let mut stamp: Option<Option<Uuid>> = crate::store::with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT last_scan_id FROM devices WHERE id = $1")
                .bind(scan.device_id)
                .fetch_optional(pool)
                .await?
        });
        let mut current: Vec<CurrentRow> = match stamp {
            Some(_) => crate::store::with_pool!(self, |pool| sqlx::query_as(CURRENT_ROWS_BARE_SQL)
                .bind(scan.device_id)
                .fetch_all(pool)
                .await?),
            None => Vec::new(),
        };
        if !self
            .name_current_rows(scan, &keys, &known, &mut current)
            .await?
        {
            stamp = None;
            current.clear();
        }
        Ok(PriorRead {
            keys,
            known,
            stamp,
            current,
        })
    }
}

/// Adds `delta` to the device count of each package version in `ids` (sorted, so concurrent
/// PostgreSQL transactions lock the rows in the same order and cannot deadlock on them).
macro_rules! bump_device_counts {
    ($tx:expr, $backend:expr, $ids:expr, $delta:expr) => {{
        let ids: &[i64] = $ids;
        if !ids.is_empty() {
            let sql = match $backend {
                $crate::store::BackendKind::Sqlite => {
                    "UPDATE package_versions SET device_count = device_count + $2 \
                     WHERE id IN (SELECT CAST(j.value AS INTEGER) FROM json_each($1) AS j)"
                }
                $crate::store::BackendKind::Postgres => {
                    "UPDATE package_versions SET device_count = device_count + $2 \
                     WHERE id = ANY(ARRAY(SELECT CAST(j.value AS BIGINT) \
                     FROM jsonb_array_elements($1) AS j(value)))"
                }
            };
            sqlx::query(sql)
                .bind(sqlx::types::Json(ids))
                .bind(i64::from($delta))
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(crate) use bump_device_counts;

/// Inserts the scan's distinct package versions not in `known` (the ids read before the
/// transaction) and returns the id of every package's version, index-aligned with `packages`
/// (and with `keys`, their [`version_key`]s, computed once before the transaction). The versions it inserted, or found inserted by a concurrent ingest since that read, are
/// added to `fresh`.
macro_rules! upsert_versions {
    ($tx:expr, $backend:expr, $packages:expr, $keys:expr, $known:expr, $fresh:expr, $now:expr) => {{
        let packages: &[InventoryPackage] = $packages;
        let keys: &[String] = $keys;
        let known: &HashMap<String, i64> = $known;
        let fresh: &mut Vec<(String, i64)> = $fresh;
        let mut missing: Vec<(&str, &str, &str, &str, &str, &str, String)> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for (p, k) in packages.iter().zip(keys) {
            if !known.contains_key(k) && seen.insert(k) {
                missing.push((
                    &p.ecosystem,
                    &p.name,
                    &p.version,
                    &p.source_name,
                    &p.match_ecosystem,
                    &p.match_name,
                    p.name.to_lowercase(),
                ));
            }
        }
        let insert = format!(
            "INSERT INTO package_versions (ecosystem, name, version, source_name, match_ecosystem, \
             match_name, search_name, status, created_at) \
             SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, \
             j.value ->> 5, j.value ->> 6, \
             CASE WHEN j.value ->> 4 = '' THEN 'unsupported_ecosystem' ELSE 'pending' END, $2 \
             FROM {} WHERE true \
             ON CONFLICT (ecosystem, name, version, source_name) DO NOTHING",
            json_rows($backend, "$1")
        );
        let select = version_lookup_sql($backend);
        // Chunks bound the size of one statement's JSON parameter.
        let mut inserted: HashMap<String, i64> = HashMap::new();
        for chunk in missing.chunks(20_000) {
            sqlx::query(sqlx::AssertSqlSafe(insert.as_str()))
                .bind(Json(chunk))
                .bind($now)
                .execute(&mut *$tx)
                .await?;
            let rows: Vec<(i64, String, String, String, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(select.as_str()))
                    .bind(Json(chunk))
                    .fetch_all(&mut *$tx)
                    .await?;
            for (id, e, n, v, s) in rows {
                inserted.insert(version_key(&e, &n, &v, &s), id);
            }
        }
        let mut out = Vec::with_capacity(packages.len());
        for (p, k) in packages.iter().zip(keys) {
            match known.get(k).or_else(|| inserted.get(k)) {
                Some(id) => out.push(*id),
                None => {
                    return Err(StoreError::Invalid(format!(
                        "package version {} {} {} was not stored",
                        p.ecosystem, p.name, p.version
                    )));
                }
            }
        }
        fresh.extend(inserted);
        out
    }};
}
use upsert_versions;

/// The rows to add, delete and update for one device.
#[derive(Debug, Default)]
struct Diff<'a> {
    added: Vec<(i64, &'a InventoryPackage)>,
    removed: Vec<RowKey>,
    updated: Vec<(i64, &'a InventoryPackage)>,
    changed: u64,
    /// Versions present now that the device did not have before.
    new_versions: HashSet<i64>,
    /// Versions the device no longer has at all, split by why.
    gone_upgraded: Vec<i64>,
    gone_removed: Vec<i64>,
    findings_resolved: u64,
}

fn meta_of(p: &InventoryPackage) -> RowMeta {
    RowMeta {
        env_type: p.env_type.clone(),
        source_version: p.source_version.clone(),
        interpreter_version: p.interpreter_version.clone(),
        purl: p.purl.clone(),
        origin: p.origin.clone(),
    }
}

fn diff_rows<'a>(
    packages: &'a [InventoryPackage],
    ids: &[i64],
    current: Vec<CurrentRow>,
) -> Diff<'a> {
    let mut diff = Diff::default();
    let mut old: HashMap<RowKey, RowMeta> = HashMap::with_capacity(current.len());
    let mut old_versions: HashSet<i64> = HashSet::with_capacity(current.len());
    // (ecosystem, name, install_path, environment, arch) → old version ids, to tell an upgrade
    // from an addition plus a removal.
    let mut old_slots: HashMap<(String, String, String, String, String), Vec<i64>> = HashMap::new();
    for r in current {
        old_versions.insert(r.package_version_id);
        old_slots
            .entry((
                r.ecosystem,
                r.name,
                r.install_path.clone(),
                r.environment.clone(),
                r.arch.clone(),
            ))
            .or_default()
            .push(r.package_version_id);
        old.insert(
            (r.package_version_id, r.install_path, r.environment, r.arch),
            RowMeta {
                env_type: r.env_type,
                source_version: r.source_version,
                interpreter_version: r.interpreter_version,
                purl: r.purl,
                origin: r.origin,
            },
        );
    }
    let mut new_keys: HashSet<RowKey> = HashSet::with_capacity(packages.len());
    let mut new_versions_all: HashSet<i64> = HashSet::with_capacity(packages.len());
    let mut present_names: HashSet<(&str, &str)> = HashSet::new();
    for (p, &id) in packages.iter().zip(ids) {
        let key = (
            id,
            p.install_path.clone(),
            p.environment.clone(),
            p.arch.clone(),
        );
        if !new_keys.insert(key.clone()) {
            // The same package listed twice at the same place: keep the first.
            continue;
        }
        new_versions_all.insert(id);
        present_names.insert((&p.ecosystem, &p.name));
        match old.get(&key) {
            None => {
                diff.added.push((id, p));
                let slot = (
                    p.ecosystem.clone(),
                    p.name.clone(),
                    p.install_path.clone(),
                    p.environment.clone(),
                    p.arch.clone(),
                );
                if old_slots
                    .get(&slot)
                    .is_some_and(|v| v.iter().any(|o| *o != id))
                {
                    diff.changed += 1;
                }
            }
            Some(meta) if *meta != meta_of(p) => diff.updated.push((id, p)),
            Some(_) => {}
        }
        if !old_versions.contains(&id) {
            diff.new_versions.insert(id);
        }
    }
    for key in old.keys() {
        if !new_keys.contains(key) {
            diff.removed.push(key.clone());
        }
    }
    // Versions that left the device entirely: upgraded when the same package is still there.
    let mut gone_seen = HashSet::new();
    for ((eco, name, ..), versions) in &old_slots {
        for v in versions {
            if !new_versions_all.contains(v) && gone_seen.insert(*v) {
                if present_names.contains(&(eco.as_str(), name.as_str())) {
                    diff.gone_upgraded.push(*v);
                } else {
                    diff.gone_removed.push(*v);
                }
            }
        }
    }
    diff
}

/// Writes a diff: deletes, inserts and updates device package rows, and resolves the device's
/// findings on versions it no longer has.
macro_rules! apply_diff {
    ($tx:expr, $backend:expr, $scan:expr, $diff:expr, $now:expr) => {{
        let scan: &ApplyScan = $scan;
        let diff: &mut Diff = &mut *$diff;
        if !diff.removed.is_empty() {
            let sql = format!(
                "DELETE FROM device_packages WHERE device_id = $1 AND \
                 (package_version_id, install_path, environment, arch) IN \
                 (SELECT CAST(j.value ->> 0 AS BIGINT), j.value ->> 1, j.value ->> 2, j.value ->> 3 FROM {})",
                json_rows($backend, "$2")
            );
            for chunk in diff.removed.chunks(20_000) {
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(scan.device_id)
                    .bind(Json(chunk))
                    .execute(&mut *$tx)
                    .await?;
            }
        }
        if !diff.added.is_empty() {
            let sql = format!(
                "INSERT INTO device_packages (device_id, package_version_id, install_path, environment, \
                 arch, env_type, source_version, interpreter_version, purl, origin, first_seen) \
                 SELECT $1, CAST(j.value ->> 0 AS BIGINT), j.value ->> 1, j.value ->> 2, j.value ->> 3, \
                 j.value ->> 4, j.value ->> 5, j.value ->> 6, j.value ->> 7, j.value ->> 8, $3 \
                 FROM {} WHERE true ON CONFLICT DO NOTHING",
                json_rows($backend, "$2")
            );
            let rows: Vec<_> = diff
                .added
                .iter()
                .map(|(id, p)| {
                    (
                        id,
                        &p.install_path,
                        &p.environment,
                        &p.arch,
                        &p.env_type,
                        &p.source_version,
                        &p.interpreter_version,
                        &p.purl,
                        &p.origin,
                    )
                })
                .collect();
            for chunk in rows.chunks(20_000) {
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(scan.device_id)
                    .bind(Json(chunk))
                    .bind($now)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
        for (id, p) in &diff.updated {
            sqlx::query(
                "UPDATE device_packages SET env_type = $6, source_version = $7, interpreter_version = $8, \
                 purl = $9, origin = $10 WHERE device_id = $1 AND package_version_id = $2 \
                 AND install_path = $3 AND environment = $4 AND arch = $5",
            )
            .bind(scan.device_id)
            .bind(*id)
            .bind(&p.install_path)
            .bind(&p.environment)
            .bind(&p.arch)
            .bind(&p.env_type)
            .bind(&p.source_version)
            .bind(&p.interpreter_version)
            .bind(&p.purl)
            .bind(&p.origin)
            .execute(&mut *$tx)
            .await?;
        }
        for (versions, why) in [
            (&diff.gone_upgraded, "package_upgraded"),
            (&diff.gone_removed, "package_removed"),
        ] {
            if versions.is_empty() {
                continue;
            }
            let sql = format!(
                "UPDATE device_findings SET resolved_at = $2, resolution = $3 \
                 WHERE device_id = $1 AND resolved_at IS NULL AND package_version_id IN \
                 (SELECT CAST(j.value AS BIGINT) FROM {})",
                json_rows($backend, "$4")
            );
            let n = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(scan.device_id)
                .bind($now)
                .bind(why)
                .bind(Json(versions))
                .execute(&mut *$tx)
                .await?
                .rows_affected();
            diff.findings_resolved += n;
        }
    }};
}
use apply_diff;
