/*
 * test_export_gdpr.c - the GDPR export (exports/gdpr.c, store/gdpr.c): the
 * JSON document's shape, that it holds only the requesting user's data and
 * never a secret, that tasks created by imports and import row errors are
 * there; the ZIP's members, their checksums in the manifest, the README.
 */
#include "unit.h"

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exports/export.h"
#include "store/entries.h"
#include "store/imports.h"
#include "store/migrate.h"
#include "store/store.h"
#include "store/users.h"
#include "util/crypto.h"

/* Secret values planted in the database: none may reach an export. */
#define PW_HASH      "$argon2id$v=19$m=65536,t=2,p=1$SECRETPWHASHSECRET"
#define TOKEN_HASH   "feedfacefeedfacefeedfacefeedfacetokenhashsecret"
#define SESSION_HASH "c0ffeec0ffeec0ffeec0ffeesessionhashsecret"
#define CSRF         "csrfSECRETcsrfSECRET"
#define SERVER_PATH  "/var/lib/timetracker/exports/secret-server-path.zip"
#define UPLOAD_PATH  "uploads/secret-upload-name.csv"

struct fx {
	char dir[64];
	char url[128];
	store *s;
	store_conn *c;
	int64_t alice, bob;
	int64_t import_id;
	int64_t imported_task;
	int64_t alice_entries;
};

static int64_t add_entry(store_conn *c, int64_t user, int64_t project, int64_t task, int64_t start,
                         const char *notes, const char *const *tags, size_t n_tags,
                         int64_t import_id)
{
	entry_input in = {0};
	tt_error err;
	int64_t id = 0;

	tt_error_init(&err);
	in.user_id = user;
	in.project_id = project;
	in.task_id = task;
	in.start_at = start;
	in.end_at = start + 5400;
	in.notes = notes;
	in.billable = true;
	in.source = import_id ? "csv" : "manual";
	in.import_id = import_id;
	in.tags = tags;
	in.n_tags = n_tags;
	in.set_tags = true;
	if (entries_insert(c, &in, &id, &err) != 0)
		return 0;
	return id;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	user_new ua = {"alice", "alice@example.org", "Alice A.", "Europe/Berlin", false, PW_HASH};
	user_new ub = {"bob", "bob@example.org", "Bob B.", "UTC", false, PW_HASH};
	const char *atags[] = {"Alpha", "beta"};
	const char *btags[] = {"bobs-own-tag"};
	session_rec sr = {0};
	int64_t cl, cl_b, p, p_b, t_b, tok, e;
	bool created;
	tt_error err;
	int n;

	if (!f || crypto_init() != 0)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/tt-gdpr-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->url, sizeof(f->url), "sqlite:%s/t.db", f->dir);
	tt_error_init(&err);
	if (store_open(f->url, &f->s, &err) || migrate_up(f->s, 0, &n, &err))
		return -1;
	f->c = store_conn_get(f->s, &err);
	if (!f->c)
		return -1;
	if (users_create(f->c, &ua, &f->alice, &err) || users_create(f->c, &ub, &f->bob, &err))
		return -1;

	/* Alice: her own project and a task her import created. */
	if (catalog_client(f->c, "Acme", 0, &cl, &created, &err) ||
	    catalog_project(f->c, cl, "Website", 0, &p, &created, &err))
		return -1;
	if (imports_create(f->c, f->alice, "csv", "hours.csv", UPLOAD_PATH, 120,
	                   "{\"timezone\":\"UTC\",\"duplicates\":\"skip\"}", &f->import_id, &err) ||
	    catalog_task(f->c, p, "Imported task", f->import_id, &f->imported_task, &created, &err))
		return -1;
	if (!add_entry(f->c, f->alice, p, 0, 1700000000, "=cmd|' /C calc'!A0", atags, 2, 0) ||
	    !add_entry(f->c, f->alice, p, 0, 1700100000, "plain, \"quoted\"\nnote", NULL, 0, 0) ||
	    !add_entry(f->c, f->alice, p, f->imported_task, 1700200000, "from the import", atags, 1,
	               f->import_id))
		return -1;
	f->alice_entries = 3;
	if (imports_add_error(f->c, f->import_id, "error", 4, 5, "start_time", "31/02/2024",
	                      "invalid_date", "start_time: no such day", &err) ||
	    imports_add_error(f->c, f->import_id, "warning", 7, 9, "tags", "x", "unknown_column",
	                      "column ignored", &err) ||
	    imports_finish(f->c, f->import_id, "partial",
	                   "{\"total\":3,\"successful\":1,\"failed\":1,\"skipped\":1}", NULL, &err))
		return -1;

	/* Bob: his own client, project, task and tag that Alice never uses. */
	if (catalog_client(f->c, "Bobcorp", 0, &cl_b, &created, &err) ||
	    catalog_project(f->c, cl_b, "Bob project", 0, &p_b, &created, &err) ||
	    catalog_task(f->c, p_b, "Bob task", 0, &t_b, &created, &err))
		return -1;
	e = add_entry(f->c, f->bob, p_b, t_b, 1700000000, "bob's private note", btags, 1, 0);
	if (!e)
		return -1;

	/* Alice's token, session and an earlier export. */
	if (tokens_create(f->c, f->alice, "laptop", TOKEN_HASH, "tt_abcd", &tok, &err))
		return -1;
	sr.user_id = f->alice;
	snprintf(sr.csrf_token, sizeof(sr.csrf_token), "%s", CSRF);
	sr.created_at = sr.last_seen_at = 1700000000;
	sr.expires_at = 1700086400;
	if (sessions_create(f->c, &sr, SESSION_HASH, "Mozilla/5.0 test", "192.0.2.7", &err))
		return -1;
	if (store_run(f->c, &err,
	              "INSERT INTO data_exports (user_id, export_type, export_format, file_name,"
	              " file_size, sha256, status, filters, record_count, created_at, completed_at,"
	              " expires_at) VALUES (?, 'filtered', 'csv', ?, 42, 'abc', 'completed',"
	              " '{\"billable\":true}', 3, 1700000000, 1700000005, 1700604800)",
	              "is", f->alice, SERVER_PATH) < 0)
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

