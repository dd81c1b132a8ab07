/*
 * csv_import.c - the CSV import pipeline (see import.h).
 *
 * normalise -> validate -> resolve -> dedup -> write, one record at a time,
 * in batches of IMPORT_BATCH rows per transaction. Validation is complete
 * before anything is created, so a bad row never leaves a client or project
 * behind. Every diagnostic carries the data row (header excluded), the
 * physical line, the column and the offending value.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/tz.h"
#include "imports/csv_reader.h"
#include "imports/import.h"
#include "store/entries.h"
#include "store/imports.h"
#include "util/alloc.h"
#include "util/config.h"
#include "util/log.h"
#include "util/strmap.h"

#define IMPORT_BATCH 5000
#define IMPORT_BATCH_BYTES (8 << 20) /* also end a batch when its rows hold this much */
#define NAME_MAX_BYTES 200
#define NOTES_MAX_BYTES 10000
#define TAG_MAX_BYTES 100
#define TAGS_MAX 50
#define VALUE_MAX 200 /* stored excerpt of a bad value */

enum col { C_PROJECT, C_CLIENT, C_TASK, C_START, C_END, C_DURATION, C_NOTES, C_TAGS, C_BILLABLE, C_N };

static const char *const col_names[C_N] = { "project_name", "client_name", "task_name",
					    "start_time",   "end_time",    "duration_hours",
					    "notes",        "tags",        "billable" };

/* Header names and aliases, lower case. */
static const struct {
	const char *name;
	enum col col;
} aliases[] = {
	{ "project_name", C_PROJECT }, { "project", C_PROJECT },
	{ "client_name", C_CLIENT },   { "client", C_CLIENT },
	{ "task_name", C_TASK },       { "task", C_TASK },
	{ "start_time", C_START },     { "start", C_START },
	{ "end_time", C_END },         { "end", C_END },
	{ "duration_hours", C_DURATION }, { "duration", C_DURATION },
	{ "notes", C_NOTES },          { "description", C_NOTES },
	{ "tags", C_TAGS },            { "billable", C_BILLABLE },
};

enum mode { MODE_BEST_EFFORT, MODE_ATOMIC, MODE_DRY_RUN };

struct ictx {
	store_conn *c;
	int64_t import_id;
	const user_rec *u;
	const struct import_options *o;
	const tz_zone *z;
	job *j;
	enum mode mode;
	struct import_result *res;
	csv_reader *rd;
	int fd;
	int64_t file_size;
	int col[C_N];          /* field index of each column, -1 when absent */
	size_t ncols;          /* fields in the header */
	char delim;
	FILE *spool;           /* atomic mode: diagnostics written after the rollback */
	strmap clients, projects, tasks, tags;
	int64_t batch_rows;
	struct pending *pend;  /* valid rows of the batch, written together at its end */
	size_t npend, pend_cap, pend_bytes;
	int64_t pend_min, pend_max;
	int64_t *links;        /* (entry_id, tag_id) pairs of the batch, added at its end */
	size_t nlinks, links_cap;
	bool in_tx;
	bool db_failed;
	tt_error err;          /* the database error that stopped the import */
};

/* A valid, resolved row waiting for the end of its batch. */
struct pending {
	entry_input in;
	char *notes;
	size_t ntags;
	int64_t tag_ids[TAGS_MAX];
};

/* One record turned into an entry. */
struct row {
	const char *project, *client, *task;
	char *names_buf;       /* owns trimmed copies */
	int64_t start, end;
	const char *notes;
	char *notes_buf;
	bool billable;
	char *tags[TAGS_MAX];
	size_t ntags;
};

static void row_release(struct row *r)
{
	free(r->names_buf);
	free(r->notes_buf);
	for (size_t i = 0; i < r->ntags; i++)
		free(r->tags[i]);
	memset(r, 0, sizeof(*r));
}

/* ---- diagnostics ---- */

static void excerpt(const char *v, size_t len, char *out, size_t size)
{
	size_t n = len < size - 1 ? len : size - 1;

	/* Do not cut a UTF-8 sequence in half. */
	while (n > 0 && n < len && ((unsigned char)v[n] & 0xC0) == 0x80)
		n--;
	memcpy(out, v, n);
	out[n] = '\0';
}

static void diag(struct ictx *x, const char *severity, int64_t row, int64_t line,
		 const char *column, const char *value, size_t value_len, const char *code,
		 const char *fmt, ...) __attribute__((format(printf, 9, 10)));

static void diag(struct ictx *x, const char *severity, int64_t row, int64_t line,
		 const char *column, const char *value, size_t value_len, const char *code,
		 const char *fmt, ...)
{
	char msg[512], val[VALUE_MAX * 4 + 1];
	bool is_error = !strcmp(severity, "error");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	val[0] = '\0';
	if (value)
		excerpt(value, value_len, val, VALUE_MAX + 1);
	if (!is_error)
		x->res->warnings++;

	switch (x->mode) {
	case MODE_DRY_RUN:
		if (json_array_size(x->res->errors) < IMPORT_DRY_ERRORS)
			json_array_append_new(
				x->res->errors,
				json_pack("{s:I, s:I, s:s?, s:s?, s:s, s:s, s:s}", "row", (json_int_t)row,
					  "line", (json_int_t)line, "column", column,
					  "value", value ? val : NULL, "code", code, "message", msg,
					  "severity", severity));
		break;
	case MODE_ATOMIC: {
		json_t *o = json_pack("{s:s, s:I, s:I, s:s?, s:s?, s:s, s:s}", "severity", severity,
				      "row", (json_int_t)row, "line", (json_int_t)line, "column",
				      column, "value", value ? val : NULL, "code", code, "message",
				      msg);

		json_dumpf(o, x->spool, JSON_COMPACT);
		fputc('\n', x->spool);
		json_decref(o);
		break;
	}
	case MODE_BEST_EFFORT:
		if (imports_add_error(x->c, x->import_id, severity, row, line, column,
				      value ? val : NULL, code, msg, &x->err))
			x->db_failed = true;
		break;
	}
}

