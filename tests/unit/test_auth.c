/*
 * test_auth.c - password hashing, tokens, validation, sign-in with
 * throttling, session expiry, API tokens, and configuration precedence.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "store/migrate.h"
#include "util/config.h"
#include "util/crypto.h"

struct fx {
	char dir[64];
	store *s;
	store_conn *c;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char url[128];
	tt_error err;
	int n;

	snprintf(f->dir, sizeof(f->dir), "/tmp/tt-auth-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(url, sizeof(url), "sqlite:%s/t.db", f->dir);
	tt_error_init(&err);
	if (store_open(url, &f->s, &err) || migrate_up(f->s, 0, &n, &err))
		return -1;
	f->c = store_conn_get(f->s, &err);
	auth_throttle_reset();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void test_crypto(void **state)
{
	char h[CRYPTO_PWHASH_LEN], a[64], b[64], hex[65];

	(void)state;
	assert_int_equal(crypto_password_hash("correct horse", h), 0);
	assert_true(strncmp(h, "$argon2id$", 10) == 0);
	assert_true(crypto_password_verify(h, "correct horse"));
	assert_false(crypto_password_verify(h, "correct horsE"));
	assert_false(crypto_password_verify(NULL, "anything"));
	assert_false(crypto_password_verify("", "anything"));

	crypto_random_token(a, sizeof(a), 32);
	crypto_random_token(b, sizeof(b), 32);
	assert_int_equal(strlen(a), 43);
	assert_string_not_equal(a, b);
	assert_null(strpbrk(a, "+/="));

	crypto_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(crypto_str_equal("abc", "abc"));
	assert_false(crypto_str_equal("abc", "abd"));
	assert_false(crypto_str_equal("abc", "abcd"));
}

static void test_validation(void **state)
{
	tt_error err;

	(void)state;
	tt_error_init(&err);
	assert_int_equal(auth_check_username("alice.b-c_9", &err), 0);
	assert_int_equal(auth_check_username("Alice", &err), TT_EINVAL);
	assert_string_equal(err.field, "username");
	assert_int_equal(auth_check_username("", &err), TT_EINVAL);
	assert_int_equal(auth_check_username("a b", &err), TT_EINVAL);
	assert_int_equal(auth_check_username("x/../y", &err), TT_EINVAL);
	assert_int_equal(auth_check_username("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
					     &err), TT_EINVAL); /* 81 characters */
	assert_int_equal(auth_check_password("short", &err), TT_EINVAL);
	assert_string_equal(err.field, "password");
	assert_int_equal(auth_check_password("long enough", &err), 0);
}

static int64_t add_user(store_conn *c, const char *name, const char *pw)
{
	auth_user_params p = { .username = name, .password = pw, .timezone = "Europe/Berlin" };
	tt_error err;
	int64_t id = 0;

	tt_error_init(&err);
	assert_int_equal(auth_user_create(c, &p, &id, &err), 0);
	return id;
}

static void test_user_create_rules(void **state)
{
	struct fx *f = *state;
	auth_user_params p = { .username = "zed", .password = "password1", .timezone = "Mars/Base" };
	int64_t id;
	tt_error err;

	tt_error_init(&err);
	assert_int_equal(auth_user_create(f->c, &p, &id, &err), TT_EINVAL);
	assert_string_equal(err.field, "timezone");
	p.timezone = NULL;
	p.email = "not-an-address";
	assert_int_equal(auth_user_create(f->c, &p, &id, &err), TT_EINVAL);
	assert_string_equal(err.field, "email");
	p.email = NULL;
	assert_int_equal(auth_user_create(f->c, &p, &id, &err), 0);
	assert_int_equal(auth_user_create(f->c, &p, &id, &err), TT_ECONFLICT);
}

