/*
 * verify.c - reading backups: the full check (backup_verify) and the row
 * stream restore consumes (backup_read_rows), one reader for both.
 *
 * An archive is untrusted input. It is read with libarchive's seekable ZIP
 * reader only (no other format; members as the central directory lists
 * them, so a truncated file is refused), member by member, and never extracted: only the fixed
 * member names (manifest.json and the table files of BACKUP_TABLES) are read, anything else
 * (another name, "../x", a directory, a link, an encrypted member) is a problem. The reader caps
 * the member count (64), the uncompressed bytes of the whole archive (the caller's
 * max_uncompressed, which also bounds each member), the compression ratio (a member past 1 MiB that
 * expands more than 200 times is a zip bomb), a row line (8 MiB) and manifest.json (1 MiB).
 *
 * Each table member is streamed: hashed (SHA-256) and split into lines as
 * it is inflated, each line parsed on its own (duplicate keys rejected) and
 * checked to be an object with exactly the table's columns and types, then
 * freed. manifest.json is the archive's last member (archive.c writes it
 * after the tables, whose checksums it lists), so the manifest, the counts
 * and the checksums are compared at the end.
 *
 * References need the ids of earlier tables: the reader keeps, per table
 * with an `id` column, every id it met as a sorted int64 array. That is the
 * one thing that grows with the data: 8 bytes per row (a million entries:
 * 8 MB); everything else stays flat. Tables must come in dependency order
 * (parents before children), so a child's references are checked against
 * its parents' complete id sets while the child streams. Ids are checked for
 * duplicates; (entry_id, tag_id) pairs of time_entry_tags are not (restore's
 * transaction refuses them).
 *
 * Problems are sentences naming the member and the line; the list is capped
 * at 100 plus a final "... and N more problems".
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backup/backup.h"
#include "util/alloc.h"

/* From archive.c (see there: internals with no place in backup.h yet). */
const char *backup_member_name(int table);
const char *backup_column_types(int table);

#define BK_MANIFEST     "manifest.json"
#define BK_MAX_MEMBERS  64
#define BK_MAX_LINE     (8 * 1024 * 1024)
#define BK_MAX_MANIFEST (1024 * 1024)
#define BK_MAX_PROBLEMS 100
#define BK_BOMB_MIN     (1024 * 1024)
#define BK_BOMB_RATIO   200
#define BK_READ_BUF     (64 * 1024)
#define BK_MAX_REFS     8

struct idset {
	int64_t *v;
	size_t n, cap;
};

/* What the reader knows of one table, from BACKUP_TABLES. */
struct tinfo {
	const char *member;
	const char *types;
	int ncols;
	int id_col; /* -1: no id column */
	int nrefs;
	int ref_col[BK_MAX_REFS];
	int ref_parent[BK_MAX_REFS];
};

struct rd {
	backup_report *rep;
	int max_schema;
	int64_t max_uncompressed;
	int (*row_cb)(void *ctx, int table, json_t *row); /* read_rows only */
	void *row_ctx;
	int cb_rc; /* the callback's stop value */

	struct archive *a;
	int ntables;
	struct tinfo t[BACKUP_MAX_TABLES];
	int64_t nproblems; /* all of them, listed or not */
	bool fatal;        /* stop reading the archive */
	int64_t total;     /* uncompressed bytes so far */
	int members;
	unsigned char *buf;

	/* per table */
	struct idset ids[BACKUP_MAX_TABLES];
	bool present[BACKUP_MAX_TABLES];  /* the member was met */
	bool complete[BACKUP_MAX_TABLES]; /* read to its end: its ids are usable */
	int64_t size[BACKUP_MAX_TABLES];
	char sha[BACKUP_MAX_TABLES][65];
	int last_table;

	bool manifest_seen;
	bool manifest_complete;
	char *manifest;
	size_t manifest_len;

