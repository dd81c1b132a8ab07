/*
 * test_export_writers.c - export sinks (atomic, hashed, counted files) and
 * the CSV, JSON and ICS writers, checked byte for byte on real files.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/datetime.h"
#include "exports/export.h"
#include "store/entries.h"
#include "store/migrate.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"

struct fx {
	char dir[64];
	int seq;
	/* only for the JSON projects/clients test */
	store *s;
	store_conn *c;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/tt-unit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	if (f->s)
		store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void sha_hex(const void *p, size_t n, char out[65])
{
	unsigned char d[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(d, p, n);
	sodium_bin2hex(out, 65, d, sizeof(d));
}

/*
 * Runs writer w over es[0..n) into a fresh file of f->dir and returns the
 * file's bytes (checking the sink's hash and size on the way).
 */
static char *run_writer(struct fx *f, const struct export_writer *w, const struct export_opts *o,
                        const entry_rec *es, size_t n, json_t *info, size_t *len)
{
	char path[128], tmp[160], sha[65], want[65];
	struct export_ctx x = {0};
	export_sink *sink = NULL;
	tt_error err;
	int64_t size = -1;
	char *buf;

	tt_error_init(&err);
	snprintf(path, sizeof(path), "%s/out-%d.%s", f->dir, f->seq++, w->extension);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(sink_open(path, &sink, &err), 0);
	x.sink = sink;
	x.opts = o;
	x.c = f->c;
	x.info = info;
	x.err = &err;
	assert_int_equal(w->begin(&x), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(w->entry(&x, &es[i]), 0);
		x.count++;
	}
	assert_int_equal(w->end(&x), 0);
	w->release(&x);
	assert_int_equal(sink_commit(sink, sha, &size, &err), 0);
	assert_false(exists(tmp));
	buf = read_all(path, len);
	assert_int_equal(size, (int64_t)*len);
	sha_hex(buf, *len, want);
	assert_string_equal(sha, want);
	unlink(path);
	return buf;
}

static int64_t at(int y, int m, int d, int hh, int mm, int ss)
{
	return dt_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
}

static entry_rec sample_entry(void)
{
	entry_rec e = {0};

	e.id = 42;
	e.user_id = 7;
	e.username = "alice";
	e.project_id = 3;
	e.project = "Website";
	e.client_id = 2;
	e.client = "Acme, Inc.";
	e.task_id = 5;
	e.task = "Design";
	e.start_at = at(2024, 3, 1, 9, 0, 0);
	e.end_at = e.start_at + 7452;
	e.duration = 7452;
	e.notes = "Said \"hi\", then\nleft";
	e.billable = true;
	e.source = "manual";
	e.external_id = NULL;
	e.import_id = 0;
	e.tags = "b\x1f"
	         "A";
	e.created_at = e.start_at;
	e.updated_at = e.end_at;
	return e;
}

static struct export_opts default_opts(void)
{
	struct export_opts o = {0};

	o.excel_safe = true;
	o.include_entries = true;
	return o;
}

/* ---- sinks ---- */

static void test_sink_commit(void **state)
{
	struct fx *f = *state;
	char path[128], tmp[160], sha[65], want[65];
	export_sink *s = NULL;
	tt_error err;
	int64_t size = 0;
	size_t big_n = 200 * 1024 + 17, len;
	char *big = malloc(big_n), *buf;
	struct stat st;

	tt_error_init(&err);
	for (size_t i = 0; i < big_n; i++)
		big[i] = (char)('a' + i % 26);
	snprintf(path, sizeof(path), "%s/a.bin", f->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(sink_open(path, &s, &err), 0);
	assert_non_null(s);
	assert_string_equal(sink_tmp_path(s), tmp);
	assert_true(exists(tmp));
	assert_false(exists(path));
	assert_int_equal(stat(tmp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(sink_puts(s, "hello "), 0);
	assert_int_equal(sink_printf(s, "%d-%s|", 12, "x"), 0);
	/* Many small writes crossing the buffer boundary, then big blocks. */
	for (int i = 0; i < 10000; i++)
		assert_int_equal(sink_write(s, big + i, 13), 0);
	assert_int_equal(sink_write(s, big, big_n), 0);
	assert_int_equal(sink_write(s, big, 0), 0);
	assert_int_equal(sink_printf(s, "%.*s", 2000, big + big_n - 2000),
	                 0); /* longer than printf's stack buffer */
	assert_int_equal(sink_size(s), 6 + 5 + 130000 + (int64_t)big_n + 2000);

	assert_int_equal(sink_commit(s, sha, &size, &err), 0);
	assert_false(exists(tmp));
	assert_true(exists(path));
	buf = read_all(path, &len);
	assert_int_equal(size, (int64_t)len);
	assert_int_equal(len, 6 + 5 + 130000 + big_n + 2000);
	assert_memory_equal(buf, "hello 12-x|", 11);
	sha_hex(buf, len, want);
	assert_string_equal(sha, want);
	free(buf);

	/* An empty file is fine too. */
	snprintf(path, sizeof(path), "%s/empty.bin", f->dir);
	assert_int_equal(sink_open(path, &s, &err), 0);
	assert_int_equal(sink_commit(s, sha, &size, &err), 0);
	assert_int_equal(size, 0);
	sha_hex("", 0, want);
	assert_string_equal(sha, want);
	assert_true(exists(path));
	free(big);
}

static void test_sink_abort_and_excl(void **state)
{
	struct fx *f = *state;
	char path[128], tmp[160];
	export_sink *s = NULL;
	tt_error err;
	int fd;

	tt_error_init(&err);
	snprintf(path, sizeof(path), "%s/b.csv", f->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(sink_open(path, &s, &err), 0);
	sink_puts(s, "partial");
	sink_abort(s);
	assert_false(exists(tmp));
	assert_false(exists(path));
	sink_abort(NULL);

	/* O_EXCL: an existing .tmp is never overwritten. */
	fd = open(tmp, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	s = (export_sink *)&err; /* must be reset to NULL */
	assert_int_equal(sink_open(path, &s, &err), TT_EIO);
	assert_null(s);
	assert_true(err.msg[0] != '\0');
	assert_null(strstr(err.msg, f->dir)); /* no server paths to clients */
	assert_true(exists(tmp));
	unlink(tmp);

	/* A directory that does not exist. */
	snprintf(path, sizeof(path), "%s/no/such/dir.csv", f->dir);
	tt_error_init(&err);
	assert_int_equal(sink_open(path, &s, &err), TT_EIO);
	assert_null(s);
	assert_null(strstr(err.msg, "/no/such"));
}

static void test_sink_external(void **state)
{
	struct fx *f = *state;
	char path[128], sha[65], want[65];
	export_sink *s = NULL;
	tt_error err;
	int64_t size = 0;
	size_t len;
	FILE *fp;
	char *buf;

	tt_error_init(&err);
	snprintf(path, sizeof(path), "%s/c.xlsx", f->dir);
	assert_int_equal(sink_open(path, &s, &err), 0);
	sink_set_external(s);
	/* Someone else writes the file (and may even replace it). */
	unlink(sink_tmp_path(s));
	fp = fopen(sink_tmp_path(s), "wb");
	assert_non_null(fp);
	for (int i = 0; i < 50000; i++)
		fprintf(fp, "row %d\n", i);
	fclose(fp);
	assert_int_equal(sink_commit(s, sha, &size, &err), 0);
	buf = read_all(path, &len);
	assert_true(len > 64 * 1024);
	assert_int_equal(size, (int64_t)len);
	sha_hex(buf, len, want);
	assert_string_equal(sha, want);
	free(buf);

	/* The external file vanished: commit fails cleanly. */
	snprintf(path, sizeof(path), "%s/d.xlsx", f->dir);
	assert_int_equal(sink_open(path, &s, &err), 0);
	sink_set_external(s);
	unlink(sink_tmp_path(s));
	assert_int_equal(sink_commit(s, sha, &size, &err), TT_EIO);
	assert_false(exists(path));
}

/* ---- CSV ---- */

static const char CSV_HEADER[] =
    "project_name,client_name,task_name,start_time,end_time,duration_hours,notes,tags,"
    "billable,id,user,source,external_id,import_id,created_at,updated_at\r\n";

static void test_csv_basic(void **state)
{
	struct fx *f = *state;
	struct export_opts o = default_opts();
	entry_rec es[2];
	size_t len;
	char *out;

	es[0] = sample_entry();
	es[1] = sample_entry();
	es[1].id = 43;
	es[1].project_id = 0;
	es[1].project = NULL;
	es[1].client = NULL;
	es[1].task = NULL;
	es[1].notes = "";
	es[1].tags = "";
	es[1].billable = false;
	es[1].duration = 1;
	es[1].end_at = es[1].start_at + 1;
	es[1].external_id = "ext-9";
	es[1].import_id = 5;

	out = run_writer(f, &export_csv_writer, &o, es, 0, NULL, &len);
	assert_string_equal(out, CSV_HEADER);
	free(out);

	out = run_writer(f, &export_csv_writer, &o, es, 2, NULL, &len);
	assert_int_equal(strlen(out), len);
	assert_string_equal(
	    out, "project_name,client_name,task_name,start_time,end_time,duration_hours,notes,"
	         "tags,billable,id,user,source,external_id,import_id,created_at,updated_at\r\n"
	         "Website,\"Acme, Inc.\",Design,2024-03-01T09:00:00Z,2024-03-01T11:04:12Z,2.07,"
	         "\"Said \"\"hi\"\", then\nleft\",A;b,true,42,alice,manual,,,"
	         "2024-03-01T09:00:00Z,2024-03-01T11:04:12Z\r\n"
	         ",,,2024-03-01T09:00:00Z,2024-03-01T09:00:01Z,0.000278,,,false,43,alice,manual,"
	         "ext-9,5,2024-03-01T09:00:00Z,2024-03-01T11:04:12Z\r\n");
	free(out);

	/* BOM on. */
	o.excel_bom = true;
	out = run_writer(f, &export_csv_writer, &o, es, 0, NULL, &len);
	assert_int_equal(len, 3 + strlen(CSV_HEADER));
	assert_memory_equal(out, "\xEF\xBB\xBF", 3);
	assert_string_equal(out + 3, CSV_HEADER);
	free(out);
}

static void test_csv_cells(void **state)
{
	static const struct {
		const char *in, *guarded, *plain;
	} cases[] = {
	    {"plain", "plain", "plain"},
	    {"", "", ""},
	    {"=SUM(A1:A2)", "'=SUM(A1:A2)", "=SUM(A1:A2)"},
	    {"=SUM(A1,A2)", "\"'=SUM(A1,A2)\"", "\"=SUM(A1,A2)\""},
	    {"+1", "'+1", "+1"},
	    {"-2h", "'-2h", "-2h"},
	    {"@x", "'@x", "@x"},
	    {"\tx", "'\tx", "\tx"},
	    {"\rx", "\"'\rx\"", "\"\rx\""},
	    {"a=b", "a=b", "a=b"},
	    {" =x", " =x", " =x"},
	    {"a,b", "\"a,b\"", "\"a,b\""},
	    {"say \"x\"", "\"say \"\"x\"\"\"", "\"say \"\"x\"\"\""},
	    {"\"", "\"\"\"\"", "\"\"\"\""},
	    {"l1\r\nl2", "\"l1\r\nl2\"", "\"l1\r\nl2\""},
	    {"=\"a\"", "\"'=\"\"a\"\"\"", "\"=\"\"a\"\"\""},
	    {"caf\xc3\xa9", "caf\xc3\xa9", "caf\xc3\xa9"},
	};
	struct fx *f = *state;
	char path[128], sha[65], expect[4096];
	export_sink *s = NULL;
	tt_error err;
	int64_t size;
	size_t len, n = 0;
	char *out;

	tt_error_init(&err);
	snprintf(path, sizeof(path), "%s/cells.csv", f->dir);
	assert_int_equal(sink_open(path, &s, &err), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		export_csv_cell(s, cases[i].in, true, false);
		export_csv_cell(s, cases[i].in, false, true);
		n += (size_t)snprintf(expect + n, sizeof(expect) - n, "%s,%s\r\n", cases[i].guarded,
		                      cases[i].plain);
	}
	export_csv_cell(s, NULL, true, true);
	n += (size_t)snprintf(expect + n, sizeof(expect) - n, "\r\n");
	assert_int_equal(sink_commit(s, sha, &size, &err), 0);
	out = read_all(path, &len);
	assert_int_equal(len, n);
	assert_string_equal(out, expect);
	free(out);
}

static void test_csv_guard_columns(void **state)
{
	struct fx *f = *state;
	struct export_opts o = default_opts();
	entry_rec e = sample_entry();
	size_t len;
	char *out, *row;

	e.project = "=cmd|' /C calc'!A0";
	e.client = "+client";
	e.task = "-task";
	e.notes = "@SUM(1)";
	e.tags = "=t";
	e.username = "\tuser";
	e.source = "-src";
	e.external_id = "=ext";
	e.duration = -1800; /* never produced, but numbers stay unguarded */
	e.import_id = 9;
	out = run_writer(f, &export_csv_writer, &o, &e, 1, NULL, &len);
	row = out + strlen(CSV_HEADER);
	assert_string_equal(row, "'=cmd|' /C calc'!A0,'+client,'-task,2024-03-01T09:00:00Z,"
	                         "2024-03-01T11:04:12Z,-0.5,'@SUM(1),'=t,true,42,'\tuser,'-src,"
	                         "'=ext,9,2024-03-01T09:00:00Z,2024-03-01T11:04:12Z\r\n");
	free(out);

	o.excel_safe = false;
	out = run_writer(f, &export_csv_writer, &o, &e, 1, NULL, &len);
	row = out + strlen(CSV_HEADER);
	assert_string_equal(row, "=cmd|' /C calc'!A0,+client,-task,2024-03-01T09:00:00Z,"
	                         "2024-03-01T11:04:12Z,-0.5,@SUM(1),=t,true,42,\tuser,-src,"
	                         "=ext,9,2024-03-01T09:00:00Z,2024-03-01T11:04:12Z\r\n");
	free(out);
}

static void test_csv_columns(void **state)
{
	struct fx *f = *state;
	struct export_opts o = default_opts();
	entry_rec e = sample_entry();
	size_t len;
	char *out;

	o.columns = json_pack("[s, s, s, i, s, n]", "notes", "project_name", "bogus", 3, "id");
	out = run_writer(f, &export_csv_writer, &o, &e, 1, NULL, &len);
	assert_string_equal(out, "notes,project_name,id\r\n"
	                         "\"Said \"\"hi\"\", then\nleft\",Website,42\r\n");
	free(out);
	json_decref(o.columns);

	/* Repeats are kept; order is the caller's. */
	o.columns = json_pack("[s, s]", "billable", "billable");
	out = run_writer(f, &export_csv_writer, &o, &e, 1, NULL, &len);
	assert_string_equal(out, "billable,billable\r\ntrue,true\r\n");
	free(out);
	json_decref(o.columns);

	/* Nothing usable: every column. */
	o.columns = json_pack("[s]", "nope");
	out = run_writer(f, &export_csv_writer, &o, &e, 0, NULL, &len);
	assert_string_equal(out, CSV_HEADER);
	free(out);
	json_decref(o.columns);
	o.columns = json_array();
	out = run_writer(f, &export_csv_writer, &o, &e, 0, NULL, &len);
	assert_string_equal(out, CSV_HEADER);
	free(out);
	json_decref(o.columns);

	/* The exported list matches the header. */
	for (int i = 0; EXPORT_CSV_COLUMNS[i]; i++)
		assert_non_null(strstr(CSV_HEADER, EXPORT_CSV_COLUMNS[i]));
}

static void test_csv_duration_round_trip(void **state)
{
	static const int64_t edges[] = {
	    0,     1,     2,      3,      4,      5,       9,         10,           17,    18,
	    19,    1799,  1800,   1801,   3599,   3600,    3601,      7452,         86399, 86400,
	    86401, 90000, 359999, 360000, 999999, 1000000, 123456789, 31536000000LL};
	struct fx *f = *state;
	struct export_opts o = default_opts();
	size_t n = 0, cap = 100000 / 7 + 64, len;
	entry_rec *es = calloc(cap, sizeof(*es));
	char *out, *p;

	for (int64_t s = 1; s <= 100000; s += 7)
		es[n++].duration = s;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		es[n++].duration = edges[i];
	for (size_t i = 0; i < n; i++) {
		es[i].tags = "";
		es[i].notes = "";
	}
	o.columns = json_pack("[s]", "duration_hours");
	out = run_writer(f, &export_csv_writer, &o, es, n, NULL, &len);
	json_decref(o.columns);

	p = out;
	assert_memory_equal(p, "duration_hours\r\n", 16);
	p += 16;
	for (size_t i = 0; i < n; i++) {
		char *eol = strstr(p, "\r\n");
		int64_t back = -1;

		assert_non_null(eol);
		assert_true(eol - p <= 20);
		assert_int_equal(dt_parse_hours(p, (size_t)(eol - p), false, &back), 0);
		if (back != es[i].duration)
			fail_msg("%lld s exported as %.*s, read back as %lld s",
			         (long long)es[i].duration, (int)(eol - p), p, (long long)back);
		/* At most six decimals, no trailing zero, no bare dot. */
		{
			char *dot = memchr(p, '.', (size_t)(eol - p));

			if (dot) {
				assert_true(eol - dot - 1 >= 1 && eol - dot - 1 <= 6);
				assert_true(eol[-1] != '0');
			}
		}
		p = eol + 2;
	}
	assert_int_equal(*p, '\0');
	free(out);

	/* The documented examples. */
	{
		entry_rec e[4] = {{0}};
		static const int64_t secs[] = {7452, 1, 3600, 0};

		for (int i = 0; i < 4; i++) {
			e[i].duration = secs[i];
			e[i].tags = "";
		}
		o.columns = json_pack("[s]", "duration_hours");
		out = run_writer(f, &export_csv_writer, &o, e, 4, NULL, &len);
		json_decref(o.columns);
		assert_string_equal(out, "duration_hours\r\n2.07\r\n0.000278\r\n1\r\n0\r\n");
		free(out);
	}
	free(es);
}

/* ---- JSON ---- */

static void test_json(void **state)
{
	struct fx *f = *state;
	struct export_opts o = default_opts();
	entry_rec es[2];
	json_t *info = json_pack("{s:s, s:i}", "export_type", "Filtered Export", "record_count", 2);
	json_t *doc, *arr, *e0;
	json_error_t jerr;
	size_t len;
	char *out;

	es[0] = sample_entry();
	es[1] = sample_entry();
	es[1].id = 43;
	es[1].notes = "unicode: caf\xc3\xa9 \xe2\x82\xac";
	es[1].tags = "";
	es[1].project_id = 0;
	es[1].project = NULL;

	out = run_writer(f, &export_json_writer, &o, es, 2, info, &len);
	assert_true(strncmp(out,
	                    "{\"export_info\":{\"export_type\":\"Filtered Export\","
	                    "\"record_count\":2},\"time_entries\":[{\"id\":42,",
	                    strlen("{\"export_info\":{\"export_type\":\"Filtered Export\","
	                           "\"record_count\":2},\"time_entries\":[{\"id\":42,")) == 0);
	assert_null(strstr(out, "\"projects\""));
	assert_null(strstr(out, "\"clients\""));
	doc = json_loads(out, 0, &jerr);
	if (!doc)
		fail_msg("invalid JSON: %s", jerr.text);
	arr = json_object_get(doc, "time_entries");
	assert_int_equal(json_array_size(arr), 2);
	e0 = json_array_get(arr, 0);
	assert_string_equal(json_string_value(json_object_get(e0, "notes")), es[0].notes);
	assert_string_equal(json_string_value(json_object_get(e0, "start_time")),
	                    "2024-03-01T09:00:00Z");
	assert_int_equal(json_integer_value(json_object_get(e0, "duration_seconds")), 7452);
	assert_string_equal(json_string_value(json_array_get(json_object_get(e0, "tags"), 0)), "A");
	assert_true(json_is_true(json_object_get(e0, "billable")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "notes")),
	                    es[1].notes);
	assert_true(json_is_null(json_object_get(json_array_get(arr, 1), "project")));
	json_decref(doc);
	free(out);

	/* No entries at all: still valid. */
	out = run_writer(f, &export_json_writer, &o, es, 0, info, &len);
	assert_string_equal(out, "{\"export_info\":{\"export_type\":\"Filtered Export\","
	                         "\"record_count\":2},\"time_entries\":[]}\n");
	free(out);

	/* Entries left out. */
	o.include_entries = false;
	out = run_writer(f, &export_json_writer, &o, es, 2, NULL, &len);
	assert_string_equal(out, "{\"export_info\":{}}\n");
	free(out);
	json_decref(info);
}

static void test_json_projects_clients(void **state)
{
	struct fx *f = *state;
	struct export_opts o = default_opts();
	entry_rec es[4];
	int64_t cl, cl2, p, p2;
	bool created;
	json_t *doc, *projects, *clients;
	tt_error err;
	char url[128];
	int nmig;
	size_t len;
	char *out;
	const char *tp, *tc, *te;

	tt_error_init(&err);
	snprintf(url, sizeof(url), "sqlite:%s/t.db", f->dir);
	assert_int_equal(store_open(url, &f->s, &err), 0);
	assert_int_equal(migrate_up(f->s, 0, &nmig, &err), 0);
	f->c = store_conn_get(f->s, &err);
	assert_non_null(f->c);
	assert_int_equal(catalog_client(f->c, "Acme", 0, &cl, &created, &err), 0);
	assert_int_equal(catalog_client(f->c, "Unused", 0, &cl2, &created, &err), 0);
	assert_int_equal(catalog_project(f->c, cl, "Website", 0, &p, &created, &err), 0);
	assert_int_equal(catalog_project(f->c, cl, "Other", 0, &p2, &created, &err), 0);

	for (int i = 0; i < 4; i++) {
		es[i] = sample_entry();
		es[i].id = 100 + i;
		es[i].project_id = p;
		es[i].client_id = cl;
		es[i].client = "Acme";
	}
	es[2].project_id = 0;
	es[2].project = NULL;
	es[2].client_id = 0;
	es[2].client = NULL;

	o.include_projects = true;
	o.include_clients = true;
	out = run_writer(f, &export_json_writer, &o, es, 4, NULL, &len);
	te = strstr(out, "\"time_entries\"");
	tp = strstr(out, "\"projects\"");
	tc = strstr(out, "\"clients\"");
	assert_true(te && tp && tc && te < tp && tp < tc);
	doc = json_loads(out, 0, NULL);
	assert_non_null(doc);
	assert_int_equal(json_array_size(json_object_get(doc, "time_entries")), 4);
	projects = json_object_get(doc, "projects");
	clients = json_object_get(doc, "clients");
	assert_int_equal(json_array_size(projects), 1);
	assert_int_equal(json_array_size(clients), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(projects, 0), "id")), p);
	assert_string_equal(json_string_value(json_object_get(json_array_get(projects, 0), "name")),
	                    "Website");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(projects, 0), "client")), "Acme");
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(projects, 0), "client_id")), cl);
	assert_true(json_is_boolean(json_object_get(json_array_get(projects, 0), "billable")));
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(projects, 0), "status")), "active");
	assert_string_equal(json_string_value(json_object_get(json_array_get(clients, 0), "name")),
	                    "Acme");
	assert_true(json_is_object(json_object_get(json_array_get(clients, 0), "custom_fields")));
	json_decref(doc);
	free(out);

	/* Two projects, ids sorted; only clients asked for. */
	es[3].project_id = p2;
	o.include_clients = false;
	out = run_writer(f, &export_json_writer, &o, es, 4, NULL, &len);
	doc = json_loads(out, 0, NULL);
	assert_non_null(doc);
	projects = json_object_get(doc, "projects");
	assert_int_equal(json_array_size(projects), 2);
	assert_true(json_integer_value(json_object_get(json_array_get(projects, 0), "id")) <
	            json_integer_value(json_object_get(json_array_get(projects, 1), "id")));
	assert_null(json_object_get(doc, "clients"));
	json_decref(doc);
	free(out);

	/* Lists without the entries. */
	o.include_entries = false;
	o.include_clients = true;
	out = run_writer(f, &export_json_writer, &o, es, 4, NULL, &len);
	doc = json_loads(out, 0, NULL);
	assert_non_null(doc);
	assert_null(json_object_get(doc, "time_entries"));
	assert_int_equal(json_array_size(json_object_get(doc, "projects")), 2);
	assert_int_equal(json_array_size(json_object_get(doc, "clients")), 1);
	json_decref(doc);
	free(out);
}

