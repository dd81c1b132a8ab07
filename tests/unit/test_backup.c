/*
 * test_backup.c - logical backups: the table list against the real schema,
 * a full write / verify / read-back round trip on SQLite, and hostile
 * archives (built here with libarchive) that verify must refuse with a
 * fitting problem and without crashing.
 */
#define _GNU_SOURCE /* memmem */
#include "unit.h"

#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/backup.h"
#include "exports/export.h"
#include "store/backup.h"
#include "store/migrate.h"
#include "store/store.h"

#define MiB              (1024 * 1024)
#define MAX_UNCOMPRESSED ((int64_t)1024 * MiB)

struct fx {
	char dir[64];
	char url[128];
	char backup[128]; /* a good backup of the filled store */
	store *s;
	store_conn *c;
	int schema;
};

/* ---- the store ---- */

static const char *const FILL_SQL =
    "INSERT INTO users (id, username, email, full_name, role, timezone, password_hash,"
    " is_active, created_at, updated_at, last_login_at) VALUES"
    " (1, 'alice', 'alice@example.com', 'Alice Zoë 日本', 'admin', 'Europe/Berlin',"
    "  '$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA', 1, 1700000000, 1700000100, 1700000200),"
    " (2, 'bob', NULL, NULL, 'user', 'UTC', '$argon2id$bob', 0, 1700000001, 1700000001, NULL);"
    "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, last_seen_at)"
    " VALUES ('sess', 1, 'csrf', 1, 2, 1);"
    "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_at, last_used_at,"
    " revoked_at) VALUES (5, 1, 'ci', 'deadbeef', 'tt_ab', 1700000300, NULL, 1700000400),"
    " (6, 2, 'cli', 'cafebabe', 'tt_cd', 1700000301, 1700000302, NULL);"
    "INSERT INTO data_imports (id, user_id, import_type, source_file, status, total_records,"
    " successful_records, failed_records, skipped_records, options, import_summary, started_at,"
    " completed_at, created_at, undone_at, file_name, file_size, bytes_processed, warning_count,"
    " error_message) VALUES (10, 1, 'csv', 'hours.csv', 'completed', 3, 2, 1, 0,"
    " '{\"timezone\":\"UTC\"}', '{\"ok\":2}', 1700001000, 1700001010, 1700000999, NULL,"
    " 'uploads/x.csv', 1234, 1234, 1, NULL);"
    "INSERT INTO import_errors (id, import_id, row_number, line_number, column_name, value, code,"
    " message, severity) VALUES (1, 10, 2, 3, 'date', '31.02.', 'invalid_date',"
    " 'not a date', 'error'), (2, 10, 3, NULL, NULL, NULL, 'dup', 'duplicate', 'warning');"
    "INSERT INTO clients (id, name, description, contact_person, email, phone, address,"
    " default_hourly_rate, status, custom_fields, created_by_import_id, created_at) VALUES"
    " (20, 'Acme', 'roads', 'Wile', 'w@acme.test', '+1 555', 'Desert 1', '95.50', 'active',"
    "  '{\"tier\": \"gold\", \"n\": [1, 2]}', 10, 1700000500),"
    " (21, 'Umbrella', NULL, NULL, NULL, NULL, NULL, NULL, 'archived', NULL, NULL, 1700000501);"
    "INSERT INTO projects (id, client_id, name, billable, status, created_by_import_id,"
    " created_at) VALUES (30, 20, 'Road runner', 1, 'active', 10, 1700000600),"
    " (31, 21, 'Hive', 0, 'inactive', NULL, 1700000601);"
    "INSERT INTO tasks (id, project_id, name, status, created_by_import_id, created_at) VALUES"
    " (40, 30, 'Traps', 'active', NULL, 1700000700);"
    "INSERT INTO tags (id, name, name_key, created_by_import_id, created_at) VALUES"
    " (50, 'Urgent', 'urgent', NULL, 1700000800), (51, 'Büro', 'büro', 10, 1700000801);"
    "INSERT INTO time_entries (id, user_id, project_id, task_id, start_at, end_at,"
    " duration_seconds, notes, billable, source, external_id, import_id, created_at,"
    " updated_at) VALUES"
    " (60, 1, 30, 40, 1700010000, 1700013600, 3600, 'line one\nline \"two\"\t\\', 1, 'manual',"
    "  NULL, NULL, 1700013600, 1700013600),"
    " (61, 1, 31, NULL, 1700020000, 1700020060, 60, '', 0, 'csv', 'row-2', 10, 1700020060,"
    "  1700020061),"
    " (62, 2, NULL, NULL, 1700030000, 1700030001, 1, 'ünïcödé ✓', 1, 'toggl', '77', NULL,"
    "  1700030001, 1700030001);"
    "INSERT INTO time_entry_tags (entry_id, tag_id) VALUES (60, 50), (60, 51), (61, 51);"
    "INSERT INTO data_exports (id, user_id, export_type, export_format, file_name, file_size,"
    " sha256, status, filters, record_count, error_message, created_at, completed_at,"
    " expires_at, progress_done, progress_total, download_name) VALUES"
    " (70, 1, 'filtered', 'csv', 'exports/a.csv', 99, 'abc', 'completed', '{\"from\":null}', 3,"
    "  NULL, 1700040000, 1700040001, 1700640000, 3, 3, 'entries.csv');"
    "INSERT INTO jobs (kind, state, created_at) VALUES ('export_gdpr', 'done', 1);";

