/*
 * imports.c (store) - SQL of the import history, diagnostics and undo (see
 * store/imports.h).
 */
#include "store/imports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define IMPORT_COLS                                                                            \
	"i.id, i.user_id, u.username, i.import_type, i.status, i.source_file, i.file_name,"    \
	" i.options, i.import_summary, i.error_message, i.total_records, i.successful_records," \
	" i.failed_records, i.skipped_records, i.warning_count, i.file_size, i.bytes_processed," \
	" i.started_at, i.completed_at, i.created_at, i.undone_at"

static char *dup_col(store_stmt *st, int col)
{
	const char *v = store_col_text(st, col);

	return v ? xstrdup(v) : NULL;
}

static void read_import(store_stmt *st, import_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->id = store_col_int64(st, 0);
	r->user_id = store_col_int64(st, 1);
	snprintf(r->username, sizeof(r->username), "%s", store_col_text(st, 2) ? store_col_text(st, 2) : "");
	snprintf(r->import_type, sizeof(r->import_type), "%s", store_col_text(st, 3));
	snprintf(r->status, sizeof(r->status), "%s", store_col_text(st, 4));
	r->source_file = dup_col(st, 5);
	r->file_name = dup_col(st, 6);
	r->options = dup_col(st, 7);
	r->summary = dup_col(st, 8);
	r->error_message = dup_col(st, 9);
	r->total = store_col_int64(st, 10);
	r->successful = store_col_int64(st, 11);
	r->failed = store_col_int64(st, 12);
	r->skipped = store_col_int64(st, 13);
	r->warnings = store_col_int64(st, 14);
	r->file_size = store_col_int64(st, 15);
	r->bytes_processed = store_col_int64(st, 16);
	r->started_at = store_col_int64(st, 17);
	r->completed_at = store_col_int64(st, 18);
	r->created_at = store_col_int64(st, 19);
	r->undone_at = store_col_int64(st, 20);
}

void import_rec_release(import_rec *r)
{
	free(r->source_file);
	free(r->file_name);
	free(r->options);
	free(r->summary);
	free(r->error_message);
	memset(r, 0, sizeof(*r));
}

int imports_create(store_conn *c, int64_t user_id, const char *type, const char *source_file,
		   const char *file_name, int64_t file_size, const char *options_json,
		   int64_t *id, tt_error *err)
{
	int rc = store_query_int64(c, err, id,
				   "INSERT INTO data_imports (user_id, import_type, source_file, file_name,"
				   " file_size, status, options, created_at)"
				   " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) RETURNING id",
				   "isssisi", user_id, type, source_file, file_name, file_size,
				   options_json, store_now());

	return rc < 0 ? rc : 0;
}

int imports_get(store_conn *c, int64_t id, import_rec *out, tt_error *err)
{
	store_stmt *st = store_query(c, err,
				     "SELECT " IMPORT_COLS " FROM data_imports i JOIN users u ON u.id = i.user_id"
				     " WHERE i.id = ?",
				     "i", id);
	int rc;

	if (!st)
		return err ? err->rc : TT_EIO;
	rc = store_step(st, err);
	if (rc == STORE_ROW) {
		read_import(st, out);
		rc = 0;
	} else if (rc == STORE_DONE) {
		rc = tt_error_set(err, TT_ENOTFOUND, "not_found", NULL, "no such import");
	}
	store_stmt_done(st);
	return rc;
}

int imports_mark_started(store_conn *c, int64_t id, tt_error *err)
{
	int rc = store_run(c, err,
			   "UPDATE data_imports SET status = 'processing',"
			   " started_at = COALESCE(started_at, ?) WHERE id = ?",
			   "ii", store_now(), id);

	return rc < 0 ? rc : 0;
}

int imports_progress(store_conn *c, int64_t id, int64_t total, int64_t ok, int64_t failed,
		     int64_t skipped, int64_t warnings, int64_t bytes, tt_error *err)
{
	int rc = store_run(c, err,
			   "UPDATE data_imports SET total_records = ?, successful_records = ?,"
			   " failed_records = ?, skipped_records = ?, warning_count = ?, bytes_processed = ?"
			   " WHERE id = ?",
			   "iiiiiii", total, ok, failed, skipped, warnings, bytes, id);

	return rc < 0 ? rc : 0;
}

int imports_finish(store_conn *c, int64_t id, const char *status, const char *summary,
		   const char *error_message, tt_error *err)
{
	int rc = store_run(c, err,
			   "UPDATE data_imports SET status = ?, import_summary = COALESCE(?, import_summary),"
			   " error_message = ?, completed_at = ? WHERE id = ?",
			   "sssii", status, summary, error_message, store_now(), id);

	return rc < 0 ? rc : 0;
}

int imports_set_file(store_conn *c, int64_t id, const char *file_name, tt_error *err)
{
	int rc = store_run(c, err, "UPDATE data_imports SET file_name = ? WHERE id = ?", "si",
			   file_name, id);

	return rc < 0 ? rc : 0;
}

