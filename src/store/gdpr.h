/*
 * gdpr.h (store) - the reads behind the GDPR export (SPEC §3.4): one user's
 * profile, the catalogue rows their entries use, their API tokens, sessions,
 * import history with row diagnostics and export history.
 *
 * Every list is walked row by row through a callback (strings in the
 * records are borrowed, valid only during the call), so memory stays flat
 * however much the user holds. Secrets never leave this module: no password
 * hash, no token hash, no CSRF token, no server file path is ever selected.
 * The caller opens the read transaction so every walk sees one snapshot.
 * Instants are UTC seconds, 0 when the column is NULL.
 */
#ifndef TT_STORE_GDPR_H
#define TT_STORE_GDPR_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

typedef struct gdpr_profile {
	int64_t id;
	const char *username, *email, *full_name; /* email, full_name may be NULL */
	const char *role;                         /* "admin" or "user" */
	const char *timezone;
	bool is_active;
	int64_t created_at, updated_at, last_login_at;
} gdpr_profile;

/* Calls cb once with user_id's profile; TT_ENOTFOUND when there is no such user. */
int gdpr_profile_get(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_profile *p),
                     void *ctx, tt_error *err);

/* How many rows each list of the export holds (for export_info). */
typedef struct gdpr_counts {
	int64_t time_entries, projects, clients, tasks, tags;
	int64_t api_tokens, sessions, imports, import_errors, exports;
} gdpr_counts;

int gdpr_count(store_conn *c, int64_t user_id, gdpr_counts *out, tt_error *err);

/*
 * The catalogue of the export: every row that one of the user's own entries
 * uses (a task's project and a project's client count as used), plus every
 * row one of the user's imports created (e.g. a clients import). Rows are
 * included whoever created them, so tasks created by imports are there.
 */
typedef struct gdpr_client {
	int64_t id;
	const char *name, *description, *contact_person, *email, *phone, *address;
	const char *default_hourly_rate, *status;
	const char *custom_fields;    /* JSON text or NULL */
	int64_t created_by_import_id; /* 0 = none */
	int64_t created_at;
} gdpr_client;

typedef struct gdpr_project {
	int64_t id;
	const char *name;
	int64_t client_id;
	const char *client_name;
	bool billable;
	const char *status;
	int64_t created_by_import_id;
	int64_t created_at;
} gdpr_project;

typedef struct gdpr_task {
	int64_t id;
	const char *name;
	int64_t project_id;
	const char *project_name, *client_name;
	const char *status;
	int64_t created_by_import_id;
	int64_t created_at;
} gdpr_task;

typedef struct gdpr_tag {
	int64_t id;
	const char *name;
	int64_t created_by_import_id;
	int64_t created_at;
} gdpr_tag;

/* Each walk orders by name, then id; a non-zero cb result stops and is returned. */
int gdpr_clients_walk(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_client *r),
                      void *ctx, tt_error *err);
int gdpr_projects_walk(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_project *r),
                       void *ctx, tt_error *err);
int gdpr_tasks_walk(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_task *r),
                    void *ctx, tt_error *err);
int gdpr_tags_walk(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_tag *r),
                   void *ctx, tt_error *err);

/* API token metadata (never the hash), by id. */
typedef struct gdpr_token {
	int64_t id;
	const char *name, *prefix;
	int64_t created_at, last_used_at, revoked_at;
} gdpr_token;

int gdpr_tokens_walk(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_token *r),
                     void *ctx, tt_error *err);

/* Session metadata (never the token hash or CSRF token), oldest first. */
typedef struct gdpr_session {
	int64_t created_at, expires_at, last_seen_at;
	const char *user_agent, *ip_address; /* may be NULL */
} gdpr_session;

int gdpr_sessions_walk(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_session *r),
                       void *ctx, tt_error *err);

/* An import of the user (never the stored upload's path). */
typedef struct gdpr_import {
	int64_t id;
	const char *import_type, *source_file, *status;
	int64_t total, successful, failed, skipped, warnings;
	const char *options, *summary; /* JSON text or NULL */
	const char *error_message;
	int64_t created_at, started_at, completed_at, undone_at;
} gdpr_import;

/* One row diagnostic of an import. */
typedef struct gdpr_import_error {
	int64_t import_id;
	int64_t row, line;          /* line 0 = unknown */
	const char *column, *value; /* may be NULL */
	const char *code, *message, *severity;
} gdpr_import_error;

/*
 * Walks the user's imports, oldest first. With on_error set, every import's
 * diagnostics follow its on_import call (by row), read through the same
 * single query (no statement is stepped while another is open). Either
 * callback may be NULL. A non-zero callback result stops and is returned.
 */
int gdpr_imports_walk(store_conn *c, int64_t user_id,
                      int (*on_import)(void *ctx, const gdpr_import *r),
                      int (*on_error)(void *ctx, const gdpr_import_error *e), void *ctx,
                      tt_error *err);

/* An export of the user (never the file's path). */
typedef struct gdpr_export {
	int64_t id;
	const char *export_type, *export_format, *status;
	int64_t record_count;
	bool has_file_size;
	int64_t file_size;
	const char *sha256, *filters, *error_message; /* may be NULL; filters is JSON text */
	int64_t created_at, completed_at, expires_at;
} gdpr_export;

int gdpr_exports_walk(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_export *r),
                      void *ctx, tt_error *err);

#endif
