//! `/api/v1/audit` (analyst and up): the audit log with filters, and chain verification.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use sentari_proto::auth::{AuditEntryBody, AuditVerifyBody, BrokenLinkBody, Page};
use sentari_store::AuditFilter;
use serde::Deserialize;

use super::export::csv_response;
use super::fleet::{Format, ListParams, time_param};
use super::{ApiFailure, ApiQuery, UnknownParams, query_params, store};
use crate::state::AppState;

/// Query parameters of `GET /api/v1/audit`.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    #[serde(flatten)]
    list: ListParams,
    actor: Option<String>,
    action: Option<String>,
    /// RFC 3339; entries at or after.
    since: Option<String>,
    /// RFC 3339; entries before.
    until: Option<String>,
    #[serde(flatten)]
    unknown: UnknownParams,
}

query_params!(AuditQuery);

/// `GET /api/v1/audit`: newest first; `format=csv` exports every matching entry.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiFailure> {
    q.list
        .fixed_order("the audit log is listed in its own order, newest first")?;
    let format = q.list.format(false)?;
    let page = q.list.fetch(format)?;
    let filter = AuditFilter {
        actor: q.actor.map(|a| a.to_lowercase()),
        action: q.action.filter(|a| !a.is_empty()),
        since: time_param("since", q.since.as_deref())?,
        until: time_param("until", q.until.as_deref())?,
        page: i64::from(page.page),
        page_size: i64::from(page.page_size),
    };
    let (rows, total) = store(&state)?.list_audit(&filter).await?;
    let items: Vec<AuditEntryBody> = rows
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
    if format == Format::Json {
        return Ok(Json(Page {
            items,
            total,
            page: i64::from(page.page),
            page_size: i64::from(page.page_size),
        })
        .into_response());
    }
    Ok(csv_response("audit", &items))
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
