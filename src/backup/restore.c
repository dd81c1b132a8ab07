/*
 * restore.c (backup) - restoring a .ttbackup: the "backup_restore" job.
 *
 * All or nothing: the archive is verified completely first; a backup of the
 * current data is written to DATA_DIR/backups/ (pre-restore-<time>.ttbackup)
 * so a mistaken restore can be undone; then, in maintenance mode (writes
 * and sign-ins answer 503), one write transaction empties every table of the
 * backup (dependants first), inserts every row of the archive (parents
 * first), resets id sequences, ends every session (the users were replaced)
 * and records the restore in the import history. Any error rolls the whole
 * transaction back: nothing changed. The job's parameters and its result
 * live in the job's checkpoint (the import history itself is replaced).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/backup.h"
#include "core/datetime.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "store/imports.h"
#include "store/jobs.h"
#include "store/migrate.h"
#include "store/restore.h"
#include "store/users.h"
#include "util/alloc.h"
#include "util/config.h"
#include "util/log.h"

struct restore_ctx {
	store_conn *c;
	job *j;
	int64_t rows;
	int64_t per_table[BACKUP_MAX_TABLES];
	tt_error *err;
};

static int insert_cb(void *ctx, int table, json_t *row)
{
	struct restore_ctx *r = ctx;
	int rc = restore_insert_row(r->c, BACKUP_TABLES[table].name, BACKUP_TABLES[table].columns,
	                            row, r->err);

	if (rc)
		return rc;
	r->per_table[table]++;
	if (++r->rows % 10000 == 0 && r->j)
		job_report_progress(r->j, r->rows, 0, r->rows);
	return 0;
}

/* Writes a backup of the current data into DATA_DIR/backups; *name gets its file name. */
static int pre_restore_backup(store *s, char *name, size_t size, tt_error *err)
{
	int64_t counts[BACKUP_MAX_TABLES];
	char dir[1024], path[1200], sha[65], stamp[21];
	store_conn *rc_conn;
	export_sink *sink = NULL;
	int64_t bytes;
	int version = 0, rc;

	snprintf(dir, sizeof(dir), "%s/backups", cfg.data_dir);
	mkdir(dir, 0700);
	dt_format_utc(store_now(), stamp);
	for (char *p = stamp; *p; p++)
		if (*p == ':')
			*p = '-';
	snprintf(name, size, "pre-restore-%s.ttbackup", stamp);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((rc = migrate_current(s, &version, err)))
		return rc;
	if (!(rc_conn = store_conn_new(s, err)))
		return err ? err->rc : TT_EIO;
	rc = store_begin(rc_conn, STORE_TX_READ, err);
	if (!rc)
		rc = sink_open(path, &sink, err);
	if (!rc)
		rc = backup_write(rc_conn, sink, version, store_engine_name(s), counts, err);
	store_rollback(rc_conn);
	store_conn_free(rc_conn);
	if (rc) {
		sink_abort(sink);
		return rc;
	}
	return sink_commit(sink, sha, &bytes, err);
}

