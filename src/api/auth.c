/*
 * auth.c - handlers for sign-in and sign-out, the current user, API tokens
 * and (for admins) users. The rules live in auth/auth.c; this file only
 * translates HTTP to those calls and back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/input.h"
#include "auth/auth.h"
#include "core/datetime.h"
#include "util/config.h"
#include "util/crypto.h"

json_t *api_time(int64_t t)
{
	char buf[21];

	if (!t)
		return json_null();
	dt_format_utc(t, buf);
	return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

json_t *api_user(const user_rec *u)
{
	return json_pack("{s:I, s:s, s:o, s:o, s:b, s:s, s:s, s:b, s:o, s:o}", "id", (json_int_t)u->id,
			 "username", u->username, "email", str_or_null(u->email), "full_name",
			 str_or_null(u->full_name), "is_admin", u->is_admin, "role",
			 u->is_admin ? "admin" : "user", "timezone", u->timezone, "is_active",
			 u->is_active, "created_at", api_time(u->created_at), "last_login_at",
			 api_time(u->last_login_at));
}

/* A redirect target is only followed when it is a path on this site. */
static const char *safe_next(const char *next)
{
	if (!next || next[0] != '/' || next[1] == '/')
		return "/";
	/*
	 * No control characters (browsers drop TAB and newlines, turning
	 * "/\t/evil" into "//evil") and no backslash (read as a slash).
	 */
	for (const unsigned char *p = (const unsigned char *)next; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			return "/";
	return next;
}

static void set_session_cookie(http_req *req, const char *value, int64_t max_age)
{
	http_add_header(req, "Set-Cookie",
			http_printf(req, "session=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%lld%s",
				    value, (long long)max_age, cfg.cookie_secure ? "; Secure" : ""));
}

void h_login(http_req *req)
{
	static const char *const keys[] = { "username", "password", "next", NULL };
	const char *username = NULL, *password = NULL, *next = NULL;
	auth_login_result res;
	tt_error err;
	int rc;

	tt_error_init(&err);
	if (req->is_form) {
		username = http_form(req, "username");
		password = http_form(req, "password");
		next = http_form(req, "next");
	} else if ((rc = in_only_keys(req->json, keys, &err)) ||
		   (rc = in_string(req->json, "username", true, 200, &username, &err)) ||
		   (rc = in_string(req->json, "password", true, AUTH_PASSWORD_MAX, &password, &err)) ||
		   (rc = in_string(req->json, "next", false, 2000, &next, &err))) {
		http_reply_tt_error(req, &err);
		return;
	}
	rc = auth_login(req->db, username ? username : "", password ? password : "", req->ip,
			http_header(req, "User-Agent"), &res, &err);
	if (rc) {
		if (rc == TT_ETHROTTLED)
			http_add_header(req, "Retry-After", http_printf(req, "%d", res.retry_after));
		if (req->is_form && (rc == TT_EAUTH || rc == TT_ETHROTTLED)) {
			http_redirect(req, 303,
				      http_printf(req, "/login?error=%s&next=%s",
						  rc == TT_ETHROTTLED ? "throttled" : "1",
						  http_urlencode(req, safe_next(next))));
			return;
		}
		http_reply_tt_error(req, &err);
		return;
	}
	set_session_cookie(req, res.session_token, cfg.session_ttl);
	crypto_wipe(res.session_token, sizeof(res.session_token));
	if (req->is_form) {
		http_redirect(req, 303, safe_next(next));
		return;
	}
	http_reply_json(req, 200,
			json_pack("{s:b, s:o, s:s}", "success", 1, "user", api_user(&res.user),
				  "csrf_token", res.csrf_token));
}

void h_logout(http_req *req)
{
	tt_error err;

	tt_error_init(&err);
	if (req->via == AUTH_COOKIE && auth_logout(req->db, req->session.id, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	set_session_cookie(req, "", 0);
	if (req->is_form) {
		http_redirect(req, 303, "/login");
		return;
	}
	http_reply_json(req, 200, json_pack("{s:b}", "success", 1));
}

void h_me(http_req *req)
{
	json_t *o = api_user(&req->user);

	json_object_set_new(o, "csrf_token", req->via == AUTH_COOKIE
						     ? json_string(req->session.csrf_token)
						     : json_null());
	json_object_set_new(o, "auth", json_string(req->via == AUTH_COOKIE ? "session" : "token"));
	http_reply_json(req, 200, o);
}

void h_tokens_create(http_req *req)
{
	static const char *const keys[] = { "name", NULL };
	char token[AUTH_API_TOKEN_SIZE];
	const char *name;
	tt_error err;
	int64_t id;

	tt_error_init(&err);
	if (in_only_keys(req->json, keys, &err) ||
	    in_string(req->json, "name", true, 100, &name, &err) ||
	    auth_token_create(req->db, req->user.id, name, &id, token, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	http_reply_json(req, 201,
			json_pack("{s:b, s:I, s:s, s:s, s:s}", "success", 1, "id", (json_int_t)id,
				  "name", name, "token", token, "prefix", http_printf(req, "%.9s", token)));
	crypto_wipe(token, sizeof(token));
}

void h_tokens_list(http_req *req)
{
	token_rec *list;
	size_t n;
	tt_error err;
	json_t *arr;

	tt_error_init(&err);
	if (tokens_list(req->db, req->user.id, &list, &n, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
			arr, json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)list[i].id,
				       "name", list[i].name, "prefix", list[i].prefix, "created_at",
				       api_time(list[i].created_at), "last_used_at",
				       api_time(list[i].last_used_at), "revoked_at",
				       api_time(list[i].revoked_at)));
	free(list);
	http_reply_json(req, 200, json_pack("{s:o}", "tokens", arr));
}

void h_tokens_revoke(http_req *req)
{
	tt_error err;

	tt_error_init(&err);
	if (tokens_revoke(req->db, req->params[0], req->user.is_admin ? 0 : req->user.id, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	http_reply_json(req, 200, json_pack("{s:b}", "success", 1));
}

void h_users_list(http_req *req)
{
	user_rec *list;
	size_t n;
	tt_error err;
	json_t *arr;

	tt_error_init(&err);
	if (users_list(req->db, &list, &n, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, api_user(&list[i]));
	free(list);
	http_reply_json(req, 200, json_pack("{s:o, s:I}", "users", arr, "total", (json_int_t)n));
}

void h_users_create(http_req *req)
{
	static const char *const keys[] = { "username", "password", "email", "full_name",
					    "role", "timezone", NULL };
	auth_user_params p = { 0 };
	const char *role = NULL;
	user_rec u;
	tt_error err;
	int64_t id;

	tt_error_init(&err);
	if (in_only_keys(req->json, keys, &err) ||
	    in_string(req->json, "username", true, 80, &p.username, &err) ||
	    in_string(req->json, "password", true, AUTH_PASSWORD_MAX, &p.password, &err) ||
	    in_string(req->json, "email", false, 254, &p.email, &err) ||
	    in_string(req->json, "full_name", false, 200, &p.full_name, &err) ||
	    in_string(req->json, "role", false, 10, &role, &err) ||
	    in_string(req->json, "timezone", false, 64, &p.timezone, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	if (role && strcmp(role, "admin") && strcmp(role, "user")) {
		http_reply_error(req, 400, "invalid_field", "role", "role must be \"admin\" or \"user\"");
		return;
	}
	p.is_admin = role && !strcmp(role, "admin");
	if (auth_user_create(req->db, &p, &id, &err) || users_get(req->db, id, &u, &err)) {
		http_reply_tt_error(req, &err);
		return;
	}
	http_reply_json(req, 201, api_user(&u));
}
