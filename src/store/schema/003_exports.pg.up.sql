-- 003 (PostgreSQL): what the export jobs need beyond 001: progress while
-- running, and the name offered to the browser (the stored file name is
-- ours, not the user's).
ALTER TABLE data_exports ADD COLUMN progress_done BIGINT NOT NULL DEFAULT 0;
ALTER TABLE data_exports ADD COLUMN progress_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE data_exports ADD COLUMN download_name TEXT;
CREATE INDEX data_exports_expiry ON data_exports(status, expires_at);
