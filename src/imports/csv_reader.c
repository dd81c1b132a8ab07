/*
 * csv_reader.c - the streaming CSV reader behind imports (see csv_reader.h).
 *
 * A hand-written state machine over a read(2) chunk buffer. Field bytes are
 * copied into one growable record buffer (NUL after each field, capped by
 * max_record) and described by one fields array (capped by max_fields), both
 * reused from record to record, so there is no allocation per field and
 * memory never grows past the caps. Runs of ordinary bytes are found with a
 * per-delimiter byte table and copied with memcpy.
 *
 * Choices the header leaves open:
 *  - A NUL byte anywhere makes the file "not text": the call that meets it
 *    returns CSV_EENCODING with the numbers of the record holding it
 *    (bad_utf8_offset and end_offset are the NUL's offset) and every later
 *    call returns the same until csv_reader_seek(). A UTF-16/UTF-32 BOM is
 *    reported the same way (record 1, offset 0). CSV_EIO is sticky likewise:
 *    seek back to the last end_offset to retry.
 *  - bad_utf8_offset is the file offset of the first byte of the first
 *    invalid (overlong, surrogate, > U+10FFFF, truncated or stray) sequence.
 *    A sequence cut by a delimiter or quote is truncated, so invalid.
 *  - The record size checked against max_record is the sum of its field
 *    lengths plus one per delimiter (the bytes it takes in our buffer).
 *  - After junk behind a closing quote (`"ab"c,`) the rest of the field is
 *    read as unquoted data, so the record ends where it would have ended had
 *    the quotes been literal; the whole record is CSV_EQUOTE.
 *  - When a record is over a cap and also ends in an unterminated quote at
 *    end of file, CSV_EQUOTE wins.
 *  - A delimiter option of '"', CR or LF cannot work and is ignored (sniffed).
 */
#include "imports/csv_reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"

#define DEF_MAX_FIELD  (64u * 1024u)
#define DEF_MAX_RECORD (1024u * 1024u)
#define DEF_MAX_FIELDS 256u
#define DEF_CHUNK      (64u * 1024u)

struct csv_reader {
	int fd;
	size_t chunk, max_field, max_record, max_fields;
	char delim;    /* 0 until sniffed */
	bool at_start; /* BOM check pending (reading from offset 0) */
	bool ready;    /* BOM checked, delimiter known, tables built */
	bool eof;      /* read(2) returned 0 */
	int fatal;     /* sticky CSV_EENCODING / CSV_EIO, 0 when fine */
	csv_record fatal_rec;

	unsigned char *buf; /* input chunk(s) */
	size_t buf_cap, pos, len;
	int64_t buf_off; /* file offset of buf[0] */

	char *rec; /* field bytes, NUL after each */
	size_t rec_cap;
	csv_field *fields;
	size_t fields_cap;

	int64_t nrecords; /* records handed out so far (numbering) */
	int64_t line;     /* physical line of the next unread byte */
	int64_t blank;

	unsigned char tab_unq[256]; /* bytes that stop an unquoted run */
	unsigned char tab_q[256];   /* bytes that stop a quoted run */
};

enum {
	ST_REC_START,   /* nothing of the record seen yet */
	ST_BLANK_CR,    /* after the CR of a blank line */
	ST_FIELD_START, /* at the first byte of a field */
	ST_UNQUOTED,
	ST_QUOTED,
	ST_QUOTED_CR,  /* after a CR inside quotes */
	ST_QUOTE_SEEN, /* after a '"' inside quotes: close or doubled? */
	ST_END_CR,     /* after the CR ending a record */
};

csv_reader *csv_reader_new(int fd, const csv_options *opts)
{
	csv_reader *r = xcalloc(1, sizeof(*r));
	csv_options o = {0};

	if (opts)
		o = *opts;
	r->fd = fd;
	r->delim = o.delimiter;
	if (r->delim == '"' || r->delim == '\r' || r->delim == '\n')
		r->delim = 0;
	r->max_field = o.max_field ? o.max_field : DEF_MAX_FIELD;
	r->max_record = o.max_record ? o.max_record : DEF_MAX_RECORD;
	r->max_fields = o.max_fields ? o.max_fields : DEF_MAX_FIELDS;
	r->chunk = o.chunk ? o.chunk : DEF_CHUNK;
	r->buf_cap = r->chunk < 8 ? 8 : r->chunk;
	r->buf = xmalloc(r->buf_cap);
	r->rec_cap = r->max_record < 4095 ? r->max_record + 1 : 4096;
	r->rec = xmalloc(r->rec_cap);
	r->fields_cap = r->max_fields < 32 ? r->max_fields : 32;
	r->fields = xmalloc(r->fields_cap * sizeof(*r->fields));
	r->at_start = true;
	r->line = 1;
	return r;
}

