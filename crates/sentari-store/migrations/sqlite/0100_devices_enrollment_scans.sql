-- Agent transport: enrolled devices, enrollment tokens and uploaded scans.
-- Timestamps are INTEGER Unix microseconds (UTC), like the foundation's.

CREATE TABLE devices (
    id                 BLOB    PRIMARY KEY NOT NULL,        -- UUIDv7
    machine_id         TEXT    NOT NULL,
    hostname           TEXT    NOT NULL,
    os                 TEXT    NOT NULL DEFAULT '',
    arch               TEXT    NOT NULL DEFAULT '',
    agent_version      TEXT    NOT NULL DEFAULT '',
    tags               TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    cert_fingerprint   TEXT    NOT NULL,
    cert_serial        TEXT    NOT NULL,
    cert_not_after     INTEGER NOT NULL,
    -- The certificate replaced by the last renewal stays valid until this instant.
    prev_fingerprint   TEXT,
    prev_serial        TEXT,
    prev_valid_until   INTEGER,
    enrolled_at        INTEGER NOT NULL,
    last_seen          INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
-- One device per machine: re-enrolling a machine replaces its certificate, keeps its history.
CREATE UNIQUE INDEX devices_machine_idx ON devices (machine_id);
CREATE INDEX devices_fingerprint_idx ON devices (cert_fingerprint);

CREATE TABLE enrollment_tokens (
    id           BLOB    PRIMARY KEY NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,                   -- hex SHA-256 of the token
    tags         TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    max_uses     INTEGER,
    uses         INTEGER NOT NULL DEFAULT 0,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    created_at   INTEGER NOT NULL
);

CREATE TABLE scans (
    scan_id            BLOB    PRIMARY KEY NOT NULL,        -- chosen by the agent
    device_id          BLOB    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    scanned_at         INTEGER NOT NULL,
    received_at        INTEGER NOT NULL,
    packages_received  INTEGER NOT NULL,
    payload            TEXT    NOT NULL CHECK (json_valid(payload))
);
CREATE INDEX scans_device_idx ON scans (device_id, received_at);
