//! The read side of the fleet: paginated, filtered, sorted lists for the REST API and the
//! dashboard (devices, packages, runtimes, scans, diagnostics, findings, advisories) and the
//! overview counters.
//!
//! Rows come back as the REST bodies of `sentari_proto::fleet`, so the API serialises them as
//! they are. Sort keys are checked against a list per view; filters are bound parameters.
//! Counters that lists sort by (open findings per device, packages per device) are kept on the
//! device row by the ingest and the correlator, so no list aggregates the inventory per request.

// Query rows are decoded into tuples next to the SQL that produces them, which reads better
// than a named struct per statement; the long tuple types are the price.
#![allow(clippy::type_complexity)]

use std::collections::BTreeMap;

use sentari_proto::fleet::{
    AdvisoryGroup, DeviceErrors, DevicePackage, DeviceSummary, ErrorKindCount, FindingRow,
    FleetPackage, OsCount, Overview, RuntimeCycle, RuntimeRow, RuntimeTrendPoint, ScanBody,
    ScanErrorBody, SeverityBody, SeverityCounts,
};
use serde_json::Value;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;
use crate::store::{BackendKind, Store, with_pool};
use crate::ts::Ts;

/// Which page of a list to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// From 1.
    pub page: u32,
    /// 1 to 500; `u32::MAX` pages are for exports (see [`PageRequest::all`]).
    pub page_size: u32,
}

impl PageRequest {
    /// Every row (exports).
    pub fn all() -> PageRequest {
        PageRequest {
            page: 1,
            page_size: u32::MAX,
        }
    }

    fn limit(&self) -> i64 {
        i64::from(self.page_size)
    }

    fn offset(&self) -> i64 {
        i64::from(self.page.max(1) - 1) * i64::from(self.page_size)
    }
}

/// A bound parameter of a dynamically built query.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
    Uuid(Uuid),
    Ts(Ts),
}

/// Binds [`Arg`]s in order.
macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Text(s) => q.bind(s.clone()),
                Arg::Int(i) => q.bind(*i),
                Arg::Uuid(u) => q.bind(*u),
                Arg::Ts(t) => q.bind(*t),
            };
        }
        q
    }};
}

/// One page of a list and the list's total: `sql` takes the filter's arguments then `LIMIT` and
/// `OFFSET`, `count_sql` the same arguments alone. A macro rather than a function because the
/// row type must be decoded from both backends' rows, which `with_pool!` picks at run time.
macro_rules! fetch_page {
    ($store:expr, $sql:expr, $count_sql:expr, $args:expr, $page:expr) => {
        fetch_page!($store, $sql, $count_sql, $args, $args, $page)
    };
    // The total from a query with its own parameters.
    ($store:expr, $sql:expr, $count_sql:expr, $args:expr, $count_args:expr, $page:expr) => {
        with_pool!($store, |pool| {
            let rows = bind_args!(sqlx::query_as(sqlx::AssertSqlSafe($sql.as_str())), $args)
                .bind($page.limit())
                .bind($page.offset())
                .fetch_all(pool)
                .await?;
            let total: i64 = bind_args!(
                sqlx::query_scalar(sqlx::AssertSqlSafe($count_sql.as_str())),
                $count_args
            )
            .fetch_one(pool)
            .await?;
            (rows, total)
        })
    };
}

/// The `WHERE` clause of a list, with its parameters numbered as they are added.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    clauses: Vec<String>,
    args: Vec<Arg>,
}

impl Filter {
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    fn push(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }

    fn next(&self) -> usize {
        self.args.len() + 1
    }
}

/// `LIKE` that ignores case on both backends.
fn like(backend: BackendKind) -> &'static str {
    match backend {
        BackendKind::Sqlite => "LIKE",
        BackendKind::Postgres => "ILIKE",
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn contains_pattern(s: &str) -> String {
    format!("%{}%", like_escape(s))
}

/// The advisory ids that the parameter `p` names, as its id or as an alias: a subquery for
/// `advisory_id IN …`. A `UNION` rather than `advisory_id = p OR advisory_id IN (aliases)`,
/// whose `OR` kept PostgreSQL from using the open-findings index (3.7 s against 0.2 s for one
/// advisory at 10,000 devices).
fn advisory_or_alias(p: &str) -> String {
    format!("(SELECT {p} UNION ALL SELECT advisory_id FROM advisory_aliases WHERE alias = {p})")
}

/// A sort request (`field` or `-field`) resolved against the allowed columns.
pub(crate) fn order_by(
    sort: Option<&str>,
    allowed: &[(&str, &str)],
    default: &str,
) -> Result<String, StoreError> {
    let Some(sort) = sort.filter(|s| !s.is_empty()) else {
        return Ok(default.to_owned());
    };
    let (desc, field) = match sort.strip_prefix('-') {
        Some(f) => (true, f),
        None => (false, sort),
    };
    let Some((_, expr)) = allowed.iter().find(|(name, _)| *name == field) else {
        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
        return Err(StoreError::Invalid(format!(
            "cannot sort by `{field}`; sortable fields: {}",
            names.join(", ")
        )));
    };
    let dir = if desc { "DESC" } else { "ASC" };
    // Each allowed entry may list several comma-separated expressions; the direction applies
    // to each of them.
    let parts: Vec<String> = expr
        .split(',')
        .map(|e| format!("{} {dir}", e.trim()))
        .collect();
    Ok(format!("{}, {default}", parts.join(", ")))
}

fn tag_clause(backend: BackendKind, alias: &str, param: &str) -> String {
    match backend {
        BackendKind::Sqlite => {
            format!("EXISTS (SELECT 1 FROM json_each({alias}.tags) t WHERE t.value = {param})")
        }
        BackendKind::Postgres => format!("jsonb_exists({alias}.tags, {param})"),
    }
}

/// Device list filters.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    /// Substring of the hostname or machine id.
    pub q: Option<String>,
    /// `os_id`, OSV ecosystem, or substring of the pretty name.
    pub os: Option<String>,
    pub tag: Option<String>,
    /// `ok`, `errors`, `never`, `overdue`.
    pub scan_status: Option<String>,
    pub seen_after: Option<OffsetDateTime>,
    pub seen_before: Option<OffsetDateTime>,
    /// Devices with an open finding of at least this severity.
    pub min_severity: Option<String>,
    /// Devices that have this package (name, case-insensitive) …
    pub package: Option<String>,
    /// … at this version …
    pub package_version: Option<String>,
    /// … in this ecosystem.
    pub package_ecosystem: Option<String>,
    /// Devices that have this package version.
    pub package_version_id: Option<i64>,
    /// Devices that have any of these package versions (none: no device). The API's version
    /// range filter resolves the range to these ids with the ecosystem's comparator first.
    pub package_version_ids: Option<Vec<i64>>,
    /// Devices with an open finding of this advisory.
    pub advisory: Option<String>,
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: Uuid,
    hostname: String,
    machine_id: String,
    os: String,
    os_id: String,
    os_version_id: String,
    os_pretty_name: String,
    os_ecosystem: String,
    arch: String,
    kernel: String,
    host_kind: String,
    agent_version: String,
    python_version: String,
    tags: Json<Vec<String>>,
    enrolled_at: Ts,
    last_seen: Option<Ts>,
    last_scan_at: Option<Ts>,
    last_scan_status: String,
    package_count: i64,
    open_critical: i64,
    open_high: i64,
    open_medium: i64,
    open_low: i64,
    open_unknown: i64,
    open_suppressed: i64,
    cert_not_after: Ts,
}

const DEVICE_COLUMNS: &str = "d.id, d.hostname, d.machine_id, d.os, d.os_id, d.os_version_id, \
    d.os_pretty_name, d.os_ecosystem, d.arch, d.kernel, d.host_kind, d.agent_version, d.python_version, \
    d.tags, d.enrolled_at, d.last_seen, d.last_scan_at, d.last_scan_status, d.package_count, \
    d.open_critical, d.open_high, d.open_medium, d.open_low, d.open_unknown, d.open_suppressed, \
    d.cert_not_after";

fn device_summary(r: DeviceRow, overdue_before: OffsetDateTime) -> (DeviceSummary, OffsetDateTime) {
    let last_seen = r.last_seen.map(Ts::get);
    let scan_status = if r.last_scan_status == "never" {
        "never".to_owned()
    } else if last_seen.is_none_or(|t| t < overdue_before) {
        "overdue".to_owned()
    } else {
        r.last_scan_status
    };
    let os = if r.os_pretty_name.is_empty() {
        r.os
    } else {
        r.os_pretty_name
    };
    (
        DeviceSummary {
            id: r.id,
            hostname: r.hostname,
            machine_id: r.machine_id,
            os,
            os_id: r.os_id,
            os_version_id: r.os_version_id,
            os_ecosystem: r.os_ecosystem,
            arch: r.arch,
            kernel: r.kernel,
            host_kind: r.host_kind,
            agent_version: r.agent_version,
            python_version: r.python_version,
            tags: r.tags.0,
            enrolled_at: r.enrolled_at.get(),
            last_seen,
            last_scan_at: r.last_scan_at.map(Ts::get),
            scan_status,
            package_count: r.package_count,
            findings: SeverityCounts {
                critical: r.open_critical,
                high: r.open_high,
                medium: r.open_medium,
                low: r.open_low,
                unknown: r.open_unknown,
                suppressed: r.open_suppressed,
            },
        },
        r.cert_not_after.get(),
    )
}

