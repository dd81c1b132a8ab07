/*
 * csv_writer.c - the CSV export: RFC 4180, UTF-8, CRLF, one row per entry.
 *
 * The first nine columns are our import template's (SPEC §3.3), so an export
 * re-imports as it is (round trip); the others follow for completeness and
 * are ignored by the importer as unknown columns. Instants are UTC
 * (YYYY-MM-DDTHH:MM:SSZ); duration_hours carries six decimals, which the
 * importer's nearest-second rounding turns back into the exact seconds.
 *
 * Spreadsheet guard (excel_safe): a textual cell starting with = + - @ TAB or
 * CR gets a leading ' so a spreadsheet shows it as text instead of running
 * it as a formula; the importer removes the ' again before = + - @. Columns
 * we produce ourselves (numbers, instants, booleans) are never guarded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/datetime.h"
#include "exports/export.h"
#include "util/alloc.h"

enum csv_col {
	COL_PROJECT,
	COL_CLIENT,
	COL_TASK,
	COL_START,
	COL_END,
	COL_DURATION,
	COL_NOTES,
	COL_TAGS,
	COL_BILLABLE,
	COL_ID,
	COL_USER,
	COL_SOURCE,
	COL_EXTERNAL_ID,
	COL_IMPORT_ID,
	COL_CREATED,
	COL_UPDATED,
	COL_N
};

const char *const EXPORT_CSV_COLUMNS[] = {
    [COL_PROJECT] = "project_name",
    [COL_CLIENT] = "client_name",
    [COL_TASK] = "task_name",
    [COL_START] = "start_time",
    [COL_END] = "end_time",
    [COL_DURATION] = "duration_hours",
    [COL_NOTES] = "notes",
    [COL_TAGS] = "tags",
    [COL_BILLABLE] = "billable",
    [COL_ID] = "id",
    [COL_USER] = "user",
    [COL_SOURCE] = "source",
    [COL_EXTERNAL_ID] = "external_id",
    [COL_IMPORT_ID] = "import_id",
    [COL_CREATED] = "created_at",
    [COL_UPDATED] = "updated_at",
    [COL_N] = NULL,
};

/* Columns whose text comes from people (or other systems) and is guarded. */
static bool col_is_text(enum csv_col c)
{
	switch (c) {
	case COL_PROJECT:
	case COL_CLIENT:
	case COL_TASK:
	case COL_NOTES:
	case COL_TAGS:
	case COL_USER:
	case COL_SOURCE:
	case COL_EXTERNAL_ID: return true;
	default: return false;
	}
}

/* The most columns a selection may have (repeats are allowed, so not COL_N). */
#define CSV_MAX_SELECTED 64

struct csv_state {
	enum csv_col cols[CSV_MAX_SELECTED];
	size_t n;
};

static int col_find(const char *name)
{
	for (int i = 0; i < COL_N; i++)
		if (strcmp(EXPORT_CSV_COLUMNS[i], name) == 0)
			return i;
	return -1;
}

static bool guard_char(char ch)
{
	return ch == '=' || ch == '+' || ch == '-' || ch == '@' || ch == '\t' || ch == '\r';
}

int export_csv_cell(export_sink *s, const char *v, bool guard, bool last)
{
	const char *eol = last ? "\r\n" : ",";
	bool prefix, quote;
	const char *p;

	if (!v)
		v = "";
	/*
	 * A text that itself starts with quotes before such a character ("'=x",
	 * "''=x") gets one more ', so that our importer, which removes one from
	 * any such run, gives back exactly the text.
	 */
	{
		size_t q = strspn(v, "'");

		prefix = guard && guard_char(v[q]);
	}
	quote = strpbrk(v, ",\"\r\n") != NULL;
	if (!quote) {
		if (prefix)
			sink_write(s, "'", 1);
		sink_puts(s, v);
		return sink_puts(s, eol);
	}
	sink_write(s, prefix ? "\"'" : "\"", prefix ? 2 : 1);
	p = v;
	for (;;) {
		const char *q = strchr(p, '"');

		if (!q) {
			sink_puts(s, p);
			break;
		}
		/* Write through the quote, then the quote again. */
		sink_write(s, p, (size_t)(q - p) + 1);
		sink_write(s, "\"", 1);
		p = q + 1;
	}
	sink_write(s, "\"", 1);
	return sink_puts(s, eol);
}

/*
 * seconds as decimal hours with at most six decimals, trailing zeros
 * trimmed: 7452 -> "2.07", 1 -> "0.000278", 3600 -> "1". Integer arithmetic
 * only, rounded half away from zero. 1e-6 h = 3.6 ms, far below the half
 * second the importer's rounding tolerates, so the seconds come back exact.
 */
static void format_hours(int64_t seconds, char out[32])
{
	bool neg = seconds < 0;
	uint64_t s = neg ? (uint64_t)0 - (uint64_t)seconds : (uint64_t)seconds;
	/* micro-hours; s < 2^63 so s * 10^6 / 3600 = s * 2500 / 9 cannot overflow */
	uint64_t micro = (s / 9) * 2500 + ((s % 9) * 2500 + 4) / 9;
	uint64_t whole = micro / 1000000, frac = micro % 1000000;
	int digits = 6;
	int n;

	n = snprintf(out, 32, "%s%llu", neg && micro ? "-" : "", (unsigned long long)whole);
	if (frac == 0)
		return;
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(out + n, (size_t)(32 - n), ".%0*llu", digits, (unsigned long long)frac);
}