static const int64_t FILLED[] = {2, 2, 1, 2, 2, 2, 1, 2, 3, 3, 1};

static int make_backup(struct fx *f, const char *path)
{
	int64_t counts[BACKUP_MAX_TABLES];
	export_sink *sink = NULL;
	tt_error err;
	char sha[65];
	int64_t size;
	int rc;

	tt_error_init(&err);
	if (sink_open(path, &sink, &err))
		return -1;
	if (store_begin(f->c, STORE_TX_READ, &err)) {
		sink_abort(sink);
		return -1;
	}
	rc = backup_write(f->c, sink, f->schema, "sqlite", counts, &err);
	store_rollback(f->c);
	if (rc) {
		sink_abort(sink);
		return rc;
	}
	for (int i = 0; i < backup_table_count(); i++)
		if (counts[i] != FILLED[i])
			return -1;
	return sink_commit(sink, sha, &size, &err);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	tt_error err;
	int n;

	snprintf(f->dir, sizeof(f->dir), "/tmp/tt-backup-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->url, sizeof(f->url), "sqlite:%s/t.db", f->dir);
	snprintf(f->backup, sizeof(f->backup), "%s/good.ttbackup", f->dir);
	tt_error_init(&err);
	if (store_open(f->url, &f->s, &err) || migrate_up(f->s, 0, &n, &err) ||
	    migrate_current(f->s, &f->schema, &err))
		return -1;
	f->c = store_conn_get(f->s, &err);
	if (!f->c || store_exec(f->c, FILL_SQL, &err)) {
		fprintf(stderr, "fill: %s\n", err.msg);
		return -1;
	}
	if (make_backup(f, f->backup))
		return -1;
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

/* ---- archives in memory ---- */

struct member {
	char *name;
	char *data;
	size_t len;
	bool dir;
};

struct zip {
	struct member m[96];
	int n;
};

static void zip_release(struct zip *z)
{
	for (int i = 0; i < z->n; i++) {
		free(z->m[i].name);
		free(z->m[i].data);
	}
	z->n = 0;
}

static void zip_load(struct zip *z, const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	char buf[8192];

	memset(z, 0, sizeof(*z));
	archive_read_support_format_zip(a);
	assert_int_equal(archive_read_open_filename(a, path, 8192), ARCHIVE_OK);
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		struct member *m = &z->m[z->n++];
		la_ssize_t n;

		m->name = strdup(archive_entry_pathname(ae));
		while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
			m->data = realloc(m->data, m->len + (size_t)n + 1);
			memcpy(m->data + m->len, buf, (size_t)n);
			m->len += (size_t)n;
			m->data[m->len] = '\0';
		}
		assert_true(n == 0);
		if (!m->data)
			m->data = calloc(1, 1);
	}
	archive_read_free(a);
}

static struct member *zip_find(struct zip *z, const char *name)
{
	for (int i = 0; i < z->n; i++)
		if (!strcmp(z->m[i].name, name))
			return &z->m[i];
	return NULL;
}

static void zip_remove(struct zip *z, const char *name)
{
	struct member *m = zip_find(z, name);

	assert_non_null(m);
	free(m->name);
	free(m->data);
	memmove(m, m + 1, (size_t)(z->m + z->n - (m + 1)) * sizeof(*m));
	z->n--;
}

static void zip_add(struct zip *z, const char *name, const char *data, bool dir)
{
	struct member *m = &z->m[z->n++];

	m->name = strdup(name);
	m->len = strlen(data);
	m->data = strdup(data);
	m->dir = dir;
}

static void member_set(struct member *m, const char *data)
{
	free(m->data);
	m->data = strdup(data);
	m->len = strlen(data);
}

