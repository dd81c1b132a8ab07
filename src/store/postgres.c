/*
 * postgres.c - the PostgreSQL backend of store.h (libpq).
 *
 * SQL arrives with `?` placeholders and is rewritten to $1..$n once, when
 * the statement is first prepared. Statements are prepared on the server
 * lazily, at their first execution, with the parameter types of that
 * execution (integers as int8, doubles as float8, text untyped), so an
 * expression such as `? = 0` is never narrowed to int4. Results are read in
 * single-row mode: a walk over a million rows holds one row at a time.
 *
 * Writers: STORE_TX_WRITE takes one transaction-scoped advisory lock, so
 * write transactions are serialised across every instance exactly as
 * SQLite's BEGIN IMMEDIATE serialises them. The import pipeline's
 * duplicate check, the find-or-create of names and the migrations rely on
 * that, and get the same exactly-once behaviour on both engines. Reads are
 * never serialised; STORE_TX_READ is a REPEATABLE READ snapshot.
 *
 * A dropped connection is reset on the next use; the statement that hit it
 * fails with TT_EBUSY ("the database is unreachable"), never a crash.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "util/alloc.h"
#include "util/log.h"

#define PG_WRITE_LOCK "SELECT pg_advisory_xact_lock(7626128)" /* 't','t' */
#define INT8OID 20
#define FLOAT8OID 701
#define MAX_PARAMS 4096

struct pg_conn {
	PGconn *pg;
	unsigned next_name;
	store_stmt *active;    /* the statement whose results are being read */
	int64_t changes;
};

struct pg_stmt {
	char *sql;             /* with $n placeholders */
	char name[24];         /* "" until prepared on the server */
	int nparams;
	char **values;         /* bound text values (owned copies) */
	int *lengths;
	Oid *types;
	Oid *prepared_types;
	PGresult *row;         /* the current row, single-row mode */
	bool running;          /* sent, results pending */
	bool done;
	bool interrupted;      /* another statement took the connection mid-read */
};

static struct pg_conn *PC(store_conn *c)
{
	return c->drv;
}

static int map_result(store_conn *c, PGresult *res, tt_error *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(PC(c)->pg);

	if (PQstatus(PC(c)->pg) == CONNECTION_BAD) {
		log_error("postgres: connection lost: %s", PQerrorMessage(PC(c)->pg));
		return tt_error_set(err, TT_EBUSY, "database_unavailable", NULL,
				    "the database is unreachable; try again shortly");
	}
	if (state && (!strcmp(state, "23505")))
		return tt_error_set(err, TT_ECONFLICT, "conflict", NULL,
				    "a record with the same key already exists");
	if (state && !strcmp(state, "23503"))
		return tt_error_set(err, TT_ECONFLICT, "conflict", NULL,
				    "the record is referenced by or refers to another record");
	if (state && (!strncmp(state, "23", 2)))
		return tt_error_set(err, TT_EINVAL, "constraint_failed", NULL,
				    "a database constraint failed");
	if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03") ||
		      !strncmp(state, "08", 2) || !strcmp(state, "57P01") || !strcmp(state, "57P03")))
		return tt_error_set(err, TT_EBUSY, "database_busy", NULL,
				    "the database is busy or unreachable; try again shortly");
	if (state && !strcmp(state, "53100")) {
		log_error("postgres: %s", msg);
		return tt_error_set(err, TT_EIO, "disk_full", NULL, "the database's disk is full");
	}
	log_error("postgres: %s%s%s", state ? state : "", state ? ": " : "", msg);
	return tt_error_set(err, TT_EIO, "database_error", NULL, "a database error occurred");
}

/* Resets a broken connection before use; prepared statements are gone then. */
static int ensure_conn(store_conn *c, tt_error *err)
{
	if (PQstatus(PC(c)->pg) == CONNECTION_OK)
		return 0;
	/* Inside a transaction the work so far is lost: fail until the caller rolls back. */
	if (c->in_tx)
		return tt_error_set(err, TT_EBUSY, "database_unavailable", NULL,
				    "the database connection was lost; try again shortly");
	PQreset(PC(c)->pg);
	if (PQstatus(PC(c)->pg) != CONNECTION_OK)
		return tt_error_set(err, TT_EBUSY, "database_unavailable", NULL,
				    "the database is unreachable; try again shortly");
	/* Server-side statements died with the old session. */
	for (int i = 0; i < STORE_STMT_BUCKETS; i++)
		for (store_stmt *st = c->cache[i]; st; st = st->next)
			((struct pg_stmt *)st->drv)->name[0] = '\0';
	return 0;
}

