//! Schedules: upsert rules, due selection, and compare-and-swap firing under contention.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use sentari_store::testing::TestDb;
use sentari_store::{NewJob, StoreOptions};
use serde_json::json;
use time::OffsetDateTime;

conformance!(
    upsert_keeps_next_run_unless_cron_changes,
    due_schedules_are_enabled_and_past,
    fire_is_a_compare_and_swap,
    fire_round_trips_sub_microsecond_timestamps,
    three_schedulers_fire_each_tick_once,
);

fn t(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_750_000_000 + secs).unwrap()
}

async fn upsert_keeps_next_run_unless_cron_changes(db: &TestDb) {
    let s = db.store();
    s.upsert_schedule("retention", "0 * * * *", t(3600))
        .await
        .unwrap();
    s.upsert_schedule("osv_sync", "0 2 * * *", t(7200))
        .await
        .unwrap();
    // A restart computes a different next tick for the same cron: the stored one stays.
    s.upsert_schedule("retention", "0 * * * *", t(99_999))
        .await
        .unwrap();
    let all = s.list_schedules().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].name, "osv_sync");
    let retention = &all[1];
    assert_eq!(
        (retention.cron.as_str(), retention.next_run_at),
        ("0 * * * *", t(3600))
    );
    assert!(retention.enabled);
    assert!(retention.last_run_at.is_none());
    // A changed cron takes the new expression and next tick.
    s.upsert_schedule("retention", "30 * * * *", t(1800))
        .await
        .unwrap();
    let retention = s.list_schedules().await.unwrap().remove(1);
    assert_eq!(
        (retention.cron.as_str(), retention.next_run_at),
        ("30 * * * *", t(1800))
    );
}

async fn due_schedules_are_enabled_and_past(db: &TestDb) {
    let s = db.store();
    s.upsert_schedule("a", "* * * * *", t(10)).await.unwrap();
    s.upsert_schedule("b", "* * * * *", t(5)).await.unwrap();
    s.upsert_schedule("c", "* * * * *", t(100)).await.unwrap();
    s.upsert_schedule("d", "* * * * *", t(1)).await.unwrap();
    assert!(s.set_schedule_enabled("d", false).await.unwrap());
    assert!(!s.set_schedule_enabled("nope", false).await.unwrap());
    let due: Vec<_> = s
        .due_schedules(t(10))
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.name)
        .collect();
    assert_eq!(
        due,
        ["b", "a"],
        "earliest first, inclusive, disabled excluded"
    );
    assert!(s.due_schedules(t(0)).await.unwrap().is_empty());
}

async fn fire_is_a_compare_and_swap(db: &TestDb) {
    let s = db.store();
    s.upsert_schedule("osv_sync", "0 2 * * *", t(0))
        .await
        .unwrap();
    let job = || NewJob::new("osv_sync", json!({}));
    assert!(
        !s.fire_schedule("osv_sync", t(-1), t(86_400), job())
            .await
            .unwrap()
    );
    assert!(
        !s.fire_schedule("missing", t(0), t(86_400), job())
            .await
            .unwrap()
    );
    assert!(
        s.list_jobs(None, None, 10).await.unwrap().is_empty(),
        "losers enqueue nothing"
    );
    assert!(
        s.fire_schedule("osv_sync", t(0), t(86_400), job())
            .await
            .unwrap()
    );
    assert!(
        !s.fire_schedule("osv_sync", t(0), t(86_400), job())
            .await
            .unwrap(),
        "tick already fired"
    );
    let sched = s.list_schedules().await.unwrap().remove(0);
    assert_eq!(sched.next_run_at, t(86_400));
    assert_eq!(sched.last_run_at, Some(t(0)));
    let jobs = s.list_jobs(None, None, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, "osv_sync");
}

async fn fire_round_trips_sub_microsecond_timestamps(db: &TestDb) {
    let s = db.store();
    let odd = OffsetDateTime::from_unix_timestamp_nanos(1_750_000_000_987_654_321).unwrap();
    s.upsert_schedule("x", "* * * * *", odd).await.unwrap();
    let read = s.list_schedules().await.unwrap().remove(0).next_run_at;
    assert_eq!(read.unix_timestamp_nanos(), 1_750_000_000_987_654_000);
    // The value read back, and the original with its nanoseconds, both match the stored tick.
    assert!(
        s.fire_schedule(
            "x",
            read,
            odd + Duration::from_secs(60),
            NewJob::new("x", json!({}))
        )
        .await
        .unwrap()
    );
    let next = s.list_schedules().await.unwrap().remove(0).next_run_at;
    assert!(
        s.fire_schedule(
            "x",
            odd + Duration::from_secs(60),
            next + Duration::from_secs(60),
            NewJob::new("x", json!({}))
        )
        .await
        .unwrap()
    );
}

async fn three_schedulers_fire_each_tick_once(db: &TestDb) {
    const TICKS: i64 = 20;
    let s = db.store();
    s.upsert_schedule("offline_check", "* * * * *", t(0))
        .await
        .unwrap();
    // "Now" for the schedulers lies just before the 21st tick, so exactly 20 ticks are due.
    let now = t(TICKS - 1) + Duration::from_millis(500);
    let mut tasks = Vec::new();
    for n in 0..3 {
        // Each scheduler has its own pool, like separate `sentari beat` processes.
        let store = db
            .connect_another(&StoreOptions {
                max_connections: 2,
                ..StoreOptions::default()
            })
            .await;
        tasks.push(tokio::spawn(async move {
            let mut won = 0u32;
            loop {
                let due = store.due_schedules(now).await.unwrap();
                if due.is_empty() {
                    break;
                }
                for sched in due {
                    let next = sched.next_run_at + Duration::from_secs(1);
                    let job = NewJob::new(
                        "offline_check",
                        json!({ "tick": sched.next_run_at.unix_timestamp(), "by": n }),
                    );
                    if store
                        .fire_schedule(&sched.name, sched.next_run_at, next, job)
                        .await
                        .unwrap()
                    {
                        won += 1;
                    }
                }
                tokio::task::yield_now().await;
            }
            won
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, TICKS as u32, "wins add up to the ticks");
    let jobs = s.list_jobs(None, Some("offline_check"), 100).await.unwrap();
    assert_eq!(jobs.len(), TICKS as usize, "one job per tick");
    let mut ticks: Vec<i64> = jobs
        .iter()
        .map(|j| j.payload["tick"].as_i64().unwrap())
        .collect();
    ticks.sort_unstable();
    let expected: Vec<i64> = (0..TICKS).map(|i| t(i).unix_timestamp()).collect();
    assert_eq!(ticks, expected, "every tick exactly once");
    assert_eq!(s.list_schedules().await.unwrap()[0].next_run_at, t(TICKS));
}
