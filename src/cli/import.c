/*
 * import.c (cli) - `timetracker import csv|status|history|undo`: the same
 * job code as the server, run in this process, with a progress bar on a
 * terminal and plain progress lines otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/datetime.h"
#include "imports/import.h"
#include "jobs/jobs.h"
#include "store/imports.h"
#include "store/users.h"
#include "util/alloc.h"
#include "util/config.h"

struct progress {
	bool tty;
	int64_t started_ns;
	int64_t last_ns;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_progress(void *ctx, int64_t done, int64_t total, int64_t rows)
{
	struct progress *p = ctx;
	int64_t now = mono_ns();
	double secs = (double)(now - p->started_ns) / 1e9;
	double rate = secs > 0 ? (double)rows / secs : 0;
	int pct = total > 0 ? (int)(done * 100 / total) : 0;
	double eta = (done > 0 && total > done) ? secs * (double)(total - done) / (double)done : 0;

	if (cfg.quiet)
		return;
	if (p->tty) {
		char bar[31];
		int fill = pct * 30 / 100;

		if (now - p->last_ns < 100000000 && done < total)
			return;
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(30 - fill));
		bar[30] = '\0';
		fprintf(stderr, "\r[%s] %3d%%  %lld rows  %.0f rows/s  ETA %d:%02d  ", bar, pct,
			(long long)rows, rate, (int)eta / 60, (int)eta % 60);
	} else {
		if (now - p->last_ns < 5000000000LL && done < total)
			return;
		fprintf(stderr, "progress: %d%% (%lld rows, %.0f rows/s)\n", pct, (long long)rows, rate);
	}
	p->last_ns = now;
}

static void on_sigint(int sig)
{
	(void)sig;
	jobs_cancel_all_here();
}

static int find_user(store *s, const char *name, user_rec *u)
{
	tt_error err;

	tt_error_init(&err);
	if (!name) {
		fprintf(stderr, "timetracker: say whose entries these are with --user NAME\n");
		return EXIT_USAGE;
	}
	if (users_get_by_name(store_conn_get(s, &err), name, u, NULL, 0, &err)) {
		fprintf(stderr, "timetracker: no user named \"%s\"\n", name);
		return EXIT_FAILED;
	}
	return 0;
}

static void print_result(const struct import_result *r, int64_t id)
{
	if (id)
		printf("Import %lld: %s\n", (long long)id, r->status);
	else
		printf("Dry run: %s (nothing was written)\n", r->status);
	printf("  rows %lld, stored %lld, failed %lld, skipped (duplicates) %lld, warnings %lld\n",
	       (long long)r->total, (long long)r->ok, (long long)r->failed, (long long)r->skipped,
	       (long long)r->warnings);
	printf("  created: %lld clients, %lld projects, %lld tasks, %lld tags\n",
	       (long long)r->created[0], (long long)r->created[1], (long long)r->created[2],
	       (long long)r->created[3]);
	if (r->fatal[0])
		printf("  %s\n", r->fatal);
}

static int print_error_cb(void *ctx, const import_error_rec *e)
{
	(void)ctx;
	printf("  %s row %lld (line %lld)%s%s: %s\n", e->severity, (long long)e->row,
	       (long long)e->line, e->column ? ", " : "", e->column ? e->column : "", e->message);
	return 0;
}

static int exit_for(const char *status)
{
	if (!strcmp(status, "completed"))
		return EXIT_DONE;
	if (!strcmp(status, "partial"))
		return EXIT_PARTIAL;
	return EXIT_FAILED;
}

static int import_csv(store *s, const char *file, struct cli_opt *opts, bool clients)
{
	struct import_options o;
	struct import_result res;
	struct progress prog = { isatty(STDERR_FILENO), mono_ns(), 0 };
	store_conn *c;
	user_rec u;
	tt_error err;
	struct stat stbuf;
	char rel[128], *abs = NULL;
	int64_t id = 0, job_id;
	int rc, result;

	tt_error_init(&err);
	import_options_init(&o);
	{
		static const struct {
			const char *opt, *key;
		} map[] = { { "format", "format" },         { "timezone", "timezone" },
			    { "date-order", "date_order" }, { "delimiter", "delimiter" } };

		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
			const struct cli_opt *op = cli_opt_get(opts, map[i].opt);

			if (op->set && import_options_set(&o, map[i].key, op->value, &err) < 0)
				return cli_usage("--%s: %s", map[i].opt, err.msg);
		}
	}
	if (clients && (cli_opt_get(opts, "dry-run")->set || cli_opt_get(opts, "atomic")->set))
		return cli_usage("import clients: --dry-run and --atomic are for entry imports only");
	o.dry_run = cli_opt_get(opts, "dry-run")->set;
	o.atomic = cli_opt_get(opts, "atomic")->set;
	o.allow_duplicates = cli_opt_get(opts, "allow-duplicates")->set;
	if (stat(file, &stbuf) || !S_ISREG(stbuf.st_mode)) {
		fprintf(stderr, "timetracker: cannot read %s: %s\n", file,
			errno ? strerror(errno) : "not a regular file");
		return EXIT_FAILED;
	}
	if ((rc = find_user(s, cli_opt_get(opts, "user")->value, &u)))
		return rc;
	c = store_conn_get(s, &err);
	import_result_init(&res);
	if (o.dry_run) {
		csv_import_run(c, 0, &u, file, &o, NULL, &res);
		print_result(&res, 0);
		if (!cfg.quiet && res.errors) {
			size_t i;
			json_t *e;

			json_array_foreach(res.errors, i, e)
				printf("  %s row %lld (line %lld), %s: %s\n",
				       json_string_value(json_object_get(e, "severity")),
				       (long long)json_integer_value(json_object_get(e, "row")),
				       (long long)json_integer_value(json_object_get(e, "line")),
				       json_string_value(json_object_get(e, "column"))
					       ? json_string_value(json_object_get(e, "column"))
					       : "-",
				       json_string_value(json_object_get(e, "message")));
		}
		rc = exit_for(res.status);
		import_result_release(&res);
		return rc;
	}

	/* Record the import and its job, pinned to this process, then run it here. */
	{
		json_t *oj = clients ? json_pack("{s:b, s:s}", "skip_duplicates",
						 !cli_opt_get(opts, "allow-duplicates")->set,
						 "duplicate_detection_fields",
						 cli_opt_get(opts, "detect")->set ? cli_opt_get(opts, "detect")->value
										  : "name")
				     : import_options_to_json(&o);
		char *text = json_dumps(oj, JSON_COMPACT);
		const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;

		json_decref(oj);
		rc = store_begin(c, STORE_TX_WRITE, &err);
		if (!rc)
			rc = imports_create(c, u.id, clients ? "csv_clients" : "csv", base, NULL,
					    stbuf.st_size, text, &id, &err);
		free(text);
		if (!rc) {
			snprintf(rel, sizeof(rel), "uploads/import-%lld.csv", (long long)id);
			abs = xasprintf("%s/%s", cfg.data_dir, rel);
			if (cli_copy_file(file, abs, true)) {
				rc = tt_error_set(&err, TT_EIO, NULL, NULL, "cannot stage %s in %s/uploads: %s",
						  file, cfg.data_dir, strerror(errno));
			}
		}
		if (!rc && !(rc = imports_set_file(c, id, rel, &err)) &&
		    !(rc = jobs_submit(c, clients ? IMPORT_JOB_CLIENTS : IMPORT_JOB_CSV, id, true,
				       &job_id, &err)))
			rc = store_commit(c, &err);
		if (rc) {
			store_rollback(c);
			if (abs)
				unlink(abs);
			free(abs);
			return cli_fail(&err);
		}
		free(abs);
	}
	signal(SIGINT, on_sigint);
	result = jobs_run_here(s, job_id, on_progress, &prog, &err);
	signal(SIGINT, SIG_DFL);
	if (prog.tty && !cfg.quiet)
		fputc('\n', stderr);
	if (result < 0)
		return cli_fail(&err);
	{
		import_rec r;

		if (imports_get(c, id, &r, &err))
			return cli_fail(&err);
		res.total = r.total;
		res.ok = r.successful;
		res.failed = r.failed;
		res.skipped = r.skipped;
		res.warnings = r.warnings;
		snprintf(res.status, sizeof(res.status), "%s", r.status);
		if (r.error_message)
			snprintf(res.fatal, sizeof(res.fatal), "%s", r.error_message);
		imports_created_counts(c, id, res.created, &err);
		import_rec_release(&r);
	}
	print_result(&res, id);
	if (!cfg.quiet && res.failed) {
		int64_t total;

		imports_errors(c, id, NULL, 20, 0, print_error_cb, NULL, &total, &err);
		if (total > 20)
			printf("  ... %lld more: timetracker import status %lld, or GET /api/import/%lld/errors\n",
			       (long long)(total - 20), (long long)id, (long long)id);
	}
	return exit_for(res.status);
}

