/*
 * datetime.h - calendar arithmetic, date-time and duration parsing and
 * formatting. No I/O; time zones come from tz.h.
 *
 * Inside the program an instant is int64 seconds since 1970-01-01T00:00:00Z.
 * A "wall-clock" value is the same count for a local time read as if it were
 * UTC; it only becomes an instant through a zone (dt_resolve).
 */
#ifndef TT_DATETIME_H
#define TT_DATETIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/tz.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (any year). */
int64_t dt_days_from_civil(int64_t y, int m, int d);
void dt_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
bool dt_is_leap(int64_t y);
int dt_days_in_month(int64_t y, int m);

/* Order of the fields in a slashed date such as 03/04/2024. */
typedef enum dt_order {
	DT_ORDER_NONE = 0, /* not given: ambiguous slashed dates are errors */
	DT_ORDER_YMD,
	DT_ORDER_DMY,
	DT_ORDER_MDY,
} dt_order;

/* Parses "ymd", "dmy", "mdy" (any case). Returns 0, or -1 when unknown. */
int dt_order_parse(const char *s, dt_order *out);

typedef struct dt_parsed {
	int64_t wall;       /* wall-clock seconds (see above) */
	bool has_offset;    /* an explicit Z or +HH:MM was given */
	int32_t offset;     /* seconds east of UTC when has_offset */
	bool date_only;     /* no time part: midnight */
} dt_parsed;

enum dt_status {
	DT_OK = 0,
	DT_EFORMAT = -1,    /* not a date-time in any accepted form */
	DT_ERANGE = -2,     /* looks right but does not exist (2024-02-30, 25:00) */
	DT_EAMBIGUOUS = -3, /* slashed date with both parts <= 12 and no order */
	DT_EGAP = -4,       /* wall-clock time skipped by a DST change */
};

/*
 * Parses one date or date-time of s[0..len) (not NUL-terminated; leading and
 * trailing spaces are ignored). Accepted forms:
 *   YYYY-MM-DD
 *   YYYY-MM-DD HH:MM[:SS]          (also with 'T' instead of the space)
 *   YYYY-MM-DDTHH:MM[:SS][.fff][Z|z|+HH:MM|-HH:MM|+HHMM|+HH]  (space too)
 *   DD/MM/YYYY, MM/DD/YYYY, YYYY/MM/DD   each optionally followed by " HH:MM[:SS]"
 *   DD.MM.YYYY [HH:MM[:SS]]
 * Slashed dates: when order is DT_ORDER_NONE the order is inferred only when
 * one part is > 12 (and the year is the 4-digit part); otherwise
 * DT_EAMBIGUOUS. With an order given, a date that does not fit it is
 * DT_ERANGE or DT_EFORMAT. Fractional seconds are dropped (truncated).
 * On failure *msg (may be NULL) receives a static sentence for a person.
 */
int dt_parse(const char *s, size_t len, dt_order order, dt_parsed *out,
	     const char **msg);

/*
 * Turns a parsed value into an instant: the explicit offset when present,
 * else the wall-clock time in zone z. A DST gap is DT_EGAP; an overlap takes
 * the first occurrence and sets *overlap (may be NULL) to true.
 */
int dt_resolve(const dt_parsed *p, const tz_zone *z, int64_t *utc, bool *overlap);

/* Convenience: dt_parse + dt_resolve on a NUL-terminated string. */
int dt_parse_instant(const char *s, dt_order order, const tz_zone *z,
		     int64_t *utc, bool *overlap, const char **msg);

/*
 * A filter bound: "YYYY-MM-DD" is a calendar day in zone z (a start bound is
 * that day's first instant; an end bound is inclusive, so the first instant
 * of the next day, exclusive), anything else a date-time (an end bound then
 * includes that second). *out is the instant; bounds are start <= t < end.
 * Midnight in a DST gap starts the day at the transition.
 */
int dt_parse_bound(const char *s, const tz_zone *z, bool is_end, int64_t *out, const char **msg);

/* Parses exactly "YYYY-MM-DD" into days since the epoch; validates the day. */
int dt_parse_date(const char *s, size_t len, int64_t *days);

/* Writes "YYYY-MM-DDTHH:MM:SSZ" (20 chars + NUL) into buf[21]. */
void dt_format_utc(int64_t utc, char buf[static 21]);

/* Writes "YYYY-MM-DDTHH:MM:SS+HH:MM" (25 chars + NUL) for z into buf[26]. */
void dt_format_local(int64_t utc, const tz_zone *z, char buf[static 26]);

/*
 * Parses a duration in hours: "1.5", "1,5" (only when decimal_comma is
 * true), "1:30", "1:30:00", "2" ; spaces around are ignored. The result is
 * rounded to the nearest second (2.07 h = 7452 s, not 7451). Negative values
 * are parsed (callers decide whether they are allowed). Returns 0 or
 * DT_EFORMAT.
 */
int dt_parse_hours(const char *s, size_t len, bool decimal_comma, int64_t *seconds);

/*
 * Parses an interval setting such as "7d", "1h", "30m", "45s" or a bare
 * number of seconds. Returns 0 or DT_EFORMAT (negative, overflow, junk).
 */
int dt_parse_interval(const char *s, int64_t *seconds);

#endif
