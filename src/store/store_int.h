/*
 * store_int.h - what the store core (store.c) and the backends share.
 * Only files in store/ include this.
 */
#ifndef TT_STORE_INT_H
#define TT_STORE_INT_H

#include <pthread.h>
#include <stdarg.h>

#include "store/store.h"

struct store_backend {
	const char *name;
	enum store_engine engine;
	/* Opens one connection for the current thread; fills the driver handle. */
	int (*conn_open)(store *s, store_conn *c, tt_error *err);
	void (*conn_close)(store_conn *c);
	int (*begin)(store_conn *c, int flags, tt_error *err);
	int (*commit)(store_conn *c, tt_error *err);
	void (*rollback)(store_conn *c);
	int (*exec)(store_conn *c, const char *sql, tt_error *err);
	/* Compiles sql into st->drv. */
	int (*prepare)(store_conn *c, store_stmt *st, const char *sql, tt_error *err);
	void (*finalize)(store_stmt *st);
	int (*bind_int64)(store_stmt *st, int idx, int64_t v);
	int (*bind_text)(store_stmt *st, int idx, const char *v, size_t len);
	int (*bind_null)(store_stmt *st, int idx);
	int (*bind_double)(store_stmt *st, int idx, double v);
	int (*step)(store_stmt *st, tt_error *err);
	int64_t (*col_int64)(store_stmt *st, int col);
	double (*col_double)(store_stmt *st, int col);
	const char *(*col_text)(store_stmt *st, int col);
	size_t (*col_bytes)(store_stmt *st, int col);
	bool (*col_is_null)(store_stmt *st, int col);
	void (*reset)(store_stmt *st);
	int64_t (*changes)(store_conn *c);
	/* Id of the row the last INSERT on c created (engines with rowids). */
	int64_t (*last_insert_id)(store_conn *c);
	/* Bulk load: COPY ... FROM STDIN with text-format data (NULL if unsupported). */
	int (*copy_in)(store_conn *c, const char *sql, const char *data, size_t len, tt_error *err);
};

struct store_stmt {
	store_conn *conn;
	char *sql;               /* cache key */
	const char *sql_ptr;     /* the caller's pointer: a fast first check */
	void *drv;               /* driver statement */
	bool busy;               /* handed out and not yet done */
	struct store_stmt *next; /* cache chain */
};

#define STORE_STMT_BUCKETS 64

struct store_conn {
	store *s;
	void *drv;               /* driver connection */
	bool in_tx;
	store_stmt *cache[STORE_STMT_BUCKETS];
	store_stmt *recent[8];   /* the last statements handed out (pointer hits) */
	unsigned recent_next;
	struct store_conn *next; /* all open connections of s */
	struct store_conn *prev;
};

struct store {
	const struct store_backend *be;
	char *target;            /* driver-specific: file path or conninfo */
	pthread_key_t key;       /* the thread's store_conn */
	pthread_mutex_t lock;    /* guards conns */
	store_conn *conns;
};

extern const struct store_backend store_sqlite_backend;
extern const struct store_backend store_pg_backend;

#endif
