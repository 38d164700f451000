-- The jobs table is a queue: every row is inserted, updated two or three times and finally
-- deleted, and none of those updates can be HOT (they change indexed columns). Dead index
-- entries then pile up at the front of the claim index and every claim wades through them.
-- The default autovacuum trigger (20 % of the table changed) is far too lazy for that, so vacuum
-- and analyze this table after a fixed number of changes instead, without cost-based throttling.
ALTER TABLE jobs SET (
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 2000,
    autovacuum_analyze_scale_factor = 0.0,
    autovacuum_analyze_threshold = 2000,
    autovacuum_vacuum_cost_delay = 0
);