static void zip_save(const struct zip *z, const char *path)
{
	struct archive *a = archive_write_new();

	archive_write_set_format_zip(a);
	archive_write_zip_set_compression_deflate(a);
	unlink(path);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (int i = 0; i < z->n; i++) {
		struct archive_entry *ae = archive_entry_new();

		archive_entry_set_pathname(ae, z->m[i].name);
		archive_entry_set_filetype(ae, z->m[i].dir ? AE_IFDIR : AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_size(ae, z->m[i].dir ? 0 : (la_int64_t)z->m[i].len);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (!z->m[i].dir && z->m[i].len)
			assert_int_equal(archive_write_data(a, z->m[i].data, z->m[i].len),
			                 (la_ssize_t)z->m[i].len);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* Makes manifest.json agree with the members again (sizes, checksums, rows). */
static void manifest_fix(struct zip *z)
{
	struct member *mm = zip_find(z, "manifest.json");
	json_t *m, *e;
	size_t i;
	char *text;

	assert_non_null(mm);
	m = json_loadb(mm->data, mm->len, 0, NULL);
	assert_non_null(m);
	json_array_foreach(json_object_get(m, "files"), i, e)
	{
		struct member *t = zip_find(z, json_string_value(json_object_get(e, "name")));
		unsigned char d[crypto_hash_sha256_BYTES];
		char hex[65];

		if (!t)
			continue;
		crypto_hash_sha256(d, (const unsigned char *)t->data, t->len);
		sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
		json_object_set_new(e, "size", json_integer((json_int_t)t->len));
		json_object_set_new(e, "sha256", json_string(hex));
	}
	json_array_foreach(json_object_get(m, "tables"), i, e)
	{
		struct member *t = zip_find(z, json_string_value(json_object_get(e, "member")));
		json_int_t rows = 0;

		if (!t)
			continue;
		for (size_t k = 0; k < t->len; k++)
			rows += t->data[k] == '\n';
		json_object_set_new(e, "rows", json_integer(rows));
	}
	text = json_dumps(m, JSON_INDENT(2));
	member_set(mm, text);
	free(text);
	json_decref(m);
}

/* Sets manifest.json's key (top level) to an integer. */
static void manifest_set_int(struct zip *z, const char *key, json_int_t v)
{
	struct member *mm = zip_find(z, "manifest.json");
	json_t *m = json_loadb(mm->data, mm->len, 0, NULL);
	char *text;

	json_object_set_new(m, key, json_integer(v));
	text = json_dumps(m, JSON_INDENT(2));
	member_set(mm, text);
	free(text);
	json_decref(m);
}

/* ---- checking reports ---- */

static bool has_problem(const backup_report *rep, const char *needle)
{
	json_t *p;
	size_t i;

	json_array_foreach(rep->problems, i,
	                   p) if (strstr(json_string_value(p), needle)) return true;
	return false;
}

static void dump_problems(const backup_report *rep)
{
	json_t *p;
	size_t i;

	json_array_foreach(rep->problems, i, p)
	    fprintf(stderr, "  problem: %s\n", json_string_value(p));
}

/* Verifies path and expects it invalid with a problem containing needle. */
static void expect_invalid(const char *path, int max_schema, const char *needle)
{
	backup_report rep;
	tt_error err;

	tt_error_init(&err);
	assert_int_equal(backup_verify(path, max_schema, MAX_UNCOMPRESSED, &rep, &err), 0);
	if (rep.valid || !has_problem(&rep, needle) || getenv("TT_TEST_SHOW")) {
		fprintf(stderr, "%s: wanted a problem with \"%s\"\n", path, needle);
		dump_problems(&rep);
	}
	assert_false(rep.valid);
	assert_true(has_problem(&rep, needle));
	backup_report_release(&rep);
}

static int count_cb(void *ctx, int table, json_t *row)
{
	(void)table;
	(void)row;
	(*(int *)ctx)++;
	return 0;
}

/* A hostile variant of the good backup: load, mutate, save, expect invalid. */
static void hostile(struct fx *f, const char *name, void (*mutate)(struct zip *z),
                    const char *needle, bool rows_refused)
{
	char path[160];
	struct zip z;
	tt_error err;
	int rows = 0;

	snprintf(path, sizeof(path), "%s/%s.ttbackup", f->dir, name);
	zip_load(&z, f->backup);
	mutate(&z);
	zip_save(&z, path);
	zip_release(&z);
	expect_invalid(path, f->schema, needle);
	/* Restore's reader refuses it too (it leaves version checks to verify). */
	tt_error_init(&err);
	if (rows_refused)
		assert_true(backup_read_rows(path, count_cb, &rows, &err) < 0);
}

/* ---- the table list ---- */

static void test_tables_match_schema(void **state)
{
	struct fx *f = *state;
	static const char *const left_out[] = {"sessions", "jobs", "schema_migrations"};
	int64_t n_tables = 0;
	tt_error err;

	tt_error_init(&err);
	assert_true(backup_table_count() <= BACKUP_MAX_TABLES);
	for (int i = 0; BACKUP_TABLES[i].name; i++) {
		const struct backup_table *t = &BACKUP_TABLES[i];
		char sql[160];
		store_stmt *st;
		int c = 0;

		/* Names come from our own constant list (PRAGMA takes no parameter). */
		snprintf(sql, sizeof(sql), "SELECT name, type FROM pragma_table_info('%s')",
		         t->name);
		st = store_query(f->c, &err, sql, "");
		assert_non_null(st);
		while (store_step(st, &err) == STORE_ROW) {
			assert_non_null(t->columns[c]);
			assert_string_equal(store_col_text(st, 0), t->columns[c]);
			c++;
		}
		store_stmt_done(st);
		assert_null(t->columns[c]);
		/* Every reference points to an earlier table and a real column. */
		for (int k = 0; t->refs && t->refs[k]; k += 2) {
			bool col = false, earlier = false;

			for (int j = 0; t->columns[j]; j++)
				col |= !strcmp(t->columns[j], t->refs[k]);
			for (int j = 0; j < i; j++)
				earlier |= !strcmp(BACKUP_TABLES[j].name, t->refs[k + 1]);
			assert_true(col);
			assert_true(earlier);
		}
	}
	/* Every table of the schema is in the backup, except the three left out. */
	assert_int_equal(
	    store_query_int64(f->c, &err, &n_tables,
	                      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'", ""),
	    STORE_ROW);
	assert_int_equal(n_tables, backup_table_count() + 3);
	for (size_t i = 0; i < sizeof(left_out) / sizeof(left_out[0]); i++)
		for (int j = 0; BACKUP_TABLES[j].name; j++)
			assert_string_not_equal(BACKUP_TABLES[j].name, left_out[i]);
}

/* The types the backup writes match the declared column types. */
static int types_cb(void *ctx, json_t *row)
{
	(void)ctx;
	assert_true(json_is_integer(json_object_get(row, "created_at")) ||
	            json_object_get(row, "created_at") == NULL);
	return 0;
}

static void test_walk_refuses_bad_names(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {"id; DROP TABLE users", NULL};
	static const char *const good[] = {"id", "created_at", NULL};
	tt_error err;

	tt_error_init(&err);
	assert_int_equal(store_backup_walk(f->c, "users", bad, "i", types_cb, NULL, &err),
	                 TT_EINTERNAL);
	assert_int_equal(store_backup_walk(f->c, "users x", good, "ii", types_cb, NULL, &err),
	                 TT_EINTERNAL);
	assert_int_equal(store_backup_walk(f->c, "users", good, "i", types_cb, NULL, &err),
	                 TT_EINTERNAL);
	assert_int_equal(store_backup_walk(f->c, "users", good, "ii", types_cb, NULL, &err), 0);
}

/* ---- the round trip ---- */

struct collect {
	json_t *tables[BACKUP_MAX_TABLES];
	int last;
	bool order_ok;
};

static int collect_row_cb(void *ctx, json_t *row)
{
	json_array_append(ctx, row);
	return 0;
}

static int collect_cb(void *ctx, int table, json_t *row)
{
	struct collect *c = ctx;

	if (table < c->last)
		c->order_ok = false;
	c->last = table;
	json_array_append(c->tables[table], row);
	return 0;
}

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	struct collect got = {.order_ok = true};
	backup_report rep;
	tt_error err;
	json_t *users, *clients, *entries, *v;
	char *sql_users;

	tt_error_init(&err);
	assert_int_equal(backup_verify(f->backup, f->schema, MAX_UNCOMPRESSED, &rep, &err), 0);
	dump_problems(&rep);
	assert_true(rep.valid);
	assert_int_equal(json_array_size(rep.problems), 0);
	assert_int_equal(rep.format_version, BACKUP_FORMAT_VERSION);
	assert_int_equal(rep.schema_version, f->schema);
	assert_string_equal(rep.engine, "sqlite");
	assert_string_equal(rep.app_version, "0.1.0");
	assert_int_equal(strlen(rep.created_at), 20);
	for (int i = 0; i < backup_table_count(); i++)
		assert_int_equal(rep.counts[i], FILLED[i]);
	backup_report_release(&rep);

	for (int i = 0; i < backup_table_count(); i++)
		got.tables[i] = json_array();
	assert_int_equal(backup_read_rows(f->backup, collect_cb, &got, &err), 0);
	assert_true(got.order_ok);

	/* Every row comes back equal to the database's row. */
	for (int i = 0; BACKUP_TABLES[i].name; i++) {
		json_t *want = json_array();
		char types[32] = {0};
		const char *tv = NULL;

		/* The types as the schema declares them (not from the backup's list). */
		for (int c = 0; BACKUP_TABLES[i].columns[c]; c++) {
			char sql[200];
			store_stmt *st;

			snprintf(sql, sizeof(sql),
			         "SELECT type FROM pragma_table_info('%s') WHERE name = '%s'",
			         BACKUP_TABLES[i].name, BACKUP_TABLES[i].columns[c]);
			st = store_query(f->c, &err, sql, "");
			assert_int_equal(store_step(st, &err), STORE_ROW);
			tv = store_col_text(st, 0);
			types[c] = !strcmp(tv, "INTEGER") ? 'i' : 't';
			store_stmt_done(st);
		}
		assert_int_equal(store_backup_walk(f->c, BACKUP_TABLES[i].name,
		                                   BACKUP_TABLES[i].columns, types, collect_row_cb,
		                                   want, &err),
		                 0);
		assert_int_equal(json_array_size(want), FILLED[i]);
		assert_true(json_equal(want, got.tables[i]));
		json_decref(want);
	}

	/* Spot checks: values, NULLs, secrets, JSON text kept as the same string. */
	users = got.tables[0];
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(users, 0), "full_name")),
	    "Alice Zoë 日本");
	assert_true(json_is_null(json_object_get(json_array_get(users, 1), "email")));
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(users, 1), "password_hash")),
	    "$argon2id$bob");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(users, 1), "is_active")),
	                 0);
	clients = got.tables[4];
	v = json_object_get(json_array_get(clients, 0), "custom_fields");
	assert_string_equal(json_string_value(v), "{\"tier\": \"gold\", \"n\": [1, 2]}");
	entries = got.tables[8];
	assert_string_equal(json_string_value(json_object_get(json_array_get(entries, 0), "notes")),
	                    "line one\nline \"two\"\t\\");
	assert_true(json_is_null(json_object_get(json_array_get(entries, 2), "project_id")));
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(got.tables[9], 2), "entry_id")), 61);
	sql_users = json_dumps(json_array_get(users, 0), JSON_COMPACT);
	assert_non_null(strstr(sql_users, "\"id\":1,\"username\":\"alice\""));
	free(sql_users);
	for (int i = 0; i < backup_table_count(); i++)
		json_decref(got.tables[i]);
}

