//! The Prometheus listener (`127.0.0.1:9464/metrics` by default).
//!
//! It is a separate listener so that metrics are never exposed on the public port by accident.
//! Queue depth is read from the database at scrape time, so every process reports the same,
//! current numbers without a background poller.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Installs the global metrics recorder. Safe to call once per process.
pub fn install_recorder() -> Option<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets(&[
            0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ])
        .ok()?
        .install_recorder()
        .ok()
}

/// The router of the metrics listener.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(state)
}

async fn render(State(state): State<AppState>) -> (StatusCode, String) {
    let Some(handle) = state.metrics_handle() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not installed\n".to_owned(),
        );
    };
    if let Some(store) = state.store()
        && let Ok(stats) = store.queue_stats().await
    {
        for s in stats {
            for (st, n) in [
                ("pending", s.pending),
                ("running", s.running),
                ("retrying", s.retrying),
                ("dead", s.dead),
            ] {
                let labels = [
                    ("queue", s.queue.clone()),
                    ("kind", s.kind.clone()),
                    ("state", st.to_owned()),
                ];
                metrics::gauge!("sentari_queue_depth", &labels).set(n as f64);
            }
        }
    }
    (StatusCode::OK, handle.render())
}
