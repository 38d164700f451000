//! Route access levels and the guard that enforces them.
//!
//! Every `/api/v1` route is registered in `http::api::routes()` together with an [`Access`];
//! the registration helper wraps the handler in [`guard`], so a route cannot exist without a
//! declared minimum role, and the route × role matrix test reads the same table.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sentari_core::auth::Role;

use crate::auth::Principal;
use crate::http::api::ApiFailure;
use crate::license;
use crate::logging::SECURITY;
use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (login).
    Public,
    /// Signed-in callers whose role is at least this one.
    Role(Role),
}

impl Access {
    /// Whether a caller acting with `role` (or anonymous, `None`) passes.
    pub fn allows(self, role: Option<Role>) -> bool {
        match self {
            Access::Public => true,
            Access::Role(min) => role.is_some_and(|r| r >= min),
        }
    }
}

/// The per-route middleware: 401 without a principal, 403 below the minimum role, 402 for a
/// management write in read-only license mode (`crate::license::management_write`).
pub async fn guard(State(access): State<Access>, req: Request, next: Next) -> Response {
    let Access::Role(min) = access else {
        return next.run(req).await;
    };
    let principal = req.extensions().get::<Principal>().cloned();
    match principal {
        None => ApiFailure::Unauthorized(
            "sign in first: this endpoint needs a session or an API key".into(),
        )
        .into_response(),
        Some(p) if p.role < min => {
            tracing::warn!(
                target: SECURITY,
                event = "permission_denied",
                user = %p.user.email,
                role = %p.role,
                required = %min,
                method = %req.method(),
                path = %req.uri().path(),
                "permission denied"
            );
            ApiFailure::Forbidden(format!("this action needs the {min} role or higher"))
                .into_response()
        }
        Some(p) => {
            let state = req.extensions().get::<AppState>();
            if let Some(detail) = state
                .and_then(|s| license::refusal(s, req.method(), req.uri().path(), &p.user.email))
            {
                return ApiFailure::ReadOnly(detail).into_response();
            }
            next.run(req).await
        }
    }
}
