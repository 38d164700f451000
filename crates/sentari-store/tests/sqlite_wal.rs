//! SQLite-specific: the write-ahead log must be checkpointed as the queue runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sentari_store::NewJob;
use sentari_store::testing::TestDb;

/// Regression test: inserting with `INSERT … RETURNING` through sqlx's `fetch_optional` kept
/// SQLite's automatic checkpoints from ever running, so the WAL grew by ~24 KiB per job (470 MB
/// for 20,000 jobs) and the first claim after a burst took seconds. The store checkpoints every
/// 32 MiB of WAL, so 12,000 one-by-one jobs (at least one 4 KiB page of WAL each, 48 MiB)
/// must leave a WAL file well under their uncheckpointed size.
#[tokio::test]
async fn wal_stays_small_while_enqueuing_one_by_one() {
    let db = TestDb::sqlite().await;
    for i in 0..12_000 {
        db.store()
            .enqueue(NewJob::new("k", serde_json::json!({ "i": i })))
            .await
            .unwrap();
    }
    let wal = std::fs::metadata(db.dir().join("sentari.db-wal"))
        .unwrap()
        .len();
    assert!(
        wal < 40 * 1024 * 1024,
        "the WAL is {wal} bytes: automatic checkpoints are not running"
    );
}
