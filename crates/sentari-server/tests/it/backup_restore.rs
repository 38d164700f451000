//! `sentari backup` and `sentari restore` round-trip the database on the backend of this run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::Env;
use sentari_store::{NewJob, Store};

#[tokio::test]
async fn backup_then_restore_brings_back_the_data() {
    if crate::common::postgres_backend() && which("pg_dump").is_none() {
        eprintln!("skipped: pg_dump is not installed (apt-get install postgresql-client)");
        return;
    }
    let env = Env::new().await;
    assert!(env.run(&["migrate"], &[]).status.success());
    let store = Store::connect(&env.database_url, &Default::default())
        .await
        .unwrap();
    let kept = store
        .enqueue(NewJob::new("diagnostic", serde_json::json!({"n": 1})))
        .await
        .unwrap()
        .unwrap();

    let file = env.dir.path().join("backup.bin");
    let out = env.run(&["backup", "--out", file.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(file.metadata().unwrap().len() > 0);
    // Refuses to overwrite an existing file.
    let again = env.run(&["backup", "--out", file.to_str().unwrap()], &[]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");

    let lost = store
        .enqueue(NewJob::new("diagnostic", serde_json::json!({"n": 2})))
        .await
        .unwrap()
        .unwrap();
    store.close().await;

    let out = env.run(&["restore", file.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{out:?}");
    let store = Store::connect(&env.database_url, &Default::default())
        .await
        .unwrap();
    assert!(
        store.get_job(kept).await.unwrap().is_some(),
        "data from before the backup is back"
    );
    assert!(
        store.get_job(lost).await.unwrap().is_none(),
        "data written after the backup is gone"
    );
}

#[tokio::test]
async fn restore_refuses_while_a_worker_is_active() {
    let env = Env::new().await;
    let _worker = env.start("worker", &[]);
    let store = crate::common::eventually(Duration::from_secs(20), "worker registered", || async {
        let s = Store::connect(&env.database_url, &Default::default())
            .await
            .ok()?;
        let since = time::OffsetDateTime::now_utc() - Duration::from_secs(60);
        (s.active_workers(since).await.ok()? > 0).then_some(s)
    })
    .await;
    store.close().await;
    let file = env.dir.path().join("whatever.backup");
    std::fs::write(&file, b"not really a backup").unwrap();
    let out = env.run(&["restore", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("--force"), "{out:?}");
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(tool))
            .find(|f| f.is_file())
    })
}
