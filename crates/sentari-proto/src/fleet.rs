//! REST bodies of the fleet inventory and vulnerability views (`/api/v1/overview`, devices,
//! packages, runtimes, scans, diagnostics, findings, advisories, suppressions, feeds).
//!
//! Every list answers with [`Page`]: `{"items": [...], "total": N, "page": P, "page_size": S}`
//! (ARCHITECTURE.md §16). Timestamps are RFC 3339 UTC.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Rows matching the filters, over all pages.
    pub total: i64,
    /// The page number, from 1.
    pub page: u32,
    /// Rows per page (at most 500).
    pub page_size: u32,
}

/// Open findings of a device (or the fleet) by severity; suppressed ones counted apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub critical: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
    /// No rating known (or rated `none`).
    pub unknown: i64,
    /// Open findings hidden by a suppression (not included above).
    pub suppressed: i64,
}

impl SeverityCounts {
    /// Open, unsuppressed findings.
    pub fn open(&self) -> i64 {
        self.critical + self.high + self.medium + self.low + self.unknown
    }
}

/// A device as the lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceSummary {
    pub id: Uuid,
    pub hostname: String,
    pub machine_id: String,
    /// The OS as a person reads it (`Debian GNU/Linux 12 (bookworm)`).
    pub os: String,
    pub os_id: String,
    pub os_version_id: String,
    /// The release-scoped OSV ecosystem of its OS packages (`Debian:12`), or empty.
    pub os_ecosystem: String,
    pub arch: String,
    pub kernel: String,
    pub host_kind: String,
    pub agent_version: String,
    /// The newest Python runtime found on it.
    pub python_version: String,
    pub tags: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub enrolled_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen: Option<OffsetDateTime>,
    /// When the newest applied scan was taken.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_scan_at: Option<OffsetDateTime>,
    /// `ok`, `errors` (the last scan reported errors), `never`, or `overdue` (not scanned
    /// within twice the scan interval).
    pub scan_status: String,
    pub package_count: i64,
    pub findings: SeverityCounts,
}

/// `GET /api/v1/devices/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceDetail {
    #[serde(flatten)]
    pub device: DeviceSummary,
    /// End of the device certificate's validity.
    #[serde(with = "time::serde::rfc3339")]
    pub cert_not_after: OffsetDateTime,
    pub runtimes: Vec<RuntimeRow>,
    /// The newest scans, newest first.
    pub recent_scans: Vec<ScanBody>,
}

/// One package installed on a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevicePackage {
    pub package_version_id: i64,
    pub ecosystem: String,
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    pub install_path: String,
    pub env_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    /// Open, unsuppressed findings of this package version on this device.
    pub open_findings: i64,
}

/// One distinct package version across the fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetPackage {
    pub package_version_id: i64,
    pub ecosystem: String,
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Devices that have it.
    pub devices: i64,
    /// Advisories with an open finding on it.
    pub advisories: i64,
    /// `pending`, `evaluated`, `unsupported_ecosystem` or `unparsable_version`.
    pub match_status: String,
}

/// One runtime installation on one device, with its end-of-life status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeRow {
    pub device_id: Uuid,
    pub hostname: String,
    pub os: String,
    /// `python`, `node`, `jdk`, …
    pub kind: String,
    pub version: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eol_product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eol_cycle: Option<String>,
    /// The cycle's end-of-life date (`YYYY-MM-DD`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eol_date: Option<String>,
    /// `eol_past`, `eol_soon`, `supported` or `unknown`.
    pub eol_status: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_scan_at: Option<OffsetDateTime>,
}

/// Installations of one runtime cycle across the fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeCycle {
    pub kind: String,
    /// The endoflife.date cycle (`3.11`, `20`, `17`), or the version when unmapped.
    pub cycle: String,
    pub eol_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eol_date: Option<String>,
    /// Devices with at least one installation of the cycle.
    pub devices: i64,
    /// Installations.
    pub installations: i64,
}

/// One day of the runtime trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeTrendPoint {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub kind: String,
    pub cycle: String,
    pub devices: i64,
}

/// `GET /api/v1/runtimes/summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeSummary {
    pub cycles: Vec<RuntimeCycle>,
    pub trend: Vec<RuntimeTrendPoint>,
}

/// One scan in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanBody {
    pub scan_id: Uuid,
    pub device_id: Uuid,
    pub hostname: String,
    #[serde(with = "time::serde::rfc3339")]
    pub scanned_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub applied_at: Option<OffsetDateTime>,
    /// `pending`, `applied`, `superseded` or `failed`.
    pub status: String,
    pub agent_version: String,
    pub duration_ms: i64,
    pub packages: i64,
    pub packages_added: i64,
    pub packages_removed: i64,
    pub packages_changed: i64,
    pub runtimes: i64,
    pub errors: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One scan error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanErrorBody {
    pub scan_id: Uuid,
    pub device_id: Uuid,
    pub hostname: String,
    pub scanner: String,
    /// A short class: `permission_denied`, `not_found`, `parse_error`, `too_large`, `io_error`,
    /// `timeout` or `other`.
    pub kind: String,
    pub path: String,
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub scanned_at: OffsetDateTime,
}

/// Errors of one kind across the fleet's latest scans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorKindCount {
    pub scanner: String,
    pub kind: String,
    pub devices: i64,
    pub errors: i64,
}

/// A device whose latest scan reported errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceErrors {
    pub device_id: Uuid,
    pub hostname: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_scan_at: Option<OffsetDateTime>,
    pub errors: i64,
    /// `scanner:kind` of its errors.
    pub kinds: Vec<String>,
}