void csv_reader_free(csv_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->rec);
	free(r->fields);
	free(r);
}

char csv_reader_delimiter(const csv_reader *r)
{
	return r->delim;
}

int64_t csv_reader_line(const csv_reader *r)
{
	return r->line;
}

int64_t csv_reader_bytes(const csv_reader *r)
{
	return r->buf_off + (int64_t)r->pos;
}

int64_t csv_reader_blank_lines(const csv_reader *r)
{
	return r->blank;
}

const char *csv_status_message(int status)
{
	switch (status) {
	case CSV_OK: return "ok";
	case CSV_EOF: return "end of file";
	case CSV_ETOOBIG:
		return "record too large (a field, the record or its number of fields is over the "
		       "limit)";
	case CSV_EQUOTE:
		return "malformed quoting (unterminated quote, or text after a closing quote)";
	case CSV_EIO: return "read error";
	case CSV_EENCODING:
		return "not a UTF-8 text file (UTF-16/UTF-32 byte order mark or NUL bytes)";
	}
	return "unknown CSV status";
}

int csv_reader_seek(csv_reader *r, int64_t offset, int64_t record, int64_t line)
{
	if (offset < 0 || lseek(r->fd, (off_t)offset, SEEK_SET) == (off_t)-1)
		return -1;
	r->buf_off = offset;
	r->pos = r->len = 0;
	r->eof = false;
	r->fatal = 0;
	r->nrecords = record - 1;
	r->line = line;
	r->at_start = offset == 0;
	r->ready = false;
	return 0;
}

/* read(2) once, appending to buf (growing it when full). 1, 0 at EOF, -1. */
static int read_more(csv_reader *r)
{
	ssize_t n;
	size_t want;

	if (r->eof)
		return 0;
	if (r->len == r->buf_cap) {
		r->buf_cap *= 2;
		r->buf = xrealloc(r->buf, r->buf_cap);
	}
	want = r->buf_cap - r->len;
	if (want > r->chunk)
		want = r->chunk;
	do
		n = read(r->fd, r->buf + r->len, want);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0) {
		r->eof = true;
		return 0;
	}
	r->len += (size_t)n;
	return 1;
}

/* Drops the consumed buffer (pos == len) and reads the next chunk. */
static int refill(csv_reader *r)
{
	r->buf_off += (int64_t)r->len;
	r->pos = r->len = 0;
	return read_more(r);
}

/*
 * Counts ',', ';' and TAB outside quotes in the first physical record
 * (after any blank lines), looking at no more than max_record bytes.
 */
static int sniff(csv_reader *r)
{
	size_t i = r->pos, n[3] = {0, 0, 0};
	int q = 0; /* 0 field start, 1 unquoted, 2 quoted, 3 just closed */
	bool content = false;

	for (;;) {
		unsigned char c;

		if (i - r->pos >= r->max_record) /* the same limit whatever the chunk size */
			break;
		if (i == r->len) {
			int rc = read_more(r);

			if (rc < 0)
				return -1;
			if (rc == 0)
				break;
			continue;
		}
		c = r->buf[i++];
		if (!content) {
			if (c == '\r' || c == '\n')
				continue;
			content = true;
		}
		if (q == 2) {
			if (c == '"')
				q = 3;
			continue;
		}
		if (q == 3 && c == '"') {
			q = 2;
			continue;
		}
		if (c == '\r' || c == '\n')
			break;
		if (c == '"' && q == 0) {
			q = 2;
			continue;
		}
		q = 1;
		if (c == ',')
			n[0]++, q = 0;
		else if (c == ';')
			n[1]++, q = 0;
		else if (c == '\t')
			n[2]++, q = 0;
	}
	r->delim = ',';
	if (n[1] > n[0])
		r->delim = ';';
	if (n[2] > n[0] && n[2] > n[1])
		r->delim = '\t';
	return 0;
}

