/*
 * archive.c - the tables of a backup and writing the archive (SPEC §3.5).
 *
 * BACKUP_TABLES is the whole definition of what a backup holds: the tables
 * in dependency order (a table's references point only to tables before
 * it), every column of each at schema version 3, and the references verify
 * checks. Sessions, jobs and schema_migrations are left out on purpose.
 *
 * Writing streams: each table is walked row by row (store/backup.h), each
 * row dumped as one compact JSON line straight into its deflated member, so
 * memory holds one row whatever the database holds. A member's size is
 * unknown when it starts; libarchive writes a data descriptor (and Zip64
 * sizes) after the data. Each member's size and SHA-256 are taken from the
 * uncompressed bytes as they enter the archive, which is why manifest.json,
 * listing them, is the LAST member: a streamed ZIP cannot go back to put it
 * first without spooling every table to a temporary file.
 *
 * Reading (verify and the row stream for restore) lives in verify.c.
 */
#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup.h"
#include "core/datetime.h"
#include "store/backup.h"
#include "util/log.h"

#define BACKUP_APP_VERSION "0.1.0"

/* ---- the tables ---- */

static const char *const users_cols[] = {"id",         "username",   "email",         "full_name",
                                         "role",       "timezone",   "password_hash", "is_active",
                                         "created_at", "updated_at", "last_login_at", NULL};

static const char *const api_tokens_cols[] = {"id",           "user_id",    "name",
                                              "token_hash",   "prefix",     "created_at",
                                              "last_used_at", "revoked_at", NULL};
static const char *const api_tokens_refs[] = {"user_id", "users", NULL};

static const char *const data_imports_cols[] = {"id",
                                                "user_id",
                                                "import_type",
                                                "source_file",
                                                "status",
                                                "total_records",
                                                "successful_records",
                                                "failed_records",
                                                "skipped_records",
                                                "options",
                                                "import_summary",
                                                "started_at",
                                                "completed_at",
                                                "created_at",
                                                "undone_at",
                                                "file_name",
                                                "file_size",
                                                "bytes_processed",
                                                "warning_count",
                                                "error_message",
                                                NULL};
static const char *const data_imports_refs[] = {"user_id", "users", NULL};

static const char *const import_errors_cols[] = {
    "id",    "import_id", "row_number", "line_number", "column_name",
    "value", "code",      "message",    "severity",    NULL};
static const char *const import_errors_refs[] = {"import_id", "data_imports", NULL};

static const char *const clients_cols[] = {"id",
                                           "name",
                                           "description",
                                           "contact_person",
                                           "email",
                                           "phone",
                                           "address",
                                           "default_hourly_rate",
                                           "status",
                                           "custom_fields",
                                           "created_by_import_id",
                                           "created_at",
                                           NULL};
static const char *const clients_refs[] = {"created_by_import_id", "data_imports", NULL};

static const char *const projects_cols[] = {
    "id", "client_id", "name", "billable", "status", "created_by_import_id", "created_at", NULL};
static const char *const projects_refs[] = {"client_id", "clients", "created_by_import_id",
                                            "data_imports", NULL};

static const char *const tasks_cols[] = {
    "id", "project_id", "name", "status", "created_by_import_id", "created_at", NULL};
static const char *const tasks_refs[] = {"project_id", "projects", "created_by_import_id",
                                         "data_imports", NULL};

static const char *const tags_cols[] = {"id",         "name", "name_key", "created_by_import_id",
                                        "created_at", NULL};
static const char *const tags_refs[] = {"created_by_import_id", "data_imports", NULL};

static const char *const time_entries_cols[] = {
    "id",          "user_id",          "project_id", "task_id",    "start_at",
    "end_at",      "duration_seconds", "notes",      "billable",   "source",
    "external_id", "import_id",        "created_at", "updated_at", NULL};
static const char *const time_entries_refs[] = {"user_id",   "users",        "project_id",
                                                "projects",  "task_id",      "tasks",
                                                "import_id", "data_imports", NULL};

static const char *const time_entry_tags_cols[] = {"entry_id", "tag_id", NULL};
static const char *const time_entry_tags_refs[] = {"entry_id", "time_entries", "tag_id", "tags",
                                                   NULL};

static const char *const data_exports_cols[] = {
    "id",           "user_id",    "export_type",   "export_format",  "file_name",     "file_size",
    "sha256",       "status",     "filters",       "record_count",   "error_message", "created_at",
    "completed_at", "expires_at", "progress_done", "progress_total", "download_name", NULL};
static const char *const data_exports_refs[] = {"user_id", "users", NULL};

const struct backup_table BACKUP_TABLES[] = {
    {"users", users_cols, NULL},
    {"api_tokens", api_tokens_cols, api_tokens_refs},
    {"data_imports", data_imports_cols, data_imports_refs},
    {"import_errors", import_errors_cols, import_errors_refs},
    {"clients", clients_cols, clients_refs},
    {"projects", projects_cols, projects_refs},
    {"tasks", tasks_cols, tasks_refs},
    {"tags", tags_cols, tags_refs},
    {"time_entries", time_entries_cols, time_entries_refs},
    {"time_entry_tags", time_entry_tags_cols, time_entry_tags_refs},
    {"data_exports", data_exports_cols, data_exports_refs},
    {NULL, NULL, NULL},
};

