/*
 * gdpr.c - the GDPR export (SPEC §3.4): everything the instance holds about
 * one user, as one JSON document or as a ZIP of that JSON, one CSV per list,
 * a README and a manifest of SHA-256 sums.
 *
 * Memory stays flat whatever the user holds. The JSON is written key by key
 * and row by row: each entry (from entries_walk) and each row of the other
 * lists (from store/gdpr.h walks) becomes a small jansson object that is
 * dumped and freed at once. In a ZIP, export.json is streamed straight into
 * its deflated member (size unknown up front: libarchive writes a data
 * descriptor and Zip64 sizes after the data). The CSVs are written with the
 * shared CSV cell writer, which appends to an export_sink, so each goes
 * through a side file next to the sink's .tmp (`<tmp>.<member>`) that is
 * copied into the archive and removed; at most one such file exists at a
 * time. Every member's size and SHA-256 are taken from the uncompressed
 * bytes as they enter the archive and listed in manifest.json, the last
 * member.
 *
 * The caller opens the read transaction, so every list sees one snapshot.
 */
#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/datetime.h"
#include "exports/export.h"
#include "exports/zipout.h"
#include "store/gdpr.h"
#include "util/alloc.h"
#include "util/log.h"

#define GDPR_FORMAT_VERSION "1.0"
#define GDPR_EXPORT_TYPE    "GDPR Full Data Export"
#define GDPR_COPY_BUF       (64 * 1024)

/* ---- where bytes go: the sink (JSON), or the current archive member (ZIP): zipout.h ---- */

/* ---- JSON helpers ---- */

static json_t *j_time(int64_t t)
{
	char buf[21];

	if (!t)
		return json_null();
	dt_format_utc(t, buf);
	return json_string(buf);
}

/* Text or null; text that is not UTF-8 (never stored by us) becomes null. */
static json_t *j_text(const char *s)
{
	json_t *v = s ? json_string(s) : NULL;

	return v ? v : json_null();
}

static json_t *j_id(int64_t id)
{
	return id ? json_integer(id) : json_null();
}

/* Stored JSON text parsed; kept as a string when it does not parse. */
static json_t *j_parsed(const char *s)
{
	json_t *v;

	if (!s)
		return json_null();
	v = json_loads(s, JSON_DECODE_ANY, NULL);
	return v ? v : j_text(s);
}

/* ---- the JSON document ---- */

struct gdpr_job {
	store_conn *c;
	int64_t user_id;
	zipout *o;
	tt_error *err;
	bool first;       /* no item written yet in the current list */
	bool import_open; /* an import object waits for its "errors" to close */
	bool error_first;
	int64_t entries;
	json_t *profile; /* the user's profile (for export_info and user_profile) */
	char username[128];
	/* CSV */
	export_sink *csv;
};

/* Writes v (stolen) compactly; with strip_close, without its final '}'. */
static int put_json(struct gdpr_job *j, json_t *v, bool strip_close)
{
	char *s;
	size_t n;
	int rc;

	if (!v)
		return tt_error_set(j->err, TT_EINTERNAL, NULL, NULL,
		                    "the export could not be built");
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	if (!s)
		return tt_error_set(j->err, TT_EINTERNAL, NULL, NULL,
		                    "the export could not be built");
	n = strlen(s);
	if (strip_close && n > 0 && s[n - 1] == '}')
		n--;
	rc = zipout_write(j->o, s, n);
	free(s);
	return rc;
}

static int list_begin(struct gdpr_job *j, const char *key)
{
	int rc = zipout_puts(j->o, ",\n\"");

	if (!rc)
		rc = zipout_puts(j->o, key);
	if (!rc)
		rc = zipout_puts(j->o, "\":[");
	j->first = true;
	return rc;
}

static int list_item(struct gdpr_job *j, json_t *v)
{
	int rc = zipout_puts(j->o, j->first ? "\n" : ",\n");

	j->first = false;
	return rc ? (json_decref(v), rc) : put_json(j, v, false);
}

static int list_end(struct gdpr_job *j)
{
	return zipout_puts(j->o, j->first ? "]" : "\n]");
}

static int profile_cb(void *ctx, const gdpr_profile *p)
{
	struct gdpr_job *j = ctx;
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(p->id));
	json_object_set_new(o, "username", j_text(p->username));
	json_object_set_new(o, "email", j_text(p->email));
	json_object_set_new(o, "full_name", j_text(p->full_name));
	json_object_set_new(o, "role", j_text(p->role));
	json_object_set_new(o, "is_admin", json_boolean(p->role && !strcmp(p->role, "admin")));
	json_object_set_new(o, "timezone", j_text(p->timezone));
	json_object_set_new(o, "is_active", json_boolean(p->is_active));
	json_object_set_new(o, "created_at", j_time(p->created_at));
	json_object_set_new(o, "updated_at", j_time(p->updated_at));
	json_object_set_new(o, "last_login_at", j_time(p->last_login_at));
	j->profile = o;
	snprintf(j->username, sizeof(j->username), "%s", p->username ? p->username : "");
	return 0;
}

