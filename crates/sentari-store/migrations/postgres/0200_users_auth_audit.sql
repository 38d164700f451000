-- Users, login failures, sessions, API keys and the hash-chained audit log (issue 6).

CREATE TABLE users (
    id              uuid        PRIMARY KEY,
    email           text        NOT NULL,                  -- lowercased by the application
    display_name    text        NOT NULL DEFAULT '',
    role            text        NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin', 'owner')),
    provider        text        NOT NULL CHECK (provider IN ('local', 'ldap', 'oidc')),
    active          boolean     NOT NULL DEFAULT TRUE,
    password_hash   text,
    mfa_enabled     boolean     NOT NULL DEFAULT FALSE,
    external_id     text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_login_at   timestamptz
);
CREATE UNIQUE INDEX users_email_idx ON users (email);
-- Exactly one owner: a unique index over the role, restricted to the owner rows.
CREATE UNIQUE INDEX users_one_owner_idx ON users (role) WHERE role = 'owner';

CREATE TABLE login_failures (
    id       bigserial   PRIMARY KEY,
    user_id  uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at       timestamptz NOT NULL,
    ip       text
);
CREATE INDEX login_failures_user_idx ON login_failures (user_id, at);

CREATE TABLE sessions (
    id            uuid        PRIMARY KEY,
    token_hash    text        NOT NULL,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    ip            text,
    user_agent    text
);
CREATE UNIQUE INDEX sessions_token_idx ON sessions (token_hash);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);

CREATE TABLE api_keys (
    id            uuid        PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text        NOT NULL,
    prefix        text        NOT NULL,
    key_hash      text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin', 'owner')),
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE UNIQUE INDEX api_keys_hash_idx ON api_keys (key_hash);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

CREATE TABLE audit_log (
    seq        bigint      PRIMARY KEY,
    id         uuid        NOT NULL,
    at         timestamptz NOT NULL,
    actor      text        NOT NULL,
    actor_ip   text,
    action     text        NOT NULL,
    target     text,
    before     text,                                       -- canonical JSON, hashed as stored
    after      text,
    prev_hash  text        NOT NULL,
    hash       text        NOT NULL
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, at);
CREATE INDEX audit_log_action_idx ON audit_log (action, at);

-- The last link of the chain, updated in the same transaction as every append, so that deleting
-- entries at the end of the chain is detected too. One row, id = 1.
CREATE TABLE audit_head (
    id    integer PRIMARY KEY CHECK (id = 1),
    seq   bigint  NOT NULL,
    hash  text    NOT NULL
);
