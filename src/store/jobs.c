/*
 * jobs.c (store) - SQL of the job queue (see store/jobs.h).
 */
#include "store/jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "util/alloc.h"

#define JOB_COLS                                                                            \
	"id, kind, ref_id, checkpoint, attempts, state, cancel_requested, pinned_to, error," \
	" locked_by, heartbeat_at"

static void read_job(store_stmt *st, job_rec *j)
{
	const char *cp = store_col_text(st, 3);
	const char *pin = store_col_text(st, 7);

	memset(j, 0, sizeof(*j));
	j->id = store_col_int64(st, 0);
	snprintf(j->kind, sizeof(j->kind), "%s", store_col_text(st, 1));
	j->ref_id = store_col_int64(st, 2);
	j->checkpoint = cp ? xstrdup(cp) : NULL;
	j->attempts = (int)store_col_int64(st, 4);
	snprintf(j->state, sizeof(j->state), "%s", store_col_text(st, 5));
	j->cancel_requested = store_col_bool(st, 6);
	snprintf(j->pinned_to, sizeof(j->pinned_to), "%s", pin ? pin : "");
	j->error = store_col_text(st, 8) ? xstrdup(store_col_text(st, 8)) : NULL;
	snprintf(j->locked_by, sizeof(j->locked_by), "%s",
		 store_col_text(st, 9) ? store_col_text(st, 9) : "");
	j->heartbeat_at = store_col_int64(st, 10);
}

void job_rec_release(job_rec *j)
{
	free(j->checkpoint);
	free(j->error);
	j->checkpoint = NULL;
	j->error = NULL;
}

int jobq_insert(store_conn *c, const char *kind, int64_t ref_id, const char *pinned_to,
		int64_t *id, tt_error *err)
{
	int rc = store_query_int64(c, err, id,
				   "INSERT INTO jobs (kind, ref_id, state, run_after, pinned_to, created_at)"
				   " VALUES (?, ?, 'queued', 0, ?, ?) RETURNING id",
				   "sisi", kind, ref_id, pinned_to, store_now());

	return rc < 0 ? rc : 0;
}

static int one_job(store_stmt *st, job_rec *out, tt_error *err)
{
	int rc;

	if (!st)
		return err ? err->rc : TT_EIO;
	rc = store_step(st, err);
	if (rc == STORE_ROW) {
		read_job(st, out);
		rc = 1;
	}
	store_stmt_done(st);
	return rc;
}

int jobq_claim(store_conn *c, const char *instance, int64_t only_id, job_rec *out, tt_error *err)
{
	int64_t now = store_now();
	const char *pick;
	store_stmt *st;
	int rc;

	/*
	 * One statement picks and takes the job. SQLite serialises writers
	 * (BEGIN IMMEDIATE), so the sub-select cannot race; PostgreSQL
	 * needs SKIP LOCKED so instances never wait on, or take, the same row.
	 */
	if (store_engine(c->s) == STORE_POSTGRES)
		pick = "UPDATE jobs SET state = 'running', locked_by = ?, heartbeat_at = ?,"
		       " attempts = attempts + 1 WHERE id = (SELECT id FROM jobs WHERE state = 'queued'"
		       " AND run_after <= ? AND (pinned_to IS NULL OR pinned_to = ?) AND (? = 0 OR id = ?)"
		       " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING " JOB_COLS;
	else
		pick = "UPDATE jobs SET state = 'running', locked_by = ?, heartbeat_at = ?,"
		       " attempts = attempts + 1 WHERE id = (SELECT id FROM jobs WHERE state = 'queued'"
		       " AND run_after <= ? AND (pinned_to IS NULL OR pinned_to = ?) AND (? = 0 OR id = ?)"
		       " ORDER BY id LIMIT 1) RETURNING " JOB_COLS;
	if ((rc = store_begin(c, STORE_TX_WRITE, err)))
		return rc;
	st = store_query(c, err, pick, "siisii", instance, now, now, instance, only_id, only_id);
	rc = one_job(st, out, err);
	if (rc < 0) {
		store_rollback(c);
		return rc;
	}
	if (store_commit(c, err)) {
		if (rc == 1)
			job_rec_release(out);
		return err ? err->rc : TT_EIO;
	}
	return rc == 1 ? 1 : 0;
}

int jobq_heartbeat(store_conn *c, const char *instance, int64_t now, tt_error *err)
{
	int rc = store_run(c, err,
			   "UPDATE jobs SET heartbeat_at = ? WHERE locked_by = ? AND state = 'running'",
			   "is", now, instance);

	return rc < 0 ? rc : 0;
}