static void test_bootstrap_admin(void **state)
{
	struct fx *f = *state;
	char pw[48];
	auth_login_result res;
	tt_error err;

	tt_error_init(&err);
	assert_int_equal(auth_bootstrap_admin(f->c, pw, sizeof(pw), &err), 1);
	assert_true(strlen(pw) >= 20);
	assert_int_equal(auth_login(f->c, "admin", pw, "1.2.3.4", NULL, &res, &err), 0);
	assert_true(res.user.is_admin);
	/* never a second time */
	assert_int_equal(auth_bootstrap_admin(f->c, pw, sizeof(pw), &err), 0);
}

static void test_login_and_sessions(void **state)
{
	struct fx *f = *state;
	auth_login_result res;
	session_rec sess;
	user_rec u;
	tt_error err;
	int64_t id = add_user(f->c, "alice", "password1");

	tt_error_init(&err);
	assert_int_equal(auth_login(f->c, "alice", "wrong-password", "10.0.0.1", NULL, &res, &err),
			 TT_EAUTH);
	assert_string_equal(err.code, "invalid_credentials");
	assert_int_equal(auth_login(f->c, "nobody", "password1", "10.0.0.1", NULL, &res, &err),
			 TT_EAUTH);
	assert_string_equal(err.code, "invalid_credentials");

	assert_int_equal(auth_login(f->c, "alice", "password1", "10.0.0.1", "ua", &res, &err), 0);
	assert_int_equal(res.user.id, id);
	assert_int_equal(strlen(res.session_token), 43);
	assert_int_equal(auth_session(f->c, res.session_token, &u, &sess, &err), 0);
	assert_int_equal(u.id, id);
	assert_string_equal(sess.csrf_token, res.csrf_token);
	assert_int_equal(auth_session(f->c, "not-a-session", &u, &sess, &err), TT_EAUTH);

	/* expired sessions are refused and removed */
	assert_int_equal(store_run(f->c, &err, "UPDATE sessions SET expires_at = 1", ""), 0);
	assert_int_equal(auth_session(f->c, res.session_token, &u, &sess, &err), TT_EAUTH);
	/* so are idle ones */
	assert_int_equal(auth_login(f->c, "alice", "password1", "10.0.0.1", "ua", &res, &err), 0);
	assert_int_equal(store_run(f->c, &err, "UPDATE sessions SET last_seen_at = ?", "i",
				   store_now() - cfg.session_idle - 1), 0);
	assert_int_equal(auth_session(f->c, res.session_token, &u, &sess, &err), TT_EAUTH);

	/* logout ends the session */
	assert_int_equal(auth_login(f->c, "alice", "password1", "10.0.0.1", "ua", &res, &err), 0);
	assert_int_equal(auth_session(f->c, res.session_token, &u, &sess, &err), 0);
	assert_int_equal(auth_logout(f->c, sess.id, &err), 0);
	assert_int_equal(auth_session(f->c, res.session_token, &u, &sess, &err), TT_EAUTH);

	/* only the hash of the cookie is stored */
	{
		int64_t n = -1;

		store_query_int64(f->c, &err, &n, "SELECT COUNT(*) FROM sessions WHERE token_hash = ?",
				  "s", res.session_token);
		assert_int_equal(n, 0);
	}
}

static void test_throttle_per_user(void **state)
{
	struct fx *f = *state;
	auth_login_result res;
	tt_error err;

	add_user(f->c, "carol", "password1");
	tt_error_init(&err);
	for (int i = 0; i < AUTH_MAX_USER_FAILURES; i++)
		assert_int_equal(auth_login(f->c, "carol", "bad-password", "10.0.0.2", NULL, &res, &err),
				 TT_EAUTH);
	/* now even the right password is refused, from any address */
	assert_int_equal(auth_login(f->c, "carol", "password1", "10.9.9.9", NULL, &res, &err),
			 TT_ETHROTTLED);
	assert_true(res.retry_after > 0 && res.retry_after <= AUTH_THROTTLE_WINDOW);
	assert_string_equal(err.code, "too_many_attempts");
	/* other users are not affected */
	add_user(f->c, "dave", "password1");
	assert_int_equal(auth_login(f->c, "dave", "password1", "10.0.0.2", NULL, &res, &err), 0);
}

