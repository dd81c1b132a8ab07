/*
 * export.c (cli) - `timetracker export gdpr|filtered ... -o FILE`: the same
 * export jobs as the server, run in this process with a progress bar; the
 * finished file is kept in the export history and linked or copied to FILE.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "exports/export.h"
#include "exports/filters.h"
#include "jobs/jobs.h"
#include "store/entries.h"
#include "store/exports.h"
#include "store/users.h"
#include "util/alloc.h"
#include "util/config.h"

static void on_progress(void *ctx, int64_t done, int64_t total, int64_t rows)
{
	(void)ctx;
	(void)total;
	(void)done;
	if (!cfg.quiet && isatty(STDERR_FILENO))
		fprintf(stderr, "\rexported %lld entries ", (long long)rows);
}

static void on_sigint(int sig)
{
	(void)sig;
	jobs_cancel_all_here();
}

static void add_id(void *ctx, int64_t id)
{
	json_array_append_new(ctx, json_integer(id));
}

/* The ids of every project called name (under any client). */
static int project_ids_by_name(store_conn *c, const char *name, json_t *ids, tt_error *err)
{
	size_t before = json_array_size(ids);
	int rc = catalog_project_ids_by_name(c, name, add_id, ids, err);

	if (rc)
		return rc;
	if (json_array_size(ids) == before)
		return tt_error_set(err, TT_EINVAL, "invalid_field", "project", "no project named \"%s\"",
				    name);
	return 0;
}

