-- Fleet inventory, advisories, findings, suppressions, EOL cycles and feed status (issue 7).

-- What the newest applied scan says about each device. The list pages read these columns
-- directly, so they never aggregate the inventory per request.
ALTER TABLE devices ADD COLUMN os_id text NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN os_version_id text NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN os_pretty_name text NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN os_ecosystem text NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN kernel text NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN host_kind text NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN last_scan_id uuid;
ALTER TABLE devices ADD COLUMN last_scan_at timestamptz;
ALTER TABLE devices ADD COLUMN last_scan_status text NOT NULL DEFAULT 'never';
ALTER TABLE devices ADD COLUMN package_count bigint NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN python_version text NOT NULL DEFAULT '';
-- A digest of the applied package and runtime set: an unchanged re-scan is recognised without
-- diffing twenty thousand rows.
ALTER TABLE devices ADD COLUMN inventory_digest text NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN open_critical bigint NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN open_high bigint NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN open_medium bigint NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN open_low bigint NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN open_unknown bigint NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN open_suppressed bigint NOT NULL DEFAULT 0;
CREATE INDEX devices_hostname_idx ON devices (hostname);
CREATE INDEX devices_last_seen_idx ON devices (last_seen);

-- The scan history: one row per upload, with what applying it changed.
ALTER TABLE scans ADD COLUMN status text NOT NULL DEFAULT 'pending';
ALTER TABLE scans ADD COLUMN applied_at timestamptz;
ALTER TABLE scans ADD COLUMN duration_ms bigint NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN agent_version text NOT NULL DEFAULT '';
ALTER TABLE scans ADD COLUMN packages_added bigint NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN packages_removed bigint NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN packages_changed bigint NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN runtime_count bigint NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN error_count bigint NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN ingest_ms bigint;
ALTER TABLE scans ADD COLUMN detail text;
-- The upload as zstd-compressed JSON (then `payload` holds JSON null): smaller on disk and
-- far cheaper to write and read back than a parsed JSON column for 20,000-package scans.
ALTER TABLE scans ADD COLUMN body bytea;
CREATE INDEX scans_received_idx ON scans (received_at);

-- Scan errors, kept per scan for Diagnostics.
CREATE TABLE scan_errors (
    scan_id    uuid    NOT NULL REFERENCES scans (scan_id) ON DELETE CASCADE,
    seq        bigint NOT NULL,
    device_id  uuid    NOT NULL,
    scanner    text    NOT NULL,
    kind       text    NOT NULL,
    path       text    NOT NULL,
    message    text    NOT NULL,
    PRIMARY KEY (scan_id, seq)
);
CREATE INDEX scan_errors_device_idx ON scan_errors (device_id);

-- Each distinct package version once, shared by every device that has it (ARCHITECTURE §6).
-- `match_ecosystem`/`match_name` are the advisory lookup key: the ecosystem without its
-- release and the normalised name (the source package for OS packages).
CREATE TABLE package_versions (
    id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ecosystem        text    NOT NULL,
    name             text    NOT NULL,
    version          text    NOT NULL,
    source_name      text    NOT NULL DEFAULT '',
    match_ecosystem  text    NOT NULL,
    match_name       text    NOT NULL,
    search_name      text    COLLATE "C" NOT NULL,
    status           text    NOT NULL DEFAULT 'pending',
    evaluated_at     timestamptz,
    created_at       timestamptz NOT NULL
);
CREATE UNIQUE INDEX package_versions_key_idx
    ON package_versions (ecosystem, name, version, source_name);
CREATE INDEX package_versions_match_idx ON package_versions (match_ecosystem, match_name);
CREATE INDEX package_versions_search_idx ON package_versions (search_name);
CREATE INDEX package_versions_pending_idx ON package_versions (id) WHERE status = 'pending';

CREATE TABLE device_packages (
    device_id            uuid    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    package_version_id   bigint NOT NULL REFERENCES package_versions (id),
    install_path         text    NOT NULL,
    environment          text    NOT NULL DEFAULT '',
    arch                 text    NOT NULL DEFAULT '',
    env_type             text    NOT NULL,
    source_version       text,
    interpreter_version  text,
    purl                 text,
    origin               text,
    first_seen           timestamptz NOT NULL,
    PRIMARY KEY (device_id, package_version_id, install_path, environment, arch)
);
CREATE INDEX device_packages_pv_idx ON device_packages (package_version_id, device_id);

