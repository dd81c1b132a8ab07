/*
 * auth.c - sign-in, sessions, API tokens and throttling (see auth.h).
 *
 * Throttling keeps, per username and per client address, the failures of the
 * last AUTH_THROTTLE_WINDOW seconds in a small fixed table guarded by a
 * mutex. When a key reaches its limit, attempts are refused with 429 until
 * the window of its oldest counted failure has passed, even with the right
 * password, so guessing cannot continue at full speed. Before that, each
 * failed attempt is answered 50 ms later per failure of that username (at
 * most 250 ms). A success clears the
 * username's count. The table is bounded: when full, the stalest entry is
 * reused.
 */
#include "auth/auth.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/tz.h"
#include "util/config.h"
#include "util/crypto.h"
#include "util/log.h"

int auth_check_username(const char *u, tt_error *err)
{
	size_t n = u ? strlen(u) : 0;

	if (n == 0 || n > 80)
		return tt_error_set(err, TT_EINVAL, "invalid_field", "username",
				    "username must be 1 to 80 characters long");
	for (size_t i = 0; i < n; i++) {
		char ch = u[i];

		if (!(islower((unsigned char)ch) || isdigit((unsigned char)ch) || ch == '.' ||
		      ch == '_' || ch == '-'))
			return tt_error_set(err, TT_EINVAL, "invalid_field", "username",
					    "username may only contain a-z, 0-9, '.', '_' and '-'");
	}
	return 0;
}

int auth_check_password(const char *p, tt_error *err)
{
	size_t n = p ? strlen(p) : 0;

	if (n < AUTH_PASSWORD_MIN)
		return tt_error_set(err, TT_EINVAL, "invalid_field", "password",
				    "password must be at least %d characters long", AUTH_PASSWORD_MIN);
	if (n > AUTH_PASSWORD_MAX)
		return tt_error_set(err, TT_EINVAL, "invalid_field", "password",
				    "password must be at most %d characters long", AUTH_PASSWORD_MAX);
	return 0;
}

int auth_user_create(store_conn *c, const auth_user_params *p, int64_t *id, tt_error *err)
{
	char hash[CRYPTO_PWHASH_LEN];
	user_new u = { 0 };
	int rc;

	if ((rc = auth_check_username(p->username, err)) || (rc = auth_check_password(p->password, err)))
		return rc;
	if (p->email && (strlen(p->email) > 254 || (*p->email && !strchr(p->email, '@'))))
		return tt_error_set(err, TT_EINVAL, "invalid_field", "email",
				    "email must be an address such as name@example.com");
	if (p->full_name && strlen(p->full_name) > 200)
		return tt_error_set(err, TT_EINVAL, "invalid_field", "full_name",
				    "full_name must be at most 200 characters long");
	if (p->timezone && !tz_is_valid(p->timezone))
		return tt_error_set(err, TT_EINVAL, "invalid_field", "timezone",
				    "unknown time zone \"%.60s\"", p->timezone);
	if (crypto_password_hash(p->password, hash))
		return tt_error_set(err, TT_ENOMEM, NULL, NULL, "cannot hash the password");
	u.username = p->username;
	u.email = p->email && *p->email ? p->email : NULL;
	u.full_name = p->full_name && *p->full_name ? p->full_name : NULL;
	u.timezone = p->timezone ? p->timezone : (cfg.timezone ? cfg.timezone : "UTC");
	u.is_admin = p->is_admin;
	u.password_hash = hash;
	rc = users_create(c, &u, id, err);
	crypto_wipe(hash, sizeof(hash));
	return rc;
}

int auth_user_set_password(store_conn *c, const char *username, const char *password,
			   tt_error *err)
{
	char hash[CRYPTO_PWHASH_LEN];
	user_rec u;
	int rc;

	if ((rc = auth_check_password(password, err)))
		return rc;
	if ((rc = users_get_by_name(c, username, &u, NULL, 0, err)))
		return rc;
	if (crypto_password_hash(password, hash))
		return tt_error_set(err, TT_ENOMEM, NULL, NULL, "cannot hash the password");
	rc = users_set_password(c, u.id, hash, err);
	crypto_wipe(hash, sizeof(hash));
	return rc;
}

int auth_bootstrap_admin(store_conn *c, char *password, size_t size, tt_error *err)
{
	auth_user_params p = { .username = "admin", .is_admin = true };
	int64_t n = 0, id;
	int rc;

	if ((rc = users_count(c, &n, err)))
		return rc;
	if (n > 0)
		return 0;
	/* 18 random bytes: a 24-character base64url password. */
	crypto_random_token(password, size, 18);
	p.password = password;
	rc = auth_user_create(c, &p, &id, err);
	if (rc == TT_ECONFLICT)
		return 0; /* another instance won the race */
	return rc < 0 ? rc : 1;
}

