/*
 * log.h - leveled logging to stderr, one line per event.
 *
 * The level is checked before anything is formatted (Redis). Lines look like
 *   2026-11-25T15:00:00Z INFO  listening on http://127.0.0.1:8080
 * Never pass secrets (passwords, tokens, cookies, credentials) to the log.
 */
#ifndef TT_LOG_H
#define TT_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

extern int log_min_level;

/* Parses "debug", "info", "warn", "error", "off". Returns 0 or -1. */
int log_level_parse(const char *s, int *out);
void log_set_level(int level);

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(level, ...)                                  \
	do {                                                \
		if ((level) >= log_min_level)               \
			log_write((level), __VA_ARGS__);    \
	} while (0)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)

#endif
