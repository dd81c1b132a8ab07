/*
 * imports.c (api) - the import endpoints of SPEC §3.3: upload (streamed to
 * a file by the HTTP layer), dry run, status, errors, history, cancel, undo
 * and the CSV templates. The work itself is a job (imports/import_job.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/api.h"
#include "api/input.h"
#include "imports/import.h"
#include "jobs/jobs.h"
#include "store/imports.h"
#include "store/jobs.h"
#include "util/config.h"
#include "util/log.h"

#define WAIT_TIMEOUT_MS (15 * 60 * 1000)

static void reply_csv(http_req *req, const char *filename, const char *body, size_t len)
{
	http_add_header(req, "Content-Disposition",
			http_printf(req, "attachment; filename=\"%s\"", filename));
	http_reply_data(req, 200, "text/csv; charset=utf-8", body, len);
}

void h_import_template_csv(http_req *req)
{
	reply_csv(req, "timetracker_import_template.csv", IMPORT_TEMPLATE_CSV,
		  strlen(IMPORT_TEMPLATE_CSV));
}

void h_import_template_clients(http_req *req)
{
	reply_csv(req, "timetracker_clients_import_template.csv", IMPORT_CLIENTS_TEMPLATE_CSV,
		  strlen(IMPORT_CLIENTS_TEMPLATE_CSV));
}

/* ---- status ---- */

static int progress_percent(const import_rec *r)
{
	if (!strcmp(r->status, "pending"))
		return 0;
	if (strcmp(r->status, "processing"))
		return 100;
	if (r->file_size <= 0)
		return 0;
	return (int)(r->bytes_processed * 100 / r->file_size > 99 ? 99
								  : r->bytes_processed * 100 / r->file_size);
}

static json_t *import_json(const import_rec *r)
{
	json_t *summary = r->summary ? json_loads(r->summary, 0, NULL) : NULL;
	json_t *options = r->options ? json_loads(r->options, 0, NULL) : NULL;

	return json_pack("{s:I, s:I, s:s, s:s, s:s?, s:s, s:I, s:I, s:I, s:I, s:I, s:i, s:o, s:o,"
			 " s:o, s:o, s:o, s:I, s:I, s:s?, s:o, s:s}",
			 "id", (json_int_t)r->id, "user_id", (json_int_t)r->user_id, "user", r->username,
			 "import_type", r->import_type, "source_file", r->source_file, "status",
			 r->status, "total_records", (json_int_t)r->total, "successful_records",
			 (json_int_t)r->successful, "failed_records", (json_int_t)r->failed,
			 "skipped_records", (json_int_t)r->skipped, "warning_count",
			 (json_int_t)r->warnings, "progress_percent", progress_percent(r),
			 "created_at", api_time(r->created_at), "started_at", api_time(r->started_at),
			 "completed_at", api_time(r->completed_at), "undone_at", api_time(r->undone_at),
			 "summary", summary ? summary : json_null(), "error_count",
			 (json_int_t)r->failed, "file_size", (json_int_t)r->file_size, "error_message",
			 r->error_message, "options", options ? options : json_object(), "status_url",
			 "");
}

/* Loads import id if the requester may see it (owner or admin); else replies 404. */
static int load_visible(http_req *req, int64_t id, import_rec *r)
{
	tt_error err;

	tt_error_init(&err);
	if (imports_get(req->db, id, r, &err)) {
		http_reply_tt_error(req, &err);
		return -1;
	}
	if (r->user_id != req->user.id && !req->user.is_admin) {
		import_rec_release(r);
		http_reply_error(req, 404, "not_found", NULL, "no such import");
		return -1;
	}
	return 0;
}

static json_t *status_json(http_req *req, const import_rec *r)
{
	json_t *o = import_json(r);

	json_object_set_new(o, "status_url", json_string(http_printf(req, "/api/import/status/%lld",
								     (long long)r->id)));
	return o;
}

