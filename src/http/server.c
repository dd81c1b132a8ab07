/*
 * server.c - libmicrohttpd glue and the dispatcher (see http.h).
 *
 * Life of a request: MHD calls on_request() first with the headers only.
 * There we match the route (404 / 405), resolve who is asking (session
 * cookie or Bearer token), enforce R_AUTH / R_ADMIN / R_CSRF, and refuse
 * oversized or wrongly typed bodies before reading them. Following calls
 * append the body (capped). The last call parses the body, runs the
 * handler and queues the response with the security headers. on_completed()
 * writes the access log line and frees the request and its arena.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "util/alloc.h"
#include "util/config.h"
#include "util/crypto.h"
#include "util/log.h"

struct http_server {
	struct MHD_Daemon *d;
	const route *routes;
	store *store;
	int listen_fd;
	int port;
	atomic_int inflight;        /* requests started and not completed */
	atomic_int receiving;       /* of those, still waiting for their body */
	atomic_llong last_body_ns;  /* when body bytes last arrived */
};

struct http_arena_block {
	struct http_arena_block *next;
	max_align_t data[];
};

static const char *CSP =
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

static enum MHD_Result upload_iter(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *filename, const char *content_type,
				   const char *transfer_encoding, const char *data, uint64_t off,
				   size_t size);

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- arena ---- */

void *http_alloc(http_req *req, size_t n)
{
	struct http_arena_block *b = xmalloc(sizeof(*b) + n);

	b->next = req->arena;
	req->arena = b;
	return b->data;
}

char *http_strdup(http_req *req, const char *s)
{
	size_t n = strlen(s);
	char *p = http_alloc(req, n + 1);

	memcpy(p, s, n + 1);
	return p;
}

char *http_printf(http_req *req, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	p = http_alloc(req, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

static void req_free(http_req *req)
{
	struct http_arena_block *b, *next;

	for (b = req->arena; b; b = next) {
		next = b->next;
		free(b);
	}
	if (req->post)
		MHD_destroy_post_processor(req->post);
	if (req->upload.fd > 0)
		close(req->upload.fd);
	if (req->resp_fd > 0)
		close(req->resp_fd);
	if (req->upload.path[0] && !req->upload.taken)
		unlink(req->upload.path);
	if (req->json)
		json_decref(req->json);
	free(req->body);
	free(req->resp_body);
	crypto_wipe(&req->session, sizeof(req->session));
	free(req);
}

/* ---- request accessors ---- */

const char *http_query(http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->mhd, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, name);
}

const char *http_cookie(http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->mhd, MHD_COOKIE_KIND, name);
}

const char *http_form(http_req *req, const char *name)
{
	for (struct http_header *h = req->form; h; h = h->next)
		if (!strcmp(h->name, name))
			return h->value;
	return http_upload_field(req, name);
}

const char *http_upload_field(http_req *req, const char *name)
{
	for (struct http_header *h = req->upload.fields; h; h = h->next)
		if (!strcmp(h->name, name))
			return h->value;
	return NULL;
}

bool http_is_admin(const http_req *req)
{
	return req->via != AUTH_NONE && req->user.is_admin;
}

/* ---- responses ---- */

void http_add_header(http_req *req, const char *name, const char *value)
{
	struct http_header *h = http_alloc(req, sizeof(*h));
	struct http_header **tail = &req->resp_headers;

	h->name = http_strdup(req, name);
	h->value = http_strdup(req, value);
	h->next = NULL;
	while (*tail)
		tail = &(*tail)->next;
	*tail = h;
}

void http_reply_data(http_req *req, int status, const char *content_type, const void *data,
		     size_t len)
{
	free(req->resp_body);
	req->resp_body = xmalloc(len + 1);
	memcpy(req->resp_body, data, len);
	req->resp_body[len] = '\0';
	req->resp_len = len;
	req->status = status;
	req->content_type = content_type;
	req->replied = true;
}

void http_reply_json(http_req *req, int status, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);

	json_decref(body);
	if (!s) {
		http_reply_data(req, 500, "application/json",
				"{\"success\":false,\"error\":\"internal error\",\"code\":\"internal_error\"}",
				66);
		return;
	}
	free(req->resp_body);
	req->resp_body = s;
	req->resp_len = strlen(s);
	req->status = status;
	req->content_type = "application/json; charset=utf-8";
	req->replied = true;
}

