-- 001 initial schema: every table of SPEC §2.
-- Instants are INTEGER seconds since the epoch, UTC. Booleans are 0/1.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT    NOT NULL UNIQUE,
    email           TEXT,
    full_name       TEXT,
    role            TEXT    NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    timezone        TEXT    NOT NULL DEFAULT 'UTC',
    password_hash   TEXT    NOT NULL,
    is_active       INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_login_at   INTEGER
);

CREATE TABLE sessions (
    id              INTEGER PRIMARY KEY,
    token_hash      TEXT    NOT NULL UNIQUE,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token      TEXT    NOT NULL,
    user_agent      TEXT,
    ip_address      TEXT,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    token_hash      TEXT    NOT NULL UNIQUE,
    prefix          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    revoked_at      INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE data_imports (
    id                  INTEGER PRIMARY KEY,
    user_id             INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    import_type         TEXT    NOT NULL,
    source_file         TEXT,
    status              TEXT    NOT NULL DEFAULT 'pending',
    total_records       INTEGER NOT NULL DEFAULT 0,
    successful_records  INTEGER NOT NULL DEFAULT 0,
    failed_records      INTEGER NOT NULL DEFAULT 0,
    skipped_records     INTEGER NOT NULL DEFAULT 0,
    options             TEXT,
    import_summary      TEXT,
    started_at          INTEGER,
    completed_at        INTEGER,
    created_at          INTEGER NOT NULL,
    undone_at           INTEGER
);
CREATE INDEX data_imports_user ON data_imports(user_id, created_at);

CREATE TABLE import_errors (
    id              INTEGER PRIMARY KEY,
    import_id       INTEGER NOT NULL REFERENCES data_imports(id) ON DELETE CASCADE,
    row_number      INTEGER NOT NULL,
    line_number     INTEGER,
    column_name     TEXT,
    value           TEXT,
    code            TEXT    NOT NULL,
    message         TEXT    NOT NULL
);
CREATE INDEX import_errors_import ON import_errors(import_id, row_number);

CREATE TABLE clients (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE,
    description          TEXT,
    contact_person       TEXT,
    email                TEXT,
    phone                TEXT,
    address              TEXT,
    default_hourly_rate  TEXT,
    status               TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'archived')),
    custom_fields        TEXT,
    created_by_import_id INTEGER REFERENCES data_imports(id) ON DELETE SET NULL,
    created_at           INTEGER NOT NULL
);

CREATE TABLE projects (
    id                   INTEGER PRIMARY KEY,
    client_id            INTEGER NOT NULL REFERENCES clients(id),
    name                 TEXT    NOT NULL,
    billable             INTEGER NOT NULL DEFAULT 1,
    status               TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'archived')),
    created_by_import_id INTEGER REFERENCES data_imports(id) ON DELETE SET NULL,
    created_at           INTEGER NOT NULL,
    UNIQUE (client_id, name)
);

CREATE TABLE tasks (
    id                   INTEGER PRIMARY KEY,
    project_id           INTEGER NOT NULL REFERENCES projects(id),
    name                 TEXT    NOT NULL,
    status               TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'archived')),
    created_by_import_id INTEGER REFERENCES data_imports(id) ON DELETE SET NULL,
    created_at           INTEGER NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE tags (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL,
    name_key             TEXT    NOT NULL UNIQUE,   -- lower-cased name: unique case-insensitively
    created_by_import_id INTEGER REFERENCES data_imports(id) ON DELETE SET NULL,
    created_at           INTEGER NOT NULL
);

CREATE TABLE time_entries (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id       INTEGER REFERENCES projects(id),
    task_id          INTEGER REFERENCES tasks(id),
    start_at         INTEGER NOT NULL,
    end_at           INTEGER NOT NULL,
    duration_seconds INTEGER NOT NULL,
    notes            TEXT    NOT NULL DEFAULT '',
    billable         INTEGER NOT NULL DEFAULT 1,
    source           TEXT    NOT NULL DEFAULT 'manual',
    external_id      TEXT,
    import_id        INTEGER REFERENCES data_imports(id) ON DELETE SET NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CHECK (end_at > start_at),
    CHECK (duration_seconds > 0)
);
CREATE INDEX time_entries_user_start ON time_entries(user_id, start_at);
CREATE INDEX time_entries_import ON time_entries(import_id);
CREATE INDEX time_entries_project ON time_entries(project_id);
CREATE UNIQUE INDEX time_entries_external ON time_entries(user_id, source, external_id)
    WHERE external_id IS NOT NULL;

-- WITHOUT ROWID: the key is the row, one b-tree instead of two per link.
CREATE TABLE time_entry_tags (
    entry_id   INTEGER NOT NULL REFERENCES time_entries(id) ON DELETE CASCADE,
    tag_id     INTEGER NOT NULL REFERENCES tags(id),
    PRIMARY KEY (entry_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX time_entry_tags_tag ON time_entry_tags(tag_id);

CREATE TABLE data_exports (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    export_type    TEXT    NOT NULL,
    export_format  TEXT    NOT NULL,
    file_name      TEXT,
    file_size      INTEGER,
    sha256         TEXT,
    status         TEXT    NOT NULL DEFAULT 'pending',
    filters        TEXT,
    record_count   INTEGER NOT NULL DEFAULT 0,
    error_message  TEXT,
    created_at     INTEGER NOT NULL,
    completed_at   INTEGER,
    expires_at     INTEGER
);
CREATE INDEX data_exports_user ON data_exports(user_id, created_at);

CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL,
    ref_id        INTEGER,
    state         TEXT    NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    run_after     INTEGER NOT NULL DEFAULT 0,
    locked_by     TEXT,
    heartbeat_at  INTEGER,
    checkpoint    TEXT,
    error         TEXT,
    created_at    INTEGER NOT NULL,
    finished_at   INTEGER
);
CREATE INDEX jobs_claim ON jobs(state, run_after);
