//! Admin → Audit log (`/admin/audit`, analyst and up): the hash-chained audit log, filterable by
//! actor, action and time, 50 entries a page, with the chain's verification status.
//!
//! Verifying walks the whole chain, so its cost grows with the log; the page reuses the last
//! result for [`VERIFY_MAX_AGE`] and says when it was computed, and "Verify now" runs it again
//! (`?verify=1`). Listing is one page query and one count, whatever the filters.

use std::sync::Mutex;
use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use sentari_store::AuditFilter;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::session::WebUser;
use super::view::{self, Layout, Stamp};
use crate::state::AppState;

/// Entries per page.
pub const PAGE_SIZE: i64 = 50;
/// How long a verification result is reused.
pub const VERIFY_MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// The outcome of the last verification.
#[derive(Debug, Clone)]
pub struct ChainStatus {
    /// Intact.
    pub ok: bool,
    /// Entries verified.
    pub checked: u64,
    /// Where it breaks: sequence number and reason.
    pub broken_seq: Option<i64>,
    /// Why.
    pub broken_reason: Option<String>,
    /// When it was computed.
    pub at: OffsetDateTime,
}

static LAST_VERIFY: Mutex<Option<ChainStatus>> = Mutex::new(None);

/// One entry as shown.
#[derive(Debug, Clone)]
pub struct EntryView {
    /// Sequence number.
    pub seq: i64,
    /// When.
    pub at: Stamp,
    /// Who.
    pub actor: String,
    /// From where.
    pub actor_ip: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// State before, as compact JSON.
    pub before: Option<String>,
    /// State after, as compact JSON.
    pub after: Option<String>,
}

/// The page.
#[derive(Template)]
#[template(path = "admin_audit.html")]
pub struct AuditPage {
    /// The layout.
    pub layout: Layout,
    /// The filters as typed (to refill the form).
    pub actor: String,
    /// See `actor`.
    pub action: String,
    /// See `actor`.
    pub since: String,
    /// See `actor`.
    pub until: String,
    /// The entries of this page.
    pub entries: Vec<EntryView>,
    /// Matching entries in all.
    pub total: i64,
    /// This page (from 1).
    pub page: i64,
    /// Pages in all.
    pub pages: i64,
    /// Link to the previous page, with the filters.
    pub prev: Option<String>,
    /// Link to the next page, with the filters.
    pub next: Option<String>,
    /// The chain status.
    pub chain: Option<ChainStatus>,
    /// When the status was computed, as shown.
    pub chain_at: Option<Stamp>,
}

/// The query: filters, page, and `verify=1` to verify now.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    verify: Option<String>,
}

/// Parses a time filter: RFC 3339, or what `<input type="datetime-local">` sends
/// (`2026-01-31T12:00`, seconds optional), or a date; the latter two are taken as UTC.
pub fn parse_time(s: &str) -> Result<Option<OffsetDateTime>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(Some(t));
    }
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(t) =
        PrimitiveDateTime::parse(s, &minutes).or_else(|_| PrimitiveDateTime::parse(s, &seconds))
    {
        return Ok(Some(t.assume_utc()));
    }
    if let Ok(d) = time::Date::parse(s, format_description!("[year]-[month]-[day]")) {
        return Ok(Some(d.midnight().assume_utc()));
    }
    Err(format!(
        "{s:?} is not a time; use the date picker or a form such as 2026-01-31T12:00 (UTC)"
    ))
}