/* ---- ICS ---- */

static bool valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		int extra = s[i] < 0x80             ? 0
		            : (s[i] & 0xE0) == 0xC0 ? 1
		            : (s[i] & 0xF0) == 0xE0 ? 2
		            : (s[i] & 0xF8) == 0xF0 ? 3
		                                    : -1;

		if (extra < 0 || i + (size_t)extra >= n)
			return false;
		for (int k = 1; k <= extra; k++)
			if ((s[i + (size_t)k] & 0xC0) != 0x80)
				return false;
		i += (size_t)extra + 1;
	}
	return true;
}

/* Every line ends in CRLF, is <= 75 octets and valid UTF-8 on its own. */
static void check_ics_lines(const char *out, size_t len)
{
	const char *p = out, *end = out + len;

	assert_true(len >= 2 && out[len - 2] == '\r' && out[len - 1] == '\n');
	while (p < end) {
		const char *eol = strstr(p, "\r\n");

		assert_non_null(eol);
		assert_null(memchr(p, '\n', (size_t)(eol - p)));
		assert_null(memchr(p, '\r', (size_t)(eol - p)));
		if (eol - p > 75)
			fail_msg("line of %d octets: %.*s", (int)(eol - p), (int)(eol - p), p);
		if (!valid_utf8((const unsigned char *)p, (size_t)(eol - p)))
			fail_msg("line splits a UTF-8 sequence: %.*s", (int)(eol - p), p);
		p = eol + 2;
	}
}

