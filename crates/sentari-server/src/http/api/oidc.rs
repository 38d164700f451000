//! `/api/v1/auth/oidc`: single sign-on through the configured OpenID Connect provider.
//!
//! `login` sends the browser to the provider with state, nonce and a PKCE challenge, keeping
//! them in a signed cookie limited to this path; `callback` checks the state, redeems the code,
//! validates the ID token (`crate::auth::oidc`), finds or creates the user, and starts a
//! session. It answers with a tiny page that moves the browser on to `/` rather than a 303: the
//! session cookie is `SameSite=Strict`, and browsers withhold such cookies on the rest of a
//! redirect chain that a cross-site page (the provider) started, so a plain redirect would land
//! on `/` signed out.

use std::net::IpAddr;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::auth::session_cookie;
use super::{ApiFailure, auth as auth_rt, store};
use crate::auth::login::start_session;
use crate::auth::middleware::ClientIp;
use crate::auth::oidc::{FLOW_COOKIE, FLOW_COOKIE_PATH, FLOW_TTL, Oidc, OidcError};
use crate::auth::{AuthRuntime, audit};
use crate::http::access::AuthenticatedUser;
use crate::logging::SECURITY;
use crate::state::AppState;

const NOT_CONFIGURED: &str =
    "single sign-on is not configured on this server (SENTARI_OIDC_ISSUER_URL)";

impl From<OidcError> for ApiFailure {
    fn from(e: OidcError) -> Self {
        let detail = e.to_string();
        match e {
            OidcError::Unavailable(_) => ApiFailure::Unavailable(detail),
            OidcError::BadState(_) => ApiFailure::field("state", detail),
            OidcError::Refused(_) | OidcError::InvalidToken(_) | OidcError::UnknownKey => {
                ApiFailure::Unauthorized(detail)
            }
            OidcError::Forbidden(_) => ApiFailure::Forbidden(detail),
            OidcError::Store(s) => s.into(),
        }
    }
}

fn oidc(rt: &AuthRuntime) -> Result<&Oidc, ApiFailure> {
    rt.oidc
        .as_ref()
        .ok_or_else(|| ApiFailure::NotImplemented(NOT_CONFIGURED.into()))
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= 4096)
}

/// The callback URL: the configured one, or this server's own address as the browser used it.
fn redirect_uri(o: &Oidc, rt: &AuthRuntime, headers: &HeaderMap) -> Result<String, ApiFailure> {
    if let Some(u) = &o.settings.redirect_url {
        return Ok(u.clone());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .ok_or_else(|| ApiFailure::BadRequest {
            detail: "no usable Host header; set SENTARI_OIDC_REDIRECT_URL".into(),
            field: None,
        })?;
    let scheme = if rt.plain_http { "http" } else { "https" };
    Ok(format!("{scheme}://{host}{FLOW_COOKIE_PATH}/callback"))
}

fn flow_cookie(rt: &AuthRuntime, value: &str, max_age: u64) -> String {
    // `Lax`, not `Strict`: the cookie must come back on the provider's top-level redirect to the
    // callback, which is a cross-site navigation.
    format!(
        "{FLOW_COOKIE}={value}; Path={FLOW_COOKIE_PATH}; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if rt.plain_http { "" } else { "; Secure" }
    )
}

fn security_event(event: &str, ip: Option<IpAddr>, detail: &str) {
    let ip = ip.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
    tracing::warn!(target: SECURITY, event, ip = %ip, "{detail}");
}

/// `GET /api/v1/auth/oidc/login`: redirects to the provider.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiFailure> {
    let rt = auth_rt(&state)?;
    let o = oidc(rt)?;
    let redirect = redirect_uri(o, rt, &headers)?;
    let (url, flow) = o.begin(&redirect).await.inspect_err(|e| {
        security_event(
            "oidc_failed",
            None,
            &format!("single sign-on could not start: {e}"),
        );
    })?;
    let mut resp = (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response();
    if let Ok(v) = HeaderValue::from_str(&flow_cookie(rt, &o.seal_flow(&flow), FLOW_TTL.as_secs()))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// The callback's query.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /api/v1/auth/oidc/callback`: finishes the sign-in.
pub async fn callback(
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, ApiFailure> {
    let rt = auth_rt(&state)?;
    let o = oidc(rt)?;
    let store = store(&state)?;
    let fail = |e: OidcError| {
        security_event(
            "oidc_failed",
            client,
            &format!("single sign-on refused: {e}"),
        );
        ApiFailure::from(e)
    };
    if let Some(err) = &q.error {
        let desc = q.error_description.as_deref().unwrap_or("");
        return Err(fail(OidcError::Refused(format!(
            "the identity provider answered {err}: {}",
            desc.chars().take(200).collect::<String>()
        ))));
    }
    let flow = o
        .open_flow(
            cookie(&headers, FLOW_COOKIE),
            q.state.as_deref().unwrap_or(""),
        )
        .map_err(fail)?;
    let code = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or_else(|| fail(OidcError::Refused("the callback has no code".into())))?;
    let claims = o.finish(code, &flow).await.map_err(fail)?;
    let ip = client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let user = o
        .resolve_user(store, &claims, Some(ip.to_string()))
        .await
        .map_err(fail)?;
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (token, max_age) = start_session(store, rt, &user, ip, ua).await?;
    tracing::info!(target: SECURITY, event = "login", email = %user.email, ip = %ip, provider = "oidc", "login succeeded (single sign-on)");
    audit::record(
        store,
        &user.email,
        Some(ip.to_string()),
        "auth.login",
        Some(user.email.clone()),
        None,
        Some(json!({"provider": "oidc"})),
    )
    .await?;
    let page = "<!doctype html><html><head><meta charset=\"utf-8\">\
                <meta http-equiv=\"refresh\" content=\"0; url=/\"><title>Signed in</title></head>\
                <body><p>Signed in. <a href=\"/\">Continue to Sentari</a>.</p></body></html>";
    let mut resp = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response();
    for c in [
        session_cookie(&state, &headers, &token, max_age.as_secs()),
        flow_cookie(rt, "", 0),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp.extensions_mut().insert(AuthenticatedUser(user.email));
    Ok(resp)
}