fn link(q: &AuditQuery, page: i64) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (k, v) in [
        ("actor", &q.actor),
        ("action", &q.action),
        ("since", &q.since),
        ("until", &q.until),
    ] {
        if !v.trim().is_empty() {
            pairs.push((k, v.trim().to_owned()));
        }
    }
    pairs.push(("page", page.to_string()));
    format!(
        "/admin/audit?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

async fn chain_status(
    store: &sentari_store::Store,
    force: bool,
) -> Result<ChainStatus, sentari_store::StoreError> {
    let now = OffsetDateTime::now_utc();
    if !force
        && let Some(s) = LAST_VERIFY.lock().ok().and_then(|g| g.clone())
        && now - s.at < VERIFY_MAX_AGE
    {
        return Ok(s);
    }
    let report = store.verify_audit_chain().await?;
    let status = ChainStatus {
        ok: report.ok(),
        checked: report.checked,
        broken_seq: report.first_broken.as_ref().map(|b| b.seq),
        broken_reason: report.first_broken.map(|b| b.reason),
        at: now,
    };
    if let Ok(mut g) = LAST_VERIFY.lock() {
        *g = Some(status.clone());
    }
    Ok(status)
}

/// `GET /admin/audit`.
pub async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<AuditQuery>,
) -> Response {
    let mut layout = Layout::new(
        Some(&state),
        &user.principal,
        &user.csrf,
        "/admin/audit",
        "Audit log",
    );
    let mut status = StatusCode::OK;
    let page = match q.page.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => 1,
        Some(p) => match p.parse::<i64>() {
            Ok(n) if n >= 1 => n,
            _ => {
                layout.error = Some("Pages are numbered from 1.".into());
                status = StatusCode::BAD_REQUEST;
                1
            }
        },
    };
    let mut since = None;
    let mut until = None;
    for (name, raw, slot) in [
        ("From", &q.since, &mut since),
        ("Until", &q.until, &mut until),
    ] {
        match parse_time(raw) {
            Ok(t) => *slot = t,
            Err(e) => {
                layout.error = Some(view::sentence(&format!("{name}: {e}")));
                status = StatusCode::BAD_REQUEST;
            }
        }
    }
    let store = match crate::http::api::store(&state) {
        Ok(s) => s,
        Err(e) => {
            let f = view::explain(e).await;
            return view::error_page(
                Some(&state),
                &user.principal,
                &user.csrf,
                f.status,
                "Audit log unavailable",
                &f.message,
            );
        }
    };
    let filter = AuditFilter {
        actor: Some(q.actor.trim().to_lowercase()).filter(|a| !a.is_empty()),
        action: Some(q.action.trim().to_owned()).filter(|a| !a.is_empty()),
        since,
        until,
        page,
        page_size: PAGE_SIZE,
    };
    let force = q.verify.as_deref() == Some("1");
    let (listed, chain) = tokio::join!(store.list_audit(&filter), chain_status(store, force));
    let (rows, total) = match listed {
        Ok(v) => v,
        Err(e) => {
            let f = view::explain(e.into()).await;
            return view::error_page(
                Some(&state),
                &user.principal,
                &user.csrf,
                f.status,
                "Audit log unavailable",
                &f.message,
            );
        }
    };
    let chain = match chain {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(error = %e, "audit chain verification failed");
            None
        }
    };
    let now = OffsetDateTime::now_utc();
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let compact = |v: Option<serde_json::Value>| v.map(|v| v.to_string());
    let entries = rows
        .into_iter()
        .map(|r| EntryView {
            seq: r.seq,
            at: view::stamp(r.at, now),
            actor: r.actor,
            actor_ip: r.actor_ip.unwrap_or_default(),
            action: r.action,
            target: r.target.unwrap_or_default(),
            before: compact(r.before),
            after: compact(r.after),
        })
        .collect();
    let page_view = AuditPage {
        layout,
        entries,
        total,
        page,
        pages,
        prev: (page > 1).then(|| link(&q, page - 1)),
        next: (page < pages).then(|| link(&q, page + 1)),
        chain_at: chain.as_ref().map(|c| view::stamp(c.at, now)),
        chain,
        actor: q.actor.trim().to_owned(),
        action: q.action.trim().to_owned(),
        since: q.since.trim().to_owned(),
        until: q.until.trim().to_owned(),
    };
    view::render(status, &page_view)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn time_filters_accept_the_picker_rfc3339_and_dates() {
        assert_eq!(
            parse_time("2026-01-31T12:05").unwrap(),
            Some(datetime!(2026-01-31 12:05:00 UTC))
        );
        assert_eq!(
            parse_time("2026-01-31T12:05:30").unwrap(),
            Some(datetime!(2026-01-31 12:05:30 UTC))
        );
        assert_eq!(
            parse_time("2026-01-31T12:05:00+02:00").unwrap(),
            Some(datetime!(2026-01-31 10:05:00 UTC))
        );
        assert_eq!(
            parse_time("2026-01-31").unwrap(),
            Some(datetime!(2026-01-31 00:00:00 UTC))
        );
        assert_eq!(parse_time(" ").unwrap(), None);
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn page_links_keep_the_filters() {
        let q = AuditQuery {
            actor: "a@x.org".into(),
            action: "user.create".into(),
            ..AuditQuery::default()
        };
        assert_eq!(
            link(&q, 3),
            "/admin/audit?actor=a%40x.org&action=user.create&page=3"
        );
    }
}
