/*
 * entries.c - handlers for time entries and the catalogue (SPEC §3.2).
 *
 * Times come in as ISO 8601 with an offset, or as wall-clock times in the
 * entry's `timezone` (default: the user's zone); they are stored as UTC
 * seconds and always answered in UTC. Creating or updating resolves the
 * project (by id, or by name + client name, created when missing), task and
 * tags inside one write transaction, so a failure stores nothing.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/input.h"
#include "core/datetime.h"
#include "core/tz.h"
#include "exports/export.h"
#include "store/entries.h"
#include "util/alloc.h"
#include "util/config.h"

#define NOTES_MAX 10000
#define NAME_MAX_LEN 200
#define TAGS_MAX 50
#define TAG_LEN_MAX 100
#define PAGE_DEFAULT 50
#define PAGE_MAX 1000

/* ---- rendering ---- */

#define entry_json export_entry_json

static json_t *id_or_null(int64_t id)
{
	return id ? json_integer(id) : json_null();
}

static int collect_cb(void *ctx, const entry_rec *e)
{
	json_array_append_new(ctx, entry_json(e));
	return 0;
}

/* The entry as JSON, or NULL with err (TT_ENOTFOUND) when absent or not visible. */
static json_t *load_entry(http_req *req, int64_t id, tt_error *err)
{
	entry_filter f;
	json_t *arr = json_array();
	json_t *e;

	entry_filter_init(&f);
	f.entry_id = id;
	f.user_id = req->user.is_admin ? 0 : req->user.id;
	if (entries_walk(req->db, &f, 1, 0, collect_cb, arr, err)) {
		json_decref(arr);
		return NULL;
	}
	e = json_array_get(arr, 0);
	if (!e) {
		json_decref(arr);
		tt_error_set(err, TT_ENOTFOUND, "not_found", NULL, "no such time entry");
		return NULL;
	}
	json_incref(e);
	json_decref(arr);
	return e;
}

/* ---- input ---- */

/* Trims ASCII space around s in place; returns s. */
static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20)
			return true;
	return false;
}

/* Resolves the zone named by field `timezone` (or the user's). */
static const tz_zone *entry_zone(http_req *req, const char *name, tt_error *err)
{
	const tz_zone *z = tz_get(name ? name : req->user.timezone);

	if (!z)
		tt_error_set(err, TT_EINVAL, "invalid_field", "timezone",
			     "unknown time zone \"%.60s\"", name ? name : req->user.timezone);
	return z;
}

static int parse_time_field(const char *field, const char *v, const tz_zone *z, int64_t *out,
			    tt_error *err)
{
	const char *msg = NULL;
	bool overlap = false;
	int rc = dt_parse_instant(v, DT_ORDER_NONE, z, out, &overlap, &msg);

	if (rc == DT_EGAP)
		return tt_error_set(err, TT_EINVAL, "invalid_field", field,
				    "%s: %s does not exist in %s (clocks were put forward)", field, v,
				    tz_name(z));
	if (rc == DT_EAMBIGUOUS)
		return tt_error_set(err, TT_EINVAL, "invalid_field", field,
				    "%s: %s is ambiguous (day and month could be swapped); write it as YYYY-MM-DD",
				    field, v);
	if (rc)
		return tt_error_set(err, TT_EINVAL, "invalid_field", field, "%s: %s", field,
				    msg ? msg : "not a valid date-time");
	return 0;
}

/* What a create or update asks for, after validation. */
struct entry_req {
	const char *project, *client, *task;  /* names */
	int64_t project_id, task_id;
	bool has_project_id, has_task_id, has_project_name;
	bool has_start, has_end, has_duration, has_notes, has_billable, has_tags;
	int64_t start, end, duration;
	const char *notes;
	bool billable;
	char *tags[TAGS_MAX];
	size_t n_tags;
	int64_t user_id;
};

static void entry_req_release(struct entry_req *r)
{
	for (size_t i = 0; i < r->n_tags; i++)
		free(r->tags[i]);
	r->n_tags = 0;
}