void h_import_status(http_req *req)
{
	import_rec r;

	if (load_visible(req, req->params[0], &r))
		return;
	http_reply_json(req, 200, status_json(req, &r));
	import_rec_release(&r);
}

/* ---- upload ---- */

static bool acceptable_extension(const char *name)
{
	const char *dot = strrchr(name, '.');

	return !dot || !strcasecmp(dot, ".csv") || !strcasecmp(dot, ".txt") || !strcasecmp(dot, ".tsv");
}

/* Looks at the first bytes: refuses binary and UTF-16 files with a clear message. */
static int sniff_text(const char *path, tt_error *err)
{
	unsigned char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return tt_error_set(err, TT_EIO, NULL, NULL, "cannot read the upload");
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0)
		return tt_error_set(err, TT_EINVAL, "empty_file", "file", "the file is empty");
	if (n >= 2 && ((buf[0] == 0xFF && buf[1] == 0xFE) || (buf[0] == 0xFE && buf[1] == 0xFF)))
		return tt_error_set(err, TT_EINVAL, "invalid_file", "file",
				    "the file is UTF-16 text; save it as \"CSV UTF-8\"");
	if (memchr(buf, 0, (size_t)n))
		return tt_error_set(err, TT_EINVAL, "invalid_file", "file",
				    "the file is not a CSV text file (it contains binary data)");
	return 0;
}

/* Reads the import options from the upload's form fields. */
static int upload_options(http_req *req, struct import_options *o, tt_error *err)
{
	static const char *const keys[] = { "format", "timezone", "date_order", "delimiter",
					    "duplicates", "atomic", "dry_run", "wait", NULL };

	import_options_init(o);
	for (const char *const *k = keys; *k; k++) {
		const char *v = http_upload_field(req, *k);
		int rc;

		if (!v)
			v = http_query(req, *k);
		if (v && (rc = import_options_set(o, *k, v, err)) < 0)
			return rc;
	}
	for (struct http_header *h = req->upload.fields; h; h = h->next) {
		bool known = !strcmp(h->name, "csrf_token");

		for (const char *const *k = keys; *k; k++)
			known = known || !strcmp(h->name, *k);
		if (!known)
			return tt_error_set(err, TT_EINVAL, "unknown_field", h->name,
					    "unknown field \"%.60s\"", h->name);
	}
	return 0;
}

static int check_upload(http_req *req, tt_error *err)
{
	if (!req->upload.has_file)
		return tt_error_set(err, TT_EINVAL, "missing_field", "file",
				    "send the CSV file in a multipart field named \"file\"");
	if (!acceptable_extension(req->upload.filename))
		return tt_error_set(err, TT_EINVAL, "invalid_file", "file",
				    "expected a .csv file, got \"%.100s\"", req->upload.filename);
	return sniff_text(req->upload.path, err);
}

static void reply_dry_run(http_req *req, const struct import_options *o)
{
	struct import_result res;
	json_t *summary;

	import_result_init(&res);
	csv_import_run(req->db, 0, &req->user, req->upload.path, o, NULL, &res);
	if (res.fatal[0]) {
		http_reply_error(req, 400, "invalid_file", "file", "%s", res.fatal);
		import_result_release(&res);
		return;
	}
	summary = import_summary_json(req->db, 0, &res);
	http_reply_json(req, 200,
			json_pack("{s:b, s:b, s:s, s:o, s:O, s:O, s:{s:I, s:I, s:I, s:I}}", "success",
				  1, "dry_run", 1, "status", res.status, "summary", summary, "errors",
				  res.errors, "preview", res.preview, "would_create", "clients",
				  (json_int_t)res.created[0], "projects", (json_int_t)res.created[1],
				  "tasks", (json_int_t)res.created[2], "tags", (json_int_t)res.created[3]));
	import_result_release(&res);
}

/*
 * Records the import (type "csv" or "csv_clients") and, when start is set,
 * queues its job of `kind`: the upload is moved to uploads/import-<id>.csv
 * in the data directory. Returns 0 with *id.
 */
