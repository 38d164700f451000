//! Admin → Tasks (`/admin/tasks`, admin and up): the job queue as operators watch it (what
//! Flower showed in the seed's §14): depth per kind, running jobs, failures waiting for a retry
//! with their errors, dead jobs with retry and purge, and the server processes with their
//! heartbeats and the schedules.
//!
//! The page reads six small queries in parallel (none per row). It works without JavaScript;
//! with it, the tables refresh themselves every few seconds (`data-refresh`).

use std::time::Duration;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sentari_store::{JobRow, PurgeFilter, PurgeState, StoreError};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::chart::{self, Datum, StackRow, Svg};
use super::session::WebUser;
use super::view::{self, Failure, Layout, Stamp};
use crate::auth::audit;
use crate::http::api;
use crate::state::AppState;

/// Processes seen within this window are listed.
const LIST_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Processes beat every 10 s; one silent for longer than this is shown as stale.
const STALE_AFTER: Duration = Duration::from_secs(45);
/// Rows shown per job table.
const ROWS: u32 = 100;

/// One queue × kind line.
#[derive(Debug, Clone)]
pub struct QueueRow {
    /// The queue.
    pub queue: String,
    /// The job kind.
    pub kind: String,
    /// Waiting, never tried.
    pub pending: u64,
    /// Being run.
    pub running: u64,
    /// Waiting for another attempt.
    pub retrying: u64,
    /// Out of attempts.
    pub dead: u64,
    /// Finished (until pruned).
    pub done: u64,
    /// How long the oldest due job has waited.
    pub oldest: Option<String>,
    /// The latest error of a failing job.
    pub last_error: Option<String>,
}

/// One job.
#[derive(Debug, Clone)]
pub struct JobView {
    /// The id.
    pub id: Uuid,
    /// The kind.
    pub kind: String,
    /// The queue.
    pub queue: String,
    /// `2 / 5`.
    pub attempts: String,
    /// Created.
    pub created: Stamp,
    /// Next attempt (retrying) or last update.
    pub when: Stamp,
    /// Which worker holds it (running).
    pub locked_by: Option<String>,
    /// The last error.
    pub error: Option<String>,
}

/// One server process.
#[derive(Debug, Clone)]
pub struct ProcessView {
    /// `serve`, `api`, `worker`, `beat`.
    pub role: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: i64,
    /// Version.
    pub version: String,
    /// Started.
    pub started: Stamp,
    /// Last heartbeat.
    pub heartbeat: Stamp,
    /// Whether the heartbeat is overdue.
    pub stale: bool,
}

/// One schedule.
#[derive(Debug, Clone)]
pub struct ScheduleView {
    /// The name.
    pub name: String,
    /// Its cron expression.
    pub cron: String,
    /// Next tick.
    pub next: Stamp,
    /// Last tick.
    pub last: Option<Stamp>,
    /// Whether it fires.
    pub enabled: bool,
}

/// The page.
#[derive(Template)]
#[template(path = "admin_tasks.html")]
pub struct TasksPage {
    /// The layout.
    pub layout: Layout,
    /// Per queue and kind.
    pub queues: Vec<QueueRow>,
    /// The queue-depth chart.
    pub chart: Svg,
    /// Running jobs.
    pub running: Vec<JobView>,
    /// Failed jobs waiting for a retry.
    pub retrying: Vec<JobView>,
    /// Dead jobs.
    pub dead: Vec<JobView>,
    /// Kinds that have dead jobs, for the purge form.
    pub dead_kinds: Vec<String>,
    /// Processes.
    pub processes: Vec<ProcessView>,
    /// Schedules.
    pub schedules: Vec<ScheduleView>,
}

fn job_view(j: JobRow, now: OffsetDateTime) -> JobView {
    let when = if j.is_retrying() {
        j.run_at
    } else {
        j.updated_at
    };
    JobView {
        id: j.id,
        attempts: format!("{} / {}", j.attempts, j.max_attempts),
        created: view::stamp(j.created_at, now),
        when: view::stamp(when, now),
        locked_by: j.locked_by,
        error: j.last_error,
        kind: j.kind,
        queue: j.queue,
    }
}

