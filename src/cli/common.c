/*
 * common.c - option parsing, store opening and password input shared by
 * the commands (see cli.h).
 */
#include "cli/cli.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "store/migrate.h"
#include "util/alloc.h"
#include "util/config.h"
#include "util/crypto.h"
#include "util/log.h"

static const char *GLOBAL_HELP =
	"Global options:\n"
	"  --db URL            database: sqlite:PATH (default sqlite:DATA_DIR/timetracker.db)\n"
	"                      or postgresql://... (TT_DB)\n"
	"  --data-dir DIR      uploads, exports, backups (TT_DATA_DIR, default ./data)\n"
	"  --log-level LEVEL   debug, info, warn, error, off (TT_LOG_LEVEL, default info)\n"
	"  -q, --quiet         print only results and errors\n"
	"  -h, --help          show this help\n";

int cli_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("timetracker: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(see --help)\n", stderr);
	return EXIT_USAGE;
}

int cli_fail(const tt_error *err)
{
	fprintf(stderr, "timetracker: %s\n", err->msg[0] ? err->msg : "failed");
	return err->rc == TT_EINVAL ? EXIT_USAGE : EXIT_FAILED;
}

const struct cli_opt *cli_opt_get(const struct cli_opt *opts, const char *name)
{
	for (; opts && opts->name; opts++)
		if (!strcmp(opts->name, name))
			return opts;
	assert(!"unknown option name");
	return NULL;
}

int cli_parse(int argc, char **argv, struct cli_opt *opts, const char *usage, int *npos,
	      char ***pos)
{
	enum { G_DB = 1000, G_DATA_DIR, G_LOG_LEVEL, G_BASE = 2000 };
	struct option lo[64];
	size_t n = 0, nopts = 0;
	tt_error err;
	int c;

	tt_error_init(&err);
	lo[n++] = (struct option){ "db", required_argument, NULL, G_DB };
	lo[n++] = (struct option){ "data-dir", required_argument, NULL, G_DATA_DIR };
	lo[n++] = (struct option){ "log-level", required_argument, NULL, G_LOG_LEVEL };
	lo[n++] = (struct option){ "quiet", no_argument, NULL, 'q' };
	lo[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	for (struct cli_opt *o = opts; o && o->name; o++, nopts++) {
		assert(n < sizeof(lo) / sizeof(lo[0]) - 1);
		lo[n++] = (struct option){ o->name, o->has_arg ? required_argument : no_argument, NULL,
					   G_BASE + (int)nopts };
	}
	lo[n] = (struct option){ NULL, 0, NULL, 0 };

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
		switch (c) {
		case G_DB:
			if (config_set(&cfg, "db", optarg, &err))
				return cli_usage("%s", err.msg);
			break;
		case G_DATA_DIR:
			if (config_set(&cfg, "data-dir", optarg, &err))
				return cli_usage("%s", err.msg);
			break;
		case G_LOG_LEVEL:
			if (config_set(&cfg, "log-level", optarg, &err))
				return cli_usage("%s", err.msg);
			log_set_level(cfg.log_level);
			break;
		case 'q':
			cfg.quiet = true;
			if (cfg.log_level < LOG_WARN)
				log_set_level(LOG_WARN);
			break;
		case 'h':
			printf("Usage: %s\n", usage);
			for (struct cli_opt *o = opts; o && o->name; o++)
				printf("  --%-18s%s\n", o->name, o->help);
			printf("%s", GLOBAL_HELP);
			return -1;
		case '?':
			if (optopt)
				return cli_usage("%s: unknown option -%c", argv[0], optopt);
			return cli_usage("%s: unknown option or missing value: %s", argv[0],
					 argv[optind - 1]);
		default:
			if (c >= G_BASE && c < G_BASE + (int)nopts) {
				struct cli_opt *o = &opts[c - G_BASE];

				if (o->set && !o->multi && o->has_arg)
					return cli_usage("%s: --%s given twice", argv[0], o->name);
				o->set = true;
				o->value = optarg;
				if (o->multi && o->nvalues < 32)
					o->values[o->nvalues++] = optarg;
			}
		}
	}
	if (config_finish(&cfg, &err))
		return cli_usage("%s", err.msg);
	*npos = argc - optind;
	*pos = argv + optind;
	return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char *copy = xstrdup(path);
	int rc = 0;

	for (char *p = copy + 1; *p && !rc; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	if (!rc && mkdir(copy, mode) && errno != EEXIST)
		rc = -1;
	free(copy);
	return rc;
}

int cli_make_dirs(void)
{
	static const char *subdirs[] = { "uploads", "exports", "backups", NULL };

	for (const char **d = subdirs; *d; d++) {
		char *path = xasprintf("%s/%s", cfg.data_dir, *d);
		int rc = mkdir_p(path, 0700);

		if (rc)
			fprintf(stderr, "timetracker: cannot create %s: %s\n", path, strerror(errno));
		free(path);
		if (rc)
			return EXIT_FAILED;
	}
	return 0;
}

int cli_open_store(store **s, bool migrate)
{
	tt_error err;
	int count;

	tt_error_init(&err);
	if (mkdir_p(cfg.data_dir, 0700)) {
		fprintf(stderr, "timetracker: cannot create the data directory %s: %s\n", cfg.data_dir,
			strerror(errno));
		return EXIT_FAILED;
	}
	if (store_open(cfg.db_url, s, &err))
		return cli_fail(&err);
	if (migrate && migrate_current(*s, &count, &err) == 0 && count > migrate_latest()) {
		fprintf(stderr,
			"timetracker: the database schema (version %d) is newer than this program "
			"knows (%d); run a newer timetracker\n", count, migrate_latest());
		store_close(*s);
		*s = NULL;
		return EXIT_FAILED;
	}
	if (migrate && migrate_up(*s, 0, &count, &err)) {
		store_close(*s);
		*s = NULL;
		return cli_fail(&err);
	}
	return 0;
}

static char *read_line(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);

	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static char *prompt_hidden(const char *prompt)
{
	struct termios old, quiet;
	char *line;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old))
		return NULL;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	line = read_line(stdin);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return line;
}

char *cli_read_password(bool from_stdin, bool confirm)
{
	char *a, *b;

	if (from_stdin) {
		a = read_line(stdin);
		if (!a || !*a) {
			free(a);
			fprintf(stderr, "timetracker: no password on standard input\n");
			return NULL;
		}
		return a;
	}
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "timetracker: no terminal to ask for the password; "
				"use --password-stdin\n");
		return NULL;
	}
	a = prompt_hidden("Password: ");
	if (!a)
		return NULL;
	if (!confirm)
		return a;
	b = prompt_hidden("Repeat password: ");
	if (!b || strcmp(a, b)) {
		fprintf(stderr, "timetracker: the passwords do not match\n");
		crypto_wipe(a, strlen(a));
		free(a);
		if (b)
			crypto_wipe(b, strlen(b));
		free(b);
		return NULL;
	}
	crypto_wipe(b, strlen(b));
	free(b);
	return a;
}

/* Copies src to dst, or hard-links it when allowed and possible (see cli.h). */
int cli_copy_file(const char *src, const char *dst, bool may_link)
{
	char buf[1 << 16];
	int in, out, rc = 0;
	ssize_t n;

	if (may_link && link(src, dst) == 0)
		return 0;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	}
	if (n < 0)
		rc = -1;
	close(in);
	if (close(out))
		rc = -1;
	if (rc)
		unlink(dst);
	return rc;
}

