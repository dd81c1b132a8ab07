/*
 * test_tz.c - the TZif reader against the system's own zdump, the POSIX
 * footer rules (built into hand-made TZif files), wall-clock gaps and
 * overlaps, hostile names and files, and concurrent loading.
 *
 * Tests that point tz_set_dir at a temporary directory use names no other
 * test loads (the cache is keyed by name) and restore the default after.
 */
#include "unit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/datetime.h"
#include "core/tz.h"

#define DAY 86400

/* ---- helpers ---- */

static int64_t ymdhms(int64_t y, int mo, int d, int h, int mi, int s)
{
	return dt_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + s;
}

static int month_of(const char *name)
{
	static const char *const names[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int i;

	for (i = 0; i < 12; i++)
		if (strcmp(name, names[i]) == 0)
			return i + 1;
	return 0;
}

struct zline {
	int64_t utc, local;
	int isdst;
	long gmtoff;
};

static bool have_zdump(void)
{
	return access("/usr/bin/zdump", X_OK) == 0 || system("zdump --version >/dev/null 2>&1") == 0;
}

/* Runs `zdump -v -c range zone`; returns the parsed lines (count in *n). */
static struct zline *run_zdump(const char *zone, const char *range, size_t *n)
{
	char cmd[256], line[512];
	struct zline *v = NULL;
	size_t cap = 0;
	FILE *f;

	*n = 0;
	snprintf(cmd, sizeof(cmd), "zdump -v -c %s %s", range, zone);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char zn[64], m1[8], m2[8], abbr[16];
		int d1, h1, mi1, s1, d2, h2, mi2, s2, isdst;
		long long y1, y2;
		long gmtoff;

		if (sscanf(line, "%63s %*s %7s %d %d:%d:%d %lld UT = %*s %7s %d %d:%d:%d %lld %15s isdst=%d gmtoff=%ld",
			   zn, m1, &d1, &h1, &mi1, &s1, &y1, m2, &d2, &h2, &mi2, &s2, &y2, abbr,
			   &isdst, &gmtoff) != 16)
			continue;
		assert_int_not_equal(month_of(m1), 0);
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof(*v));
			assert_non_null(v);
		}
		v[*n].utc = ymdhms(y1, month_of(m1), d1, h1, mi1, s1);
		v[*n].local = ymdhms(y2, month_of(m2), d2, h2, mi2, s2);
		v[*n].isdst = isdst;
		v[*n].gmtoff = gmtoff;
		(*n)++;
	}
	assert_int_equal(pclose(f), 0);
	return v;
}

static void expect_local(const tz_zone *z, int64_t local, enum tz_local_kind kind, int64_t utc)
{
	int64_t got = 0;

	assert_int_equal(tz_local_to_utc(z, local, &got), kind);
	assert_int_equal(got, utc);
}

/*
 * Checks every line zdump prints, and around each transition (a pair of
 * lines one second apart) the wall-clock times it skips or repeats.
 */
static size_t check_against_zdump(const char *zone, const char *range)
{
	const tz_zone *z = tz_get(zone);
	struct zline *v;
	size_t n, i;

	assert_non_null(z);
	v = run_zdump(zone, range, &n);
	for (i = 0; i < n; i++) {
		int dst = -1;

		assert_int_equal(tz_offset_at(z, v[i].utc, &dst), v[i].gmtoff);
		assert_int_equal(dst, v[i].isdst);
		assert_int_equal(tz_utc_to_local(z, v[i].utc), v[i].local);
		assert_int_equal(v[i].local - v[i].utc, v[i].gmtoff);
	}
	for (i = 0; i + 1 < n; i++) {
		int64_t t = v[i + 1].utc, ob = v[i].gmtoff, oa = v[i + 1].gmtoff;

		if (v[i].utc + 1 != t)
			continue;
		/* Only isolated transitions: neighbours would blur the picture. */
		if ((i > 0 && v[i - 1].utc > t - 3 * DAY) ||
		    (i + 2 < n && v[i + 2].utc < t + 3 * DAY))
			continue;
		if (oa > ob) {
			expect_local(z, t + ob - 1, TZ_LOCAL_OK, t - 1);
			expect_local(z, t + ob, TZ_LOCAL_GAP, t);
			expect_local(z, t + oa - 1, TZ_LOCAL_GAP, t + oa - 1 - ob);
			expect_local(z, t + oa, TZ_LOCAL_OK, t);
		} else if (oa < ob) {
			expect_local(z, t + oa - 1, TZ_LOCAL_OK, t + oa - 1 - ob);
			expect_local(z, t + oa, TZ_LOCAL_OVERLAP, t + oa - ob);
			expect_local(z, t + ob - 1, TZ_LOCAL_OVERLAP, t - 1);
			expect_local(z, t + ob, TZ_LOCAL_OK, t + ob - oa);
		} else {
			expect_local(z, t + ob, TZ_LOCAL_OK, t);
		}
	}
	free(v);
	return n;
}

