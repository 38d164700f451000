//! The Fleet pages (seed `000_…` §8): Overview, Devices with the device detail page and its
//! admin-only deletion, Packages, Runtime, Scan History and Diagnostics.
//!
//! Every page reads the same store queries and proto rows as the REST API
//! (`http/api/fleet.rs`), so a number on a page is the number the API answers. Each page makes a
//! fixed number of queries, whatever the fleet size: lists are paginated in the database, and
//! the counters the lists show (open findings and packages per device) are kept on the device
//! row by the ingest, so no page aggregates the inventory per row. Sorting and filtering are
//! plain links and `GET` forms, so everything works without JavaScript.
//!
//! Security → CVE lives in `cve.rs`.

use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sentari_core::auth::Role;
use sentari_proto::fleet::{
    DevicePackage, DeviceSummary, FindingRow, FleetPackage, RuntimeRow, ScanBody, SeverityCounts,
};
use sentari_store::{
    DeviceFilter, DevicePackageFilter, FindingFilter, PackageFilter, PageRequest, RuntimeFilter,
    ScanFilter, Store,
};
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::chart::{self, Datum, Series, Svg};
use super::session::WebUser;
use super::view::{self, Layout, Stamp};
use crate::http::api::{self, ApiFailure};
use crate::state::AppState;

/// Rows per page of every Fleet list.
pub const PAGE_SIZE: u32 = 50;
/// Days of runtime trend shown.
const TREND_DAYS: u64 = 90;
/// Environment kinds the agent reports (`env_type`), offered as suggestions in the filter.
const ENV_TYPES: &[&str] = &[
    "os", "system", "venv", "conda", "pipx", "user", "jar", "global", "project",
];

// --- Shared pieces ---------------------------------------------------------------------------

/// A link to `path` with the non-empty `params` as its query string.
pub fn href(path: &str, params: &[(&str, String)]) -> String {
    let kept: Vec<(&str, &str)> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    if kept.is_empty() {
        return path.to_owned();
    }
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(&kept).unwrap_or_default()
    )
}

/// Pagination links of a list.
#[derive(Debug, Clone)]
pub struct Pager {
    /// This page, from 1.
    pub page: u32,
    /// Pages in all (at least 1).
    pub pages: u32,
    /// Matching rows in all.
    pub total: i64,
    /// The previous page, with the filters and sort kept.
    pub prev: Option<String>,
    /// The next page.
    pub next: Option<String>,
}

/// The pager of `path` whose filters and sort are `params`; `key` is the page parameter's name
/// (the device page has two lists).
fn pager(path: &str, params: &[(&str, String)], key: &str, page: u32, total: i64) -> Pager {
    let pages = u32::try_from(((total.max(0) as u64).div_ceil(u64::from(PAGE_SIZE))).max(1))
        .unwrap_or(u32::MAX);
    let link = |p: u32| {
        let mut all = params.to_vec();
        all.push((key, p.to_string()));
        href(path, &all)
    };
    Pager {
        page,
        pages,
        total,
        prev: (page > 1).then(|| link(page - 1)),
        next: (page < pages).then(|| link(page + 1)),
    }
}

/// A sortable column header: a link that sorts by it (reversing when it is the current sort).
#[derive(Debug, Clone)]
pub struct SortCol {
    /// The header text.
    pub label: &'static str,
    /// Where clicking goes.
    pub href: String,
    /// `ascending`, `descending` or `none`, for `aria-sort`.
    pub aria: &'static str,
    /// A numeric column (right-aligned).
    pub num: bool,
}