void http_reply_html(http_req *req, int status, const char *html)
{
	http_reply_data(req, status, "text/html; charset=utf-8", html, strlen(html));
}

static void html_escape(char *out, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < size; s++) {
		const char *rep = NULL;

		switch (*s) {
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '&': rep = "&amp;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		}
		if (rep) {
			size_t l = strlen(rep);

			memcpy(out + n, rep, l);
			n += l;
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
}

/*
 * Makes s valid UTF-8 in place: a sequence cut by truncation is dropped,
 * any other invalid byte becomes '?'. (Messages quote user input.)
 */
static void utf8_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		int len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
		int ok = len > 0;

		for (int i = 1; ok && i < len; i++)
			ok = (p[i] & 0xC0) == 0x80;
		if (ok && len == 2 && *p < 0xC2)
			ok = 0; /* overlong */
		if (!ok) {
			bool cut = true;

			for (unsigned char *q = p + 1; *q && cut; q++)
				cut = (*q & 0xC0) == 0x80;
			if (len > 1 && cut && strlen((char *)p) < (size_t)len) {
				*p = '\0'; /* a character cut at the end */
				return;
			}
			*p++ = '?';
			continue;
		}
		p += len;
	}
}

void http_reply_error(http_req *req, int status, const char *code, const char *field,
		      const char *fmt, ...)
{
	char msg[600], fld[80];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_sanitize(msg);
	snprintf(fld, sizeof(fld), "%s", field ? field : "");
	utf8_sanitize(fld);
	if (req->api) {
		json_t *o = json_pack("{s:b, s:s, s:s}", "success", 0, "error", msg, "code", code);

		if (!o) /* cannot happen after sanitizing; never turn a 4xx into a 500 */
			o = json_pack("{s:b, s:s, s:s}", "success", 0, "error", "request failed", "code",
				      code);
		if (fld[0])
			json_object_set_new(o, "field", json_string(fld));
		http_reply_json(req, status, o);
	} else {
		char esc[1300];
		char *page;

		html_escape(esc, sizeof(esc), msg);
		page = xasprintf("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
				 "<title>%d</title></head><body><h1>%d</h1><p>%s</p>"
				 "<p><a href=\"/\">Back to TimeTracker</a></p></body></html>",
				 status, status, esc);
		http_reply_html(req, status, page);
		free(page);
	}
}

void http_reply_tt_error(http_req *req, const tt_error *err)
{
	int status = tt_rc_http_status(err->rc ? err->rc : TT_EINTERNAL);

	if (status == 503)
		http_add_header(req, "Retry-After", "5");
	if (status >= 500 && err->rc != TT_EBUSY) {
		/* The detail stays in the log; the client gets no internals. */
		log_error("%s %s: %s", req->method, req->path, err->msg);
		http_reply_error(req, status, "internal_error", NULL,
				 "an internal error occurred; the server log has the details");
		return;
	}
	http_reply_error(req, status, err->code[0] ? err->code : tt_rc_code(err->rc), err->field,
			 "%s", err->msg[0] ? err->msg : "request failed");
}

void http_reply_file(http_req *req, int fd, int64_t size, const char *content_type,
		     const char *download_name)
{
	char name[256];
	size_t n = 0;

	/* Only harmless characters in the header; the name is ours anyway. */
	for (const char *p = download_name; *p && n + 1 < sizeof(name); p++)
		name[n++] = (isalnum((unsigned char)*p) || strchr("._-", *p)) ? *p : '_';
	name[n] = '\0';
	http_add_header(req, "Content-Disposition", http_printf(req, "attachment; filename=\"%s\"", name));
	if (req->resp_fd > 0)
		close(req->resp_fd);
	req->resp_fd = fd;
	req->resp_fd_size = size;
	req->status = 200;
	req->content_type = content_type;
	req->replied = true;
}

void http_redirect(http_req *req, int status, const char *location)
{
	http_add_header(req, "Location", location);
	http_reply_data(req, status, "text/plain; charset=utf-8", "", 0);
}