/// The queue-depth chart: waiting, running, retrying and dead jobs per kind.
pub fn depth_chart(queues: &[QueueRow]) -> Svg {
    let rows: Vec<StackRow> = queues
        .iter()
        .filter(|q| q.pending + q.running + q.retrying + q.dead > 0)
        .map(|q| StackRow {
            label: q.kind.clone(),
            segments: vec![
                Datum::new("pending", q.pending, "pending"),
                Datum::new("running", q.running, "running"),
                Datum::new("retrying", q.retrying, "retrying"),
                Datum::new("dead", q.dead, "dead"),
            ],
        })
        .collect();
    chart::stacked_bar("Jobs per kind", &rows)
}

async fn load(state: &AppState, layout: Layout) -> Result<TasksPage, StoreError> {
    let store = state
        .store()
        .ok_or_else(|| StoreError::Unavailable("the database is not reachable yet".into()))?;
    let now = OffsetDateTime::now_utc();
    let (stats, running, retrying, dead, processes, schedules) = tokio::try_join!(
        store.queue_stats(),
        store.list_jobs(Some("running"), None, ROWS),
        store.list_jobs(Some("retrying"), None, ROWS),
        store.list_jobs(Some("dead"), None, ROWS),
        store.list_processes(now - LIST_WINDOW),
        store.list_schedules(),
    )?;
    let queues: Vec<QueueRow> = stats
        .into_iter()
        .map(|s| QueueRow {
            oldest: s.oldest_pending_age.map(|d| view::span(d.as_secs())),
            queue: s.queue,
            kind: s.kind,
            pending: s.pending,
            running: s.running,
            retrying: s.retrying,
            dead: s.dead,
            done: s.done,
            last_error: s.last_error,
        })
        .collect();
    let mut dead_kinds: Vec<String> = queues
        .iter()
        .filter(|q| q.dead > 0)
        .map(|q| q.kind.clone())
        .collect();
    dead_kinds.sort();
    dead_kinds.dedup();
    Ok(TasksPage {
        layout,
        chart: depth_chart(&queues),
        queues,
        running: running.into_iter().map(|j| job_view(j, now)).collect(),
        retrying: retrying.into_iter().map(|j| job_view(j, now)).collect(),
        dead: dead.into_iter().map(|j| job_view(j, now)).collect(),
        dead_kinds,
        processes: processes
            .into_iter()
            .map(|p| ProcessView {
                stale: now - p.last_heartbeat > STALE_AFTER,
                started: view::stamp(p.started_at, now),
                heartbeat: view::stamp(p.last_heartbeat, now),
                role: p.role,
                host: p.host,
                pid: p.pid,
                version: p.version,
            })
            .collect(),
        schedules: schedules
            .into_iter()
            .map(|s| ScheduleView {
                next: view::stamp(s.next_run_at, now),
                last: s.last_run_at.map(|t| view::stamp(t, now)),
                name: s.name,
                cron: s.cron,
                enabled: s.enabled,
            })
            .collect(),
    })
}

async fn render_page(
    state: &AppState,
    user: &WebUser,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let layout = Layout::new(
        Some(state),
        &user.principal,
        &user.csrf,
        "/admin/tasks",
        "Tasks",
    )
    .notice(notice)
    .error(error);
    match load(state, layout).await {
        Ok(page) => view::render(status, &page),
        Err(e) => {
            let f = view::explain(e.into()).await;
            view::error_page(
                Some(state),
                &user.principal,
                &user.csrf,
                f.status,
                "Tasks unavailable",
                &f.message,
            )
        }
    }
}

/// The query of the page.
#[derive(Debug, Deserialize)]
pub struct TasksQuery {
    notice: Option<String>,
    n: Option<u64>,
}