/* ---- against zdump ---- */

static const char *const zdump_zones[] = {
	"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
	"UTC", "Europe/Dublin", "America/Sao_Paulo", "Pacific/Apia",
	"America/St_Johns", "Asia/Tehran", "Africa/Casablanca", "Pacific/Chatham",
	"America/Santiago", "Europe/London", "Antarctica/Troll",
};

static void test_zdump_history(void **state)
{
	size_t i;

	(void)state;
	if (!have_zdump())
		skip();
	for (i = 0; i < sizeof(zdump_zones) / sizeof(zdump_zones[0]); i++) {
		size_t n = check_against_zdump(zdump_zones[i], "1800,2100");

		if (strcmp(zdump_zones[i], "Europe/Berlin") == 0 ||
		    strcmp(zdump_zones[i], "America/New_York") == 0 ||
		    strcmp(zdump_zones[i], "Australia/Lord_Howe") == 0)
			assert_true(n > 200);
	}
}

static void test_zdump_far_future(void **state)
{
	static const char *const ranges[] = { "2089,2091", "2299,2301", "2399,2401", "2999,3001" };
	size_t i, j;

	(void)state;
	if (!have_zdump())
		skip();
	for (i = 0; i < sizeof(zdump_zones) / sizeof(zdump_zones[0]); i++)
		for (j = 0; j < sizeof(ranges) / sizeof(ranges[0]); j++)
			check_against_zdump(zdump_zones[i], ranges[j]);
	/* The ranges above did print transitions for the DST zones. */
	{
		size_t n;
		struct zline *v = run_zdump("Europe/Berlin", "2299,2301", &n);

		assert_int_equal(n, 8);
		free(v);
	}
}

/* ---- far future from the rule, computed independently ---- */

static int64_t nth_sunday(int64_t y, int m, int nth)
{
	int64_t d = dt_days_from_civil(y, m, 1);
	int wd = (int)(((d + 4) % 7 + 7) % 7);

	return d + (7 - wd) % 7 + (nth - 1) * 7;
}

static int64_t last_sunday(int64_t y, int m)
{
	int64_t d = dt_days_from_civil(y, m, dt_days_in_month(y, m));
	int wd = (int)(((d + 4) % 7 + 7) % 7);

	return d - wd;
}

static void expect_switch(const tz_zone *z, int64_t t, int32_t before, int32_t after)
{
	assert_int_equal(tz_offset_at(z, t - 1, NULL), before);
	assert_int_equal(tz_offset_at(z, t, NULL), after);
}

