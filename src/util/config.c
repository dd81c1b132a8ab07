/*
 * config.c - defaults, environment and flag handling for tt_config.
 */
#include "util/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/datetime.h"
#include "core/tz.h"
#include "util/alloc.h"
#include "util/log.h"

tt_config cfg;

/* Every setting: its flag name and environment variable. */
static const struct {
	const char *name;
	const char *env;
} settings[] = {
	{ "db", "TT_DB" },
	{ "data-dir", "TT_DATA_DIR" },
	{ "listen", "TT_LISTEN" },
	{ "workers", "TT_WORKERS" },
	{ "http-threads", "TT_HTTP_THREADS" },
	{ "export-ttl", "TT_EXPORT_TTL" },
	{ "backup-ttl", "TT_BACKUP_TTL" },
	{ "sweep-interval", "TT_SWEEP_INTERVAL" },
	{ "max-upload-mb", "TT_MAX_UPLOAD_MB" },
	{ "max-entry-hours", "TT_MAX_ENTRY_HOURS" },
	{ "timezone", "TT_TIMEZONE" },
	{ "toggl-url", "TT_TOGGL_URL" },
	{ "harvest-url", "TT_HARVEST_URL" },
	{ "cookie-secure", "TT_COOKIE_SECURE" },
	{ "trust-proxy", "TT_TRUST_PROXY" },
	{ "job-stale", "TT_JOB_STALE" },
	{ "log-level", "TT_LOG_LEVEL" },
	{ "session-ttl", "TT_SESSION_TTL" },
	{ "session-idle", "TT_SESSION_IDLE" },
};

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

static int parse_int(const char *name, const char *v, int64_t min, int64_t max,
		     int64_t *out, tt_error *err)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max)
		return tt_error_set(err, TT_EINVAL, "invalid_setting", name,
				    "%s: expected a whole number from %lld to %lld, got \"%.40s\"",
				    name, (long long)min, (long long)max, v);
	*out = n;
	return 0;
}

static int parse_interval(const char *name, const char *v, int64_t *out, tt_error *err)
{
	if (dt_parse_interval(v, out) != 0 || *out <= 0)
		return tt_error_set(err, TT_EINVAL, "invalid_setting", name,
				    "%s: expected a duration such as 7d, 12h, 30m or 45s, got \"%.40s\"",
				    name, v);
	return 0;
}

static int parse_bool(const char *name, const char *v, bool *out, tt_error *err)
{
	if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !*v) {
		*out = false;
		return 0;
	}
	return tt_error_set(err, TT_EINVAL, "invalid_setting", name,
			    "%s: expected 1 or 0, got \"%.40s\"", name, v);
}

int config_set(tt_config *c, const char *name, const char *v, tt_error *err)
{
	int64_t n;
	int rc = 0;

	if (!strcmp(name, "db")) {
		set_str(&c->db_url, v);
		c->db_url_given = true;
	} else if (!strcmp(name, "data-dir")) {
		if (!*v)
			return tt_error_set(err, TT_EINVAL, "invalid_setting", name,
					    "data-dir must not be empty");
		set_str(&c->data_dir, v);
	} else if (!strcmp(name, "listen")) {
		set_str(&c->listen, v);
	} else if (!strcmp(name, "workers")) {
		if (!(rc = parse_int(name, v, 0, 64, &n, err)))
			c->workers = (int)n;
	} else if (!strcmp(name, "http-threads")) {
		if (!(rc = parse_int(name, v, 1, 256, &n, err)))
			c->http_threads = (int)n;
	} else if (!strcmp(name, "export-ttl")) {
		rc = parse_interval(name, v, &c->export_ttl, err);
	} else if (!strcmp(name, "backup-ttl")) {
		rc = parse_interval(name, v, &c->backup_ttl, err);
	} else if (!strcmp(name, "sweep-interval")) {
		rc = parse_interval(name, v, &c->sweep_interval, err);
	} else if (!strcmp(name, "session-ttl")) {
		rc = parse_interval(name, v, &c->session_ttl, err);
	} else if (!strcmp(name, "session-idle")) {
		rc = parse_interval(name, v, &c->session_idle, err);
	} else if (!strcmp(name, "max-upload-mb")) {
		rc = parse_int(name, v, 1, 1024 * 1024, &c->max_upload_mb, err);
	} else if (!strcmp(name, "max-entry-hours")) {
		rc = parse_int(name, v, 1, 24 * 366, &c->max_entry_hours, err);
	} else if (!strcmp(name, "timezone")) {
		if (!tz_is_valid(v))
			return tt_error_set(err, TT_EINVAL, "invalid_setting", name,
					    "timezone: unknown time zone \"%.60s\"", v);
		set_str(&c->timezone, v);
	} else if (!strcmp(name, "toggl-url")) {
		set_str(&c->toggl_url, v);
	} else if (!strcmp(name, "harvest-url")) {
		set_str(&c->harvest_url, v);
	} else if (!strcmp(name, "cookie-secure")) {
		rc = parse_bool(name, v, &c->cookie_secure, err);
	} else if (!strcmp(name, "trust-proxy")) {
		rc = parse_bool(name, v, &c->trust_proxy, err);
	} else if (!strcmp(name, "job-stale")) {
		rc = parse_interval(name, v, &c->job_stale, err);
	} else if (!strcmp(name, "log-level")) {
		if (log_level_parse(v, &c->log_level))
			return tt_error_set(err, TT_EINVAL, "invalid_setting", name,
					    "log-level: expected debug, info, warn, error or off, got \"%.40s\"", v);
	} else {
		return tt_error_set(err, TT_EINVAL, "invalid_setting", name,
				    "unknown setting %s", name);
	}
	return rc;
}

int config_init(tt_config *c, tt_error *err)
{
	memset(c, 0, sizeof(*c));
	c->data_dir = xstrdup("./data");
	c->listen = xstrdup("127.0.0.1:8080");
	c->workers = 2;
	c->http_threads = 8;
	c->export_ttl = 7 * 86400;
	c->backup_ttl = 30 * 86400;
	c->sweep_interval = 3600;
	c->max_upload_mb = 1024;
	c->max_entry_hours = 24;
	c->timezone = xstrdup("UTC");
	c->toggl_url = xstrdup("https://api.track.toggl.com");
	c->harvest_url = xstrdup("https://api.harvestapp.com");
	c->log_level = LOG_INFO;
	c->session_ttl = 30 * 86400;
	c->session_idle = 7 * 86400;
	c->job_stale = 30;

	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		const char *v = getenv(settings[i].env);
		int rc;

		if (!v)
			continue;
		rc = config_set(c, settings[i].name, v, err);
		if (rc) {
			/* Name the environment variable, not the flag. */
			if (err) {
				size_t l = strlen(err->msg);

				snprintf(err->msg + l, sizeof(err->msg) - l, " (from %s)",
					 settings[i].env);
			}
			return rc;
		}
	}
	return 0;
}

int config_finish(tt_config *c, tt_error *err)
{
	if (!c->db_url)
		c->db_url = xasprintf("sqlite:%s/timetracker.db", c->data_dir);
	if (!strchr(c->listen, ':'))
		return tt_error_set(err, TT_EINVAL, "invalid_setting", "listen",
				    "listen: expected ADDR:PORT, got \"%.60s\"", c->listen);
	return 0;
}

void config_release(tt_config *c)
{
	free(c->db_url);
	free(c->data_dir);
	free(c->listen);
	free(c->timezone);
	free(c->toggl_url);
	free(c->harvest_url);
	memset(c, 0, sizeof(*c));
}
