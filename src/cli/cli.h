/*
 * cli.h - shared machinery of the command-line commands.
 *
 * Each command group (serve, migrate, user, token, ...) is one function
 * `int cmd_X(int argc, char **argv)` listed in main.c's command table. A
 * command declares its options as a NULL-terminated cli_opt array; global
 * options (--db, --data-dir, --log-level, -q, --help) are accepted anywhere
 * on the line. Options read TT_<NAME> from the environment through
 * config_init; flags win over the environment.
 *
 * Exit status: 0 done, 1 failed, 2 usage error, 3 partial (SPEC §4).
 */
#ifndef TT_CLI_H
#define TT_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "store/store.h"
#include "util/err.h"

enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_PARTIAL = 3 };

struct cli_opt {
	const char *name;   /* long name without "--" */
	bool has_arg;
	const char *help;
	bool multi;         /* may be given several times (values[]) */
	/* filled by cli_parse */
	const char *value;
	bool set;
	const char *values[32];
	int nvalues;
};

/*
 * Parses argv[1..] (argv[0] is the command name) against opts and the global
 * options, applying the globals to cfg. On return *npos/pos hold the
 * positional arguments. Returns 0 to go on, EXIT_USAGE after printing the
 * problem, or -1 after printing help (the caller exits 0).
 */
int cli_parse(int argc, char **argv, struct cli_opt *opts, const char *usage, int *npos,
	      char ***pos);

/* The option called name in opts (asserts it exists). */
const struct cli_opt *cli_opt_get(const struct cli_opt *opts, const char *name);

/* Prints "timetracker: <msg>" to stderr and returns EXIT_FAILED (or code). */
int cli_fail(const tt_error *err);
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Creates the directories under the data directory (uploads, exports). 0 or EXIT_FAILED. */
int cli_make_dirs(void);

/* Creates the data directory, opens the store and applies migrations when migrate is true. */
int cli_open_store(store **s, bool migrate);

/*
 * Reads a password: from the first line of stdin with --password-stdin, else
 * from the terminal without echo (asked twice when confirm). Returns a
 * malloc'ed string or NULL after printing why.
 */
char *cli_read_password(bool from_stdin, bool confirm);

int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_backup(int argc, char **argv);

/*
 * Copies src to dst (dst must not exist); with may_link a hard link is made
 * instead when both are on one file system. 0 or -1 with errno.
 */
int cli_copy_file(const char *src, const char *dst, bool may_link);

#endif
