/*
 * xlsx_writer.c - the XLSX export (SPEC §3.4) through libxlsxwriter.
 *
 * libxlsxwriter writes the file itself, so begin() marks the sink external
 * and opens a workbook at the sink's .tmp path; end() closes (= writes) it
 * and sink_commit hashes the file from disk. The workbook runs in
 * constant_memory mode (each row is flushed to a temp file once the next
 * row starts) with its temp files next to the export, on the data volume,
 * so memory stays flat however many entries come; rows are therefore
 * written strictly in order.
 *
 * Layout: one worksheet "Time entries" with a bold header row, frozen
 * below the header, an autofilter over all rows, fixed column widths.
 * Start/End/Created/Updated are real date-time cells ("yyyy-mm-dd
 * hh:mm:ss") in opts->zone when set, else UTC, and the header names the
 * zone ("Start (Europe/Berlin)"); an instant of 0 is an empty cell, and an
 * instant outside Excel's calendar (years 1900-9999) is written as ISO 8601
 * text. Duration is a number of hours ("0.00"), Billable a boolean, Id and
 * Import id numbers (Import id empty when none).
 *
 * Text goes through worksheet_write_string only, which libxlsxwriter stores
 * as an (inline or shared) string, never a formula: a note "=SUM(A1)" stays
 * text and needs no spreadsheet guard. Before writing, text is made safe:
 *  - invalid UTF-8 sequences become U+FFFD (the store should never hold
 *    any, but a corrupt cell must not corrupt the whole file);
 *  - a literal "_xHHHH_" gets its underscore escaped ("_x005F_xHHHH_"), or
 *    Excel would read it as an escaped character (libxlsxwriter escapes
 *    control characters that way but not literal sequences);
 *  - Excel's cell limit is 32767 characters. CHOICE: longer text is
 *    TRUNCATED (never split over cells, which would break the one-row-per-
 *    entry shape and the column meaning) and ends with the marker
 *    "… [truncated]"; the limit is counted in UTF-16 units (what Excel
 *    counts) of the text as written, so libxlsxwriter's own check (code
 *    points) always passes. Truncated cells are counted and logged as a
 *    warning when the workbook is closed.
 *
 * Excel's limit is 1,048,576 rows per sheet: when more entries come, the
 * export continues on "Time entries 2" (then 3, ...), each with its header,
 * freeze and autofilter. xlsx_set_max_rows_for_tests() lowers the limit
 * (tests only; declared there, not in export.h).
 *
 * On failure (release() with the workbook still open: a failed walk or a
 * cancelled job) the workbook is discarded WITHOUT writing it: closing
 * would assemble and zip every row just to delete the result. libxlsxwriter
 * has no discard call and lxw_workbook_free() does not close the sheets'
 * constant_memory temp files (1.1.4), so we fclose them ourselves through
 * the public lxw_worksheet.optimize_tmpfile field first; nothing is ever
 * written to the .tmp path, which sink_abort removes. end() checks that the
 * .tmp path can be opened for writing before workbook_close (whose own
 * failure to create the file would leak those temp files inside the
 * library); a failure in the middle of zipping (disk full) can still leak
 * the not-yet-zipped sheets' temp files in libxlsxwriter until exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xlsxwriter.h>

#include "core/datetime.h"
#include "core/tz.h"
#include "exports/export.h"
#include "util/alloc.h"
#include "util/log.h"

#define XLSX_SHEET_NAME         "Time entries"
#define XLSX_CELL_MAX           32767 /* Excel: characters (UTF-16 units) per cell */
#define XLSX_TRUNC_MARKER       "\xe2\x80\xa6 [truncated]" /* "… [truncated]" */
#define XLSX_TRUNC_MARKER_UNITS 13
#define XLSX_TEXT_BUF           (3 * XLSX_CELL_MAX + 64) /* at most 3 bytes per UTF-16 unit written */

/* Rows per worksheet including the header; lowered by tests only. */
static lxw_row_t xlsx_max_rows = LXW_ROW_MAX;

