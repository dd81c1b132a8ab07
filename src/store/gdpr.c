/*
 * gdpr.c (store) - SQL of the GDPR export (see store/gdpr.h).
 *
 * "Used" catalogue rows are found with uncorrelated IN (subquery) sets, so
 * the engine builds each small id set once from the user's entries; nothing
 * here holds entries in memory. The sets are closed upwards: a listed task's
 * project and a listed project's client are listed too, so every id in the
 * export resolves inside the export.
 */
#include "store/gdpr.h"

#include <stdio.h>
#include <string.h>

/* Ids of the user's imports. 1 parameter (user_id). */
#define GDPR_UI "(SELECT id FROM data_imports WHERE user_id = ?)"

/* Tasks: used by the user's entries or created by their imports. 2 parameters. */
#define GDPR_UT                                                                                    \
	"(SELECT task_id FROM time_entries WHERE user_id = ? AND task_id IS NOT NULL"              \
	" UNION SELECT id FROM tasks WHERE created_by_import_id IN " GDPR_UI ")"

/* Projects: used by entries, the projects of listed tasks, created by imports. 4 parameters. */
#define GDPR_UP                                                                                    \
	"(SELECT project_id FROM time_entries WHERE user_id = ? AND project_id IS NOT NULL"        \
	" UNION SELECT project_id FROM tasks WHERE id IN " GDPR_UT                                 \
	" UNION SELECT id FROM projects WHERE created_by_import_id IN " GDPR_UI ")"

/* Clients: of listed projects, or created by imports. 5 parameters. */
#define GDPR_UC                                                                                    \
	"(SELECT client_id FROM projects WHERE id IN " GDPR_UP                                     \
	" UNION SELECT id FROM clients WHERE created_by_import_id IN " GDPR_UI ")"

/* Tags: on the user's entries or created by their imports. 2 parameters. */
#define GDPR_UG                                                                                    \
	"(SELECT l.tag_id FROM time_entry_tags l JOIN time_entries e ON e.id = l.entry_id"         \
	" WHERE e.user_id = ?"                                                                     \
	" UNION SELECT id FROM tags WHERE created_by_import_id IN " GDPR_UI ")"

static int64_t opt_int(store_stmt *st, int col)
{
	return store_col_is_null(st, col) ? 0 : store_col_int64(st, col);
}

/* store_query's failure: err already filled by the store. */
static int query_failed(tt_error *err)
{
	return err && err->rc ? err->rc : TT_EIO;
}

int gdpr_profile_get(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_profile *p),
                     void *ctx, tt_error *err)
{
	store_stmt *st =
	    store_query(c, err,
	                "SELECT id, username, email, full_name, role, timezone, is_active,"
	                " created_at, updated_at, last_login_at FROM users WHERE id = ?",
	                "i", user_id);
	int rc;

	if (!st)
		return query_failed(err);
	rc = store_step(st, err);
	if (rc == STORE_ROW) {
		gdpr_profile p = {
		    .id = store_col_int64(st, 0),
		    .username = store_col_text(st, 1),
		    .email = store_col_text(st, 2),
		    .full_name = store_col_text(st, 3),
		    .role = store_col_text(st, 4),
		    .timezone = store_col_text(st, 5),
		    .is_active = store_col_bool(st, 6),
		    .created_at = opt_int(st, 7),
		    .updated_at = opt_int(st, 8),
		    .last_login_at = opt_int(st, 9),
		};

		rc = cb(ctx, &p);
	} else if (rc == STORE_DONE) {
		rc = tt_error_set(err, TT_ENOTFOUND, "not_found", "user_id", "no such user");
	}
	store_stmt_done(st);
	return rc;
}