/// The headers of a server-sorted table. `columns` are `(sort field, label, numeric)`; a field
/// of `""` makes a plain, unsortable header.
fn sort_cols(
    path: &str,
    params: &[(&str, String)],
    current: &str,
    columns: &[(&str, &'static str, bool)],
) -> Vec<SortCol> {
    columns
        .iter()
        .map(|(field, label, num)| {
            let (aria, next) = if field.is_empty() {
                ("", String::new())
            } else if current == *field {
                ("ascending", format!("-{field}"))
            } else if current.strip_prefix('-') == Some(*field) {
                ("descending", (*field).to_owned())
            } else {
                ("none", (*field).to_owned())
            };
            let mut all = params.to_vec();
            all.push(("sort", next));
            SortCol {
                label,
                href: if field.is_empty() {
                    String::new()
                } else {
                    href(path, &all)
                },
                aria,
                num: *num,
            }
        })
        .collect()
}

/// The requested sort when it names one of `columns`, else `None` (the store's default): a
/// stale or hand-edited link then shows the list rather than an error.
fn known_sort(sort: &str, columns: &[(&str, &'static str, bool)]) -> String {
    let field = sort.strip_prefix('-').unwrap_or(sort);
    if !field.is_empty() && columns.iter().any(|(f, _, _)| *f == field) {
        sort.to_owned()
    } else {
        String::new()
    }
}

/// A page number from the query; anything unusable is page 1.
fn page_no(p: &str) -> u32 {
    p.parse::<u32>().ok().filter(|p| *p >= 1).unwrap_or(1)
}

fn page_req(page: u32) -> PageRequest {
    PageRequest {
        page,
        page_size: PAGE_SIZE,
    }
}

/// A trimmed filter value, `None` when empty.
fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// One `<option>` of a filter select.
#[derive(Debug, Clone)]
pub struct Opt {
    /// The submitted value.
    pub value: String,
    /// What the user reads.
    pub label: String,
    /// Whether it is the current choice.
    pub selected: bool,
}

/// The options `(value, label)` of a select, with `current` selected.
fn options(values: &[(&str, &str)], current: &str) -> Vec<Opt> {
    values
        .iter()
        .map(|(v, l)| Opt {
            value: (*v).to_owned(),
            label: (*l).to_owned(),
            selected: *v == current,
        })
        .collect()
}

/// Severity counts as small badges (critical, high, medium, low, unknown).
#[derive(Debug, Clone)]
pub struct Badge {
    /// The CSS class suffix.
    pub class: &'static str,
    /// The severity.
    pub label: &'static str,
    /// How many.
    pub count: i64,
}

fn badges(f: &SeverityCounts) -> Vec<Badge> {
    [
        ("critical", f.critical),
        ("high", f.high),
        ("medium", f.medium),
        ("low", f.low),
        ("unknown", f.unknown),
    ]
    .into_iter()
    .map(|(label, count)| Badge {
        class: if count == 0 { "zero" } else { label },
        label,
        count,
    })
    .collect()
}

/// The badge class of a device scan status.
fn scan_status_class(s: &str) -> &'static str {
    match s {
        "ok" | "applied" => "status-ok",
        "errors" | "superseded" | "pending" => "status-warn",
        "overdue" | "failed" => "status-bad",
        _ => "status-off",
    }
}

/// The badge class and text of a runtime's end-of-life status.
fn eol_badge(s: &str) -> (&'static str, &'static str) {
    match s {
        "eol_past" => ("status-bad", "end of life"),
        "eol_soon" => ("status-warn", "EOL soon"),
        "supported" => ("status-ok", "supported"),
        _ => ("status-off", "unknown"),
    }
}

/// The chart colour of an end-of-life status.
fn eol_class(s: &str) -> &'static str {
    match s {
        "eol_past" => "critical",
        "eol_soon" => "medium",
        "supported" => "low",
        _ => "none",
    }
}

fn store(state: &AppState) -> Result<&Store, ApiFailure> {
    api::store(state)
}

/// A failure as an error page inside the layout: the API's status and its sentence.
async fn failure(state: &AppState, user: &WebUser, title: &str, e: ApiFailure) -> Response {
    let f = view::explain(e).await;
    view::error_page(
        Some(state),
        &user.principal,
        &user.csrf,
        f.status,
        title,
        &f.message,
    )
}

fn layout(state: &AppState, user: &WebUser, nav: &str, title: &str) -> Layout {
    Layout::new(Some(state), &user.principal, &user.csrf, nav, title)
}

fn no_such_device(state: &AppState, user: &WebUser) -> Response {
    view::error_page(
        Some(state),
        &user.principal,
        &user.csrf,
        StatusCode::NOT_FOUND,
        "No such device",
        "There is no device with this id; it may have been deleted.",
    )
}

/// One device as the lists show it.
#[derive(Debug, Clone)]
pub struct DeviceView {
    /// The id.
    pub id: Uuid,
    /// Host name.
    pub hostname: String,
    /// OS, as its pretty name.
    pub os: String,
    /// The system Python version.
    pub python: String,
    /// When it last talked to the server.
    pub last_seen: Option<Stamp>,
    /// `ok`, `errors`, `overdue`, `never`.
    pub scan_status: String,
    /// Its badge class.
    pub status_class: &'static str,
    /// Open findings by severity.
    pub findings: Vec<Badge>,
    /// Tags.
    pub tags: Vec<String>,
    /// Packages inventoried.
    pub packages: i64,
}

fn device_view(d: DeviceSummary, now: OffsetDateTime) -> DeviceView {
    DeviceView {
        id: d.id,
        status_class: scan_status_class(&d.scan_status),
        findings: badges(&d.findings),
        last_seen: d.last_seen.map(|t| view::stamp(t, now)),
        hostname: d.hostname,
        os: d.os,
        python: d.python_version,
        scan_status: d.scan_status,
        tags: d.tags,
        packages: d.package_count,
    }
}

/// One scan as the lists show it.
#[derive(Debug, Clone)]
pub struct ScanView {
    /// The device.
    pub device_id: Uuid,
    /// Its host name.
    pub hostname: String,
    /// When the agent scanned.
    pub scanned_at: Stamp,
    /// When the server received it.
    pub received_at: Stamp,
    /// `applied`, `pending`, `failed`, `superseded`.
    pub status: String,
    /// Its badge class.
    pub status_class: &'static str,
    /// Packages in the upload.
    pub packages: i64,
    /// `+3 −1 ~2`.
    pub changes: String,
    /// Scan errors reported.
    pub errors: i64,
    /// Scan duration on the device.
    pub duration: String,
    /// Why it failed, when it did.
    pub detail: Option<String>,
}

fn scan_view(s: ScanBody, now: OffsetDateTime) -> ScanView {
    ScanView {
        device_id: s.device_id,
        scanned_at: view::stamp(s.scanned_at, now),
        received_at: view::stamp(s.received_at, now),
        status_class: scan_status_class(&s.status),
        changes: format!(
            "+{} −{} ~{}",
            s.packages_added, s.packages_removed, s.packages_changed
        ),
        duration: format!("{:.1} s", s.duration_ms as f64 / 1000.0),
        hostname: s.hostname,
        status: s.status,
        packages: s.packages,
        errors: s.errors,
        detail: s.detail,
    }
}

/// One runtime installation as shown.
#[derive(Debug, Clone)]
pub struct RuntimeView {
    /// The device.
    pub device_id: Uuid,
    /// Its host name.
    pub hostname: String,
    /// `python`, `node`, `jdk`.
    pub kind: String,
    /// The version.
    pub version: String,
    /// Interpreter or install path.
    pub path: String,
    /// The end-of-life cycle it belongs to.
    pub cycle: String,
    /// End of life, `YYYY-MM-DD`.
    pub eol_date: String,
    /// Badge class and text of the EOL status.
    pub eol: (&'static str, &'static str),
}

fn runtime_view(r: RuntimeRow) -> RuntimeView {
    RuntimeView {
        device_id: r.device_id,
        eol: eol_badge(&r.eol_status),
        hostname: r.hostname,
        kind: r.kind,
        version: r.version,
        path: r.path,
        cycle: r.eol_cycle.unwrap_or_default(),
        eol_date: r.eol_date.unwrap_or_default(),
    }
}

// --- Overview --------------------------------------------------------------------------------

/// `/fleet/overview`.
#[derive(Template)]
#[template(path = "fleet_overview.html")]
pub struct OverviewPage {
    /// The layout.
    pub layout: Layout,
    /// The counters.
    pub o: sentari_proto::fleet::Overview,
    /// Open findings (not suppressed) in all.
    pub findings_open: i64,
    /// Findings by severity.
    pub severity_chart: Svg,
    /// Devices by OS.
    pub os_chart: Svg,
    /// The latest scans.
    pub scans: Vec<ScanView>,
    /// Devices not seen within twice their scan interval.
    pub overdue: Vec<DeviceView>,
    /// The scan interval the overdue cut is based on, as shown.
    pub interval: String,
    /// Whether to point at enrollment (admins only: nobody else can create a token).
    pub can_enroll: bool,
}

/// `GET /` and `GET /fleet/overview`: one call of the overview query, whatever the fleet size.
pub async fn overview(State(state): State<AppState>, user: WebUser) -> Response {
    let o = match store(&state) {
        Ok(s) => s.overview(api::fleet::overdue_before(&state)).await,
        Err(e) => return failure(&state, &user, "Fleet overview unavailable", e).await,
    };
    let o = match o {
        Ok(o) => o,
        Err(e) => return failure(&state, &user, "Fleet overview unavailable", e.into()).await,
    };
    let now = OffsetDateTime::now_utc();
    let f = &o.findings;
    let severity_chart = chart::bar_chart(
        "Open findings by severity",
        &[
            Datum::new("critical", f.critical.max(0) as u64, "critical"),
            Datum::new("high", f.high.max(0) as u64, "high"),
            Datum::new("medium", f.medium.max(0) as u64, "medium"),
            Datum::new("low", f.low.max(0) as u64, "low"),
            Datum::new("unknown", f.unknown.max(0) as u64, "none"),
        ],
    );
    // The palette has six series colours; the store returns the twenty largest OS groups,
    // so the donut shows the five largest and folds the rest into "other".
    let mut os_data: Vec<Datum> = o
        .devices_by_os
        .iter()
        .take(5)
        .enumerate()
        .map(|(i, c)| {
            Datum::new(
                c.os.clone(),
                c.devices.max(0) as u64,
                &format!("s{}", i + 1),
            )
        })
        .collect();
    let rest: i64 = o.devices_by_os.iter().skip(5).map(|c| c.devices).sum();
    if rest > 0 {
        os_data.push(Datum::new("other", rest as u64, "s6"));
    }
    let interval = view::span(state.config().agent_scan_interval_s.max(60));
    let page = OverviewPage {
        layout: layout(&state, &user, "/fleet/overview", "Fleet overview"),
        findings_open: f.critical + f.high + f.medium + f.low + f.unknown,
        severity_chart,
        os_chart: chart::donut("Devices by OS", &os_data),
        scans: o
            .recent_scans
            .iter()
            .cloned()
            .map(|s| scan_view(s, now))
            .collect(),
        overdue: o
            .overdue_devices
            .iter()
            .cloned()
            .map(|d| device_view(d, now))
            .collect(),
        interval,
        can_enroll: view::can_manage(&state, &user.principal, Role::Admin),
        o,
    };
    view::render(StatusCode::OK, &page)
}

// --- Devices ---------------------------------------------------------------------------------

const DEVICE_COLUMNS: &[(&str, &str, bool)] = &[
    ("hostname", "Hostname", false),
    ("os", "OS", false),
    ("python_version", "Python", false),
    ("last_seen", "Last seen", false),
    ("", "Scan status", false),
    ("findings", "Open findings", false),
    ("package_count", "Packages", true),
    ("", "Tags", false),
];

/// The query of `/fleet/devices`: the API's filter names.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DevicesQuery {
    q: String,
    os: String,
    tag: String,
    scan_status: String,
    severity: String,
    package: String,
    version: String,
    ecosystem: String,
    sort: String,
    page: String,
    notice: String,
    host: String,
}

/// `/fleet/devices`.
#[derive(Template)]
#[template(path = "fleet_devices.html")]
pub struct DevicesPage {
    /// The layout.
    pub layout: Layout,
    /// The filters as typed.
    pub q: String,
    /// See `q`.
    pub os: String,
    /// See `q`.
    pub tag: String,
    /// The scan status choices.
    pub status_opts: Vec<Opt>,
    /// The minimum severity choices.
    pub severity_opts: Vec<Opt>,
    /// The package drill-down from the Packages page, as a sentence, with its clearing link.
    pub package_note: Option<(String, String)>,
    /// The package filter, kept in the search form.
    pub package: Vec<(&'static str, String)>,
    /// Column headers.
    pub columns: Vec<SortCol>,
    /// This page's devices.
    pub devices: Vec<DeviceView>,
    /// Paging.
    pub pager: Pager,
}

/// `GET /fleet/devices`: one page query and one count.
pub async fn devices(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<DevicesQuery>,
) -> Response {
    let sort = known_sort(&q.sort, DEVICE_COLUMNS);
    let page = page_no(&q.page);
    let filter = DeviceFilter {
        q: opt(&q.q),
        os: opt(&q.os),
        tag: opt(&q.tag),
        scan_status: opt(&q.scan_status)
            .filter(|s| ["ok", "errors", "never", "overdue"].contains(&s.as_str())),
        min_severity: opt(&q.severity)
            .filter(|s| ["critical", "high", "medium", "low", "any"].contains(&s.as_str())),
        package: opt(&q.package),
        package_version: opt(&q.version),
        package_ecosystem: opt(&q.ecosystem),
        ..DeviceFilter::default()
    };
    let result = match store(&state) {
        Ok(s) => s
            .list_fleet_devices(
                &filter,
                Some(sort.as_str()),
                page_req(page),
                api::fleet::overdue_before(&state),
            )
            .await
            .map_err(ApiFailure::from),
        Err(e) => Err(e),
    };
    let (rows, total) = match result {
        Ok(r) => r,
        Err(e) => return failure(&state, &user, "Devices unavailable", e).await,
    };
    let now = OffsetDateTime::now_utc();
    let package: Vec<(&'static str, String)> = [
        ("package", filter.package.clone().unwrap_or_default()),
        (
            "version",
            filter.package_version.clone().unwrap_or_default(),
        ),
        (
            "ecosystem",
            filter.package_ecosystem.clone().unwrap_or_default(),
        ),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    let mut params: Vec<(&str, String)> = vec![
        ("q", filter.q.clone().unwrap_or_default()),
        ("os", filter.os.clone().unwrap_or_default()),
        ("tag", filter.tag.clone().unwrap_or_default()),
        (
            "scan_status",
            filter.scan_status.clone().unwrap_or_default(),
        ),
        ("severity", filter.min_severity.clone().unwrap_or_default()),
    ];
    params.extend(package.iter().cloned());
    let package_note = filter.package.as_ref().map(|name| {
        let mut s = format!("Devices that have the package {name}");
        if let Some(v) = &filter.package_version {
            s.push_str(&format!(" at version {v}"));
        }
        if let Some(e) = &filter.package_ecosystem {
            s.push_str(&format!(" ({e})"));
        }
        s.push('.');
        let without: Vec<(&str, String)> = params[..5].to_vec();
        (s, href("/fleet/devices", &without))
    });
    let columns = sort_cols("/fleet/devices", &params, &sort, DEVICE_COLUMNS);
    let mut paged = params.clone();
    paged.push(("sort", sort.clone()));
    let notice = (q.notice == "deleted").then(|| {
        format!(
            "The device {} was deleted and its certificate revoked.",
            if q.host.is_empty() {
                ""
            } else {
                q.host.as_str()
            }
        )
        .replace("device  was", "device was")
    });
    let page_view = DevicesPage {
        layout: layout(&state, &user, "/fleet/devices", "Devices").notice(notice),
        q: q.q,
        os: q.os,
        tag: q.tag,
        status_opts: options(
            &[
                ("", "any"),
                ("ok", "ok"),
                ("errors", "errors"),
                ("overdue", "overdue"),
                ("never", "never scanned"),
            ],
            filter.scan_status.as_deref().unwrap_or(""),
        ),
        severity_opts: options(
            &[
                ("", "any or none"),
                ("critical", "critical"),
                ("high", "high or worse"),
                ("medium", "medium or worse"),
                ("low", "low or worse"),
                ("any", "at least one"),
            ],
            filter.min_severity.as_deref().unwrap_or(""),
        ),
        package_note,
        package,
        columns,
        devices: rows.into_iter().map(|d| device_view(d, now)).collect(),
        pager: pager("/fleet/devices", &paged, "page", page, total),
    };
    view::render(StatusCode::OK, &page_view)
}

// --- Device detail ---------------------------------------------------------------------------

/// The query of the device page: the package filters and the two lists' pages.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeviceQuery {
    /// Package name substring.
    pq: String,
    /// The seed's "source": the environment kind (`env_type`).
    source: String,
    /// The environment (venv path, project).
    env: String,
    /// Package ecosystem.
    ecosystem: String,
    /// Only packages with open findings.
    vulnerable: String,
    /// The package list's page.
    ppage: String,
    /// The findings list's page.
    fpage: String,
}

/// One package of the device.
#[derive(Debug, Clone)]
pub struct PackageRow {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Ecosystem.
    pub ecosystem: String,
    /// `os`, `venv`, `jar`, …
    pub env_type: String,
    /// The environment, when it has one.
    pub environment: String,
    /// Where it is installed.
    pub install_path: String,
    /// Open, unsuppressed findings.
    pub open_findings: i64,
}

fn package_row(p: DevicePackage) -> PackageRow {
    PackageRow {
        name: p.name,
        version: p.version,
        ecosystem: p.ecosystem,
        env_type: p.env_type,
        environment: p.environment.unwrap_or_default(),
        install_path: p.install_path,
        open_findings: p.open_findings,
    }
}

/// One open finding of the device.
#[derive(Debug, Clone)]
pub struct FindingView {
    /// The advisory.
    pub advisory_id: String,
    /// Its aliases (CVE ids).
    pub aliases: String,
    /// Its summary.
    pub summary: String,
    /// `critical` … `unknown`.
    pub severity: String,
    /// The CVSS score, when known.
    pub score: String,
    /// The affected package.
    pub package: String,
    /// Its installed version.
    pub version: String,
    /// The first fixed version, when there is one.
    pub fixed: String,
    /// When it was detected.
    pub detected: Stamp,
}

fn finding_view(f: FindingRow, now: OffsetDateTime) -> FindingView {
    FindingView {
        aliases: f.aliases.join(", "),
        summary: f.summary.unwrap_or_default(),
        score: f
            .severity
            .score
            .map(|s| format!("{s:.1}"))
            .unwrap_or_default(),
        severity: f.severity.rating,
        package: f.name,
        version: f.version,
        fixed: f.fixed_version.unwrap_or_default(),
        detected: view::stamp(f.detected_at, now),
        advisory_id: f.advisory_id,
    }
}

/// `/fleet/devices/{id}`.
#[derive(Template)]
#[template(path = "fleet_device.html")]
pub struct DevicePage {
    /// The layout.
    pub layout: Layout,
    /// The device.
    pub d: DeviceView,
    /// Facts shown in the header list: (label, value).
    pub facts: Vec<(&'static str, String)>,
    /// Enrolled.
    pub enrolled: Stamp,
    /// Last scan.
    pub last_scan: Option<Stamp>,
    /// The certificate's end of validity.
    pub cert_until: Stamp,
    /// Runtimes with EOL status.
    pub runtimes: Vec<RuntimeView>,
    /// Package filters as typed.
    pub pq: String,
    /// See `pq`.
    pub source: String,
    /// See `pq`.
    pub env: String,
    /// See `pq`.
    pub ecosystem: String,
    /// See `pq`.
    pub vulnerable: bool,
    /// Suggestions for the source filter.
    pub env_types: &'static [&'static str],
    /// This page of packages.
    pub packages: Vec<PackageRow>,
    /// Their paging.
    pub ppager: Pager,
    /// This page of open findings.
    pub findings: Vec<FindingView>,
    /// Their paging.
    pub fpager: Pager,
    /// The latest scans.
    pub scans: Vec<ScanView>,
    /// Scans in all.
    pub scans_total: i64,
    /// Whether the delete button is shown (admins only).
    pub can_delete: bool,
}

/// `GET /fleet/devices/{id}`: the device, its runtimes, one page of packages, one page of
/// findings and the latest scans: six queries.
pub async fn device(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Query(q): Query<DeviceQuery>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return no_such_device(&state, &user);
    };
    let s = match store(&state) {
        Ok(s) => s,
        Err(e) => return failure(&state, &user, "Device unavailable", e).await,
    };
    let found = match s.fleet_device(id, api::fleet::overdue_before(&state)).await {
        Ok(f) => f,
        Err(e) => return failure(&state, &user, "Device unavailable", e.into()).await,
    };
    let Some((summary, cert_not_after)) = found else {
        return no_such_device(&state, &user);
    };
    let (ppage, fpage) = (page_no(&q.ppage), page_no(&q.fpage));
    let vulnerable = matches!(q.vulnerable.as_str(), "1" | "true" | "on" | "yes");
    let pfilter = DevicePackageFilter {
        q: opt(&q.pq),
        ecosystem: opt(&q.ecosystem),
        env_type: opt(&q.source),
        environment: opt(&q.env),
        vulnerable,
    };
    let ffilter = FindingFilter {
        device_id: Some(id),
        suppressed: Some(false),
        resolved: Some(false),
        ..FindingFilter::default()
    };
    let rfilter = RuntimeFilter {
        device_id: Some(id),
        ..RuntimeFilter::default()
    };
    let sfilter = ScanFilter {
        device_id: Some(id),
        ..ScanFilter::default()
    };
    let loaded = tokio::try_join!(
        s.list_runtimes(
            &rfilter,
            Some("kind"),
            PageRequest {
                page: 1,
                page_size: 500,
            },
        ),
        s.list_device_packages(id, &pfilter, None, page_req(ppage)),
        s.list_findings(&ffilter, None, page_req(fpage)),
        s.list_scan_history(
            &sfilter,
            None,
            PageRequest {
                page: 1,
                page_size: 10,
            },
        ),
    );
    let ((runtimes, _), (packages, ptotal), (findings, ftotal), (scans, scans_total)) = match loaded
    {
        Ok(r) => r,
        Err(e) => return failure(&state, &user, "Device unavailable", e.into()).await,
    };
    let now = OffsetDateTime::now_utc();
    let path = format!("/fleet/devices/{id}");
    let pparams: Vec<(&str, String)> = vec![
        ("pq", pfilter.q.clone().unwrap_or_default()),
        ("source", pfilter.env_type.clone().unwrap_or_default()),
        ("env", pfilter.environment.clone().unwrap_or_default()),
        ("ecosystem", pfilter.ecosystem.clone().unwrap_or_default()),
        (
            "vulnerable",
            if vulnerable {
                "1".into()
            } else {
                String::new()
            },
        ),
    ];
    let mut fparams = pparams.clone();
    fparams.push(("ppage", ppage.to_string()));
    let mut pp = pparams.clone();
    pp.push(("fpage", fpage.to_string()));
    let facts = vec![
        ("Machine id", summary.machine_id.clone()),
        ("OS", summary.os.clone()),
        ("OS ecosystem", summary.os_ecosystem.clone()),
        ("Kernel", summary.kernel.clone()),
        ("Architecture", summary.arch.clone()),
        ("Host kind", summary.host_kind.clone()),
        ("Agent version", summary.agent_version.clone()),
        ("Python", summary.python_version.clone()),
    ];
    let enrolled = view::stamp(summary.enrolled_at, now);
    let last_scan = summary.last_scan_at.map(|t| view::stamp(t, now));
    let title = format!("Device {}", summary.hostname);
    let page = DevicePage {
        layout: layout(&state, &user, "/fleet/devices", &title),
        d: device_view(summary, now),
        facts,
        enrolled,
        last_scan,
        cert_until: view::stamp(cert_not_after, now),
        runtimes: runtimes.into_iter().map(runtime_view).collect(),
        pq: q.pq,
        source: q.source,
        env: q.env,
        ecosystem: q.ecosystem,
        vulnerable,
        env_types: ENV_TYPES,
        packages: packages.into_iter().map(package_row).collect(),
        ppager: pager(&path, &pp, "ppage", ppage, ptotal),
        findings: findings.into_iter().map(|f| finding_view(f, now)).collect(),
        fpager: pager(&path, &fparams, "fpage", fpage, ftotal),
        scans: scans.into_iter().map(|s| scan_view(s, now)).collect(),
        scans_total,
        can_delete: view::can_manage(&state, &user.principal, Role::Admin),
    };
    view::render(StatusCode::OK, &page)
}

/// The confirmation page of a device deletion.
#[derive(Template)]
#[template(path = "fleet_device_delete.html")]
pub struct DeleteDevicePage {
    /// The layout.
    pub layout: Layout,
    /// The device.
    pub d: DeviceView,
}

/// `GET /fleet/devices/{id}/delete` (admin): what deleting means, and the button that does it.
/// The confirmation is a page of its own so it works without JavaScript.
pub async fn confirm_delete(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return no_such_device(&state, &user);
    };
    let found = match store(&state) {
        Ok(s) => s
            .fleet_device(id, api::fleet::overdue_before(&state))
            .await
            .map_err(ApiFailure::from),
        Err(e) => Err(e),
    };
    match found {
        Ok(Some((d, _))) => {
            let title = format!("Delete {}?", d.hostname);
            let page = DeleteDevicePage {
                layout: layout(&state, &user, "/fleet/devices", &title),
                d: device_view(d, OffsetDateTime::now_utc()),
            };
            view::render(StatusCode::OK, &page)
        }
        Ok(None) => no_such_device(&state, &user),
        Err(e) => failure(&state, &user, "Device unavailable", e).await,
    }
}