static json_t *counts_json(const gdpr_counts *n)
{
	json_t *o = json_object();

	json_object_set_new(o, "time_entries", json_integer(n->time_entries));
	json_object_set_new(o, "projects", json_integer(n->projects));
	json_object_set_new(o, "clients", json_integer(n->clients));
	json_object_set_new(o, "tasks", json_integer(n->tasks));
	json_object_set_new(o, "tags", json_integer(n->tags));
	json_object_set_new(o, "api_tokens", json_integer(n->api_tokens));
	json_object_set_new(o, "sessions", json_integer(n->sessions));
	json_object_set_new(o, "imports", json_integer(n->imports));
	json_object_set_new(o, "import_errors", json_integer(n->import_errors));
	json_object_set_new(o, "exports", json_integer(n->exports));
	return o;
}

static int json_entry_cb(void *ctx, const entry_rec *e)
{
	struct gdpr_job *j = ctx;

	j->entries++;
	return list_item(j, export_entry_json(e));
}

static json_t *project_json(const gdpr_project *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "name", j_text(r->name));
	json_object_set_new(o, "client_id", json_integer(r->client_id));
	json_object_set_new(o, "client", j_text(r->client_name));
	json_object_set_new(o, "billable", json_boolean(r->billable));
	json_object_set_new(o, "status", j_text(r->status));
	json_object_set_new(o, "created_by_import_id", j_id(r->created_by_import_id));
	json_object_set_new(o, "created_at", j_time(r->created_at));
	return o;
}

static int json_project_cb(void *ctx, const gdpr_project *r)
{
	return list_item(ctx, project_json(r));
}

static int json_client_cb(void *ctx, const gdpr_client *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "name", j_text(r->name));
	json_object_set_new(o, "description", j_text(r->description));
	json_object_set_new(o, "contact_person", j_text(r->contact_person));
	json_object_set_new(o, "email", j_text(r->email));
	json_object_set_new(o, "phone", j_text(r->phone));
	json_object_set_new(o, "address", j_text(r->address));
	json_object_set_new(o, "default_hourly_rate", j_text(r->default_hourly_rate));
	json_object_set_new(o, "status", j_text(r->status));
	json_object_set_new(o, "custom_fields", j_parsed(r->custom_fields));
	json_object_set_new(o, "created_by_import_id", j_id(r->created_by_import_id));
	json_object_set_new(o, "created_at", j_time(r->created_at));
	return list_item(ctx, o);
}

static int json_task_cb(void *ctx, const gdpr_task *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "name", j_text(r->name));
	json_object_set_new(o, "project_id", json_integer(r->project_id));
	json_object_set_new(o, "project", j_text(r->project_name));
	json_object_set_new(o, "client", j_text(r->client_name));
	json_object_set_new(o, "status", j_text(r->status));
	json_object_set_new(o, "created_by_import_id", j_id(r->created_by_import_id));
	json_object_set_new(o, "created_at", j_time(r->created_at));
	return list_item(ctx, o);
}

static int json_tag_cb(void *ctx, const gdpr_tag *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "name", j_text(r->name));
	json_object_set_new(o, "created_by_import_id", j_id(r->created_by_import_id));
	json_object_set_new(o, "created_at", j_time(r->created_at));
	return list_item(ctx, o);
}

static int json_token_cb(void *ctx, const gdpr_token *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "name", j_text(r->name));
	json_object_set_new(o, "prefix", j_text(r->prefix));
	json_object_set_new(o, "created_at", j_time(r->created_at));
	json_object_set_new(o, "last_used_at", j_time(r->last_used_at));
	json_object_set_new(o, "revoked_at", j_time(r->revoked_at));
	return list_item(ctx, o);
}

static int json_session_cb(void *ctx, const gdpr_session *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "created_at", j_time(r->created_at));
	json_object_set_new(o, "expires_at", j_time(r->expires_at));
	json_object_set_new(o, "last_seen_at", j_time(r->last_seen_at));
	json_object_set_new(o, "user_agent", j_text(r->user_agent));
	json_object_set_new(o, "ip_address", j_text(r->ip_address));
	return list_item(ctx, o);
}

static int close_import(struct gdpr_job *j)
{
	if (!j->import_open)
		return 0;
	j->import_open = false;
	return zipout_puts(j->o, j->error_first ? "]}" : "\n]}");
}

static int json_import_cb(void *ctx, const gdpr_import *r)
{
	struct gdpr_job *j = ctx;
	json_t *o = json_object();
	int rc;

	if ((rc = close_import(j)) != 0) {
		json_decref(o);
		return rc;
	}
	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "import_type", j_text(r->import_type));
	json_object_set_new(o, "source_file", j_text(r->source_file));
	json_object_set_new(o, "status", j_text(r->status));
	json_object_set_new(o, "total_records", json_integer(r->total));
	json_object_set_new(o, "successful_records", json_integer(r->successful));
	json_object_set_new(o, "failed_records", json_integer(r->failed));
	json_object_set_new(o, "skipped_records", json_integer(r->skipped));
	json_object_set_new(o, "warning_count", json_integer(r->warnings));
	json_object_set_new(o, "options", j_parsed(r->options));
	json_object_set_new(o, "summary", j_parsed(r->summary));
	json_object_set_new(o, "error_message", j_text(r->error_message));
	json_object_set_new(o, "created_at", j_time(r->created_at));
	json_object_set_new(o, "started_at", j_time(r->started_at));
	json_object_set_new(o, "completed_at", j_time(r->completed_at));
	json_object_set_new(o, "undone_at", j_time(r->undone_at));
	/* The object stays open: its "errors" array streams in after it. */
	rc = zipout_puts(j->o, j->first ? "\n" : ",\n");
	j->first = false;
	if (!rc)
		rc = put_json(j, o, true);
	else
		json_decref(o);
	if (!rc)
		rc = zipout_puts(j->o, ",\"errors\":[");
	j->import_open = true;
	j->error_first = true;
	return rc;
}