/* ---- throttling ---- */

#define THROTTLE_SLOTS 4096
#define THROTTLE_KEY 128

struct throttle_slot {
	char key[THROTTLE_KEY];
	int count;
	int64_t first;   /* first failure in the window */
	int64_t last;
};

static struct throttle_slot slots[THROTTLE_SLOTS];
static pthread_mutex_t throttle_lock = PTHREAD_MUTEX_INITIALIZER;

void auth_throttle_reset(void)
{
	pthread_mutex_lock(&throttle_lock);
	memset(slots, 0, sizeof(slots));
	pthread_mutex_unlock(&throttle_lock);
}

static struct throttle_slot *slot_find(const char *key, int64_t now, bool create)
{
	struct throttle_slot *victim = NULL;

	for (int i = 0; i < THROTTLE_SLOTS; i++) {
		struct throttle_slot *s = &slots[i];

		if (s->key[0] && now - s->first >= AUTH_THROTTLE_WINDOW)
			s->key[0] = '\0'; /* window over: forget */
		if (s->key[0] && !strcmp(s->key, key))
			return s;
		if (!victim || !s->key[0] || (victim->key[0] && s->last < victim->last))
			victim = s;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->first = now;
	return victim;
}

/* Seconds until key may try again, 0 when it may now. */
static int throttle_check(const char *key, int limit, int64_t now)
{
	struct throttle_slot *s;
	int wait = 0;

	pthread_mutex_lock(&throttle_lock);
	s = slot_find(key, now, false);
	if (s && s->count >= limit)
		wait = (int)(s->first + AUTH_THROTTLE_WINDOW - now);
	pthread_mutex_unlock(&throttle_lock);
	return wait > 0 ? wait : 0;
}

/* Counts a failure; returns the key's failures in the window. */
static int throttle_fail(const char *key, int64_t now)
{
	struct throttle_slot *s;
	int count;

	pthread_mutex_lock(&throttle_lock);
	s = slot_find(key, now, true);
	count = ++s->count;
	s->last = now;
	pthread_mutex_unlock(&throttle_lock);
	return count;
}

static void throttle_clear(const char *key)
{
	struct throttle_slot *s;

	pthread_mutex_lock(&throttle_lock);
	s = slot_find(key, store_now(), false);
	if (s)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&throttle_lock);
}

/* ---- sessions ---- */

int auth_login(store_conn *c, const char *username, const char *password, const char *ip,
	       const char *user_agent, auth_login_result *out, tt_error *err)
{
	char ukey[THROTTLE_KEY], akey[THROTTLE_KEY];
	char pwhash[CRYPTO_PWHASH_LEN] = "";
	char token_hash[CRYPTO_HASH_HEX_LEN + 1];
	int64_t now = store_now();
	session_rec s = { 0 };
	int wait, rc;
	bool ok;

	memset(out, 0, sizeof(*out));
	snprintf(ukey, sizeof(ukey), "u:%.100s", username ? username : "");
	snprintf(akey, sizeof(akey), "a:%.100s", ip ? ip : "");
	wait = throttle_check(ukey, AUTH_MAX_USER_FAILURES, now);
	if (!wait)
		wait = throttle_check(akey, AUTH_MAX_ADDR_FAILURES, now);
	if (wait) {
		out->retry_after = wait;
		return tt_error_set(err, TT_ETHROTTLED, "too_many_attempts", NULL,
				    "too many failed sign-in attempts; try again in %d minutes",
				    (wait + 59) / 60);
	}

	rc = users_get_by_name(c, username ? username : "", &out->user, pwhash, sizeof(pwhash), err);
	if (rc && rc != TT_ENOTFOUND)
		return rc;
	ok = crypto_password_verify(rc ? NULL : pwhash, password ? password : "");
	crypto_wipe(pwhash, sizeof(pwhash));
	if (!ok || !out->user.is_active) {
		int n = throttle_fail(ukey, now);
		struct timespec delay;

		throttle_fail(akey, now);
		/*
		 * Slow repeated guesses down (50 ms per failure of the username,
		 * at most 250 ms) before refusing them; short enough that a burst
		 * of failures cannot hold the request threads for long.
		 */
		n = n > 5 ? 5 : n;
		delay.tv_sec = 0;
		delay.tv_nsec = (long)n * 50000000L;
		nanosleep(&delay, NULL);
		log_info("sign-in failed for a user from %s", ip ? ip : "?");
		memset(&out->user, 0, sizeof(out->user));
		return tt_error_set(err, TT_EAUTH, "invalid_credentials", NULL,
				    "wrong username or password");
	}
	throttle_clear(ukey);

	crypto_random_token(out->session_token, sizeof(out->session_token), 32);
	crypto_random_token(out->csrf_token, sizeof(out->csrf_token), 32);
	crypto_sha256_hex(out->session_token, strlen(out->session_token), token_hash);
	s.user_id = out->user.id;
	snprintf(s.csrf_token, sizeof(s.csrf_token), "%s", out->csrf_token);
	s.created_at = now;
	s.last_seen_at = now;
	s.expires_at = now + cfg.session_ttl;
	if ((rc = store_begin(c, STORE_TX_WRITE, err)))
		goto fail;
	if ((rc = sessions_create(c, &s, token_hash, user_agent, ip, err)) ||
	    (rc = users_touch_login(c, s.user_id, now, err)) ||
	    (rc = sessions_delete_expired(c, now, cfg.session_idle, err))) {
		store_rollback(c);
		goto fail;
	}
	if ((rc = store_commit(c, err)))
		goto fail;
	out->user.last_login_at = now;
	return 0;
fail:
	crypto_wipe(out->session_token, sizeof(out->session_token));
	return rc;
}

