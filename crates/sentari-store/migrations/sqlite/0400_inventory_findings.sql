-- Fleet inventory, advisories, findings, suppressions, EOL cycles and feed status (issue 7).
-- Timestamps are INTEGER Unix microseconds (UTC); uuids are 16-byte blobs.

-- What the newest applied scan says about each device. The list pages read these columns
-- directly, so they never aggregate the inventory per request.
ALTER TABLE devices ADD COLUMN os_id TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN os_version_id TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN os_pretty_name TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN os_ecosystem TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN kernel TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN host_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN last_scan_id BLOB;
ALTER TABLE devices ADD COLUMN last_scan_at INTEGER;
ALTER TABLE devices ADD COLUMN last_scan_status TEXT NOT NULL DEFAULT 'never';
ALTER TABLE devices ADD COLUMN package_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN python_version TEXT NOT NULL DEFAULT '';
-- A digest of the applied package and runtime set: an unchanged re-scan is recognised without
-- diffing twenty thousand rows.
ALTER TABLE devices ADD COLUMN inventory_digest TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN open_critical INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN open_high INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN open_medium INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN open_low INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN open_unknown INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN open_suppressed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX devices_hostname_idx ON devices (hostname);
CREATE INDEX devices_last_seen_idx ON devices (last_seen);

-- The scan history: one row per upload, with what applying it changed.
ALTER TABLE scans ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE scans ADD COLUMN applied_at INTEGER;
ALTER TABLE scans ADD COLUMN duration_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN agent_version TEXT NOT NULL DEFAULT '';
ALTER TABLE scans ADD COLUMN packages_added INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN packages_removed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN packages_changed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN runtime_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN error_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN ingest_ms INTEGER;
ALTER TABLE scans ADD COLUMN detail TEXT;
-- The upload as zstd-compressed JSON (then `payload` holds JSON null): smaller on disk and
-- far cheaper to write and read back than a parsed JSON column for 20,000-package scans.
ALTER TABLE scans ADD COLUMN body BLOB;
CREATE INDEX scans_received_idx ON scans (received_at);

