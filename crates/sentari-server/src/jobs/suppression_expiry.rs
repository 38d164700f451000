//! Ends expired suppressions within a minute of their expiry.
//!
//! A suppression's expiry is a promise to the analyst who set it: from that time on, the
//! findings it hid count as open again. The suppression list shows it inactive at once, so
//! the findings must follow promptly. Every process that runs jobs runs this task, so it is
//! the one place expiries are applied. Each look is one small read unless something expired.

use std::time::Duration;

use sentari_store::Store;
use tokio_util::sync::CancellationToken;

use super::periodic::Next;

/// How often expiries are looked for.
const EVERY: Duration = Duration::from_secs(60);

/// Runs until `stop` is cancelled.
pub async fn run(store: Store, stop: CancellationToken) {
    super::periodic::run(
        EVERY,
        false,
        stop,
        "applying suppression expiries failed",
        || async {
            let n = store.apply_suppression_expiry().await?;
            if n > 0 {
                tracing::info!(
                    suppressions_expired = n,
                    "expired suppressions no longer hide their findings"
                );
            }
            Ok(Next::Continue)
        },
    )
    .await
}