/* The value of the first property `name` after unfolding, or NULL. */
static char *ics_prop(const char *out, const char *name)
{
	size_t n = strlen(out), k = 0, nl = strlen(name);
	char *unf = malloc(n + 1), *line, *res = NULL;

	for (size_t i = 0; i < n; i++) {
		if (out[i] == '\r' && out[i + 1] == '\n' && out[i + 2] == ' ') {
			i += 2;
			continue;
		}
		unf[k++] = out[i];
	}
	unf[k] = '\0';
	for (line = unf; line && *line;) {
		char *eol = strstr(line, "\r\n");

		if (eol)
			*eol = '\0';
		if (!strncmp(line, name, nl) && line[nl] == ':') {
			res = strdup(line + nl + 1);
			break;
		}
		line = eol ? eol + 2 : NULL;
	}
	free(unf);
	return res;
}

static void test_ics_basic(void **state)
{
	struct fx *f = *state;
	struct export_opts o = default_opts();
	entry_rec es[2];
	size_t len;
	char *out;

	es[0] = sample_entry();
	es[0].notes = "Call; then, mail\\ done\r\nsecond line";
	es[0].tags = "b,c\x1f"
	             "A";
	es[1] = sample_entry();
	es[1].id = 43;
	es[1].project = NULL;
	es[1].client = NULL;
	es[1].task = NULL;
	es[1].notes = "";
	es[1].tags = "";
	es[1].billable = false;

	out = run_writer(f, &export_ics_writer, &o, es, 2, NULL, &len);
	check_ics_lines(out, len);
	assert_string_equal(out, "BEGIN:VCALENDAR\r\n"
	                         "VERSION:2.0\r\n"
	                         "PRODID:-//TimeTracker//Export//EN\r\n"
	                         "CALSCALE:GREGORIAN\r\n"
	                         "BEGIN:VEVENT\r\n"
	                         "UID:entry-42@timetracker\r\n"
	                         "DTSTAMP:20240301T110412Z\r\n"
	                         "DTSTART:20240301T090000Z\r\n"
	                         "DTEND:20240301T110412Z\r\n"
	                         "SUMMARY:Website - Call\\; then\\, mail\\\\ done\r\n"
	                         "DESCRIPTION:Call\\; then\\, mail\\\\ done\\nsecond line\r\n"
	                         "CATEGORIES:A,b\\,c\r\n"
	                         "CREATED:20240301T090000Z\r\n"
	                         "LAST-MODIFIED:20240301T110412Z\r\n"
	                         "X-TIMETRACKER-CLIENT:Acme\\, Inc.\r\n"
	                         "X-TIMETRACKER-TASK:Design\r\n"
	                         "X-TIMETRACKER-BILLABLE:TRUE\r\n"
	                         "END:VEVENT\r\n"
	                         "BEGIN:VEVENT\r\n"
	                         "UID:entry-43@timetracker\r\n"
	                         "DTSTAMP:20240301T110412Z\r\n"
	                         "DTSTART:20240301T090000Z\r\n"
	                         "DTEND:20240301T110412Z\r\n"
	                         "SUMMARY:No project\r\n"
	                         "CREATED:20240301T090000Z\r\n"
	                         "LAST-MODIFIED:20240301T110412Z\r\n"
	                         "X-TIMETRACKER-BILLABLE:FALSE\r\n"
	                         "END:VEVENT\r\n"
	                         "END:VCALENDAR\r\n");
	free(out);

	out = run_writer(f, &export_ics_writer, &o, es, 0, NULL, &len);
	assert_string_equal(out, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
	                         "PRODID:-//TimeTracker//Export//EN\r\nCALSCALE:GREGORIAN\r\n"
	                         "END:VCALENDAR\r\n");
	free(out);
}

