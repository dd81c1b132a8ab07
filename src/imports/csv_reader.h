/*
 * csv_reader.h - a streaming RFC 4180 reader that never loses or bends data.
 *
 * Reads records from a file descriptor in fixed-size chunks (memory does not
 * grow with the file), and hands out one record at a time as an array of
 * fields. It:
 *  - strips a UTF-8 BOM at the start of the file (and refuses UTF-16/32 BOMs
 *    with a clear error);
 *  - sniffs the delimiter (',', ';' or TAB) from the first record unless one
 *    is given: the candidate that occurs most often outside quotes in the
 *    header line wins; ties prefer ',' then ';' then TAB;
 *  - accepts CRLF, LF and lone CR line ends, mixed, and a missing final newline;
 *  - handles quoted fields with delimiters, doubled quotes and line breaks
 *    inside (line breaks are kept exactly as written);
 *  - keeps every byte of a field: no trimming of spaces, no dropping;
 *  - skips records that are completely empty (an empty line), counting them
 *    in `blank_lines` so callers can report it, but never skips a record
 *    that has any content (",,," is a record of empty fields);
 *  - validates UTF-8 per record: a record with an invalid byte is still
 *    returned, with `bad_utf8_field` set to the 0-based field that holds the
 *    first bad byte (-1 when the record is valid);
 *  - caps a field at max_field bytes and a record at max_record bytes and
 *    max_fields fields: a record over a cap is reported as CSV_ETOOBIG with
 *    its numbers, and the reader skips to the end of that record so the next
 *    call continues with the following one;
 *  - an unterminated quote at end of file is CSV_EQUOTE for that record;
 *    a quote in the middle of an unquoted field is kept as data; text after a
 *    closing quote before the delimiter (`"ab"c,`) is CSV_EQUOTE for that
 *    record, and reading continues with the next record.
 *
 * Numbers: `record` is the 1-based index of the record in the file,
 * counting the header as record 1 and not counting skipped blank lines;
 * `line` is the 1-based physical line where the record starts; `offset` is the
 * byte offset (from the start of the file, BOM included) where the record
 * starts, and `end_offset` where the next one starts: a caller can checkpoint
 * end_offset and later csv_reader_seek() there to resume.
 */
#ifndef TT_CSV_READER_H
#define TT_CSV_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct csv_reader csv_reader;

typedef struct csv_field {
	const char *ptr; /* not NUL-terminated... but ptr[len] is '\0' for convenience */
	size_t len;
	bool quoted;     /* the field was written in quotes */
} csv_field;

typedef struct csv_record {
	const csv_field *fields;
	size_t nfields;
	int64_t record;       /* see above */
	int64_t line;
	int64_t offset;
	int64_t end_offset;
	int bad_utf8_field;   /* -1 when all fields are valid UTF-8 */
	int64_t bad_utf8_offset; /* byte offset in the file of the first bad byte */
} csv_record;

enum csv_status {
	CSV_OK = 1,        /* a record is in *rec */
	CSV_EOF = 0,       /* no more records */
	CSV_ETOOBIG = -1,  /* the record exceeded a cap; rec has its numbers, no fields */
	CSV_EQUOTE = -2,   /* malformed quoting; rec has its numbers, no fields */
	CSV_EIO = -3,      /* read(2) failed; errno is set */
	CSV_EENCODING = -4,/* UTF-16/UTF-32 BOM or NUL bytes: not a UTF-8 text file */
};

typedef struct csv_options {
	char delimiter;      /* 0 = sniff */
	size_t max_field;    /* default 64 KiB */
	size_t max_record;   /* default 1 MiB */
	size_t max_fields;   /* default 256 */
	size_t chunk;        /* read size, default 64 KiB */
} csv_options;

/*
 * Creates a reader over fd (not owned: the caller closes it). opts may be
 * NULL for the defaults. Never fails except on out-of-memory (aborts).
 */
csv_reader *csv_reader_new(int fd, const csv_options *opts);
void csv_reader_free(csv_reader *r);

/*
 * Reads the next record. The record and its fields stay valid until the
 * next call. On CSV_ETOOBIG / CSV_EQUOTE, rec->record/line/offset/end_offset
 * describe the bad record and the next call goes on after it.
 */
int csv_reader_next(csv_reader *r, csv_record *rec);

/* The delimiter in use (after sniffing, which happens on the first call). */
char csv_reader_delimiter(const csv_reader *r);

/*
 * Continues reading at byte offset `offset`, which must be a record start
 * previously reported as end_offset, as record number `record` starting at
 * physical line `line`. The delimiter must be set (given or sniffed earlier).
 * Returns 0, or -1 when lseek fails.
 */
int csv_reader_seek(csv_reader *r, int64_t offset, int64_t record, int64_t line);

/*
 * The physical line of the next unread byte: right after csv_reader_next(),
 * the line at end_offset, i.e. the `line` to give csv_reader_seek() along
 * with that end_offset.
 */
int64_t csv_reader_line(const csv_reader *r);

/* Bytes consumed so far (for progress). */
int64_t csv_reader_bytes(const csv_reader *r);

/* Blank lines skipped so far. */
int64_t csv_reader_blank_lines(const csv_reader *r);

/* A short English description of a csv_status. */
const char *csv_status_message(int status);

#endif
