//! Table maintenance on a PostgreSQL whose autovacuum is off: the store analyzes and vacuums
//! the tables autovacuum would have, and does nothing where autovacuum or SQLite makes it
//! unneeded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::eventually;
use sentari_store::NewJob;
use sentari_store::testing::TestDb;
use sqlx::Connection;

/// Enqueues `n` jobs of `kind`: rows the statistics views count as inserted.
async fn enqueue(s: &sentari_store::Store, kind: &str, n: usize) {
    for i in 0..n {
        s.enqueue(NewJob::new(kind, serde_json::json!({ "i": i })))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn sqlite_needs_no_table_maintenance() {
    let db = TestDb::sqlite().await;
    assert_eq!(db.store().maintain_tables().await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tables_are_analyzed_and_vacuumed_when_autovacuum_is_off() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let s = db.store();
    let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
    let autovacuum: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    if autovacuum == "on" {
        // Autovacuum does it: the store stays out of its way.
        assert_eq!(s.maintain_tables().await.unwrap(), None);
        return;
    }
    // 300 new jobs (more than autovacuum's 50 rows plus a tenth of an empty table), then 300
    // deleted: the table needs both an analysis and a vacuum.
    enqueue(s, "maintenance-test", 300).await;
    sqlx::query("DELETE FROM jobs WHERE kind = 'maintenance-test'")
        .execute(&mut conn)
        .await
        .unwrap();
    // The activity counters reach the statistics views within a second or so (an idle
    // backend flushes its own within ten seconds).
    let jobs = "jobs".to_owned();
    assert!(
        eventually(Duration::from_secs(60), || async {
            let pass = s.maintain_tables().await.unwrap().unwrap();
            let vacuumed = pass.vacuumed.contains(&jobs);
            if vacuumed {
                assert!(!pass.analyzed.contains(&jobs), "{pass:?}");
            }
            vacuumed
        })
        .await,
        "the jobs table was never vacuumed"
    );
    let (analyzed, vacuumed): (bool, bool) = sqlx::query_as(
        "SELECT last_analyze IS NOT NULL, last_vacuum IS NOT NULL \
         FROM pg_stat_user_tables WHERE relname = 'jobs' AND schemaname = current_schema()",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(analyzed && vacuumed);
    // Nothing changes any more: soon a pass leaves the table alone (the counters of the
    // delete may reach the statistics views after the first vacuum and earn it a second).
    assert!(
        eventually(Duration::from_secs(60), || async {
            let again = s.maintain_tables().await.unwrap().unwrap();
            !again.vacuumed.contains(&jobs) && !again.analyzed.contains(&jobs)
        })
        .await,
        "the jobs table is maintained again and again"
    );
    // A table that only grows is vacuumed too (autovacuum's insert threshold: 1,000 rows plus
    // a fifth of the table), so that its pages become all-visible for index-only scans.
    enqueue(s, "maintenance-growth", 2000).await;
    assert!(
        eventually(Duration::from_secs(60), || async {
            let pass = s.maintain_tables().await.unwrap().unwrap();
            pass.vacuumed.contains(&jobs)
        })
        .await,
        "the grown jobs table was never vacuumed"
    );
}