static int parse_entry_body(http_req *req, struct entry_req *r, tt_error *err)
{
	static const char *const keys[] = { "project_id", "project", "client", "task_id",
					    "task", "start_time", "end_time", "duration_seconds",
					    "notes", "tags", "billable", "timezone", "user_id", NULL };
	const char *tzname = NULL, *start = NULL, *end = NULL;
	const tz_zone *z;
	json_t *tags, *it;
	bool present;
	int64_t uid;
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	r->user_id = req->user.id;
	if ((rc = in_only_keys(req->json, keys, err)) ||
	    (rc = in_string(req->json, "timezone", false, 64, &tzname, err)) ||
	    (rc = in_string(req->json, "project", false, NAME_MAX_LEN, &r->project, err)) ||
	    (rc = in_string(req->json, "client", false, NAME_MAX_LEN, &r->client, err)) ||
	    (rc = in_string(req->json, "task", false, NAME_MAX_LEN, &r->task, err)) ||
	    (rc = in_int(req->json, "project_id", 1, INT64_MAX, &r->project_id, &r->has_project_id, err)) ||
	    (rc = in_int(req->json, "task_id", 1, INT64_MAX, &r->task_id, &r->has_task_id, err)) ||
	    (rc = in_string(req->json, "start_time", false, 64, &start, err)) ||
	    (rc = in_string(req->json, "end_time", false, 64, &end, err)) ||
	    (rc = in_int(req->json, "duration_seconds", 1, INT32_MAX, &r->duration, &r->has_duration, err)) ||
	    (rc = in_string(req->json, "notes", false, NOTES_MAX, &r->notes, err)) ||
	    (rc = in_bool(req->json, "billable", &r->billable, &r->has_billable, err)) ||
	    (rc = in_string_array(req->json, "tags", TAGS_MAX, TAG_LEN_MAX, &tags, err)) ||
	    (rc = in_int(req->json, "user_id", 1, INT64_MAX, &uid, &present, err)))
		return rc;
	if (present && uid != req->user.id) {
		if (!req->user.is_admin)
			return tt_error_set(err, TT_EFORBIDDEN, "forbidden", "user_id",
					    "only administrators may act for another user");
		r->user_id = uid;
	}
	if (!(z = entry_zone(req, tzname, err)))
		return err->rc;
	if (start) {
		if ((rc = parse_time_field("start_time", start, z, &r->start, err)))
			return rc;
		r->has_start = true;
	}
	if (end) {
		if ((rc = parse_time_field("end_time", end, z, &r->end, err)))
			return rc;
		r->has_end = true;
	}
	r->has_notes = r->notes != NULL;
	if (r->project) {
		char *p = trim((char *)(uintptr_t)r->project);

		if (!*p || has_control(p))
			return tt_error_set(err, TT_EINVAL, "invalid_field", "project",
					    "project must be a non-empty name without control characters");
		r->project = p;
		r->has_project_name = true;
	}
	if (r->client) {
		char *p = trim((char *)(uintptr_t)r->client);

		if (has_control(p))
			return tt_error_set(err, TT_EINVAL, "invalid_field", "client",
					    "client must not contain control characters");
		r->client = *p ? p : NULL;
	}
	if (r->client && !r->project)
		return tt_error_set(err, TT_EINVAL, "invalid_field", "client",
				    "client is only used together with project (a project name)");
	if (r->has_project_id && r->has_project_name)
		return tt_error_set(err, TT_EINVAL, "invalid_field", "project",
				    "give project_id or project, not both");
	if (r->task) {
		char *p = trim((char *)(uintptr_t)r->task);

		if (has_control(p))
			return tt_error_set(err, TT_EINVAL, "invalid_field", "task",
					    "task must not contain control characters");
		r->task = *p ? p : NULL;
	}
	if (r->has_task_id && r->task)
		return tt_error_set(err, TT_EINVAL, "invalid_field", "task",
				    "give task_id or task, not both");
	if (tags) {
		r->has_tags = true;
		json_array_foreach(tags, i, it) {
			char *raw = xstrdup(json_string_value(it));
			char *t = trim(raw);
			char key_a[TAG_LEN_MAX * 2], key_b[TAG_LEN_MAX * 2];
			bool dup = false;

			if (!*t || has_control(t)) {
				free(raw);
				return tt_error_set(err, TT_EINVAL, "invalid_field", "tags",
						    "tags: item %zu is empty or has control characters",
						    i + 1);
			}
			catalog_name_key(t, key_a, sizeof(key_a));
			for (size_t j = 0; j < r->n_tags && !dup; j++) {
				catalog_name_key(r->tags[j], key_b, sizeof(key_b));
				dup = !strcmp(key_a, key_b);
			}
			if (!dup)
				r->tags[r->n_tags++] = xstrdup(t);
			free(raw);
		}
	}
	return 0;
}