/*
 * Parallel to BACKUP_TABLES: the archive member of each table (the fixed
 * whitelist verify reads), and each column's type, one character per
 * column: 'i' integer, 't' text (either may be null in a row). They are not
 * fields of struct backup_table because backup.h is a fixed contract for
 * now; backup_member_name and backup_column_types are this module's
 * internals, declared again in verify.c (they belong in a backup_int.h).
 */
static const char *const table_members[] = {
    "tables/01_users.jsonl",        "tables/02_api_tokens.jsonl",
    "tables/03_data_imports.jsonl", "tables/04_import_errors.jsonl",
    "tables/05_clients.jsonl",      "tables/06_projects.jsonl",
    "tables/07_tasks.jsonl",        "tables/08_tags.jsonl",
    "tables/09_time_entries.jsonl", "tables/10_time_entry_tags.jsonl",
    "tables/11_data_exports.jsonl", NULL};

static const char *const table_types[] = {"itttttt"
                                          "iiii", /* users */
                                          "iittt"
                                          "iii", /* api_tokens */
                                          "iittt"
                                          "iiiit"
                                          "tiiii"
                                          "tiiit", /* data_imports */
                                          "iiiit"
                                          "tttt", /* import_errors */
                                          "itttt"
                                          "ttttt"
                                          "ii", /* clients */
                                          "iitit"
                                          "ii", /* projects */
                                          "iitti"
                                          "i",     /* tasks */
                                          "ittii", /* tags */
                                          "iiiii"
                                          "iitit"
                                          "tiii", /* time_entries */
                                          "ii",   /* time_entry_tags */
                                          "iittt"
                                          "ittti"
                                          "tiiii"
                                          "it", /* data_exports */
                                          NULL};

const char *backup_member_name(int table);
const char *backup_column_types(int table);

int backup_table_count(void)
{
	int n = 0;

	while (BACKUP_TABLES[n].name)
		n++;
	assert(n <= BACKUP_MAX_TABLES);
	return n;
}

/* The member of BACKUP_TABLES[table], e.g. "tables/01_users.jsonl". */
const char *backup_member_name(int table)
{
	assert(table >= 0 && table < backup_table_count());
	return table_members[table];
}

/* The column types of BACKUP_TABLES[table] (see table_types). */
const char *backup_column_types(int table)
{
	assert(table >= 0 && table < backup_table_count());
	return table_types[table];
}

/* ---- writing ---- */

struct member_sum {
	const char *name;
	int64_t size;
	char sha256[65];
};

struct bk_out {
	struct archive *a;
	crypto_hash_sha256_state sha; /* of the current member's bytes */
	int64_t member_size;
	struct member_sum members[BACKUP_MAX_TABLES];
	int n_members;
	int64_t rows; /* of the current table */
	int64_t now;
	tt_error *err;
	int failed; /* sticky: the first failure's code */
};

static int out_fail_archive(struct bk_out *o, const char *what)
{
	if (!o->failed) {
		log_error("backup: %s: %s", what,
		          o->a && archive_error_string(o->a) ? archive_error_string(o->a) : "?");
		o->failed =
		    tt_error_set(o->err, TT_EIO, NULL, NULL, "the backup could not be written");
	}
	return o->failed;
}

static int out_write(struct bk_out *o, const void *p, size_t n)
{
	const unsigned char *b = p;

	if (o->failed)
		return o->failed;
	crypto_hash_sha256_update(&o->sha, b, n);
	o->member_size += (int64_t)n;
	while (n > 0) {
		la_ssize_t w = archive_write_data(o->a, b, n);

		if (w <= 0)
			return out_fail_archive(o, "writing a member");
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The archive's bytes go to the sink. */
static la_ssize_t zip_write_cb(struct archive *a, void *ctx, const void *buf, size_t n)
{
	export_sink *s = ctx;

	if (sink_write(s, buf, n) < 0) {
		archive_set_error(a, EIO, "cannot write the backup file");
		return -1;
	}
	return (la_ssize_t)n;
}

/* Starts member name (a static string); size < 0: unknown (streamed). */
static int member_begin(struct bk_out *o, const char *name, int64_t size)
{
	struct archive_entry *ae;
	int rc;

	if (o->failed)
		return o->failed;
	ae = archive_entry_new();
	archive_entry_set_pathname(ae, name);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0600);
	archive_entry_set_mtime(ae, (time_t)o->now, 0);
	if (size >= 0)
		archive_entry_set_size(ae, size);
	else
		archive_entry_unset_size(ae);
	rc = archive_write_header(o->a, ae);
	archive_entry_free(ae);
	if (rc != ARCHIVE_OK)
		return out_fail_archive(o, "writing a member header");
	crypto_hash_sha256_init(&o->sha);
	o->member_size = 0;
	return 0;
}

/* Ends the current member; records its size and hash when listed. */
static int member_end(struct bk_out *o, const char *name, bool listed)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	struct member_sum *m;

	if (o->failed)
		return o->failed;
	if (archive_write_finish_entry(o->a) != ARCHIVE_OK)
		return out_fail_archive(o, "finishing a member");
	if (!listed)
		return 0;
	assert(o->n_members < BACKUP_MAX_TABLES);
	m = &o->members[o->n_members++];
	crypto_hash_sha256_final(&o->sha, digest);
	sodium_bin2hex(m->sha256, sizeof(m->sha256), digest, sizeof(digest));
	m->size = o->member_size;
	m->name = name;
	return 0;
}

