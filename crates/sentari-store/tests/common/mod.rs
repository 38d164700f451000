//! Shared pieces of the conformance tests: the macro that runs one scenario on both backends,
//! and small helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

/// Generates, for each scenario `name(db: &TestDb)`, a module `name` with two tests: `sqlite`
/// and `postgres`, so every scenario runs on both backends and the test names say which.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = sentari_store::testing::TestDb::sqlite().await;
                    super::$name(&db).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(db) = sentari_store::testing::TestDb::postgres().await {
                        super::$name(&db).await;
                    }
                }
            }
        )*
    };
}

pub const LEASE: Duration = Duration::from_secs(60);

/// Polls `f` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
