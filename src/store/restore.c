/*
 * restore.c (store) - SQL of restores (see store/restore.h). Statement texts
 * are built from the fixed column lists only and cached per table.
 */
#include "store/restore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

int restore_empty_table(store_conn *c, const char *table, tt_error *err)
{
	char sql[96];
	int rc;

	snprintf(sql, sizeof(sql), "DELETE FROM %s", table);
	rc = store_run(c, err, sql, "");
	return rc < 0 ? rc : 0;
}

static const char *col_name(const char *col)
{
	return col[0] == '#' ? col + 1 : col;
}

int restore_insert_row(store_conn *c, const char *table, const char *const *columns, json_t *row,
		       tt_error *err)
{
	char sql[2048];
	const char *present[64];
	size_t n = 0;
	int ncols = 0, rc;
	store_stmt *st;

	/*
	 * Only the columns the row has: a row from an older schema leaves the
	 * columns added since to their defaults (the forward migration of data).
	 */
	for (const char *const *col = columns; *col && ncols < 64; col++)
		if (json_object_get(row, col_name(*col)))
			present[ncols++] = col_name(*col);
	if (!ncols)
		return tt_error_set(err, TT_EINVAL, "invalid_backup", NULL, "%s: an empty row", table);
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, "INSERT INTO %s (", table);
	for (int i = 0; i < ncols; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s%s", i ? ", " : "", present[i]);
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, ") VALUES (");
	for (int i = 0; i < ncols; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s?", i ? ", " : "");
	snprintf(sql + n, sizeof(sql) - n, ")");
	if (!(st = store_prepare(c, sql, err)))
		return err ? err->rc : TT_EIO;
	for (int i = 0; i < ncols; i++) {
		json_t *v = json_object_get(row, present[i]);

		if (json_is_integer(v))
			rc = store_bind_int64(st, i + 1, json_integer_value(v));
		else if (json_is_string(v))
			rc = store_bind_text(st, i + 1, json_string_value(v), json_string_length(v));
		else if (json_is_null(v))
			rc = store_bind_null(st, i + 1);
		else
			rc = tt_error_set(err, TT_EINVAL, "invalid_backup", NULL,
					  "%s.%s: not an integer, a string or null", table, present[i]);
		if (rc) {
			store_stmt_done(st);
			return rc < 0 ? rc : TT_EINVAL;
		}
	}
	rc = store_step(st, err);
	store_stmt_done(st);
	return rc < 0 ? rc : 0;
}

int restore_reset_sequence(store_conn *c, const char *table, tt_error *err)
{
	char sql[256];
	int rc;

	if (store_engine_of(c) != STORE_POSTGRES)
		return 0; /* SQLite: the next rowid follows the largest one by itself */
	snprintf(sql, sizeof(sql),
		 "SELECT setval(pg_get_serial_sequence('%s', 'id'),"
		 " COALESCE((SELECT MAX(id) FROM %s), 0) + 1, false)",
		 table, table);
	rc = store_run(c, err, sql, "");
	return rc < 0 ? rc : 0;
}

int restore_end_unfinished(store_conn *c, tt_error *err)
{
	int rc = store_run(c, err,
			   "UPDATE data_exports SET status = 'failed', completed_at = ?,"
			   " error_message = 'this export was still running when the backup was taken'"
			   " WHERE status IN ('pending', 'processing')",
			   "i", store_now());

	if (rc >= 0)
		rc = store_run(c, err,
			       "UPDATE data_imports SET status = 'failed', completed_at = ?,"
			       " error_message = 'this import was still running when the backup was taken'"
			       " WHERE status IN ('pending', 'processing')",
			       "i", store_now());
	return rc < 0 ? rc : 0;
}
