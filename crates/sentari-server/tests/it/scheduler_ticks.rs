//! The scheduler loop's tick against a real store: built-in schedules register once, a due
//! schedule fires once per tick however many schedulers race, and missed ticks collapse.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use sentari_server::jobs::scheduler;
use sentari_store::testing::TestDb;
use time::OffsetDateTime;

async fn retention_next(store: &sentari_store::Store) -> OffsetDateTime {
    let all = store.list_schedules().await.unwrap();
    all.into_iter()
        .find(|s| s.name == "retention")
        .unwrap()
        .next_run_at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_schedulers_fire_each_tick_once() {
    let db = TestDb::from_env().await;
    let store = db.store();
    let start = OffsetDateTime::now_utc();
    scheduler::register(store, start).await.unwrap();
    // Registering again (a restart, another process) keeps the next run time.
    let before = store.list_schedules().await.unwrap();
    scheduler::register(store, start + Duration::from_secs(7200))
        .await
        .unwrap();
    assert_eq!(before, store.list_schedules().await.unwrap());

    // Three schedulers, each with its own connection pool, like three `sentari beat` processes.
    let mut schedulers = Vec::new();
    for _ in 0..3 {
        schedulers.push(db.connect_another(&Default::default()).await);
    }
    let mut now = retention_next(store).await;
    for tick in 0..5 {
        now += Duration::from_secs(1);
        // Other built-in schedules (the daily feed syncs) may fall due in the same window.
        let due = store
            .list_schedules()
            .await
            .unwrap()
            .iter()
            .filter(|s| s.next_run_at <= now)
            .count();
        assert!(due >= 1);
        let mut set = tokio::task::JoinSet::new();
        for s in &schedulers {
            let s = s.clone();
            set.spawn(async move { scheduler::tick(&s, now).await.unwrap() });
        }
        let mut fired = 0;
        while let Some(n) = set.join_next().await {
            fired += n.unwrap();
        }
        assert_eq!(
            fired, due,
            "tick {tick}: each due schedule fires once among three schedulers"
        );
        let next = retention_next(store).await;
        assert!(next > now, "the schedule moved on");
        now = next;
    }
    let jobs = store.list_jobs(None, Some("retention"), 100).await.unwrap();
    assert_eq!(jobs.len(), 5, "one job per tick");

    // A scheduler that was down for a day fires each schedule once, not 24 times.
    let later = now + Duration::from_secs(86_400);
    assert_eq!(
        scheduler::tick(store, later).await.unwrap(),
        scheduler::BUILTIN.len()
    );
    assert_eq!(scheduler::tick(store, later).await.unwrap(), 0);
}
