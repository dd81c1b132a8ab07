/*
 * history.c (api) - paging and scope of the import and export histories
 * (see api_history_scope in api.h).
 */
#include <string.h>

#include "api/api.h"
#include "api/input.h"

int api_history_scope(http_req *req, bool admin_all_default, const char *what, int64_t *limit,
		      int64_t *offset, int64_t *user_id)
{
	const char *v;
	tt_error err;

	tt_error_init(&err);
	*limit = 20;
	*offset = 0;
	*user_id = req->user.id;
	if (((v = http_query(req, "limit")) && q_int("limit", v, 1, 100, limit, &err)) ||
	    ((v = http_query(req, "offset")) && q_int("offset", v, 0, INT64_MAX / 2, offset, &err)) ||
	    ((v = http_query(req, "user_id")) && q_int("user_id", v, 1, INT64_MAX, user_id, &err))) {
		http_reply_tt_error(req, &err);
		return -1;
	}
	if (http_query(req, "user_id")) {
		if (*user_id != req->user.id && !req->user.is_admin) {
			http_reply_error(req, 403, "forbidden", "user_id",
					 "only administrators may see other users' %s", what);
			return -1;
		}
	} else if (req->user.is_admin) {
		v = http_query(req, "all");
		if (admin_all_default ? !(v && !strcmp(v, "false")) : (v && !strcmp(v, "true")))
			*user_id = 0; /* everyone's */
	}
	return 0;
}
