/*
 * jobs.h (store) - SQL of the background job queue. The runtime (threads,
 * heartbeats, recovery) is jobs/jobs.c; this file only reads and writes the
 * `jobs` table, with the claim written per engine (SQLite: UPDATE ...
 * RETURNING under BEGIN IMMEDIATE; PostgreSQL: FOR UPDATE SKIP LOCKED).
 */
#ifndef TT_STORE_JOBS_H
#define TT_STORE_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

typedef struct job_rec {
	int64_t id;
	char kind[32];
	int64_t ref_id;
	char *checkpoint;   /* malloc'ed JSON or NULL; free it */
	int attempts;
	char state[16];
	bool cancel_requested;
	char pinned_to[64];
	char *error;        /* why it failed (malloc'ed) or NULL */
	char locked_by[64]; /* the instance running it ("" when none) */
	int64_t heartbeat_at;
} job_rec;

/* Queues a job (inside the caller's transaction, if any). pinned_to may be NULL. */
int jobq_insert(store_conn *c, const char *kind, int64_t ref_id, const char *pinned_to,
		int64_t *id, tt_error *err);
/*
 * Claims the oldest runnable queued job for instance (not pinned elsewhere),
 * or job `only_id` when non-zero. Returns 1 with *out filled, 0 when none.
 */
int jobq_claim(store_conn *c, const char *instance, int64_t only_id, job_rec *out, tt_error *err);
/* Marks every running job of instance alive. */
int jobq_heartbeat(store_conn *c, const char *instance, int64_t now, tt_error *err);
int jobq_checkpoint(store_conn *c, int64_t id, const char *checkpoint, tt_error *err);
/* Ends a job: state is "done", "failed" or "cancelled". */
int jobq_finish(store_conn *c, int64_t id, const char *state, const char *error, tt_error *err);
/* Puts a running job back in the queue (keeps its checkpoint). */
int jobq_requeue(store_conn *c, int64_t id, tt_error *err);
/*
 * Takes over an orphaned job seen by jobq_stale, only if it is still as it
 * was seen: running, locked by the same instance, heartbeat still older than
 * `before`. requeue: back to the queue, else failed. Returns 1 when taken,
 * 0 when someone else moved it meanwhile (then leave it alone).
 */
int jobq_take_orphan(store_conn *c, const job_rec *j, int64_t before, bool requeue, tt_error *err);
int jobq_get(store_conn *c, int64_t id, job_rec *out, tt_error *err);
/* The newest job of kind for ref_id. TT_ENOTFOUND when none. */
int jobq_get_by_ref(store_conn *c, const char *kind, int64_t ref_id, job_rec *out, tt_error *err);
int jobq_request_cancel(store_conn *c, int64_t id, tt_error *err);
/*
 * Running jobs whose heartbeat is older than `before`: calls cb for each
 * (stops early when cb returns non-zero).
 */
int jobq_stale(store_conn *c, int64_t before, int (*cb)(void *ctx, const job_rec *j), void *ctx,
	       tt_error *err);
/* Jobs queued or running, other than those of kind except_kind. */
int jobq_count_active(store_conn *c, const char *except_kind, int64_t *n, tt_error *err);

void job_rec_release(job_rec *j);

#endif