/* The archive holds exactly the table members in order, then manifest.json. */
static void test_archive_layout(void **state)
{
	struct fx *f = *state;
	struct zip z;
	json_t *m;

	zip_load(&z, f->backup);
	assert_int_equal(z.n, backup_table_count() + 1);
	assert_string_equal(z.m[0].name, "tables/01_users.jsonl");
	assert_string_equal(z.m[9].name, "tables/10_time_entry_tags.jsonl");
	assert_string_equal(z.m[z.n - 1].name, "manifest.json");
	m = json_loadb(z.m[z.n - 1].data, z.m[z.n - 1].len, 0, NULL);
	assert_non_null(m);
	assert_int_equal(json_array_size(json_object_get(m, "files")), backup_table_count());
	assert_int_equal(json_array_size(json_object_get(m, "tables")), backup_table_count());
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(m, "tables"), 8), "name")),
	                    "time_entries");
	json_decref(m);
	/* No session or job leaks into the backup. */
	for (int i = 0; i < z.n; i++) {
		assert_null(memmem(z.m[i].data, z.m[i].len, "csrf", 4));
		assert_null(memmem(z.m[i].data, z.m[i].len, "export_gdpr", 11));
	}
	zip_release(&z);
}

static int stop_cb(void *ctx, int table, json_t *row)
{
	(void)table;
	(void)row;
	return ++(*(int *)ctx) == 3 ? 42 : 0;
}

