//! Keeps the fleet's per-advisory counts (`advisory_fleet_stats`, read by the findings list
//! grouped by advisory and Security → CVE) fresh in the background.
//!
//! Lists are exact without it: an advisory whose device findings changed since its last count
//! is counted live. But at 10,000 devices a live count of a popular advisory reads thousands of
//! rows, so the marked advisories are recounted once ingest pauses (the marks stopped
//! growing between two looks) and, during a long ingest, at least every few minutes. A
//! recount of the whole fleet reads every open device finding, so the time between forced
//! recounts grows with how long the last one took; recounting never takes more than about a
//! tenth of the database's time.

use std::time::{Duration, Instant};

use sentari_store::Store;
use tokio_util::sync::CancellationToken;

/// How often the marks are looked at.
const LOOK_EVERY: Duration = Duration::from_secs(5);
/// The longest a changed advisory waits for its recount while ingest goes on.
const FORCE_AFTER: Duration = Duration::from_secs(300);

/// Runs until `stop` is cancelled.
pub async fn run(store: Store, stop: CancellationToken) {
    let mut last_mark = 0_i64;
    let mut last_refresh = Instant::now();
    let mut last_took = Duration::ZERO;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(LOOK_EVERY) => {}
        }
        let mark = match store.advisory_stats_marks().await {
            Ok(m) => m.newest,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the advisory count marks; retrying");
                continue;
            }
        };
        // On SQLite a change to an advisory already marked adds no mark, so "no new mark" can
        // also mean an ingest still going on: the pause after each recount (ten times its
        // duration) is what keeps recounting to a tenth of the time there.
        let since = last_refresh.elapsed();
        let quiet = mark == last_mark && since >= last_took * 10;
        let overdue = since >= FORCE_AFTER.max(last_took * 10);
        last_mark = mark;
        if mark == 0 || !(quiet || overdue) {
            continue;
        }
        let started = Instant::now();
        // A recount of a large fleet takes tens of seconds: shutdown does not wait for it (the
        // dropped transaction rolls back, and the marks stay for the next start).
        let outcome = tokio::select! {
            _ = stop.cancelled() => break,
            r = store.refresh_advisory_stats() => r,
        };
        match outcome {
            Ok(n) => {
                last_took = started.elapsed();
                last_refresh = Instant::now();
                tracing::debug!(
                    marks = n,
                    elapsed_ms = last_took.as_millis() as u64,
                    "recounted advisories"
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "recounting advisories failed; retrying");
            }
        }
    }
}
