/*
 * backup.h - database-neutral logical backups (.ttbackup) and restores.
 *
 * A backup is a ZIP: manifest.json (format_version, schema_version,
 * app_version, engine, created_at, per-table row counts, and the size and
 * SHA-256 of every member) plus one JSON Lines file per table, in dependency
 * order (tables/NN_<table>.jsonl), each line one row as a JSON object with
 * every column (integers as numbers, text as strings, NULL as null; columns
 * holding JSON text stay strings, so a restore writes back the same bytes).
 * Sessions, jobs and files under the data directory are not included.
 *
 * Archives are untrusted input: only known member names are read, never
 * extracted to disk; member count, sizes and compression ratio are capped.
 */
#ifndef TT_BACKUP_H
#define TT_BACKUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "exports/export.h"
#include "store/store.h"

#define BACKUP_FORMAT_VERSION 1
#define BACKUP_MAX_TABLES 16

struct backup_table {
	const char *name;               /* SQL table name */
	const char *const *columns;     /* NULL-terminated, in order */
	/* references checked by verify: column -> table (id); NULL-terminated pairs */
	const char *const *refs;
};

/* The tables of a backup in dependency order; terminated by {NULL}. */
extern const struct backup_table BACKUP_TABLES[];
int backup_table_count(void);

/*
 * Writes a backup of everything the store holds (c must be inside one read
 * transaction: a consistent snapshot) into sink as a ZIP. counts[i] receives
 * the rows of BACKUP_TABLES[i]. schema_version: the database's migration
 * version; engine: "sqlite" or "pg".
 */
int backup_write(store_conn *c, export_sink *sink, int schema_version, const char *engine,
		 int64_t counts[BACKUP_MAX_TABLES], tt_error *err);

typedef struct backup_report {
	bool valid;
	int format_version;
	int schema_version;
	char engine[16];
	char app_version[32];
	char created_at[32];
	int64_t counts[BACKUP_MAX_TABLES]; /* rows per table as found (not as claimed) */
	json_t *problems;                  /* array of sentences; empty when valid */
} backup_report;

/*
 * Checks the archive at path completely without touching any data: the
 * manifest, every member's size and checksum, that every line is a JSON
 * object with exactly the table's columns, row counts against the manifest,
 * references between tables (e.g. every entry's user exists in the backup),
 * and the versions (format_version must be known; schema_version must not
 * be newer than max_schema). Fills rep (release with backup_report_release);
 * returns 0 when the check could run (rep->valid tells the verdict), negative
 * only on an internal failure.
 */
int backup_verify(const char *path, int max_schema, int64_t max_uncompressed, backup_report *rep,
		  tt_error *err);
void backup_report_release(backup_report *rep);

/*
 * Streams the rows of a verified archive, table by table in dependency
 * order: cb(ctx, table index, row object). The row is borrowed for the
 * call. A non-zero cb result stops and is returned.
 */
int backup_read_rows(const char *path, int (*cb)(void *ctx, int table, json_t *row), void *ctx,
		     tt_error *err);

/* ---- restore (restore.c) ---- */

#define BACKUP_JOB_RESTORE "backup_restore"

struct job;

/*
 * Verifies the archive, saves the current data to DATA_DIR/backups, then
 * replaces all data with the archive's in one transaction (maintenance mode
 * meanwhile). by_user: who restores (recorded in the import history).
 * *result: {success, counts, rows, pre_restore_backup, import_id, ...}.
 * TT_EINVAL when the archive is invalid; any failure changes nothing.
 */
int backup_restore(store *s, store_conn *c, struct job *j, const char *path, int64_t by_user,
		   json_t **result, tt_error *err);

void backup_register_jobs(void);

#endif
