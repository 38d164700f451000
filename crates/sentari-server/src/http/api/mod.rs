//! The REST API under `/api/v1`, and **the one place where every `/api/v1` route is
//! registered together with its minimum role**.
//!
//! To add a route, add one [`route`] call to [`routes`]: method, path, [`Access`] and handler.
//! The helper wraps the handler in the role guard, so a route without a declaration cannot be
//! written, and the route × role matrix test (`tests/auth_matrix.rs`) walks [`route_table`] to
//! check every route for anonymous, viewer, analyst, admin and owner callers. Handlers take the
//! caller with the [`crate::auth::Principal`] extractor and fail with [`ApiFailure`].

pub mod audit;
pub mod auth;
pub mod export;
pub mod fleet;
pub mod mfa;
pub mod oidc;
pub mod openapi;
pub mod users;

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Query};
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use sentari_core::auth::Role;
use sentari_proto::error::ErrorBody;
use sentari_store::StoreError;

use crate::auth::rbac::{self, Access};
use crate::state::AppState;

/// One registered route.
pub struct ApiRoute {
    /// The HTTP method.
    pub method: Method,
    /// The path template (`/api/v1/users/{id}`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    handler: MethodRouter<AppState>,
}

/// Declares a route: the only way to add one to the API.
fn route<H, T>(method: Method, path: &'static str, access: Access, handler: H) -> ApiRoute
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = match method {
        Method::GET => MethodFilter::GET,
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::PATCH => MethodFilter::PATCH,
        Method::DELETE => MethodFilter::DELETE,
        // Only the methods above are used in the table; anything else would be a typo that the
        // matrix test catches, since the route would not answer its declared method.
        _ => MethodFilter::GET,
    };
    let handler =
        on(filter, handler).layer(axum::middleware::from_fn_with_state(access, rbac::guard));
    ApiRoute {
        method,
        path,
        access,
        handler,
    }
}

const VIEWER: Access = Access::Role(Role::Viewer);
const ANALYST: Access = Access::Role(Role::Analyst);
const ADMIN: Access = Access::Role(Role::Admin);
const OWNER: Access = Access::Role(Role::Owner);

