/*
 * test_store.c - the SQLite store, migrations (up/down/up), the statement
 * layer, transactions, per-thread connections, and the users/entries SQL.
 */
#include "unit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/entries.h"
#include "store/migrate.h"
#include "store/store.h"
#include "store/users.h"
#include "util/config.h"

struct fx {
	char dir[64];
	char url[128];
	store *s;
	store_conn *c;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	tt_error err;
	int n;

	snprintf(f->dir, sizeof(f->dir), "/tmp/tt-unit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->url, sizeof(f->url), "sqlite:%s/t.db", f->dir);
	tt_error_init(&err);
	if (store_open(f->url, &f->s, &err) || migrate_up(f->s, 0, &n, &err))
		return -1;
	f->c = store_conn_get(f->s, &err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void test_open_errors(void **state)
{
	store *s = NULL;
	tt_error err;

	(void)state;
	tt_error_init(&err);
	assert_int_equal(store_open("mysql://x", &s, &err), TT_EINVAL);
	assert_null(s);
	assert_string_equal(err.field, "db");
	assert_int_equal(store_open("sqlite:", &s, &err), TT_EINVAL);
	assert_true(store_open("sqlite:/nonexistent-dir/x/y.db", &s, &err) < 0);
	assert_null(s);
}

static bool table_exists(store_conn *c, const char *name)
{
	int64_t n = 0;

	store_query_int64(c, NULL, &n, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
			  "s", name);
	return n == 1;
}

static void test_migrate_up_down_up(void **state)
{
	struct fx *f = *state;
	static const char *tables[] = { "users", "sessions", "api_tokens", "clients", "projects",
					"tasks", "tags", "time_entries", "time_entry_tags",
					"data_imports", "import_errors", "data_exports", "jobs",
					"schema_migrations", NULL };
	migration_info *list;
	size_t n;
	int v, count;
	tt_error err;

	tt_error_init(&err);
	for (const char **t = tables; *t; t++)
		assert_true(table_exists(f->c, *t));
	assert_int_equal(migrate_current(f->s, &v, &err), 0);
	assert_int_equal(v, migrate_latest());
	/* up again is a no-op */
	assert_int_equal(migrate_up(f->s, 0, &count, &err), 0);
	assert_int_equal(count, 0);

	assert_int_equal(migrate_status(f->s, &list, &n, &err), 0);
	assert_int_equal(n, (size_t)migrate_latest());
	assert_true(list[0].applied);
	assert_string_equal(list[0].name, "initial");
	assert_true(list[0].applied_at > 0);
	free(list);

	assert_int_equal(migrate_down(f->s, migrate_latest(), &count, &err), 0);
	assert_int_equal(count, migrate_latest());
	assert_false(table_exists(f->c, "users"));
	assert_false(table_exists(f->c, "time_entries"));
	assert_int_equal(migrate_current(f->s, &v, &err), 0);
	assert_int_equal(v, 0);
	/* down past zero does nothing */
	assert_int_equal(migrate_down(f->s, 1, &count, &err), 0);
	assert_int_equal(count, 0);

	assert_int_equal(migrate_up(f->s, 0, &count, &err), 0);
	assert_int_equal(count, migrate_latest());
	for (const char **t = tables; *t; t++)
		assert_true(table_exists(f->c, *t));
}

static void test_statements_and_tx(void **state)
{
	struct fx *f = *state;
	store_stmt *a, *b;
	int64_t n = -1;
	tt_error err;

	tt_error_init(&err);
	assert_int_equal(store_exec(f->c, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE, x REAL)", &err), 0);

	/* cached statement comes back after done */
	a = store_prepare(f->c, "SELECT COUNT(*) FROM t", &err);
	assert_non_null(a);
	store_stmt_done(a);
	b = store_prepare(f->c, "SELECT COUNT(*) FROM t", &err);
	assert_ptr_equal(a, b);
	/* re-entrant use gets a second statement */
	a = store_prepare(f->c, "SELECT COUNT(*) FROM t", &err);
	assert_ptr_not_equal(a, b);
	store_stmt_done(a);
	store_stmt_done(b);

	/* a rolled-back insert leaves nothing */
	assert_int_equal(store_begin(f->c, STORE_TX_WRITE, &err), 0);
	assert_true(store_in_tx(f->c));
	assert_int_equal(store_run(f->c, &err, "INSERT INTO t (v) VALUES (?)", "s", "one"), 0);
	store_rollback(f->c);
	assert_false(store_in_tx(f->c));
	store_query_int64(f->c, &err, &n, "SELECT COUNT(*) FROM t", "");
	assert_int_equal(n, 0);

	/* committed rows stay; NULL binding; unique conflict maps to TT_ECONFLICT */
	assert_int_equal(store_begin(f->c, STORE_TX_WRITE, &err), 0);
	assert_int_equal(store_run(f->c, &err, "INSERT INTO t (v, x) VALUES (?, ?)", "sd", "one", 1.5), 0);
	assert_int_equal(store_run(f->c, &err, "INSERT INTO t (v) VALUES (?)", "s", (const char *)NULL), 0);
	assert_int_equal(store_commit(f->c, &err), 0);
	assert_int_equal(store_run(f->c, &err, "INSERT INTO t (v) VALUES (?)", "s", "one"), TT_ECONFLICT);
	assert_int_equal(store_query_int64(f->c, &err, &n, "SELECT COUNT(*) FROM t WHERE v IS NULL", ""),
			 STORE_ROW);
	assert_int_equal(n, 1);
	a = store_query(f->c, &err, "SELECT v, x FROM t WHERE v = ?", "s", "one");
	assert_int_equal(store_step(a, &err), STORE_ROW);
	assert_string_equal(store_col_text(a, 0), "one");
	assert_true(store_col_double(a, 1) == 1.5);
	assert_int_equal(store_step(a, &err), STORE_DONE);
	store_stmt_done(a);

	/* a broken statement is an error, not a crash */
	assert_null(store_prepare(f->c, "SELEC nonsense", &err));
	assert_int_equal(err.rc, TT_EINTERNAL);
}

struct thread_arg {
	store *s;
	int rows;
	int failures;
	store_conn *conn;
	pthread_barrier_t *all_connected; /* so the connections all exist at once */
};

static void *writer(void *p)
{
	struct thread_arg *a = p;
	tt_error err;

	tt_error_init(&err);
	a->conn = store_conn_get(a->s, &err);
	pthread_barrier_wait(a->all_connected);
	for (int i = 0; i < a->rows; i++) {
		if (store_begin(a->conn, STORE_TX_WRITE, &err) ||
		    store_run(a->conn, &err, "INSERT INTO counter (n) VALUES (?)", "i", (int64_t)i) ||
		    store_commit(a->conn, &err)) {
			store_rollback(a->conn);
			a->failures++;
		}
	}
	return NULL;
}

static void test_threads_own_connections(void **state)
{
	struct fx *f = *state;
	struct thread_arg args[4];
	pthread_barrier_t barrier;
	pthread_t th[4];
	int64_t n = 0;
	tt_error err;

	tt_error_init(&err);
	pthread_barrier_init(&barrier, NULL, 4);
	assert_int_equal(store_exec(f->c, "CREATE TABLE counter (n INTEGER)", &err), 0);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ f->s, 200, 0, NULL, &barrier };
		pthread_create(&th[i], NULL, writer, &args[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(args[i].failures, 0);
		assert_ptr_not_equal(args[i].conn, f->c);
	}
	/* distinct while all were alive (the barrier), so a per-thread connection each */
	for (int i = 0; i < 4; i++)
		for (int k = i + 1; k < 4; k++)
			assert_ptr_not_equal(args[i].conn, args[k].conn);
	store_query_int64(f->c, &err, &n, "SELECT COUNT(*) FROM counter", "");
	assert_int_equal(n, 800);
}

static void test_users_sessions_tokens(void **state)
{
	struct fx *f = *state;
	user_new u = { "alice", "a@example.com", "Alice A", "Europe/Berlin", false, "hash1" };
	session_rec s = { 0 }, got;
	token_rec t, *list;
	user_rec r;
	char pw[128];
	int64_t id, id2, tid, n;
	size_t count;
	tt_error err;

	tt_error_init(&err);
	assert_int_equal(users_create(f->c, &u, &id, &err), 0);
	assert_int_equal(users_create(f->c, &u, &id2, &err), TT_ECONFLICT);
	assert_string_equal(err.field, "username");
	assert_int_equal(users_count(f->c, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(users_get_by_name(f->c, "alice", &r, pw, sizeof(pw), &err), 0);
	assert_int_equal(r.id, id);
	assert_string_equal(pw, "hash1");
	assert_string_equal(r.timezone, "Europe/Berlin");
	assert_false(r.is_admin);
	assert_int_equal(users_get(f->c, 999, &r, &err), TT_ENOTFOUND);

	s.user_id = id;
	snprintf(s.csrf_token, sizeof(s.csrf_token), "csrf");
	s.created_at = s.last_seen_at = 100;
	s.expires_at = 200;
	assert_int_equal(sessions_create(f->c, &s, "th", "ua", "127.0.0.1", &err), 0);
	assert_int_equal(sessions_find(f->c, "th", &got, &err), 0);
	assert_int_equal(got.user_id, id);
	assert_string_equal(got.csrf_token, "csrf");
	/* a new password ends every session */
	assert_int_equal(users_set_password(f->c, id, "hash2", &err), 0);
	assert_int_equal(sessions_find(f->c, "th", &got, &err), TT_ENOTFOUND);

	assert_int_equal(tokens_create(f->c, id, "ci", "tokhash", "tt_abc", &tid, &err), 0);
	assert_int_equal(tokens_find(f->c, "tokhash", &t, &err), 0);
	assert_int_equal(t.user_id, id);
	assert_int_equal(tokens_revoke(f->c, tid, id + 1, &err), TT_ENOTFOUND); /* not theirs */
	assert_int_equal(tokens_revoke(f->c, tid, id, &err), 0);
	assert_int_equal(tokens_find(f->c, "tokhash", &t, &err), TT_ENOTFOUND);
	assert_int_equal(tokens_list(f->c, id, &list, &count, &err), 0);
	assert_int_equal(count, 1);
	assert_true(list[0].revoked_at > 0);
	free(list);
}

struct collect {
	int n;
	int64_t ids[16];
	char tags[16][64];
};

static int collect(void *ctx, const entry_rec *e)
{
	struct collect *c = ctx;

	c->ids[c->n] = e->id;
	snprintf(c->tags[c->n], sizeof(c->tags[0]), "%s", e->tags);
	c->n++;
	return 0;
}

static void test_entries_and_catalog(void **state)
{
	struct fx *f = *state;
	user_new u = { "bob", NULL, NULL, "UTC", false, "h" };
	const char *tags1[] = { "Dev", "ops" };
	const char *want[] = { "dev" };
	int64_t uid, cl, cl2, p, p2, task, tag, e1, e2, count, secs;
	struct collect got = { 0 };
	entry_filter flt;
	entry_input in = { 0 };
	bool created;
	tt_error err;

	tt_error_init(&err);
	assert_int_equal(users_create(f->c, &u, &uid, &err), 0);
	assert_int_equal(catalog_client(f->c, "Acme", 0, &cl, &created, &err), 0);
	assert_true(created);
	assert_int_equal(catalog_client(f->c, "Acme", 0, &cl2, &created, &err), 0);
	assert_false(created);
	assert_int_equal(cl, cl2);
	assert_int_equal(catalog_project(f->c, cl, "Web", 0, &p, &created, &err), 0);
	assert_int_equal(catalog_project(f->c, cl, "Web", 0, &p2, &created, &err), 0);
	assert_int_equal(p, p2);
	assert_int_equal(catalog_task(f->c, p, "Design", 0, &task, &created, &err), 0);
	assert_int_equal(catalog_tag(f->c, "DEV", 0, &tag, &created, &err), 0);
	assert_true(created);

	in.user_id = uid;
	in.project_id = p;
	in.task_id = task;
	in.start_at = 1000;
	in.end_at = 4600;
	in.notes = "first";
	in.billable = true;
	in.tags = tags1;
	in.n_tags = 2;
	in.set_tags = true;
	assert_int_equal(entries_insert(f->c, &in, &e1, &err), 0);
	in.start_at = 90000;
	in.end_at = 91800;
	in.billable = false;
	in.n_tags = 0;
	assert_int_equal(entries_insert(f->c, &in, &e2, &err), 0);

	entry_filter_init(&flt);
	flt.user_id = uid;
	assert_int_equal(entries_count(f->c, &flt, &count, &secs, &err), 0);
	assert_int_equal(count, 2);
	assert_int_equal(secs, 3600 + 1800);
	assert_int_equal(entries_walk(f->c, &flt, -1, 0, collect, &got, &err), 0);
	assert_int_equal(got.n, 2);
	assert_int_equal(got.ids[0], e2); /* newest first */
	/* the tag typed "Dev" reused the existing "DEV" tag */
	assert_non_null(strstr(got.tags[1], "DEV"));
	assert_non_null(strstr(got.tags[1], "ops"));

	flt.tags = want;
	flt.n_tags = 1;
	memset(&got, 0, sizeof(got));
	assert_int_equal(entries_walk(f->c, &flt, -1, 0, collect, &got, &err), 0);
	assert_int_equal(got.n, 1);
	assert_int_equal(got.ids[0], e1);

	entry_filter_init(&flt);
	flt.user_id = uid;
	flt.billable = 0;
	flt.has_from = true;
	flt.from = 5000;
	assert_int_equal(entries_count(f->c, &flt, &count, &secs, &err), 0);
	assert_int_equal(count, 1);
	flt.has_to = true;
	flt.to = 90000; /* exclusive */
	assert_int_equal(entries_count(f->c, &flt, &count, &secs, &err), 0);
	assert_int_equal(count, 0);

	/* update and delete check the owner */
	in.user_id = uid + 100;
	assert_int_equal(entries_update(f->c, e1, &in, &err), TT_ENOTFOUND);
	assert_int_equal(entries_delete(f->c, e1, uid + 100, &err), TT_ENOTFOUND);
	assert_int_equal(entries_delete(f->c, e1, uid, &err), 0);
	assert_int_equal(entries_delete(f->c, e1, uid, &err), TT_ENOTFOUND);

	/* bulk tag links: every chunk size, duplicates ignored */
	{
		static const size_t sizes[] = { 0, 1, 255, 256, 300, 513 };
		int64_t pairs[2 * 600];
		int64_t tag_ids[600], links = 0, e3;
		char name[32];

		for (int i = 0; i < 513; i++) {
			snprintf(name, sizeof(name), "bulk%d", i);
			assert_int_equal(catalog_tag(f->c, name, 0, &tag_ids[i], &created, &err), 0);
		}
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			in.start_at = 200000 + (int64_t)k * 10000;
			in.end_at = in.start_at + 60;
			in.user_id = uid;
			in.n_tags = 0;
			assert_int_equal(entries_insert(f->c, &in, &e3, &err), 0);
			for (size_t i = 0; i < sizes[k]; i++) {
				pairs[2 * i] = e3;
				pairs[2 * i + 1] = tag_ids[i];
			}
			assert_int_equal(entries_add_tag_links(f->c, pairs, sizes[k], &err), 0);
			assert_int_equal(entries_add_tag_links(f->c, pairs, sizes[k], &err), 0);
			store_query_int64(f->c, &err, &links,
					  "SELECT COUNT(*) FROM time_entry_tags WHERE entry_id = ?", "i", e3);
			assert_int_equal(links, (int64_t)sizes[k]);
		}
	}

	/* an entry may start at the epoch itself (0 is a time, not "none") */
	in.user_id = uid;
	in.start_at = 0;
	in.end_at = 60;
	in.n_tags = 0;
	assert_int_equal(entries_insert(f->c, &in, &e1, &err), 0);

	/* the schema refuses an entry that ends before it starts */
	in.user_id = uid;
	in.start_at = 500;
	in.end_at = 400;
	assert_true(entries_insert(f->c, &in, &e1, &err) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test_setup_teardown(test_migrate_up_down_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statements_and_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_own_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users_sessions_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entries_and_catalog, setup, teardown),
	};
	tt_error err;

	config_init(&cfg, &err);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
