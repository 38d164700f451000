//! The gateway's failures and their status codes, in the one error-body shape of §16.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sentari_proto::error::ErrorBody;
use sentari_store::StoreError;

/// A gateway failure; each variant has exactly one status code.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// 400, with the path of the offending field when there is one.
    #[error("{detail}")]
    BadRequest {
        /// What is wrong.
        detail: String,
        /// Where.
        field: Option<String>,
    },
    /// 401: no or unknown credential.
    #[error("{detail}")]
    Unauthorized {
        /// Machine-readable code.
        code: &'static str,
        /// Sentence.
        detail: String,
    },
    /// 403: a known credential that may not be used.
    #[error("{detail}")]
    Forbidden {
        /// Machine-readable code.
        code: &'static str,
        /// Sentence.
        detail: String,
    },
    /// 409.
    #[error("{detail}")]
    Conflict {
        /// Machine-readable code.
        code: &'static str,
        /// Sentence.
        detail: String,
    },
    /// 413: over the byte cap.
    #[error("the request body exceeds the limit of {0} bytes")]
    TooLarge(u64),
    /// 415: a `Content-Encoding` other than gzip, zstd or identity.
    #[error("unsupported Content-Encoding; use gzip, zstd or identity")]
    UnsupportedEncoding,
    /// 429 with `Retry-After`.
    #[error("too many attempts; retry later")]
    TooManyRequests(Duration),
    /// 402: registration while the license is invalid or expired (read-only mode).
    #[error("{0}")]
    ReadOnly(String),
    /// 503: the database or the CA is unavailable.
    #[error("{0}")]
    Unavailable(String),
    /// 500; the detail is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl GatewayError {
    /// A 400 about one field.
    pub fn field(field: &str, detail: impl Into<String>) -> Self {
        GatewayError::BadRequest {
            detail: detail.into(),
            field: Some(field.to_owned()),
        }
    }
}

impl From<StoreError> for GatewayError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(d) => {
                GatewayError::Unavailable(format!("database unavailable: {d}"))
            }
            StoreError::Conflict(d) => GatewayError::Conflict {
                code: "conflict",
                detail: d,
            },
            StoreError::Invalid(d) => GatewayError::BadRequest {
                detail: d,
                field: None,
            },
            other if other.is_unavailable() => {
                GatewayError::Unavailable(format!("database unavailable: {other}"))
            }
            other => GatewayError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            GatewayError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            GatewayError::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, *code),
            GatewayError::Forbidden { code, .. } => (StatusCode::FORBIDDEN, *code),
            GatewayError::Conflict { code, .. } => (StatusCode::CONFLICT, *code),
            GatewayError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            GatewayError::UnsupportedEncoding => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding")
            }
            GatewayError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            GatewayError::ReadOnly(_) => (StatusCode::PAYMENT_REQUIRED, "license_read_only"),
            GatewayError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            GatewayError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        };
        if let GatewayError::Internal(d) = &self {
            tracing::error!(error = %d, "agent gateway request failed");
        }
        let field = match &self {
            GatewayError::BadRequest { field, .. } => field.clone(),
            _ => None,
        };
        let body = ErrorBody {
            error: code.to_owned(),
            detail: self.to_string(),
            field,
        };
        let mut resp = (status, Json(body)).into_response();
        if let GatewayError::TooManyRequests(d) = &self
            && let Ok(v) = HeaderValue::from_str(&d.as_secs().max(1).to_string())
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}
