//! The job queue benchmark: how fast jobs go in, how fast workers claim them, and how many
//! no-op jobs per second the queue moves end to end.
//!
//! The run has two phases so that each number means one thing. First producers enqueue every
//! job (enqueue throughput and per-call latency); then workers, each with its own connection
//! pool like separate `sentari worker` processes, claim in batches and complete the jobs with a
//! no-op handler (claim latency, completion latency, end-to-end jobs/s). Point it at a scratch
//! database: it deletes the pending, dead and done jobs it finds in its queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use sentari_store::{NewJob, PurgeFilter, PurgeState, Store, StoreOptions};

use crate::stats::Samples;

/// Options of `sentari-loadgen queue`.
#[derive(Debug, Clone, Args)]
pub struct QueueArgs {
    /// The database to load (a scratch one). Default: a new SQLite file in a temporary
    /// directory.
    #[arg(long, env = "SENTARI_DATABASE_URL")]
    database_url: Option<String>,
    /// How many jobs to enqueue and drain.
    #[arg(long, default_value_t = 20_000)]
    jobs: usize,
    /// Concurrent workers, each with its own connection pool.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// How many jobs a worker claims at once (`claim_jobs` limit).
    #[arg(long, default_value_t = 100)]
    batch: u32,
    /// Concurrent producers in the enqueue phase.
    #[arg(long, default_value_t = 1)]
    producers: usize,
    /// Jobs per enqueue call: 1 uses `enqueue`, more uses `enqueue_many` (one transaction).
    #[arg(long, default_value_t = 1)]
    enqueue_batch: usize,
    /// How workers report success: one `complete_job` per job, or one `complete_jobs` per
    /// claimed batch.
    #[arg(long, value_enum, default_value_t = Complete::Each)]
    complete: Complete,
    /// Connections per worker (and for the producers' shared pool, this times `producers`).
    #[arg(long, default_value_t = 2)]
    max_connections: u32,
    /// Skip the third phase, where producers and workers run at the same time.
    #[arg(long)]
    no_mixed: bool,
    /// The queue the benchmark's jobs go to.
    #[arg(long, default_value = "loadgen")]
    queue: String,
}

/// How a worker marks its jobs done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Complete {
    /// `complete_job` for every job, as the server's worker loop does.
    Each,
    /// One `complete_jobs` call per claimed batch.
    Batch,
}

const LEASE: Duration = Duration::from_secs(300);

pub async fn run(args: QueueArgs) -> anyhow::Result<()> {
    if args.jobs == 0 || args.workers == 0 || args.producers == 0 || args.batch == 0 {
        bail!("--jobs, --workers, --producers and --batch must be at least 1");
    }
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let url = match &args.database_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", tmp.path().join("loadgen.db").display()),
    };
    let opts = StoreOptions {
        max_connections: args.max_connections * args.producers as u32,
        ..StoreOptions::default()
    };
    let store = Store::connect(&url, &opts).await?;
    store.migrate().await?;
    clean(&store, &args.queue).await?;

    println!("sentari-loadgen queue");
    println!(
        "  database     {} ({})",
        store.display_url(),
        store.backend()
    );
    println!(
        "  jobs {}, workers {}, claim batch {}, producers {}, enqueue batch {}, complete {:?}",
        args.jobs, args.workers, args.batch, args.producers, args.enqueue_batch, args.complete
    );

    let (enqueue_elapsed, enqueue_lat) = enqueue_phase(&store, &args).await?;
    let per_call = if args.enqueue_batch > 1 {
        "enqueue_many call"
    } else {
        "enqueue call"
    };
    println!(
        "enqueue   {:>9.0} jobs/s   ({} jobs in {:.2} s)",
        args.jobs as f64 / enqueue_elapsed.as_secs_f64(),
        args.jobs,
        enqueue_elapsed.as_secs_f64()
    );
    println!(
        "          latency per {per_call}: {}",
        enqueue_lat.summary()
    );

    let drain = drain_phase(&url, &args).await?;
    println!(
        "drain     {:>9.0} jobs/s   ({} jobs in {:.2} s, {} workers)",
        args.jobs as f64 / drain.elapsed.as_secs_f64(),
        args.jobs,
        drain.elapsed.as_secs_f64(),
        args.workers
    );
    println!("          claim latency: {}", drain.claim.summary());
    println!("          complete latency: {}", drain.complete.summary());

    check_drained(&store, &args.queue, args.jobs).await?;

    if !args.no_mixed {
        clean(&store, &args.queue).await?;
        let mixed = mixed_phase(&store, &url, &args).await?;
        println!(
            "end-to-end {:>8.0} jobs/s   ({} jobs enqueued and drained at the same time in {:.2} s)",
            args.jobs as f64 / mixed.elapsed.as_secs_f64(),
            args.jobs,
            mixed.elapsed.as_secs_f64()
        );
        println!(
            "          enqueue-to-done latency: {}",
            mixed.job_latency.summary()
        );
        check_drained(&store, &args.queue, args.jobs).await?;
    }
    clean(&store, &args.queue).await?;
    store.close().await;
    Ok(())
}

/// Fails unless exactly `jobs` jobs of the queue are done and none is left in any other state.
async fn check_drained(store: &Store, queue: &str, jobs: usize) -> anyhow::Result<()> {
    let stats = store.queue_stats().await?;
    let mine = stats.iter().filter(|s| s.queue == queue);
    let done: u64 = mine.clone().map(|s| s.done).sum();
    let left: u64 = mine.map(|s| s.waiting() + s.running + s.dead).sum();
    if done != jobs as u64 || left != 0 {
        bail!(
            "the queue did not drain cleanly: {done} done, {left} still pending, running or dead"
        );
    }
    Ok(())
}