char *http_urlencode(http_req *req, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = http_alloc(req, strlen(s) * 3 + 1);
	char *p = out;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			*p++ = (char)ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	return out;
}

/* ---- routing ---- */

/* Matches path against pattern; fills params for {id} segments. */
static bool path_match(const char *pattern, const char *path, int64_t *params, int *nparams)
{
	const char *p = pattern, *s = path;

	*nparams = 0;
	while (*p && *s) {
		if (*p == '{') {
			int64_t v = 0;
			const char *start = s;

			while (*p && *p != '}')
				p++;
			if (*p)
				p++;
			while (*s >= '0' && *s <= '9') {
				if (v > (INT64_MAX - 9) / 10)
					return false;
				v = v * 10 + (*s - '0');
				s++;
			}
			if (s == start || v <= 0 || (*s && *s != '/') || *nparams >= HTTP_MAX_PARAMS)
				return false;
			params[(*nparams)++] = v;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return !*p && !*s;
}

/* Finds the route; *allow receives the methods of a path match with another method. */
static const route *route_find(const route *routes, const char *method, const char *path,
			       http_req *req, char *allow, size_t allow_size)
{
	int64_t params[HTTP_MAX_PARAMS];
	int n;

	allow[0] = '\0';
	if (!strcmp(method, "HEAD"))
		method = "GET";
	for (const route *r = routes; r->method; r++) {
		if (!path_match(r->pattern, path, params, &n))
			continue;
		if (!strcmp(r->method, method)) {
			memcpy(req->params, params, sizeof(params));
			req->nparams = n;
			return r;
		}
		if (!strstr(allow, r->method)) {
			size_t l = strlen(allow);

			snprintf(allow + l, allow_size - l, "%s%s", l ? ", " : "", r->method);
		}
	}
	return NULL;
}

static bool is_unsafe(const char *method)
{
	return strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "OPTIONS");
}

static bool content_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	return ct && !strncasecmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Resolves the session cookie or Bearer token. 0, or replied with an error. */
static int authenticate(http_req *req)
{
	const char *authz = http_header(req, "Authorization");
	tt_error err;
	int rc;

	tt_error_init(&err);
	if (authz && !strncasecmp(authz, "Bearer ", 7)) {
		token_rec tok;

		rc = auth_bearer(req->db, authz + 7, &req->user, &tok, &err);
		if (rc) {
			http_reply_tt_error(req, &err);
			return -1;
		}
		req->via = AUTH_BEARER;
		return 0;
	}
	if (authz && (req->route->flags & (R_AUTH | R_ADMIN))) {
		http_reply_error(req, 401, "invalid_token", NULL,
				 "unsupported Authorization scheme; use Bearer tt_...");
		return -1;
	}
	if (http_cookie(req, "session")) {
		rc = auth_session(req->db, http_cookie(req, "session"), &req->user, &req->session, &err);
		if (rc == 0) {
			req->via = AUTH_COOKIE;
			return 0;
		}
		if (rc != TT_EAUTH) {
			http_reply_tt_error(req, &err);
			return -1;
		}
	}
	return 0; /* anonymous */
}

static bool csrf_ok(http_req *req, const char *given)
{
	return given && *given && crypto_str_equal(given, req->session.csrf_token);
}

static atomic_bool maintenance;

void http_set_maintenance(bool on)
{
	atomic_store(&maintenance, on);
}

bool http_in_maintenance(void)
{
	return atomic_load(&maintenance);
}

bool http_enter_maintenance(void)
{
	bool expected = false;

	return atomic_compare_exchange_strong(&maintenance, &expected, true);
}

/* Header phase: everything that can be decided before the body arrives. */
static void dispatch_headers(struct http_server *srv, http_req *req)
{
	char allow[64];
	const char *ct;
	const char *cl;
	const route *r;
	tt_error err;

	req->api = !strncmp(req->path, "/api/", 5) || !strcmp(req->path, "/api");
	r = route_find(srv->routes, req->method, req->path, req, allow, sizeof(allow));
	if (!r) {
		if (allow[0]) {
			http_add_header(req, "Allow", allow);
			http_reply_error(req, 405, "method_not_allowed", NULL,
					 "%s is not allowed on %s (allowed: %s)", req->method,
					 req->path, allow);
		} else {
			http_reply_error(req, 404, "not_found", NULL, "no such page: %s", req->path);
		}
		return;
	}
	req->route = r;
	ct = http_header(req, "Content-Type");
	if ((r->flags & R_FORM) && content_type_is(ct, "application/x-www-form-urlencoded"))
		req->is_form = true;
	/* Errors are JSON for the API and for non-form posts, HTML for pages and forms. */
	req->api = req->api || (strcmp(req->method, "GET") && strcmp(req->method, "HEAD") && !req->is_form);

	if (atomic_load(&maintenance) && is_unsafe(req->method)) {
		http_add_header(req, "Retry-After", "30");
		http_reply_error(req, 503, "maintenance", NULL,
				 "a restore is replacing the data; try again in a moment");
		return;
	}

	tt_error_init(&err);
	req->db = store_conn_get(srv->store, &err);
	if (!req->db) {
		http_reply_tt_error(req, &err);
		return;
	}
	if (authenticate(req))
		return;
	if ((r->flags & (R_AUTH | R_ADMIN)) && req->via == AUTH_NONE) {
		if (r->flags & R_PAGE) {
			char *next = http_urlencode(req, req->path);

			http_redirect(req, 303, http_printf(req, "/login?next=%s", next));
			return;
		}
		http_reply_error(req, 401, "unauthorized", NULL, "sign in first");
		return;
	}
	if ((r->flags & R_ADMIN) && !req->user.is_admin) {
		http_reply_error(req, 403, "forbidden", NULL, "only administrators may do this");
		return;
	}
	if ((r->flags & R_CSRF) && req->via == AUTH_COOKIE && is_unsafe(req->method)) {
		const char *t = http_header(req, "X-CSRF-Token");

		if (!t)
			t = http_header(req, "X-CSRFToken");
		if (!t && (r->flags & (R_FORM | R_UPLOAD))) {
			req->csrf_deferred = true; /* may come as a form field */
		} else if (!csrf_ok(req, t)) {
			http_reply_error(req, 403, "csrf_failed", NULL,
					 "missing or wrong CSRF token: send the X-CSRF-Token header");
			return;
		}
	}

	cl = http_header(req, "Content-Length");
	if (r->flags & R_UPLOAD) {
		if (cl && strtoull(cl, NULL, 10) > (unsigned long long)cfg.max_upload_mb * 1024 * 1024 + 65536) {
			http_reply_error(req, 413, "too_large", NULL,
					 "the upload is larger than %lld MiB (TT_MAX_UPLOAD_MB)",
					 (long long)cfg.max_upload_mb);
			return;
		}
		if (!content_type_is(ct, "multipart/form-data")) {
			http_reply_error(req, 415, "unsupported_media_type", NULL,
					 "send the file as multipart/form-data with a field named \"file\"");
			return;
		}
		req->post = MHD_create_post_processor(req->mhd, 64 * 1024, upload_iter, req);
		if (!req->post)
			http_reply_error(req, 400, "invalid_multipart", NULL,
					 "the multipart/form-data body cannot be read (missing boundary?)");
		return;
	}
	if (cl && strtoull(cl, NULL, 10) > HTTP_MAX_JSON) {
		http_reply_error(req, 413, "too_large", NULL, "the request body is larger than %d bytes",
				 HTTP_MAX_JSON);
		return;
	}
	if (!req->is_form && (r->flags & R_JSON) && ct && !content_type_is(ct, "application/json"))
		http_reply_error(req, 415, "unsupported_media_type", NULL,
				 "send the body as JSON with Content-Type: application/json");
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes one application/x-www-form-urlencoded component in place. */
static void form_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static void parse_form(http_req *req)
{
	char *copy = http_alloc(req, req->body_len + 1);
	char *save = NULL;

	memcpy(copy, req->body ? req->body : "", req->body_len);
	copy[req->body_len] = '\0';
	for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
		struct http_header *h = http_alloc(req, sizeof(*h));
		char *eq = strchr(pair, '=');

		if (eq)
			*eq = '\0';
		form_decode(pair);
		if (eq)
			form_decode(eq + 1);
		h->name = pair;
		h->value = eq ? eq + 1 : pair + strlen(pair);
		h->next = req->form;
		req->form = h;
	}
}


/* ---- uploads (R_UPLOAD) ---- */

#define UPLOAD_MAX_FIELDS 64
#define UPLOAD_MAX_FIELD_BYTES 4096

static void upload_fail(http_req *req, const char *why)
{
	if (!req->upload.failed)
		snprintf(req->upload.failure, sizeof(req->upload.failure), "%s", why);
	req->upload.failed = true;
}

/* Keeps the last path component and only harmless characters. */
static void sanitize_filename(const char *in, char *out, size_t size)
{
	const char *base = in;
	size_t n = 0;

	for (const char *p = in; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	for (; *base && n + 1 < size; base++) {
		unsigned char ch = (unsigned char)*base;

		out[n++] = (ch < 0x20 || ch == 0x7f || ch == '"') ? '_' : (char)ch;
	}
	out[n] = '\0';
}

static enum MHD_Result upload_iter(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *filename, const char *content_type,
				   const char *transfer_encoding, const char *data, uint64_t off,
				   size_t size)
{
	http_req *req = cls;
	http_upload *u = &req->upload;

	(void)kind;
	(void)content_type;
	(void)transfer_encoding;
	if (u->failed)
		return MHD_YES;
	if (filename && !strcmp(key, "file")) {
		/*
		 * MHD may call more than once at offset 0 for one part; a second
		 * part is recognised by data at offset 0 after data was stored.
		 */
		if (u->has_file && off == 0 && size > 0 && u->size > 0) {
			upload_fail(req, "send one file per request");
			return MHD_YES;
		}
		if (!u->has_file) {
			snprintf(u->path, sizeof(u->path), "%s/uploads/upload-XXXXXX", cfg.data_dir);
			u->fd = mkstemp(u->path);
			if (u->fd < 0) {
				log_error("upload: cannot create %s: %s", u->path, strerror(errno));
				u->path[0] = '\0';
				u->fd = 0;
				upload_fail(req, "the server cannot store the upload");
				return MHD_YES;
			}
			u->has_file = true;
			sanitize_filename(filename, u->filename, sizeof(u->filename));
		}
		if ((uint64_t)u->size + size > (uint64_t)cfg.max_upload_mb * 1024 * 1024) {
			req->too_large = true;
			upload_fail(req, "too large");
			return MHD_YES;
		}
		for (size_t done = 0; done < size;) {
			ssize_t w = write(u->fd, data + done, size - done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				log_error("upload: write failed: %s", strerror(errno));
				upload_fail(req, errno == ENOSPC ? "the server's disk is full"
								  : "the server cannot store the upload");
				return MHD_YES;
			}
			done += (size_t)w;
		}
		u->size += (int64_t)size;
		return MHD_YES;
	}
	/* An ordinary field: small, possibly in several pieces. */
	u->field_bytes += (int64_t)size;
	if (u->field_bytes > UPLOAD_MAX_FIELDS * UPLOAD_MAX_FIELD_BYTES) {
		upload_fail(req, "too many or too large form fields");
		return MHD_YES;
	}
	{
		struct http_header *h = NULL;
		int count = 0;

		/* Newest first: a repeated field's pieces go to its latest copy. */
		for (struct http_header *f = u->fields; f; f = f->next, count++)
			if (!h && !strcmp(f->name, key))
				h = f;
		if (!h || off == 0) {
			if (count >= UPLOAD_MAX_FIELDS) {
				upload_fail(req, "too many form fields");
				return MHD_YES;
			}
			h = http_alloc(req, sizeof(*h));
			h->name = http_strdup(req, key);
			h->value = http_strdup(req, "");
			h->next = u->fields;
			u->fields = h;
		}
		{
			size_t old = strlen(h->value);
			char *v;

			if (old + size > UPLOAD_MAX_FIELD_BYTES) {
				upload_fail(req, "a form field is too long");
				return MHD_YES;
			}
			v = http_alloc(req, old + size + 1);
			memcpy(v, h->value, old);
			memcpy(v + old, data, size);
			v[old + size] = '\0';
			h->value = v;
		}
	}
	return MHD_YES;
}

/* Body phase: parse, finish checks, run the handler. */
static void dispatch_body(http_req *req)
{
	const route *r = req->route;

	if (r->flags & R_UPLOAD) {
		if (req->post) {
			/* A body without its closing boundary is an incomplete upload. */
			enum MHD_Result complete = MHD_destroy_post_processor(req->post);

			req->post = NULL;
			if (complete != MHD_YES)
				upload_fail(req, "the multipart/form-data body is incomplete");
		}
		if (req->too_large) {
			http_reply_error(req, 413, "too_large", NULL,
					 "the upload is larger than %lld MiB (TT_MAX_UPLOAD_MB)",
					 (long long)cfg.max_upload_mb);
			return;
		}
		if (req->upload.failed) {
			bool server = strstr(req->upload.failure, "server") != NULL;

			http_reply_error(req, server ? 500 : 400, server ? "upload_failed" : "invalid_upload",
					 NULL, "%s", req->upload.failure);
			return;
		}
		if (req->upload.fd > 0) {
			if (fsync(req->upload.fd) || close(req->upload.fd)) {
				req->upload.fd = 0;
				http_reply_error(req, 500, "upload_failed", NULL,
						 "the server cannot store the upload");
				return;
			}
			req->upload.fd = 0;
		}
	}
	if (req->too_large) {
		http_reply_error(req, 413, "too_large", NULL, "the request body is larger than %d bytes",
				 HTTP_MAX_JSON);
		return;
	}
	if (req->is_form) {
		parse_form(req);
	} else if ((r->flags & R_JSON) && req->body_len == 0 &&
		   content_type_is(http_header(req, "Content-Type"), "application/json")) {
		http_reply_error(req, 400, "invalid_json", NULL,
				 "the body is empty; send a JSON object");
		return;
	} else if ((r->flags & R_JSON) && req->body_len > 0) {
		json_error_t jerr;

		if (!http_header(req, "Content-Type")) {
			http_reply_error(req, 415, "unsupported_media_type", NULL,
					 "send the body as JSON with Content-Type: application/json");
			return;
		}
		req->json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
		if (!req->json) {
			http_reply_error(req, 400, "invalid_json", NULL,
					 "the body is not valid JSON: %s at line %d, column %d",
					 jerr.text, jerr.line, jerr.column);
			return;
		}
		if (!json_is_object(req->json)) {
			http_reply_error(req, 400, "invalid_json", NULL,
					 "the body must be a JSON object");
			return;
		}
	}
	if (req->csrf_deferred && !csrf_ok(req, http_form(req, "csrf_token"))) {
		http_reply_error(req, 403, "csrf_failed", NULL,
				 "missing or wrong CSRF token: send the X-CSRF-Token header");
		return;
	}
	if ((r->flags & R_JSON) && !req->json && !req->is_form)
		req->json = json_object(); /* empty body: handlers report missing fields */
	r->fn(req);
	if (!req->replied) {
		log_error("handler for %s %s did not reply", req->method, req->path);
		http_reply_error(req, 500, "internal_error", NULL, "an internal error occurred");
	}
}

static void add_security_headers(http_req *req, struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	if (req->content_type && !strncmp(req->content_type, "text/html", 9))
		MHD_add_response_header(resp, "Content-Security-Policy", CSP);
	if (req->api || req->via != AUTH_NONE)
		MHD_add_response_header(resp, "Cache-Control", "no-store");
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, http_req *req)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!req->replied)
		http_reply_error(req, 500, "internal_error", NULL, "an internal error occurred");
	if (req->resp_fd > 0) {
		/* MHD reads the file as it sends it (sendfile where it can) and closes it. */
		resp = MHD_create_response_from_fd((uint64_t)req->resp_fd_size, req->resp_fd);
		if (!resp)
			return MHD_NO;
		req->resp_fd = 0;
	} else {
		resp = MHD_create_response_from_buffer(req->resp_len, req->resp_body,
						       MHD_RESPMEM_MUST_FREE);
		if (!resp)
			return MHD_NO;
		req->resp_body = NULL; /* MHD owns it now */
	}
	if (req->content_type)
		MHD_add_response_header(resp, "Content-Type", req->content_type);
	add_security_headers(req, resp);
	for (struct http_header *h = req->resp_headers; h; h = h->next)
		MHD_add_response_header(resp, h->name, h->value);
	ret = MHD_queue_response(conn, (unsigned)req->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void client_ip(struct MHD_Connection *conn, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(out, size, "?");
	if (!ci || !ci->client_addr)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, out,
			  (socklen_t)size);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, out,
			  (socklen_t)size);
}

