/*
 * export_job.c - export requests and jobs: validating a filtered export's
 * filters, the "export_filtered" and "export_gdpr" job kinds, file names,
 * and the sweeper that expires old files.
 *
 * Files live in DATA_DIR/exports under names we make (export-<id>-<random>.ext):
 * no user input ever reaches a path. A job reads one consistent snapshot on
 * a connection of its own while it records progress on the thread's
 * connection, writes `name.tmp` and renames it when complete, so a file
 * under its final name is always whole. An interrupted export starts again
 * from scratch (it wrote nothing final).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup/backup.h"
#include "core/datetime.h"
#include "exports/export.h"
#include "exports/filters.h"
#include "jobs/jobs.h"
#include "store/exports.h"
#include "store/migrate.h"
#include "store/users.h"
#include "util/alloc.h"
#include "util/config.h"
#include "util/crypto.h"
#include "util/log.h"

#define PROGRESS_EVERY 2000

const struct export_writer *export_writer_find(const char *format)
{
	static const struct export_writer *all[] = { &export_csv_writer, &export_json_writer,
						     &export_xlsx_writer, &export_ics_writer };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(all[i]->format, format))
			return all[i];
	return NULL;
}

int export_file_names(int64_t id, const char *type, const char *ext, char *file, size_t file_size,
		      char *download, size_t download_size)
{
	char rnd[16], stamp[21];
	int64_t now = store_now();
	int64_t y;
	int m, d;

	crypto_random_token(rnd, sizeof(rnd), 6);
	for (char *p = rnd; *p; p++)
		if (*p == '-' || *p == '_')
			*p = 'x';
	snprintf(file, file_size, "export-%lld-%s.%s", (long long)id, rnd, ext);
	dt_civil_from_days(now / 86400, &y, &m, &d);
	snprintf(stamp, sizeof(stamp), "%04lld%02d%02d-%02d%02d%02d", (long long)y, m, d,
		 (int)(now % 86400 / 3600), (int)(now % 3600 / 60), (int)(now % 60));
	snprintf(download, download_size, "timetracker_%s_%lld_%s.%s", type, (long long)id, stamp, ext);
	return 0;
}

/* ---- running an export ---- */

struct run {
	job *j;
	const struct export_writer *w;
	struct export_ctx x;
	int64_t id;
	int64_t done;
	int result;
	bool stopped;
};

static int write_entry(void *ctx, const entry_rec *e)
{
	struct run *r = ctx;
	int rc = r->w->entry(&r->x, e);

	if (rc)
		return rc;
	r->x.count++;
	if (++r->done % PROGRESS_EVERY == 0) {
		exports_progress(r->j->c, r->id, r->done, NULL);
		job_report_progress(r->j, r->done, 0, r->done);
		if (job_should_stop(r->j, &r->result)) {
			r->stopped = true;
			return 1;
		}
	}
	return 0;
}

static json_t *export_info(const export_rec *er, const user_rec *u, const char *type)
{
	char now[21];

	dt_format_utc(store_now(), now);
	return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "export_id", (json_int_t)er->id,
			 "user_id", (json_int_t)u->id, "username", u->username, "export_date", now,
			 "export_type", type, "export_format", er->export_format, "format_version",
			 "1.0");
}

enum export_kind { EXP_FILTERED, EXP_GDPR, EXP_BACKUP };

