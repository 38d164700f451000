#![allow(clippy::unwrap_used, clippy::expect_used)]
use sentari_store::NewJob;
use sentari_store::testing::TestDb;
use std::time::Duration;

#[tokio::test]
async fn smoke() {
    for db in [Some(TestDb::sqlite().await), TestDb::postgres().await]
        .into_iter()
        .flatten()
    {
        let s = db.store();
        let id = s
            .enqueue(NewJob::new("x", serde_json::json!({"a":1})))
            .await
            .unwrap()
            .unwrap();
        let jobs = s
            .claim_jobs("w1", &[], Duration::from_secs(30), 10)
            .await
            .unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].id, id);
        assert!(s.complete_job(id, "w1").await.unwrap());
        println!("{:?}", s.queue_stats().await.unwrap());
        println!("{:?}", s.migration_status().await.unwrap());
    }
}
