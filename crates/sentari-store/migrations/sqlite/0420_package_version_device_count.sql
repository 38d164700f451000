-- How many devices have each package version, kept by the ingest diff and by device deletion.
-- The overview ("distinct package versions inventoried"), the fleet-wide packages list and its
-- device counts read this column instead of probing the device_packages index once per
-- version: at 10,000 devices × 1,000 packages that probe was a 10-million-row semi-join.
ALTER TABLE package_versions ADD COLUMN device_count INTEGER NOT NULL DEFAULT 0;
UPDATE package_versions SET device_count =
  (SELECT count(DISTINCT dp.device_id) FROM device_packages dp
    WHERE dp.package_version_id = package_versions.id);
-- Open findings that are suppressed on some device: few rows, read by the overview to tell an
-- advisory whose every open device finding is suppressed.
CREATE INDEX device_findings_open_suppressed_idx ON device_findings (advisory_id)
    WHERE resolved_at IS NULL AND suppressed;
-- Open findings by advisory, for the overview's count of open advisories (one pass over
-- this index). It has only the advisory column on purpose: with (advisory_id,
-- package_version_id) tried instead, PostgreSQL used it for lookups by package version (its
-- non-leading column) because its predicate matched, and scanned all of it per version.
CREATE INDEX findings_open_advisory_idx ON findings (advisory_id) WHERE resolved_at IS NULL;