CREATE TABLE device_runtimes (
    device_id    uuid    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    kind         text    NOT NULL,
    path         text    NOT NULL,
    version      text    NOT NULL,
    vendor       text,
    eol_product  text,
    eol_cycle    text,
    eol_date     text,
    eol_status   text    NOT NULL DEFAULT 'unknown',
    first_seen   timestamptz NOT NULL,
    PRIMARY KEY (device_id, kind, path)
);
CREATE INDEX device_runtimes_kind_idx ON device_runtimes (kind, version);
CREATE INDEX device_runtimes_status_idx ON device_runtimes (eol_status);

-- Daily counts of runtime cycles across the fleet, for the Runtime trend chart.
CREATE TABLE runtime_daily (
    day      text    NOT NULL,
    kind     text    NOT NULL,
    cycle    text    NOT NULL,
    devices  bigint NOT NULL,
    PRIMARY KEY (day, kind, cycle)
);

-- OSV advisories as imported; `record` is the record as published, used to re-evaluate.
CREATE TABLE advisories (
    id               text    PRIMARY KEY NOT NULL,
    modified         text    NOT NULL,
    published        text,
    withdrawn        text,
    summary          text,
    aliases          jsonb   NOT NULL DEFAULT '[]'::jsonb,
    severity_type    text,
    severity_vector  text,
    severity_score   double precision,
    severity_rating  text,
    source           text    NOT NULL,
    record           text    NOT NULL,
    first_seen       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

-- Aliases (CVE, GHSA, …) of each advisory, so an advisory can be found by any of its names.
CREATE TABLE advisory_aliases (
    alias        text NOT NULL,
    advisory_id  text NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    PRIMARY KEY (alias, advisory_id)
);
CREATE INDEX advisory_aliases_adv_idx ON advisory_aliases (advisory_id);

-- Which (ecosystem, normalised name) keys each advisory names.
CREATE TABLE advisory_packages (
    ecosystem    text NOT NULL,
    name         text NOT NULL,
    advisory_id  text NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    PRIMARY KEY (ecosystem, name, advisory_id)
);
CREATE INDEX advisory_packages_adv_idx ON advisory_packages (advisory_id);

-- One finding per distinct package version × advisory, with why it matched.
CREATE TABLE findings (
    package_version_id  bigint NOT NULL REFERENCES package_versions (id),
    advisory_id         text    NOT NULL REFERENCES advisories (id),
    severity_rating     text    NOT NULL DEFAULT 'unknown',
    severity_score      double precision,
    severity_type       text,
    severity_vector     text,
    fixed_version       text,
    reason              jsonb   NOT NULL,
    detected_at         timestamptz NOT NULL,
    resolved_at         timestamptz,
    resolution          text,
    PRIMARY KEY (package_version_id, advisory_id)
);
CREATE INDEX findings_advisory_idx ON findings (advisory_id);

-- The findings of each device: its packages' findings, with their own lifecycle (a device
-- that upgrades resolves its finding while other devices keep theirs).
CREATE TABLE device_findings (
    device_id           uuid    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    package_version_id  bigint NOT NULL,
    advisory_id         text    NOT NULL,
    severity_rating     text    NOT NULL DEFAULT 'unknown',
    suppressed          boolean NOT NULL DEFAULT FALSE,
    detected_at         timestamptz NOT NULL,
    resolved_at         timestamptz,
    resolution          text,
    PRIMARY KEY (device_id, package_version_id, advisory_id)
);
CREATE INDEX device_findings_open_adv_idx ON device_findings (advisory_id, device_id)
    WHERE resolved_at IS NULL;
CREATE INDEX device_findings_pv_idx ON device_findings (package_version_id, advisory_id);

CREATE TABLE suppressions (
    id            uuid    PRIMARY KEY NOT NULL,
    scope         text    NOT NULL CHECK (scope IN ('advisory', 'advisory_package', 'device', 'tag')),
    advisory_id   text,
    ecosystem     text,
    package_name  text,
    device_id     uuid,
    tag           text,
    reason        text    NOT NULL,
    created_by    text    NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz,
    -- Set once the expiry has been applied to the findings it covered.
    expired_applied boolean NOT NULL DEFAULT FALSE
);

-- End-of-life cycles (endoflife.date).
CREATE TABLE eol_cycles (
    product       text NOT NULL,
    cycle         text NOT NULL,
    release_date  text,
    eol           text,
    support       text,
    latest        text,
    lts           text,
    record        jsonb NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (product, cycle)
);

-- Per feed source: the last success, the last error, what it holds, and the HTTP validators
-- of each downloaded file (so a sync downloads nothing when nothing changed).
CREATE TABLE feed_status (
    source          text    PRIMARY KEY NOT NULL,
    last_attempt    timestamptz,
    last_success    timestamptz,
    last_error      text,
    last_error_at   timestamptz,
    record_count    bigint NOT NULL DEFAULT 0,
    detail          jsonb   NOT NULL DEFAULT '{}'::jsonb
);