static int import_enqueue(http_req *req, const char *type, const char *kind,
			  const char *options_json, bool start, int64_t *id, tt_error *err)
{
	char rel[128], abs[1024];
	int64_t job_id;
	int rc;

	if ((rc = store_begin(req->db, STORE_TX_WRITE, err)))
		return rc;
	if ((rc = imports_create(req->db, req->user.id, type, req->upload.filename, NULL,
				 req->upload.size, options_json, id, err)))
		goto fail;
	snprintf(rel, sizeof(rel), "uploads/import-%lld.csv", (long long)*id);
	snprintf(abs, sizeof(abs), "%s/%s", cfg.data_dir, rel);
	if ((rc = imports_set_file(req->db, *id, rel, err)) ||
	    (start && (rc = jobs_submit(req->db, kind, *id, false, &job_id, err))))
		goto fail;
	if (rename(req->upload.path, abs)) {
		log_error("import: cannot move the upload to %s: %s", abs, strerror(errno));
		rc = tt_error_set(err, TT_EIO, NULL, NULL, "cannot store the upload");
		goto fail;
	}
	req->upload.taken = true;
	if ((rc = store_commit(req->db, err))) {
		unlink(abs);
		return rc;
	}
	if (start)
		jobs_notify();
	return 0;
fail:
	store_rollback(req->db);
	return rc;
}

static int enqueue_csv(http_req *req, const struct import_options *o, bool start, int64_t *id,
		       tt_error *err)
{
	json_t *opts = import_options_to_json(o);
	char *text = json_dumps(opts, JSON_COMPACT);
	int rc;

	json_decref(opts);
	rc = import_enqueue(req, "csv", IMPORT_JOB_CSV, text, start, id, err);
	free(text);
	return rc;
}

/* Waits for the job of import id to end. 0, or TT_EBUSY after the timeout. */
static int wait_import(http_req *req, const char *kind, int64_t id, tt_error *err)
{
	job_rec j;
	int rc = jobq_get_by_ref(req->db, kind, id, &j, err);

	if (rc)
		return rc;
	rc = jobs_wait(req->store, j.id, WAIT_TIMEOUT_MS, err);
	job_rec_release(&j);
	return rc;
}

static void reply_started(http_req *req, const char *kind, int64_t id, bool wait);

