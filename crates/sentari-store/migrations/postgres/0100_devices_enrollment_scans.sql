-- Agent transport: enrolled devices, enrollment tokens and uploaded scans.

CREATE TABLE devices (
    id                 uuid        PRIMARY KEY,             -- UUIDv7
    machine_id         text        NOT NULL,
    hostname           text        NOT NULL,
    os                 text        NOT NULL DEFAULT '',
    arch               text        NOT NULL DEFAULT '',
    agent_version      text        NOT NULL DEFAULT '',
    tags               jsonb       NOT NULL DEFAULT '[]'::jsonb,
    cert_fingerprint   text        NOT NULL,
    cert_serial        text        NOT NULL,
    cert_not_after     timestamptz NOT NULL,
    -- The certificate replaced by the last renewal stays valid until this instant.
    prev_fingerprint   text,
    prev_serial        text,
    prev_valid_until   timestamptz,
    enrolled_at        timestamptz NOT NULL,
    last_seen          timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
-- One device per machine: re-enrolling a machine replaces its certificate, keeps its history.
CREATE UNIQUE INDEX devices_machine_idx ON devices (machine_id);
CREATE INDEX devices_fingerprint_idx ON devices (cert_fingerprint);

CREATE TABLE enrollment_tokens (
    id           uuid        PRIMARY KEY,
    token_hash   text        NOT NULL UNIQUE,               -- hex SHA-256 of the token
    tags         jsonb       NOT NULL DEFAULT '[]'::jsonb,
    max_uses     integer,
    uses         integer     NOT NULL DEFAULT 0,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL
);

CREATE TABLE scans (
    scan_id            uuid        PRIMARY KEY,             -- chosen by the agent
    device_id          uuid        NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    scanned_at         timestamptz NOT NULL,
    received_at        timestamptz NOT NULL,
    packages_received  bigint      NOT NULL,
    payload            jsonb       NOT NULL
);
CREATE INDEX scans_device_idx ON scans (device_id, received_at);
