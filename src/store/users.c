/*
 * users.c - SQL for users, sessions and API tokens (see users.h).
 */
#include "store/users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

#define USER_COLS "id, username, email, full_name, timezone, role, is_active, created_at, last_login_at"

static void copy_col(store_stmt *st, int col, char *dst, size_t size)
{
	const char *v = store_col_text(st, col);

	snprintf(dst, size, "%s", v ? v : "");
}

static void read_user(store_stmt *st, user_rec *u)
{
	memset(u, 0, sizeof(*u));
	u->id = store_col_int64(st, 0);
	copy_col(st, 1, u->username, sizeof(u->username));
	copy_col(st, 2, u->email, sizeof(u->email));
	copy_col(st, 3, u->full_name, sizeof(u->full_name));
	copy_col(st, 4, u->timezone, sizeof(u->timezone));
	u->is_admin = store_col_text(st, 5) && !strcmp(store_col_text(st, 5), "admin");
	u->is_active = store_col_bool(st, 6);
	u->created_at = store_col_int64(st, 7);
	u->last_login_at = store_col_int64(st, 8);
}

/* Steps a one-row query into *u; TT_ENOTFOUND when there is no row. */
static int one_user(store_stmt *st, user_rec *u, char *pwhash, size_t pwhash_size, tt_error *err)
{
	int rc;

	if (!st)
		return err ? err->rc : TT_EIO;
	rc = store_step(st, err);
	if (rc == STORE_ROW) {
		read_user(st, u);
		if (pwhash)
			copy_col(st, 9, pwhash, pwhash_size);
		rc = 0;
	} else if (rc == STORE_DONE) {
		rc = tt_error_set(err, TT_ENOTFOUND, "not_found", NULL, "no such user");
	}
	store_stmt_done(st);
	return rc;
}

int users_count(store_conn *c, int64_t *n, tt_error *err)
{
	int rc = store_query_int64(c, err, n, "SELECT COUNT(*) FROM users", "");

	return rc < 0 ? rc : 0;
}

int users_create(store_conn *c, const user_new *u, int64_t *id, tt_error *err)
{
	int64_t now = store_now();
	int rc = store_query_int64(
		c, err, id,
		"INSERT INTO users (username, email, full_name, role, timezone, password_hash,"
		" is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?) RETURNING id",
		"ssssssii", u->username, u->email, u->full_name, u->is_admin ? "admin" : "user",
		u->timezone, u->password_hash, now, now);

	if (rc == TT_ECONFLICT)
		return tt_error_set(err, TT_ECONFLICT, "conflict", "username",
				    "username \"%s\" is already taken", u->username);
	return rc < 0 ? rc : 0;
}

int users_get(store_conn *c, int64_t id, user_rec *out, tt_error *err)
{
	return one_user(store_query(c, err, "SELECT " USER_COLS " FROM users WHERE id = ?", "i", id),
			out, NULL, 0, err);
}

int users_get_by_name(store_conn *c, const char *username, user_rec *out, char *pwhash,
		      size_t pwhash_size, tt_error *err)
{
	return one_user(store_query(c, err,
				    "SELECT " USER_COLS ", password_hash FROM users WHERE username = ?",
				    "s", username),
			out, pwhash, pwhash_size, err);
}

int users_list(store_conn *c, user_rec **list, size_t *n, tt_error *err)
{
	store_stmt *st = store_query(c, err, "SELECT " USER_COLS " FROM users ORDER BY id", "");
	size_t cap = 16;
	int rc;

	*n = 0;
	*list = NULL;
	if (!st)
		return err ? err->rc : TT_EIO;
	*list = xmalloc(cap * sizeof(**list));
	while ((rc = store_step(st, err)) == STORE_ROW) {
		if (*n == cap) {
			cap *= 2;
			*list = xrealloc(*list, cap * sizeof(**list));
		}
		read_user(st, &(*list)[(*n)++]);
	}
	store_stmt_done(st);
	if (rc < 0) {
		free(*list);
		*list = NULL;
		*n = 0;
		return rc;
	}
	return 0;
}

int users_set_password(store_conn *c, int64_t id, const char *hash, tt_error *err)
{
	int rc = store_run(c, err, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
			   "sii", hash, store_now(), id);

	if (rc < 0)
		return rc;
	if (store_changes(c) == 0)
		return tt_error_set(err, TT_ENOTFOUND, "not_found", NULL, "no such user");
	rc = store_run(c, err, "DELETE FROM sessions WHERE user_id = ?", "i", id);
	return rc < 0 ? rc : 0;
}

int users_touch_login(store_conn *c, int64_t id, int64_t now, tt_error *err)
{
	int rc = store_run(c, err, "UPDATE users SET last_login_at = ? WHERE id = ?", "ii", now, id);

	return rc < 0 ? rc : 0;
}

int sessions_create(store_conn *c, const session_rec *s, const char *token_hash,
		    const char *user_agent, const char *ip, tt_error *err)
{
	int rc = store_run(c, err,
			   "INSERT INTO sessions (token_hash, user_id, csrf_token, user_agent, ip_address,"
			   " created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			   "sisssiii", token_hash, s->user_id, s->csrf_token, user_agent, ip,
			   s->created_at, s->expires_at, s->last_seen_at);

	return rc < 0 ? rc : 0;
}

