/*
 * options.c - the options of an import: parsing from the API/CLI, and
 * saving them with the import (data_imports.options) so a resumed job runs
 * exactly as it started.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/tz.h"
#include "imports/import.h"

const char IMPORT_TEMPLATE_CSV[] =
	"project_name,client_name,task_name,start_time,end_time,duration_hours,notes,tags,billable\r\n"
	"Website Redesign,Acme Corp,Design,2024-01-15 09:00,2024-01-15 12:30,,Homepage mock-ups,design;client-work,true\r\n"
	"Website Redesign,Acme Corp,Development,2024-01-15 13:30,,2.5,Navigation bar,development,true\r\n"
	"Internal,,,2024-01-16 10:00,2024-01-16 11:00,,Team meeting,meeting,false\r\n";

const char IMPORT_CLIENTS_TEMPLATE_CSV[] =
	"name,description,contact_person,email,phone,address,default_hourly_rate,status\r\n"
	"Acme Corp,Web projects,Jane Doe,jane@acme.example,+1 555 0100,\"1 Main St, Springfield\",95.00,active\r\n";

void import_options_init(struct import_options *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->format, sizeof(o->format), "auto");
}

static int parse_flag(const char *key, const char *v, bool *out, tt_error *err)
{
	if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
	    !*v) {
		*out = false;
		return 0;
	}
	return tt_error_set(err, TT_EINVAL, "invalid_field", key, "%s must be true or false, got \"%.40s\"",
			    key, v);
}

int import_options_set(struct import_options *o, const char *key, const char *v, tt_error *err)
{
	if (!strcmp(key, "format")) {
		if (!strcmp(v, "auto") || !strcmp(v, "timetracker") || !*v) {
			snprintf(o->format, sizeof(o->format), "%s", *v ? v : "auto");
			return 0;
		}
		if (!strcmp(v, "toggl_csv") || !strcmp(v, "harvest_csv") || !strcmp(v, "clockify_csv"))
			return tt_error_set(err, TT_EINVAL, "invalid_field", key,
					    "format %s is not supported by this version yet; use timetracker",
					    v);
		return tt_error_set(err, TT_EINVAL, "invalid_field", key,
				    "format must be auto or timetracker, got \"%.40s\"", v);
	}
	if (!strcmp(key, "timezone")) {
		if (!*v) {
			o->timezone[0] = '\0';
			return 0;
		}
		if (strlen(v) >= sizeof(o->timezone) || !tz_is_valid(v))
			return tt_error_set(err, TT_EINVAL, "invalid_field", key,
					    "unknown time zone \"%.60s\"", v);
		snprintf(o->timezone, sizeof(o->timezone), "%s", v);
		return 0;
	}
	if (!strcmp(key, "date_order")) {
		if (!*v) {
			o->date_order = DT_ORDER_NONE;
			return 0;
		}
		if (dt_order_parse(v, &o->date_order))
			return tt_error_set(err, TT_EINVAL, "invalid_field", key,
					    "date_order must be ymd, dmy or mdy, got \"%.40s\"", v);
		return 0;
	}
	if (!strcmp(key, "delimiter")) {
		if (!*v || !strcmp(v, "auto"))
			o->delimiter = 0;
		else if (!strcmp(v, ",") || !strcasecmp(v, "comma"))
			o->delimiter = ',';
		else if (!strcmp(v, ";") || !strcasecmp(v, "semicolon"))
			o->delimiter = ';';
		else if (!strcmp(v, "\t") || !strcasecmp(v, "tab") || !strcmp(v, "\\t"))
			o->delimiter = '\t';
		else
			return tt_error_set(err, TT_EINVAL, "invalid_field", key,
					    "delimiter must be \",\", \";\" or tab, got \"%.10s\"", v);
		return 0;
	}
	if (!strcmp(key, "duplicates")) {
		if (!strcmp(v, "skip") || !*v)
			o->allow_duplicates = false;
		else if (!strcmp(v, "allow"))
			o->allow_duplicates = true;
		else
			return tt_error_set(err, TT_EINVAL, "invalid_field", key,
					    "duplicates must be skip or allow, got \"%.40s\"", v);
		return 0;
	}
	if (!strcmp(key, "atomic"))
		return parse_flag(key, v, &o->atomic, err);
	if (!strcmp(key, "dry_run"))
		return parse_flag(key, v, &o->dry_run, err);
	if (!strcmp(key, "wait"))
		return parse_flag(key, v, &o->wait, err);
	return 1;
}

json_t *import_options_to_json(const struct import_options *o)
{
	static const char *orders[] = { "", "ymd", "dmy", "mdy" };
	char delim[2] = { o->delimiter, '\0' };

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "format", o->format, "timezone",
			 o->timezone, "date_order", orders[o->date_order], "delimiter", delim,
			 "duplicates", o->allow_duplicates ? "allow" : "skip", "atomic", o->atomic);
}

void import_options_from_json(struct import_options *o, const char *text)
{
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	const char *key;
	json_t *v;

	import_options_init(o);
	if (!j)
		return;
	json_object_foreach(j, key, v) {
		if (json_is_string(v))
			import_options_set(o, key, json_string_value(v), NULL);
		else if (json_is_boolean(v))
			import_options_set(o, key, json_is_true(v) ? "true" : "false", NULL);
	}
	json_decref(j);
}