/* Runs an export job of any kind. */
static int run_export(job *j, enum export_kind kind)
{
	bool gdpr = kind != EXP_FILTERED;
	struct run run = { 0 };
	struct export_filters ef;
	export_rec er;
	user_rec u;
	tt_error err;
	store_conn *rc_conn = NULL;
	export_sink *sink = NULL;
	char path[1024], tmp[1100], sha[65];
	int64_t size = 0, total = 0, seconds, records = 0;
	int rc;

	tt_error_init(&err);
	export_filters_init(&ef);
	if (exports_get(j->c, j->ref_id, &er, &err))
		return JOB_FAILED;
	if (users_get(j->c, er.user_id, &u, &err)) {
		exports_fail(j->c, er.id, "the user no longer exists", NULL);
		export_rec_release(&er);
		return JOB_FAILED;
	}
	run.j = j;
	run.id = er.id;
	run.result = JOB_DONE;
	snprintf(path, sizeof(path), "%s/exports/%s", cfg.data_dir, er.file_name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp); /* a previous attempt's leftovers */

	if (!gdpr && export_filters_parse_saved(j->c, &u, er.filters, &ef, &err)) {
		exports_fail(j->c, er.id, err.msg, NULL);
		goto fail_quiet;
	}
	if (!gdpr) {
		run.w = export_writer_find(er.export_format);
		if (!run.w) {
			exports_fail(j->c, er.id, "unknown export format", NULL);
			goto fail_quiet;
		}
	}
	/* Running from here on (a GDPR export lists itself as such). */
	if (exports_mark_started(j->c, er.id, 0, &err))
		goto fail;
	/* The snapshot: one read transaction on a connection of its own. */
	rc_conn = store_conn_new(j->s, &err);
	if (!rc_conn || store_begin(rc_conn, STORE_TX_READ, &err))
		goto fail;
	if (kind == EXP_BACKUP) {
		entry_filter f;

		entry_filter_init(&f); /* every entry of every user */
		rc = entries_count(rc_conn, &f, &total, &seconds, &err);
	} else if (gdpr) {
		entry_filter f;

		entry_filter_init(&f);
		f.user_id = u.id;
		rc = entries_count(rc_conn, &f, &total, &seconds, &err);
	} else {
		rc = entries_count(rc_conn, &ef.f, &total, &seconds, &err);
	}
	if (rc || exports_mark_started(j->c, er.id, total, &err))
		goto fail;
	if (sink_open(path, &sink, &err))
		goto fail;
	if (kind == EXP_BACKUP) {
		int64_t counts[BACKUP_MAX_TABLES] = { 0 };
		int version = 0;

		if (migrate_current(j->s, &version, &err) ||
		    backup_write(rc_conn, sink, version, store_engine_name(j->s), counts, &err))
			goto fail;
		for (int i = 0; i < backup_table_count(); i++)
			records += counts[i];
	} else if (gdpr) {
		if (export_gdpr_write(rc_conn, u.id, !strcmp(er.export_format, "zip"), sink, &records,
				      &err))
			goto fail;
	} else {
		run.x.sink = sink;
		run.x.opts = &ef.opts;
		run.x.c = rc_conn;
		run.x.err = &err;
		run.x.info = export_info(&er, &u, "Filtered Export");
		json_object_set_new(run.x.info, "filters", ef.echo ? json_incref(ef.echo) : json_object());
		json_object_set_new(run.x.info, "record_count", json_integer(total));
		rc = run.w->begin(&run.x);
		/* Projects and clients lists come from the entries, even when those are left out. */
		if (!rc && (ef.opts.include_entries || ef.opts.include_projects ||
			    ef.opts.include_clients)) {
			ef.f.ascending = true;
			rc = entries_walk(rc_conn, &ef.f, -1, 0, write_entry, &run, &err);
		}
		if (run.stopped) {
			run.w->release(&run.x);
			json_decref(run.x.info);
			goto stopped;
		}
		if (!rc)
			rc = run.w->end(&run.x);
		run.w->release(&run.x);
		json_decref(run.x.info);
		if (rc) {
			if (!err.msg[0])
				tt_error_set(&err, TT_EIO, NULL, NULL, "the export could not be written");
			goto fail;
		}
		records = run.x.count;
	}
	store_rollback(rc_conn);
	if (sink_commit(sink, sha, &size, &err)) {
		sink = NULL;
		goto fail;
	}
	sink = NULL;
	if (exports_complete(j->c, er.id, size, sha, records,
			     store_now() + (strcmp(er.export_type, "backup") ? cfg.export_ttl : cfg.backup_ttl),
			     &err)) {
		unlink(path);
		goto fail;
	}
	log_info("export %lld: %s %s: %lld records, %lld bytes", (long long)er.id, er.export_type,
		 er.export_format, (long long)records, (long long)size);
	goto out;

stopped:
	sink_abort(sink);
	sink = NULL;
	if (run.result == JOB_CANCELLED)
		exports_fail(j->c, er.id, "cancelled", NULL);
	goto out;
fail:
	log_error("export %lld failed: %s", (long long)er.id, err.msg);
	exports_fail(j->c, er.id,
		     err.rc == TT_EIO || err.rc == TT_EINTERNAL || !err.msg[0]
			     ? "the export could not be written; the server log has the details"
			     : err.msg,
		     NULL);
fail_quiet:
	run.result = JOB_FAILED;
out:
	sink_abort(sink);
	if (rc_conn) {
		store_rollback(rc_conn);
		store_conn_free(rc_conn);
	}
	export_filters_release(&ef);
	export_rec_release(&er);
	return run.result;
}