/// Every `/api/v1` route with its minimum role.
pub fn routes() -> Vec<ApiRoute> {
    use Method as M;
    vec![
        // The API's own description.
        route(
            M::GET,
            "/api/v1/openapi.json",
            Access::Public,
            openapi::openapi,
        ),
        // Authentication and the caller's own account.
        route(M::POST, "/api/v1/auth/login", Access::Public, auth::login),
        route(M::POST, "/api/v1/auth/logout", VIEWER, auth::logout),
        route(M::GET, "/api/v1/auth/me", VIEWER, auth::me),
        route(M::GET, "/api/v1/auth/api-keys", VIEWER, auth::list_keys),
        route(M::POST, "/api/v1/auth/api-keys", VIEWER, auth::create_key),
        route(
            M::DELETE,
            "/api/v1/auth/api-keys/{id}",
            VIEWER,
            auth::revoke_key,
        ),
        // The caller's own TOTP MFA.
        route(M::GET, "/api/v1/auth/mfa", VIEWER, mfa::status),
        route(M::POST, "/api/v1/auth/mfa/enroll", VIEWER, mfa::enroll),
        route(M::POST, "/api/v1/auth/mfa/confirm", VIEWER, mfa::confirm),
        route(M::POST, "/api/v1/auth/mfa/disable", VIEWER, mfa::disable),
        // Single sign-on (OpenID Connect): browser redirects, so both are public.
        route(
            M::GET,
            "/api/v1/auth/oidc/login",
            Access::Public,
            oidc::login,
        ),
        route(
            M::GET,
            "/api/v1/auth/oidc/callback",
            Access::Public,
            oidc::callback,
        ),
        // Who must use MFA.
        route(
            M::GET,
            "/api/v1/settings/mfa-policy",
            ADMIN,
            mfa::get_policy,
        ),
        route(
            M::PUT,
            "/api/v1/settings/mfa-policy",
            ADMIN,
            mfa::put_policy,
        ),
        // User management.
        route(M::GET, "/api/v1/users", ADMIN, users::list),
        route(M::POST, "/api/v1/users", ADMIN, users::create),
        route(M::GET, "/api/v1/users/{id}", ADMIN, users::get),
        route(M::PATCH, "/api/v1/users/{id}", ADMIN, users::update),
        route(
            M::POST,
            "/api/v1/users/{id}/reset-password",
            ADMIN,
            users::reset_password,
        ),
        route(
            M::POST,
            "/api/v1/users/{id}/reset-mfa",
            ADMIN,
            users::reset_mfa,
        ),
        route(M::POST, "/api/v1/users/{id}/unlock", ADMIN, users::unlock),
        route(
            M::POST,
            "/api/v1/users/{id}/transfer-ownership",
            OWNER,
            users::transfer_ownership,
        ),
        // The audit log.
        route(M::GET, "/api/v1/audit", ANALYST, audit::list),
        route(M::GET, "/api/v1/audit/verify", ANALYST, audit::verify),
        // The fleet: inventory, findings, feeds (issue 7).
        route(M::GET, "/api/v1/overview", VIEWER, fleet::overview),
        route(M::GET, "/api/v1/devices", VIEWER, fleet::devices),
        route(M::GET, "/api/v1/devices/{id}", VIEWER, fleet::device),
        route(
            M::DELETE,
            "/api/v1/devices/{id}",
            ADMIN,
            fleet::delete_device,
        ),
        route(M::PUT, "/api/v1/devices/{id}/tags", ADMIN, fleet::set_tags),
        route(
            M::GET,
            "/api/v1/devices/{id}/packages",
            VIEWER,
            fleet::device_packages,
        ),
        route(
            M::GET,
            "/api/v1/devices/{id}/findings",
            VIEWER,
            fleet::device_findings,
        ),
        route(M::GET, "/api/v1/packages", VIEWER, fleet::packages),
        route(M::GET, "/api/v1/runtimes", VIEWER, fleet::runtimes),
        route(
            M::GET,
            "/api/v1/runtimes/summary",
            VIEWER,
            fleet::runtime_summary,
        ),
        route(M::GET, "/api/v1/scans", VIEWER, fleet::scans),
        route(M::GET, "/api/v1/diagnostics", ANALYST, fleet::diagnostics),
        route(M::GET, "/api/v1/findings", VIEWER, fleet::findings),
        route(M::GET, "/api/v1/advisories/{id}", VIEWER, fleet::advisory),
        route(M::GET, "/api/v1/suppressions", VIEWER, fleet::suppressions),
        route(
            M::POST,
            "/api/v1/suppressions",
            ANALYST,
            fleet::create_suppression,
        ),
        route(
            M::DELETE,
            "/api/v1/suppressions/{id}",
            ANALYST,
            fleet::delete_suppression,
        ),
        route(M::GET, "/api/v1/feeds", VIEWER, fleet::feeds),
        route(M::POST, "/api/v1/feeds/sync", ADMIN, fleet::sync),
        route(M::PUT, "/api/v1/feeds/settings", ADMIN, fleet::put_settings),
    ]
}

/// `(method, path, access)` of every route, for tests and documentation.
pub fn route_table() -> Vec<(Method, &'static str, Access)> {
    routes()
        .into_iter()
        .map(|r| (r.method, r.path, r.access))
        .collect()
}

/// The `/api/v1` router: every declared route behind the authentication middleware.
pub fn router(state: AppState) -> Router<AppState> {
    let mut r = Router::new();
    for route in routes() {
        r = r.route(route.path, route.handler);
    }
    r.layer(axum::middleware::from_fn_with_state(
        state,
        crate::auth::middleware::authenticate,
    ))
}

/// A failure of an API handler; each variant has exactly one status (ARCHITECTURE.md §16).
#[derive(Debug, thiserror::Error)]
pub enum ApiFailure {
    /// 400 with an optional field path.
    #[error("{detail}")]
    BadRequest {
        /// What is wrong.
        detail: String,
        /// Where.
        field: Option<String>,
    },
    /// 401: not signed in, or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: signed in but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 401: the password was right, but MFA is on and no code was sent.
    #[error("{0}")]
    MfaRequired(String),
    /// 401: the MFA code is wrong, expired or already used.
    #[error("{0}")]
    InvalidTotpCode(String),
    /// 403: the MFA policy requires this user to enroll before anything else.
    #[error(
        "your role requires multi-factor authentication: enroll first (POST /api/v1/auth/mfa/enroll, then /api/v1/auth/mfa/confirm)"
    )]
    MfaEnrollmentRequired,
    /// 403: a cookie write from another site.
    #[error(
        "cross-site request refused: writes with the session cookie must come from this site (or use an Authorization header)"
    )]
    Csrf,
    /// 402: a management write while the license is invalid or expired (read-only mode).
    #[error("{0}")]
    ReadOnly(String),
    /// 404, also for objects the caller may not see.
    #[error("{0}")]
    NotFound(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 429 with `Retry-After`.
    #[error("{detail}")]
    TooManyRequests {
        /// What was limited.
        detail: String,
        /// When to try again.
        retry_after: Duration,
    },
    /// 501: a configured-off feature.
    #[error("{0}")]
    NotImplemented(String),
    /// 503.
    #[error("{0}")]
    Unavailable(String),
    /// 500; the detail is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiFailure {
    /// A 400 naming a field.
    pub fn field(field: &str, detail: impl Into<String>) -> Self {
        ApiFailure::BadRequest {
            detail: detail.into(),
            field: Some(field.to_owned()),
        }
    }
}