/// `POST /fleet/devices/{id}/delete` (admin): the REST API's deletion (`DELETE
/// /api/v1/devices/{id}`) as it is, so the audit entry, the security log line and the
/// certificate revocation are the same whichever way a device goes.
pub async fn delete(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    let host = match Uuid::parse_str(&id) {
        Ok(uid) => match store(&state) {
            Ok(s) => s.get_device(uid).await.ok().flatten().map(|d| d.hostname),
            Err(_) => None,
        },
        Err(_) => None,
    };
    match api::fleet::delete_device(State(state.clone()), user.principal.clone(), Path(id)).await {
        Ok(_) => Redirect::to(&href(
            "/fleet/devices",
            &[
                ("notice", "deleted".to_owned()),
                ("host", host.unwrap_or_default()),
            ],
        ))
        .into_response(),
        Err(ApiFailure::NotFound(_)) => no_such_device(&state, &user),
        Err(e) => failure(&state, &user, "The device was not deleted", e).await,
    }
}

// --- Packages --------------------------------------------------------------------------------

const PACKAGE_COLUMNS: &[(&str, &str, bool)] = &[
    ("name", "Package", false),
    ("version", "Version", false),
    ("ecosystem", "Ecosystem", false),
    ("", "Source package", false),
    ("devices", "Devices", true),
    ("advisories", "Open advisories", true),
];