static int run_filtered(job *j)
{
	return run_export(j, EXP_FILTERED);
}

static int run_gdpr(job *j)
{
	return run_export(j, EXP_GDPR);
}

static int run_backup(job *j)
{
	return run_export(j, EXP_BACKUP);
}

static void abandon_export(store_conn *c, int64_t ref_id, const char *reason)
{
	exports_fail(c, ref_id, reason, NULL);
}

static const struct job_kind filtered_kind = {
	.name = EXPORT_JOB_FILTERED,
	.resumable = true, /* starts again from scratch: nothing final was written */
	.run = run_filtered,
	.abandon = abandon_export,
	.cancel_queued = NULL,
};

static const struct job_kind gdpr_kind = {
	.name = EXPORT_JOB_GDPR,
	.resumable = true,
	.run = run_gdpr,
	.abandon = abandon_export,
	.cancel_queued = NULL,
};

static const struct job_kind backup_kind = {
	.name = EXPORT_JOB_BACKUP,
	.resumable = true,
	.run = run_backup,
	.abandon = abandon_export,
	.cancel_queued = NULL,
};

void exports_register_jobs(void)
{
	jobs_register(&filtered_kind);
	jobs_register(&gdpr_kind);
	jobs_register(&backup_kind);
}

/* ---- expiry ---- */

static int expire_one(void *ctx, int64_t id, const char *file)
{
	store_conn *c = ctx;

	if (file) {
		char path[1024];

		snprintf(path, sizeof(path), "%s/exports/%s", cfg.data_dir, file);
		if (unlink(path) && errno != ENOENT) {
			log_warn("export %lld: cannot delete its expired file: %s", (long long)id,
				 strerror(errno));
			return 0;
		}
	}
	exports_mark_expired(c, id, NULL);
	log_info("export %lld expired; its file was deleted", (long long)id);
	return 0;
}

int exports_sweep(store_conn *c, tt_error *err)
{
	return exports_expired(c, store_now(), expire_one, c, err);
}

static struct {
	store *s;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	pthread_mutex_t lock;
	pthread_cond_t wake;
} sweeper = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static void *sweeper_main(void *arg)
{
	tt_error err;

	(void)arg;
	tt_error_init(&err);
	while (!atomic_load(&sweeper.stop)) {
		store_conn *c = store_conn_get(sweeper.s, &err);
		struct timespec until;

		if (c)
			exports_sweep(c, &err);
		pthread_mutex_lock(&sweeper.lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += cfg.sweep_interval;
		if (!atomic_load(&sweeper.stop))
			pthread_cond_timedwait(&sweeper.wake, &sweeper.lock, &until);
		pthread_mutex_unlock(&sweeper.lock);
	}
	return NULL;
}

int exports_sweeper_start(store *s, tt_error *err)
{
	sweeper.s = s;
	atomic_store(&sweeper.stop, false);
	if (pthread_create(&sweeper.thread, NULL, sweeper_main, NULL))
		return tt_error_set(err, TT_EINTERNAL, NULL, NULL, "cannot start the export sweeper");
	sweeper.started = true;
	return 0;
}

void exports_sweeper_stop(void)
{
	if (!sweeper.started)
		return;
	atomic_store(&sweeper.stop, true);
	pthread_mutex_lock(&sweeper.lock);
	pthread_cond_broadcast(&sweeper.wake);
	pthread_mutex_unlock(&sweeper.lock);
	pthread_join(sweeper.thread, NULL);
	sweeper.started = false;
}
