//! The job queue: enqueue, claim with a lease, heartbeat, complete, fail with backoff, and the
//! operator views (stats, purge, retry, list).
//!
//! A job is `pending` until a worker claims it (`running`, with `locked_by` and a lease in
//! `locked_until`), then `done`, or back to `pending` with a later `run_at` when it fails, or
//! `dead` once it has used all its attempts. "Retrying" is not a state of its own: it is a
//! pending job with `attempts > 0`. A worker that stops renewing its lease (it crashed) loses the
//! job to the next claim, which counts another attempt, so handlers must be idempotent.

use std::time::Duration;

use serde_json::Value;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;
use crate::store::{BeginWrite, Pool, Store, WritePool, with_pool};
use crate::ts::Ts;

/// The longest delay between two attempts of a failing job.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// The queue a job lands in when the caller names none.
pub const DEFAULT_QUEUE: &str = "default";

/// How many attempts a job gets when the caller does not say.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 5;

/// A job to enqueue; build it with [`NewJob::new`] and the builder methods.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What to do, e.g. `correlate_scan`; workers dispatch on it.
    pub kind: String,
    /// The handler's arguments.
    pub payload: Value,
    /// Workers may listen to a subset of queues.
    pub queue: String,
    /// Higher runs first.
    pub priority: i32,
    /// Not before this instant; `None` means now.
    pub run_at: Option<OffsetDateTime>,
    /// How many times the job may be tried before it is dead.
    pub max_attempts: i32,
    /// While a pending or running job has this key, enqueuing another with it does nothing.
    pub unique_key: Option<String>,
}

impl NewJob {
    /// A job of `kind` in the default queue, priority 0, due now, five attempts.
    pub fn new(kind: impl Into<String>, payload: Value) -> Self {
        NewJob {
            kind: kind.into(),
            payload,
            queue: DEFAULT_QUEUE.to_owned(),
            priority: 0,
            run_at: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            unique_key: None,
        }
    }

    /// Puts the job in `queue`.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// Sets the priority; higher runs first.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Delays the job until `run_at`.
    pub fn run_at(mut self, run_at: OffsetDateTime) -> Self {
        self.run_at = Some(run_at);
        self
    }

    /// Sets how many attempts the job gets (at least one).
    pub fn max_attempts(mut self, max_attempts: i32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Deduplicates against unfinished jobs with the same key.
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }
}

/// A claimed job, as handed to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub payload: Value,
    pub queue: String,
    pub priority: i32,
    /// Attempts so far, including the current one.
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub unique_key: Option<String>,
}

/// What became of a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// It will be tried again, not before `next_run_at`.
    Retrying { next_run_at: OffsetDateTime },
    /// It used all its attempts and will not run again unless an operator retries it.
    Dead,
}

/// The stored state of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    Pending,
    Running,
    Done,
    Dead,
}

impl JobState {
    /// The name stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JobState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(JobState::Pending),
            "running" => Ok(JobState::Running),
            "done" => Ok(JobState::Done),
            "dead" => Ok(JobState::Dead),
            other => Err(StoreError::Invalid(format!(
                "unknown job state `{other}`; expected pending, retrying, running, done or dead"
            ))),
        }
    }
}

/// Every column of a job, for Admin → Tasks, the CLI and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    pub id: Uuid,
    pub kind: String,
    pub payload: Value,
    pub queue: String,
    pub priority: i32,
    pub state: JobState,
    pub run_at: OffsetDateTime,
    pub attempts: i32,
    pub max_attempts: i32,
    pub locked_by: Option<String>,
    pub locked_until: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub unique_key: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

impl JobRow {
    /// True for a pending job that has failed before and waits for its next attempt.
    pub fn is_retrying(&self) -> bool {
        self.state == JobState::Pending && self.attempts > 0
    }
}

/// Counts per `(queue, kind)`, for `sentari queues list` and the dashboard.
///
/// The buckets are disjoint: `pending` counts waiting jobs that never ran, `retrying` waiting
/// jobs that failed before; together they are the queue depth ([`QueueStat::waiting`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStat {
    pub queue: String,
    pub kind: String,
    pub pending: u64,
    pub running: u64,
    pub retrying: u64,
    pub dead: u64,
    pub done: u64,
    /// How long the oldest due job (pending or retrying, `run_at` passed) has been waiting.
    pub oldest_pending_age: Option<Duration>,
    /// The most recent error among dead and retrying jobs.
    pub last_error: Option<String>,
}

