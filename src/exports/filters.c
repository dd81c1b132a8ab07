/*
 * filters.c - validating filtered-export requests (see filters.h).
 */
#include "exports/filters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/datetime.h"
#include "store/imports.h"
#include "util/alloc.h"

#define IDS_MAX 1000
#define TAGS_MAX 200

void export_filters_init(struct export_filters *ef)
{
	memset(ef, 0, sizeof(*ef));
	entry_filter_init(&ef->f);
	ef->opts.excel_safe = true;
	ef->opts.include_entries = true;
}

void export_filters_release(struct export_filters *ef)
{
	free(ef->project_ids);
	free(ef->client_ids);
	free(ef->task_ids);
	free(ef->user_ids);
	for (size_t i = 0; i < ef->ntags; i++)
		free(ef->tag_keys[i]);
	free(ef->tag_keys);
	free(ef->source);
	if (ef->echo)
		json_decref(ef->echo);
	export_filters_init(ef);
}

/*
 * An invalid filter: fmt holds two %s, for "filters.<field>" and detail. The
 * formats are string literals at every call site.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int bad(tt_error *err, const char *field, const char *fmt, const char *detail)
{
	char name[80];

	snprintf(name, sizeof(name), "filters.%s", field);
	return tt_error_set(err, TT_EINVAL, "invalid_field", name, fmt, name, detail);
}
#pragma GCC diagnostic pop

/* Reads an array of positive ids that must exist in table (via an existence query). */
static int id_list(store_conn *c, json_t *filters, const char *key, const char *table,
		   int64_t **out, size_t *n, tt_error *err)
{
	json_t *v = json_object_get(filters, key), *it;
	size_t i;

	*n = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > IDS_MAX)
		return bad(err, key, "%s must be an array of ids%s", "");
	*out = xmalloc((json_array_size(v) + 1) * sizeof(**out));
	json_array_foreach(v, i, it) {
		bool found = true;
		int rc;

		if (!json_is_integer(it) || json_integer_value(it) <= 0)
			return bad(err, key, "%s must be an array of positive whole numbers%s", "");
		(*out)[(*n)++] = json_integer_value(it);
		if (table && (rc = catalog_id_exists(c, table, json_integer_value(it), &found, err)))
			return rc;
		if (!found) {
			char name[80];

			snprintf(name, sizeof(name), "filters.%s", key);
			return tt_error_set(err, TT_EINVAL, "invalid_field", name, "%s: %lld does not exist",
					    name, (long long)json_integer_value(it));
		}
	}
	return 0;
}

static int flag(json_t *obj, const char *key, const char *prefix, bool *out, tt_error *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		char name[80];

		snprintf(name, sizeof(name), "%s%s", prefix, key);
		return tt_error_set(err, TT_EINVAL, "invalid_field", name,
				    "%s must be true or false (a JSON boolean; \"false\" is a string)", name);
	}
	*out = json_is_true(v);
	return 0;
}

