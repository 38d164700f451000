//! Job queue semantics, on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::LEASE;
use sentari_store::testing::TestDb;
use sentari_store::{FailOutcome, JobState, NewJob, PurgeFilter, PurgeState, StoreError};
use serde_json::json;
use time::OffsetDateTime;

conformance!(
    enqueue_claim_complete,
    payload_round_trips,
    unique_key_dedups_unfinished_jobs,
    claims_by_priority_then_run_at,
    future_jobs_wait,
    claim_respects_queue_filter_and_limit,
    expired_lease_is_reclaimed_by_another_worker,
    expired_lease_on_last_attempt_goes_dead,
    heartbeat_keeps_the_lease,
    fail_backs_off_then_dies_with_last_error,
    fail_on_a_lost_lease_is_a_conflict,
    purge_dry_run_then_real,
    prune_finished_jobs_by_age,
    retry_dead_job_resets_attempts,
    list_jobs_filters,
    enqueue_many_in_one_transaction,
    complete_jobs_in_a_batch,
    queue_stats_report_depth_and_age,
    invalid_jobs_are_rejected,
);

async fn enqueue_claim_complete(db: &TestDb) {
    let s = db.store();
    let id = s
        .enqueue(NewJob::new("correlate_scan", json!({"scan": 1})))
        .await
        .unwrap()
        .expect("a new job gets an id");
    assert_eq!(id.get_version_num(), 7, "job ids are UUIDv7");
    let row = s.get_job(id).await.unwrap().unwrap();
    assert_eq!(row.state, JobState::Pending);
    assert_eq!(row.attempts, 0);
    assert_eq!(row.queue, "default");
    assert_eq!(row.max_attempts, 5);

    let jobs = s.claim_jobs("w1", &[], LEASE, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.id, id);
    assert_eq!(job.kind, "correlate_scan");
    assert_eq!(job.attempts, 1);
    let row = s.get_job(id).await.unwrap().unwrap();
    assert_eq!(row.state, JobState::Running);
    assert_eq!(row.locked_by.as_deref(), Some("w1"));
    assert!(row.locked_until.unwrap() > OffsetDateTime::now_utc() + Duration::from_secs(50));

    assert!(s.claim_jobs("w2", &[], LEASE, 10).await.unwrap().is_empty());
    assert!(!s.complete_job(id, "w2").await.unwrap(), "not w2's job");
    assert!(s.complete_job(id, "w1").await.unwrap());
    assert!(!s.complete_job(id, "w1").await.unwrap(), "already done");
    let row = s.get_job(id).await.unwrap().unwrap();
    assert_eq!(row.state, JobState::Done);
    assert!(row.finished_at.is_some());
    assert!(row.locked_until.is_none());
    assert!(s.claim_jobs("w1", &[], LEASE, 10).await.unwrap().is_empty());
}

async fn payload_round_trips(db: &TestDb) {
    let s = db.store();
    let payload = json!({
        "nested": {"list": [1, 2.5, null, true], "text": "ünïcødé ✓ \"quoted\""},
        "big": 9_007_199_254_740_991u64,
    });
    let run_at = OffsetDateTime::from_unix_timestamp_nanos(1_600_000_000_123_456_789).unwrap();
    let id = s
        .enqueue(
            NewJob::new("k", payload.clone())
                .queue("q")
                .priority(-3)
                .run_at(run_at)
                .max_attempts(2)
                .unique_key("key-1"),
        )
        .await
        .unwrap()
        .unwrap();
    let row = s.get_job(id).await.unwrap().unwrap();
    assert_eq!(row.payload, payload);
    assert_eq!(row.queue, "q");
    assert_eq!(row.priority, -3);
    assert_eq!(row.max_attempts, 2);
    assert_eq!(row.unique_key.as_deref(), Some("key-1"));
    // Timestamps keep microseconds exactly and drop the nanoseconds below them.
    assert_eq!(row.run_at.unix_timestamp_nanos(), 1_600_000_000_123_456_000);
    let claimed = s.claim_jobs("w", &[], LEASE, 1).await.unwrap();
    assert_eq!(claimed[0].payload, payload);
    assert_eq!(claimed[0].run_at, row.run_at);
    assert_eq!(claimed[0].created_at, row.created_at);
}