/// The query of `/fleet/packages`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PackagesQuery {
    /// The name searched for.
    name: String,
    /// `exact` (default) or `prefix`.
    r#match: String,
    /// A version range (`>=1.0,<2.0`).
    range: String,
    ecosystem: String,
    vulnerable: String,
    sort: String,
    page: String,
}

/// One package version with its device count.
#[derive(Debug, Clone)]
pub struct FleetPackageView {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Ecosystem.
    pub ecosystem: String,
    /// The source package (OS packages).
    pub source: String,
    /// Devices that have it.
    pub devices: i64,
    /// Open advisories against it.
    pub advisories: i64,
    /// The drill-down to those devices.
    pub devices_href: String,
}

fn fleet_package_view(p: FleetPackage) -> FleetPackageView {
    FleetPackageView {
        devices_href: href(
            "/fleet/devices",
            &[
                ("package", p.name.clone()),
                ("version", p.version.clone()),
                ("ecosystem", p.ecosystem.clone()),
            ],
        ),
        name: p.name,
        version: p.version,
        ecosystem: p.ecosystem,
        source: p.source_name.unwrap_or_default(),
        devices: p.devices,
        advisories: p.advisories,
    }
}

/// `/fleet/packages`.
#[derive(Template)]
#[template(path = "fleet_packages.html")]
pub struct PackagesPage {
    /// The layout.
    pub layout: Layout,
    /// The search as typed.
    pub name: String,
    /// Prefix search.
    pub prefix: bool,
    /// See `name`.
    pub range: String,
    /// See `name`.
    pub ecosystem: String,
    /// See `name`.
    pub vulnerable: bool,
    /// The ecosystems installed in the fleet, for the select.
    pub ecosystems: Vec<String>,
    /// Column headers.
    pub columns: Vec<SortCol>,
    /// This page of package versions.
    pub packages: Vec<FleetPackageView>,
    /// Devices across the versions shown (a package's exposure at a glance).
    pub devices_shown: i64,
    /// Paging.
    pub pager: Pager,
    /// Whether a search was made (the empty state differs).
    pub searched: bool,
}