static json_t *import_error_json(const gdpr_import_error *e, bool with_import)
{
	json_t *o = json_object();

	if (with_import)
		json_object_set_new(o, "import_id", json_integer(e->import_id));
	json_object_set_new(o, "row", json_integer(e->row));
	json_object_set_new(o, "line", e->line ? json_integer(e->line) : json_null());
	json_object_set_new(o, "column", j_text(e->column));
	json_object_set_new(o, "value", j_text(e->value));
	json_object_set_new(o, "code", j_text(e->code));
	json_object_set_new(o, "message", j_text(e->message));
	json_object_set_new(o, "severity", j_text(e->severity));
	return o;
}

static int json_import_error_cb(void *ctx, const gdpr_import_error *e)
{
	struct gdpr_job *j = ctx;
	int rc = zipout_puts(j->o, j->error_first ? "\n" : ",\n");

	j->error_first = false;
	if (rc)
		return rc;
	return put_json(j, import_error_json(e, false), false);
}

static int json_export_cb(void *ctx, const gdpr_export *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "export_type", j_text(r->export_type));
	json_object_set_new(o, "export_format", j_text(r->export_format));
	json_object_set_new(o, "status", j_text(r->status));
	json_object_set_new(o, "record_count", json_integer(r->record_count));
	json_object_set_new(o, "file_size",
	                    r->has_file_size ? json_integer(r->file_size) : json_null());
	json_object_set_new(o, "sha256", j_text(r->sha256));
	json_object_set_new(o, "filters", j_parsed(r->filters));
	json_object_set_new(o, "error_message", j_text(r->error_message));
	json_object_set_new(o, "created_at", j_time(r->created_at));
	json_object_set_new(o, "completed_at", j_time(r->completed_at));
	json_object_set_new(o, "expires_at", j_time(r->expires_at));
	return list_item(ctx, o);
}

/* The whole JSON document into j->o. j->profile is set (consumed here). */
static int write_json(struct gdpr_job *j)
{
	zipout *o = j->o;
	gdpr_counts counts;
	entry_filter f;
	json_t *info;
	char now[21];
	int rc;

	if ((rc = gdpr_count(j->c, j->user_id, &counts, j->err)) != 0)
		return rc;
	dt_format_utc(o->now, now);
	info = json_object();
	json_object_set_new(info, "user_id", json_integer(j->user_id));
	json_object_set_new(info, "username", j_text(j->username));
	json_object_set_new(info, "export_date", json_string(now));
	json_object_set_new(info, "export_type", json_string(GDPR_EXPORT_TYPE));
	json_object_set_new(info, "format_version", json_string(GDPR_FORMAT_VERSION));
	json_object_set_new(info, "record_counts", counts_json(&counts));

	rc = zipout_puts(o, "{\"export_info\":");
	if (!rc)
		rc = put_json(j, info, false);
	else
		json_decref(info);
	if (!rc)
		rc = zipout_puts(o, ",\n\"user_profile\":");
	if (!rc)
		rc = put_json(j, json_incref(j->profile), false);

	if (!rc)
		rc = list_begin(j, "time_entries");
	if (!rc) {
		entry_filter_init(&f);
		f.user_id = j->user_id;
		f.ascending = true;
		rc = entries_walk(j->c, &f, -1, 0, json_entry_cb, j, j->err);
	}
	if (!rc)
		rc = list_end(j);

	if (!rc && !(rc = list_begin(j, "projects")) &&
	    !(rc = gdpr_projects_walk(j->c, j->user_id, json_project_cb, j, j->err)))
		rc = list_end(j);
	if (!rc && !(rc = list_begin(j, "clients")) &&
	    !(rc = gdpr_clients_walk(j->c, j->user_id, json_client_cb, j, j->err)))
		rc = list_end(j);
	if (!rc && !(rc = list_begin(j, "tasks")) &&
	    !(rc = gdpr_tasks_walk(j->c, j->user_id, json_task_cb, j, j->err)))
		rc = list_end(j);
	if (!rc && !(rc = list_begin(j, "tags")) &&
	    !(rc = gdpr_tags_walk(j->c, j->user_id, json_tag_cb, j, j->err)))
		rc = list_end(j);
	if (!rc && !(rc = list_begin(j, "api_tokens")) &&
	    !(rc = gdpr_tokens_walk(j->c, j->user_id, json_token_cb, j, j->err)))
		rc = list_end(j);
	if (!rc && !(rc = list_begin(j, "sessions")) &&
	    !(rc = gdpr_sessions_walk(j->c, j->user_id, json_session_cb, j, j->err)))
		rc = list_end(j);
	if (!rc && !(rc = list_begin(j, "imports"))) {
		j->import_open = false;
		rc = gdpr_imports_walk(j->c, j->user_id, json_import_cb, json_import_error_cb, j,
		                       j->err);
		if (!rc)
			rc = close_import(j);
		if (!rc)
			rc = list_end(j);
	}
	if (!rc && !(rc = list_begin(j, "exports")) &&
	    !(rc = gdpr_exports_walk(j->c, j->user_id, json_export_cb, j, j->err)))
		rc = list_end(j);
	if (!rc)
		rc = zipout_puts(o, "\n}\n");
	if (!rc && o->failed)
		rc = o->failed;
	return rc;
}

