//! Shared state handed to every HTTP handler and background task.
//!
//! The store is set once the database has been reached and migrated; until then handlers see
//! `None` and health reports the database as unreachable instead of the process refusing to
//! start, so an orchestrator can tell "starting" from "dead".

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::PrometheusHandle;
use sentari_store::Store;

use crate::config::Config;

/// Cheap to clone; everything lives behind one `Arc`.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: OnceLock<Store>,
    ready: AtomicBool,
    metrics: Option<PrometheusHandle>,
    warnings: RwLock<Vec<String>>,
    auth: OnceLock<crate::auth::AuthRuntime>,
    feed_warnings: RwLock<Option<(Instant, Vec<String>)>>,
    license: crate::license::License,
}

impl AppState {
    /// State for a process that has not reached its database yet.
    pub fn new(config: Config, metrics: Option<PrometheusHandle>) -> Self {
        // The key is verified once: its signature cannot change while the process runs, and
        // the clock part (expiry) is re-read on every check.
        let license = crate::license::License::from_key(
            config.license_key.as_deref(),
            &crate::license::TrustedKeys::built_in(),
        );
        AppState {
            inner: Arc::new(Inner {
                license,
                config,
                store: OnceLock::new(),
                ready: AtomicBool::new(false),
                metrics,
                warnings: RwLock::new(Vec::new()),
                auth: OnceLock::new(),
                feed_warnings: RwLock::new(None),
            }),
        }
    }

    /// The configuration the process started with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store, once connected.
    pub fn store(&self) -> Option<&Store> {
        self.inner.store.get()
    }

    /// Publishes the connected, migrated store and marks the process ready.
    pub fn set_store(&self, store: Store) {
        let _ = self.inner.store.set(store);
        self.inner.ready.store(true, Ordering::SeqCst);
    }

    /// Whether migrations are applied and the store is usable.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::SeqCst)
    }

    /// The Prometheus handle, when the recorder is installed.
    pub fn metrics_handle(&self) -> Option<&PrometheusHandle> {
        self.inner.metrics.as_ref()
    }

    /// Requests slower than this are reported in `performance.log`.
    pub fn slow_request_threshold(&self) -> Duration {
        Duration::from_millis(self.inner.config.slow_request_ms)
    }

    /// Non-fatal problems shown in `/api/health` and as dashboard banners: those set at start
    /// (the CA degraded) and the license's, read against the clock now.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = self
            .inner
            .warnings
            .read()
            .map(|w| w.clone())
            .unwrap_or_default();
        w.extend(self.inner.license.warning(time::OffsetDateTime::now_utc()));
        w
    }

    /// The configured license, verified at start.
    pub fn license(&self) -> &crate::license::License {
        &self.inner.license
    }

    /// Installs the authentication runtime (once, at start).
    pub fn set_auth(&self, auth: crate::auth::AuthRuntime) {
        let _ = self.inner.auth.set(auth);
    }

    /// The authentication runtime, once installed.
    pub fn auth(&self) -> Option<&crate::auth::AuthRuntime> {
        self.inner.auth.get()
    }

    /// The stale-feed warnings last read, unless older than `max_age` (the dashboard's banner
    /// reads them on every page, so they are cached rather than queried each time).
    pub fn feed_warnings(&self, max_age: Duration) -> Option<Vec<String>> {
        let guard = self.inner.feed_warnings.read().ok()?;
        let (at, w) = guard.as_ref()?;
        (at.elapsed() <= max_age).then(|| w.clone())
    }

    /// The stale-feed warnings last read, however old (empty before the first read).
    pub fn feed_warnings_any(&self) -> Vec<String> {
        self.inner
            .feed_warnings
            .read()
            .ok()
            .and_then(|g| g.as_ref().map(|(_, w)| w.clone()))
            .unwrap_or_default()
    }

    /// Stores freshly read stale-feed warnings.
    pub fn set_feed_warnings(&self, warnings: Vec<String>) {
        if let Ok(mut w) = self.inner.feed_warnings.write() {
            *w = Some((Instant::now(), warnings));
        }
    }

    /// Replaces the list of warnings.
    pub fn set_warnings(&self, warnings: Vec<String>) {
        if let Ok(mut w) = self.inner.warnings.write() {
            *w = warnings;
        }
    }
}
