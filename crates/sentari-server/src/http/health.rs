//! `/api/health`, `/api/live` and `/api/ready` (ARCHITECTURE.md §12).
//!
//! Health checks the database and the job queue on every call, with a short timeout, so a load
//! balancer sees an outage within one probe and the recovery as soon as the database returns.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sentari_proto::health::HealthBody;

use crate::state::AppState;

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Database and queue reachability.
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthBody>) {
    let mut unreachable = Vec::new();
    match state.store() {
        None => unreachable.push("database".to_owned()),
        Some(store) => {
            let db = tokio::time::timeout(PROBE_TIMEOUT, store.ping()).await;
            if !matches!(db, Ok(Ok(()))) {
                unreachable.push("database".to_owned());
            } else {
                let q =
                    tokio::time::timeout(PROBE_TIMEOUT, store.list_jobs(Some("pending"), None, 1))
                        .await;
                if !matches!(q, Ok(Ok(_))) {
                    unreachable.push("queue".to_owned());
                }
            }
        }
    }
    let ok = unreachable.is_empty();
    let mut warnings = state.warnings();
    if ok && let Some(store) = state.store() {
        warnings.extend(feed_warnings(store).await);
    }
    let body = HealthBody {
        status: if ok { "ok" } else { "degraded" }.to_owned(),
        version: crate::VERSION.to_owned(),
        unreachable,
        warnings,
    };
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}

/// A warning per feed source whose last success is older than three days (or that has only
/// ever failed), so monitoring notices a silently stale vulnerability database.
pub(crate) async fn feed_warnings(store: &sentari_store::Store) -> Vec<String> {
    let Ok(Ok(statuses)) = tokio::time::timeout(PROBE_TIMEOUT, store.feed_statuses()).await else {
        return Vec::new();
    };
    let now = time::OffsetDateTime::now_utc();
    let limit = crate::http::api::fleet::STALE_AFTER.as_secs() as i64;
    statuses
        .into_iter()
        .filter_map(|f| match f.last_success {
            None => Some(format!(
                "feed {} has never synced: {}",
                f.source,
                f.last_error.as_deref().unwrap_or("no successful run yet")
            )),
            Some(t) if (now - t).whole_seconds() > limit => Some(format!(
                "feed {} is stale: last success {} days ago{}",
                f.source,
                (now - t).whole_days(),
                f.last_error
                    .as_deref()
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            )),
            Some(_) => None,
        })
        .collect()
}

/// The process is alive and serving HTTP.
pub async fn live() -> (StatusCode, Json<serde_json::Value>) {
    (StatusCode::OK, Json(serde_json::json!({"status": "ok"})))
}

/// Ready once the database is connected and migrations have been applied.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    if state.is_ready() {
        (StatusCode::OK, Json(serde_json::json!({"status": "ready"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "starting"})),
        )
    }
}
