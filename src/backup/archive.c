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
#include "exports/zipout.h"
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

struct bk_out {
	zipout z;
	int64_t rows; /* of the current table */
};

static int dump_cb(const char *buf, size_t n, void *ctx)
{
	return zipout_write(ctx, buf, n) ? -1 : 0;
}

/* One row: one compact JSON object and "\n". */
static int row_cb(void *ctx, json_t *row)
{
	struct bk_out *o = ctx;

	if (json_dump_callback(row, dump_cb, &o->z, JSON_COMPACT) != 0 || zipout_write(&o->z, "\n", 1))
		return zipout_fail(&o->z, "writing a row");
	o->rows++;
	return 0;
}

static char *manifest_text(const struct bk_out *o, int schema_version, const char *engine,
                           const int64_t *counts)
{
	json_t *m = json_object(), *tables = json_array(), *files = json_array();
	char when[21], *s;

	dt_format_utc(o->z.now, when);
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
	for (int i = 0; i < o->z.n_members; i++)
		json_array_append_new(files,
		                      json_pack("{s:s, s:I, s:s}", "name", o->z.members[i].name,
		                                "size", (json_int_t)o->z.members[i].size, "sha256",
		                                o->z.members[i].sha256));
	json_object_set_new(m, "files", files);
	s = json_dumps(m, JSON_INDENT(2));
	json_decref(m);
	return s;
}

int backup_write(store_conn *c, export_sink *sink, int schema_version, const char *engine,
                 int64_t counts[BACKUP_MAX_TABLES], tt_error *err)
{
	struct bk_out o = {0};
	char *text = NULL;
	int rc = 0;

	memset(counts, 0, sizeof(int64_t) * BACKUP_MAX_TABLES);
	if (!c || !sink || !engine || !store_in_tx(c))
		return tt_error_set(err, TT_EINTERNAL, NULL, NULL,
		                    "the backup could not be started");
	if ((rc = zipout_open(&o.z, sink, true, "backup", "the backup could not be written", 0600,
			      err)))
		goto out;

	for (int i = 0; BACKUP_TABLES[i].name; i++) {
		const struct backup_table *t = &BACKUP_TABLES[i];

		o.rows = 0;
		if ((rc = zipout_begin(&o.z, table_members[i], -1)) != 0)
			goto out;
		rc = store_backup_walk(c, t->name, t->columns, table_types[i], row_cb, &o, err);
		if (rc == 0)
			rc = zipout_end(&o.z, true);
		if (rc)
			goto out;
		counts[i] = o.rows;
	}

	text = manifest_text(&o, schema_version, engine, counts);
	if (!text) {
		rc = tt_error_set(err, TT_EINTERNAL, NULL, NULL, "the backup could not be built");
		goto out;
	}
	if ((rc = zipout_begin(&o.z, "manifest.json", (int64_t)strlen(text))) != 0 ||
	    (rc = zipout_write(&o.z, text, strlen(text))) != 0 ||
	    (rc = zipout_end(&o.z, false)) != 0)
		goto out;
	rc = zipout_close(&o.z);
out:
	free(text);
	zipout_free(&o.z);
	if (rc > 0) /* a stop value that is not an error code */
		rc = tt_error_set(err, TT_EINTERNAL, NULL, NULL, "the backup could not be written");
	return rc;
}
