/*
 * users.h - users, sessions and API tokens in the store.
 *
 * Only hashes of session and API tokens are stored (SHA-256 hex); password
 * hashes never leave this module except to auth/ for verification.
 */
#ifndef TT_STORE_USERS_H
#define TT_STORE_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct user_rec {
	int64_t id;
	char username[96];
	char email[256];
	char full_name[256];
	char timezone[64];
	bool is_admin;
	bool is_active;
	int64_t created_at;
	int64_t last_login_at; /* 0 = never */
} user_rec;

typedef struct user_new {
	const char *username;
	const char *email;      /* may be NULL */
	const char *full_name;  /* may be NULL */
	const char *timezone;
	bool is_admin;
	const char *password_hash;
} user_new;

typedef struct session_rec {
	int64_t id;
	int64_t user_id;
	char csrf_token[64];
	int64_t created_at;
	int64_t expires_at;
	int64_t last_seen_at;
} session_rec;

typedef struct token_rec {
	int64_t id;
	int64_t user_id;
	char name[128];
	char prefix[16];
	int64_t created_at;
	int64_t last_used_at; /* 0 = never */
	int64_t revoked_at;   /* 0 = active */
} token_rec;

int users_count(store_conn *c, int64_t *n, tt_error *err);
/* TT_ECONFLICT when the username is taken. */
int users_create(store_conn *c, const user_new *u, int64_t *id, tt_error *err);
int users_get(store_conn *c, int64_t id, user_rec *out, tt_error *err);
/* pwhash (may be NULL) receives the stored hash, CRYPTO_PWHASH_LEN bytes. */
int users_get_by_name(store_conn *c, const char *username, user_rec *out, char *pwhash,
		      size_t pwhash_size, tt_error *err);
/* *list is malloc'ed (free it); ordered by id. */
int users_list(store_conn *c, user_rec **list, size_t *n, tt_error *err);
/* Sets a new hash and ends every session of the user. */
int users_set_password(store_conn *c, int64_t id, const char *hash, tt_error *err);
int users_touch_login(store_conn *c, int64_t id, int64_t now, tt_error *err);

int sessions_create(store_conn *c, const session_rec *s, const char *token_hash,
		    const char *user_agent, const char *ip, tt_error *err);
/* TT_ENOTFOUND when unknown. Expiry is checked by the caller. */
int sessions_find(store_conn *c, const char *token_hash, session_rec *out, tt_error *err);
int sessions_touch(store_conn *c, int64_t id, int64_t now, tt_error *err);
int sessions_delete(store_conn *c, int64_t id, tt_error *err);
int sessions_delete_expired(store_conn *c, int64_t now, int64_t idle, tt_error *err);

int tokens_create(store_conn *c, int64_t user_id, const char *name, const char *token_hash,
		  const char *prefix, int64_t *id, tt_error *err);
int tokens_list(store_conn *c, int64_t user_id, token_rec **list, size_t *n, tt_error *err);
/* Finds an active (not revoked) token by hash. TT_ENOTFOUND otherwise. */
int tokens_find(store_conn *c, const char *token_hash, token_rec *out, tt_error *err);
int tokens_touch(store_conn *c, int64_t id, int64_t now, tt_error *err);
/* Revokes token id of user_id (user_id 0: any owner). TT_ENOTFOUND when none. */
int tokens_revoke(store_conn *c, int64_t id, int64_t user_id, tt_error *err);

#endif
