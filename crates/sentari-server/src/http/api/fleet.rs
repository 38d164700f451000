//! `/api/v1` fleet inventory and vulnerability views: overview, devices, packages, runtimes,
//! scans, diagnostics, findings, advisories, suppressions and feeds.
//!
//! Lists follow ARCHITECTURE.md §16: `page` (from 1), `page_size` (≤ 500), `sort=field` or
//! `sort=-field`, filters named after the fields, and `format=csv` for the same rows as CSV
//! (every matching row, not one page). The runtime inventory also exports as Excel
//! (`format=xlsx`) with the columns of the admin guide.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sentari_core::ecosystem::Ecosystem;
use sentari_proto::fleet::{
    AdvisoryDetail, CreateSuppression, DeviceDetail, DeviceTags, Diagnostics, FeedSettings,
    FeedStatusBody, FeedsBody, Page, RuntimeSummary, SuppressionBody, SyncQueued,
};
use sentari_store::{
    DeviceFilter, DevicePackageFilter, FindingFilter, NewJob, PackageFilter, PageRequest,
    RuntimeFilter, ScanFilter, Suppression,
};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::export::{CsvRow, csv_response, xlsx_runtimes};
use super::{ApiFailure, ApiQuery, JsonBody, UnknownParams, query_params, store};
use crate::auth::{Principal, audit};
use crate::feeds::sync::{EOL_BUNDLE_SETTING, EOL_SYNC, OSV_BUNDLE_SETTING, OSV_SYNC, bundle_path};
use crate::state::AppState;

/// The most rows one CSV/XLSX export returns.
const EXPORT_LIMIT: u32 = 1_000_000;

/// Feeds older than this are reported stale.
pub const STALE_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);

/// Pagination, sorting and export parameters shared by every list.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub page: Option<String>,
    pub page_size: Option<String>,
    pub sort: Option<String>,
    pub format: Option<String>,
}

/// The output a list was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

impl ListParams {
    pub(crate) fn page(&self) -> Result<PageRequest, ApiFailure> {
        let page =
            match self.page.as_deref().filter(|s| !s.is_empty()) {
                None => 1,
                Some(p) => p.parse::<u32>().ok().filter(|p| *p >= 1).ok_or_else(|| {
                    ApiFailure::field("page", "page must be a whole number from 1")
                })?,
            };
        let page_size = match self.page_size.as_deref().filter(|s| !s.is_empty()) {
            None => 50,
            Some(p) => p
                .parse::<u32>()
                .ok()
                .filter(|p| (1..=500).contains(p))
                .ok_or_else(|| {
                    ApiFailure::field("page_size", "page_size must be between 1 and 500")
                })?,
        };
        Ok(PageRequest { page, page_size })
    }

    pub(crate) fn format(&self, xlsx_allowed: bool) -> Result<Format, ApiFailure> {
        match self
            .format
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some("xlsx") if xlsx_allowed => Ok(Format::Xlsx),
            Some(other) => Err(ApiFailure::field(
                "format",
                format!(
                    "unknown format `{other}`; use json or csv{}",
                    if xlsx_allowed { " or xlsx" } else { "" }
                ),
            )),
        }
    }

    /// The page to fetch: the requested one, or every row for an export.
    pub(crate) fn fetch(&self, format: Format) -> Result<PageRequest, ApiFailure> {
        Ok(match format {
            Format::Json => self.page()?,
            Format::Csv | Format::Xlsx => PageRequest {
                page: 1,
                page_size: EXPORT_LIMIT,
            },
        })
    }

    pub(crate) fn sort(&self) -> Option<&str> {
        self.sort.as_deref()
    }

    /// For a list with a fixed order (`order` says which): a `sort` is refused, not ignored.
    pub(crate) fn fixed_order(&self, order: &str) -> Result<(), ApiFailure> {
        match self.sort() {
            Some(s) if !s.is_empty() => Err(ApiFailure::field("sort", order)),
            _ => Ok(()),
        }
    }
}

query_params!(
    DeviceQuery,
    DevicePackageQuery,
    FindingQuery,
    PackageQuery,
    RuntimeQuery,
    ScanQuery,
    DiagnosticsQuery,
    SuppressionQuery,
);

/// A JSON page or a CSV export of the same rows.
fn list_response<T: serde::Serialize + CsvRow>(
    items: Vec<T>,
    total: i64,
    page: PageRequest,
    format: Format,
    name: &str,
) -> Response {
    match format {
        Format::Csv | Format::Xlsx => csv_response(name, &items),
        Format::Json => Json(Page {
            items,
            total,
            page: page.page,
            page_size: page.page_size,
        })
        .into_response(),
    }
}

pub(crate) fn time_param(
    name: &str,
    v: Option<&str>,
) -> Result<Option<OffsetDateTime>, ApiFailure> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
                ApiFailure::field(
                    name,
                    "expected an RFC 3339 timestamp such as 2026-01-31T12:00:00Z",
                )
            })
        })
        .transpose()
}

fn bool_param(name: &str, v: Option<&str>) -> Result<Option<bool>, ApiFailure> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => Ok(None),
        Some("true" | "1" | "yes") => Ok(Some(true)),
        Some("false" | "0" | "no") => Ok(Some(false)),
        Some("any" | "all") => Ok(None),
        Some(_) => Err(ApiFailure::field(name, "expected true, false or any")),
    }
}