/* Runs the export of user into dir/name inside a read transaction. */
static int run_export(struct fx *f, int64_t user, bool zip, const char *name, char *path,
                      size_t path_size, int64_t *records)
{
	export_sink *sink = NULL;
	char sha[65];
	int64_t size = 0;
	tt_error err;
	int rc;

	tt_error_init(&err);
	snprintf(path, path_size, "%s/%s", f->dir, name);
	if (sink_open(path, &sink, &err))
		return -1;
	if (store_begin(f->c, STORE_TX_READ, &err)) {
		sink_abort(sink);
		return -1;
	}
	rc = export_gdpr_write(f->c, user, zip, sink, records, &err);
	store_rollback(f->c);
	if (rc) {
		sink_abort(sink);
		return rc;
	}
	return sink_commit(sink, sha, &size, &err);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		fclose(fp);
		return NULL;
	}
	buf[n] = '\0';
	fclose(fp);
	if (len)
		*len = (size_t)n;
	return buf;
}

static const char *const TOP_KEYS[] = {
    "export_info", "user_profile", "time_entries", "projects", "clients", "tasks",
    "tags",        "api_tokens",   "sessions",     "imports",  "exports",
};
#define N_TOP_KEYS (sizeof(TOP_KEYS) / sizeof(TOP_KEYS[0]))

static void assert_no_secrets(const char *text)
{
	static const char *const banned[] = {
	    "password_hash",      "token_hash",        "csrf_token",         "SECRETPWHASH",
	    "tokenhashsecret",    "sessionhashsecret", "csrfSECRET",         "secret-server-path",
	    "secret-upload-name", "file_name",         "bob's private note", "Bobcorp",
	    "Bob project",        "Bob task",          "bobs-own-tag",
	};

	for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
		if (strstr(text, banned[i]))
			fail_msg("the export contains \"%s\"", banned[i]);
}

static json_t *find_by(json_t *arr, const char *key, const char *value)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		const char *s = json_string_value(json_object_get(v, key));

		if (s && !strcmp(s, value))
			return v;
	}
	return NULL;
}