int backup_restore(store *s, store_conn *c, job *j, const char *path, int64_t by_user,
                   json_t **result, tt_error *err)
{
	struct restore_ctx r = {c, j, 0, {0}, err};
	backup_report rep;
	char pre[128] = "";
	int64_t import_id = 0, owner = by_user;
	int n = backup_table_count(), rc;
	json_t *counts;

	*result = NULL;
	memset(&rep, 0, sizeof(rep));
	if ((rc = backup_verify(path, migrate_latest(),
	                        (int64_t)cfg.max_upload_mb * 1024 * 1024 * 16, &rep, err)))
		return rc;
	if (!rep.valid) {
		json_t *first = json_array_get(rep.problems, 0);

		rc = tt_error_set(
		    err, TT_EINVAL, "invalid_backup", "file",
		    "the backup is not valid (%zu problem%s): %s; nothing was changed",
		    json_array_size(rep.problems), json_array_size(rep.problems) == 1 ? "" : "s",
		    first ? json_string_value(first) : "?");
		backup_report_release(&rep);
		return rc;
	}
	/*
	 * Maintenance from here: no write may land after the pre-restore backup
	 * (it would be in neither copy), and only one restore runs at a time.
	 */
	if (!http_enter_maintenance()) {
		backup_report_release(&rep);
		return tt_error_set(err, TT_ECONFLICT, "conflict", NULL,
				    "another restore is running; nothing was changed");
	}
	/* Imports and exports must not run across the replacement of their data. */
	{
		int64_t busy = 0;

		jobq_count_active(c, BACKUP_JOB_RESTORE, &busy, err);
		if (busy) {
			rc = tt_error_set(err, TT_ECONFLICT, "conflict", NULL,
					  "%lld import or export job(s) are queued or running; wait for them"
					  " (or cancel them) and restore again; nothing was changed",
					  (long long)busy);
			goto out;
		}
	}
	if ((rc = pre_restore_backup(s, pre, sizeof(pre), err)))
		goto out;
	log_info("restore: verified (%d tables); the current data was saved as backups/%s", n, pre);
	if ((rc = store_begin(c, STORE_TX_WRITE, err)))
		goto out;
	if ((rc = restore_empty_table(c, "sessions", err)))
		goto fail;
	for (int i = n - 1; i >= 0; i--)
		if ((rc = restore_empty_table(c, BACKUP_TABLES[i].name, err)))
			goto fail;
	if ((rc = backup_read_rows(path, insert_cb, &r, err)))
		goto fail;
	if ((rc = restore_end_unfinished(c, err)))
		goto fail;
	for (int i = 0; i < n; i++) {
		const char *first = BACKUP_TABLES[i].columns[0];

		if (first && !strcmp(first[0] == '#' ? first + 1 : first, "id") &&
		    (rc = restore_reset_sequence(c, BACKUP_TABLES[i].name, err)))
			goto fail;
	}
	/* The history: by whoever restored, if they exist in the restored data, else its first
	 * admin. */
	{
		user_rec u;

		if (users_get(c, by_user, &u, NULL) || !u.is_admin) {
			user_rec *list;
			size_t nu;

			owner = 0;
			if (users_list(c, &list, &nu, err) == 0) {
				for (size_t i = 0; i < nu && !owner; i++)
					if (list[i].is_admin)
						owner = list[i].id;
				free(list);
			}
		}
	}
	counts = json_object();
	for (int i = 0; i < n; i++)
		json_object_set_new(counts, BACKUP_TABLES[i].name, json_integer(r.per_table[i]));
	if (owner) {
		char *summary;
		json_t *sj =
		    json_pack("{s:O, s:s, s:i, s:s}", "counts", counts, "pre_restore_backup", pre,
		              "schema_version", rep.schema_version, "source_engine", rep.engine);

		summary = json_dumps(sj, JSON_COMPACT);
		json_decref(sj);
		rc = imports_create(c, owner, "backup", "restore", NULL, 0, "{}", &import_id, err);
		if (!rc)
			rc = imports_mark_started(c, import_id, err);
		if (!rc)
			rc = imports_progress(c, import_id, r.rows, r.rows, 0, 0, 0, 0, err);
		if (!rc)
			rc = imports_finish(c, import_id, "completed", summary, NULL, err);
		free(summary);
		if (rc) {
			json_decref(counts);
			goto fail;
		}
	}
	if ((rc = store_commit(c, err))) {
		json_decref(counts);
		goto out;
	}
	*result = json_pack("{s:b, s:o, s:I, s:s, s:I, s:i, s:s}", "success", 1, "counts", counts,
	                    "rows", (json_int_t)r.rows, "pre_restore_backup", pre, "import_id",
	                    (json_int_t)import_id, "schema_version", rep.schema_version,
	                    "source_engine", rep.engine);
	log_info("restore: %lld rows restored from a %s backup (schema %d)", (long long)r.rows,
	         rep.engine, rep.schema_version);
	goto out;
fail:
	store_rollback(c);
	log_error("restore failed, nothing was changed: %s", err ? err->msg : "?");
out:
	http_set_maintenance(false);
	backup_report_release(&rep);
	return rc;
}

static int run_restore(job *j)
{
	json_t *params = j->checkpoint ? json_loads(j->checkpoint, 0, NULL) : NULL;
	const char *file = params ? json_string_value(json_object_get(params, "file")) : NULL;
	int64_t by = params ? json_integer_value(json_object_get(params, "user_id")) : 0;
	json_t *result = NULL;
	char path[1024];
	tt_error err;
	int rc;

	tt_error_init(&err);
	if (!file) {
		snprintf(j->error, sizeof(j->error), "the restore job has no file");
		json_decref(params);
		return JOB_FAILED;
	}
	snprintf(path, sizeof(path), "%s/%s", cfg.data_dir, file);
	rc = backup_restore(j->s, j->c, j, path, by, &result, &err);
	unlink(path);
	if (rc) {
		snprintf(j->error, sizeof(j->error), "%s",
		         err.rc == TT_EINVAL || err.rc == TT_ECONFLICT ? err.msg
		                             : "the restore failed and nothing was changed; the "
		                               "server log has the details");
		json_decref(params);
		return JOB_FAILED;
	}
	json_object_set_new(params, "result", result);
	{
		char *text = json_dumps(params, JSON_COMPACT);

		jobq_checkpoint(j->c, j->id, text, NULL);
		free(text);
	}
	json_decref(params);
	return JOB_DONE;
}

static void abandon_restore(store_conn *c, int64_t ref_id, const char *reason)
{
	(void)c;
	(void)ref_id;
	log_warn("restore job abandoned: %s (a restore is one transaction: nothing was changed)",
	         reason);
}

static const struct job_kind restore_kind = {
    .name = BACKUP_JOB_RESTORE,
    .resumable = false, /* an interrupted transaction changed nothing; start it again */
    .run = run_restore,
    .abandon = abandon_restore,
    .cancel_queued = NULL,
};

void backup_register_jobs(void)
{
	jobs_register(&restore_kind);
}