/// An ecosystem filter in OSV's spelling whatever the letter case typed (`pypi` is `PyPI`),
/// since stored ecosystems are compared exactly.
fn ecosystem_param(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
        .map(|s| Ecosystem::parse_any_case(&s).to_string())
}

fn uuid_param(name: &str, v: Option<&str>) -> Result<Option<Uuid>, ApiFailure> {
    v.filter(|s| !s.is_empty())
        .map(|s| Uuid::parse_str(s).map_err(|_| ApiFailure::field(name, "expected a UUID")))
        .transpose()
}

fn device_id(id: &str) -> Result<Uuid, ApiFailure> {
    Uuid::parse_str(id).map_err(|_| ApiFailure::NotFound("no such device".into()))
}

/// Devices last seen before this instant are overdue: twice the scan interval. The dashboard
/// uses the same cut, so its pages and the API agree on which devices are overdue.
pub(crate) fn overdue_before(state: &AppState) -> OffsetDateTime {
    let interval = state.config().agent_scan_interval_s.max(60);
    OffsetDateTime::now_utc() - Duration::from_secs(interval * 2)
}

/// `GET /api/v1/overview`.
pub async fn overview(State(state): State<AppState>) -> Result<Response, ApiFailure> {
    let o = store(&state)?.overview(overdue_before(&state)).await?;
    Ok(Json(o).into_response())
}

/// Query of `GET /api/v1/devices`.
#[derive(Debug, Default, Deserialize)]
pub struct DeviceQuery {
    #[serde(flatten)]
    list: ListParams,
    q: Option<String>,
    os: Option<String>,
    tag: Option<String>,
    scan_status: Option<String>,
    seen_after: Option<String>,
    seen_before: Option<String>,
    /// Devices with an open finding of at least this severity (`min_severity` as on the
    /// findings list is accepted too).
    #[serde(alias = "min_severity")]
    severity: Option<String>,
    package: Option<String>,
    version: Option<String>,
    /// A version range of `package` in `ecosystem`'s order: `>=1.0,<2.0`.
    range: Option<String>,
    ecosystem: Option<String>,
    package_version_id: Option<String>,
    advisory: Option<String>,
    #[serde(flatten)]
    unknown: UnknownParams,
}

/// `GET /api/v1/devices`.
pub async fn devices(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DeviceQuery>,
) -> Result<Response, ApiFailure> {
    let format = q.list.format(false)?;
    let page = q.list.fetch(format)?;
    let s = store(&state)?;
    let package = q.package.filter(|p| !p.is_empty());
    let ecosystem = ecosystem_param(q.ecosystem);
    if package.is_none()
        && (q.version.as_deref().is_some_and(|v| !v.is_empty()) || ecosystem.is_some())
    {
        return Err(ApiFailure::field(
            if ecosystem.is_some() {
                "ecosystem"
            } else {
                "version"
            },
            "filtering devices by package version or ecosystem needs the package name (package=…)",
        ));
    }
    // "Which devices have package X in this version range?": the range is judged with the
    // ecosystem's comparator on the package's versions in the fleet, and the devices list is
    // then filtered by those versions.
    let package_version_ids = match q.range.as_deref().filter(|r| !r.trim().is_empty()) {
        None => None,
        Some(range) => {
            let range =
                VersionRange::parse(package.as_deref(), "package", ecosystem.as_deref(), range)?;
            let versions = PackageFilter {
                name: package.clone(),
                ecosystem: ecosystem.clone(),
                ..PackageFilter::default()
            };
            let (all, _) = s
                .list_fleet_packages(&versions, None, PageRequest::all())
                .await?;
            Some(
                all.into_iter()
                    .filter(|p| range.contains(&p.version))
                    .map(|p| p.package_version_id)
                    .collect(),
            )
        }
    };
    let filter = DeviceFilter {
        q: q.q,
        os: q.os,
        tag: q.tag,
        scan_status: q.scan_status,
        seen_after: time_param("seen_after", q.seen_after.as_deref())?,
        seen_before: time_param("seen_before", q.seen_before.as_deref())?,
        min_severity: q.severity,
        package,
        package_version: q.version,
        package_ecosystem: ecosystem,
        package_version_id: q
            .package_version_id
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<i64>()
                    .map_err(|_| ApiFailure::field("package_version_id", "expected an integer"))
            })
            .transpose()?,
        advisory: q.advisory,
        package_version_ids,
    };
    let (items, total) = s
        .list_fleet_devices(&filter, q.list.sort(), page, overdue_before(&state))
        .await?;
    Ok(list_response(items, total, page, format, "devices"))
}