void xlsx_set_max_rows_for_tests(unsigned rows);
void xlsx_set_max_rows_for_tests(unsigned rows)
{
	xlsx_max_rows = rows >= 2 && rows <= LXW_ROW_MAX ? (lxw_row_t)rows : LXW_ROW_MAX;
}

enum xlsx_col {
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
	COL_COUNT
};

static const struct {
	const char *name;
	bool zoned; /* a date-time column: the header names the zone */
	double width;
} xlsx_cols[COL_COUNT] = {
    [COL_PROJECT] = {"Project", false, 24},
    [COL_CLIENT] = {"Client", false, 20},
    [COL_TASK] = {"Task", false, 20},
    [COL_START] = {"Start", true, 20},
    [COL_END] = {"End", true, 20},
    [COL_DURATION] = {"Duration (h)", false, 13},
    [COL_NOTES] = {"Notes", false, 50},
    [COL_TAGS] = {"Tags", false, 24},
    [COL_BILLABLE] = {"Billable", false, 9},
    [COL_ID] = {"Id", false, 10},
    [COL_USER] = {"User", false, 16},
    [COL_SOURCE] = {"Source", false, 12},
    [COL_EXTERNAL_ID] = {"External id", false, 18},
    [COL_IMPORT_ID] = {"Import id", false, 10},
    [COL_CREATED] = {"Created", true, 20},
    [COL_UPDATED] = {"Updated", true, 20},
};

struct xlsx_state {
	lxw_workbook *wb;
	lxw_worksheet *ws;
	lxw_worksheet **all; /* every sheet added, for discard() */
	size_t n_all;
	char *path;   /* our copy of the .tmp path */
	char *tmpdir; /* its directory (temp files stay on the data volume) */
	lxw_format *f_header, *f_datetime, *f_hours;
	const tz_zone *zone;
	char *zone_label;  /* "UTC" or the zone's name */
	int sheets;        /* worksheets so far */
	lxw_row_t row;     /* next row on the current sheet */
	int64_t truncated; /* cells cut to XLSX_CELL_MAX */
	char *text;        /* XLSX_TEXT_BUF bytes, allocated on first need */
	char *tags;        /* tags joined with "; ", grown as needed */
	size_t tags_cap;
};

static int xlsx_fail(struct export_ctx *x, lxw_error e)
{
	return tt_error_set(x->err, TT_EIO, "export_failed", NULL, "cannot write the XLSX file: %s",
	                    lxw_strerror(e));
}

/* ---- text ---- */

/*
 * Decodes one UTF-8 sequence at s (n bytes left). Returns its length and the
 * code point in *cp, or 0 when the sequence is invalid (overlong, surrogate,
 * beyond U+10FFFF, truncated).
 */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
	unsigned c = s[0], v;
	size_t len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
	    (len == 4 && (v < 0x10000 || v > 0x10ffff)))
		return 0;
	*cp = v;
	return len;
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* True when s starts a literal "_xHHHH_" Excel would read as an escape. */
static bool is_excel_escape(const unsigned char *s, size_t n)
{
	return n >= 7 && s[0] == '_' && (s[1] == 'x' || s[1] == 'X') && is_hex(s[2]) &&
	       is_hex(s[3]) && is_hex(s[4]) && is_hex(s[5]) && s[6] == '_';
}

/*
 * One piece of output for the input at s: its source length, and the bytes
 * and UTF-16 units it writes (a piece is one character, a replacement
 * character, or the "_x005F" escape prefix before a literal "_xHHHH_").
 */
struct piece {
	size_t in_len;
	const char *out;
	size_t out_len;
	size_t units;
	bool changed;
};

static void next_piece(const unsigned char *s, size_t n, struct piece *p)
{
	unsigned cp;
	size_t len;

	if (s[0] == '_' && is_excel_escape(s, n)) {
		/* "_x005F_" is '_' itself; the "xHHHH_" that follows stays literal */
		p->in_len = 1;
		p->out = "_x005F_";
		p->out_len = 7;
		p->units = 7;
		p->changed = true;
		return;
	}
	len = utf8_decode(s, n, &cp);
	if (!len) {
		p->in_len = 1;
		p->out = "\xef\xbf\xbd"; /* U+FFFD */
		p->out_len = 3;
		p->units = 1;
		p->changed = true;
		return;
	}
	p->in_len = len;
	p->out = (const char *)s;
	p->out_len = len;
	p->units = cp >= 0x10000 ? 2 : 1;
	p->changed = false;
}