static int import_status(store *s, const char *arg)
{
	store_conn *c;
	import_rec r;
	tt_error err;
	char *end;
	int64_t id = strtoll(arg, &end, 10), total;

	tt_error_init(&err);
	if (*end || id <= 0)
		return cli_usage("import status: ID must be a positive number");
	c = store_conn_get(s, &err);
	if (imports_get(c, id, &r, &err))
		return cli_fail(&err);
	printf("Import %lld (%s) by %s: %s\n", (long long)r.id, r.import_type, r.username, r.status);
	printf("  file %s, rows %lld, stored %lld, failed %lld, skipped %lld, warnings %lld\n",
	       r.source_file ? r.source_file : "-", (long long)r.total, (long long)r.successful,
	       (long long)r.failed, (long long)r.skipped, (long long)r.warnings);
	if (r.error_message)
		printf("  %s\n", r.error_message);
	imports_errors(c, id, NULL, 50, 0, print_error_cb, NULL, &total, &err);
	import_rec_release(&r);
	return EXIT_DONE;
}

static int history_cb(void *ctx, const import_rec *r)
{
	char t[21] = "-";

	(void)ctx;
	if (r->created_at)
		dt_format_utc(r->created_at, t);
	printf("%-6lld %-20s %-12s %-8s %-10s %8lld %8lld %8lld %8lld  %s\n", (long long)r->id, t,
	       r->username, r->import_type, r->status, (long long)r->total, (long long)r->successful,
	       (long long)r->failed, (long long)r->skipped, r->source_file ? r->source_file : "-");
	return 0;
}

