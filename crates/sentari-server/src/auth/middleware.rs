//! Resolves the caller of every `/api/v1` request and enforces CSRF protection on
//! cookie-authenticated writes.
//!
//! A bearer token is either an API key (`sk_…`) or a session token; without one the session
//! cookie is used. Invalid or expired credentials leave the request anonymous, so the per-route
//! guard answers 401 where a sign-in is needed and public routes (login) still work with a
//! stale cookie. Cookie writes must come from the dashboard's own origin: `Sec-Fetch-Site` must
//! be `same-origin` (or `none`), or, for older browsers, `Origin` must name this host; a cookie
//! write with neither header is refused too, since only scripts omit both. A user whom the MFA
//! policy requires to enroll, and who has not, gets `403 mfa_enrollment_required` from every
//! route but the few in [`mfa_exempt_path`].

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use crate::auth::tokens::{self, API_KEY_PREFIX, SESSION_COOKIE};
use crate::auth::{AuthMethod, Principal};
use crate::http::access::AuthenticatedUser;
use crate::http::api::ApiFailure;
use crate::logging::SECURITY;
use crate::state::AppState;

/// The client address, inserted into every `/api/v1` request's extensions by [`authenticate`]
/// so handlers need not depend on how the listener exposes it.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

/// The client address of a request.
pub fn client_ip(req_ext: &axum::http::Extensions) -> Option<IpAddr> {
    req_ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= 256)
}

/// The value of the session cookie, if sent.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// True when the MFA policy requires this user to enroll before doing anything else. Both the
/// API and the dashboard ask this; a policy that cannot be read enforces nothing, as the
/// sign-in itself already succeeded.
pub async fn must_enroll_mfa(state: &AppState, p: &Principal) -> bool {
    let (Some(store), Some(rt)) = (state.store(), state.auth()) else {
        return false;
    };
    matches!(rt.mfa_policy.get(store).await, Ok(policy) if policy.must_enroll(&p.user))
}

/// Whether a cookie-authenticated write comes from this site.
pub fn same_site_request(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'))
            .is_some_and(|o| o.eq_ignore_ascii_case(host)),
        _ => false,
    }
}

/// The routes a user whom the MFA policy forces to enroll may still call: who am I, sign out,
/// sign in again, and the enrollment itself.
pub fn mfa_exempt_path(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/auth/me" | "/api/v1/auth/logout" | "/api/v1/auth/login"
    ) || path == "/api/v1/auth/mfa"
        || path.starts_with("/api/v1/auth/mfa/")
        || path.starts_with("/api/v1/auth/oidc/")
}

fn is_write(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Resolves a credential to a principal; `None` when it is unknown, expired or revoked. The
/// dashboard's session middleware (`http::web::session`) calls it too, so both check sessions
/// the same way.
pub(crate) async fn resolve(
    state: &AppState,
    token: &str,
    from_cookie: bool,
    ip: Option<IpAddr>,
) -> Option<Principal> {
    let store = state.store()?;
    let auth = state.auth()?;
    let now = OffsetDateTime::now_utc();
    if token.starts_with(API_KEY_PREFIX) && !from_cookie {
        let key = store
            .api_key_by_hash(&tokens::api_key_hash(token))
            .await
            .ok()??;
        if key.revoked_at.is_some() || key.expires_at.is_some_and(|e| e <= now) {
            tracing::info!(target: SECURITY, event = "api_key_refused", key = %key.prefix, "revoked or expired API key used");
            return None;
        }
        let user = store.get_user(key.user_id).await.ok()??;
        if !user.active {
            return None;
        }
        let _ = store.touch_api_key(key.id).await;
        // A key never acts above its owner's current role, even after a demotion.
        let role = key.role.min(user.role);
        return Some(Principal {
            user,
            role,
            method: AuthMethod::ApiKey { id: key.id },
            ip,
        });
    }
    let session = store
        .session_by_token_hash(&tokens::session_hash(&auth.session_key, token))
        .await
        .ok()??;
    let idle_deadline = session.last_seen_at + auth.session_idle();
    if session.expires_at <= now || idle_deadline <= now {
        let _ = store.delete_session(session.id).await;
        tracing::info!(target: SECURITY, event = "session_expired", session = %session.id, "session expired");
        return None;
    }
    let user = store.get_user(session.user_id).await.ok()??;
    if !user.active {
        return None;
    }
    // Touching on every request would turn reads into writes; a minute of slack on a
    // 30-minute idle timeout is invisible to users.
    if now - session.last_seen_at > time::Duration::seconds(60) {
        let _ = store.touch_session(session.id).await;
    }
    Some(Principal {
        role: user.role,
        user,
        method: AuthMethod::Session {
            id: session.id,
            cookie: from_cookie,
        },
        ip,
    })
}

/// The middleware over every `/api/v1` route.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let ip = client_ip(req.extensions());
    req.extensions_mut().insert(ClientIp(ip));
    let (token, from_cookie) = match bearer(req.headers()) {
        Some(t) => (Some(t), false),
        None => (session_cookie(req.headers()), true),
    };
    let principal = match &token {
        Some(t) => resolve(&state, t, from_cookie, ip).await,
        None => None,
    };
    if let Some(p) = &principal {
        if from_cookie && is_write(req.method()) && !same_site_request(req.headers()) {
            tracing::warn!(
                target: SECURITY,
                event = "csrf_refused",
                user = %p.user.email,
                method = %req.method(),
                path = %req.uri().path(),
                "cross-site cookie write refused"
            );
            return ApiFailure::Csrf.into_response();
        }
        if !mfa_exempt_path(req.uri().path()) && must_enroll_mfa(&state, p).await {
            tracing::warn!(
                target: SECURITY,
                event = "mfa_enrollment_required",
                user = %p.user.email,
                method = %req.method(),
                path = %req.uri().path(),
                "request refused until the user enrolls in MFA"
            );
            return ApiFailure::MfaEnrollmentRequired.into_response();
        }
        req.extensions_mut().insert(p.clone());
    }
    // The route guards read the license through the state (`auth::rbac::guard`).
    req.extensions_mut().insert(state.clone());
    let email = principal.as_ref().map(|p| p.user.email.clone());
    let mut resp = next.run(req).await;
    if let Some(e) = email
        && resp.extensions().get::<AuthenticatedUser>().is_none()
    {
        resp.extensions_mut().insert(AuthenticatedUser(e));
    }
    resp
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Principal {
    type Rejection = ApiFailure;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiFailure::Unauthorized("sign in first".into()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn csrf_check_accepts_same_origin_only() {
        let mut h = HeaderMap::new();
        assert!(!same_site_request(&h));
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8443"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://127.0.0.1:8443"),
        );
        assert!(same_site_request(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_site_request(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_site_request(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_site_request(&h));
        let mut c = HeaderMap::new();
        c.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; sentari_session=tok"),
        );
        assert_eq!(session_cookie(&c).as_deref(), Some("tok"));
    }
}