/*
 * The text to write for s (NULL = ""): s itself when it needs nothing, else
 * a cleaned (and maybe truncated) copy in the state's buffer, valid until
 * the next call.
 */
static const char *cell_text(struct xlsx_state *st, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n, i, units = 0, out = 0, budget;
	bool changed = false, truncate;
	struct piece p;

	if (!s)
		return "";
	n = strlen(s);
	for (i = 0; i < n; i += p.in_len) {
		next_piece(u + i, n - i, &p);
		units += p.units;
		changed |= p.changed;
	}
	truncate = units > XLSX_CELL_MAX;
	if (!changed && !truncate)
		return s;
	if (!st->text)
		st->text = xmalloc(XLSX_TEXT_BUF);
	budget = truncate ? XLSX_CELL_MAX - XLSX_TRUNC_MARKER_UNITS : XLSX_CELL_MAX;
	units = 0;
	for (i = 0; i < n; i += p.in_len) {
		next_piece(u + i, n - i, &p);
		if (units + p.units > budget)
			break;
		memcpy(st->text + out, p.out, p.out_len);
		out += p.out_len;
		units += p.units;
	}
	if (truncate) {
		memcpy(st->text + out, XLSX_TRUNC_MARKER, sizeof(XLSX_TRUNC_MARKER) - 1);
		out += sizeof(XLSX_TRUNC_MARKER) - 1;
		st->truncated++;
	}
	st->text[out] = '\0';
	return st->text;
}

/* Tag names joined by ENTRY_TAG_SEP, as "a; b" (what our CSV import splits on). */
static const char *tags_text(struct xlsx_state *st, const char *tags)
{
	size_t n, seps = 0, o = 0;

	if (!tags || !*tags)
		return "";
	n = strlen(tags);
	for (size_t i = 0; i < n; i++)
		seps += tags[i] == ENTRY_TAG_SEP;
	if (!seps)
		return tags;
	if (st->tags_cap < n + seps + 1) {
		st->tags_cap = n + seps + 1;
		st->tags = xrealloc(st->tags, st->tags_cap);
	}
	for (size_t i = 0; i < n; i++) {
		if (tags[i] == ENTRY_TAG_SEP) {
			st->tags[o++] = ';';
			st->tags[o++] = ' ';
		} else {
			st->tags[o++] = tags[i];
		}
	}
	st->tags[o] = '\0';
	return st->tags;
}

/* ---- cells ---- */

static lxw_error put_text(struct xlsx_state *st, lxw_col_t col, const char *s)
{
	const char *t = cell_text(st, s);

	if (!*t)
		return LXW_NO_ERROR; /* an empty cell: nothing to write */
	return worksheet_write_string(st->ws, st->row, col, t, NULL);
}

static lxw_error put_id(struct xlsx_state *st, lxw_col_t col, int64_t id)
{
	if (!id)
		return LXW_NO_ERROR;
	return worksheet_write_number(st->ws, st->row, col, (double)id, NULL);
}

static lxw_error put_time(struct xlsx_state *st, lxw_col_t col, int64_t utc)
{
	int64_t local, days, secs, y;
	int m, d;
	lxw_datetime dt;

	if (!utc)
		return LXW_NO_ERROR;
	local = st->zone ? tz_utc_to_local(st->zone, utc) : utc;
	days = local / 86400;
	secs = local % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	dt_civil_from_days(days, &y, &m, &d);
	if (y < 1900 || y > 9999) {
		char buf[26];

		if (st->zone)
			dt_format_local(utc, st->zone, buf);
		else
			dt_format_utc(utc, buf);
		return worksheet_write_string(st->ws, st->row, col, buf, NULL);
	}
	dt.year = (int)y;
	dt.month = m;
	dt.day = d;
	dt.hour = (int)(secs / 3600);
	dt.min = (int)(secs / 60 % 60);
	dt.sec = (double)(secs % 60);
	return worksheet_write_datetime(st->ws, st->row, col, &dt, st->f_datetime);
}