	/* the member being read */
	int cur; /* table index, -1 for the manifest */
	int64_t line_no;
	char *line;
	size_t line_len, line_cap;
	bool line_too_long;
	crypto_hash_sha256_state sha_state;
	int64_t member_size;
};

/* ---- problems ---- */

/* Copies s for a message: at most 80 bytes, bytes outside printable ASCII as '?'. */
static void printable(const char *s, char *out, size_t size)
{
	size_t i, n = 0;

	if (!s)
		s = "";
	for (i = 0; s[i] && n + 4 < size && i < 80; i++)
		out[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] && n + 4 <= size) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

static void problem(struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct rd *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	r->nproblems++;
	if (r->nproblems > BK_MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Parts may quote the archive (e.g. a JSON parser's message): keep it ASCII. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	json_array_append_new(r->rep->problems, json_string(msg));
}

static void fatal(struct rd *r)
{
	r->fatal = true;
}

/* ---- ids ---- */

static void ids_add(struct idset *s, int64_t id)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = id;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static bool ids_has(const struct idset *s, int64_t id)
{
	return s->n && bsearch(&id, s->v, s->n, sizeof(*s->v), cmp_i64);
}

/* ---- tables ---- */

static int table_index(const char *name)
{
	for (int i = 0; BACKUP_TABLES[i].name; i++)
		if (!strcmp(BACKUP_TABLES[i].name, name))
			return i;
	return -1;
}

static int member_index(struct rd *r, const char *name)
{
	for (int i = 0; i < r->ntables; i++)
		if (!strcmp(r->t[i].member, name))
			return i;
	return -1;
}

static void tables_init(struct rd *r)
{
	r->ntables = backup_table_count();
	for (int i = 0; i < r->ntables; i++) {
		const struct backup_table *bt = &BACKUP_TABLES[i];
		struct tinfo *ti = &r->t[i];

		ti->member = backup_member_name(i);
		ti->types = backup_column_types(i);
		ti->id_col = -1;
		for (ti->ncols = 0; bt->columns[ti->ncols]; ti->ncols++)
			if (!strcmp(bt->columns[ti->ncols], "id"))
				ti->id_col = ti->ncols;
		for (int k = 0; bt->refs && bt->refs[k]; k += 2) {
			int col = -1;

			for (int c = 0; c < ti->ncols; c++)
				if (!strcmp(bt->columns[c], bt->refs[k]))
					col = c;
			if (col < 0 || ti->nrefs == BK_MAX_REFS)
				continue; /* not reachable with our tables (the tests check) */
			ti->ref_col[ti->nrefs] = col;
			ti->ref_parent[ti->nrefs] = table_index(bt->refs[k + 1]);
			ti->nrefs++;
		}
	}
}

/* ---- rows ---- */

/* Checks one row; returns false after reporting its first problem. */
static bool check_row(struct rd *r, json_t *row)
{
	const struct backup_table *bt = &BACKUP_TABLES[r->cur];
	const struct tinfo *ti = &r->t[r->cur];
	const char *m = ti->member;
	long long ln = (long long)r->line_no;

	if (!json_is_object(row)) {
		problem(r, "%s line %lld is not a JSON object", m, ln);
		return false;
	}
	/*
	 * The id counts as present even when the row has another problem, so
	 * one bad row does not make every row referring to it a problem too.
	 */
	if (ti->id_col >= 0 && json_is_integer(json_object_get(row, "id")))
		ids_add(&r->ids[r->cur], (int64_t)json_integer_value(json_object_get(row, "id")));
	for (int c = 0; c < ti->ncols; c++) {
		json_t *v = json_object_get(row, bt->columns[c]);

		if (!v) {
			problem(r, "%s line %lld has no column \"%s\"", m, ln, bt->columns[c]);
			return false;
		}
		if (c == ti->id_col && !json_is_integer(v)) {
			problem(r, "%s line %lld: id must be an integer", m, ln);
			return false;
		}
		if (ti->types[c] == 'i' && !json_is_integer(v) && !json_is_null(v)) {
			problem(r, "%s line %lld: column \"%s\" must be an integer or null", m, ln,
			        bt->columns[c]);
			return false;
		}
		if (ti->types[c] == 't' && !json_is_string(v) && !json_is_null(v)) {
			problem(r, "%s line %lld: column \"%s\" must be a string or null", m, ln,
			        bt->columns[c]);
			return false;
		}
	}
	if (json_object_size(row) != (size_t)ti->ncols) {
		const char *key;
		json_t *v;

		json_object_foreach(row, key, v)
		{
			int c;

			for (c = 0; c < ti->ncols; c++)
				if (!strcmp(bt->columns[c], key))
					break;
			if (c == ti->ncols) {
				char name[96];

				printable(key, name, sizeof(name));
				problem(r, "%s line %lld has an unknown column \"%s\"", m, ln,
				        name);
				return false;
			}
		}
	}
	for (int k = 0; k < ti->nrefs; k++) {
		int p = ti->ref_parent[k];
		json_t *v = json_object_get(row, bt->columns[ti->ref_col[k]]);

		/* A parent that is missing or unreadable is a problem of its own. */
		if (p < 0 || !r->complete[p] || json_is_null(v))
			continue;
		if (!ids_has(&r->ids[p], (int64_t)json_integer_value(v))) {
			problem(r, "%s line %lld: %s %lld is not a row of %s in this backup", m, ln,
			        bt->columns[ti->ref_col[k]], (long long)json_integer_value(v),
			        BACKUP_TABLES[p].name);
			return false;
		}
	}
	return true;
}

static void end_line(struct rd *r)
{
	json_error_t jerr;
	json_t *row;

	if (r->line_len == 0) {
		problem(r, "%s line %lld is empty", r->t[r->cur].member, (long long)r->line_no);
		return;
	}
	r->rep->counts[r->cur]++;
	row = json_loadb(r->line, r->line_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!row) {
		problem(r, "%s line %lld is not valid JSON: %s", r->t[r->cur].member,
		        (long long)r->line_no, jerr.text);
		return;
	}
	if (check_row(r, row) && r->row_cb && r->nproblems == 0) {
		int rc = r->row_cb(r->row_ctx, r->cur, row);

		if (rc) {
			r->cb_rc = rc;
			fatal(r);
		}
	}
	json_decref(row);
}

/* Splits a table member's bytes into lines. */
static void feed_lines(struct rd *r, const unsigned char *p, size_t n)
{
	while (n > 0 && !r->fatal) {
		const unsigned char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;

		if (!r->line_too_long) {
			if (r->line_len + take > BK_MAX_LINE) {
				problem(r, "%s line %lld is longer than %d MiB",
				        r->t[r->cur].member, (long long)r->line_no,
				        BK_MAX_LINE / (1024 * 1024));
				r->line_too_long = true;
				r->line_len = 0;
			} else {
				if (r->line_len + take > r->line_cap) {
					r->line_cap = r->line_len + take > 2 * r->line_cap
					                  ? r->line_len + take
					                  : 2 * r->line_cap;
					r->line = xrealloc(r->line, r->line_cap);
				}
				memcpy(r->line + r->line_len, p, take);
				r->line_len += take;
			}
		}
		if (!nl)
			return;
		if (!r->line_too_long)
			end_line(r);
		r->line_too_long = false;
		r->line_len = 0;
		r->line_no++;
		p += take + 1;
		n -= take + 1;
	}
}

/* ---- members ---- */

static void manifest_add(struct rd *r, const unsigned char *p, size_t n)
{
	if (!r->manifest_complete)
		return; /* already too big */
	if (r->manifest_len + n > BK_MAX_MANIFEST) {
		problem(r, BK_MANIFEST " is larger than %d MiB", BK_MAX_MANIFEST / (1024 * 1024));
		r->manifest_complete = false;
		return;
	}
	r->manifest = xrealloc(r->manifest, r->manifest_len + n + 1);
	memcpy(r->manifest + r->manifest_len, p, n);
	r->manifest_len += n;
}

/* Reads the current member's data: t is its table, or -1 for the manifest. */
static void read_member(struct rd *r, int t, const char *name)
{
	int64_t raw0 = archive_filter_bytes(r->a, -1);
	unsigned char digest[crypto_hash_sha256_BYTES];

	r->cur = t;
	r->line_no = 1;
	r->line_len = 0;
	r->line_too_long = false;
	r->member_size = 0;
	crypto_hash_sha256_init(&r->sha_state);
	if (t < 0) {
		r->manifest_complete = true;
		r->manifest_len = 0;
	}
	for (;;) {
		la_ssize_t n = archive_read_data(r->a, r->buf, BK_READ_BUF);
		int64_t raw;

		if (n == 0)
			break;
		if (n < 0) {
			problem(r, "%s could not be read (%s): the file is damaged or truncated",
			        name,
			        archive_error_string(r->a) ? archive_error_string(r->a) : "?");
			fatal(r);
			return;
		}
		r->member_size += n;
		r->total += n;
		if (r->total > r->max_uncompressed) {
			problem(r, "the archive expands to more than %lld bytes, more than allowed",
			        (long long)r->max_uncompressed);
			fatal(r);
			return;
		}
		raw = archive_filter_bytes(r->a, -1) - raw0;
		if (r->member_size > BK_BOMB_MIN &&
		    r->member_size / (raw > 0 ? raw : 1) > BK_BOMB_RATIO) {
			problem(r, "%s looks like a zip bomb: it expands more than %d times", name,
			        BK_BOMB_RATIO);
			fatal(r);
			return;
		}
		crypto_hash_sha256_update(&r->sha_state, r->buf, (unsigned long long)n);
		if (t >= 0)
			feed_lines(r, r->buf, (size_t)n);
		else
			manifest_add(r, r->buf, (size_t)n);
		if (r->fatal)
			return;
	}
	if (t < 0)
		return;
	crypto_hash_sha256_final(&r->sha_state, digest);
	sodium_bin2hex(r->sha[t], sizeof(r->sha[t]), digest, sizeof(digest));
	r->size[t] = r->member_size;
	if (r->line_len > 0 || r->line_too_long)
		problem(r,
		        "the last line of %s does not end with a newline: the member looks"
		        " truncated",
		        name);
	if (r->t[t].id_col >= 0 && r->ids[t].n > 1) {
		struct idset *s = &r->ids[t];

		qsort(s->v, s->n, sizeof(*s->v), cmp_i64);
		for (size_t i = 1; i < s->n; i++)
			if (s->v[i] == s->v[i - 1])
				problem(r, "%s holds id %lld more than once", name,
				        (long long)s->v[i]);
	}
	r->complete[t] = true;
}

/* Looks at one member's header and reads it when it is one of ours. */
static void visit_member(struct rd *r, struct archive_entry *ae)
{
	const char *raw = archive_entry_pathname(ae);
	char name[96];
	int t;

	printable(raw, name, sizeof(name));
	if (!raw) {
		problem(r, "the archive holds a member without a readable name");
		return;
	}
	if (archive_entry_filetype(ae) != AE_IFREG) {
		problem(r,
		        "the archive holds \"%s\", which is not a regular file (a directory or"
		        " a link): a backup holds only its own files",
		        name);
		return;
	}
	t = member_index(r, raw);
	if (t < 0 && strcmp(raw, BK_MANIFEST) != 0) {
		problem(r,
		        "unexpected member \"%s\": a backup holds only " BK_MANIFEST
		        " and its table files",
		        name);
		return;
	}
	if (archive_entry_is_encrypted(ae)) {
		problem(r, "%s is encrypted", name);
		return;
	}
	if (archive_entry_size_is_set(ae) && archive_entry_size(ae) > r->max_uncompressed) {
		problem(r, "%s is %lld bytes, more than allowed", name,
		        (long long)archive_entry_size(ae));
		fatal(r);
		return;
	}
	if (t < 0) {
		if (r->manifest_seen) {
			problem(r, BK_MANIFEST " appears more than once");
			return;
		}
		r->manifest_seen = true;
		read_member(r, -1, name);
		return;
	}
	if (r->present[t]) {
		problem(r, "%s appears more than once", name);
		return;
	}
	r->present[t] = true;
	if (t < r->last_table) {
		problem(r, "%s comes after %s: the tables must be in dependency order", name,
		        r->t[r->last_table].member);
		return;
	}
	r->last_table = t;
	read_member(r, t, name);
}

/* ---- the manifest ---- */

static void copy_str(json_t *m, const char *key, char *out, size_t size, struct rd *r)
{
	json_t *v = json_object_get(m, key);

	if (!json_is_string(v)) {
		problem(r, BK_MANIFEST " has no %s", key);
		return;
	}
	printable(json_string_value(v), out, size);
}

static int clamp_int(json_int_t v)
{
	return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

static void check_manifest_tables(struct rd *r, json_t *m)
{
	json_t *tables = json_object_get(m, "tables"), *e;
	bool listed[BACKUP_MAX_TABLES] = {false};
	size_t i;

	if (!json_is_array(tables)) {
		problem(r, BK_MANIFEST " has no list of tables");
		return;
	}
	json_array_foreach(tables, i, e)
	{
		json_t *name = json_object_get(e, "name"), *member = json_object_get(e, "member");
		json_t *rows = json_object_get(e, "rows");
		char shown[96];
		int t;

		if (!json_is_string(name) || !json_is_string(member) || !json_is_integer(rows)) {
			problem(r, BK_MANIFEST ": table %zu needs a name, a member and rows",
			        i + 1);
			continue;
		}
		printable(json_string_value(name), shown, sizeof(shown));
		t = table_index(json_string_value(name));
		if (t < 0) {
			problem(r, BK_MANIFEST " lists an unknown table \"%s\"", shown);
			continue;
		}
		if (listed[t]) {
			problem(r, BK_MANIFEST " lists the table %s more than once", shown);
			continue;
		}
		listed[t] = true;
		if (strcmp(json_string_value(member), r->t[t].member) != 0)
			problem(r, BK_MANIFEST ": the table %s must be in %s", shown,
			        r->t[t].member);
		if (r->complete[t] && json_integer_value(rows) != r->rep->counts[t])
			problem(r, BK_MANIFEST " says %s has %lld rows, but %s holds %lld", shown,
			        (long long)json_integer_value(rows), r->t[t].member,
			        (long long)r->rep->counts[t]);
	}
	for (int t = 0; t < r->ntables; t++)
		if (!listed[t])
			problem(r, BK_MANIFEST " does not list the table %s",
			        BACKUP_TABLES[t].name);
}

static void check_manifest_files(struct rd *r, json_t *m)
{
	json_t *files = json_object_get(m, "files"), *e;
	bool listed[BACKUP_MAX_TABLES] = {false};
	size_t i;

	if (!json_is_array(files)) {
		problem(r, BK_MANIFEST " has no list of files");
		return;
	}
	json_array_foreach(files, i, e)
	{
		json_t *name = json_object_get(e, "name"), *size = json_object_get(e, "size");
		json_t *sha = json_object_get(e, "sha256");
		char shown[96];
		int t;

		if (!json_is_string(name) || !json_is_integer(size) || !json_is_string(sha)) {
			problem(r, BK_MANIFEST ": file %zu needs a name, a size and a sha256",
			        i + 1);
			continue;
		}
		printable(json_string_value(name), shown, sizeof(shown));
		t = member_index(r, json_string_value(name));
		if (t < 0) {
			problem(r, BK_MANIFEST " lists \"%s\", which is not a file of a backup",
			        shown);
			continue;
		}
		if (listed[t]) {
			problem(r, BK_MANIFEST " lists %s more than once", shown);
			continue;
		}
		listed[t] = true;
		if (!r->complete[t])
			continue; /* missing or unreadable: reported already */
		if (json_integer_value(size) != r->size[t])
			problem(r, "%s is %lld bytes, but " BK_MANIFEST " says %lld", shown,
			        (long long)r->size[t], (long long)json_integer_value(size));
		else if (strcmp(json_string_value(sha), r->sha[t]) != 0)
			problem(r,
			        "the SHA-256 of %s does not match " BK_MANIFEST
			        ": the file was damaged or changed",
			        shown);
	}
	for (int t = 0; t < r->ntables; t++)
		if (!listed[t] && r->present[t])
			problem(r, BK_MANIFEST " gives no checksum for %s", r->t[t].member);
}

static void check_manifest(struct rd *r)
{
	backup_report *rep = r->rep;
	json_error_t jerr;
	json_t *m, *v;

	if (!r->manifest_seen) {
		problem(r, "the archive has no " BK_MANIFEST);
		return;
	}
	if (!r->manifest_complete)
		return; /* too big: already reported */
	m = json_loadb(r->manifest ? r->manifest : "", r->manifest_len, JSON_REJECT_DUPLICATES,
	               &jerr);
	if (!json_is_object(m)) {
		problem(r, BK_MANIFEST " is not a JSON object: %s", m ? "wrong type" : jerr.text);
		json_decref(m);
		return;
	}
	v = json_object_get(m, "format_version");
	if (!json_is_integer(v)) {
		problem(r, BK_MANIFEST " has no format_version");
	} else {
		rep->format_version = clamp_int(json_integer_value(v));
		if (json_integer_value(v) != BACKUP_FORMAT_VERSION)
			problem(r,
			        "format_version %lld is not supported: this TimeTracker reads"
			        " format %d",
			        (long long)json_integer_value(v), BACKUP_FORMAT_VERSION);
	}
	v = json_object_get(m, "schema_version");
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		problem(r, BK_MANIFEST " has no valid schema_version");
	} else {
		rep->schema_version = clamp_int(json_integer_value(v));
		if (json_integer_value(v) > r->max_schema)
			problem(r,
			        "the backup's schema version %lld is newer than this"
			        " TimeTracker's (%d): upgrade TimeTracker before restoring it",
			        (long long)json_integer_value(v), r->max_schema);
	}
	copy_str(m, "engine", rep->engine, sizeof(rep->engine), r);
	copy_str(m, "app_version", rep->app_version, sizeof(rep->app_version), r);
	copy_str(m, "created_at", rep->created_at, sizeof(rep->created_at), r);
	check_manifest_tables(r, m);
	check_manifest_files(r, m);
	json_decref(m);
}

/* ---- the reader ---- */

static void read_archive(struct rd *r, const char *path)
{
	struct archive_entry *ae;
	int rc;

	/*
	 * The seekable ZIP reader only: it goes by the central directory, so a
	 * truncated file (no central directory) is refused, and the member list
	 * cannot differ between local headers and the directory.
	 */
	if (archive_read_support_format_zip_seekable(r->a) != ARCHIVE_OK ||
	    archive_read_open_filename(r->a, path, BK_READ_BUF) != ARCHIVE_OK) {
		problem(r, "the file is not a complete ZIP archive (%s)",
		        archive_error_string(r->a) ? archive_error_string(r->a) : "?");
		fatal(r);
		return;
	}
	while (!r->fatal) {
		rc = archive_read_next_header(r->a, &ae);
		if (rc == ARCHIVE_EOF)
			break;
		if (rc < ARCHIVE_WARN) {
			problem(r, "the archive is damaged or truncated (%s)",
			        archive_error_string(r->a) ? archive_error_string(r->a) : "?");
			fatal(r);
			break;
		}
		if (++r->members > BK_MAX_MEMBERS) {
			problem(r, "the archive has more than %d members", BK_MAX_MEMBERS);
			fatal(r);
			break;
		}
		visit_member(r, ae);
	}
	if (r->fatal)
		return; /* the rest would only repeat the first problem */
	for (int t = 0; t < r->ntables; t++)
		if (!r->present[t])
			problem(r, "the archive has no member %s", r->t[t].member);
	check_manifest(r);
}

/* Runs the reader over path into rep (initialised here). 0, or negative. */
static int run(struct rd *r, const char *path, backup_report *rep, tt_error *err)
{
	struct stat sb;
	int rc = 0;

	memset(rep, 0, sizeof(*rep));
	rep->problems = json_array();
	r->rep = rep;
	r->last_table = -1;
	tables_init(r);
	if (stat(path, &sb) != 0) {
		rc = tt_error_set(err, errno == ENOENT ? TT_ENOTFOUND : TT_EIO, NULL, NULL,
		                  "the backup file cannot be opened");
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		problem(r, "the backup is not a regular file");
		goto out;
	}
	if (sb.st_size == 0) {
		problem(r, "the file is empty");
		goto out;
	}
	r->a = archive_read_new();
	if (!r->a) {
		rc = tt_error_set(err, TT_ENOMEM, NULL, NULL, "out of memory");
		goto out;
	}
	r->buf = xmalloc(BK_READ_BUF);
	read_archive(r, path);
out:
	if (r->nproblems > BK_MAX_PROBLEMS) {
		char more[64];

		snprintf(more, sizeof(more), "... and %lld more problems",
		         (long long)(r->nproblems - BK_MAX_PROBLEMS));
		json_array_append_new(rep->problems, json_string(more));
	}
	rep->valid = r->nproblems == 0;
	if (rc) { /* no verdict: nothing for the caller to release */
		json_decref(rep->problems);
		rep->problems = NULL;
		rep->valid = false;
	}
	archive_read_free(r->a);
	for (int t = 0; t < BACKUP_MAX_TABLES; t++)
		free(r->ids[t].v);
	free(r->buf);
	free(r->line);
	free(r->manifest);
	return rc;
}

int backup_verify(const char *path, int max_schema, int64_t max_uncompressed, backup_report *rep,
                  tt_error *err)
{
	struct rd r = {.max_schema = max_schema, .max_uncompressed = max_uncompressed};

	return run(&r, path, rep, err);
}

void backup_report_release(backup_report *rep)
{
	if (!rep)
		return;
	json_decref(rep->problems);
	memset(rep, 0, sizeof(*rep));
}

/*
 * Implemented here rather than in archive.c: it is the verify reader with a
 * row callback. Rows go to cb only while the archive shows no problem; the
 * whole archive is checked again on the way (it may have changed since it
 * was verified), so a failure can come after cb has seen rows: the caller
 * must roll back what it wrote. The size cap is the caller's verify's; here
 * only the compression ratio is capped.
 */
int backup_read_rows(const char *path, int (*cb)(void *ctx, int table, json_t *row), void *ctx,
                     tt_error *err)
{
	struct rd r = {
	    .max_schema = INT_MAX, .max_uncompressed = INT64_MAX, .row_cb = cb, .row_ctx = ctx};
	backup_report rep;
	int rc = run(&r, path, &rep, err);

	if (rc == 0 && r.cb_rc)
		rc = r.cb_rc;
	else if (rc == 0 && !rep.valid)
		rc = tt_error_set(err, TT_EINVAL, "backup_invalid", NULL,
		                  "the backup is damaged or changed since it was verified: %s",
		                  json_string_value(json_array_get(rep.problems, 0)));
	backup_report_release(&rep);
	return rc;
}
