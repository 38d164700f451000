//! The web dashboard (ARCHITECTURE.md §14), and **the one place where every dashboard route is
//! registered together with its minimum role**.
//!
//! Pages are HTML rendered on the server from askama templates compiled into the binary
//! (`templates/` in this crate); one stylesheet and one small script come from the binary too
//! ([`assets`]), and charts are SVG drawn on the server ([`chart`]). Nothing is loaded from
//! elsewhere, so the dashboard works air-gapped and under a strict Content-Security-Policy
//! ([`security`]).
//!
//! To add a page or a form action, add one [`page`] call to [`routes`]: method, path, [`Access`]
//! and handler. The helper wraps the handler in [`guard::guard`], which sends anonymous visitors
//! to `/login?next=…`, answers a 403 page below the minimum role, and checks the same-site
//! headers and the per-session CSRF token of every form post. The page × role matrix test
//! (`tests/dashboard_pages.rs`) walks [`route_table`], so a page without a declaration cannot
//! exist and a new page is covered automatically.

pub mod assets;
pub mod audit;
pub mod chart;
pub mod csrf;
pub mod cve;
pub mod fleet;
pub mod guard;
pub mod login;
pub mod profile;
pub mod security;
pub mod session;
pub mod settings;
pub mod tasks;
pub mod view;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};
use sentari_core::auth::Role;

use crate::auth::rbac::Access;
use crate::state::AppState;

/// One registered dashboard route.
pub struct WebRoute {
    /// `GET` for pages, `POST` for form actions.
    pub method: Method,
    /// The path template (`/admin/settings/users/{id}/role`).
    pub path: &'static str,
    /// Who may open or submit it.
    pub access: Access,
    handler: MethodRouter<AppState>,
}

