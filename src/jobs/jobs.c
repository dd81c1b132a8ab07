/*
 * jobs.c - worker threads, heartbeats and recovery of background jobs
 * (see jobs.h).
 */
#include "jobs/jobs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/jobs.h"
#include "util/alloc.h"
#include "util/crypto.h"
#include "util/log.h"

#define MAX_KINDS 16
#define MAX_WORKERS 64
#define MAX_ATTEMPTS 5
#define CANCEL_CHECK_NS 500000000LL /* look at cancel_requested at most twice a second */

static const struct job_kind *kinds[MAX_KINDS];
static int nkinds;

static char instance[40];
static pthread_once_t instance_once = PTHREAD_ONCE_INIT;

static struct {
	store *s;
	int nworkers;
	pthread_t workers[MAX_WORKERS];
	pthread_t keeper;
	bool keeper_started;
	int64_t stale;
	atomic_bool stopping;
	atomic_bool cancel_all;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool kick;
} rt = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void make_instance(void)
{
	char rnd[16];

	crypto_random_token(rnd, sizeof(rnd), 6);
	snprintf(instance, sizeof(instance), "%ld-%s", (long)getpid(), rnd);
}

const char *jobs_instance(void)
{
	pthread_once(&instance_once, make_instance);
	return instance;
}

void jobs_register(const struct job_kind *k)
{
	if (jobs_kind(k->name))
		return;
	if (nkinds < MAX_KINDS)
		kinds[nkinds++] = k;
}

const struct job_kind *jobs_kind(const char *name)
{
	for (int i = 0; i < nkinds; i++)
		if (!strcmp(kinds[i]->name, name))
			return kinds[i];
	return NULL;
}

int jobs_submit(store_conn *c, const char *kind, int64_t ref_id, bool pin_here, int64_t *job_id,
		tt_error *err)
{
	return jobq_insert(c, kind, ref_id, pin_here ? jobs_instance() : NULL, job_id, err);
}

void jobs_notify(void)
{
	pthread_mutex_lock(&rt.lock);
	rt.kick = true;
	pthread_cond_broadcast(&rt.wake);
	pthread_mutex_unlock(&rt.lock);
}

void jobs_cancel_all_here(void)
{
	atomic_store(&rt.cancel_all, true);
}

bool job_should_stop(job *j, int *result)
{
	int64_t now = mono_ns();

	if (atomic_load(&rt.cancel_all)) {
		*result = JOB_CANCELLED;
		return true;
	}
	if (atomic_load(&rt.stopping)) {
		*result = JOB_INTERRUPTED;
		return true;
	}
	if (!j->cancel_seen && now - j->last_cancel_check_ns >= CANCEL_CHECK_NS) {
		job_rec r;

		j->last_cancel_check_ns = now;
		if (jobq_get(j->c, j->id, &r, NULL) == 0) {
			j->cancel_seen = r.cancel_requested;
			job_rec_release(&r);
		}
	}
	if (j->cancel_seen) {
		*result = JOB_CANCELLED;
		return true;
	}
	return false;
}

int job_checkpoint(job *j, const char *checkpoint_json, tt_error *err)
{
	return jobq_checkpoint(j->c, j->id, checkpoint_json, err);
}

void job_report_progress(job *j, int64_t done, int64_t total, int64_t rows)
{
	if (j->progress)
		j->progress(j->progress_ctx, done, total, rows);
}