static void set_fatal(csv_reader *r, csv_record *rec, int status)
{
	r->fatal = status;
	rec->fields = r->fields;
	rec->nfields = 0;
	r->fatal_rec = *rec;
}

/* BOM check, sniffing and tables: 0, or a status to return. */
static int prepare(csv_reader *r, csv_record *rec)
{
	if (r->at_start) {
		const unsigned char *b;
		size_t n;

		while (r->len - r->pos < 4 && !r->eof)
			if (read_more(r) < 0)
				return CSV_EIO;
		b = r->buf + r->pos;
		n = r->len - r->pos;
		if ((n >= 4 && b[0] == 0xFF && b[1] == 0xFE && b[2] == 0 && b[3] == 0) ||
		    (n >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0xFE && b[3] == 0xFF) ||
		    (n >= 2 && b[0] == 0xFF && b[1] == 0xFE) ||
		    (n >= 2 && b[0] == 0xFE && b[1] == 0xFF)) {
			rec->record = r->nrecords + 1;
			rec->line = r->line;
			rec->offset = rec->end_offset = rec->bad_utf8_offset =
			    r->buf_off + (int64_t)r->pos;
			set_fatal(r, rec, CSV_EENCODING);
			return CSV_EENCODING;
		}
		if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF)
			r->pos += 3;
		r->at_start = false;
	}
	if (!r->delim && sniff(r) < 0)
		return CSV_EIO;
	memset(r->tab_unq, 0, sizeof(r->tab_unq));
	memset(r->tab_q, 0, sizeof(r->tab_q));
	r->tab_unq[(unsigned char)r->delim] = 1;
	r->tab_unq['\r'] = r->tab_unq['\n'] = r->tab_unq[0] = 1;
	r->tab_q['"'] = r->tab_q['\r'] = r->tab_q['\n'] = r->tab_q[0] = 1;
	r->ready = true;
	return 0;
}

/* Index of the first byte of the first invalid UTF-8 sequence, or n. */
static size_t utf8_check(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c, c1;

		while (i + 8 <= n) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c < 0xC2) /* stray continuation, or overlong C0/C1 */
			return i;
		if (c < 0xE0) {
			if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80)
				return i;
			i += 2;
			continue;
		}
		if (c < 0xF0) {
			if (i + 2 >= n)
				return i;
			c1 = s[i + 1];
			if ((c1 & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80)
				return i;
			if ((c == 0xE0 && c1 < 0xA0) ||
			    (c == 0xED && c1 >= 0xA0)) /* overlong, surrogate */
				return i;
			i += 3;
			continue;
		}
		if (c < 0xF5) {
			if (i + 3 >= n)
				return i;
			c1 = s[i + 1];
			if ((c1 & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
			    (s[i + 3] & 0xC0) != 0x80)
				return i;
			if ((c == 0xF0 && c1 < 0x90) ||
			    (c == 0xF4 && c1 >= 0x90)) /* overlong, > U+10FFFF */
				return i;
			i += 4;
			continue;
		}
		return i;
	}
	return n;
}

/* Makes room for `need` bytes in rec (need <= max_record + 1). */
static inline void rec_reserve(csv_reader *r, size_t need)
{
	size_t cap;

	if (need <= r->rec_cap)
		return;
	cap = r->rec_cap * 2;
	if (cap < need)
		cap = need;
	if (cap > r->max_record + 1)
		cap = r->max_record + 1;
	r->rec = xrealloc(r->rec, cap);
	r->rec_cap = cap;
}