/* Checks the interval; errors name the field that makes it wrong. */
static int check_interval(int64_t start, int64_t end, bool end_given, tt_error *err)
{
	const char *field = end_given ? "end_time" : "duration_seconds";

	if (end <= start)
		return tt_error_set(err, TT_EINVAL, "invalid_field", field,
				    "the entry must end after it starts");
	if (end - start > cfg.max_entry_hours * 3600)
		return tt_error_set(err, TT_EINVAL, "invalid_field", field,
				    "the entry is longer than %lld hours (TT_MAX_ENTRY_HOURS)",
				    (long long)cfg.max_entry_hours);
	return 0;
}

/* Resolves project/task names and ids into in->project_id / in->task_id. */
static int resolve_refs(http_req *req, const struct entry_req *r, entry_input *in,
			tt_error *err)
{
	int64_t client_id, owner;
	bool created;
	int rc;

	if (r->has_project_id) {
		if ((rc = catalog_project_get(req->db, r->project_id, &client_id, err)))
			return rc == TT_ENOTFOUND
				       ? tt_error_set(err, TT_EINVAL, "invalid_field", "project_id",
						      "project %lld does not exist",
						      (long long)r->project_id)
				       : rc;
		if (in->project_id != r->project_id)
			in->task_id = 0; /* a task belongs to its project */
		in->project_id = r->project_id;
	} else if (r->has_project_name) {
		int64_t before = in->project_id;

		if ((rc = catalog_client(req->db, r->client ? r->client : r->project, 0, &client_id,
					 &created, err)) ||
		    (rc = catalog_project(req->db, client_id, r->project, 0, &in->project_id,
					  &created, err)))
			return rc;
		if (in->project_id != before)
			in->task_id = 0; /* a task belongs to its project */
	}
	if (r->has_task_id) {
		if ((rc = catalog_task_get(req->db, r->task_id, &owner, err)))
			return rc == TT_ENOTFOUND
				       ? tt_error_set(err, TT_EINVAL, "invalid_field", "task_id",
						      "task %lld does not exist", (long long)r->task_id)
				       : rc;
		if (owner != in->project_id)
			return tt_error_set(err, TT_EINVAL, "invalid_field", "task_id",
					    "task %lld does not belong to the entry's project",
					    (long long)r->task_id);
		in->task_id = r->task_id;
	} else if (r->task) {
		if (!in->project_id)
			return tt_error_set(err, TT_EINVAL, "invalid_field", "task",
					    "a task needs a project");
		if ((rc = catalog_task(req->db, in->project_id, r->task, 0, &in->task_id, &created,
				       err)))
			return rc;
	}
	return 0;
}

static void reply_entry(http_req *req, int status, int64_t id)
{
	tt_error err;
	json_t *e;

	tt_error_init(&err);
	e = load_entry(req, id, &err);
	if (!e) {
		http_reply_tt_error(req, &err);
		return;
	}
	http_reply_json(req, status, e);
}

void h_entries_create(http_req *req)
{
	struct entry_req r;
	entry_input in = { 0 };
	tt_error err;
	int64_t id = 0;
	int rc;

	tt_error_init(&err);
	if ((rc = parse_entry_body(req, &r, &err)))
		goto out;
	if (!r.has_start) {
		rc = tt_error_set(&err, TT_EINVAL, "missing_field", "start_time", "start_time is required");
		goto out;
	}
	if (!r.has_end && !r.has_duration) {
		rc = tt_error_set(&err, TT_EINVAL, "missing_field", "end_time",
				  "end_time or duration_seconds is required");
		goto out;
	}
	if (r.has_end && r.has_duration && r.end - r.start != r.duration) {
		rc = tt_error_set(&err, TT_EINVAL, "invalid_field", "duration_seconds",
				  "duration_seconds disagrees with start_time and end_time");
		goto out;
	}
	in.user_id = r.user_id;
	in.start_at = r.start;
	in.end_at = r.has_end ? r.end : r.start + r.duration;
	if ((rc = check_interval(in.start_at, in.end_at, r.has_end, &err)))
		goto out;
	in.notes = r.notes;
	in.billable = r.has_billable ? r.billable : true;
	in.source = "manual";
	in.tags = (const char *const *)r.tags;
	in.n_tags = r.n_tags;
	in.set_tags = true;

	if ((rc = store_begin(req->db, STORE_TX_WRITE, &err)))
		goto out;
	if ((rc = resolve_refs(req, &r, &in, &err)) ||
	    (rc = entries_insert(req->db, &in, &id, &err)) ||
	    (rc = store_commit(req->db, &err))) {
		store_rollback(req->db);
		goto out;
	}
out:
	entry_req_release(&r);
	if (rc == TT_ECONFLICT && !err.field[0])
		rc = tt_error_set(&err, TT_EINVAL, "invalid_field", "user_id",
				  "the entry refers to a user that does not exist");
	if (rc) {
		http_reply_tt_error(req, &err);
		return;
	}
	reply_entry(req, 201, id);
}

