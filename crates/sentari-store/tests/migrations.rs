//! Embedded migrations: apply, re-apply, status, and concurrent starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use sentari_store::testing::TestDb;
use sentari_store::{BackendKind, StoreError, StoreOptions};

async fn apply_twice_and_report(db: TestDb) {
    let s = db.store();
    let before = s.migration_status().await.unwrap();
    assert_eq!(before.applied, 0);
    assert!(before.known >= 1);
    assert!(!before.current);
    assert_eq!(before.pending.len() as i64, before.known);
    assert!(
        before.pending[0].starts_with("0001 foundation"),
        "{:?}",
        before.pending
    );
    // The tables do not exist before migrating.
    assert!(s.queue_stats().await.is_err());

    s.migrate().await.unwrap();
    let after = s.migration_status().await.unwrap();
    assert_eq!(after.applied, after.known);
    assert!(after.current);
    assert!(after.pending.is_empty() && after.unknown.is_empty());
    assert!(s.queue_stats().await.unwrap().is_empty());

    s.migrate().await.unwrap();
    assert_eq!(
        s.migration_status().await.unwrap(),
        after,
        "applying twice is a no-op"
    );
}

#[tokio::test]
async fn sqlite_migrations_apply_once() {
    apply_twice_and_report(TestDb::sqlite_unmigrated().await).await;
}

#[tokio::test]
async fn postgres_migrations_apply_once() {
    if let Some(db) = TestDb::postgres_unmigrated().await {
        apply_twice_and_report(db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_migrate_is_safe() {
    let Some(db) = TestDb::postgres_unmigrated().await else {
        return;
    };
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = db
            .connect_another(&StoreOptions {
                max_connections: 1,
                ..StoreOptions::default()
            })
            .await;
        tasks.push(tokio::spawn(async move { store.migrate().await }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let status = db.store().migration_status().await.unwrap();
    assert!(status.current);
    assert_eq!(status.applied, status.known);
}

#[tokio::test]
async fn sqlite_concurrent_migrate_in_one_process_is_safe() {
    let db = TestDb::sqlite_unmigrated().await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = db.connect_another(&StoreOptions::default()).await;
        tasks.push(tokio::spawn(async move { store.migrate().await }));
    }
    for result in futures_join(tasks).await {
        result.unwrap();
    }
    assert!(db.store().migration_status().await.unwrap().current);
}

async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn bad_urls_are_named() {
    for url in [
        "mysql://x/y",
        "sqlite::memory:",
        "",
        "postgres://u@h:notaport/db",
    ] {
        let err = sentari_store::Store::connect(url, &StoreOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidUrl(_)), "{url}: {err}");
        assert!(err.to_string().contains("URL"), "{err}");
    }
}

#[tokio::test]
async fn sqlite_creates_the_file_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/sentari.db");
    let url = format!("sqlite://{}", path.display());
    let store = sentari_store::Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(store.backend(), BackendKind::Sqlite);
    store.migrate().await.unwrap();
    assert!(path.exists());
    let mode: String = {
        // The journal mode is visible as a file beside the database once written to.
        store.put_setting("k", &serde_json::json!(1)).await.unwrap();
        if dir.path().join("nested/deeper/sentari.db-wal").exists() {
            "wal".into()
        } else {
            "other".into()
        }
    };
    assert_eq!(mode, "wal");
    store.close().await;
}