impl QueueStat {
    /// Jobs waiting to run: pending plus retrying.
    pub fn waiting(&self) -> u64 {
        self.pending + self.retrying
    }
}

/// Which waiting jobs `purge_jobs` removes. Running jobs are never purged: a worker holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeState {
    /// Pending jobs, retrying ones included.
    Pending,
    /// Dead jobs.
    Dead,
}

/// Selects the jobs `purge_jobs` removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeFilter {
    pub queue: Option<String>,
    pub kind: Option<String>,
    pub state: PurgeState,
}

#[derive(sqlx::FromRow)]
struct JobRecord {
    id: Uuid,
    kind: String,
    payload: Json<Value>,
    queue: String,
    priority: i32,
    state: String,
    run_at: Ts,
    attempts: i32,
    max_attempts: i32,
    locked_by: Option<String>,
    locked_until: Option<Ts>,
    last_error: Option<String>,
    unique_key: Option<String>,
    created_at: Ts,
    updated_at: Ts,
    finished_at: Option<Ts>,
}

impl TryFrom<JobRecord> for JobRow {
    type Error = StoreError;
    fn try_from(r: JobRecord) -> Result<Self, StoreError> {
        Ok(JobRow {
            id: r.id,
            kind: r.kind,
            payload: r.payload.0,
            queue: r.queue,
            priority: r.priority,
            state: r.state.parse()?,
            run_at: r.run_at.get(),
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            locked_by: r.locked_by,
            locked_until: r.locked_until.map(Ts::get),
            last_error: r.last_error,
            unique_key: r.unique_key,
            created_at: r.created_at.get(),
            updated_at: r.updated_at.get(),
            finished_at: r.finished_at.map(Ts::get),
        })
    }
}

#[derive(sqlx::FromRow)]
struct ClaimedRecord {
    id: Uuid,
    kind: String,
    payload: Json<Value>,
    queue: String,
    priority: i32,
    attempts: i32,
    max_attempts: i32,
    run_at: Ts,
    created_at: Ts,
    unique_key: Option<String>,
}

impl From<ClaimedRecord> for Job {
    fn from(r: ClaimedRecord) -> Self {
        Job {
            id: r.id,
            kind: r.kind,
            payload: r.payload.0,
            queue: r.queue,
            priority: r.priority,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            run_at: r.run_at.get(),
            created_at: r.created_at.get(),
            unique_key: r.unique_key,
        }
    }
}

#[derive(sqlx::FromRow)]
struct StatRecord {
    queue: String,
    kind: String,
    pending: i64,
    running: i64,
    retrying: i64,
    dead: i64,
    done: i64,
    oldest_due: Option<Ts>,
    last_error: Option<String>,
}

const JOB_COLUMNS: &str = "id, kind, payload, queue, priority, state, run_at, attempts, \
     max_attempts, locked_by, locked_until, last_error, unique_key, created_at, updated_at, finished_at";

pub(crate) const INSERT_JOB: &str = "INSERT INTO jobs (id, kind, payload, queue, priority, state, run_at, \
     attempts, max_attempts, unique_key, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, 'pending', $6, 0, $7, $8, $9, $9) \
     ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('pending', 'running') \
     DO NOTHING RETURNING id";

/// Running jobs whose lease ran out go back to pending (their worker is presumed dead), or to
/// dead when that was their last attempt. The next claim then picks them up like any due job;
/// `run_at` is left in the past so they go first within their priority.
const RELEASE_EXPIRED: &str = "UPDATE jobs SET \
     state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END, \
     finished_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE NULL END, \
     last_error = 'lease expired: worker ' || COALESCE(locked_by, '?') \
         || ' stopped renewing it during attempt ' || CAST(attempts AS TEXT), \
     locked_by = NULL, locked_until = NULL, updated_at = $1 \
     WHERE state = 'running' AND locked_until < $1";

const RELEASE_PROBE: &str =
    "SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'running' AND locked_until < $1)";