/* The checks both formats' export.json must pass. */
static void check_document(struct fx *f, const char *text)
{
	json_error_t jerr;
	json_t *doc = json_loads(text, 0, &jerr), *v, *info, *imp, *errors, *profile;
	const char *key;
	size_t i, k = 0;

	if (!doc)
		fail_msg("invalid JSON: %s (line %d)", jerr.text, jerr.line);
	assert_no_secrets(text);
	/* exactly the top-level keys, export_info first, in the documented order */
	assert_int_equal(json_object_size(doc), N_TOP_KEYS);
	assert_int_equal(strncmp(text, "{\"export_info\":", 15), 0);
	json_object_foreach(doc, key, v)
	{
		assert_string_equal(key, TOP_KEYS[k]);
		k++;
	}

	info = json_object_get(doc, "export_info");
	assert_int_equal(json_integer_value(json_object_get(info, "user_id")), f->alice);
	assert_string_equal(json_string_value(json_object_get(info, "username")), "alice");
	assert_string_equal(json_string_value(json_object_get(info, "export_type")),
	                    "GDPR Full Data Export");
	assert_string_equal(json_string_value(json_object_get(info, "format_version")), "1.0");
	assert_int_equal(strlen(json_string_value(json_object_get(info, "export_date"))), 20);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(info, "record_counts"),
	                                                    "time_entries")),
	                 f->alice_entries);

	profile = json_object_get(doc, "user_profile");
	assert_string_equal(json_string_value(json_object_get(profile, "email")),
	                    "alice@example.org");
	assert_string_equal(json_string_value(json_object_get(profile, "timezone")),
	                    "Europe/Berlin");
	assert_true(json_is_false(json_object_get(profile, "is_admin")));
	assert_null(json_object_get(profile, "password_hash"));

	/* only her entries, oldest first, with names and tags */
	v = json_object_get(doc, "time_entries");
	assert_int_equal(json_array_size(v), f->alice_entries);
	for (i = 0; i < json_array_size(v); i++) {
		json_t *e = json_array_get(v, i);

		assert_int_equal(json_integer_value(json_object_get(e, "user_id")), f->alice);
		assert_string_equal(json_string_value(json_object_get(e, "project")), "Website");
		assert_string_equal(json_string_value(json_object_get(e, "client")), "Acme");
	}
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "start_time")),
	                    "2023-11-14T22:13:20Z");
	assert_int_equal(json_array_size(json_object_get(json_array_get(v, 0), "tags")), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 2), "task")),
	                    "Imported task");

	/* the catalogue her entries use, the import-created task included */
	assert_int_equal(json_array_size(json_object_get(doc, "projects")), 1);
	assert_int_equal(json_array_size(json_object_get(doc, "clients")), 1);
	v = find_by(json_object_get(doc, "tasks"), "name", "Imported task");
	assert_non_null(v);
	assert_int_equal(json_integer_value(json_object_get(v, "created_by_import_id")),
	                 f->import_id);
	assert_int_equal(json_array_size(json_object_get(doc, "tasks")), 1);
	assert_non_null(find_by(json_object_get(doc, "tags"), "name", "Alpha"));
	assert_non_null(find_by(json_object_get(doc, "tags"), "name", "beta"));
	assert_int_equal(json_array_size(json_object_get(doc, "tags")), 2);

	/* metadata of tokens and sessions */
	v = json_array_get(json_object_get(doc, "api_tokens"), 0);
	assert_string_equal(json_string_value(json_object_get(v, "prefix")), "tt_abcd");
	assert_true(json_is_null(json_object_get(v, "revoked_at")));
	v = json_array_get(json_object_get(doc, "sessions"), 0);
	assert_string_equal(json_string_value(json_object_get(v, "ip_address")), "192.0.2.7");
	assert_string_equal(json_string_value(json_object_get(v, "expires_at")),
	                    "2023-11-15T22:13:20Z");

	/* the import with parsed options/summary and every row diagnostic */
	assert_int_equal(json_array_size(json_object_get(doc, "imports")), 1);
	imp = json_array_get(json_object_get(doc, "imports"), 0);
	assert_string_equal(json_string_value(json_object_get(imp, "status")), "partial");
	assert_string_equal(json_string_value(json_object_get(imp, "source_file")), "hours.csv");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(imp, "options"), "timezone")), "UTC");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(imp, "summary"), "failed")), 1);
	errors = json_object_get(imp, "errors");
	assert_int_equal(json_array_size(errors), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(errors, 0), "row")), 4);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(errors, 0), "line")), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "code")),
	                    "invalid_date");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(errors, 1), "severity")), "warning");

	/* export history without the server path */
	v = json_array_get(json_object_get(doc, "exports"), 0);
	assert_non_null(v);
	assert_int_equal(json_integer_value(json_object_get(v, "file_size")), 42);
	assert_true(json_is_true(json_object_get(json_object_get(v, "filters"), "billable")));
	assert_null(json_object_get(v, "file_name"));
	json_decref(doc);
}

