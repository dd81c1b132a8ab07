/*
 * entries.c - SQL for time entries and the catalogue (see entries.h).
 *
 * Filters become a WHERE clause made only of fixed fragments and `?`
 * placeholders; values are always bound, never spliced into the text.
 */
#include "store/entries.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

/* ---- a tiny query builder: fixed SQL text plus bound values ---- */

#define QB_MAX_ARGS 4096

struct qb_arg {
	bool is_text;
	int64_t i;
	const char *s;
};

struct qb {
	char *sql;
	size_t len, cap;
	struct qb_arg *args;
	size_t nargs, args_cap;
	bool overflow;
};

static void qb_addn(struct qb *q, const char *text, size_t n)
{
	if (q->len + n + 1 > q->cap) {
		q->cap = (q->len + n + 1) * 2;
		q->sql = xrealloc(q->sql, q->cap);
	}
	memcpy(q->sql + q->len, text, n);
	q->len += n;
	q->sql[q->len] = '\0';
}

static void qb_add(struct qb *q, const char *text)
{
	qb_addn(q, text, strlen(text));
}

static void qb_arg(struct qb *q, bool is_text, int64_t i, const char *s)
{
	if (q->nargs >= QB_MAX_ARGS) {
		q->overflow = true;
		return;
	}
	if (q->nargs == q->args_cap) {
		q->args_cap = q->args_cap ? q->args_cap * 2 : 16;
		q->args = xrealloc(q->args, q->args_cap * sizeof(*q->args));
	}
	q->args[q->nargs++] = (struct qb_arg){ is_text, i, s };
}

static void qb_int(struct qb *q, int64_t v)
{
	qb_arg(q, false, v, NULL);
}

static void qb_text(struct qb *q, const char *v)
{
	qb_arg(q, true, 0, v);
}

/* Appends " AND col IN (?, ?, ...)" for ids. */
static void qb_in_ids(struct qb *q, const char *prefix, const int64_t *ids, size_t n)
{
	qb_add(q, prefix);
	qb_add(q, " IN (");
	for (size_t i = 0; i < n; i++) {
		qb_add(q, i ? ", ?" : "?");
		qb_int(q, ids[i]);
	}
	qb_add(q, ")");
}

static void qb_release(struct qb *q)
{
	free(q->sql);
	free(q->args);
	memset(q, 0, sizeof(*q));
}

static store_stmt *qb_prepare(store_conn *c, struct qb *q, tt_error *err)
{
	store_stmt *st;

	if (q->overflow) {
		tt_error_set(err, TT_EINVAL, "invalid_input", NULL, "too many filter values");
		return NULL;
	}
	st = store_prepare(c, q->sql, err);
	if (!st)
		return NULL;
	for (size_t i = 0; i < q->nargs; i++) {
		int rc = q->args[i].is_text
				 ? store_bind_text(st, (int)i + 1, q->args[i].s, strlen(q->args[i].s))
				 : store_bind_int64(st, (int)i + 1, q->args[i].i);

		if (rc) {
			store_stmt_done(st);
			tt_error_set(err, TT_EINTERNAL, NULL, NULL, "cannot bind query parameters");
			return NULL;
		}
	}
	return st;
}

void entry_filter_init(entry_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->billable = -1;
}

void catalog_name_key(const char *name, char *out, size_t size)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < size; i++) {
		char ch = name[i];

		out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	out[i] = '\0';
}