const CLAIMED_COLUMNS: &str =
    "id, kind, payload, queue, priority, attempts, max_attempts, run_at, created_at, unique_key";

/// Which queues a claim looks at; each shape gets the SQL that lets the planner walk an index in
/// claim order instead of sorting every pending job.
#[derive(Clone, Copy)]
enum QueueFilter {
    All,
    One,
    Many,
}

impl QueueFilter {
    fn of(queues: &[String]) -> Self {
        match queues.len() {
            0 => QueueFilter::All,
            1 => QueueFilter::One,
            _ => QueueFilter::Many,
        }
    }
}

fn sqlite_claim_sql(filter: QueueFilter) -> String {
    // SQLite's planner, left alone, reaches for the (queue, kind, state) statistics index on a
    // queue filter and then sorts every pending job: tens of milliseconds per claim on a deep
    // queue. One queue uses the per-queue claim index; several walk the claim index in order.
    let (from, cond) = match filter {
        QueueFilter::All => ("jobs", ""),
        QueueFilter::One => ("jobs", "AND queue = $5"),
        QueueFilter::Many => (
            "jobs INDEXED BY jobs_claim_idx",
            "AND queue IN (SELECT value FROM json_each($5))",
        ),
    };
    // One UPDATE … RETURNING is atomic under SQLite's single writer, so two workers can never
    // claim the same row.
    format!(
        "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, \
         attempts = attempts + 1, updated_at = $3 \
         WHERE id IN (SELECT id FROM {from} WHERE state = 'pending' AND run_at <= $3 {cond} \
         ORDER BY priority DESC, run_at, id LIMIT $4) \
         RETURNING {CLAIMED_COLUMNS}"
    )
}

fn postgres_claim_sql(filter: QueueFilter) -> String {
    let cond = match filter {
        QueueFilter::All => "",
        QueueFilter::One => "AND queue = $5",
        QueueFilter::Many => "AND queue = ANY($5)",
    };
    // SKIP LOCKED lets concurrent workers walk past each other's rows instead of queueing on
    // them, and the row lock guarantees a job is handed out once.
    format!(
        "WITH due AS (SELECT id FROM jobs WHERE state = 'pending' AND run_at <= $3 {cond} \
         ORDER BY priority DESC, run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
         UPDATE jobs AS j SET state = 'running', locked_by = $1, locked_until = $2, \
         attempts = j.attempts + 1, updated_at = $3 \
         FROM due WHERE j.id = due.id \
         RETURNING j.id, j.kind, j.payload, j.queue, j.priority, j.attempts, j.max_attempts, \
         j.run_at, j.created_at, j.unique_key"
    )
}

/// The delay before attempt `attempts + 1`: `base * 2^(attempts-1)`, capped at an hour, plus
/// up to 10 % jitter so that jobs failing together do not retry in lockstep.
pub fn backoff_delay(backoff_base: Duration, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(0);
    let raw = backoff_base
        .checked_mul(1u32 << exponent)
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF);
    // A v4 UUID is 122 random bits from the OS generator; using a few of them avoids pulling in
    // a random-number crate for jitter that needs no quality guarantees.
    let per_mille = (Uuid::new_v4().as_u128() % 100) as f64 / 1000.0;
    raw.mul_f64(1.0 + per_mille).min(MAX_BACKOFF)
}