/// Declares a route: the only way to add one to the dashboard.
fn page<H, T>(method: Method, path: &'static str, access: Access, handler: H) -> WebRoute
where
    H: Handler<T, AppState>,
    T: 'static,
{
    // Pages are read with GET and changed with POST forms, which work without JavaScript; the
    // table uses nothing else, and the matrix test would notice a route answering another verb.
    let filter = if method == Method::POST {
        MethodFilter::POST
    } else {
        MethodFilter::GET
    };
    let handler =
        on(filter, handler).layer(axum::middleware::from_fn_with_state(access, guard::guard));
    WebRoute {
        method,
        path,
        access,
        handler,
    }
}

const PUBLIC: Access = Access::Public;
const VIEWER: Access = Access::Role(Role::Viewer);
const ANALYST: Access = Access::Role(Role::Analyst);
const ADMIN: Access = Access::Role(Role::Admin);

/// Every dashboard route with its minimum role. Page roles follow the table (seed
/// `000_…` §8 navigation reference); form actions need the role of the page they sit on.
pub fn routes() -> Vec<WebRoute> {
    use Method as M;
    vec![
        // Signing in and out, and the static files every page links.
        page(M::GET, "/login", PUBLIC, login::form),
        page(M::POST, "/login", PUBLIC, login::submit),
        page(M::POST, "/logout", VIEWER, login::logout),
        page(M::GET, "/static/{file}", PUBLIC, assets::serve),
        // Fleet (issue 8): the inventory pages, and deleting a device (admin, confirmed first).
        page(M::GET, "/", VIEWER, fleet::overview),
        page(M::GET, "/fleet/overview", VIEWER, fleet::overview),
        page(M::GET, "/fleet/devices", VIEWER, fleet::devices),
        page(M::GET, "/fleet/devices/{id}", VIEWER, fleet::device),
        page(
            M::GET,
            "/fleet/devices/{id}/delete",
            ADMIN,
            fleet::confirm_delete,
        ),
        page(M::POST, "/fleet/devices/{id}/delete", ADMIN, fleet::delete),
        page(M::GET, "/fleet/packages", VIEWER, fleet::packages),
        page(M::GET, "/fleet/runtime", VIEWER, fleet::runtime),
        page(M::GET, "/fleet/scans", VIEWER, fleet::scans),
        page(M::GET, "/fleet/diagnostics", ANALYST, fleet::diagnostics),
        page(M::GET, "/security/cve", VIEWER, cve::page),
        // Security → CVE: an advisory's page, and suppressions (analyst and up).
        page(M::GET, "/security/cve/{advisory_id}", VIEWER, cve::advisory),
        page(
            M::POST,
            "/security/cve/suppressions",
            ANALYST,
            cve::suppress,
        ),
        page(
            M::POST,
            "/security/cve/suppressions/{id}/delete",
            ANALYST,
            cve::unsuppress,
        ),
        // Admin → Settings: users, enrollment tokens, CVE feed.
        page(M::GET, "/admin/settings", ADMIN, settings::page),
        page(
            M::POST,
            "/admin/settings/users",
            ADMIN,
            settings::create_user,
        ),
        page(
            M::POST,
            "/admin/settings/users/{id}/role",
            ADMIN,
            settings::set_role,
        ),
        page(
            M::POST,
            "/admin/settings/users/{id}/active",
            ADMIN,
            settings::set_active,
        ),
        page(
            M::POST,
            "/admin/settings/users/{id}/password",
            ADMIN,
            settings::reset_password,
        ),
        page(
            M::POST,
            "/admin/settings/users/{id}/mfa-reset",
            ADMIN,
            settings::reset_mfa,
        ),
        page(
            M::POST,
            "/admin/settings/users/{id}/unlock",
            ADMIN,
            settings::unlock,
        ),
        page(
            M::POST,
            "/admin/settings/tokens",
            ADMIN,
            settings::create_token,
        ),
        page(
            M::POST,
            "/admin/settings/tokens/{id}/revoke",
            ADMIN,
            settings::revoke_token,
        ),
        page(M::POST, "/admin/settings/feed", ADMIN, settings::save_feed),
        page(
            M::POST,
            "/admin/settings/feed/sync",
            ADMIN,
            settings::sync_feed,
        ),
        // Admin → Tasks: the job queue.
        page(M::GET, "/admin/tasks", ADMIN, tasks::page),
        page(M::POST, "/admin/tasks/jobs/{id}/retry", ADMIN, tasks::retry),
        page(M::POST, "/admin/tasks/purge", ADMIN, tasks::purge),
        // Admin → Audit log.
        page(M::GET, "/admin/audit", ANALYST, audit::page),
        // The caller's own account.
        page(M::GET, "/profile", VIEWER, profile::page),
        page(
            M::POST,
            "/profile/password",
            VIEWER,
            profile::change_password,
        ),
        page(M::POST, "/profile/api-keys", VIEWER, profile::create_key),
        page(M::POST, "/profile/mfa/enroll", VIEWER, profile::mfa_enroll),
        page(
            M::POST,
            "/profile/mfa/confirm",
            VIEWER,
            profile::mfa_confirm,
        ),
        page(
            M::POST,
            "/profile/mfa/disable",
            VIEWER,
            profile::mfa_disable,
        ),
        page(
            M::POST,
            "/profile/api-keys/{id}/revoke",
            VIEWER,
            profile::revoke_key,
        ),
    ]
}

/// `(method, path, access)` of every dashboard route, for tests and documentation.
pub fn route_table() -> Vec<(Method, &'static str, Access)> {
    routes()
        .into_iter()
        .map(|r| (r.method, r.path, r.access))
        .collect()
}

/// The dashboard router: every declared route behind the session middleware and the security
/// headers.
pub fn router(state: AppState) -> Router<AppState> {
    let mut r = Router::new();
    for route in routes() {
        r = r.route(route.path, route.handler);
    }
    let hsts = state.config().http_tls.0;
    r.layer(axum::middleware::from_fn_with_state(
        state,
        session::authenticate,
    ))
    .layer(axum::middleware::from_fn_with_state(
        security::HeaderPolicy { hsts },
        security::headers,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_navigation_entry_is_a_declared_page_with_the_same_role() {
        let table = route_table();
        for entry in view::NAV {
            let declared = table
                .iter()
                .find(|(m, p, _)| *m == Method::GET && *p == entry.path)
                .map(|(_, _, a)| *a);
            assert_eq!(
                declared,
                Some(entry.access),
                "navigation entry {} ({}) must match the page table",
                entry.label,
                entry.path
            );
        }
    }

    #[test]
    fn routes_are_only_get_or_post_and_unique() {
        let table = route_table();
        let mut seen = std::collections::HashSet::new();
        for (m, p, _) in &table {
            assert!(*m == Method::GET || *m == Method::POST, "{m} {p}");
            assert!(seen.insert((m.clone(), *p)), "{m} {p} declared twice");
            assert!(!p.starts_with("/api/"), "{p} belongs in the API table");
        }
    }
}