static int parse(store_conn *c, const user_rec *u, json_t *body, struct export_filters *ef,
		 bool check_ids, tt_error *err)
{
	static const char *const top_keys[] = { "format", "filters", "columns", "excel", "excel_safe",
						NULL };
	static const char *const filter_keys[] = {
		"start_date", "end_date", "project_ids", "client_ids", "task_ids", "tags", "billable",
		"source", "import_id", "user_ids", "timezone", "include_time_entries",
		"include_projects", "include_clients", NULL
	};
	json_t *filters = json_object_get(body, "filters");
	json_t *columns = json_object_get(body, "columns");
	const char *key;
	const tz_zone *z;
	json_t *v;
	int rc;

	json_object_foreach(body, key, v) {
		bool ok = false;

		for (const char *const *k = top_keys; *k; k++)
			ok = ok || !strcmp(*k, key);
		if (!ok)
			return tt_error_set(err, TT_EINVAL, "unknown_field", key, "unknown field \"%.60s\"", key);
	}
	if (filters && !json_is_null(filters) && !json_is_object(filters))
		return tt_error_set(err, TT_EINVAL, "invalid_field", "filters", "filters must be an object");
	if (!filters || json_is_null(filters))
		filters = NULL;
	if (filters) {
		json_object_foreach(filters, key, v) {
			bool ok = false;

			for (const char *const *k = filter_keys; *k; k++)
				ok = ok || !strcmp(*k, key);
			if (!ok) {
				char name[80];

				snprintf(name, sizeof(name), "filters.%s", key);
				return tt_error_set(err, TT_EINVAL, "unknown_field", name,
						    "unknown filter %s", name);
			}
		}
	}
	ef->f.user_id = u->id;

	/* Zone first: date bounds depend on it. */
	v = filters ? json_object_get(filters, "timezone") : NULL;
	if (v && !json_is_null(v) && (!json_is_string(v) || !tz_is_valid(json_string_value(v))))
		return bad(err, "timezone", "%s: unknown time zone%s", "");
	z = tz_get(v && json_is_string(v) ? json_string_value(v) : u->timezone);
	if (!z)
		z = tz_get("UTC");
	ef->opts.zone = z;

	if (filters) {
		static const char *bounds[] = { "start_date", "end_date" };

		for (int b = 0; b < 2; b++) {
			const char *msg = NULL;
			int64_t t;

			v = json_object_get(filters, bounds[b]);
			if (!v || json_is_null(v))
				continue;
			if (!json_is_string(v))
				return bad(err, bounds[b], "%s must be a date YYYY-MM-DD or an ISO 8601 date-time%s", "");
			if (dt_parse_bound(json_string_value(v), z, b == 1, &t, &msg))
				return bad(err, bounds[b], "%s: %s", msg ? msg : "not a valid date");
			if (b == 0) {
				ef->f.has_from = true;
				ef->f.from = t;
			} else {
				ef->f.has_to = true;
				ef->f.to = t;
			}
		}
		if (ef->f.has_from && ef->f.has_to && ef->f.to <= ef->f.from)
			return bad(err, "end_date", "%s must not be before start_date%s", "");
		if ((rc = id_list(c, filters, "project_ids",
				  check_ids ? "projects" : NULL, &ef->project_ids,
				  &ef->f.n_project_ids, err)) ||
		    (rc = id_list(c, filters, "client_ids",
				  check_ids ? "clients" : NULL, &ef->client_ids,
				  &ef->f.n_client_ids, err)) ||
		    (rc = id_list(c, filters, "task_ids",
				  check_ids ? "tasks" : NULL, &ef->task_ids,
				  &ef->f.n_task_ids, err)) ||
		    (rc = id_list(c, filters, "user_ids",
				  check_ids ? "users" : NULL, &ef->user_ids,
				  &ef->f.n_user_ids, err)))
			return rc;
		ef->f.project_ids = ef->project_ids;
		ef->f.client_ids = ef->client_ids;
		ef->f.task_ids = ef->task_ids;
		/* SPEC §3.4: user_ids is for admins; everyone else always gets their own. */
		if (ef->f.n_user_ids && u->is_admin) {
			ef->f.user_id = 0;
			ef->f.user_ids = ef->user_ids;
		} else {
			ef->f.n_user_ids = 0;
		}
		v = json_object_get(filters, "tags");
		if (v && !json_is_null(v)) {
			size_t i;
			json_t *it;

			if (!json_is_array(v) || json_array_size(v) > TAGS_MAX)
				return bad(err, "tags", "%s must be an array of tag names%s", "");
			ef->tag_keys = xcalloc(json_array_size(v) + 1, sizeof(char *));
			json_array_foreach(v, i, it) {
				char k[256];

				if (!json_is_string(it) || json_string_length(it) == 0 ||
				    json_string_length(it) > 100)
					return bad(err, "tags", "%s must be an array of tag names (1 to 100 bytes)%s", "");
				catalog_name_key(json_string_value(it), k, sizeof(k));
				ef->tag_keys[ef->ntags++] = xstrdup(k);
			}
			ef->f.tags = (const char *const *)ef->tag_keys;
			ef->f.n_tags = ef->ntags;
		}
		v = json_object_get(filters, "billable");
		if (v && !json_is_null(v)) {
			if (!json_is_boolean(v))
				return bad(err, "billable", "%s must be true or false (a JSON boolean; \"false\" is a string)%s", "");
			ef->f.billable = json_is_true(v);
		}
		v = json_object_get(filters, "source");
		if (v && !json_is_null(v)) {
			if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 32)
				return bad(err, "source", "%s must be a source name such as csv or manual%s", "");
			ef->source = xstrdup(json_string_value(v));
			ef->f.source = ef->source;
		}
		v = json_object_get(filters, "import_id");
		if (v && !json_is_null(v)) {
			import_rec ir;
			tt_error e2;

			if (!json_is_integer(v) || json_integer_value(v) <= 0)
				return bad(err, "import_id", "%s must be a positive whole number%s", "");
			ef->f.import_id = json_integer_value(v);
			/* Someone else's import is answered like one that does not exist. */
			if (check_ids) {
				tt_error_init(&e2);
				rc = imports_get(c, ef->f.import_id, &ir, &e2);
				if (rc == 0) {
					if (ir.user_id != u->id && !u->is_admin)
						rc = TT_ENOTFOUND;
					import_rec_release(&ir);
				}
				if (rc == TT_ENOTFOUND)
					return bad(err, "import_id", "%s: no such import%s", "");
				if (rc)
					return tt_error_set(err, e2.rc, e2.code, NULL, "%s", e2.msg);
			}
		}
		if ((rc = flag(filters, "include_time_entries", "filters.", &ef->opts.include_entries, err)) ||
		    (rc = flag(filters, "include_projects", "filters.", &ef->opts.include_projects, err)) ||
		    (rc = flag(filters, "include_clients", "filters.", &ef->opts.include_clients, err)))
			return rc;
	}
	if ((rc = flag(body, "excel", "", &ef->opts.excel_bom, err)) ||
	    (rc = flag(body, "excel_safe", "", &ef->opts.excel_safe, err)))
		return rc;
	if (columns && !json_is_null(columns)) {
		size_t i;
		json_t *it;

		if (!json_is_array(columns) || json_array_size(columns) == 0)
			return tt_error_set(err, TT_EINVAL, "invalid_field", "columns",
					    "columns must be a non-empty array of column names");
		json_array_foreach(columns, i, it) {
			bool known = false;

			for (const char *const *k = EXPORT_CSV_COLUMNS; *k && json_is_string(it); k++)
				known = known || !strcmp(*k, json_string_value(it));
			if (!known)
				return tt_error_set(err, TT_EINVAL, "invalid_field", "columns",
						    "columns: unknown column %.60s",
						    json_is_string(it) ? json_string_value(it) : "(not a string)");
		}
		ef->opts.columns = columns;
	}
	ef->echo = json_pack("{s:O, s:O, s:b, s:b}", "filters", filters ? filters : json_object(),
			     "columns", columns ? columns : json_null(), "excel", ef->opts.excel_bom,
			     "excel_safe", ef->opts.excel_safe);
	if (filters == NULL)
		json_decref(json_object_get(ef->echo, "filters")); /* balance the O of a fresh object */
	if (ef->opts.columns)
		ef->opts.columns = json_object_get(ef->echo, "columns");
	return 0;
}

int export_filters_parse(store_conn *c, const user_rec *u, json_t *body, struct export_filters *ef,
			 tt_error *err)
{
	return parse(c, u, body, ef, true, err);
}

int export_filters_parse_saved(store_conn *c, const user_rec *u, const char *saved,
			       struct export_filters *ef, tt_error *err)
{
	json_t *body = saved ? json_loads(saved, 0, NULL) : json_object();
	int rc;

	if (!body)
		return tt_error_set(err, TT_EINTERNAL, NULL, NULL, "the saved filters cannot be read");
	rc = parse(c, u, body, ef, false, err);
	json_decref(body);
	return rc;
}
