//! `/api/v1/auth`: login, logout, the caller's own account, and their API keys.

use std::net::IpAddr;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sentari_proto::auth::{
    ApiKeyBody, ApiKeyCreated, CreateApiKeyRequest, LoginRequest, LoginResponse, UserBody,
};
use sentari_store::{ApiKey, NewApiKey, User};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ApiFailure, JsonBody, auth as auth_rt, store};
use crate::auth::login::{LoginAttempt, LoginError, LoginSuccess};
use crate::auth::middleware::ClientIp;
use crate::auth::tokens::{self, SESSION_COOKIE};
use crate::auth::{AuthMethod, Principal, audit};
use crate::http::access::AuthenticatedUser;
use crate::logging::SECURITY;
use crate::state::AppState;

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

pub fn session_cookie(state: &AppState, headers: &HeaderMap, token: &str, max_age: u64) -> String {
    // `Secure` is dropped only when the listener is plain HTTP and the browser talks to a
    // loopback name: there the cookie could not be sent back otherwise by non-browser clients.
    let secure = !(state.auth().is_some_and(|a| a.plain_http) && is_loopback_host(headers));
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

impl From<LoginError> for ApiFailure {
    fn from(e: LoginError) -> Self {
        let detail = e.to_string();
        match e {
            LoginError::RateLimited { retry_after } | LoginError::Locked { retry_after } => {
                ApiFailure::TooManyRequests {
                    detail,
                    retry_after,
                }
            }
            LoginError::BadCredentials => ApiFailure::Unauthorized(detail),
            LoginError::MfaRequired => ApiFailure::MfaRequired(detail),
            LoginError::InvalidTotp => ApiFailure::InvalidTotpCode(detail),
            LoginError::OidcOnly => ApiFailure::BadRequest {
                detail,
                field: Some("email".into()),
            },
            LoginError::LdapNotConfigured => ApiFailure::NotImplemented(detail),
            LoginError::LdapUnavailable(_) => ApiFailure::Unavailable(detail),
            LoginError::Store(e) => e.into(),
            LoginError::Internal(m) => ApiFailure::Internal(m),
        }
    }
}

/// The response of a successful sign-in: the JSON body and the session cookie.
pub fn session_response(state: &AppState, headers: &HeaderMap, ok: LoginSuccess) -> Response {
    let cookie = session_cookie(state, headers, &ok.token, ok.max_age.as_secs());
    let body = LoginResponse {
        token: ok.token,
        user: user_body(&ok.user),
        mfa_enrollment_required: ok.mfa_enrollment_required,
    };
    let mut resp = (StatusCode::OK, Json(body)).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp.extensions_mut()
        .insert(AuthenticatedUser(ok.user.email));
    resp
}

/// `POST /api/v1/auth/login`: the JSON form of [`crate::auth::login::login`].
pub async fn login(
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, ApiFailure> {
    let store = store(&state)?;
    let rt = auth_rt(&state)?;
    let attempt = LoginAttempt {
        email: &body.email,
        password: &body.password,
        totp_code: body.totp_code.as_deref(),
        // Without a known address (an unusual listener) every such client shares one bucket.
        ip: client.unwrap_or(IpAddr::from([0, 0, 0, 0])),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let ok = crate::auth::login::login(store, rt, &attempt).await?;
    Ok(session_response(&state, &headers, ok))
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