/* ---- CSV members ---- */

/*
 * The columns of each CSV, with the sentence README.txt gives each. The
 * same tables write the header lines, so the README cannot miss a column.
 */
struct gdpr_col {
	const char *name;
	const char *help;
};

struct gdpr_csv {
	const char *file;
	const char *help;
	const struct gdpr_col *cols; /* NULL-terminated */
	int (*write)(struct gdpr_job *j);
};

static const struct gdpr_col entry_cols[] = {
    {"project_name", "name of the project the time was spent on (empty when none)"},
    {"client_name", "name of the client the project belongs to"},
    {"task_name", "name of the task within the project (empty when none)"},
    {"start_time", "when the work started, UTC, ISO 8601 (YYYY-MM-DDTHH:MM:SSZ)"},
    {"end_time", "when the work ended, UTC, ISO 8601"},
    {"duration_hours", "length of the entry in hours, as a decimal number"},
    {"notes", "the description you wrote for the entry"},
    {"tags", "the entry's tags, separated by ';'"},
    {"billable", "true when the time is billable, false otherwise"},
    {"id", "the entry's number in TimeTracker"},
    {"user", "your username (the owner of the entry)"},
    {"source", "how the entry was created: manual, csv, toggl, harvest, clockify, restore, ..."},
    {"external_id", "the entry's id in the system it was imported from (empty when none)"},
    {"import_id", "the import that created the entry (see imports.csv; empty when none)"},
    {"created_at", "when the entry was created, UTC"},
    {"updated_at", "when the entry was last changed, UTC"},
    {NULL, NULL},
};

static const struct gdpr_col project_cols[] = {
    {"id", "the project's number"},
    {"name", "the project's name"},
    {"client_id", "the number of the client it belongs to (see clients.csv)"},
    {"client_name", "the name of that client"},
    {"billable", "true when time on the project is billable by default"},
    {"status", "active, inactive or archived"},
    {"created_by_import_id", "the import that created the project (empty when none)"},
    {"created_at", "when the project was created, UTC"},
    {NULL, NULL},
};

static const struct gdpr_col client_cols[] = {
    {"id", "the client's number"},
    {"name", "the client's name"},
    {"description", "free text about the client"},
    {"contact_person", "the client's contact person"},
    {"email", "the client's e-mail address"},
    {"phone", "the client's phone number"},
    {"address", "the client's postal address"},
    {"default_hourly_rate", "the client's default hourly rate"},
    {"status", "active, inactive or archived"},
    {"custom_fields", "further fields of the client, as a JSON object"},
    {"created_by_import_id", "the import that created the client (empty when none)"},
    {"created_at", "when the client was created, UTC"},
    {NULL, NULL},
};

static const struct gdpr_col task_cols[] = {
    {"id", "the task's number"},
    {"name", "the task's name"},
    {"project_id", "the number of the project it belongs to (see projects.csv)"},
    {"project_name", "the name of that project"},
    {"client_name", "the name of the project's client"},
    {"status", "active, inactive or archived"},
    {"created_by_import_id", "the import that created the task (empty when none)"},
    {"created_at", "when the task was created, UTC"},
    {NULL, NULL},
};

static const struct gdpr_col tag_cols[] = {
    {"id", "the tag's number"},
    {"name", "the tag's name"},
    {"created_by_import_id", "the import that created the tag (empty when none)"},
    {"created_at", "when the tag was created, UTC"},
    {NULL, NULL},
};

static const struct gdpr_col token_cols[] = {
    {"id", "the token's number"},
    {"name", "the name you gave the token"},
    {"prefix", "the first characters of the token, to recognise it (the secret is not stored)"},
    {"created_at", "when the token was created, UTC"},
    {"last_used_at", "when it was last used, UTC (empty when never)"},
    {"revoked_at", "when it was revoked, UTC (empty while it is active)"},
    {NULL, NULL},
};

static const struct gdpr_col session_cols[] = {
    {"created_at", "when you signed in, UTC"},
    {"expires_at", "when the session expires (or expired), UTC"},
    {"last_seen_at", "when the session was last used, UTC"},
    {"user_agent", "the browser or program that signed in, as it described itself"},
    {"ip_address", "the network address it signed in from"},
    {NULL, NULL},
};