#define ROW_ERROR(x, rec, colname, v, vlen, code, ...)                                     \
	diag((x), "error", (rec)->record - 1, (rec)->line, (colname), (v), (vlen), (code), \
	     __VA_ARGS__)
#define ROW_WARN(x, rec, colname, v, vlen, code, ...)                                        \
	diag((x), "warning", (rec)->record - 1, (rec)->line, (colname), (v), (vlen), (code), \
	     __VA_ARGS__)

/* ---- header ---- */

static void lower_trim(const char *s, size_t len, char *out, size_t size)
{
	size_t n = 0;

	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	for (size_t i = 0; i < len && n + 1 < size; i++)
		out[n++] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
	out[n] = '\0';
}

/* Maps the header; returns 0, or -1 with res->fatal set. */
static int map_header(struct ictx *x, const csv_record *h, bool report)
{
	char name[128], missing[256] = "";
	char unknown[600] = "", found[300] = "";

	for (int i = 0; i < C_N; i++)
		x->col[i] = -1;
	x->ncols = h->nfields;
	for (size_t f = 0; f < h->nfields; f++) {
		bool known = false;

		lower_trim(h->fields[f].ptr, h->fields[f].len, name, sizeof(name));
		{
			size_t l = strlen(found);

			snprintf(found + l, sizeof(found) - l, "%s\"%s\"", l ? ", " : "", name);
		}
		for (size_t a = 0; a < sizeof(aliases) / sizeof(aliases[0]); a++) {
			if (strcmp(name, aliases[a].name))
				continue;
			known = true;
			if (x->col[aliases[a].col] < 0)
				x->col[aliases[a].col] = (int)f;
			else if (report)
				diag(x, "warning", 0, h->line, name, NULL, 0, "duplicate_column",
				     "column %s appears more than once; the first one is used",
				     col_names[aliases[a].col]);
		}
		if (!known && name[0]) {
			size_t l = strlen(unknown);

			snprintf(unknown + l, sizeof(unknown) - l, "%s\"%s\"", l ? ", " : "", name);
		}
	}
	if (x->col[C_PROJECT] < 0)
		strcat(missing, "project_name");
	if (x->col[C_START] < 0)
		strcat(missing, missing[0] ? ", start_time" : "start_time");
	if (x->col[C_END] < 0 && x->col[C_DURATION] < 0)
		strcat(missing, missing[0] ? ", end_time or duration_hours" : "end_time or duration_hours");
	if (missing[0]) {
		snprintf(x->res->fatal, sizeof(x->res->fatal),
			 "the header lacks required column(s): %s (found: %.200s)", missing,
			 found[0] ? found : "nothing");
		return -1;
	}
	if (unknown[0] && report)
		diag(x, "warning", 0, h->line, NULL, NULL, 0, "unknown_column",
		     "unknown column(s) %s ignored", unknown);
	return 0;
}

/* ---- fields ---- */

/* The cell of column c ("" when the column is absent or the row is short). */
static const char *cell(const struct ictx *x, const csv_record *rec, enum col c, size_t *len)
{
	int f = x->col[c];

	if (f < 0 || (size_t)f >= rec->nfields) {
		*len = 0;
		return "";
	}
	*len = rec->fields[f].len;
	return rec->fields[f].ptr;
}

/*
 * Our export's spreadsheet guard: "'=..." -> "=..." (also before + - @ and
 * the TAB and CR our exporter guards). Our exporter adds one quote to any
 * run of quotes before such a character, so one quote is removed from any
 * such run: export -> import gives back exactly the text.
 */
static void unguard(const char **v, size_t *len)
{
	size_t k = 0; /* the character after the leading quotes */

	while (k < *len && (*v)[k] == '\'')
		k++;
	if (k >= 1 && *len > k &&
	    ((*v)[k] == '=' || (*v)[k] == '+' || (*v)[k] == '-' || (*v)[k] == '@' ||
	     (*v)[k] == '\t' || (*v)[k] == '\r')) {
		(*v)++;
		(*len)--;
	}
}

