/*
 * datetime.c - calendar arithmetic and the strict parsers and formatters for
 * date-times, durations and intervals (see datetime.h).
 *
 * Parsing never guesses: a value either matches one accepted form exactly
 * or is refused with a static sentence that says why. All arithmetic is on
 * integers (days since the epoch by Howard Hinnant's algorithms, durations
 * from their decimal digits), so nothing is lost to floating point.
 */
#include "core/datetime.h"

#include <string.h>
#include <strings.h>

#define SECS_PER_DAY 86400
#define CYCLE_DAYS 146097 /* days in 400 Gregorian years */
#define MAX_OFFSET (18 * 3600)
#define MAX_FRAC_DIGITS 9
#define MAX_HOURS 1000000000LL /* 114,000 years: anything more is a typo */

/* Formatting is fixed-width: instants are clamped to years 0000..9999. */
#define FMT_MIN_UTC (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define FMT_MAX_UTC 253402300799LL   /* 9999-12-31T23:59:59Z */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* ---- calendar ---- */

bool dt_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int dt_days_in_month(int64_t y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12)
		return 0;
	return m == 2 && dt_is_leap(y) ? 29 : dim[m - 1];
}

/* Exact for |y| up to about 10^16, beyond the years of any int64 instant. */
int64_t dt_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * CYCLE_DAYS + doe - 719468;
}

void dt_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	/*
	 * Split into 400-year eras before shifting the epoch to 0000-03-01,
	 * with truncating division, so that no int64 days value can overflow.
	 */
	era = days / CYCLE_DAYS;
	doe = days % CYCLE_DAYS + 719468; /* positive: 719468 > CYCLE_DAYS */
	era += doe / CYCLE_DAYS;
	doe %= CYCLE_DAYS;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int dt_order_parse(const char *s, dt_order *out)
{
	static const struct {
		const char *name;
		dt_order order;
	} orders[] = {
		{ "ymd", DT_ORDER_YMD },
		{ "dmy", DT_ORDER_DMY },
		{ "mdy", DT_ORDER_MDY },
	};
	size_t i;

	if (!s)
		return -1;
	for (i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		if (strcasecmp(s, orders[i].name) == 0) {
			*out = orders[i].order;
			return 0;
		}
	}
	return -1;
}

/* ---- date-time parsing ---- */

