/*
 * json_writer.c - the JSON export, streamed:
 *
 *   {"export_info": {...}, "time_entries": [...], "projects": [...], "clients": [...]}
 *
 * The envelope is written by hand and each entry is dumped on its own as it
 * comes (export_entry_json, the API's shape), so memory holds one entry at a
 * time. "time_entries" is left out when include_entries is false;
 * "projects" and "clients" are present only when asked for and list the
 * ones the matching entries use. For those the writer remembers only the ids
 * seen (a sorted array: bounded by the number of distinct projects or
 * clients, not by the number of entries) and reads the rows at the end.
 */
#include <stdlib.h>
#include <string.h>

#include "exports/export.h"
#include "util/alloc.h"

/* A sorted set of ids. */
struct id_set {
	int64_t *v;
	size_t n, cap;
};

static void id_set_add(struct id_set *s, int64_t id)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v[mid] == id)
			return;
		if (s->v[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	memmove(s->v + lo + 1, s->v + lo, (s->n - lo) * sizeof(*s->v));
	s->v[lo] = id;
	s->n++;
}

static void id_set_release(struct id_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

struct json_state {
	int64_t written; /* entries in the array so far (for commas) */
	struct id_set projects;
	struct id_set clients;
};

static int dump_cb(const char *buf, size_t size, void *data)
{
	return sink_write(data, buf, size);
}

static int dump(export_sink *s, const json_t *j)
{
	return json_dump_callback(j, dump_cb, s, JSON_COMPACT | JSON_ENCODE_ANY);
}

enum json_part { PART_ENTRIES, PART_PROJECTS, PART_CLIENTS };

/* Whether the export has that part. Without options: the entries only. */
static bool want(const struct export_ctx *x, enum json_part part)
{
	const struct export_opts *o = x->opts;

	switch (part) {
	case PART_ENTRIES: return !o || o->include_entries;
	case PART_PROJECTS: return o && o->include_projects;
	case PART_CLIENTS: return o && o->include_clients;
	}
	return false;
}

static int json_begin(struct export_ctx *x)
{
	x->state = xcalloc(1, sizeof(struct json_state));
	sink_puts(x->sink, "{\"export_info\":");
	if (x->info)
		dump(x->sink, x->info);
	else
		sink_puts(x->sink, "{}");
	if (want(x, PART_ENTRIES))
		sink_puts(x->sink, ",\"time_entries\":[");
	return 0;
}

static int json_entry(struct export_ctx *x, const entry_rec *e)
{
	struct json_state *st = x->state;
	json_t *j;

	if (want(x, PART_PROJECTS) && e->project_id)
		id_set_add(&st->projects, e->project_id);
	if (want(x, PART_CLIENTS) && e->client_id)
		id_set_add(&st->clients, e->client_id);
	if (!want(x, PART_ENTRIES))
		return 0;
	if (st->written++)
		sink_write(x->sink, ",", 1);
	j = export_entry_json(e);
	dump(x->sink, j);
	json_decref(j);
	return 0;
}

static json_t *id_or_null(int64_t id)
{
	return id ? json_integer(id) : json_null();
}

static json_t *text_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int project_cb(void *ctx, const catalog_rec *r)
{
	json_t **out = ctx;

	*out = json_object();
	json_object_set_new(*out, "id", json_integer(r->id));
	json_object_set_new(*out, "name", text_or_null(r->name));
	json_object_set_new(*out, "client_id", id_or_null(r->parent_id));
	json_object_set_new(*out, "client", json_string(r->parent_name ? r->parent_name : ""));
	json_object_set_new(*out, "billable", json_boolean(r->billable));
	json_object_set_new(*out, "status", text_or_null(r->status));
	json_object_set_new(*out, "created_by_import_id", id_or_null(r->created_by_import_id));
	return 0;
}

/* A project as GET /api/projects shows it; *out NULL when it is gone. */
static int project_json(struct export_ctx *x, int64_t id, json_t **out)
{
	*out = NULL;
	return catalog_get(x->c, CATALOG_PROJECTS, id, project_cb, out, x->err);
}

static int client_cb(void *ctx, const catalog_rec *r)
{
	json_t **out = ctx;
	json_t *custom = r->custom_fields ? json_loads(r->custom_fields, 0, NULL) : NULL;

	*out = json_object();
	json_object_set_new(*out, "id", json_integer(r->id));
	json_object_set_new(*out, "name", text_or_null(r->name));
	json_object_set_new(*out, "status", text_or_null(r->status));
	json_object_set_new(*out, "description", text_or_null(r->description));
	json_object_set_new(*out, "contact_person", text_or_null(r->contact_person));
	json_object_set_new(*out, "email", text_or_null(r->email));
	json_object_set_new(*out, "phone", text_or_null(r->phone));
	json_object_set_new(*out, "address", text_or_null(r->address));
	json_object_set_new(*out, "default_hourly_rate", text_or_null(r->default_hourly_rate));
	json_object_set_new(*out, "custom_fields", custom ? custom : json_object());
	json_object_set_new(*out, "created_by_import_id", id_or_null(r->created_by_import_id));
	return 0;
}

/* A client as GET /api/clients shows it; *out NULL when it is gone. */
static int client_json(struct export_ctx *x, int64_t id, json_t **out)
{
	*out = NULL;
	return catalog_get(x->c, CATALOG_CLIENTS, id, client_cb, out, x->err);
}

static int write_list(struct export_ctx *x, const char *key, const struct id_set *ids,
                      int (*one)(struct export_ctx *, int64_t, json_t **))
{
	bool first = true;

	sink_printf(x->sink, ",\"%s\":[", key);
	for (size_t i = 0; i < ids->n; i++) {
		json_t *j;
		int rc = one(x, ids->v[i], &j);

		if (rc < 0)
			return rc;
		if (!j)
			continue; /* deleted since: nothing to show */
		if (!first)
			sink_write(x->sink, ",", 1);
		first = false;
		dump(x->sink, j);
		json_decref(j);
	}
	sink_write(x->sink, "]", 1);
	return 0;
}

static int json_end(struct export_ctx *x)
{
	struct json_state *st = x->state;
	int rc;

	if (want(x, PART_ENTRIES))
		sink_write(x->sink, "]", 1);
	if (want(x, PART_PROJECTS) || want(x, PART_CLIENTS)) {
		if (!x->c)
			return tt_error_set(x->err, TT_EINTERNAL, NULL, NULL,
			                    "the export has no database connection");
	}
	if (want(x, PART_PROJECTS) &&
	    (rc = write_list(x, "projects", &st->projects, project_json)) < 0)
		return rc;
	if (want(x, PART_CLIENTS) && (rc = write_list(x, "clients", &st->clients, client_json)) < 0)
		return rc;
	sink_puts(x->sink, "}\n");
	return 0;
}

static void json_release(struct export_ctx *x)
{
	struct json_state *st = x->state;

	if (st) {
		id_set_release(&st->projects);
		id_set_release(&st->clients);
		free(st);
	}
	x->state = NULL;
}

const struct export_writer export_json_writer = {
    .format = "json",
    .extension = "json",
    .content_type = "application/json",
    .begin = json_begin,
    .entry = json_entry,
    .end = json_end,
    .release = json_release,
};
