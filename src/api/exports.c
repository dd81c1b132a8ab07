/*
 * exports.c (api) - the export endpoints of SPEC §3.4: GDPR and filtered
 * exports (jobs), status, download (served from the file), history and
 * delete. Paths on the server are never shown; errors are sentences.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "api/input.h"
#include "exports/export.h"
#include "exports/filters.h"
#include "jobs/jobs.h"
#include "store/exports.h"
#include "util/config.h"
#include "util/log.h"

static const char *content_type_of(const char *format)
{
	const struct export_writer *w = export_writer_find(format);

	if (w)
		return w->content_type;
	if (!strcmp(format, "zip"))
		return "application/zip";
	if (!strcmp(format, "ttbackup"))
		return "application/zip";
	return "application/octet-stream";
}

static int progress_percent(const export_rec *r)
{
	if (!strcmp(r->status, "pending"))
		return 0;
	if (strcmp(r->status, "processing"))
		return 100;
	if (r->progress_total <= 0)
		return 0;
	return (int)(r->progress_done * 100 / r->progress_total > 99 ? 99
					: r->progress_done * 100 / r->progress_total);
}

static json_t *export_json(http_req *req, const export_rec *r)
{
	bool expired = !strcmp(r->status, "expired") ||
		       (r->expires_at && r->expires_at <= store_now() && !strcmp(r->status, "completed"));
	json_t *filters = r->filters ? json_loads(r->filters, 0, NULL) : NULL;

	return json_pack("{s:I, s:I, s:s, s:s, s:s, s:I, s:I, s:s?, s:i, s:o, s:o, s:o, s:b, s:s, s:s,"
			 " s:s?, s:s?, s:o}",
			 "id", (json_int_t)r->id, "user_id", (json_int_t)r->user_id, "export_type",
			 r->export_type, "export_format", r->export_format, "status",
			 expired ? "expired" : r->status, "record_count", (json_int_t)r->record_count,
			 "file_size", (json_int_t)r->file_size, "sha256", r->sha256, "progress_percent",
			 progress_percent(r), "created_at", api_time(r->created_at), "completed_at",
			 api_time(r->completed_at), "expires_at", api_time(r->expires_at), "is_expired",
			 expired, "download_url",
			 http_printf(req, "/api/export/download/%lld", (long long)r->id), "status_url",
			 http_printf(req, "/api/export/status/%lld", (long long)r->id), "filename",
			 r->download_name, "error", r->error_message, "filters",
			 filters ? filters : json_null());
}

/* Loads export id if the requester may see it (owner or admin); else replies 404. */
static int load_visible(http_req *req, int64_t id, export_rec *r)
{
	tt_error err;

	tt_error_init(&err);
	if (exports_get(req->db, id, r, &err)) {
		http_reply_tt_error(req, &err);
		return -1;
	}
	if (r->user_id != req->user.id && !req->user.is_admin) {
		export_rec_release(r);
		http_reply_error(req, 404, "not_found", NULL, "no such export");
		return -1;
	}
	return 0;
}

/* Records the export, names its file and queues its job; replies 202. */
static void start_export(http_req *req, const char *type, const char *format, const char *ext,
			 const char *kind, const char *filters_json)
{
	char file[128], download[160];
	tt_error err;
	int64_t id, job_id;

	tt_error_init(&err);
	if (store_begin(req->db, STORE_TX_WRITE, &err))
		goto fail;
	if (exports_create(req->db, req->user.id, type, format, filters_json, &id, &err) ||
	    export_file_names(id, type, ext, file, sizeof(file), download, sizeof(download)) ||
	    exports_set_names(req->db, id, file, download, &err) ||
	    jobs_submit(req->db, kind, id, false, &job_id, &err) || store_commit(req->db, &err)) {
		store_rollback(req->db);
		goto fail;
	}
	jobs_notify();
	http_reply_json(req, 202,
			json_pack("{s:b, s:I, s:s, s:s, s:s, s:s}", "success", 1, "export_id",
				  (json_int_t)id, "status", "pending", "filename", download, "download_url",
				  http_printf(req, "/api/export/download/%lld", (long long)id),
				  "status_url", http_printf(req, "/api/export/status/%lld", (long long)id)));
	return;
fail:
	http_reply_tt_error(req, &err);
}