static void test_rule_far_future(void **state)
{
	static const int64_t years[] = { 2038, 2090, 2100, 2300, 2400, 9999, 12345, 1000000,
					 292277026595LL };
	const tz_zone *ber = tz_get("Europe/Berlin");
	const tz_zone *ny = tz_get("America/New_York");
	const tz_zone *lh = tz_get("Australia/Lord_Howe");
	const tz_zone *kol = tz_get("Asia/Kolkata");
	size_t i;

	(void)state;
	assert_non_null(ber);
	assert_non_null(ny);
	assert_non_null(lh);
	assert_non_null(kol);
	for (i = 0; i < sizeof(years) / sizeof(years[0]); i++) {
		int64_t y = years[i], t;

		if (y > 1000000) {
			/* Near the end of int64: must simply not misbehave. */
			tz_offset_at(ber, INT64_MAX, NULL);
			tz_offset_at(ber, INT64_MIN, NULL);
			tz_utc_to_local(lh, INT64_MAX);
			tz_utc_to_local(lh, INT64_MIN);
			tz_local_to_utc(ny, INT64_MAX, &t);
			tz_local_to_utc(ny, INT64_MIN, &t);
			continue;
		}
		/* EU: last Sunday of March and October at 01:00 UTC. */
		expect_switch(ber, last_sunday(y, 3) * DAY + 3600, 3600, 7200);
		expect_switch(ber, last_sunday(y, 10) * DAY + 3600, 7200, 3600);
		/* US: second Sunday of March 02:00 EST, first of November 02:00 EDT. */
		expect_switch(ny, nth_sunday(y, 3, 2) * DAY + 7 * 3600, -18000, -14400);
		expect_switch(ny, nth_sunday(y, 11, 1) * DAY + 6 * 3600, -14400, -18000);
		/* Lord Howe: first Sunday of October 02:00 (+10:30), April 02:00 (+11). */
		expect_switch(lh, nth_sunday(y, 10, 1) * DAY + 2 * 3600 - 37800, 37800, 39600);
		expect_switch(lh, nth_sunday(y, 4, 1) * DAY + 2 * 3600 - 39600, 39600, 37800);
		assert_int_equal(tz_offset_at(kol, ymdhms(y, 6, 1, 0, 0, 0), NULL), 19800);

		/* Wall-clock gaps and overlaps in the rule era. */
		t = last_sunday(y, 3) * DAY;
		expect_local(ber, t + 2 * 3600 + 1800, TZ_LOCAL_GAP, t + 5400);
		t = last_sunday(y, 10) * DAY;
		expect_local(ber, t + 2 * 3600 + 1800, TZ_LOCAL_OVERLAP, t + 1800);
		t = nth_sunday(y, 10, 1) * DAY;
		expect_local(lh, t + 2 * 3600 + 900, TZ_LOCAL_GAP, t + 2 * 3600 + 900 - 37800);
		expect_local(lh, t + 2 * 3600 + 1800, TZ_LOCAL_OK, t + 2 * 3600 + 1800 - 39600);
		t = nth_sunday(y, 4, 1) * DAY;
		expect_local(lh, t + 3600 + 2700, TZ_LOCAL_OVERLAP, t + 3600 + 2700 - 39600);
		expect_local(lh, t + 2 * 3600, TZ_LOCAL_OK, t + 2 * 3600 - 37800);
	}
}

/* ---- gaps and overlaps named in the brief ---- */

