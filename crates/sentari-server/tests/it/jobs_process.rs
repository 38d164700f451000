//! The job queue with real processes: a crashed worker's job is claimed again and completes
//! once; a job that always fails ends in `dead` with its error in `sentari queues list`; the
//! operator commands report and purge.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::Env;
use sentari_store::{JobState, NewJob, Store};

async fn store(env: &Env) -> Store {
    // The first process applies migrations; wait until it has.
    crate::common::eventually(Duration::from_secs(20), "migrated database", || async {
        let s = Store::connect(&env.database_url, &Default::default())
            .await
            .ok()?;
        s.migration_status()
            .await
            .ok()
            .filter(|m| m.current)
            .map(|_| s)
    })
    .await
}

#[tokio::test]
async fn killed_worker_job_is_reclaimed_after_its_lease_and_completes_once() {
    let env = Env::new().await;
    assert!(env.run(&["migrate"], &[]).status.success());
    let store = store(&env).await;
    let lease = [("SENTARI_JOB_LEASE_S", "2")];

    let first = env.start("worker", &lease);
    let id = store
        .enqueue(NewJob::new(
            "diagnostic",
            serde_json::json!({"sleep_ms": 4000}),
        ))
        .await
        .unwrap()
        .unwrap();
    let claimed_by = crate::common::eventually(Duration::from_secs(10), "job running", || async {
        let row = store.get_job(id).await.unwrap()?;
        (row.state == JobState::Running).then_some(row.locked_by.clone())
    })
    .await;
    assert!(claimed_by.is_some());
    first.kill(); // A crash: no completion, no failure recorded, the lease just lapses.

    let row = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(
        row.state,
        JobState::Running,
        "the dead worker still holds the lease"
    );
    assert_eq!(row.attempts, 1);

    let _second = env.start("worker", &lease);
    let row = crate::common::eventually(
        Duration::from_secs(30),
        "job done by the second worker",
        || async {
            let row = store.get_job(id).await.unwrap()?;
            (row.state == JobState::Done).then_some(row)
        },
    )
    .await;
    assert_eq!(
        row.attempts, 2,
        "claimed exactly twice: once by the crashed worker, once to finish"
    );
    assert_ne!(row.locked_by, claimed_by, "finished by the other worker");
    // Nothing else ran it again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
    assert_eq!(again.state, JobState::Done);
}

#[tokio::test]
async fn failing_job_goes_dead_and_is_listed_with_its_error() {
    let env = Env::new().await;
    assert!(env.run(&["migrate"], &[]).status.success());
    let store = store(&env).await;
    let _worker = env.start("worker", &[("SENTARI_JOB_BACKOFF_S", "1")]);
    let id = store
        .enqueue(
            NewJob::new(
                "diagnostic",
                serde_json::json!({"fail": "the disk is on fire"}),
            )
            .max_attempts(3),
        )
        .await
        .unwrap()
        .unwrap();
    let row = crate::common::eventually(Duration::from_secs(30), "job dead", || async {
        let row = store.get_job(id).await.unwrap()?;
        (row.state == JobState::Dead).then_some(row)
    })
    .await;
    assert_eq!(row.attempts, 3);

    let out = env.run(&["queues", "list"], &[]);
    assert!(out.status.success(), "{out:?}");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("diagnostic"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(line.contains("the disk is on fire"), "{line}");
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[5], "1", "one dead job: {line}");

    // Purge without --yes only reports; with --yes it deletes.
    let dry = env.run(&["queues", "purge", "--state", "dead"], &[]);
    assert!(dry.stdout.contains("would delete 1 dead jobs"), "{dry:?}");
    assert!(store.get_job(id).await.unwrap().is_some());
    let real = env.run(
        &[
            "queues",
            "purge",
            "--state",
            "dead",
            "--kind",
            "diagnostic",
            "--yes",
        ],
        &[],
    );
    assert!(real.stdout.contains("deleted 1 dead jobs"), "{real:?}");
    assert!(store.get_job(id).await.unwrap().is_none());
}

#[tokio::test]
async fn status_and_ping_see_a_running_worker() {
    let env = Env::new().await;
    let _server = env.start("serve", &[]);
    let _store = store(&env).await;
    let ping = env.run(&["queues", "ping"], &[]);
    assert!(ping.status.success(), "{ping:?}");
    assert!(ping.stdout.starts_with("pong:"), "{ping:?}");

    let status = crate::common::eventually(Duration::from_secs(15), "process listed", || async {
        let out = env.run(&["status"], &[]);
        out.stdout.contains("sentari-serve").then_some(out)
    })
    .await;
    assert!(status.status.success(), "{status:?}");
    assert!(status.stdout.contains("database"), "{}", status.stdout);
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with("migrations") && l.contains("OK")),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains(&format!("pid {}", _server.child.id())),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn status_reports_an_unreachable_database() {
    let env = Env::new().await;
    let out = env.run(
        &["status"],
        &[(
            "SENTARI_DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/none",
        )],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.contains("DOWN"), "{out:?}");
}
