/*
 * test_export_xlsx.c - the XLSX export writer: entries go through a real
 * sink into a temporary directory and the workbook is read back with
 * `unzip -p`: header and zone names, date-time cells stored as numbers with
 * a style, text never turned into formulas, frozen header, row counts, the
 * sheet split at the row limit (lowered for the test), long and hostile
 * text, failure paths, and a 100k-entry export that stays flat in memory.
 */
#include "unit.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/tz.h"
#include "exports/export.h"

/* Test hook in xlsx_writer.c (not in export.h): rows per sheet incl. header; 0 resets. */
void xlsx_set_max_rows_for_tests(unsigned rows);

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define T0 1710072000 /* 2024-03-10T12:00:00Z */

struct fx {
	char dir[64];
	char path[128]; /* the final .xlsx */
	char tmp[160];  /* its .tmp */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/tt-xlsx-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/export.xlsx", f->dir);
	snprintf(f->tmp, sizeof(f->tmp), "%s.tmp", f->path);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	xlsx_set_max_rows_for_tests(0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* ---- helpers ---- */

static entry_rec sample(int64_t id)
{
	entry_rec e = {0};

	e.id = id;
	e.user_id = 7;
	e.username = "ann";
	e.project_id = 3;
	e.project = "Website";
	e.client_id = 2;
	e.client = "ACME";
	e.task_id = 0;
	e.task = NULL;
	e.start_at = T0 + id * 3600;
	e.end_at = e.start_at + 5400;
	e.duration = 5400;
	e.notes = "worked";
	e.billable = true;
	e.source = "manual";
	e.external_id = NULL;
	e.import_id = 0;
	e.tags = "";
	e.created_at = e.start_at;
	e.updated_at = e.end_at;
	return e;
}

/* Output of a shell command (stderr dropped), NUL-terminated; "" when none. */
static char *run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	FILE *p;
	size_t r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += r;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	pclose(p);
	buf[len] = '\0';
	return buf;
}

static char *member(const char *file, const char *name)
{
	return run("unzip -p '%s' '%s' 2>/dev/null", file, name);
}

static long count_of(const char *hay, const char *needle)
{
	long n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static long rows_in(const char *file, const char *sheet)
{
	char *out = run("unzip -p '%s' '%s' 2>/dev/null | grep -o '<row ' | wc -l", file, sheet);
	long n = atol(out);

	free(out);
	return n;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Writes the n entries of v through the writer and commits. */
static void export_all(struct fx *f, const struct export_opts *o, const entry_rec *v, size_t n)
{
	export_sink *s = NULL;
	struct export_ctx x = {0};
	tt_error err;
	char sha[65];
	int64_t size = 0;

	tt_error_init(&err);
	assert_int_equal(sink_open(f->path, &s, &err), 0);
	x.sink = s;
	x.opts = o;
	x.err = &err;
	assert_int_equal(export_xlsx_writer.begin(&x), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(export_xlsx_writer.entry(&x, &v[i]), 0);
		x.count++;
	}
	assert_int_equal(export_xlsx_writer.end(&x), 0);
	export_xlsx_writer.release(&x);
	assert_null(x.state);
	assert_int_equal(sink_commit(s, sha, &size, &err), 0);
	assert_int_equal(strlen(sha), 64);
	assert_true(size > 0);
	assert_int_equal(access(f->tmp, F_OK), -1);
	assert_int_equal(access(f->path, R_OK), 0);
}

/*
 * The <v> of cell ref in sheet xml, and its attributes in attrs (the text
 * between "<c r=\"ref\"" and ">"). False when the cell is absent.
 */
static bool cell(const char *xml, const char *ref, char *attrs, size_t asz, char *val, size_t vsz)
{
	char key[32];
	const char *p, *gt, *v, *ve, *end;

	snprintf(key, sizeof(key), "<c r=\"%s\"", ref);
	p = strstr(xml, key);
	if (!p)
		return false;
	p += strlen(key);
	gt = strchr(p, '>');
	end = strstr(p, "</c>");
	if (!gt || !end)
		return false;
	snprintf(attrs, asz, "%.*s", (int)(gt - p), p);
	v = strstr(gt, "<v>");
	val[0] = '\0';
	if (v && v < end) {
		v += 3;
		ve = strstr(v, "</v>");
		snprintf(val, vsz, "%.*s", (int)(ve - v), v);
	}
	return true;
}

/* ---- tests ---- */

static void test_metadata(void **state)
{
	(void)state;
	assert_string_equal(export_xlsx_writer.format, "xlsx");
	assert_string_equal(export_xlsx_writer.extension, "xlsx");
	assert_string_equal(export_xlsx_writer.content_type,
	                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
	assert_ptr_equal(export_writer_find("xlsx"), &export_xlsx_writer);
}

static void test_cells(void **state)
{
	struct fx *f = *state;
	const tz_zone *berlin = tz_get("Europe/Berlin");
	struct export_opts o = {0};
	entry_rec v[3];
	char *sheet, *all, *styles, *ss;
	char attrs[128], val[64];
	double serial;

	if (!berlin)
		skip();
	o.zone = berlin;
	v[0] = sample(1);
	v[0].notes = "=SUM(A1)";
	v[0].tags = "alpha\x1f"
	            "beta\x1f"
	            "gamma";
	v[0].task = "Design";
	v[0].external_id = "toggl-42";
	v[0].import_id = 9;
	v[1] = sample(2);
	v[1].notes = "+1 @cmd -x <b>&amp;</b>";
	v[1].billable = false;
	v[1].project = NULL;
	v[1].client = NULL;
	v[2] = sample(3);
	v[2].end_at = 0; /* no end: an empty cell */
	export_all(f, &o, v, 3);

	sheet = member(f->path, "xl/worksheets/sheet1.xml");
	assert_non_null(strstr(sheet, "<sheetData>"));
	/* header, zone named on every date-time column */
	assert_non_null(strstr(sheet, ">Project<"));
	assert_non_null(strstr(sheet, ">Duration (h)<"));
	assert_non_null(strstr(sheet, ">Start (Europe/Berlin)<"));
	assert_non_null(strstr(sheet, ">End (Europe/Berlin)<"));
	assert_non_null(strstr(sheet, ">Created (Europe/Berlin)<"));
	assert_non_null(strstr(sheet, ">Updated (Europe/Berlin)<"));
	assert_non_null(strstr(sheet, ">External id<"));
	/* header bold: its cells carry a style */
	assert_true(cell(sheet, "A1", attrs, sizeof(attrs), val, sizeof(val)));
	assert_non_null(strstr(attrs, " s=\""));
	/* one row per entry plus the header */
	assert_int_equal(count_of(sheet, "<row "), 4);
	/* frozen below the header, autofilter over all rows */
	assert_non_null(strstr(sheet, "<pane ySplit=\"1\""));
	assert_non_null(strstr(sheet, "state=\"frozen\""));
	assert_non_null(strstr(sheet, "<autoFilter ref=\"A1:P4\"/>"));
	assert_non_null(strstr(sheet, "<cols>"));

	/* Start of entry 1: 13:00 UTC = 14:00 in Berlin (CET), as an Excel serial with a style */
	assert_true(cell(sheet, "D2", attrs, sizeof(attrs), val, sizeof(val)));
	assert_null(strstr(attrs, "t=\""));
	assert_non_null(strstr(attrs, " s=\""));
	serial = strtod(val, NULL);
	assert_true(fabs(serial - ((double)(T0 + 3600 + 3600) / 86400.0 + 25569.0)) < 1e-6);
	/* Updated (= End here) in the zone too */
	assert_true(cell(sheet, "P2", attrs, sizeof(attrs), val, sizeof(val)));
	assert_true(fabs(strtod(val, NULL) -
	                 ((double)(T0 + 3600 + 5400 + 3600) / 86400.0 + 25569.0)) < 1e-6);
	/* duration as hours with a style */
	assert_true(cell(sheet, "F2", attrs, sizeof(attrs), val, sizeof(val)));
	assert_null(strstr(attrs, "t=\""));
	assert_non_null(strstr(attrs, " s=\""));
	assert_true(fabs(strtod(val, NULL) - 1.5) < 1e-9);
	/* billable booleans */
	assert_true(cell(sheet, "I2", attrs, sizeof(attrs), val, sizeof(val)));
	assert_non_null(strstr(attrs, "t=\"b\""));
	assert_string_equal(val, "1");
	assert_true(cell(sheet, "I3", attrs, sizeof(attrs), val, sizeof(val)));
	assert_string_equal(val, "0");
	/* ids as numbers; no import id and no end are empty cells */
	assert_true(cell(sheet, "J2", attrs, sizeof(attrs), val, sizeof(val)));
	assert_string_equal(val, "1");
	assert_true(cell(sheet, "N2", attrs, sizeof(attrs), val, sizeof(val)));
	assert_string_equal(val, "9");
	assert_false(cell(sheet, "N3", attrs, sizeof(attrs), val, sizeof(val)));
	assert_false(cell(sheet, "E4", attrs, sizeof(attrs), val, sizeof(val)));
	assert_false(cell(sheet, "A3", attrs, sizeof(attrs), val, sizeof(val)));
	assert_true(cell(sheet, "D4", attrs, sizeof(attrs), val, sizeof(val)));

	/* text stays text: the formula-looking note is a string, escaped markup too */
	assert_non_null(strstr(sheet, ">=SUM(A1)<"));
	assert_non_null(strstr(sheet, ">+1 @cmd -x &lt;b&gt;&amp;amp;&lt;/b&gt;<"));
	assert_non_null(strstr(sheet, ">alpha; beta; gamma<"));
	assert_non_null(strstr(sheet, ">toggl-42<"));
	assert_non_null(strstr(sheet, ">Design<"));

	/* no formula anywhere in the package */
	all = run("unzip -p '%s'%s 2>/dev/null", f->path, "");
	assert_null(strstr(all, "<f>"));
	assert_null(strstr(all, "<f "));
	/* strings are inline (constant memory) or shared, never formulas */
	ss = member(f->path, "xl/sharedStrings.xml");
	if (ss[0])
		assert_null(strstr(ss, "<f"));
	else
		assert_non_null(strstr(sheet, "t=\"inlineStr\""));

	styles = member(f->path, "xl/styles.xml");
	assert_non_null(strstr(styles, "formatCode=\"yyyy-mm-dd hh:mm:ss\""));
	assert_non_null(strstr(styles, "formatCode=\"0.00\""));
	assert_non_null(strstr(styles, "<b/>"));

	free(sheet);
	free(all);
	free(ss);
	free(styles);
}

static void test_utc_default(void **state)
{
	struct fx *f = *state;
	struct export_opts o = {0};
	entry_rec v[1];
	char *sheet;
	char attrs[128], val[64];

	v[0] = sample(0);
	export_all(f, &o, v, 1);
	sheet = member(f->path, "xl/worksheets/sheet1.xml");
	assert_non_null(strstr(sheet, ">Start (UTC)<"));
	assert_non_null(strstr(sheet, ">Updated (UTC)<"));
	assert_true(cell(sheet, "D2", attrs, sizeof(attrs), val, sizeof(val)));
	assert_true(fabs(strtod(val, NULL) - ((double)T0 / 86400.0 + 25569.0)) < 1e-6);
	free(sheet);
	/* no entries: a valid workbook with the header only */
	assert_int_equal(unlink(f->path), 0);
	export_all(f, &o, v, 0);
	sheet = member(f->path, "xl/worksheets/sheet1.xml");
	assert_int_equal(count_of(sheet, "<row "), 1);
	assert_non_null(strstr(sheet, "<autoFilter ref=\"A1:P1\"/>"));
	free(sheet);
	/* a NULL opts is fine too */
	assert_int_equal(unlink(f->path), 0);
	export_all(f, NULL, v, 1);
}

static void test_hostile_text(void **state)
{
	struct fx *f = *state;
	entry_rec v[3];
	char *big = malloc(40001), *emoji = malloc(4 * 20000 + 1);
	char *sheet, *t, *e;
	size_t as = 0;

	memset(big, 'a', 40000);
	big[40000] = '\0';
	for (int i = 0; i < 20000; i++)
		memcpy(emoji + 4 * i, "\xf0\x9f\x98\x80", 4); /* U+1F600: 2 UTF-16 units */
	emoji[4 * 20000] = '\0';
	v[0] = sample(1);
	v[0].notes = big;
	v[1] = sample(2);
	v[1].notes = "lit _x0041_ bad \xff\xc3( ctl \x01 end";
	v[2] = sample(3);
	v[2].notes = emoji;
	export_all(f, NULL, v, 3);

	sheet = member(f->path, "xl/worksheets/sheet1.xml");
	/* truncated to 32767 characters, the last 13 being the marker */
	t = strstr(sheet, ">aaaa");
	assert_non_null(t);
	t++;
	while (t[as] == 'a')
		as++;
	assert_int_equal(as, 32767 - 13);
	assert_memory_equal(t + as, "\xe2\x80\xa6 [truncated]<", 16);
	/* literal escape kept literal, invalid UTF-8 replaced, control char escaped */
	assert_non_null(
	    strstr(sheet, ">lit _x005F_x0041_ bad \xef\xbf\xbd\xef\xbf\xbd( ctl _x0001_ end<"));
	/* astral characters count twice: 16377 of them + the marker */
	e = strstr(sheet, "\xf0\x9f\x98\x80");
	assert_non_null(e);
	assert_int_equal(count_of(e, "\xf0\x9f\x98\x80"), (32767 - 13) / 2);
	assert_non_null(strstr(e, "\xf0\x9f\x98\x80\xe2\x80\xa6 [truncated]<"));
	assert_int_equal(count_of(sheet, "<row "), 4);
	free(sheet);
	free(big);
	free(emoji);
}

static void test_sheet_split(void **state)
{
	struct fx *f = *state;
	entry_rec v[5];
	char *wb, *s2, *s3;

	for (int i = 0; i < 5; i++)
		v[i] = sample(i + 1);
	xlsx_set_max_rows_for_tests(3); /* header + 2 entries per sheet */
	export_all(f, NULL, v, 5);
	xlsx_set_max_rows_for_tests(0);

	wb = member(f->path, "xl/workbook.xml");
	assert_non_null(strstr(wb, "name=\"Time entries\""));
	assert_non_null(strstr(wb, "name=\"Time entries 2\""));
	assert_non_null(strstr(wb, "name=\"Time entries 3\""));
	assert_null(strstr(wb, "name=\"Time entries 4\""));
	assert_int_equal(rows_in(f->path, "xl/worksheets/sheet1.xml"), 3);
	assert_int_equal(rows_in(f->path, "xl/worksheets/sheet2.xml"), 3);
	assert_int_equal(rows_in(f->path, "xl/worksheets/sheet3.xml"), 2);
	s2 = member(f->path, "xl/worksheets/sheet2.xml");
	s3 = member(f->path, "xl/worksheets/sheet3.xml");
	/* each sheet has its header, freeze and filter; entries continue in order */
	assert_non_null(strstr(s2, ">Project<"));
	assert_non_null(strstr(s2, "state=\"frozen\""));
	assert_non_null(strstr(s2, "<autoFilter ref=\"A1:P3\"/>"));
	assert_non_null(strstr(s3, "<autoFilter ref=\"A1:P2\"/>"));
	assert_non_null(strstr(s3, "<c r=\"J2\"><v>5</v></c>"));
	assert_non_null(strstr(s2, "<c r=\"J2\"><v>3</v></c>"));
	free(wb);
	free(s2);
	free(s3);
}

static void test_failure_paths(void **state)
{
	struct fx *f = *state;
	export_sink *s = NULL;
	struct export_ctx x = {0};
	entry_rec e = sample(1);
	tt_error err;
	int fds = open_fds();

	/* released without end (a failed or cancelled walk): nothing left behind */
	tt_error_init(&err);
	assert_int_equal(sink_open(f->path, &s, &err), 0);
	x.sink = s;
	x.err = &err;
	assert_int_equal(export_xlsx_writer.begin(&x), 0);
	assert_int_equal(export_xlsx_writer.entry(&x, &e), 0);
	export_xlsx_writer.release(&x);
	assert_null(x.state);
	sink_abort(s);
	assert_int_equal(access(f->tmp, F_OK), -1);
	assert_int_equal(access(f->path, F_OK), -1);
	assert_int_equal(open_fds(), fds);

	/* the workbook cannot be written at close: TT_EIO with libxlsxwriter's reason */
	tt_error_init(&err);
	memset(&x, 0, sizeof(x));
	assert_int_equal(sink_open(f->path, &s, &err), 0);
	x.sink = s;
	x.err = &err;
	assert_int_equal(export_xlsx_writer.begin(&x), 0);
	assert_int_equal(export_xlsx_writer.entry(&x, &e), 0);
	assert_int_equal(unlink(f->tmp), 0);
	assert_int_equal(mkdir(f->tmp, 0700), 0); /* a directory where the file goes */
	assert_int_equal(export_xlsx_writer.end(&x), TT_EIO);
	assert_int_equal(err.rc, TT_EIO);
	assert_non_null(strstr(err.msg, "cannot write the XLSX file: "));
	assert_null(strstr(err.msg, f->dir)); /* no server paths in messages */
	export_xlsx_writer.release(&x);
	assert_int_equal(rmdir(f->tmp), 0);
	sink_abort(s);
	assert_int_equal(open_fds(), fds);

	/* the zip fails half-way (file size limit): libxlsxwriter's error, mapped */
	{
		struct rlimit old_lim, lim;
		void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);

		tt_error_init(&err);
		memset(&x, 0, sizeof(x));
		assert_int_equal(sink_open(f->path, &s, &err), 0);
		x.sink = s;
		x.err = &err;
		assert_int_equal(export_xlsx_writer.begin(&x), 0);
		assert_int_equal(export_xlsx_writer.entry(&x, &e), 0);
		assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
		lim = old_lim;
		lim.rlim_cur = 1000;
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
		assert_int_equal(export_xlsx_writer.end(&x), TT_EIO);
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
		signal(SIGXFSZ, old_sig);
		assert_int_equal(err.rc, TT_EIO);
		assert_non_null(strstr(err.msg, "cannot write the XLSX file: "));
		assert_true(strlen(err.msg) > strlen("cannot write the XLSX file: "));
		export_xlsx_writer.release(&x);
		sink_abort(s);
		assert_int_equal(access(f->tmp, F_OK), -1);
	}

	/* no stray temp files of libxlsxwriter left in the data directory */
	{
		DIR *d = opendir(f->dir);
		struct dirent *de;
		int n = 0;

		assert_non_null(d);
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				n++;
		closedir(d);
		assert_int_equal(n, 0);
	}
}

/* Resets the peak RSS (Linux 4.0+); false when the kernel cannot. */
static bool reset_peak_rss(void)
{
	FILE *fp = fopen("/proc/self/clear_refs", "w");
	bool ok;

	if (!fp)
		return false;
	ok = fputs("5", fp) >= 0;
	return fclose(fp) == 0 && ok;
}

/* VmHWM (peak) or VmRSS (current) in KiB, from /proc/self/status. */
static long status_kb(const char *key)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (strncmp(line, key, strlen(key)) == 0)
			v = atol(line + strlen(key));
	fclose(fp);
	return v;
}

static void test_100k_flat(void **state)
{
	struct fx *f = *state;
	export_sink *s = NULL;
	struct export_ctx x = {0};
	tt_error err;
	char sha[65], notes[128];
	int64_t size = 0;
	struct timespec t0, t1;
	long rss0, peak;
	bool peak_ok;
	double secs;
	entry_rec e;

	tt_error_init(&err);
	rss0 = status_kb("VmRSS:");
	peak_ok = rss0 > 0 && reset_peak_rss();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sink_open(f->path, &s, &err), 0);
	x.sink = s;
	x.err = &err;
	assert_int_equal(export_xlsx_writer.begin(&x), 0);
	for (int64_t i = 1; i <= 100000; i++) {
		e = sample(i);
		snprintf(notes, sizeof(notes), "entry number %lld with some words in it",
		         (long long)i);
		e.notes = notes;
		e.tags = "billing\x1fweb";
		assert_int_equal(export_xlsx_writer.entry(&x, &e), 0);
	}
	assert_int_equal(export_xlsx_writer.end(&x), 0);
	export_xlsx_writer.release(&x);
	assert_int_equal(sink_commit(s, sha, &size, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	peak = status_kb("VmHWM:");
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# 100k entries: %.2f s, %lld bytes, peak RSS %ld KiB over the %ld KiB before\n",
	       secs, (long long)size, peak - rss0, rss0);
	assert_true(secs < (UNDER_ASAN ? 120.0 : 30.0));
	/*
	 * Held in memory the rows would take well over 100 MB; in constant
	 * memory mode the peak stays within a few (ASan's quarantine of freed
	 * blocks makes the figure meaningless there).
	 */
	if (!UNDER_ASAN && peak_ok)
		assert_true(peak - rss0 < 32 * 1024);
	assert_int_equal(rows_in(f->path, "xl/worksheets/sheet1.xml"), 100001);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_metadata),
	    cmocka_unit_test_setup_teardown(test_cells, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_utc_default, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sheet_split, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failure_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_100k_flat, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