static void test_read_rows_stops(void **state)
{
	struct fx *f = *state;
	tt_error err;
	int n = 0;

	tt_error_init(&err);
	assert_int_equal(backup_read_rows(f->backup, stop_cb, &n, &err), 42);
	assert_int_equal(n, 3);
}

/* Text a backup could not hold stops the backup with a sentence naming the row. */
static void test_write_refuses_bad_text(void **state)
{
	struct fx *f = *state;
	static const char *const updates[] = {
	    "UPDATE users SET full_name = CAST(X'C328' AS TEXT) WHERE id = 2",
	    "UPDATE users SET full_name = CAST(X'610062' AS TEXT) WHERE id = 2",
	};
	int64_t counts[BACKUP_MAX_TABLES];
	char path[160];

	for (size_t i = 0; i < sizeof(updates) / sizeof(updates[0]); i++) {
		export_sink *sink = NULL;
		tt_error err;

		tt_error_init(&err);
		snprintf(path, sizeof(path), "%s/bad%zu.ttbackup", f->dir, i);
		assert_int_equal(store_exec(f->c, updates[i], &err), 0);
		assert_int_equal(sink_open(path, &sink, &err), 0);
		assert_int_equal(store_begin(f->c, STORE_TX_READ, &err), 0);
		assert_int_equal(backup_write(f->c, sink, f->schema, "sqlite", counts, &err),
		                 TT_EINVAL);
		store_rollback(f->c);
		sink_abort(sink);
		assert_non_null(strstr(err.msg, "users id 2: column full_name"));
		assert_int_equal(access(path, F_OK), -1);
	}
}

