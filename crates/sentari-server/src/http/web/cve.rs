//! Security → CVE (`/security/cve`, viewer and up): the fleet's open findings grouped by
//! advisory or listed per device, one page per advisory (`/security/cve/{advisory_id}`), and
//! suppressing and unsuppressing findings (analyst and up).
//!
//! The page lives here rather than in `security.rs`, which holds the dashboard's security
//! headers: a CVE page there would be hard to find and the headers easy to break.
//!
//! Reading goes through the same store calls as `GET /api/v1/findings` (`group=advisory` and the
//! flat list) and `GET /api/v1/advisories/{id}`, with the same filter type, so the numbers on the
//! page and in the API are always the same. A page costs a fixed number of queries whatever the
//! fleet size: the grouped list is four indexed queries for one page of advisories, the flat list
//! two, the suppression rules one. Suppressing and unsuppressing call the API's handlers
//! (`http::api::fleet::create_suppression` / `delete_suppression`), so validation, the
//! re-evaluation of affected findings and the audit entries are the API's.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sentari_core::auth::Role;
use sentari_proto::fleet::{AdvisoryGroup, CreateSuppression, FindingRow, SeverityBody};
use sentari_store::{FindingFilter, PageRequest, Suppression};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::login::safe_next;
use super::session::WebUser;
use super::view::{self, Layout, Stamp};
use crate::http::api::{self, JsonBody};
use crate::state::AppState;

/// Rows per page of either list.
pub const PAGE_SIZE: u32 = 50;

/// The most suppression rules the page lists; the API pages through all of them.
pub const MAX_RULES: usize = 200;

/// The severities the filter offers, highest first.
pub const SEVERITIES: &[&str] = &["critical", "high", "medium", "low", "unknown"];

/// The query of `/security/cve` and of an advisory's page.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CveQuery {
    /// `advisory` (default) or `device`.
    #[serde(default)]
    pub view: Option<String>,
    /// Exactly this severity.
    #[serde(default)]
    pub severity: Option<String>,
    /// Package ecosystem (`PyPI`, `Debian:12`).
    #[serde(default)]
    pub ecosystem: Option<String>,
    /// Package name.
    #[serde(default)]
    pub package: Option<String>,
    /// One device.
    #[serde(default)]
    pub device: Option<String>,
    /// `hidden` (default), `shown` (both) or `only`.
    #[serde(default)]
    pub suppressed: Option<String>,
    /// The page, from 1.
    #[serde(default)]
    pub page: Option<String>,
    /// A fixed confirmation code.
    #[serde(default)]
    pub notice: Option<String>,
}

fn clean(v: &Option<String>) -> String {
    v.as_deref().map(str::trim).unwrap_or("").to_owned()
}

impl CveQuery {
    fn view(&self) -> &'static str {
        match self.view.as_deref() {
            Some("device") => "device",
            _ => "advisory",
        }
    }

    fn suppressed(&self) -> &'static str {
        match self.suppressed.as_deref() {
            Some("shown") => "shown",
            Some("only") => "only",
            _ => "hidden",
        }
    }

    fn page(&self) -> u32 {
        self.page
            .as_deref()
            .and_then(|p| p.parse::<u32>().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1)
    }

    /// The filter of `GET /api/v1/findings` with the same fields: open findings only, and
    /// suppressed ones hidden unless asked for.
    fn filter(&self, advisory: Option<&str>) -> Result<FindingFilter, view::Failure> {
        let opt = |v: &Option<String>| Some(clean(v)).filter(|s| !s.is_empty());
        let device_id = match opt(&self.device) {
            None => None,
            Some(d) => Some(Uuid::parse_str(&d).map_err(|_| {
                view::Failure::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the device filter is not a device id",
                )
            })?),
        };
        Ok(FindingFilter {
            min_severity: None,
            severity: opt(&self.severity),
            ecosystem: opt(&self.ecosystem),
            device_id,
            advisory: advisory.map(str::to_owned),
            package: opt(&self.package),
            suppressed: match self.suppressed() {
                "shown" => None,
                "only" => Some(true),
                _ => Some(false),
            },
            resolved: Some(false),
            tag: None,
        })
    }

    /// This query as a URL query string, on another page number.
    fn link(&self, base: &str, page: u32) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if self.view() != "advisory" {
            pairs.push(("view", self.view().to_owned()));
        }
        for (k, v) in [
            ("severity", &self.severity),
            ("ecosystem", &self.ecosystem),
            ("package", &self.package),
            ("device", &self.device),
        ] {
            let v = clean(v);
            if !v.is_empty() {
                pairs.push((k, v));
            }
        }
        if self.suppressed() != "hidden" {
            pairs.push(("suppressed", self.suppressed().to_owned()));
        }
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        let q = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if q.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{q}")
        }
    }
}

