-- The foundation: job queue, schedules, process heartbeats and runtime settings.

CREATE TABLE jobs (
    id            uuid        PRIMARY KEY,                 -- UUIDv7
    kind          text        NOT NULL,
    payload       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    queue         text        NOT NULL DEFAULT 'default',
    priority      integer     NOT NULL DEFAULT 0,
    state         text        NOT NULL DEFAULT 'pending'
                              CHECK (state IN ('pending', 'running', 'done', 'dead')),
    run_at        timestamptz NOT NULL,
    attempts      integer     NOT NULL DEFAULT 0,
    max_attempts  integer     NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    locked_by     text,
    locked_until  timestamptz,
    last_error    text,
    unique_key    text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    finished_at   timestamptz
);

-- Claiming walks this index in order: highest priority first, then the oldest due job.
CREATE INDEX jobs_claim_idx ON jobs (priority DESC, run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_claim_queue_idx ON jobs (queue, priority DESC, run_at, id) WHERE state = 'pending';
-- Finds running jobs whose worker stopped renewing its lease.
CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE state = 'running';
-- At most one unfinished job per unique key; finished jobs do not block a new one.
CREATE UNIQUE INDEX jobs_unique_key_idx ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('pending', 'running');
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE state = 'done';
CREATE INDEX jobs_stats_idx ON jobs (queue, kind, state);

CREATE TABLE schedules (
    name         text        PRIMARY KEY,
    cron         text        NOT NULL,
    next_run_at  timestamptz NOT NULL,
    last_run_at  timestamptz,
    enabled      boolean     NOT NULL DEFAULT TRUE,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE processes (
    id              text        PRIMARY KEY,
    host            text        NOT NULL,
    pid             bigint      NOT NULL,
    role            text        NOT NULL,
    version         text        NOT NULL,
    started_at      timestamptz NOT NULL,
    last_heartbeat  timestamptz NOT NULL
);
CREATE INDEX processes_heartbeat_idx ON processes (last_heartbeat);

CREATE TABLE system_config (
    key         text        PRIMARY KEY,
    value       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL
);