static int tag_cmp(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Tags joined by ';', sorted case-insensitively (as the API lists them) so
 * the same entry always exports the same bytes. Returns an allocation.
 */
static char *tags_joined(const char *joined)
{
	char *copy = xstrdup(joined ? joined : "");
	char **names;
	size_t n = 0, cap = 1, len = 0;
	char *out, *p;

	for (p = copy; *p; p++)
		if (*p == ENTRY_TAG_SEP)
			cap++;
	names = xmalloc(cap * sizeof(*names));
	if (*copy) {
		p = copy;
		for (;;) {
			char *sep = strchr(p, ENTRY_TAG_SEP);

			names[n++] = p;
			if (!sep)
				break;
			*sep = '\0';
			p = sep + 1;
		}
	}
	qsort(names, n, sizeof(*names), tag_cmp);
	out = xmalloc(strlen(joined ? joined : "") + 1);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(names[i]);

		if (i)
			out[len++] = ';';
		memcpy(out + len, names[i], l);
		len += l;
	}
	out[len] = '\0';
	free(names);
	free(copy);
	return out;
}

static void format_instant(int64_t t, char buf[21])
{
	if (t)
		dt_format_utc(t, buf);
	else
		buf[0] = '\0';
}

static void format_id(int64_t id, char buf[24])
{
	if (id)
		snprintf(buf, 24, "%lld", (long long)id);
	else
		buf[0] = '\0';
}

static int csv_begin(struct export_ctx *x)
{
	struct csv_state *st = xcalloc(1, sizeof(*st));
	const json_t *cols = x->opts ? x->opts->columns : NULL;
	size_t i;

	x->state = st;
	if (json_is_array(cols)) {
		for (i = 0; i < json_array_size(cols) && st->n < CSV_MAX_SELECTED; i++) {
			const char *name = json_string_value(json_array_get(cols, i));
			int c = name ? col_find(name) : -1;

			if (c >= 0)
				st->cols[st->n++] = (enum csv_col)c;
		}
	}
	/* No usable selection (absent, empty or all unknown): every column. */
	if (st->n == 0)
		for (i = 0; i < COL_N; i++)
			st->cols[st->n++] = (enum csv_col)i;

	if (x->opts && x->opts->excel_bom)
		sink_write(x->sink, "\xEF\xBB\xBF", 3);
	for (i = 0; i < st->n; i++)
		export_csv_cell(x->sink, EXPORT_CSV_COLUMNS[st->cols[i]], false, i + 1 == st->n);
	return 0;
}

static int csv_entry(struct export_ctx *x, const entry_rec *e)
{
	const struct csv_state *st = x->state;
	bool guard = x->opts ? x->opts->excel_safe : true;
	char start[21], end[21], created[21], updated[21];
	char hours[32], id[24], import_id[24];
	char *tags = NULL;

	for (size_t i = 0; i < st->n; i++) {
		enum csv_col c = st->cols[i];
		const char *v = "";

		switch (c) {
		case COL_PROJECT: v = e->project; break;
		case COL_CLIENT: v = e->client; break;
		case COL_TASK: v = e->task; break;
		case COL_START:
			format_instant(e->start_at, start);
			v = start;
			break;
		case COL_END:
			format_instant(e->end_at, end);
			v = end;
			break;
		case COL_DURATION:
			format_hours(e->duration, hours);
			v = hours;
			break;
		case COL_NOTES: v = e->notes; break;
		case COL_TAGS:
			if (!tags)
				tags = tags_joined(e->tags);
			v = tags;
			break;
		case COL_BILLABLE: v = e->billable ? "true" : "false"; break;
		case COL_ID:
			format_id(e->id, id);
			v = id;
			break;
		case COL_USER: v = e->username; break;
		case COL_SOURCE: v = e->source; break;
		case COL_EXTERNAL_ID: v = e->external_id; break;
		case COL_IMPORT_ID:
			format_id(e->import_id, import_id);
			v = import_id;
			break;
		case COL_CREATED:
			format_instant(e->created_at, created);
			v = created;
			break;
		case COL_UPDATED:
			format_instant(e->updated_at, updated);
			v = updated;
			break;
		case COL_N: break;
		}
		export_csv_cell(x->sink, v, guard && col_is_text(c), i + 1 == st->n);
	}
	free(tags);
	return 0;
}

static int csv_end(struct export_ctx *x)
{
	return 0;
}

static void csv_release(struct export_ctx *x)
{
	free(x->state);
	x->state = NULL;
}

const struct export_writer export_csv_writer = {
    .format = "csv",
    .extension = "csv",
    .content_type = "text/csv; charset=utf-8",
    .begin = csv_begin,
    .entry = csv_entry,
    .end = csv_end,
    .release = csv_release,
};