static int pg_conn_open(store *s, store_conn *c, tt_error *err)
{
	struct pg_conn *p = xcalloc(1, sizeof(*p));
	PGresult *r;

	p->pg = PQconnectdb(s->target);
	if (PQstatus(p->pg) != CONNECTION_OK) {
		/* The message may hold the host, never the password (libpq omits it). */
		log_error("postgres: cannot connect: %s", PQerrorMessage(p->pg));
		tt_error_set(err, TT_EBUSY, "database_unavailable", NULL,
			     "the database cannot be reached");
		PQfinish(p->pg);
		free(p);
		return TT_EBUSY;
	}
	/*
	 * lock_timeout: waiting more than 10 s for the write lock answers 503,
	 * as SQLite's busy timeout does (a URL option can override it).
	 */
	r = PQexec(p->pg, "SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC';"
			  " SET client_min_messages = warning; SET lock_timeout = '10s'");
	PQclear(r);
	c->drv = p;
	return 0;
}

/* Reads and drops whatever results the running statement still has. */
static void drain(store_conn *c)
{
	struct pg_conn *p = PC(c);
	PGresult *r;

	if (p->active) {
		struct pg_stmt *ps = p->active->drv;

		if (ps->row) {
			PQclear(ps->row);
			ps->row = NULL;
		}
		/* Rows were still coming: its next step must fail, not end quietly. */
		ps->interrupted = ps->running;
		ps->running = false;
		ps->done = true;
		p->active = NULL;
	}
	while ((r = PQgetResult(p->pg)))
		PQclear(r);
}

static void pg_conn_close(store_conn *c)
{
	struct pg_conn *p = PC(c);

	if (!p)
		return;
	PQfinish(p->pg);
	free(p);
	c->drv = NULL;
}

static int exec_simple(store_conn *c, const char *sql, tt_error *err)
{
	PGresult *r;
	int rc = 0;

	if (ensure_conn(c, err))
		return err ? err->rc : TT_EBUSY;
	drain(c);
	r = PQexec(PC(c)->pg, sql);
	if (!r || (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK))
		rc = map_result(c, r, err);
	PQclear(r);
	return rc;
}

static int pg_exec(store_conn *c, const char *sql, tt_error *err)
{
	return exec_simple(c, sql, err);
}

static int pg_begin(store_conn *c, int flags, tt_error *err)
{
	if (flags & STORE_TX_WRITE) {
		int rc = exec_simple(c, "BEGIN", err);

		if (!rc && (rc = exec_simple(c, PG_WRITE_LOCK, err)))
			exec_simple(c, "ROLLBACK", NULL);
		return rc;
	}
	return exec_simple(c, "BEGIN ISOLATION LEVEL REPEATABLE READ", err);
}

static int pg_commit(store_conn *c, tt_error *err)
{
	PGresult *r;
	int rc = 0;

	if (ensure_conn(c, err))
		return err ? err->rc : TT_EBUSY;
	drain(c);
	r = PQexec(PC(c)->pg, "COMMIT");
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = map_result(c, r, err);
	else if (strcmp(PQcmdStatus(r), "COMMIT"))
		/* PostgreSQL answers COMMIT of a failed transaction with ROLLBACK */
		rc = tt_error_set(err, TT_EIO, "database_error", NULL,
				  "the transaction failed and was rolled back");
	PQclear(r);
	return rc;
}

static void pg_rollback(store_conn *c)
{
	if (PQstatus(PC(c)->pg) == CONNECTION_OK)
		exec_simple(c, "ROLLBACK", NULL);
}

