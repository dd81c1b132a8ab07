/*
 * http.h - the HTTP layer: server, routes table, requests and responses.
 *
 * One routes table (api/routes.c) lists every endpoint with flags; the
 * dispatcher in server.c enforces the flags before a handler runs, so no
 * handler can forget a check:
 *   R_AUTH   a signed-in user (session cookie or Bearer API token) is needed
 *   R_ADMIN  the user must be an admin (implies R_AUTH)
 *   R_CSRF   cookie-authenticated requests must carry the session's CSRF token
 *            (header X-CSRF-Token / X-CSRFToken, or form field csrf_token)
 *   R_JSON   the body is JSON (Content-Type application/json), parsed into
 *            req->json, at most HTTP_MAX_JSON bytes
 *   R_FORM   an application/x-www-form-urlencoded body is also accepted
 *   R_PAGE   an HTML page: unauthenticated visitors are redirected to
 *            /login?next=...
 *   R_UPLOAD a multipart/form-data body: the part named "file" is streamed to
 *            a private file under DATA_DIR/uploads/ (never held in memory;
 *            at most TT_MAX_UPLOAD_MB, else 413), the other fields are kept
 *            (small); the handler finds them in req->upload
 *
 * Handlers fill the response through the http_reply_* functions. Everything
 * allocated with http_alloc/http_strdup lives until the request completes.
 * Errors under /api/ are always {success:false, error, code[, field]}.
 */
#ifndef TT_HTTP_H
#define TT_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/users.h"
#include "util/err.h"

#define HTTP_MAX_JSON (1024 * 1024)
#define HTTP_MAX_PARAMS 4

enum route_flags {
	R_AUTH = 1 << 0,
	R_ADMIN = 1 << 1,
	R_CSRF = 1 << 2,
	R_JSON = 1 << 3,
	R_FORM = 1 << 4,
	R_PAGE = 1 << 5,
	R_UPLOAD = 1 << 6,
};

enum auth_via { AUTH_NONE = 0, AUTH_COOKIE, AUTH_BEARER };

typedef struct http_req http_req;
typedef void (*http_handler)(http_req *req);

typedef struct route {
	const char *method;  /* "GET", "POST", ... */
	const char *pattern; /* "/api/entries/{id}": {id} matches a positive integer */
	http_handler fn;
	unsigned flags;
} route;

struct http_header {
	char *name;
	char *value;
	struct http_header *next;
};

struct http_arena_block;

/* What an R_UPLOAD request brought. */
typedef struct http_upload {
	bool has_file;
	char path[512];       /* the stored file; removed after the request unless taken */
	char filename[256];   /* the name the client gave, sanitised (no directories) */
	int64_t size;
	struct http_header *fields; /* other form fields */
	bool taken;           /* set by a handler that renamed or now owns the file */
	/* internal */
	int fd;
	int64_t field_bytes;
	bool failed;
	char failure[128];
} http_upload;

struct http_req {
	/* request */
	void *mhd;                 /* struct MHD_Connection * */
	const char *method;
	const char *path;          /* without the query string */
	const route *route;
	int64_t params[HTTP_MAX_PARAMS];
	int nparams;
	char ip[64];
	char *body;
	size_t body_len;
	json_t *json;              /* parsed body of R_JSON routes (a JSON object) */
	bool is_form;
	struct http_header *form;  /* decoded form fields */
	http_upload upload;        /* R_UPLOAD routes */
	void *post;                /* struct MHD_PostProcessor * */

	/* who is asking */
	enum auth_via via;
	user_rec user;
	session_rec session;       /* when via == AUTH_COOKIE */
	store *store;
	store_conn *db;

	/* response */
	int status;
	char *resp_body;
	size_t resp_len;
	const char *content_type;
	struct http_header *resp_headers;
	bool replied;
	int resp_fd;               /* > 0: the body is this file (http_reply_file) */
	int64_t resp_fd_size;

	/* bookkeeping */
	int64_t started_ns;
	bool too_large;
	bool csrf_deferred;
	bool receiving;            /* headers seen, body not complete */
	bool discard;              /* replied early: read and drop the body, then answer */
	int64_t dropped;           /* body bytes read and dropped after a limit was hit */
	bool api;
	struct http_arena_block *arena;
};

/*
 * Maintenance mode (a restore replacing the data): unsafe requests and
 * sign-ins answer 503 with Retry-After; reads go on.
 */
void http_set_maintenance(bool on);
bool http_in_maintenance(void);
/* Enters maintenance mode; false when it already was (another restore runs). */
bool http_enter_maintenance(void);

/* The value of upload field name, or NULL. */
const char *http_upload_field(http_req *req, const char *name);

/* ---- server ---- */

typedef struct http_server http_server;

/*
 * Starts serving routes on listen ("ADDR:PORT", "[::1]:PORT"; port 0 picks a
 * free port) with `threads` request threads. *out receives the server.
 */
int http_server_start(const char *listen, const route *routes, store *s, int threads,
		      http_server **out, tt_error *err);
int http_server_port(const http_server *srv);
/*
 * Stops accepting, waits up to grace_ms for requests in flight to finish,
 * then stops and frees the server.
 */
void http_server_stop(http_server *srv, int grace_ms);

/* ---- request helpers ---- */

void *http_alloc(http_req *req, size_t n);
char *http_strdup(http_req *req, const char *s);
char *http_printf(http_req *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *http_query(http_req *req, const char *name);   /* decoded, NULL if absent */
const char *http_header(http_req *req, const char *name);
const char *http_cookie(http_req *req, const char *name);
const char *http_form(http_req *req, const char *name);
bool http_is_admin(const http_req *req);

/* ---- responses ---- */

void http_add_header(http_req *req, const char *name, const char *value);
/* Replies with a JSON document; takes ownership of body. */
void http_reply_json(http_req *req, int status, json_t *body);
/* Replies {success:false, error, code[, field]} (or an HTML page outside /api/). */
void http_reply_error(http_req *req, int status, const char *code, const char *field,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Renders a tt_error with the status of its rc. */
void http_reply_tt_error(http_req *req, const tt_error *err);
void http_reply_html(http_req *req, int status, const char *html);
void http_reply_data(http_req *req, int status, const char *content_type, const void *data,
		     size_t len);
void http_redirect(http_req *req, int status, const char *location);
/*
 * Replies with the contents of an open file (fd is taken: closed after the
 * response, also on failure). download_name: Content-Disposition attachment.
 */
void http_reply_file(http_req *req, int fd, int64_t size, const char *content_type,
		     const char *download_name);

/* Percent-encodes s for a query string into a request-owned string. */
char *http_urlencode(http_req *req, const char *s);

#endif
