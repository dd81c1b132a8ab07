/*
 * ics_writer.c - the iCalendar export (RFC 5545): one VEVENT per entry, all
 * times in UTC, so no VTIMEZONE is needed.
 *
 * Each content line is assembled whole in a reusable buffer, then written
 * folded: at most 75 octets per physical line (CRLF excluded), a
 * continuation starting with one space, and never inside a UTF-8 sequence.
 * TEXT values escape backslash, semicolon, comma and newlines (RFC 5545
 * §3.3.11); other control characters, which TEXT cannot carry, are dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/datetime.h"
#include "exports/export.h"
#include "util/alloc.h"

#define ICS_FOLD 75 /* octets per physical line, CRLF excluded */

struct ics_state {
	char *line; /* the content line being built */
	size_t len, cap;
};

static void line_add(struct ics_state *st, const char *p, size_t n)
{
	if (st->len + n + 1 > st->cap) {
		while (st->len + n + 1 > st->cap)
			st->cap = st->cap ? st->cap * 2 : 256;
		st->line = xrealloc(st->line, st->cap);
	}
	memcpy(st->line + st->len, p, n);
	st->len += n;
}

static void line_adds(struct ics_state *st, const char *s)
{
	line_add(st, s, strlen(s));
}

/* Appends n bytes of s as an escaped TEXT value. */
static void line_add_text(struct ics_state *st, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		switch (ch) {
		case '\\': line_add(st, "\\\\", 2); break;
		case ';': line_add(st, "\\;", 2); break;
		case ',': line_add(st, "\\,", 2); break;
		case '\r':
			if (i + 1 < n && s[i + 1] == '\n')
				i++;
			line_add(st, "\\n", 2);
			break;
		case '\n': line_add(st, "\\n", 2); break;
		case '\t': line_add(st, "\t", 1); break;
		default:
			if (ch >= 0x20 && ch != 0x7f)
				line_add(st, s + i, 1);
			break;
		}
	}
}

/* Writes the built line folded, then starts over. */
static void line_emit(struct ics_state *st, export_sink *sink)
{
	const unsigned char *b = (const unsigned char *)st->line;
	size_t pos = 0, limit = ICS_FOLD;

	while (st->len - pos > limit) {
		size_t cut = pos + limit;

		/* Back up to the start of a UTF-8 sequence (at most 3 bytes). */
		while (cut > pos && cut + 3 > pos + limit && (b[cut] & 0xC0) == 0x80)
			cut--;
		if (cut == pos)
			cut = pos + limit; /* not UTF-8 anyway: cut where we must */
		sink_write(sink, b + pos, cut - pos);
		sink_write(sink, "\r\n ", 3);
		pos = cut;
		limit = ICS_FOLD - 1; /* the leading space counts */
	}
	sink_write(sink, b + pos, st->len - pos);
	sink_write(sink, "\r\n", 2);
	st->len = 0;
}

static void emit(struct ics_state *st, export_sink *sink, const char *name, const char *value)
{
	line_adds(st, name);
	line_add(st, ":", 1);
	line_adds(st, value);
	line_emit(st, sink);
}

/* YYYYMMDDTHHMMSSZ */
static void ics_time(int64_t t, char out[17])
{
	char iso[21];
	size_t n = 0;

	dt_format_utc(t, iso);
	for (const char *p = iso; *p; p++)
		if (*p != '-' && *p != ':')
			out[n++] = *p;
	out[n] = '\0';
}

static int tag_cmp(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* CATEGORIES: the tags sorted case-insensitively, each escaped. */
static void line_add_tags(struct ics_state *st, const char *joined)
{
	char *copy = xstrdup(joined);
	size_t n = 0, cap = 1;
	char **names, *p;

	for (p = copy; *p; p++)
		if (*p == ENTRY_TAG_SEP)
			cap++;
	names = xmalloc(cap * sizeof(*names));
	for (p = copy;;) {
		char *sep = strchr(p, ENTRY_TAG_SEP);

		if (sep)
			*sep = '\0';
		if (*p)
			names[n++] = p;
		if (!sep)
			break;
		p = sep + 1;
	}
	qsort(names, n, sizeof(*names), tag_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i)
			line_add(st, ",", 1);
		line_add_text(st, names[i], strlen(names[i]));
	}
	free(names);
	free(copy);
}

static int ics_begin(struct export_ctx *x)
{
	x->state = xcalloc(1, sizeof(struct ics_state));
	sink_puts(x->sink, "BEGIN:VCALENDAR\r\n"
	                   "VERSION:2.0\r\n"
	                   "PRODID:-//TimeTracker//Export//EN\r\n"
	                   "CALSCALE:GREGORIAN\r\n");
	return 0;
}

static int ics_entry(struct export_ctx *x, const entry_rec *e)
{
	struct ics_state *st = x->state;
	export_sink *s = x->sink;
	const char *notes = e->notes ? e->notes : "";
	size_t first_line = strcspn(notes, "\r\n");
	int64_t stamp = e->updated_at ? e->updated_at : e->created_at ? e->created_at : e->start_at;
	char t[17], uid[48];

	sink_puts(s, "BEGIN:VEVENT\r\n");
	snprintf(uid, sizeof(uid), "entry-%lld@timetracker", (long long)e->id);
	emit(st, s, "UID", uid);
	ics_time(stamp, t);
	emit(st, s, "DTSTAMP", t);
	ics_time(e->start_at, t);
	emit(st, s, "DTSTART", t);
	if (e->end_at) {
		ics_time(e->end_at, t);
		emit(st, s, "DTEND", t);
	}

	line_adds(st, "SUMMARY:");
	if (e->project)
		line_add_text(st, e->project, strlen(e->project));
	else
		line_adds(st, "No project");
	if (first_line) {
		line_adds(st, " - ");
		line_add_text(st, notes, first_line);
	}
	line_emit(st, s);

	if (*notes) {
		line_adds(st, "DESCRIPTION:");
		line_add_text(st, notes, strlen(notes));
		line_emit(st, s);
	}
	if (e->tags && *e->tags) {
		line_adds(st, "CATEGORIES:");
		line_add_tags(st, e->tags);
		line_emit(st, s);
	}
	if (e->created_at) {
		ics_time(e->created_at, t);
		emit(st, s, "CREATED", t);
	}
	if (e->updated_at) {
		ics_time(e->updated_at, t);
		emit(st, s, "LAST-MODIFIED", t);
	}
	if (e->client) {
		line_adds(st, "X-TIMETRACKER-CLIENT:");
		line_add_text(st, e->client, strlen(e->client));
		line_emit(st, s);
	}
	if (e->task) {
		line_adds(st, "X-TIMETRACKER-TASK:");
		line_add_text(st, e->task, strlen(e->task));
		line_emit(st, s);
	}
	emit(st, s, "X-TIMETRACKER-BILLABLE", e->billable ? "TRUE" : "FALSE");
	sink_puts(s, "END:VEVENT\r\n");
	return 0;
}

static int ics_end(struct export_ctx *x)
{
	sink_puts(x->sink, "END:VCALENDAR\r\n");
	return 0;
}

static void ics_release(struct export_ctx *x)
{
	struct ics_state *st = x->state;

	if (st) {
		free(st->line);
		free(st);
	}
	x->state = NULL;
}

const struct export_writer export_ics_writer = {
    .format = "ics",
    .extension = "ics",
    .content_type = "text/calendar; charset=utf-8",
    .begin = ics_begin,
    .entry = ics_entry,
    .end = ics_end,
    .release = ics_release,
};