/// A severity as shown: the rating (a CSS class too) and the CVSS score when known.
#[derive(Debug, Clone)]
pub struct Sev {
    /// `critical` … `unknown`.
    pub rating: String,
    /// `9.8`, or empty.
    pub score: String,
    /// `CVSS_V3`, or empty.
    pub kind: String,
    /// The vector, or empty.
    pub vector: String,
}

fn sev(s: &SeverityBody) -> Sev {
    Sev {
        rating: if s.rating.is_empty() || s.rating == "none" {
            "unknown".into()
        } else {
            s.rating.clone()
        },
        score: s.score.map(|v| format!("{v:.1}")).unwrap_or_default(),
        kind: s.kind.clone().unwrap_or_default(),
        vector: s.vector.clone().unwrap_or_default(),
    }
}

/// One advisory row of the grouped view.
#[derive(Debug, Clone)]
pub struct GroupRow {
    /// The advisory id (a link to its page).
    pub id: String,
    /// The link to its page.
    pub href: String,
    /// CVE ids and other aliases.
    pub aliases: String,
    /// The summary.
    pub summary: String,
    /// Severity.
    pub sev: Sev,
    /// Devices affected.
    pub devices: i64,
    /// Package versions affected.
    pub packages: i64,
    /// Affected package names.
    pub package_names: String,
    /// Versions that fix it.
    pub fixed: String,
    /// First detection.
    pub first: Stamp,
}

/// One finding on one device.
#[derive(Debug, Clone)]
pub struct FindingView {
    /// The device id.
    pub device_id: Uuid,
    /// Its host name.
    pub hostname: String,
    /// The package's ecosystem.
    pub ecosystem: String,
    /// The package name.
    pub name: String,
    /// The installed version.
    pub version: String,
    /// The advisory id.
    pub advisory_id: String,
    /// The link to the advisory's page.
    pub advisory_href: String,
    /// Aliases.
    pub aliases: String,
    /// Severity.
    pub sev: Sev,
    /// The version that fixes it, or empty.
    pub fixed: String,
    /// Why it matched, as a sentence.
    pub why: String,
    /// Why it matched, as stored.
    pub why_json: String,
    /// Detected.
    pub detected: Stamp,
    /// Whether a suppression hides it.
    pub suppressed: bool,
    /// A short key unique on the page, for form element ids.
    pub key: String,
}

/// One suppression rule.
#[derive(Debug, Clone)]
pub struct RuleRow {
    /// The id, for removing it.
    pub id: Uuid,
    /// What it covers, in words.
    pub scope: String,
    /// The reason.
    pub reason: String,
    /// Who made it.
    pub by: String,
    /// When.
    pub created: Stamp,
    /// Until, or `until removed`.
    pub expires: String,
}

/// A page link of the pager.
#[derive(Debug, Clone)]
pub struct Pager {
    /// The page shown.
    pub page: u32,
    /// How many there are.
    pub pages: u32,
    /// The previous page's link.
    pub prev: Option<String>,
    /// The next page's link.
    pub next: Option<String>,
}

