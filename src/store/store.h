/*
 * store.h - the backend-neutral database interface.
 *
 * Everything above store/ talks to the database through this header and the
 * per-domain headers beside it (users.h, entries.h, ...), never through a
 * driver. SQL is written once, in the common subset of SQLite and PostgreSQL
 * (`?` placeholders, RETURNING, ON CONFLICT); what differs between engines
 * (placeholders, BEGIN IMMEDIATE, upsert details, bulk load, job claims)
 * lives in the backend files (sqlite.c, later postgres.c) behind the vtable
 * in store_int.h.
 *
 * Threads: a `store` is shared by the whole process. Each thread gets its own
 * connection from store_conn_get(), opened on first use and closed when the
 * thread exits (or at store_close). A connection and its statements must only
 * be used by the thread that got it.
 *
 * Statements: store_prepare() caches the compiled statement on the
 * connection, keyed by the SQL text, so preparing in a loop is cheap. A
 * statement is bound, stepped, and then released with store_stmt_done(),
 * which resets it for the next use. Text results stay valid until the next
 * step or done on the same statement.
 */
#ifndef TT_STORE_H
#define TT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct store store;
typedef struct store_conn store_conn;
typedef struct store_stmt store_stmt;

enum store_engine { STORE_SQLITE = 1, STORE_POSTGRES = 2 };

enum store_step_rc { STORE_DONE = 0, STORE_ROW = 1 };

enum store_tx_flags {
	STORE_TX_READ = 0,       /* a consistent read (snapshot) */
	STORE_TX_WRITE = 1 << 0, /* takes the write lock up front (BEGIN IMMEDIATE) */
};

/*
 * Opens the database named by url ("sqlite:PATH", "sqlite::memory:"; later
 * "postgresql://..."). Checks that a connection can be made. On failure
 * returns a negative code with err filled and *out NULL.
 */
int store_open(const char *url, store **out, tt_error *err);

/* Closes every connection still open and frees s. No thread may use s after. */
void store_close(store *s);

enum store_engine store_engine(const store *s);
/* The engine of the store a connection belongs to. */
enum store_engine store_engine_of(const store_conn *c);
const char *store_engine_name(const store *s);

/*
 * The calling thread's connection, opened on first use. NULL with err filled
 * (TT_EBUSY when the database is unreachable).
 */
store_conn *store_conn_get(store *s, tt_error *err);

/*
 * A connection of its own, outside the per-thread model, for work that needs
 * two at once in one thread (an export reads one long snapshot while it
 * records progress on the thread's connection). Free it with store_conn_free.
 */
store_conn *store_conn_new(store *s, tt_error *err);
void store_conn_free(store_conn *c);

/* Transactions. Nested begin is a programming error (asserted). */
int store_begin(store_conn *c, int flags, tt_error *err);
int store_commit(store_conn *c, tt_error *err);
void store_rollback(store_conn *c);
bool store_in_tx(const store_conn *c);

/* Runs SQL without parameters or results (may hold several statements). */
int store_exec(store_conn *c, const char *sql, tt_error *err);

/*
 * Prepares sql (placeholders `?`) and binds parameters described by fmt, one
 * character per parameter:
 *   'i' int64_t
 *   's' const char * (NULL binds SQL NULL)
 *   'b' int as a boolean (0/1)
 *   'n' int64_t, where 0 binds SQL NULL (for optional foreign keys)
 *   'd' double
 * Returns the statement (release with store_stmt_done) or NULL with err.
 * Strings are bound without copying: they must outlive the statement's use.
 */
store_stmt *store_query(store_conn *c, tt_error *err, const char *sql, const char *fmt, ...);

store_stmt *store_prepare(store_conn *c, const char *sql, tt_error *err);
int store_bind_int64(store_stmt *st, int idx, int64_t v);   /* idx is 1-based */
/* The text is not copied: it must stay valid until store_stmt_done(st). */
int store_bind_text(store_stmt *st, int idx, const char *v, size_t len);
int store_bind_null(store_stmt *st, int idx);
int store_bind_double(store_stmt *st, int idx, double v);

/* STORE_ROW, STORE_DONE, or a negative code with err filled. */
int store_step(store_stmt *st, tt_error *err);

int64_t store_col_int64(store_stmt *st, int col);   /* 0-based; NULL reads 0 */
double store_col_double(store_stmt *st, int col);
const char *store_col_text(store_stmt *st, int col); /* NULL for SQL NULL */
size_t store_col_bytes(store_stmt *st, int col);
bool store_col_is_null(store_stmt *st, int col);
bool store_col_bool(store_stmt *st, int col);

/* Resets the statement and returns it to the connection's cache. NULL ok. */
void store_stmt_done(store_stmt *st);

/*
 * The id of the last row inserted on c, for engines with rowids (SQLite),
 * where the rows of one multi-row INSERT get consecutive ids; -1 elsewhere.
 */
int64_t store_last_insert_id(store_conn *c);

/* Rows changed by the last INSERT/UPDATE/DELETE on c. */
int64_t store_changes(store_conn *c);

/*
 * Convenience: runs a statement that returns at most one row with one integer
 * (e.g. "... RETURNING id", "SELECT count(*)"). *out is untouched when there
 * is no row; returns STORE_ROW / STORE_DONE / negative.
 */
int store_query_int64(store_conn *c, tt_error *err, int64_t *out, const char *sql,
		      const char *fmt, ...);

/*
 * Runs an INSERT into a table with an integer `id` key and sets *id to the
 * new row's id. Write the SQL without RETURNING: the backend picks the
 * cheapest way (SQLite: the rowid, no RETURNING machinery; PostgreSQL:
 * RETURNING id). 0 or negative.
 */
int store_insert(store_conn *c, tt_error *err, int64_t *id, const char *sql, const char *fmt, ...);

/* Runs a statement to completion, ignoring rows. 0 or negative. */
int store_run(store_conn *c, tt_error *err, const char *sql, const char *fmt, ...);

/*
 * Bulk load where the engine has one (PostgreSQL: COPY ... FROM STDIN with
 * data in COPY's text format). store_has_copy tells whether it does.
 */
bool store_has_copy(const store_conn *c);
int store_copy_in(store_conn *c, const char *sql, const char *data, size_t len, tt_error *err);

/* 0 when the database answers a trivial query (health checks). */
int store_ping(store_conn *c, tt_error *err);

/* Current time as UTC seconds (one clock for the whole store layer). */
int64_t store_now(void);

#endif
