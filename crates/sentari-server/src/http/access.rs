//! Per-request access logging, request ids, slow-request reporting and HTTP metrics.
//!
//! Every request produces one line in `access.log` with the route *template* (`/api/v1/devices/{id}`),
//! not the raw path, so ids and query strings with secrets never reach the log and metric labels
//! stay bounded. The `X-Request-ID` a proxy sends is kept when it looks sane; otherwise one is
//! generated. Either way it is returned to the caller and appears on every log line of the request.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::logging::{ACCESS, PERFORMANCE};
use crate::state::AppState;

/// The request id header, honoured on input and always set on output.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Accepts a caller's request id only if it is short and printable, so it cannot forge log lines.
fn usable_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| s.to_owned())
}

/// The middleware: wraps the request in a span carrying the request id and logs the outcome.
pub async fn access_log(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(usable_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        req.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "-".to_owned());
    let user_agent = req
        .headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .chars()
        .take(256)
        .collect::<String>();

    let span = tracing::info_span!("request", request_id = %request_id);
    let mut response = next.run(req).instrument(span).await;

    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    let user = response
        .extensions()
        .get::<AuthenticatedUser>()
        .map(|u| u.0.clone())
        .unwrap_or_else(|| "-".to_owned());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    tracing::info!(
        target: ACCESS,
        "{method} {route} {status} {duration_ms:.1}ms ip={ip} user={user} request_id={request_id} ua={user_agent:?}"
    );
    let labels = [
        ("method", method.to_string()),
        ("route", route.clone()),
        ("status", status.to_string()),
    ];
    metrics::counter!("sentari_http_requests_total", &labels).increment(1);
    metrics::histogram!("sentari_http_request_duration_seconds", &labels[..2])
        .record(elapsed.as_secs_f64());
    if elapsed >= state.slow_request_threshold() {
        tracing::warn!(
            target: PERFORMANCE,
            kind = "slow_request",
            method = %method,
            route = %route,
            status,
            duration_ms,
            request_id = %request_id,
            "slow request"
        );
    }
    response
}

/// Set by the authentication layer on the response so the access log can name the user.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser(pub String);
