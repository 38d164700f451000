//! A database that goes away and comes back: `ping` fails, then recovers without a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use sentari_store::testing::TestDb;
use sentari_store::{Store, StoreError, StoreOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A loopback TCP forwarder standing in for the network path to PostgreSQL: stopping it cuts
/// every connection, like a database host going away.
struct Proxy {
    tasks: JoinSet<()>,
}

impl Proxy {
    async fn start(listen: SocketAddr, upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind(listen).await.unwrap();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    break;
                };
                conns.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Proxy { tasks }
    }

    async fn stop(mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every forwarded connection.
        self.tasks.shutdown().await;
    }
}

fn upstream_of(url: &str) -> (SocketAddr, String) {
    let u = url::Url::parse(url).unwrap();
    let host = u.host_str().unwrap_or("127.0.0.1");
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    let addr: SocketAddr = format!("{host}:{}", u.port().unwrap_or(5432))
        .parse()
        .unwrap();
    (addr, u.path().trim_start_matches('/').to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ping_fails_while_the_database_is_gone_and_recovers() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (upstream, _) = upstream_of(db.url());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut via_proxy = url::Url::parse(db.url()).unwrap();
    via_proxy.set_host(Some("127.0.0.1")).unwrap();
    via_proxy.set_port(Some(port)).unwrap();

    let proxy = Proxy::start(listen, upstream).await;
    let store = Store::connect(via_proxy.as_str(), &StoreOptions::default())
        .await
        .unwrap();
    store.ping().await.unwrap();

    proxy.stop().await;
    let started = std::time::Instant::now();
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(err.is_unavailable());
    assert!(
        started.elapsed() <= Duration::from_secs(3),
        "ping answers within its timeout"
    );
    // Other calls report the outage as unavailable too, which the server maps to 503.
    let err = store.queue_stats().await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");

    let proxy = Proxy::start(listen, upstream).await;
    let recovered = common::eventually(Duration::from_secs(10), || {
        let store = store.clone();
        async move { store.ping().await.is_ok() }
    })
    .await;
    assert!(recovered, "the pool reconnects once the database is back");
    store.queue_stats().await.unwrap();
    store.close().await;
    proxy.stop().await;
}

#[tokio::test]
async fn postgres_nothing_listening_is_unavailable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let err = Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(
        err.to_string().contains(&port.to_string()),
        "names the address: {err}"
    );
    let lazy = Store::connect_lazy(&url, &StoreOptions::default()).unwrap();
    assert!(lazy.ping().await.unwrap_err().is_unavailable());
}

#[tokio::test]
async fn sqlite_closed_store_is_unavailable() {
    let db = TestDb::sqlite().await;
    db.store().ping().await.unwrap();
    db.store().close().await;
    assert!(db.store().ping().await.unwrap_err().is_unavailable());
}