static int import_history(store *s, struct cli_opt *opts)
{
	const struct cli_opt *uo = cli_opt_get(opts, "user");
	user_rec u = { 0 };
	tt_error err;
	int64_t total;
	int rc;

	tt_error_init(&err);
	if (uo->set && (rc = find_user(s, uo->value, &u)))
		return rc;
	printf("%-6s %-20s %-12s %-8s %-10s %8s %8s %8s %8s  %s\n", "ID", "CREATED", "USER", "TYPE",
	       "STATUS", "ROWS", "STORED", "FAILED", "SKIPPED", "FILE");
	if (imports_history(store_conn_get(s, &err), u.id, 1000, 0, history_cb, NULL, &total, &err))
		return cli_fail(&err);
	return EXIT_DONE;
}

static int import_undo(store *s, const char *arg, bool force)
{
	store_conn *c;
	import_rec r;
	tt_error err;
	char *end;
	int64_t id = strtoll(arg, &end, 10), deleted[5] = { 0 }, edited = 0;

	tt_error_init(&err);
	if (*end || id <= 0)
		return cli_usage("import undo: ID must be a positive number");
	c = store_conn_get(s, &err);
	if (imports_get(c, id, &r, &err))
		return cli_fail(&err);
	if (!strcmp(r.status, "pending") || !strcmp(r.status, "processing") ||
	    !strcmp(r.status, "undone")) {
		fprintf(stderr, "timetracker: import %lld is %s; it cannot be undone now\n", (long long)id,
			r.status);
		import_rec_release(&r);
		return EXIT_FAILED;
	}
	import_rec_release(&r);
	if (store_begin(c, STORE_TX_WRITE, &err) || imports_edited_count(c, id, &edited, &err))
		goto fail;
	if (edited && !force) {
		store_rollback(c);
		fprintf(stderr, "timetracker: %lld entries of import %lld were edited since; use --force "
				"to remove them anyway\n", (long long)edited, (long long)id);
		return EXIT_FAILED;
	}
	if (imports_undo(c, id, deleted, &err) || imports_mark_undone(c, id, &err) ||
	    store_commit(c, &err))
		goto fail;
	if (!cfg.quiet)
		printf("Import %lld undone: removed %lld entries, %lld clients, %lld projects, %lld tasks, "
		       "%lld tags\n", (long long)id, (long long)deleted[0], (long long)deleted[1],
		       (long long)deleted[2], (long long)deleted[3], (long long)deleted[4]);
	return EXIT_DONE;
fail:
	store_rollback(c);
	return cli_fail(&err);
}

