//! Backup and restore round trips, and restore's refusal of files that are not backups.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use sentari_store::testing::TestDb;
use sentari_store::{BackendKind, NewJob, Store, StoreError, StoreOptions};
use serde_json::json;

fn tool_installed(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

async fn round_trip(db: &TestDb) {
    let s = db.store();
    for i in 0..3 {
        s.enqueue(NewJob::new("kept", json!({ "i": i })))
            .await
            .unwrap();
    }
    s.put_setting("smtp", &json!({"host": "before"}))
        .await
        .unwrap();
    let file = db.dir().join("backups/sentari.backup");
    let report = s.backup(&file).await.unwrap();
    assert_eq!(report.backend, db.backend());
    assert_eq!(report.path, file);
    assert!(report.bytes > 0 && file.metadata().unwrap().len() == report.bytes);
    let leftovers: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");

    // Changes after the backup must disappear with the restore.
    s.enqueue(NewJob::new("lost", json!({}))).await.unwrap();
    s.put_setting("smtp", &json!({"host": "after"}))
        .await
        .unwrap();
    s.close().await;

    let restored = Store::restore(db.url(), &file).await.unwrap();
    assert_eq!(restored.backend, db.backend());
    assert_eq!(restored.bytes, report.bytes);
    if db.backend() == BackendKind::Sqlite {
        let previous = restored.previous.expect("the replaced database is kept");
        assert!(previous.exists());
    }

    let s = Store::connect(db.url(), &StoreOptions::default())
        .await
        .unwrap();
    assert!(s.migration_status().await.unwrap().current);
    let jobs = s.list_jobs(None, None, 10).await.unwrap();
    assert_eq!(jobs.len(), 3);
    assert!(jobs.iter().all(|j| j.kind == "kept"));
    assert_eq!(
        s.get_setting("smtp").await.unwrap(),
        Some(json!({"host": "before"}))
    );
    // The restored database is fully usable.
    s.enqueue(NewJob::new("new", json!({}))).await.unwrap();
    assert_eq!(
        s.claim_jobs("w", &[], common::LEASE, 10)
            .await
            .unwrap()
            .len(),
        4
    );
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backup_restore_round_trip() {
    round_trip(&TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backup_restore_round_trip() {
    if !(tool_installed("pg_dump") && tool_installed("pg_restore")) {
        eprintln!("note: skipping: pg_dump/pg_restore are not installed");
        return;
    }
    if let Some(db) = TestDb::postgres().await {
        round_trip(&db).await;
    }
}

#[tokio::test]
async fn sqlite_restore_refuses_a_file_that_is_not_a_backup() {
    let db = TestDb::sqlite().await;
    db.store()
        .enqueue(NewJob::new("kept", json!({})))
        .await
        .unwrap();
    let garbage = db.dir().join("garbage.db");
    std::fs::write(
        &garbage,
        b"definitely not a database, just some bytes".repeat(200),
    )
    .unwrap();
    let err = Store::restore(db.url(), &garbage).await.unwrap_err();
    assert!(matches!(err, StoreError::Backup(_)), "{err}");

    // A valid SQLite file that Sentari never migrated is refused too.
    let foreign = db.dir().join("foreign.db");
    let other = Store::connect(
        &format!("sqlite://{}", foreign.display()),
        &StoreOptions::default(),
    )
    .await
    .unwrap();
    other.close().await;
    let err = Store::restore(db.url(), &foreign).await.unwrap_err();
    assert!(err.to_string().contains("not a Sentari"), "{err}");

    let missing = Store::restore(db.url(), &db.dir().join("missing.db"))
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::Io { .. }), "{missing}");
    // The live database was not touched.
    assert_eq!(db.store().list_jobs(None, None, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn postgres_restore_refuses_a_file_that_is_not_a_dump() {
    if !tool_installed("pg_restore") {
        return;
    }
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    db.store()
        .enqueue(NewJob::new("kept", json!({})))
        .await
        .unwrap();
    let garbage = db.dir().join("garbage.dump");
    std::fs::write(&garbage, b"not a dump").unwrap();
    let err = Store::restore(db.url(), &garbage).await.unwrap_err();
    assert!(matches!(err, StoreError::Backup(_)), "{err}");
    assert_eq!(db.store().list_jobs(None, None, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn sqlite_backup_while_writing_is_consistent() {
    let db = TestDb::sqlite().await;
    let s = db.store().clone();
    let writer = tokio::spawn(async move {
        for i in 0..200 {
            s.enqueue(NewJob::new("w", json!({ "i": i })))
                .await
                .unwrap();
        }
    });
    let file = db.dir().join("hot.db");
    db.store().backup(&file).await.unwrap();
    writer.await.unwrap();
    let copy = Store::connect(
        &format!("sqlite://{}", file.display()),
        &StoreOptions::default(),
    )
    .await
    .unwrap();
    // The copy is a snapshot at some point of the writes: a prefix of them, never a torn state.
    let jobs = copy.list_jobs(None, None, 1000).await.unwrap();
    assert!(jobs.len() <= 200);
    let mut seen: Vec<i64> = jobs
        .iter()
        .map(|j| j.payload["i"].as_i64().unwrap())
        .collect();
    seen.sort_unstable();
    assert!(
        seen.iter().enumerate().all(|(k, &i)| i == k as i64),
        "a prefix: {seen:?}"
    );
    assert!(copy.migration_status().await.unwrap().current);
}
