/*
 * backup.c (api) - verify and restore endpoints (admins). Creating a backup
 * is an export (POST /api/export/backup, in exports.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/input.h"
#include "backup/backup.h"
#include "jobs/jobs.h"
#include "store/jobs.h"
#include "store/migrate.h"
#include "util/config.h"
#include "util/crypto.h"
#include "util/log.h"

#define RESTORE_WAIT_MS (30 * 60 * 1000)

static json_t *report_json(const backup_report *rep)
{
	json_t *counts = json_object();

	for (int i = 0; i < backup_table_count(); i++)
		json_object_set_new(counts, BACKUP_TABLES[i].name, json_integer(rep->counts[i]));
	return json_pack("{s:b, s:i, s:i, s:s, s:s, s:s, s:o, s:O}", "valid", rep->valid,
			 "format_version", rep->format_version, "schema_version", rep->schema_version,
			 "engine", rep->engine, "app_version", rep->app_version, "created_at",
			 rep->created_at, "counts", counts, "problems", rep->problems);
}

static int check_file(http_req *req, tt_error *err)
{
	if (!req->upload.has_file)
		return tt_error_set(err, TT_EINVAL, "missing_field", "file",
				    "send the backup in a multipart field named \"file\"");
	return 0;
}

void h_backup_verify(http_req *req)
{
	backup_report rep;
	tt_error err;

	tt_error_init(&err);
	for (struct http_header *h = req->upload.fields; h; h = h->next)
		if (strcmp(h->name, "csrf_token")) {
			http_reply_error(req, 400, "unknown_field", h->name, "unknown field \"%.60s\"", h->name);
			return;
		}
	if (check_file(req, &err) ||
	    backup_verify(req->upload.path, migrate_latest(), (int64_t)cfg.max_upload_mb * 1024 * 1024 * 16,
			  &rep, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	http_reply_json(req, 200, report_json(&rep));
	backup_report_release(&rep);
}

static json_t *restore_json(http_req *req, const job_rec *j)
{
	json_t *cp = j->checkpoint ? json_loads(j->checkpoint, 0, NULL) : NULL;
	json_t *result = cp ? json_object_get(cp, "result") : NULL;
	const char *status = !strcmp(j->state, "queued") ? "pending"
			     : !strcmp(j->state, "running") ? "processing"
			     : !strcmp(j->state, "done") ? "completed" : j->state;
	json_t *o = json_pack("{s:I, s:s, s:s, s:s?, s:O?}", "restore_id", (json_int_t)j->id, "status",
			      status, "status_url",
			      http_printf(req, "/api/backup/restore/%lld", (long long)j->id), "error",
			      j->error, "result", result);

	json_decref(cp);
	return o;
}

void h_backup_restore(http_req *req)
{
	const char *confirm = http_upload_field(req, "confirm");
	const char *wait = http_upload_field(req, "wait");
	char rnd[16], rel[128], abs[1024];
	bool yes = false, do_wait = false;
	int64_t job_id;
	json_t *params;
	char *text;
	job_rec j;
	tt_error err;

	tt_error_init(&err);
	for (struct http_header *h = req->upload.fields; h; h = h->next)
		if (strcmp(h->name, "csrf_token") && strcmp(h->name, "confirm") && strcmp(h->name, "wait")) {
			http_reply_error(req, 400, "unknown_field", h->name, "unknown field \"%.60s\"", h->name);
			return;
		}
	if (check_file(req, &err) || (confirm && q_bool("confirm", confirm, &yes, &err)) ||
	    (wait && q_bool("wait", wait, &do_wait, &err))) {
		http_reply_tt_error(req, &err);
		return;
	}
	if (!yes) {
		http_reply_error(req, 400, "confirmation_required", "confirm",
				 "a restore replaces ALL data of this instance; send confirm=true to go ahead");
		return;
	}
	crypto_random_token(rnd, sizeof(rnd), 6);
	for (char *p = rnd; *p; p++)
		if (*p == '-' || *p == '_')
			*p = 'x';
	snprintf(rel, sizeof(rel), "uploads/restore-%s.ttbackup", rnd);
	snprintf(abs, sizeof(abs), "%s/%s", cfg.data_dir, rel);
	if (rename(req->upload.path, abs)) {
		log_error("restore: cannot keep the upload: %s", strerror(errno));
		http_reply_error(req, 500, "internal_error", NULL, "cannot store the upload");
		return;
	}
	req->upload.taken = true;
	params = json_pack("{s:s, s:I}", "file", rel, "user_id", (json_int_t)req->user.id);
	text = json_dumps(params, JSON_COMPACT);
	json_decref(params);
	if (store_begin(req->db, STORE_TX_WRITE, &err) ||
	    jobs_submit(req->db, BACKUP_JOB_RESTORE, 0, false, &job_id, &err) ||
	    jobq_checkpoint(req->db, job_id, text, &err) || store_commit(req->db, &err)) {
		store_rollback(req->db);
		free(text);
		unlink(abs);
		http_reply_tt_error(req, &err);
		return;
	}
	free(text);
	jobs_notify();
	if (do_wait && jobs_wait(req->store, job_id, RESTORE_WAIT_MS, &err) == 0 &&
	    jobq_get(req->db, job_id, &j, &err) == 0) {
		json_t *o = restore_json(req, &j);

		json_object_set_new(o, "success", json_boolean(!strcmp(j.state, "done")));
		http_reply_json(req, !strcmp(j.state, "done") ? 200 : 422, o);
		job_rec_release(&j);
		return;
	}
	http_reply_json(req, 202,
			json_pack("{s:b, s:I, s:s, s:s}", "success", 1, "restore_id", (json_int_t)job_id,
				  "status", "pending", "status_url",
				  http_printf(req, "/api/backup/restore/%lld", (long long)job_id)));
}

void h_backup_restore_status(http_req *req)
{
	job_rec j;
	tt_error err;

	tt_error_init(&err);
	if (jobq_get(req->db, req->params[0], &j, &err) || strcmp(j.kind, BACKUP_JOB_RESTORE)) {
		if (!err.rc)
			job_rec_release(&j);
		http_reply_error(req, 404, "not_found", NULL, "no such restore");
		return;
	}
	http_reply_json(req, 200, restore_json(req, &j));
	job_rec_release(&j);
}
