-- Users, login failures, sessions, API keys and the hash-chained audit log (issue 6).
-- Timestamps are INTEGER Unix microseconds (UTC), ids 16-byte UUID blobs.

CREATE TABLE users (
    id              BLOB    PRIMARY KEY NOT NULL,
    email           TEXT    NOT NULL,                      -- lowercased by the application
    display_name    TEXT    NOT NULL DEFAULT '',
    role            TEXT    NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin', 'owner')),
    provider        TEXT    NOT NULL CHECK (provider IN ('local', 'ldap', 'oidc')),
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    password_hash   TEXT,
    mfa_enabled     BOOLEAN NOT NULL DEFAULT FALSE,
    external_id     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_login_at   INTEGER
);
CREATE UNIQUE INDEX users_email_idx ON users (email);
-- Exactly one owner: a unique index over the role, restricted to the owner rows.
CREATE UNIQUE INDEX users_one_owner_idx ON users (role) WHERE role = 'owner';

CREATE TABLE login_failures (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id  BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    ip       TEXT
);
CREATE INDEX login_failures_user_idx ON login_failures (user_id, at);

CREATE TABLE sessions (
    id            BLOB    PRIMARY KEY NOT NULL,
    token_hash    TEXT    NOT NULL,
    user_id       BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    ip            TEXT,
    user_agent    TEXT
);
CREATE UNIQUE INDEX sessions_token_idx ON sessions (token_hash);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);

CREATE TABLE api_keys (
    id            BLOB    PRIMARY KEY NOT NULL,
    user_id       BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    prefix        TEXT    NOT NULL,
    key_hash      TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin', 'owner')),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE UNIQUE INDEX api_keys_hash_idx ON api_keys (key_hash);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY NOT NULL,
    id         BLOB    NOT NULL,
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    actor_ip   TEXT,
    action     TEXT    NOT NULL,
    target     TEXT,
    before     TEXT    CHECK (before IS NULL OR json_valid(before)),
    after      TEXT    CHECK (after IS NULL OR json_valid(after)),
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, at);
CREATE INDEX audit_log_action_idx ON audit_log (action, at);

-- The last link of the chain, updated in the same transaction as every append, so that deleting
-- entries at the end of the chain is detected too. One row, id = 1.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT    NOT NULL
);