/* ---- hostile archives ---- */

static void m_wrong_sha(struct zip *z)
{
	struct member *mm = zip_find(z, "manifest.json");
	char *p = strstr(mm->data, "\"sha256\": \"");

	assert_non_null(p);
	p += strlen("\"sha256\": \"");
	*p = *p == '0' ? '1' : '0';
}

static void m_edited_count(struct zip *z)
{
	struct member *mm = zip_find(z, "manifest.json");
	json_t *m = json_loadb(mm->data, mm->len, 0, NULL);
	json_t *t = json_array_get(json_object_get(m, "tables"), 8);
	char *text;

	json_object_set_new(t, "rows", json_integer(4));
	text = json_dumps(m, JSON_INDENT(2));
	member_set(mm, text);
	free(text);
	json_decref(m);
}

static void m_missing_member(struct zip *z)
{
	zip_remove(z, "tables/05_clients.jsonl");
}

static void m_extra_member(struct zip *z)
{
	zip_add(z, "../evil", "x\n", false);
}

static void m_extra_absolute(struct zip *z)
{
	zip_add(z, "/etc/cron.d/evil", "x\n", false);
}

static void m_directory(struct zip *z)
{
	zip_add(z, "tables/", "", true);
}

static void m_many_members(struct zip *z)
{
	char name[32];

	for (int i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "junk%02d", i);
		zip_add(z, name, "", false);
	}
}

/* A 9 MiB line of letters that do not compress much (no zip-bomb ratio). */
static void m_long_line(struct zip *z)
{
	size_t n = 9 * MiB;
	char *text = malloc(n + 16);
	uint32_t x = 12345;

	memcpy(text, "{\"id\":\"", 7);
	for (size_t i = 7; i < n; i++) {
		x = x * 1103515245u + 12345u;
		text[i] = (char)('a' + (x >> 16) % 26);
	}
	memcpy(text + n, "\"}\n", 4);
	member_set(zip_find(z, "tables/08_tags.jsonl"), text);
	free(text);
	manifest_fix(z);
}

static void m_missing_manifest(struct zip *z)
{
	zip_remove(z, "manifest.json");
}

static void m_not_json(struct zip *z)
{
	struct member *m = zip_find(z, "tables/02_api_tokens.jsonl");
	char *text = malloc(m->len + 64);

	snprintf(text, m->len + 64, "%.*snot json at all\n", (int)m->len, m->data);
	member_set(m, text);
	free(text);
	manifest_fix(z);
}

static void m_extra_column(struct zip *z)
{
	struct member *m = zip_find(z, "tables/01_users.jsonl");
	char *text = malloc(m->len + 64);

	/* {"id":1,... -> {"is_root":true,"id":1,... */
	snprintf(text, m->len + 64, "{\"is_root\":true,%.*s", (int)m->len - 1, m->data + 1);
	member_set(m, text);
	free(text);
	manifest_fix(z);
}