int gdpr_count(store_conn *c, int64_t user_id, gdpr_counts *out, tt_error *err)
{
	int64_t u = user_id;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = store_query_int64(c, err, &out->time_entries,
	                       "SELECT COUNT(*) FROM time_entries WHERE user_id = ?", "i", u);
	if (rc >= 0)
		rc = store_query_int64(c, err, &out->clients,
		                       "SELECT COUNT(*) FROM clients WHERE id IN " GDPR_UC, "iiiii",
		                       u, u, u, u, u);
	if (rc >= 0)
		rc = store_query_int64(c, err, &out->projects,
		                       "SELECT COUNT(*) FROM projects WHERE id IN " GDPR_UP, "iiii",
		                       u, u, u, u);
	if (rc >= 0)
		rc = store_query_int64(c, err, &out->tasks,
		                       "SELECT COUNT(*) FROM tasks WHERE id IN " GDPR_UT, "ii", u,
		                       u);
	if (rc >= 0)
		rc =
		    store_query_int64(c, err, &out->tags,
		                      "SELECT COUNT(*) FROM tags WHERE id IN " GDPR_UG, "ii", u, u);
	if (rc >= 0)
		rc = store_query_int64(c, err, &out->api_tokens,
		                       "SELECT COUNT(*) FROM api_tokens WHERE user_id = ?", "i", u);
	if (rc >= 0)
		rc = store_query_int64(c, err, &out->sessions,
		                       "SELECT COUNT(*) FROM sessions WHERE user_id = ?", "i", u);
	if (rc >= 0)
		rc = store_query_int64(c, err, &out->imports,
		                       "SELECT COUNT(*) FROM data_imports WHERE user_id = ?", "i",
		                       u);
	if (rc >= 0)
		rc = store_query_int64(
		    c, err, &out->import_errors,
		    "SELECT COUNT(*) FROM import_errors WHERE import_id IN " GDPR_UI, "i", u);
	if (rc >= 0)
		rc = store_query_int64(c, err, &out->exports,
		                       "SELECT COUNT(*) FROM data_exports WHERE user_id = ?", "i",
		                       u);
	return rc < 0 ? rc : 0;
}

/*
 * The loop every walk shares: step, fill the record with READ, call cb.
 * A callback's non-zero result stops the walk and is returned as is.
 */
#define GDPR_WALK(st, type, READ)                                                                  \
	do {                                                                                       \
		int rc_, stop_ = 0;                                                                \
                                                                                                   \
		if (!(st))                                                                         \
			return query_failed(err);                                                  \
		while ((rc_ = store_step((st), err)) == STORE_ROW) {                               \
			type r_;                                                                   \
                                                                                                   \
			READ((st), &r_);                                                           \
			if ((stop_ = cb(ctx, &r_)) != 0)                                           \
				break;                                                             \
		}                                                                                  \
		store_stmt_done(st);                                                               \
		if (stop_)                                                                         \
			return stop_;                                                              \
		return rc_ < 0 ? rc_ : 0;                                                          \
	} while (0)

static void read_client(store_stmt *st, gdpr_client *r)
{
	*r = (gdpr_client){
	    .id = store_col_int64(st, 0),
	    .name = store_col_text(st, 1),
	    .description = store_col_text(st, 2),
	    .contact_person = store_col_text(st, 3),
	    .email = store_col_text(st, 4),
	    .phone = store_col_text(st, 5),
	    .address = store_col_text(st, 6),
	    .default_hourly_rate = store_col_text(st, 7),
	    .status = store_col_text(st, 8),
	    .custom_fields = store_col_text(st, 9),
	    .created_by_import_id = opt_int(st, 10),
	    .created_at = opt_int(st, 11),
	};
}

int gdpr_clients_walk(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_client *r),
                      void *ctx, tt_error *err)
{
	int64_t u = user_id;
	store_stmt *st =
	    store_query(c, err,
	                "SELECT id, name, description, contact_person, email, phone, address,"
	                " default_hourly_rate, status, custom_fields, created_by_import_id,"
	                " created_at FROM clients WHERE id IN " GDPR_UC " ORDER BY name, id",
	                "iiiii", u, u, u, u, u);

	GDPR_WALK(st, gdpr_client, read_client);
}

static void read_project(store_stmt *st, gdpr_project *r)
{
	*r = (gdpr_project){
	    .id = store_col_int64(st, 0),
	    .name = store_col_text(st, 1),
	    .client_id = store_col_int64(st, 2),
	    .client_name = store_col_text(st, 3),
	    .billable = store_col_bool(st, 4),
	    .status = store_col_text(st, 5),
	    .created_by_import_id = opt_int(st, 6),
	    .created_at = opt_int(st, 7),
	};
}

