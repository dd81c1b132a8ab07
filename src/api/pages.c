/*
 * pages.c - the HTML pages served before the web UI lands (a sign-in form
 * and a minimal home page), and the health check. Pages carry no inline
 * script, so the strict Content-Security-Policy holds.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/alloc.h"

#define PAGE_HEAD \
	"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">" \
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" \
	"<title>%s - TimeTracker</title></head><body>"

/* Escapes s for HTML text and attribute values into a request-owned string. */
static char *esc(http_req *req, const char *s)
{
	size_t n = 0;
	char *out, *p;

	for (const char *q = s; *q; q++)
		n += 6;
	p = out = http_alloc(req, n + 1);
	for (; *s; s++) {
		switch (*s) {
		case '<': memcpy(p, "&lt;", 4); p += 4; break;
		case '>': memcpy(p, "&gt;", 4); p += 4; break;
		case '&': memcpy(p, "&amp;", 5); p += 5; break;
		case '"': memcpy(p, "&quot;", 6); p += 6; break;
		case '\'': memcpy(p, "&#39;", 5); p += 5; break;
		default: *p++ = *s;
		}
	}
	*p = '\0';
	return out;
}

void h_healthz(http_req *req)
{
	tt_error err;

	tt_error_init(&err);
	if (store_ping(req->db, &err)) {
		http_add_header(req, "Retry-After", "5");
		http_reply_json(req, 503, json_pack("{s:s, s:s}", "status", "unavailable", "database",
						    "unreachable"));
		return;
	}
	http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

void h_login_page(http_req *req)
{
	const char *next = http_query(req, "next");
	const char *error = http_query(req, "error");
	const char *msg = "";

	if (error && !strcmp(error, "throttled"))
		msg = "<p role=\"alert\">Too many failed attempts. Try again later.</p>";
	else if (error)
		msg = "<p role=\"alert\">Wrong username or password.</p>";
	http_reply_html(
		req, 200,
		http_printf(req,
			    "%s<main><h1>Sign in to TimeTracker</h1>%s"
			    "<form method=\"post\" action=\"/login\">"
			    "<input type=\"hidden\" name=\"next\" value=\"%s\">"
			    "<p><label>Username <input name=\"username\" autocomplete=\"username\" required></label></p>"
			    "<p><label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label></p>"
			    "<p><button type=\"submit\">Sign in</button></p></form></main></body></html>",
			    http_printf(req, PAGE_HEAD, "Sign in"), msg, esc(req, next ? next : "/")));
}

void h_index_page(http_req *req)
{
	const char *name = req->user.full_name[0] ? req->user.full_name : req->user.username;

	http_reply_html(
		req, 200,
		http_printf(req,
			    "%s<main><h1>TimeTracker</h1><p>Signed in as <strong>%s</strong>.</p>"
			    "<p>The JSON API is at <code>/api/</code>: see docs/API.md.</p>"
			    "<form method=\"post\" action=\"/logout\">"
			    "<input type=\"hidden\" name=\"csrf_token\" value=\"%s\">"
			    "<button type=\"submit\">Sign out</button></form></main></body></html>",
			    http_printf(req, PAGE_HEAD, "Home"), esc(req, name),
			    esc(req, req->via == AUTH_COOKIE ? req->session.csrf_token : "")));
}