static void m_wrong_type(struct zip *z)
{
	member_set(zip_find(z, "tables/06_projects.jsonl"),
	           "{\"id\":30,\"client_id\":20,\"name\":\"x\",\"billable\":\"yes\","
	           "\"status\":\"active\",\"created_by_import_id\":null,\"created_at\":1}\n"
	           "{\"id\":31,\"client_id\":21,\"name\":\"y\",\"billable\":0,"
	           "\"status\":\"active\",\"created_by_import_id\":null,\"created_at\":1}\n");
	manifest_fix(z);
}

static void m_broken_ref(struct zip *z)
{
	struct member *m = zip_find(z, "tables/09_time_entries.jsonl");
	char *p = strstr(m->data, "\"user_id\":2,");

	assert_non_null(p);
	memcpy(p, "\"user_id\":9,", 12);
	manifest_fix(z);
}

static void m_duplicate_id(struct zip *z)
{
	struct member *m = zip_find(z, "tables/08_tags.jsonl");
	char *p = strstr(m->data, "\"id\":51,");

	assert_non_null(p);
	memcpy(p, "\"id\":50,", 8);
	manifest_fix(z);
}

static void m_duplicate_key(struct zip *z)
{
	member_set(zip_find(z, "tables/07_tasks.jsonl"),
	           "{\"id\":40,\"id\":41,\"project_id\":30,\"name\":\"T\",\"status\":\"active\","
	           "\"created_by_import_id\":null,\"created_at\":1}\n");
	manifest_fix(z);
}

static void m_no_final_newline(struct zip *z)
{
	struct member *m = zip_find(z, "tables/11_data_exports.jsonl");

	m->len--; /* drop the last "\n" */
	m->data[m->len] = '\0';
	manifest_fix(z);
}

static void m_schema_newer(struct zip *z)
{
	manifest_set_int(z, "schema_version", 99);
}

static void m_format_99(struct zip *z)
{
	manifest_set_int(z, "format_version", 99);
}

static void m_out_of_order(struct zip *z)
{
	struct member tmp = z->m[0];

	z->m[0] = z->m[1];
	z->m[1] = tmp;
}

static void m_manifest_garbage(struct zip *z)
{
	member_set(zip_find(z, "manifest.json"), "[1, 2");
}

static void m_many_bad_lines(struct zip *z)
{
	size_t cap = 300 * 8 + 1, n = 0;
	char *text = malloc(cap);

	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(text + n, cap - n, "[%d]\n", i % 10);
	member_set(zip_find(z, "tables/08_tags.jsonl"), text);
	free(text);
	manifest_fix(z);
}

static void test_hostile_manifest(void **state)
{
	struct fx *f = *state;

	hostile(f, "sha", m_wrong_sha, "SHA-256 of tables/01_users.jsonl does not match", true);
	hostile(f, "count", m_edited_count, "says time_entries has 4 rows", true);
	hostile(f, "schema", m_schema_newer, "schema version 99 is newer", false);
	hostile(f, "format", m_format_99, "format_version 99 is not supported", true);
	hostile(f, "nomanifest", m_missing_manifest, "no manifest.json", true);
	hostile(f, "garbage", m_manifest_garbage, "manifest.json is not a JSON object", true);
}

static void test_hostile_members(void **state)
{
	struct fx *f = *state;

	hostile(f, "missing", m_missing_member, "has no member tables/05_clients.jsonl", true);
	hostile(f, "extra", m_extra_member, "unexpected member \"../evil\"", true);
	hostile(f, "absolute", m_extra_absolute, "unexpected member \"/etc/cron.d/evil\"", true);
	hostile(f, "dir", m_directory, "not a regular file", true);
	hostile(f, "order", m_out_of_order, "must be in dependency order", true);
	hostile(f, "members", m_many_members, "more than 64 members", true);
}

static void test_hostile_rows(void **state)
{
	struct fx *f = *state;
	backup_report rep;
	char path[160];
	tt_error err;

	hostile(f, "notjson", m_not_json, "tables/02_api_tokens.jsonl line 3 is not valid JSON",
	        true);
	hostile(f, "extracol", m_extra_column,
	        "tables/01_users.jsonl line 1 has an unknown column \"is_root\"", true);
	hostile(f, "type", m_wrong_type,
	        "tables/06_projects.jsonl line 1: column \"billable\" must be an integer", true);
	hostile(f, "ref", m_broken_ref,
	        "tables/09_time_entries.jsonl line 3: user_id 9 is not a row of users", true);
	hostile(f, "dupid", m_duplicate_id, "tables/08_tags.jsonl holds id 50 more than once",
	        true);
	hostile(f, "dupkey", m_duplicate_key, "tables/07_tasks.jsonl line 1 is not valid JSON",
	        true);
	hostile(f, "newline", m_no_final_newline, "does not end with a newline", true);
	hostile(f, "many", m_many_bad_lines, "... and ", true);
	hostile(f, "longline", m_long_line, "tables/08_tags.jsonl line 1 is longer than 8 MiB",
	        true);

	/* The problem list is capped. */
	snprintf(path, sizeof(path), "%s/many.ttbackup", f->dir);
	tt_error_init(&err);
	assert_int_equal(backup_verify(path, f->schema, MAX_UNCOMPRESSED, &rep, &err), 0);
	assert_int_equal(json_array_size(rep.problems), 101);
	backup_report_release(&rep);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	fclose(fp);
}