static void test_json(void **state)
{
	struct fx *f = *state;
	char path[256];
	int64_t records = -1;
	char *text;

	assert_int_equal(run_export(f, f->alice, false, "gdpr.json", path, sizeof(path), &records),
	                 0);
	assert_int_equal(records, f->alice_entries);
	text = read_all(path, NULL);
	assert_non_null(text);
	check_document(f, text);
	free(text);
}

static void test_unknown_user(void **state)
{
	struct fx *f = *state;
	char path[256];
	int64_t records = -1;

	assert_int_equal(run_export(f, 9999, false, "nobody.json", path, sizeof(path), &records),
	                 TT_ENOTFOUND);
	assert_int_equal(records, 0);
	/* the sink was aborted: nothing under either name */
	assert_int_not_equal(access(path, F_OK), 0);
}

/* A user with nothing but a profile still gets a complete, valid document. */
static void test_empty_user(void **state)
{
	struct fx *f = *state;
	user_new uc = {"carol", NULL, NULL, "UTC", true, PW_HASH};
	char path[256];
	int64_t id, records = -1;
	json_t *doc;
	tt_error err;

	tt_error_init(&err);
	assert_int_equal(users_create(f->c, &uc, &id, &err), 0);
	assert_int_equal(run_export(f, id, false, "carol.json", path, sizeof(path), &records), 0);
	assert_int_equal(records, 0);
	doc = json_load_file(path, 0, NULL);
	assert_non_null(doc);
	assert_int_equal(json_object_size(doc), N_TOP_KEYS);
	for (size_t i = 2; i < N_TOP_KEYS; i++)
		assert_int_equal(json_array_size(json_object_get(doc, TOP_KEYS[i])), 0);
	assert_true(
	    json_is_true(json_object_get(json_object_get(doc, "user_profile"), "is_admin")));
	assert_true(json_is_null(json_object_get(json_object_get(doc, "user_profile"), "email")));
	json_decref(doc);
	assert_int_equal(run_export(f, id, true, "carol.zip", path, sizeof(path), &records), 0);
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "unzip -tqq '%s' >/dev/null 2>&1", path);
		assert_int_equal(system(cmd), 0);
	}
}

static const char *const MEMBERS[] = {
    "export.json", "time_entries.csv", "projects.csv",  "clients.csv", "tasks.csv",
    "tags.csv",    "api_tokens.csv",   "sessions.csv",  "imports.csv", "import_errors.csv",
    "exports.csv", "README.txt",       "manifest.json",
};
#define N_MEMBERS (sizeof(MEMBERS) / sizeof(MEMBERS[0]))

struct member {
	char name[64];
	char *data;
	size_t len;
	mode_t perm;
	int64_t mtime;
};

