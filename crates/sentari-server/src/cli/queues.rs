//! `sentari queues list|purge|ping|retry`: inspecting and managing the job queues.
//!
//! `purge` shows what it would delete unless given `--yes`, because a purge cannot be undone.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use sentari_store::{JobState, NewJob, PurgeFilter, PurgeState};

use super::{connect, format_age};
use crate::config::Config;
use crate::jobs::handlers::DIAGNOSTIC;

/// `sentari queues …`
#[derive(Debug, Subcommand)]
pub enum QueuesCommand {
    /// Per queue and job kind: pending, running, retrying, dead, oldest pending age, last error.
    List,
    /// Delete pending or dead jobs (shows what it would delete without --yes).
    Purge(PurgeArgs),
    /// Enqueue a diagnostic job and wait until a worker has run it.
    Ping(PingArgs),
    /// Put a dead job back in the queue.
    Retry {
        /// The job id.
        id: uuid::Uuid,
    },
}

/// Which jobs `purge` deletes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StateArg {
    /// Jobs waiting to run (including those waiting for a retry).
    Pending,
    /// Jobs that failed for the last time.
    Dead,
}

/// Arguments of `queues purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Only this queue.
    #[arg(long)]
    pub queue: Option<String>,
    /// Only this job kind.
    #[arg(long)]
    pub kind: Option<String>,
    /// Which jobs.
    #[arg(long, value_enum, default_value = "pending")]
    pub state: StateArg,
    /// Really delete.
    #[arg(long)]
    pub yes: bool,
}

/// Arguments of `queues ping`.
#[derive(Debug, Args)]
pub struct PingArgs {
    /// Make the job sleep this long, to watch it as running.
    #[arg(long, default_value_t = 0)]
    pub sleep_ms: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout_s: u64,
}

/// Runs a `queues` subcommand.
pub async fn run(config: &Config, cmd: QueuesCommand) -> ExitCode {
    let Some(store) = connect(config).await else {
        return ExitCode::from(1);
    };
    let code = match cmd {
        QueuesCommand::List => list(&store).await,
        QueuesCommand::Purge(a) => purge(&store, a).await,
        QueuesCommand::Ping(a) => ping(&store, a).await,
        QueuesCommand::Retry { id } => match store.retry_dead_job(id).await {
            Ok(true) => {
                println!("job {id} is pending again");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                eprintln!("error: no dead job with id {id}");
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        },
    };
    store.close().await;
    code
}

async fn list(store: &sentari_store::Store) -> ExitCode {
    let stats = match store.queue_stats().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read the queues: {e}");
            return ExitCode::from(1);
        }
    };
    println!(
        "{:<12} {:<20} {:>8} {:>8} {:>9} {:>6} {:>15}  LAST ERROR",
        "QUEUE", "KIND", "PENDING", "RUNNING", "RETRYING", "DEAD", "OLDEST PENDING"
    );
    for s in stats {
        let oldest = s
            .oldest_pending_age
            .map(format_age)
            .unwrap_or_else(|| "-".into());
        let err: String = s
            .last_error
            .as_deref()
            .unwrap_or("-")
            .replace('\n', " ")
            .chars()
            .take(120)
            .collect();
        println!(
            "{:<12} {:<20} {:>8} {:>8} {:>9} {:>6} {:>15}  {}",
            s.queue, s.kind, s.pending, s.running, s.retrying, s.dead, oldest, err
        );
    }
    ExitCode::SUCCESS
}

async fn purge(store: &sentari_store::Store, a: PurgeArgs) -> ExitCode {
    let state = match a.state {
        StateArg::Pending => PurgeState::Pending,
        StateArg::Dead => PurgeState::Dead,
    };
    let filter = PurgeFilter {
        queue: a.queue.clone(),
        kind: a.kind.clone(),
        state,
    };
    let what = format!(
        "{} jobs{}{}",
        match a.state {
            StateArg::Pending => "pending",
            StateArg::Dead => "dead",
        },
        a.queue
            .as_ref()
            .map(|q| format!(" in queue {q}"))
            .unwrap_or_default(),
        a.kind
            .as_ref()
            .map(|k| format!(" of kind {k}"))
            .unwrap_or_default()
    );
    match store.purge_jobs(&filter, !a.yes).await {
        Ok(n) if a.yes => {
            println!("deleted {n} {what}");
            ExitCode::SUCCESS
        }
        Ok(n) => {
            println!("would delete {n} {what}; run again with --yes to delete them");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: purge failed: {e}");
            ExitCode::from(1)
        }
    }
}

async fn ping(store: &sentari_store::Store, a: PingArgs) -> ExitCode {
    let job = NewJob::new(DIAGNOSTIC, serde_json::json!({"sleep_ms": a.sleep_ms}))
        .max_attempts(1)
        .priority(100);
    let start = Instant::now();
    let id = match store.enqueue(job).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            eprintln!("error: the diagnostic job was not enqueued");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("error: cannot enqueue: {e}");
            return ExitCode::from(1);
        }
    };
    let deadline = start + Duration::from_secs(a.timeout_s);
    while Instant::now() < deadline {
        match store.get_job(id).await {
            Ok(Some(row)) if row.state == JobState::Done => {
                println!(
                    "pong: job {id} ran on {} in {} ms end to end",
                    row.locked_by.as_deref().unwrap_or("a worker"),
                    start.elapsed().as_millis()
                );
                return ExitCode::SUCCESS;
            }
            Ok(Some(row)) if row.state == JobState::Dead => {
                eprintln!(
                    "error: job {id} failed: {}",
                    row.last_error.unwrap_or_default()
                );
                return ExitCode::from(1);
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "error: no worker ran job {id} within {} s; is `sentari worker` (or `serve`) running?",
        a.timeout_s
    );
    ExitCode::from(1)
}