int imports_add_error(store_conn *c, int64_t import_id, const char *severity, int64_t row,
		      int64_t line, const char *column, const char *value, const char *code,
		      const char *message, tt_error *err)
{
	int rc = store_run(c, err,
			   "INSERT INTO import_errors (import_id, severity, row_number, line_number,"
			   " column_name, value, code, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			   "isiissss", import_id, severity, row, line, column, value, code, message);

	return rc < 0 ? rc : 0;
}

int imports_errors(store_conn *c, int64_t import_id, const char *severity, int64_t limit,
		   int64_t offset, int (*cb)(void *ctx, const import_error_rec *e), void *ctx,
		   int64_t *total, tt_error *err)
{
	store_stmt *st;
	int rc;

	rc = severity ? store_query_int64(c, err, total,
					  "SELECT COUNT(*) FROM import_errors WHERE import_id = ?"
					  " AND severity = ?", "is", import_id, severity)
		      : store_query_int64(c, err, total,
					  "SELECT COUNT(*) FROM import_errors WHERE import_id = ?",
					  "i", import_id);
	if (rc < 0)
		return rc;
	st = severity ? store_query(c, err,
				    "SELECT row_number, line_number, column_name, value, code, message,"
				    " severity FROM import_errors WHERE import_id = ? AND severity = ?"
				    " ORDER BY row_number, id LIMIT ? OFFSET ?",
				    "isii", import_id, severity, limit, offset)
		      : store_query(c, err,
				    "SELECT row_number, line_number, column_name, value, code, message,"
				    " severity FROM import_errors WHERE import_id = ?"
				    " ORDER BY row_number, id LIMIT ? OFFSET ?",
				    "iii", import_id, limit, offset);
	if (!st)
		return err ? err->rc : TT_EIO;
	while ((rc = store_step(st, err)) == STORE_ROW) {
		import_error_rec e = {
			.row = store_col_int64(st, 0),
			.line = store_col_int64(st, 1),
			.column = store_col_text(st, 2),
			.value = store_col_text(st, 3),
			.code = store_col_text(st, 4),
			.message = store_col_text(st, 5),
			.severity = store_col_text(st, 6),
		};

		if (cb(ctx, &e))
			break;
	}
	store_stmt_done(st);
	return rc < 0 ? rc : 0;
}

int imports_history(store_conn *c, int64_t user_id, int64_t limit, int64_t offset,
		    int (*cb)(void *ctx, const import_rec *r), void *ctx, int64_t *total,
		    tt_error *err)
{
	store_stmt *st;
	int rc;

	/* user_id 0: everyone's */
	rc = store_query_int64(c, err, total,
			       "SELECT COUNT(*) FROM data_imports WHERE (? = 0 OR user_id = ?)", "ii",
			       user_id, user_id);
	if (rc < 0)
		return rc;
	st = store_query(c, err,
			 "SELECT " IMPORT_COLS " FROM data_imports i JOIN users u ON u.id = i.user_id"
			 " WHERE (? = 0 OR i.user_id = ?) ORDER BY i.id DESC LIMIT ? OFFSET ?",
			 "iiii", user_id, user_id, limit, offset);
	if (!st)
		return err ? err->rc : TT_EIO;
	while ((rc = store_step(st, err)) == STORE_ROW) {
		import_rec r;
		int stop;

		read_import(st, &r);
		stop = cb(ctx, &r);
		import_rec_release(&r);
		if (stop)
			break;
	}
	store_stmt_done(st);
	return rc < 0 ? rc : 0;
}

int imports_created_counts(store_conn *c, int64_t id, int64_t counts[4], tt_error *err)
{
	static const char *sql[4] = {
		"SELECT COUNT(*) FROM clients WHERE created_by_import_id = ?",
		"SELECT COUNT(*) FROM projects WHERE created_by_import_id = ?",
		"SELECT COUNT(*) FROM tasks WHERE created_by_import_id = ?",
		"SELECT COUNT(*) FROM tags WHERE created_by_import_id = ?",
	};

	for (int i = 0; i < 4; i++) {
		int rc = store_query_int64(c, err, &counts[i], sql[i], "i", id);

		if (rc < 0)
			return rc;
	}
	return 0;
}

int imports_edited_count(store_conn *c, int64_t id, int64_t *n, tt_error *err)
{
	int rc = store_query_int64(c, err, n,
				   "SELECT COUNT(*) FROM time_entries WHERE import_id = ? AND updated_at > created_at",
				   "i", id);

	return rc < 0 ? rc : 0;
}

int imports_undo(store_conn *c, int64_t id, int64_t deleted[5], tt_error *err)
{
	static const char *sql[5] = {
		"DELETE FROM time_entries WHERE import_id = ?",
		/* the catalogue, leaves first, only what nothing uses any more */
		"DELETE FROM tags WHERE created_by_import_id = ?"
		" AND NOT EXISTS (SELECT 1 FROM time_entry_tags x WHERE x.tag_id = tags.id)",
		"DELETE FROM tasks WHERE created_by_import_id = ?"
		" AND NOT EXISTS (SELECT 1 FROM time_entries e WHERE e.task_id = tasks.id)",
		"DELETE FROM projects WHERE created_by_import_id = ?"
		" AND NOT EXISTS (SELECT 1 FROM time_entries e WHERE e.project_id = projects.id)"
		" AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.project_id = projects.id)",
		"DELETE FROM clients WHERE created_by_import_id = ?"
		" AND NOT EXISTS (SELECT 1 FROM projects p WHERE p.client_id = clients.id)",
	};
	static const int slot[5] = { 0, 4, 3, 2, 1 };

	for (int i = 0; i < 5; i++) {
		int rc = store_run(c, err, sql[i], "i", id);

		if (rc < 0)
			return rc;
		deleted[slot[i]] = store_changes(c);
	}
	return 0;
}

int imports_mark_undone(store_conn *c, int64_t id, tt_error *err)
{
	int rc = store_run(c, err, "UPDATE data_imports SET status = 'undone', undone_at = ? WHERE id = ?",
			   "ii", store_now(), id);

	return rc < 0 ? rc : 0;
}
