//! The per-route guard of the dashboard: sign-in, minimum role, and CSRF protection of forms.
//!
//! Every route in `web::routes()` runs through [`guard`] with its declared [`Access`]:
//! - anonymous visitors of a page are sent to `/login?next=<the page>` (303);
//! - signed-in users below the minimum role get a 403 page, whose navigation shows only what
//!   they may open, and the refusal is written to `security.log`;
//! - every form post must come from this site (`Sec-Fetch-Site`, or `Origin` for older
//!   browsers, the check the API applies to cookie writes) and, when signed in, carry the
//!   session's CSRF token in its `csrf` field;
//! - in read-only license mode, management forms get a 402 page saying why
//!   (`crate::license::management_write` decides which forms are management);
//! - a user whom the MFA policy requires to enroll, and who has not, is sent to the
//!   two-factor section of `/profile` from every page, and their forms are refused, except
//!   enrolling and signing out ([`mfa_enrollment_path`]): the dashboard's side of the API's
//!   `403 mfa_enrollment_required`.
//!
//! The body of a form post is read here (at most [`FORM_LIMIT`] bytes) to find the token, then
//! handed on unchanged to the handler.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::csrf;
use super::session::SessionCsrf;
use super::view;
use crate::auth::Principal;
use crate::auth::middleware::{must_enroll_mfa, same_site_request};
use crate::auth::rbac::Access;
use crate::logging::SECURITY;
use crate::state::AppState;

/// The largest form body the dashboard accepts; its forms are a few short fields.
pub const FORM_LIMIT: usize = 64 * 1024;

#[derive(Debug, Default, Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Where to send an anonymous visitor: the login page, coming back here afterwards.
pub fn login_redirect(req: &Request) -> Response {
    if req.method() != Method::GET {
        // A form posted after the session ended: its target is no page to come back to.
        return Redirect::to("/login?notice=session_ended").into_response();
    }
    let here = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let query = serde_urlencoded::to_string([("next", here)]).unwrap_or_default();
    Redirect::to(&format!("/login?{query}")).into_response()
}

/// The routes a user who must still enroll in MFA may use: the profile page (where enrollment
/// is), the enrollment forms, signing in and out, and the static files. The policy is read
/// through its cache, so the check costs no query on most requests.
pub fn mfa_enrollment_path(path: &str) -> bool {
    matches!(path, "/profile" | "/login" | "/logout")
        || path.starts_with("/profile/mfa/")
        || path.starts_with("/static/")
}

/// The middleware wrapped around every dashboard route by `web::page`.
pub async fn guard(State(access): State<Access>, req: Request, next: Next) -> Response {
    let principal = req.extensions().get::<Principal>().cloned();
    let state = req.extensions().get::<AppState>().cloned();
    if let Access::Role(min) = access {
        match &principal {
            None => return login_redirect(&req),
            Some(p) if p.role < min => {
                tracing::warn!(
                    target: SECURITY,
                    event = "permission_denied",
                    user = %p.user.email,
                    role = %p.role,
                    required = %min,
                    method = %req.method(),
                    path = %req.uri().path(),
                    "dashboard permission denied"
                );
                let csrf = req.extensions().get::<SessionCsrf>().map(|c| c.0.clone());
                return view::forbidden(state.as_ref(), p, csrf.as_deref(), min);
            }
            Some(_) => {}
        }
    }
    if let (Some(p), Some(st)) = (&principal, &state)
        && !mfa_enrollment_path(req.uri().path())
        && must_enroll_mfa(st, p).await
    {
        tracing::warn!(
            target: SECURITY,
            event = "mfa_enrollment_required",
            user = %p.user.email,
            method = %req.method(),
            path = %req.uri().path(),
            "dashboard request refused until the user enrolls in MFA"
        );
        if req.method() == Method::GET {
            return Redirect::to("/profile#mfa").into_response();
        }
        return view::bare_error(
            StatusCode::FORBIDDEN,
            "Two-factor authentication required",
            "Your role requires two-factor authentication. Enable it on your profile page first.",
        );
    }
    if let (Some(p), Some(st)) = (&principal, &state)
        && let Some(detail) =
            crate::license::refusal(st, req.method(), req.uri().path(), &p.user.email)
    {
        let csrf = req.extensions().get::<SessionCsrf>().map(|c| c.0.clone());
        return view::error_page(
            Some(st),
            p,
            csrf.as_deref().unwrap_or(""),
            StatusCode::PAYMENT_REQUIRED,
            "Read-only mode",
            &detail,
        );
    }
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let user = principal
        .as_ref()
        .map(|p| p.user.email.as_str())
        .unwrap_or("-");
    if !same_site_request(req.headers()) {
        tracing::warn!(
            target: SECURITY,
            event = "csrf_refused",
            user = %user,
            path = %req.uri().path(),
            reason = "cross-site",
            "cross-site dashboard form refused"
        );
        return view::bare_error(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form was sent from another site. Open the page in Sentari and submit it again.",
        );
    }
    if access == Access::Public || principal.is_none() {
        // Public forms (the login) act on no session, so there is no token to bind them to
        // (a stale login tab of a signed-in user must still work); the same-site check above
        // is their protection.
        return next.run(req).await;
    }
    let expected = req.extensions().get::<SessionCsrf>().map(|c| c.0.clone());
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return view::bare_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Form too large",
                "The form data is larger than the dashboard accepts.",
            );
        }
    };
    let given: CsrfField = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    if !expected.is_some_and(|e| csrf::verify(&e, &given.csrf)) {
        tracing::warn!(
            target: SECURITY,
            event = "csrf_refused",
            user = %user,
            path = %parts.uri.path(),
            reason = "token",
            "dashboard form without a valid CSRF token refused"
        );
        return view::bare_error(
            StatusCode::FORBIDDEN,
            "Request refused",
            "The form's security token is missing or out of date (perhaps you signed in again in another tab). Reload the page and submit it again.",
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
