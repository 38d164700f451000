//! This process's turn at SQLite's single write lock, and the group commit of scan applies.
//!
//! SQLite has one write lock per database. Every write transaction of the process queues for
//! its turn here first (a writer that meets a taken lock inside SQLite polls for it with sleeps
//! of up to 100 ms, which left the lock idle between sleeps), and other processes meet at
//! SQLite's own lock and `busy_timeout`.
//!
//! Scan applies share transactions. A first 2,000-package scan inserts into about 2,000 pages of
//! the `device_packages` version index (one per package version) and updates as many version
//! rows; the next device's scan touches mostly the same pages, because devices share versions
//! and device ids grow with enrollment time. Committed one by one, each scan writes all of
//! those pages to the WAL again (and the next transaction re-reads them); in one transaction
//! they are written once. So an apply that finishes while other writers are queued leaves its
//! transaction open (its own part released from a savepoint) and hands the turn on; the next
//! apply continues the same transaction, and whichever writer ends the batch commits it and
//! tells every apply in it whether the commit succeeded. An apply returns only after its batch
//! has committed, so nothing is reported applied that could still be lost. A batch is bounded
//! in size and age, and any other writer that takes the turn commits an open batch first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Sqlite, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

use crate::error::StoreError;

/// The most scan applies one transaction holds.
const MAX_BATCH_APPLIES: usize = 16;

/// The longest a batch stays open for more applies.
const MAX_BATCH_AGE: Duration = Duration::from_millis(250);

/// How long an apply whose part waits in an open batch waits before committing the batch
/// itself (it normally hears from the writer that took the turn after it much sooner).
const PARKED_WAIT: Duration = Duration::from_millis(200);

/// A write transaction left open for the next scan apply, with the applies waiting for it.
pub(crate) struct OpenBatch {
    tx: Transaction<'static, Sqlite>,
    waiters: Vec<oneshot::Sender<Result<(), String>>>,
    started: Instant,
    applies: usize,
}

impl OpenBatch {
    /// Begins a batch: `BEGIN IMMEDIATE` takes SQLite's write lock up front (a deferred
    /// transaction that reads first could fail with SQLITE_BUSY without waiting).
    async fn begin(pool: &SqlitePool) -> Result<OpenBatch, StoreError> {
        Ok(OpenBatch {
            tx: pool.begin_with("BEGIN IMMEDIATE").await?,
            waiters: Vec::new(),
            started: Instant::now(),
            applies: 0,
        })
    }

    /// Commits the batch and tells every waiting apply how it went.
    async fn commit(self) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.tx.commit().await;
        tracing::debug!(
            applies = self.applies,
            open_ms = self.started.elapsed().as_millis() as u64,
            commit_ms = started.elapsed().as_millis() as u64,
            ok = result.is_ok(),
            "committed a batch of scan applies"
        );
        let shared = result.as_ref().map(|_| ()).map_err(|e| {
            format!("the write batch this scan was applied in could not be committed: {e}")
        });
        for w in self.waiters {
            // An apply that stopped waiting (its task was cancelled) has nothing to hear.
            let _ = w.send(shared.clone());
        }
        Ok(result?)
    }
}

/// The turn guard: holding it is holding this process's turn; it carries the open batch, if
/// any.
pub(crate) type TurnGuard = OwnedMutexGuard<Option<OpenBatch>>;

/// Whose turn it is to write, among this process's SQLite write transactions.
#[derive(Default)]
pub(crate) struct WriteTurn {
    slot: Arc<Mutex<Option<OpenBatch>>>,
    /// Writers queued for the turn; an apply keeps its batch open only when someone is.
    queued: AtomicUsize,
    /// Scan applies run and batches committed, for [`WriteTurn::stats`].
    applies: AtomicU64,
    commits: AtomicU64,
    /// The one connection the turn's writes run on (SQLite). SQLite empties a connection's
    /// page cache whenever another connection has written, so writes spread over the pool each
    /// started cold and re-read the index pages the previous write had just modified; with one
    /// writer connection they stay in its cache.
    writer: Option<SqlitePool>,
}

impl WriteTurn {
    /// A turn whose writes run on `writer`, a pool of one connection.
    pub(crate) fn with_writer(writer: SqlitePool) -> WriteTurn {
        WriteTurn {
            writer: Some(writer),
            ..WriteTurn::default()
        }
    }

    /// The writer connection's pool, if the turn has one.
    pub(crate) fn writer(&self) -> Option<&SqlitePool> {
        self.writer.as_ref()
    }