/// `GET /api/v1/devices/{id}`.
pub async fn device(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DeviceDetail>, ApiFailure> {
    let id = device_id(&id)?;
    let s = store(&state)?;
    let (device, cert_not_after) = s
        .fleet_device(id, overdue_before(&state))
        .await?
        .ok_or_else(|| ApiFailure::NotFound("no such device".into()))?;
    let (runtimes, _) = s
        .list_runtimes(
            &RuntimeFilter {
                device_id: Some(id),
                ..RuntimeFilter::default()
            },
            Some("kind"),
            PageRequest {
                page: 1,
                page_size: 500,
            },
        )
        .await?;
    let (recent_scans, _) = s
        .list_scan_history(
            &ScanFilter {
                device_id: Some(id),
                ..ScanFilter::default()
            },
            None,
            PageRequest {
                page: 1,
                page_size: 10,
            },
        )
        .await?;
    Ok(Json(DeviceDetail {
        device,
        cert_not_after,
        runtimes,
        recent_scans,
    }))
}

/// `DELETE /api/v1/devices/{id}`: removes the device and its history; its certificate stops
/// working at once (the gateway checks every request against the device row).
pub async fn delete_device(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiFailure> {
    let id = device_id(&id)?;
    let s = store(&state)?;
    let Some(d) = s.get_device(id).await? else {
        return Err(ApiFailure::NotFound("no such device".into()));
    };
    s.delete_device(id).await?;
    audit::record(
        s,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "device.delete",
        Some(id.to_string()),
        Some(json!({"hostname": d.hostname, "machine_id": d.machine_id, "cert_serial": d.cert.serial})),
        None,
    )
    .await?;
    tracing::warn!(target: crate::logging::SECURITY, event = "device_deleted", device_id = %id, hostname = %d.hostname, user = %p.user.email, "device deleted; its certificate is revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/devices/{id}/tags`.
pub async fn set_tags(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<DeviceTags>,
) -> Result<Json<DeviceTags>, ApiFailure> {
    let id = device_id(&id)?;
    let mut tags: Vec<String> = Vec::new();
    for (i, t) in body.tags.iter().enumerate() {
        let t = t.trim();
        if t.is_empty() || t.len() > 128 || t.chars().any(char::is_control) {
            return Err(ApiFailure::field(
                &format!("tags.{i}"),
                "a tag is 1 to 128 printable characters (for example env:prod)",
            ));
        }
        if !tags.iter().any(|x| x == t) {
            tags.push(t.to_owned());
        }
    }
    let s = store(&state)?;
    let before = s
        .get_device(id)
        .await?
        .ok_or_else(|| ApiFailure::NotFound("no such device".into()))?;
    s.set_device_tags(id, &tags).await?;
    audit::record(
        s,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "device.tags",
        Some(id.to_string()),
        Some(json!({"tags": before.tags})),
        Some(json!({"tags": tags})),
    )
    .await?;
    Ok(Json(DeviceTags { tags }))
}

/// Query of `GET /api/v1/devices/{id}/packages`.
#[derive(Debug, Default, Deserialize)]
pub struct DevicePackageQuery {
    #[serde(flatten)]
    list: ListParams,
    q: Option<String>,
    ecosystem: Option<String>,
    env_type: Option<String>,
    /// The seed's "source" filter: an alias of `env_type`.
    source: Option<String>,
    environment: Option<String>,
    vulnerable: Option<String>,
    #[serde(flatten)]
    unknown: UnknownParams,
}

/// `GET /api/v1/devices/{id}/packages`.
pub async fn device_packages(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DevicePackageQuery>,
) -> Result<Response, ApiFailure> {
    let id = device_id(&id)?;
    let s = store(&state)?;
    if s.get_device(id).await?.is_none() {
        return Err(ApiFailure::NotFound("no such device".into()));
    }
    let format = q.list.format(false)?;
    let page = q.list.fetch(format)?;
    let filter = DevicePackageFilter {
        q: q.q,
        ecosystem: ecosystem_param(q.ecosystem),
        env_type: q.env_type.or(q.source),
        environment: q.environment,
        vulnerable: bool_param("vulnerable", q.vulnerable.as_deref())?.unwrap_or(false),
    };
    let (items, total) = s
        .list_device_packages(id, &filter, q.list.sort(), page)
        .await?;
    Ok(list_response(items, total, page, format, "device-packages"))
}

/// Query of the findings lists.
#[derive(Debug, Default, Deserialize)]
pub struct FindingQuery {
    #[serde(flatten)]
    list: ListParams,
    /// Exactly these severities (comma-separated).
    severity: Option<String>,
    /// At least this severity.
    min_severity: Option<String>,
    ecosystem: Option<String>,
    /// One device's findings (`device` is accepted too).
    #[serde(alias = "device")]
    device_id: Option<String>,
    advisory: Option<String>,
    package: Option<String>,
    tag: Option<String>,
    /// `false` (default), `true` or `any`.
    suppressed: Option<String>,
    /// `false` (default), `true` or `any`.
    resolved: Option<String>,
    /// `advisory` groups the findings by advisory.
    group: Option<String>,
    #[serde(flatten)]
    unknown: UnknownParams,
}

impl FindingQuery {
    fn filter(&self, device: Option<Uuid>) -> Result<FindingFilter, ApiFailure> {
        let suppressed = match self.suppressed.as_deref() {
            None | Some("") => Some(false),
            v => bool_param("suppressed", v)?,
        };
        let resolved = match self.resolved.as_deref() {
            None | Some("") => Some(false),
            v => bool_param("resolved", v)?,
        };
        Ok(FindingFilter {
            min_severity: self.min_severity.clone().filter(|s| !s.is_empty()),
            severity: self.severity.clone().filter(|s| !s.is_empty()),
            ecosystem: ecosystem_param(self.ecosystem.clone()),
            device_id: match device {
                Some(d) => Some(d),
                None => uuid_param("device_id", self.device_id.as_deref())?,
            },
            advisory: self.advisory.clone().filter(|s| !s.is_empty()),
            package: self.package.clone().filter(|s| !s.is_empty()),
            suppressed,
            resolved,
            tag: self.tag.clone().filter(|s| !s.is_empty()),
        })
    }
}

async fn findings_for(
    state: &AppState,
    q: FindingQuery,
    device: Option<Uuid>,
) -> Result<Response, ApiFailure> {
    let format = q.list.format(false)?;
    let page = q.list.fetch(format)?;
    let filter = q.filter(device)?;
    let s = store(state)?;
    match q.group.as_deref() {
        Some("advisory") => {
            let (items, total) = s
                .list_findings_by_advisory(&filter, q.list.sort(), page)
                .await?;
            Ok(list_response(
                items,
                total,
                page,
                format,
                "findings-by-advisory",
            ))
        }
        None | Some("") | Some("none") => {
            let (items, total) = s.list_findings(&filter, q.list.sort(), page).await?;
            Ok(list_response(items, total, page, format, "findings"))
        }
        Some(other) => Err(ApiFailure::field(
            "group",
            format!("unknown grouping `{other}`; use advisory"),
        )),
    }
}

/// `GET /api/v1/findings`.
pub async fn findings(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<FindingQuery>,
) -> Result<Response, ApiFailure> {
    findings_for(&state, q, None).await
}

/// `GET /api/v1/devices/{id}/findings`.
pub async fn device_findings(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<FindingQuery>,
) -> Result<Response, ApiFailure> {
    let id = device_id(&id)?;
    if store(&state)?.get_device(id).await?.is_none() {
        return Err(ApiFailure::NotFound("no such device".into()));
    }
    findings_for(&state, q, Some(id)).await
}

/// Query of `GET /api/v1/packages`.
#[derive(Debug, Default, Deserialize)]
pub struct PackageQuery {
    #[serde(flatten)]
    list: ListParams,
    /// Package name (case-insensitive, exact unless `prefix=true`).
    name: Option<String>,
    /// `q` is an alias of `name` with `prefix=true`.
    q: Option<String>,
    prefix: Option<String>,
    ecosystem: Option<String>,
    version: Option<String>,
    /// A version range in the ecosystem's order: `>=1.0,<2.0` (needs `name` and `ecosystem`).
    range: Option<String>,
    vulnerable: Option<String>,
    #[serde(flatten)]
    unknown: UnknownParams,
}

/// One bound of a version range.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bound {
    op: &'static str,
    version: String,
}

fn parse_range(range: &str) -> Result<Vec<Bound>, ApiFailure> {
    let mut out = Vec::new();
    for part in range.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (op, v) = ["<=", ">=", "==", "!=", "<", ">", "="]
            .iter()
            .find_map(|op| part.strip_prefix(op).map(|v| (*op, v.trim())))
            .ok_or_else(|| {
                ApiFailure::field(
                    "range",
                    format!("`{part}` is not a bound; write for example >=1.0,<2.0"),
                )
            })?;
        if v.is_empty() {
            return Err(ApiFailure::field(
                "range",
                format!("`{part}` has no version"),
            ));
        }
        let op = if op == "=" { "==" } else { op };
        out.push(Bound {
            op,
            version: v.to_owned(),
        });
    }
    if out.is_empty() {
        return Err(ApiFailure::field("range", "the range is empty"));
    }
    Ok(out)
}

fn in_range(
    scheme: sentari_core::version::VersionScheme,
    version: &str,
    bounds: &[Bound],
) -> Option<bool> {
    for b in bounds {
        let ord = scheme.compare(version, &b.version).ok()?;
        let ok = match b.op {
            "<" => ord.is_lt(),
            "<=" => ord.is_le(),
            ">" => ord.is_gt(),
            ">=" => ord.is_ge(),
            "==" => ord.is_eq(),
            _ => ord.is_ne(),
        };
        if !ok {
            return Some(false);
        }
    }
    Some(true)
}

/// A version range (`>=1.0,<2.0`) of one package, checked against its ecosystem's version
/// order. The packages list and the devices list both filter with it.
struct VersionRange {
    scheme: sentari_core::version::VersionScheme,
    bounds: Vec<Bound>,
}

impl VersionRange {
    /// Parses `range` for the package `name` (named by the query parameter `name_param`) in
    /// `ecosystem`. A range needs both: the comparison is the ecosystem's, and an exact name
    /// keeps the versions compared few.
    fn parse(
        name: Option<&str>,
        name_param: &str,
        ecosystem: Option<&str>,
        range: &str,
    ) -> Result<VersionRange, ApiFailure> {
        if name.is_none_or(str::is_empty) {
            return Err(ApiFailure::field(
                name_param,
                "a version range needs a package name",
            ));
        }
        let Some(eco) = ecosystem.filter(|e| !e.is_empty()) else {
            return Err(ApiFailure::field(
                "ecosystem",
                "a version range needs the ecosystem whose version order applies (PyPI, npm, Debian:12, …)",
            ));
        };
        let Some(scheme) = Ecosystem::parse(eco).version_scheme() else {
            return Err(ApiFailure::field(
                "ecosystem",
                format!("`{eco}` has no version order Sentari knows"),
            ));
        };
        let bounds = parse_range(range)?;
        for b in &bounds {
            if scheme.parse(&b.version).is_err() {
                return Err(ApiFailure::field(
                    "range",
                    format!("`{}` is not a valid {} version", b.version, scheme.name()),
                ));
            }
        }
        Ok(VersionRange { scheme, bounds })
    }

    /// Whether `version` is inside the range; a version the ecosystem cannot parse is not.
    fn contains(&self, version: &str) -> bool {
        in_range(self.scheme, version, &self.bounds) == Some(true)
    }
}

/// `GET /api/v1/packages`: which devices have package X (and which versions)?
pub async fn packages(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PackageQuery>,
) -> Result<Response, ApiFailure> {
    let format = q.list.format(false)?;
    let (name, prefix) = match (
        q.name.filter(|s| !s.is_empty()),
        q.q.filter(|s| !s.is_empty()),
    ) {
        (Some(n), _) => (
            Some(n),
            bool_param("prefix", q.prefix.as_deref())?.unwrap_or(false),
        ),
        (None, Some(n)) => (Some(n), true),
        (None, None) => (None, false),
    };
    let filter = PackageFilter {
        name,
        prefix,
        ecosystem: ecosystem_param(q.ecosystem.clone()),
        version: q.version.filter(|s| !s.is_empty()),
        vulnerable: bool_param("vulnerable", q.vulnerable.as_deref())?.unwrap_or(false),
    };
    let page = match format {
        Format::Json => q.list.page()?,
        _ => q.list.fetch(format)?,
    };
    let (items, total) = package_search(
        store(&state)?,
        &filter,
        q.range.as_deref(),
        q.list.sort(),
        page,
    )
    .await?;
    Ok(list_response(items, total, page, format, "packages"))
}

/// Fleet-wide package search, shared by `GET /api/v1/packages` and the dashboard's Packages
/// page: the store's list, narrowed to a version `range` (`>=1.0,<2.0`) when one is given.
///
/// A range is judged with the ecosystem's comparator, so it needs an exact package name and
/// the ecosystem; the versions of one package are few, so they are all read and the page is cut
/// after the comparison.
pub(crate) async fn package_search(
    s: &sentari_store::Store,
    filter: &PackageFilter,
    range: Option<&str>,
    sort: Option<&str>,
    page: PageRequest,
) -> Result<(Vec<sentari_proto::fleet::FleetPackage>, i64), ApiFailure> {
    let Some(range) = range.filter(|s| !s.trim().is_empty()) else {
        return Ok(s.list_fleet_packages(filter, sort, page).await?);
    };
    let range = VersionRange::parse(
        filter.name.as_deref(),
        "name",
        filter.ecosystem.as_deref(),
        range,
    )?;
    let (all, _) = s
        .list_fleet_packages(filter, sort, PageRequest::all())
        .await?;
    let matching: Vec<_> = all
        .into_iter()
        .filter(|p| range.contains(&p.version))
        .collect();
    let total = matching.len() as i64;
    let items = matching
        .into_iter()
        .skip(((page.page.max(1) - 1) as usize).saturating_mul(page.page_size as usize))
        .take(page.page_size as usize)
        .collect();
    Ok((items, total))
}

/// Query of `GET /api/v1/runtimes`.
#[derive(Debug, Default, Deserialize)]
pub struct RuntimeQuery {
    #[serde(flatten)]
    list: ListParams,
    kind: Option<String>,
    version: Option<String>,
    eol_status: Option<String>,
    device_id: Option<String>,
    q: Option<String>,
    #[serde(flatten)]
    unknown: UnknownParams,
}

/// `GET /api/v1/runtimes` (also `format=csv|xlsx`).
pub async fn runtimes(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<RuntimeQuery>,
) -> Result<Response, ApiFailure> {
    let format = q.list.format(true)?;
    let page = q.list.fetch(format)?;
    let filter = RuntimeFilter {
        kind: q.kind,
        version: q.version,
        eol_status: q.eol_status,
        device_id: uuid_param("device_id", q.device_id.as_deref())?,
        q: q.q,
    };
    let (items, total) = store(&state)?
        .list_runtimes(&filter, q.list.sort(), page)
        .await?;
    if format == Format::Xlsx {
        return xlsx_runtimes(&items);
    }
    Ok(list_response(items, total, page, format, "runtimes"))
}

/// `GET /api/v1/runtimes/summary`: installations per cycle and the 90-day trend.
pub async fn runtime_summary(
    State(state): State<AppState>,
) -> Result<Json<RuntimeSummary>, ApiFailure> {
    let since = sentari_core::eol::format_date(
        (OffsetDateTime::now_utc() - Duration::from_secs(90 * 24 * 3600)).date(),
    );
    let (cycles, trend) = store(&state)?.runtime_summary(&since).await?;
    Ok(Json(RuntimeSummary { cycles, trend }))
}

/// Query of `GET /api/v1/scans`.
#[derive(Debug, Default, Deserialize)]
pub struct ScanQuery {
    #[serde(flatten)]
    list: ListParams,
    device_id: Option<String>,
    status: Option<String>,
    since: Option<String>,
    until: Option<String>,
    #[serde(flatten)]
    unknown: UnknownParams,
}

/// `GET /api/v1/scans`.
pub async fn scans(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ScanQuery>,
) -> Result<Response, ApiFailure> {
    let format = q.list.format(false)?;
    let page = q.list.fetch(format)?;
    let filter = ScanFilter {
        device_id: uuid_param("device_id", q.device_id.as_deref())?,
        status: q.status,
        since: time_param("since", q.since.as_deref())?,
        until: time_param("until", q.until.as_deref())?,
    };
    let (items, total) = store(&state)?
        .list_scan_history(&filter, q.list.sort(), page)
        .await?;
    Ok(list_response(items, total, page, format, "scans"))
}

/// Query of `GET /api/v1/diagnostics`.
#[derive(Debug, Default, Deserialize)]
pub struct DiagnosticsQuery {
    #[serde(flatten)]
    list: ListParams,
    /// With a device: that device's errors (of its latest scan, or of `scan_id`).
    device_id: Option<String>,
    scan_id: Option<String>,
    #[serde(flatten)]
    unknown: UnknownParams,
}

/// `GET /api/v1/diagnostics`: error kinds across the fleet and the devices reporting errors;
/// with `device_id` or `scan_id`, the errors themselves.
pub async fn diagnostics(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DiagnosticsQuery>,
) -> Result<Response, ApiFailure> {
    let format = q.list.format(false)?;
    let page = q.list.fetch(format)?;
    q.list.fixed_order(
        "diagnostics have a fixed order: error kinds by count, devices by error count, errors as reported",
    )?;
    let device = uuid_param("device_id", q.device_id.as_deref())?;
    let scan = uuid_param("scan_id", q.scan_id.as_deref())?;
    let s = store(&state)?;
    if device.is_some() || scan.is_some() {
        let (items, total) = s.scan_errors(device, scan, page).await?;
        return Ok(list_response(items, total, page, format, "scan-errors"));
    }
    let (by_kind, devices, total) = s.diagnostics(page).await?;
    if format == Format::Csv {
        return Ok(csv_response("diagnostics", &devices));
    }
    Ok(Json(Diagnostics {
        by_kind,
        devices: Page {
            items: devices,
            total,
            page: page.page,
            page_size: page.page_size,
        },
    })
    .into_response())
}

fn severity_body(
    rating: Option<String>,
    score: Option<f64>,
    kind: Option<String>,
    vector: Option<String>,
) -> sentari_proto::fleet::SeverityBody {
    sentari_proto::fleet::SeverityBody {
        rating: rating.unwrap_or_else(|| "unknown".into()),
        score,
        kind,
        vector,
    }
}

/// `GET /api/v1/advisories/{id}` (an OSV id or an alias such as a CVE id).
pub async fn advisory(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AdvisoryDetail>, ApiFailure> {
    let s = store(&state)?;
    let a = s
        .get_advisory(&id)
        .await?
        .ok_or_else(|| ApiFailure::NotFound(format!("no advisory {id}")))?;
    let (affected_packages, affected_devices) = s.advisory_packages(&a.id).await?;
    Ok(Json(AdvisoryDetail {
        id: a.id,
        aliases: a.aliases,
        summary: a.summary,
        modified: a.modified,
        published: a.published,
        withdrawn: a.withdrawn,
        severity: severity_body(
            a.severity_rating,
            a.severity_score,
            a.severity_type,
            a.severity_vector,
        ),
        source: a.source,
        affected_devices,
        affected_packages,
        record: a.record,
    }))
}

fn suppression_body(s: Suppression) -> SuppressionBody {
    let active = s.expires_at.is_none_or(|t| t > OffsetDateTime::now_utc());
    SuppressionBody {
        id: s.id,
        scope: s.scope,
        advisory_id: s.advisory_id,
        ecosystem: s.ecosystem,
        package: s.package_name,
        device_id: s.device_id,
        tag: s.tag,
        reason: s.reason,
        created_by: s.created_by,
        created_at: s.created_at,
        expires_at: s.expires_at,
        active,
    }
}

/// Query of `GET /api/v1/suppressions`.
#[derive(Debug, Default, Deserialize)]
pub struct SuppressionQuery {
    #[serde(flatten)]
    list: ListParams,
    /// Include expired suppressions.
    expired: Option<String>,
    #[serde(flatten)]
    unknown: UnknownParams,
}

/// `GET /api/v1/suppressions`.
pub async fn suppressions(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SuppressionQuery>,
) -> Result<Response, ApiFailure> {
    let format = q.list.format(false)?;
    let page = q.list.page()?;
    let all = store(&state)?
        .list_suppressions(
            // `expired=true` (or `any`) lists expired suppressions beside the active ones.
            bool_param("expired", q.expired.as_deref())?.unwrap_or_else(|| {
                q.expired
                    .as_deref()
                    .is_some_and(|v| v.eq_ignore_ascii_case("any") || v.eq_ignore_ascii_case("all"))
            }),
            q.list.sort(),
        )
        .await?;
    let total = all.len() as i64;
    let items: Vec<SuppressionBody> = match format {
        Format::Json => all
            .into_iter()
            .skip(((page.page - 1) as usize).saturating_mul(page.page_size as usize))
            .take(page.page_size as usize)
            .map(suppression_body)
            .collect(),
        _ => all.into_iter().map(suppression_body).collect(),
    };
    Ok(list_response(items, total, page, format, "suppressions"))
}

/// `POST /api/v1/suppressions` (analyst and up).
pub async fn create_suppression(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<CreateSuppression>,
) -> Result<(StatusCode, Json<SuppressionBody>), ApiFailure> {
    let reason = body.reason.trim();
    if reason.is_empty() {
        return Err(ApiFailure::field(
            "reason",
            "say why the finding is suppressed",
        ));
    }
    if reason.chars().count() > 2000 {
        return Err(ApiFailure::field("reason", "at most 2000 characters"));
    }
    if let Some(t) = body.expires_at
        && t <= OffsetDateTime::now_utc()
    {
        return Err(ApiFailure::field(
            "expires_at",
            "the expiry must be in the future",
        ));
    }
    let s = store(&state)?;
    let advisory = match body
        .advisory_id
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        None => None,
        Some(a) => Some(
            s.get_advisory(a)
                .await?
                .map(|adv| adv.id)
                .ok_or_else(|| ApiFailure::field("advisory_id", format!("no advisory {a}")))?,
        ),
    };
    let mut sup = Suppression {
        id: Uuid::now_v7(),
        scope: body.scope.clone(),
        advisory_id: advisory.clone(),
        ecosystem: None,
        package_name: None,
        device_id: None,
        tag: None,
        reason: reason.to_owned(),
        created_by: p.actor(),
        created_at: OffsetDateTime::now_utc(),
        expires_at: body.expires_at,
    };
    match body.scope.as_str() {
        "advisory" => {
            if advisory.is_none() {
                return Err(ApiFailure::field(
                    "advisory_id",
                    "required for scope advisory",
                ));
            }
        }
        "advisory_package" => {
            if advisory.is_none() {
                return Err(ApiFailure::field(
                    "advisory_id",
                    "required for scope advisory_package",
                ));
            }
            let eco = body
                .ecosystem
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| {
                    ApiFailure::field("ecosystem", "required for scope advisory_package")
                })?;
            let name = body
                .package
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| {
                    ApiFailure::field("package", "required for scope advisory_package")
                })?;
            let e = Ecosystem::parse(eco.trim());
            if e.version_scheme().is_none() {
                return Err(ApiFailure::field(
                    "ecosystem",
                    format!("`{eco}` is not an ecosystem Sentari matches"),
                ));
            }
            sup.ecosystem = Some(e.without_release().to_string());
            sup.package_name = Some(sentari_core::ecosystem::normalize_package_name(&e, name));
        }
        "device" => {
            let d = body
                .device_id
                .ok_or_else(|| ApiFailure::field("device_id", "required for scope device"))?;
            if s.get_device(d).await?.is_none() {
                return Err(ApiFailure::field("device_id", "no such device"));
            }
            sup.device_id = Some(d);
        }
        "tag" => {
            let t = body
                .tag
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ApiFailure::field("tag", "required for scope tag"))?;
            sup.tag = Some(t.to_owned());
        }
        other => {
            return Err(ApiFailure::field(
                "scope",
                format!("unknown scope `{other}`; use advisory, advisory_package, device or tag"),
            ));
        }
    }
    let affected = s.create_suppression(&sup).await?;
    let out = suppression_body(sup.clone());
    audit::record(
        s,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "suppression.create",
        Some(sup.id.to_string()),
        None,
        Some(json!({
            "scope": out.scope, "advisory_id": out.advisory_id, "ecosystem": out.ecosystem,
            "package": out.package, "device_id": out.device_id, "tag": out.tag,
            "reason": out.reason, "expires_at": out.expires_at.and_then(|t| t.format(&Rfc3339).ok()),
            "findings_affected": affected,
        })),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// `DELETE /api/v1/suppressions/{id}` (analyst and up).
pub async fn delete_suppression(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiFailure> {
    let id =
        Uuid::parse_str(&id).map_err(|_| ApiFailure::NotFound("no such suppression".into()))?;
    let s = store(&state)?;
    let gone = s
        .delete_suppression(id)
        .await?
        .ok_or_else(|| ApiFailure::NotFound("no such suppression".into()))?;
    audit::record(
        s,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "suppression.delete",
        Some(id.to_string()),
        Some(json!({"scope": gone.scope, "advisory_id": gone.advisory_id, "reason": gone.reason})),
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The feed status bodies, with age and staleness.
pub async fn feed_statuses(state: &AppState) -> Result<FeedsBody, ApiFailure> {
    let s = store(state)?;
    let now = OffsetDateTime::now_utc();
    let sources = s
        .feed_statuses()
        .await?
        .into_iter()
        .map(|f| {
            let age = f.last_success.map(|t| (now - t).whole_seconds().max(0));
            FeedStatusBody {
                stale: age.is_none_or(|a| a as u64 > STALE_AFTER.as_secs()),
                source: f.source,
                last_attempt: f.last_attempt,
                last_success: f.last_success,
                last_error: f.last_error,
                last_error_at: f.last_error_at,
                record_count: f.record_count,
                age_seconds: age,
                detail: f.detail,
            }
        })
        .collect();
    let (advisories, withdrawn) = s.advisory_counts().await?;
    let feeds = &state.config().feeds;
    Ok(FeedsBody {
        sources,
        advisories,
        withdrawn,
        osv_bundle_path: bundle_path(s, OSV_BUNDLE_SETTING, feeds.osv_bundle_path.as_deref())
            .await?
            .map(|p| p.display().to_string()),
        eol_bundle_path: bundle_path(s, EOL_BUNDLE_SETTING, feeds.eol_bundle_path.as_deref())
            .await?
            .map(|p| p.display().to_string()),
    })
}

/// `GET /api/v1/feeds`.
pub async fn feeds(State(state): State<AppState>) -> Result<Json<FeedsBody>, ApiFailure> {
    Ok(Json(feed_statuses(&state).await?))
}

/// Body of `POST /api/v1/feeds/sync`.
#[derive(Debug, Default, Deserialize)]
pub struct SyncRequest {
    /// `osv`, `eol` (default both).
    #[serde(default)]
    pub sources: Vec<String>,
}

/// Enqueues the feed syncs (at most one pending of each); returns at once.
pub async fn enqueue_syncs(
    s: &sentari_store::Store,
    sources: &[String],
) -> Result<SyncQueued, ApiFailure> {
    let mut jobs = Vec::new();
    let mut kinds = Vec::new();
    let wanted: Vec<&str> = if sources.is_empty() {
        vec!["osv", "eol"]
    } else {
        sources.iter().map(String::as_str).collect()
    };
    for src in wanted {
        let kind = match src {
            "osv" => OSV_SYNC,
            "eol" => EOL_SYNC,
            other => {
                return Err(ApiFailure::field(
                    "sources",
                    format!("unknown source `{other}`; use osv or eol"),
                ));
            }
        };
        let job = NewJob::new(kind, json!({"trigger": "manual"}))
            .queue("feeds")
            .unique_key(kind.to_owned())
            .max_attempts(1);
        if let Some(id) = s.enqueue(job).await? {
            jobs.push(id);
        }
        kinds.push(kind);
    }
    let detail = if jobs.is_empty() {
        format!("{} already queued or running", kinds.join(" and "))
    } else {
        format!("{} queued", kinds.join(" and "))
    };
    Ok(SyncQueued { jobs, detail })
}

/// `POST /api/v1/feeds/sync` (admin): runs in the background; poll `GET /api/v1/feeds`.
pub async fn sync(
    State(state): State<AppState>,
    p: Principal,
    body: Option<Json<SyncRequest>>,
) -> Result<(StatusCode, Json<SyncQueued>), ApiFailure> {
    let req = body.map(|b| b.0).unwrap_or_default();
    let s = store(&state)?;
    let queued = enqueue_syncs(s, &req.sources).await?;
    audit::record(
        s,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "feeds.sync",
        None,
        None,
        Some(json!({"sources": req.sources, "jobs": queued.jobs})),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(queued)))
}

/// `PUT /api/v1/feeds/settings` (admin): the offline bundle paths (seed §9).
pub async fn put_settings(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<FeedSettings>,
) -> Result<Json<FeedsBody>, ApiFailure> {
    let s = store(&state)?;
    let mut changes = serde_json::Map::new();
    for (field, key, value) in [
        ("osv_bundle_path", OSV_BUNDLE_SETTING, &body.osv_bundle_path),
        ("eol_bundle_path", EOL_BUNDLE_SETTING, &body.eol_bundle_path),
    ] {
        match value.as_deref().map(str::trim) {
            None | Some("") => {
                s.delete_setting(key).await?;
                changes.insert(field.into(), serde_json::Value::Null);
            }
            Some(path) => {
                let pb = std::path::Path::new(path);
                if !pb.is_absolute() {
                    return Err(ApiFailure::field(field, "give an absolute path"));
                }
                if !pb.exists() {
                    return Err(ApiFailure::field(
                        field,
                        format!("{path} does not exist (or is not readable by the server)"),
                    ));
                }
                s.put_setting(key, &json!(path)).await?;
                changes.insert(field.into(), json!(path));
            }
        }
    }
    audit::record(
        s,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "feeds.settings",
        None,
        None,
        Some(serde_json::Value::Object(changes)),
    )
    .await?;
    Ok(Json(feed_statuses(&state).await?))
}

/// Adds `Content-Disposition` for a download.
pub fn attachment(mut resp: Response, filename: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// A body with a content type.
pub fn typed(body: Vec<u8>, content_type: &'static str) -> Response {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentari_core::version::VersionScheme;

    #[test]
    fn ranges_follow_the_ecosystem_order() {
        let b = parse_range(">=1.0, <2.0").unwrap_or_default();
        assert_eq!(in_range(VersionScheme::Pep440, "1.5", &b), Some(true));
        assert_eq!(in_range(VersionScheme::Pep440, "2.0rc1", &b), Some(true));
        assert_eq!(in_range(VersionScheme::Pep440, "2.0", &b), Some(false));
        let d = parse_range("<1:1.0").unwrap_or_default();
        assert_eq!(in_range(VersionScheme::Dpkg, "2.0-1", &d), Some(true));
        assert!(parse_range("1.0").is_err());
    }
}