/*
 * Behind a trusted reverse proxy (TT_TRUST_PROXY=1) the client is the last
 * address the proxy appended to X-Forwarded-For; earlier entries come from
 * the client and cannot be trusted.
 */
static void forwarded_ip(struct MHD_Connection *conn, char *out, size_t size)
{
	const char *xff = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-For");
	const char *last;
	char buf[64];
	size_t n;

	if (!xff)
		return;
	last = strrchr(xff, ',');
	last = last ? last + 1 : xff;
	while (*last == ' ')
		last++;
	n = strcspn(last, " ");
	if (n == 0 || n >= sizeof(buf))
		return;
	memcpy(buf, last, n);
	buf[n] = '\0';
	if (strspn(buf, "0123456789abcdefABCDEF.:") == n)
		snprintf(out, size, "%s", buf);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *srv = cls;
	http_req *req = *con_cls;

	if (!req) {
		req = xcalloc(1, sizeof(*req));
		req->started_ns = now_ns();
		req->mhd = conn;
		req->store = srv->store;
		req->method = method;
		req->path = url;
		client_ip(conn, req->ip, sizeof(req->ip));
		if (cfg.trust_proxy)
			forwarded_ip(conn, req->ip, sizeof(req->ip));
		*con_cls = req;
		atomic_fetch_add(&srv->inflight, 1);
		dispatch_headers(srv, req);
		if (req->replied) {
			const char *cl = http_header(req, "Content-Length");
			const char *te = http_header(req, "Transfer-Encoding");

			/*
			 * Clients such as fetch() fail on a reply that comes while
			 * they still send the body: read and drop a small body
			 * first. A large one gets the reply at once and the
			 * connection is closed.
			 */
			if ((cl && strtoull(cl, NULL, 10) > 0 &&
			     strtoull(cl, NULL, 10) <= HTTP_MAX_JSON) || (te && !cl)) {
				req->discard = true;
				req->receiving = true;
				atomic_fetch_add(&srv->receiving, 1);
				return MHD_YES;
			}
			return send_reply(conn, req); /* MHD drops any body and closes */
		}
		req->receiving = true;
		atomic_fetch_add(&srv->receiving, 1);
		return MHD_YES;
	}
	if (req->discard) {
		if (*upload_data_size) {
			req->body_len += *upload_data_size;
			*upload_data_size = 0;
			/*
			 * Read up to 16 MiB so the client gets its answer; a
			 * chunked body beyond that is not waited for (MHD cannot
			 * answer in the middle of a body: the connection closes).
			 */
			return req->body_len <= 16 * HTTP_MAX_JSON ? MHD_YES : MHD_NO;
		}
		req->receiving = false;
		atomic_fetch_sub(&srv->receiving, 1);
		return send_reply(conn, req);
	}
	if (req->replied) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size && req->post) {
		if (req->upload.failed) {
			/* Over a limit or broken: drop the rest, but not without end. */
			req->dropped += (int64_t)*upload_data_size;
			*upload_data_size = 0;
			return req->dropped <= 16 * HTTP_MAX_JSON ? MHD_YES : MHD_NO;
		}
		if (MHD_post_process(req->post, upload_data, *upload_data_size) != MHD_YES)
			upload_fail(req, "the multipart/form-data body is malformed");
		*upload_data_size = 0;
		atomic_store(&srv->last_body_ns, now_ns());
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		if (req->too_large || req->body_len + n > HTTP_MAX_JSON) {
			req->too_large = true;
			req->dropped += (int64_t)n;
			if (req->dropped > 16 * HTTP_MAX_JSON) {
				*upload_data_size = 0;
				return MHD_NO; /* a body that goes on and on: stop listening */
			}
		} else {
			req->body = xrealloc(req->body, req->body_len + n + 1);
			memcpy(req->body + req->body_len, upload_data, n);
			req->body_len += n;
			req->body[req->body_len] = '\0';
		}
		*upload_data_size = 0;
		atomic_store(&srv->last_body_ns, now_ns());
		return MHD_YES;
	}
	req->receiving = false;
	atomic_fetch_sub(&srv->receiving, 1);
	dispatch_body(req);
	return send_reply(conn, req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	http_req *req = *con_cls;

	if (!req)
		return;
	/* The access log: never cookies, tokens, bodies or query strings. */
	log_info("%s %s %d %.1fms user=%lld%s", req->method, req->path, req->status,
		 (double)(now_ns() - req->started_ns) / 1e6,
		 (long long)(req->via != AUTH_NONE ? req->user.id : 0),
		 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
	if (req->db && store_in_tx(req->db))
		store_rollback(req->db); /* a handler bug must not leave a lock behind */
	if (req->receiving)
		atomic_fetch_sub(&srv->receiving, 1);
	req_free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&srv->inflight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http: %s", msg);
}

/* Parses "ADDR:PORT" / "[V6]:PORT" and opens a listening socket. */
static int open_listener(const char *listen_spec, int *fd_out, int *port_out, tt_error *err)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[128];
	const char *colon;
	char *end;
	long port;
	int fd, one = 1, family;

	memset(&ss, 0, sizeof(ss));
	if (listen_spec[0] == '[') {
		const char *close = strchr(listen_spec, ']');

		if (!close || close[1] != ':')
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(close - listen_spec - 1), listen_spec + 1);
		colon = close + 1;
	} else {
		colon = strrchr(listen_spec, ':');
		if (!colon)
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_spec), listen_spec);
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 0 || port > 65535)
		goto bad;
	if (!host[0])
		snprintf(host, sizeof(host), "0.0.0.0");
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		goto bad;
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return tt_error_set(err, TT_EIO, "listen_failed", "listen", "cannot create a socket: %s",
				    strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 128)) {
		int e = errno;

		close(fd);
		return tt_error_set(err, TT_EIO, "listen_failed", "listen", "cannot listen on %s: %s",
				    listen_spec, strerror(e));
	}
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*port_out = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					    : ((struct sockaddr_in6 *)&ss)->sin6_port);
	*fd_out = fd;
	return 0;