static void test_local_to_utc(void **state)
{
	const tz_zone *ber = tz_get("Europe/Berlin");
	const tz_zone *ny = tz_get("America/New_York");
	const tz_zone *lh = tz_get("Australia/Lord_Howe");
	const tz_zone *kol = tz_get("Asia/Kolkata");
	const tz_zone *utc = tz_get("UTC");

	(void)state;
	/* Berlin */
	expect_local(ber, ymdhms(2024, 3, 31, 2, 30, 0), TZ_LOCAL_GAP, ymdhms(2024, 3, 31, 1, 30, 0));
	expect_local(ber, ymdhms(2024, 3, 31, 3, 0, 0), TZ_LOCAL_OK, ymdhms(2024, 3, 31, 1, 0, 0));
	expect_local(ber, ymdhms(2024, 10, 27, 2, 30, 0), TZ_LOCAL_OVERLAP,
		     ymdhms(2024, 10, 27, 0, 30, 0));
	expect_local(ber, ymdhms(2024, 7, 1, 12, 0, 0), TZ_LOCAL_OK, ymdhms(2024, 7, 1, 10, 0, 0));
	expect_local(ber, ymdhms(2024, 1, 1, 0, 0, 0), TZ_LOCAL_OK, ymdhms(2023, 12, 31, 23, 0, 0));
	/* New York */
	expect_local(ny, ymdhms(2024, 3, 10, 2, 30, 0), TZ_LOCAL_GAP, ymdhms(2024, 3, 10, 7, 30, 0));
	expect_local(ny, ymdhms(2024, 11, 3, 1, 30, 0), TZ_LOCAL_OVERLAP,
		     ymdhms(2024, 11, 3, 5, 30, 0));
	expect_local(ny, ymdhms(2024, 11, 3, 2, 0, 0), TZ_LOCAL_OK, ymdhms(2024, 11, 3, 7, 0, 0));
	/* Lord Howe: 30-minute shifts, 02:00 -> 02:30 and 02:00 -> 01:30. */
	expect_local(lh, ymdhms(2024, 10, 6, 2, 15, 0), TZ_LOCAL_GAP, ymdhms(2024, 10, 5, 15, 45, 0));
	expect_local(lh, ymdhms(2024, 10, 6, 1, 59, 59), TZ_LOCAL_OK, ymdhms(2024, 10, 5, 15, 29, 59));
	expect_local(lh, ymdhms(2024, 10, 6, 2, 30, 0), TZ_LOCAL_OK, ymdhms(2024, 10, 5, 15, 30, 0));
	expect_local(lh, ymdhms(2024, 4, 7, 1, 45, 0), TZ_LOCAL_OVERLAP, ymdhms(2024, 4, 6, 14, 45, 0));
	expect_local(lh, ymdhms(2024, 4, 7, 1, 29, 59), TZ_LOCAL_OK, ymdhms(2024, 4, 6, 14, 29, 59));
	expect_local(lh, ymdhms(2024, 4, 7, 2, 0, 0), TZ_LOCAL_OK, ymdhms(2024, 4, 6, 15, 30, 0));
	/* Far future in the footer era. */
	expect_local(ber, ymdhms(2100, 3, 28, 2, 30, 0), TZ_LOCAL_GAP, ymdhms(2100, 3, 28, 1, 30, 0));
	expect_local(ny, ymdhms(2400, 11, 5, 1, 30, 0), TZ_LOCAL_OVERLAP, ymdhms(2400, 11, 5, 5, 30, 0));
	/* No DST at all. */
	expect_local(kol, ymdhms(2024, 3, 31, 2, 30, 0), TZ_LOCAL_OK, ymdhms(2024, 3, 30, 21, 0, 0));
	expect_local(utc, ymdhms(2024, 3, 31, 2, 30, 0), TZ_LOCAL_OK, ymdhms(2024, 3, 31, 2, 30, 0));
	assert_int_equal(tz_offset_at(utc, 0, NULL), 0);
	assert_int_equal(tz_offset_at(utc, ymdhms(3000, 1, 1, 0, 0, 0), NULL), 0);
	assert_int_equal(tz_offset_at(utc, -ymdhms(3000, 1, 1, 0, 0, 0), NULL), 0);
}

/* ---- names ---- */

static void test_names(void **state)
{
	char longname[300];
	const tz_zone *z;
	size_t i;
	static const char *const bad[] = {
		"../etc/passwd", "/etc/passwd", "", "Europe", "Nope/Nowhere", "Europe/../Europe/Berlin",
		"Europe//Berlin", "Europe/Berlin/", "Europe/Berlin ", " Europe/Berlin", "Europe\\Berlin",
		"Europe/Berlin\n", "Europe/./Berlin", "zone.tab", "leapseconds", "tzdata.zi", "right/UTC",
		"%s", "Europe/Berlin;rm", "posix", ".", "..", "/",
	};

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(tz_get(bad[i]));
		assert_false(tz_is_valid(bad[i]));
	}
	assert_null(tz_get(NULL));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_null(tz_get(longname));
	longname[255] = '\0';
	assert_null(tz_get(longname));

	z = tz_get("Europe/Berlin");
	assert_non_null(z);
	assert_string_equal(tz_name(z), "Europe/Berlin");
	assert_ptr_equal(tz_get("Europe/Berlin"), z);
	assert_true(tz_is_valid("America/Argentina/Buenos_Aires"));
	assert_true(tz_is_valid("Etc/GMT+5"));
	assert_true(tz_is_valid("Etc/GMT-14"));
	assert_true(tz_is_valid("posix/Europe/Berlin"));
	assert_int_equal(tz_offset_at(tz_get("Etc/GMT+5"), 0, NULL), -18000);
	assert_int_equal(tz_offset_at(tz_get("Etc/GMT-14"), 0, NULL), 14 * 3600);
}

/* ---- hand-made and corrupt TZif files ---- */

static char tmpdir[64];

static void put32(unsigned char **p, uint32_t v)
{
	(*p)[0] = (unsigned char)(v >> 24);
	(*p)[1] = (unsigned char)(v >> 16);
	(*p)[2] = (unsigned char)(v >> 8);
	(*p)[3] = (unsigned char)v;
	*p += 4;
}

