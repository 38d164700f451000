//! The loop shared by the small background tasks that run beside the job queue (WAL
//! checkpoints, table maintenance, suppression expiry): a step every so often until shutdown,
//! with a failing step logged once per run of failures rather than once per tick.

use std::future::Future;
use std::time::Duration;

use sentari_store::StoreError;
use tokio_util::sync::CancellationToken;

/// What a step asks of the loop.
pub enum Next {
    /// Run again after the period.
    Continue,
    /// Stop for good (the task has nothing to do on this backend).
    Stop,
}

/// Runs `step` every `period` until `stop` is cancelled or a step returns [`Next::Stop`]. The
/// first step runs at once when `at_start`, else after one period. A failed step is logged as
/// a warning with `failure` as the message, once until a step succeeds again; the next tick
/// retries.
pub async fn run<F, Fut>(
    period: Duration,
    at_start: bool,
    stop: CancellationToken,
    failure: &'static str,
    mut step: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Next, StoreError>>,
{
    let mut failing = false;
    let mut first = at_start;
    loop {
        if !first {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
        }
        first = false;
        match step().await {
            Ok(Next::Stop) => return,
            Ok(Next::Continue) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "{failure}; retrying");
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn steps_until_told_to_stop_and_survives_failures() {
        let calls = AtomicUsize::new(0);
        run(
            Duration::from_millis(5),
            true,
            CancellationToken::new(),
            "test step failed",
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                match n {
                    // Failures do not end the loop.
                    1 | 2 => Err(StoreError::Unavailable("down".into())),
                    5 => Ok(Next::Stop),
                    _ => Ok(Next::Continue),
                }
            },
        )
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn cancellation_ends_the_wait() {
        let stop = CancellationToken::new();
        stop.cancel();
        let calls = AtomicUsize::new(0);
        run(Duration::from_secs(3600), false, stop, "never", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(Next::Continue)
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}
