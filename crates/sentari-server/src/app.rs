//! Starting and stopping the long-running roles: `serve`, `api`, `worker`, `beat`.
//!
//! Start-up order matters to operators: everything that can be validated is validated before
//! anything is created on disk (so a typo never leaves a half-made data directory), listeners
//! are bound before the database is reached (so health can say "database unreachable" instead
//! of the port being closed), and the process prints where it listens and where its data and
//! logs are. A stop (SIGTERM/SIGINT) closes the listeners, lets requests and jobs finish within
//! the shutdown timeout, and exits 0.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use sentari_store::redact_url;
use sentari_store::{ProcessInfo, Store, StoreOptions};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError, Paths};
use crate::jobs::handlers::{HandlerSettings, Registry};
use crate::jobs::{scheduler, worker};
use crate::state::AppState;
use crate::{http, logging, secrets};

/// Which parts of the server a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything in one process.
    Serve,
    /// Web/API (and later the agent gateway) only.
    Api,
    /// Job worker only.
    Worker,
    /// Scheduler only.
    Beat,
}

impl Role {
    /// The role's name as shown by `sentari status`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Serve => "serve",
            Role::Api => "api",
            Role::Worker => "worker",
            Role::Beat => "beat",
        }
    }
    fn http(self) -> bool {
        matches!(self, Role::Serve | Role::Api)
    }
    fn worker(self) -> bool {
        matches!(self, Role::Serve | Role::Worker)
    }
    fn beat(self) -> bool {
        matches!(self, Role::Serve | Role::Beat)
    }
}

