//! What every page shares: the layout (navigation filtered by role, banners, the signed-in
//! user, the CSRF token), rendering with the right status, refusal and error pages, how an API
//! failure becomes a message for people, and the formatting of times and durations.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use sentari_core::auth::Role;
use time::OffsetDateTime;

use super::assets;
use crate::auth::Principal;
use crate::auth::rbac::Access;
use crate::http::api::ApiFailure;
use crate::state::AppState;

/// One entry of the sidebar.
#[derive(Debug, Clone, Copy)]
pub struct NavEntry {
    /// The section heading it sits under.
    pub section: &'static str,
    /// The link text.
    pub label: &'static str,
    /// The page path; must be a `GET` route of `web::routes()` with the same access (a unit
    /// test checks it).
    pub path: &'static str,
    /// Who may open it.
    pub access: Access,
}

const fn nav(
    section: &'static str,
    label: &'static str,
    path: &'static str,
    min: Role,
) -> NavEntry {
    NavEntry {
        section,
        label,
        path,
        access: Access::Role(min),
    }
}

/// The sidebar, in order (seed `000_…` §8 and the page list).
pub const NAV: &[NavEntry] = &[
    nav("Fleet", "Overview", "/fleet/overview", Role::Viewer),
    nav("Fleet", "Devices", "/fleet/devices", Role::Viewer),
    nav("Fleet", "Packages", "/fleet/packages", Role::Viewer),
    nav("Fleet", "Runtime", "/fleet/runtime", Role::Viewer),
    nav("Fleet", "Scan History", "/fleet/scans", Role::Viewer),
    nav("Fleet", "Diagnostics", "/fleet/diagnostics", Role::Analyst),
    nav("Security", "CVE", "/security/cve", Role::Viewer),
    nav("Admin", "Settings", "/admin/settings", Role::Admin),
    nav("Admin", "Tasks", "/admin/tasks", Role::Admin),
    nav("Admin", "Audit log", "/admin/audit", Role::Analyst),
    nav("Profile", "Profile", "/profile", Role::Viewer),
];

/// A sidebar section as rendered.
#[derive(Debug, Clone)]
pub struct NavSection {
    /// The heading.
    pub label: &'static str,
    /// Its links the user may open.
    pub items: Vec<NavLink>,
}

/// A sidebar link as rendered.
#[derive(Debug, Clone)]
pub struct NavLink {
    /// The text.
    pub label: &'static str,
    /// The target.
    pub href: &'static str,
    /// Whether it is the page shown.
    pub current: bool,
}

/// The navigation a user with `role` sees, with `current` marked.
pub fn navigation(role: Role, current: &str) -> Vec<NavSection> {
    let mut sections: Vec<NavSection> = Vec::new();
    for e in NAV.iter().filter(|e| e.access.allows(Some(role))) {
        let link = NavLink {
            label: e.label,
            href: e.path,
            current: e.path == current,
        };
        match sections.last_mut() {
            Some(s) if s.label == e.section => s.items.push(link),
            _ => sections.push(NavSection {
                label: e.section,
                items: vec![link],
            }),
        }
    }
    sections
}

/// A banner across the top of every page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    /// `danger` or `warning` (a CSS class).
    pub level: &'static str,
    /// A short title.
    pub title: String,
    /// The details.
    pub text: String,
}

/// Banners from the server's warnings (`/api/health` lists the same): the CA degraded, a stale
/// vulnerability feed, the license in read-only mode. Warnings are `code: text`; a code this
/// function does not know is still shown, under a generic title, so no warning is ever hidden.
pub fn banners(warnings: &[String]) -> Vec<Banner> {
    warnings
        .iter()
        .map(|w| {
            let (code, text) = match w.split_once(':') {
                Some((c, t)) if !c.contains(' ') => (c.trim(), t.trim()),
                _ => ("", w.trim()),
            };
            let (level, title) = match code {
                "ca_degraded" => ("danger", "Certificate authority degraded"),
                c if c.starts_with("feed") => ("warning", "Vulnerability feed out of date"),
                "license_expiring" => ("warning", "License expires soon"),
                c if c.starts_with("license") => {
                    ("danger", "License invalid or expired: read-only mode")
                }
                _ => ("warning", "Warning"),
            };
            Banner {
                level,
                title: title.to_owned(),
                text: text.to_owned(),
            }
        })
        .collect()
}

