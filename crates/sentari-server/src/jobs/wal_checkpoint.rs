//! Checkpoints SQLite's write-ahead log from a background task.
//!
//! SQLite checkpoints on its own inside the commit that makes the log cross a size mark. That
//! commit belongs to whichever writer crossed it, and in this process a writer keeps the write
//! turn (`sentari-store`'s in-process queue for SQLite's one write lock) until its commit
//! returns, checkpoint and `fsync` included: every few scans, one ingest held up all the others
//! for the time of a checkpoint (12 % of the server's time in the fleet benchmark). Here a
//! separate task checkpoints a few times a second instead, passively, beside the writers; the
//! store leaves its own checkpoints as a safety net far above what this task lets the log reach.

use std::time::Duration;

use sentari_store::Store;
use tokio_util::sync::CancellationToken;

use super::periodic::Next;

/// How often the log is checkpointed. A checkpoint of a log with nothing new is a read of its
/// header; a short interval keeps the log (and the pages each checkpoint copies) small.
const EVERY: Duration = Duration::from_millis(250);

/// Runs until `stop` is cancelled; returns at once on PostgreSQL. A failure is retried on the
/// next tick, and commits still checkpoint by themselves should it keep failing.
pub async fn run(store: Store, stop: CancellationToken) {
    super::periodic::run(EVERY, true, stop, "WAL checkpoint failed", || async {
        let Some(c) = store.checkpoint_wal().await? else {
            return Ok(Next::Stop);
        };
        if c.frames > 0 {
            tracing::trace!(
                frames = c.frames,
                checkpointed = c.checkpointed,
                busy = c.busy,
                "WAL checkpoint"
            );
        }
        Ok(Next::Continue)
    })
    .await
}