static const struct gdpr_col import_cols[] = {
    {"id", "the import's number"},
    {"import_type", "what was imported: csv, csv_clients, toggl, harvest, backup"},
    {"source_file", "the name of the file you uploaded (empty for imports from a service)"},
    {"status", "pending, processing, completed, partial, failed, cancelled or undone"},
    {"total_records", "rows read"},
    {"successful_records", "rows stored"},
    {"failed_records", "rows refused (each one is in import_errors.csv)"},
    {"skipped_records", "rows skipped as duplicates"},
    {"warning_count", "warnings reported"},
    {"options", "the options the import ran with, as JSON"},
    {"summary", "the import's summary, as JSON"},
    {"error_message", "why the import failed as a whole (empty otherwise)"},
    {"created_at", "when the import was requested, UTC"},
    {"started_at", "when it started, UTC"},
    {"completed_at", "when it finished, UTC"},
    {"undone_at", "when it was undone, UTC (empty when not)"},
    {NULL, NULL},
};

static const struct gdpr_col import_error_cols[] = {
    {"import_id", "the import the diagnostic belongs to (see imports.csv)"},
    {"row", "the data row of the file, counted from 1 (the header line is not counted)"},
    {"line", "the line of the file where that row starts"},
    {"column", "the column concerned (empty when the whole row)"},
    {"value", "the value that was refused (shortened when long)"},
    {"code", "a short machine-readable code for the problem"},
    {"message", "the problem, in words"},
    {"severity", "error (the row was not stored) or warning (it was, with a remark)"},
    {NULL, NULL},
};

static const struct gdpr_col export_cols[] = {
    {"id", "the export's number"},
    {"export_type", "gdpr, filtered or backup"},
    {"export_format", "json, zip, csv, xlsx, ics or ttbackup"},
    {"status", "pending, processing, completed, failed or expired"},
    {"record_count", "time entries in the export"},
    {"file_size", "size of the file in bytes"},
    {"sha256", "SHA-256 checksum of the file"},
    {"filters", "the filters the export was made with, as JSON"},
    {"error_message", "why the export failed (empty otherwise)"},
    {"created_at", "when the export was requested, UTC"},
    {"completed_at", "when it was finished, UTC"},
    {"expires_at", "when its file is (or was) deleted, UTC"},
    {NULL, NULL},
};

/* Cells: text from people is guarded; numbers, instants, booleans are ours. */
static void c_text(struct gdpr_job *j, const char *v, bool last)
{
	export_csv_cell(j->csv, v, true, last);
}

static void c_plain(struct gdpr_job *j, const char *v, bool last)
{
	export_csv_cell(j->csv, v, false, last);
}

static void c_int(struct gdpr_job *j, int64_t v, bool last)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	c_plain(j, buf, last);
}

/* 0 = none: an empty cell. */
static void c_id(struct gdpr_job *j, int64_t v, bool last)
{
	if (v)
		c_int(j, v, last);
	else
		c_plain(j, "", last);
}

static void c_time(struct gdpr_job *j, int64_t t, bool last)
{
	char buf[21] = "";

	if (t)
		dt_format_utc(t, buf);
	c_plain(j, buf, last);
}

static void c_bool(struct gdpr_job *j, bool v, bool last)
{
	c_plain(j, v ? "true" : "false", last);
}

static void csv_header(struct gdpr_job *j, const struct gdpr_col *cols)
{
	for (size_t i = 0; cols[i].name; i++)
		export_csv_cell(j->csv, cols[i].name, false, !cols[i + 1].name);
}

/* time_entries.csv: exactly what the CSV export writes (its own writer). */
static int csv_entry_cb(void *ctx, const entry_rec *e)
{
	struct export_ctx *x = ctx;
	int rc = export_csv_writer.entry(x, e);

	x->count++;
	return rc;
}

static int csv_entries(struct gdpr_job *j)
{
	struct export_opts opts = {.excel_safe = true};
	struct export_ctx x = {.sink = j->csv, .opts = &opts, .c = j->c, .err = j->err};
	entry_filter f;
	int rc;

	rc = export_csv_writer.begin(&x);
	if (!rc) {
		entry_filter_init(&f);
		f.user_id = j->user_id;
		f.ascending = true;
		rc = entries_walk(j->c, &f, -1, 0, csv_entry_cb, &x, j->err);
	}
	if (!rc)
		rc = export_csv_writer.end(&x);
	export_csv_writer.release(&x);
	return rc;
}

static int csv_project_cb(void *ctx, const gdpr_project *r)
{
	struct gdpr_job *j = ctx;

	c_int(j, r->id, false);
	c_text(j, r->name, false);
	c_int(j, r->client_id, false);
	c_text(j, r->client_name, false);
	c_bool(j, r->billable, false);
	c_plain(j, r->status, false);
	c_id(j, r->created_by_import_id, false);
	c_time(j, r->created_at, true);
	return 0;
}

static int csv_projects(struct gdpr_job *j)
{
	csv_header(j, project_cols);
	return gdpr_projects_walk(j->c, j->user_id, csv_project_cb, j, j->err);
}

static int csv_client_cb(void *ctx, const gdpr_client *r)
{
	struct gdpr_job *j = ctx;

	c_int(j, r->id, false);
	c_text(j, r->name, false);
	c_text(j, r->description, false);
	c_text(j, r->contact_person, false);
	c_text(j, r->email, false);
	c_text(j, r->phone, false);
	c_text(j, r->address, false);
	c_text(j, r->default_hourly_rate, false);
	c_plain(j, r->status, false);
	c_text(j, r->custom_fields, false);
	c_id(j, r->created_by_import_id, false);
	c_time(j, r->created_at, true);
	return 0;
}