/// `GET /api/v1/diagnostics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    pub by_kind: Vec<ErrorKindCount>,
    pub devices: Page<DeviceErrors>,
}

/// Severity of a finding or an advisory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeverityBody {
    /// `critical`, `high`, `medium`, `low`, `none` or `unknown`.
    pub rating: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// `CVSS_V3`, `CVSS_V4`, `CVSS_V2` or `database_specific`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<String>,
}

/// One finding on one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRow {
    pub device_id: Uuid,
    pub hostname: String,
    pub package_version_id: i64,
    pub ecosystem: String,
    pub name: String,
    pub version: String,
    pub advisory_id: String,
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub severity: SeverityBody,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// Why it matched: the advisory's ecosystem string and package, the comparator, and the
    /// range events or the listed version.
    pub matched: Value,
    #[serde(with = "time::serde::rfc3339")]
    pub detected_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
    /// `package_upgraded`, `package_removed`, `advisory_withdrawn` or `no_longer_affected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    pub suppressed: bool,
}

/// Findings grouped by advisory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdvisoryGroup {
    pub advisory_id: String,
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub severity: SeverityBody,
    /// Devices with an open finding of the advisory.
    pub devices: i64,
    /// Distinct package versions affected.
    pub packages: i64,
    /// Package names affected (`ecosystem/name`).
    pub package_names: Vec<String>,
    /// Versions that fix it, from the matched ranges.
    pub fixed_versions: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub first_detected: OffsetDateTime,
}

/// `GET /api/v1/advisories/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdvisoryDetail {
    pub id: String,
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    pub severity: SeverityBody,
    pub source: String,
    /// Devices with an open, unsuppressed finding of it.
    pub affected_devices: i64,
    /// Open findings per package version.
    pub affected_packages: Vec<FleetPackage>,
    /// The record as published.
    pub record: Value,
}

/// A suppression rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuppressionBody {
    pub id: Uuid,
    /// `advisory`, `advisory_package`, `device` or `tag`.
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    pub reason: String,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// False once `expires_at` has passed.
    pub active: bool,
}

/// `POST /api/v1/suppressions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateSuppression {
    /// `advisory`, `advisory_package`, `device` or `tag`.
    pub scope: String,
    /// Required for `advisory` and `advisory_package`; narrows `device` and `tag`.
    #[serde(default)]
    pub advisory_id: Option<String>,
    /// For `advisory_package`: the package's ecosystem (`PyPI`, `Debian:12`).
    #[serde(default)]
    pub ecosystem: Option<String>,
    /// For `advisory_package`: the package name.
    #[serde(default)]
    pub package: Option<String>,
    /// For `device`.
    #[serde(default)]
    pub device_id: Option<Uuid>,
    /// For `tag`.
    #[serde(default)]
    pub tag: Option<String>,
    /// Why; required.
    pub reason: String,
    /// When it stops applying; none means until deleted.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// One feed source's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedStatusBody {
    /// `osv:<Ecosystem>`, `osv:bundle` or `eol`.
    pub source: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_success: Option<OffsetDateTime>,
    /// The last failure's message (`null` when the source never failed); every field is
    /// always present, so a client can tell "never" from a missing field.
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_error_at: Option<OffsetDateTime>,
    pub record_count: i64,
    /// Seconds since the last success (`null` before the first one).
    #[serde(default)]
    pub age_seconds: Option<i64>,
    /// True when the last success is older than three days (or there was none).
    pub stale: bool,
    pub detail: Value,
}

/// `GET /api/v1/feeds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedsBody {
    pub sources: Vec<FeedStatusBody>,
    /// Advisories stored.
    pub advisories: i64,
    /// Of which withdrawn.
    pub withdrawn: i64,
    /// The offline OSV bundle path in use, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osv_bundle_path: Option<String>,
    /// The offline EOL bundle path in use, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eol_bundle_path: Option<String>,
}

/// `POST /api/v1/feeds/sync` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncQueued {
    /// The jobs enqueued (none when one was already pending).
    pub jobs: Vec<Uuid>,
    pub detail: String,
}

/// Devices by operating system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OsCount {
    pub os: String,
    pub devices: i64,
}

/// `GET /api/v1/overview`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub devices_total: i64,
    /// Seen within twice the scan interval.
    pub devices_active: i64,
    /// Enrolled devices not seen within twice the scan interval.
    pub devices_overdue: i64,
    /// Package installations across the fleet.
    pub packages_inventoried: i64,
    /// Distinct package versions across the fleet.
    pub distinct_package_versions: i64,
    /// Open device findings by severity.
    pub findings: SeverityCounts,
    /// Advisories with at least one open, unsuppressed finding.
    pub advisories_open: i64,
    /// Runtime installations past end of life.
    pub eol_runtimes: i64,
    /// Runtime installations within 90 days of end of life.
    pub eol_soon_runtimes: i64,
    pub devices_by_os: Vec<OsCount>,
    pub recent_scans: Vec<ScanBody>,
    /// Devices not seen within twice the scan interval, longest silent first (at most 10).
    pub overdue_devices: Vec<DeviceSummary>,
}

/// `PUT /api/v1/devices/{id}/tags`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceTags {
    pub tags: Vec<String>,
}

/// `PUT /api/v1/feeds/settings`: the offline bundle paths (`null` clears).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedSettings {
    #[serde(default)]
    pub osv_bundle_path: Option<String>,
    #[serde(default)]
    pub eol_bundle_path: Option<String>,
}