int auth_session(store_conn *c, const char *cookie, user_rec *user, session_rec *sess,
		 tt_error *err)
{
	char token_hash[CRYPTO_HASH_HEX_LEN + 1];
	int64_t now = store_now();
	int rc;

	if (!cookie || !*cookie || strlen(cookie) > 128)
		return tt_error_set(err, TT_EAUTH, "unauthorized", NULL, "sign in first");
	crypto_sha256_hex(cookie, strlen(cookie), token_hash);
	rc = sessions_find(c, token_hash, sess, err);
	if (rc == TT_ENOTFOUND)
		return tt_error_set(err, TT_EAUTH, "unauthorized", NULL,
				    "your session has ended; sign in again");
	if (rc)
		return rc;
	if (sess->expires_at <= now || sess->last_seen_at + cfg.session_idle <= now) {
		sessions_delete(c, sess->id, NULL);
		return tt_error_set(err, TT_EAUTH, "unauthorized", NULL,
				    "your session has expired; sign in again");
	}
	rc = users_get(c, sess->user_id, user, err);
	if (rc == TT_ENOTFOUND || (!rc && !user->is_active))
		return tt_error_set(err, TT_EAUTH, "unauthorized", NULL, "sign in first");
	if (rc)
		return rc;
	/* Record activity at most once a minute: no write on every request. */
	if (now - sess->last_seen_at >= 60)
		sessions_touch(c, sess->id, now, NULL);
	return 0;
}

int auth_logout(store_conn *c, int64_t session_id, tt_error *err)
{
	return sessions_delete(c, session_id, err);
}

int auth_bearer(store_conn *c, const char *token, user_rec *user, token_rec *tok, tt_error *err)
{
	char token_hash[CRYPTO_HASH_HEX_LEN + 1];
	int rc;

	if (!token || strncmp(token, "tt_", 3) || strlen(token) > 128)
		return tt_error_set(err, TT_EAUTH, "invalid_token", NULL,
				    "the API token is not valid");
	crypto_sha256_hex(token, strlen(token), token_hash);
	rc = tokens_find(c, token_hash, tok, err);
	if (rc == TT_ENOTFOUND)
		return tt_error_set(err, TT_EAUTH, "invalid_token", NULL,
				    "the API token is not valid or has been revoked");
	if (rc)
		return rc;
	rc = users_get(c, tok->user_id, user, err);
	if (rc == TT_ENOTFOUND || (!rc && !user->is_active))
		return tt_error_set(err, TT_EAUTH, "invalid_token", NULL,
				    "the API token is not valid");
	if (rc)
		return rc;
	if (store_now() - tok->last_used_at >= 60)
		tokens_touch(c, tok->id, store_now(), NULL);
	return 0;
}

int auth_token_create(store_conn *c, int64_t user_id, const char *name, int64_t *id,
		      char out[AUTH_API_TOKEN_SIZE], tt_error *err)
{
	char hash[CRYPTO_HASH_HEX_LEN + 1];
	char prefix[16];
	int rc;

	if (!name || !*name || strlen(name) > 100)
		return tt_error_set(err, TT_EINVAL, "invalid_field", "name",
				    "name must be 1 to 100 characters long");
	memcpy(out, "tt_", 3);
	crypto_random_token(out + 3, AUTH_API_TOKEN_SIZE - 3, 32);
	crypto_sha256_hex(out, strlen(out), hash);
	/* The prefix identifies a token in lists without revealing it: "tt_" + 6 chars. */
	snprintf(prefix, sizeof(prefix), "%.9s", out);
	rc = tokens_create(c, user_id, name, hash, prefix, id, err);
	if (rc)
		crypto_wipe(out, AUTH_API_TOKEN_SIZE);
	return rc;
}
