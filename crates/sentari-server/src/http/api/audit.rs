//! `/api/v1/audit` (analyst and up): the audit log with filters, and chain verification.

use axum::Json;
use axum::extract::{Query, State};
use sentari_proto::auth::{AuditEntryBody, AuditVerifyBody, BrokenLinkBody, Page};
use sentari_store::AuditFilter;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{ApiFailure, store};
use crate::state::AppState;

/// Query parameters of `GET /api/v1/audit`.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    /// RFC 3339; entries at or after.
    since: Option<String>,
    /// RFC 3339; entries before.
    until: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

fn time_param(name: &str, v: Option<&str>) -> Result<Option<OffsetDateTime>, ApiFailure> {
    v.map(|s| {
        OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
            ApiFailure::field(
                name,
                "expected an RFC 3339 timestamp such as 2026-01-31T12:00:00Z",
            )
        })
    })
    .transpose()
}

/// `GET /api/v1/audit`.
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Page<AuditEntryBody>>, ApiFailure> {
    let page = q.page.unwrap_or(1);
    let page_size = q.page_size.unwrap_or(50);
    if page < 1 {
        return Err(ApiFailure::field("page", "pages start at 1"));
    }
    if !(1..=500).contains(&page_size) {
        return Err(ApiFailure::field(
            "page_size",
            "page_size must be between 1 and 500",
        ));
    }
    let filter = AuditFilter {
        actor: q.actor.map(|a| a.to_lowercase()),
        action: q.action,
        since: time_param("since", q.since.as_deref())?,
        until: time_param("until", q.until.as_deref())?,
        page,
        page_size,
    };
    let (rows, total) = store(&state)?.list_audit(&filter).await?;
    let items = rows
        .into_iter()
        .map(|r| AuditEntryBody {
            id: r.id,
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            actor_ip: r.actor_ip,
            action: r.action,
            target: r.target,
            before: r.before,
            after: r.after,
            hash: r.hash,
        })
        .collect();
    Ok(Json(Page {
        items,
        total,
        page,
        page_size,
    }))
}

/// `GET /api/v1/audit/verify`: walks the chain and reports the first broken link.
pub async fn verify(State(state): State<AppState>) -> Result<Json<AuditVerifyBody>, ApiFailure> {
    let report = store(&state)?.verify_audit_chain().await?;
    Ok(Json(AuditVerifyBody {
        ok: report.ok(),
        checked: report.checked,
        first_broken: report.first_broken.map(|b| BrokenLinkBody {
            seq: b.seq,
            id: b.id,
            reason: b.reason,
        }),
    }))
}
