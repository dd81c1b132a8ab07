/*
 * tz.c - IANA time zones read from the system's TZif files (RFC 8536).
 *
 * A zone is loaded once per name into a process-wide cache and is immutable
 * afterwards, so lookups need no lock. The loader trusts nothing in the
 * file: every count is capped before anything is allocated, every index is
 * range-checked and a file that fails any check yields NULL. Version 2+
 * files are read through their 64-bit block; instants after the last stored
 * transition (or all instants, when there is none) follow the POSIX TZ rule
 * in the footer. The Gregorian calendar repeats exactly every 400 years, so
 * the rule is evaluated on the instant reduced into one 400-year cycle: that
 * keeps the arithmetic far from overflow for any int64 instant.
 */
#include "core/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_NAME_MAX 255
#define TZ_FILE_MAX (1 << 20)   /* real TZif files are a few KiB */
#define TZ_HEADER_LEN 44
#define TZ_MAX_TIMES (1 << 16)  /* tzcode allows 2000; be generous */
#define TZ_MAX_TYPES 256        /* indices are one byte */
#define TZ_MAX_CHARS (1 << 12)
#define TZ_MAX_LEAPS (1 << 12)
#define TZ_OFF_LIMIT (26 * 3600) /* RFC 8536: -89999..93599 */
#define TZ_FOOTER_MAX 255
#define SECS_PER_DAY 86400
#define CYCLE_DAYS 146097 /* days in 400 Gregorian years (a whole number of weeks) */
#define CYCLE_SECS ((int64_t)CYCLE_DAYS * SECS_PER_DAY)

struct tz_type {
	int32_t utoff;
	int isdst;
};

enum rule_kind {
	RULE_JULIAN1, /* Jn: 1..365, February 29 never counted */
	RULE_JULIAN0, /* n: 0..365, February 29 counted */
	RULE_MWD,     /* Mm.w.d: day d of week w (5 = last) of month m */
};

struct rule_date {
	enum rule_kind kind;
	int day;      /* Jn / n, or the weekday (0 = Sunday) for Mm.w.d */
	int week;
	int month;
	int32_t time; /* seconds after local midnight, -167h..167h */
};

struct tz_rule {
	int32_t std_off; /* seconds east, like utoff */
	int32_t dst_off;
	bool has_dst;
	struct rule_date start, end;
};

struct tz_zone {
	char *name;
	size_t ntrans;
	int64_t *trans;     /* strictly ascending */
	uint8_t *trans_idx; /* type index per transition, < ntypes */
	size_t ntypes;
	struct tz_type *types;
	bool has_rule;
	struct tz_rule rule;
	size_t noffs;
	int32_t *offs;      /* distinct offsets of types and rule */
	int32_t min_off, max_off;
};

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static char *tz_dir;            /* NULL: $TZDIR or the default */
static tz_zone **tz_cache;
static size_t tz_ncache, tz_capcache;

/* ---- calendar helpers (Howard Hinnant's algorithms) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* For b > 0; never overflows, even for INT64_MIN. */
static int64_t floor_mod(int64_t a, int64_t b)
{
	int64_t r = a % b;

	return r < 0 ? r + b : r;
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Only called with the small years of one 400-year cycle. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * CYCLE_DAYS + doe - 719468;
}

static int64_t year_from_days(int64_t z)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, CYCLE_DAYS);
	doe = z - era * CYCLE_DAYS;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	return yoe + era * 400 + (mp >= 10);
}

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* ---- POSIX TZ rule (the footer) ---- */

/* Reads 1..3 digits into [lo, hi]. */
static bool rule_num(const char **pp, int lo, int hi, int *out)
{
	const char *p = *pp;
	int v = 0, n = 0;

	while (*p >= '0' && *p <= '9' && n < 3) {
		v = v * 10 + (*p - '0');
		p++;
		n++;
	}
	if (n == 0 || v < lo || v > hi || (*p >= '0' && *p <= '9'))
		return false;
	*pp = p;
	*out = v;
	return true;
}