void h_entries_get(http_req *req)
{
	reply_entry(req, 200, req->params[0]);
}

void h_entries_update(http_req *req)
{
	int64_t id = req->params[0];
	struct entry_req r;
	entry_input in = { 0 };
	json_t *cur = NULL;
	tt_error err;
	int rc;

	tt_error_init(&err);
	if ((rc = parse_entry_body(req, &r, &err)))
		goto out;
	if ((rc = store_begin(req->db, STORE_TX_WRITE, &err)))
		goto out;
	if (!(cur = load_entry(req, id, &err))) {
		rc = err.rc;
		goto fail;
	}
	in.user_id = json_integer_value(json_object_get(cur, "user_id"));
	if (json_object_get(req->json, "user_id") && r.user_id != in.user_id) {
		rc = tt_error_set(&err, TT_EINVAL, "invalid_field", "user_id",
				  "an entry cannot be moved to another user");
		goto fail;
	}
	in.project_id = json_integer_value(json_object_get(cur, "project_id"));
	in.task_id = json_integer_value(json_object_get(cur, "task_id"));
	dt_parse_instant(json_string_value(json_object_get(cur, "start_time")), DT_ORDER_YMD,
			 tz_get("UTC"), &in.start_at, NULL, NULL);
	dt_parse_instant(json_string_value(json_object_get(cur, "end_time")), DT_ORDER_YMD,
			 tz_get("UTC"), &in.end_at, NULL, NULL);
	if (r.has_start)
		in.start_at = r.start;
	if (r.has_end)
		in.end_at = r.end;
	else if (r.has_duration)
		in.end_at = in.start_at + r.duration;
	if (r.has_end && r.has_duration && in.end_at - in.start_at != r.duration) {
		rc = tt_error_set(&err, TT_EINVAL, "invalid_field", "duration_seconds",
				  "duration_seconds disagrees with start_time and end_time");
		goto fail;
	}
	if ((rc = check_interval(in.start_at, in.end_at, r.has_end || !r.has_duration, &err)))
		goto fail;
	in.notes = r.has_notes ? r.notes : json_string_value(json_object_get(cur, "notes"));
	in.billable = r.has_billable ? r.billable : json_is_true(json_object_get(cur, "billable"));
	in.tags = (const char *const *)r.tags;
	in.n_tags = r.n_tags;
	in.set_tags = r.has_tags;
	if ((rc = resolve_refs(req, &r, &in, &err)) ||
	    (rc = entries_update(req->db, id, &in, &err)) ||
	    (rc = store_commit(req->db, &err)))
		goto fail;
	goto out;
fail:
	store_rollback(req->db);
out:
	json_decref(cur);
	entry_req_release(&r);
	if (rc) {
		http_reply_tt_error(req, &err);
		return;
	}
	reply_entry(req, 200, id);
}

void h_entries_delete(http_req *req)
{
	tt_error err;

	tt_error_init(&err);
	if (entries_delete(req->db, req->params[0], req->user.is_admin ? 0 : req->user.id, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:b, s:I}", "success", 1, "id",
					    (json_int_t)req->params[0]));
}

/* ---- listing ---- */

/* A date (calendar day in z) or a full instant; end bounds are inclusive. */
static int parse_bound(const char *name, const char *v, const tz_zone *z, bool is_end,
		       int64_t *out, tt_error *err)
{
	const char *msg = NULL;
	int rc = dt_parse_bound(v, z, is_end, out, &msg);

	if (rc == DT_EAMBIGUOUS)
		return tt_error_set(err, TT_EINVAL, "invalid_field", name,
				    "%s: %s is ambiguous; write it as YYYY-MM-DD", name, v);
	if (rc)
		return tt_error_set(err, TT_EINVAL, "invalid_field", name, "%s: %s", name,
				    msg ? msg : "not a valid date");
	return 0;
}