int gdpr_projects_walk(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_project *r),
                       void *ctx, tt_error *err)
{
	int64_t u = user_id;
	store_stmt *st =
	    store_query(c, err,
	                "SELECT p.id, p.name, p.client_id, cl.name, p.billable, p.status,"
	                " p.created_by_import_id, p.created_at FROM projects p"
	                " JOIN clients cl ON cl.id = p.client_id WHERE p.id IN " GDPR_UP
	                " ORDER BY p.name, cl.name, p.id",
	                "iiii", u, u, u, u);

	GDPR_WALK(st, gdpr_project, read_project);
}

static void read_task(store_stmt *st, gdpr_task *r)
{
	*r = (gdpr_task){
	    .id = store_col_int64(st, 0),
	    .name = store_col_text(st, 1),
	    .project_id = store_col_int64(st, 2),
	    .project_name = store_col_text(st, 3),
	    .client_name = store_col_text(st, 4),
	    .status = store_col_text(st, 5),
	    .created_by_import_id = opt_int(st, 6),
	    .created_at = opt_int(st, 7),
	};
}

int gdpr_tasks_walk(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_task *r),
                    void *ctx, tt_error *err)
{
	int64_t u = user_id;
	store_stmt *st =
	    store_query(c, err,
	                "SELECT t.id, t.name, t.project_id, p.name, cl.name, t.status,"
	                " t.created_by_import_id, t.created_at FROM tasks t"
	                " JOIN projects p ON p.id = t.project_id"
	                " JOIN clients cl ON cl.id = p.client_id WHERE t.id IN " GDPR_UT
	                " ORDER BY t.name, p.name, t.id",
	                "ii", u, u);

	GDPR_WALK(st, gdpr_task, read_task);
}

static void read_tag(store_stmt *st, gdpr_tag *r)
{
	*r = (gdpr_tag){
	    .id = store_col_int64(st, 0),
	    .name = store_col_text(st, 1),
	    .created_by_import_id = opt_int(st, 2),
	    .created_at = opt_int(st, 3),
	};
}

int gdpr_tags_walk(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_tag *r),
                   void *ctx, tt_error *err)
{
	int64_t u = user_id;
	store_stmt *st = store_query(c, err,
	                             "SELECT id, name, created_by_import_id, created_at FROM tags"
	                             " WHERE id IN " GDPR_UG " ORDER BY name_key, id",
	                             "ii", u, u);

	GDPR_WALK(st, gdpr_tag, read_tag);
}

static void read_token(store_stmt *st, gdpr_token *r)
{
	*r = (gdpr_token){
	    .id = store_col_int64(st, 0),
	    .name = store_col_text(st, 1),
	    .prefix = store_col_text(st, 2),
	    .created_at = opt_int(st, 3),
	    .last_used_at = opt_int(st, 4),
	    .revoked_at = opt_int(st, 5),
	};
}

int gdpr_tokens_walk(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_token *r),
                     void *ctx, tt_error *err)
{
	store_stmt *st = store_query(c, err,
	                             "SELECT id, name, prefix, created_at, last_used_at, revoked_at"
	                             " FROM api_tokens WHERE user_id = ? ORDER BY id",
	                             "i", user_id);

	GDPR_WALK(st, gdpr_token, read_token);
}

static void read_session(store_stmt *st, gdpr_session *r)
{
	*r = (gdpr_session){
	    .created_at = opt_int(st, 0),
	    .expires_at = opt_int(st, 1),
	    .last_seen_at = opt_int(st, 2),
	    .user_agent = store_col_text(st, 3),
	    .ip_address = store_col_text(st, 4),
	};
}

int gdpr_sessions_walk(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_session *r),
                       void *ctx, tt_error *err)
{
	store_stmt *st =
	    store_query(c, err,
	                "SELECT created_at, expires_at, last_seen_at, user_agent, ip_address"
	                " FROM sessions WHERE user_id = ? ORDER BY created_at, id",
	                "i", user_id);

	GDPR_WALK(st, gdpr_session, read_session);
}

static void read_export(store_stmt *st, gdpr_export *r)
{
	*r = (gdpr_export){
	    .id = store_col_int64(st, 0),
	    .export_type = store_col_text(st, 1),
	    .export_format = store_col_text(st, 2),
	    .status = store_col_text(st, 3),
	    .record_count = store_col_int64(st, 4),
	    .has_file_size = !store_col_is_null(st, 5),
	    .file_size = opt_int(st, 5),
	    .sha256 = store_col_text(st, 6),
	    .filters = store_col_text(st, 7),
	    .error_message = store_col_text(st, 8),
	    .created_at = opt_int(st, 9),
	    .completed_at = opt_int(st, 10),
	    .expires_at = opt_int(st, 11),
	};
}