/// Whether `p` gets the buttons of a management action needing `min`: their role allows it and
/// the license is not in read-only mode, where the server would refuse it anyway (402).
pub fn can_manage(state: &AppState, p: &Principal, min: Role) -> bool {
    p.role >= min && !read_only(Some(state))
}

/// Whether the license is in read-only mode now.
pub fn read_only(state: Option<&AppState>) -> bool {
    state.is_some_and(|s| s.license().read_only(OffsetDateTime::now_utc()).is_some())
}

/// How long the dashboard reuses the stale-feed check before reading the feed status again.
pub const FEED_BANNER_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// Refreshes the cached stale-feed warnings when they are older than [`FEED_BANNER_TTL`]: one
/// query (the feed status, the same check and three-day rule as `/api/health`) per interval and
/// process, however many pages are served. Called by the session middleware before a signed-in
/// page renders, so [`Layout::new`] can stay synchronous.
pub async fn refresh_feed_banner(state: &AppState) {
    if state.feed_warnings(FEED_BANNER_TTL).is_some() {
        return;
    }
    if let Some(store) = state.store() {
        let w = crate::http::health::feed_warnings(store).await;
        state.set_feed_warnings(w);
    }
}

/// Every banner of a page: the server's warnings (CA degraded, license) and the stale feeds.
pub fn page_banners(state: &AppState) -> Vec<Banner> {
    let mut warnings = state.warnings();
    warnings.extend(
        state
            .feed_warnings_any()
            .into_iter()
            .map(|w| format!("feed_stale: {w}")),
    );
    banners(&warnings)
}

/// The part of every signed-in page outside its content.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The page title (also the `<h1>`).
    pub title: String,
    /// The stylesheet URL.
    pub css: String,
    /// The script URL.
    pub js: String,
    /// The icon URL.
    pub icon: String,
    /// The signed-in user's e-mail.
    pub user_email: String,
    /// Their display name, or the e-mail when they have none.
    pub user_name: String,
    /// Their role, as shown.
    pub role: &'static str,
    /// The session's CSRF token, for every form.
    pub csrf: String,
    /// The sidebar.
    pub nav: Vec<NavSection>,
    /// Banners.
    pub banners: Vec<Banner>,
    /// A confirmation after a successful action.
    pub notice: Option<String>,
    /// Why the last action failed.
    pub error: Option<String>,
    /// The server version, in the footer.
    pub version: &'static str,
    /// The license is in read-only mode: pages leave out their management forms (the banner
    /// says why, and the server would refuse them with a 402).
    pub read_only: bool,
}

impl Layout {
    /// The layout of a page at `current` (a navigation path) for `p`.
    pub fn new(
        state: Option<&AppState>,
        p: &Principal,
        csrf: &str,
        current: &str,
        title: &str,
    ) -> Layout {
        let user_name = if p.user.display_name.trim().is_empty() {
            p.user.email.clone()
        } else {
            p.user.display_name.clone()
        };
        Layout {
            title: title.to_owned(),
            css: assets::href("app.css"),
            js: assets::href("app.js"),
            icon: assets::href("favicon.svg"),
            user_email: p.user.email.clone(),
            user_name,
            role: p.role.as_str(),
            csrf: csrf.to_owned(),
            nav: navigation(p.role, current),
            banners: state.map(page_banners).unwrap_or_default(),
            notice: None,
            error: None,
            version: crate::VERSION,
            read_only: read_only(state),
        }
    }

    /// With a confirmation message.
    pub fn notice(mut self, notice: Option<String>) -> Layout {
        self.notice = notice;
        self
    }

    /// With an error message.
    pub fn error(mut self, error: Option<String>) -> Layout {
        self.error = error;
        self
    }
}

/// The layout of pages shown before sign-in (login, refusals of anonymous requests).
#[derive(Debug, Clone)]
pub struct BareLayout {
    /// The page title.
    pub title: String,
    /// The stylesheet URL.
    pub css: String,
    /// The script URL.
    pub js: String,
    /// The icon URL.
    pub icon: String,
    /// The server version.
    pub version: &'static str,
}