fn pager(q: &CveQuery, base: &str, page: u32, total: i64) -> Pager {
    let pages = (total.max(0) as u64).div_ceil(u64::from(PAGE_SIZE)).max(1) as u32;
    Pager {
        page,
        pages,
        prev: (page > 1).then(|| q.link(base, page - 1)),
        next: (page < pages).then(|| q.link(base, page + 1)),
    }
}

/// The CVE page.
#[derive(Template)]
#[template(path = "security_cve.html")]
pub struct CvePage {
    /// The layout.
    pub layout: Layout,
    /// `advisory` or `device`.
    pub view: &'static str,
    /// The filter as typed.
    pub severity: String,
    /// The filter as typed.
    pub ecosystem: String,
    /// The filter as typed.
    pub package: String,
    /// The filter as typed.
    pub device: String,
    /// `hidden`, `shown`, `only`.
    pub suppressed: &'static str,
    /// The severities offered.
    pub severities: &'static [&'static str],
    /// The grouped rows (advisory view).
    pub groups: Vec<GroupRow>,
    /// The finding rows (device view).
    pub findings: Vec<FindingView>,
    /// Matching rows in all pages.
    pub total: i64,
    /// The pager.
    pub pager: Pager,
    /// The suppression rules in force.
    pub rules: Vec<RuleRow>,
    /// Rules not listed.
    pub rules_hidden: usize,
    /// Whether the user may suppress (analyst and up).
    pub can_suppress: bool,
    /// This page's URL, to come back to after a form.
    pub here: String,
}

/// An advisory's page.
#[derive(Template)]
#[template(path = "security_advisory.html")]
pub struct AdvisoryPage {
    /// The layout.
    pub layout: Layout,
    /// The advisory id.
    pub id: String,
    /// Aliases.
    pub aliases: Vec<String>,
    /// Summary.
    pub summary: String,
    /// Details from the record, when it has some.
    pub details: String,
    /// Severity.
    pub sev: Sev,
    /// `osv:PyPI`, ….
    pub source: String,
    /// Published, as written in the record.
    pub published: String,
    /// Modified.
    pub modified: String,
    /// Withdrawn, when it was.
    pub withdrawn: String,
    /// References from the record (http(s) only).
    pub references: Vec<String>,
    /// Devices with an open, unsuppressed finding.
    pub affected_devices: i64,
    /// Affected package versions: `(ecosystem, name, version, devices)`.
    pub packages: Vec<(String, String, String, i64)>,
    /// Distinct `(ecosystem, name)` for the suppress form.
    pub package_choices: Vec<(String, String)>,
    /// Findings per device, one page.
    pub findings: Vec<FindingView>,
    /// All findings matching.
    pub total: i64,
    /// The pager.
    pub pager: Pager,
    /// `hidden`, `shown`, `only`.
    pub suppressed: &'static str,
    /// Rules naming this advisory.
    pub rules: Vec<RuleRow>,
    /// Whether the user may suppress.
    pub can_suppress: bool,
    /// This page's URL.
    pub here: String,
}

