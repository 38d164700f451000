//! The one way to record a privileged change: an entry appended to the hash-chained table and
//! the same entry as one JSON line in `audit.log` (tracing target `sentari::audit`).

use sentari_store::{AuditRecord, NewAuditEntry, Store, StoreError};
use serde_json::Value;

use crate::logging::AUDIT;

/// Appends an entry to the chain and writes its `audit.log` line. The caller passes only state
/// that is safe to keep forever: never passwords, tokens or MFA secrets.
pub async fn record(
    store: &Store,
    actor: &str,
    actor_ip: Option<String>,
    action: &str,
    target: Option<String>,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<AuditRecord, StoreError> {
    let entry = NewAuditEntry {
        actor: actor.to_owned(),
        actor_ip,
        action: action.to_owned(),
        target,
        before,
        after,
    };
    let r = store.append_audit(&entry).await?;
    let at =
        r.at.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
    tracing::info!(
        target: AUDIT,
        id = %r.id,
        seq = r.seq,
        at = %at,
        actor = %r.actor,
        actor_ip = r.actor_ip.as_deref().unwrap_or(""),
        action = %r.action,
        target = r.target.as_deref().unwrap_or(""),
        before = %r.before.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "null".into()),
        after = %r.after.as_ref().map(|v| v.to_string()).unwrap_or_else(|| "null".into()),
        hash = %r.hash,
        "audit"
    );
    Ok(r)
}
