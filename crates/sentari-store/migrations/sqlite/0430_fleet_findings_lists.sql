-- The fleet-wide findings lists sorted and counted the whole join of device findings on every
-- request (issue 7 fleet benchmark, issue 8 Security → CVE).

-- The flat list's default order (severity, then score, highest first) is walked from the
-- findings, one row per package version × advisory, in this index's order; each finding's
-- devices are then read from `device_findings_pv_idx`.
CREATE INDEX findings_severity_order_idx ON findings (
    (CASE severity_rating WHEN 'critical' THEN 5 WHEN 'high' THEN 4 WHEN 'medium' THEN 3
     WHEN 'low' THEN 2 WHEN 'none' THEN 1 ELSE 0 END) DESC,
    severity_score DESC, advisory_id, package_version_id);

-- The list grouped by advisory counts distinct devices per advisory, which no index answers.
-- These are those counts over open, unsuppressed device findings, as of the last refresh.
CREATE TABLE advisory_fleet_stats (
    advisory_id     TEXT    PRIMARY KEY NOT NULL,
    devices         INTEGER NOT NULL,
    packages        INTEGER NOT NULL,
    first_detected  INTEGER NOT NULL,
    rank            INTEGER NOT NULL
) WITHOUT ROWID;
-- Advisories whose device findings changed since the last refresh. Every change to
-- `device_findings`, whichever statement makes it (ingest, correlation, suppression, device
-- deletion and its cascade), marks its advisory here through the triggers below, in the same
-- transaction, so a list reads the stored counts only for advisories with no mark and counts
-- the marked ones live. Ids grow in commit order (one writer, AUTOINCREMENT).
CREATE TABLE advisory_stats_dirty (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    advisory_id  TEXT NOT NULL
);
CREATE INDEX advisory_stats_dirty_advisory_idx ON advisory_stats_dirty (advisory_id);

-- The highest mark the running (or last) refresh will clear. A statement skips an advisory
-- only when it is already marked above that line: a mark at or below it may be cleared by a
-- refresh whose counts were read before this transaction's rows.
CREATE TABLE advisory_stats_horizon (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    upto  INTEGER NOT NULL
);
INSERT INTO advisory_stats_horizon (id, upto) VALUES (1, 0);

CREATE TRIGGER device_findings_mark_insert AFTER INSERT ON device_findings
WHEN NOT EXISTS (SELECT 1 FROM advisory_stats_dirty WHERE advisory_id = NEW.advisory_id
                 AND id > (SELECT upto FROM advisory_stats_horizon WHERE id = 1))
BEGIN
    INSERT INTO advisory_stats_dirty (advisory_id) VALUES (NEW.advisory_id);
END;
CREATE TRIGGER device_findings_mark_update AFTER UPDATE ON device_findings
WHEN NOT EXISTS (SELECT 1 FROM advisory_stats_dirty WHERE advisory_id = NEW.advisory_id
                 AND id > (SELECT upto FROM advisory_stats_horizon WHERE id = 1))
BEGIN
    INSERT INTO advisory_stats_dirty (advisory_id) VALUES (NEW.advisory_id);
END;
CREATE TRIGGER device_findings_mark_delete AFTER DELETE ON device_findings
WHEN NOT EXISTS (SELECT 1 FROM advisory_stats_dirty WHERE advisory_id = OLD.advisory_id
                 AND id > (SELECT upto FROM advisory_stats_horizon WHERE id = 1))
BEGIN
    INSERT INTO advisory_stats_dirty (advisory_id) VALUES (OLD.advisory_id);
END;

-- Existing findings are counted by the first refresh.
INSERT INTO advisory_stats_dirty (advisory_id) SELECT DISTINCT advisory_id FROM device_findings;