impl BareLayout {
    /// A bare page titled `title`.
    pub fn new(title: &str) -> BareLayout {
        BareLayout {
            title: title.to_owned(),
            css: assets::href("app.css"),
            js: assets::href("app.js"),
            icon: assets::href("favicon.svg"),
            version: crate::VERSION,
        }
    }
}

/// Renders a template with a status. A template that fails to render (which askama's compile
/// time checks make unlikely) is logged and answered with a plain 500 page.
pub fn render<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "internal error: the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// An error page inside the layout.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// The layout.
    pub layout: Layout,
    /// The explanation.
    pub message: String,
}

/// An error page without the layout.
#[derive(Template)]
#[template(path = "bare_error.html")]
pub struct BareErrorPage {
    /// The layout.
    pub layout: BareLayout,
    /// The explanation.
    pub message: String,
}

/// The 403 page for a signed-in user below a page's minimum role.
pub fn forbidden(
    state: Option<&AppState>,
    p: &Principal,
    csrf: Option<&str>,
    min: Role,
) -> Response {
    let layout = Layout::new(state, p, csrf.unwrap_or(""), "", "Not allowed");
    let message = format!(
        "This page needs the {min} role or higher; you are signed in as {} with the {} role. Ask an administrator if you need access.",
        p.user.email, p.role
    );
    render(StatusCode::FORBIDDEN, &ErrorPage { layout, message })
}

/// An error page inside the layout.
pub fn error_page(
    state: Option<&AppState>,
    p: &Principal,
    csrf: &str,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    let layout = Layout::new(state, p, csrf, "", title);
    render(
        status,
        &ErrorPage {
            layout,
            message: message.to_owned(),
        },
    )
}

/// An error page without the layout.
pub fn bare_error(status: StatusCode, title: &str, message: &str) -> Response {
    render(
        status,
        &BareErrorPage {
            layout: BareLayout::new(title),
            message: message.to_owned(),
        },
    )
}

/// An API failure as the dashboard shows it: the status to answer with, the stable error code
/// (`mfa_required`, `rate_limited`, …) and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The HTTP status the API would answer.
    pub status: StatusCode,
    /// The API's `error` code.
    pub code: String,
    /// The API's `detail`, as a sentence.
    pub message: String,
    /// `Retry-After`, in seconds, when the API sent one.
    pub retry_after: Option<u64>,
}

impl Failure {
    /// A failure made here rather than by an API handler.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Failure {
        Failure {
            status,
            code: code.to_owned(),
            message: sentence(&message.into()),
            retry_after: None,
        }
    }
}

/// Turns an API failure into a [`Failure`] through the API's own response, so variants added to
/// [`ApiFailure`] later (such as a `mfa_required` answer) keep their status and code here
/// without a change. Internal errors are logged by that conversion and never shown.
pub async fn explain(f: ApiFailure) -> Failure {
    let resp = f.into_response();
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<sentari_proto::error::ErrorBody>(&b).ok());
    let (code, detail) = match body {
        Some(b) => (b.error, b.detail),
        None => ("internal_error".to_owned(), "internal error".to_owned()),
    };
    let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
        "Something went wrong on the server; the details are in its error log.".to_owned()
    } else {
        sentence(&detail)
    };
    Failure {
        status,
        code,
        message,
        retry_after,
    }
}