void h_export_gdpr(http_req *req)
{
	static const char *const keys[] = { "format", NULL };
	const char *format = NULL;
	tt_error err;

	tt_error_init(&err);
	if (in_only_keys(req->json, keys, &err) ||
	    in_string(req->json, "format", false, 16, &format, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	if (!format)
		format = "json";
	if (strcmp(format, "json") && strcmp(format, "zip")) {
		http_reply_error(req, 400, "invalid_field", "format", "format must be json or zip");
		return;
	}
	start_export(req, "gdpr", format, format, EXPORT_JOB_GDPR, NULL);
}

void h_export_filtered(http_req *req)
{
	struct export_filters ef;
	const char *format = NULL;
	const struct export_writer *w;
	char *saved;
	tt_error err;

	tt_error_init(&err);
	export_filters_init(&ef);
	if (in_string(req->json, "format", true, 16, &format, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	w = export_writer_find(format);
	if (!w) {
		http_reply_error(req, 400, "invalid_field", "format",
				 "format must be csv, json, xlsx or ics");
		return;
	}
	if (export_filters_parse(req->db, &req->user, req->json, &ef, &err)) {
		export_filters_release(&ef);
		http_reply_tt_error(req, &err);
		return;
	}
	saved = json_dumps(ef.echo, JSON_COMPACT);
	start_export(req, "filtered", format, w->extension, EXPORT_JOB_FILTERED, saved);
	free(saved);
	export_filters_release(&ef);
}

void h_export_backup(http_req *req)
{
	static const char *const keys[] = { NULL };
	tt_error err;

	tt_error_init(&err);
	if (in_only_keys(req->json, keys, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	start_export(req, "backup", "ttbackup", "ttbackup", EXPORT_JOB_BACKUP, NULL);
}

void h_export_status(http_req *req)
{
	export_rec r;

	if (load_visible(req, req->params[0], &r))
		return;
	http_reply_json(req, 200, export_json(req, &r));
	export_rec_release(&r);
}

void h_export_download(http_req *req)
{
	char path[1024];
	struct stat st;
	export_rec r;
	int fd;

	if (load_visible(req, req->params[0], &r))
		return;
	if (!strcmp(r.status, "expired") ||
	    (r.expires_at && r.expires_at <= store_now() && !strcmp(r.status, "completed"))) {
		http_reply_error(req, 410, "expired", NULL,
				 "this export has expired and its file was deleted; create a new one");
		goto out;
	}
	if (!strcmp(r.status, "failed")) {
		http_reply_error(req, 409, "export_failed", NULL, "this export failed: %s",
				 r.error_message ? r.error_message : "no file was made");
		goto out;
	}
	if (strcmp(r.status, "completed")) {
		http_reply_error(req, 409, "not_ready", NULL,
				 "the export is not ready yet (%s); poll its status", r.status);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/exports/%s", cfg.data_dir, r.file_name ? r.file_name : "");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		log_error("export %lld: its file is missing: %s", (long long)r.id, strerror(errno));
		http_reply_error(req, 410, "expired", NULL, "the export's file is gone; create a new one");
		goto out;
	}
	http_reply_file(req, fd, st.st_size, content_type_of(r.export_format),
			r.download_name ? r.download_name : "export");
out:
	export_rec_release(&r);
}

void h_export_delete(http_req *req)
{
	char path[1024];
	export_rec r;
	tt_error err;

	tt_error_init(&err);
	if (load_visible(req, req->params[0], &r))
		return;
	if (!strcmp(r.status, "pending") || !strcmp(r.status, "processing")) {
		http_reply_error(req, 409, "conflict", NULL, "the export is still running");
		goto out;
	}
	if (r.file_name) {
		snprintf(path, sizeof(path), "%s/exports/%s", cfg.data_dir, r.file_name);
		if (unlink(path) && errno != ENOENT) {
			log_error("export %lld: cannot delete its file: %s", (long long)r.id, strerror(errno));
			http_reply_error(req, 500, "internal_error", NULL, "the file could not be deleted");
			goto out;
		}
	}
	if (!strcmp(r.status, "completed") && exports_mark_expired(req->db, r.id, &err)) {
		http_reply_tt_error(req, &err);
		goto out;
	}
	http_reply_json(req, 200, json_pack("{s:b, s:I}", "success", 1, "export_id", (json_int_t)r.id));
out:
	export_rec_release(&r);
}

struct history_ctx {
	http_req *req;
	json_t *arr;
};

static int history_cb(void *ctx, const export_rec *r)
{
	struct history_ctx *h = ctx;

	json_array_append_new(h->arr, export_json(h->req, r));
	return 0;
}

void h_export_history(http_req *req)
{
	struct history_ctx h = { req, NULL };
	int64_t limit, offset, user_id, total = 0;
	tt_error err;

	tt_error_init(&err);
	if (api_history_scope(req, false, "exports", &limit, &offset, &user_id))
		return;
	h.arr = json_array();
	if (exports_history(req->db, user_id, limit, offset, history_cb, &h, &total, &err)) {
		json_decref(h.arr);
		http_reply_tt_error(req, &err);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:o, s:I, s:I, s:I}", "exports", h.arr, "total",
					    (json_int_t)total, "limit", (json_int_t)limit, "offset",
					    (json_int_t)offset));
}
