-- Reverts 001: drops every table it created, dependants first.
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