static void put_header(unsigned char **p, char version, uint32_t timecnt, uint32_t typecnt,
		       uint32_t charcnt)
{
	memcpy(*p, "TZif", 4);
	(*p)[4] = (unsigned char)version;
	memset(*p + 5, 0, 15);
	*p += 20;
	put32(p, 0); /* isutcnt */
	put32(p, 0); /* isstdcnt */
	put32(p, 0); /* leapcnt */
	put32(p, timecnt);
	put32(p, typecnt);
	put32(p, charcnt);
}

struct mk_type {
	int32_t utoff;
	int isdst;
};

/* A version 2 file: a trivial v1 block, then the real 64-bit data and footer. */
static size_t build_tzif(unsigned char *buf, size_t ntrans, const int64_t *trans,
			 const unsigned char *idx, size_t ntypes, const struct mk_type *types,
			 const char *footer)
{
	unsigned char *p = buf;
	size_t i;

	put_header(&p, '2', 0, 1, 4);
	memset(p, 0, 6);
	p += 6;
	memcpy(p, "UTC", 4);
	p += 4;
	put_header(&p, '2', (uint32_t)ntrans, (uint32_t)ntypes, 4);
	for (i = 0; i < ntrans; i++) {
		put32(&p, (uint32_t)((uint64_t)trans[i] >> 32));
		put32(&p, (uint32_t)trans[i]);
	}
	if (ntrans)
		memcpy(p, idx, ntrans);
	p += ntrans;
	for (i = 0; i < ntypes; i++) {
		put32(&p, (uint32_t)types[i].utoff);
		*p++ = (unsigned char)types[i].isdst;
		*p++ = 0;
	}
	memcpy(p, "XYZ", 4);
	p += 4;
	*p++ = '\n';
	memcpy(p, footer, strlen(footer));
	p += strlen(footer);
	*p++ = '\n';
	return (size_t)(p - buf);
}