int cmd_import(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "user", true, "csv, history: the user the entries belong to" },
		{ "format", true, "csv: auto (default) or timetracker" },
		{ "dry-run", false, "csv: check and preview only; write nothing" },
		{ "timezone", true, "csv: zone of times without an offset (default: the user's)" },
		{ "date-order", true, "csv: ymd, dmy or mdy for slashed dates such as 03/04/2024" },
		{ "delimiter", true, "csv: , ; or tab (default: sniffed from the header)" },
		{ "atomic", false, "csv: all rows or nothing" },
		{ "allow-duplicates", false, "csv: store rows that duplicate existing entries; clients: report duplicates as errors" },
		{ "force", false, "undo: also remove entries edited since the import" },
		{ "detect", true, "clients: duplicate detection fields (default name), e.g. name,email" },
		{ NULL, false, NULL },
	};
	store *s = NULL;
	char **pos;
	int npos, rc;
	tt_error err;

	tt_error_init(&err);
	if ((rc = cli_parse(argc, argv, opts,
			    "timetracker import csv FILE --user U [options] | clients FILE --user U [--detect F] | status ID | history [--user U] | undo ID [--force]",
			    &npos, &pos)))
		return rc < 0 ? EXIT_DONE : rc;
	if (npos < 1)
		return cli_usage("import: say csv, status, history or undo");
	if (!strcmp(pos[0], "csv") || !strcmp(pos[0], "clients") || !strcmp(pos[0], "status") ||
	    !strcmp(pos[0], "undo")) {
		if (npos != 2)
			return cli_usage("import %s: give exactly one %s", pos[0],
					 strcmp(pos[0], "csv") && strcmp(pos[0], "clients") ? "ID" : "FILE");
	} else if (!strcmp(pos[0], "history")) {
		if (npos != 1)
			return cli_usage("import history: unexpected argument \"%s\"", pos[1]);
	} else {
		return cli_usage("import: unknown action \"%s\"", pos[0]);
	}
	if ((rc = cli_open_store(&s, true)))
		return rc;
	if ((rc = cli_make_dirs()))
		goto out;
	imports_register_jobs();
	if (!strcmp(pos[0], "csv") || !strcmp(pos[0], "clients")) {
		if (jobs_start(s, 0, cfg.job_stale, &err)) {
			rc = cli_fail(&err);
			goto out;
		}
		rc = import_csv(s, pos[1], opts, !strcmp(pos[0], "clients"));
		jobs_stop();
	} else if (!strcmp(pos[0], "status")) {
		rc = import_status(s, pos[1]);
	} else if (!strcmp(pos[0], "history")) {
		rc = import_history(s, opts);
	} else {
		rc = import_undo(s, pos[1], cli_opt_get(opts, "force")->set);
	}
out:
	store_close(s);
	return rc;
}