/// Why a role could not start; `exit_code` says what the process returns.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The secret key is missing or weak (production) or its file is unusable.
    #[error(transparent)]
    Secret(#[from] secrets::SecretError),
    /// The data or log directory cannot be used.
    #[error("{what} {path} is not usable: {reason}")]
    Directory {
        /// `data directory` or `log directory`.
        what: &'static str,
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// Logging could not be set up.
    #[error(transparent)]
    Logging(#[from] logging::LoggingError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bootstrap owner settings are invalid (a weak password, say).
    #[error(transparent)]
    Bootstrap(#[from] crate::auth::bootstrap::BootstrapError),
    /// The server failed while running.
    #[error("server error: {0}")]
    Serve(#[source] std::io::Error),
    /// The listeners' TLS material is unusable.
    #[error("TLS: {0}")]
    Tls(String),
}

impl StartError {
    /// 2 for configuration problems the operator must fix, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            StartError::Config(_)
            | StartError::Secret(_)
            | StartError::Directory { .. }
            | StartError::Tls(_)
            | StartError::Bootstrap(_) => 2,
            _ => 1,
        }
    }
}

/// Checks that `dir` exists as a writable directory or can be created, without creating it.
fn check_dir(what: &'static str, dir: &Path) -> Result<(), StartError> {
    let fail = |reason: String| StartError::Directory {
        what,
        path: dir.display().to_string(),
        reason,
    };
    if dir.exists() {
        let meta = std::fs::metadata(dir).map_err(|e| fail(e.to_string()))?;
        if !meta.is_dir() {
            return Err(fail("it exists and is not a directory".into()));
        }
        std::fs::read_dir(dir).map_err(|e| fail(format!("cannot be read: {e}")))?;
        if meta.permissions().readonly() {
            return Err(fail("it is read-only".into()));
        }
        return Ok(());
    }
    // Walk up to the first existing ancestor: it must be a directory we can write into.
    let mut cur = dir.parent();
    while let Some(p) = cur {
        if p.as_os_str().is_empty() {
            break;
        }
        if p.exists() {
            let meta = std::fs::metadata(p).map_err(|e| fail(e.to_string()))?;
            if !meta.is_dir() {
                return Err(fail(format!("{} is not a directory", p.display())));
            }
            if meta.permissions().readonly() {
                return Err(fail(format!("{} is read-only", p.display())));
            }
            break;
        }
        cur = p.parent();
    }
    Ok(())
}

/// Creates a directory with owner-only access and proves it is writable.
fn make_dir(what: &'static str, dir: &Path) -> Result<(), StartError> {
    let fail = |reason: String| StartError::Directory {
        what,
        path: dir.display().to_string(),
        reason,
    };
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o750);
    b.create(dir).map_err(|e| fail(e.to_string()))?;
    let probe = dir.join(".write-probe");
    std::fs::write(&probe, b"ok").map_err(|e| fail(format!("cannot be written: {e}")))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Everything validated and prepared before a role starts its tasks.
pub struct Prepared {
    /// The configuration.
    pub config: Config,
    /// Derived paths.
    pub paths: Paths,
    /// The master secret.
    pub secret: secrets::SecretKey,
    /// Log writers; keep alive for the life of the process.
    pub _logs: logging::LogGuards,
}

/// Validates configuration and directories, then creates them and starts logging.
pub fn prepare(config: Config) -> Result<Prepared, StartError> {
    secrets::check_production(&config)?;
    // A weak bootstrap password stops the start before anything is created.
    crate::auth::bootstrap::plan(&config.auth, false)?;
    let paths = config.paths();
    check_dir("data directory", &paths.data_dir)?;
    check_dir("log directory", &paths.log_dir)?;
    make_dir("data directory", &paths.data_dir)?;
    make_dir("log directory", &paths.log_dir)?;
    let logs = logging::init(&config, &paths.log_dir, true)?;
    let secret = secrets::resolve(&config, &paths.data_dir)?;
    Ok(Prepared {
        config,
        paths,
        secret,
        _logs: logs,
    })
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { what, addr, source })
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Connects and migrates, retrying while the database is unreachable, until `stop`.
async fn connect_with_retry(config: &Config, url: &str, stop: &CancellationToken) -> Option<Store> {
    let opts = StoreOptions {
        max_connections: config.db_max_connections,
        slow_query_threshold: Duration::from_millis(config.slow_query_ms),
        // Every long-lived role writes (the gateway stores uploads, workers ingest), and
        // each checkpoints from its own task rather than inside its writers' commits.
        background_wal_checkpoint: true,
        ..StoreOptions::default()
    };
    let mut delay = Duration::from_millis(500);
    loop {
        let attempt = async {
            let store = Store::connect(url, &opts).await?;
            store.migrate().await?;
            Ok::<Store, sentari_store::StoreError>(store)
        };
        match attempt.await {
            Ok(s) => return Some(s),
            Err(e) => {
                tracing::error!(database = %redact_url(url), error = %e, "database unavailable; retrying in {:?}", delay);
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// Runs a long-lived role until a stop signal. Returns once everything has stopped.
pub async fn run(role: Role, prepared: Prepared) -> Result<(), StartError> {
    let Prepared {
        config,
        paths,
        secret,
        _logs,
    } = prepared;
    let metrics_handle = http::metrics::install_recorder();
    let state = AppState::new(config.clone(), metrics_handle);
    state.set_auth(crate::auth::AuthRuntime::new(
        &config.auth,
        &secret,
        !config.http_tls.0,
    )?);
    let pki = if role.http() {
        Some(crate::pki::setup::prepare(&config, &paths, &secret, &state).await?)
    } else {
        None
    };
    let stop = CancellationToken::new();
    let process_id = crate::jobs::process_id(role.name());

    // Bind first: a port conflict is reported before any background work starts.
    let http_listener = if role.http() {
        Some(bind("web/API", config.http_bind).await?)
    } else {
        None
    };
    let agent_listener = match &pki {
        Some(p) if p.agent_tls.is_some() => Some(bind("agent gateway", config.agent_bind).await?),
        _ => None,
    };
    let metrics_listener = if config.metrics_enabled {
        match bind("metrics", config.metrics_bind).await {
            Ok(l) => Some(l),
            Err(e) if !role.http() => {
                tracing::warn!(error = %e, "metrics listener not started");
                None
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };

    println!("Sentari {} ({})", crate::VERSION, role.name());
    if let Some(l) = &http_listener
        && let Ok(a) = l.local_addr()
    {
        let scheme = if pki.as_ref().is_some_and(|p| p.web_tls.is_some()) {
            "https"
        } else {
            "http"
        };
        println!("  web/API:   {scheme}://{a}");
    }
    if let Some(l) = &metrics_listener
        && let Ok(a) = l.local_addr()
    {
        println!("  metrics:   http://{a}/metrics");
    }
    if let Some(l) = &agent_listener
        && let Ok(a) = l.local_addr()
    {
        println!("  agent:     https://{a}");
    }
    println!("  data:      {}", paths.data_dir.display());
    println!("  database:  {}", redact_url(&paths.database_url));
    println!("  logs:      {}", paths.log_dir.display());
    tracing::info!(role = role.name(), version = crate::VERSION, process = %process_id, "Sentari starting");

    let mut tasks = tokio::task::JoinSet::new();
    let graceful = config.shutdown_timeout();
    if role.worker() {
        // This process's workers ingest what its gateway parsed, without parsing it again.
        crate::ingest::handoff::global().enable();
    }
    if role.http() {
        // Only processes that answer requests enforce the license, so only they report it.
        tasks.spawn(crate::license::watch(state.clone(), stop.clone()));
    }

    let web_tls = pki.as_ref().and_then(|p| p.web_tls.clone());
    if let (Some(listener), Some(tls)) = (
        agent_listener,
        pki.as_ref().and_then(|p| p.agent_tls.clone()),
    ) {
        let gw = pki.as_ref().map(|p| p.gateway.clone());
        if let Some(gw) = gw {
            tasks.spawn(crate::tls::serve(
                "agent gateway",
                listener,
                tls,
                http::agent::router(gw),
                stop.clone(),
                graceful,
            ));
        }
    }
    if let Some(listener) = http_listener {
        let app = http::router(state.clone());
        if let Some(tls) = web_tls {
            tasks.spawn(crate::tls::serve(
                "web/API",
                listener,
                tls,
                app,
                stop.clone(),
                graceful,
            ));
        } else {
            let s = stop.clone();
            tasks.spawn(async move {
                let r = axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await;
                if let Err(e) = r {
                    tracing::error!(error = %e, "web/API listener failed");
                }
            });
        }
    }
    if let Some(listener) = metrics_listener {
        let app = http::metrics::router(state.clone());
        let s = stop.clone();
        tasks.spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await;
        });
    }

    // Background: reach the database, then start the worker and scheduler.
    {
        let state = state.clone();
        let stop = stop.clone();
        let config = config.clone();
        let url = paths.database_url.clone();
        let process_id = process_id.clone();
        tasks.spawn(async move {
            let Some(store) = connect_with_retry(&config, &url, &stop).await else {
                return;
            };
            tracing::info!(database = %redact_url(&url), "database ready; migrations applied");
            // The owner exists before the process reports ready, so a client that waits for
            // readiness can sign in at once.
            if let Ok(plan) = crate::auth::bootstrap::plan(&config.auth, role == Role::Serve) {
                let params = crate::auth::password::HashParams::new(config.auth.argon2_memory_kib);
                if let Err(e) = crate::auth::bootstrap::run(&store, plan, params).await {
                    tracing::error!(error = %e, "bootstrap owner not created");
                }
            }
            state.set_store(store.clone());
            let mut inner = tokio::task::JoinSet::new();
            inner.spawn(crate::jobs::wal_checkpoint::run(
                store.clone(),
                stop.clone(),
            ));
            inner.spawn(process_heartbeat(
                store.clone(),
                process_id.clone(),
                role,
                stop.clone(),
            ));
            if role.worker() {
                let settings = Arc::new(HandlerSettings {
                    job_retention: Duration::from_secs(config.job_retention_hours * 3600),
                    feeds: crate::feeds::sync::FeedSettings::from_config(&config),
                });
                let opts = worker::WorkerOptions {
                    worker_id: process_id.clone(),
                    queues: Vec::new(),
                    concurrency: config.worker_concurrency,
                    lease: Duration::from_secs(config.job_lease_s),
                    backoff_base: Duration::from_secs(config.job_backoff_s),
                    idle_poll: Duration::from_millis(250),
                    shutdown_timeout: config.shutdown_timeout(),
                };
                inner.spawn(worker::run(
                    store.clone(),
                    Registry::builtin(),
                    settings,
                    opts,
                    stop.clone(),
                ));
                inner.spawn(crate::jobs::advisory_stats::run(
                    store.clone(),
                    stop.clone(),
                ));
                inner.spawn(crate::jobs::table_maintenance::run(
                    store.clone(),
                    stop.clone(),
                ));
                inner.spawn(crate::jobs::suppression_expiry::run(
                    store.clone(),
                    stop.clone(),
                ));
            }
            if role.beat() {
                inner.spawn(scheduler::run(
                    store.clone(),
                    Duration::from_secs(1),
                    stop.clone(),
                ));
            }
            while inner.join_next().await.is_some() {}
        });
    }

    shutdown_signal().await;
    tracing::info!(
        "stop requested: finishing in-flight requests and jobs (up to {:?})",
        graceful
    );
    stop.cancel();
    // The worker has its own bound; the extra second lets it record outcomes after it.
    let drained = tokio::time::timeout(graceful + Duration::from_secs(1), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("shutdown timeout reached; exiting with work still in flight");
        tasks.abort_all();
    }
    if let Some(store) = state.store() {
        let _ = store.remove_process(&process_id).await;
        store.close().await;
    }
    tracing::info!("Sentari stopped");
    Ok(())
}

/// Registers this process and refreshes its heartbeat for `sentari status`.
async fn process_heartbeat(store: Store, id: String, role: Role, stop: CancellationToken) {
    let now = OffsetDateTime::now_utc();
    let info = ProcessInfo {
        id: id.clone(),
        host: crate::jobs::hostname(),
        pid: i64::from(std::process::id()),
        role: role.name().to_owned(),
        version: crate::VERSION.to_owned(),
        started_at: now,
        last_heartbeat: now,
    };
    if let Err(e) = store.register_process(&info).await {
        tracing::warn!(error = %e, "could not register process");
    }
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
        if let Err(e) = store.heartbeat_process(&id).await {
            tracing::warn!(error = %e, "process heartbeat failed");
            let _ = store.register_process(&info).await;
        }
    }
}

/// Applies migrations and reports the status (`sentari migrate`).
pub async fn migrate(config: &Config) -> Result<String, sentari_store::StoreError> {
    let paths = config.paths();
    if paths.database_url.starts_with("sqlite:") {
        // An embedded database needs its directory; create it like `serve` would.
        let _ = std::fs::create_dir_all(&paths.data_dir);
    }
    let store = Store::connect(&paths.database_url, &StoreOptions::default()).await?;
    store.migrate().await?;
    let st = store.migration_status().await?;
    store.close().await;
    Ok(format!(
        "migrations applied: {}/{} ({})",
        st.applied,
        st.known,
        redact_url(&paths.database_url)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_in_the_way_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("file");
        std::fs::write(&f, "x").unwrap();
        assert!(check_dir("data directory", &f).is_err());
        assert!(check_dir("data directory", &f.join("sub")).is_err());
        assert!(check_dir("data directory", &dir.path().join("new/deeper")).is_ok());
    }
}
