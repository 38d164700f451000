//! The registry of job kinds and the built-in handlers.
//!
//! A handler is an async function of the job; it must be idempotent, because a job whose worker
//! crashed is claimed again after its lease expires and may run a second time.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sentari_store::{Job, Store};
use tokio_util::sync::CancellationToken;

/// Why a job failed; the message is stored as the job's `last_error`.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The payload does not fit the job kind.
    #[error("invalid payload: {0}")]
    InvalidPayload(String),
    /// The job failed and may succeed on retry.
    #[error("{0}")]
    Failed(String),
    /// A store call failed.
    #[error("store: {0}")]
    Store(#[from] sentari_store::StoreError),
}

/// What a handler gets: the job, the store, and a token cancelled at shutdown.
#[derive(Clone)]
pub struct JobContext {
    /// The claimed job.
    pub job: Job,
    /// The shared store.
    pub store: Store,
    /// Cancelled when the process stops; long handlers should watch it.
    pub shutdown: CancellationToken,
    /// Server settings that handlers need.
    pub settings: Arc<HandlerSettings>,
}

/// The part of the configuration handlers use.
#[derive(Debug, Clone)]
pub struct HandlerSettings {
    /// Finished jobs older than this are pruned by `retention`.
    pub job_retention: Duration,
    /// Where the OSV and EOL feeds come from.
    pub feeds: crate::feeds::sync::FeedSettings,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;
type HandlerFn = Arc<dyn Fn(JobContext) -> BoxFuture + Send + Sync>;

/// Maps job kinds to handlers.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, HandlerFn>,
}

impl Registry {
    /// Registers a handler for a kind.
    pub fn register<F, Fut>(&mut self, kind: &str, f: F)
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        self.handlers
            .insert(kind.to_owned(), Arc::new(move |ctx| Box::pin(f(ctx))));
    }

    /// The handler for a kind, if any.
    pub fn get(&self, kind: &str) -> Option<HandlerFn> {
        self.handlers.get(kind).cloned()
    }

    /// Every registered kind, sorted.
    pub fn kinds(&self) -> Vec<String> {
        let mut k: Vec<String> = self.handlers.keys().cloned().collect();
        k.sort();
        k
    }

    /// The registry with every built-in job kind.
    pub fn builtin() -> Registry {
        let mut r = Registry::default();
        r.register(RETENTION, retention);
        r.register(DIAGNOSTIC, diagnostic);
        r.register(crate::ingest::INGEST_SCAN, crate::ingest::ingest_scan);
        r.register(
            crate::feeds::sync::OSV_SYNC,
            crate::feeds::sync::osv_sync_job,
        );
        r.register(
            crate::feeds::sync::EOL_SYNC,
            crate::feeds::sync::eol_sync_job,
        );
        r.register(DAILY, daily);
        r
    }
}

/// Prunes finished jobs older than the retention window.
pub const RETENTION: &str = "retention";
/// Operator round-trip check: optionally sleeps, optionally fails on purpose.
pub const DIAGNOSTIC: &str = "diagnostic";

/// Daily upkeep of date-dependent fleet data: runtime EOL status (`eol_soon` moves with the
/// calendar) and the day's runtime counts for the Runtime trend.
pub const DAILY: &str = "fleet_daily";

async fn retention(ctx: JobContext) -> Result<(), JobError> {
    let cutoff = time::OffsetDateTime::now_utc() - ctx.settings.job_retention;
    let n = ctx.store.prune_finished_jobs(cutoff).await?;
    tracing::info!(pruned = n, "retention: pruned finished jobs");
    Ok(())
}

async fn daily(ctx: JobContext) -> Result<(), JobError> {
    let n = crate::ingest::eol::refresh_runtime_status(&ctx.store).await?;
    let today = crate::feeds::sync::today_string();
    let cycles = ctx.store.snapshot_runtimes(&today).await?;
    tracing::info!(runtimes = n, cycles, "daily fleet upkeep done");
    Ok(())
}

/// `{"sleep_ms": N, "fail": "message"}`: lets operators (`sentari queues ping`) and tests check
/// that workers pick up, run, retry and bury jobs, without touching any real data.
async fn diagnostic(ctx: JobContext) -> Result<(), JobError> {
    let p = &ctx.job.payload;
    let sleep_ms = match p.get("sleep_ms") {
        None | Some(serde_json::Value::Null) => 0,
        Some(v) => v.as_u64().ok_or_else(|| {
            JobError::InvalidPayload("sleep_ms must be a non-negative integer".into())
        })?,
    };
    if sleep_ms > 0 {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(sleep_ms.min(3_600_000))) => {}
            _ = ctx.shutdown.cancelled() => return Err(JobError::Failed("interrupted by shutdown".into())),
        }
    }
    if let Some(msg) = p.get("fail").and_then(|v| v.as_str()) {
        return Err(JobError::Failed(msg.to_owned()));
    }
    tracing::info!(job = %ctx.job.id, attempts = ctx.job.attempts, "diagnostic job completed");
    Ok(())
}