-- Scan errors, kept per scan for Diagnostics.
CREATE TABLE scan_errors (
    scan_id    BLOB    NOT NULL REFERENCES scans (scan_id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    device_id  BLOB    NOT NULL,
    scanner    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    PRIMARY KEY (scan_id, seq)
);
CREATE INDEX scan_errors_device_idx ON scan_errors (device_id);

-- Each distinct package version once, shared by every device that has it (ARCHITECTURE §6).
-- `match_ecosystem`/`match_name` are the advisory lookup key: the ecosystem without its
-- release and the normalised name (the source package for OS packages).
CREATE TABLE package_versions (
    id               INTEGER PRIMARY KEY,
    ecosystem        TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    version          TEXT    NOT NULL,
    source_name      TEXT    NOT NULL DEFAULT '',
    match_ecosystem  TEXT    NOT NULL,
    match_name       TEXT    NOT NULL,
    search_name      TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'pending',
    evaluated_at     INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX package_versions_key_idx
    ON package_versions (ecosystem, name, version, source_name);
CREATE INDEX package_versions_match_idx ON package_versions (match_ecosystem, match_name);
CREATE INDEX package_versions_search_idx ON package_versions (search_name);
CREATE INDEX package_versions_pending_idx ON package_versions (id) WHERE status = 'pending';

CREATE TABLE device_packages (
    device_id            BLOB    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    package_version_id   INTEGER NOT NULL REFERENCES package_versions (id),
    install_path         TEXT    NOT NULL,
    environment          TEXT    NOT NULL DEFAULT '',
    arch                 TEXT    NOT NULL DEFAULT '',
    env_type             TEXT    NOT NULL,
    source_version       TEXT,
    interpreter_version  TEXT,
    purl                 TEXT,
    origin               TEXT,
    first_seen           INTEGER NOT NULL,
    PRIMARY KEY (device_id, package_version_id, install_path, environment, arch)
) WITHOUT ROWID;
CREATE INDEX device_packages_pv_idx ON device_packages (package_version_id, device_id);

CREATE TABLE device_runtimes (
    device_id    BLOB    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    vendor       TEXT,
    eol_product  TEXT,
    eol_cycle    TEXT,
    eol_date     TEXT,
    eol_status   TEXT    NOT NULL DEFAULT 'unknown',
    first_seen   INTEGER NOT NULL,
    PRIMARY KEY (device_id, kind, path)
) WITHOUT ROWID;
CREATE INDEX device_runtimes_kind_idx ON device_runtimes (kind, version);
CREATE INDEX device_runtimes_status_idx ON device_runtimes (eol_status);

-- Daily counts of runtime cycles across the fleet, for the Runtime trend chart.
CREATE TABLE runtime_daily (
    day      TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    cycle    TEXT    NOT NULL,
    devices  INTEGER NOT NULL,
    PRIMARY KEY (day, kind, cycle)
);

-- OSV advisories as imported; `record` is the record as published, used to re-evaluate.
CREATE TABLE advisories (
    id               TEXT    PRIMARY KEY NOT NULL,
    modified         TEXT    NOT NULL,
    published        TEXT,
    withdrawn        TEXT,
    summary          TEXT,
    aliases          TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(aliases)),
    severity_type    TEXT,
    severity_vector  TEXT,
    severity_score   REAL,
    severity_rating  TEXT,
    source           TEXT    NOT NULL,
    record           TEXT    NOT NULL,
    first_seen       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

-- Aliases (CVE, GHSA, …) of each advisory, so an advisory can be found by any of its names.
CREATE TABLE advisory_aliases (
    alias        TEXT NOT NULL,
    advisory_id  TEXT NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    PRIMARY KEY (alias, advisory_id)
) WITHOUT ROWID;
CREATE INDEX advisory_aliases_adv_idx ON advisory_aliases (advisory_id);

-- Which (ecosystem, normalised name) keys each advisory names.
CREATE TABLE advisory_packages (
    ecosystem    TEXT NOT NULL,
    name         TEXT NOT NULL,
    advisory_id  TEXT NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    PRIMARY KEY (ecosystem, name, advisory_id)
) WITHOUT ROWID;
CREATE INDEX advisory_packages_adv_idx ON advisory_packages (advisory_id);

-- One finding per distinct package version × advisory, with why it matched.
CREATE TABLE findings (
    package_version_id  INTEGER NOT NULL REFERENCES package_versions (id),
    advisory_id         TEXT    NOT NULL REFERENCES advisories (id),
    severity_rating     TEXT    NOT NULL DEFAULT 'unknown',
    severity_score      REAL,
    severity_type       TEXT,
    severity_vector     TEXT,
    fixed_version       TEXT,
    reason              TEXT    NOT NULL CHECK (json_valid(reason)),
    detected_at         INTEGER NOT NULL,
    resolved_at         INTEGER,
    resolution          TEXT,
    PRIMARY KEY (package_version_id, advisory_id)
) WITHOUT ROWID;
CREATE INDEX findings_advisory_idx ON findings (advisory_id);

-- The findings of each device: its packages' findings, with their own lifecycle (a device
-- that upgrades resolves its finding while other devices keep theirs).
CREATE TABLE device_findings (
    device_id           BLOB    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    package_version_id  INTEGER NOT NULL,
    advisory_id         TEXT    NOT NULL,
    severity_rating     TEXT    NOT NULL DEFAULT 'unknown',
    suppressed          BOOLEAN NOT NULL DEFAULT FALSE,
    detected_at         INTEGER NOT NULL,
    resolved_at         INTEGER,
    resolution          TEXT,
    PRIMARY KEY (device_id, package_version_id, advisory_id)
) WITHOUT ROWID;
CREATE INDEX device_findings_open_adv_idx ON device_findings (advisory_id, device_id)
    WHERE resolved_at IS NULL;
CREATE INDEX device_findings_pv_idx ON device_findings (package_version_id, advisory_id);

CREATE TABLE suppressions (
    id            BLOB    PRIMARY KEY NOT NULL,
    scope         TEXT    NOT NULL CHECK (scope IN ('advisory', 'advisory_package', 'device', 'tag')),
    advisory_id   TEXT,
    ecosystem     TEXT,
    package_name  TEXT,
    device_id     BLOB,
    tag           TEXT,
    reason        TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    -- Set once the expiry has been applied to the findings it covered.
    expired_applied BOOLEAN NOT NULL DEFAULT FALSE
);

-- End-of-life cycles (endoflife.date).
CREATE TABLE eol_cycles (
    product       TEXT NOT NULL,
    cycle         TEXT NOT NULL,
    release_date  TEXT,
    eol           TEXT,
    support       TEXT,
    latest        TEXT,
    lts           TEXT,
    record        TEXT NOT NULL CHECK (json_valid(record)),
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (product, cycle)
);

-- Per feed source: the last success, the last error, what it holds, and the HTTP validators
-- of each downloaded file (so a sync downloads nothing when nothing changed).
CREATE TABLE feed_status (
    source          TEXT    PRIMARY KEY NOT NULL,
    last_attempt    INTEGER,
    last_success    INTEGER,
    last_error      TEXT,
    last_error_at   INTEGER,
    record_count    INTEGER NOT NULL DEFAULT 0,
    detail          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
);
