/*
 * exports.c (store) - SQL of the export history (see store/exports.h).
 */
#include "store/exports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define EXPORT_COLS                                                                         \
	"id, user_id, export_type, export_format, status, file_name, download_name, filters," \
	" sha256, error_message, file_size, record_count, progress_done, progress_total,"   \
	" created_at, completed_at, expires_at"

static char *dup_col(store_stmt *st, int col)
{
	const char *v = store_col_text(st, col);

	return v ? xstrdup(v) : NULL;
}

static void read_export(store_stmt *st, export_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->id = store_col_int64(st, 0);
	r->user_id = store_col_int64(st, 1);
	snprintf(r->export_type, sizeof(r->export_type), "%s", store_col_text(st, 2));
	snprintf(r->export_format, sizeof(r->export_format), "%s", store_col_text(st, 3));
	snprintf(r->status, sizeof(r->status), "%s", store_col_text(st, 4));
	r->file_name = dup_col(st, 5);
	r->download_name = dup_col(st, 6);
	r->filters = dup_col(st, 7);
	r->sha256 = dup_col(st, 8);
	r->error_message = dup_col(st, 9);
	r->file_size = store_col_int64(st, 10);
	r->record_count = store_col_int64(st, 11);
	r->progress_done = store_col_int64(st, 12);
	r->progress_total = store_col_int64(st, 13);
	r->created_at = store_col_int64(st, 14);
	r->completed_at = store_col_int64(st, 15);
	r->expires_at = store_col_int64(st, 16);
}

void export_rec_release(export_rec *r)
{
	free(r->file_name);
	free(r->download_name);
	free(r->filters);
	free(r->sha256);
	free(r->error_message);
	memset(r, 0, sizeof(*r));
}

int exports_create(store_conn *c, int64_t user_id, const char *type, const char *format,
		   const char *filters_json, int64_t *id, tt_error *err)
{
	int rc = store_insert(c, err, id,
			      "INSERT INTO data_exports (user_id, export_type, export_format, status,"
			      " filters, created_at) VALUES (?, ?, ?, 'pending', ?, ?)",
			      "isssi", user_id, type, format, filters_json, store_now());

	return rc < 0 ? rc : 0;
}

int exports_set_names(store_conn *c, int64_t id, const char *file_name, const char *download_name,
		      tt_error *err)
{
	int rc = store_run(c, err, "UPDATE data_exports SET file_name = ?, download_name = ? WHERE id = ?",
			   "ssi", file_name, download_name, id);

	return rc < 0 ? rc : 0;
}

int exports_get(store_conn *c, int64_t id, export_rec *out, tt_error *err)
{
	store_stmt *st = store_query(c, err, "SELECT " EXPORT_COLS " FROM data_exports WHERE id = ?",
				     "i", id);
	int rc;

	if (!st)
		return err ? err->rc : TT_EIO;
	rc = store_step(st, err);
	if (rc == STORE_ROW) {
		read_export(st, out);
		rc = 0;
	} else if (rc == STORE_DONE) {
		rc = tt_error_set(err, TT_ENOTFOUND, "not_found", NULL, "no such export");
	}
	store_stmt_done(st);
	return rc;
}

int exports_mark_started(store_conn *c, int64_t id, int64_t total, tt_error *err)
{
	int rc = store_run(c, err,
			   "UPDATE data_exports SET status = 'processing', progress_total = ?,"
			   " progress_done = 0 WHERE id = ?",
			   "ii", total, id);

	return rc < 0 ? rc : 0;
}

int exports_progress(store_conn *c, int64_t id, int64_t done, tt_error *err)
{
	int rc = store_run(c, err, "UPDATE data_exports SET progress_done = ? WHERE id = ?", "ii",
			   done, id);

	return rc < 0 ? rc : 0;
}

int exports_complete(store_conn *c, int64_t id, int64_t size, const char *sha256, int64_t records,
		     int64_t expires_at, tt_error *err)
{
	int rc = store_run(c, err,
			   "UPDATE data_exports SET status = 'completed', file_size = ?, sha256 = ?,"
			   " record_count = ?, progress_done = progress_total, completed_at = ?,"
			   " expires_at = ?, error_message = NULL WHERE id = ?",
			   "isiiii", size, sha256, records, store_now(), expires_at, id);

	return rc < 0 ? rc : 0;
}

int exports_fail(store_conn *c, int64_t id, const char *message, tt_error *err)
{
	int rc = store_run(c, err,
			   "UPDATE data_exports SET status = 'failed', error_message = ?, completed_at = ?"
			   " WHERE id = ?",
			   "sii", message, store_now(), id);

	return rc < 0 ? rc : 0;
}

int exports_mark_expired(store_conn *c, int64_t id, tt_error *err)
{
	int rc = store_run(c, err, "UPDATE data_exports SET status = 'expired' WHERE id = ?", "i", id);

	return rc < 0 ? rc : 0;
}

int exports_expired(store_conn *c, int64_t now, int (*cb)(void *ctx, int64_t id, const char *file),
		    void *ctx, tt_error *err)
{
	store_stmt *st = store_query(c, err,
				     "SELECT id, file_name FROM data_exports WHERE status = 'completed'"
				     " AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY id",
				     "i", now);
	int64_t *ids = NULL;
	char **files = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (!st)
		return err ? err->rc : TT_EIO;
	/* Collect first: the callback writes. */
	while ((rc = store_step(st, err)) == STORE_ROW) {
		const char *f = store_col_text(st, 1);

		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			ids = xrealloc(ids, cap * sizeof(*ids));
			files = xrealloc(files, cap * sizeof(*files));
		}
		ids[n] = store_col_int64(st, 0);
		files[n++] = f ? xstrdup(f) : NULL;
	}
	store_stmt_done(st);
	for (size_t i = 0; i < n; i++) {
		if (rc >= 0)
			cb(ctx, ids[i], files[i]);
		free(files[i]);
	}
	free(ids);
	free(files);
	return rc < 0 ? rc : 0;
}

int exports_history(store_conn *c, int64_t user_id, int64_t limit, int64_t offset,
		    int (*cb)(void *ctx, const export_rec *r), void *ctx, int64_t *total,
		    tt_error *err)
{
	store_stmt *st;
	int rc;

	/* user_id 0: everyone's */
	rc = store_query_int64(c, err, total,
			       "SELECT COUNT(*) FROM data_exports WHERE (? = 0 OR user_id = ?)", "ii",
			       user_id, user_id);
	if (rc < 0)
		return rc;
	st = store_query(c, err,
			 "SELECT " EXPORT_COLS " FROM data_exports WHERE (? = 0 OR user_id = ?)"
			 " ORDER BY id DESC LIMIT ? OFFSET ?",
			 "iiii", user_id, user_id, limit, offset);
	if (!st)
		return err ? err->rc : TT_EIO;
	while ((rc = store_step(st, err)) == STORE_ROW) {
		export_rec r;
		int stop;

		read_export(st, &r);
		stop = cb(ctx, &r);
		export_rec_release(&r);
		if (stop)
			break;
	}
	store_stmt_done(st);
	return rc < 0 ? rc : 0;
}