/// Every severity rating a finding can carry.
const SEVERITY_NAMES: [&str; 6] = ["critical", "high", "medium", "low", "none", "unknown"];

/// The severities at or above `min`, as stored (lowercase).
fn severities_at_least(min: &str) -> Result<&'static [&'static str], StoreError> {
    Ok(match min.to_ascii_lowercase().as_str() {
        "critical" => &["critical"],
        "high" => &["critical", "high"],
        "medium" => &["critical", "high", "medium"],
        "low" => &["critical", "high", "medium", "low"],
        "unknown" | "none" | "any" => &["critical", "high", "medium", "low", "none", "unknown"],
        other => {
            return Err(StoreError::Invalid(format!(
                "unknown severity `{other}`; use critical, high, medium, low or any"
            )));
        }
    })
}

/// Finding list filters.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    /// At least this severity.
    pub min_severity: Option<String>,
    /// Exactly these severities.
    pub severity: Option<String>,
    /// Package ecosystem without release (`PyPI`) or exact (`Debian:12`).
    pub ecosystem: Option<String>,
    pub device_id: Option<Uuid>,
    pub advisory: Option<String>,
    /// Package name (case-insensitive).
    pub package: Option<String>,
    /// `Some(true)`: only suppressed; `Some(false)` (the default): only unsuppressed; `None`: both.
    pub suppressed: Option<bool>,
    /// `Some(true)`: only resolved; `Some(false)` (the default): only open; `None`: both.
    pub resolved: Option<bool>,
    /// Devices carrying this tag.
    pub tag: Option<String>,
}

impl FindingFilter {
    /// The severities the `min_severity` and `severity` filters let through, or `None` when
    /// neither is set. Both set means both apply.
    fn severities(&self) -> Result<Option<Vec<&'static str>>, StoreError> {
        let mut allowed: Option<Vec<&'static str>> = None;
        if let Some(min) = &self.min_severity {
            allowed = Some(severities_at_least(min)?.to_vec());
        }
        if let Some(sev) = &self.severity {
            let mut listed = Vec::new();
            for s in sev.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let s = s.to_ascii_lowercase();
                let Some(known) = SEVERITY_NAMES.iter().find(|k| **k == s) else {
                    return Err(StoreError::Invalid(format!(
                        "unknown severity `{s}`; use critical, high, medium, low, none or unknown"
                    )));
                };
                listed.push(*known);
            }
            if !listed.is_empty() {
                allowed = Some(match allowed {
                    Some(min) => min.into_iter().filter(|s| listed.contains(s)).collect(),
                    None => listed,
                });
            }
        }
        Ok(allowed)
    }

    /// The flat list's total read from the per-device counters (`devices.open_*`, kept by every
    /// statement that changes a device's findings) when the filter is one they count: open
    /// findings, by suppression, severity, device or tag. Counting the join instead reads
    /// every matching device finding: 22 million at 10,000 devices.
    fn counter_total(&self, backend: BackendKind) -> Result<Option<(String, Filter)>, StoreError> {
        if self.resolved != Some(false)
            || self.ecosystem.is_some()
            || self.advisory.is_some()
            || self.package.is_some()
        {
            return Ok(None);
        }
        let severities = self.severities()?;
        let columns: Vec<&str> = match (self.suppressed, severities) {
            (Some(true), None) => vec!["open_suppressed"],
            (None, None) => vec![
                "open_critical",
                "open_high",
                "open_medium",
                "open_low",
                "open_unknown",
                "open_suppressed",
            ],
            (Some(false), allowed) => {
                let allowed = allowed.unwrap_or_else(|| SEVERITY_NAMES.to_vec());
                let mut columns: Vec<&str> = [
                    ("critical", "open_critical"),
                    ("high", "open_high"),
                    ("medium", "open_medium"),
                    ("low", "open_low"),
                ]
                .into_iter()
                .filter(|(s, _)| allowed.contains(s))
                .map(|(_, c)| c)
                .collect();
                // One counter holds both `none` and `unknown`: it answers for both or neither.
                match (allowed.contains(&"none"), allowed.contains(&"unknown")) {
                    (true, true) => columns.push("open_unknown"),
                    (false, false) => {}
                    _ => return Ok(None),
                }
                columns
            }
            _ => return Ok(None),
        };
        let mut g = Filter::default();
        if let Some(d) = self.device_id {
            let p = g.arg(Arg::Uuid(d));
            g.push(format!("d.id = {p}"));
        }
        if let Some(t) = &self.tag {
            let p = g.arg(Arg::Text(t.clone()));
            g.push(tag_clause(backend, "d", &p));
        }
        let sum = if columns.is_empty() {
            "0".to_owned()
        } else {
            columns.join(" + ")
        };
        let sql = format!(
            "SELECT CAST(COALESCE(sum({sum}), 0) AS BIGINT) FROM devices d {}",
            g.sql()
        );
        Ok(Some((sql, g)))
    }

    /// True when the filter names a device, an advisory or a package: few device findings,
    /// found directly by an index.
    fn is_narrow(&self) -> bool {
        self.device_id.is_some() || self.advisory.is_some() || self.package.is_some()
    }

    /// True when the filter is the default view (open, unsuppressed, nothing else), the one
    /// the per-advisory counts of `advisory_fleet_stats` answer.
    fn is_default_view(&self) -> bool {
        self.resolved == Some(false)
            && self.suppressed == Some(false)
            && self.min_severity.is_none()
            && self.severity.as_deref().is_none_or(|s| s.trim().is_empty())
            && self.ecosystem.is_none()
            && self.device_id.is_none()
            && self.advisory.is_none()
            && self.package.is_none()
            && self.tag.is_none()
    }

    fn build(&self, backend: BackendKind, f: &mut Filter) -> Result<(), StoreError> {
        match self.resolved {
            Some(true) => f.push("df.resolved_at IS NOT NULL".into()),
            Some(false) => f.push("df.resolved_at IS NULL".into()),
            None => {}
        }
        match self.suppressed {
            Some(true) => f.push("df.suppressed".into()),
            Some(false) => f.push("NOT df.suppressed".into()),
            None => {}
        }
        if let Some(allowed) = self.severities()? {
            if allowed.is_empty() {
                f.push("1 = 0".into());
            } else {
                let quoted: Vec<String> = allowed.iter().map(|s| format!("'{s}'")).collect();
                f.push(format!("df.severity_rating IN ({})", quoted.join(", ")));
            }
        }
        if let Some(e) = &self.ecosystem {
            let p = f.arg(Arg::Text(e.clone()));
            f.push(format!("(pv.ecosystem = {p} OR pv.match_ecosystem = {p})"));
        }
        if let Some(d) = self.device_id {
            let p = f.arg(Arg::Uuid(d));
            f.push(format!("df.device_id = {p}"));
        }
        if let Some(a) = &self.advisory {
            let p = f.arg(Arg::Text(a.clone()));
            f.push(format!("df.advisory_id IN {}", advisory_or_alias(&p)));
        }
        if let Some(n) = &self.package {
            let p = f.arg(Arg::Text(n.to_lowercase()));
            f.push(format!("(pv.search_name = {p} OR pv.match_name = {p})"));
        }
        if let Some(t) = &self.tag {
            let p = f.arg(Arg::Text(t.clone()));
            f.push(tag_clause(backend, "d", &p));
        }
        Ok(())
    }
}

fn severity_body(
    rating: Option<String>,
    score: Option<f64>,
    kind: Option<String>,
    vector: Option<String>,
) -> SeverityBody {
    SeverityBody {
        rating: rating.unwrap_or_else(|| "unknown".into()),
        score,
        kind,
        vector,
    }
}

#[derive(sqlx::FromRow)]
struct FindingRecord {
    device_id: Uuid,
    hostname: String,
    package_version_id: i64,
    ecosystem: String,
    name: String,
    version: String,
    advisory_id: String,
    aliases: Json<Vec<String>>,
    summary: Option<String>,
    severity_rating: String,
    severity_score: Option<f64>,
    severity_type: Option<String>,
    severity_vector: Option<String>,
    fixed_version: Option<String>,
    reason: Json<Value>,
    detected_at: Ts,
    resolved_at: Option<Ts>,
    resolution: Option<String>,
    suppressed: bool,
}

#[derive(sqlx::FromRow)]
struct GroupRecord {
    advisory_id: String,
    devices: i64,
    packages: i64,
    first_detected: Ts,
    rank: i64,
}

