-- The per-device counters (open findings by severity, refreshed after every ingest and feed
-- import) count a device's open findings. The only partial index on open findings leads with
-- advisory_id, and PostgreSQL preferred it to the primary key because it matches
-- `resolved_at IS NULL`: every device's count then scanned the whole index, so refreshing
-- 1,000 devices after an OSV import took minutes (issue 7 fleet benchmark). This index serves
-- those counts, and the device findings lists, directly.
CREATE INDEX device_findings_open_device_idx ON device_findings (device_id, severity_rating)
    WHERE resolved_at IS NULL;