static int csv_clients(struct gdpr_job *j)
{
	csv_header(j, client_cols);
	return gdpr_clients_walk(j->c, j->user_id, csv_client_cb, j, j->err);
}

static int csv_task_cb(void *ctx, const gdpr_task *r)
{
	struct gdpr_job *j = ctx;

	c_int(j, r->id, false);
	c_text(j, r->name, false);
	c_int(j, r->project_id, false);
	c_text(j, r->project_name, false);
	c_text(j, r->client_name, false);
	c_plain(j, r->status, false);
	c_id(j, r->created_by_import_id, false);
	c_time(j, r->created_at, true);
	return 0;
}

static int csv_tasks(struct gdpr_job *j)
{
	csv_header(j, task_cols);
	return gdpr_tasks_walk(j->c, j->user_id, csv_task_cb, j, j->err);
}

static int csv_tag_cb(void *ctx, const gdpr_tag *r)
{
	struct gdpr_job *j = ctx;

	c_int(j, r->id, false);
	c_text(j, r->name, false);
	c_id(j, r->created_by_import_id, false);
	c_time(j, r->created_at, true);
	return 0;
}

static int csv_tags(struct gdpr_job *j)
{
	csv_header(j, tag_cols);
	return gdpr_tags_walk(j->c, j->user_id, csv_tag_cb, j, j->err);
}

static int csv_token_cb(void *ctx, const gdpr_token *r)
{
	struct gdpr_job *j = ctx;

	c_int(j, r->id, false);
	c_text(j, r->name, false);
	c_text(j, r->prefix, false);
	c_time(j, r->created_at, false);
	c_time(j, r->last_used_at, false);
	c_time(j, r->revoked_at, true);
	return 0;
}

static int csv_tokens(struct gdpr_job *j)
{
	csv_header(j, token_cols);
	return gdpr_tokens_walk(j->c, j->user_id, csv_token_cb, j, j->err);
}

static int csv_session_cb(void *ctx, const gdpr_session *r)
{
	struct gdpr_job *j = ctx;

	c_time(j, r->created_at, false);
	c_time(j, r->expires_at, false);
	c_time(j, r->last_seen_at, false);
	c_text(j, r->user_agent, false);
	c_text(j, r->ip_address, true);
	return 0;
}

static int csv_sessions(struct gdpr_job *j)
{
	csv_header(j, session_cols);
	return gdpr_sessions_walk(j->c, j->user_id, csv_session_cb, j, j->err);
}

static int csv_import_cb(void *ctx, const gdpr_import *r)
{
	struct gdpr_job *j = ctx;

	c_int(j, r->id, false);
	c_plain(j, r->import_type, false);
	c_text(j, r->source_file, false);
	c_plain(j, r->status, false);
	c_int(j, r->total, false);
	c_int(j, r->successful, false);
	c_int(j, r->failed, false);
	c_int(j, r->skipped, false);
	c_int(j, r->warnings, false);
	c_text(j, r->options, false);
	c_text(j, r->summary, false);
	c_text(j, r->error_message, false);
	c_time(j, r->created_at, false);
	c_time(j, r->started_at, false);
	c_time(j, r->completed_at, false);
	c_time(j, r->undone_at, true);
	return 0;
}

static int csv_imports(struct gdpr_job *j)
{
	csv_header(j, import_cols);
	return gdpr_imports_walk(j->c, j->user_id, csv_import_cb, NULL, j, j->err);
}

static int csv_import_error_cb(void *ctx, const gdpr_import_error *e)
{
	struct gdpr_job *j = ctx;

	c_int(j, e->import_id, false);
	c_int(j, e->row, false);
	c_id(j, e->line, false);
	c_text(j, e->column, false);
	c_text(j, e->value, false);
	c_plain(j, e->code, false);
	c_text(j, e->message, false);
	c_plain(j, e->severity, true);
	return 0;
}

static int csv_import_errors(struct gdpr_job *j)
{
	csv_header(j, import_error_cols);
	return gdpr_imports_walk(j->c, j->user_id, NULL, csv_import_error_cb, j, j->err);
}

static int csv_export_cb(void *ctx, const gdpr_export *r)
{
	struct gdpr_job *j = ctx;

	c_int(j, r->id, false);
	c_plain(j, r->export_type, false);
	c_plain(j, r->export_format, false);
	c_plain(j, r->status, false);
	c_int(j, r->record_count, false);
	if (r->has_file_size)
		c_int(j, r->file_size, false);
	else
		c_plain(j, "", false);
	c_plain(j, r->sha256, false);
	c_text(j, r->filters, false);
	c_text(j, r->error_message, false);
	c_time(j, r->created_at, false);
	c_time(j, r->completed_at, false);
	c_time(j, r->expires_at, true);
	return 0;
}

static int csv_exports(struct gdpr_job *j)
{
	csv_header(j, export_cols);
	return gdpr_exports_walk(j->c, j->user_id, csv_export_cb, j, j->err);
}

