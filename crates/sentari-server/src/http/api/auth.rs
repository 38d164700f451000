//! `/api/v1/auth`: login, logout, the caller's own account, and their API keys.

use std::net::IpAddr;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sentari_core::auth::{Email, IdentityProvider};
use sentari_proto::auth::{
    ApiKeyBody, ApiKeyCreated, CreateApiKeyRequest, LoginRequest, LoginResponse, UserBody,
};
use sentari_store::{ApiKey, NewApiKey, NewSession, User};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ApiFailure, JsonBody, auth as auth_rt, store};
use crate::auth::middleware::ClientIp;
use crate::auth::password::{self, Verified};
use crate::auth::tokens::{self, SESSION_COOKIE};
use crate::auth::{AuthMethod, Principal, audit};
use crate::http::access::AuthenticatedUser;
use crate::logging::SECURITY;
use crate::state::AppState;

/// The one message for every credential failure, so callers cannot probe for accounts.
const BAD_CREDENTIALS: &str = "invalid e-mail or password";

/// The API view of a user.
pub fn user_body(u: &User) -> UserBody {
    UserBody {
        id: u.id,
        email: u.email.clone(),
        display_name: u.display_name.clone(),
        role: u.role,
        identity_provider: u.provider,
        active: u.active,
        mfa_enabled: u.mfa_enabled,
        created_at: u.created_at,
        last_login_at: u.last_login_at,
    }
}

fn key_body(k: &ApiKey) -> ApiKeyBody {
    ApiKeyBody {
        id: k.id,
        name: k.name.clone(),
        prefix: k.prefix.clone(),
        role: k.role,
        created_at: k.created_at,
        expires_at: k.expires_at,
        last_used_at: k.last_used_at,
        revoked_at: k.revoked_at,
    }
}

