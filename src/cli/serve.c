/*
 * serve.c - `timetracker serve`: migrate, create the first admin if there
 * are no users, serve HTTP until SIGTERM/SIGINT, then shut down gracefully
 * (stop accepting, let requests in flight finish, exit 0).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "auth/auth.h"
#include "backup/backup.h"
#include "exports/export.h"
#include "imports/import.h"
#include "jobs/jobs.h"
#include "cli/cli.h"
#include "util/config.h"
#include "util/crypto.h"
#include "util/log.h"

#define SHUTDOWN_GRACE_MS 15000

int cmd_serve(int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "listen", true, "ADDR:PORT to listen on (TT_LISTEN, default 127.0.0.1:8080; port 0 = any free)" },
		{ "workers", true, "background job workers (TT_WORKERS, default 2)" },
		{ "http-threads", true, "request threads (TT_HTTP_THREADS, default 8)" },
		{ NULL, false, NULL },
	};
	char password[48];
	http_server *srv = NULL;
	store *s = NULL;
	sigset_t set;
	tt_error err;
	char **pos;
	int npos, rc, sig = 0;

	tt_error_init(&err);
	if ((rc = cli_parse(argc, argv, opts,
			    "timetracker serve [--listen ADDR:PORT] [--db URL] [--data-dir DIR] [--workers N]",
			    &npos, &pos)))
		return rc < 0 ? EXIT_DONE : rc;
	if (npos)
		return cli_usage("serve: unexpected argument \"%s\"", pos[0]);
	for (const char *const *n = (const char *const[]){ "listen", "workers", "http-threads", NULL };
	     *n; n++) {
		const struct cli_opt *o = cli_opt_get(opts, *n);

		if (o->set && config_set(&cfg, *n, o->value, &err))
			return cli_usage("%s", err.msg);
	}

	/* Signals go to sigwait below: block them before any thread starts. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = cli_open_store(&s, true)))
		return rc;
	rc = auth_bootstrap_admin(store_conn_get(s, &err), password, sizeof(password), &err);
	if (rc < 0) {
		store_close(s);
		return cli_fail(&err);
	}
	if (rc == 1) {
		/* Shown once, on stdout only: never written to the log. */
		printf("Created administrator \"admin\" with password: %s\n"
		       "Sign in and keep it safe; it will not be shown again.\n",
		       password);
		fflush(stdout);
		crypto_wipe(password, sizeof(password));
	}
	if (cli_make_dirs()) {
		store_close(s);
		return EXIT_FAILED;
	}
	imports_register_jobs();
	exports_register_jobs();
	backup_register_jobs();
	if (jobs_start(s, cfg.workers, cfg.job_stale, &err) || exports_sweeper_start(s, &err)) {
		jobs_stop();
		store_close(s);
		return cli_fail(&err);
	}
	if (http_server_start(cfg.listen, api_routes, s, cfg.http_threads, &srv, &err)) {
		jobs_stop();
		exports_sweeper_stop();
		store_close(s);
		return cli_fail(&err);
	}
	{
		char host[128];
		const char *colon = strrchr(cfg.listen, ':');

		snprintf(host, sizeof(host), "%.*s", (int)(colon - cfg.listen), cfg.listen);
		log_info("listening on http://%s:%d (database: %s, data: %s)", host[0] ? host : "0.0.0.0",
			 http_server_port(srv), store_engine_name(s), cfg.data_dir);
	}

	while (sigwait(&set, &sig) != 0)
		;
	log_info("received %s: finishing requests in flight, then stopping",
		 sig == SIGTERM ? "SIGTERM" : "SIGINT");
	http_server_stop(srv, SHUTDOWN_GRACE_MS);
	/* Running jobs stop at their next batch boundary and resume at the next start. */
	jobs_stop();
	exports_sweeper_stop();
	store_close(s);
	log_info("stopped");
	return EXIT_DONE;
}