struct list_args {
	entry_filter f;
	int64_t *project_ids, *client_ids, *task_ids, *user_ids;
	char *tags_buf;
	char *tag_keys[200];
	int64_t limit, offset;
};

static void list_args_release(struct list_args *a)
{
	free(a->project_ids);
	free(a->client_ids);
	free(a->task_ids);
	free(a->user_ids);
	free(a->tags_buf);
	for (size_t i = 0; i < a->f.n_tags; i++)
		free(a->tag_keys[i]);
}

static int parse_list_args(http_req *req, struct list_args *a, tt_error *err)
{
	const char *v;
	const tz_zone *z;
	bool b;
	int rc;

	memset(a, 0, sizeof(*a));
	entry_filter_init(&a->f);
	a->f.user_id = req->user.id;
	a->limit = PAGE_DEFAULT;
	if (!(z = entry_zone(req, http_query(req, "timezone"), err)))
		return err->rc;
	if (((v = http_query(req, "user_id")) || (v = http_query(req, "user_ids"))) &&
	    !(strtoll(v, NULL, 10) == req->user.id && !strchr(v, ','))) {
		if (!req->user.is_admin)
			return tt_error_set(err, TT_EFORBIDDEN, "forbidden", "user_id",
					    "only administrators may see other users' entries");
		if ((rc = q_ids("user_id", v, &a->user_ids, &a->f.n_user_ids, err)))
			return rc;
		a->f.user_id = 0;
		a->f.user_ids = a->user_ids;
	} else if (req->user.is_admin && (v = http_query(req, "all")) && !strcmp(v, "true")) {
		a->f.user_id = 0; /* every user */
	}
	if ((v = http_query(req, "start_date"))) {
		if ((rc = parse_bound("start_date", v, z, false, &a->f.from, err)))
			return rc;
		a->f.has_from = true;
	}
	if ((v = http_query(req, "end_date"))) {
		if ((rc = parse_bound("end_date", v, z, true, &a->f.to, err)))
			return rc;
		a->f.has_to = true;
	}
	if ((v = http_query(req, "project_ids")) || (v = http_query(req, "project_id"))) {
		if ((rc = q_ids("project_ids", v, &a->project_ids, &a->f.n_project_ids, err)))
			return rc;
		a->f.project_ids = a->project_ids;
	}
	if ((v = http_query(req, "client_ids")) || (v = http_query(req, "client_id"))) {
		if ((rc = q_ids("client_ids", v, &a->client_ids, &a->f.n_client_ids, err)))
			return rc;
		a->f.client_ids = a->client_ids;
	}
	if ((v = http_query(req, "task_ids")) || (v = http_query(req, "task_id"))) {
		if ((rc = q_ids("task_ids", v, &a->task_ids, &a->f.n_task_ids, err)))
			return rc;
		a->f.task_ids = a->task_ids;
	}
	if ((v = http_query(req, "tags"))) {
		char *save = NULL;

		a->tags_buf = xstrdup(v);
		for (char *t = strtok_r(a->tags_buf, ",;", &save); t; t = strtok_r(NULL, ",;", &save)) {
			char key[TAG_LEN_MAX * 2];

			t = trim(t);
			if (!*t)
				continue;
			if (a->f.n_tags == sizeof(a->tag_keys) / sizeof(a->tag_keys[0]))
				return tt_error_set(err, TT_EINVAL, "invalid_field", "tags",
						    "tags: too many tags");
			catalog_name_key(t, key, sizeof(key));
			a->tag_keys[a->f.n_tags++] = xstrdup(key);
		}
		a->f.tags = (const char *const *)a->tag_keys;
	}
	if ((v = http_query(req, "billable"))) {
		if ((rc = q_bool("billable", v, &b, err)))
			return rc;
		a->f.billable = b;
	}
	if ((v = http_query(req, "source")) && *v) {
		if (strlen(v) > 32)
			return tt_error_set(err, TT_EINVAL, "invalid_field", "source", "source is too long");
		a->f.source = v;
	}
	if ((v = http_query(req, "import_id")) &&
	    (rc = q_int("import_id", v, 1, INT64_MAX, &a->f.import_id, err)))
		return rc;
	if ((v = http_query(req, "limit")) && (rc = q_int("limit", v, 1, PAGE_MAX, &a->limit, err)))
		return rc;
	if ((v = http_query(req, "offset")) &&
	    (rc = q_int("offset", v, 0, INT64_MAX / 2, &a->offset, err)))
		return rc;
	return 0;
}

