-- How many devices have each package version, kept by the ingest diff and by device deletion.
-- The overview ("distinct package versions inventoried"), the fleet-wide packages list and its
-- device counts read this column instead of probing the device_packages index once per
-- version: at 10,000 devices × 1,000 packages that probe was a 10-million-row semi-join
-- (0.5–1 s per request, issue 7 fleet benchmark).
ALTER TABLE package_versions ADD COLUMN device_count bigint NOT NULL DEFAULT 0;
UPDATE package_versions pv SET device_count = c.n
  FROM (SELECT package_version_id, count(DISTINCT device_id) AS n
          FROM device_packages GROUP BY package_version_id) c
 WHERE c.package_version_id = pv.id;
-- The column is in no index, so its updates are heap-only (HOT) when the page has room: leave
-- room in each page for them.
ALTER TABLE package_versions SET (fillfactor = 85);
-- Open findings that are suppressed on some device: few rows, read by the overview to tell an
-- advisory whose every open device finding is suppressed.
CREATE INDEX device_findings_open_suppressed_idx ON device_findings (advisory_id)
    WHERE resolved_at IS NULL AND suppressed;
-- Each device package row checked its package version with a foreign-key trigger: 2,000
-- lookups (and key-share locks) per first scan, 15 % of PostgreSQL's CPU during the fleet
-- benchmark. Package versions are never deleted and the ingest inserts them in the same
-- transaction, so the check guarded nothing.
ALTER TABLE device_packages DROP CONSTRAINT IF EXISTS device_packages_package_version_id_fkey;
-- Open findings by advisory, for the overview's count of open advisories (one pass over
-- this index). It has only the advisory column on purpose: with (advisory_id,
-- package_version_id) tried instead, PostgreSQL used it for lookups by package version (its
-- non-leading column) because its predicate matched, and scanned all of it per version.
CREATE INDEX findings_open_advisory_idx ON findings (advisory_id) WHERE resolved_at IS NULL;
