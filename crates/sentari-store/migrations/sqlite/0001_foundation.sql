-- The foundation: job queue, schedules, process heartbeats and runtime settings.
-- Timestamps are INTEGER Unix microseconds (UTC) so that they compare and round-trip exactly.

CREATE TABLE jobs (
    id            BLOB    PRIMARY KEY NOT NULL,            -- UUIDv7, 16 bytes
    kind          TEXT    NOT NULL,
    payload       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    queue         TEXT    NOT NULL DEFAULT 'default',
    priority      INTEGER NOT NULL DEFAULT 0,
    state         TEXT    NOT NULL DEFAULT 'pending'
                          CHECK (state IN ('pending', 'running', 'done', 'dead')),
    run_at        INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    locked_by     TEXT,
    locked_until  INTEGER,
    last_error    TEXT,
    unique_key    TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    finished_at   INTEGER
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
    name         TEXT    PRIMARY KEY NOT NULL,
    cron         TEXT    NOT NULL,
    next_run_at  INTEGER NOT NULL,
    last_run_at  INTEGER,
    enabled      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE processes (
    id              TEXT    PRIMARY KEY NOT NULL,
    host            TEXT    NOT NULL,
    pid             INTEGER NOT NULL,
    role            TEXT    NOT NULL,
    version         TEXT    NOT NULL,
    started_at      INTEGER NOT NULL,
    last_heartbeat  INTEGER NOT NULL
);
CREATE INDEX processes_heartbeat_idx ON processes (last_heartbeat);

CREATE TABLE system_config (
    key         TEXT    PRIMARY KEY NOT NULL,
    value       TEXT    NOT NULL CHECK (json_valid(value)),
    updated_at  INTEGER NOT NULL
);
