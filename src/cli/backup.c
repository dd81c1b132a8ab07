/*
 * backup.c (cli) - `timetracker backup create -o FILE | verify FILE |
 * restore FILE --yes`: the same code as the API (the backup export job,
 * backup_verify, backup_restore), run in this process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/backup.h"
#include "cli/cli.h"
#include "exports/export.h"
#include "exports/filters.h"
#include "jobs/jobs.h"
#include "store/exports.h"
#include "store/migrate.h"
#include "store/users.h"
#include "util/config.h"

/* The first administrator: backups made from the shell are recorded as theirs. */
static int first_admin(store_conn *c, int64_t *id)
{
	user_rec *list;
	size_t n;
	tt_error err;

	tt_error_init(&err);
	*id = 0;
	if (users_list(c, &list, &n, &err))
		return cli_fail(&err);
	for (size_t i = 0; i < n && !*id; i++)
		if (list[i].is_admin)
			*id = list[i].id;
	free(list);
	if (!*id) {
		fprintf(stderr, "timetracker: there is no administrator to record the backup for\n");
		return EXIT_FAILED;
	}
	return 0;
}

static int backup_create(store *s, const char *out)
{
	char file[128], download[160], src[1024];
	store_conn *c = store_conn_get(s, NULL);
	export_rec r;
	tt_error err;
	int64_t admin, id, job_id;
	int rc, result;

	tt_error_init(&err);
	if (access(out, F_OK) == 0)
		return cli_usage("backup create: %s exists; choose a new file name", out);
	if ((rc = first_admin(c, &admin)))
		return rc;
	exports_register_jobs();
	if (jobs_start(s, 0, cfg.job_stale, &err))
		return cli_fail(&err);
	if (store_begin(c, STORE_TX_WRITE, &err) ||
	    exports_create(c, admin, "backup", "ttbackup", NULL, &id, &err) ||
	    export_file_names(id, "backup", "ttbackup", file, sizeof(file), download, sizeof(download)) ||
	    exports_set_names(c, id, file, download, &err) ||
	    jobs_submit(c, EXPORT_JOB_BACKUP, id, true, &job_id, &err) || store_commit(c, &err)) {
		store_rollback(c);
		jobs_stop();
		return cli_fail(&err);
	}
	result = jobs_run_here(s, job_id, NULL, NULL, &err);
	jobs_stop();
	if (result < 0)
		return cli_fail(&err);
	if (exports_get(c, id, &r, &err))
		return cli_fail(&err);
	if (strcmp(r.status, "completed")) {
		fprintf(stderr, "timetracker: the backup failed: %s\n",
			r.error_message ? r.error_message : "no file was made");
		export_rec_release(&r);
		return EXIT_FAILED;
	}
	snprintf(src, sizeof(src), "%s/exports/%s", cfg.data_dir, r.file_name);
	if (cli_copy_file(src, out, false)) {
		fprintf(stderr, "timetracker: cannot write %s: %s\n", out, strerror(errno));
		export_rec_release(&r);
		return EXIT_FAILED;
	}
	if (!cfg.quiet)
		printf("Backup %lld: %lld rows, %lld bytes, sha256 %s -> %s\n", (long long)id,
		       (long long)r.record_count, (long long)r.file_size, r.sha256 ? r.sha256 : "-", out);
	export_rec_release(&r);
	return EXIT_DONE;
}

static void print_report(const backup_report *rep)
{
	printf("%s: format %d, schema %d, made on %s by TimeTracker %s at %s\n",
	       rep->valid ? "valid" : "INVALID", rep->format_version, rep->schema_version,
	       rep->engine[0] ? rep->engine : "?", rep->app_version[0] ? rep->app_version : "?",
	       rep->created_at[0] ? rep->created_at : "?");
	for (int i = 0; i < backup_table_count(); i++)
		printf("  %-18s %lld rows\n", BACKUP_TABLES[i].name, (long long)rep->counts[i]);
	for (size_t i = 0; i < json_array_size(rep->problems); i++)
		printf("  problem: %s\n", json_string_value(json_array_get(rep->problems, i)));
}

static int backup_verify_cmd(const char *file)
{
	backup_report rep;
	tt_error err;
	int rc;

	tt_error_init(&err);
	if (access(file, R_OK)) {
		fprintf(stderr, "timetracker: cannot read %s: %s\n", file, strerror(errno));
		return EXIT_FAILED;
	}
	if (backup_verify(file, migrate_latest(), (int64_t)cfg.max_upload_mb * 1024 * 1024 * 16, &rep,
			  &err))
		return cli_fail(&err);
	print_report(&rep);
	rc = rep.valid ? EXIT_DONE : EXIT_FAILED;
	backup_report_release(&rep);
	return rc;
}

static int backup_restore_cmd(store *s, const char *file)
{
	store_conn *c = store_conn_get(s, NULL);
	json_t *result = NULL;
	tt_error err;

	tt_error_init(&err);
	/* by nobody in particular: the history names the restored data's first admin */
	if (backup_restore(s, c, NULL, file, 0, &result, &err)) {
		/* an invalid archive is a failure (1), not a usage error */
		fprintf(stderr, "timetracker: %s\n", err.msg);
		return EXIT_FAILED;
	}
	if (!cfg.quiet) {
		char *text = json_dumps(json_object_get(result, "counts"), JSON_COMPACT);

		printf("Restored %lld rows from %s (%s). The previous data was saved as %s/backups/%s\n",
		       (long long)json_integer_value(json_object_get(result, "rows")), file,
		       text ? text : "", cfg.data_dir,
		       json_string_value(json_object_get(result, "pre_restore_backup")));
		free(text);
	}
	json_decref(result);
	return EXIT_DONE;
}

int cmd_backup(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "output", true, "create: the file to write (also -o)" },
		{ "yes", false, "restore: yes, replace ALL data of this instance" },
		{ NULL, false, NULL },
	};
	store *s = NULL;
	char **pos;
	int npos, rc;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-o"))
			argv[i] = (char *)(uintptr_t)"--output";
	if ((rc = cli_parse(argc, argv, opts,
			    "timetracker backup create -o FILE | verify FILE | restore FILE --yes", &npos,
			    &pos)))
		return rc < 0 ? EXIT_DONE : rc;
	if (npos < 1)
		return cli_usage("backup: say create, verify or restore");
	if (!strcmp(pos[0], "verify")) {
		if (npos != 2)
			return cli_usage("backup verify: give exactly one FILE");
		return backup_verify_cmd(pos[1]);
	}
	if (!strcmp(pos[0], "create")) {
		if (npos != 1)
			return cli_usage("backup create: unexpected argument \"%s\"", pos[1]);
		if (!cli_opt_get(opts, "output")->set)
			return cli_usage("backup create: say where to write with -o FILE");
	} else if (!strcmp(pos[0], "restore")) {
		if (npos != 2)
			return cli_usage("backup restore: give exactly one FILE");
		if (!cli_opt_get(opts, "yes")->set)
			return cli_usage("backup restore replaces ALL data of this instance; add --yes to go ahead");
	} else {
		return cli_usage("backup: unknown action \"%s\"", pos[0]);
	}
	if ((rc = cli_open_store(&s, true)))
		return rc;
	if ((rc = cli_make_dirs()) == 0)
		rc = !strcmp(pos[0], "create") ? backup_create(s, cli_opt_get(opts, "output")->value)
					       : backup_restore_cmd(s, pos[1]);
	store_close(s);
	return rc;
}