static const struct gdpr_csv gdpr_csvs[] = {
    {"time_entries.csv",
     "All your time entries, oldest first. The same columns as TimeTracker's"
     " CSV export,\n  so the file can be imported again",
     entry_cols, csv_entries},
    {"projects.csv", "The projects your entries use or your imports created", project_cols,
     csv_projects},
    {"clients.csv", "The clients of those projects, and clients your imports created", client_cols,
     csv_clients},
    {"tasks.csv", "The tasks your entries use or your imports created", task_cols, csv_tasks},
    {"tags.csv", "The tags on your entries, and tags your imports created", tag_cols, csv_tags},
    {"api_tokens.csv", "Your API tokens (the secrets themselves are never stored)", token_cols,
     csv_tokens},
    {"sessions.csv", "Your sign-in sessions (the session secrets are not included)", session_cols,
     csv_sessions},
    {"imports.csv", "Your import history", import_cols, csv_imports},
    {"import_errors.csv", "Every row error and warning of your imports", import_error_cols,
     csv_import_errors},
    {"exports.csv", "Your export history (this export included, while it was running)", export_cols,
     csv_exports},
};

#define GDPR_N_CSV (sizeof(gdpr_csvs) / sizeof(gdpr_csvs[0]))

/*
 * Writes one CSV into a side file through its own sink, then copies it into
 * the archive as member csv->file. The side file is removed in every case.
 */
static int csv_member(struct gdpr_job *j, export_sink *main_sink, const struct gdpr_csv *csv)
{
	zipout *o = j->o;
	char *path = xasprintf("%s.%s", sink_tmp_path(main_sink), csv->file);
	char *path_tmp = xasprintf("%s.tmp", path);
	export_sink *s = NULL;
	unsigned char *buf = NULL;
	char sha[65];
	int64_t size = 0;
	int fd = -1, rc;

	/* Ours: the names hang off our own O_EXCL .tmp; a crash may have left them. */
	unlink(path_tmp);
	unlink(path);
	if ((rc = sink_open(path, &s, j->err)) != 0)
		goto out;
	j->csv = s;
	rc = csv->write(j);
	j->csv = NULL;
	if (rc) {
		sink_abort(s);
		goto out;
	}
	rc = sink_commit(s, sha, &size, j->err);
	if (rc)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("gdpr export: cannot reopen %s: %s", path, strerror(errno));
		rc = tt_error_set(j->err, TT_EIO, NULL, NULL, "the export could not be written");
		goto out;
	}
	if ((rc = zipout_begin(o, csv->file, size)) != 0)
		goto out;
	buf = xmalloc(GDPR_COPY_BUF);
	for (;;) {
		ssize_t n = read(fd, buf, GDPR_COPY_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("gdpr export: cannot read %s: %s", path, strerror(errno));
			rc = tt_error_set(j->err, TT_EIO, NULL, NULL,
			                  "the export could not be written");
			goto out;
		}
		if (n == 0)
			break;
		if ((rc = zipout_write(o, buf, (size_t)n)) != 0)
			goto out;
	}
	if (o->member_size != size) {
		log_error("gdpr export: %s changed size while copied", path);
		rc = tt_error_set(j->err, TT_EIO, NULL, NULL, "the export could not be written");
		goto out;
	}
	rc = zipout_end(o, true);
out:
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(buf);
	free(path_tmp);
	free(path);
	return rc;
}

/* ---- README.txt and manifest.json ---- */

struct strbuf {
	char *p;
	size_t len, cap;
};

