//! The Prometheus listener (`127.0.0.1:9464/metrics` by default).
//!
//! It is a separate listener so that metrics are never exposed on the public port by accident.
//! Queue depth, fleet counters (devices, open findings by severity, EOL runtimes) and feed ages
//! are read from the database at scrape time (at most once a second), so every process
//! reports the same, current numbers without a background poller.

use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// How long the gauges read from the database stay as they are. A Prometheus scrape comes
/// every 15 s or so and always reads them afresh; a client polling many times a second (the
/// fleet benchmark's load generator polls every few milliseconds for its job counters) gets
/// the in-process counters fresh and these at most this old, instead of making the server
/// query its database hundreds of times a second.
const DB_GAUGES_MAX_AGE: Duration = Duration::from_secs(1);

/// When the database gauges were last read. The recorder is global to the process, and so is
/// this.
static DB_GAUGES_READ: Mutex<Option<Instant>> = Mutex::new(None);

/// True when the database gauges are due for a read; the caller then reads them. Two
/// concurrent scrapes never both read.
fn db_gauges_due() -> bool {
    let mut last = DB_GAUGES_READ.lock().unwrap_or_else(|e| e.into_inner());
    match *last {
        Some(t) if t.elapsed() < DB_GAUGES_MAX_AGE => false,
        _ => {
            *last = Some(Instant::now());
            true
        }
    }
}

async fn render(State(state): State<AppState>) -> (StatusCode, String) {
    let Some(handle) = state.metrics_handle() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not installed\n".to_owned(),
        );
    };
    if db_gauges_due() {
        db_gauges(&state).await;
    }
    (StatusCode::OK, handle.render())
}

/// Queue depths and the fleet gauges, read from the database.
async fn db_gauges(state: &AppState) {
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
    if let Some(store) = state.store() {
        // SQLite scan applies share commits (group commit): their ratio is the batch size.
        if let Some((applies, commits)) = store.scan_apply_commits() {
            metrics::gauge!("sentari_sqlite_scan_applies").set(applies as f64);
            metrics::gauge!("sentari_sqlite_scan_apply_commits").set(commits as f64);
        }
        fleet_gauges(state, store).await;
    }
}

/// Devices, open findings by severity, EOL runtimes and the age of each feed source.
async fn fleet_gauges(state: &AppState, store: &sentari_store::Store) {
    let interval = state.config().agent_scan_interval_s.max(60);
    let now = time::OffsetDateTime::now_utc();
    let overdue_before = now - std::time::Duration::from_secs(interval * 2);
    // The per-device counters only: a scrape must stay cheap at any fleet size, and the
    // overview's distinct versions and advisories are not exported.
    if let Ok(o) = store.fleet_counts(overdue_before).await {
        metrics::gauge!("sentari_devices", "state" => "total").set(o.devices_total as f64);
        metrics::gauge!("sentari_devices", "state" => "active").set(o.devices_active as f64);
        metrics::gauge!("sentari_devices", "state" => "overdue").set(o.devices_overdue as f64);
        for (sev, n) in [
            ("critical", o.findings.critical),
            ("high", o.findings.high),
            ("medium", o.findings.medium),
            ("low", o.findings.low),
            ("unknown", o.findings.unknown),
            ("suppressed", o.findings.suppressed),
        ] {
            metrics::gauge!("sentari_findings_open", "severity" => sev).set(n as f64);
        }
        metrics::gauge!("sentari_runtimes_eol", "status" => "eol_past").set(o.eol_runtimes as f64);
        metrics::gauge!("sentari_runtimes_eol", "status" => "eol_soon")
            .set(o.eol_soon_runtimes as f64);
        metrics::gauge!("sentari_packages_inventoried").set(o.packages_inventoried as f64);
    }
    // Changes to device findings not yet folded into the per-advisory counts of the grouped
    // findings list (it counts those advisories live until then).
    if let Ok(m) = store.advisory_stats_marks().await {
        metrics::gauge!("sentari_advisory_counts_pending").set(m.pending as f64);
    }
    if let Ok(feeds) = store.feed_statuses().await {
        for f in feeds {
            if let Some(t) = f.last_success {
                metrics::gauge!("sentari_feed_age_seconds", "source" => f.source.clone())
                    .set((now - t).whole_seconds().max(0) as f64);
            }
            metrics::gauge!("sentari_feed_records", "source" => f.source)
                .set(f.record_count as f64);
        }
    }
}
