/*
 * zipout.h - ZIP archives written through an export sink (libarchive,
 * deflate, members streamed with data descriptors when their size is not
 * known), with the size and SHA-256 of every member's uncompressed bytes
 * recorded for a manifest. Used by the GDPR ZIP and the backup archive.
 *
 * Errors are sticky: after the first failure every call returns it, and
 * z->err holds one sentence for people (details go to the log).
 */
#ifndef TT_ZIPOUT_H
#define TT_ZIPOUT_H

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#include "exports/export.h"

#define ZIPOUT_MAX_MEMBERS 32

struct zip_member_sum {
	const char *name;   /* static string given to zipout_begin */
	int64_t size;
	char sha256[65];
};

typedef struct zipout {
	export_sink *sink;
	struct archive *a;            /* NULL: writes go straight to the sink (no archive) */
	crypto_hash_sha256_state sha; /* of the current member's bytes */
	int64_t member_size;          /* bytes of the current member so far */
	struct zip_member_sum members[ZIPOUT_MAX_MEMBERS];
	int n_members;                /* listed members so far */
	int64_t now;                  /* members' mtime */
	int perm;                     /* members' mode */
	const char *what;             /* for the log: "backup", "gdpr export" */
	const char *fail_msg;         /* for people: "the backup could not be written" */
	tt_error *err;
	int failed;
} zipout;

/*
 * Prepares z to write into sink; with archive true it opens a ZIP archive,
 * else writes go to the sink as they are. 0 or the failure code.
 */
int zipout_open(zipout *z, export_sink *sink, bool archive, const char *what, const char *fail_msg,
		int perm, tt_error *err);
/* Starts member name (a static string); size < 0: unknown (streamed). */
int zipout_begin(zipout *z, const char *name, int64_t size);
int zipout_write(zipout *z, const void *p, size_t n);
int zipout_puts(zipout *z, const char *s);
/* Ends the current member; records its size and SHA-256 when listed. */
int zipout_end(zipout *z, bool listed);
/* Records a failure (once) and returns its code. */
int zipout_fail(zipout *z, const char *what);
/* Finishes the archive (central directory) and frees it. */
int zipout_close(zipout *z);
/* Frees the archive without finishing it (after a failure). */
void zipout_free(zipout *z);

#endif