static void where_clause(struct qb *q, const entry_filter *f)
{
	qb_add(q, " WHERE 1 = 1");
	if (f->user_id) {
		qb_add(q, " AND e.user_id = ?");
		qb_int(q, f->user_id);
	} else if (f->n_user_ids) {
		qb_in_ids(q, " AND e.user_id", f->user_ids, f->n_user_ids);
	}
	if (f->entry_id) {
		qb_add(q, " AND e.id = ?");
		qb_int(q, f->entry_id);
	}
	if (f->has_from) {
		qb_add(q, " AND e.start_at >= ?");
		qb_int(q, f->from);
	}
	if (f->has_to) {
		qb_add(q, " AND e.start_at < ?");
		qb_int(q, f->to);
	}
	if (f->n_project_ids)
		qb_in_ids(q, " AND e.project_id", f->project_ids, f->n_project_ids);
	if (f->n_task_ids)
		qb_in_ids(q, " AND e.task_id", f->task_ids, f->n_task_ids);
	if (f->n_client_ids) {
		qb_add(q, " AND e.project_id IN (SELECT id FROM projects WHERE");
		qb_in_ids(q, " client_id", f->client_ids, f->n_client_ids);
		qb_add(q, ")");
	}
	if (f->n_tags) {
		qb_add(q, " AND e.id IN (SELECT x.entry_id FROM time_entry_tags x"
			  " JOIN tags g ON g.id = x.tag_id WHERE g.name_key IN (");
		for (size_t i = 0; i < f->n_tags; i++) {
			qb_add(q, i ? ", ?" : "?");
			qb_text(q, f->tags[i]); /* callers pass keys (lower-cased) */
		}
		qb_add(q, "))");
	}
	if (f->billable >= 0) {
		qb_add(q, " AND e.billable = ?");
		qb_int(q, f->billable);
	}
	if (f->source) {
		qb_add(q, " AND e.source = ?");
		qb_text(q, f->source);
	}
	if (f->import_id) {
		qb_add(q, " AND e.import_id = ?");
		qb_int(q, f->import_id);
	}
}

int entries_count(store_conn *c, const entry_filter *f, int64_t *count, int64_t *seconds,
		  tt_error *err)
{
	struct qb q = { 0 };
	store_stmt *st;
	int rc;

	qb_add(&q, "SELECT COUNT(*), CAST(COALESCE(SUM(e.duration_seconds), 0) AS BIGINT)"
		  " FROM time_entries e");
	where_clause(&q, f);
	st = qb_prepare(c, &q, err);
	qb_release(&q);
	if (!st)
		return err ? err->rc : TT_EIO;
	rc = store_step(st, err);
	if (rc == STORE_ROW) {
		*count = store_col_int64(st, 0);
		*seconds = store_col_int64(st, 1);
		rc = 0;
	}
	store_stmt_done(st);
	return rc < 0 ? rc : 0;
}

static const char *opt_text(store_stmt *st, int col)
{
	return store_col_is_null(st, col) ? NULL : store_col_text(st, col);
}

int entries_walk(store_conn *c, const entry_filter *f, int64_t limit, int64_t offset,
		 entry_cb cb, void *ctx, tt_error *err)
{
	static const char sep[2] = { ENTRY_TAG_SEP, '\0' };
	struct qb q = { 0 };
	store_stmt *st;
	int rc;

	qb_add(&q,
	       "SELECT e.id, e.user_id, u.username, e.project_id, p.name, p.client_id, cl.name,"
	       " e.task_id, t.name, e.start_at, e.end_at, e.duration_seconds, e.notes, e.billable,"
	       " e.source, e.external_id, e.import_id,"
	       " (SELECT group_concat(g.name, ?) FROM time_entry_tags x JOIN tags g ON g.id = x.tag_id"
	       "  WHERE x.entry_id = e.id),"
	       " e.created_at, e.updated_at"
	       " FROM time_entries e JOIN users u ON u.id = e.user_id"
	       " LEFT JOIN projects p ON p.id = e.project_id"
	       " LEFT JOIN clients cl ON cl.id = p.client_id"
	       " LEFT JOIN tasks t ON t.id = e.task_id");
	qb_text(&q, sep);
	where_clause(&q, f);
	qb_add(&q, f->ascending ? " ORDER BY e.start_at, e.id LIMIT ? OFFSET ?"
				: " ORDER BY e.start_at DESC, e.id DESC LIMIT ? OFFSET ?");
	qb_int(&q, limit < 0 ? INT64_MAX : limit);
	qb_int(&q, offset);
	st = qb_prepare(c, &q, err);
	qb_release(&q);
	if (!st)
		return err ? err->rc : TT_EIO;
	while ((rc = store_step(st, err)) == STORE_ROW) {
		entry_rec e = {
			.id = store_col_int64(st, 0),
			.user_id = store_col_int64(st, 1),
			.username = store_col_text(st, 2),
			.project_id = store_col_int64(st, 3),
			.project = opt_text(st, 4),
			.client_id = store_col_int64(st, 5),
			.client = opt_text(st, 6),
			.task_id = store_col_int64(st, 7),
			.task = opt_text(st, 8),
			.start_at = store_col_int64(st, 9),
			.end_at = store_col_int64(st, 10),
			.duration = store_col_int64(st, 11),
			.notes = store_col_text(st, 12),
			.billable = store_col_bool(st, 13),
			.source = store_col_text(st, 14),
			.external_id = opt_text(st, 15),
			.import_id = store_col_int64(st, 16),
			.tags = store_col_is_null(st, 17) ? "" : store_col_text(st, 17),
			.created_at = store_col_int64(st, 18),
			.updated_at = store_col_int64(st, 19),
		};
		int stop;

		if (!e.notes)
			e.notes = "";
		stop = cb(ctx, &e);
		if (stop) {
			store_stmt_done(st);
			return stop;
		}
	}
	store_stmt_done(st);
	return rc < 0 ? rc : 0;
}

