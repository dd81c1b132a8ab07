/*
 * migrate.c - applies and reverts the embedded migrations (see migrate.h).
 */
#include "store/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/log.h"

struct embedded_file {
	const char *name;
	const unsigned char *data;
	size_t size;
};
extern const struct embedded_file schema_files[];

/* Finds the embedded file of version v for this engine and direction. */
static const struct embedded_file *find_file(int v, const char *engine, const char *dir,
					     char *name, size_t name_len)
{
	for (const struct embedded_file *f = schema_files; f->name; f++) {
		char eng[16], d[8], nm[64];
		int ver;

		if (sscanf(f->name, "%d_%63[^.].%15[^.].%7[^.].sql", &ver, nm, eng, d) != 4)
			continue;
		if (ver == v && !strcmp(eng, engine) && !strcmp(d, dir)) {
			if (name)
				snprintf(name, name_len, "%s", nm);
			return f;
		}
	}
	return NULL;
}

int migrate_latest(void)
{
	int latest = 0;

	for (const struct embedded_file *f = schema_files; f->name; f++) {
		int v = atoi(f->name);

		if (v > latest)
			latest = v;
	}
	return latest;
}

static int ensure_table(store_conn *c, tt_error *err)
{
	return store_exec(c,
			  "CREATE TABLE IF NOT EXISTS schema_migrations ("
			  " version INTEGER PRIMARY KEY,"
			  " name TEXT NOT NULL,"
			  " applied_at BIGINT NOT NULL)",
			  err);
}

static int current_in(store_conn *c, int *version, tt_error *err)
{
	int64_t v = 0;
	int rc = store_query_int64(c, err, &v,
				   "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", "");

	if (rc < 0)
		return rc;
	*version = (int)v;
	return 0;
}

int migrate_current(store *s, int *version, tt_error *err)
{
	store_conn *c = store_conn_get(s, err);
	int rc;

	if (!c)
		return err ? err->rc : TT_EIO;
	if ((rc = ensure_table(c, err)))
		return rc;
	return current_in(c, version, err);
}

/* Runs one embedded SQL file; the file text is NUL-terminated by embed. */
static int run_file(store_conn *c, const struct embedded_file *f, tt_error *err)
{
	return store_exec(c, (const char *)f->data, err);
}

int migrate_up(store *s, int target, int *count, tt_error *err)
{
	store_conn *c = store_conn_get(s, err);
	const char *engine = store_engine_name(s);
	int latest = migrate_latest();
	int rc;

	*count = 0;
	if (!c)
		return err ? err->rc : TT_EIO;
	if (target <= 0 || target > latest)
		target = latest;
	for (int v = 1; v <= target; v++) {
		const struct embedded_file *f;
		char name[64];
		int64_t seen = 0;

		/* Under the write lock, so instances starting together do not race. */
		if ((rc = store_begin(c, STORE_TX_WRITE, err)))
			return rc;
		if ((rc = ensure_table(c, err)))
			goto fail;
		rc = store_query_int64(c, err, &seen,
				       "SELECT COUNT(*) FROM schema_migrations WHERE version = ?",
				       "i", (int64_t)v);
		if (rc < 0)
			goto fail;
		if (seen) {
			store_rollback(c);
			continue;
		}
		f = find_file(v, engine, "up", name, sizeof(name));
		if (!f) {
			rc = tt_error_set(err, TT_EINTERNAL, "migration_missing", NULL,
					  "migration %03d has no %s up script", v, engine);
			goto fail;
		}
		if ((rc = run_file(c, f, err)))
			goto fail;
		rc = store_run(c, err,
			       "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			       "isi", (int64_t)v, name, store_now());
		if (rc < 0)
			goto fail;
		if ((rc = store_commit(c, err)))
			return rc;
		log_info("migration %03d_%s applied", v, name);
		(*count)++;
	}
	return 0;
fail:
	store_rollback(c);
	return rc;
}

int migrate_down(store *s, int steps, int *count, tt_error *err)
{
	store_conn *c = store_conn_get(s, err);
	const char *engine = store_engine_name(s);
	int rc;

	*count = 0;
	if (!c)
		return err ? err->rc : TT_EIO;
	while (steps-- > 0) {
		const struct embedded_file *f;
		char name[64];
		int v;

		if ((rc = store_begin(c, STORE_TX_WRITE, err)))
			return rc;
		if ((rc = ensure_table(c, err)))
			goto fail;
		if ((rc = current_in(c, &v, err)))
			goto fail;
		if (v == 0) {
			store_rollback(c);
			break;
		}
		f = find_file(v, engine, "down", name, sizeof(name));
		if (!f) {
			rc = tt_error_set(err, TT_EINTERNAL, "migration_missing", NULL,
					  "migration %03d has no %s down script", v, engine);
			goto fail;
		}
		if ((rc = run_file(c, f, err)))
			goto fail;
		rc = store_run(c, err, "DELETE FROM schema_migrations WHERE version = ?", "i",
			       (int64_t)v);
		if (rc < 0)
			goto fail;
		if ((rc = store_commit(c, err)))
			return rc;
		log_info("migration %03d_%s reverted", v, name);
		(*count)++;
	}
	return 0;
fail:
	store_rollback(c);
	return rc;
}

int migrate_status(store *s, migration_info **list, size_t *n, tt_error *err)
{
	store_conn *c = store_conn_get(s, err);
	int latest = migrate_latest();
	migration_info *l;
	store_stmt *st;
	int rc;

	*list = NULL;
	*n = 0;
	if (!c)
		return err ? err->rc : TT_EIO;
	if ((rc = ensure_table(c, err)))
		return rc;
	l = xcalloc((size_t)latest + 1, sizeof(*l));
	for (int v = 1; v <= latest; v++) {
		l[v - 1].version = v;
		find_file(v, store_engine_name(s), "up", l[v - 1].name, sizeof(l[v - 1].name));
	}
	st = store_query(c, err, "SELECT version, applied_at FROM schema_migrations", "");
	if (!st) {
		free(l);
		return err ? err->rc : TT_EIO;
	}
	while ((rc = store_step(st, err)) == STORE_ROW) {
		int v = (int)store_col_int64(st, 0);

		if (v >= 1 && v <= latest) {
			l[v - 1].applied = true;
			l[v - 1].applied_at = store_col_int64(st, 1);
		}
	}
	store_stmt_done(st);
	if (rc < 0) {
		free(l);
		return rc;
	}
	*list = l;
	*n = (size_t)latest;
	return 0;
}