fn is_loopback_host(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn session_cookie(state: &AppState, headers: &HeaderMap, token: &str, max_age: u64) -> String {
    // `Secure` is dropped only when the listener is plain HTTP and the browser talks to a
    // loopback name: there the cookie could not be sent back otherwise by non-browser clients.
    let secure = !(state.auth().is_some_and(|a| a.plain_http) && is_loopback_host(headers));
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

fn security_event(event: &str, email: &str, ip: Option<IpAddr>, detail: &str) {
    let ip = ip.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
    // Debug formatting escapes control characters, so a crafted e-mail cannot forge log lines.
    tracing::warn!(target: SECURITY, event, email = ?email, ip = %ip, "{detail}");
}

/// `POST /api/v1/auth/login`.
pub async fn login(
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, ApiFailure> {
    let store = store(&state)?;
    let rt = auth_rt(&state)?;
    // Without a known address (an unusual listener) every such client shares one bucket.
    let ip = client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    if let Err(retry_after) = rt.login_limiter.check(ip) {
        security_event(
            "login_rate_limited",
            &body.email,
            Some(ip),
            "too many login attempts from this address",
        );
        return Err(ApiFailure::TooManyRequests {
            detail: "too many login attempts from this address; try again later".into(),
            retry_after,
        });
    }
    if body.password.is_empty() {
        return Err(ApiFailure::Unauthorized(BAD_CREDENTIALS.into()));
    }
    let user = match Email::parse(&body.email) {
        Ok(e) => store.get_user_by_email(&e).await?,
        Err(_) => None,
    };
    let Some(user) = user.filter(|u| u.active) else {
        // Same work as a real check, so timing does not reveal whether the account exists.
        let _ = password::verify(rt.hash_params, None, body.password.clone()).await;
        security_event(
            "login_failed",
            &body.email,
            Some(ip),
            "login failed: unknown or inactive user",
        );
        return Err(ApiFailure::Unauthorized(BAD_CREDENTIALS.into()));
    };
    match user.provider {
        IdentityProvider::Local => {}
        IdentityProvider::Ldap => {
            return Err(ApiFailure::NotImplemented(
                "LDAP authentication is not configured on this server (SENTARI_LDAP_URL)".into(),
            ));
        }
        IdentityProvider::Oidc => {
            return Err(ApiFailure::BadRequest {
                detail: "this account signs in through single sign-on (OIDC), not with a password"
                    .into(),
                field: Some("email".into()),
            });
        }
    }
    let window = rt.lockout_window();
    let since = OffsetDateTime::now_utc() - window;
    let (failures, last) = store.login_failures_since(user.id, since).await?;
    if failures >= i64::from(rt.config.lockout_threshold) {
        let unlock_at = last.unwrap_or_else(OffsetDateTime::now_utc) + window;
        let retry = (unlock_at - OffsetDateTime::now_utc())
            .try_into()
            .unwrap_or(window);
        security_event(
            "login_locked",
            &user.email,
            Some(ip),
            "login refused: account locked",
        );
        return Err(ApiFailure::TooManyRequests {
            detail: "this account is temporarily locked after repeated failed logins".into(),
            retry_after: retry,
        });
    }
    let verified = password::verify(
        rt.hash_params,
        user.password_hash.clone(),
        body.password.clone(),
    )
    .await;
    if verified == Verified::No {
        let n = store
            .record_login_failure(user.id, Some(&ip.to_string()), since)
            .await?;
        security_event(
            "login_failed",
            &user.email,
            Some(ip),
            "login failed: wrong password",
        );
        if n >= i64::from(rt.config.lockout_threshold) {
            security_event(
                "account_locked",
                &user.email,
                Some(ip),
                "account locked after repeated failed logins",
            );
            let _ = audit::record(
                store,
                "system",
                Some(ip.to_string()),
                "user.locked",
                Some(user.email.clone()),
                None,
                Some(json!({"failures": n})),
            )
            .await;
        }
        return Err(ApiFailure::Unauthorized(BAD_CREDENTIALS.into()));
    }
    if verified == Verified::YesRehash
        && let Ok(h) = password::hash(rt.hash_params, body.password.clone()).await
    {
        let _ = store.set_password_hash(user.id, &h).await;
    }
    // A fresh token at every login: a session id planted before login is never promoted.
    let token = tokens::new_session_token();
    let absolute = rt.session_absolute();
    store
        .create_session(&NewSession {
            token_hash: tokens::session_hash(&rt.session_key, &token),
            user_id: user.id,
            expires_at: OffsetDateTime::now_utc() + absolute,
            ip: Some(ip.to_string()),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(256).collect()),
        })
        .await?;
    store.record_login(user.id).await?;
    tracing::info!(target: SECURITY, event = "login", email = %user.email, ip = %ip, "login succeeded");
    audit::record(
        store,
        &user.email,
        Some(ip.to_string()),
        "auth.login",
        Some(user.email.clone()),
        None,
        None,
    )
    .await?;
    let cookie = session_cookie(&state, &headers, &token, absolute.as_secs());
    let body = LoginResponse {
        token,
        user: user_body(&user),
    };
    let mut resp = (StatusCode::OK, Json(body)).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp.extensions_mut().insert(AuthenticatedUser(user.email));
    Ok(resp)
}

/// `POST /api/v1/auth/logout`: deletes the session and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    p: Principal,
) -> Result<Response, ApiFailure> {
    let store = store(&state)?;
    if let AuthMethod::Session { id, .. } = p.method {
        store.delete_session(id).await?;
    }
    tracing::info!(target: SECURITY, event = "logout", email = %p.user.email, "logout");
    audit::record(
        store,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "auth.logout",
        Some(p.user.email.clone()),
        None,
        None,
    )
    .await?;
    let cookie = session_cookie(&state, &headers, "", 0);
    let mut resp = (StatusCode::OK, Json(json!({"status": "signed_out"}))).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// `GET /api/v1/auth/me`.
pub async fn me(p: Principal) -> Json<serde_json::Value> {
    let method = match p.method {
        AuthMethod::Session { .. } => "session",
        AuthMethod::ApiKey { .. } => "api_key",
    };
    Json(json!({"user": user_body(&p.user), "effective_role": p.role, "auth_method": method}))
}

/// `GET /api/v1/auth/api-keys`: the caller's own keys.
pub async fn list_keys(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<ApiKeyBody>>, ApiFailure> {
    let keys = store(&state)?.list_api_keys(p.user.id).await?;
    Ok(Json(keys.iter().map(key_body).collect()))
}

/// `POST /api/v1/auth/api-keys`: a key for the caller, with a role no higher than theirs.
pub async fn create_key(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(req): JsonBody<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<ApiKeyCreated>), ApiFailure> {
    let store = store(&state)?;
    let name = req.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiFailure::field(
            "name",
            "a name of 1 to 100 characters is required",
        ));
    }
    let role = req.role.unwrap_or(p.role);
    if role > p.role {
        return Err(ApiFailure::Forbidden(format!(
            "an API key cannot have a role above your own ({})",
            p.role
        )));
    }
    if req
        .expires_at
        .is_some_and(|e| e <= OffsetDateTime::now_utc())
    {
        return Err(ApiFailure::field(
            "expires_at",
            "the expiry must be in the future",
        ));
    }
    let secret = tokens::new_api_key();
    let key = store
        .create_api_key(&NewApiKey {
            user_id: p.user.id,
            name: name.to_owned(),
            prefix: tokens::api_key_prefix(&secret),
            key_hash: tokens::api_key_hash(&secret),
            role,
            expires_at: req.expires_at,
        })
        .await?;
    audit::record(
        store,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "api_key.create",
        Some(key.id.to_string()),
        None,
        Some(json!({"name": key.name, "role": key.role, "prefix": key.prefix})),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreated {
            key: secret,
            info: key_body(&key),
        }),
    ))
}

/// `DELETE /api/v1/auth/api-keys/{id}`: revokes one of the caller's keys.
pub async fn revoke_key(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiFailure> {
    let store = store(&state)?;
    let id = Uuid::parse_str(&id).map_err(|_| ApiFailure::NotFound("no such API key".into()))?;
    if !store.revoke_api_key(id, p.user.id).await? {
        return Err(ApiFailure::NotFound("no such API key".into()));
    }
    audit::record(
        store,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "api_key.revoke",
        Some(id.to_string()),
        None,
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