void h_import_csv(http_req *req)
{
	struct import_options o;
	tt_error err;
	int64_t id;

	tt_error_init(&err);
	if (upload_options(req, &o, &err) || check_upload(req, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	if (o.dry_run) {
		reply_dry_run(req, &o);
		return;
	}
	if (enqueue_csv(req, &o, true, &id, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	reply_started(req, IMPORT_JOB_CSV, id, o.wait);
}

/* Answers 202 (or, with wait, 200 and the final status once the job ended). */
static void reply_started(http_req *req, const char *kind, int64_t id, bool wait)
{
	import_rec r;
	tt_error err;

	tt_error_init(&err);
	if (wait && wait_import(req, kind, id, &err) == 0 && imports_get(req->db, id, &r, &err) == 0) {
		json_t *out = status_json(req, &r);

		json_object_set_new(out, "success", json_true());
		json_object_set_new(out, "import_id", json_integer(id));
		http_reply_json(req, 200, out);
		import_rec_release(&r);
		return;
	}
	/* Without wait, or still running after the wait: poll status_url. */
	http_reply_json(req, 202,
			json_pack("{s:b, s:I, s:s, s:s}", "success", 1, "import_id", (json_int_t)id,
				  "status", "pending", "status_url",
				  http_printf(req, "/api/import/status/%lld", (long long)id)));
}

/* ---- errors, history, cancel, undo ---- */

static int error_json_cb(void *ctx, const import_error_rec *e)
{
	json_array_append_new(ctx, json_pack("{s:I, s:I, s:s?, s:s?, s:s, s:s, s:s}", "row",
					     (json_int_t)e->row, "line", (json_int_t)e->line,
					     "column", e->column, "value", e->value, "code", e->code,
					     "message", e->message, "severity", e->severity));
	return 0;
}

struct csv_buf {
	char *data;
	size_t len, cap;
};

static void buf_add(struct csv_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->data = realloc(b->data, b->cap);
		if (!b->data)
			abort();
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Appends one CSV cell with RFC 4180 quoting and the spreadsheet guard. */
static void buf_cell(struct csv_buf *b, const char *v, bool last)
{
	bool quote = v && strpbrk(v, ",\"\r\n") != NULL;

	if (v && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' ||
		  v[0] == '\r')) {
		quote = true;
		buf_add(b, "\"'", 2);
	} else if (quote) {
		buf_add(b, "\"", 1);
	}
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '"')
			buf_add(b, "\"", 1);
		buf_add(b, p, 1);
	}
	if (quote)
		buf_add(b, "\"", 1);
	buf_add(b, last ? "\r\n" : ",", last ? 2 : 1);
}

static int error_csv_cb(void *ctx, const import_error_rec *e)
{
	struct csv_buf *b = ctx;
	char num[32];

	snprintf(num, sizeof(num), "%lld", (long long)e->row);
	buf_cell(b, num, false);
	snprintf(num, sizeof(num), "%lld", (long long)e->line);
	buf_cell(b, num, false);
	buf_cell(b, e->column, false);
	buf_cell(b, e->value, false);
	buf_cell(b, e->code, false);
	buf_cell(b, e->message, false);
	buf_cell(b, e->severity, true);
	return 0;
}

void h_import_errors(http_req *req)
{
	const char *format = http_query(req, "format");
	const char *v;
	const char *severity = "error";
	int64_t limit = 1000, offset = 0, total = 0;
	import_rec r;
	tt_error err;
	bool b = false;

	tt_error_init(&err);
	if (load_visible(req, req->params[0], &r))
		return;
	if (format && strcmp(format, "json") && strcmp(format, "csv")) {
		import_rec_release(&r);
		http_reply_error(req, 400, "invalid_field", "format", "format must be json or csv");
		return;
	}
	if (((v = http_query(req, "limit")) && q_int("limit", v, 1, 100000, &limit, &err)) ||
	    ((v = http_query(req, "offset")) && q_int("offset", v, 0, INT64_MAX / 2, &offset, &err)) ||
	    ((v = http_query(req, "include_warnings")) && q_bool("include_warnings", v, &b, &err))) {
		import_rec_release(&r);
		http_reply_tt_error(req, &err);
		return;
	}
	if (http_query(req, "include_warnings") && b)
		severity = NULL;
	if (format && !strcmp(format, "csv")) {
		struct csv_buf buf = { 0 };

		buf_add(&buf, "row,line,column,value,code,message,severity\r\n", 45);
		if (imports_errors(req->db, r.id, severity, limit, offset, error_csv_cb, &buf, &total,
				   &err)) {
			free(buf.data);
			import_rec_release(&r);
			http_reply_tt_error(req, &err);
			return;
		}
		http_add_header(req, "Content-Disposition",
				http_printf(req, "attachment; filename=\"import-%lld-errors.csv\"",
					    (long long)r.id));
		http_reply_data(req, 200, "text/csv; charset=utf-8", buf.data, buf.len);
		free(buf.data);
	} else {
		json_t *arr = json_array();

		if (imports_errors(req->db, r.id, severity, limit, offset, error_json_cb, arr, &total,
				   &err)) {
			json_decref(arr);
			import_rec_release(&r);
			http_reply_tt_error(req, &err);
			return;
		}
		http_reply_json(req, 200, json_pack("{s:o, s:I, s:I, s:I}", "errors", arr, "total",
						    (json_int_t)total, "limit", (json_int_t)limit,
						    "offset", (json_int_t)offset));
	}
	import_rec_release(&r);
}

struct history_ctx {
	http_req *req;
	json_t *arr;
};

static int history_cb(void *ctx, const import_rec *r)
{
	struct history_ctx *h = ctx;

	json_array_append_new(h->arr, status_json(h->req, r));
	return 0;
}

void h_import_history(http_req *req)
{
	struct history_ctx h = { req, NULL };
	int64_t limit, offset, user_id, total = 0;
	tt_error err;

	tt_error_init(&err);
	if (api_history_scope(req, true, "imports", &limit, &offset, &user_id))
		return;
	h.arr = json_array();
	if (imports_history(req->db, user_id, limit, offset, history_cb, &h, &total, &err)) {
		json_decref(h.arr);
		http_reply_tt_error(req, &err);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:o, s:I, s:I, s:I}", "imports", h.arr, "total",
					    (json_int_t)total, "limit", (json_int_t)limit, "offset",
					    (json_int_t)offset));
}