/* Rewrites ? to $n outside quotes; counts the parameters. */
static char *rewrite(const char *sql, int *n)
{
	size_t len = strlen(sql);
	char *out = xmalloc(len * 3 + 1), *o = out;
	char quote = 0;

	*n = 0;
	for (const char *s = sql; *s; s++) {
		if (quote) {
			if (*s == quote)
				quote = 0;
			*o++ = *s;
		} else if (*s == '\'' || *s == '"') {
			quote = *s;
			*o++ = *s;
		} else if (*s == '?') {
			o += sprintf(o, "$%d", ++*n);
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

static int pg_prepare(store_conn *c, store_stmt *st, const char *sql, tt_error *err)
{
	struct pg_stmt *ps = xcalloc(1, sizeof(*ps));

	ps->sql = rewrite(sql, &ps->nparams);
	if (ps->nparams > MAX_PARAMS) {
		free(ps->sql);
		free(ps);
		return tt_error_set(err, TT_EINTERNAL, NULL, NULL, "too many query parameters");
	}
	ps->values = xcalloc((size_t)ps->nparams + 1, sizeof(char *));
	ps->lengths = xcalloc((size_t)ps->nparams + 1, sizeof(int));
	ps->types = xcalloc((size_t)ps->nparams + 1, sizeof(Oid));
	ps->prepared_types = xcalloc((size_t)ps->nparams + 1, sizeof(Oid));
	st->drv = ps;
	(void)c;
	return 0;
}

static void clear_values(struct pg_stmt *ps)
{
	for (int i = 0; i < ps->nparams; i++) {
		free(ps->values[i]);
		ps->values[i] = NULL;
		ps->types[i] = 0;
	}
}

static void pg_finalize(store_stmt *st)
{
	struct pg_stmt *ps = st->drv;

	if (!ps)
		return;
	if (PC(st->conn) && PC(st->conn)->active == st)
		drain(st->conn);
	if (ps->row)
		PQclear(ps->row);
	clear_values(ps);
	free(ps->values);
	free(ps->lengths);
	free(ps->types);
	free(ps->prepared_types);
	free(ps->sql);
	free(ps);
}

static int set_value(store_stmt *st, int idx, char *v, int len, Oid type)
{
	struct pg_stmt *ps = st->drv;

	if (idx < 1 || idx > ps->nparams) {
		free(v);
		return TT_EINTERNAL;
	}
	free(ps->values[idx - 1]);
	ps->values[idx - 1] = v;
	ps->lengths[idx - 1] = len;
	ps->types[idx - 1] = type;
	return 0;
}

static int pg_bind_int64(store_stmt *st, int idx, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);

	return set_value(st, idx, xstrndup(buf, (size_t)n), n, INT8OID);
}

static int pg_bind_text(store_stmt *st, int idx, const char *v, size_t len)
{
	return set_value(st, idx, xstrndup(v, len), (int)len, 0);
}

static int pg_bind_null(store_stmt *st, int idx)
{
	return set_value(st, idx, NULL, 0, 0);
}

static int pg_bind_double(store_stmt *st, int idx, double v)
{
	char buf[40];
	int n = snprintf(buf, sizeof(buf), "%.17g", v);

	return set_value(st, idx, xstrndup(buf, (size_t)n), n, FLOAT8OID);
}

/* Prepares on the server when needed (first use, or parameter types changed). */
static int ensure_prepared(store_stmt *st, tt_error *err)
{
	struct pg_conn *p = PC(st->conn);
	struct pg_stmt *ps = st->drv;
	PGresult *r;

	if (ps->name[0] &&
	    !memcmp(ps->types, ps->prepared_types, (size_t)ps->nparams * sizeof(Oid)))
		return 0;
	if (ps->name[0]) {
		char dealloc[48];

		snprintf(dealloc, sizeof(dealloc), "DEALLOCATE %s", ps->name);
		PQclear(PQexec(p->pg, dealloc));
	}
	snprintf(ps->name, sizeof(ps->name), "tt%u", ++p->next_name);
	r = PQprepare(p->pg, ps->name, ps->sql, ps->nparams, ps->types);
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
		int rc;

		log_error("postgres: cannot prepare [%s]", ps->sql);
		rc = map_result(st->conn, r, err);
		PQclear(r);
		ps->name[0] = '\0';
		return rc;
	}
	PQclear(r);
	memcpy(ps->prepared_types, ps->types, (size_t)ps->nparams * sizeof(Oid));
	return 0;
}

static int pg_step(store_stmt *st, tt_error *err)
{
	struct pg_conn *p = PC(st->conn);
	struct pg_stmt *ps = st->drv;
	PGresult *r;
	int rc;

	if (ps->interrupted)
		return tt_error_set(err, TT_EINTERNAL, "database_error", NULL,
				    "a query was interrupted by another on the same connection");
	if (ps->done)
		return STORE_DONE;
	if (!ps->running) {
		if ((rc = ensure_conn(st->conn, err)))
			return rc;
		if (p->active && p->active != st)
			drain(st->conn); /* one result stream per connection */
		if ((rc = ensure_prepared(st, err)))
			return rc;
		if (!PQsendQueryPrepared(p->pg, ps->name, ps->nparams, (const char *const *)ps->values,
					 ps->lengths, NULL, 0))
			return map_result(st->conn, NULL, err);
		PQsetSingleRowMode(p->pg);
		ps->running = true;
		p->active = st;
	}
	if (ps->row) {
		PQclear(ps->row);
		ps->row = NULL;
	}
	r = PQgetResult(p->pg);
	if (!r) {
		ps->running = false; /* (checked before any drain below) */
		ps->done = true;
		p->active = NULL;
		return STORE_DONE;
	}
	switch (PQresultStatus(r)) {
	case PGRES_SINGLE_TUPLE:
		ps->row = r;
		return STORE_ROW;
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK: {
		const char *n = PQcmdTuples(r);

		p->changes = n && *n ? strtoll(n, NULL, 10) : 0;
		PQclear(r);
		ps->running = false; /* finished by itself: not an interruption */
		drain(st->conn);
		return STORE_DONE;
	}
	default:
		rc = map_result(st->conn, r, err);
		PQclear(r);
		ps->running = false;
		drain(st->conn);
		return rc;
	}
}

static const char *value(store_stmt *st, int col)
{
	struct pg_stmt *ps = st->drv;

	if (!ps->row || col >= PQnfields(ps->row) || PQgetisnull(ps->row, 0, col))
		return NULL;
	return PQgetvalue(ps->row, 0, col);
}

static int64_t pg_col_int64(store_stmt *st, int col)
{
	const char *v = value(st, col);

	if (!v)
		return 0;
	if (!strcmp(v, "t"))
		return 1;
	if (!strcmp(v, "f"))
		return 0;
	return strtoll(v, NULL, 10);
}

static double pg_col_double(store_stmt *st, int col)
{
	const char *v = value(st, col);

	return v ? strtod(v, NULL) : 0;
}

static const char *pg_col_text(store_stmt *st, int col)
{
	return value(st, col);
}

static size_t pg_col_bytes(store_stmt *st, int col)
{
	struct pg_stmt *ps = st->drv;

	return value(st, col) ? (size_t)PQgetlength(ps->row, 0, col) : 0;
}

static bool pg_col_is_null(store_stmt *st, int col)
{
	return value(st, col) == NULL;
}

static void pg_reset(store_stmt *st)
{
	struct pg_stmt *ps = st->drv;

	if (ps->running || PC(st->conn)->active == st)
		drain(st->conn);
	if (ps->row) {
		PQclear(ps->row);
		ps->row = NULL;
	}
	ps->running = false;
	ps->done = false;
	ps->interrupted = false;
	clear_values(ps);
}

static int pg_copy_in(store_conn *c, const char *sql, const char *data, size_t len, tt_error *err)
{
	struct pg_conn *p;
	PGresult *r;
	int rc = 0;

	if ((rc = ensure_conn(c, err)))
		return rc;
	p = PC(c);
	drain(c);
	r = PQexec(p->pg, sql);
	if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
		rc = map_result(c, r, err);
		PQclear(r);
		return rc;
	}
	PQclear(r);
	/* In pieces of 1 MiB: libpq buffers what it cannot send at once. */
	for (size_t off = 0; off < len && !rc;) {
		size_t n = len - off > (1u << 20) ? (1u << 20) : len - off;

		if (PQputCopyData(p->pg, data + off, (int)n) != 1)
			rc = map_result(c, NULL, err);
		off += n;
	}
	if (PQputCopyEnd(p->pg, rc ? "aborted" : NULL) != 1 && !rc)
		rc = map_result(c, NULL, err);
	while ((r = PQgetResult(p->pg))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && !rc)
			rc = map_result(c, r, err);
		else if (PQresultStatus(r) == PGRES_COMMAND_OK)
			p->changes = strtoll(PQcmdTuples(r), NULL, 10);
		PQclear(r);
	}
	return rc;
}

static int64_t pg_changes(store_conn *c)
{
	return PC(c)->changes;
}

const struct store_backend store_pg_backend = {
	.name = "pg",
	.engine = STORE_POSTGRES,
	.conn_open = pg_conn_open,
	.conn_close = pg_conn_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.exec = pg_exec,
	.prepare = pg_prepare,
	.finalize = pg_finalize,
	.bind_int64 = pg_bind_int64,
	.bind_text = pg_bind_text,
	.bind_null = pg_bind_null,
	.bind_double = pg_bind_double,
	.step = pg_step,
	.col_int64 = pg_col_int64,
	.col_double = pg_col_double,
	.col_text = pg_col_text,
	.col_bytes = pg_col_bytes,
	.col_is_null = pg_col_is_null,
	.reset = pg_reset,
	.changes = pg_changes,
	.last_insert_id = NULL, /* store_insert adds RETURNING id */
	.copy_in = pg_copy_in,
};
