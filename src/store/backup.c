/*
 * backup.c (store) - the SQL of logical backups (see store/backup.h).
 *
 * The statement is built from the caller's fixed column list; it is the one
 * place in the code base where SQL text is assembled, which is why every
 * name is checked to be a plain lower-case identifier first. Values are read
 * by the type the caller declares (the store interface has no column type
 * that works the same on SQLite and PostgreSQL, where every value arrives
 * as text).
 */
#include "store/backup.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

/* A lower-case SQL identifier: [a-z_][a-z0-9_]*, at most 63 bytes. */
static bool plain_identifier(const char *s)
{
	size_t n = 0;

	if (!s || !((*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return false;
	return n < 64;
}

struct sqlbuf {
	char *p;
	size_t len, cap;
};

static void sql_add(struct sqlbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

/*
 * "SELECT a, b FROM t ORDER BY id" (or "ORDER BY a, b" without an id).
 * NULL when a name is not a plain identifier or the types do not match.
 */
static char *build_select(const char *table, const char *const *columns, const char *types)
{
	struct sqlbuf b = {0};
	bool has_id = false;
	size_t n = 0;

	if (!plain_identifier(table) || !columns || !columns[0] || !types)
		return NULL;
	for (n = 0; columns[n]; n++) {
		if (!plain_identifier(columns[n]) || (types[n] != 'i' && types[n] != 't'))
			return NULL;
		if (!strcmp(columns[n], "id"))
			has_id = true;
	}
	if (types[n] != '\0')
		return NULL;
	sql_add(&b, "SELECT ");
	for (size_t i = 0; columns[i]; i++) {
		if (i)
			sql_add(&b, ", ");
		sql_add(&b, columns[i]);
	}
	sql_add(&b, " FROM ");
	sql_add(&b, table);
	sql_add(&b, " ORDER BY ");
	if (has_id) {
		sql_add(&b, "id");
	} else {
		for (size_t i = 0; columns[i]; i++) {
			if (i)
				sql_add(&b, ", ");
			sql_add(&b, columns[i]);
		}
	}
	return b.p;
}

/* The row's key for messages: "id 7", or the first two columns of a link row. */
static void row_key(store_stmt *st, const char *const *columns, char *buf, size_t size)
{
	size_t i;

	for (i = 0; columns[i]; i++)
		if (!strcmp(columns[i], "id")) {
			snprintf(buf, size, "id %lld", (long long)store_col_int64(st, (int)i));
			return;
		}
	snprintf(buf, size, "%s %lld", columns[0], (long long)store_col_int64(st, 0));
}

/*
 * A text column as a JSON string; NULL when it is not valid UTF-8 or holds a
 * NUL byte (PostgreSQL text cannot, and the reader refuses "\u0000").
 */
static json_t *text_value(store_stmt *st, int col)
{
	const char *p = store_col_text(st, col);
	size_t n = store_col_bytes(st, col);

	if (!p || memchr(p, '\0', n))
		return NULL;
	return json_stringn(p, n);
}

int store_backup_walk(store_conn *c, const char *table, const char *const *columns,
                      const char *types, int (*cb)(void *ctx, json_t *row), void *ctx,
                      tt_error *err)
{
	char *sql = build_select(table, columns, types);
	store_stmt *st = NULL;
	json_t *row = NULL;
	int rc;

	if (!sql)
		return tt_error_set(err, TT_EINTERNAL, NULL, NULL,
		                    "the backup's table list is malformed");
	st = store_prepare(c, sql, err);
	if (!st) {
		rc = err && err->rc ? err->rc : TT_EIO;
		goto out;
	}
	while ((rc = store_step(st, err)) == STORE_ROW) {
		row = json_object();
		for (size_t i = 0; columns[i]; i++) {
			json_t *v;

			if (store_col_is_null(st, (int)i))
				v = json_null();
			else if (types[i] == 'i')
				v = json_integer((json_int_t)store_col_int64(st, (int)i));
			else
				v = text_value(st, (int)i);
			if (!v) {
				char key[64];

				row_key(st, columns, key, sizeof(key));
				rc = tt_error_set(err, TT_EINVAL, "invalid_text", columns[i],
				                  "%s %s: column %s is not valid UTF-8 text (or"
				                  " holds a NUL byte), so the backup could not be"
				                  " read back",
				                  table, key, columns[i]);
				goto out;
			}
			json_object_set_new(row, columns[i], v);
		}
		rc = cb(ctx, row);
		json_decref(row);
		row = NULL;
		if (rc)
			goto out;
	}
out:
	json_decref(row);
	store_stmt_done(st);
	free(sql);
	return rc;
}