void h_import_cancel(http_req *req)
{
	import_rec r;
	job_rec j;
	tt_error err;

	tt_error_init(&err);
	if (load_visible(req, req->params[0], &r))
		return;
	if (strcmp(r.status, "pending") && strcmp(r.status, "processing")) {
		http_reply_error(req, 409, "conflict", NULL, "the import has already ended (%s)", r.status);
		import_rec_release(&r);
		return;
	}
	if (jobq_get_by_ref(req->db, strcmp(r.import_type, "csv_clients") ? IMPORT_JOB_CSV : IMPORT_JOB_CLIENTS,
			    r.id, &j, &err) == 0) {
		int rc = jobs_cancel(req->db, j.id, &err);

		job_rec_release(&j);
		if (rc) {
			import_rec_release(&r);
			http_reply_tt_error(req, &err);
			return;
		}
	} else if (!strcmp(r.import_type, "csv") && !strcmp(r.status, "pending")) {
		/* A wizard import that was never started: its upload goes too. */
		imports_finish(req->db, r.id, "cancelled", NULL, NULL, &err);
		if (r.file_name) {
			char path[1024];

			snprintf(path, sizeof(path), "%s/%s", cfg.data_dir, r.file_name);
			unlink(path);
		}
	} else {
		http_reply_error(req, 409, "conflict", NULL, "this import cannot be cancelled (%s)",
				 r.status);
		import_rec_release(&r);
		return;
	}
	import_rec_release(&r);
	if (imports_get(req->db, req->params[0], &r, &err) == 0) {
		http_reply_json(req, 200, json_pack("{s:b, s:s, s:I}", "success", 1, "status",
						    !strcmp(r.status, "processing") ? "cancelling" : r.status,
						    "import_id", (json_int_t)r.id));
		import_rec_release(&r);
		return;
	}
	http_reply_tt_error(req, &err);
}

