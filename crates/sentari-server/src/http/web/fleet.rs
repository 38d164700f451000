//! The Fleet and Security pages. Until the fleet inventory and findings queries exist, each
//! renders the layout with an honest empty state that says what the page is for; they are
//! declared in the page table with their final minimum roles, so navigation and access
//! checks are already what they will be.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use sentari_core::auth::Role;

use super::session::WebUser;
use super::view::{self, Layout};
use crate::state::AppState;

/// A Fleet or Security page without data yet.
#[derive(Template)]
#[template(path = "placeholder.html")]
pub struct PlaceholderPage {
    /// The layout.
    pub layout: Layout,
    /// What the page shows once there is data.
    pub purpose: &'static str,
    /// Whether to point at enrollment tokens (admins only: nobody else can create one).
    pub can_enroll: bool,
}

fn placeholder(
    state: &AppState,
    user: &WebUser,
    nav: &str,
    title: &str,
    purpose: &'static str,
) -> Response {
    let page = PlaceholderPage {
        layout: Layout::new(Some(state), &user.principal, &user.csrf, nav, title),
        purpose,
        can_enroll: user.principal.role >= Role::Admin,
    };
    view::render(StatusCode::OK, &page)
}

/// `GET /` and `GET /fleet/overview`.
pub async fn overview(State(state): State<AppState>, user: WebUser) -> Response {
    placeholder(
        &state,
        &user,
        "/fleet/overview",
        "Fleet overview",
        "Total and active devices, packages inventoried, open findings by severity, end-of-life runtimes, recent scans and devices that missed their scan window.",
    )
}

/// `GET /fleet/devices`.
pub async fn devices(State(state): State<AppState>, user: WebUser) -> Response {
    placeholder(
        &state,
        &user,
        "/fleet/devices",
        "Devices",
        "Every enrolled device with its OS, Python version, last seen time, scan status, open findings and tags; searchable and sortable.",
    )
}

/// `GET /fleet/devices/{id}`.
pub async fn device(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    if uuid::Uuid::parse_str(&id).is_err() {
        return view::error_page(
            Some(&state),
            &user.principal,
            &user.csrf,
            StatusCode::NOT_FOUND,
            "No such device",
            "There is no device with this id.",
        );
    }
    placeholder(
        &state,
        &user,
        "/fleet/devices",
        "Device",
        "The device's packages, runtimes with their end-of-life status, findings and scan history.",
    )
}

/// `GET /fleet/packages`.
pub async fn packages(State(state): State<AppState>, user: WebUser) -> Response {
    placeholder(
        &state,
        &user,
        "/fleet/packages",
        "Packages",
        "Fleet-wide package search: which devices have package X, optionally within a version range or ecosystem.",
    )
}

/// `GET /fleet/runtime`.
pub async fn runtime(State(state): State<AppState>, user: WebUser) -> Response {
    placeholder(
        &state,
        &user,
        "/fleet/runtime",
        "Runtime",
        "Python, Node.js and JDK versions across the fleet with end-of-life flags, their trend, and CSV or Excel export.",
    )
}

/// `GET /fleet/scans`.
pub async fn scans(State(state): State<AppState>, user: WebUser) -> Response {
    placeholder(
        &state,
        &user,
        "/fleet/scans",
        "Scan history",
        "A timeline of scans per device, to confirm devices scan on schedule and spot those that missed their window.",
    )
}

/// `GET /fleet/diagnostics`.
pub async fn diagnostics(State(state): State<AppState>, user: WebUser) -> Response {
    placeholder(
        &state,
        &user,
        "/fleet/diagnostics",
        "Diagnostics",
        "Scan errors: which devices report them, of what kind, and how often.",
    )
}

/// `GET /security/cve`.
pub async fn cve(State(state): State<AppState>, user: WebUser) -> Response {
    placeholder(
        &state,
        &user,
        "/security/cve",
        "CVE findings",
        "Findings grouped by advisory and by device, with severity, affected packages, fixed versions and why each one matched.",
    )
}
