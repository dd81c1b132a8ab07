/*
 * store.c - the engine-independent half of the store: URL dispatch, the
 * per-thread connection registry, the statement cache and the small
 * conveniences of store.h. Drivers implement struct store_backend.
 */
#include "store/store_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/alloc.h"
#include "util/log.h"

static void conn_destroy(store_conn *c);
store_conn *store_conn_new(store *s, tt_error *err);

/* Thread-exit destructor of the connection key. */
static void conn_key_destructor(void *p)
{
	store_conn *c = p;
	store *s = c->s;

	pthread_mutex_lock(&s->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&s->lock);
	conn_destroy(c);
}

int store_open(const char *url, store **out, tt_error *err)
{
	store *s;
	const struct store_backend *be = NULL;
	const char *target = NULL;
	store_conn *c;

	*out = NULL;
	if (!strncmp(url, "sqlite:", 7)) {
		be = &store_sqlite_backend;
		target = url + 7;
		if (!strncmp(target, "//", 2))
			target += 2;
		if (!*target)
			return tt_error_set(err, TT_EINVAL, "invalid_setting", "db",
					    "db: sqlite: needs a file path, e.g. sqlite:./data/timetracker.db");
	} else if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)) {
		be = &store_pg_backend;
		target = url; /* libpq takes the URL as it is */
	} else {
		return tt_error_set(err, TT_EINVAL, "invalid_setting", "db",
				    "db: expected sqlite:PATH or postgresql://..., got \"%.60s\"", url);
	}

	s = xcalloc(1, sizeof(*s));
	s->be = be;
	s->target = xstrdup(target);
	pthread_mutex_init(&s->lock, NULL);
	if (pthread_key_create(&s->key, conn_key_destructor)) {
		pthread_mutex_destroy(&s->lock);
		free(s->target);
		free(s);
		return tt_error_set(err, TT_EINTERNAL, NULL, NULL, "cannot create a thread key");
	}
	/* Fail early when the database cannot be opened at all. */
	c = store_conn_get(s, err);
	if (!c) {
		store_close(s);
		return err ? err->rc : TT_EIO;
	}
	*out = s;
	return 0;
}

void store_close(store *s)
{
	store_conn *c, *next;

	if (!s)
		return;
	pthread_setspecific(s->key, NULL);
	pthread_mutex_lock(&s->lock);
	c = s->conns;
	s->conns = NULL;
	pthread_mutex_unlock(&s->lock);
	for (; c; c = next) {
		next = c->next;
		conn_destroy(c);
	}
	pthread_key_delete(s->key);
	pthread_mutex_destroy(&s->lock);
	free(s->target);
	free(s);
}

enum store_engine store_engine(const store *s)
{
	return s->be->engine;
}

const char *store_engine_name(const store *s)
{
	return s->be->name;
}

store_conn *store_conn_get(store *s, tt_error *err)
{
	store_conn *c = pthread_getspecific(s->key);

	if (c)
		return c;
	c = xcalloc(1, sizeof(*c));
	c->s = s;
	if (s->be->conn_open(s, c, err)) {
		free(c);
		return NULL;
	}
	pthread_mutex_lock(&s->lock);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	pthread_mutex_unlock(&s->lock);
	pthread_setspecific(s->key, c);
	return c;
}

store_conn *store_conn_new(store *s, tt_error *err)
{
	store_conn *c = xcalloc(1, sizeof(*c));

	c->s = s;
	if (s->be->conn_open(s, c, err)) {
		free(c);
		return NULL;
	}
	return c;
}

void store_conn_free(store_conn *c)
{
	if (c)
		conn_destroy(c);
}

static void conn_destroy(store_conn *c)
{
	for (int i = 0; i < STORE_STMT_BUCKETS; i++) {
		store_stmt *st = c->cache[i], *next;

		for (; st; st = next) {
			next = st->next;
			c->s->be->finalize(st);
			free(st->sql);
			free(st);
		}
	}
	if (c->in_tx)
		c->s->be->rollback(c);
	c->s->be->conn_close(c);
	free(c);
}

int store_begin(store_conn *c, int flags, tt_error *err)
{
	int rc;

	assert(!c->in_tx);
	rc = c->s->be->begin(c, flags, err);
	if (!rc)
		c->in_tx = true;
	return rc;
}