impl From<StoreError> for ApiFailure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiFailure::NotFound(m),
            StoreError::Conflict(m) => ApiFailure::Conflict(m),
            StoreError::Invalid(m) => ApiFailure::BadRequest {
                detail: m,
                field: None,
            },
            StoreError::Unavailable(m) => {
                ApiFailure::Unavailable(format!("database unavailable: {m}"))
            }
            other => ApiFailure::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiFailure::BadRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiFailure::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiFailure::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiFailure::MfaRequired(_) => (StatusCode::UNAUTHORIZED, "mfa_required"),
            ApiFailure::InvalidTotpCode(_) => (StatusCode::UNAUTHORIZED, "invalid_totp_code"),
            ApiFailure::MfaEnrollmentRequired => (StatusCode::FORBIDDEN, "mfa_enrollment_required"),
            ApiFailure::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            ApiFailure::ReadOnly(_) => (StatusCode::PAYMENT_REQUIRED, "license_read_only"),
            ApiFailure::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiFailure::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiFailure::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiFailure::NotImplemented(_) => (StatusCode::NOT_IMPLEMENTED, "not_implemented"),
            ApiFailure::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiFailure::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        };
        if let ApiFailure::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        let field = match &self {
            ApiFailure::BadRequest { field, .. } => field.clone(),
            _ => None,
        };
        let body = ErrorBody {
            error: code.to_owned(),
            detail: self.to_string(),
            field,
        };
        let mut resp = (status, Json(body)).into_response();
        if let ApiFailure::TooManyRequests { retry_after, .. } = &self {
            let secs = retry_after.as_secs().max(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

/// The store, or 503 while the database has not been reached yet.
pub fn store(state: &AppState) -> Result<&sentari_store::Store, ApiFailure> {
    state
        .store()
        .ok_or_else(|| ApiFailure::Unavailable("the database is not reachable yet".into()))
}

/// The authentication runtime, or 503 before start-up finished.
pub fn auth(state: &AppState) -> Result<&crate::auth::AuthRuntime, ApiFailure> {
    state
        .auth()
        .ok_or_else(|| ApiFailure::Unavailable("authentication is not ready yet".into()))
}

/// A JSON body, with serde's message turned into a 400 (instead of axum's plain-text 422).
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiFailure;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiFailure> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(e) => Err(ApiFailure::BadRequest {
                detail: e.body_text(),
                field: None,
            }),
        }
    }
}

/// Query parameters that a handler's query type does not name. Every `/api/v1` query type
/// collects them (`#[serde(flatten)] unknown: UnknownParams`, declared last) so that
/// [`ApiQuery`] can refuse them: a list that silently ignored a misspelt filter (`device=`
/// for `device_id=`) would answer with the whole fleet, which reads as a real result.
#[derive(Debug, Default, serde::Deserialize)]
pub struct UnknownParams(std::collections::BTreeMap<String, String>);

/// A query type of the REST API: it says which parameters it did not recognise.
pub trait QueryParams {
    /// The parameters left over after the type's own fields took theirs.
    fn unknown(&self) -> &UnknownParams;
}

/// Implements [`QueryParams`] for query types whose leftover parameters are in `unknown`.
macro_rules! query_params {
    ($($t:ty),+ $(,)?) => {
        $(impl $crate::http::api::QueryParams for $t {
            fn unknown(&self) -> &$crate::http::api::UnknownParams {
                &self.unknown
            }
        })+
    };
}
pub(crate) use query_params;

/// The query string of an API request, with every problem answered as a JSON 400 naming the
/// parameter: a malformed or repeated parameter (axum's own `Query` would answer in plain
/// text), and a parameter the endpoint does not know.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + QueryParams,
{
    type Rejection = ApiFailure;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiFailure> {
        let Query(v) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiFailure::BadRequest {
                detail: e.body_text(),
                field: None,
            })?;
        if let Some(name) = v.unknown().0.keys().next() {
            return Err(ApiFailure::field(
                name,
                format!(
                    "unknown query parameter `{name}`; GET /api/v1/openapi.json lists the parameters of each path"
                ),
            ));
        }
        Ok(ApiQuery(v))
    }
}