void h_import_undo(http_req *req)
{
	static const char *const keys[] = { "force", NULL };
	int64_t deleted[5] = { 0 }, edited = 0;
	bool force = false, present;
	import_rec r;
	tt_error err;

	tt_error_init(&err);
	if (in_only_keys(req->json, keys, &err) || in_bool(req->json, "force", &force, &present, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	if (load_visible(req, req->params[0], &r))
		return;
	if (!strcmp(r.status, "pending") || !strcmp(r.status, "processing")) {
		http_reply_error(req, 409, "conflict", NULL,
				 "the import is still running; cancel it first, then undo it");
		goto out;
	}
	if (!strcmp(r.status, "undone")) {
		http_reply_error(req, 409, "conflict", NULL, "the import has already been undone");
		goto out;
	}
	if (!strcmp(r.import_type, "backup")) {
		http_reply_error(req, 409, "conflict", NULL,
				 "a restore cannot be undone here; restore its pre-restore backup instead");
		goto out;
	}
	if (store_begin(req->db, STORE_TX_WRITE, &err) ||
	    imports_edited_count(req->db, r.id, &edited, &err))
		goto fail;
	if (edited && !force) {
		store_rollback(req->db);
		http_reply_error(req, 409, "edited_since_import", NULL,
				 "%lld entr%s of this import %s edited since; send {\"force\": true} to remove them anyway",
				 (long long)edited, edited == 1 ? "y" : "ies", edited == 1 ? "was" : "were");
		goto out;
	}
	if (imports_undo(req->db, r.id, deleted, &err) || imports_mark_undone(req->db, r.id, &err) ||
	    store_commit(req->db, &err))
		goto fail;
	http_reply_json(req, 200,
			json_pack("{s:b, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:I}}", "success", 1, "status",
				  "undone", "import_id", (json_int_t)r.id, "deleted", "entries",
				  (json_int_t)deleted[0], "clients", (json_int_t)deleted[1], "projects",
				  (json_int_t)deleted[2], "tasks", (json_int_t)deleted[3], "tags",
				  (json_int_t)deleted[4]));
	goto out;
fail:
	store_rollback(req->db);
	http_reply_tt_error(req, &err);
out:
	import_rec_release(&r);
}

/* ---- clients CSV ---- */

void h_import_csv_clients(http_req *req)
{
	const char *skip = http_upload_field(req, "skip_duplicates");
	const char *fields = http_upload_field(req, "duplicate_detection_fields");
	const char *wait = http_upload_field(req, "wait");
	bool skip_dups = true, do_wait = false;
	json_t *opts;
	char *text;
	tt_error err;
	int64_t id;
	int rc;

	tt_error_init(&err);
	for (struct http_header *h = req->upload.fields; h; h = h->next) {
		if (strcmp(h->name, "skip_duplicates") && strcmp(h->name, "duplicate_detection_fields") &&
		    strcmp(h->name, "wait") && strcmp(h->name, "csrf_token")) {
			http_reply_error(req, 400, "unknown_field", h->name, "unknown field \"%.60s\"",
					 h->name);
			return;
		}
	}
	if ((skip && q_bool("skip_duplicates", skip, &skip_dups, &err)) ||
	    (wait && q_bool("wait", wait, &do_wait, &err)) || check_upload(req, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	if (fields) {
		static const char *known[] = { "name", "email", "phone", "contact_person", NULL };
		char *copy = strdup(fields), *save = NULL;
		bool ok = copy != NULL;

		for (char *t = copy ? strtok_r(copy, ", ", &save) : NULL; t; t = strtok_r(NULL, ", ", &save)) {
			bool k = false;

			for (const char **n = known; *n; n++)
				k = k || !strcmp(*n, t);
			ok = ok && k;
		}
		free(copy);
		if (!ok) {
			http_reply_error(req, 400, "invalid_field", "duplicate_detection_fields",
					 "duplicate_detection_fields must list fields among name, email, phone, contact_person");
			return;
		}
	}
	opts = json_pack("{s:b, s:s}", "skip_duplicates", skip_dups, "duplicate_detection_fields",
			 fields ? fields : "name");
	text = json_dumps(opts, JSON_COMPACT);
	json_decref(opts);
	rc = import_enqueue(req, "csv_clients", IMPORT_JOB_CLIENTS, text, true, &id, &err);
	free(text);
	if (rc) {
		http_reply_tt_error(req, &err);
		return;
	}
	reply_started(req, IMPORT_JOB_CLIENTS, id, do_wait);
}

/* ---- migration wizard: a guided import over the same pipeline ---- */

/*
 * start: uploads the file and records a pending import (no job yet) with its
 * options; preview: a real dry run of that file; execute: queues the import.
 */
void h_wizard_start(http_req *req)
{
	struct import_options o;
	const char *source = http_upload_field(req, "source");
	tt_error err;
	int64_t id;

	tt_error_init(&err);
	if (source && strcmp(source, "csv") && strcmp(source, "timetracker")) {
		http_reply_error(req, 400, "invalid_field", "source",
				 "source must be csv (Toggl and Harvest files and APIs come in a later version)");
		return;
	}
	{
		/* "source" is the wizard's own field; the rest are import options. */
		struct http_header **pp = &req->upload.fields;

		while (*pp) {
			if (!strcmp((*pp)->name, "source"))
				*pp = (*pp)->next;
			else
				pp = &(*pp)->next;
		}
	}
	if (upload_options(req, &o, &err) || check_upload(req, &err) ||
	    enqueue_csv(req, &o, false, &id, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	http_reply_json(req, 201,
			json_pack("{s:b, s:I, s:s, s:s, s:s}", "success", 1, "wizard_id", (json_int_t)id,
				  "status", "pending", "preview_url",
				  http_printf(req, "/api/migration/wizard/%lld/preview", (long long)id),
				  "execute_url",
				  http_printf(req, "/api/migration/wizard/%lld/execute", (long long)id)));
}

static int load_wizard(http_req *req, import_rec *r)
{
	if (load_visible(req, req->params[0], r))
		return -1;
	if (strcmp(r->status, "pending") || strcmp(r->import_type, "csv")) {
		http_reply_error(req, 409, "conflict", NULL,
				 "this import has already been started (%s)", r->status);
		import_rec_release(r);
		return -1;
	}
	return 0;
}

void h_wizard_preview(http_req *req)
{
	struct import_options o;
	struct import_result res;
	import_rec r;
	char path[1024];
	json_t *summary;

	if (load_wizard(req, &r))
		return;
	import_options_from_json(&o, r.options);
	o.dry_run = true;
	snprintf(path, sizeof(path), "%s/%s", cfg.data_dir, r.file_name ? r.file_name : "");
	import_result_init(&res);
	csv_import_run(req->db, 0, &req->user, path, &o, NULL, &res);
	if (res.fatal[0]) {
		http_reply_error(req, 400, "invalid_file", "file", "%s", res.fatal);
	} else {
		summary = import_summary_json(req->db, 0, &res);
		http_reply_json(req, 200,
				json_pack("{s:b, s:b, s:I, s:s, s:o, s:O, s:O, s:{s:I, s:I, s:I, s:I}}",
					  "success", 1, "dry_run", 1, "wizard_id", (json_int_t)r.id,
					  "status", res.status, "summary", summary, "errors", res.errors,
					  "preview", res.preview, "would_create", "clients",
					  (json_int_t)res.created[0], "projects", (json_int_t)res.created[1],
					  "tasks", (json_int_t)res.created[2], "tags", (json_int_t)res.created[3]));
	}
	import_result_release(&res);
	import_rec_release(&r);
}

void h_wizard_execute(http_req *req)
{
	import_rec r = { 0 };
	job_rec j = { 0 };
	bool started;
	tt_error err;
	int64_t job_id;

	tt_error_init(&err);
	if (load_wizard(req, &r))
		return;
	import_rec_release(&r);
	/* Check again under the write lock: two executes must not queue two jobs. */
	if (store_begin(req->db, STORE_TX_WRITE, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	if (jobq_get_by_ref(req->db, IMPORT_JOB_CSV, req->params[0], &j, &err) == 0) {
		job_rec_release(&j);
		started = true;
	} else if (imports_get(req->db, req->params[0], &r, &err) == 0) {
		started = strcmp(r.status, "pending") != 0;
		import_rec_release(&r);
	} else {
		started = true;
	}
	if (started) {
		store_rollback(req->db);
		http_reply_error(req, 409, "conflict", NULL, "this import has already been started");
		return;
	}
	if (jobs_submit(req->db, IMPORT_JOB_CSV, req->params[0], false, &job_id, &err) ||
	    store_commit(req->db, &err)) {
		store_rollback(req->db);
		http_reply_tt_error(req, &err);
		return;
	}
	jobs_notify();
	reply_started(req, IMPORT_JOB_CSV, req->params[0], false);
}