/// Removes what earlier runs left in the benchmark's queue.
async fn clean(store: &Store, queue: &str) -> anyhow::Result<()> {
    for state in [PurgeState::Pending, PurgeState::Dead] {
        let filter = PurgeFilter {
            queue: Some(queue.to_owned()),
            kind: None,
            state,
        };
        store.purge_jobs(&filter, false).await?;
    }
    store
        .prune_finished_jobs(time::OffsetDateTime::now_utc() + Duration::from_secs(1))
        .await?;
    Ok(())
}

fn job(queue: &str, n: usize) -> NewJob {
    NewJob::new("loadgen_noop", serde_json::json!({ "n": n })).queue(queue)
}

async fn enqueue_phase(store: &Store, args: &QueueArgs) -> anyhow::Result<(Duration, Samples)> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..args.producers {
        let store = store.clone();
        let args = args.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Samples::with_capacity(args.jobs / args.producers + 1);
            let mine: Vec<usize> = (p..args.jobs).step_by(args.producers).collect();
            for chunk in mine.chunks(args.enqueue_batch.max(1)) {
                let t = Instant::now();
                if chunk.len() == 1 {
                    store.enqueue(job(&args.queue, chunk[0])).await?;
                } else {
                    let jobs = chunk.iter().map(|&n| job(&args.queue, n)).collect();
                    store.enqueue_many(jobs).await?;
                }
                lat.push(t.elapsed());
            }
            Ok::<_, sentari_store::StoreError>(lat)
        }));
    }
    let mut all = Samples::default();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok((started.elapsed(), all))
}

struct Drain {
    elapsed: Duration,
    claim: Samples,
    complete: Samples,
    /// From a job's `created_at` to its completion (meaningful in the mixed phase).
    job_latency: Samples,
}

/// Opens one pool per worker, before any clock starts, so connection setup is not measured.
async fn worker_stores(url: &str, args: &QueueArgs) -> anyhow::Result<Vec<Store>> {
    let mut stores = Vec::new();
    for _ in 0..args.workers {
        let opts = StoreOptions {
            max_connections: args.max_connections,
            ..StoreOptions::default()
        };
        let store = Store::connect(url, &opts).await?;
        store.ping().await?;
        stores.push(store);
    }
    Ok(stores)
}

/// Runs the workers until `args.jobs` jobs have been completed in total.
async fn run_workers(stores: Vec<Store>, args: &QueueArgs) -> anyhow::Result<Drain> {
    let completed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (w, store) in stores.into_iter().enumerate() {
        let completed = completed.clone();
        let args = args.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("loadgen-{w}");
            let queues = vec![args.queue.clone()];
            let mut claim = Samples::default();
            let mut complete = Samples::default();
            let mut job_latency = Samples::default();
            while completed.load(Ordering::Relaxed) < args.jobs {
                let t = Instant::now();
                let jobs = store
                    .claim_jobs(&worker, &queues, LEASE, args.batch)
                    .await?;
                if jobs.is_empty() {
                    // Another worker holds the last jobs, or producers are behind; wait a bit.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                claim.push(t.elapsed());
                match args.complete {
                    Complete::Each => {
                        for job in &jobs {
                            // The no-op handler: nothing to do but report success.
                            let t = Instant::now();
                            store.complete_job(job.id, &worker).await?;
                            complete.push(t.elapsed());
                        }
                    }
                    Complete::Batch => {
                        let ids: Vec<_> = jobs.iter().map(|j| j.id).collect();
                        let t = Instant::now();
                        store.complete_jobs(&ids, &worker).await?;
                        complete.push(t.elapsed());
                    }
                }
                let now = time::OffsetDateTime::now_utc();
                for job in &jobs {
                    job_latency.push(Duration::try_from(now - job.created_at).unwrap_or_default());
                }
                completed.fetch_add(jobs.len(), Ordering::Relaxed);
            }
            store.close().await;
            Ok::<_, sentari_store::StoreError>((claim, complete, job_latency))
        }));
    }
    let mut drain = Drain {
        elapsed: Duration::ZERO,
        claim: Samples::default(),
        complete: Samples::default(),
        job_latency: Samples::default(),
    };
    for t in tasks {
        let (c, d, l) = t.await??;
        drain.claim.extend(c);
        drain.complete.extend(d);
        drain.job_latency.extend(l);
    }
    drain.elapsed = started.elapsed();
    Ok(drain)
}

async fn drain_phase(url: &str, args: &QueueArgs) -> anyhow::Result<Drain> {
    let stores = worker_stores(url, args).await?;
    run_workers(stores, args).await
}

/// Producers and workers at once: the queue as it runs in production, measured from the first
/// enqueue to the last completion.
async fn mixed_phase(store: &Store, url: &str, args: &QueueArgs) -> anyhow::Result<Drain> {
    let stores = worker_stores(url, args).await?;
    let started = Instant::now();
    let producers = {
        let store = store.clone();
        let args = args.clone();
        tokio::spawn(async move { enqueue_phase(&store, &args).await })
    };
    let mut drain = run_workers(stores, args).await?;
    producers.await??;
    drain.elapsed = started.elapsed();
    Ok(drain)
}
