//! Several workers draining one queue: every job runs exactly once and none is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sentari_store::testing::TestDb;
use sentari_store::{JobState, NewJob, Store, StoreOptions};
use serde_json::json;
use tokio::sync::Mutex;
use uuid::Uuid;

const JOBS: usize = 10_000;

/// Enqueues `jobs` jobs, then lets `workers` concurrent workers, each with its own pool like a
/// separate `sentari worker` process, claim in batches and complete one by one. Records every
/// run of every job and checks that each ran exactly once.
async fn drain(db: &TestDb, workers: usize, jobs: usize) {
    let s = db.store();
    for chunk in (0..jobs).collect::<Vec<_>>().chunks(2_000) {
        let batch = chunk
            .iter()
            .map(|i| NewJob::new("noop", json!({ "n": i })).priority((*i % 3) as i32))
            .collect();
        s.enqueue_many(batch).await.unwrap();
    }
    let runs: Arc<Mutex<HashMap<Uuid, u32>>> = Arc::default();
    let completed = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..workers {
        let store: Store = db
            .connect_another(&StoreOptions {
                max_connections: 2,
                ..StoreOptions::default()
            })
            .await;
        let runs = runs.clone();
        let completed = completed.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("worker-{w}");
            let mut idle_rounds = 0;
            while completed.load(Ordering::SeqCst) < jobs {
                let claimed = store
                    .claim_jobs(&worker, &[], Duration::from_secs(300), 50)
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    idle_rounds += 1;
                    assert!(idle_rounds < 2_000, "{worker} starved: queue never drained");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                {
                    let mut runs = runs.lock().await;
                    for job in &claimed {
                        *runs.entry(job.id).or_default() += 1;
                    }
                }
                for job in &claimed {
                    assert_eq!(job.attempts, 1, "no job is claimed twice");
                    assert!(store.complete_job(job.id, &worker).await.unwrap());
                    completed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    let all = async {
        for t in tasks {
            t.await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(300), all)
        .await
        .expect("workers drain the queue within five minutes");

    let runs = runs.lock().await;
    assert_eq!(completed.load(Ordering::SeqCst), jobs);
    assert_eq!(runs.len(), jobs, "every job ran");
    assert!(runs.values().all(|&n| n == 1), "no job ran twice");
    let done = s
        .list_jobs(Some("done"), None, (jobs + 10) as u32)
        .await
        .unwrap();
    assert_eq!(done.len(), jobs, "none lost");
    assert!(
        done.iter()
            .all(|j| j.state == JobState::Done && j.attempts == 1 && runs.contains_key(&j.id))
    );
    let stats = s.queue_stats().await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(
        (stats[0].done, stats[0].pending, stats[0].running),
        (jobs as u64, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_workers_drain_10000_jobs_exactly_once() {
    if let Some(db) = TestDb::postgres().await {
        drain(&db, 2, JOBS).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_four_workers_drain_10000_jobs_exactly_once() {
    if let Some(db) = TestDb::postgres().await {
        drain(&db, 4, JOBS).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_workers_drain_10000_jobs_exactly_once() {
    let db = TestDb::sqlite().await;
    drain(&db, 2, JOBS).await;
}