/* Runs one claimed job in this thread and records how it ended. */
static int run_claimed(store *s, store_conn *c, job_rec *r, job_progress_fn progress, void *ctx)
{
	const struct job_kind *k = jobs_kind(r->kind);
	job j = { 0 };
	tt_error err;
	int result;

	tt_error_init(&err);
	if (!k) {
		log_error("job %lld: unknown kind %s", (long long)r->id, r->kind);
		jobq_finish(c, r->id, "failed", "unknown job kind", &err);
		return JOB_FAILED;
	}
	if (r->attempts > MAX_ATTEMPTS) {
		log_error("job %lld (%s %lld): gave up after %d attempts", (long long)r->id, r->kind,
			  (long long)r->ref_id, MAX_ATTEMPTS);
		if (k->abandon)
			k->abandon(c, r->ref_id, "the job was interrupted too many times; it was stopped");
		jobq_finish(c, r->id, "failed", "too many attempts", &err);
		return JOB_FAILED;
	}
	j.id = r->id;
	j.ref_id = r->ref_id;
	j.kind = k->name;
	j.checkpoint = r->checkpoint;
	j.attempts = r->attempts;
	j.s = s;
	j.c = c;
	j.progress = progress;
	j.progress_ctx = ctx;
	j.last_cancel_check_ns = mono_ns();
	log_info("job %lld: %s %lld started (attempt %d%s)", (long long)j.id, k->name,
		 (long long)j.ref_id, j.attempts, j.checkpoint ? ", resuming" : "");
	result = k->run(&j);
	if (store_in_tx(c))
		store_rollback(c); /* a job must not leave a lock behind */
	switch (result) {
	case JOB_DONE:
		jobq_finish(c, j.id, "done", NULL, &err);
		break;
	case JOB_CANCELLED:
		jobq_finish(c, j.id, "cancelled", NULL, &err);
		break;
	case JOB_INTERRUPTED:
		if (k->resumable) {
			jobq_requeue(c, j.id, &err);
		} else {
			if (k->abandon)
				k->abandon(c, j.ref_id, "the server stopped while the job was running");
			jobq_finish(c, j.id, "failed", "interrupted by shutdown", &err);
		}
		break;
	default:
		jobq_finish(c, j.id, "failed", j.error[0] ? j.error : NULL, &err);
		result = JOB_FAILED;
	}
	log_info("job %lld: %s %lld %s", (long long)j.id, k->name, (long long)j.ref_id,
		 result == JOB_DONE ? "done" : result == JOB_CANCELLED ? "cancelled"
		 : result == JOB_INTERRUPTED ? "interrupted" : "failed");
	return result;
}

static void *worker_main(void *arg)
{
	store_conn *c;
	tt_error err;

	(void)arg;
	tt_error_init(&err);
	while (!atomic_load(&rt.stopping)) {
		job_rec r;
		int rc;

		c = store_conn_get(rt.s, &err);
		rc = c ? jobq_claim(c, jobs_instance(), 0, &r, &err) : TT_EBUSY;
		if (rc == 1) {
			run_claimed(rt.s, c, &r, NULL, NULL);
			job_rec_release(&r);
			continue;
		}
		if (rc < 0 && rc != TT_EBUSY)
			log_warn("jobs: cannot claim: %s", err.msg);
		/* Nothing to do: sleep until notified, or poll again in a second. */
		pthread_mutex_lock(&rt.lock);
		if (!rt.kick && !atomic_load(&rt.stopping)) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&rt.wake, &rt.lock, &until);
		}
		rt.kick = false;
		pthread_mutex_unlock(&rt.lock);
	}
	return NULL;
}

/* Decides the fate of a job whose process stopped beating. */
struct reap_ctx {
	store_conn *c;
	int64_t before;
};

static int reap_one(void *ctx, const job_rec *j)
{
	struct reap_ctx *r = ctx;
	const struct job_kind *k = jobs_kind(j->kind);
	bool requeue = k && k->resumable && !j->pinned_to[0] && j->attempts < MAX_ATTEMPTS;
	tt_error err;

	tt_error_init(&err);
	/* Never our own: this process is alive, whatever its heartbeat says. */
	if (!strcmp(j->locked_by, jobs_instance()))
		return 0;
	/* Only if it is still exactly as seen (another reaper may have been first). */
	if (jobq_take_orphan(r->c, j, r->before, requeue, &err) != 1)
		return 0;
	if (requeue) {
		log_warn("job %lld (%s %lld): its server stopped; resuming from the last checkpoint",
			 (long long)j->id, j->kind, (long long)j->ref_id);
		jobs_notify();
		return 0;
	}
	log_warn("job %lld (%s %lld): its server stopped; marking it failed", (long long)j->id,
		 j->kind, (long long)j->ref_id);
	if (k && k->abandon)
		k->abandon(r->c, j->ref_id,
			   j->pinned_to[0]
				   ? "the process running this job stopped, and the job can only run where it was started (a command-line import, or one whose credentials were only in that process's memory); start it again"
				   : "the server running this job stopped and the job cannot be resumed; start it again");
	return 0;
}

