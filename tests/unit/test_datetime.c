/*
 * test_datetime.c - calendar arithmetic, the strict date-time parser (every
 * accepted form, every error kind, the date_order rules), resolution through
 * a zone (offsets, DST gaps and overlaps), formatting, and the duration and
 * interval parsers.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "core/datetime.h"
#include "core/tz.h"

#define DAY 86400

static int64_t ymdhms(int64_t y, int mo, int d, int h, int mi, int s)
{
	return dt_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + s;
}

/* ---- calendar ---- */

static void test_civil_known(void **state)
{
	int64_t y;
	int m, d;

	(void)state;
	assert_int_equal(dt_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(dt_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(dt_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(dt_days_from_civil(2024, 2, 29), 19782);
	assert_int_equal(dt_days_from_civil(0, 3, 1), -719468);
	assert_int_equal(dt_days_from_civil(1, 1, 1), -719162);
	assert_int_equal(dt_days_from_civil(-1, 12, 31), -719529);
	dt_civil_from_days(-719529, &y, &m, &d);
	assert_int_equal(y, -1);
	assert_int_equal(m, 12);
	assert_int_equal(d, 31);
	dt_civil_from_days(19782, &y, &m, &d);
	assert_int_equal(y, 2024);
	assert_int_equal(m, 2);
	assert_int_equal(d, 29);

	assert_true(dt_is_leap(2024));
	assert_true(dt_is_leap(2000));
	assert_true(dt_is_leap(-4));
	assert_true(dt_is_leap(0));
	assert_false(dt_is_leap(1900));
	assert_false(dt_is_leap(2023));
	assert_false(dt_is_leap(-100));
	assert_int_equal(dt_days_in_month(2024, 2), 29);
	assert_int_equal(dt_days_in_month(2023, 2), 28);
	assert_int_equal(dt_days_in_month(1900, 2), 28);
	assert_int_equal(dt_days_in_month(2000, 2), 29);
	assert_int_equal(dt_days_in_month(2023, 4), 30);
	assert_int_equal(dt_days_in_month(2023, 12), 31);
	assert_int_equal(dt_days_in_month(2023, 0), 0);
	assert_int_equal(dt_days_in_month(2023, 13), 0);
}

/* Consecutive days advance the calendar by exactly one day, both ways. */
static void test_civil_round_trip(void **state)
{
	int64_t days = dt_days_from_civil(-6000, 1, 1), end = dt_days_from_civil(6000, 1, 1);
	int64_t y, py = -6000;
	int m, d, pm = 1, pd = 1;
	static const int64_t far[] = {
		1000000000000LL, -1000000000000LL, (int64_t)1 << 50, -((int64_t)1 << 50),
		(int64_t)1 << 62, -((int64_t)1 << 62),
	};
	size_t i;

	(void)state;
	dt_civil_from_days(days, &y, &m, &d);
	assert_int_equal(y, -6000);
	assert_int_equal(m, 1);
	assert_int_equal(d, 1);
	for (days++; days <= end; days++) {
		dt_civil_from_days(days, &y, &m, &d);
		if (d == pd + 1 && m == pm && y == py) {
			/* next day of the month */
		} else {
			assert_int_equal(pd, dt_days_in_month(py, pm));
			assert_int_equal(d, 1);
			if (pm == 12) {
				assert_int_equal(m, 1);
				assert_int_equal(y, py + 1);
			} else {
				assert_int_equal(m, pm + 1);
				assert_int_equal(y, py);
			}
		}
		assert_int_equal(dt_days_from_civil(y, m, d), days);
		py = y;
		pm = m;
		pd = d;
	}
	assert_int_equal(y, 6000);

	for (i = 0; i < sizeof(far) / sizeof(far[0]); i++) {
		dt_civil_from_days(far[i], &y, &m, &d);
		assert_true(m >= 1 && m <= 12 && d >= 1 && d <= dt_days_in_month(y, m));
		assert_int_equal(dt_days_from_civil(y, m, d), far[i]);
	}
	/* Must not overflow at the very ends. */
	dt_civil_from_days(INT64_MAX, &y, &m, &d);
	assert_true(y > 0);
	dt_civil_from_days(INT64_MIN, &y, &m, &d);
	assert_true(y < 0);
}

static void test_order_parse(void **state)
{
	dt_order o = DT_ORDER_NONE;

	(void)state;
	assert_int_equal(dt_order_parse("ymd", &o), 0);
	assert_int_equal(o, DT_ORDER_YMD);
	assert_int_equal(dt_order_parse("DMY", &o), 0);
	assert_int_equal(o, DT_ORDER_DMY);
	assert_int_equal(dt_order_parse("Mdy", &o), 0);
	assert_int_equal(o, DT_ORDER_MDY);
	assert_int_equal(dt_order_parse("", &o), -1);
	assert_int_equal(dt_order_parse("ydm", &o), -1);
	assert_int_equal(dt_order_parse("dmy ", &o), -1);
	assert_int_equal(dt_order_parse(NULL, &o), -1);
	assert_int_equal(o, DT_ORDER_MDY);
}

/* ---- dt_parse ---- */

static dt_parsed parse_ok(const char *s, dt_order order)
{
	dt_parsed p;
	const char *msg = NULL;
	int rc = dt_parse(s, strlen(s), order, &p, &msg);

	if (rc != DT_OK)
		fail_msg("\"%s\": %d %s", s, rc, msg ? msg : "");
	return p;
}

static void expect_wall(const char *s, dt_order order, int64_t wall, bool date_only)
{
	dt_parsed p = parse_ok(s, order);

	if (p.wall != wall)
		fail_msg("\"%s\": wall %lld, want %lld", s, (long long)p.wall, (long long)wall);
	assert_int_equal(p.date_only, date_only);
	assert_false(p.has_offset);
}

static void expect_offset(const char *s, int64_t wall, int32_t offset)
{
	dt_parsed p = parse_ok(s, DT_ORDER_NONE);

	assert_int_equal(p.wall, wall);
	assert_true(p.has_offset);
	assert_int_equal(p.offset, offset);
	assert_false(p.date_only);
}

static const char *expect_err(const char *s, dt_order order, int want)
{
	dt_parsed p;
	const char *msg = NULL;
	int rc = dt_parse(s, strlen(s), order, &p, &msg);

	if (rc != want)
		fail_msg("\"%s\": got %d, want %d", s, rc, want);
	assert_non_null(msg);
	assert_true(strlen(msg) > 10);
	/* The message pointer may be left NULL by the caller. */
	assert_int_equal(dt_parse(s, strlen(s), order, &p, NULL), want);
	return msg;
}

static void test_parse_iso(void **state)
{
	int64_t t = ymdhms(2024, 3, 5, 14, 30, 0);

	(void)state;
	expect_wall("2024-03-05", DT_ORDER_NONE, ymdhms(2024, 3, 5, 0, 0, 0), true);
	expect_wall("  2024-03-05\t ", DT_ORDER_NONE, ymdhms(2024, 3, 5, 0, 0, 0), true);
	expect_wall("2024-03-05 14:30", DT_ORDER_NONE, t, false);
	expect_wall("2024-03-05T14:30", DT_ORDER_DMY, t, false);
	expect_wall("2024-03-05t14:30", DT_ORDER_MDY, t, false);
	expect_wall("2024-03-05 14:30:59", DT_ORDER_NONE, t + 59, false);
	expect_wall("2024-03-05T14:30:59.5", DT_ORDER_NONE, t + 59, false);
	expect_wall("2024-03-05T14:30:59.123456789", DT_ORDER_NONE, t + 59, false);
	expect_wall("2024-03-05T9:05", DT_ORDER_NONE, ymdhms(2024, 3, 5, 9, 5, 0), false);
	expect_wall("2024-03-05 00:00:00", DT_ORDER_NONE, ymdhms(2024, 3, 5, 0, 0, 0), false);
	expect_wall("2024-12-31 23:59:59", DT_ORDER_NONE, ymdhms(2024, 12, 31, 23, 59, 59), false);
	expect_wall("0001-01-01", DT_ORDER_NONE, ymdhms(1, 1, 1, 0, 0, 0), true);
	expect_wall("9999-12-31", DT_ORDER_NONE, ymdhms(9999, 12, 31, 0, 0, 0), true);

	expect_offset("2024-03-05T14:30:00Z", t, 0);
	expect_offset("2024-03-05T14:30z", t, 0);
	expect_offset("2024-03-05 14:30:00+02:00", t, 7200);
	expect_offset("2024-03-05T14:30:00-05:30", t, -19800);
	expect_offset("2024-03-05T14:30:00+0530", t, 19800);
	expect_offset("2024-03-05T14:30:00-03", t, -10800);
	expect_offset("2024-03-05T14:30:00.999+18:00", t, 18 * 3600);
	expect_offset("2024-03-05T14:30-18:00", t, -18 * 3600);
	expect_offset("2024-03-05T14:30+00:00", t, 0);

	/* Only len bytes are read. */
	{
		dt_parsed p;
		const char *s = "2024-03-05 14:30 and more";

		assert_int_equal(dt_parse(s, 16, DT_ORDER_NONE, &p, NULL), DT_OK);
		assert_int_equal(p.wall, t);
		assert_int_equal(dt_parse(s, 10, DT_ORDER_NONE, &p, NULL), DT_OK);
		assert_true(p.date_only);
		assert_int_equal(dt_parse(s, 0, DT_ORDER_NONE, &p, NULL), DT_EFORMAT);
	}
}

static void test_parse_other_forms(void **state)
{
	int64_t mar5 = ymdhms(2024, 3, 5, 0, 0, 0), may3 = ymdhms(2024, 5, 3, 0, 0, 0);
	int64_t dec25 = ymdhms(2024, 12, 25, 0, 0, 0);

	(void)state;
	/* YYYY/MM/DD: recognised by the four-digit first part, any order. */
	expect_wall("2024/03/05", DT_ORDER_NONE, mar5, true);
	expect_wall("2024/3/5", DT_ORDER_DMY, mar5, true);
	expect_wall("2024/03/05", DT_ORDER_MDY, mar5, true);
	expect_wall("2024/03/05 9:15", DT_ORDER_YMD, mar5 + 9 * 3600 + 900, false);

	/* Inferred order. */
	expect_wall("25/12/2024", DT_ORDER_NONE, dec25, true);
	expect_wall("12/25/2024", DT_ORDER_NONE, dec25, true);
	expect_wall("13/1/2024", DT_ORDER_NONE, ymdhms(2024, 1, 13, 0, 0, 0), true);
	expect_wall("1/13/2024", DT_ORDER_NONE, ymdhms(2024, 1, 13, 0, 0, 0), true);
	expect_wall("05/05/2024", DT_ORDER_NONE, ymdhms(2024, 5, 5, 0, 0, 0), true);
	expect_wall("25/12/2024 18:00", DT_ORDER_NONE, dec25 + 18 * 3600, false);
	expect_wall("12/25/2024 18:00:30", DT_ORDER_NONE, dec25 + 18 * 3600 + 30, false);

	/* Given order. */
	expect_wall("05/03/2024", DT_ORDER_DMY, mar5, true);
	expect_wall("05/03/2024", DT_ORDER_MDY, may3, true);
	expect_wall("5/3/2024 07:45", DT_ORDER_DMY, mar5 + 7 * 3600 + 45 * 60, false);
	expect_wall("25/12/2024", DT_ORDER_DMY, dec25, true);
	expect_wall("12/25/2024", DT_ORDER_MDY, dec25, true);

	/* Dotted: always day first. */
	expect_wall("05.03.2024", DT_ORDER_NONE, mar5, true);
	expect_wall("05.03.2024", DT_ORDER_MDY, mar5, true);
	expect_wall("5.3.2024 14:30", DT_ORDER_NONE, mar5 + 14 * 3600 + 1800, false);
	expect_wall("05.03.2024 14:30:15", DT_ORDER_NONE, mar5 + 14 * 3600 + 1815, false);
}

static void test_parse_order_errors(void **state)
{
	const char *msg;

	(void)state;
	msg = expect_err("03/04/2024", DT_ORDER_NONE, DT_EAMBIGUOUS);
	assert_non_null(strstr(msg, "date_order"));
	expect_err("1/2/2024 10:00", DT_ORDER_NONE, DT_EAMBIGUOUS);
	expect_err("12/11/2024", DT_ORDER_NONE, DT_EAMBIGUOUS);
	expect_err("13/13/2024", DT_ORDER_NONE, DT_ERANGE);
	expect_err("25/12/2024", DT_ORDER_MDY, DT_ERANGE);
	expect_err("12/25/2024", DT_ORDER_DMY, DT_ERANGE);
	expect_err("03/04/2024", DT_ORDER_YMD, DT_EFORMAT);
	expect_err("31/04/2024", DT_ORDER_NONE, DT_ERANGE);
	expect_err("0/5/2024", DT_ORDER_NONE, DT_ERANGE);
	expect_err("5/0/2024", DT_ORDER_NONE, DT_ERANGE);
	expect_err("00/00/2024", DT_ORDER_NONE, DT_ERANGE);
	expect_err("30/02/2024", DT_ORDER_NONE, DT_ERANGE);
	expect_err("32.01.2024", DT_ORDER_NONE, DT_ERANGE);
	expect_err("01.13.2024", DT_ORDER_NONE, DT_ERANGE);
}

static void test_parse_errors(void **state)
{
	static const char *const bad_format[] = {
		"", "   ", "2024", "2024-03", "2024-3-05", "2024-03-5", "24-03-05", "20240305",
		"2024-03-05x", "2024-03-05 ", "2024-03-05T", "2024-03-05 14", "2024-03-05 14:3",
		"2024-03-05 14:30:5", "2024-03-05 14:30 extra", "2024-03-05T14:30:00.", "2024-03-05T14:30:00.1234567890",
		"2024-03-05T14:30.5", "2024-03-05Z", "2024-03-05T14:30:00+5", "2024-03-05T14:30:00+05:3",
		"2024-03-05T14:30:00+053", "2024-03-05T14:30:00 +02:00", "2024-03-05T14:30:00ZZ",
		"05/03/2024T14:30", "05/03/2024 14:30Z", "05.03.2024 14:30+01:00", "05/03/24", "5/3/20245",
		"005/03/2024", "05-03-2024", "2024.03.05", "2024/03", "2024/03/05/01", "05.03.24",
		"-2024-03-05", "+2024-03-05", "2024-03-05T14:30+05:", "2024-02-30 junk", "13/13/2024 x",
		"2024-03-05T14:30+05:30:00", "2024-03-05TT14:30", "today", "2024-03-05T14:30:00.123456789.1",
		"\xff", "2024\0-03-05",
	};
	size_t i;
	const char *msg;
	dt_parsed p;

	(void)state;
	for (i = 0; i < sizeof(bad_format) / sizeof(bad_format[0]); i++) {
		/* A space at the end is trimmed, so "2024-03-05 " is fine. */
		if (strcmp(bad_format[i], "2024-03-05 ") == 0)
			continue;
		expect_err(bad_format[i], DT_ORDER_NONE, DT_EFORMAT);
	}
	/* An embedded NUL is just junk. */
	assert_int_equal(dt_parse("2024-03-05\0", 11, DT_ORDER_NONE, &p, NULL), DT_EFORMAT);

	expect_err("2024-02-30", DT_ORDER_NONE, DT_ERANGE);
	expect_err("2024-04-31", DT_ORDER_NONE, DT_ERANGE);
	expect_err("2024-13-01", DT_ORDER_NONE, DT_ERANGE);
	expect_err("2024-00-10", DT_ORDER_NONE, DT_ERANGE);
	expect_err("2024-01-00", DT_ORDER_NONE, DT_ERANGE);
	expect_err("2024-01-32", DT_ORDER_NONE, DT_ERANGE);
	msg = expect_err("2024-01-01 24:00", DT_ORDER_NONE, DT_ERANGE);
	assert_non_null(strstr(msg, "hour"));
	expect_err("2024-01-01 25:00", DT_ORDER_NONE, DT_ERANGE);
	msg = expect_err("2024-01-01 23:60", DT_ORDER_NONE, DT_ERANGE);
	assert_non_null(strstr(msg, "minute"));
	msg = expect_err("2016-12-31T23:59:60Z", DT_ORDER_NONE, DT_ERANGE);
	assert_non_null(strstr(msg, "leap second"));
	expect_err("2024-01-01T10:00+18:01", DT_ORDER_NONE, DT_ERANGE);
	expect_err("2024-01-01T10:00-19", DT_ORDER_NONE, DT_ERANGE);
	expect_err("2024-01-01T10:00+05:60", DT_ORDER_NONE, DT_ERANGE);
	expect_err("2024-01-01T10:00+99:00", DT_ORDER_NONE, DT_ERANGE);
	expect_err("31/12/2024 24:00", DT_ORDER_NONE, DT_ERANGE);
	expect_err("31.12.2024 12:61", DT_ORDER_NONE, DT_ERANGE);
}

static void test_leap_years(void **state)
{
	const char *msg;
	int64_t days;

	(void)state;
	expect_wall("2024-02-29", DT_ORDER_NONE, ymdhms(2024, 2, 29, 0, 0, 0), true);
	expect_wall("2000-02-29", DT_ORDER_NONE, ymdhms(2000, 2, 29, 0, 0, 0), true);
	expect_wall("29/02/2024", DT_ORDER_NONE, ymdhms(2024, 2, 29, 0, 0, 0), true);
	expect_wall("29.02.2000 12:00", DT_ORDER_NONE, ymdhms(2000, 2, 29, 12, 0, 0), false);
	msg = expect_err("2023-02-29", DT_ORDER_NONE, DT_ERANGE);
	assert_non_null(strstr(msg, "leap"));
	expect_err("1900-02-29", DT_ORDER_NONE, DT_ERANGE);
	expect_err("2100-02-29T10:00Z", DT_ORDER_NONE, DT_ERANGE);
	expect_err("02/29/2023", DT_ORDER_NONE, DT_ERANGE);

	assert_int_equal(dt_parse_date("2024-02-29", 10, &days), DT_OK);
	assert_int_equal(days, dt_days_from_civil(2024, 2, 29));
	assert_int_equal(dt_parse_date("2000-02-29", 10, &days), DT_OK);
	assert_int_equal(dt_parse_date("2023-02-29", 10, &days), DT_ERANGE);
	assert_int_equal(dt_parse_date("1900-02-29", 10, &days), DT_ERANGE);
}

static void test_parse_date(void **state)
{
	int64_t days = 42;

	(void)state;
	assert_int_equal(dt_parse_date("1970-01-01", 10, &days), DT_OK);
	assert_int_equal(days, 0);
	assert_int_equal(dt_parse_date("2024-03-05xyz", 10, &days), DT_OK);
	assert_int_equal(days, dt_days_from_civil(2024, 3, 5));
	assert_int_equal(dt_parse_date("2024-03-05", 9, &days), DT_EFORMAT);
	assert_int_equal(dt_parse_date("2024-03-05 ", 11, &days), DT_EFORMAT);
	assert_int_equal(dt_parse_date(" 2024-03-05", 11, &days), DT_EFORMAT);
	assert_int_equal(dt_parse_date("2024-3-05", 9, &days), DT_EFORMAT);
	assert_int_equal(dt_parse_date("2024/03/05", 10, &days), DT_EFORMAT);
	assert_int_equal(dt_parse_date("2024-03-05T00:00", 16, &days), DT_EFORMAT);
	assert_int_equal(dt_parse_date("", 0, &days), DT_EFORMAT);
	assert_int_equal(dt_parse_date("2024-13-05", 10, &days), DT_ERANGE);
	assert_int_equal(dt_parse_date("2024-04-31", 10, &days), DT_ERANGE);
}

/* ---- resolution through a zone ---- */

static void test_resolve(void **state)
{
	const tz_zone *ber = tz_get("Europe/Berlin");
	const tz_zone *ny = tz_get("America/New_York");
	dt_parsed p;
	int64_t utc = 0;
	bool overlap = true;
	const char *msg = NULL;

	(void)state;
	assert_non_null(ber);
	assert_non_null(ny);

	p = parse_ok("2024-07-01 12:00", DT_ORDER_NONE);
	assert_int_equal(dt_resolve(&p, ber, &utc, &overlap), DT_OK);
	assert_int_equal(utc, ymdhms(2024, 7, 1, 10, 0, 0));
	assert_false(overlap);
	assert_int_equal(dt_resolve(&p, ny, &utc, NULL), DT_OK);
	assert_int_equal(utc, ymdhms(2024, 7, 1, 16, 0, 0));
	assert_int_equal(dt_resolve(&p, NULL, &utc, NULL), DT_OK);
	assert_int_equal(utc, ymdhms(2024, 7, 1, 12, 0, 0));

	/* An explicit offset wins over the zone. */
	p = parse_ok("2024-07-01T12:00:00+05:30", DT_ORDER_NONE);
	assert_int_equal(dt_resolve(&p, ber, &utc, &overlap), DT_OK);
	assert_int_equal(utc, ymdhms(2024, 7, 1, 6, 30, 0));
	p = parse_ok("2024-03-31T02:30:00Z", DT_ORDER_NONE);
	assert_int_equal(dt_resolve(&p, ber, &utc, &overlap), DT_OK);
	assert_int_equal(utc, ymdhms(2024, 3, 31, 2, 30, 0));

	/* Gaps and overlaps. */
	p = parse_ok("2024-03-31 02:30", DT_ORDER_NONE);
	assert_int_equal(dt_resolve(&p, ber, &utc, &overlap), DT_EGAP);
	p = parse_ok("2024-10-27 02:30", DT_ORDER_NONE);
	assert_int_equal(dt_resolve(&p, ber, &utc, &overlap), DT_OK);
	assert_true(overlap);
	assert_int_equal(utc, ymdhms(2024, 10, 27, 0, 30, 0));
	p = parse_ok("03/10/2024 02:30", DT_ORDER_MDY);
	assert_int_equal(dt_resolve(&p, ny, &utc, &overlap), DT_EGAP);
	p = parse_ok("11/03/2024 01:30", DT_ORDER_MDY);
	assert_int_equal(dt_resolve(&p, ny, &utc, &overlap), DT_OK);
	assert_true(overlap);
	assert_int_equal(utc, ymdhms(2024, 11, 3, 5, 30, 0));

	/* The convenience wrapper. */
	assert_int_equal(dt_parse_instant("31.03.2024 02:30", DT_ORDER_NONE, ber, &utc, &overlap, &msg),
			 DT_EGAP);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "daylight"));
	assert_int_equal(dt_parse_instant("2024-10-27 02:30", DT_ORDER_NONE, ber, &utc, &overlap, &msg),
			 DT_OK);
	assert_true(overlap);
	assert_int_equal(dt_parse_instant("2024-10-27 03:30", DT_ORDER_NONE, ber, &utc, &overlap, &msg),
			 DT_OK);
	assert_false(overlap);
	assert_int_equal(utc, ymdhms(2024, 10, 27, 2, 30, 0));
	assert_int_equal(dt_parse_instant("2024-01-05", DT_ORDER_NONE, ny, &utc, NULL, NULL), DT_OK);
	assert_int_equal(utc, ymdhms(2024, 1, 5, 5, 0, 0));
	assert_int_equal(dt_parse_instant("04/05/2024", DT_ORDER_NONE, ny, &utc, NULL, &msg),
			 DT_EAMBIGUOUS);
	assert_int_equal(dt_parse_instant("2024-02-30", DT_ORDER_NONE, ny, &utc, NULL, &msg), DT_ERANGE);
	assert_int_equal(dt_parse_instant("nope", DT_ORDER_NONE, ny, &utc, NULL, &msg), DT_EFORMAT);
}

/* ---- formatting ---- */

static void test_format(void **state)
{
	char u[21], l[26];
	const tz_zone *ber = tz_get("Europe/Berlin");
	const tz_zone *kol = tz_get("Asia/Kolkata");
	const tz_zone *ny = tz_get("America/New_York");
	const tz_zone *lh = tz_get("Australia/Lord_Howe");
	int64_t t = ymdhms(2024, 7, 1, 10, 5, 9);

	(void)state;
	dt_format_utc(0, u);
	assert_string_equal(u, "1970-01-01T00:00:00Z");
	dt_format_utc(-1, u);
	assert_string_equal(u, "1969-12-31T23:59:59Z");
	dt_format_utc(t, u);
	assert_string_equal(u, "2024-07-01T10:05:09Z");
	dt_format_utc(ymdhms(2024, 2, 29, 23, 59, 59), u);
	assert_string_equal(u, "2024-02-29T23:59:59Z");
	dt_format_utc(INT64_MAX, u);
	assert_string_equal(u, "9999-12-31T23:59:59Z");
	dt_format_utc(INT64_MIN, u);
	assert_string_equal(u, "0000-01-01T00:00:00Z");

	dt_format_local(t, ber, l);
	assert_string_equal(l, "2024-07-01T12:05:09+02:00");
	dt_format_local(ymdhms(2024, 1, 1, 0, 0, 0), ber, l);
	assert_string_equal(l, "2024-01-01T01:00:00+01:00");
	dt_format_local(t, kol, l);
	assert_string_equal(l, "2024-07-01T15:35:09+05:30");
	dt_format_local(t, ny, l);
	assert_string_equal(l, "2024-07-01T06:05:09-04:00");
	dt_format_local(ymdhms(2024, 1, 1, 3, 0, 0), ny, l);
	assert_string_equal(l, "2023-12-31T22:00:00-05:00");
	dt_format_local(ymdhms(2024, 6, 1, 0, 0, 0), lh, l);
	assert_string_equal(l, "2024-06-01T10:30:00+10:30");
	dt_format_local(t, NULL, l);
	assert_string_equal(l, "2024-07-01T10:05:09+00:00");
	/* Berlin's LMT is +00:53:28: rounded to the minute, same instant. */
	dt_format_local(ymdhms(1880, 1, 1, 0, 0, 0), ber, l);
	assert_string_equal(l, "1880-01-01T00:53:00+00:53");
	dt_format_local(INT64_MAX, ber, l);
	assert_int_equal(strlen(l), 25);

	/* Parse what was formatted: the same instant comes back. */
	{
		int64_t back;

		dt_format_local(t, ny, l);
		assert_int_equal(dt_parse_instant(l, DT_ORDER_NONE, ber, &back, NULL, NULL), DT_OK);
		assert_int_equal(back, t);
		dt_format_utc(t, u);
		assert_int_equal(dt_parse_instant(u, DT_ORDER_NONE, ber, &back, NULL, NULL), DT_OK);
		assert_int_equal(back, t);
	}
}

/* ---- durations ---- */

static void expect_hours(const char *s, bool comma, int64_t want)
{
	int64_t got = -12345;
	int rc = dt_parse_hours(s, strlen(s), comma, &got);

	if (rc != 0 || got != want)
		fail_msg("hours \"%s\": rc %d, %lld, want %lld", s, rc, (long long)got, (long long)want);
}

static void expect_hours_bad(const char *s, bool comma)
{
	int64_t got = 0;

	if (dt_parse_hours(s, strlen(s), comma, &got) != DT_EFORMAT)
		fail_msg("hours \"%s\" accepted", s);
}

static void test_hours(void **state)
{
	static const char *const bad[] = {
		"", " ", "abc", "h", "1.5h", "1h", "1:60", "1:5", "1:305", "1:30:60", "1:30:5", "1.", ".",
		"-", "+", "--1", "1.2.3", "1.1234567890", "99999999999", "1:30.5", ":30", "1:", "1:30:",
		"1 .5", "1e3", "0x10", "1,5", "１",
	};
	size_t i;

	(void)state;
	expect_hours("1.5", false, 5400);
	expect_hours("1.5", true, 5400);
	expect_hours("1,5", true, 5400);
	expect_hours("1:30", false, 5400);
	expect_hours("1:30:00", false, 5400);
	expect_hours("1:30:30", false, 5430);
	expect_hours("01:05", false, 3900);
	expect_hours("0:00:01", false, 1);
	expect_hours("100:59:59", false, 100 * 3600 + 3599);
	expect_hours("2", false, 7200);
	expect_hours("0", false, 0);
	expect_hours(" 2.5 ", false, 9000);
	expect_hours("2.07", false, 7452);
	expect_hours("2,07", true, 7452);
	expect_hours("0.1", false, 360);
	expect_hours(".5", false, 1800);
	expect_hours("0.25", false, 900);
	expect_hours("0.0001", false, 0);         /* 0.36 s */
	expect_hours("0.000139", false, 1);       /* 0.5004 s */
	expect_hours("0.000138", false, 0);       /* 0.4968 s */
	expect_hours("0.000125", false, 0);       /* exactly 0.45 s */
	expect_hours("1.999999999", false, 7200);
	expect_hours("8.333333333", false, 30000);
	expect_hours("-1.5", false, -5400);
	expect_hours("-2.07", false, -7452);
	expect_hours("+2", false, 7200);
	expect_hours("-0:30", false, -1800);
	expect_hours("1000000000", false, 3600000000000LL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_hours_bad(bad[i], false);
	expect_hours_bad("1,5,", true);
	expect_hours_bad("1.5,5", true);
	expect_hours_bad("1000000001", false);
}

static void expect_interval(const char *s, int64_t want)
{
	int64_t got = -1;

	if (dt_parse_interval(s, &got) != 0 || got != want)
		fail_msg("interval \"%s\": %lld, want %lld", s, (long long)got, (long long)want);
}

static void test_interval(void **state)
{
	static const char *const bad[] = {
		"", " ", "-1", "-7d", "+7d", "7x", "d", "7dd", "7 d", "1.5h", "7d1h", "h7",
		"99999999999999999999", "9223372036854775807", "9223372036854775807d", "200000000000000000d",
		"0x10", "1e3",
	};
	int64_t v;
	size_t i;

	(void)state;
	expect_interval("7d", 7 * DAY);
	expect_interval("7D", 7 * DAY);
	expect_interval("1h", 3600);
	expect_interval("30m", 1800);
	expect_interval("45s", 45);
	expect_interval("45", 45);
	expect_interval("0", 0);
	expect_interval(" 10m ", 600);
	expect_interval("0007d", 7 * DAY);
	expect_interval("106751991167300d", 106751991167300LL * DAY);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dt_parse_interval(bad[i], &v) != DT_EFORMAT)
			fail_msg("interval \"%s\" accepted", bad[i]);
	assert_int_equal(dt_parse_interval(NULL, &v), DT_EFORMAT);
}

/* Filter bounds: calendar days in a zone, inclusive end, instants. */
static void test_bounds(void **state)
{
	const tz_zone *berlin = tz_get("Europe/Berlin");
	const tz_zone *utc = tz_get("UTC");
	int64_t t;

	(void)state;
	assert_int_equal(dt_parse_bound("2024-03-11", berlin, false, &t, NULL), DT_OK);
	assert_int_equal(t, 1710111600); /* 2024-03-10T23:00:00Z */
	assert_int_equal(dt_parse_bound("2024-03-11", berlin, true, &t, NULL), DT_OK);
	assert_int_equal(t, 1710198000); /* the next day's start, exclusive */
	/* the day of the spring change has 23 hours */
	assert_int_equal(dt_parse_bound("2024-03-31", berlin, false, &t, NULL), DT_OK);
	{
		int64_t end;

		assert_int_equal(dt_parse_bound("2024-03-31", berlin, true, &end, NULL), DT_OK);
		assert_int_equal(end - t, 23 * 3600);
	}
	assert_int_equal(dt_parse_bound("2024-01-15T10:00:00Z", utc, true, &t, NULL), DT_OK);
	assert_int_equal(t, 1705312801); /* an instant end includes its second */
	/* any date-only spelling is a whole day */
	assert_int_equal(dt_parse_bound("11.03.2024", berlin, true, &t, NULL), DT_OK);
	assert_int_equal(t, 1710198000);
	assert_int_not_equal(dt_parse_bound("2024-02-30", utc, false, &t, NULL), DT_OK);
	assert_int_not_equal(dt_parse_bound("yesterday", utc, false, &t, NULL), DT_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_civil_known),
		cmocka_unit_test(test_civil_round_trip),
		cmocka_unit_test(test_order_parse),
		cmocka_unit_test(test_parse_iso),
		cmocka_unit_test(test_parse_other_forms),
		cmocka_unit_test(test_parse_order_errors),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_leap_years),
		cmocka_unit_test(test_parse_date),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_hours),
		cmocka_unit_test(test_interval),
		cmocka_unit_test(test_bounds),
	};
	int rc;

	unsetenv("TZDIR");
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	tz_cache_free();
	return rc;
}