/// "Why it matched" as a sentence, from the explanation stored with the finding
/// (`correlate::finding_of`: the installed package, the record's ecosystem and package, the
/// comparator, and the range events or the listed version).
pub fn why_matched(v: &Value) -> String {
    let s = |path: &[&str]| -> Option<String> {
        let mut cur = v;
        for p in path {
            cur = cur.get(p)?;
        }
        cur.as_str().map(str::to_owned).filter(|s| !s.is_empty())
    };
    let Some(version) = s(&["installed", "version"]) else {
        return String::new();
    };
    let mut out = format!(
        "Installed {} {} {} ",
        s(&["installed", "ecosystem"]).unwrap_or_default(),
        s(&["installed", "name"]).unwrap_or_default(),
        version
    );
    let record = format!(
        "{} {}",
        s(&["ecosystem"]).unwrap_or_default(),
        s(&["package"]).unwrap_or_default()
    );
    let comparator = s(&["comparator"]).unwrap_or_else(|| "its ecosystem's".into());
    if s(&["via"]).as_deref() == Some("versions") {
        out.push_str(&format!(
            "is listed as affected for {record} (compared with the {comparator} comparator)."
        ));
        return out;
    }
    let mut bounds = Vec::new();
    if let Some(i) = s(&["introduced"]) {
        bounds.push(format!("introduced in {i}"));
    }
    if let Some(f) = s(&["fixed"]) {
        bounds.push(format!("fixed in {f}"));
    }
    if let Some(l) = s(&["last_affected"]) {
        bounds.push(format!("last affected {l}"));
    }
    let range = s(&["range_type"]).unwrap_or_else(|| "ECOSYSTEM".into());
    out.push_str(&format!(
        "falls in the {range} range of {record} ({}), compared with the {comparator} comparator.",
        if bounds.is_empty() {
            "no bounds".to_owned()
        } else {
            bounds.join(", ")
        }
    ));
    out
}

fn finding_views(rows: Vec<FindingRow>, now: OffsetDateTime) -> Vec<FindingView> {
    rows.into_iter()
        .enumerate()
        .map(|(i, f)| FindingView {
            why: why_matched(&f.matched),
            why_json: serde_json::to_string_pretty(&f.matched).unwrap_or_default(),
            advisory_href: advisory_href(&f.advisory_id),
            aliases: f.aliases.join(", "),
            sev: sev(&f.severity),
            fixed: f.fixed_version.unwrap_or_default(),
            detected: view::stamp(f.detected_at, now),
            suppressed: f.suppressed,
            key: format!("f{i}"),
            device_id: f.device_id,
            hostname: f.hostname,
            ecosystem: f.ecosystem,
            name: f.name,
            version: f.version,
            advisory_id: f.advisory_id,
        })
        .collect()
}

fn group_rows(groups: Vec<AdvisoryGroup>, now: OffsetDateTime) -> Vec<GroupRow> {
    groups
        .into_iter()
        .map(|g| GroupRow {
            href: advisory_href(&g.advisory_id),
            aliases: g.aliases.join(", "),
            summary: g.summary.unwrap_or_default(),
            sev: sev(&g.severity),
            devices: g.devices,
            packages: g.packages,
            package_names: g.package_names.join(", "),
            fixed: g.fixed_versions.join(", "),
            first: view::stamp(g.first_detected, now),
            id: g.advisory_id,
        })
        .collect()
}

fn advisory_href(id: &str) -> String {
    let enc: String = url_path_segment(id);
    format!("/security/cve/{enc}")
}

/// Percent-encodes one path segment (advisory ids are plain, but nothing is assumed).
fn url_path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn rule_rows(rules: Vec<Suppression>, now: OffsetDateTime) -> Vec<RuleRow> {
    rules
        .into_iter()
        .map(|r| {
            let adv = r.advisory_id.clone().unwrap_or_default();
            let scope = match r.scope.as_str() {
                "advisory" => format!("{adv} on every device"),
                "advisory_package" => format!(
                    "{adv} in {} {}",
                    r.ecosystem.as_deref().unwrap_or(""),
                    r.package_name.as_deref().unwrap_or("")
                ),
                "device" => format!(
                    "{} on device {}",
                    if adv.is_empty() {
                        "every advisory".to_owned()
                    } else {
                        adv.clone()
                    },
                    r.device_id.map(|d| d.to_string()).unwrap_or_default()
                ),
                "tag" => format!(
                    "{} on devices tagged {}",
                    if adv.is_empty() {
                        "every advisory".to_owned()
                    } else {
                        adv.clone()
                    },
                    r.tag.as_deref().unwrap_or("")
                ),
                other => other.to_owned(),
            };
            RuleRow {
                id: r.id,
                scope,
                reason: r.reason,
                by: r.created_by,
                created: view::stamp(r.created_at, now),
                expires: r
                    .expires_at
                    .map(|t| view::stamp(t, now).text)
                    .unwrap_or_else(|| "until removed".into()),
            }
        })
        .collect()
}