/* ---- sheets ---- */

/* Autofilter over the header and every row written on the current sheet. */
static lxw_error finish_sheet(struct xlsx_state *st)
{
	if (!st->ws)
		return LXW_NO_ERROR;
	return worksheet_autofilter(st->ws, 0, 0, st->row > 0 ? st->row - 1 : 0, COL_COUNT - 1);
}

static int new_sheet(struct export_ctx *x, struct xlsx_state *st)
{
	char name[32], head[128];
	lxw_error e;

	if ((e = finish_sheet(st)))
		return xlsx_fail(x, e);
	st->sheets++;
	if (st->sheets == 1)
		snprintf(name, sizeof(name), "%s", XLSX_SHEET_NAME);
	else
		snprintf(name, sizeof(name), "%s %d", XLSX_SHEET_NAME, st->sheets);
	st->ws = workbook_add_worksheet(st->wb, name);
	if (!st->ws)
		return tt_error_set(x->err, TT_EIO, "export_failed", NULL,
		                    "cannot write the XLSX file: cannot add worksheet \"%s\"",
		                    name);
	st->all = xrealloc(st->all, (st->n_all + 1) * sizeof(*st->all));
	st->all[st->n_all++] = st->ws;
	st->row = 0;
	for (lxw_col_t c = 0; c < COL_COUNT; c++) {
		if ((e = worksheet_set_column(st->ws, c, c, xlsx_cols[c].width, NULL)))
			return xlsx_fail(x, e);
		if (xlsx_cols[c].zoned)
			snprintf(head, sizeof(head), "%s (%s)", xlsx_cols[c].name, st->zone_label);
		else
			snprintf(head, sizeof(head), "%s", xlsx_cols[c].name);
		if ((e = worksheet_write_string(st->ws, 0, c, head, st->f_header)))
			return xlsx_fail(x, e);
	}
	worksheet_freeze_panes(st->ws, 1, 0);
	st->row = 1;
	return 0;
}

/* ---- the writer ---- */

static int xlsx_begin(struct export_ctx *x)
{
	struct xlsx_state *st = xcalloc(1, sizeof(*st));
	lxw_workbook_options opt = {0};
	const char *slash;

	x->state = st;
	sink_set_external(x->sink);
	st->path = xstrdup(sink_tmp_path(x->sink));
	slash = strrchr(st->path, '/');
	if (!slash)
		st->tmpdir = xstrdup(".");
	else if (slash == st->path)
		st->tmpdir = xstrdup("/");
	else
		st->tmpdir = xstrndup(st->path, (size_t)(slash - st->path));
	st->zone = x->opts ? x->opts->zone : NULL;
	st->zone_label = xstrdup(st->zone ? tz_name(st->zone) : "UTC");

	opt.constant_memory = LXW_TRUE;
	opt.tmpdir = st->tmpdir;
	/*
	 * use_zip64 stays off: ZIP64 is only needed past 4 GiB of XML per sheet
	 * (far beyond a million ordinary rows) and plain ZIP is what every
	 * Excel opens; past that limit close fails with a clear error.
	 */
	st->wb = workbook_new_opt(st->path, &opt);
	if (!st->wb)
		return tt_error_set(x->err, TT_EIO, "export_failed", NULL,
		                    "cannot write the XLSX file: cannot create the workbook");

	st->f_header = workbook_add_format(st->wb);
	st->f_datetime = workbook_add_format(st->wb);
	st->f_hours = workbook_add_format(st->wb);
	if (!st->f_header || !st->f_datetime || !st->f_hours)
		return tt_error_set(x->err, TT_ENOMEM, "export_failed", NULL,
		                    "cannot write the XLSX file: out of memory");
	format_set_bold(st->f_header);
	format_set_num_format(st->f_datetime, "yyyy-mm-dd hh:mm:ss");
	format_set_num_format(st->f_hours, "0.00");
	return new_sheet(x, st);
}

