//! HTTP surface of the server: the web/API router, its middleware and the metrics listener.
//!
//! `api` holds the REST routes, `web` the dashboard, `health` the orchestrator probes, `access` the per-request
//! logging and metrics, and `error` the one JSON error shape every route answers with.

pub mod access;
pub mod agent;
pub mod api;
pub mod error;
pub mod health;
pub mod metrics;
pub mod web;

use std::time::Duration;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

/// Builds the web/API router with every route and middleware.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(health::health))
        .route("/api/live", get(health::live))
        .route("/api/ready", get(health::ready))
        .merge(api::router(state.clone()))
        .merge(web::router(state.clone()))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::access_log,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .with_state(state)
}