static int dump_cb(const char *buf, size_t n, void *ctx)
{
	return out_write(ctx, buf, n) ? -1 : 0;
}

/* One row: one compact JSON object and "\n". */
static int row_cb(void *ctx, json_t *row)
{
	struct bk_out *o = ctx;

	if (json_dump_callback(row, dump_cb, o, JSON_COMPACT) != 0 || out_write(o, "\n", 1))
		return out_fail_archive(o, "writing a row");
	o->rows++;
	return 0;
}

static char *manifest_text(const struct bk_out *o, int schema_version, const char *engine,
                           const int64_t *counts)
{
	json_t *m = json_object(), *tables = json_array(), *files = json_array();
	char when[21], *s;

	dt_format_utc(o->now, when);
	json_object_set_new(m, "format_version", json_integer(BACKUP_FORMAT_VERSION));
	json_object_set_new(m, "schema_version", json_integer(schema_version));
	json_object_set_new(m, "app_version", json_string(BACKUP_APP_VERSION));
	json_object_set_new(m, "engine", json_string(engine));
	json_object_set_new(m, "created_at", json_string(when));
	for (int i = 0; BACKUP_TABLES[i].name; i++)
		json_array_append_new(
		    tables, json_pack("{s:s, s:s, s:I}", "name", BACKUP_TABLES[i].name, "member",
		                      table_members[i], "rows", (json_int_t)counts[i]));
	json_object_set_new(m, "tables", tables);
	for (int i = 0; i < o->n_members; i++)
		json_array_append_new(files,
		                      json_pack("{s:s, s:I, s:s}", "name", o->members[i].name,
		                                "size", (json_int_t)o->members[i].size, "sha256",
		                                o->members[i].sha256));
	json_object_set_new(m, "files", files);
	s = json_dumps(m, JSON_INDENT(2));
	json_decref(m);
	return s;
}

int backup_write(store_conn *c, export_sink *sink, int schema_version, const char *engine,
                 int64_t counts[BACKUP_MAX_TABLES], tt_error *err)
{
	struct bk_out o = {.err = err, .now = store_now()};
	char *text = NULL;
	int rc = 0;

	memset(counts, 0, sizeof(int64_t) * BACKUP_MAX_TABLES);
	if (!c || !sink || !engine || !store_in_tx(c))
		return tt_error_set(err, TT_EINTERNAL, NULL, NULL,
		                    "the backup could not be started");
	o.a = archive_write_new();
	if (!o.a)
		return tt_error_set(err, TT_ENOMEM, NULL, NULL, "out of memory");
	if (archive_write_set_format_zip(o.a) != ARCHIVE_OK ||
	    archive_write_zip_set_compression_deflate(o.a) != ARCHIVE_OK ||
	    /* No padding after the central directory. */
	    archive_write_set_bytes_in_last_block(o.a, 1) != ARCHIVE_OK ||
	    archive_write_open(o.a, sink, NULL, zip_write_cb, NULL) != ARCHIVE_OK) {
		rc = out_fail_archive(&o, "opening the archive");
		goto out;
	}

	for (int i = 0; BACKUP_TABLES[i].name; i++) {
		const struct backup_table *t = &BACKUP_TABLES[i];

		o.rows = 0;
		if ((rc = member_begin(&o, table_members[i], -1)) != 0)
			goto out;
		rc = store_backup_walk(c, t->name, t->columns, table_types[i], row_cb, &o, err);
		if (rc == 0)
			rc = member_end(&o, table_members[i], true);
		if (rc)
			goto out;
		counts[i] = o.rows;
	}

	text = manifest_text(&o, schema_version, engine, counts);
	if (!text) {
		rc = tt_error_set(err, TT_EINTERNAL, NULL, NULL, "the backup could not be built");
		goto out;
	}
	if ((rc = member_begin(&o, "manifest.json", (int64_t)strlen(text))) != 0 ||
	    (rc = out_write(&o, text, strlen(text))) != 0 ||
	    (rc = member_end(&o, "manifest.json", false)) != 0)
		goto out;
	if (archive_write_close(o.a) != ARCHIVE_OK)
		rc = out_fail_archive(&o, "closing the archive");
out:
	free(text);
	/* archive_write_free closes an open archive: harmless after a failure. */
	archive_write_free(o.a);
	if (rc > 0) /* a stop value that is not an error code */
		rc = tt_error_set(err, TT_EINTERNAL, NULL, NULL, "the backup could not be written");
	return rc;
}
