//! The JSON error body and its mapping from failures to status codes (ARCHITECTURE.md §16).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sentari_proto::error::ErrorBody;

/// A failure a handler reports; each variant has exactly one status code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404: the object does not exist or the caller may not see it.
    #[error("{0}")]
    NotFound(String),
    /// 400: malformed or invalid input.
    #[error("{detail}")]
    BadRequest {
        /// Human-readable explanation.
        detail: String,
        /// Path of the offending field, when there is one.
        field: Option<String>,
    },
    /// 503: a dependency (database, CA) is unavailable right now.
    #[error("{0}")]
    Unavailable(String),
    /// 500: anything else; the detail is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        if let ApiError::Internal(source) = &self {
            // Log the whole chain once, here where it is handled.
            let mut chain = source.to_string();
            let mut cur = source.source();
            while let Some(s) = cur {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                cur = s.source();
            }
            tracing::error!(error = %chain, "request failed");
        }
        let field = match &self {
            ApiError::BadRequest { field, .. } => field.clone(),
            _ => None,
        };
        let body = ErrorBody {
            error: code.to_owned(),
            detail: self.to_string(),
            field,
        };
        (status, Json(body)).into_response()
    }
}

/// Fallback for paths no route matches.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no such endpoint: {}", uri.path()))
}

/// Fallback for a known path with the wrong method.
pub async fn method_not_allowed() -> Response {
    let body = ErrorBody::new(
        "method_not_allowed",
        "this endpoint does not accept that method",
    );
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}