#[derive(sqlx::FromRow)]
struct AdvisoryHead {
    id: String,
    aliases: Json<Vec<String>>,
    summary: Option<String>,
    severity_rating: Option<String>,
    severity_score: Option<f64>,
    severity_type: Option<String>,
    severity_vector: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ScanRecord {
    scan_id: Uuid,
    device_id: Uuid,
    hostname: String,
    scanned_at: Ts,
    received_at: Ts,
    applied_at: Option<Ts>,
    status: String,
    agent_version: String,
    duration_ms: i64,
    packages_received: i64,
    packages_added: i64,
    packages_removed: i64,
    packages_changed: i64,
    runtime_count: i64,
    error_count: i64,
    ingest_ms: Option<i64>,
    detail: Option<String>,
}

impl From<ScanRecord> for ScanBody {
    fn from(r: ScanRecord) -> Self {
        ScanBody {
            scan_id: r.scan_id,
            device_id: r.device_id,
            hostname: r.hostname,
            scanned_at: r.scanned_at.get(),
            received_at: r.received_at.get(),
            applied_at: r.applied_at.map(Ts::get),
            status: r.status,
            agent_version: r.agent_version,
            duration_ms: r.duration_ms,
            packages: r.packages_received,
            packages_added: r.packages_added,
            packages_removed: r.packages_removed,
            packages_changed: r.packages_changed,
            runtimes: r.runtime_count,
            errors: r.error_count,
            ingest_ms: r.ingest_ms,
            detail: r.detail,
        }
    }
}

const SCAN_COLUMNS: &str = "s.scan_id, s.device_id, d.hostname, s.scanned_at, s.received_at, \
    s.applied_at, s.status, s.agent_version, s.duration_ms, s.packages_received, s.packages_added, \
    s.packages_removed, s.packages_changed, s.runtime_count, s.error_count, s.ingest_ms, s.detail";

#[derive(sqlx::FromRow)]
struct RuntimeRecord {
    device_id: Uuid,
    hostname: String,
    os: String,
    kind: String,
    version: String,
    path: String,
    vendor: Option<String>,
    eol_product: Option<String>,
    eol_cycle: Option<String>,
    eol_date: Option<String>,
    eol_status: String,
    last_scan_at: Option<Ts>,
}

impl From<RuntimeRecord> for RuntimeRow {
    fn from(r: RuntimeRecord) -> Self {
        RuntimeRow {
            device_id: r.device_id,
            hostname: r.hostname,
            os: r.os,
            kind: r.kind,
            version: r.version,
            path: r.path,
            vendor: r.vendor,
            eol_product: r.eol_product,
            eol_cycle: r.eol_cycle,
            eol_date: r.eol_date,
            eol_status: r.eol_status,
            last_scan_at: r.last_scan_at.map(Ts::get),
        }
    }
}

const RUNTIME_COLUMNS: &str = "r.device_id, d.hostname, \
    CASE WHEN d.os_pretty_name = '' THEN d.os ELSE d.os_pretty_name END AS os, r.kind, r.version, r.path, \
    r.vendor, r.eol_product, r.eol_cycle, r.eol_date, r.eol_status, d.last_scan_at";

/// Runtime list filters.
#[derive(Debug, Clone, Default)]
pub struct RuntimeFilter {
    pub kind: Option<String>,
    /// Version prefix (`3.11`).
    pub version: Option<String>,
    pub eol_status: Option<String>,
    pub device_id: Option<Uuid>,
    /// Hostname substring.
    pub q: Option<String>,
}

/// Package list filters.
#[derive(Debug, Clone, Default)]
pub struct PackageFilter {
    /// Name: exact (case-insensitive) unless `prefix`.
    pub name: Option<String>,
    /// Match names starting with `name`.
    pub prefix: bool,
    /// Ecosystem without release (`PyPI`) or exact (`Debian:12`).
    pub ecosystem: Option<String>,
    /// Exact version.
    pub version: Option<String>,
    /// Only versions with open findings.
    pub vulnerable: bool,
}

/// The fleet's cheap counters (see [`Store::fleet_counts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetCounts {
    pub devices_total: i64,
    pub devices_active: i64,
    pub devices_overdue: i64,
    pub packages_inventoried: i64,
    pub findings: SeverityCounts,
    pub eol_runtimes: i64,
    pub eol_soon_runtimes: i64,
}

/// Device package list filters.
#[derive(Debug, Clone, Default)]
pub struct DevicePackageFilter {
    /// Name substring.
    pub q: Option<String>,
    pub ecosystem: Option<String>,
    /// `os`, `venv`, `jar`, … (the seed's "source").
    pub env_type: Option<String>,
    pub environment: Option<String>,
    /// Only packages with open findings.
    pub vulnerable: bool,
}