static void write_file(const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static size_t get32(const unsigned char *p)
{
	return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = malloc(1 << 20);

	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static const tz_zone *rule_zone(const char *name, const char *footer)
{
	static const struct mk_type std = { 0, 0 };
	unsigned char buf[1024];
	size_t len = build_tzif(buf, 0, NULL, NULL, 1, &std, footer);

	write_file(name, buf, len);
	return tz_get(name);
}

static void exercise(const tz_zone *z)
{
	int64_t t;

	for (t = -4000000000LL; t < 5000000000LL; t += 7777777) {
		int64_t u;

		tz_offset_at(z, t, NULL);
		tz_local_to_utc(z, tz_utc_to_local(z, t), &u);
	}
}

static int setup_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_tz.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	tz_set_dir(tmpdir);
	return 0;
}

static int teardown_tmpdir(void **state)
{
	char cmd[128];

	(void)state;
	tz_set_dir(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_footer_rules(void **state)
{
	const tz_zone *z;
	int dst;

	(void)state;
	/* No DST, half-hour offset. */
	z = rule_zone("R_IST", "IST-5:30");
	assert_non_null(z);
	assert_int_equal(tz_offset_at(z, ymdhms(2300, 7, 1, 0, 0, 0), &dst), 19800);
	assert_int_equal(dst, 0);
	assert_int_equal(tz_offset_at(z, -ymdhms(2300, 7, 1, 0, 0, 0), NULL), 19800);

	/* Lord Howe's rule: 30-minute DST, southern hemisphere. */
	z = rule_zone("R_LH", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
	assert_non_null(z);
	expect_switch(z, ymdhms(2024, 10, 5, 15, 30, 0), 37800, 39600);
	expect_switch(z, ymdhms(2024, 4, 6, 15, 0, 0), 39600, 37800);
	assert_int_equal(tz_offset_at(z, ymdhms(2025, 1, 1, 0, 0, 0), &dst), 39600);
	assert_int_equal(dst, 1);
	expect_local(z, ymdhms(2024, 10, 6, 2, 15, 0), TZ_LOCAL_GAP, ymdhms(2024, 10, 5, 15, 45, 0));

	/* US rules, and the default rules when only the names are given. */
	z = rule_zone("R_EST", "EST5EDT,M3.2.0,M11.1.0");
	assert_non_null(z);
	expect_switch(z, ymdhms(2024, 3, 10, 7, 0, 0), -18000, -14400);
	expect_switch(z, ymdhms(2024, 11, 3, 6, 0, 0), -14400, -18000);
	/* The ends of int64, where the rule is evaluated within one 400-year cycle. */
	tz_offset_at(z, INT64_MIN, NULL);
	tz_offset_at(z, INT64_MAX, NULL);
	{
		int64_t u;

		tz_local_to_utc(z, INT64_MIN, &u);
		tz_local_to_utc(z, INT64_MAX, &u);
		tz_utc_to_local(z, INT64_MIN);
		tz_utc_to_local(z, INT64_MAX);
	}
	z = rule_zone("R_ESTD", "EST5EDT");
	assert_non_null(z);
	expect_switch(z, ymdhms(2024, 3, 10, 7, 0, 0), -18000, -14400);

	/* EU rule with an explicit end time. */
	z = rule_zone("R_CET", "CET-1CEST,M3.5.0,M10.5.0/3");
	assert_non_null(z);
	expect_switch(z, ymdhms(2024, 3, 31, 1, 0, 0), 3600, 7200);
	expect_switch(z, ymdhms(2024, 10, 27, 1, 0, 0), 7200, 3600);

	/* Jn: February 29 not counted, J60 is always March 1. */
	z = rule_zone("R_J", "AAA3BBB,J60/2,J300/2");
	assert_non_null(z);
	expect_switch(z, ymdhms(2024, 3, 1, 5, 0, 0), -10800, -7200);
	expect_switch(z, ymdhms(2023, 3, 1, 5, 0, 0), -10800, -7200);
	expect_switch(z, ymdhms(2024, 10, 27, 4, 0, 0), -7200, -10800);
	/* n: zero-based, February 29 counted. */
	z = rule_zone("R_N", "AAA3BBB,59/2,299/2");
	assert_non_null(z);
	expect_switch(z, ymdhms(2024, 2, 29, 5, 0, 0), -10800, -7200);
	expect_switch(z, ymdhms(2023, 3, 1, 5, 0, 0), -10800, -7200);
	expect_switch(z, ymdhms(2024, 10, 26, 4, 0, 0), -7200, -10800);
	/* Signed and large transition times (RFC 8536 allows -167..167 hours). */
	z = rule_zone("R_167", "AAA3BBB,M3.2.0/-1,M11.1.0/167");
	assert_non_null(z);
	expect_switch(z, ymdhms(2024, 3, 10, 2, 0, 0), -10800, -7200);
	expect_switch(z, ymdhms(2024, 11, 10, 1, 0, 0), -7200, -10800);
	/* Explicit DST offset with seconds and a positive sign. */
	z = rule_zone("R_OFF", "<-0130>+1:30<-01>+1:00:00,M3.5.0/0,M10.5.0/0");
	assert_non_null(z);
	assert_int_equal(tz_offset_at(z, ymdhms(2024, 1, 15, 0, 0, 0), NULL), -5400);
	assert_int_equal(tz_offset_at(z, ymdhms(2024, 7, 15, 0, 0, 0), NULL), -3600);
	/* DST all year (tzcode's "0/0,J365/25"). */
	z = rule_zone("R_ALL", "EST5EDT,0/0,J365/25");
	assert_non_null(z);
	for (int64_t t = ymdhms(2030, 1, 1, 0, 0, 0); t < ymdhms(2032, 1, 1, 0, 0, 0); t += 3600 * 7)
		assert_int_equal(tz_offset_at(z, t, NULL), -14400);

	/* Malformed footers make the whole file invalid. */
	assert_null(rule_zone("R_bad1", "CET"));
	assert_null(rule_zone("R_bad2", "CET-1CEST,M3.5.0"));
	assert_null(rule_zone("R_bad3", "CET-1CEST,M13.5.0,M10.5.0"));
	assert_null(rule_zone("R_bad4", "CET-1CEST,M3.6.0,M10.5.0"));
	assert_null(rule_zone("R_bad5", "CET-1CEST,M3.5.7,M10.5.0"));
	assert_null(rule_zone("R_bad6", "CET-1CEST,J0,M10.5.0"));
	assert_null(rule_zone("R_bad7", "CET-1CEST,366,M10.5.0"));
	assert_null(rule_zone("R_bad8", "CET-1CEST,M3.5.0/168,M10.5.0"));
	assert_null(rule_zone("R_bad9", "CET-25"));
	assert_null(rule_zone("R_bad10", "CET-1CEST,M3.5.0,M10.5.0junk"));
	assert_null(rule_zone("R_bad11", "<+1030-10:30"));
	assert_null(rule_zone("R_bad12", "CE-1"));
	assert_null(rule_zone("R_bad13", "CET-1:60"));
}

static void test_tables(void **state)
{
	static const struct mk_type types[] = { { 3600, 0 }, { 7200, 1 } };
	static const int64_t trans[] = { 1000, 2000, 3000 };
	static const int64_t unsorted[] = { 1000, 3000, 2000 };
	static const unsigned char idx[] = { 1, 0, 1 };
	static const unsigned char bad_idx[] = { 1, 2, 1 };
	static const struct mk_type bad_type[] = { { 3600, 0 }, { 7200, 2 } };
	static const struct mk_type huge_off[] = { { 3600, 0 }, { 30 * 3600, 0 } };
	unsigned char buf[1024];
	const tz_zone *z;
	size_t len;

	(void)state;
	len = build_tzif(buf, 3, trans, idx, 2, types, "");
	write_file("T_ok", buf, len);
	z = tz_get("T_ok");
	assert_non_null(z);
	assert_int_equal(tz_offset_at(z, 999, NULL), 3600);   /* type 0 before the first */
	assert_int_equal(tz_offset_at(z, 1000, NULL), 7200);
	assert_int_equal(tz_offset_at(z, 1999, NULL), 7200);
	assert_int_equal(tz_offset_at(z, 2000, NULL), 3600);
	assert_int_equal(tz_offset_at(z, 3000, NULL), 7200);
	assert_int_equal(tz_offset_at(z, INT64_MAX, NULL), 7200); /* empty footer: last type */

	len = build_tzif(buf, 3, unsorted, idx, 2, types, "");
	write_file("T_unsorted", buf, len);
	assert_null(tz_get("T_unsorted"));
	len = build_tzif(buf, 3, trans, bad_idx, 2, types, "");
	write_file("T_badidx", buf, len);
	assert_null(tz_get("T_badidx"));
	len = build_tzif(buf, 3, trans, idx, 2, bad_type, "");
	write_file("T_baddst", buf, len);
	assert_null(tz_get("T_baddst"));
	len = build_tzif(buf, 3, trans, idx, 2, huge_off, "");
	write_file("T_hugeoff", buf, len);
	assert_null(tz_get("T_hugeoff"));

	/* Footer without its final newline, or with trailing NUL. */
	len = build_tzif(buf, 3, trans, idx, 2, types, "CET-1");
	write_file("T_nonl", buf, len - 1);
	assert_null(tz_get("T_nonl"));
	/* Header counts that promise more than the file holds. */
	{
		unsigned char *p = buf;

		put_header(&p, '2', 0xffffffffu, 1, 4);
		memset(p, 0, 64);
		write_file("T_huge", buf, 44 + 64);
		assert_null(tz_get("T_huge"));
		p = buf;
		put_header(&p, '2', 0, 0, 4);
		write_file("T_notypes", buf, 44 + 64);
		assert_null(tz_get("T_notypes"));
		p = buf;
		put_header(&p, '2', 0, 1, 0);
		write_file("T_nochars", buf, 44 + 64);
		assert_null(tz_get("T_nochars"));
		p = buf;
		put_header(&p, '7' + 20, 0, 1, 4);
		write_file("T_version", buf, 44 + 64);
		assert_null(tz_get("T_version"));
	}
}

static void test_corrupt_files(void **state)
{
	unsigned char *orig, *buf;
	unsigned char junk[4096];
	char name[64], path[512];
	size_t len, i, v1len;
	const tz_zone *z;
	unsigned seed = 12345;

	(void)state;
	orig = slurp("/usr/share/zoneinfo/Europe/Berlin", &len);
	buf = malloc(len);
	assert_non_null(buf);

	/* An intact copy loads and agrees with the system zone. */
	write_file("C_Berlin", orig, len);
	z = tz_get("C_Berlin");
	assert_non_null(z);
	assert_string_equal(tz_name(z), "C_Berlin");
	assert_int_equal(tz_offset_at(z, ymdhms(2024, 7, 1, 0, 0, 0), NULL), 7200);

	/* Every truncation fails (the footer ends with a newline). */
	for (i = 0; i < len; i++) {
		write_file("C_trunc", orig, i);
		assert_null(tz_get("C_trunc"));
	}

	/* Garbage, empty, magic only, a directory, a text file. */
	for (i = 0; i < sizeof(junk); i++) {
		seed = seed * 1103515245u + 12345u;
		junk[i] = (unsigned char)(seed >> 16);
	}
	write_file("C_junk", junk, sizeof(junk));
	assert_null(tz_get("C_junk"));
	memcpy(junk, "TZif2", 5);
	write_file("C_junkmagic", junk, sizeof(junk));
	assert_null(tz_get("C_junkmagic"));
	write_file("C_empty", "", 0);
	assert_null(tz_get("C_empty"));
	write_file("C_magic", "TZif", 4);
	assert_null(tz_get("C_magic"));
	write_file("C_text", "Europe/Berlin is a nice place to be, not a TZif file at all.\n", 62);
	assert_null(tz_get("C_text"));
	snprintf(path, sizeof(path), "%s/C_dir", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_null(tz_get("C_dir"));

	/* A version 1 file: the Berlin header and 32-bit block only. */
	v1len = 44 + 5 * get32(orig + 32) + 6 * get32(orig + 36) + get32(orig + 40) +
		12 * get32(orig + 28) + get32(orig + 24) + get32(orig + 20);
	memcpy(buf, orig, v1len);
	buf[4] = 0;
	write_file("C_v1", buf, v1len);
	z = tz_get("C_v1");
	assert_non_null(z);
	assert_int_equal(tz_offset_at(z, ymdhms(2000, 1, 1, 0, 0, 0), NULL), 3600);
	assert_int_equal(tz_offset_at(z, ymdhms(2000, 7, 1, 0, 0, 0), NULL), 7200);
	assert_int_equal(tz_offset_at(z, ymdhms(1945, 6, 1, 0, 0, 0), NULL), 10800);

	/* Single-byte corruption anywhere: load or refuse, never crash. */
	for (i = 0; i < len; i++) {
		memcpy(buf, orig, len);
		seed = seed * 1103515245u + 12345u;
		buf[i] ^= (unsigned char)((seed >> 16) | 1);
		snprintf(name, sizeof(name), "C_flip%zu", i);
		write_file(name, buf, len);
		z = tz_get(name);
		if (z && i % 8 == 0)
			exercise(z);
	}
	free(buf);
	free(orig);
}

/* ---- threads ---- */

static const char *const thread_zones[] = {
	"Europe/Paris", "Asia/Tokyo", "America/Chicago", "Africa/Cairo", "Europe/Moscow",
	"America/Los_Angeles", "Australia/Sydney", "Pacific/Auckland",
};
#define NZONES (sizeof(thread_zones) / sizeof(thread_zones[0]))
#define NTHREADS 8

static void *thread_main(void *arg)
{
	const tz_zone **got = arg;
	int round;
	size_t i;

	for (round = 0; round < 50; round++) {
		for (i = 0; i < NZONES; i++) {
			const tz_zone *z = tz_get(thread_zones[(i + round) % NZONES]);

			if (!z)
				return NULL;
			got[(i + round) % NZONES] = z;
			tz_offset_at(z, 1700000000 + round, NULL);
		}
	}
	return arg;
}

static void test_threads(void **state)
{
	pthread_t th[NTHREADS];
	const tz_zone *got[NTHREADS][NZONES];
	size_t i, j;

	(void)state;
	tz_cache_free(); /* make the threads race to load */
	memset(got, 0, sizeof(got));
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, got[i]), 0);
	for (i = 0; i < NTHREADS; i++) {
		void *ret;

		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_non_null(ret);
	}
	for (j = 0; j < NZONES; j++) {
		assert_non_null(got[0][j]);
		for (i = 1; i < NTHREADS; i++)
			assert_ptr_equal(got[i][j], got[0][j]);
		assert_ptr_equal(tz_get(thread_zones[j]), got[0][j]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zdump_history),
		cmocka_unit_test(test_zdump_far_future),
		cmocka_unit_test(test_rule_far_future),
		cmocka_unit_test(test_local_to_utc),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_footer_rules, setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test_setup_teardown(test_tables, setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test_setup_teardown(test_corrupt_files, setup_tmpdir, teardown_tmpdir),
		cmocka_unit_test(test_threads),
	};
	int rc;

	/* The system's own TZDIR decides what zdump reads; use the same. */
	unsetenv("TZDIR");
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	tz_cache_free();
	return rc;
}
