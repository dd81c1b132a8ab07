-- 002 (PostgreSQL): what the import engine and the job system need beyond 001.

-- Jobs: a cancel request the worker honours at its next batch boundary, and
-- the instance a job must run on (jobs whose secrets live only in memory).
ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN pinned_to TEXT;

-- Imports: the uploaded file (relative to the data directory), its size and
-- how far the job has read it (progress), warnings, and a failure reason.
ALTER TABLE data_imports ADD COLUMN file_name TEXT;
ALTER TABLE data_imports ADD COLUMN file_size BIGINT NOT NULL DEFAULT 0;
ALTER TABLE data_imports ADD COLUMN bytes_processed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE data_imports ADD COLUMN warning_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE data_imports ADD COLUMN error_message TEXT;

-- Row diagnostics are errors or warnings.
ALTER TABLE import_errors ADD COLUMN severity TEXT NOT NULL DEFAULT 'error';

-- Duplicate detection looks entries up by user, start and end.
DROP INDEX time_entries_user_start;
CREATE INDEX time_entries_user_start ON time_entries(user_id, start_at, end_at);
