/*
 * entry_json.c - an entry as JSON (SPEC §3.2), shared by the API and the
 * JSON and GDPR exports so both always agree.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/datetime.h"
#include "exports/export.h"
#include "util/alloc.h"

#define TAGS_MAX 50

static json_t *api_time_json(int64_t t)
{
	char buf[21];

	if (!t)
		return json_null();
	dt_format_utc(t, buf);
	return json_string(buf);
}


static int tag_cmp(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *tags_json(const char *joined)
{
	json_t *arr = json_array();
	char *copy = xstrdup(joined);
	char *names[TAGS_MAX * 4];
	size_t n = 0;
	char *p = copy;

	while (*p && n < sizeof(names) / sizeof(names[0])) {
		char *sep = strchr(p, ENTRY_TAG_SEP);

		if (sep)
			*sep = '\0';
		names[n++] = p;
		if (!sep)
			break;
		p = sep + 1;
	}
	qsort(names, n, sizeof(names[0]), tag_cmp);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(names[i]));
	free(copy);
	return arr;
}

static json_t *id_or_null(int64_t id)
{
	return id ? json_integer(id) : json_null();
}

static json_t *text_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *export_entry_json(const entry_rec *e)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(e->id));
	json_object_set_new(o, "user_id", json_integer(e->user_id));
	json_object_set_new(o, "user", text_or_null(e->username));
	json_object_set_new(o, "project_id", id_or_null(e->project_id));
	json_object_set_new(o, "project", text_or_null(e->project));
	json_object_set_new(o, "client_id", id_or_null(e->client_id));
	json_object_set_new(o, "client", text_or_null(e->client));
	json_object_set_new(o, "task_id", id_or_null(e->task_id));
	json_object_set_new(o, "task", text_or_null(e->task));
	json_object_set_new(o, "start_time", api_time_json(e->start_at));
	json_object_set_new(o, "end_time", api_time_json(e->end_at));
	json_object_set_new(o, "duration_seconds", json_integer(e->duration));
	json_object_set_new(o, "notes", json_string(e->notes));
	json_object_set_new(o, "tags", tags_json(e->tags));
	json_object_set_new(o, "billable", json_boolean(e->billable));
	json_object_set_new(o, "source", json_string(e->source));
	json_object_set_new(o, "external_id", text_or_null(e->external_id));
	json_object_set_new(o, "import_id", id_or_null(e->import_id));
	json_object_set_new(o, "created_at", api_time_json(e->created_at));
	json_object_set_new(o, "updated_at", api_time_json(e->updated_at));
	return o;
}