int cmd_export(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "user", true, "whose data to export" },
		{ "format", true, "gdpr: json or zip; filtered: csv, json, xlsx or ics" },
		{ "output", true, "the file to write (also -o)" },
		{ "from", true, "filtered: first day (YYYY-MM-DD, inclusive) or instant" },
		{ "to", true, "filtered: last day (YYYY-MM-DD, inclusive) or instant" },
		{ "project", true, "filtered: a project name (repeat for several)", true },
		{ "tag", true, "filtered: a tag (repeat for several; any of them)", true },
		{ "billable", true, "filtered: true or false" },
		{ "timezone", true, "filtered: zone of date-only bounds (default: the user's)" },
		{ "excel", false, "filtered CSV: start with a UTF-8 BOM for Excel" },
		{ "no-excel-safe", false, "filtered CSV: no ' before cells starting with = + - @" },
		{ NULL, false, NULL },
	};
	struct export_filters ef;
	char file[128], download[160], src[1024];
	const char *format, *out, *type;
	const struct export_writer *w = NULL;
	store *s = NULL;
	store_conn *c;
	user_rec u;
	export_rec r;
	tt_error err;
	char **pos;
	int npos, rc, result;
	int64_t id, job_id;
	char *saved = NULL;
	json_t *body = NULL;

	tt_error_init(&err);
	export_filters_init(&ef);
	/* -o FILE is a synonym of --output FILE */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-o"))
			argv[i] = (char *)(uintptr_t)"--output";
	if ((rc = cli_parse(argc, argv, opts,
			    "timetracker export gdpr --user U --format json|zip -o FILE | filtered --user U "
			    "--format csv|json|xlsx|ics [--from D] [--to D] [--project NAME]... -o FILE",
			    &npos, &pos)))
		return rc < 0 ? EXIT_DONE : rc;
	if (npos != 1 || (strcmp(pos[0], "gdpr") && strcmp(pos[0], "filtered")))
		return cli_usage("export: say gdpr or filtered");
	type = pos[0];
	format = cli_opt_get(opts, "format")->value;
	out = cli_opt_get(opts, "output")->value;
	if (!out)
		return cli_usage("export: say where to write with -o FILE");
	if (!format)
		format = strcmp(type, "gdpr") ? "csv" : "json";
	if (!strcmp(type, "gdpr") ? (strcmp(format, "json") && strcmp(format, "zip"))
				  : !(w = export_writer_find(format)))
		return cli_usage("export %s: unknown format \"%s\"", type, format);
	if (!cli_opt_get(opts, "user")->value)
		return cli_usage("export: say whose data with --user NAME");
	if (access(out, F_OK) == 0)
		return cli_usage("export: %s exists; choose a new file name", out);
	if ((rc = cli_open_store(&s, true)))
		return rc;
	if ((rc = cli_make_dirs()))
		goto out;
	c = store_conn_get(s, &err);
	if (users_get_by_name(c, cli_opt_get(opts, "user")->value, &u, NULL, 0, &err)) {
		fprintf(stderr, "timetracker: no user named \"%s\"\n", cli_opt_get(opts, "user")->value);
		rc = EXIT_FAILED;
		goto out;
	}
	if (w) {
		json_t *filters = json_object();
		const struct cli_opt *o;

		body = json_pack("{s:o, s:b, s:b}", "filters", filters, "excel",
				 cli_opt_get(opts, "excel")->set, "excel_safe",
				 !cli_opt_get(opts, "no-excel-safe")->set);
		if ((o = cli_opt_get(opts, "from"))->set)
			json_object_set_new(filters, "start_date", json_string(o->value));
		if ((o = cli_opt_get(opts, "to"))->set)
			json_object_set_new(filters, "end_date", json_string(o->value));
		if ((o = cli_opt_get(opts, "timezone"))->set)
			json_object_set_new(filters, "timezone", json_string(o->value));
		if ((o = cli_opt_get(opts, "billable"))->set) {
			if (strcmp(o->value, "true") && strcmp(o->value, "false")) {
				rc = cli_usage("export: --billable must be true or false");
				goto out;
			}
			json_object_set_new(filters, "billable", json_boolean(!strcmp(o->value, "true")));
		}
		if ((o = cli_opt_get(opts, "project"))->set) {
			json_t *ids = json_array();

			json_object_set_new(filters, "project_ids", ids);
			for (int i = 0; i < o->nvalues; i++)
				if (project_ids_by_name(c, o->values[i], ids, &err)) {
					rc = cli_fail(&err);
					goto out;
				}
		}
		if ((o = cli_opt_get(opts, "tag"))->set) {
			json_t *tags = json_array();

			json_object_set_new(filters, "tags", tags);
			for (int i = 0; i < o->nvalues; i++)
				json_array_append_new(tags, json_string(o->values[i]));
		}
		if (export_filters_parse(c, &u, body, &ef, &err)) {
			rc = cli_fail(&err);
			goto out;
		}
		saved = json_dumps(ef.echo, JSON_COMPACT);
	}
	exports_register_jobs();
	if (jobs_start(s, 0, cfg.job_stale, &err)) {
		rc = cli_fail(&err);
		goto out;
	}
	if (store_begin(c, STORE_TX_WRITE, &err) ||
	    exports_create(c, u.id, type, format, saved, &id, &err) ||
	    export_file_names(id, type, w ? w->extension : format, file, sizeof(file), download,
			      sizeof(download)) ||
	    exports_set_names(c, id, file, download, &err) ||
	    jobs_submit(c, w ? EXPORT_JOB_FILTERED : EXPORT_JOB_GDPR, id, true, &job_id, &err) ||
	    store_commit(c, &err)) {
		store_rollback(c);
		jobs_stop();
		rc = cli_fail(&err);
		goto out;
	}
	signal(SIGINT, on_sigint);
	result = jobs_run_here(s, job_id, on_progress, NULL, &err);
	signal(SIGINT, SIG_DFL);
	jobs_stop();
	if (!cfg.quiet && isatty(STDERR_FILENO))
		fputc('\n', stderr);
	if (result < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (exports_get(c, id, &r, &err)) {
		rc = cli_fail(&err);
		goto out;
	}
	if (strcmp(r.status, "completed")) {
		fprintf(stderr, "timetracker: export %lld %s: %s\n", (long long)id, r.status,
			r.error_message ? r.error_message : "no file was made");
		export_rec_release(&r);
		rc = EXIT_FAILED;
		goto out;
	}
	snprintf(src, sizeof(src), "%s/exports/%s", cfg.data_dir, r.file_name);
	/* A copy: the user's file must not change the stored export. */
	if (cli_copy_file(src, out, false)) {
		fprintf(stderr, "timetracker: cannot write %s: %s\n", out, strerror(errno));
		export_rec_release(&r);
		rc = EXIT_FAILED;
		goto out;
	}
	if (!cfg.quiet)
		printf("Export %lld: %lld entries, %lld bytes, sha256 %s -> %s\n", (long long)id,
		       (long long)r.record_count, (long long)r.file_size, r.sha256 ? r.sha256 : "-", out);
	export_rec_release(&r);
	rc = EXIT_DONE;
out:
	free(saved);
	if (body)
		json_decref(body);
	export_filters_release(&ef);
	store_close(s);
	return rc;
}
