-- Reverts 002 (PostgreSQL).
DROP INDEX time_entries_user_start;
CREATE INDEX time_entries_user_start ON time_entries(user_id, start_at);
ALTER TABLE import_errors DROP COLUMN severity;
ALTER TABLE data_imports DROP COLUMN error_message;
ALTER TABLE data_imports DROP COLUMN warning_count;
ALTER TABLE data_imports DROP COLUMN bytes_processed;
ALTER TABLE data_imports DROP COLUMN file_size;
ALTER TABLE data_imports DROP COLUMN file_name;
ALTER TABLE jobs DROP COLUMN pinned_to;
ALTER TABLE jobs DROP COLUMN cancel_requested;
