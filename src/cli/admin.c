/*
 * admin.c - `timetracker migrate`, `user` and `token`: administration from
 * the shell, through the same services the HTTP API uses.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "core/datetime.h"
#include "store/migrate.h"
#include "store/users.h"
#include "util/config.h"
#include "util/crypto.h"

static void fmt_time(int64_t t, char buf[21])
{
	if (t)
		dt_format_utc(t, buf);
	else
		snprintf(buf, 21, "-");
}

static int parse_count(const char *v, int *out)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*end || end == v || n < 1 || n > 10000)
		return -1;
	*out = (int)n;
	return 0;
}

int cmd_migrate(int argc, char **argv)
{
	static const char *usage = "timetracker migrate up | down [N] | status";
	migration_info *list;
	store *s = NULL;
	tt_error err;
	char **pos;
	int npos, rc, count = 0, steps = 1;
	size_t n;

	tt_error_init(&err);
	if ((rc = cli_parse(argc, argv, NULL, usage, &npos, &pos)))
		return rc < 0 ? EXIT_DONE : rc;
	if (npos < 1)
		return cli_usage("migrate: say up, down or status");
	if (strcmp(pos[0], "up") && strcmp(pos[0], "down") && strcmp(pos[0], "status"))
		return cli_usage("migrate: unknown action \"%s\" (up, down or status)", pos[0]);
	if (npos > (strcmp(pos[0], "down") ? 1 : 2))
		return cli_usage("migrate %s: unexpected argument \"%s\"", pos[0], pos[npos - 1]);
	if (npos == 2 && parse_count(pos[1], &steps))
		return cli_usage("migrate down: N must be a positive number, got \"%s\"", pos[1]);
	if ((rc = cli_open_store(&s, false)))
		return rc;
	if (!strcmp(pos[0], "up")) {
		if ((rc = migrate_up(s, 0, &count, &err)))
			goto fail;
		if (!cfg.quiet)
			printf("%d migration(s) applied; schema at version %d\n", count, migrate_latest());
	} else if (!strcmp(pos[0], "down")) {
		if ((rc = migrate_down(s, steps, &count, &err)))
			goto fail;
		if (!cfg.quiet)
			printf("%d migration(s) reverted\n", count);
	} else {
		if ((rc = migrate_status(s, &list, &n, &err)))
			goto fail;
		printf("%-8s %-24s %-8s %s\n", "VERSION", "NAME", "STATE", "APPLIED_AT");
		for (size_t i = 0; i < n; i++) {
			char t[21];

			fmt_time(list[i].applied_at, t);
			printf("%03d      %-24s %-8s %s\n", list[i].version, list[i].name,
			       list[i].applied ? "applied" : "pending", t);
		}
		free(list);
	}
	store_close(s);
	return EXIT_DONE;
fail:
	store_close(s);
	return cli_fail(&err);
}

static int user_add(int npos, char **pos, struct cli_opt *opts)
{
	auth_user_params p = { 0 };
	store *s = NULL;
	tt_error err;
	char *password;
	int64_t id;
	int rc;

	tt_error_init(&err);
	if (npos != 2)
		return cli_usage("user add: give exactly one user name");
	p.username = pos[1];
	p.is_admin = cli_opt_get(opts, "admin")->set;
	p.email = cli_opt_get(opts, "email")->value;
	p.full_name = cli_opt_get(opts, "full-name")->value;
	p.timezone = cli_opt_get(opts, "timezone")->value;
	if (auth_check_username(p.username, &err))
		return cli_usage("%s", err.msg);
	if (!(password = cli_read_password(cli_opt_get(opts, "password-stdin")->set, true)))
		return EXIT_FAILED;
	p.password = password;
	if ((rc = cli_open_store(&s, true)))
		goto out;
	rc = auth_user_create(store_conn_get(s, &err), &p, &id, &err);
	if (rc)
		rc = cli_fail(&err);
	else if (!cfg.quiet)
		printf("Created %s \"%s\" (id %lld)\n", p.is_admin ? "administrator" : "user",
		       p.username, (long long)id);
out:
	crypto_wipe(password, strlen(password));
	free(password);
	store_close(s);
	return rc;
}

static int user_list(void)
{
	user_rec *list;
	store *s = NULL;
	tt_error err;
	size_t n;
	int rc;

	tt_error_init(&err);
	if ((rc = cli_open_store(&s, true)))
		return rc;
	if (users_list(store_conn_get(s, &err), &list, &n, &err)) {
		store_close(s);
		return cli_fail(&err);
	}
	printf("%-6s %-24s %-6s %-7s %-24s %-32s %s\n", "ID", "USERNAME", "ROLE", "ACTIVE", "TIMEZONE",
	       "EMAIL", "LAST_LOGIN");
	for (size_t i = 0; i < n; i++) {
		char t[21];

		fmt_time(list[i].last_login_at, t);
		printf("%-6lld %-24s %-6s %-7s %-24s %-32s %s\n", (long long)list[i].id,
		       list[i].username, list[i].is_admin ? "admin" : "user",
		       list[i].is_active ? "yes" : "no", list[i].timezone,
		       list[i].email[0] ? list[i].email : "-", t);
	}
	free(list);
	store_close(s);
	return EXIT_DONE;
}

static int user_passwd(int npos, char **pos, struct cli_opt *opts)
{
	store *s = NULL;
	tt_error err;
	char *password;
	int rc;

	tt_error_init(&err);
	if (npos != 2)
		return cli_usage("user passwd: give exactly one user name");
	if (!(password = cli_read_password(cli_opt_get(opts, "password-stdin")->set, true)))
		return EXIT_FAILED;
	if ((rc = cli_open_store(&s, true)))
		goto out;
	rc = auth_user_set_password(store_conn_get(s, &err), pos[1], password, &err);
	if (rc)
		rc = cli_fail(&err);
	else if (!cfg.quiet)
		printf("Password of \"%s\" changed; their sessions were ended\n", pos[1]);
out:
	crypto_wipe(password, strlen(password));
	free(password);
	store_close(s);
	return rc;
}

int cmd_user(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "admin", false, "add: make the user an administrator" },
		{ "email", true, "add: e-mail address" },
		{ "full-name", true, "add: full name" },
		{ "timezone", true, "add: IANA time zone (default TT_TIMEZONE, else UTC)" },
		{ "password-stdin", false, "read the password from the first line of standard input" },
		{ NULL, false, NULL },
	};
	char **pos;
	int npos, rc;

	if ((rc = cli_parse(argc, argv, opts,
			    "timetracker user add NAME [--admin] [--email E] [--timezone TZ] "
			    "[--password-stdin] | list | passwd NAME [--password-stdin]",
			    &npos, &pos)))
		return rc < 0 ? EXIT_DONE : rc;
	if (npos < 1)
		return cli_usage("user: say add, list or passwd");
	if (!strcmp(pos[0], "add"))
		return user_add(npos, pos, opts);
	if (!strcmp(pos[0], "list")) {
		if (npos != 1)
			return cli_usage("user list: unexpected argument \"%s\"", pos[1]);
		return user_list();
	}
	if (!strcmp(pos[0], "passwd"))
		return user_passwd(npos, pos, opts);
	return cli_usage("user: unknown action \"%s\" (add, list or passwd)", pos[0]);
}

static int find_user(store_conn *c, const char *name, user_rec *u)
{
	tt_error err;

	tt_error_init(&err);
	if (users_get_by_name(c, name, u, NULL, 0, &err)) {
		if (err.rc == TT_ENOTFOUND)
			fprintf(stderr, "timetracker: no user named \"%s\"\n", name);
		else
			cli_fail(&err);
		return EXIT_FAILED;
	}
	return 0;
}

int cmd_token(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "name", true, "create: a name to recognise the token by (default \"cli\")" },
		{ NULL, false, NULL },
	};
	char token[AUTH_API_TOKEN_SIZE];
	store *s = NULL;
	store_conn *c;
	user_rec u;
	tt_error err;
	char **pos;
	int npos, rc;
	int64_t id;

	tt_error_init(&err);
	if ((rc = cli_parse(argc, argv, opts,
			    "timetracker token create USER [--name N] | list USER | revoke ID", &npos,
			    &pos)))
		return rc < 0 ? EXIT_DONE : rc;
	if (npos < 2)
		return cli_usage("token: say create USER, list USER or revoke ID");
	if (npos > 2)
		return cli_usage("token: unexpected argument \"%s\"", pos[2]);
	if (strcmp(pos[0], "create") && strcmp(pos[0], "list") && strcmp(pos[0], "revoke"))
		return cli_usage("token: unknown action \"%s\" (create, list or revoke)", pos[0]);
	if (!strcmp(pos[0], "revoke")) {
		char *end;

		id = strtoll(pos[1], &end, 10);
		if (*end || id <= 0)
			return cli_usage("token revoke: ID must be a positive number");
	}
	if ((rc = cli_open_store(&s, true)))
		return rc;
	c = store_conn_get(s, &err);
	if (!strcmp(pos[0], "create")) {
		const char *name = cli_opt_get(opts, "name")->value;

		if ((rc = find_user(c, pos[1], &u)))
			goto out;
		if (auth_token_create(c, u.id, name ? name : "cli", &id, token, &err)) {
			rc = cli_fail(&err);
			goto out;
		}
		/* The secret goes to stdout alone, so scripts can capture it. */
		printf("%s\n", token);
		if (!cfg.quiet)
			fprintf(stderr, "Created API token %lld for \"%s\"; it will not be shown again.\n",
				(long long)id, u.username);
		crypto_wipe(token, sizeof(token));
	} else if (!strcmp(pos[0], "list")) {
		token_rec *list;
		size_t n;

		if ((rc = find_user(c, pos[1], &u)))
			goto out;
		if (tokens_list(c, u.id, &list, &n, &err)) {
			rc = cli_fail(&err);
			goto out;
		}
		printf("%-6s %-24s %-10s %-20s %-20s %s\n", "ID", "NAME", "PREFIX", "CREATED",
		       "LAST_USED", "REVOKED");
		for (size_t i = 0; i < n; i++) {
			char a[21], b[21], r[21];

			fmt_time(list[i].created_at, a);
			fmt_time(list[i].last_used_at, b);
			fmt_time(list[i].revoked_at, r);
			printf("%-6lld %-24s %-10s %-20s %-20s %s\n", (long long)list[i].id,
			       list[i].name, list[i].prefix, a, b, r);
		}
		free(list);
	} else {
		if (tokens_revoke(c, id, 0, &err)) {
			rc = cli_fail(&err);
			goto out;
		}
		if (!cfg.quiet)
			printf("API token %lld revoked\n", (long long)id);
	}
out:
	store_close(s);
	return rc;
}