int store_commit(store_conn *c, tt_error *err)
{
	int rc;

	assert(c->in_tx);
	rc = c->s->be->commit(c, err);
	if (rc) {
		c->s->be->rollback(c);
	}
	c->in_tx = false;
	return rc;
}

void store_rollback(store_conn *c)
{
	if (!c->in_tx)
		return;
	c->s->be->rollback(c);
	c->in_tx = false;
}

bool store_in_tx(const store_conn *c)
{
	return c->in_tx;
}

int store_exec(store_conn *c, const char *sql, tt_error *err)
{
	return c->s->be->exec(c, sql, err);
}

/*
 * FNV-1a over the SQL text: statements are few and long-lived. Most SQL
 * is a string literal, so a statement remembers the caller's pointer and a
 * hit on the same pointer with the same text skips the hashing of the text
 * (the most frequent path of an import: several statements per row).
 */
static unsigned sql_hash(const char *sql)
{
	uint32_t h = 2166136261u;

	for (; *sql; sql++)
		h = (h ^ (unsigned char)*sql) * 16777619u;
	return h % STORE_STMT_BUCKETS;
}

#define STORE_RECENT 8

store_stmt *store_prepare(store_conn *c, const char *sql, tt_error *err)
{
	unsigned b;
	store_stmt *st;

	for (int i = 0; i < STORE_RECENT; i++) {
		st = c->recent[i];
		if (st && st->sql_ptr == sql && !st->busy && !strcmp(st->sql, sql)) {
			st->busy = true;
			return st;
		}
	}
	b = sql_hash(sql);
	for (st = c->cache[b]; st; st = st->next) {
		if (!st->busy && !strcmp(st->sql, sql)) {
			st->busy = true;
			st->sql_ptr = sql;
			c->recent[c->recent_next++ % STORE_RECENT] = st;
			return st;
		}
	}
	/* Not cached, or the cached one is in use (re-entrant query). */
	st = xcalloc(1, sizeof(*st));
	st->conn = c;
	st->sql = xstrdup(sql);
	if (c->s->be->prepare(c, st, sql, err)) {
		free(st->sql);
		free(st);
		return NULL;
	}
	st->busy = true;
	st->sql_ptr = sql;
	st->next = c->cache[b];
	c->cache[b] = st;
	c->recent[c->recent_next++ % STORE_RECENT] = st;
	return st;
}

int store_bind_int64(store_stmt *st, int idx, int64_t v)
{
	return st->conn->s->be->bind_int64(st, idx, v);
}

int store_bind_text(store_stmt *st, int idx, const char *v, size_t len)
{
	if (!v)
		return store_bind_null(st, idx);
	return st->conn->s->be->bind_text(st, idx, v, len);
}

int store_bind_null(store_stmt *st, int idx)
{
	return st->conn->s->be->bind_null(st, idx);
}

int store_bind_double(store_stmt *st, int idx, double v)
{
	return st->conn->s->be->bind_double(st, idx, v);
}

static int bind_va(store_stmt *st, const char *fmt, va_list ap)
{
	int idx = 1;
	int rc = 0;

	for (const char *f = fmt; f && *f && !rc; f++, idx++) {
		switch (*f) {
		case 'i':
			rc = store_bind_int64(st, idx, va_arg(ap, int64_t));
			break;
		case 'n': {
			int64_t v = va_arg(ap, int64_t);

			rc = v ? store_bind_int64(st, idx, v) : store_bind_null(st, idx);
			break;
		}
		case 'b':
			rc = store_bind_int64(st, idx, va_arg(ap, int) ? 1 : 0);
			break;
		case 's': {
			const char *v = va_arg(ap, const char *);

			rc = v ? store_bind_text(st, idx, v, strlen(v)) : store_bind_null(st, idx);
			break;
		}
		case 'd':
			rc = store_bind_double(st, idx, va_arg(ap, double));
			break;
		default:
			assert(!"unknown store_query format character");
			rc = TT_EINTERNAL;
		}
	}
	return rc;
}

static store_stmt *query_va(store_conn *c, tt_error *err, const char *sql, const char *fmt,
			    va_list ap)
{
	store_stmt *st = store_prepare(c, sql, err);

	if (!st)
		return NULL;
	if (bind_va(st, fmt, ap)) {
		tt_error_set(err, TT_EINTERNAL, NULL, NULL, "cannot bind query parameters");
		store_stmt_done(st);
		return NULL;
	}
	return st;
}

