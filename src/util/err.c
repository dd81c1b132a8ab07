/*
 * err.c - filling and mapping tt_error records (see err.h).
 */
#include "util/err.h"

#include <stdio.h>
#include <string.h>

void tt_error_init(tt_error *e)
{
	memset(e, 0, sizeof(*e));
}

int tt_error_vset(tt_error *e, int rc, const char *code, const char *field,
		  const char *fmt, va_list ap)
{
	if (!e)
		return rc;
	e->rc = rc;
	snprintf(e->code, sizeof(e->code), "%s", code ? code : tt_rc_code(rc));
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return rc;
}

int tt_error_set(tt_error *e, int rc, const char *code, const char *field,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tt_error_vset(e, rc, code, field, fmt, ap);
	va_end(ap);
	return rc;
}

const char *tt_rc_code(int rc)
{
	switch (rc) {
	case TT_OK: return "ok";
	case TT_EINVAL: return "invalid_input";
	case TT_ENOTFOUND: return "not_found";
	case TT_ECONFLICT: return "conflict";
	case TT_ETOOBIG: return "too_large";
	case TT_EAUTH: return "unauthorized";
	case TT_EFORBIDDEN: return "forbidden";
	case TT_ETHROTTLED: return "too_many_attempts";
	case TT_EBUSY: return "unavailable";
	case TT_EGONE: return "expired";
	case TT_ENOMEM: return "out_of_memory";
	default: return "internal_error";
	}
}

int tt_rc_http_status(int rc)
{
	switch (rc) {
	case TT_OK: return 200;
	case TT_EINVAL: return 400;
	case TT_ENOTFOUND: return 404;
	case TT_ECONFLICT: return 409;
	case TT_ETOOBIG: return 413;
	case TT_EAUTH: return 401;
	case TT_EFORBIDDEN: return 403;
	case TT_ETHROTTLED: return 429;
	case TT_EBUSY: return 503;
	case TT_EGONE: return 410;
	default: return 500;
	}
}