async fn unique_key_dedups_unfinished_jobs(db: &TestDb) {
    let s = db.store();
    let job = || NewJob::new("osv_sync", json!({})).unique_key("osv_sync");
    let first = s.enqueue(job()).await.unwrap();
    assert!(first.is_some());
    assert_eq!(s.enqueue(job()).await.unwrap(), None, "pending blocks");
    let claimed = s.claim_jobs("w", &[], LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(s.enqueue(job()).await.unwrap(), None, "running blocks");
    assert!(s.complete_job(claimed[0].id, "w").await.unwrap());
    let again = s.enqueue(job()).await.unwrap();
    assert!(again.is_some(), "a finished job does not block a new one");
    assert_ne!(again, first);
    // Jobs without a key never deduplicate.
    assert!(
        s.enqueue(NewJob::new("osv_sync", json!({})))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.enqueue(NewJob::new("osv_sync", json!({})))
            .await
            .unwrap()
            .is_some()
    );
}

async fn claims_by_priority_then_run_at(db: &TestDb) {
    let s = db.store();
    let base = OffsetDateTime::now_utc() - Duration::from_secs(600);
    let enqueue = |name: &'static str, prio: i32, age: u64| {
        s.enqueue(
            NewJob::new(name, json!({}))
                .priority(prio)
                .run_at(base + Duration::from_secs(age)),
        )
    };
    enqueue("low-old", 0, 0).await.unwrap();
    enqueue("high-new", 10, 300).await.unwrap();
    enqueue("mid", 5, 100).await.unwrap();
    enqueue("high-old", 10, 10).await.unwrap();
    enqueue("low-new", 0, 200).await.unwrap();

    let first = s.claim_jobs("w", &[], LEASE, 2).await.unwrap();
    let kinds: Vec<_> = first.iter().map(|j| j.kind.as_str()).collect();
    assert_eq!(kinds, ["high-old", "high-new"]);
    let rest = s.claim_jobs("w", &[], LEASE, 10).await.unwrap();
    let kinds: Vec<_> = rest.iter().map(|j| j.kind.as_str()).collect();
    assert_eq!(kinds, ["mid", "low-old", "low-new"]);
}

async fn future_jobs_wait(db: &TestDb) {
    let s = db.store();
    let soon = OffsetDateTime::now_utc() + Duration::from_millis(700);
    s.enqueue(NewJob::new("later", json!({})).run_at(soon).priority(100))
        .await
        .unwrap();
    s.enqueue(NewJob::new("now", json!({}))).await.unwrap();
    let claimed = s.claim_jobs("w", &[], LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].kind, "now");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let claimed = s.claim_jobs("w", &[], LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].kind, "later");
}

async fn claim_respects_queue_filter_and_limit(db: &TestDb) {
    let s = db.store();
    for q in ["a", "a", "b", "c"] {
        s.enqueue(NewJob::new(format!("job-{q}"), json!({})).queue(q))
            .await
            .unwrap();
    }
    let only_b = s
        .claim_jobs("w", &["b".to_owned()], LEASE, 10)
        .await
        .unwrap();
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0].queue, "b");
    let one_a = s
        .claim_jobs("w", &["a".to_owned(), "zzz".to_owned()], LEASE, 1)
        .await
        .unwrap();
    assert_eq!(one_a.len(), 1);
    assert_eq!(one_a[0].queue, "a");
    assert!(s.claim_jobs("w", &[], LEASE, 0).await.unwrap().is_empty());
    let all = s.claim_jobs("w", &[], LEASE, 10).await.unwrap();
    let mut queues: Vec<_> = all.iter().map(|j| j.queue.clone()).collect();
    queues.sort();
    assert_eq!(queues, ["a", "c"]);
}