/* Reads every member of the archive at path with libarchive. */
static size_t read_members(const char *path, struct member *m, size_t max)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	size_t n = 0;

	archive_read_support_format_zip(a);
	assert_int_equal(archive_read_open_filename(a, path, 16384), ARCHIVE_OK);
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		size_t cap = 4096, len = 0;
		char *buf = malloc(cap);
		la_ssize_t r;

		assert_true(n < max);
		snprintf(m[n].name, sizeof(m[n].name), "%s", archive_entry_pathname(ae));
		m[n].perm = archive_entry_perm(ae);
		m[n].mtime = archive_entry_mtime(ae);
		assert_int_equal(archive_entry_filetype(ae), AE_IFREG);
		for (;;) {
			if (len + 4096 > cap) {
				cap *= 2;
				buf = realloc(buf, cap);
			}
			r = archive_read_data(a, buf + len, cap - len - 1);
			assert_true(r >= 0);
			if (r == 0)
				break;
			len += (size_t)r;
		}
		buf[len] = '\0';
		m[n].data = buf;
		m[n].len = len;
		n++;
	}
	archive_read_free(a);
	return n;
}

static const struct member *member_get(const struct member *m, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(m[i].name, name))
			return &m[i];
	return NULL;
}

static void test_zip(void **state)
{
	struct fx *f = *state;
	struct member m[32];
	char path[256], cmd[512], sha[65];
	int64_t records = -1;
	const struct member *man, *readme, *csv;
	json_t *manifest, *files, *item;
	size_t n, i;

	assert_int_equal(run_export(f, f->alice, true, "gdpr.zip", path, sizeof(path), &records),
	                 0);
	assert_int_equal(records, f->alice_entries);

	/* unzip itself accepts the archive (CRCs, data descriptors, Zip64 sizes) */
	snprintf(cmd, sizeof(cmd), "unzip -tqq '%s' >/dev/null 2>&1", path);
	assert_int_equal(system(cmd), 0);
	/* and so does Python's zipfile, when there is one */
	snprintf(cmd, sizeof(cmd),
	         "! command -v python3 >/dev/null 2>&1 || python3 -c \"import sys, zipfile;"
	         " sys.exit(zipfile.ZipFile('%s').testzip() is not None)\"",
	         path);
	assert_int_equal(system(cmd), 0);
	/* no side files left next to the export */
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls '%s' | grep -v -e '^t.db' -e '^gdpr.zip$')\"",
	         f->dir);
	assert_int_equal(system(cmd), 0);

	n = read_members(path, m, 32);
	/* exactly the documented members, in order, plain files 0644 */
	assert_int_equal(n, N_MEMBERS);
	for (i = 0; i < n; i++) {
		assert_string_equal(m[i].name, MEMBERS[i]);
		assert_int_equal(m[i].perm, 0644);
		assert_true(m[i].mtime > 1700000000);
		assert_no_secrets(m[i].data);
	}

	check_document(f, member_get(m, n, "export.json")->data);

	/* the manifest lists every other member with its size and SHA-256 */
	man = member_get(m, n, "manifest.json");
	manifest = json_loads(man->data, 0, NULL);
	assert_non_null(manifest);
	assert_string_equal(json_string_value(json_object_get(manifest, "format_version")), "1.0");
	assert_int_equal(json_integer_value(json_object_get(manifest, "user_id")), f->alice);
	assert_non_null(json_string_value(json_object_get(manifest, "created_at")));
	files = json_object_get(manifest, "files");
	assert_int_equal(json_array_size(files), N_MEMBERS - 1);
	json_array_foreach(files, i, item)
	{
		const struct member *mm;

		assert_string_equal(json_string_value(json_object_get(item, "name")), MEMBERS[i]);
		mm = member_get(m, n, MEMBERS[i]);
		assert_non_null(mm);
		assert_int_equal(json_integer_value(json_object_get(item, "size")),
		                 (int64_t)mm->len);
		crypto_sha256_hex(mm->data, mm->len, sha);
		assert_string_equal(json_string_value(json_object_get(item, "sha256")), sha);
	}
	json_decref(manifest);

	/* the README names every file and every column of every CSV */
	readme = member_get(m, n, "README.txt");
	for (i = 0; i < N_MEMBERS; i++)
		if (!strstr(readme->data, MEMBERS[i]))
			fail_msg("README.txt does not mention %s", MEMBERS[i]);
	for (i = 0; i < n; i++) {
		char *header, *col, *save = NULL;
		size_t hl;

		if (!strstr(m[i].name, ".csv"))
			continue;
		hl = strcspn(m[i].data, "\r\n");
		assert_true(hl > 0);
		header = strndup(m[i].data, hl);
		for (col = strtok_r(header, ",", &save); col; col = strtok_r(NULL, ",", &save)) {
			char needle[96];

			snprintf(needle, sizeof(needle), "    %s: ", col);
			if (!strstr(readme->data, needle))
				fail_msg("README.txt does not explain %s in %s", col, m[i].name);
		}
		free(header);
	}

	/* CSV content: her entries only, the guard on, errors and imports listed */
	csv = member_get(m, n, "time_entries.csv");
	assert_int_equal(strncmp(csv->data, "project_name,client_name,task_name,start_time,", 46),
	                 0);
	assert_non_null(strstr(csv->data, "'=cmd|"));
	assert_non_null(strstr(csv->data, "\"plain, \"\"quoted\"\"\nnote\""));
	assert_non_null(strstr(csv->data, "Imported task"));
	{
		size_t lines = 0;

		for (const char *p = csv->data; (p = strstr(p, "\r\n")) != NULL; p += 2)
			lines++;
		assert_int_equal(lines, 1 + f->alice_entries);
	}
	csv = member_get(m, n, "import_errors.csv");
	assert_non_null(strstr(csv->data, "invalid_date"));
	assert_non_null(strstr(csv->data, "unknown_column"));
	csv = member_get(m, n, "tasks.csv");
	assert_non_null(strstr(csv->data, "Imported task"));
	csv = member_get(m, n, "sessions.csv");
	assert_non_null(strstr(csv->data, "192.0.2.7"));
	csv = member_get(m, n, "api_tokens.csv");
	assert_non_null(strstr(csv->data, "tt_abcd"));
	csv = member_get(m, n, "exports.csv");
	assert_non_null(strstr(csv->data, "filtered,csv,completed,3,42,abc"));

	for (i = 0; i < n; i++)
		free(m[i].data);
}