/* [+-]hh[:mm[:ss]] with hh <= maxh; the result carries the sign. */
static bool rule_time(const char **pp, int maxh, int32_t *out)
{
	const char *p = *pp;
	int sign = 1, h, m = 0, s = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (!rule_num(&p, 0, maxh, &h))
		return false;
	if (*p == ':') {
		p++;
		if (!rule_num(&p, 0, 59, &m))
			return false;
		if (*p == ':') {
			p++;
			if (!rule_num(&p, 0, 59, &s))
				return false;
		}
	}
	*pp = p;
	*out = sign * (h * 3600 + m * 60 + s);
	return true;
}

static bool rule_name(const char **pp)
{
	const char *p = *pp;
	size_t n = 0;

	if (*p == '<') {
		for (p++; *p && *p != '>'; p++, n++)
			if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			      (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
				return false;
		if (*p != '>' || n < 3)
			return false;
		p++;
	} else {
		while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
			p++;
			n++;
		}
		if (n < 3)
			return false;
	}
	*pp = p;
	return true;
}

static bool rule_date(const char **pp, struct rule_date *d)
{
	const char *p = *pp;

	memset(d, 0, sizeof(*d));
	if (*p == 'J') {
		p++;
		d->kind = RULE_JULIAN1;
		if (!rule_num(&p, 1, 365, &d->day))
			return false;
	} else if (*p == 'M') {
		p++;
		d->kind = RULE_MWD;
		if (!rule_num(&p, 1, 12, &d->month) || *p++ != '.' ||
		    !rule_num(&p, 1, 5, &d->week) || *p++ != '.' ||
		    !rule_num(&p, 0, 6, &d->day))
			return false;
	} else {
		d->kind = RULE_JULIAN0;
		if (!rule_num(&p, 0, 365, &d->day))
			return false;
	}
	d->time = 2 * 3600;
	if (*p == '/') {
		p++;
		if (!rule_time(&p, 167, &d->time))
			return false;
	}
	*pp = p;
	return true;
}

/*
 * Parses a NUL-terminated TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3".
 * POSIX offsets are west-positive; they are stored east-positive.
 */
static int rule_parse(const char *s, struct tz_rule *r)
{
	const char *p = s;
	int32_t off;

	memset(r, 0, sizeof(*r));
	if (!rule_name(&p) || !rule_time(&p, 24, &off))
		return -1;
	r->std_off = -off;
	r->dst_off = r->std_off;
	if (!*p)
		return 0;
	if (!rule_name(&p))
		return -1;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (*p && *p != ',') {
		if (!rule_time(&p, 24, &off))
			return -1;
		r->dst_off = -off;
	}
	if (!*p) {
		/* No dates: tzcode's default, the US rules since 2007. */
		r->start = (struct rule_date){ RULE_MWD, 0, 2, 3, 2 * 3600 };
		r->end = (struct rule_date){ RULE_MWD, 0, 1, 11, 2 * 3600 };
		return 0;
	}
	if (*p++ != ',' || !rule_date(&p, &r->start) || *p++ != ',' ||
	    !rule_date(&p, &r->end) || *p)
		return -1;
	return 0;
}

/* Days since the epoch of the rule's date in year y. */
static int64_t rule_day(const struct rule_date *d, int64_t y)
{
	int64_t first;
	int wd, md;

	switch (d->kind) {
	case RULE_JULIAN1:
		return days_from_civil(y, 1, 1) + d->day - 1 +
		       (is_leap(y) && d->day >= 60);
	case RULE_JULIAN0:
		return days_from_civil(y, 1, 1) + d->day;
	case RULE_MWD:
	default:
		first = days_from_civil(y, d->month, 1);
		wd = (int)floor_mod(first + 4, 7); /* 1970-01-01 was a Thursday */
		md = 1 + (d->day - wd + 7) % 7 + (d->week - 1) * 7;
		while (md > days_in_month(y, d->month))
			md -= 7;
		return first + md - 1;
	}
}