fn notice_text(code: Option<&str>) -> Option<String> {
    let t = match code? {
        "suppressed" => "Suppression added: the matching findings are hidden and no longer alert.",
        "unsuppressed" => "Suppression removed: its findings are open again.",
        _ => return None,
    };
    Some(t.to_owned())
}

async fn failed(state: &AppState, user: &WebUser, title: &str, f: view::Failure) -> Response {
    view::error_page(
        Some(state),
        &user.principal,
        &user.csrf,
        f.status,
        title,
        &f.message,
    )
}

/// `GET /security/cve`.
pub async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<CveQuery>,
) -> Response {
    let title = "CVE findings";
    let filter = match q.filter(None) {
        Ok(f) => f,
        Err(f) => return failed(&state, &user, title, f).await,
    };
    let store = match api::store(&state) {
        Ok(s) => s,
        Err(e) => return failed(&state, &user, title, view::explain(e).await).await,
    };
    let page_no = q.page();
    let page = PageRequest {
        page: page_no,
        page_size: PAGE_SIZE,
    };
    let now = OffsetDateTime::now_utc();
    let (mut groups, mut findings) = (Vec::new(), Vec::new());
    let listed = if q.view() == "device" {
        store
            .list_findings(&filter, Some("hostname"), page)
            .await
            .map(|(rows, total)| {
                findings = finding_views(rows, now);
                total
            })
    } else {
        store
            .list_findings_by_advisory(&filter, None, page)
            .await
            .map(|(rows, total)| {
                groups = group_rows(rows, now);
                total
            })
    };
    let total = match listed {
        Ok(t) => t,
        Err(e) => return failed(&state, &user, title, view::explain(e.into()).await).await,
    };
    let rules = match store.list_suppressions(false, None).await {
        Ok(r) => r,
        Err(e) => return failed(&state, &user, title, view::explain(e.into()).await).await,
    };
    let rules_hidden = rules.len().saturating_sub(MAX_RULES);
    let rules = rule_rows(rules.into_iter().take(MAX_RULES).collect(), now);
    let layout = Layout::new(
        Some(&state),
        &user.principal,
        &user.csrf,
        "/security/cve",
        title,
    )
    .notice(notice_text(q.notice.as_deref()));
    let page = CvePage {
        layout,
        view: q.view(),
        severity: clean(&q.severity),
        ecosystem: clean(&q.ecosystem),
        package: clean(&q.package),
        device: clean(&q.device),
        suppressed: q.suppressed(),
        severities: SEVERITIES,
        groups,
        findings,
        total,
        pager: pager(&q, "/security/cve", page_no, total),
        rules,
        rules_hidden,
        can_suppress: view::can_manage(&state, &user.principal, Role::Analyst),
        here: q.link("/security/cve", page_no),
    };
    view::render(StatusCode::OK, &page)
}

