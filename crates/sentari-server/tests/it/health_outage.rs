//! `/api/health` reports the database as unreachable while it is gone and recovers by itself.
//!
//! The server reaches PostgreSQL through a TCP relay owned by the test; closing the relay is an
//! outage as the server sees it, without stopping the PostgreSQL that other tests share.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sentari_store::testing::TestDb;
use tokio::net::{TcpListener, TcpStream};

/// Relays connections to PostgreSQL while `up` is true; drops them all when it turns false.
async fn relay(listener: TcpListener, target: String, up: Arc<AtomicBool>) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        if !up.load(Ordering::SeqCst) {
            continue; // Refuse: drop the connection at once.
        }
        let target = target.clone();
        let up = up.clone();
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect(&target).await else {
                return;
            };
            let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
            let watch = async {
                while up.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            tokio::select! {
                _ = copy => {},
                _ = watch => {},
            }
        });
    }
}

#[tokio::test]
async fn health_is_503_while_the_database_is_away_and_recovers() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("skipped: PostgreSQL tests are disabled (SENTARI_TEST_SKIP_POSTGRES)");
        return;
    };
    let url = db.url().to_owned();
    // postgres://user@127.0.0.1:5432/dbname → point it at the relay instead.
    let (before, after) = url.split_once("@").unwrap();
    let (hostport, path) = after.split_once('/').unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_addr = listener.local_addr().unwrap();
    let up = Arc::new(AtomicBool::new(true));
    tokio::spawn(relay(listener, hostport.to_owned(), up.clone()));
    let relayed = format!("{before}@{relay_addr}/{path}");

    let env = crate::common::Env::new().await;
    let server = env.start("serve", &[("SENTARI_DATABASE_URL", relayed.as_str())]);
    let client = server.client();
    crate::common::eventually(Duration::from_secs(20), "healthy", || async {
        client.health().await.ok().filter(|h| h.status == 200)
    })
    .await;

    up.store(false, Ordering::SeqCst);
    let down = crate::common::eventually(
        Duration::from_secs(20),
        "503 while the database is away",
        // The first failing probe may catch a pooled connection mid-cut and blame the queue;
        // a database that stays away must be named as the database.
        || async {
            let h = client.health().await.ok()?;
            (h.status == 503 && h.body.unreachable == ["database"]).then_some(h)
        },
    )
    .await;
    assert_eq!(down.body.status, "degraded");
    assert_eq!(down.body.unreachable, vec!["database".to_owned()]);
    assert_eq!(down.body.version, env!("CARGO_PKG_VERSION"));
    // The process keeps serving while degraded.
    assert_eq!(client.get_json("/api/live", &[]).await.unwrap().status, 200);

    up.store(true, Ordering::SeqCst);
    let back = crate::common::eventually(Duration::from_secs(30), "recovered", || async {
        client.health().await.ok().filter(|h| h.status == 200)
    })
    .await;
    assert_eq!(back.body.status, "ok");
    assert!(back.body.unreachable.is_empty());
}
