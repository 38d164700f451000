//! Keeps PostgreSQL's planner statistics and dead rows in hand when autovacuum is off.
//!
//! Without statistics the planner guesses, and at a fleet's size it guesses badly: list
//! endpoints that take milliseconds with statistics took a second (see
//! `sentari-store/src/maintenance.rs`). This task asks the store once a minute to analyze and
//! vacuum the tables autovacuum would have; the store does nothing when autovacuum is on, on
//! SQLite, or while another process does it.

use std::time::Duration;

use sentari_store::Store;
use tokio_util::sync::CancellationToken;

use super::periodic::Next;

/// How often the tables are looked at. A fleet's first scans change the inventory tables by
/// millions of rows in minutes; a look at the activity counters costs a millisecond.
const EVERY: Duration = Duration::from_secs(60);

/// Runs until `stop` is cancelled; returns at once on SQLite. With autovacuum on, each look
/// is one setting read, so turning autovacuum off later is noticed within a minute.
pub async fn run(store: Store, stop: CancellationToken) {
    if store.backend() != sentari_store::BackendKind::Postgres {
        return;
    }
    super::periodic::run(EVERY, false, stop, "table maintenance failed", || async {
        if let Some(done) = store.maintain_tables().await?
            && (!done.vacuumed.is_empty() || !done.analyzed.is_empty())
        {
            tracing::info!(
                vacuumed = ?done.vacuumed,
                analyzed = ?done.analyzed,
                "autovacuum is off: vacuumed and analyzed the tables it would have"
            );
        }
        Ok(Next::Continue)
    })
    .await
}