async fn expired_lease_is_reclaimed_by_another_worker(db: &TestDb) {
    let s = db.store();
    let id = s
        .enqueue(NewJob::new("k", json!({})))
        .await
        .unwrap()
        .unwrap();
    let first = s
        .claim_jobs("crashy", &[], Duration::from_millis(200), 10)
        .await
        .unwrap();
    assert_eq!(first[0].attempts, 1);
    assert!(
        s.claim_jobs("w2", &[], LEASE, 10).await.unwrap().is_empty(),
        "the lease still holds"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = s.claim_jobs("w2", &[], LEASE, 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, id);
    assert_eq!(second[0].attempts, 2, "the lost attempt counts");
    assert!(!s.heartbeat_job(id, "crashy", LEASE).await.unwrap());
    assert!(
        !s.complete_job(id, "crashy").await.unwrap(),
        "the first worker lost its lease"
    );
    let row = s.get_job(id).await.unwrap().unwrap();
    assert_eq!(row.locked_by.as_deref(), Some("w2"));
    assert!(row.last_error.unwrap().contains("lease expired"));
    assert!(s.complete_job(id, "w2").await.unwrap());
}

async fn expired_lease_on_last_attempt_goes_dead(db: &TestDb) {
    let s = db.store();
    let id = s
        .enqueue(NewJob::new("k", json!({})).max_attempts(1))
        .await
        .unwrap()
        .unwrap();
    s.claim_jobs("crashy", &[], Duration::from_millis(100), 10)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(s.claim_jobs("w2", &[], LEASE, 10).await.unwrap().is_empty());
    let row = s.get_job(id).await.unwrap().unwrap();
    assert_eq!(row.state, JobState::Dead);
    assert_eq!(row.attempts, 1);
    assert!(row.finished_at.is_some());
    assert!(row.last_error.unwrap().contains("crashy"));
    let stats = s.queue_stats().await.unwrap();
    assert_eq!(stats[0].dead, 1);
    assert!(
        stats[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("lease expired")
    );
}

async fn heartbeat_keeps_the_lease(db: &TestDb) {
    let s = db.store();
    let id = s
        .enqueue(NewJob::new("k", json!({})))
        .await
        .unwrap()
        .unwrap();
    let lease = Duration::from_millis(300);
    s.claim_jobs("w1", &[], lease, 1).await.unwrap();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(s.heartbeat_job(id, "w1", lease).await.unwrap());
        assert!(s.claim_jobs("w2", &[], LEASE, 1).await.unwrap().is_empty());
    }
    assert!(!s.heartbeat_job(id, "w2", lease).await.unwrap());
    assert!(s.complete_job(id, "w1").await.unwrap());
    assert!(
        !s.heartbeat_job(id, "w1", lease).await.unwrap(),
        "done jobs have no lease"
    );
}

async fn fail_backs_off_then_dies_with_last_error(db: &TestDb) {
    let s = db.store();
    let base = Duration::from_millis(100);
    let id = s
        .enqueue(
            NewJob::new("deliver", json!({}))
                .queue("notify")
                .max_attempts(3),
        )
        .await
        .unwrap()
        .unwrap();

    let job = s.claim_jobs("w", &[], LEASE, 1).await.unwrap().remove(0);
    let before = OffsetDateTime::now_utc();
    let FailOutcome::Retrying { next_run_at } = s
        .fail_job(job.id, "w", "smtp: connection refused", base)
        .await
        .unwrap()
    else {
        panic!("the first failure retries");
    };
    let delay = next_run_at - before;
    assert!(
        delay >= Duration::from_millis(95) && delay <= Duration::from_millis(250),
        "{delay}"
    );
    let row = s.get_job(id).await.unwrap().unwrap();
    assert_eq!(row.state, JobState::Pending);
    assert!(row.is_retrying());
    assert_eq!(row.last_error.as_deref(), Some("smtp: connection refused"));
    assert!(row.locked_by.is_none());
    assert!(
        s.claim_jobs("w", &[], LEASE, 1).await.unwrap().is_empty(),
        "backing off"
    );
    let stats = s.queue_stats().await.unwrap();
    assert_eq!((stats[0].retrying, stats[0].pending), (1, 0));
    assert_eq!(
        stats[0].last_error.as_deref(),
        Some("smtp: connection refused")
    );

    tokio::time::sleep(Duration::from_millis(150)).await;
    let job = s.claim_jobs("w", &[], LEASE, 1).await.unwrap().remove(0);
    assert_eq!(job.attempts, 2);
    let before = OffsetDateTime::now_utc();
    let FailOutcome::Retrying { next_run_at } = s
        .fail_job(job.id, "w", "smtp: timeout", base)
        .await
        .unwrap()
    else {
        panic!("the second failure retries");
    };
    let delay = next_run_at - before;
    assert!(
        delay >= Duration::from_millis(195) && delay <= Duration::from_millis(400),
        "doubled: {delay}"
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    let job = s.claim_jobs("w", &[], LEASE, 1).await.unwrap().remove(0);
    assert_eq!(job.attempts, 3);
    assert_eq!(
        s.fail_job(job.id, "w", "smtp: 550 mailbox unavailable", base)
            .await
            .unwrap(),
        FailOutcome::Dead
    );
    let row = s.get_job(id).await.unwrap().unwrap();
    assert_eq!(row.state, JobState::Dead);
    assert!(row.finished_at.is_some());
    let stats = s.queue_stats().await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(
        (stats[0].queue.as_str(), stats[0].kind.as_str()),
        ("notify", "deliver")
    );
    assert_eq!(
        (stats[0].dead, stats[0].retrying, stats[0].running),
        (1, 0, 0)
    );
    assert_eq!(
        stats[0].last_error.as_deref(),
        Some("smtp: 550 mailbox unavailable")
    );
    assert!(s.claim_jobs("w", &[], LEASE, 1).await.unwrap().is_empty());
}

async fn fail_on_a_lost_lease_is_a_conflict(db: &TestDb) {
    let s = db.store();
    let id = s
        .enqueue(NewJob::new("k", json!({})))
        .await
        .unwrap()
        .unwrap();
    s.claim_jobs("w1", &[], LEASE, 1).await.unwrap();
    let err = s
        .fail_job(id, "w2", "nope", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert!(s.complete_job(id, "w1").await.unwrap());
    let err = s
        .fail_job(id, "w1", "too late", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
}

async fn purge_dry_run_then_real(db: &TestDb) {
    let s = db.store();
    for _ in 0..3 {
        s.enqueue(NewJob::new("x", json!({})).queue("a"))
            .await
            .unwrap();
    }
    s.enqueue(NewJob::new("y", json!({})).queue("a"))
        .await
        .unwrap();
    s.enqueue(NewJob::new("x", json!({})).queue("b"))
        .await
        .unwrap();
    // One running job and one dead job, which a pending purge must not touch.
    let dead = s
        .enqueue(
            NewJob::new("x", json!({}))
                .queue("c")
                .max_attempts(1)
                .priority(9),
        )
        .await
        .unwrap()
        .unwrap();
    let running = s
        .enqueue(NewJob::new("x", json!({})).queue("c").priority(8))
        .await
        .unwrap()
        .unwrap();
    let claimed = s
        .claim_jobs("w", &["c".to_owned()], LEASE, 2)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    s.fail_job(dead, "w", "boom", Duration::from_secs(1))
        .await
        .unwrap();

    let a_x = PurgeFilter {
        queue: Some("a".into()),
        kind: Some("x".into()),
        state: PurgeState::Pending,
    };
    assert_eq!(s.purge_jobs(&a_x, true).await.unwrap(), 3);
    assert_eq!(
        s.purge_jobs(&a_x, true).await.unwrap(),
        3,
        "dry run deletes nothing"
    );
    assert_eq!(s.purge_jobs(&a_x, false).await.unwrap(), 3);
    assert_eq!(s.purge_jobs(&a_x, true).await.unwrap(), 0);

    let all_pending = PurgeFilter {
        queue: None,
        kind: None,
        state: PurgeState::Pending,
    };
    assert_eq!(s.purge_jobs(&all_pending, true).await.unwrap(), 2);
    assert_eq!(s.purge_jobs(&all_pending, false).await.unwrap(), 2);
    let all_dead = PurgeFilter {
        state: PurgeState::Dead,
        ..all_pending
    };
    assert_eq!(s.purge_jobs(&all_dead, false).await.unwrap(), 1);
    assert!(s.get_job(dead).await.unwrap().is_none());
    assert_eq!(
        s.get_job(running).await.unwrap().unwrap().state,
        JobState::Running,
        "running jobs are never purged"
    );
}

async fn prune_finished_jobs_by_age(db: &TestDb) {
    let s = db.store();
    for _ in 0..3 {
        s.enqueue(NewJob::new("x", json!({}))).await.unwrap();
    }
    let claimed = s.claim_jobs("w", &[], LEASE, 2).await.unwrap();
    for j in &claimed {
        assert!(s.complete_job(j.id, "w").await.unwrap());
    }
    let hour_ago = OffsetDateTime::now_utc() - Duration::from_secs(3600);
    assert_eq!(s.prune_finished_jobs(hour_ago).await.unwrap(), 0);
    let later = OffsetDateTime::now_utc() + Duration::from_secs(1);
    assert_eq!(s.prune_finished_jobs(later).await.unwrap(), 2);
    let left = s.list_jobs(None, None, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].state, JobState::Pending);
}

async fn retry_dead_job_resets_attempts(db: &TestDb) {
    let s = db.store();
    let id = s
        .enqueue(NewJob::new("x", json!({})).max_attempts(1).unique_key("u"))
        .await
        .unwrap()
        .unwrap();
    s.claim_jobs("w", &[], LEASE, 1).await.unwrap();
    assert_eq!(
        s.fail_job(id, "w", "bad", Duration::from_secs(1))
            .await
            .unwrap(),
        FailOutcome::Dead
    );
    assert!(
        !s.retry_dead_job(uuid::Uuid::now_v7()).await.unwrap(),
        "unknown id"
    );
    assert!(s.retry_dead_job(id).await.unwrap());
    assert!(!s.retry_dead_job(id).await.unwrap(), "no longer dead");
    let row = s.get_job(id).await.unwrap().unwrap();
    assert_eq!((row.state, row.attempts), (JobState::Pending, 0));
    assert!(row.finished_at.is_none());
    let job = s.claim_jobs("w", &[], LEASE, 1).await.unwrap().remove(0);
    assert_eq!((job.id, job.attempts), (id, 1));
    s.fail_job(id, "w", "bad again", Duration::from_secs(1))
        .await
        .unwrap();

    // A dead job cannot come back while a new job with its unique key is unfinished.
    s.enqueue(NewJob::new("x", json!({})).unique_key("u"))
        .await
        .unwrap()
        .unwrap();
    let err = s.retry_dead_job(id).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
}

async fn list_jobs_filters(db: &TestDb) {
    let s = db.store();
    for kind in ["a", "a", "b"] {
        s.enqueue(NewJob::new(kind, json!({}))).await.unwrap();
    }
    let claimed = s.claim_jobs("w", &[], LEASE, 1).await.unwrap().remove(0);
    s.fail_job(claimed.id, "w", "e", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(s.list_jobs(None, None, 100).await.unwrap().len(), 3);
    assert_eq!(s.list_jobs(None, None, 2).await.unwrap().len(), 2);
    assert_eq!(
        s.list_jobs(Some("pending"), None, 100).await.unwrap().len(),
        3
    );
    let retrying = s.list_jobs(Some("retrying"), None, 100).await.unwrap();
    assert_eq!(retrying.len(), 1);
    assert_eq!(retrying[0].id, claimed.id);
    assert_eq!(
        s.list_jobs(Some("pending"), Some("b"), 100)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        s.list_jobs(Some("running"), None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let newest_first = s.list_jobs(None, None, 100).await.unwrap();
    assert!(
        newest_first
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at)
    );
    assert!(matches!(
        s.list_jobs(Some("exploded"), None, 1).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(s.get_job(uuid::Uuid::now_v7()).await.unwrap().is_none());
}

async fn enqueue_many_in_one_transaction(db: &TestDb) {
    let s = db.store();
    let jobs: Vec<_> = (0..500)
        .map(|i| NewJob::new("bulk", json!({ "i": i })))
        .chain([
            NewJob::new("bulk", json!({})).unique_key("dup"),
            NewJob::new("bulk", json!({})).unique_key("dup"),
        ])
        .collect();
    assert_eq!(s.enqueue_many(jobs).await.unwrap(), 501);
    assert_eq!(s.enqueue_many(Vec::new()).await.unwrap(), 0);
    // An invalid job rejects the whole batch before anything is written.
    let bad = vec![NewJob::new("ok", json!({})), NewJob::new("", json!({}))];
    assert!(matches!(
        s.enqueue_many(bad).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(s.list_jobs(None, None, 1000).await.unwrap().len(), 501);
}

async fn complete_jobs_in_a_batch(db: &TestDb) {
    let s = db.store();
    for i in 0..5 {
        s.enqueue(NewJob::new("x", json!({ "i": i })))
            .await
            .unwrap();
    }
    let jobs = s.claim_jobs("w", &[], LEASE, 10).await.unwrap();
    let ids: Vec<_> = jobs.iter().map(|j| j.id).collect();
    assert_eq!(s.complete_jobs(&ids[..3], "other").await.unwrap(), 0);
    assert_eq!(s.complete_jobs(&ids[..3], "w").await.unwrap(), 3);
    assert_eq!(s.complete_jobs(&ids, "w").await.unwrap(), 2);
    assert_eq!(s.complete_jobs(&[], "w").await.unwrap(), 0);
    assert_eq!(s.list_jobs(Some("done"), None, 10).await.unwrap().len(), 5);
}

async fn queue_stats_report_depth_and_age(db: &TestDb) {
    let s = db.store();
    assert!(s.queue_stats().await.unwrap().is_empty());
    let old = OffsetDateTime::now_utc() - Duration::from_secs(120);
    s.enqueue(
        NewJob::new("osv_sync", json!({}))
            .queue("feeds")
            .run_at(old),
    )
    .await
    .unwrap();
    s.enqueue(NewJob::new("osv_sync", json!({})).queue("feeds"))
        .await
        .unwrap();
    s.enqueue(
        NewJob::new("osv_sync", json!({}))
            .queue("feeds")
            .run_at(OffsetDateTime::now_utc() + Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    s.enqueue(NewJob::new("deliver", json!({})).queue("notify"))
        .await
        .unwrap();
    let stats = s.queue_stats().await.unwrap();
    assert_eq!(stats.len(), 2);
    let feeds = stats.iter().find(|q| q.queue == "feeds").unwrap();
    assert_eq!(feeds.kind, "osv_sync");
    assert_eq!(feeds.pending, 3);
    assert_eq!(feeds.waiting(), 3);
    let age = feeds.oldest_pending_age.unwrap();
    assert!(
        age >= Duration::from_secs(119) && age < Duration::from_secs(180),
        "{age:?}"
    );
    assert!(feeds.last_error.is_none());
    let claimed = s
        .claim_jobs("w", &["notify".to_owned()], LEASE, 5)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let stats = s.queue_stats().await.unwrap();
    let notify = stats.iter().find(|q| q.queue == "notify").unwrap();
    assert_eq!((notify.pending, notify.running), (0, 1));
    assert!(notify.oldest_pending_age.is_none());
}

async fn invalid_jobs_are_rejected(db: &TestDb) {
    let s = db.store();
    for job in [
        NewJob::new("", json!({})),
        NewJob::new("k", json!({})).queue(" "),
        NewJob::new("k", json!({})).max_attempts(0),
    ] {
        assert!(matches!(s.enqueue(job).await, Err(StoreError::Invalid(_))));
    }
}