fn record_text(record: &Value, key: &str) -> String {
    record
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// `GET /security/cve/{advisory_id}` (an OSV id or an alias such as a CVE id).
pub async fn advisory(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Query(q): Query<CveQuery>,
) -> Response {
    let title = "Advisory";
    let a = match api::fleet::advisory(State(state.clone()), Path(id)).await {
        Ok(axum::Json(a)) => a,
        Err(e) => return failed(&state, &user, title, view::explain(e).await).await,
    };
    let store = match api::store(&state) {
        Ok(s) => s,
        Err(e) => return failed(&state, &user, title, view::explain(e).await).await,
    };
    let filter = match q.filter(Some(&a.id)) {
        Ok(f) => f,
        Err(f) => return failed(&state, &user, title, f).await,
    };
    let page_no = q.page();
    let page = PageRequest {
        page: page_no,
        page_size: PAGE_SIZE,
    };
    let now = OffsetDateTime::now_utc();
    let (rows, total) = match store.list_findings(&filter, Some("hostname"), page).await {
        Ok(v) => v,
        Err(e) => return failed(&state, &user, title, view::explain(e.into()).await).await,
    };
    let rules = match store.list_suppressions(false, None).await {
        Ok(r) => r,
        Err(e) => return failed(&state, &user, title, view::explain(e.into()).await).await,
    };
    let rules: Vec<Suppression> = rules
        .into_iter()
        .filter(|r| r.advisory_id.as_deref() == Some(a.id.as_str()))
        .take(MAX_RULES)
        .collect();
    let mut package_choices: Vec<(String, String)> = Vec::new();
    for p in &a.affected_packages {
        let k = (p.ecosystem.clone(), p.name.clone());
        if !package_choices.contains(&k) {
            package_choices.push(k);
        }
    }
    let references = a
        .record
        .get("references")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("url").and_then(Value::as_str))
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                .take(30)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let base = advisory_href(&a.id);
    let layout = Layout::new(
        Some(&state),
        &user.principal,
        &user.csrf,
        "/security/cve",
        &a.id,
    )
    .notice(notice_text(q.notice.as_deref()));
    let page = AdvisoryPage {
        layout,
        details: record_text(&a.record, "details"),
        summary: a.summary.clone().unwrap_or_default(),
        sev: sev(&a.severity),
        source: a.source.clone(),
        published: a.published.clone().unwrap_or_default(),
        modified: a.modified.clone(),
        withdrawn: a.withdrawn.clone().unwrap_or_default(),
        references,
        affected_devices: a.affected_devices,
        packages: a
            .affected_packages
            .iter()
            .take(500)
            .map(|p| {
                (
                    p.ecosystem.clone(),
                    p.name.clone(),
                    p.version.clone(),
                    p.devices,
                )
            })
            .collect(),
        package_choices,
        findings: finding_views(rows, now),
        total,
        pager: pager(&q, &base, page_no, total),
        suppressed: q.suppressed(),
        rules: rule_rows(rules, now),
        can_suppress: view::can_manage(&state, &user.principal, Role::Analyst),
        here: q.link(&base, page_no),
        aliases: a.aliases,
        id: a.id,
    };
    view::render(StatusCode::OK, &page)
}

/// The suppress form.
#[derive(Debug, Deserialize)]
pub struct SuppressForm {
    #[serde(default)]
    scope: String,
    #[serde(default)]
    advisory_id: String,
    /// `ecosystem/name` from the package choice, or the two fields below.
    #[serde(default)]
    package_key: String,
    #[serde(default)]
    ecosystem: String,
    #[serde(default)]
    package: String,
    #[serde(default)]
    device_id: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    reason: String,
    /// `YYYY-MM-DD` (UTC): the last day the suppression applies; empty for no expiry.
    #[serde(default)]
    expires: String,
    /// The page to return to.
    #[serde(default)]
    back: String,
}

/// The end of a `YYYY-MM-DD` day (UTC), the instant a suppression "until that day" expires.
pub fn end_of_day(date: &str) -> Option<OffsetDateTime> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(date.trim(), &fmt).ok()?;
    Some(d.next_day()?.midnight().assume_utc())
}

fn with_notice(back: &str, notice: &str) -> String {
    let back = safe_next(Some(back));
    let (path, frag) = match back.split_once('#') {
        Some((p, f)) => (p.to_owned(), format!("#{f}")),
        None => (back.clone(), String::new()),
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}notice={notice}{frag}")
}