/// `GET /fleet/packages`: "which devices have package X?" through the API's package search,
/// so a version range is judged by the same comparator.
pub async fn packages(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<PackagesQuery>,
) -> Response {
    let sort = known_sort(&q.sort, PACKAGE_COLUMNS);
    let page = page_no(&q.page);
    let prefix = q.r#match == "prefix";
    let vulnerable = matches!(q.vulnerable.as_str(), "1" | "true" | "on" | "yes");
    let filter = PackageFilter {
        name: opt(&q.name),
        prefix,
        ecosystem: opt(&q.ecosystem),
        version: None,
        vulnerable,
    };
    let s = match store(&state) {
        Ok(s) => s,
        Err(e) => return failure(&state, &user, "Packages unavailable", e).await,
    };
    let range = opt(&q.range);
    let (listed, ecosystems) = tokio::join!(
        api::fleet::package_search(s, &filter, range.as_deref(), Some(&sort), page_req(page)),
        s.fleet_ecosystems(),
    );
    let ecosystems = match ecosystems {
        Ok(e) => e,
        Err(e) => return failure(&state, &user, "Packages unavailable", e.into()).await,
    };
    // A bad range or a range without its name or ecosystem is the user's to fix: the form
    // stays, with the API's explanation.
    let (rows, total, error, status) = match listed {
        Ok((rows, total)) => (rows, total, None, StatusCode::OK),
        Err(e @ ApiFailure::BadRequest { .. }) => {
            let f = view::explain(e).await;
            (Vec::new(), 0, Some(f.message), f.status)
        }
        Err(e) => return failure(&state, &user, "Packages unavailable", e).await,
    };
    let params: Vec<(&str, String)> = vec![
        ("name", q.name.trim().to_owned()),
        (
            "match",
            if prefix {
                "prefix".into()
            } else {
                String::new()
            },
        ),
        ("range", q.range.trim().to_owned()),
        ("ecosystem", q.ecosystem.trim().to_owned()),
        (
            "vulnerable",
            if vulnerable {
                "1".into()
            } else {
                String::new()
            },
        ),
    ];
    let columns = sort_cols("/fleet/packages", &params, &sort, PACKAGE_COLUMNS);
    let mut paged = params.clone();
    paged.push(("sort", sort.clone()));
    let packages: Vec<FleetPackageView> = rows.into_iter().map(fleet_package_view).collect();
    let page_view = PackagesPage {
        layout: layout(&state, &user, "/fleet/packages", "Packages").error(error),
        searched: filter.name.is_some() || filter.ecosystem.is_some() || vulnerable,
        name: q.name,
        prefix,
        range: q.range,
        ecosystem: q.ecosystem,
        vulnerable,
        ecosystems,
        columns,
        devices_shown: packages.iter().map(|p| p.devices).sum(),
        packages,
        pager: pager("/fleet/packages", &paged, "page", page, total),
    };
    view::render(status, &page_view)
}

