/*
 * main.c - the command table. Everything else lives in cli/ and below.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/tz.h"
#include "util/config.h"
#include "util/crypto.h"
#include "util/log.h"

#define TT_VERSION "0.1.0"

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "serve", cmd_serve, "run the HTTP server and the background workers" },
	{ "migrate", cmd_migrate, "apply, revert or list schema migrations" },
	{ "user", cmd_user, "add, list users, change a password" },
	{ "token", cmd_token, "create, list or revoke API tokens" },
	{ "import", cmd_import, "import CSV files; import status, history and undo" },
	{ "export", cmd_export, "export a user's data (GDPR) or filtered entries to a file" },
	{ "backup", cmd_backup, "create, verify or restore a backup of the whole instance" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: timetracker COMMAND [OPTIONS]\n\nCommands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fprintf(f, "\nRun 'timetracker COMMAND --help' for a command's options.\n"
		   "Global options: --db URL, --data-dir DIR, --log-level LEVEL, -q.\n");
}

int main(int argc, char **argv)
{
	tt_error err;
	int rc = EXIT_USAGE;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_DONE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("timetracker %s\n", TT_VERSION);
		return EXIT_DONE;
	}
	/* Files we create (database, uploads, exports) are private to us. */
	umask(077);
	if (crypto_init()) {
		fprintf(stderr, "timetracker: cannot initialise libsodium\n");
		return EXIT_FAILED;
	}
	tt_error_init(&err);
	if (config_init(&cfg, &err)) {
		fprintf(stderr, "timetracker: %s\n", err.msg);
		return EXIT_USAGE;
	}
	/* Only the server logs at info by default; commands print results instead. */
	if (strcmp(argv[1], "serve") && !getenv("TT_LOG_LEVEL"))
		cfg.log_level = LOG_WARN;
	log_set_level(cfg.log_level);
	for (const struct command *c = commands; c->name; c++) {
		if (!strcmp(argv[1], c->name)) {
			rc = c->fn(argc - 1, argv + 1);
			goto out;
		}
	}
	fprintf(stderr, "timetracker: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
out:
	config_release(&cfg);
	tz_cache_free();
	return rc;
}