bad:
	return tt_error_set(err, TT_EINVAL, "invalid_setting", "listen",
			    "listen: expected ADDR:PORT such as 127.0.0.1:8080, got \"%.60s\"",
			    listen_spec);
}

int http_server_start(const char *listen_spec, const route *routes, store *s, int threads,
		      http_server **out, tt_error *err)
{
	struct http_server *srv = xcalloc(1, sizeof(*srv));
	int rc;

	*out = NULL;
	srv->routes = routes;
	srv->store = s;
	atomic_init(&srv->inflight, 0);
	atomic_init(&srv->receiving, 0);
	atomic_init(&srv->last_body_ns, 0);
	if ((rc = open_listener(listen_spec, &srv->listen_fd, &srv->port, err))) {
		free(srv);
		return rc;
	}
	srv->d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, srv,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)srv->listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_END);
	if (!srv->d) {
		close(srv->listen_fd);
		free(srv);
		return tt_error_set(err, TT_EIO, "listen_failed", "listen",
				    "cannot start the HTTP server on %s", listen_spec);
	}
	*out = srv;
	return 0;
}

int http_server_port(const http_server *srv)
{
	return srv->port;
}

void http_server_stop(http_server *srv, int grace_ms)
{
	MHD_socket fd;

	if (!srv)
		return;
	fd = MHD_quiesce_daemon(srv->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	/*
	 * Let requests in flight finish; idle keep-alive connections do not
	 * count. A client that stopped sending its body for two seconds is
	 * not waited for: only requests being handled or answered are.
	 */
	for (int waited = 0; atomic_load(&srv->inflight) > 0 && waited < grace_ms; waited += 20) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		int receiving = atomic_load(&srv->receiving);

		if (receiving == atomic_load(&srv->inflight) &&
		    now_ns() - atomic_load(&srv->last_body_ns) > 2000000000LL)
			break;
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(srv->d);
	free(srv);
}