/// Scan history filters.
#[derive(Debug, Clone, Default)]
pub struct ScanFilter {
    pub device_id: Option<Uuid>,
    pub status: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

impl Store {
    /// Devices, filtered, sorted and paginated. `overdue_before`: devices last seen before
    /// this instant are reported with scan status `overdue`.
    pub async fn list_fleet_devices(
        &self,
        filter: &DeviceFilter,
        sort: Option<&str>,
        page: PageRequest,
        overdue_before: OffsetDateTime,
    ) -> Result<(Vec<DeviceSummary>, i64), StoreError> {
        let backend = self.backend();
        let mut f = Filter::default();
        if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
            let p = f.arg(Arg::Text(contains_pattern(q)));
            let l = like(backend);
            f.push(format!(
                "(d.hostname {l} {p} ESCAPE '\\' OR d.machine_id {l} {p} ESCAPE '\\')"
            ));
        }
        if let Some(os) = filter.os.as_deref().filter(|s| !s.is_empty()) {
            let exact = f.arg(Arg::Text(os.to_owned()));
            let pat = f.arg(Arg::Text(contains_pattern(os)));
            let l = like(backend);
            f.push(format!(
                "(d.os_id = {exact} OR d.os_ecosystem = {exact} OR d.os_pretty_name {l} {pat} ESCAPE '\\' OR d.os {l} {pat} ESCAPE '\\')"
            ));
        }
        if let Some(t) = filter.tag.as_deref().filter(|s| !s.is_empty()) {
            let p = f.arg(Arg::Text(t.to_owned()));
            f.push(tag_clause(backend, "d", &p));
        }
        if let Some(s) = filter.scan_status.as_deref().filter(|s| !s.is_empty()) {
            let cut = f.arg(Arg::Ts(Ts::new(overdue_before)));
            match s {
                "never" => f.push("d.last_scan_status = 'never'".into()),
                "overdue" => f.push(format!(
                    "d.last_scan_status <> 'never' AND (d.last_seen IS NULL OR d.last_seen < {cut})"
                )),
                "ok" | "errors" => {
                    let p = f.arg(Arg::Text(s.to_owned()));
                    f.push(format!("d.last_scan_status = {p} AND d.last_seen >= {cut}"));
                }
                other => {
                    return Err(StoreError::Invalid(format!(
                        "unknown scan status `{other}`; use ok, errors, never or overdue"
                    )));
                }
            }
        }
        if let Some(t) = filter.seen_after {
            let p = f.arg(Arg::Ts(Ts::new(t)));
            f.push(format!("d.last_seen >= {p}"));
        }
        if let Some(t) = filter.seen_before {
            let p = f.arg(Arg::Ts(Ts::new(t)));
            f.push(format!("(d.last_seen IS NULL OR d.last_seen < {p})"));
        }
        if let Some(min) = filter.min_severity.as_deref().filter(|s| !s.is_empty()) {
            let cols: Vec<&str> = severities_at_least(min)?
                .iter()
                .map(|s| match *s {
                    "critical" => "d.open_critical",
                    "high" => "d.open_high",
                    "medium" => "d.open_medium",
                    "low" => "d.open_low",
                    _ => "d.open_unknown",
                })
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            f.push(format!("({}) > 0", cols.join(" + ")));
        }
        if let Some(name) = filter.package.as_deref().filter(|s| !s.is_empty()) {
            let p = f.arg(Arg::Text(name.to_lowercase()));
            let mut sub = format!(
                "d.id IN (SELECT dp.device_id FROM package_versions pv JOIN device_packages dp \
                 ON dp.package_version_id = pv.id WHERE (pv.search_name = {p} OR pv.match_name = {p})"
            );
            if let Some(v) = filter.package_version.as_deref().filter(|s| !s.is_empty()) {
                let pv = f.arg(Arg::Text(v.to_owned()));
                sub.push_str(&format!(" AND pv.version = {pv}"));
            }
            if let Some(e) = filter
                .package_ecosystem
                .as_deref()
                .filter(|s| !s.is_empty())
            {
                let pe = f.arg(Arg::Text(e.to_owned()));
                sub.push_str(&format!(
                    " AND (pv.ecosystem = {pe} OR pv.match_ecosystem = {pe})"
                ));
            }
            sub.push(')');
            f.push(sub);
        }
        if let Some(id) = filter.package_version_id {
            let p = f.arg(Arg::Int(id));
            f.push(format!(
                "d.id IN (SELECT device_id FROM device_packages WHERE package_version_id = {p})"
            ));
        }
        if let Some(ids) = &filter.package_version_ids {
            if ids.is_empty() {
                f.push("1 = 0".to_owned());
            } else {
                // The ids are integers read from this database, so they are written into the
                // statement as literals rather than bound one parameter each.
                let list = ids
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                f.push(format!(
                    "d.id IN (SELECT device_id FROM device_packages WHERE package_version_id IN ({list}))"
                ));
            }
        }
        if let Some(a) = filter.advisory.as_deref().filter(|s| !s.is_empty()) {
            let p = f.arg(Arg::Text(a.to_owned()));
            f.push(format!(
                "d.id IN (SELECT device_id FROM device_findings WHERE resolved_at IS NULL \
                 AND advisory_id IN {})",
                advisory_or_alias(&p)
            ));
        }
        let order = order_by(
            sort,
            &[
                ("hostname", "d.hostname"),
                ("last_seen", "d.last_seen"),
                ("last_scan_at", "d.last_scan_at"),
                ("os", "d.os_pretty_name"),
                ("python_version", "d.python_version"),
                ("package_count", "d.package_count"),
                ("enrolled_at", "d.enrolled_at"),
                (
                    "findings",
                    "d.open_critical, d.open_high, d.open_medium, d.open_low, d.open_unknown",
                ),
                ("critical", "d.open_critical"),
                ("high", "d.open_high"),
                ("agent_version", "d.agent_version"),
            ],
            "d.hostname, d.id",
        )?;
        let where_sql = f.sql();
        let n = f.next();
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices d {where_sql} ORDER BY {order} LIMIT ${n} OFFSET ${}",
            n + 1
        );
        let count_sql = format!("SELECT count(*) FROM devices d {where_sql}");
        self.timed("list_fleet_devices", async {
            let (rows, total): (Vec<DeviceRow>, i64) =
                fetch_page!(self, &sql, &count_sql, &f.args, page);
            Ok((
                rows.into_iter()
                    .map(|r| device_summary(r, overdue_before).0)
                    .collect(),
                total,
            ))
        })
        .await
    }

    /// One device with its certificate's end of validity.
    pub async fn fleet_device(
        &self,
        id: Uuid,
        overdue_before: OffsetDateTime,
    ) -> Result<Option<(DeviceSummary, OffsetDateTime)>, StoreError> {
        self.timed("fleet_device", async {
            let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices d WHERE d.id = $1");
            let r: Option<DeviceRow> = with_pool!(self, |pool| sqlx::query_as(
                sqlx::AssertSqlSafe(sql.as_str())
            )
            .bind(id)
            .fetch_optional(pool)
            .await?);
            Ok(r.map(|r| device_summary(r, overdue_before)))
        })
        .await
    }

    /// Replaces a device's tags and re-applies tag suppressions to its findings.
    pub async fn set_device_tags(&self, id: Uuid, tags: &[String]) -> Result<bool, StoreError> {
        let backend = self.backend();
        self.timed("set_device_tags", async {
            let now = Ts::now();
            let found = crate::inventory::in_write_tx!(self, |tx| {
                let n = sqlx::query("UPDATE devices SET tags = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(Json(tags))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 1 {
                    let sup = crate::findings::suppressed_expr(backend, "device_findings.advisory_id", "$2");
                    let sql = format!(
                        "UPDATE device_findings SET suppressed = (SELECT {sup} FROM devices d, package_versions pv \
                         WHERE d.id = device_findings.device_id AND pv.id = device_findings.package_version_id) \
                         WHERE device_id = $1 AND resolved_at IS NULL"
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(id).bind(now).execute(&mut *tx).await?;
                    crate::findings::refresh_counts!(&mut *tx, backend, Some(&[id][..]));
                }
                n == 1
            });
            Ok(found)
        })
        .await
    }

    /// The packages of one device.
    pub async fn list_device_packages(
        &self,
        device_id: Uuid,
        filter: &DevicePackageFilter,
        sort: Option<&str>,
        page: PageRequest,
    ) -> Result<(Vec<DevicePackage>, i64), StoreError> {
        let backend = self.backend();
        let mut f = Filter::default();
        let dev = f.arg(Arg::Uuid(device_id));
        f.push(format!("dp.device_id = {dev}"));
        if let Some(q) = filter.q.as_deref().filter(|s| !s.is_empty()) {
            let p = f.arg(Arg::Text(contains_pattern(q)));
            f.push(format!("pv.name {} {p} ESCAPE '\\'", like(backend)));
        }
        if let Some(e) = filter.ecosystem.as_deref().filter(|s| !s.is_empty()) {
            let p = f.arg(Arg::Text(e.to_owned()));
            f.push(format!("(pv.ecosystem = {p} OR pv.match_ecosystem = {p})"));
        }
        if let Some(t) = filter.env_type.as_deref().filter(|s| !s.is_empty()) {
            let p = f.arg(Arg::Text(t.to_owned()));
            f.push(format!("dp.env_type = {p}"));
        }
        if let Some(e) = filter.environment.as_deref().filter(|s| !s.is_empty()) {
            let p = f.arg(Arg::Text(e.to_owned()));
            f.push(format!("dp.environment = {p}"));
        }
        let open = format!(
            "(SELECT count(*) FROM device_findings df WHERE df.device_id = {dev} \
             AND df.package_version_id = dp.package_version_id AND df.resolved_at IS NULL AND NOT df.suppressed)"
        );
        if filter.vulnerable {
            f.push(format!("{open} > 0"));
        }
        let order = order_by(
            sort,
            &[
                ("name", "pv.search_name"),
                ("version", "pv.version"),
                ("ecosystem", "pv.ecosystem"),
                ("env_type", "dp.env_type"),
                ("install_path", "dp.install_path"),
                ("first_seen", "dp.first_seen"),
                ("open_findings", "open_findings"),
            ],
            "pv.search_name, pv.version, dp.install_path, dp.environment, dp.arch",
        )?;
        let where_sql = f.sql();
        let n = f.next();
        let sql = format!(
            "SELECT dp.package_version_id, pv.ecosystem, pv.name, pv.version, pv.source_name, \
             dp.source_version, dp.arch, dp.install_path, dp.env_type, dp.environment, \
             dp.interpreter_version, dp.purl, dp.origin, dp.first_seen, {open} AS open_findings \
             FROM device_packages dp JOIN package_versions pv ON pv.id = dp.package_version_id \
             {where_sql} ORDER BY {order} LIMIT ${n} OFFSET ${}",
            n + 1
        );
        let count_sql = format!(
            "SELECT count(*) FROM device_packages dp JOIN package_versions pv ON pv.id = dp.package_version_id {where_sql}"
        );
        #[derive(sqlx::FromRow)]
        struct Row {
            package_version_id: i64,
            ecosystem: String,
            name: String,
            version: String,
            source_name: String,
            source_version: Option<String>,
            arch: String,
            install_path: String,
            env_type: String,
            environment: String,
            interpreter_version: Option<String>,
            purl: Option<String>,
            origin: Option<String>,
            first_seen: Ts,
            open_findings: i64,
        }
        let none_if_empty = |s: String| if s.is_empty() { None } else { Some(s) };
        self.timed("list_device_packages", async {
            let (rows, total): (Vec<Row>, i64) = fetch_page!(self, &sql, &count_sql, &f.args, page);
            Ok((
                rows.into_iter()
                    .map(|r| DevicePackage {
                        package_version_id: r.package_version_id,
                        ecosystem: r.ecosystem,
                        name: r.name,
                        version: r.version,
                        source_name: none_if_empty(r.source_name),
                        source_version: r.source_version,
                        arch: none_if_empty(r.arch),
                        install_path: r.install_path,
                        env_type: r.env_type,
                        environment: none_if_empty(r.environment),
                        interpreter_version: r.interpreter_version,
                        purl: r.purl,
                        origin: r.origin,
                        first_seen: r.first_seen.get(),
                        open_findings: r.open_findings,
                    })
                    .collect(),
                total,
            ))
        })
        .await
    }

    /// Distinct package versions across the fleet with the number of devices that have each.
    pub async fn list_fleet_packages(
        &self,
        filter: &PackageFilter,
        sort: Option<&str>,
        page: PageRequest,
    ) -> Result<(Vec<FleetPackage>, i64), StoreError> {
        let mut f = Filter::default();
        // Only versions some device has now; the counter is kept by the ingest diff.
        f.push("pv.device_count > 0".into());
        if let Some(name) = filter.name.as_deref().filter(|s| !s.is_empty()) {
            let lower = name.to_lowercase();
            if filter.prefix {
                // A range on the byte-ordered column is a prefix match that uses the index.
                let lo = f.arg(Arg::Text(lower.clone()));
                let hi = f.arg(Arg::Text(format!("{lower}\u{10FFFF}")));
                f.push(format!("pv.search_name >= {lo} AND pv.search_name < {hi}"));
            } else {
                let p = f.arg(Arg::Text(lower));
                f.push(format!("(pv.search_name = {p} OR pv.match_name = {p})"));
            }
        }
        if let Some(e) = filter.ecosystem.as_deref().filter(|s| !s.is_empty()) {
            let p = f.arg(Arg::Text(e.to_owned()));
            f.push(format!("(pv.ecosystem = {p} OR pv.match_ecosystem = {p})"));
        }
        if let Some(v) = filter.version.as_deref().filter(|s| !s.is_empty()) {
            let p = f.arg(Arg::Text(v.to_owned()));
            f.push(format!("pv.version = {p}"));
        }
        let advisories = "(SELECT count(*) FROM findings fi WHERE fi.package_version_id = pv.id AND fi.resolved_at IS NULL)";
        if filter.vulnerable {
            // A semi-join that stops at a version's first open finding: counting them all for
            // each of 45,000 versions took 0.4 s at 10,000 devices.
            f.push(
                "EXISTS (SELECT 1 FROM findings fi WHERE fi.package_version_id = pv.id \
                 AND fi.resolved_at IS NULL)"
                    .into(),
            );
        }
        let order = order_by(
            sort,
            &[
                ("name", "pv.search_name"),
                ("version", "pv.version"),
                ("ecosystem", "pv.ecosystem"),
                ("devices", "devices"),
                ("advisories", "advisories"),
            ],
            "pv.search_name, pv.ecosystem, pv.version, pv.id",
        )?;
        let where_sql = f.sql();
        let n = f.next();
        let sql = format!(
            "SELECT pv.id, pv.ecosystem, pv.name, pv.version, pv.source_name, pv.status, \
             pv.device_count AS devices, \
             {advisories} AS advisories FROM package_versions pv {where_sql} \
             ORDER BY {order} LIMIT ${n} OFFSET ${}",
            n + 1
        );
        let count_sql = format!("SELECT count(*) FROM package_versions pv {where_sql}");
        self.timed("list_fleet_packages", async {
            let (rows, total): (
                Vec<(i64, String, String, String, String, String, i64, i64)>,
                i64,
            ) = fetch_page!(self, &sql, &count_sql, &f.args, page);
            Ok((
                rows.into_iter()
                    .map(
                        |(id, ecosystem, name, version, source, status, devices, advisories)| {
                            FleetPackage {
                                package_version_id: id,
                                ecosystem,
                                name,
                                version,
                                source_name: if source.is_empty() {
                                    None
                                } else {
                                    Some(source)
                                },
                                devices,
                                advisories,
                                match_status: status,
                            }
                        },
                    )
                    .collect(),
                total,
            ))
        })
        .await
    }

    /// Runtime installations across the fleet.
    pub async fn list_runtimes(
        &self,
        filter: &RuntimeFilter,
        sort: Option<&str>,
        page: PageRequest,
    ) -> Result<(Vec<RuntimeRow>, i64), StoreError> {
        let backend = self.backend();
        let mut f = Filter::default();
        if let Some(k) = filter.kind.as_deref().filter(|s| !s.is_empty()) {
            let p = f.arg(Arg::Text(k.to_owned()));
            f.push(format!("r.kind = {p}"));
        }
        if let Some(v) = filter.version.as_deref().filter(|s| !s.is_empty()) {
            let p = f.arg(Arg::Text(format!("{}%", like_escape(v))));
            f.push(format!("r.version LIKE {p} ESCAPE '\\'"));
        }
        if let Some(s) = filter.eol_status.as_deref().filter(|s| !s.is_empty()) {
            let p = f.arg(Arg::Text(s.to_owned()));
            f.push(format!("r.eol_status = {p}"));
        }
        if let Some(d) = filter.device_id {
            let p = f.arg(Arg::Uuid(d));
            f.push(format!("r.device_id = {p}"));
        }
        if let Some(q) = filter.q.as_deref().filter(|s| !s.is_empty()) {
            let p = f.arg(Arg::Text(contains_pattern(q)));
            f.push(format!("d.hostname {} {p} ESCAPE '\\'", like(backend)));
        }
        let order = order_by(
            sort,
            &[
                ("hostname", "d.hostname"),
                ("kind", "r.kind"),
                ("version", "r.version"),
                ("eol_date", "r.eol_date"),
                ("eol_status", "r.eol_status"),
                ("last_scan_at", "d.last_scan_at"),
            ],
            "d.hostname, r.kind, r.path, r.device_id",
        )?;
        let where_sql = f.sql();
        let n = f.next();
        let sql = format!(
            "SELECT {RUNTIME_COLUMNS} FROM device_runtimes r JOIN devices d ON d.id = r.device_id \
             {where_sql} ORDER BY {order} LIMIT ${n} OFFSET ${}",
            n + 1
        );
        let count_sql = format!(
            "SELECT count(*) FROM device_runtimes r JOIN devices d ON d.id = r.device_id {where_sql}"
        );
        self.timed("list_runtimes", async {
            let (rows, total): (Vec<RuntimeRecord>, i64) =
                fetch_page!(self, &sql, &count_sql, &f.args, page);
            Ok((rows.into_iter().map(RuntimeRow::from).collect(), total))
        })
        .await
    }

    /// Installations per runtime cycle, and the daily trend since `since` (`YYYY-MM-DD`).
    pub async fn runtime_summary(
        &self,
        since: &str,
    ) -> Result<(Vec<RuntimeCycle>, Vec<RuntimeTrendPoint>), StoreError> {
        self.timed("runtime_summary", async {
            let (cycles, trend): (
                Vec<(String, String, String, Option<String>, i64, i64)>,
                Vec<(String, String, String, i64)>,
            ) = with_pool!(self, |pool| {
                let cycles = sqlx::query_as(
                    "SELECT kind, COALESCE(eol_cycle, version) AS cycle, max(eol_status), max(eol_date), \
                     count(DISTINCT device_id), count(*) FROM device_runtimes \
                     GROUP BY kind, COALESCE(eol_cycle, version) ORDER BY kind, cycle",
                )
                .fetch_all(pool)
                .await?;
                let trend = sqlx::query_as(
                    "SELECT day, kind, cycle, devices FROM runtime_daily WHERE day >= $1 \
                     ORDER BY day, kind, cycle",
                )
                .bind(since)
                .fetch_all(pool)
                .await?;
                (cycles, trend)
            });
            Ok((
                cycles
                    .into_iter()
                    .map(|(kind, cycle, eol_status, eol_date, devices, installations)| RuntimeCycle {
                        kind,
                        cycle,
                        eol_status,
                        eol_date,
                        devices,
                        installations,
                    })
                    .collect(),
                trend
                    .into_iter()
                    .map(|(day, kind, cycle, devices)| RuntimeTrendPoint {
                        day,
                        kind,
                        cycle,
                        devices,
                    })
                    .collect(),
            ))
        })
        .await
    }

    /// Records today's runtime cycle counts for the trend (idempotent per day).
    pub async fn snapshot_runtimes(&self, day: &str) -> Result<u64, StoreError> {
        self.timed("snapshot_runtimes", async {
            let n = with_pool!(self, |pool| {
                let mut tx = sqlx::Acquire::begin(pool).await?;
                sqlx::query("DELETE FROM runtime_daily WHERE day = $1")
                    .bind(day)
                    .execute(&mut *tx)
                    .await?;
                let n = sqlx::query(
                    "INSERT INTO runtime_daily (day, kind, cycle, devices) \
                     SELECT $1, kind, COALESCE(eol_cycle, version), count(DISTINCT device_id) \
                     FROM device_runtimes GROUP BY kind, COALESCE(eol_cycle, version)",
                )
                .bind(day)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                n
            });
            Ok(n)
        })
        .await
    }

    /// Every distinct `(kind, version, vendor)` installed (for the EOL status refresh).
    pub async fn distinct_runtimes(
        &self,
    ) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
        self.timed("distinct_runtimes", async {
            let rows = with_pool!(self, |pool| sqlx::query_as(
                "SELECT DISTINCT kind, version, vendor FROM device_runtimes"
            )
            .fetch_all(pool)
            .await?);
            Ok(rows)
        })
        .await
    }

    /// Sets the EOL fields of every installation of `(kind, version, vendor)`.
    #[allow(clippy::type_complexity)]
    pub async fn set_runtime_eol(
        &self,
        updates: &[(
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
        )],
    ) -> Result<u64, StoreError> {
        self.timed("set_runtime_eol", async {
            let n = crate::inventory::in_write_tx!(self, |tx| {
                let mut n = 0;
                for (kind, version, vendor, product, cycle, date, status) in updates {
                    n += sqlx::query(
                        "UPDATE device_runtimes SET eol_product = $3, eol_cycle = $4, eol_date = $5, \
                         eol_status = $6 WHERE kind = $1 AND version = $2 AND vendor IS NOT DISTINCT FROM $7",
                    )
                    .bind(kind)
                    .bind(version)
                    .bind(product)
                    .bind(cycle)
                    .bind(date)
                    .bind(status)
                    .bind(vendor)
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

    /// The scan history.
    pub async fn list_scan_history(
        &self,
        filter: &ScanFilter,
        sort: Option<&str>,
        page: PageRequest,
    ) -> Result<(Vec<ScanBody>, i64), StoreError> {
        let mut f = Filter::default();
        if let Some(d) = filter.device_id {
            let p = f.arg(Arg::Uuid(d));
            f.push(format!("s.device_id = {p}"));
        }
        if let Some(s) = filter.status.as_deref().filter(|s| !s.is_empty()) {
            let p = f.arg(Arg::Text(s.to_owned()));
            f.push(format!("s.status = {p}"));
        }
        if let Some(t) = filter.since {
            let p = f.arg(Arg::Ts(Ts::new(t)));
            f.push(format!("s.received_at >= {p}"));
        }
        if let Some(t) = filter.until {
            let p = f.arg(Arg::Ts(Ts::new(t)));
            f.push(format!("s.received_at < {p}"));
        }
        let order = order_by(
            sort,
            &[
                ("received_at", "s.received_at"),
                ("scanned_at", "s.scanned_at"),
                ("hostname", "d.hostname"),
                ("packages", "s.packages_received"),
                ("errors", "s.error_count"),
                ("duration_ms", "s.duration_ms"),
                ("status", "s.status"),
            ],
            "s.received_at DESC, s.scan_id",
        )?;
        let where_sql = f.sql();
        let n = f.next();
        let sql = format!(
            "SELECT {SCAN_COLUMNS} FROM scans s JOIN devices d ON d.id = s.device_id {where_sql} \
             ORDER BY {order} LIMIT ${n} OFFSET ${}",
            n + 1
        );
        let count_sql = format!("SELECT count(*) FROM scans s {where_sql}");
        self.timed("list_scan_history", async {
            let (rows, total): (Vec<ScanRecord>, i64) =
                fetch_page!(self, &sql, &count_sql, &f.args, page);
            Ok((rows.into_iter().map(ScanBody::from).collect(), total))
        })
        .await
    }

    /// Error counts per kind across the devices' latest scans, and the devices with errors.
    pub async fn diagnostics(
        &self,
        page: PageRequest,
    ) -> Result<(Vec<ErrorKindCount>, Vec<DeviceErrors>, i64), StoreError> {
        let backend = self.backend();
        self.timed("diagnostics", async {
            let kinds_agg = match backend {
                BackendKind::Sqlite => "group_concat(DISTINCT e.scanner || ':' || e.kind)",
                BackendKind::Postgres => "string_agg(DISTINCT e.scanner || ':' || e.kind, ',')",
            };
            let by_kind_sql = "SELECT e.scanner, e.kind, count(DISTINCT e.device_id), count(*) \
                 FROM scan_errors e JOIN devices d ON d.last_scan_id = e.scan_id \
                 GROUP BY e.scanner, e.kind ORDER BY count(*) DESC, e.scanner, e.kind";
            let devices_sql = format!(
                "SELECT d.id, d.hostname, d.last_scan_at, count(*) AS errors, {kinds_agg} AS kinds \
                 FROM scan_errors e JOIN devices d ON d.last_scan_id = e.scan_id \
                 GROUP BY d.id, d.hostname, d.last_scan_at ORDER BY errors DESC, d.hostname, d.id \
                 LIMIT $1 OFFSET $2"
            );
            let count_sql = "SELECT count(DISTINCT e.device_id) FROM scan_errors e \
                 JOIN devices d ON d.last_scan_id = e.scan_id";
            let (by_kind, devices, total): (
                Vec<(String, String, i64, i64)>,
                Vec<(Uuid, String, Option<Ts>, i64, Option<String>)>,
                i64,
            ) = with_pool!(self, |pool| {
                let by_kind = sqlx::query_as(sqlx::AssertSqlSafe(by_kind_sql))
                    .fetch_all(pool)
                    .await?;
                let devices = sqlx::query_as(sqlx::AssertSqlSafe(devices_sql.as_str()))
                    .bind(page.limit())
                    .bind(page.offset())
                    .fetch_all(pool)
                    .await?;
                let total = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
                    .fetch_one(pool)
                    .await?;
                (by_kind, devices, total)
            });
            Ok((
                by_kind
                    .into_iter()
                    .map(|(scanner, kind, devices, errors)| ErrorKindCount {
                        scanner,
                        kind,
                        devices,
                        errors,
                    })
                    .collect(),
                devices
                    .into_iter()
                    .map(|(id, hostname, last, errors, kinds)| {
                        let mut kinds: Vec<String> = kinds
                            .unwrap_or_default()
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect();
                        kinds.sort();
                        DeviceErrors {
                            device_id: id,
                            hostname,
                            last_scan_at: last.map(Ts::get),
                            errors,
                            kinds,
                        }
                    })
                    .collect(),
                total,
            ))
        })
        .await
    }

    /// The errors of a device's latest scan (or of one scan).
    pub async fn scan_errors(
        &self,
        device_id: Option<Uuid>,
        scan_id: Option<Uuid>,
        page: PageRequest,
    ) -> Result<(Vec<ScanErrorBody>, i64), StoreError> {
        let mut f = Filter::default();
        if let Some(s) = scan_id {
            let p = f.arg(Arg::Uuid(s));
            f.push(format!("e.scan_id = {p}"));
        } else {
            f.push("e.scan_id = d.last_scan_id".into());
        }
        if let Some(d) = device_id {
            let p = f.arg(Arg::Uuid(d));
            f.push(format!("e.device_id = {p}"));
        }
        let where_sql = f.sql();
        let n = f.next();
        let sql = format!(
            "SELECT e.scan_id, e.device_id, d.hostname, e.scanner, e.kind, e.path, e.message, s.scanned_at \
             FROM scan_errors e JOIN devices d ON d.id = e.device_id JOIN scans s ON s.scan_id = e.scan_id \
             {where_sql} ORDER BY d.hostname, e.scan_id, e.seq LIMIT ${n} OFFSET ${}",
            n + 1
        );
        let count_sql = format!(
            "SELECT count(*) FROM scan_errors e JOIN devices d ON d.id = e.device_id {where_sql}"
        );
        self.timed("scan_errors", async {
            let (rows, total): (
                Vec<(Uuid, Uuid, String, String, String, String, String, Ts)>,
                i64,
            ) = fetch_page!(self, &sql, &count_sql, &f.args, page);
            Ok((
                rows.into_iter()
                    .map(
                        |(scan_id, device_id, hostname, scanner, kind, path, message, at)| {
                            ScanErrorBody {
                                scan_id,
                                device_id,
                                hostname,
                                scanner,
                                kind,
                                path,
                                message,
                                scanned_at: at.get(),
                            }
                        },
                    )
                    .collect(),
                total,
            ))
        })
        .await
    }

    /// Device findings, flat.
    pub async fn list_findings(
        &self,
        filter: &FindingFilter,
        sort: Option<&str>,
        page: PageRequest,
    ) -> Result<(Vec<FindingRow>, i64), StoreError> {
        let backend = self.backend();
        let mut f = Filter::default();
        filter.build(backend, &mut f)?;
        let order = order_by(
            sort,
            &[
                ("severity", "sev_rank"),
                ("score", "fi.severity_score"),
                ("detected_at", "df.detected_at"),
                ("resolved_at", "df.resolved_at"),
                ("hostname", "d.hostname"),
                ("package", "pv.search_name"),
                ("advisory", "df.advisory_id"),
            ],
            "df.device_id, pv.search_name, df.advisory_id, df.package_version_id",
        )?;
        // Highest severity first unless asked otherwise. That default order is walked from the
        // findings (one row per package version × advisory) in the order of their severity
        // index, each finding's devices read from the device findings' package-version index,
        // so a page reads a few findings instead of sorting every device finding.
        let default_order = sort.is_none_or(str::is_empty);
        // SQLite plans joins from its own estimates and, without statistics, starts from the
        // device findings; `CROSS JOIN` makes it walk the findings first, except when the filter
        // names a device, advisory or package, whose device findings an index finds directly.
        let walk = match backend {
            BackendKind::Sqlite if !filter.is_narrow() => "CROSS JOIN",
            _ => "JOIN",
        };
        let (from, order) = if default_order {
            (
                format!(
                    "FROM findings fi {walk} device_findings df ON df.package_version_id = fi.package_version_id \
                     AND df.advisory_id = fi.advisory_id"
                ),
                format!(
                    "{FINDING_RANK} DESC, fi.severity_score DESC, fi.advisory_id, fi.package_version_id, df.device_id"
                ),
            )
        } else {
            (
                "FROM device_findings df JOIN findings fi ON fi.package_version_id = df.package_version_id \
                 AND fi.advisory_id = df.advisory_id"
                    .to_owned(),
                order,
            )
        };
        let where_sql = f.sql();
        let n = f.next();
        let sql = format!(
            "SELECT df.device_id, d.hostname, df.package_version_id, pv.ecosystem, pv.name, pv.version, \
             df.advisory_id, a.aliases, a.summary, df.severity_rating, fi.severity_score, fi.severity_type, \
             fi.severity_vector, fi.fixed_version, fi.reason, df.detected_at, df.resolved_at, df.resolution, \
             df.suppressed, {SEV_RANK} AS sev_rank \
             {from} JOIN devices d ON d.id = df.device_id \
             JOIN package_versions pv ON pv.id = df.package_version_id \
             JOIN advisories a ON a.id = df.advisory_id {where_sql} ORDER BY {order} LIMIT ${n} OFFSET ${}",
            n + 1
        );
        let (count_sql, count_args) = match filter.counter_total(backend)? {
            Some((sql, g)) => (sql, g.args),
            None => (
                format!(
                    "SELECT count(*) FROM device_findings df JOIN devices d ON d.id = df.device_id \
                     JOIN package_versions pv ON pv.id = df.package_version_id {where_sql}"
                ),
                f.args.clone(),
            ),
        };
        self.timed("list_findings", async {
            let (rows, total): (Vec<FindingRecord>, i64) =
                fetch_page!(self, &sql, &count_sql, &f.args, &count_args, page);
            Ok((
                rows.into_iter()
                    .map(|r| FindingRow {
                        device_id: r.device_id,
                        hostname: r.hostname,
                        package_version_id: r.package_version_id,
                        ecosystem: r.ecosystem,
                        name: r.name,
                        version: r.version,
                        advisory_id: r.advisory_id,
                        aliases: r.aliases.0,
                        summary: r.summary,
                        severity: severity_body(
                            Some(r.severity_rating),
                            r.severity_score,
                            r.severity_type,
                            r.severity_vector,
                        ),
                        fixed_version: r.fixed_version,
                        matched: r.reason.0,
                        detected_at: r.detected_at.get(),
                        resolved_at: r.resolved_at.map(Ts::get),
                        resolution: r.resolution,
                        suppressed: r.suppressed,
                    })
                    .collect(),
                total,
            ))
        })
        .await
    }

    /// Device findings grouped by advisory.
    pub async fn list_findings_by_advisory(
        &self,
        filter: &FindingFilter,
        sort: Option<&str>,
        page: PageRequest,
    ) -> Result<(Vec<AdvisoryGroup>, i64), StoreError> {
        let backend = self.backend();
        let mut f = Filter::default();
        filter.build(backend, &mut f)?;
        let order = order_by(
            sort,
            &[
                ("severity", "rank"),
                ("devices", "devices"),
                ("packages", "packages"),
                ("first_detected", "first_detected"),
                // The output column: the stored counts and the live ones both name it so.
                ("advisory", "advisory_id"),
            ],
            "advisory_id",
        )?;
        let order = if sort.is_none_or(str::is_empty) {
            format!("rank DESC, devices DESC, {order}")
        } else {
            order
        };
        let where_sql = f.sql();
        let n = f.next();
        let (sql, count_sql) = if filter.is_default_view() {
            // The default view reads the stored per-advisory counts, except for advisories
            // whose device findings changed since they were counted: those are counted live.
            let groups = format!(
                "WITH marked AS (SELECT DISTINCT advisory_id FROM advisory_stats_dirty), \
                 grouped AS (SELECT s.advisory_id, s.devices, s.packages, s.first_detected, s.rank \
                 FROM advisory_fleet_stats s WHERE s.advisory_id NOT IN (SELECT advisory_id FROM marked) \
                 UNION ALL {} WHERE df.advisory_id IN (SELECT advisory_id FROM marked) \
                 AND {OPEN} GROUP BY df.advisory_id)",
                advisory_counts()
            );
            (
                format!(
                    "{groups} SELECT advisory_id, devices, packages, first_detected, rank FROM grouped \
                     ORDER BY {order} LIMIT ${n} OFFSET ${}",
                    n + 1
                ),
                format!("{groups} SELECT count(*) FROM grouped"),
            )
        } else {
            let joins = "JOIN devices d ON d.id = df.device_id \
                 JOIN package_versions pv ON pv.id = df.package_version_id";
            (
                format!(
                    "{} {joins} {where_sql} GROUP BY df.advisory_id ORDER BY {order} LIMIT ${n} OFFSET ${}",
                    advisory_counts(),
                    n + 1
                ),
                format!(
                    "SELECT count(DISTINCT df.advisory_id) FROM device_findings df {joins} {where_sql}"
                ),
            )
        };
        self.timed("list_findings_by_advisory", async {
            let (groups, total): (Vec<GroupRecord>, i64) = fetch_page!(self, &sql, &count_sql, &f.args, page);
            if groups.is_empty() {
                return Ok((Vec::new(), total));
            }
            // The page's advisories and their affected packages, in two indexed queries.
            let ids: Vec<[&str; 1]> = groups.iter().map(|g| [g.advisory_id.as_str()]).collect();
            let rows = crate::inventory::json_rows(backend, "$1");
            let heads_sql = format!(
                "SELECT a.id, a.aliases, a.summary, a.severity_rating, a.severity_score, a.severity_type, \
                 a.severity_vector FROM {rows} JOIN advisories a ON a.id = j.value ->> 0"
            );
            let pk_sql = format!(
                "SELECT DISTINCT fi.advisory_id, pv.ecosystem, pv.name, fi.fixed_version FROM {rows} \
                 JOIN findings fi ON fi.advisory_id = j.value ->> 0 AND fi.resolved_at IS NULL \
                 JOIN package_versions pv ON pv.id = fi.package_version_id"
            );
            let (heads, pks): (Vec<AdvisoryHead>, Vec<(String, String, String, Option<String>)>) =
                with_pool!(self, |pool| {
                    let heads = sqlx::query_as(sqlx::AssertSqlSafe(heads_sql.as_str()))
                        .bind(Json(&ids))
                        .fetch_all(pool)
                        .await?;
                    let pks = sqlx::query_as(sqlx::AssertSqlSafe(pk_sql.as_str())).bind(Json(&ids)).fetch_all(pool).await?;
                    (heads, pks)
                });
            let heads: BTreeMap<String, AdvisoryHead> =
                heads.into_iter().map(|h| (h.id.clone(), h)).collect();
            let mut names: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
            for (adv, eco, name, fixed) in &pks {
                let e = names.entry(adv.as_str()).or_default();
                let label = format!("{eco}/{name}");
                if !e.0.contains(&label) {
                    e.0.push(label);
                }
                if let Some(fx) = fixed
                    && !e.1.contains(fx)
                {
                    e.1.push(fx.clone());
                }
            }
            let out = groups
                .iter()
                .map(|g| {
                    let head = heads.get(&g.advisory_id);
                    let (mut package_names, mut fixed) =
                        names.get(g.advisory_id.as_str()).cloned().unwrap_or_default();
                    package_names.sort();
                    fixed.sort();
                    AdvisoryGroup {
                        advisory_id: g.advisory_id.clone(),
                        aliases: head.map(|h| h.aliases.0.clone()).unwrap_or_default(),
                        summary: head.and_then(|h| h.summary.clone()),
                        severity: severity_body(
                            head.and_then(|h| h.severity_rating.clone())
                                .or_else(|| Some(rank_name(g.rank).to_owned())),
                            head.and_then(|h| h.severity_score),
                            head.and_then(|h| h.severity_type.clone()),
                            head.and_then(|h| h.severity_vector.clone()),
                        ),
                        devices: g.devices,
                        packages: g.packages,
                        package_names,
                        fixed_versions: fixed,
                        first_detected: g.first_detected.get(),
                    }
                })
                .collect();
            Ok((out, total))
        })
        .await
    }

    /// Package versions with an open finding of an advisory, with their device counts.
    pub async fn advisory_packages(
        &self,
        advisory_id: &str,
    ) -> Result<(Vec<FleetPackage>, i64), StoreError> {
        self.timed("advisory_packages", async {
            let (rows, devices): (Vec<(i64, String, String, String, String, String, i64)>, i64) =
                with_pool!(self, |pool| {
                    let rows = sqlx::query_as(
                        "SELECT pv.id, pv.ecosystem, pv.name, pv.version, pv.source_name, pv.status, \
                         (SELECT count(DISTINCT df.device_id) FROM device_findings df \
                          WHERE df.package_version_id = pv.id AND df.advisory_id = $1 \
                          AND df.resolved_at IS NULL AND NOT df.suppressed) \
                         FROM findings fi JOIN package_versions pv ON pv.id = fi.package_version_id \
                         WHERE fi.advisory_id = $1 AND fi.resolved_at IS NULL \
                         ORDER BY pv.search_name, pv.version",
                    )
                    .bind(advisory_id)
                    .fetch_all(pool)
                    .await?;
                    let devices = sqlx::query_scalar(
                        "SELECT count(DISTINCT device_id) FROM device_findings WHERE advisory_id = $1 \
                         AND resolved_at IS NULL AND NOT suppressed",
                    )
                    .bind(advisory_id)
                    .fetch_one(pool)
                    .await?;
                    (rows, devices)
                });
            Ok((
                rows.into_iter()
                    .map(|(id, ecosystem, name, version, source, status, devices)| FleetPackage {
                        package_version_id: id,
                        ecosystem,
                        name,
                        version,
                        source_name: if source.is_empty() { None } else { Some(source) },
                        devices,
                        advisories: 1,
                        match_status: status,
                    })
                    .collect(),
                devices,
            ))
        })
        .await
    }

    /// The advisory ecosystems (without release) of the packages installed in the fleet.
    pub async fn fleet_ecosystems(&self) -> Result<Vec<String>, StoreError> {
        self.timed("fleet_ecosystems", async {
            let rows: Vec<String> = with_pool!(self, |pool| sqlx::query_scalar(
                "SELECT DISTINCT pv.match_ecosystem FROM package_versions pv \
                 WHERE pv.match_ecosystem <> '' AND pv.device_count > 0 ORDER BY 1"
            )
            .fetch_all(pool)
            .await?);
            Ok(rows)
        })
        .await
    }

    /// The fleet's counters that come from the per-device columns: cheap at any fleet size
    /// (one pass over `devices` and `device_runtimes`). The Prometheus endpoint reads these.
    pub async fn fleet_counts(
        &self,
        overdue_before: OffsetDateTime,
    ) -> Result<FleetCounts, StoreError> {
        self.timed("fleet_counts", async {
            let cut = Ts::new(overdue_before);
            let (head, sev, eol): ((i64, i64, i64, i64), (i64, i64, i64, i64, i64, i64), (i64, i64)) =
                with_pool!(self, |pool| {
                    let head = sqlx::query_as(
                        "SELECT count(*), \
                         CAST(COALESCE(sum(CASE WHEN last_seen >= $1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                         CAST(COALESCE(sum(CASE WHEN last_seen IS NULL OR last_seen < $1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                         CAST(COALESCE(sum(package_count), 0) AS BIGINT) FROM devices",
                    )
                    .bind(cut)
                    .fetch_one(pool)
                    .await?;
                    let sev = sqlx::query_as(
                        "SELECT CAST(COALESCE(sum(open_critical), 0) AS BIGINT), CAST(COALESCE(sum(open_high), 0) AS BIGINT), \
                         CAST(COALESCE(sum(open_medium), 0) AS BIGINT), CAST(COALESCE(sum(open_low), 0) AS BIGINT), \
                         CAST(COALESCE(sum(open_unknown), 0) AS BIGINT), CAST(COALESCE(sum(open_suppressed), 0) AS BIGINT) FROM devices",
                    )
                    .fetch_one(pool)
                    .await?;
                    let eol = sqlx::query_as(
                        "SELECT CAST(COALESCE(sum(CASE WHEN eol_status = 'eol_past' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                         CAST(COALESCE(sum(CASE WHEN eol_status = 'eol_soon' THEN 1 ELSE 0 END), 0) AS BIGINT) FROM device_runtimes",
                    )
                    .fetch_one(pool)
                    .await?;
                    (head, sev, eol)
                });
            Ok(FleetCounts {
                devices_total: head.0,
                devices_active: head.1,
                devices_overdue: head.2,
                packages_inventoried: head.3,
                findings: SeverityCounts {
                    critical: sev.0,
                    high: sev.1,
                    medium: sev.2,
                    low: sev.3,
                    unknown: sev.4,
                    suppressed: sev.5,
                },
                eol_runtimes: eol.0,
                eol_soon_runtimes: eol.1,
            })
        })
        .await
    }

    /// The fleet overview: [`Store::fleet_counts`] plus the distinct versions and advisories,
    /// the OS breakdown, recent scans and overdue devices.
    pub async fn overview(&self, overdue_before: OffsetDateTime) -> Result<Overview, StoreError> {
        let counts = self.fleet_counts(overdue_before).await?;
        self.timed("overview", async {
            let cut = Ts::new(overdue_before);
            let (distinct, advisories, by_os, scans, overdue): (
                i64,
                i64,
                Vec<(String, i64)>,
                Vec<ScanRecord>,
                Vec<DeviceRow>,
            ) = with_pool!(self, |pool| {
                let distinct: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM package_versions pv WHERE pv.device_count > 0",
                )
                .fetch_one(pool)
                .await?;
                // Advisories with an open finding on a version some device has: every such
                // device has that finding open (the fan-out keeps them in step), so this is
                // the number of advisories with an open device finding, computed without
                // reading the device findings. First every advisory with an open finding (one
                // pass over the (advisory_id, resolved_at) index); then take out those whose
                // open findings are all
                // on versions no device has any more (only versions with a zero device count
                // can cause that, and there are few), and those whose every open device
                // finding is suppressed (only advisories with a suppressed finding can be).
                let all: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM (SELECT advisory_id FROM findings \
                     WHERE resolved_at IS NULL GROUP BY advisory_id) g",
                )
                .fetch_one(pool)
                .await?;
                let uninstalled: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM (SELECT DISTINCT fi.advisory_id FROM package_versions pv \
                     JOIN findings fi ON fi.package_version_id = pv.id \
                     WHERE pv.device_count = 0 AND fi.resolved_at IS NULL) g WHERE NOT EXISTS \
                     (SELECT 1 FROM findings f2 JOIN package_versions p2 ON p2.id = f2.package_version_id \
                     WHERE f2.advisory_id = g.advisory_id AND f2.resolved_at IS NULL AND p2.device_count > 0)",
                )
                .fetch_one(pool)
                .await?;
                let all_suppressed: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM (SELECT DISTINCT s.advisory_id FROM device_findings s \
                     WHERE s.resolved_at IS NULL AND s.suppressed) a WHERE NOT EXISTS \
                     (SELECT 1 FROM device_findings df WHERE df.advisory_id = a.advisory_id \
                     AND df.resolved_at IS NULL AND NOT df.suppressed)",
                )
                .fetch_one(pool)
                .await?;
                let advisories = all - uninstalled - all_suppressed;
                let by_os = sqlx::query_as(
                    "SELECT CASE WHEN os_pretty_name <> '' THEN os_pretty_name WHEN os <> '' THEN os \
                     ELSE 'unknown' END AS name, count(*) FROM devices GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20",
                )
                .fetch_all(pool)
                .await?;
                let scans = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {SCAN_COLUMNS} FROM scans s JOIN devices d ON d.id = s.device_id \
                     ORDER BY s.received_at DESC, s.scan_id LIMIT 10"
                )))
                .fetch_all(pool)
                .await?;
                let overdue = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices d WHERE d.last_seen IS NULL OR d.last_seen < $1 \
                     ORDER BY d.last_seen ASC NULLS FIRST, d.hostname LIMIT 10"
                )))
                .bind(cut)
                .fetch_all(pool)
                .await?;
                (distinct, advisories, by_os, scans, overdue)
            });
            Ok(Overview {
                devices_total: counts.devices_total,
                devices_active: counts.devices_active,
                devices_overdue: counts.devices_overdue,
                packages_inventoried: counts.packages_inventoried,
                distinct_package_versions: distinct,
                findings: counts.findings,
                advisories_open: advisories,
                eol_runtimes: counts.eol_runtimes,
                eol_soon_runtimes: counts.eol_soon_runtimes,
                devices_by_os: by_os
                    .into_iter()
                    .map(|(os, devices)| OsCount { os, devices })
                    .collect(),
                recent_scans: scans.into_iter().map(ScanBody::from).collect(),
                overdue_devices: overdue
                    .into_iter()
                    .map(|r| device_summary(r, overdue_before).0)
                    .collect(),
            })
        })
        .await
    }
}