static void trim(const char **v, size_t *len)
{
	while (*len && ((*v)[0] == ' ' || (*v)[0] == '\t')) {
		(*v)++;
		(*len)--;
	}
	while (*len && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t'))
		(*len)--;
}

static bool has_control(const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
			return true;
	return false;
}

/* Parses one instant column; 0 or -1 after reporting. *overlap set for DST overlaps. */
static int parse_instant(struct ictx *x, const csv_record *rec, enum col c, const char *v,
			 size_t len, dt_parsed *p, int64_t *utc, bool *overlap)
{
	const char *msg = NULL;
	int rc = dt_parse(v, len, x->o->date_order, p, &msg);

	if (rc == DT_EAMBIGUOUS) {
		ROW_ERROR(x, rec, col_names[c], v, len, "ambiguous_date",
			  "%s: the date is ambiguous (day and month could be swapped); set date_order to dmy or mdy",
			  col_names[c]);
		return -1;
	}
	if (rc) {
		ROW_ERROR(x, rec, col_names[c], v, len, rc == DT_ERANGE ? "invalid_date" : "invalid_format",
			  "%s: %s", col_names[c], msg ? msg : "not a date-time");
		return -1;
	}
	rc = dt_resolve(p, x->z, utc, overlap);
	if (rc == DT_EGAP) {
		ROW_ERROR(x, rec, col_names[c], v, len, "nonexistent_time",
			  "%s: this local time does not exist in %s (clocks were put forward)",
			  col_names[c], tz_name(x->z));
		return -1;
	}
	return 0;
}

static int parse_billable(const char *v, size_t len, bool *out)
{
	static const char *yes[] = { "true", "yes", "1", "y" }, *no[] = { "false", "no", "0", "n" };

	if (len == 0) {
		*out = true;
		return 0;
	}
	for (int i = 0; i < 4; i++) {
		if (strlen(yes[i]) == len && !strncasecmp(v, yes[i], len)) {
			*out = true;
			return 0;
		}
		if (strlen(no[i]) == len && !strncasecmp(v, no[i], len)) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int64_t llabs64(int64_t v)
{
	return v < 0 ? -v : v;
}

/*
 * Normalises and validates one record into r. Returns 0, or -1 after
 * reporting every problem found in the row (one diagnostic per column).
 */
static int build_row(struct ictx *x, const csv_record *rec, struct row *r)
{
	const char *v;
	size_t len;
	int bad = 0;
	dt_parsed ps, pe;
	bool ov_start = false, ov_end = false, has_end = false, has_dur = false;
	int64_t dur = 0;

	memset(r, 0, sizeof(*r));
	if (rec->nfields > x->ncols) {
		for (size_t f = x->ncols; f < rec->nfields; f++) {
			if (rec->fields[f].len) {
				ROW_ERROR(x, rec, NULL, rec->fields[f].ptr, rec->fields[f].len,
					  "too_many_fields",
					  "the row has %zu fields but the header has %zu; field %zu has data",
					  rec->nfields, x->ncols, f + 1);
				return -1;
			}
		}
	}
	if (rec->bad_utf8_field >= 0) {
		const char *name = "a field";

		for (int c = 0; c < C_N; c++)
			if (x->col[c] == rec->bad_utf8_field)
				name = col_names[c];
		ROW_ERROR(x, rec, name, NULL, 0, "invalid_utf8",
			  "%s holds bytes that are not UTF-8 (byte offset %lld); save the file as UTF-8",
			  name, (long long)rec->bad_utf8_offset);
		return -1;
	}

	/* Names: project (required), client (default: the project), task. */
	{
		const char *p, *cl, *t;
		size_t pl, cll, tl;
		char *buf;

		p = cell(x, rec, C_PROJECT, &pl);
		unguard(&p, &pl);
		trim(&p, &pl);
		cl = cell(x, rec, C_CLIENT, &cll);
		unguard(&cl, &cll);
		trim(&cl, &cll);
		t = cell(x, rec, C_TASK, &tl);
		unguard(&t, &tl);
		trim(&t, &tl);
		if (pl == 0) {
			ROW_ERROR(x, rec, "project_name", NULL, 0, "missing_value", "project_name is required");
			bad = 1;
		}
		if (pl > NAME_MAX_BYTES || cll > NAME_MAX_BYTES || tl > NAME_MAX_BYTES) {
			const char *which = pl > NAME_MAX_BYTES ? "project_name"
					    : cll > NAME_MAX_BYTES ? "client_name" : "task_name";

			ROW_ERROR(x, rec, which, pl > NAME_MAX_BYTES ? p : cll > NAME_MAX_BYTES ? cl : t,
				  pl > NAME_MAX_BYTES ? pl : cll > NAME_MAX_BYTES ? cll : tl, "too_long",
				  "%s is longer than %d bytes", which, NAME_MAX_BYTES);
			bad = 1;
		}
		if (has_control(p, pl) || has_control(cl, cll) || has_control(t, tl)) {
			ROW_ERROR(x, rec, has_control(p, pl) ? "project_name" : has_control(cl, cll) ? "client_name" : "task_name",
				  NULL, 0, "invalid_characters", "names must not contain line breaks or control characters");
			bad = 1;
		}
		/* project, client (the project's name when empty) and task, NUL-separated */
		buf = r->names_buf = xmalloc(pl + (cll ? cll : pl) + tl + 3);
		memcpy(buf, p, pl);
		buf[pl] = '\0';
		r->project = buf;
		buf += pl + 1;
		memcpy(buf, cll ? cl : p, cll ? cll : pl);
		buf[cll ? cll : pl] = '\0';
		r->client = buf;
		buf += (cll ? cll : pl) + 1;
		if (tl) {
			memcpy(buf, t, tl);
			buf[tl] = '\0';
			r->task = buf;
		}
	}

	/* Start (required), end and/or duration. */
	v = cell(x, rec, C_START, &len);
	trim(&v, &len);
	if (len == 0) {
		ROW_ERROR(x, rec, "start_time", NULL, 0, "missing_value", "start_time is required");
		bad = 1;
	} else if (parse_instant(x, rec, C_START, v, len, &ps, &r->start, &ov_start)) {
		bad = 1;
	}
	v = cell(x, rec, C_END, &len);
	trim(&v, &len);
	if (len) {
		if (parse_instant(x, rec, C_END, v, len, &pe, &r->end, &ov_end))
			bad = 1;
		else
			has_end = true;
	}
	v = cell(x, rec, C_DURATION, &len);
	trim(&v, &len);
	if (len) {
		if (dt_parse_hours(v, len, x->delim != ',', &dur)) {
			ROW_ERROR(x, rec, "duration_hours", v, len, "invalid_duration",
				  "duration_hours must be hours such as 1.5%s, 1:30 or 1:30:00",
				  x->delim != ',' ? ", 1,5" : "");
			bad = 1;
		} else {
			has_dur = true;
		}
	}
	if (!bad && !has_end && !has_dur) {
		ROW_ERROR(x, rec, x->col[C_END] >= 0 ? "end_time" : "duration_hours", NULL, 0,
			  "missing_value", "end_time or duration_hours is required");
		bad = 1;
	}

	/* Notes are kept exactly as written. */
	v = cell(x, rec, C_NOTES, &len);
	unguard(&v, &len);
	if (len > NOTES_MAX_BYTES) {
		ROW_ERROR(x, rec, "notes", v, len, "too_long", "notes are longer than %d bytes",
			  NOTES_MAX_BYTES);
		bad = 1;
	} else {
		r->notes_buf = xstrndup(v, len);
		r->notes = r->notes_buf;
	}

	v = cell(x, rec, C_BILLABLE, &len);
	trim(&v, &len);
	if (parse_billable(v, len, &r->billable)) {
		ROW_ERROR(x, rec, "billable", v, len, "invalid_boolean",
			  "billable must be true/false, yes/no, 1/0 or y/n (empty means true)");
		bad = 1;
	}

	/* Tags: split on ';' and ',', trimmed, de-duplicated case-insensitively. */
	v = cell(x, rec, C_TAGS, &len);
	unguard(&v, &len);
	for (size_t i = 0; i < len && !bad;) {
		size_t j = i, tl;
		const char *t;
		char key_a[TAG_MAX_BYTES * 2], key_b[TAG_MAX_BYTES * 2];
		bool dup = false;

		while (j < len && v[j] != ';' && v[j] != ',')
			j++;
		t = v + i;
		tl = j - i;
		trim(&t, &tl);
		i = j + 1;
		if (!tl)
			continue;
		if (tl > TAG_MAX_BYTES || has_control(t, tl)) {
			ROW_ERROR(x, rec, "tags", t, tl, tl > TAG_MAX_BYTES ? "too_long" : "invalid_characters",
				  "a tag must be at most %d bytes without control characters", TAG_MAX_BYTES);
			bad = 1;
			break;
		}
		{
			char *copy = xstrndup(t, tl);

			catalog_name_key(copy, key_a, sizeof(key_a));
			for (size_t k = 0; k < r->ntags && !dup; k++) {
				catalog_name_key(r->tags[k], key_b, sizeof(key_b));
				dup = !strcmp(key_a, key_b);
			}
			if (dup) {
				free(copy);
				continue;
			}
			if (r->ntags == TAGS_MAX) {
				free(copy);
				ROW_ERROR(x, rec, "tags", v, len, "too_many_tags", "a row may have at most %d tags",
					  TAGS_MAX);
				bad = 1;
				break;
			}
			r->tags[r->ntags++] = copy;
		}
	}
	if (bad)
		return -1;

	/* The interval: end wins over a disagreeing duration (warning). */
	if (has_end && has_dur) {
		if (ov_end && llabs64(r->end - r->start - dur) > 60) {
			/* An ambiguous end: take the occurrence the duration points to. */
			int64_t later = r->end + 3600;

			(void)pe;
			if (llabs64(later - r->start - dur) <= 60)
				r->end = later;
		}
		if (llabs64(r->end - r->start - dur) > 60)
			ROW_WARN(x, rec, "duration_hours", NULL, 0, "duration_mismatch",
				 "duration_hours disagrees with start_time and end_time by more than a minute; end_time was used");
	} else if (!has_end) {
		r->end = r->start + dur;
	}
	if (ov_start)
		ROW_WARN(x, rec, "start_time", NULL, 0, "ambiguous_time",
			 "start_time falls in a daylight-saving overlap in %s; the first occurrence was used",
			 tz_name(x->z));
	if (ov_end && !has_dur)
		ROW_WARN(x, rec, "end_time", NULL, 0, "ambiguous_time",
			 "end_time falls in a daylight-saving overlap in %s; the first occurrence was used",
			 tz_name(x->z));
	if (r->end <= r->start) {
		ROW_ERROR(x, rec, has_end ? "end_time" : "duration_hours", NULL, 0, "invalid_interval",
			  has_end ? "end_time must be after start_time" : "duration_hours must be more than zero");
		return -1;
	}
	if (r->end - r->start > cfg.max_entry_hours * 3600) {
		ROW_ERROR(x, rec, has_end ? "end_time" : "duration_hours", NULL, 0, "too_long",
			  "the entry lasts more than %lld hours (TT_MAX_ENTRY_HOURS)",
			  (long long)cfg.max_entry_hours);
		return -1;
	}
	return 0;
}

/* ---- resolve, dedup, write ---- */

static int resolve(struct ictx *x, const struct row *r, entry_input *in, int64_t *tag_ids)
{
	char key[NAME_MAX_BYTES + 32];
	int64_t client_id, id;
	bool created;
	int rc;

	if (!strmap_get(&x->clients, r->client, &client_id)) {
		if ((rc = catalog_client(x->c, r->client, x->import_id, &client_id, &created, &x->err)))
			return rc;
		x->res->created[0] += created;
		strmap_put(&x->clients, r->client, client_id);
	}
	snprintf(key, sizeof(key), "%lld\x1f%s", (long long)client_id, r->project);
	if (!strmap_get(&x->projects, key, &in->project_id)) {
		if ((rc = catalog_project(x->c, client_id, r->project, x->import_id, &in->project_id,
					  &created, &x->err)))
			return rc;
		x->res->created[1] += created;
		strmap_put(&x->projects, key, in->project_id);
	}
	in->task_id = 0;
	if (r->task) {
		snprintf(key, sizeof(key), "%lld\x1f%s", (long long)in->project_id, r->task);
		if (!strmap_get(&x->tasks, key, &in->task_id)) {
			if ((rc = catalog_task(x->c, in->project_id, r->task, x->import_id, &in->task_id,
					       &created, &x->err)))
				return rc;
			x->res->created[2] += created;
			strmap_put(&x->tasks, key, in->task_id);
		}
	}
	for (size_t i = 0; i < r->ntags; i++) {
		catalog_name_key(r->tags[i], key, sizeof(key));
		if (!strmap_get(&x->tags, key, &id)) {
			if ((rc = catalog_tag(x->c, r->tags[i], x->import_id, &id, &created, &x->err)))
				return rc;
			x->res->created[3] += created;
			strmap_put(&x->tags, key, id);
		}
		tag_ids[i] = id;
	}
	return 0;
}

/* 1 when the user already has this entry (any source), 0 when not, negative on error. */
static int is_duplicate(struct ictx *x, const entry_input *in)
{
	bool found = false;
	int rc = entries_same_exists(x->c, in, &found, &x->err);

	return rc < 0 ? rc : found;
}

static void add_preview(struct ictx *x, const csv_record *rec, const struct row *r, bool dup)
{
	char s[21], e[21];
	json_t *tags;

	if (json_array_size(x->res->preview) >= IMPORT_PREVIEW)
		return;
	tags = json_array();
	for (size_t i = 0; i < r->ntags; i++)
		json_array_append_new(tags, json_string(r->tags[i]));
	dt_format_utc(r->start, s);
	dt_format_utc(r->end, e);
	json_array_append_new(
		x->res->preview,
		json_pack("{s:I, s:I, s:s, s:s, s:s?, s:s, s:s, s:I, s:s, s:o, s:b, s:b}", "row",
			  (json_int_t)(rec->record - 1), "line", (json_int_t)rec->line, "project",
			  r->project, "client", r->client, "task", r->task, "start_time", s, "end_time",
			  e, "duration_seconds", (json_int_t)(r->end - r->start), "notes", r->notes,
			  "tags", tags, "billable", r->billable, "duplicate", dup));
}

/* Stores one valid row. 0, or negative on a database error. */
static int write_row(struct ictx *x, const csv_record *rec, const struct row *r)
{
	entry_input in = { 0 };
	int64_t id, tag_ids[TAGS_MAX];
	int rc;

	in.user_id = x->u->id;
	in.start_at = r->start;
	in.end_at = r->end;
	in.notes = r->notes;
	in.billable = r->billable;
	in.source = "csv";
	in.import_id = x->import_id;
	in.tags = (const char *const *)r->tags;
	in.n_tags = r->ntags;
	in.tag_ids = tag_ids;
	in.set_tags = true;
	if ((rc = resolve(x, r, &in, tag_ids)))
		return rc;
	if (!x->o->allow_duplicates) {
		rc = is_duplicate(x, &in);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			x->res->skipped++;
			if (x->mode == MODE_DRY_RUN)
				add_preview(x, rec, r, true);
			return 0;
		}
	}
	in.defer_tags = true;
	if ((rc = entries_insert(x->c, &in, &id, &x->err)))
		return rc;
	for (size_t i = 0; i < r->ntags; i++) {
		if (x->nlinks == x->links_cap) {
			x->links_cap = x->links_cap ? x->links_cap * 2 : 1024;
			x->links = xrealloc(x->links, x->links_cap * 2 * sizeof(*x->links));
		}
		x->links[x->nlinks * 2] = id;
		x->links[x->nlinks * 2 + 1] = tag_ids[i];
		x->nlinks++;
	}
	x->res->ok++;
	if (!x->res->min_start || r->start < x->res->min_start)
		x->res->min_start = r->start;
	if (r->start > x->res->max_start)
		x->res->max_start = r->start;
	if (x->mode == MODE_DRY_RUN)
		add_preview(x, rec, r, false);
	return 0;
}

/*
 * Queues a valid row for its batch (best-effort and atomic modes): names
 * are resolved now, duplicates are checked and rows written together in
 * flush_rows (one range query and one bulk insert per batch instead of two
 * statements per row).
 */
static int queue_row(struct ictx *x, const struct row *r)
{
	struct pending *p;
	int rc;

	if (x->npend == x->pend_cap) {
		x->pend_cap = x->pend_cap ? x->pend_cap * 2 : 256;
		x->pend = xrealloc(x->pend, x->pend_cap * sizeof(*x->pend));
	}
	p = &x->pend[x->npend];
	memset(&p->in, 0, sizeof(p->in));
	if ((rc = resolve(x, r, &p->in, p->tag_ids)))
		return rc;
	p->notes = xstrdup(r->notes);
	p->ntags = r->ntags;
	p->in.user_id = x->u->id;
	p->in.start_at = r->start;
	p->in.end_at = r->end;
	p->in.notes = p->notes;
	p->in.billable = r->billable;
	p->in.source = "csv";
	p->in.import_id = x->import_id;
	p->in.defer_tags = true;
	if (!x->npend || r->start < x->pend_min)
		x->pend_min = r->start;
	if (!x->npend || r->start > x->pend_max)
		x->pend_max = r->start;
	x->pend_bytes += strlen(p->notes) + sizeof(*p);
	x->npend++;
	return 0;
}

static void dedup_key(char **buf, size_t *cap, int64_t start, int64_t end, int64_t project,
		      const char *notes)
{
	size_t need = strlen(notes) + 80;

	if (need > *cap) {
		*cap = need * 2;
		*buf = xrealloc(*buf, *cap);
	}
	snprintf(*buf, *cap, "%lld\x1f%lld\x1f%lld\x1f%s", (long long)start, (long long)end,
		 (long long)project, notes);
}

struct keyset {
	strmap map;
	char *buf;
	size_t cap;
};

static void add_existing(void *ctx, int64_t start, int64_t end, int64_t project, const char *notes)
{
	struct keyset *k = ctx;

	dedup_key(&k->buf, &k->cap, start, end, project, notes);
	strmap_put(&k->map, k->buf, 1);
}

/* Writes the queued rows: drops duplicates (stored, or earlier in the file), inserts the rest. */
static int flush_rows(struct ictx *x)
{
	struct keyset keys = { 0 };
	entry_input *ins = NULL;
	int64_t *ids = NULL;
	size_t nins = 0, k = 0;
	int rc = 0;

	if (!x->npend)
		return 0;
	strmap_init(&keys.map);
	if (!x->o->allow_duplicates)
		rc = entries_keys_in_range(x->c, x->u->id, x->pend_min, x->pend_max, add_existing, &keys,
					   &x->err);
	ins = xmalloc(x->npend * sizeof(*ins));
	ids = xmalloc(x->npend * sizeof(*ids));
	for (size_t i = 0; i < x->npend && !rc; i++) {
		struct pending *p = &x->pend[i];
		int64_t v;

		if (!x->o->allow_duplicates) {
			dedup_key(&keys.buf, &keys.cap, p->in.start_at, p->in.end_at, p->in.project_id,
				  p->notes);
			if (strmap_get(&keys.map, keys.buf, &v)) {
				x->res->skipped++;
				p->ntags = (size_t)-1; /* not inserted */
				continue;
			}
			strmap_put(&keys.map, keys.buf, 1);
		}
		ins[nins++] = p->in;
	}
	if (!rc)
		rc = entries_insert_many(x->c, ins, nins, ids, &x->err);
	for (size_t i = 0; i < x->npend && !rc; i++) {
		struct pending *p = &x->pend[i];

		if (p->ntags == (size_t)-1)
			continue;
		for (size_t t = 0; t < p->ntags; t++) {
			if (x->nlinks == x->links_cap) {
				x->links_cap = x->links_cap ? x->links_cap * 2 : 1024;
				x->links = xrealloc(x->links, x->links_cap * 2 * sizeof(*x->links));
			}
			x->links[x->nlinks * 2] = ids[k];
			x->links[x->nlinks * 2 + 1] = p->tag_ids[t];
			x->nlinks++;
		}
		k++;
		x->res->ok++;
		if (!x->res->min_start || p->in.start_at < x->res->min_start)
			x->res->min_start = p->in.start_at;
		if (p->in.start_at > x->res->max_start)
			x->res->max_start = p->in.start_at;
	}
	for (size_t i = 0; i < x->npend; i++)
		free(x->pend[i].notes);
	x->npend = 0;
	x->pend_bytes = 0;
	free(ins);
	free(ids);
	free(keys.buf);
	strmap_release(&keys.map);
	return rc;
}

/* ---- batches and checkpoints ---- */

static char *checkpoint_json(struct ictx *x, int64_t offset, int64_t record, int64_t line)
{
	struct import_result *r = x->res;
	char delim[2] = { x->delim, '\0' };
	json_t *o = json_pack("{s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "offset",
			      (json_int_t)offset, "record", (json_int_t)record, "line",
			      (json_int_t)line, "delimiter", delim, "total", (json_int_t)r->total, "ok",
			      (json_int_t)r->ok, "failed", (json_int_t)r->failed, "skipped",
			      (json_int_t)r->skipped, "warnings", (json_int_t)r->warnings,
			      "min_start", (json_int_t)r->min_start, "max_start",
			      (json_int_t)r->max_start);
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return s;
}

/* Adds the tag links collected since the last flush. */
static int flush_links(struct ictx *x)
{
	int rc = 0;

	if (x->nlinks)
		rc = entries_add_tag_links(x->c, x->links, x->nlinks, &x->err);
	x->nlinks = 0;
	return rc;
}

static int begin_batch(struct ictx *x)
{
	int rc;

	if (x->in_tx)
		return 0;
	if ((rc = store_begin(x->c, STORE_TX_WRITE, &x->err)))
		return rc;
	x->in_tx = true;
	x->batch_rows = 0;
	return 0;
}

/* Commits the batch with the checkpoint of the next record to read. */
static int commit_batch(struct ictx *x, int64_t offset, int64_t record, int64_t line)
{
	int rc = 0;

	if (!x->in_tx)
		return 0;
	if (x->mode == MODE_BEST_EFFORT) {
		char *cp;

		/* The rows first: the checkpoint's counters include them. */
		rc = flush_rows(x);
		cp = checkpoint_json(x, offset, record, line);
		if (!rc)
			rc = flush_links(x);
		if (!rc && x->j)
			rc = job_checkpoint(x->j, cp, &x->err);
		free(cp);
		if (!rc)
			rc = imports_progress(x->c, x->import_id, x->res->total, x->res->ok,
					      x->res->failed, x->res->skipped, x->res->warnings, offset,
					      &x->err);
		if (!rc)
			rc = store_commit(x->c, &x->err);
		else
			store_rollback(x->c);
		x->in_tx = false;
	}
	if (x->j)
		job_report_progress(x->j, offset, x->file_size, x->res->total);
	return rc;
}

static void restore_checkpoint(struct ictx *x, const char *text, int64_t *offset, int64_t *record,
			       int64_t *line)
{
	json_t *o = json_loads(text, 0, NULL);
	struct import_result *r = x->res;
	const char *d;

	if (!o)
		return;
	*offset = json_integer_value(json_object_get(o, "offset"));
	*record = json_integer_value(json_object_get(o, "record"));
	*line = json_integer_value(json_object_get(o, "line"));
	d = json_string_value(json_object_get(o, "delimiter"));
	if (d && *d)
		x->delim = d[0];
	r->total = json_integer_value(json_object_get(o, "total"));
	r->ok = json_integer_value(json_object_get(o, "ok"));
	r->failed = json_integer_value(json_object_get(o, "failed"));
	r->skipped = json_integer_value(json_object_get(o, "skipped"));
	r->warnings = json_integer_value(json_object_get(o, "warnings"));
	r->min_start = json_integer_value(json_object_get(o, "min_start"));
	r->max_start = json_integer_value(json_object_get(o, "max_start"));
	json_decref(o);
}

/*
 * Writes the diagnostics spooled by an atomic import: in the current
 * transaction (the import succeeded), or in batches of their own (after the
 * rollback of a failed one).
 */
static int replay_spool(struct ictx *x, bool own_tx)
{
	char *line = NULL;
	size_t cap = 0;
	int rc = 0, n = 0;

	rewind(x->spool);
	if (own_tx && (rc = begin_batch(x)))
		return rc;
	while (getline(&line, &cap, x->spool) > 0) {
		json_t *o = json_loads(line, 0, NULL);

		if (!o)
			continue;
		rc = imports_add_error(x->c, x->import_id,
				       json_string_value(json_object_get(o, "severity")),
				       json_integer_value(json_object_get(o, "row")),
				       json_integer_value(json_object_get(o, "line")),
				       json_string_value(json_object_get(o, "column")),
				       json_string_value(json_object_get(o, "value")),
				       json_string_value(json_object_get(o, "code")),
				       json_string_value(json_object_get(o, "message")), &x->err);
		json_decref(o);
		if (rc)
			break;
		if (own_tx && ++n % IMPORT_BATCH == 0) {
			if ((rc = store_commit(x->c, &x->err)))
				break;
			x->in_tx = false;
			if ((rc = begin_batch(x)))
				break;
		}
	}
	free(line);
	if (rc)
		return rc;
	if (own_tx) {
		rc = store_commit(x->c, &x->err);
		x->in_tx = false;
	}
	return rc;
}

/* ---- the run ---- */

static const char *final_status(const struct import_result *r, bool atomic)
{
	if (r->fatal[0])
		return r->ok ? "partial" : "failed";
	if (atomic && r->failed)
		return "failed";
	if (r->failed && r->ok == 0 && r->skipped == 0)
		return "failed";
	if (r->failed)
		return "partial";
	return "completed";
}

/* Finishes the data_imports row inside the current transaction. */
static int finish_row(struct ictx *x, const char *status)
{
	json_t *summary;
	char *text;
	int rc;

	snprintf(x->res->status, sizeof(x->res->status), "%s", status);
	if ((rc = imports_progress(x->c, x->import_id, x->res->total, x->res->ok, x->res->failed,
				   x->res->skipped, x->res->warnings,
				   x->rd ? csv_reader_bytes(x->rd) : 0, &x->err)))
		return rc;
	if ((rc = imports_created_counts(x->c, x->import_id, x->res->created, &x->err)))
		return rc;
	summary = import_summary_json(x->c, x->import_id, x->res);
	text = json_dumps(summary, JSON_COMPACT);
	json_decref(summary);
	rc = imports_finish(x->c, x->import_id, status, text,
			    x->res->fatal[0] ? x->res->fatal : NULL, &x->err);
	free(text);
	return rc;
}

static int fail_db(struct ictx *x)
{
	if (x->in_tx)
		store_rollback(x->c);
	x->in_tx = false;
	snprintf(x->res->fatal, sizeof(x->res->fatal), "the import stopped on a database error: %.400s",
		 x->err.msg[0] ? x->err.msg : "unknown error");
	log_error("import %lld: %s", (long long)x->import_id, x->res->fatal);
	return JOB_FAILED;
}

int csv_import_run(store_conn *c, int64_t import_id, const user_rec *u, const char *path,
		   const struct import_options *o, job *j, struct import_result *res)
{
	struct ictx x = { 0 };
	csv_options copt = { 0 };
	csv_record rec;
	int64_t offset = 0, record = 0, line = 0;
	int result = JOB_DONE, rc, st;
	bool resumed = false;

	x.c = c;
	x.import_id = import_id;
	x.u = u;
	x.o = o;
	x.j = j;
	x.res = res;
	x.mode = o->dry_run ? MODE_DRY_RUN : o->atomic ? MODE_ATOMIC : MODE_BEST_EFFORT;
	x.delim = o->delimiter;
	tt_error_init(&x.err);
	strmap_init(&x.clients);
	strmap_init(&x.projects);
	strmap_init(&x.tasks);
	strmap_init(&x.tags);
	if (x.mode == MODE_DRY_RUN) {
		res->errors = json_array();
		res->preview = json_array();
	}

	x.z = tz_get(o->timezone[0] ? o->timezone : u->timezone);
	if (!x.z) {
		snprintf(res->fatal, sizeof(res->fatal), "unknown time zone \"%s\"",
			 o->timezone[0] ? o->timezone : u->timezone);
		goto finish_fatal;
	}
	x.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (x.fd < 0) {
		snprintf(res->fatal, sizeof(res->fatal), "the uploaded file cannot be read (%s)",
			 strerror(errno));
		goto finish_fatal;
	}
	x.file_size = lseek(x.fd, 0, SEEK_END);
	lseek(x.fd, 0, SEEK_SET);
	if (x.mode == MODE_ATOMIC) {
		x.spool = tmpfile();
		if (!x.spool) {
			snprintf(res->fatal, sizeof(res->fatal), "no room for a temporary file");
			goto finish_fatal;
		}
	}
	if (j && j->checkpoint && x.mode == MODE_BEST_EFFORT) {
		restore_checkpoint(&x, j->checkpoint, &offset, &record, &line);
		resumed = offset > 0;
	}
	copt.delimiter = x.delim;
	x.rd = csv_reader_new(x.fd, &copt);

	/* The header, always read from the start (also when resuming). */
	st = csv_reader_next(x.rd, &rec);
	if (st == CSV_EOF) {
		snprintf(res->fatal, sizeof(res->fatal), "the file is empty: it needs a header line");
		res->total = 0;
		goto finish_fatal;
	}
	if (st == CSV_EENCODING) {
		snprintf(res->fatal, sizeof(res->fatal),
			 "the file is not UTF-8 text (it looks binary or UTF-16); save it as CSV UTF-8");
		goto finish_fatal;
	}
	if (st != CSV_OK) {
		snprintf(res->fatal, sizeof(res->fatal), "the header line cannot be read: %s",
			 csv_status_message(st));
		goto finish_fatal;
	}
	if (rec.bad_utf8_field >= 0) {
		snprintf(res->fatal, sizeof(res->fatal),
			 "the header line is not UTF-8 text; save the file as CSV UTF-8");
		goto finish_fatal;
	}
	x.delim = csv_reader_delimiter(x.rd);
	if ((rc = begin_batch(&x)))
		goto db_error;
	if (map_header(&x, &rec, !resumed))
		goto finish_fatal_tx;
	if (resumed && csv_reader_seek(x.rd, offset, record, line)) {
		snprintf(res->fatal, sizeof(res->fatal), "cannot resume reading the file");
		goto finish_fatal_tx;
	}
	if (x.mode != MODE_DRY_RUN && import_id && !resumed)
		if ((rc = imports_mark_started(c, import_id, &x.err)))
			goto db_error;

	for (;;) {
		struct row r;

		st = csv_reader_next(x.rd, &rec);
		if (st == CSV_EOF)
			break;
		if (st == CSV_EIO || st == CSV_EENCODING) {
			snprintf(res->fatal, sizeof(res->fatal), "reading the file failed at line %lld: %s",
				 (long long)rec.line, csv_status_message(st));
			if (x.mode == MODE_BEST_EFFORT) {
				/* the valid rows read so far are stored; the rest is not read */
				if ((rc = flush_rows(&x)) || (rc = flush_links(&x)))
					goto db_error;
				result = JOB_FAILED;
				goto finish;
			}
			goto finish_fatal_tx;
		}
		res->total++;
		if (st != CSV_OK) {
			ROW_ERROR(&x, &rec, NULL, NULL, 0,
				  st == CSV_ETOOBIG ? "row_too_large" : "bad_quoting", "%s",
				  csv_status_message(st));
			res->failed++;
		} else if (build_row(&x, &rec, &r)) {
			res->failed++;
			row_release(&r);
		} else {
			rc = x.mode == MODE_DRY_RUN ? write_row(&x, &rec, &r) : queue_row(&x, &r);
			row_release(&r);
			if (rc)
				goto db_error;
		}
		if (x.db_failed)
			goto db_error;
		if (x.mode == MODE_BEST_EFFORT &&
		    (++x.batch_rows >= IMPORT_BATCH || x.pend_bytes > IMPORT_BATCH_BYTES)) {
			if ((rc = commit_batch(&x, rec.end_offset, rec.record + 1, csv_reader_line(x.rd))))
				goto db_error;
			if (j && job_should_stop(j, &result))
				goto stopped;
			if ((rc = begin_batch(&x)))
				goto db_error;
		} else if (x.mode != MODE_BEST_EFFORT &&
			   ((res->total % IMPORT_BATCH) == 0 || x.pend_bytes > IMPORT_BATCH_BYTES)) {
			if ((rc = flush_rows(&x)) || (rc = flush_links(&x)))
				goto db_error;
		}
		if (x.mode != MODE_BEST_EFFORT && j && (res->total % IMPORT_BATCH) == 0) {
			job_report_progress(j, rec.end_offset, x.file_size, res->total);
			if (job_should_stop(j, &result))
				goto stopped;
		}
	}

	/* End of file. */
	if ((rc = flush_rows(&x)) || (rc = flush_links(&x)))
		goto db_error;
	if (res->total == 0)
		diag(&x, "warning", 0, 0, NULL, NULL, 0, "no_rows", "the file has a header but no data rows");
	if (x.mode == MODE_DRY_RUN) {
		store_rollback(c);
		x.in_tx = false;
		if (o->atomic && res->failed) {
			/* Predict the real atomic import: one bad row and nothing is stored. */
			res->ok = res->skipped = 0;
			res->min_start = res->max_start = 0;
			memset(res->created, 0, sizeof(res->created));
		}
		snprintf(res->status, sizeof(res->status), "%s", final_status(res, o->atomic));
		goto out;
	}
	if (x.mode == MODE_ATOMIC && res->failed) {
		/* One bad row and nothing is stored; every diagnostic is still kept. */
		store_rollback(c);
		x.in_tx = false;
		res->ok = 0;
		res->skipped = 0;
		res->min_start = res->max_start = 0;
		if ((rc = replay_spool(&x, true)))
			goto db_error;
	} else if (x.mode == MODE_ATOMIC && (rc = replay_spool(&x, false))) {
		goto db_error;
	}
finish:
	if ((rc = begin_batch(&x)) || (rc = finish_row(&x, final_status(res, x.mode == MODE_ATOMIC))))
		goto db_error;
	if ((rc = store_commit(c, &x.err)))
		goto db_error;
	x.in_tx = false;
	if (j)
		job_report_progress(j, x.file_size, x.file_size, res->total);
	goto out;

stopped:
	/* Cancel or shutdown at a batch boundary: committed batches stay. */
	if (x.in_tx) {
		store_rollback(c);
		x.in_tx = false;
	}
	if (result == JOB_CANCELLED) {
		if (x.mode == MODE_ATOMIC) {
			res->ok = res->skipped = 0;
			res->min_start = res->max_start = 0;
		}
		if ((rc = begin_batch(&x)) || (rc = finish_row(&x, "cancelled")) ||
		    (rc = store_commit(c, &x.err)))
			goto db_error;
		x.in_tx = false;
	}
	goto out;

finish_fatal_tx:
	if (x.in_tx) {
		store_rollback(c);
		x.in_tx = false;
	}
finish_fatal:
	res->ok = 0;
	result = JOB_FAILED;
	if (x.mode == MODE_DRY_RUN) {
		snprintf(res->status, sizeof(res->status), "failed");
		goto out;
	}
	if (import_id) {
		if (begin_batch(&x) || finish_row(&x, "failed") || store_commit(c, &x.err))
			store_rollback(c);
		x.in_tx = false;
	}
	goto out;

db_error:
	result = fail_db(&x);
	if (x.mode != MODE_DRY_RUN && import_id) {
		/* Record the failure; counters stay those of the last committed batch. */
		tt_error e2;
		import_rec cur;

		tt_error_init(&e2);
		if (imports_get(c, import_id, &cur, &e2) == 0) {
			res->total = cur.total;
			res->ok = cur.successful;
			res->failed = cur.failed;
			res->skipped = cur.skipped;
			import_rec_release(&cur);
		}
		x.err = e2;
		if (begin_batch(&x) == 0 && finish_row(&x, final_status(res, x.mode == MODE_ATOMIC)) == 0)
			store_commit(c, &x.err);
		else
			store_rollback(c);
		x.in_tx = false;
	}
	snprintf(res->status, sizeof(res->status), "failed");
out:
	if (x.in_tx)
		store_rollback(c);
	csv_reader_free(x.rd);
	if (x.fd > 0)
		close(x.fd);
	if (x.spool)
		fclose(x.spool);
	free(x.links);
	for (size_t i = 0; i < x.npend; i++)
		free(x.pend[i].notes);
	free(x.pend);
	strmap_release(&x.clients);
	strmap_release(&x.projects);
	strmap_release(&x.tasks);
	strmap_release(&x.tags);
	return result;
}