store_stmt *store_query(store_conn *c, tt_error *err, const char *sql, const char *fmt, ...)
{
	va_list ap;
	store_stmt *st;

	va_start(ap, fmt);
	st = query_va(c, err, sql, fmt, ap);
	va_end(ap);
	return st;
}

int store_query_int64(store_conn *c, tt_error *err, int64_t *out, const char *sql,
		      const char *fmt, ...)
{
	va_list ap;
	store_stmt *st;
	int rc;

	va_start(ap, fmt);
	st = query_va(c, err, sql, fmt, ap);
	va_end(ap);
	if (!st)
		return err ? err->rc : TT_EIO;
	rc = store_step(st, err);
	if (rc == STORE_ROW)
		*out = store_col_int64(st, 0);
	store_stmt_done(st);
	return rc;
}

int store_run(store_conn *c, tt_error *err, const char *sql, const char *fmt, ...)
{
	va_list ap;
	store_stmt *st;
	int rc;

	va_start(ap, fmt);
	st = query_va(c, err, sql, fmt, ap);
	va_end(ap);
	if (!st)
		return err ? err->rc : TT_EIO;
	while ((rc = store_step(st, err)) == STORE_ROW)
		;
	store_stmt_done(st);
	return rc;
}

int store_insert(store_conn *c, tt_error *err, int64_t *id, const char *sql, const char *fmt, ...)
{
	va_list ap;
	store_stmt *st;
	int rc;

	if (!c->s->be->last_insert_id) {
		/* Engines without rowids: RETURNING id. The text is built once per SQL. */
		char *with = xasprintf("%s RETURNING id", sql);

		va_start(ap, fmt);
		st = query_va(c, err, with, fmt, ap);
		va_end(ap);
		free(with);
		if (!st)
			return err ? err->rc : TT_EIO;
		rc = store_step(st, err);
		if (rc == STORE_ROW)
			*id = store_col_int64(st, 0);
		store_stmt_done(st);
		return rc < 0 ? rc : 0;
	}
	va_start(ap, fmt);
	st = query_va(c, err, sql, fmt, ap);
	va_end(ap);
	if (!st)
		return err ? err->rc : TT_EIO;
	rc = store_step(st, err);
	store_stmt_done(st);
	if (rc < 0)
		return rc;
	*id = c->s->be->last_insert_id(c);
	return 0;
}

int store_step(store_stmt *st, tt_error *err)
{
	return st->conn->s->be->step(st, err);
}

int64_t store_col_int64(store_stmt *st, int col)
{
	return st->conn->s->be->col_int64(st, col);
}

double store_col_double(store_stmt *st, int col)
{
	return st->conn->s->be->col_double(st, col);
}

const char *store_col_text(store_stmt *st, int col)
{
	return st->conn->s->be->col_text(st, col);
}

size_t store_col_bytes(store_stmt *st, int col)
{
	return st->conn->s->be->col_bytes(st, col);
}

bool store_col_is_null(store_stmt *st, int col)
{
	return st->conn->s->be->col_is_null(st, col);
}

bool store_col_bool(store_stmt *st, int col)
{
	return store_col_int64(st, col) != 0;
}

void store_stmt_done(store_stmt *st)
{
	if (!st)
		return;
	st->conn->s->be->reset(st);
	st->busy = false;
}

int64_t store_changes(store_conn *c)
{
	return c->s->be->changes(c);
}

int64_t store_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

bool store_has_copy(const store_conn *c)
{
	return c->s->be->copy_in != NULL;
}

int store_copy_in(store_conn *c, const char *sql, const char *data, size_t len, tt_error *err)
{
	if (!c->s->be->copy_in)
		return tt_error_set(err, TT_EINTERNAL, NULL, NULL, "bulk load is not supported here");
	return c->s->be->copy_in(c, sql, data, len, err);
}

enum store_engine store_engine_of(const store_conn *c)
{
	return c->s->be->engine;
}

int64_t store_last_insert_id(store_conn *c)
{
	return c->s->be->last_insert_id ? c->s->be->last_insert_id(c) : -1;
}

int store_ping(store_conn *c, tt_error *err)
{
	int64_t one = 0;

	if (store_query_int64(c, err, &one, "SELECT 1", "") != STORE_ROW || one != 1)
		return err && err->rc ? err->rc : TT_EBUSY;
	return 0;
}