fn notice_text(code: Option<&str>, n: Option<u64>) -> Option<String> {
    match code? {
        "retried" => Some("The job is pending again with a fresh set of attempts.".into()),
        "purged" => Some(format!(
            "{} dead job{} purged.",
            n.unwrap_or(0),
            if n == Some(1) { "" } else { "s" }
        )),
        _ => None,
    }
}

/// `GET /admin/tasks`.
pub async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(q): Query<TasksQuery>,
) -> Response {
    render_page(
        &state,
        &user,
        StatusCode::OK,
        notice_text(q.notice.as_deref(), q.n),
        None,
    )
    .await
}

async fn fail(state: &AppState, user: &WebUser, f: Failure) -> Response {
    render_page(state, user, f.status, None, Some(f.message)).await
}

/// `POST /admin/tasks/jobs/{id}/retry`: a dead job runs again.
pub async fn retry(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    let not_found = || {
        Failure::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no dead job has this id",
        )
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return fail(&state, &user, not_found()).await;
    };
    let store = match api::store(&state) {
        Ok(s) => s,
        Err(e) => return fail(&state, &user, view::explain(e).await).await,
    };
    match store.retry_dead_job(id).await {
        Ok(true) => {}
        Ok(false) => return fail(&state, &user, not_found()).await,
        Err(e) => return fail(&state, &user, view::explain(e.into()).await).await,
    }
    let p = &user.principal;
    if let Err(e) = audit::record(
        store,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "job.retry",
        Some(id.to_string()),
        None,
        None,
    )
    .await
    {
        return fail(&state, &user, view::explain(e.into()).await).await;
    }
    Redirect::to("/admin/tasks?notice=retried#dead").into_response()
}

/// The purge form: dead jobs of one kind, or of every kind when empty.
#[derive(Deserialize)]
pub struct PurgeForm {
    #[serde(default)]
    kind: String,
}

/// `POST /admin/tasks/purge`: deletes dead jobs (never pending or running ones).
pub async fn purge(
    State(state): State<AppState>,
    user: WebUser,
    Form(f): Form<PurgeForm>,
) -> Response {
    let kind = f.kind.trim();
    if kind.len() > 200 {
        return fail(
            &state,
            &user,
            Failure::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the job kind is too long",
            ),
        )
        .await;
    }
    let store = match api::store(&state) {
        Ok(s) => s,
        Err(e) => return fail(&state, &user, view::explain(e).await).await,
    };
    let filter = PurgeFilter {
        queue: None,
        kind: (!kind.is_empty()).then(|| kind.to_owned()),
        state: PurgeState::Dead,
    };
    let n = match store.purge_jobs(&filter, false).await {
        Ok(n) => n,
        Err(e) => return fail(&state, &user, view::explain(e.into()).await).await,
    };
    let p = &user.principal;
    if let Err(e) = audit::record(
        store,
        &p.actor(),
        p.ip.map(|i| i.to_string()),
        "jobs.purge",
        filter.kind.clone(),
        None,
        Some(json!({"state": "dead", "kind": filter.kind, "deleted": n})),
    )
    .await
    {
        return fail(&state, &user, view::explain(e.into()).await).await;
    }
    Redirect::to(&format!("/admin/tasks?notice=purged&n={n}#dead")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_depth_chart_skips_idle_kinds() {
        let row = |kind: &str, pending, dead| QueueRow {
            queue: "default".into(),
            kind: kind.into(),
            pending,
            running: 0,
            retrying: 0,
            dead,
            done: 7,
            oldest: None,
            last_error: None,
        };
        let svg = depth_chart(&[row("diagnostic", 2, 1), row("retention", 0, 0)]).0;
        assert!(svg.contains("diagnostic (pending 2, running 0, retrying 0, dead 1)"));
        assert!(!svg.contains("retention"));
        assert!(depth_chart(&[row("retention", 0, 0)]).0.contains("No data"));
        assert_eq!(
            notice_text(Some("purged"), Some(1)).as_deref(),
            Some("1 dead job purged.")
        );
        assert_eq!(notice_text(Some("x"), None), None);
    }
}