/// `POST /security/cve/suppressions` (analyst and up).
pub async fn suppress(
    State(state): State<AppState>,
    user: WebUser,
    Form(f): Form<SuppressForm>,
) -> Response {
    let title = "Suppression not added";
    let bad = |m: &str| view::Failure::new(StatusCode::BAD_REQUEST, "invalid_request", m);
    let expires_at = if f.expires.trim().is_empty() {
        None
    } else {
        match end_of_day(&f.expires) {
            Some(t) => Some(t),
            None => {
                return failed(
                    &state,
                    &user,
                    title,
                    bad("the expiry is a date such as 2026-12-31, or empty for none"),
                )
                .await;
            }
        }
    };
    let (mut ecosystem, mut package) = (f.ecosystem.trim(), f.package.trim());
    if let Some((e, n)) = f.package_key.split_once('/') {
        ecosystem = e;
        package = n;
    }
    let device_id = match f.device_id.trim() {
        "" => None,
        d => match Uuid::parse_str(d) {
            Ok(d) => Some(d),
            Err(_) => return failed(&state, &user, title, bad("no such device")).await,
        },
    };
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let body = CreateSuppression {
        scope: f.scope.trim().to_owned(),
        advisory_id: some(&f.advisory_id),
        ecosystem: some(ecosystem),
        package: some(package),
        device_id,
        tag: some(&f.tag),
        reason: f.reason.clone(),
        expires_at,
    };
    match api::fleet::create_suppression(
        State(state.clone()),
        user.principal.clone(),
        JsonBody(body),
    )
    .await
    {
        Ok(_) => Redirect::to(&with_notice(&f.back, "suppressed")).into_response(),
        Err(e) => failed(&state, &user, title, view::explain(e).await).await,
    }
}

/// The unsuppress form.
#[derive(Debug, Deserialize)]
pub struct BackForm {
    #[serde(default)]
    back: String,
}

/// `POST /security/cve/suppressions/{id}/delete` (analyst and up).
pub async fn unsuppress(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<BackForm>,
) -> Response {
    match api::fleet::delete_suppression(State(state.clone()), user.principal.clone(), Path(id))
        .await
    {
        Ok(_) => Redirect::to(&with_notice(&f.back, "unsuppressed")).into_response(),
        Err(e) => {
            failed(
                &state,
                &user,
                "Suppression not removed",
                view::explain(e).await,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn why_it_matched_reads_as_a_sentence() {
        let v = json!({
            "advisory_id": "PYSEC-1", "installed": {"ecosystem": "PyPI", "name": "django", "version": "3.1.5"},
            "ecosystem": "PyPI", "package": "django", "comparator": "pep440", "via": "range",
            "range_type": "ECOSYSTEM", "introduced": "3.0", "fixed": "3.1.6"
        });
        assert_eq!(
            why_matched(&v),
            "Installed PyPI django 3.1.5 falls in the ECOSYSTEM range of PyPI django (introduced in 3.0, fixed in 3.1.6), compared with the pep440 comparator."
        );
        let v = json!({"installed": {"ecosystem": "npm", "name": "x", "version": "1"},
            "ecosystem": "npm", "package": "x", "comparator": "semver", "via": "versions"});
        assert!(why_matched(&v).contains("is listed as affected"));
        assert_eq!(why_matched(&json!({})), "");
    }

    #[test]
    fn links_keep_the_filters_and_only_local_returns_are_followed() {
        let q = CveQuery {
            view: Some("device".into()),
            severity: Some("high".into()),
            package: Some("a b".into()),
            suppressed: Some("shown".into()),
            ..Default::default()
        };
        assert_eq!(
            q.link("/security/cve", 2),
            "/security/cve?view=device&severity=high&package=a+b&suppressed=shown&page=2"
        );
        assert_eq!(
            with_notice("/security/cve?view=device", "suppressed"),
            "/security/cve?view=device&notice=suppressed"
        );
        assert_eq!(with_notice("https://evil.example/", "x"), "/?notice=x");
        assert_eq!(
            end_of_day("2026-12-31"),
            Some(time::macros::datetime!(2027-01-01 0:00 UTC))
        );
        assert_eq!(end_of_day("31.12.2026"), None);
        assert_eq!(advisory_href("GHSA-a b"), "/security/cve/GHSA-a%20b");
    }
}