static char *read_file(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	char *p;
	long len;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	p = malloc((size_t)len);
	assert_int_equal(fread(p, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	*n = (size_t)len;
	return p;
}

static void test_hostile_files(void **state)
{
	struct fx *f = *state;
	char path[160];
	size_t n, data;
	char *bytes = read_file(f->backup, &n);
	backup_report rep;
	tt_error err;

	tt_error_init(&err);
	snprintf(path, sizeof(path), "%s/notzip.ttbackup", f->dir);
	write_file(path, "this is not a zip archive at all\n", 33);
	expect_invalid(path, f->schema, "not a complete ZIP archive");

	snprintf(path, sizeof(path), "%s/empty.ttbackup", f->dir);
	write_file(path, "", 0);
	expect_invalid(path, f->schema, "empty");

	/* Truncated at many points: always invalid, never a crash. */
	snprintf(path, sizeof(path), "%s/trunc.ttbackup", f->dir);
	for (size_t cut = 1; cut < n; cut += cut < 64 ? 7 : 97) {
		write_file(path, bytes, cut);
		assert_int_equal(backup_verify(path, f->schema, MAX_UNCOMPRESSED, &rep, &err), 0);
		assert_false(rep.valid);
		assert_true(json_array_size(rep.problems) > 0);
		backup_report_release(&rep);
	}
	write_file(path, bytes, n / 2);
	expect_invalid(path, f->schema, "not a complete ZIP archive");

	/* A flipped byte inside the first member's deflated data. */
	data = 30 + (size_t)((unsigned char)bytes[26] | (unsigned char)bytes[27] << 8) +
	       (size_t)((unsigned char)bytes[28] | (unsigned char)bytes[29] << 8);
	assert_true(data + 20 < n);
	for (size_t k = 0; k < 16; k++) {
		bytes[data + k] ^= 0x20;
		snprintf(path, sizeof(path), "%s/flip.ttbackup", f->dir);
		write_file(path, bytes, n);
		assert_int_equal(backup_verify(path, f->schema, MAX_UNCOMPRESSED, &rep, &err), 0);
		if (rep.valid)
			fprintf(stderr, "flip at %zu went unnoticed\n", data + k);
		assert_false(rep.valid);
		backup_report_release(&rep);
		bytes[data + k] ^= 0x20;
	}
	free(bytes);

	/* A missing file is the caller's error, not a verdict. */
	snprintf(path, sizeof(path), "%s/nope.ttbackup", f->dir);
	assert_int_equal(backup_verify(path, f->schema, MAX_UNCOMPRESSED, &rep, &err),
	                 TT_ENOTFOUND);
	backup_report_release(&rep);
}

/* 200 MB of zeros streamed into one member: a few hundred KB compressed. */
static void test_zip_bomb(void **state)
{
	struct fx *f = *state;
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	char path[160];
	char *zeros = calloc(1, MiB);
	backup_report rep;
	tt_error err;

	snprintf(path, sizeof(path), "%s/bomb.ttbackup", f->dir);
	archive_write_set_format_zip(a);
	archive_write_zip_set_compression_deflate(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	archive_entry_set_pathname(ae, "tables/01_users.jsonl");
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_unset_size(ae);
	assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
	for (int i = 0; i < 200; i++)
		assert_int_equal(archive_write_data(a, zeros, MiB), MiB);
	archive_entry_free(ae);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	free(zeros);

	expect_invalid(path, f->schema, "looks like a zip bomb");

	/* With a small limit, the size cap speaks first. */
	tt_error_init(&err);
	assert_int_equal(backup_verify(path, f->schema, 512 * 1024, &rep, &err), 0);
	assert_false(rep.valid);
	assert_true(has_problem(&rep, "more than allowed"));
	backup_report_release(&rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tables_match_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_walk_refuses_bad_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_archive_layout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_rows_stops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_refuses_bad_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_manifest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_members, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zip_bomb, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
