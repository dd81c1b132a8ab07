-- Reverts 003 (PostgreSQL).
DROP INDEX data_exports_expiry;
ALTER TABLE data_exports DROP COLUMN download_name;
ALTER TABLE data_exports DROP COLUMN progress_total;
ALTER TABLE data_exports DROP COLUMN progress_done;