static void test_ics_folding(void **state)
{
	struct fx *f = *state;
	struct export_opts o = default_opts();
	entry_rec e = sample_entry();
	char notes[4096], expect[8192];
	size_t n = 0, k = 0, len;
	char *out, *desc;

	/* Mixed widths so sequences land on every fold position. */
	static const char *const pieces[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
	                                     ",", "\n"};
	for (int i = 0; n < 3000; i++) {
		const char *pc = pieces[(i * 7 + i / 3) % 6];

		memcpy(notes + n, pc, strlen(pc));
		n += strlen(pc);
		if (!strcmp(pc, ","))
			k += (size_t)snprintf(expect + k, sizeof(expect) - k, "\\,");
		else if (!strcmp(pc, "\n"))
			k += (size_t)snprintf(expect + k, sizeof(expect) - k, "\\n");
		else
			k += (size_t)snprintf(expect + k, sizeof(expect) - k, "%s", pc);
	}
	notes[n] = '\0';
	e.notes = notes;
	e.project = "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac long project name \xf0\x9f\x98\x80 that "
	            "goes on and on and on past the fold limit";
	for (int shift = 0; shift < 4; shift++) {
		/* Shift the start so each fold meets a different byte of a sequence. */
		char task[8] = "";

		memset(task, 'x', (size_t)shift);
		task[shift] = '\0';
		e.task = task;
		out = run_writer(f, &export_ics_writer, &o, &e, 1, NULL, &len);
		check_ics_lines(out, len);
		desc = ics_prop(out, "DESCRIPTION");
		assert_non_null(desc);
		assert_string_equal(desc, expect);
		free(desc);
		desc = ics_prop(out, "X-TIMETRACKER-TASK");
		assert_string_equal(desc, task);
		free(desc);
		free(out);
	}
	e.task = "Design";
	/* Exactly 75 octets stays on one line; 76 folds. */
	{
		char name[80];

		memset(name, 'p', sizeof(name));
		name[75 - strlen("SUMMARY:")] = '\0';
		e.project = name;
		e.notes = "";
		out = run_writer(f, &export_ics_writer, &o, &e, 1, NULL, &len);
		assert_non_null(strstr(out, "\r\nSUMMARY:ppp"));
		assert_null(strstr(out, "\r\n p"));
		free(out);
		name[75 - strlen("SUMMARY:")] = 'p';
		name[76 - strlen("SUMMARY:")] = '\0';
		out = run_writer(f, &export_ics_writer, &o, &e, 1, NULL, &len);
		assert_non_null(strstr(out, "p\r\n p\r\n"));
		check_ics_lines(out, len);
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_sink_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sink_abort_and_excl, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sink_external, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csv_basic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csv_cells, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csv_guard_columns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csv_columns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_csv_duration_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_projects_clients, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ics_basic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ics_folding, setup, teardown),
	};
	tt_error err;

	if (sodium_init() < 0)
		return 1;
	config_init(&cfg, &err);
	log_set_level(LOG_OFF);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