// --- Runtime ---------------------------------------------------------------------------------

/// The query of `/fleet/runtime`: the installation list's filters (the API's names).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RuntimeQuery {
    kind: String,
    version: String,
    eol_status: String,
    q: String,
    sort: String,
    page: String,
}

const RUNTIME_COLUMNS: &[(&str, &str, bool)] = &[
    ("hostname", "Device", false),
    ("kind", "Runtime", false),
    ("version", "Version", false),
    ("", "Path", false),
    ("eol_status", "EOL status", false),
    ("eol_date", "EOL date", false),
];

/// One runtime cycle across the fleet.
#[derive(Debug, Clone)]
pub struct CycleView {
    /// `python`, `node`, `jdk`.
    pub kind: String,
    /// `3.8`, `20`, `17`.
    pub cycle: String,
    /// Badge class and text.
    pub eol: (&'static str, &'static str),
    /// End of life.
    pub eol_date: String,
    /// Devices with it.
    pub devices: i64,
    /// Installations.
    pub installations: i64,
    /// The installation list filtered to it.
    pub href: String,
}

/// The charts of one runtime kind.
#[derive(Debug, Clone)]
pub struct KindCharts {
    /// `Python`, `Node.js`, `JDK`.
    pub label: String,
    /// Devices per cycle, coloured by EOL status.
    pub distribution: Svg,
    /// Devices per cycle per day.
    pub trend: Svg,
}

/// `/fleet/runtime`.
#[derive(Template)]
#[template(path = "fleet_runtime.html")]
pub struct RuntimePage {
    /// The layout.
    pub layout: Layout,
    /// One set of charts per runtime kind.
    pub charts: Vec<KindCharts>,
    /// Every cycle.
    pub cycles: Vec<CycleView>,
    /// Installations past end of life.
    pub eol_past: i64,
    /// Installations reaching end of life soon.
    pub eol_soon: i64,
    /// The filters as typed.
    pub kind: String,
    /// See `kind`.
    pub version: String,
    /// See `kind`.
    pub eol_status: String,
    /// See `kind`.
    pub q: String,
    /// Column headers.
    pub columns: Vec<SortCol>,
    /// This page of installations.
    pub rows: Vec<RuntimeView>,
    /// Paging.
    pub pager: Pager,
    /// The CSV export of the whole inventory (with the filters applied).
    pub csv_href: String,
    /// The Excel export.
    pub xlsx_href: String,
}

fn kind_label(kind: &str) -> String {
    match kind {
        "python" => "Python".into(),
        "node" | "nodejs" => "Node.js".into(),
        "jdk" | "java" => "JDK".into(),
        other => other.to_owned(),
    }
}