/// A finding's severity as a number, written exactly as in `findings_severity_order_idx` (same
/// expression on the findings' column) so that both databases walk that index for the order.
const FINDING_RANK: &str = "(CASE fi.severity_rating WHEN 'critical' THEN 5 WHEN 'high' THEN 4 \
    WHEN 'medium' THEN 3 WHEN 'low' THEN 2 WHEN 'none' THEN 1 ELSE 0 END)";

/// The default view's device findings (`df`): open and unsuppressed. `advisory_fleet_stats`
/// counts these.
pub(crate) const OPEN: &str = "df.resolved_at IS NULL AND NOT df.suppressed";

/// The per-advisory counts of the grouped findings list, over `device_findings df`; the caller
/// adds joins, the `WHERE` and `GROUP BY df.advisory_id`. The refresh of `advisory_fleet_stats`
/// stores exactly these.
pub(crate) fn advisory_counts() -> String {
    format!(
        "SELECT df.advisory_id, count(DISTINCT df.device_id) AS devices, \
         count(DISTINCT df.package_version_id) AS packages, min(df.detected_at) AS first_detected, \
         CAST(max({SEV_RANK}) AS BIGINT) AS rank FROM device_findings df"
    )
}

/// Severity as a number for sorting: critical 5 … unknown 0.
const SEV_RANK: &str = "CASE df.severity_rating WHEN 'critical' THEN 5 WHEN 'high' THEN 4 \
    WHEN 'medium' THEN 3 WHEN 'low' THEN 2 WHEN 'none' THEN 1 ELSE 0 END";

fn rank_name(rank: i64) -> &'static str {
    match rank {
        5 => "critical",
        4 => "high",
        3 => "medium",
        2 => "low",
        1 => "none",
        _ => "unknown",
    }
}