int jobq_checkpoint(store_conn *c, int64_t id, const char *checkpoint, tt_error *err)
{
	int rc = store_run(c, err, "UPDATE jobs SET checkpoint = ?, heartbeat_at = ? WHERE id = ?",
			   "sii", checkpoint, store_now(), id);

	return rc < 0 ? rc : 0;
}

int jobq_finish(store_conn *c, int64_t id, const char *state, const char *error, tt_error *err)
{
	int rc = store_run(c, err,
			   "UPDATE jobs SET state = ?, error = ?, finished_at = ?, locked_by = NULL"
			   " WHERE id = ?",
			   "ssii", state, error, store_now(), id);

	return rc < 0 ? rc : 0;
}

int jobq_requeue(store_conn *c, int64_t id, tt_error *err)
{
	int rc = store_run(c, err,
			   "UPDATE jobs SET state = 'queued', locked_by = NULL WHERE id = ? AND state = 'running'",
			   "i", id);

	return rc < 0 ? rc : 0;
}

int jobq_take_orphan(store_conn *c, const job_rec *j, int64_t before, bool requeue, tt_error *err)
{
	int rc = store_run(c, err,
			   "UPDATE jobs SET state = ?, locked_by = NULL,"
			   " finished_at = CASE WHEN ? = 1 THEN NULL ELSE ? END,"
			   " error = CASE WHEN ? = 1 THEN error ELSE 'orphaned' END"
			   " WHERE id = ? AND state = 'running' AND COALESCE(locked_by, '') = ?"
			   " AND (heartbeat_at IS NULL OR heartbeat_at < ?)",
			   "siiiisi", requeue ? "queued" : "failed", (int64_t)requeue, store_now(),
			   (int64_t)requeue, j->id, j->locked_by, before);

	if (rc < 0)
		return rc;
	return store_changes(c) > 0 ? 1 : 0;
}

int jobq_get(store_conn *c, int64_t id, job_rec *out, tt_error *err)
{
	int rc = one_job(store_query(c, err, "SELECT " JOB_COLS " FROM jobs WHERE id = ?", "i", id),
			 out, err);

	if (rc == 0)
		return tt_error_set(err, TT_ENOTFOUND, "not_found", NULL, "no such job");
	return rc < 0 ? rc : 0;
}

int jobq_get_by_ref(store_conn *c, const char *kind, int64_t ref_id, job_rec *out, tt_error *err)
{
	int rc = one_job(store_query(c, err,
				     "SELECT " JOB_COLS " FROM jobs WHERE kind = ? AND ref_id = ?"
				     " ORDER BY id DESC LIMIT 1",
				     "si", kind, ref_id),
			 out, err);

	if (rc == 0)
		return tt_error_set(err, TT_ENOTFOUND, "not_found", NULL, "no such job");
	return rc < 0 ? rc : 0;
}

int jobq_request_cancel(store_conn *c, int64_t id, tt_error *err)
{
	int rc = store_run(c, err, "UPDATE jobs SET cancel_requested = 1 WHERE id = ?", "i", id);

	return rc < 0 ? rc : 0;
}

int jobq_stale(store_conn *c, int64_t before, int (*cb)(void *ctx, const job_rec *j), void *ctx,
	       tt_error *err)
{
	store_stmt *st = store_query(c, err,
				     "SELECT " JOB_COLS " FROM jobs WHERE state = 'running'"
				     " AND (heartbeat_at IS NULL OR heartbeat_at < ?) ORDER BY id",
				     "i", before);
	job_rec *list = NULL;
	size_t n = 0, cap = 0;
	bool stop = false;
	int rc;

	if (!st)
		return err ? err->rc : TT_EIO;
	/* Collect first: callbacks write, and the read must be finished before. */
	while ((rc = store_step(st, err)) == STORE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			list = xrealloc(list, cap * sizeof(*list));
		}
		read_job(st, &list[n++]);
	}
	store_stmt_done(st);
	for (size_t i = 0; i < n; i++) {
		if (rc >= 0 && !stop && cb(ctx, &list[i]))
			stop = true; /* stop calling, keep releasing */
		job_rec_release(&list[i]);
	}
	free(list);
	return rc < 0 ? rc : 0;
}

int jobq_count_active(store_conn *c, const char *except_kind, int64_t *n, tt_error *err)
{
	int rc = store_query_int64(c, err, n,
				   "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')"
				   " AND kind <> ?",
				   "s", except_kind ? except_kind : "");

	return rc < 0 ? rc : 0;
}