static int set_tags(store_conn *c, int64_t entry_id, const entry_input *in, bool is_new,
		    tt_error *err)
{
	int rc = 0;

	if (!is_new)
		rc = store_run(c, err, "DELETE FROM time_entry_tags WHERE entry_id = ?", "i", entry_id);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < in->n_tags; i++) {
		int64_t tag_id;
		bool created;

		if (in->tag_ids)
			tag_id = in->tag_ids[i];
		else if ((rc = catalog_tag(c, in->tags[i], in->import_id, &tag_id, &created, err)))
			return rc;
		rc = store_run(c, err,
			       "INSERT INTO time_entry_tags (entry_id, tag_id) VALUES (?, ?)"
			       " ON CONFLICT DO NOTHING",
			       "ii", entry_id, tag_id);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void copy_int(struct qb *b, int64_t v, bool zero_is_null);

int entries_add_tag_links(store_conn *c, const int64_t *pairs, size_t n, tt_error *err)
{
	if (store_has_copy(c) && n > 0) {
		/* Links of new entries cannot exist yet: one COPY. */
		struct qb data = { 0 };
		int rc;

		for (size_t i = 0; i < n; i++) {
			copy_int(&data, pairs[2 * i], false);
			qb_add(&data, "\t");
			copy_int(&data, pairs[2 * i + 1], false);
			qb_add(&data, "\n");
		}
		rc = store_copy_in(c, "COPY time_entry_tags (entry_id, tag_id) FROM STDIN", data.sql,
				   data.len, err);
		qb_release(&data);
		return rc;
	}

	/*
	 * Chunks of 256, 128, ..., 1 links: few distinct statement texts, so
	 * every one of them stays in the statement cache.
	 */
	char *sql = NULL;
	size_t done = 0;
	int rc = 0;


	for (size_t chunk = 256; chunk && !rc; chunk /= 2) {
		store_stmt *st;

		if (n - done < chunk)
			continue;
		free(sql);
		sql = xmalloc(128 + chunk * 8);
		strcpy(sql, "INSERT INTO time_entry_tags (entry_id, tag_id) VALUES (?, ?)");
		for (size_t i = 1; i < chunk; i++)
			strcat(sql, ", (?, ?)");
		strcat(sql, " ON CONFLICT DO NOTHING");
		while (n - done >= chunk && !rc) {
			if (!(st = store_prepare(c, sql, err))) {
				rc = err ? err->rc : TT_EIO;
				break;
			}
			for (size_t i = 0; i < chunk * 2; i++)
				store_bind_int64(st, (int)i + 1, pairs[done * 2 + i]);
			rc = store_step(st, err);
			rc = rc < 0 ? rc : 0;
			store_stmt_done(st);
			done += chunk;
		}
	}
	free(sql);
	return rc;
}

int entries_keys_in_range(store_conn *c, int64_t user_id, int64_t from, int64_t to,
			  void (*cb)(void *ctx, int64_t start, int64_t end, int64_t project_id,
				     const char *notes),
			  void *ctx, tt_error *err)
{
	store_stmt *st = store_query(c, err,
				     "SELECT start_at, end_at, project_id, notes FROM time_entries"
				     " WHERE user_id = ? AND start_at >= ? AND start_at <= ?",
				     "iii", user_id, from, to);
	int rc;

	if (!st)
		return err ? err->rc : TT_EIO;
	while ((rc = store_step(st, err)) == STORE_ROW)
		cb(ctx, store_col_int64(st, 0), store_col_int64(st, 1), store_col_int64(st, 2),
		   store_col_text(st, 3) ? store_col_text(st, 3) : "");
	store_stmt_done(st);
	return rc < 0 ? rc : 0;
}

/* Appends s to b in COPY text format (backslash escapes), or \N for NULL. */
static void copy_text(struct qb *b, const char *s)
{
	if (!s) {
		qb_addn(b, "\\N", 2);
		return;
	}
	while (*s) {
		size_t run = strcspn(s, "\\\t\n\r");

		qb_addn(b, s, run);
		s += run;
		if (!*s)
			break;
		switch (*s++) {
		case '\\': qb_addn(b, "\\\\", 2); break;
		case '\t': qb_addn(b, "\\t", 2); break;
		case '\n': qb_addn(b, "\\n", 2); break;
		default: qb_addn(b, "\\r", 2); break;
		}
	}
}

static void copy_int(struct qb *b, int64_t v, bool zero_is_null)
{
	char num[24];

	if (zero_is_null && v == 0) {
		qb_add(b, "\\N");
		return;
	}
	snprintf(num, sizeof(num), "%lld", (long long)v);
	qb_add(b, num);
}

#define ROWS_PER_INSERT 64

static char multi_insert_sql[8192];

static void build_multi_insert(void)
{
	size_t n = (size_t)snprintf(multi_insert_sql, sizeof(multi_insert_sql),
				    "INSERT INTO time_entries (user_id, project_id, task_id, start_at,"
				    " end_at, duration_seconds, notes, billable, source, external_id,"
				    " import_id, created_at, updated_at) VALUES ");

	for (int r = 0; r < ROWS_PER_INSERT; r++)
		n += (size_t)snprintf(multi_insert_sql + n, sizeof(multi_insert_sql) - n,
				      "%s(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", r ? ", " : "");
}

/*
 * Engines with rowids: multi-row INSERTs of ROWS_PER_INSERT rows. The rows
 * of one statement get consecutive rowids (no AUTOINCREMENT, and the write
 * lock is held), so the last id gives them all. A last, shorter chunk goes
 * row by row (one statement text per chunk size keeps the cache small).
 */
static int insert_rows(store_conn *c, const entry_input *in, size_t n, int64_t *ids,
		       tt_error *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int64_t now = store_now();
	size_t done = 0;
	int rc;

	pthread_once(&once, build_multi_insert);
	while (n - done >= ROWS_PER_INSERT && store_last_insert_id(c) >= 0) {
		store_stmt *st = store_prepare(c, multi_insert_sql, err);
		int p = 1;
		int64_t last;

		if (!st)
			return err ? err->rc : TT_EIO;
		for (size_t i = done; i < done + ROWS_PER_INSERT; i++) {
			const entry_input *e = &in[i];

			store_bind_int64(st, p++, e->user_id);
			e->project_id ? store_bind_int64(st, p++, e->project_id) : store_bind_null(st, p++);
			e->task_id ? store_bind_int64(st, p++, e->task_id) : store_bind_null(st, p++);
			store_bind_int64(st, p++, e->start_at);
			store_bind_int64(st, p++, e->end_at);
			store_bind_int64(st, p++, e->end_at - e->start_at);
			store_bind_text(st, p++, e->notes ? e->notes : "", e->notes ? strlen(e->notes) : 0);
			store_bind_int64(st, p++, e->billable ? 1 : 0);
			store_bind_text(st, p++, e->source ? e->source : "manual",
					strlen(e->source ? e->source : "manual"));
			e->external_id ? store_bind_text(st, p++, e->external_id, strlen(e->external_id))
				       : store_bind_null(st, p++);
			e->import_id ? store_bind_int64(st, p++, e->import_id) : store_bind_null(st, p++);
			store_bind_int64(st, p++, now);
			store_bind_int64(st, p++, now);
		}
		rc = store_step(st, err);
		store_stmt_done(st);
		if (rc < 0)
			return rc;
		last = store_last_insert_id(c);
		for (size_t i = 0; i < ROWS_PER_INSERT; i++)
			ids[done + i] = last - (ROWS_PER_INSERT - 1) + (int64_t)i;
		done += ROWS_PER_INSERT;
	}
	for (; done < n; done++) {
		entry_input one = in[done];

		one.defer_tags = true;
		if ((rc = entries_insert(c, &one, &ids[done], err)))
			return rc;
	}
	return 0;
}

int entries_insert_many(store_conn *c, const entry_input *in, size_t n, int64_t *ids,
			tt_error *err)
{
	struct qb data = { 0 };
	store_stmt *st;
	int64_t now = store_now();
	size_t got = 0;
	int rc;

	if (!store_has_copy(c))
		return insert_rows(c, in, n, ids, err);
	if (n == 0)
		return 0;
	/* Ids first (the tag links need them), then one COPY of every row. */
	st = store_query(c, err,
			 "SELECT nextval(pg_get_serial_sequence('time_entries', 'id'))"
			 " FROM generate_series(1, ?)",
			 "i", (int64_t)n);
	if (!st)
		return err ? err->rc : TT_EIO;
	while ((rc = store_step(st, err)) == STORE_ROW && got < n)
		ids[got++] = store_col_int64(st, 0);
	store_stmt_done(st);
	if (rc < 0)
		return rc;
	if (got != n)
		return tt_error_set(err, TT_EINTERNAL, NULL, NULL, "could not reserve entry ids");
	for (size_t i = 0; i < n; i++) {
		const entry_input *e = &in[i];

		copy_int(&data, ids[i], false);
		qb_add(&data, "\t");
		copy_int(&data, e->user_id, false);
		qb_add(&data, "\t");
		copy_int(&data, e->project_id, true);
		qb_add(&data, "\t");
		copy_int(&data, e->task_id, true);
		qb_add(&data, "\t");
		copy_int(&data, e->start_at, false);
		qb_add(&data, "\t");
		copy_int(&data, e->end_at, false);
		qb_add(&data, "\t");
		copy_int(&data, e->end_at - e->start_at, false);
		qb_add(&data, "\t");
		copy_text(&data, e->notes ? e->notes : "");
		qb_add(&data, e->billable ? "\t1\t" : "\t0\t");
		copy_text(&data, e->source ? e->source : "manual");
		qb_add(&data, "\t");
		copy_text(&data, e->external_id);
		qb_add(&data, "\t");
		copy_int(&data, e->import_id, true);
		qb_add(&data, "\t");
		copy_int(&data, now, false);
		qb_add(&data, "\t");
		copy_int(&data, now, false);
		qb_add(&data, "\n");
	}
	rc = store_copy_in(c,
			   "COPY time_entries (id, user_id, project_id, task_id, start_at, end_at,"
			   " duration_seconds, notes, billable, source, external_id, import_id,"
			   " created_at, updated_at) FROM STDIN",
			   data.sql, data.len, err);
	qb_release(&data);
	return rc;
}

int entries_insert(store_conn *c, const entry_input *in, int64_t *id, tt_error *err)
{
	int64_t now = store_now();
	int rc = store_insert(
		c, err, id,
		"INSERT INTO time_entries (user_id, project_id, task_id, start_at, end_at,"
		" duration_seconds, notes, billable, source, external_id, import_id, created_at,"
		" updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		"inniiisbssnii", in->user_id, in->project_id, in->task_id, in->start_at, in->end_at,
		in->end_at - in->start_at, in->notes ? in->notes : "", (int)in->billable,
		in->source ? in->source : "manual", in->external_id, in->import_id, now, now);

	if (rc < 0)
		return rc;
	return in->n_tags && !in->defer_tags ? set_tags(c, *id, in, true, err) : 0;
}

int entries_update(store_conn *c, int64_t id, const entry_input *in, tt_error *err)
{
	/* An edit always moves updated_at past created_at, even within the same second. */
	int64_t now = store_now();
	int rc = store_run(c, err,
			   "UPDATE time_entries SET project_id = ?, task_id = ?, start_at = ?,"
			   " end_at = ?, duration_seconds = ?, notes = ?, billable = ?,"
			   " updated_at = CASE WHEN ? > created_at THEN ? ELSE created_at + 1 END"
			   " WHERE id = ? AND user_id = ?",
			   "nniiisbiiii", in->project_id, in->task_id, in->start_at, in->end_at,
			   in->end_at - in->start_at, in->notes ? in->notes : "", (int)in->billable,
			   now, now, id, in->user_id);

	if (rc < 0)
		return rc;
	if (store_changes(c) == 0)
		return tt_error_set(err, TT_ENOTFOUND, "not_found", NULL, "no such time entry");
	return in->set_tags ? set_tags(c, id, in, false, err) : 0;
}

int entries_delete(store_conn *c, int64_t id, int64_t user_id, tt_error *err)
{
	int rc = user_id ? store_run(c, err, "DELETE FROM time_entries WHERE id = ? AND user_id = ?",
				     "ii", id, user_id)
			 : store_run(c, err, "DELETE FROM time_entries WHERE id = ?", "i", id);

	if (rc < 0)
		return rc;
	if (store_changes(c) == 0)
		return tt_error_set(err, TT_ENOTFOUND, "not_found", NULL, "no such time entry");
	return 0;
}

/*
 * Find-or-create: look the name up; when absent insert it, ignoring a
 * conflict with a row another request inserted meanwhile, and read the id
 * back. Works unchanged on SQLite and PostgreSQL and never fails on a race.
 * `rc` is the result of the insert (negative on error).
 */
static int after_insert(store_conn *c, int rc, bool *created, tt_error *err)
{
	if (rc < 0)
		return rc;
	*created = store_changes(c) > 0;
	return 0;
}

static int found(int rc, tt_error *err)
{
	if (rc == STORE_DONE)
		return tt_error_set(err, TT_EINTERNAL, NULL, NULL, "catalogue row vanished");
	return rc < 0 ? rc : 0;
}

int catalog_client(store_conn *c, const char *name, int64_t import_id, int64_t *id,
		   bool *created, tt_error *err)
{
	static const char *sel = "SELECT id FROM clients WHERE name = ?";
	int rc = store_query_int64(c, err, id, sel, "s", name);

	*created = false;
	if (rc != STORE_DONE)
		return rc < 0 ? rc : 0;
	rc = store_run(c, err,
		       "INSERT INTO clients (name, created_by_import_id, created_at)"
		       " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
		       "sni", name, import_id, store_now());
	if ((rc = after_insert(c, rc, created, err)))
		return rc;
	return found(store_query_int64(c, err, id, sel, "s", name), err);
}

int catalog_project(store_conn *c, int64_t client_id, const char *name, int64_t import_id,
		    int64_t *id, bool *created, tt_error *err)
{
	static const char *sel = "SELECT id FROM projects WHERE client_id = ? AND name = ?";
	int rc = store_query_int64(c, err, id, sel, "is", client_id, name);

	*created = false;
	if (rc != STORE_DONE)
		return rc < 0 ? rc : 0;
	rc = store_run(c, err,
		       "INSERT INTO projects (client_id, name, created_by_import_id, created_at)"
		       " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
		       "isni", client_id, name, import_id, store_now());
	if ((rc = after_insert(c, rc, created, err)))
		return rc;
	return found(store_query_int64(c, err, id, sel, "is", client_id, name), err);
}

int catalog_task(store_conn *c, int64_t project_id, const char *name, int64_t import_id,
		 int64_t *id, bool *created, tt_error *err)
{
	static const char *sel = "SELECT id FROM tasks WHERE project_id = ? AND name = ?";
	int rc = store_query_int64(c, err, id, sel, "is", project_id, name);

	*created = false;
	if (rc != STORE_DONE)
		return rc < 0 ? rc : 0;
	rc = store_run(c, err,
		       "INSERT INTO tasks (project_id, name, created_by_import_id, created_at)"
		       " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
		       "isni", project_id, name, import_id, store_now());
	if ((rc = after_insert(c, rc, created, err)))
		return rc;
	return found(store_query_int64(c, err, id, sel, "is", project_id, name), err);
}

int catalog_tag(store_conn *c, const char *name, int64_t import_id, int64_t *id, bool *created,
		tt_error *err)
{
	static const char *sel = "SELECT id FROM tags WHERE name_key = ?";
	char key[512];
	int rc;

	catalog_name_key(name, key, sizeof(key));
	rc = store_query_int64(c, err, id, sel, "s", key);
	*created = false;
	if (rc != STORE_DONE)
		return rc < 0 ? rc : 0;
	rc = store_run(c, err,
		       "INSERT INTO tags (name, name_key, created_by_import_id, created_at)"
		       " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
		       "ssni", name, key, import_id, store_now());
	if ((rc = after_insert(c, rc, created, err)))
		return rc;
	return found(store_query_int64(c, err, id, sel, "s", key), err);
}

int catalog_project_get(store_conn *c, int64_t id, int64_t *client_id, tt_error *err)
{
	int rc = store_query_int64(c, err, client_id, "SELECT client_id FROM projects WHERE id = ?",
				   "i", id);

	if (rc == STORE_DONE)
		return tt_error_set(err, TT_ENOTFOUND, "not_found", "project_id",
				    "project %lld does not exist", (long long)id);
	return rc < 0 ? rc : 0;
}

int catalog_task_get(store_conn *c, int64_t id, int64_t *project_id, tt_error *err)
{
	int rc = store_query_int64(c, err, project_id, "SELECT project_id FROM tasks WHERE id = ?",
				   "i", id);

	if (rc == STORE_DONE)
		return tt_error_set(err, TT_ENOTFOUND, "not_found", "task_id",
				    "task %lld does not exist", (long long)id);
	return rc < 0 ? rc : 0;
}

/* Hands each row of a catalogue query (the column order of catalog_list) to cb. */
static int walk_catalog(store_stmt *st, enum catalog_kind kind, catalog_cb cb, void *ctx,
			tt_error *err)
{
	int rc;

	if (!st)
		return err ? err->rc : TT_EIO;
	while ((rc = store_step(st, err)) == STORE_ROW) {
		catalog_rec r = {
			.id = store_col_int64(st, 0),
			.name = store_col_text(st, 1),
			.parent_id = store_col_int64(st, 2),
			.parent_name = opt_text(st, 3),
			.status = store_col_text(st, 4),
			.billable = store_col_bool(st, 5),
			.created_by_import_id = store_col_int64(st, 6),
		};

		if (kind == CATALOG_CLIENTS) {
			r.description = opt_text(st, 7);
			r.contact_person = opt_text(st, 8);
			r.email = opt_text(st, 9);
			r.phone = opt_text(st, 10);
			r.address = opt_text(st, 11);
			r.default_hourly_rate = opt_text(st, 12);
			r.custom_fields = opt_text(st, 13);
		}
		int stop = cb(ctx, &r);

		if (stop) {
			store_stmt_done(st);
			return stop;
		}
	}
	store_stmt_done(st);
	return rc < 0 ? rc : 0;
}

int catalog_get(store_conn *c, enum catalog_kind kind, int64_t id, catalog_cb cb, void *ctx,
		tt_error *err)
{
	store_stmt *st;

	if (kind == CATALOG_CLIENTS)
		st = store_query(c, err,
				 "SELECT id, name, 0, NULL, status, 0, created_by_import_id, description,"
				 " contact_person, email, phone, address, default_hourly_rate, custom_fields"
				 " FROM clients WHERE id = ?", "i", id);
	else if (kind == CATALOG_PROJECTS)
		st = store_query(c, err,
				 "SELECT p.id, p.name, p.client_id, cl.name, p.status, p.billable,"
				 " p.created_by_import_id FROM projects p JOIN clients cl ON cl.id = p.client_id"
				 " WHERE p.id = ?", "i", id);
	else
		return tt_error_set(err, TT_EINTERNAL, NULL, NULL, "catalog_get: unsupported kind");
	return walk_catalog(st, kind, cb, ctx, err);
}

int catalog_id_exists(store_conn *c, const char *table, int64_t id, bool *found, tt_error *err)
{
	static const char *const tables[] = { "clients", "projects", "tasks", "users", "tags", NULL };
	char sql[64];
	int64_t one = 0;
	int rc;

	*found = false;
	for (const char *const *t = tables; *t; t++) {
		if (strcmp(*t, table))
			continue;
		snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE id = ?", *t);
		rc = store_query_int64(c, err, &one, sql, "i", id);
		if (rc < 0)
			return rc;
		*found = rc == STORE_ROW;
		return 0;
	}
	return tt_error_set(err, TT_EINTERNAL, NULL, NULL, "catalog_id_exists: unknown table");
}

int catalog_list(store_conn *c, enum catalog_kind kind, int64_t parent_id, catalog_cb cb,
		 void *ctx, tt_error *err)
{
	store_stmt *st;

	switch (kind) {
	case CATALOG_CLIENTS:
		st = store_query(c, err,
				 "SELECT id, name, 0, NULL, status, 0, created_by_import_id, description,"
				 " contact_person, email, phone, address, default_hourly_rate, custom_fields"
				 " FROM clients ORDER BY name, id", "");
		break;
	case CATALOG_PROJECTS:
		st = store_query(c, err,
				 "SELECT p.id, p.name, p.client_id, cl.name, p.status, p.billable,"
				 " p.created_by_import_id FROM projects p JOIN clients cl ON cl.id = p.client_id"
				 " ORDER BY p.name, cl.name, p.id", "");
		break;
	case CATALOG_TASKS:
		if (parent_id)
			st = store_query(c, err,
					 "SELECT t.id, t.name, t.project_id, p.name, t.status, 0,"
					 " t.created_by_import_id FROM tasks t JOIN projects p ON p.id = t.project_id"
					 " WHERE t.project_id = ? ORDER BY t.name, t.id", "i", parent_id);
		else
			st = store_query(c, err,
					 "SELECT t.id, t.name, t.project_id, p.name, t.status, 0,"
					 " t.created_by_import_id FROM tasks t JOIN projects p ON p.id = t.project_id"
					 " ORDER BY t.name, t.id", "");
		break;
	case CATALOG_TAGS:
		st = store_query(c, err,
				 "SELECT id, name, 0, NULL, 'active', 0, created_by_import_id"
				 " FROM tags ORDER BY name_key, id", "");
		break;
	default:
		assert(!"unknown catalogue");
		return TT_EINTERNAL;
	}
	return walk_catalog(st, kind, cb, ctx, err);
}

int entries_same_exists(store_conn *c, const entry_input *in, bool *found, tt_error *err)
{
	int64_t one = 0;
	int rc = store_query_int64(c, err, &one,
				   "SELECT 1 FROM time_entries WHERE user_id = ? AND start_at = ?"
				   " AND end_at = ? AND project_id = ? AND notes = ? LIMIT 1",
				   "iiiis", in->user_id, in->start_at, in->end_at, in->project_id,
				   in->notes ? in->notes : "");

	if (rc < 0)
		return rc;
	*found = rc == STORE_ROW;
	return 0;
}

int catalog_project_ids_by_name(store_conn *c, const char *name,
				void (*cb)(void *ctx, int64_t id), void *ctx, tt_error *err)
{
	store_stmt *st = store_query(c, err, "SELECT id FROM projects WHERE name = ? ORDER BY id", "s",
				     name);
	int rc;

	if (!st)
		return err ? err->rc : TT_EIO;
	while ((rc = store_step(st, err)) == STORE_ROW)
		cb(ctx, store_col_int64(st, 0));
	store_stmt_done(st);
	return rc < 0 ? rc : 0;
}

int catalog_client_match(store_conn *c, const struct client_fields *f, bool by_name, bool by_email,
			 bool by_phone, bool by_contact, bool *found, tt_error *err)
{
	int64_t one = 0;
	int rc = store_query_int64(
		c, err, &one,
		"SELECT 1 FROM clients WHERE (? = 0 OR name = ?)"
		" AND (? = 0 OR lower(COALESCE(email, '')) = lower(?))"
		" AND (? = 0 OR lower(COALESCE(phone, '')) = lower(?))"
		" AND (? = 0 OR lower(COALESCE(contact_person, '')) = lower(?)) LIMIT 1",
		"isisisis", (int64_t)by_name, f->name ? f->name : "", (int64_t)by_email,
		f->email ? f->email : "", (int64_t)by_phone, f->phone ? f->phone : "",
		(int64_t)by_contact, f->contact_person ? f->contact_person : "");

	if (rc < 0)
		return rc;
	*found = rc == STORE_ROW;
	return 0;
}

static const char *or_null(const char *s)
{
	return s && *s ? s : NULL;
}

int catalog_client_insert(store_conn *c, const struct client_fields *f, int64_t import_id,
			  tt_error *err)
{
	int rc = store_run(c, err,
			   "INSERT INTO clients (name, description, contact_person, email, phone, address,"
			   " default_hourly_rate, status, custom_fields, created_by_import_id, created_at)"
			   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			   "sssssssssni", f->name, or_null(f->description), or_null(f->contact_person),
			   or_null(f->email), or_null(f->phone), or_null(f->address),
			   or_null(f->default_hourly_rate), f->status && *f->status ? f->status : "active",
			   or_null(f->custom_fields), import_id, store_now());

	return rc < 0 ? rc : 0;
}
