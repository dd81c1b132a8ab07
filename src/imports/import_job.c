/*
 * import_job.c - the "import_csv" job kind: loads the data_imports row and
 * its options, runs the pipeline, removes the upload when the import ends,
 * and builds the summary of SPEC §3.3.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/datetime.h"
#include "imports/import.h"
#include "store/imports.h"
#include "util/config.h"
#include "util/log.h"

void import_result_init(struct import_result *r)
{
	memset(r, 0, sizeof(*r));
}

void import_result_release(struct import_result *r)
{
	if (r->errors)
		json_decref(r->errors);
	if (r->preview)
		json_decref(r->preview);
	memset(r, 0, sizeof(*r));
}

static int first_errors_cb(void *ctx, const import_error_rec *e)
{
	json_t *arr = ctx;

	json_array_append_new(arr, json_sprintf("Row %lld: %s", (long long)e->row, e->message));
	return 0;
}

json_t *import_summary_json(store_conn *c, int64_t import_id, const struct import_result *r)
{
	json_t *errors = json_array();
	json_t *range = json_null();
	int64_t total = 0;

	if (import_id)
		imports_errors(c, import_id, "error", IMPORT_SUMMARY_ERRORS, 0, first_errors_cb, errors,
			       &total, NULL);
	else if (r->errors) {
		size_t i;
		json_t *e;

		json_array_foreach(r->errors, i, e) {
			if (json_array_size(errors) >= IMPORT_SUMMARY_ERRORS)
				break;
			if (strcmp(json_string_value(json_object_get(e, "severity")), "error"))
				continue;
			json_array_append_new(
				errors, json_sprintf("Row %lld: %s",
						     (long long)json_integer_value(json_object_get(e, "row")),
						     json_string_value(json_object_get(e, "message"))));
		}
	}
	if (r->ok && r->min_start) {
		char a[21], b[21];

		dt_format_utc(r->min_start, a);
		dt_format_utc(r->max_start, b);
		range = json_pack("{s:s, s:s}", "from", a, "to", b);
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:{s:I, s:I, s:I, s:I}}", "total",
			 (json_int_t)r->total, "successful", (json_int_t)r->ok, "failed",
			 (json_int_t)r->failed, "skipped", (json_int_t)r->skipped, "warnings",
			 (json_int_t)r->warnings, "errors", errors, "date_range", range, "created",
			 "clients", (json_int_t)r->created[0], "projects", (json_int_t)r->created[1],
			 "tasks", (json_int_t)r->created[2], "tags", (json_int_t)r->created[3]);
}

static int run_csv(job *j)
{
	struct import_options o;
	struct import_result res;
	import_rec rec;
	user_rec u;
	tt_error err;
	char path[1024];
	int result;

	tt_error_init(&err);
	if (imports_get(j->c, j->ref_id, &rec, &err)) {
		log_error("import job %lld: import %lld is gone", (long long)j->id, (long long)j->ref_id);
		return JOB_FAILED;
	}
	if (!strcmp(rec.status, "cancelled") || !strcmp(rec.status, "undone")) {
		import_rec_release(&rec);
		return JOB_CANCELLED;
	}
	if (users_get(j->c, rec.user_id, &u, &err)) {
		imports_finish(j->c, rec.id, "failed", NULL, "the importing user no longer exists", &err);
		import_rec_release(&rec);
		return JOB_FAILED;
	}
	import_options_from_json(&o, rec.options);
	snprintf(path, sizeof(path), "%s/%s", cfg.data_dir, rec.file_name ? rec.file_name : "");
	import_result_init(&res);
	result = csv_import_run(j->c, rec.id, &u, path, &o, j, &res);
	if (result != JOB_INTERRUPTED && rec.file_name)
		unlink(path); /* the upload is not kept once the import has ended */
	log_info("import %lld: %s: %lld rows, %lld stored, %lld failed, %lld skipped%s%s",
		 (long long)rec.id, res.status[0] ? res.status : "interrupted", (long long)res.total,
		 (long long)res.ok, (long long)res.failed, (long long)res.skipped,
		 res.fatal[0] ? ": " : "", res.fatal);
	import_result_release(&res);
	import_rec_release(&rec);
	return result;
}

static void abandon_import(store_conn *c, int64_t ref_id, const char *reason)
{
	import_rec rec;
	tt_error err;

	tt_error_init(&err);
	if (imports_get(c, ref_id, &rec, &err))
		return;
	imports_finish(c, ref_id, rec.successful ? "partial" : "failed", NULL, reason, &err);
	if (rec.file_name) {
		char path[1024];

		snprintf(path, sizeof(path), "%s/%s", cfg.data_dir, rec.file_name);
		unlink(path);
	}
	import_rec_release(&rec);
}

static void cancel_queued_import(store_conn *c, int64_t ref_id)
{
	abandon_import(c, ref_id, NULL);
	imports_finish(c, ref_id, "cancelled", NULL, NULL, NULL);
}

static const struct job_kind csv_kind = {
	.name = IMPORT_JOB_CSV,
	.resumable = true,
	.run = run_csv,
	.abandon = abandon_import,
	.cancel_queued = cancel_queued_import,
};

void imports_register_jobs(void)
{
	jobs_register(&csv_kind);
	imports_register_clients_job();
}