static int32_t rule_offset(const struct tz_rule *r, int64_t t, int *is_dst)
{
	int64_t y, yy, best = INT64_MIN;
	int dst = 0;

	if (!r->has_dst) {
		*is_dst = 0;
		return r->std_off;
	}
	t = floor_mod(t, CYCLE_SECS);
	y = year_from_days(floor_div(t, SECS_PER_DAY));
	/*
	 * Transition times may lie up to a week outside their year, so take
	 * the latest of the surrounding years' transitions not after t. Those
	 * of y-2 are always before t, so one is always found.
	 */
	for (yy = y - 2; yy <= y + 1; yy++) {
		int64_t s = rule_day(&r->start, yy) * SECS_PER_DAY + r->start.time - r->std_off;
		int64_t e = rule_day(&r->end, yy) * SECS_PER_DAY + r->end.time - r->dst_off;

		if (s <= t && s >= best) {
			best = s;
			dst = 1;
		}
		if (e <= t && e >= best) {
			best = e;
			dst = 0;
		}
	}
	*is_dst = dst;
	return dst ? r->dst_off : r->std_off;
}

/* ---- TZif reader ---- */

struct rd {
	const unsigned char *p;
	size_t left;
};

static const unsigned char *rd_take(struct rd *r, size_t n)
{
	const unsigned char *p = r->p;

	if (n > r->left)
		return NULL;
	r->p += n;
	r->left -= n;
	return p;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_hdr {
	int version;
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int read_header(struct rd *r, struct tzif_hdr *h)
{
	const unsigned char *b = rd_take(r, TZ_HEADER_LEN);

	if (!b || memcmp(b, "TZif", 4) != 0)
		return -1;
	if (b[4] == 0)
		h->version = 1;
	else if (b[4] >= '2' && b[4] <= '9')
		h->version = b[4] - '0';
	else
		return -1;
	h->isutcnt = be32(b + 20);
	h->isstdcnt = be32(b + 24);
	h->leapcnt = be32(b + 28);
	h->timecnt = be32(b + 32);
	h->typecnt = be32(b + 36);
	h->charcnt = be32(b + 40);
	if (h->typecnt == 0 || h->typecnt > TZ_MAX_TYPES || h->charcnt == 0 ||
	    h->charcnt > TZ_MAX_CHARS || h->timecnt > TZ_MAX_TIMES ||
	    h->leapcnt > TZ_MAX_LEAPS ||
	    (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
	    (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
		return -1;
	return 0;
}

/* Bytes of the data block after a header; the counts are already capped. */
static size_t block_len(const struct tzif_hdr *h, size_t tsize)
{
	return (size_t)h->timecnt * tsize + h->timecnt + (size_t)h->typecnt * 6 +
	       h->charcnt + (size_t)h->leapcnt * (tsize + 4) + h->isstdcnt +
	       h->isutcnt;
}

/* Reads one data block into z (transitions and types). */
static int read_block(struct rd *r, const struct tzif_hdr *h, size_t tsize,
		      tz_zone *z)
{
	const unsigned char *b, *tt, *ti, *ty, *flags;
	size_t i;

	b = rd_take(r, block_len(h, tsize));
	if (!b)
		return -1;
	/*
	 * Leap-second ("right/") zones count leap seconds in their
	 * timestamps; our instants are POSIX time, so refuse them rather than
	 * be wrong by half a minute.
	 */
	if (h->leapcnt != 0)
		return -1;
	tt = b;
	ti = tt + (size_t)h->timecnt * tsize;
	ty = ti + h->timecnt;
	flags = ty + (size_t)h->typecnt * 6 + h->charcnt;
	for (i = 0; i < (size_t)h->isstdcnt + h->isutcnt; i++)
		if (flags[i] > 1)
			return -1;

	z->ntrans = h->timecnt;
	z->trans = xcalloc(h->timecnt, sizeof(*z->trans));
	z->trans_idx = xcalloc(h->timecnt, 1);
	for (i = 0; i < h->timecnt; i++) {
		z->trans[i] = tsize == 8 ? be64(tt + i * 8) : (int32_t)be32(tt + i * 4);
		if (i > 0 && z->trans[i] <= z->trans[i - 1])
			return -1;
		if (ti[i] >= h->typecnt)
			return -1;
		z->trans_idx[i] = ti[i];
	}
	z->ntypes = h->typecnt;
	z->types = xcalloc(h->typecnt, sizeof(*z->types));
	for (i = 0; i < h->typecnt; i++) {
		const unsigned char *e = ty + i * 6;
		int32_t off = (int32_t)be32(e);

		if (off < -TZ_OFF_LIMIT || off > TZ_OFF_LIMIT || e[4] > 1 ||
		    e[5] >= h->charcnt)
			return -1;
		z->types[i].utoff = off;
		z->types[i].isdst = e[4];
	}
	return 0;
}

static void zone_free(tz_zone *z)
{
	if (!z)
		return;
	free(z->name);
	free(z->trans);
	free(z->trans_idx);
	free(z->types);
	free(z->offs);
	free(z);
}

static void add_off(tz_zone *z, int32_t off)
{
	size_t i;

	for (i = 0; i < z->noffs; i++)
		if (z->offs[i] == off)
			return;
	z->offs[z->noffs++] = off;
	if (off < z->min_off)
		z->min_off = off;
	if (off > z->max_off)
		z->max_off = off;
}

/* Parses a whole TZif image. Returns NULL when it is malformed. */
static tz_zone *zone_parse(const unsigned char *buf, size_t len)
{
	struct rd r = { buf, len };
	struct tzif_hdr h;
	tz_zone *z = xcalloc(1, sizeof(*z));
	const unsigned char *nl;
	char footer[TZ_FOOTER_MAX + 1];
	size_t flen, i;

	if (read_header(&r, &h) < 0)
		goto bad;
	if (h.version >= 2) {
		/* Skip the 32-bit block: the 64-bit one says everything. */
		if (!rd_take(&r, block_len(&h, 4)) || read_header(&r, &h) < 0 ||
		    h.version < 2 || read_block(&r, &h, 8, z) < 0)
			goto bad;
		/* Footer: "\n" TZ-string "\n". */
		if (!rd_take(&r, 1) || r.p[-1] != '\n')
			goto bad;
		nl = memchr(r.p, '\n', r.left);
		if (!nl)
			goto bad;
		flen = (size_t)(nl - r.p);
		if (flen > TZ_FOOTER_MAX || memchr(r.p, '\0', flen))
			goto bad;
		memcpy(footer, r.p, flen);
		footer[flen] = '\0';
		if (flen > 0) {
			if (rule_parse(footer, &z->rule) < 0)
				goto bad;
			if (z->rule.std_off < -TZ_OFF_LIMIT || z->rule.std_off > TZ_OFF_LIMIT ||
			    z->rule.dst_off < -TZ_OFF_LIMIT || z->rule.dst_off > TZ_OFF_LIMIT)
				goto bad;
			z->has_rule = true;
		}
	} else if (read_block(&r, &h, 4, z) < 0) {
		goto bad;
	}

	z->offs = xcalloc(z->ntypes + 2, sizeof(*z->offs));
	z->min_off = INT32_MAX;
	z->max_off = INT32_MIN;
	for (i = 0; i < z->ntypes; i++)
		add_off(z, z->types[i].utoff);
	if (z->has_rule) {
		add_off(z, z->rule.std_off);
		add_off(z, z->rule.dst_off);
	}
	return z;
bad:
	zone_free(z);
	return NULL;
}

static bool name_ok(const char *name)
{
	size_t n, i;

	if (!name)
		return false;
	n = strlen(name);
	if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/')
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '+' ||
		      c == '-'))
			return false;
		/* '.' is not allowed at all, so ".." cannot occur; no "//" either. */
		if (c == '/' && name[i + 1] == '/')
			return false;
	}
	return true;
}

/* Reads a regular file of at most TZ_FILE_MAX bytes. */
static unsigned char *read_file(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < TZ_HEADER_LEN ||
	    st.st_size > TZ_FILE_MAX)
		goto out;
	buf = xmalloc((size_t)st.st_size);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			buf = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	*len = got;
out:
	close(fd);
	return buf;
}

static tz_zone *zone_load(const char *name)
{
	const char *dir = tz_dir;
	unsigned char *buf;
	char *path;
	size_t len = 0;
	tz_zone *z;

	if (!dir) {
		dir = getenv("TZDIR");
		if (!dir || !*dir)
			dir = TZ_DEFAULT_DIR;
	}
	path = xasprintf("%s/%s", dir, name);
	buf = read_file(path, &len);
	free(path);
	if (!buf)
		return NULL;
	z = zone_parse(buf, len);
	free(buf);
	if (z)
		z->name = xstrdup(name);
	return z;
}

/* ---- public interface ---- */

void tz_set_dir(const char *dir)
{
	pthread_mutex_lock(&tz_lock);
	free(tz_dir);
	tz_dir = dir ? xstrdup(dir) : NULL;
	pthread_mutex_unlock(&tz_lock);
}

const tz_zone *tz_get(const char *name)
{
	tz_zone *z = NULL;
	size_t i;

	if (!name_ok(name))
		return NULL;
	pthread_mutex_lock(&tz_lock);
	for (i = 0; i < tz_ncache; i++) {
		if (strcmp(tz_cache[i]->name, name) == 0) {
			z = tz_cache[i];
			goto out;
		}
	}
	/* Loading under the lock keeps one copy per name; it happens once. */
	z = zone_load(name);
	if (!z)
		goto out;
	if (tz_ncache == tz_capcache) {
		tz_capcache = tz_capcache ? tz_capcache * 2 : 16;
		tz_cache = xrealloc(tz_cache, tz_capcache * sizeof(*tz_cache));
	}
	tz_cache[tz_ncache++] = z;
out:
	pthread_mutex_unlock(&tz_lock);
	return z;
}

bool tz_is_valid(const char *name)
{
	return tz_get(name) != NULL;
}

const char *tz_name(const tz_zone *z)
{
	return z->name;
}

int32_t tz_offset_at(const tz_zone *z, int64_t utc, int *is_dst)
{
	const struct tz_type *t;
	size_t lo, hi;
	int dst;
	int32_t off;

	if (z->ntrans == 0 || utc > z->trans[z->ntrans - 1]) {
		if (z->has_rule) {
			off = rule_offset(&z->rule, utc, &dst);
			if (is_dst)
				*is_dst = dst;
			return off;
		}
		t = z->ntrans ? &z->types[z->trans_idx[z->ntrans - 1]] : &z->types[0];
	} else if (utc < z->trans[0]) {
		t = &z->types[0];
	} else {
		/* Largest i with trans[i] <= utc; trans[lo] <= utc < trans[hi]. */
		lo = 0;
		hi = z->ntrans;
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;

			if (z->trans[mid] <= utc)
				lo = mid;
			else
				hi = mid;
		}
		t = &z->types[z->trans_idx[lo]];
	}
	if (is_dst)
		*is_dst = t->isdst;
	return t->utoff;
}

