//! The worker loop: claims due jobs, runs their handlers with a renewed lease, and records
//! success, retry or death.
//!
//! Claims are batched up to the free concurrency slots, so a busy queue costs one round trip per
//! batch rather than per job. While a handler runs, a heartbeat renews the lease every third of
//! its length; if the process dies, the lease lapses and another worker claims the job again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sentari_store::{FailOutcome, Job, Store};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::handlers::{HandlerSettings, JobContext, Registry};

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// `locked_by` value and process id.
    pub worker_id: String,
    /// Queues to take jobs from; empty means all.
    pub queues: Vec<String>,
    /// Jobs run at once.
    pub concurrency: u32,
    /// Lease per claim, renewed while the job runs.
    pub lease: Duration,
    /// First retry delay.
    pub backoff_base: Duration,
    /// Sleep between polls of an empty queue.
    pub idle_poll: Duration,
    /// How long a stop waits for running jobs.
    pub shutdown_timeout: Duration,
}

/// Runs until `stop` is cancelled, then waits up to `shutdown_timeout` for running jobs.
pub async fn run(
    store: Store,
    registry: Registry,
    settings: Arc<HandlerSettings>,
    opts: WorkerOptions,
    stop: CancellationToken,
) {
    let abort = CancellationToken::new();
    let mut running: JoinSet<()> = JoinSet::new();
    let mut backoff_on_error = Duration::from_millis(500);
    tracing::info!(worker = %opts.worker_id, kinds = ?registry.kinds(), "worker started");
    let notify = store.job_notify();
    loop {
        if stop.is_cancelled() {
            break;
        }
        // Registered before claiming, so a job enqueued by this process between the claim and
        // the wait below still wakes the loop at once.
        let enqueued = notify.notified();
        tokio::pin!(enqueued);
        enqueued.as_mut().enable();
        let free = opts.concurrency.saturating_sub(running.len() as u32);
        let mut claimed = 0usize;
        if free > 0 {
            match store
                .claim_jobs(&opts.worker_id, &opts.queues, opts.lease, free)
                .await
            {
                Ok(jobs) => {
                    backoff_on_error = Duration::from_millis(500);
                    claimed = jobs.len();
                    for job in jobs {
                        let ctx = JobContext {
                            job,
                            store: store.clone(),
                            shutdown: abort.clone(),
                            settings: settings.clone(),
                        };
                        running.spawn(execute(ctx, registry.clone(), opts.clone()));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim jobs; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff_on_error) => {}
                        _ = stop.cancelled() => break,
                    }
                    backoff_on_error = (backoff_on_error * 2).min(Duration::from_secs(10));
                    continue;
                }
            }
        }
        if claimed > 0 && running.len() < opts.concurrency as usize {
            // More may be waiting: claim again at once.
            continue;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(_) = running.join_next(), if !running.is_empty() => {}
            _ = tokio::time::sleep(opts.idle_poll) => {}
            _ = &mut enqueued => {}
        }
    }
    if !running.is_empty() {
        tracing::info!(
            running = running.len(),
            "worker stopping: waiting for running jobs"
        );
        let deadline = tokio::time::sleep(opts.shutdown_timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                next = running.join_next() => if next.is_none() { break },
                _ = &mut deadline => {
                    tracing::warn!(left = running.len(), "shutdown timeout: interrupting running jobs; they will be retried");
                    abort.cancel();
                    running.abort_all();
                    break;
                }
            }
        }
    }
    tracing::info!(worker = %opts.worker_id, "worker stopped");
}

async fn execute(ctx: JobContext, registry: Registry, opts: WorkerOptions) {
    let job: Job = ctx.job.clone();
    let store = ctx.store.clone();
    let started = Instant::now();
    let result = match registry.get(&job.kind) {
        None => Err(format!("no handler for job kind {:?}", job.kind)),
        Some(handler) => {
            let heartbeat = heartbeat(store.clone(), job.id, opts.worker_id.clone(), opts.lease);
            tokio::select! {
                r = handler(ctx) => r.map_err(|e| e.to_string()),
                lost = heartbeat => Err(lost),
            }
        }
    };
    let elapsed = started.elapsed();
    metrics::histogram!("sentari_job_duration_seconds", "kind" => job.kind.clone())
        .record(elapsed.as_secs_f64());
    match result {
        Ok(()) => {
            metrics::counter!("sentari_jobs_total", "kind" => job.kind.clone(), "outcome" => "done").increment(1);
            match store.complete_job(job.id, &opts.worker_id).await {
                Ok(true) => {
                    tracing::debug!(job = %job.id, kind = %job.kind, ms = elapsed.as_millis() as u64, "job done")
                }
                Ok(false) => {
                    tracing::warn!(job = %job.id, kind = %job.kind, "job finished after its lease was lost; another worker owns it")
                }
                Err(e) => {
                    tracing::error!(job = %job.id, error = %e, "could not record job completion")
                }
            }
        }
        Err(message) => match store
            .fail_job(job.id, &opts.worker_id, &message, opts.backoff_base)
            .await
        {
            Ok(FailOutcome::Retrying { next_run_at }) => {
                metrics::counter!("sentari_jobs_total", "kind" => job.kind.clone(), "outcome" => "retry").increment(1);
                tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = %message, retry_at = %next_run_at, "job failed; will retry");
            }
            Ok(FailOutcome::Dead) => {
                metrics::counter!("sentari_jobs_total", "kind" => job.kind.clone(), "outcome" => "dead").increment(1);
                tracing::error!(job = %job.id, kind = %job.kind, attempts = job.attempts, error = %message, "job failed for the last time; moved to dead");
            }
            Err(e) => tracing::error!(job = %job.id, error = %e, "could not record job failure"),
        },
    }
}

/// Renews the lease until the job ends; resolves only if the lease is lost.
async fn heartbeat(store: Store, id: uuid::Uuid, worker: String, lease: Duration) -> String {
    let every = (lease / 3).max(Duration::from_millis(200));
    loop {
        tokio::time::sleep(every).await;
        match store.heartbeat_job(id, &worker, lease).await {
            Ok(true) => {}
            Ok(false) => return "lease lost: the job was claimed by another worker".to_owned(),
            // A transient database error is not a lost lease; the next beat may succeed.
            Err(e) => tracing::warn!(job = %id, error = %e, "job heartbeat failed"),
        }
    }
}