/// A message as a sentence: capital first letter, final full stop.
pub fn sentence(s: &str) -> String {
    let s = s.trim();
    let mut chars = s.chars();
    let mut out = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect::<String>(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// A point in time as pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// RFC 3339, for `<time datetime>`.
    pub iso: String,
    /// `2026-01-31 12:00:05 UTC`.
    pub text: String,
    /// `5 min ago`, `in 2 h`.
    pub relative: String,
}

/// Formats a time; `now` is passed in so a page uses one clock for all its rows.
pub fn stamp(t: OffsetDateTime, now: OffsetDateTime) -> Stamp {
    let t = t.to_offset(time::UtcOffset::UTC);
    let iso = t
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let text = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let secs = (now - t).whole_seconds();
    let relative = if secs.abs() < 5 {
        "just now".to_owned()
    } else if secs >= 0 {
        format!("{} ago", span(secs.unsigned_abs()))
    } else {
        format!("in {}", span(secs.unsigned_abs()))
    };
    Stamp {
        iso,
        text,
        relative,
    }
}

/// A duration in the largest fitting unit: `42 s`, `5 min`, `3 h`, `2 d`.
pub fn span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn navigation_shows_only_what_a_role_may_open() {
        let labels = |role| {
            navigation(role, "/profile")
                .into_iter()
                .flat_map(|s| s.items.into_iter().map(|i| i.label))
                .collect::<Vec<_>>()
        };
        let viewer = labels(Role::Viewer);
        assert!(viewer.contains(&"Overview") && viewer.contains(&"CVE"));
        assert!(!viewer.contains(&"Diagnostics") && !viewer.contains(&"Audit log"));
        assert!(!viewer.contains(&"Settings") && !viewer.contains(&"Tasks"));
        let analyst = labels(Role::Analyst);
        assert!(analyst.contains(&"Diagnostics") && analyst.contains(&"Audit log"));
        assert!(!analyst.contains(&"Settings"));
        let admin = labels(Role::Admin);
        assert!(admin.contains(&"Settings") && admin.contains(&"Tasks"));
        assert_eq!(labels(Role::Owner), admin);
        let sections: Vec<_> = navigation(Role::Viewer, "/profile")
            .iter()
            .map(|s| s.label)
            .collect();
        // A viewer has no Admin entry at all, so the heading disappears with its links.
        assert_eq!(sections, ["Fleet", "Security", "Profile"]);
        let sections: Vec<_> = navigation(Role::Analyst, "/profile")
            .iter()
            .map(|s| s.label)
            .collect();
        assert_eq!(sections, ["Fleet", "Security", "Admin", "Profile"]);
        let current: Vec<_> = navigation(Role::Viewer, "/profile")
            .into_iter()
            .flat_map(|s| s.items)
            .filter(|i| i.current)
            .map(|i| i.href)
            .collect();
        assert_eq!(current, ["/profile"]);
    }

    #[test]
    fn warnings_become_banners_and_none_is_dropped() {
        let b = banners(&[
            "ca_degraded: CA initialisation failed: bad passphrase".into(),
            "feed_stale: OSV PyPI last synced 4 days ago".into(),
            "license_read_only: the license expired on 2026-01-01".into(),
            "something unexpected happened".into(),
        ]);
        assert_eq!(b.len(), 4);
        assert_eq!(b[0].level, "danger");
        assert_eq!(b[0].title, "Certificate authority degraded");
        assert_eq!(b[0].text, "CA initialisation failed: bad passphrase");
        assert_eq!(b[1].title, "Vulnerability feed out of date");
        assert!(b[2].title.contains("read-only"));
        assert_eq!(b[3].title, "Warning");
        assert_eq!(b[3].text, "something unexpected happened");
    }

    #[test]
    fn times_and_sentences_read_well() {
        let now = datetime!(2026-01-31 12:00:00 UTC);
        let s = stamp(datetime!(2026-01-31 11:55:00 UTC), now);
        assert_eq!(s.text, "2026-01-31 11:55:00 UTC");
        assert_eq!(s.iso, "2026-01-31T11:55:00Z");
        assert_eq!(s.relative, "5 min ago");
        assert_eq!(
            stamp(datetime!(2026-02-02 12:00:00 UTC), now).relative,
            "in 2 d"
        );
        assert_eq!(span(59), "59 s");
        assert_eq!(span(7200), "2 h");
        assert_eq!(
            sentence("invalid e-mail or password"),
            "Invalid e-mail or password."
        );
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(sentence("  "), "");
    }

    #[tokio::test]
    async fn api_failures_keep_their_code_status_and_retry_after() {
        let f = explain(ApiFailure::TooManyRequests {
            detail: "too many login attempts".into(),
            retry_after: std::time::Duration::from_secs(42),
        })
        .await;
        assert_eq!(f.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(f.code, "rate_limited");
        assert_eq!(f.message, "Too many login attempts.");
        assert_eq!(f.retry_after, Some(42));
        let f = explain(ApiFailure::Internal("secret detail".into())).await;
        assert_eq!(f.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!f.message.contains("secret"));
    }
}
