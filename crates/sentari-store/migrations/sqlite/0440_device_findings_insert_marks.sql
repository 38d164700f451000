-- The row trigger that marked each inserted device finding's advisory for the advisory-count
-- refresh ran once per row: fanning out a feed import's 4.2 million device findings fired it
-- 4.2 million times, about a tenth of the insert's time. The one statement that inserts device
-- findings (`insert_device_findings` in sentari-store's findings.rs) now marks the advisories
-- it may have inserted rows for in one statement beside it, in the same transaction, with the
-- same horizon rule. Updates and deletes, which have many writers (suppressions, lifecycle,
-- device deletion and its cascade), keep their triggers.
DROP TRIGGER device_findings_mark_insert;
