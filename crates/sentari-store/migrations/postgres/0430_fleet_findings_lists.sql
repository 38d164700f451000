-- The fleet-wide findings lists at 10,000 devices (22 million device findings) sorted and
-- counted the whole join on every request: more than 60 s (issue 7 fleet benchmark, issue 8
-- Security → CVE).

-- The flat list's default order (severity, then score, highest first) is walked from the
-- findings, one row per package version × advisory, in this index's order; each finding's
-- devices are then read from `device_findings_pv_idx`. A page of fifty rows reads a few
-- findings instead of sorting every device finding.
CREATE INDEX findings_severity_order_idx ON findings (
    (CASE severity_rating WHEN 'critical' THEN 5 WHEN 'high' THEN 4 WHEN 'medium' THEN 3
     WHEN 'low' THEN 2 WHEN 'none' THEN 1 ELSE 0 END) DESC,
    severity_score DESC, advisory_id, package_version_id);

-- The list grouped by advisory counts distinct devices per advisory, which no index answers.
-- These are those counts over open, unsuppressed device findings, as of the last refresh.
CREATE TABLE advisory_fleet_stats (
    advisory_id     text   PRIMARY KEY NOT NULL,
    devices         bigint NOT NULL,
    packages        bigint NOT NULL,
    first_detected  timestamptz NOT NULL,
    rank            bigint NOT NULL
);
-- Advisories whose device findings changed since the last refresh. Every change to
-- `device_findings`, whichever statement makes it (ingest, correlation, suppression, device
-- deletion), marks its advisories here through the triggers below, in the same transaction,
-- so a list reads the stored counts only for advisories with no mark and counts the marked
-- ones live. The table is append-only, one mark per advisory per statement, and a statement
-- never skips an advisory already marked: a refresh running concurrently may take that mark
-- away without having seen this transaction's rows. No unique key either, so concurrent
-- ingests never wait on each other's marks.
CREATE TABLE advisory_stats_dirty (
    id           bigserial PRIMARY KEY,
    advisory_id  text NOT NULL
);
CREATE INDEX advisory_stats_dirty_advisory_idx ON advisory_stats_dirty (advisory_id);

CREATE FUNCTION device_findings_mark_advisories() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO advisory_stats_dirty (advisory_id) SELECT DISTINCT advisory_id FROM changed;
    RETURN NULL;
END
$$;
-- A trigger with transition tables takes one event, hence three.
CREATE TRIGGER device_findings_mark_insert AFTER INSERT ON device_findings
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION device_findings_mark_advisories();
CREATE TRIGGER device_findings_mark_update AFTER UPDATE ON device_findings
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION device_findings_mark_advisories();
CREATE TRIGGER device_findings_mark_delete AFTER DELETE ON device_findings
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION device_findings_mark_advisories();

-- Existing findings are counted by the first refresh.
INSERT INTO advisory_stats_dirty (advisory_id) SELECT DISTINCT advisory_id FROM device_findings;
