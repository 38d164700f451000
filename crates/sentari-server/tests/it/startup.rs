//! The newcomer's path: `sentari serve` with no configuration creates its data directory,
//! database, secret and logs, answers health, and stops cleanly on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::{Env, read_log};
use sentari_store::JobState;

#[tokio::test]
async fn serve_starts_on_defaults_and_stops_cleanly() {
    let env = Env::new().await;
    // Every request counts as slow, so performance.log must receive them.
    let server = env.start("serve", &[("SENTARI_SLOW_REQUEST_MS", "0")]);
    assert!(
        server.banner.iter().any(|l| l.contains("data:")),
        "{:?}",
        server.banner
    );

    let client = server.client();
    let health = crate::common::eventually(Duration::from_secs(20), "healthy", || async {
        client.health().await.ok().filter(|h| h.status == 200)
    })
    .await;
    assert_eq!(health.body.status, "ok");
    assert_eq!(health.body.version, env!("CARGO_PKG_VERSION"));
    assert!(
        health.request_id.is_some(),
        "every response carries a request id"
    );

    let live = client.get_json("/api/live", &[]).await.unwrap();
    assert_eq!(live.status, 200);
    let ready = client.get_json("/api/ready", &[]).await.unwrap();
    assert_eq!(ready.status, 200);

    // A caller's request id is honoured and echoed back; a bogus one is replaced.
    let a = client
        .get_json("/api/live", &[("x-request-id", "abc-123")])
        .await
        .unwrap();
    assert_eq!(a.request_id.as_deref(), Some("abc-123"));
    let b = client
        .get_json("/api/live", &[("x-request-id", "bad id\twith spaces")])
        .await
        .unwrap();
    assert_ne!(b.request_id.as_deref(), Some("bad id\twith spaces"));

    // Unknown endpoints answer the JSON error body.
    let nf = client.get_json("/api/v1/nope", &[]).await.unwrap();
    assert_eq!(nf.status, 404);
    assert_eq!(nf.body["error"], "not_found");
    assert!(nf.body["detail"].as_str().unwrap().contains("/api/v1/nope"));

    let data = env.data_dir();
    assert!(data.is_dir());
    if !crate::common::postgres_backend() {
        assert!(data.join("sentari.db").is_file());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("secret_key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the generated secret is private");
    }
    for f in [
        "application",
        "error",
        "access",
        "security",
        "audit",
        "ldap",
        "performance",
    ] {
        assert!(
            data.join("logs").join(format!("{f}.log")).is_file(),
            "{f}.log exists"
        );
    }

    let status = server.terminate(Duration::from_secs(15));
    assert!(status.success(), "SIGTERM exits 0, got {status}");

    let access = read_log(&data, "access");
    assert!(
        access.contains("GET /api/health 200"),
        "access.log: {access}"
    );
    assert!(
        access.contains("request_id=abc-123"),
        "access.log: {access}"
    );
    assert!(
        access.contains("(unmatched) 404"),
        "route templates, not raw paths: {access}"
    );
    let perf = read_log(&data, "performance");
    let slow: serde_json::Value = serde_json::from_str(perf.lines().next().unwrap()).unwrap();
    assert_eq!(slow["kind"], "slow_request", "{perf}");
    assert!(
        slow["route"].is_string() && slow["duration_ms"].is_number(),
        "{perf}"
    );
    let app = read_log(&data, "application");
    assert!(app.contains("Sentari starting"), "application.log: {app}");
    assert!(
        !app.contains("GET /api/health"),
        "access lines stay out of application.log"
    );
}

#[tokio::test]
async fn sigterm_waits_for_a_running_job() {
    let env = Env::new().await;
    let server = env.start("serve", &[("SENTARI_SHUTDOWN_TIMEOUT_S", "20")]);
    let client = server.client();
    crate::common::eventually(Duration::from_secs(20), "healthy", || async {
        client.health().await.ok().filter(|h| h.status == 200)
    })
    .await;
    let store = sentari_store::Store::connect(&env.database_url, &Default::default())
        .await
        .unwrap();
    let id = store
        .enqueue(sentari_store::NewJob::new(
            "diagnostic",
            serde_json::json!({"sleep_ms": 2500}),
        ))
        .await
        .unwrap()
        .unwrap();
    crate::common::eventually(Duration::from_secs(10), "job running", || async {
        let row = store.get_job(id).await.unwrap()?;
        (row.state == JobState::Running).then_some(())
    })
    .await;
    let status = server.terminate(Duration::from_secs(25));
    assert!(status.success());
    let row = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(
        row.state,
        JobState::Done,
        "the in-flight job finished before exit"
    );
}
