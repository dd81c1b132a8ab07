/*
 * jobs.h - background jobs: every long operation (imports, exports,
 * backups, restores) runs as a job, never inside an HTTP request.
 *
 * A job is a row in `jobs` (kind, ref_id pointing at e.g. a data_imports
 * row, state, checkpoint). `TT_WORKERS` worker threads, each with its own
 * database connection, claim queued jobs atomically and run the kind's
 * `run` function. One more thread beats the heart of every job this process
 * runs and reaps jobs whose heartbeat went stale (their process died): a
 * resumable kind is queued again and continues from its last committed
 * checkpoint; any other is failed through its `abandon` callback with a
 * clear reason. A job that was interrupted too often is failed, so no job
 * stays running forever.
 *
 * Job code contract: commit work in batches, saving the checkpoint with
 * job_checkpoint() inside the batch's transaction; between batches call
 * job_should_stop() and return JOB_CANCELLED (cancel requested) or
 * JOB_INTERRUPTED (shutdown: the job is queued again and resumes later).
 */
#ifndef TT_JOBS_H
#define TT_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

enum job_result {
	JOB_DONE = 0,
	JOB_FAILED = 1,
	JOB_CANCELLED = 2,
	JOB_INTERRUPTED = 3, /* shutdown: requeue, resume from the checkpoint */
};

typedef struct job job;

/* Called by job code (e.g. the CLI's progress bar); may be NULL. */
typedef void (*job_progress_fn)(void *ctx, int64_t done, int64_t total, int64_t rows);

struct job {
	int64_t id;
	int64_t ref_id;
	const char *kind;
	const char *checkpoint; /* JSON saved by the last committed batch, or NULL */
	int attempts;
	store *s;
	store_conn *c;          /* this thread's connection */
	job_progress_fn progress;
	void *progress_ctx;
	int64_t last_cancel_check_ns;
	bool cancel_seen;
	char error[512];        /* job code may say why it failed (kept with the job) */
};

struct job_kind {
	const char *name;
	bool resumable;
	/* Runs the job; returns an enum job_result. */
	int (*run)(job *j);
	/*
	 * Marks the job's subject failed (e.g. data_imports.status) when the
	 * job is given up (interrupted and not resumable, or too many tries).
	 */
	void (*abandon)(store_conn *c, int64_t ref_id, const char *reason);
	/* Marks the subject cancelled when cancelled while still queued. */
	void (*cancel_queued)(store_conn *c, int64_t ref_id);
};

/* Registers a kind (static storage; before jobs_start). */
void jobs_register(const struct job_kind *k);
const struct job_kind *jobs_kind(const char *name);

/*
 * Starts `workers` worker threads (0: only the heartbeat/reaper thread, as
 * the CLI does) on store s. stale_seconds: a running job whose heartbeat is
 * older than this is considered orphaned.
 */
int jobs_start(store *s, int workers, int64_t stale_seconds, tt_error *err);
/* Asks workers to stop at their next batch boundary and waits for them. */
void jobs_stop(void);

/* This process's instance id (random, stable while it runs). */
const char *jobs_instance(void);

/* Queues a job inside the caller's transaction; call jobs_notify() after commit. */
int jobs_submit(store_conn *c, const char *kind, int64_t ref_id, bool pin_here, int64_t *job_id,
		tt_error *err);
void jobs_notify(void);

/*
 * Claims job_id and runs it in the calling thread (the CLI: same job code as
 * the server, with a progress callback). Returns the job_result, or a
 * negative code when it could not be claimed.
 */
int jobs_run_here(store *s, int64_t job_id, job_progress_fn progress, void *ctx, tt_error *err);

/*
 * Waits until job_id has finished (done, failed or cancelled) or timeout_ms
 * passed. Returns 0 when finished, TT_EBUSY on timeout.
 */
int jobs_wait(store *s, int64_t job_id, int timeout_ms, tt_error *err);

/* Cancel: a queued job is cancelled at once, a running one at its next batch. */
int jobs_cancel(store_conn *c, int64_t job_id, tt_error *err);

/*
 * Makes every job running in this process stop at its next batch boundary
 * as cancelled (the CLI's Ctrl-C). Async-signal-safe.
 */
void jobs_cancel_all_here(void);

/* For job code. */
bool job_should_stop(job *j, int *result);
int job_checkpoint(job *j, const char *checkpoint_json, tt_error *err);
void job_report_progress(job *j, int64_t done, int64_t total, int64_t rows);

#endif