int gdpr_exports_walk(store_conn *c, int64_t user_id, int (*cb)(void *ctx, const gdpr_export *r),
                      void *ctx, tt_error *err)
{
	/* file_name is a server path (SPEC §2): never selected. */
	store_stmt *st =
	    store_query(c, err,
	                "SELECT id, export_type, export_format, status, record_count,"
	                " file_size, sha256, filters, error_message, created_at, completed_at,"
	                " expires_at FROM data_exports WHERE user_id = ? ORDER BY created_at, id",
	                "i", user_id);

	GDPR_WALK(st, gdpr_export, read_export);
}

#define GDPR_IMPORT_COLS                                                                           \
	"i.id, i.import_type, i.source_file, i.status, i.total_records,"                           \
	" i.successful_records, i.failed_records, i.skipped_records, i.warning_count,"             \
	" i.options, i.import_summary, i.error_message, i.created_at, i.started_at,"               \
	" i.completed_at, i.undone_at"

static void read_import(store_stmt *st, gdpr_import *r)
{
	*r = (gdpr_import){
	    .id = store_col_int64(st, 0),
	    .import_type = store_col_text(st, 1),
	    .source_file = store_col_text(st, 2),
	    .status = store_col_text(st, 3),
	    .total = store_col_int64(st, 4),
	    .successful = store_col_int64(st, 5),
	    .failed = store_col_int64(st, 6),
	    .skipped = store_col_int64(st, 7),
	    .warnings = store_col_int64(st, 8),
	    .options = store_col_text(st, 9),
	    .summary = store_col_text(st, 10),
	    .error_message = store_col_text(st, 11),
	    .created_at = opt_int(st, 12),
	    .started_at = opt_int(st, 13),
	    .completed_at = opt_int(st, 14),
	    .undone_at = opt_int(st, 15),
	};
}

int gdpr_imports_walk(store_conn *c, int64_t user_id,
                      int (*on_import)(void *ctx, const gdpr_import *r),
                      int (*on_error)(void *ctx, const gdpr_import_error *e), void *ctx,
                      tt_error *err)
{
	store_stmt *st;
	int64_t last = 0;
	int rc, stop = 0;

	/*
	 * One query, errors joined to their import: one cursor at a time, which
	 * a backend streaming rows (PostgreSQL single-row mode) needs.
	 */
	if (on_error)
		st = store_query(
		    c, err,
		    "SELECT " GDPR_IMPORT_COLS ", e.id, e.row_number, e.line_number,"
		    " e.column_name, e.value, e.code, e.message, e.severity"
		    " FROM data_imports i LEFT JOIN import_errors e ON e.import_id = i.id"
		    " WHERE i.user_id = ? ORDER BY i.created_at, i.id, e.row_number, e.id",
		    "i", user_id);
	else
		st = store_query(c, err,
		                 "SELECT " GDPR_IMPORT_COLS
		                 " FROM data_imports i WHERE i.user_id = ?"
		                 " ORDER BY i.created_at, i.id",
		                 "i", user_id);
	if (!st)
		return query_failed(err);
	while ((rc = store_step(st, err)) == STORE_ROW) {
		int64_t id = store_col_int64(st, 0);

		if (id != last) {
			gdpr_import r;

			read_import(st, &r);
			last = id;
			if (on_import && (stop = on_import(ctx, &r)) != 0)
				break;
		}
		if (on_error && !store_col_is_null(st, 16)) {
			gdpr_import_error e = {
			    .import_id = id,
			    .row = store_col_int64(st, 17),
			    .line = opt_int(st, 18),
			    .column = store_col_text(st, 19),
			    .value = store_col_text(st, 20),
			    .code = store_col_text(st, 21),
			    .message = store_col_text(st, 22),
			    .severity = store_col_text(st, 23),
			};

			if ((stop = on_error(ctx, &e)) != 0)
				break;
		}
	}
	store_stmt_done(st);
	if (stop)
		return stop;
	return rc < 0 ? rc : 0;
}