struct cur {
	const char *p, *end;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool at(const struct cur *c, char ch)
{
	return c->p < c->end && *c->p == ch;
}

/* Reads between min and max digits (no more may follow). Returns count or -1. */
static int digits(struct cur *c, int min, int max, int *out)
{
	int n = 0, v = 0;

	while (c->p < c->end && is_digit(*c->p)) {
		if (n == max)
			return -1;
		v = v * 10 + (*c->p - '0');
		c->p++;
		n++;
	}
	if (n < min)
		return -1;
	*out = v;
	return n;
}

static const char MSG_FORMAT[] =
	"not a date: use YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS][+HH:MM], "
	"DD.MM.YYYY or a slashed date such as 31/12/2024";
static const char MSG_TIME_FORMAT[] =
	"the time must look like HH:MM or HH:MM:SS";
static const char MSG_TRAILING[] = "unexpected text after the date-time";
static const char MSG_MONTH[] = "the month must be between 1 and 12";
static const char MSG_DAY[] = "that day does not exist in that month";
static const char MSG_FEB29[] =
	"February 29 exists only in leap years";
static const char MSG_HOUR[] =
	"the hour must be between 0 and 23 (24:00 is not accepted; use 00:00 of the next day)";
static const char MSG_MINUTE[] = "the minute must be between 0 and 59";
static const char MSG_SECOND[] =
	"the second must be between 0 and 59 (leap seconds are not accepted)";
static const char MSG_OFFSET[] =
	"the UTC offset must be between -18:00 and +18:00 with minutes below 60";
static const char MSG_OFFSET_FORMAT[] =
	"the UTC offset must look like Z, +HH:MM, +HHMM or +HH";
static const char MSG_AMBIGUOUS[] =
	"ambiguous date: both of the first two parts could be the month; "
	"set date_order to dmy or mdy, or write YYYY-MM-DD";
static const char MSG_NO_MONTH[] =
	"neither of the first two parts of the date can be a month";
static const char MSG_ORDER_YMD[] =
	"with date_order ymd a slashed date must be written YYYY/MM/DD";
static const char MSG_FRAC[] =
	"at most nine digits of fractional seconds are accepted";
static const char MSG_GAP[] =
	"that local time does not exist: the clocks skip it for daylight saving time";

static int fail(const char **msg, const char *text, int code)
{
	if (msg)
		*msg = text;
	return code;
}

static int check_date(int64_t y, int m, int d, const char **msg)
{
	if (m < 1 || m > 12)
		return fail(msg, MSG_MONTH, DT_ERANGE);
	if (d < 1 || d > dt_days_in_month(y, m))
		return fail(msg, m == 2 && d == 29 ? MSG_FEB29 : MSG_DAY, DT_ERANGE);
	return DT_OK;
}

/*
 * HH:MM[:SS] with a 1- or 2-digit hour, and when allow_frac a fraction of
 * up to nine digits after the seconds (dropped). Syntax only: the ranges
 * are checked by check_time once the whole string has been read.
 */
static int parse_time(struct cur *c, bool allow_frac, int hms[3], const char **msg)
{
	int f;

	hms[2] = 0;
	if (digits(c, 1, 2, &hms[0]) < 0 || !at(c, ':'))
		return fail(msg, MSG_TIME_FORMAT, DT_EFORMAT);
	c->p++;
	if (digits(c, 2, 2, &hms[1]) < 0)
		return fail(msg, MSG_TIME_FORMAT, DT_EFORMAT);
	if (at(c, ':')) {
		c->p++;
		if (digits(c, 2, 2, &hms[2]) < 0)
			return fail(msg, MSG_TIME_FORMAT, DT_EFORMAT);
		if (allow_frac && (at(c, '.') || at(c, ','))) {
			c->p++;
			if (digits(c, 1, MAX_FRAC_DIGITS, &f) < 0)
				return fail(msg, MSG_FRAC, DT_EFORMAT);
		}
	}
	return DT_OK;
}

static int check_time(const int hms[3], const char **msg)
{
	if (hms[0] > 23)
		return fail(msg, MSG_HOUR, DT_ERANGE);
	if (hms[1] > 59)
		return fail(msg, MSG_MINUTE, DT_ERANGE);
	if (hms[2] > 59)
		return fail(msg, MSG_SECOND, DT_ERANGE);
	return DT_OK;
}

/* Exactly two digits, whatever follows (for +HHMM). */
static bool two_digits(struct cur *c, int *out)
{
	if (c->end - c->p < 2 || !is_digit(c->p[0]) || !is_digit(c->p[1]))
		return false;
	*out = (c->p[0] - '0') * 10 + (c->p[1] - '0');
	c->p += 2;
	return true;
}

/* Z | z | +HH:MM | -HH:MM | +HHMM | +HH, seconds east. */
static int parse_offset(struct cur *c, int32_t *off, const char **msg)
{
	int sign, h, m = 0;

	if (at(c, 'Z') || at(c, 'z')) {
		c->p++;
		*off = 0;
		return DT_OK;
	}
	sign = *c->p == '-' ? -1 : 1;
	c->p++;
	if (!two_digits(c, &h))
		return fail(msg, MSG_OFFSET_FORMAT, DT_EFORMAT);
	if (at(c, ':')) {
		c->p++;
		if (!two_digits(c, &m))
			return fail(msg, MSG_OFFSET_FORMAT, DT_EFORMAT);
	} else if (c->p < c->end && is_digit(*c->p) && !two_digits(c, &m)) {
		return fail(msg, MSG_OFFSET_FORMAT, DT_EFORMAT);
	}
	if (c->p != c->end)
		return fail(msg, MSG_TRAILING, DT_EFORMAT);
	if (m > 59 || h * 3600 + m * 60 > MAX_OFFSET)
		return fail(msg, MSG_OFFSET, DT_ERANGE);
	*off = sign * (h * 3600 + m * 60);
	return DT_OK;
}

/* Resolves a/b/yyyy into day and month following the rules in datetime.h. */
static int slashed_order(int a, int b, dt_order order, int *day, int *month,
			 const char **msg)
{
	switch (order) {
	case DT_ORDER_DMY:
		*day = a;
		*month = b;
		return DT_OK;
	case DT_ORDER_MDY:
		*month = a;
		*day = b;
		return DT_OK;
	case DT_ORDER_YMD:
		return fail(msg, MSG_ORDER_YMD, DT_EFORMAT);
	case DT_ORDER_NONE:
	default:
		break;
	}
	if (a > 12 && b > 12)
		return fail(msg, MSG_NO_MONTH, DT_ERANGE);
	if (a > 12 || a == b) {
		/* Equal parts read the same either way. */
		*day = a;
		*month = b;
	} else if (b > 12) {
		*month = a;
		*day = b;
	} else if (a == 0 || b == 0) {
		/* Zero is neither a day nor a month, whichever order. */
		return fail(msg, a == 0 ? MSG_DAY : MSG_MONTH, DT_ERANGE);
	} else {
		return fail(msg, MSG_AMBIGUOUS, DT_EAMBIGUOUS);
	}
	return DT_OK;
}

int dt_parse(const char *s, size_t len, dt_order order, dt_parsed *out,
	     const char **msg)
{
	struct cur c = { s, s + len };
	int n1, a, b = 0, y, m = 0, d = 0, rc, hms[3] = { 0, 0, 0 };
	int32_t off = 0;
	bool iso = false, slashed = false, has_time = false, has_off = false;

	while (c.p < c.end && (*c.p == ' ' || *c.p == '\t'))
		c.p++;
	while (c.end > c.p && (c.end[-1] == ' ' || c.end[-1] == '\t'))
		c.end--;

	/* First the syntax, all of it: junk anywhere is a format error. */
	n1 = digits(&c, 1, 4, &a);
	if (n1 < 0 || c.p >= c.end)
		return fail(msg, MSG_FORMAT, DT_EFORMAT);
	if (n1 == 4 && *c.p == '-') {
		/* YYYY-MM-DD */
		iso = true;
		y = a;
		c.p++;
		if (digits(&c, 2, 2, &m) < 0 || !at(&c, '-'))
			return fail(msg, MSG_FORMAT, DT_EFORMAT);
		c.p++;
		if (digits(&c, 2, 2, &d) < 0)
			return fail(msg, MSG_FORMAT, DT_EFORMAT);
	} else if (*c.p == '/' && n1 == 4) {
		/* YYYY/MM/DD cannot be misread, whatever the order. */
		y = a;
		c.p++;
		if (digits(&c, 1, 2, &m) < 0 || !at(&c, '/'))
			return fail(msg, MSG_FORMAT, DT_EFORMAT);
		c.p++;
		if (digits(&c, 1, 2, &d) < 0)
			return fail(msg, MSG_FORMAT, DT_EFORMAT);
	} else if (*c.p == '/' && n1 <= 2) {
		/* a/b/YYYY: which is the day is decided below. */
		slashed = true;
		c.p++;
		if (digits(&c, 1, 2, &b) < 0 || !at(&c, '/'))
			return fail(msg, MSG_FORMAT, DT_EFORMAT);
		c.p++;
		if (digits(&c, 4, 4, &y) < 0)
			return fail(msg, MSG_FORMAT, DT_EFORMAT);
	} else if (*c.p == '.' && n1 <= 2) {
		/* DD.MM.YYYY is always day first. */
		d = a;
		c.p++;
		if (digits(&c, 1, 2, &m) < 0 || !at(&c, '.'))
			return fail(msg, MSG_FORMAT, DT_EFORMAT);
		c.p++;
		if (digits(&c, 4, 4, &y) < 0)
			return fail(msg, MSG_FORMAT, DT_EFORMAT);
	} else {
		return fail(msg, MSG_FORMAT, DT_EFORMAT);
	}

	if (c.p < c.end) {
		if (iso && (*c.p == 'T' || *c.p == 't')) {
			c.p++;
		} else if (*c.p == ' ') {
			while (at(&c, ' '))
				c.p++;
		} else {
			return fail(msg, MSG_TRAILING, DT_EFORMAT);
		}
		rc = parse_time(&c, iso, hms, msg);
		if (rc)
			return rc;
		has_time = true;
		if (iso && (at(&c, 'Z') || at(&c, 'z') || at(&c, '+') || at(&c, '-'))) {
			/* Checks its own range; it is the last thing anyway. */
			rc = parse_offset(&c, &off, msg);
			if (rc)
				return rc;
			has_off = true;
		}
		if (c.p != c.end)
			return fail(msg, MSG_TRAILING, DT_EFORMAT);
	}

	/* Then the meaning. */
	if (slashed) {
		rc = slashed_order(a, b, order, &d, &m, msg);
		if (rc)
			return rc;
	}
	rc = check_date(y, m, d, msg);
	if (rc)
		return rc;
	rc = check_time(hms, msg);
	if (rc)
		return rc;

	out->wall = dt_days_from_civil(y, m, d) * SECS_PER_DAY + hms[0] * 3600 +
		    hms[1] * 60 + hms[2];
	out->has_offset = has_off;
	out->offset = off;
	out->date_only = !has_time;
	return DT_OK;
}

int dt_resolve(const dt_parsed *p, const tz_zone *z, int64_t *utc, bool *overlap)
{
	if (overlap)
		*overlap = false;
	if (p->has_offset || !z) {
		/* Without a zone a wall-clock value can only be read as UTC. */
		*utc = p->wall - (p->has_offset ? p->offset : 0);
		return DT_OK;
	}
	switch (tz_local_to_utc(z, p->wall, utc)) {
	case TZ_LOCAL_GAP:
		return DT_EGAP;
	case TZ_LOCAL_OVERLAP:
		if (overlap)
			*overlap = true;
		return DT_OK;
	case TZ_LOCAL_OK:
	default:
		return DT_OK;
	}
}

int dt_parse_instant(const char *s, dt_order order, const tz_zone *z,
		     int64_t *utc, bool *overlap, const char **msg)
{
	dt_parsed p;
	int rc;

	if (!s)
		return fail(msg, MSG_FORMAT, DT_EFORMAT);
	rc = dt_parse(s, strlen(s), order, &p, msg);
	if (rc)
		return rc;
	rc = dt_resolve(&p, z, utc, overlap);
	if (rc == DT_EGAP)
		return fail(msg, MSG_GAP, rc);
	return rc;
}

int dt_parse_date(const char *s, size_t len, int64_t *days)
{
	struct cur c = { s, s + len };
	int y, m, d;

	if (digits(&c, 4, 4, &y) < 0 || !at(&c, '-'))
		return DT_EFORMAT;
	c.p++;
	if (digits(&c, 2, 2, &m) < 0 || !at(&c, '-'))
		return DT_EFORMAT;
	c.p++;
	if (digits(&c, 2, 2, &d) < 0 || c.p != c.end)
		return DT_EFORMAT;
	if (check_date(y, m, d, NULL))
		return DT_ERANGE;
	*days = dt_days_from_civil(y, m, d);
	return DT_OK;
}

/* ---- formatting ---- */

/* Writes the 19 characters "YYYY-MM-DDTHH:MM:SS" of t (already clamped). */
static void format_wall(int64_t t, char *buf)
{
	int64_t days = floor_div(t, SECS_PER_DAY), y;
	int sod = (int)(t - days * SECS_PER_DAY), m, d, i;
	int f[6];
	static const int width[6] = { 4, 2, 2, 2, 2, 2 };
	static const char sep[6] = { '-', '-', 'T', ':', ':', '\0' };
	char *p = buf;

	dt_civil_from_days(days, &y, &m, &d);
	f[0] = (int)y;
	f[1] = m;
	f[2] = d;
	f[3] = sod / 3600;
	f[4] = sod / 60 % 60;
	f[5] = sod % 60;
	for (i = 0; i < 6; i++) {
		int w = width[i], v = f[i];

		while (w-- > 0) {
			p[w] = (char)('0' + v % 10);
			v /= 10;
		}
		p += width[i];
		if (sep[i])
			*p++ = sep[i];
	}
}

static int64_t clamp_fmt(int64_t t)
{
	return t < FMT_MIN_UTC ? FMT_MIN_UTC : t > FMT_MAX_UTC ? FMT_MAX_UTC : t;
}

void dt_format_utc(int64_t utc, char buf[static 21])
{
	format_wall(clamp_fmt(utc), buf);
	buf[19] = 'Z';
	buf[20] = '\0';
}

void dt_format_local(int64_t utc, const tz_zone *z, char buf[static 26])
{
	int32_t off = z ? tz_offset_at(z, utc, NULL) : 0;
	int32_t a;

	/*
	 * RFC 3339 offsets have no seconds (only old LMT offsets do): round the
	 * offset to the minute and write the wall time with that offset, so
	 * the string still names exactly this instant.
	 */
	off = (int32_t)(floor_div(off + 30, 60) * 60);
	utc = clamp_fmt(utc);
	format_wall(clamp_fmt(utc + off), buf);
	a = off < 0 ? -off : off;
	buf[19] = off < 0 ? '-' : '+';
	buf[20] = (char)('0' + a / 36000);
	buf[21] = (char)('0' + a / 3600 % 10);
	buf[22] = ':';
	buf[23] = (char)('0' + a / 600 % 6);
	buf[24] = (char)('0' + a / 60 % 10);
	buf[25] = '\0';
}

/* ---- durations and intervals ---- */

/* Accumulates decimal digits into *v, failing above max. Returns count or -1. */
static int number(struct cur *c, int64_t max, int64_t *v)
{
	int n = 0;

	*v = 0;
	while (c->p < c->end && is_digit(*c->p)) {
		*v = *v * 10 + (*c->p - '0');
		if (*v > max)
			return -1;
		c->p++;
		n++;
	}
	return n;
}

int dt_parse_hours(const char *s, size_t len, bool decimal_comma, int64_t *seconds)
{
	struct cur c = { s, s + len };
	int64_t h, mi = 0, sec = 0, frac = 0, scale = 1, total;
	int n, nfrac = 0;
	bool neg = false;

	while (c.p < c.end && (*c.p == ' ' || *c.p == '\t'))
		c.p++;
	while (c.end > c.p && (c.end[-1] == ' ' || c.end[-1] == '\t'))
		c.end--;
	if (at(&c, '-') || at(&c, '+'))
		neg = *c.p++ == '-';

	n = number(&c, MAX_HOURS, &h);
	if (n < 0)
		return DT_EFORMAT;
	if (at(&c, ':')) {
		/* h:mm or h:mm:ss, two digits each and below 60 */
		c.p++;
		if (n == 0 || number(&c, 59, &mi) != 2)
			return DT_EFORMAT;
		if (at(&c, ':')) {
			c.p++;
			if (number(&c, 59, &sec) != 2)
				return DT_EFORMAT;
		}
		total = h * 3600 + mi * 60 + sec;
	} else {
		if (at(&c, '.') || (decimal_comma && at(&c, ','))) {
			c.p++;
			while (c.p < c.end && is_digit(*c.p)) {
				if (nfrac == MAX_FRAC_DIGITS)
					return DT_EFORMAT;
				frac = frac * 10 + (*c.p++ - '0');
				scale *= 10;
				nfrac++;
			}
			if (nfrac == 0)
				return DT_EFORMAT;
		} else if (n == 0) {
			return DT_EFORMAT;
		}
		/* Round half up on the exact decimal: frac/scale hours. */
		total = h * 3600 + (frac * 3600 + scale / 2) / scale;
	}
	if (c.p != c.end)
		return DT_EFORMAT;
	*seconds = neg ? -total : total;
	return DT_OK;
}

int dt_parse_interval(const char *s, int64_t *seconds)
{
	struct cur c;
	int64_t v, mult = 1;

	if (!s)
		return DT_EFORMAT;
	c.p = s;
	c.end = s + strlen(s);
	while (c.p < c.end && (*c.p == ' ' || *c.p == '\t'))
		c.p++;
	while (c.end > c.p && (c.end[-1] == ' ' || c.end[-1] == '\t'))
		c.end--;
	if (number(&c, INT64_MAX / 10 - 9, &v) <= 0)
		return DT_EFORMAT;
	if (c.p < c.end) {
		switch (*c.p++) {
		case 's':
		case 'S':
			mult = 1;
			break;
		case 'm':
		case 'M':
			mult = 60;
			break;
		case 'h':
		case 'H':
			mult = 3600;
			break;
		case 'd':
		case 'D':
			mult = SECS_PER_DAY;
			break;
		default:
			return DT_EFORMAT;
		}
		if (c.p != c.end)
			return DT_EFORMAT;
	}
	if (v > INT64_MAX / mult)
		return DT_EFORMAT;
	*seconds = v * mult;
	return DT_OK;
}

int dt_parse_bound(const char *s, const tz_zone *z, bool is_end, int64_t *out, const char **msg)
{
	dt_parsed p;
	int64_t days, utc;
	bool overlap;
	int rc;

	rc = dt_parse(s, strlen(s), DT_ORDER_NONE, &p, msg);
	if (rc)
		return rc;
	if (p.date_only) {
		/* A whole calendar day (2024-01-16, 16.01.2024, 16/01/2024) in zone z. */
		days = p.wall / 86400;
		if (is_end)
			days++;
		tz_local_to_utc(z, days * 86400, &utc);
		*out = utc;
		return DT_OK;
	}
	if ((rc = dt_resolve(&p, z, &utc, &overlap)))
		return rc;
	*out = is_end ? utc + 1 : utc;
	return DT_OK;
}
