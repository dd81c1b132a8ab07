/*
 * imports.h (store) - the import history (data_imports), row diagnostics
 * (import_errors) and undo. The pipeline that fills them is imports/.
 */
#ifndef TT_STORE_IMPORTS_H
#define TT_STORE_IMPORTS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

typedef struct import_rec {
	int64_t id;
	int64_t user_id;
	char username[96];
	char import_type[16];
	char status[16];
	char *source_file;   /* the name the user gave (may be NULL) */
	char *file_name;     /* stored upload, relative to the data directory (may be NULL) */
	char *options;       /* JSON */
	char *summary;       /* JSON or NULL */
	char *error_message;
	int64_t total, successful, failed, skipped, warnings;
	int64_t file_size, bytes_processed;
	int64_t started_at, completed_at, created_at, undone_at;
} import_rec;

void import_rec_release(import_rec *r);

int imports_create(store_conn *c, int64_t user_id, const char *type, const char *source_file,
		   const char *file_name, int64_t file_size, const char *options_json,
		   int64_t *id, tt_error *err);
/* TT_ENOTFOUND when absent. */
int imports_get(store_conn *c, int64_t id, import_rec *out, tt_error *err);
int imports_mark_started(store_conn *c, int64_t id, tt_error *err);
int imports_progress(store_conn *c, int64_t id, int64_t total, int64_t ok, int64_t failed,
		     int64_t skipped, int64_t warnings, int64_t bytes, tt_error *err);
/* Final status with summary JSON (may be NULL) and reason (may be NULL). */
int imports_finish(store_conn *c, int64_t id, const char *status, const char *summary,
		   const char *error_message, tt_error *err);
int imports_set_file(store_conn *c, int64_t id, const char *file_name, tt_error *err);

int imports_add_error(store_conn *c, int64_t import_id, const char *severity, int64_t row,
		      int64_t line, const char *column, const char *value, const char *code,
		      const char *message, tt_error *err);

typedef struct import_error_rec {
	int64_t row, line;
	const char *column, *value, *code, *message, *severity;
} import_error_rec;

/* Walks diagnostics by row; severity NULL = all. Returns the total in *total. */
int imports_errors(store_conn *c, int64_t import_id, const char *severity, int64_t limit,
		   int64_t offset, int (*cb)(void *ctx, const import_error_rec *e), void *ctx,
		   int64_t *total, tt_error *err);

/* History newest first; user_id 0 = everyone. */
int imports_history(store_conn *c, int64_t user_id, int64_t limit, int64_t offset,
		    int (*cb)(void *ctx, const import_rec *r), void *ctx, int64_t *total,
		    tt_error *err);

/* What import id created: clients, projects, tasks, tags (in that order). */
int imports_created_counts(store_conn *c, int64_t id, int64_t counts[4], tt_error *err);

/* Entries of import id edited after they were imported. */
int imports_edited_count(store_conn *c, int64_t id, int64_t *n, tt_error *err);

/*
 * Deletes the entries import id stored and the clients, projects, tasks and
 * tags it created that nothing else uses now. deleted[0] entries, then
 * clients, projects, tasks, tags. Runs in the caller's transaction.
 */
int imports_undo(store_conn *c, int64_t id, int64_t deleted[5], tt_error *err);

int imports_mark_undone(store_conn *c, int64_t id, tt_error *err);

#endif