int64_t tz_utc_to_local(const tz_zone *z, int64_t utc)
{
	return sat_add(utc, tz_offset_at(z, utc, NULL));
}

enum tz_local_kind tz_local_to_utc(const tz_zone *z, int64_t local, int64_t *utc)
{
	int64_t first = INT64_MAX, lo, hi;
	size_t i, found = 0;

	/*
	 * Every instant u whose local time is `local` has u = local - off(u),
	 * and off(u) is one of the zone's offsets: trying each finds all of
	 * them, whatever the transitions look like.
	 */
	for (i = 0; i < z->noffs; i++) {
		int64_t u = sat_sub(local, z->offs[i]);

		if (tz_offset_at(z, u, NULL) == z->offs[i]) {
			found++;
			if (u < first)
				first = u;
		}
	}
	if (found) {
		*utc = first;
		return found == 1 ? TZ_LOCAL_OK : TZ_LOCAL_OVERLAP;
	}

	/*
	 * A gap. With f(u) = u + off(u), f(lo) < local < f(hi) at the window's
	 * ends (equality would be a solution); bisect to the transition that
	 * jumps over local and take the offset before it.
	 */
	lo = sat_sub(local, z->max_off);
	hi = sat_sub(local, z->min_off);
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		if (sat_add(mid, tz_offset_at(z, mid, NULL)) < local)
			lo = mid;
		else
			hi = mid;
	}
	*utc = sat_sub(local, tz_offset_at(z, lo, NULL));
	return TZ_LOCAL_GAP;
}

void tz_cache_free(void)
{
	size_t i;

	pthread_mutex_lock(&tz_lock);
	for (i = 0; i < tz_ncache; i++)
		zone_free(tz_cache[i]);
	free(tz_cache);
	tz_cache = NULL;
	tz_ncache = tz_capcache = 0;
	pthread_mutex_unlock(&tz_lock);
}