/// `GET /fleet/runtime`: the runtime summary (cycles and the daily trend, two queries) and one
/// page of installations (two more).
pub async fn runtime(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<RuntimeQuery>,
) -> Response {
    let s = match store(&state) {
        Ok(s) => s,
        Err(e) => return failure(&state, &user, "Runtime unavailable", e).await,
    };
    let sort = known_sort(&q.sort, RUNTIME_COLUMNS);
    let page = page_no(&q.page);
    let filter = RuntimeFilter {
        kind: opt(&q.kind),
        version: opt(&q.version),
        eol_status: opt(&q.eol_status),
        device_id: None,
        q: opt(&q.q),
    };
    let since = sentari_core::eol::format_date(
        (OffsetDateTime::now_utc() - Duration::from_secs(TREND_DAYS * 24 * 3600)).date(),
    );
    let loaded = tokio::try_join!(
        s.runtime_summary(&since),
        s.list_runtimes(&filter, Some(&sort), page_req(page)),
    );
    let ((cycles, trend), (rows, total)) = match loaded {
        Ok(r) => r,
        Err(e) => return failure(&state, &user, "Runtime unavailable", e.into()).await,
    };
    let mut kinds: Vec<String> = cycles.iter().map(|c| c.kind.clone()).collect();
    kinds.extend(trend.iter().map(|t| t.kind.clone()));
    kinds.sort();
    kinds.dedup();
    let mut days: Vec<String> = trend.iter().map(|t| t.day.clone()).collect();
    days.sort();
    days.dedup();
    // Trend points by (kind, cycle, day), so filling each line is a lookup per day rather than
    // a scan of the whole trend.
    let points: std::collections::HashMap<(&str, &str, &str), u64> = trend
        .iter()
        .map(|t| {
            (
                (t.kind.as_str(), t.cycle.as_str(), t.day.as_str()),
                t.devices.max(0) as u64,
            )
        })
        .collect();
    let charts = kinds
        .iter()
        .map(|kind| {
            let label = kind_label(kind);
            let dist: Vec<Datum> = cycles
                .iter()
                .filter(|c| &c.kind == kind)
                .map(|c| {
                    Datum::new(
                        c.cycle.clone(),
                        c.devices.max(0) as u64,
                        eol_class(&c.eol_status),
                    )
                })
                .collect();
            // One line per cycle, at most six (the palette), the most widespread first.
            let mut names: Vec<(String, i64)> = Vec::new();
            for t in trend.iter().filter(|t| &t.kind == kind) {
                match names.iter_mut().find(|(n, _)| *n == t.cycle) {
                    Some((_, m)) => *m = (*m).max(t.devices),
                    None => names.push((t.cycle.clone(), t.devices)),
                }
            }
            names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let series: Vec<Series> = names
                .iter()
                .take(6)
                .enumerate()
                .map(|(i, (cycle, _))| Series {
                    label: cycle.clone(),
                    class: format!("s{}", i + 1),
                    values: days
                        .iter()
                        .map(|day| {
                            points
                                .get(&(kind.as_str(), cycle.as_str(), day.as_str()))
                                .copied()
                                .unwrap_or(0)
                        })
                        .collect(),
                })
                .collect();
            KindCharts {
                distribution: chart::bar_chart(&format!("{label} devices per version"), &dist),
                trend: chart::line_chart(
                    &format!("{label} devices per version over time"),
                    &days,
                    &series,
                ),
                label,
            }
        })
        .collect();
    let eol_past = cycles
        .iter()
        .filter(|c| c.eol_status == "eol_past")
        .map(|c| c.installations)
        .sum();
    let eol_soon = cycles
        .iter()
        .filter(|c| c.eol_status == "eol_soon")
        .map(|c| c.installations)
        .sum();
    let params: Vec<(&str, String)> = vec![
        ("kind", filter.kind.clone().unwrap_or_default()),
        ("version", filter.version.clone().unwrap_or_default()),
        ("eol_status", filter.eol_status.clone().unwrap_or_default()),
        ("q", filter.q.clone().unwrap_or_default()),
    ];
    let export = |format: &str| {
        let mut all = params.clone();
        all.insert(0, ("format", format.to_owned()));
        href("/api/v1/runtimes", &all)
    };
    let columns = sort_cols("/fleet/runtime", &params, &sort, RUNTIME_COLUMNS);
    let mut paged = params.clone();
    paged.push(("sort", sort.clone()));
    let page_view = RuntimePage {
        layout: layout(&state, &user, "/fleet/runtime", "Runtime"),
        charts,
        cycles: cycles
            .into_iter()
            .map(|c| CycleView {
                href: href(
                    "/fleet/runtime",
                    &[("kind", c.kind.clone()), ("version", c.cycle.clone())],
                ),
                eol: eol_badge(&c.eol_status),
                eol_date: c.eol_date.unwrap_or_default(),
                kind: c.kind,
                cycle: c.cycle,
                devices: c.devices,
                installations: c.installations,
            })
            .collect(),
        eol_past,
        eol_soon,
        csv_href: export("csv"),
        xlsx_href: export("xlsx"),
        kind: q.kind,
        version: q.version,
        eol_status: q.eol_status,
        q: q.q,
        columns,
        rows: rows.into_iter().map(runtime_view).collect(),
        pager: pager("/fleet/runtime", &paged, "page", page, total),
    };
    view::render(StatusCode::OK, &page_view)
}

// --- Scan history ----------------------------------------------------------------------------

/// The query of `/fleet/scans`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ScansQuery {
    device_id: String,
    status: String,
    sort: String,
    page: String,
}

const SCAN_COLUMNS: &[(&str, &str, bool)] = &[
    ("received_at", "Received", false),
    ("hostname", "Device", false),
    ("scanned_at", "Scanned", false),
    ("status", "Status", false),
    ("packages", "Packages", true),
    ("", "Changes", false),
    ("errors", "Errors", true),
    ("duration_ms", "Duration", true),
];

/// `/fleet/scans`.
#[derive(Template)]
#[template(path = "fleet_scans.html")]
pub struct ScansPage {
    /// The layout.
    pub layout: Layout,
    /// The status filter.
    pub status: String,
    /// The device filter, with the host name when it is known.
    pub device: Option<(Uuid, String)>,
    /// Column headers.
    pub columns: Vec<SortCol>,
    /// This page of scans.
    pub scans: Vec<ScanView>,
    /// Paging.
    pub pager: Pager,
    /// Devices that missed their scan window (the first page).
    pub overdue: Vec<DeviceView>,
    /// How many in all.
    pub overdue_total: i64,
    /// The scan interval, as shown.
    pub interval: String,
}

/// `GET /fleet/scans`: one page of the scan history, and the devices that missed their window.
pub async fn scans(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<ScansQuery>,
) -> Response {
    let s = match store(&state) {
        Ok(s) => s,
        Err(e) => return failure(&state, &user, "Scan history unavailable", e).await,
    };
    let sort = known_sort(&q.sort, SCAN_COLUMNS);
    let page = page_no(&q.page);
    let device_id = Uuid::parse_str(q.device_id.trim()).ok();
    let status = opt(&q.status)
        .filter(|s| ["applied", "pending", "failed", "superseded"].contains(&s.as_str()));
    let filter = ScanFilter {
        device_id,
        status: status.clone(),
        since: None,
        until: None,
    };
    let cut = api::fleet::overdue_before(&state);
    // As on the overview: devices never seen count as having missed their window too.
    let overdue_filter = DeviceFilter {
        seen_before: Some(cut),
        ..DeviceFilter::default()
    };
    let loaded = tokio::try_join!(
        s.list_scan_history(&filter, Some(&sort), page_req(page)),
        s.list_fleet_devices(
            &overdue_filter,
            Some("last_seen"),
            PageRequest {
                page: 1,
                page_size: 10,
            },
            cut,
        ),
        async {
            match device_id {
                Some(id) => s.fleet_device(id, cut).await,
                None => Ok(None),
            }
        },
    );
    let ((rows, total), (overdue, overdue_total), device) = match loaded {
        Ok(r) => r,
        Err(e) => return failure(&state, &user, "Scan history unavailable", e.into()).await,
    };
    let now = OffsetDateTime::now_utc();
    let params: Vec<(&str, String)> = vec![
        (
            "device_id",
            device_id.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("status", status.clone().unwrap_or_default()),
    ];
    let columns = sort_cols("/fleet/scans", &params, &sort, SCAN_COLUMNS);
    let mut paged = params.clone();
    paged.push(("sort", sort.clone()));
    let page_view = ScansPage {
        layout: layout(&state, &user, "/fleet/scans", "Scan history"),
        status: status.unwrap_or_default(),
        device: device_id.map(|id| {
            (
                id,
                device
                    .map(|(d, _)| d.hostname)
                    .unwrap_or_else(|| "a deleted device".into()),
            )
        }),
        columns,
        scans: rows.into_iter().map(|s| scan_view(s, now)).collect(),
        pager: pager("/fleet/scans", &paged, "page", page, total),
        overdue: overdue.into_iter().map(|d| device_view(d, now)).collect(),
        overdue_total,
        interval: view::span(state.config().agent_scan_interval_s.max(60)),
    };
    view::render(StatusCode::OK, &page_view)
}

// --- Diagnostics -----------------------------------------------------------------------------

/// The query of `/fleet/diagnostics`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DiagnosticsQuery {
    /// Show this device's errors.
    device_id: String,
    page: String,
}

