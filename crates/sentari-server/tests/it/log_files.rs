//! Each of the seven log files receives its kind of line, and rotation keeps the configured
//! number of files. One test per binary: the tracing subscriber is global to the process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sentari_server::config::Config;
use sentari_server::logging::{self, ACCESS, AUDIT, LDAP, PERFORMANCE, SECURITY};

#[test]
fn every_file_gets_its_lines_and_rotation_keeps_the_configured_count() {
    let dir = tempfile::tempdir().unwrap();
    let vars = vec![
        ("SENTARI_LOG_LEVEL".to_owned(), "warn".to_owned()),
        ("SENTARI_LOG_ACCESS_MAX_BYTES".to_owned(), "2048".to_owned()),
        ("SENTARI_LOG_ACCESS_BACKUPS".to_owned(), "3".to_owned()),
    ];
    let config = Config::load_from(vars).unwrap();
    let guards = logging::init(&config, dir.path(), false).unwrap();

    tracing::info!("an application line below the level");
    tracing::warn!("an application warning");
    tracing::error!("an application error");
    tracing::info!(target: SECURITY, user = "alice", "login failed");
    tracing::info!(target: AUDIT, actor = "alice", action = "user.create", "audit entry");
    tracing::info!(target: LDAP, "bind as cn=svc");
    tracing::warn!(target: PERFORMANCE, kind = "slow_request", duration_ms = 812.0, "slow request");
    for i in 0..200 {
        tracing::info!(target: ACCESS, "GET /api/health 200 0.4ms ip=127.0.0.1 request_id={i:04}");
    }
    drop(guards); // Flushes the background writers.

    let read = |n: &str| std::fs::read_to_string(dir.path().join(format!("{n}.log"))).unwrap();
    let app = read("application");
    assert!(app.contains("an application warning"));
    assert!(app.contains("an application error"));
    assert!(
        !app.contains("below the level"),
        "SENTARI_LOG_LEVEL=warn filters application.log"
    );
    assert!(
        app.contains("login failed"),
        "security events are never filtered out"
    );
    assert!(
        !app.contains("GET /api/health"),
        "access lines have their own file"
    );
    assert!(!app.contains("audit entry"));

    let err = read("error");
    assert!(err.contains("an application error"));
    assert!(!err.contains("an application warning"));

    let sec = read("security");
    assert!(
        sec.contains("login failed") && sec.contains("alice"),
        "security.log despite level=warn: {sec}"
    );
    assert!(!sec.contains("application"));

    let audit = read("audit");
    let line = audit.lines().next().unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["action"], "user.create");
    assert_eq!(v["actor"], "alice");

    assert!(read("ldap").contains("bind as cn=svc"));

    let perf: serde_json::Value =
        serde_json::from_str(read("performance").lines().next().unwrap()).unwrap();
    assert_eq!(perf["kind"], "slow_request");
    assert_eq!(perf["duration_ms"], 812.0);

    // 200 access lines of ~90 bytes with a 2 KiB limit rotate many times; only 3 backups stay.
    let mut rotated: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("access.log."))
        .collect();
    rotated.sort();
    assert_eq!(
        rotated,
        vec!["access.log.1", "access.log.2", "access.log.3"]
    );
    let newest_backup = std::fs::read_to_string(dir.path().join("access.log.1")).unwrap();
    assert!(
        newest_backup
            .lines()
            .all(|l| l.contains("GET /api/health 200")),
        "lines are never split"
    );
    assert!(
        read("access").contains("request_id=0199"),
        "the live file has the latest line"
    );
}
