/*
 * err.h - result codes and the error record every layer fills in.
 *
 * Convention for the whole code base: functions return 0 on success and a
 * negative TT_E* code on failure. Detail (which field, which row, a sentence
 * for a person) travels in a caller-owned tt_error; deep code never prints.
 * The HTTP edge renders a tt_error as {success:false, error, code}.
 */
#ifndef TT_ERR_H
#define TT_ERR_H

#include <stdarg.h>

enum tt_rc {
	TT_OK = 0,
	TT_EINVAL = -1,    /* bad input: 400 */
	TT_ENOTFOUND = -2, /* unknown or not yours: 404 */
	TT_ECONFLICT = -3, /* conflict / not ready: 409 */
	TT_ETOOBIG = -4,   /* too large: 413 */
	TT_EAUTH = -5,     /* not signed in / bad credentials: 401 */
	TT_EFORBIDDEN = -6,/* signed in but not allowed: 403 */
	TT_ETHROTTLED = -7,/* too many attempts: 429 */
	TT_EBUSY = -8,     /* database busy / locked / unavailable: 503 */
	TT_EIO = -9,       /* I/O or database failure: 500 */
	TT_ENOMEM = -10,
	TT_EINTERNAL = -11,
	TT_EGONE = -12,    /* expired: 410 */
};

typedef struct tt_error {
	int rc;            /* one of enum tt_rc; 0 when no error recorded */
	char code[48];     /* machine code, e.g. "invalid_field", "not_found" */
	char field[64];    /* offending field or column, "" when none */
	char msg[512];     /* a sentence for a person; never contains secrets */
	long row;          /* 1-based data row for row errors, 0 otherwise */
	long line;         /* physical line, 0 otherwise */
} tt_error;

void tt_error_init(tt_error *e);

/*
 * Records an error and returns rc so callers can write
 *   return tt_error_set(err, TT_EINVAL, "invalid_field", "start_time", "...");
 * err may be NULL (the detail is then dropped). field may be NULL.
 */
int tt_error_set(tt_error *e, int rc, const char *code, const char *field,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int tt_error_vset(tt_error *e, int rc, const char *code, const char *field,
		  const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

/* Default machine code and HTTP status for a result code. */
const char *tt_rc_code(int rc);
int tt_rc_http_status(int rc);

#endif