/// One error kind across the fleet.
#[derive(Debug, Clone)]
pub struct KindView {
    /// The scanner that reported it.
    pub scanner: String,
    /// The error kind.
    pub kind: String,
    /// Devices reporting it.
    pub devices: i64,
    /// Errors in all.
    pub errors: i64,
}

/// One device with errors.
#[derive(Debug, Clone)]
pub struct ErrorDeviceView {
    /// The device.
    pub id: Uuid,
    /// Host name.
    pub hostname: String,
    /// Its last scan.
    pub last_scan: Option<Stamp>,
    /// Errors in its last scan.
    pub errors: i64,
    /// `scanner:kind` of each.
    pub kinds: String,
}

/// One error of a device's last scan.
#[derive(Debug, Clone)]
pub struct ErrorView {
    /// The scanner.
    pub scanner: String,
    /// The kind.
    pub kind: String,
    /// The path it concerns.
    pub path: String,
    /// The message.
    pub message: String,
    /// When the scan ran.
    pub at: Stamp,
}

/// `/fleet/diagnostics`.
#[derive(Template)]
#[template(path = "fleet_diagnostics.html")]
pub struct DiagnosticsPage {
    /// The layout.
    pub layout: Layout,
    /// Errors per kind.
    pub kinds: Vec<KindView>,
    /// Their chart.
    pub chart: Svg,
    /// Devices with errors (this page).
    pub devices: Vec<ErrorDeviceView>,
    /// Paging of `devices`.
    pub pager: Pager,
    /// The device drilled into, with its errors.
    pub device: Option<(Uuid, String)>,
    /// Its errors (first page).
    pub errors: Vec<ErrorView>,
    /// How many it has.
    pub errors_total: i64,
}

/// `GET /fleet/diagnostics`: scan errors of the devices' latest scans, per kind and per device
/// (three queries), and with `device_id`, that device's errors (two more).
pub async fn diagnostics(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<DiagnosticsQuery>,
) -> Response {
    let s = match store(&state) {
        Ok(s) => s,
        Err(e) => return failure(&state, &user, "Diagnostics unavailable", e).await,
    };
    let page = page_no(&q.page);
    let device_id = Uuid::parse_str(q.device_id.trim()).ok();
    let cut = api::fleet::overdue_before(&state);
    let loaded = tokio::try_join!(s.diagnostics(page_req(page)), async {
        match device_id {
            Some(id) => {
                let d = s.fleet_device(id, cut).await?;
                let errs = s
                    .scan_errors(
                        Some(id),
                        None,
                        PageRequest {
                            page: 1,
                            page_size: 200,
                        },
                    )
                    .await?;
                Ok(Some((d, errs)))
            }
            None => Ok(None),
        }
    });
    let ((by_kind, devices, total), drill) = match loaded {
        Ok(r) => r,
        Err(e) => return failure(&state, &user, "Diagnostics unavailable", e.into()).await,
    };
    let now = OffsetDateTime::now_utc();
    let chart = chart::bar_chart(
        "Scan errors by kind",
        &by_kind
            .iter()
            .take(12)
            .map(|k| {
                Datum::new(
                    format!("{}: {}", k.scanner, k.kind),
                    k.errors.max(0) as u64,
                    "high",
                )
            })
            .collect::<Vec<_>>(),
    );
    let (device, errors, errors_total) = match (device_id, drill) {
        (Some(id), Some((d, (errs, n)))) => (
            Some((
                id,
                d.map(|(d, _)| d.hostname)
                    .unwrap_or_else(|| "a deleted device".into()),
            )),
            errs.into_iter()
                .map(|e| ErrorView {
                    at: view::stamp(e.scanned_at, now),
                    scanner: e.scanner,
                    kind: e.kind,
                    path: e.path,
                    message: e.message,
                })
                .collect(),
            n,
        ),
        _ => (None, Vec::new(), 0),
    };
    let params: Vec<(&str, String)> = vec![(
        "device_id",
        device_id.map(|d| d.to_string()).unwrap_or_default(),
    )];
    let page_view = DiagnosticsPage {
        layout: layout(&state, &user, "/fleet/diagnostics", "Diagnostics"),
        kinds: by_kind
            .into_iter()
            .map(|k| KindView {
                scanner: k.scanner,
                kind: k.kind,
                devices: k.devices,
                errors: k.errors,
            })
            .collect(),
        chart,
        devices: devices
            .into_iter()
            .map(|d| ErrorDeviceView {
                id: d.device_id,
                hostname: d.hostname,
                last_scan: d.last_scan_at.map(|t| view::stamp(t, now)),
                errors: d.errors,
                kinds: d.kinds.join(", "),
            })
            .collect(),
        pager: pager("/fleet/diagnostics", &params, "page", page, total),
        device,
        errors,
        errors_total,
    };
    view::render(StatusCode::OK, &page_view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_filters_and_sorting_toggles() {
        assert_eq!(href("/x", &[("a", String::new())]), "/x");
        assert_eq!(
            href("/x", &[("q", "a b&c".into()), ("e", String::new())]),
            "/x?q=a+b%26c"
        );
        let p = pager("/x", &[("q", "n".into())], "page", 2, 120);
        assert_eq!(p.pages, 3);
        assert_eq!(p.prev.as_deref(), Some("/x?q=n&page=1"));
        assert_eq!(p.next.as_deref(), Some("/x?q=n&page=3"));
        assert_eq!(pager("/x", &[], "page", 1, 0).pages, 1);
        let cols = sort_cols("/d", &[], "-hostname", DEVICE_COLUMNS);
        assert_eq!(cols[0].aria, "descending");
        assert_eq!(cols[0].href, "/d?sort=hostname");
        assert_eq!(cols[1].aria, "none");
        assert_eq!(cols[1].href, "/d?sort=os");
        assert_eq!(cols[4].aria, "");
        assert_eq!(known_sort("-findings", DEVICE_COLUMNS), "-findings");
        assert_eq!(known_sort("id; drop", DEVICE_COLUMNS), "");
        assert_eq!(page_no("0"), 1);
        assert_eq!(page_no("x"), 1);
        assert_eq!(page_no("4"), 4);
    }
}