int sessions_find(store_conn *c, const char *token_hash, session_rec *out, tt_error *err)
{
	store_stmt *st = store_query(c, err,
				     "SELECT id, user_id, csrf_token, created_at, expires_at, last_seen_at"
				     " FROM sessions WHERE token_hash = ?",
				     "s", token_hash);
	int rc;

	if (!st)
		return err ? err->rc : TT_EIO;
	rc = store_step(st, err);
	if (rc == STORE_ROW) {
		memset(out, 0, sizeof(*out));
		out->id = store_col_int64(st, 0);
		out->user_id = store_col_int64(st, 1);
		copy_col(st, 2, out->csrf_token, sizeof(out->csrf_token));
		out->created_at = store_col_int64(st, 3);
		out->expires_at = store_col_int64(st, 4);
		out->last_seen_at = store_col_int64(st, 5);
		rc = 0;
	} else if (rc == STORE_DONE) {
		rc = tt_error_set(err, TT_ENOTFOUND, "not_found", NULL, "no such session");
	}
	store_stmt_done(st);
	return rc;
}

int sessions_touch(store_conn *c, int64_t id, int64_t now, tt_error *err)
{
	int rc = store_run(c, err, "UPDATE sessions SET last_seen_at = ? WHERE id = ?", "ii", now, id);

	return rc < 0 ? rc : 0;
}

int sessions_delete(store_conn *c, int64_t id, tt_error *err)
{
	int rc = store_run(c, err, "DELETE FROM sessions WHERE id = ?", "i", id);

	return rc < 0 ? rc : 0;
}

int sessions_delete_expired(store_conn *c, int64_t now, int64_t idle, tt_error *err)
{
	int rc = store_run(c, err, "DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?",
			   "ii", now, now - idle);

	return rc < 0 ? rc : 0;
}

int tokens_create(store_conn *c, int64_t user_id, const char *name, const char *token_hash,
		  const char *prefix, int64_t *id, tt_error *err)
{
	int rc = store_query_int64(c, err, id,
				   "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at)"
				   " VALUES (?, ?, ?, ?, ?) RETURNING id",
				   "isssi", user_id, name, token_hash, prefix, store_now());

	return rc < 0 ? rc : 0;
}

#define TOKEN_COLS "id, user_id, name, prefix, created_at, last_used_at, revoked_at"

static void read_token(store_stmt *st, token_rec *t)
{
	memset(t, 0, sizeof(*t));
	t->id = store_col_int64(st, 0);
	t->user_id = store_col_int64(st, 1);
	copy_col(st, 2, t->name, sizeof(t->name));
	copy_col(st, 3, t->prefix, sizeof(t->prefix));
	t->created_at = store_col_int64(st, 4);
	t->last_used_at = store_col_int64(st, 5);
	t->revoked_at = store_col_int64(st, 6);
}

int tokens_list(store_conn *c, int64_t user_id, token_rec **list, size_t *n, tt_error *err)
{
	store_stmt *st = store_query(c, err,
				     "SELECT " TOKEN_COLS " FROM api_tokens WHERE user_id = ? ORDER BY id",
				     "i", user_id);
	size_t cap = 8;
	int rc;

	*n = 0;
	*list = NULL;
	if (!st)
		return err ? err->rc : TT_EIO;
	*list = xmalloc(cap * sizeof(**list));
	while ((rc = store_step(st, err)) == STORE_ROW) {
		if (*n == cap) {
			cap *= 2;
			*list = xrealloc(*list, cap * sizeof(**list));
		}
		read_token(st, &(*list)[(*n)++]);
	}
	store_stmt_done(st);
	if (rc < 0) {
		free(*list);
		*list = NULL;
		*n = 0;
		return rc;
	}
	return 0;
}

int tokens_find(store_conn *c, const char *token_hash, token_rec *out, tt_error *err)
{
	store_stmt *st = store_query(c, err,
				     "SELECT " TOKEN_COLS " FROM api_tokens"
				     " WHERE token_hash = ? AND revoked_at IS NULL",
				     "s", token_hash);
	int rc;

	if (!st)
		return err ? err->rc : TT_EIO;
	rc = store_step(st, err);
	if (rc == STORE_ROW) {
		read_token(st, out);
		rc = 0;
	} else if (rc == STORE_DONE) {
		rc = tt_error_set(err, TT_ENOTFOUND, "not_found", NULL, "no such token");
	}
	store_stmt_done(st);
	return rc;
}

int tokens_touch(store_conn *c, int64_t id, int64_t now, tt_error *err)
{
	int rc = store_run(c, err, "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", "ii", now, id);

	return rc < 0 ? rc : 0;
}

int tokens_revoke(store_conn *c, int64_t id, int64_t user_id, tt_error *err)
{
	int rc;

	if (user_id)
		rc = store_run(c, err,
			       "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND user_id = ?"
			       " AND revoked_at IS NULL",
			       "iii", store_now(), id, user_id);
	else
		rc = store_run(c, err,
			       "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
			       "ii", store_now(), id);
	if (rc < 0)
		return rc;
	if (store_changes(c) == 0)
		return tt_error_set(err, TT_ENOTFOUND, "not_found", NULL, "no such API token");
	return 0;
}