static void *keeper_main(void *arg)
{
	int64_t interval = rt.stale / 3 > 0 ? rt.stale / 3 : 1;
	tt_error err;

	(void)arg;
	tt_error_init(&err);
	while (!atomic_load(&rt.stopping)) {
		store_conn *c = store_conn_get(rt.s, &err);

		if (c) {
			int64_t now = store_now();

			struct reap_ctx r = { c, now - rt.stale };

			/*
			 * Reap others' orphans only when our own heartbeat went
			 * through (a busy database says nothing about who is alive).
			 */
			if (jobq_heartbeat(c, jobs_instance(), now, &err) == 0)
				jobq_stale(c, r.before, reap_one, &r, &err);
		}
		pthread_mutex_lock(&rt.lock);
		if (!atomic_load(&rt.stopping)) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += interval;
			pthread_cond_timedwait(&rt.wake, &rt.lock, &until);
		}
		pthread_mutex_unlock(&rt.lock);
	}
	return NULL;
}

int jobs_start(store *s, int workers, int64_t stale_seconds, tt_error *err)
{
	rt.s = s;
	rt.stale = stale_seconds > 0 ? stale_seconds : 30;
	atomic_store(&rt.stopping, false);
	if (workers > MAX_WORKERS)
		workers = MAX_WORKERS;
	if (pthread_create(&rt.keeper, NULL, keeper_main, NULL))
		return tt_error_set(err, TT_EINTERNAL, NULL, NULL, "cannot start the job keeper thread");
	rt.keeper_started = true;
	for (rt.nworkers = 0; rt.nworkers < workers; rt.nworkers++) {
		if (pthread_create(&rt.workers[rt.nworkers], NULL, worker_main, NULL)) {
			jobs_stop();
			return tt_error_set(err, TT_EINTERNAL, NULL, NULL, "cannot start job workers");
		}
	}
	return 0;
}

void jobs_stop(void)
{
	atomic_store(&rt.stopping, true);
	pthread_mutex_lock(&rt.lock);
	pthread_cond_broadcast(&rt.wake);
	pthread_mutex_unlock(&rt.lock);
	for (int i = 0; i < rt.nworkers; i++)
		pthread_join(rt.workers[i], NULL);
	rt.nworkers = 0;
	if (rt.keeper_started)
		pthread_join(rt.keeper, NULL);
	rt.keeper_started = false;
}

int jobs_run_here(store *s, int64_t job_id, job_progress_fn progress, void *ctx, tt_error *err)
{
	store_conn *c = store_conn_get(s, err);
	job_rec r;
	int rc;

	if (!c)
		return err ? err->rc : TT_EIO;
	rc = jobq_claim(c, jobs_instance(), job_id, &r, err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return tt_error_set(err, TT_ECONFLICT, "conflict", NULL,
				    "job %lld is not waiting to run", (long long)job_id);
	rc = run_claimed(s, c, &r, progress, ctx);
	job_rec_release(&r);
	return rc;
}

int jobs_wait(store *s, int64_t job_id, int timeout_ms, tt_error *err)
{
	int64_t deadline = mono_ns() + (int64_t)timeout_ms * 1000000;
	store_conn *c = store_conn_get(s, err);

	if (!c)
		return err ? err->rc : TT_EIO;
	for (;;) {
		job_rec r;
		int rc = jobq_get(c, job_id, &r, err);
		bool finished;

		if (rc)
			return rc;
		finished = !strcmp(r.state, "done") || !strcmp(r.state, "failed") ||
			   !strcmp(r.state, "cancelled");
		job_rec_release(&r);
		if (finished)
			return 0;
		if (mono_ns() >= deadline)
			return tt_error_set(err, TT_EBUSY, "timeout", NULL,
					    "the job is still running; poll its status");
		{
			struct timespec ts = { 0, 50 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
}

int jobs_cancel(store_conn *c, int64_t job_id, tt_error *err)
{
	job_rec r;
	int rc;

	if ((rc = store_begin(c, STORE_TX_WRITE, err)))
		return rc;
	if ((rc = jobq_get(c, job_id, &r, err)))
		goto fail;
	if (!strcmp(r.state, "queued")) {
		const struct job_kind *k = jobs_kind(r.kind);

		if ((rc = jobq_finish(c, job_id, "cancelled", NULL, err)))
			goto fail_rec;
		if (k && k->cancel_queued)
			k->cancel_queued(c, r.ref_id);
	} else if (!strcmp(r.state, "running")) {
		if ((rc = jobq_request_cancel(c, job_id, err)))
			goto fail_rec;
	} else {
		rc = tt_error_set(err, TT_ECONFLICT, "conflict", NULL,
				  "the job has already finished (%s)", r.state);
		goto fail_rec;
	}
	job_rec_release(&r);
	return store_commit(c, err);
fail_rec:
	job_rec_release(&r);
fail:
	store_rollback(c);
	return rc;
}