static int xlsx_entry(struct export_ctx *x, const entry_rec *e)
{
	struct xlsx_state *st = x->state;
	lxw_error r;
	int rc;

	if (!st || !st->wb)
		return tt_error_set(x->err, TT_EINTERNAL, "internal", NULL,
		                    "XLSX writer used before begin");
	if (st->row >= xlsx_max_rows && (rc = new_sheet(x, st)) < 0)
		return rc;

	/* in column order: constant_memory mode needs each row written in order */
	if ((r = put_text(st, COL_PROJECT, e->project)) ||
	    (r = put_text(st, COL_CLIENT, e->client)) || (r = put_text(st, COL_TASK, e->task)) ||
	    (r = put_time(st, COL_START, e->start_at)) || (r = put_time(st, COL_END, e->end_at)) ||
	    (r = worksheet_write_number(st->ws, st->row, COL_DURATION, (double)e->duration / 3600.0,
	                                st->f_hours)) ||
	    (r = put_text(st, COL_NOTES, e->notes)) ||
	    (r = put_text(st, COL_TAGS, tags_text(st, e->tags))) ||
	    (r = worksheet_write_boolean(st->ws, st->row, COL_BILLABLE, e->billable, NULL)) ||
	    (r = put_id(st, COL_ID, e->id)) || (r = put_text(st, COL_USER, e->username)) ||
	    (r = put_text(st, COL_SOURCE, e->source)) ||
	    (r = put_text(st, COL_EXTERNAL_ID, e->external_id)) ||
	    (r = put_id(st, COL_IMPORT_ID, e->import_id)) ||
	    (r = put_time(st, COL_CREATED, e->created_at)) ||
	    (r = put_time(st, COL_UPDATED, e->updated_at)))
		return xlsx_fail(x, r);
	st->row++;
	return 0;
}

static int xlsx_end(struct export_ctx *x)
{
	struct xlsx_state *st = x->state;
	lxw_error r, c;
	int fd;

	if (!st || !st->wb)
		return tt_error_set(x->err, TT_EINTERNAL, "internal", NULL,
		                    "XLSX writer used before begin");
	r = finish_sheet(st);
	if ((fd = open(st->path, O_WRONLY | O_CLOEXEC)) < 0) {
		int e = errno;

		log_error("XLSX export: cannot open %s: %s", st->path, strerror(e));
		return tt_error_set(x->err, TT_EIO, "export_failed", NULL,
		                    "cannot write the XLSX file: %s", strerror(e));
	}
	close(fd);
	c = workbook_close(st->wb); /* frees the workbook whatever happens */
	st->wb = NULL;
	st->ws = NULL;
	if (st->truncated)
		log_warn("XLSX export: %lld cell(s) longer than %d characters truncated",
		         (long long)st->truncated, XLSX_CELL_MAX);
	if (c)
		return xlsx_fail(x, c);
	if (r)
		return xlsx_fail(x, r);
	return 0;
}

/* Frees the open workbook without writing anything (see the file header). */
static void discard(struct xlsx_state *st)
{
	for (size_t i = 0; i < st->n_all; i++) {
		lxw_worksheet *ws = st->all[i];

		if (ws->optimize_tmpfile) {
			if (ws->file == ws->optimize_tmpfile)
				ws->file = NULL;
			fclose(ws->optimize_tmpfile);
			ws->optimize_tmpfile = NULL;
		}
	}
	lxw_workbook_free(st->wb);
	st->wb = NULL;
	st->ws = NULL;
}

static void xlsx_release(struct export_ctx *x)
{
	struct xlsx_state *st = x->state;

	if (!st)
		return;
	if (st->wb)
		discard(st);
	free(st->all);
	free(st->path);
	free(st->tmpdir);
	free(st->zone_label);
	free(st->text);
	free(st->tags);
	free(st);
	x->state = NULL;
}

const struct export_writer export_xlsx_writer = {
    .format = "xlsx",
    .extension = "xlsx",
    .content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    .begin = xlsx_begin,
    .entry = xlsx_entry,
    .end = xlsx_end,
    .release = xlsx_release,
};