void h_entries_list(http_req *req)
{
	struct list_args a;
	int64_t total = 0, seconds = 0;
	json_t *arr;
	tt_error err;

	tt_error_init(&err);
	if (parse_list_args(req, &a, &err)) {
		list_args_release(&a);
		http_reply_tt_error(req, &err);
		return;
	}
	arr = json_array();
	/* One read transaction: the page and the totals come from one snapshot. */
	if (store_begin(req->db, STORE_TX_READ, &err) ||
	    entries_count(req->db, &a.f, &total, &seconds, &err) ||
	    entries_walk(req->db, &a.f, a.limit, a.offset, collect_cb, arr, &err)) {
		store_rollback(req->db);
		list_args_release(&a);
		json_decref(arr);
		http_reply_tt_error(req, &err);
		return;
	}
	store_rollback(req->db);
	http_reply_json(req, 200,
			json_pack("{s:o, s:I, s:I, s:I, s:I}", "entries", arr, "total",
				  (json_int_t)total, "total_seconds", (json_int_t)seconds, "limit",
				  (json_int_t)a.limit, "offset", (json_int_t)a.offset));
	list_args_release(&a);
}

/* ---- catalogue ---- */

static int catalog_cb_json(void *ctx, const catalog_rec *r)
{
	json_t *o = json_pack("{s:I, s:s}", "id", (json_int_t)r->id, "name", r->name);

	json_object_set_new(o, "created_by_import_id", id_or_null(r->created_by_import_id));
	json_array_append_new(ctx, o);
	return 0;
}

static int projects_cb(void *ctx, const catalog_rec *r)
{
	json_array_append_new(
		ctx, json_pack("{s:I, s:s, s:I, s:s, s:b, s:s, s:o}", "id", (json_int_t)r->id, "name",
			       r->name, "client_id", (json_int_t)r->parent_id, "client",
			       r->parent_name ? r->parent_name : "", "billable", r->billable, "status",
			       r->status, "created_by_import_id", id_or_null(r->created_by_import_id)));
	return 0;
}

static int clients_cb(void *ctx, const catalog_rec *r)
{
	json_t *custom = r->custom_fields ? json_loads(r->custom_fields, 0, NULL) : NULL;

	json_array_append_new(
		ctx, json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:o, s:o}", "id",
			       (json_int_t)r->id, "name", r->name, "status", r->status, "description",
			       r->description, "contact_person", r->contact_person, "email", r->email,
			       "phone", r->phone, "address", r->address, "default_hourly_rate",
			       r->default_hourly_rate, "custom_fields", custom ? custom : json_object(),
			       "created_by_import_id", id_or_null(r->created_by_import_id)));
	return 0;
}

static int tasks_cb(void *ctx, const catalog_rec *r)
{
	json_array_append_new(ctx, json_pack("{s:I, s:s, s:I, s:s, s:s, s:o}", "id",
					     (json_int_t)r->id, "name", r->name, "project_id",
					     (json_int_t)r->parent_id, "project",
					     r->parent_name ? r->parent_name : "", "status", r->status,
					     "created_by_import_id", id_or_null(r->created_by_import_id)));
	return 0;
}

static void reply_catalog(http_req *req, enum catalog_kind kind, const char *key,
			  int64_t parent, catalog_cb cb)
{
	json_t *arr = json_array();
	tt_error err;

	tt_error_init(&err);
	if (catalog_list(req->db, kind, parent, cb, arr, &err)) {
		json_decref(arr);
		http_reply_tt_error(req, &err);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:o, s:I}", key, arr, "total",
					    (json_int_t)json_array_size(arr)));
}

void h_clients_list(http_req *req)
{
	reply_catalog(req, CATALOG_CLIENTS, "clients", 0, clients_cb);
}

void h_projects_list(http_req *req)
{
	reply_catalog(req, CATALOG_PROJECTS, "projects", 0, projects_cb);
}

void h_tasks_list(http_req *req)
{
	const char *v = http_query(req, "project_id");
	int64_t pid = 0;
	tt_error err;

	tt_error_init(&err);
	if (v && q_int("project_id", v, 1, INT64_MAX, &pid, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	reply_catalog(req, CATALOG_TASKS, "tasks", pid, tasks_cb);
}

void h_tags_list(http_req *req)
{
	reply_catalog(req, CATALOG_TAGS, "tags", 0, catalog_cb_json);
}