fn validate(job: &NewJob) -> Result<(), StoreError> {
    if job.kind.trim().is_empty() {
        return Err(StoreError::Invalid("a job needs a non-empty kind".into()));
    }
    if job.queue.trim().is_empty() {
        return Err(StoreError::Invalid("a job needs a non-empty queue".into()));
    }
    if job.max_attempts < 1 {
        return Err(StoreError::Invalid(format!(
            "max_attempts must be at least 1, got {}",
            job.max_attempts
        )));
    }
    Ok(())
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn lease_lost(id: Uuid, worker_id: &str) -> StoreError {
    StoreError::Conflict(format!(
        "job {id} is not running under worker `{worker_id}`: its lease expired and it was released or claimed by another worker, or it already finished"
    ))
}

/// Enqueues one job inside an open transaction or on a pool; shared by `enqueue`,
/// `enqueue_many` and `fire_schedule`.
macro_rules! insert_job {
    ($executor:expr, $job:expr, $now:expr) => {{
        let job: &$crate::jobs::NewJob = $job;
        let now: $crate::ts::Ts = $now;
        let run_at = job.run_at.map($crate::ts::Ts::new).unwrap_or(now);
        ::sqlx::query_scalar::<_, ::uuid::Uuid>($crate::jobs::INSERT_JOB)
            .bind(::uuid::Uuid::now_v7())
            .bind(&job.kind)
            .bind(::sqlx::types::Json(&job.payload))
            .bind(&job.queue)
            .bind(job.priority)
            .bind(run_at)
            .bind(job.max_attempts)
            .bind(job.unique_key.as_deref())
            .bind(now)
            // `fetch_all`, not `fetch_optional`: sqlx's SQLite driver stops a RETURNING
            // statement after the first row in a way that keeps every automatic WAL checkpoint
            // from running, and the WAL then grows by every page each insert touches.
            .fetch_all($executor)
            .await
            .map(|ids| ids.into_iter().next())
    }};
}
pub(crate) use insert_job;

/// Jobs per `INSERT … UNNEST` statement in `enqueue_many` on PostgreSQL; bounds the size of
/// one statement's parameters.
const PG_INSERT_CHUNK: usize = 5_000;

async fn pg_insert_chunk(
    tx: &mut sqlx::PgConnection,
    jobs: &[NewJob],
    now: Ts,
) -> Result<u64, sqlx::Error> {
    let ids: Vec<Uuid> = jobs.iter().map(|_| Uuid::now_v7()).collect();
    let kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
    let payloads: Vec<Json<&Value>> = jobs.iter().map(|j| Json(&j.payload)).collect();
    let queues: Vec<&str> = jobs.iter().map(|j| j.queue.as_str()).collect();
    let priorities: Vec<i32> = jobs.iter().map(|j| j.priority).collect();
    let run_ats: Vec<Ts> = jobs
        .iter()
        .map(|j| j.run_at.map(Ts::new).unwrap_or(now))
        .collect();
    let max_attempts: Vec<i32> = jobs.iter().map(|j| j.max_attempts).collect();
    let unique_keys: Vec<Option<&str>> = jobs.iter().map(|j| j.unique_key.as_deref()).collect();
    // ON CONFLICT … DO NOTHING also skips a second row with the same unique key inside the
    // same statement, so duplicates within one batch deduplicate like separate enqueues.
    let result = sqlx::query(
        "INSERT INTO jobs (id, kind, payload, queue, priority, state, run_at, attempts, \
         max_attempts, unique_key, created_at, updated_at) \
         SELECT t.id, t.kind, t.payload, t.queue, t.priority, 'pending', t.run_at, 0, \
         t.max_attempts, t.unique_key, $9, $9 \
         FROM UNNEST($1::uuid[], $2::text[], $3::jsonb[], $4::text[], $5::int4[], \
                     $6::timestamptz[], $7::int4[], $8::text[]) \
           AS t(id, kind, payload, queue, priority, run_at, max_attempts, unique_key) \
         ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('pending', 'running') \
         DO NOTHING",
    )
    .bind(ids)
    .bind(kinds)
    .bind(payloads)
    .bind(queues)
    .bind(priorities)
    .bind(run_ats)
    .bind(max_attempts)
    .bind(unique_keys)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(result.rows_affected())
}

impl Store {
    /// Adds a job; returns its id, or `None` when an unfinished job with the same `unique_key`
    /// already exists.
    pub async fn enqueue(&self, job: NewJob) -> Result<Option<Uuid>, StoreError> {
        validate(&job)?;
        self.timed("enqueue", async {
            let id = with_pool!(self, |pool| insert_job!(pool, &job, Ts::now())?);
            if id.is_some() {
                self.notify_job_enqueued();
            }
            Ok(id)
        })
        .await
    }

    /// Adds many jobs in one transaction; returns how many were inserted (duplicates by
    /// `unique_key` are skipped).
    pub async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<usize, StoreError> {
        for job in &jobs {
            validate(job)?;
        }
        self.timed("enqueue_many", async {
            let now = Ts::now();
            let inserted = match &self.inner.pool {
                Pool::Sqlite(pool) => {
                    // In-process SQLite pays nothing per statement beyond the work itself, so
                    // one prepared INSERT per job inside one transaction is as fast as it gets.
                    let mut tx = pool.begin_write(&self.inner.write_turn).await?;
                    let mut inserted = 0usize;
                    for job in &jobs {
                        if insert_job!(&mut *tx, job, now)?.is_some() {
                            inserted += 1;
                        }
                    }
                    tx.commit().await?;
                    inserted
                }
                Pool::Postgres(pool) => {
                    // Over the network each statement costs a round trip, so the jobs travel
                    // as arrays and one INSERT … SELECT FROM UNNEST writes a whole chunk.
                    let mut tx = pool.begin_write(&self.inner.write_turn).await?;
                    let mut inserted = 0u64;
                    for chunk in jobs.chunks(PG_INSERT_CHUNK) {
                        inserted += pg_insert_chunk(&mut tx, chunk, now).await?;
                    }
                    tx.commit().await?;
                    usize::try_from(inserted).unwrap_or(usize::MAX)
                }
            };
            if inserted > 0 {
                self.notify_job_enqueued();
            }
            Ok(inserted)
        })
        .await
    }

    /// Claims up to `limit` due jobs for `worker_id`, highest priority then oldest `run_at`
    /// first, leasing them for `lease`. Jobs whose lease expired are released first, so a
    /// crashed worker's jobs are claimed again (or go dead when that was their last attempt).
    /// `queues` empty means every queue.
    pub async fn claim_jobs(
        &self,
        worker_id: &str,
        queues: &[String],
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.timed("claim_jobs", async {
            let now = Ts::now();
            let locked_until = now.plus(lease);
            let filter = QueueFilter::of(queues);
            // Checking first keeps the common case (nothing expired) a read: on SQLite an
            // UPDATE takes the write lock even when it matches no row, and on PostgreSQL it
            // costs a commit.
            let expired: bool = with_pool!(self, |pool| sqlx::query_scalar(RELEASE_PROBE)
                .bind(now)
                .fetch_one(pool)
                .await?);
            if expired {
                with_pool!(self, |pool| sqlx::query(RELEASE_EXPIRED)
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected());
            }
            let records: Vec<ClaimedRecord> = match &self.inner.pool {
                Pool::Sqlite(pool) => {
                    let _turn = self.sqlite_write_turn().await;
                    let sql = sqlite_claim_sql(filter);
                    let q = sqlx::query_as::<_, ClaimedRecord>(sqlx::AssertSqlSafe(sql))
                        .bind(worker_id)
                        .bind(locked_until)
                        .bind(now)
                        .bind(i64::from(limit));
                    let q = match filter {
                        QueueFilter::All => q,
                        QueueFilter::One => q.bind(&queues[0]),
                        QueueFilter::Many => q.bind(Json(queues)),
                    };
                    q.fetch_all(pool.for_write(&self.inner.write_turn)).await?
                }
                Pool::Postgres(pool) => {
                    let sql = postgres_claim_sql(filter);
                    let q = sqlx::query_as::<_, ClaimedRecord>(sqlx::AssertSqlSafe(sql))
                        .bind(worker_id)
                        .bind(locked_until)
                        .bind(now)
                        .bind(i64::from(limit));
                    let q = match filter {
                        QueueFilter::All => q,
                        QueueFilter::One => q.bind(&queues[0]),
                        QueueFilter::Many => q.bind(queues),
                    };
                    q.fetch_all(pool).await?
                }
            };
            let mut jobs: Vec<Job> = records.into_iter().map(Job::from).collect();
            // RETURNING does not promise any order, so restore the claim order for the caller.
            jobs.sort_by(|a, b| {
                b.priority
                    .cmp(&a.priority)
                    .then(a.run_at.cmp(&b.run_at))
                    .then(a.id.cmp(&b.id))
            });
            Ok(jobs)
        })
        .await
    }

    /// Extends the lease on a running job; `false` when the job is no longer this worker's.
    pub async fn heartbeat_job(
        &self,
        id: Uuid,
        worker_id: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        self.timed("heartbeat_job", async {
            let _turn = self.sqlite_write_turn().await;
            let now = Ts::now();
            let n = with_pool!(self, |pool| sqlx::query(
                "UPDATE jobs SET locked_until = $3, updated_at = $4 \
                 WHERE id = $1 AND state = 'running' AND locked_by = $2"
            )
            .bind(id)
            .bind(worker_id)
            .bind(now.plus(lease))
            .bind(now)
            .execute(pool.for_write(&self.inner.write_turn))
            .await?
            .rows_affected());
            Ok(n == 1)
        })
        .await
    }

    /// Marks a running job done; `false` when it is no longer this worker's (its lease was
    /// lost), in which case its result must be discarded.
    pub async fn complete_job(&self, id: Uuid, worker_id: &str) -> Result<bool, StoreError> {
        self.timed("complete_job", async {
            let _turn = self.sqlite_write_turn().await;
            let now = Ts::now();
            let n = with_pool!(self, |pool| sqlx::query(
                "UPDATE jobs SET state = 'done', finished_at = $3, updated_at = $3, \
                 locked_until = NULL WHERE id = $1 AND state = 'running' AND locked_by = $2"
            )
            .bind(id)
            .bind(worker_id)
            .bind(now)
            .execute(pool.for_write(&self.inner.write_turn))
            .await?
            .rows_affected());
            Ok(n == 1)
        })
        .await
    }

    /// Marks several running jobs of one worker done in one statement; returns how many were
    /// still this worker's. Batch workers and the benchmark use it.
    pub async fn complete_jobs(&self, ids: &[Uuid], worker_id: &str) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.timed("complete_jobs", async {
            let now = Ts::now();
            let n = match &self.inner.pool {
                Pool::Sqlite(pool) => {
                    // SQLite cannot bind an array, so the ids travel as a JSON array of
                    // hyphenated strings and are converted back to 16-byte blobs in SQL.
                    let ids: Vec<String> = ids.iter().map(|u| u.simple().to_string()).collect();
                    sqlx::query(
                        "UPDATE jobs SET state = 'done', finished_at = $3, updated_at = $3, \
                         locked_until = NULL WHERE state = 'running' AND locked_by = $2 \
                         AND id IN (SELECT unhex(value) FROM json_each($1))",
                    )
                    .bind(Json(ids))
                    .bind(worker_id)
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected()
                }
                Pool::Postgres(pool) => sqlx::query(
                    "UPDATE jobs SET state = 'done', finished_at = $3, updated_at = $3, \
                     locked_until = NULL WHERE state = 'running' AND locked_by = $2 \
                     AND id = ANY($1)",
                )
                .bind(ids)
                .bind(worker_id)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected(),
            };
            Ok(n)
        })
        .await
    }

    /// Records a failed attempt. With attempts left the job goes back to pending after an
    /// exponential backoff (`backoff_base * 2^(attempts-1)`, at most an hour); otherwise it is
    /// dead. Either way `last_error` keeps `error`. Fails with [`StoreError::Conflict`] when
    /// the job is no longer this worker's.
    pub async fn fail_job(
        &self,
        id: Uuid,
        worker_id: &str,
        error: &str,
        backoff_base: Duration,
    ) -> Result<FailOutcome, StoreError> {
        self.timed("fail_job", async {
            let now = Ts::now();
            let current: Option<(i32, i32)> = with_pool!(self, |pool| sqlx::query_as(
                "SELECT attempts, max_attempts FROM jobs \
                 WHERE id = $1 AND state = 'running' AND locked_by = $2"
            )
            .bind(id)
            .bind(worker_id)
            .fetch_optional(pool)
            .await?);
            let Some((attempts, max_attempts)) = current else {
                return Err(lease_lost(id, worker_id));
            };
            // `attempts` only changes when a job is claimed, and a claim also changes
            // `locked_by`, so matching on it makes the update a compare-and-swap against a
            // concurrent re-claim between the two statements.
            let (outcome, n) = if attempts >= max_attempts {
                let n = with_pool!(self, |pool| sqlx::query(
                    "UPDATE jobs SET state = 'dead', last_error = $3, finished_at = $4, \
                     locked_until = NULL, updated_at = $4 \
                     WHERE id = $1 AND state = 'running' AND locked_by = $2 AND attempts = $5"
                )
                .bind(id)
                .bind(worker_id)
                .bind(error)
                .bind(now)
                .bind(attempts)
                .execute(pool)
                .await?
                .rows_affected());
                (FailOutcome::Dead, n)
            } else {
                let next = now.plus(backoff_delay(backoff_base, attempts));
                let n = with_pool!(self, |pool| sqlx::query(
                    "UPDATE jobs SET state = 'pending', run_at = $6, last_error = $3, \
                     locked_by = NULL, locked_until = NULL, updated_at = $4 \
                     WHERE id = $1 AND state = 'running' AND locked_by = $2 AND attempts = $5"
                )
                .bind(id)
                .bind(worker_id)
                .bind(error)
                .bind(now)
                .bind(attempts)
                .bind(next)
                .execute(pool)
                .await?
                .rows_affected());
                (
                    FailOutcome::Retrying {
                        next_run_at: next.get(),
                    },
                    n,
                )
            };
            if n == 1 {
                Ok(outcome)
            } else {
                Err(lease_lost(id, worker_id))
            }
        })
        .await
    }

    /// Counts jobs per queue and kind; see [`QueueStat`] for the buckets.
    pub async fn queue_stats(&self) -> Result<Vec<QueueStat>, StoreError> {
        self.timed("queue_stats", async {
            let now = Ts::now();
            let records: Vec<StatRecord> = with_pool!(self, |pool| sqlx::query_as(
                "SELECT j.queue, j.kind, \
                 SUM(CASE WHEN j.state = 'pending' AND j.attempts = 0 THEN 1 ELSE 0 END) AS pending, \
                 SUM(CASE WHEN j.state = 'running' THEN 1 ELSE 0 END) AS running, \
                 SUM(CASE WHEN j.state = 'pending' AND j.attempts > 0 THEN 1 ELSE 0 END) AS retrying, \
                 SUM(CASE WHEN j.state = 'dead' THEN 1 ELSE 0 END) AS dead, \
                 SUM(CASE WHEN j.state = 'done' THEN 1 ELSE 0 END) AS done, \
                 MIN(CASE WHEN j.state = 'pending' AND j.run_at <= $1 THEN j.run_at END) AS oldest_due, \
                 (SELECT e.last_error FROM jobs e \
                    WHERE e.queue = j.queue AND e.kind = j.kind AND e.last_error IS NOT NULL \
                      AND (e.state = 'dead' OR (e.state = 'pending' AND e.attempts > 0)) \
                    ORDER BY e.updated_at DESC LIMIT 1) AS last_error \
                 FROM jobs j GROUP BY j.queue, j.kind ORDER BY j.queue, j.kind"
            )
            .bind(now)
            .fetch_all(pool)
            .await?);
            Ok(records
                .into_iter()
                .map(|r| QueueStat {
                    queue: r.queue,
                    kind: r.kind,
                    pending: to_u64(r.pending),
                    running: to_u64(r.running),
                    retrying: to_u64(r.retrying),
                    dead: to_u64(r.dead),
                    done: to_u64(r.done),
                    oldest_pending_age: r.oldest_due.map(|t| {
                        Duration::try_from(now.get() - t.get()).unwrap_or(Duration::ZERO)
                    }),
                    last_error: r.last_error,
                })
                .collect())
        })
        .await
    }

    /// Deletes pending or dead jobs matching `filter` (running jobs are never touched);
    /// returns how many were deleted, or with `dry_run` how many would be.
    pub async fn purge_jobs(&self, filter: &PurgeFilter, dry_run: bool) -> Result<u64, StoreError> {
        let state = match filter.state {
            PurgeState::Pending => "pending",
            PurgeState::Dead => "dead",
        };
        self.timed("purge_jobs", async {
            let n = if dry_run {
                let n: i64 = with_pool!(self, |pool| sqlx::query_scalar(
                    "SELECT COUNT(*) FROM jobs WHERE state = $1 \
                     AND (CAST($2 AS TEXT) IS NULL OR queue = $2) \
                     AND (CAST($3 AS TEXT) IS NULL OR kind = $3)"
                )
                .bind(state)
                .bind(filter.queue.as_deref())
                .bind(filter.kind.as_deref())
                .fetch_one(pool)
                .await?);
                to_u64(n)
            } else {
                with_pool!(self, |pool| sqlx::query(
                    "DELETE FROM jobs WHERE state = $1 \
                     AND (CAST($2 AS TEXT) IS NULL OR queue = $2) \
                     AND (CAST($3 AS TEXT) IS NULL OR kind = $3)"
                )
                .bind(state)
                .bind(filter.queue.as_deref())
                .bind(filter.kind.as_deref())
                .execute(pool)
                .await?
                .rows_affected())
            };
            if !dry_run {
                tracing::info!(
                    state,
                    queue = filter.queue.as_deref().unwrap_or("*"),
                    kind = filter.kind.as_deref().unwrap_or("*"),
                    deleted = n,
                    "jobs purged"
                );
            }
            Ok(n)
        })
        .await
    }

    /// Puts a dead job back to pending with a fresh set of attempts, due now; `false` when no
    /// dead job has this id. Fails with [`StoreError::Conflict`] when an unfinished job with
    /// the same `unique_key` exists.
    pub async fn retry_dead_job(&self, id: Uuid) -> Result<bool, StoreError> {
        self.timed("retry_dead_job", async {
            let now = Ts::now();
            let n = with_pool!(self, |pool| sqlx::query(
                "UPDATE jobs SET state = 'pending', attempts = 0, run_at = $2, locked_by = NULL, \
                 locked_until = NULL, finished_at = NULL, updated_at = $2 \
                 WHERE id = $1 AND state = 'dead'"
            )
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!(
                    "job {id} cannot be retried: another job with the same unique key is pending or running"
                )),
                other => other,
            })?
            .rows_affected());
            Ok(n == 1)
        })
        .await
    }

    /// Lists jobs, newest first. `state` is one of `pending`, `retrying` (pending that failed
    /// before), `running`, `done`, `dead`, or `None` for all.
    pub async fn list_jobs(
        &self,
        state: Option<&str>,
        kind: Option<&str>,
        limit: u32,
    ) -> Result<Vec<JobRow>, StoreError> {
        let (state, min_attempts) = match state {
            None => (None, 0i32),
            Some("retrying") => (Some("pending"), 1),
            Some(s) => (Some(s.parse::<JobState>()?.as_str()), 0),
        };
        self.timed("list_jobs", async {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) \
                 AND attempts >= $2 AND (CAST($3 AS TEXT) IS NULL OR kind = $3) \
                 ORDER BY created_at DESC, id DESC LIMIT $4"
            );
            let records: Vec<JobRecord> = with_pool!(self, |pool| sqlx::query_as(
                sqlx::AssertSqlSafe(sql.as_str())
            )
            .bind(state)
            .bind(min_attempts)
            .bind(kind)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
            records.into_iter().map(JobRow::try_from).collect()
        })
        .await
    }

    /// One job by id, in any state.
    pub async fn get_job(&self, id: Uuid) -> Result<Option<JobRow>, StoreError> {
        self.timed("get_job", async {
            let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
            let record: Option<JobRecord> = with_pool!(self, |pool| sqlx::query_as(
                sqlx::AssertSqlSafe(sql.as_str())
            )
            .bind(id)
            .fetch_optional(pool)
            .await?);
            record.map(JobRow::try_from).transpose()
        })
        .await
    }

    /// Deletes done jobs that finished before `older_than`; returns how many.
    pub async fn prune_finished_jobs(&self, older_than: OffsetDateTime) -> Result<u64, StoreError> {
        self.timed("prune_finished_jobs", async {
            let n = with_pool!(self, |pool| sqlx::query(
                "DELETE FROM jobs WHERE state = 'done' AND finished_at < $1"
            )
            .bind(Ts::new(older_than))
            .execute(pool)
            .await?
            .rows_affected());
            Ok(n)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_at_an_hour() {
        let base = Duration::from_secs(10);
        let d1 = backoff_delay(base, 1);
        assert!(d1 >= base && d1 <= base.mul_f64(1.1));
        let d3 = backoff_delay(base, 3);
        assert!(d3 >= base * 4 && d3 <= (base * 4).mul_f64(1.1));
        assert_eq!(backoff_delay(base, 30), MAX_BACKOFF);
        assert!(backoff_delay(base, 0) >= base);
    }
}
