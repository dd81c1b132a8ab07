-- Reverts 001 (PostgreSQL): drops everything it created, dependants first.
DROP AGGREGATE group_concat(text, text);
DROP FUNCTION tt_group_concat_sfunc(text, text, text);
DROP TABLE jobs;
DROP TABLE data_exports;
DROP TABLE time_entry_tags;
DROP TABLE time_entries;
DROP TABLE tags;
DROP TABLE tasks;
DROP TABLE projects;
DROP TABLE clients;
DROP TABLE import_errors;
DROP TABLE data_imports;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE users;
