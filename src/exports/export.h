/*
 * export.h - exports: sinks (where bytes go), writers (how entries are
 * encoded) and the export jobs.
 *
 * A sink writes `<final>.tmp` (O_EXCL, 0600) through a buffer while hashing
 * (SHA-256) and counting; sink_commit flushes, fsyncs, renames to the final
 * name and fsyncs the directory, so a file under its final name is always
 * complete. Errors are sticky: write many times, check at commit.
 *
 * A writer turns entries into one format. The export job opens one
 * consistent read, walks the entries in start order and hands each to the
 * writer's `entry`; memory never holds more than one row (plus what a
 * format must buffer, e.g. libxlsxwriter's constant_memory row).
 */
#ifndef TT_EXPORT_H
#define TT_EXPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/tz.h"
#include "store/entries.h"
#include "store/store.h"
#include "util/err.h"

/* ---- sinks ---- */

typedef struct export_sink export_sink;

/*
 * Opens final_path.tmp for writing (must not exist). *out NULL on failure
 * with err filled.
 */
int sink_open(const char *final_path, export_sink **out, tt_error *err);
/* Appends n bytes (buffered). Returns 0, or -1 once any write failed. */
int sink_write(export_sink *s, const void *p, size_t n);
int sink_puts(export_sink *s, const char *str);
int sink_printf(export_sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes written so far. */
int64_t sink_size(const export_sink *s);
/* The .tmp path (for writers that must write the file themselves, e.g. XLSX). */
const char *sink_tmp_path(const export_sink *s);
/*
 * For such writers: the file at sink_tmp_path() was written by someone else;
 * commit hashes it from disk instead of from the stream.
 */
void sink_set_external(export_sink *s);
/* Flush, fsync, rename to the final name, fsync the directory; frees s. */
int sink_commit(export_sink *s, char sha256_hex[65], int64_t *size, tt_error *err);
/* Removes the .tmp file and frees s. NULL is fine. */
void sink_abort(export_sink *s);

/* ---- writers ---- */

struct export_opts {
	bool excel_bom;        /* CSV: UTF-8 BOM first (excel=true) */
	bool excel_safe;       /* CSV: spreadsheet guard (default true) */
	const tz_zone *zone;   /* for formats that show local times (XLSX) */
	json_t *columns;       /* CSV: optional array of column names to keep, in order */
	bool include_entries;  /* JSON */
	bool include_projects; /* JSON */
	bool include_clients;  /* JSON */
};

struct export_ctx {
	export_sink *sink;
	const struct export_opts *opts;
	store_conn *c;         /* for formats that add lists (JSON projects/clients) */
	json_t *info;          /* export_info object (JSON formats), borrowed */
	int64_t count;         /* entries written so far */
	void *state;           /* the writer's own */
	tt_error *err;
};

struct export_writer {
	const char *format;        /* "csv", "json", "xlsx", "ics" */
	const char *extension;     /* "csv" */
	const char *content_type;  /* "text/csv; charset=utf-8" */
	/* Each returns 0, or negative with x->err filled. */
	int (*begin)(struct export_ctx *x);
	int (*entry)(struct export_ctx *x, const entry_rec *e);
	int (*end)(struct export_ctx *x);
	/* Frees the writer's state after end or on failure. */
	void (*release)(struct export_ctx *x);
};

/* The writer for a format name, or NULL. */
const struct export_writer *export_writer_find(const char *format);

extern const struct export_writer export_csv_writer;
extern const struct export_writer export_json_writer;
extern const struct export_writer export_ics_writer;
extern const struct export_writer export_xlsx_writer;

/* The CSV columns, in order: our import template's, then the extra ones. */
extern const char *const EXPORT_CSV_COLUMNS[];

/*
 * Appends one CSV cell (RFC 4180 quoting; with guard, cells starting with
 * = + - @ TAB or CR get a leading '), followed by ',' or CRLF when last.
 */
int export_csv_cell(export_sink *s, const char *v, bool guard, bool last);

/* An entry as JSON, exactly as the API shows it (SPEC §3.2). */
json_t *export_entry_json(const entry_rec *e);

/* ---- jobs ---- */

#define EXPORT_JOB_FILTERED "export_filtered"
#define EXPORT_JOB_GDPR "export_gdpr"
#define EXPORT_JOB_BACKUP "export_backup"

void exports_register_jobs(void);

/* Starts the sweeper thread that expires old export files. */
int exports_sweeper_start(store *s, tt_error *err);
void exports_sweeper_stop(void);
/* One sweep now (tests, CLI). Returns the number of files expired. */
int exports_sweep(store_conn *c, tt_error *err);

/*
 * GDPR export of user_id into sink (json: export.json only; zip: the
 * archive). Implemented in gdpr.c.
 */
int export_gdpr_write(store_conn *c, int64_t user_id, bool zip, export_sink *sink,
		      int64_t *records, tt_error *err);

#endif
