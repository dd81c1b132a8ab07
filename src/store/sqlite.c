/*
 * sqlite.c - the SQLite backend of store.h.
 *
 * Every connection: WAL journal, foreign_keys=ON, a busy timeout, and
 * synchronous=NORMAL (durable across process crashes under WAL; a power
 * loss can lose the last transactions but never corrupts). Writers begin
 * with BEGIN IMMEDIATE so two writers queue on the lock instead of failing
 * with SQLITE_BUSY half-way through a transaction.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#include "store/store_int.h"
#include "util/log.h"

#define BUSY_TIMEOUT_MS 10000

static int map_rc(sqlite3 *db, int rc, tt_error *err)
{
	int prim = rc & 0xff;
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

	switch (prim) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return tt_error_set(err, TT_EBUSY, "database_busy", NULL,
				    "the database is busy; try again shortly");
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return tt_error_set(err, TT_ECONFLICT, "conflict", NULL,
					    "a record with the same key already exists");
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			return tt_error_set(err, TT_ECONFLICT, "conflict", NULL,
					    "the record is referenced by or refers to another record");
		return tt_error_set(err, TT_EINVAL, "constraint_failed", NULL,
				    "a database constraint failed: %s", msg);
	case SQLITE_FULL:
		log_error("sqlite: %s", msg);
		return tt_error_set(err, TT_EIO, "disk_full", NULL, "the disk is full");
	case SQLITE_CANTOPEN:
		log_error("sqlite: %s", msg);
		return tt_error_set(err, TT_EIO, "database_unavailable", NULL,
				    "the database file cannot be opened");
	default:
		log_error("sqlite: error %d: %s", rc, msg);
		return tt_error_set(err, TT_EIO, "database_error", NULL, "a database error occurred");
	}
}

static int sq_exec(store_conn *c, const char *sql, tt_error *err)
{
	int rc = sqlite3_exec(c->drv, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : map_rc(c->drv, sqlite3_extended_errcode(c->drv), err);
}

/*
 * Process-wide SQLite settings, before the library initialises: no memory
 * statistics (they take a global mutex on every allocation, which costs an
 * import ~10 %), and multi-thread mode (each connection is used by one
 * thread only, so connection mutexes are pointless).
 */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static void sqlite_configure(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	sqlite3_initialize();
}

static int sq_conn_open(store *s, store_conn *c, tt_error *err)
{
	sqlite3 *db = NULL;
	int rc;
	static const char *pragmas =
		"PRAGMA journal_mode=WAL;"
		"PRAGMA foreign_keys=ON;"
		"PRAGMA synchronous=NORMAL;"
		"PRAGMA temp_store=MEMORY;";

	pthread_once(&sqlite_once, sqlite_configure);
	rc = sqlite3_open_v2(s->target, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("sqlite: cannot open %s: %s", s->target,
			  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		tt_error_set(err, TT_EBUSY, "database_unavailable", NULL,
			     "the database cannot be opened (%s)",
			     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return TT_EBUSY;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	c->drv = db;
	if (sq_exec(c, pragmas, err)) {
		sqlite3_close(db);
		c->drv = NULL;
		return err ? err->rc : TT_EIO;
	}
	return 0;
}

static void sq_conn_close(store_conn *c)
{
	sqlite3_close(c->drv);
	c->drv = NULL;
}

static int sq_begin(store_conn *c, int flags, tt_error *err)
{
	return sq_exec(c, (flags & STORE_TX_WRITE) ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED", err);
}

static int sq_commit(store_conn *c, tt_error *err)
{
	return sq_exec(c, "COMMIT", err);
}

static void sq_rollback(store_conn *c)
{
	if (!sqlite3_get_autocommit(c->drv))
		sqlite3_exec(c->drv, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_prepare(store_conn *c, store_stmt *st, const char *sql, tt_error *err)
{
	sqlite3_stmt *p = NULL;
	int rc = sqlite3_prepare_v3(c->drv, sql, -1, SQLITE_PREPARE_PERSISTENT, &p, NULL);

	if (rc != SQLITE_OK) {
		log_error("sqlite: cannot prepare [%s]: %s", sql, sqlite3_errmsg(c->drv));
		return tt_error_set(err, TT_EINTERNAL, "database_error", NULL,
				    "a database error occurred");
	}
	st->drv = p;
	return 0;
}

static void sq_finalize(store_stmt *st)
{
	sqlite3_finalize(st->drv);
}

static int sq_bind_int64(store_stmt *st, int idx, int64_t v)
{
	return sqlite3_bind_int64(st->drv, idx, v) == SQLITE_OK ? 0 : TT_EINTERNAL;
}

static int sq_bind_text(store_stmt *st, int idx, const char *v, size_t len)
{
	/* SQLITE_STATIC: store.h promises bound text outlives the step (no copy per bind). */
	return sqlite3_bind_text64(st->drv, idx, v, len, SQLITE_STATIC, SQLITE_UTF8) ==
			       SQLITE_OK ? 0 : TT_EINTERNAL;
}

static int sq_bind_null(store_stmt *st, int idx)
{
	return sqlite3_bind_null(st->drv, idx) == SQLITE_OK ? 0 : TT_EINTERNAL;
}

static int sq_bind_double(store_stmt *st, int idx, double v)
{
	return sqlite3_bind_double(st->drv, idx, v) == SQLITE_OK ? 0 : TT_EINTERNAL;
}

static int sq_step(store_stmt *st, tt_error *err)
{
	int rc = sqlite3_step(st->drv);

	if (rc == SQLITE_ROW)
		return STORE_ROW;
	if (rc == SQLITE_DONE)
		return STORE_DONE;
	return map_rc(st->conn->drv, sqlite3_extended_errcode(st->conn->drv), err);
}

static int64_t sq_col_int64(store_stmt *st, int col)
{
	return sqlite3_column_int64(st->drv, col);
}

static double sq_col_double(store_stmt *st, int col)
{
	return sqlite3_column_double(st->drv, col);
}

static const char *sq_col_text(store_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st->drv, col);
}

static size_t sq_col_bytes(store_stmt *st, int col)
{
	return (size_t)sqlite3_column_bytes(st->drv, col);
}

static bool sq_col_is_null(store_stmt *st, int col)
{
	return sqlite3_column_type(st->drv, col) == SQLITE_NULL;
}

static void sq_reset(store_stmt *st)
{
	sqlite3_reset(st->drv);
	sqlite3_clear_bindings(st->drv);
}

static int64_t sq_changes(store_conn *c)
{
	return sqlite3_changes64(c->drv);
}

static int64_t sq_last_insert_id(store_conn *c)
{
	return sqlite3_last_insert_rowid(c->drv);
}

const struct store_backend store_sqlite_backend = {
	.name = "sqlite",
	.engine = STORE_SQLITE,
	.conn_open = sq_conn_open,
	.conn_close = sq_conn_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.exec = sq_exec,
	.prepare = sq_prepare,
	.finalize = sq_finalize,
	.bind_int64 = sq_bind_int64,
	.bind_text = sq_bind_text,
	.bind_null = sq_bind_null,
	.bind_double = sq_bind_double,
	.step = sq_step,
	.col_int64 = sq_col_int64,
	.col_double = sq_col_double,
	.col_text = sq_col_text,
	.col_bytes = sq_col_bytes,
	.col_is_null = sq_col_is_null,
	.reset = sq_reset,
	.changes = sq_changes,
	.last_insert_id = sq_last_insert_id,
};