/*
 * A database failure (the import diagnostics table is gone) fails the export
 * in both formats, and the caller's abort leaves no file behind.
 */
static void test_database_failure(void **state)
{
	struct fx *f = *state;
	char path[256], cmd[512];
	int64_t records = -1;
	tt_error err;

	tt_error_init(&err);
	assert_int_equal(store_exec(f->c, "DROP TABLE import_errors", &err), 0);
	assert_true(run_export(f, f->alice, false, "fail.json", path, sizeof(path), &records) < 0);
	assert_int_equal(records, 0);
	assert_true(run_export(f, f->alice, true, "fail.zip", path, sizeof(path), &records) < 0);
	assert_int_equal(records, 0);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls '%s' | grep -v -e '^t.db')\"", f->dir);
	assert_int_equal(system(cmd), 0);
	/* no export at all without a connection or a sink */
	assert_int_equal(export_gdpr_write(NULL, f->alice, true, NULL, &records, &err),
	                 TT_EINTERNAL);
}

/*
 * A failure inside the archive, after export.json was streamed: the side
 * file of projects.csv cannot be created (a directory holds its name). The
 * export fails cleanly and leaves neither the archive nor a side file.
 */
static void test_failure_in_archive(void **state)
{
	struct fx *f = *state;
	char path[256], blocker[320], cmd[600];
	int64_t records = -1;

	snprintf(blocker, sizeof(blocker), "%s/late.zip.tmp.projects.csv.tmp", f->dir);
	assert_int_equal(mkdir(blocker, 0700), 0);
	assert_true(run_export(f, f->alice, true, "late.zip", path, sizeof(path), &records) < 0);
	assert_int_equal(records, 0);
	assert_int_equal(rmdir(blocker), 0);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls '%s' | grep -v -e '^t.db')\"", f->dir);
	assert_int_equal(system(cmd), 0);
	/* the same export works once the name is free */
	assert_int_equal(run_export(f, f->alice, true, "late.zip", path, sizeof(path), &records),
	                 0);
	assert_int_equal(records, f->alice_entries);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_database_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failure_in_archive, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