    /// Scan applies run and the commits they took, since the process started: their ratio
    /// is the average batch size.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.applies.load(Ordering::Relaxed),
            self.commits.load(Ordering::Relaxed),
        )
    }

    async fn lock(&self) -> TurnGuard {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let guard = self.slot.clone().lock_owned().await;
        self.queued.fetch_sub(1, Ordering::SeqCst);
        guard
    }

    /// Takes the turn for a writer of its own, committing an open batch first (it holds
    /// SQLite's write lock). A failed batch commit is reported to its applies, not here: this
    /// writer's own work is unaffected.
    pub(crate) async fn acquire(&self) -> TurnGuard {
        let mut guard = self.lock().await;
        if let Some(batch) = guard.take() {
            self.commits.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = batch.commit().await {
                tracing::warn!(error = %e, "committing a batch of scan applies failed; they will be retried");
            }
        }
        guard
    }

    /// Runs one scan apply: takes the turn, continues the open batch or begins one on `pool`,
    /// runs `body` in a savepoint of it, then keeps the batch open for the next queued writer
    /// or commits it. Returns the body's result once its batch has committed; a failing body
    /// rolls back only its own savepoint.
    pub(crate) async fn apply<T>(
        &self,
        pool: &SqlitePool,
        body: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut turn = self.lock().await;
        let mut batch = match turn.take() {
            Some(open) => open,
            // Nothing was begun; the turn is released as it drops.
            None => OpenBatch::begin(pool).await?,
        };
        let result = async {
            let mut savepoint = sqlx::Connection::begin(&mut *batch.tx).await?;
            let out = body(&mut savepoint).await?;
            savepoint.commit().await?;
            Ok(out)
        }
        .await;
        self.finish(turn, batch, result).await
    }

    /// Ends one apply's part in `batch` (its savepoint is already released or rolled back):
    /// keeps the batch open for the next queued writer, or commits it. Returns the apply's
    /// result once its batch has committed.
    async fn finish<T>(
        &self,
        mut turn: TurnGuard,
        mut batch: OpenBatch,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        batch.applies += 1;
        self.applies.fetch_add(1, Ordering::Relaxed);
        let keep_open = result.is_ok()
            && self.queued.load(Ordering::SeqCst) > 0
            && batch.applies < MAX_BATCH_APPLIES
            && batch.started.elapsed() < MAX_BATCH_AGE;
        if !keep_open {
            self.commits.fetch_add(1, Ordering::Relaxed);
            let committed = batch.commit().await;
            drop(turn);
            committed?;
            return result;
        }
        let (tx, mut rx) = oneshot::channel();
        batch.waiters.push(tx);
        *turn = Some(batch);
        drop(turn);
        let heard = match tokio::time::timeout(PARKED_WAIT, &mut rx).await {
            Ok(heard) => heard,
            Err(_) => {
                // Nobody took the turn after all (the queued writer gave up): commit it here.
                drop(self.acquire().await);
                rx.await
            }
        };
        match heard {
            Ok(Ok(())) => result,
            Ok(Err(e)) => Err(StoreError::Unavailable(e)),
            Err(_) => Err(StoreError::Unavailable(
                "the write batch this scan was applied in was dropped before it committed".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;

    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    use super::*;

    async fn pool(dir: &tempfile::TempDir) -> SqlitePool {
        let opts = SqliteConnectOptions::new()
            .filename(dir.path().join("t.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER PRIMARY KEY)")
            .execute(&pool)
            .await
            .unwrap();
        pool
    }

    /// One apply inserting `x`, failing after the insert when `fail` is set.
    async fn apply(
        turn: &WriteTurn,
        pool: &SqlitePool,
        x: i64,
        fail: bool,
    ) -> Result<i64, StoreError> {
        turn.apply(pool, async |conn: &mut SqliteConnection| {
            sqlx::query("INSERT INTO t (x) VALUES ($1)")
                .bind(x)
                .execute(&mut *conn)
                .await?;
            if fail {
                return Err(StoreError::Invalid("this apply fails".into()));
            }
            Ok(x)
        })
        .await
    }

    async fn rows(pool: &SqlitePool) -> Vec<i64> {
        sqlx::query_scalar("SELECT x FROM t ORDER BY x")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    async fn until_queued(turn: &WriteTurn, n: usize) {
        for _ in 0..500 {
            if turn.queued.load(Ordering::SeqCst) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("no writer queued");
    }

    #[tokio::test]
    async fn applies_queued_behind_each_other_share_one_commit_and_a_failure_is_only_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let turn = Arc::new(WriteTurn::default());

        // Hold the turn so the three applies queue behind each other.
        let held = turn.acquire().await;
        let mut tasks = Vec::new();
        for (x, fail) in [(1, false), (2, true), (3, false)] {
            let (t, p) = (turn.clone(), pool.clone());
            tasks.push(tokio::spawn(async move { apply(&t, &p, x, fail).await }));
            until_queued(&turn, tasks.len()).await;
        }
        drop(held);
        let results: Vec<_> = futures_join(tasks).await;
        assert_eq!(results[0].as_ref().unwrap(), &1);
        assert!(matches!(results[1], Err(StoreError::Invalid(_))));
        assert_eq!(results[2].as_ref().unwrap(), &3);
        assert_eq!(
            rows(&pool).await,
            vec![1, 3],
            "the failed apply's row is rolled back alone"
        );
        let (applies, commits) = turn.stats();
        assert_eq!(applies, 3);
        assert!(
            commits < 3,
            "the applies shared a commit ({commits} commits)"
        );
    }

    #[tokio::test]
    async fn another_writer_commits_an_open_batch_before_its_own_work() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let turn = Arc::new(WriteTurn::default());

        let held = turn.acquire().await;
        let a = {
            let (turn, pool) = (turn.clone(), pool.clone());
            tokio::spawn(async move { apply(&turn, &pool, 1, false).await })
        };
        until_queued(&turn, 1).await;
        // A plain writer queues behind the apply, so the apply keeps its batch open for it.
        let b = {
            let (turn, pool) = (turn.clone(), pool.clone());
            tokio::spawn(async move {
                let _guard = turn.acquire().await;
                // The batch was committed before this writer got its turn: its row is there,
                // and this writer can take SQLite's write lock.
                let seen = rows(&pool).await;
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
                sqlx::query("INSERT INTO t (x) VALUES (2)")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                seen
            })
        };
        until_queued(&turn, 2).await;
        drop(held);
        assert_eq!(a.await.unwrap().unwrap(), 1);
        assert_eq!(b.await.unwrap(), vec![1]);
        assert_eq!(rows(&pool).await, vec![1, 2]);
    }

    async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }
}
