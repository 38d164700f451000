//! Resolves the signed-in user of every dashboard request from the session cookie.
//!
//! The dashboard accepts only the session cookie, never a bearer token or an API key: pages are
//! for browsers, and automation uses `/api/v1`. The session is checked exactly as the API checks
//! it (expiry, idle timeout, active user), by the same function. A request without a valid
//! session continues anonymously; the per-route [`super::guard`] decides what that means.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::csrf;
use crate::auth::middleware::{ClientIp, client_ip, resolve, session_cookie};
use crate::auth::{AuthMethod, Principal};
use crate::http::access::AuthenticatedUser;
use crate::state::AppState;

/// The CSRF token of the request's session, for forms and for the guard's check.
#[derive(Debug, Clone)]
pub struct SessionCsrf(pub String);

/// The middleware over every dashboard route.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let ip = client_ip(req.extensions());
    req.extensions_mut().insert(ClientIp(ip));
    // Static files are public and the same for everyone: no session lookup (two queries) for
    // each stylesheet, script and icon request.
    let is_static = req.uri().path().starts_with("/static/");
    let principal = match session_cookie(req.headers()) {
        Some(token) if !is_static => resolve(&state, &token, true, ip).await,
        _ => None,
    };
    if principal.is_some() {
        super::view::refresh_feed_banner(&state).await;
    }
    if let Some(p) = &principal {
        if let (AuthMethod::Session { id, .. }, Some(rt)) = (&p.method, state.auth()) {
            req.extensions_mut()
                .insert(SessionCsrf(csrf::token(&rt.session_key, *id)));
        }
        req.extensions_mut().insert(p.clone());
    }
    // Pages render the layout (banners, navigation) from the state; handing it over here lets
    // the guard render its refusal pages without a state of its own.
    req.extensions_mut().insert(state);
    let email = principal.map(|p| p.user.email);
    let mut resp = next.run(req).await;
    if let Some(e) = email
        && resp.extensions().get::<AuthenticatedUser>().is_none()
    {
        resp.extensions_mut().insert(AuthenticatedUser(e));
    }
    resp
}

/// The signed-in user of a dashboard request and their session's CSRF token. Routes declared
/// with a role are only reached with a principal (the guard sees to it); the rejection covers a
/// route that forgot, by sending the visitor to the login page.
#[derive(Debug, Clone)]
pub struct WebUser {
    /// Who is signed in.
    pub principal: Principal,
    /// The token their forms carry.
    pub csrf: String,
}

impl<S: Send + Sync> FromRequestParts<S> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        let principal = parts.extensions.get::<Principal>().cloned();
        let csrf = parts.extensions.get::<SessionCsrf>().map(|c| c.0.clone());
        match (principal, csrf) {
            (Some(principal), Some(csrf)) => Ok(WebUser { principal, csrf }),
            _ => Err(Redirect::to("/login").into_response()),
        }
    }
}

/// The signed-in user, if any, for public pages (the login page skips itself when signed in).
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Self, std::convert::Infallible> {
        Ok(MaybeUser(parts.extensions.get::<Principal>().cloned()))
    }
}
