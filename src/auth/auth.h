/*
 * auth.h - users, sign-in, sessions, API tokens and login throttling.
 *
 * The services the HTTP layer and the CLI share. Secrets handed in (passwords,
 * tokens) are never logged or stored; secrets handed out (session and API
 * tokens) are shown once and only their SHA-256 is kept.
 */
#ifndef TT_AUTH_H
#define TT_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "store/users.h"

#define AUTH_SESSION_TOKEN_SIZE 48  /* base64url of 32 random bytes + NUL */
#define AUTH_API_TOKEN_SIZE 64      /* "tt_" + base64url of 32 bytes + NUL */
#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 1024

/* Validation shared by the API and the CLI; errors name the field. */
int auth_check_username(const char *username, tt_error *err);
int auth_check_password(const char *password, tt_error *err);

typedef struct auth_user_params {
	const char *username;
	const char *password;
	const char *email;     /* optional */
	const char *full_name; /* optional */
	const char *timezone;  /* optional: default from config */
	bool is_admin;
} auth_user_params;

/* Validates and creates a user. TT_ECONFLICT when the name is taken. */
int auth_user_create(store_conn *c, const auth_user_params *p, int64_t *id, tt_error *err);
int auth_user_set_password(store_conn *c, const char *username, const char *password,
			   tt_error *err);

/*
 * On first start with no users: creates "admin" with a random password and
 * writes it to password (size >= 32). Returns 1 when created, 0 when users
 * already exist, negative on error.
 */
int auth_bootstrap_admin(store_conn *c, char *password, size_t size, tt_error *err);

typedef struct auth_login_result {
	user_rec user;
	char session_token[AUTH_SESSION_TOKEN_SIZE]; /* the cookie value: secret */
	char csrf_token[64];
	int retry_after;                              /* seconds, with TT_ETHROTTLED */
} auth_login_result;

/*
 * Checks the password and opens a session. TT_EAUTH (code
 * invalid_credentials; same message for unknown users and wrong passwords),
 * TT_ETHROTTLED after too many failures for the user or the address.
 */
int auth_login(store_conn *c, const char *username, const char *password, const char *ip,
	       const char *user_agent, auth_login_result *out, tt_error *err);

/*
 * Resolves a session cookie. Fills user and session (csrf token). TT_EAUTH
 * when unknown, expired or idle too long (the row is then deleted).
 */
int auth_session(store_conn *c, const char *cookie, user_rec *user, session_rec *sess,
		 tt_error *err);
int auth_logout(store_conn *c, int64_t session_id, tt_error *err);

/* Resolves "tt_..." to its active token and user; TT_EAUTH (invalid_token) otherwise. */
int auth_bearer(store_conn *c, const char *token, user_rec *user, token_rec *tok, tt_error *err);

/* Creates an API token; out receives the secret (shown once). */
int auth_token_create(store_conn *c, int64_t user_id, const char *name, int64_t *id,
		      char out[AUTH_API_TOKEN_SIZE], tt_error *err);

/* Login throttling (in memory, per process). Exposed for tests. */
#define AUTH_MAX_USER_FAILURES 5
#define AUTH_MAX_ADDR_FAILURES 20
#define AUTH_THROTTLE_WINDOW 900 /* seconds */
void auth_throttle_reset(void);

#endif