static void test_throttle_per_address(void **state)
{
	struct fx *f = *state;
	auth_login_result res;
	char name[32];
	tt_error err;

	add_user(f->c, "erin", "password1");
	tt_error_init(&err);
	for (int i = 0; i < AUTH_MAX_ADDR_FAILURES; i++) {
		snprintf(name, sizeof(name), "ghost%d", i);
		assert_int_equal(auth_login(f->c, name, "x-password", "10.0.0.3", NULL, &res, &err),
				 TT_EAUTH);
	}
	assert_int_equal(auth_login(f->c, "erin", "password1", "10.0.0.3", NULL, &res, &err),
			 TT_ETHROTTLED);
	assert_int_equal(auth_login(f->c, "erin", "password1", "10.0.0.4", NULL, &res, &err), 0);
}

static void test_api_tokens(void **state)
{
	struct fx *f = *state;
	char token[AUTH_API_TOKEN_SIZE];
	token_rec tok;
	user_rec u;
	tt_error err;
	int64_t tid, id = add_user(f->c, "frank", "password1");

	tt_error_init(&err);
	assert_int_equal(auth_token_create(f->c, id, "", &tid, token, &err), TT_EINVAL);
	assert_int_equal(auth_token_create(f->c, id, "ci", &tid, token, &err), 0);
	assert_true(strncmp(token, "tt_", 3) == 0);
	assert_int_equal(auth_bearer(f->c, token, &u, &tok, &err), 0);
	assert_int_equal(u.id, id);
	assert_int_equal(tok.id, tid);
	assert_int_equal(auth_bearer(f->c, "tt_forged", &u, &tok, &err), TT_EAUTH);
	assert_int_equal(auth_bearer(f->c, "garbage", &u, &tok, &err), TT_EAUTH);
	assert_int_equal(tokens_revoke(f->c, tid, id, &err), 0);
	assert_int_equal(auth_bearer(f->c, token, &u, &tok, &err), TT_EAUTH);
	assert_string_equal(err.code, "invalid_token");
}

static void test_config_precedence(void **state)
{
	tt_config c;
	tt_error err;

	(void)state;
	tt_error_init(&err);
	setenv("TT_WORKERS", "5", 1);
	setenv("TT_EXPORT_TTL", "12h", 1);
	assert_int_equal(config_init(&c, &err), 0);
	assert_int_equal(c.workers, 5);
	assert_int_equal(c.export_ttl, 12 * 3600);
	assert_int_equal(c.max_entry_hours, 24);
	/* a flag wins over the environment */
	assert_int_equal(config_set(&c, "workers", "3", &err), 0);
	assert_int_equal(c.workers, 3);
	assert_int_equal(config_set(&c, "workers", "many", &err), TT_EINVAL);
	assert_int_equal(config_set(&c, "timezone", "Nowhere/City", &err), TT_EINVAL);
	assert_int_equal(config_finish(&c, &err), 0);
	assert_string_equal(c.db_url, "sqlite:./data/timetracker.db");
	config_release(&c);

	setenv("TT_WORKERS", "-1", 1);
	assert_int_equal(config_init(&c, &err), TT_EINVAL);
	assert_non_null(strstr(err.msg, "TT_WORKERS"));
	config_release(&c);
	unsetenv("TT_WORKERS");
	unsetenv("TT_EXPORT_TTL");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crypto),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_config_precedence),
		cmocka_unit_test_setup_teardown(test_user_create_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bootstrap_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_and_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_throttle_per_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_throttle_per_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_tokens, setup, teardown),
	};
	tt_error err;
	int rc;

	if (crypto_init())
		return 1;
	tt_error_init(&err);
	config_init(&cfg, &err);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	config_release(&cfg);
	return rc;
}
