/*
 * config.h - the process-wide settings (SPEC §4).
 *
 * Precedence: command-line flag > TT_* environment variable > default. The
 * CLI fills a tt_config with config_init (defaults + environment), then
 * overrides fields from its flags, then calls config_finish to validate and
 * derive. After start-up the structure is read-only and shared by all threads
 * through the global `cfg`.
 */
#ifndef TT_CONFIG_H
#define TT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

typedef struct tt_config {
	char *db_url;          /* "sqlite:PATH" or "postgresql://..." */
	char *data_dir;        /* uploads, exports, backups */
	char *listen;          /* "ADDR:PORT"; port 0 picks a free one */
	int workers;           /* background job workers */
	int http_threads;      /* request threads */
	int64_t export_ttl;    /* seconds */
	int64_t backup_ttl;    /* seconds */
	int64_t sweep_interval;/* seconds */
	int64_t max_upload_mb;
	int64_t max_entry_hours;
	char *timezone;        /* default zone of new users */
	char *toggl_url;
	char *harvest_url;
	bool cookie_secure;
	bool trust_proxy;      /* take the client address from X-Forwarded-For */
	int64_t job_stale;     /* seconds without heartbeat before a job is orphaned */
	int log_level;
	bool quiet;
	int64_t session_ttl;   /* absolute session lifetime, seconds */
	int64_t session_idle;  /* idle timeout, seconds */
	bool db_url_given;     /* db_url came from a flag or TT_DB */
} tt_config;

extern tt_config cfg;

/* Fills c with defaults, then with TT_* variables. Errors name the variable. */
int config_init(tt_config *c, tt_error *err);

/* Sets one field from a string (flag or environment); name is the flag name. */
int config_set(tt_config *c, const char *name, const char *value, tt_error *err);

/* Validates and derives (db default follows data_dir). */
int config_finish(tt_config *c, tt_error *err);

void config_release(tt_config *c);

#endif