int csv_reader_next(csv_reader *r, csv_record *rec)
{
	const unsigned char *p, *end, *tu, *tq;
	unsigned char delim;
	int st = ST_REC_START, err = 0, bad_field = -1;
	size_t rl = 0, fl = 0, nf = 0; /* record bytes used, field length, fields done */
	size_t max_field = r->max_field, max_record = r->max_record;
	bool quoted = false;
	int64_t rec_off = 0, rec_line = 0, fstart = 0, bad_off = -1;

	memset(rec, 0, sizeof(*rec));
	rec->fields = r->fields;
	rec->bad_utf8_field = -1;
	rec->bad_utf8_offset = -1;
	if (r->fatal) {
		*rec = r->fatal_rec;
		return r->fatal;
	}
	if (!r->ready) {
		int rc = prepare(r, rec);

		if (rc == CSV_EIO) {
			rec->record = r->nrecords + 1;
			rec->line = r->line;
			rec->offset = rec->end_offset = csv_reader_bytes(r);
			set_fatal(r, rec, CSV_EIO);
		}
		if (rc)
			return rc;
	}
	delim = (unsigned char)r->delim;
	tu = r->tab_unq;
	tq = r->tab_q;
	p = r->buf + r->pos;
	end = r->buf + r->len;

/* file offset of the byte at q */
#define OFF(q) (r->buf_off + (int64_t)((q)-r->buf))

/* appends n bytes at src to the field, or flags the record too big */
#define APPEND(src, n)                                                                             \
	do {                                                                                       \
		if (!err) {                                                                        \
			if (fl + (n) > max_field || rl + (n) > max_record) {                       \
				err = CSV_ETOOBIG;                                                 \
			} else {                                                                   \
				rec_reserve(r, rl + (n) + 1);                                      \
				memcpy(r->rec + rl, (src), (n));                                   \
				rl += (n);                                                         \
				fl += (n);                                                         \
			}                                                                          \
		}                                                                                  \
	} while (0)

/* ends the current field (not on error) */
#define FINISH_FIELD()                                                                             \
	do {                                                                                       \
		if (!err) {                                                                        \
			if (bad_field < 0 && fl) {                                                 \
				const unsigned char *s_ = (const unsigned char *)r->rec + rl - fl; \
				size_t i_ = utf8_check(s_, fl);                                    \
				if (i_ < fl) {                                                     \
					int64_t extra_ = 0;                                        \
					if (quoted)                                                \
						for (size_t k_ = 0; k_ < i_; k_++)                 \
							extra_ += s_[k_] == '"';                   \
					bad_field = (int)nf;                                       \
					bad_off = fstart + (int64_t)i_ + extra_;                   \
				}                                                                  \
			}                                                                          \
			rec_reserve(r, rl + 1);                                                    \
			r->rec[rl++] = '\0';                                                       \
			if (nf == r->fields_cap) {                                                 \
				r->fields_cap *= 2;                                                \
				if (r->fields_cap > r->max_fields)                                 \
					r->fields_cap = r->max_fields;                             \
				r->fields =                                                        \
				    xrealloc(r->fields, r->fields_cap * sizeof(*r->fields));       \
			}                                                                          \
			r->fields[nf].len = fl;                                                    \
			r->fields[nf].quoted = quoted;                                             \
			nf++;                                                                      \
		}                                                                                  \
	} while (0)

/* a delimiter: end the field, check room for another */
#define DELIMITER()                                                                                \
	do {                                                                                       \
		if (!err && (rl + 1 > max_record || nf + 2 > r->max_fields))                       \
			err = CSV_ETOOBIG;                                                         \
		FINISH_FIELD();                                                                    \
		fl = 0;                                                                            \
		quoted = false;                                                                    \
		st = ST_FIELD_START;                                                               \
	} while (0)

	for (;;) {
		unsigned char c;

		if (p == end) {
			int rc;

			r->pos = r->len;
			rc = refill(r);
			if (rc < 0) {
				rec->record = r->nrecords + 1;
				rec->line =
				    st == ST_REC_START || st == ST_BLANK_CR ? r->line : rec_line;
				rec->offset =
				    st == ST_REC_START || st == ST_BLANK_CR ? r->buf_off : rec_off;
				rec->end_offset = r->buf_off;
				set_fatal(r, rec, CSV_EIO);
				return CSV_EIO;
			}
			p = r->buf;
			end = r->buf + r->len;
			if (rc == 0)
				goto at_eof;
		}
		switch (st) {
		case ST_BLANK_CR:
			if (*p == '\n')
				p++;
			st = ST_REC_START;
			continue;
		case ST_QUOTED_CR:
			if (*p == '\n') {
				APPEND(p, 1);
				p++;
			}
			st = ST_QUOTED;
			continue;
		case ST_END_CR:
			if (*p == '\n')
				p++;
			goto done;
		case ST_REC_START:
			if (*p == '\n' || *p == '\r') {
				st = *p == '\r' ? ST_BLANK_CR : ST_REC_START;
				p++;
				r->line++;
				r->blank++;
				continue;
			}
			rec_off = OFF(p);
			rec_line = r->line;
			__attribute__((fallthrough));
		case ST_FIELD_START:
			fl = 0;
			fstart = OFF(p);
			if (*p == '"') {
				quoted = true;
				p++;
				fstart++;
				st = ST_QUOTED;
				continue;
			}
			quoted = false;
			st = ST_UNQUOTED;
			__attribute__((fallthrough));
		case ST_UNQUOTED: {
			const unsigned char *q = p;

			while (q < end && !tu[*q])
				q++;
			if (q > p) {
				size_t n = (size_t)(q - p);

				APPEND(p, n);
				p = q;
				if (p == end)
					continue;
			}
			c = *p++;
			if (c == delim) {
				DELIMITER();
			} else if (c == '\n') {
				r->line++;
				FINISH_FIELD();
				goto done;
			} else if (c == '\r') {
				r->line++;
				FINISH_FIELD();
				st = ST_END_CR;
			} else {
				p--;
				goto nul;
			}
			continue;
		}
		case ST_QUOTED: {
			const unsigned char *q = p;

			while (q < end && !tq[*q])
				q++;
			if (q > p) {
				size_t n = (size_t)(q - p);

				APPEND(p, n);
				p = q;
				if (p == end)
					continue;
			}
			c = *p;
			if (c == '"') {
				st = ST_QUOTE_SEEN;
			} else if (c == '\n') {
				r->line++;
				APPEND(p, 1);
			} else if (c == '\r') {
				r->line++;
				APPEND(p, 1);
				st = ST_QUOTED_CR;
			} else {
				goto nul;
			}
			p++;
			continue;
		}
		case ST_QUOTE_SEEN:
			c = *p;
			if (c == '"') {
				APPEND(p, 1);
				p++;
				st = ST_QUOTED;
			} else if (c == delim) {
				p++;
				DELIMITER();
			} else if (c == '\n') {
				p++;
				r->line++;
				FINISH_FIELD();
				goto done;
			} else if (c == '\r') {
				p++;
				r->line++;
				FINISH_FIELD();
				st = ST_END_CR;
			} else if (c == 0) {
				goto nul;
			} else {
				/* junk after the closing quote: read on as unquoted */
				if (!err)
					err = CSV_EQUOTE;
				st = ST_UNQUOTED;
			}
			continue;
		}
	}

at_eof:
	switch (st) {
	case ST_REC_START:
	case ST_BLANK_CR: r->pos = r->len; return CSV_EOF;
	case ST_FIELD_START:
	case ST_UNQUOTED:
	case ST_QUOTE_SEEN: FINISH_FIELD(); break;
	case ST_QUOTED:
	case ST_QUOTED_CR: err = CSV_EQUOTE; break;
	default: break;
	}

done:
	r->pos = (size_t)(p - r->buf);
	r->nrecords++;
	rec->record = r->nrecords;
	rec->line = rec_line;
	rec->offset = rec_off;
	rec->end_offset = OFF(p);
	if (err)
		return err;
	{
		char *s = r->rec;

		for (size_t i = 0; i < nf; i++) {
			r->fields[i].ptr = s;
			s += r->fields[i].len + 1;
		}
	}
	rec->fields = r->fields;
	rec->nfields = nf;
	rec->bad_utf8_field = bad_field;
	rec->bad_utf8_offset = bad_off;
	return CSV_OK;

nul:
	rec->record = r->nrecords + 1;
	rec->line = rec_line;
	rec->offset = rec_off;
	rec->end_offset = rec->bad_utf8_offset = OFF(p);
	rec->bad_utf8_field = (int)nf;
	r->pos = (size_t)(p - r->buf);
	set_fatal(r, rec, CSV_EENCODING);
	return CSV_EENCODING;

#undef OFF
#undef APPEND
#undef FINISH_FIELD
#undef DELIMITER
}
