/*
 * log.c - the logger (see log.h). One write(2) per line so lines from
 * different threads never interleave.
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/datetime.h"

int log_min_level = LOG_INFO;

static const char *names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

int log_level_parse(const char *s, int *out)
{
	static const char *words[] = { "debug", "info", "warn", "error", "off" };

	for (int i = 0; i < 5; i++) {
		if (strcasecmp(s, words[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_WARN;
		return 0;
	}
	return -1;
}

void log_set_level(int level)
{
	log_min_level = level;
}

void log_write(int level, const char *fmt, ...)
{
	char line[2048];
	char ts[21];
	struct timespec now;
	va_list ap;
	int n;

	if (level < LOG_DEBUG || level > LOG_ERROR)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	dt_format_utc((int64_t)now.tv_sec, ts);
	n = snprintf(line, sizeof(line), "%s %-5s ", ts, names[level]);
	va_start(ap, fmt);
	{
		int start = n;

		n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
		if (n > (int)sizeof(line) - 2)
			n = (int)sizeof(line) - 2;
		/* One event, one line: no control character may forge another. */
		for (int i = start; i < n; i++)
			if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
				line[i] = '?';
	}
	va_end(ap);
	line[n++] = '\n';
	/* One write per line: atomic for pipes up to PIPE_BUF. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
}