static void sb_add(struct strbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

static void sb_col(struct strbuf *b, const char *name, const char *help)
{
	sb_add(b, "    ");
	sb_add(b, name);
	sb_add(b, ": ");
	sb_add(b, help);
	sb_add(b, "\n");
}

static void sb_cols(struct strbuf *b, const struct gdpr_csv *csv)
{
	if (csv->write != csv_entries) {
		for (size_t i = 0; csv->cols[i].name; i++)
			sb_col(b, csv->cols[i].name, csv->cols[i].help);
		return;
	}
	/* time_entries.csv is the CSV export's: describe the columns it writes. */
	for (size_t i = 0; EXPORT_CSV_COLUMNS[i]; i++) {
		const char *help = "a column of the CSV export (see the export documentation)";

		for (size_t k = 0; csv->cols[k].name; k++)
			if (!strcmp(csv->cols[k].name, EXPORT_CSV_COLUMNS[i]))
				help = csv->cols[k].help;
		sb_col(b, EXPORT_CSV_COLUMNS[i], help);
	}
}

/* README.txt: every file and every column, in plain English. Caller frees. */
static char *readme_text(const char *username, int64_t user_id, int64_t now)
{
	struct strbuf b = {0};
	char when[21], *head;

	dt_format_utc(now, when);
	head = xasprintf(
	    "TimeTracker - your personal data\n"
	    "================================\n\n"
	    "This archive holds everything this TimeTracker instance keeps about the\n"
	    "user \"%s\" (user number %lld), as of %s (UTC). It was made for a\n"
	    "data-protection (GDPR) access request.\n\n"
	    "What is deliberately left out: your password (only a one-way hash of it is\n"
	    "stored, and not even that is included), the secrets of your API tokens and\n"
	    "sessions (likewise only hashes are stored), and where files are kept on the\n"
	    "server.\n\n"
	    "Times are UTC, written as YYYY-MM-DDTHH:MM:SSZ. In the CSV files an empty\n"
	    "cell means \"none\", and a cell of text starting with = + - @ or a tab has\n"
	    "a ' in front of it so that spreadsheet programs do not run it as a formula.\n"
	    "The CSV files are UTF-8, comma-separated, with one header line.\n\n"
	    "Files\n-----\n\n",
	    username, (long long)user_id, when);
	sb_add(&b, head);
	free(head);

	sb_add(&b, "export.json\n"
	           "  All of the data below in one JSON document, with these parts:\n"
	           "    export_info: who the export is for and when it was made (user_id,\n"
	           "      username, export_date, export_type, format_version, and\n"
	           "      record_counts: how many items each part holds)\n"
	           "    user_profile: your account: id, username, email, full_name, role,\n"
	           "      is_admin, timezone (your time-zone setting), is_active, created_at,\n"
	           "      updated_at, last_login_at\n"
	           "    time_entries: your time entries, oldest first, each with id, user_id,\n"
	           "      user, project_id, project, client_id, client, task_id, task,\n"
	           "      start_time, end_time, duration_seconds, notes, tags, billable,\n"
	           "      source, external_id, import_id, created_at, updated_at\n"
	           "    projects, clients, tasks, tags, api_tokens, sessions, exports: the same\n"
	           "      items and fields as the CSV files of the same names\n"
	           "    imports: the same items and fields as imports.csv, each with an\n"
	           "      \"errors\" list holding its rows of import_errors.csv\n\n");
	for (size_t i = 0; i < GDPR_N_CSV; i++) {
		sb_add(&b, gdpr_csvs[i].file);
		sb_add(&b, "\n  ");
		sb_add(&b, gdpr_csvs[i].help);
		sb_add(&b, ".\n  Columns:\n");
		sb_cols(&b, &gdpr_csvs[i]);
		sb_add(&b, "\n");
	}
	sb_add(&b, "README.txt\n  This explanation.\n\n"
	           "manifest.json\n"
	           "  A list of the other files, to check that none was damaged or changed:\n"
	           "    format_version: the version of this archive's layout\n"
	           "    created_at: when the archive was made, UTC\n"
	           "    user_id: your user number\n"
	           "    files: one item per file, with name, size (in bytes, uncompressed)\n"
	           "      and sha256 (the file's SHA-256 checksum, e.g. from `sha256sum`)\n");
	return b.p;
}

static int small_member(zipout *o, const char *name, const char *text, bool listed)
{
	size_t n = strlen(text);
	int rc = zipout_begin(o, name, (int64_t)n);

	if (!rc)
		rc = zipout_write(o, text, n);
	if (!rc)
		rc = zipout_end(o, listed);
	return rc;
}

static char *manifest_text(const zipout *o, int64_t user_id)
{
	json_t *m = json_object(), *files = json_array();
	char when[21], *s;

	dt_format_utc(o->now, when);
	json_object_set_new(m, "format_version", json_string(GDPR_FORMAT_VERSION));
	json_object_set_new(m, "created_at", json_string(when));
	json_object_set_new(m, "user_id", json_integer(user_id));
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

/* ---- the job ---- */

static int write_zip(struct gdpr_job *j, export_sink *sink)
{
	zipout *o = j->o;
	char *text = NULL;
	int rc;

	if ((rc = zipout_open(o, sink, true, "gdpr export", "the export could not be written", 0644,
			      j->err)))
		goto out;

	if ((rc = zipout_begin(o, "export.json", -1)) != 0 || (rc = write_json(j)) != 0 ||
	    (rc = zipout_end(o, true)) != 0)
		goto out;
	for (size_t i = 0; i < GDPR_N_CSV; i++)
		if ((rc = csv_member(j, sink, &gdpr_csvs[i])) != 0)
			goto out;
	text = readme_text(j->username, j->user_id, o->now);
	if ((rc = small_member(o, "README.txt", text, true)) != 0)
		goto out;
	free(text);
	text = manifest_text(o, j->user_id);
	if (!text) {
		rc =
		    tt_error_set(j->err, TT_EINTERNAL, NULL, NULL, "the export could not be built");
		goto out;
	}
	if ((rc = small_member(o, "manifest.json", text, false)) != 0)
		goto out;
	rc = zipout_close(o);
out:
	free(text);
	zipout_free(o);
	return rc;
}

int export_gdpr_write(store_conn *c, int64_t user_id, bool zip, export_sink *sink, int64_t *records,
                      tt_error *err)
{
	zipout out;
	struct gdpr_job j = {.c = c, .user_id = user_id, .o = &out, .err = err};
	int rc;

	if (records)
		*records = 0;
	if (!c || !sink)
		return tt_error_set(err, TT_EINTERNAL, NULL, NULL,
		                    "the export could not be started");
	zipout_open(&out, sink, false, "gdpr export", "the export could not be written", 0644, err);
	rc = gdpr_profile_get(c, user_id, profile_cb, &j, err);
	if (rc == 0)
		rc = zip ? write_zip(&j, sink) : write_json(&j);
	json_decref(j.profile);
	if (rc == 0 && records)
		*records = j.entries;
	if (rc > 0) /* a callback's stop value that is not an error code */
		rc = tt_error_set(err, TT_EINTERNAL, NULL, NULL, "the export could not be written");
	return rc;
}
