/*
 * tz.h - IANA time zones from the system's TZif files.
 *
 * Reads /usr/share/zoneinfo (or $TZDIR, or the directory given to
 * tz_set_dir) ourselves: TZ/localtime are process-global and cannot serve a
 * different zone per request. Version 2+ files are read with their 64-bit
 * transitions; instants past the last transition follow the POSIX TZ rule in
 * the file's footer, so far-future dates are right too.
 *
 * Zones are loaded once and cached for the life of the process; a returned
 * tz_zone is immutable and may be shared between threads. All functions are
 * thread-safe. Unknown names are errors, never a silent UTC.
 */
#ifndef TT_TZ_H
#define TT_TZ_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tz_zone tz_zone;

enum tz_local_kind {
	TZ_LOCAL_OK = 0,      /* the wall-clock time exists exactly once */
	TZ_LOCAL_GAP = 1,     /* skipped by a forward transition (does not exist) */
	TZ_LOCAL_OVERLAP = 2, /* repeated by a backward transition (exists twice) */
};

/*
 * Changes the directory zones are read from (tests). Not thread-safe: call
 * before any tz_get. Default: $TZDIR if set, else /usr/share/zoneinfo.
 */
void tz_set_dir(const char *dir);

/*
 * Returns the zone called name ("Europe/Berlin", "UTC"), loading and caching
 * it on first use, or NULL when the name is malformed (absolute path, "..",
 * characters outside [A-Za-z0-9/_+-]), unknown, or its file is not a valid
 * TZif file. The result lives until tz_cache_free().
 */
const tz_zone *tz_get(const char *name);

/* True when tz_get(name) would succeed. */
bool tz_is_valid(const char *name);

/* The canonical name the zone was loaded under. */
const char *tz_name(const tz_zone *z);

/*
 * UTC offset in seconds east of Greenwich in force at instant utc (seconds
 * since the epoch). *is_dst (may be NULL) receives the DST flag.
 */
int32_t tz_offset_at(const tz_zone *z, int64_t utc, int *is_dst);

/* Wall-clock seconds (the local time written as if it were UTC) at utc. */
int64_t tz_utc_to_local(const tz_zone *z, int64_t utc);

/*
 * Converts a wall-clock time (seconds since the epoch as if it were UTC) to
 * a UTC instant.
 *  - TZ_LOCAL_OK: *utc is the one instant.
 *  - TZ_LOCAL_OVERLAP: *utc is the first (earlier) occurrence.
 *  - TZ_LOCAL_GAP: the time does not exist; *utc is set to the instant the
 *    wall-clock time would have with the offset in force before the gap (for
 *    messages only; callers treat a gap as an error).
 */
enum tz_local_kind tz_local_to_utc(const tz_zone *z, int64_t local, int64_t *utc);

/* Frees every cached zone. Only at exit, when no other thread uses zones. */
void tz_cache_free(void);

#endif
