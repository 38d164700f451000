//! Process heartbeats and runtime settings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use sentari_store::testing::TestDb;
use sentari_store::{ProcessInfo, StoreError};
use serde_json::json;
use time::OffsetDateTime;

conformance!(processes_register_heartbeat_and_leave, settings_round_trip);

fn process(id: &str, role: &str, seen: OffsetDateTime) -> ProcessInfo {
    ProcessInfo {
        id: id.to_owned(),
        host: "web-1".to_owned(),
        pid: 4242,
        role: role.to_owned(),
        version: "0.1.0".to_owned(),
        started_at: seen - Duration::from_secs(60),
        last_heartbeat: seen,
    }
}

async fn processes_register_heartbeat_and_leave(db: &TestDb) {
    let s = db.store();
    let now = OffsetDateTime::now_utc();
    let long_ago = now - Duration::from_secs(3600);
    s.register_process(&process("w1", "worker", now))
        .await
        .unwrap();
    s.register_process(&process("beat", "beat", now))
        .await
        .unwrap();
    s.register_process(&process("all", "serve", now))
        .await
        .unwrap();
    s.register_process(&process("old", "worker", long_ago))
        .await
        .unwrap();
    let recent = now - Duration::from_secs(30);
    let seen: Vec<_> = s
        .list_processes(recent)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.role, p.id))
        .collect();
    assert_eq!(
        seen,
        [
            ("beat".to_owned(), "beat".to_owned()),
            ("serve".to_owned(), "all".to_owned()),
            ("worker".to_owned(), "w1".to_owned())
        ]
    );
    assert_eq!(s.active_workers(recent).await.unwrap(), 2);
    assert_eq!(s.active_workers(long_ago).await.unwrap(), 3);

    // Re-registering replaces the record; a heartbeat brings a stale one back.
    let mut again = process("w1", "worker", now);
    again.pid = 7;
    s.register_process(&again).await.unwrap();
    s.heartbeat_process("old").await.unwrap();
    let all = s.list_processes(recent).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all.iter().find(|p| p.id == "w1").unwrap().pid, 7);
    let p = all.iter().find(|p| p.id == "old").unwrap();
    assert!(p.last_heartbeat > recent);
    assert_eq!(
        p.started_at.unix_timestamp(),
        (long_ago - Duration::from_secs(60)).unix_timestamp()
    );

    s.remove_process("w1").await.unwrap();
    s.remove_process("w1").await.unwrap();
    assert!(matches!(
        s.heartbeat_process("w1").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.active_workers(recent).await.unwrap(), 2);
    assert_eq!(
        s.prune_processes(now + Duration::from_secs(3600))
            .await
            .unwrap(),
        3
    );
    assert!(s.list_processes(long_ago).await.unwrap().is_empty());
}

async fn settings_round_trip(db: &TestDb) {
    let s = db.store();
    assert_eq!(s.get_setting("smtp").await.unwrap(), None);
    let v = json!({"host": "mail.example", "port": 587, "tls": true, "to": ["a@x", "b@x"]});
    s.put_setting("smtp", &v).await.unwrap();
    assert_eq!(s.get_setting("smtp").await.unwrap(), Some(v));
    s.put_setting("smtp", &json!("replaced")).await.unwrap();
    assert_eq!(
        s.get_setting("smtp").await.unwrap(),
        Some(json!("replaced"))
    );
    assert!(s.delete_setting("smtp").await.unwrap());
    assert!(!s.delete_setting("smtp").await.unwrap());
    assert_eq!(s.get_setting("smtp").await.unwrap(), None);
}
