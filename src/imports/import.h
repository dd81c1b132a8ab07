/*
 * import.h - importing time entries from files (CSV today).
 *
 * The pipeline (csv_import.c) reads a stored upload with the streaming
 * reader, maps the header, turns each record into an entry (dates in the
 * import's zone and date order, durations, tags, billable), reports every bad
 * row with its row, line and column, finds or creates clients, projects,
 * tasks and tags through per-import caches, skips duplicates, and writes in
 * batches whose transaction also saves the job checkpoint and the counters,
 * so a crash resumes exactly after the last committed batch.
 *
 * Modes: best effort (default: every good row stored, every bad row
 * reported), atomic (one transaction for the file; one bad row and nothing
 * is stored), and dry run (the same path ending in a rollback, with the
 * errors, a preview and what would be created returned in memory).
 */
#ifndef TT_IMPORT_H
#define TT_IMPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/datetime.h"
#include "jobs/jobs.h"
#include "store/store.h"
#include "store/users.h"

#define IMPORT_JOB_CSV "import_csv"
#define IMPORT_JOB_CLIENTS "import_clients"

struct import_options {
	char format[16];     /* "auto" or "timetracker" */
	char timezone[64];   /* "" = the user's zone */
	dt_order date_order;
	char delimiter;      /* 0 = sniff */
	bool allow_duplicates;
	bool atomic;
	bool dry_run;
	bool wait;
};

void import_options_init(struct import_options *o);
/*
 * Sets one option from its text form (API field or CLI flag). Unknown keys
 * are ignored by the caller's choice: this returns TT_EINVAL with the key as
 * field for bad values, and 1 for keys it does not know.
 */
int import_options_set(struct import_options *o, const char *key, const char *value,
		       tt_error *err);
json_t *import_options_to_json(const struct import_options *o);
void import_options_from_json(struct import_options *o, const char *json);

struct import_result {
	int64_t total, ok, failed, skipped, warnings;
	int64_t min_start, max_start;
	int64_t created[4];      /* clients, projects, tasks, tags */
	char status[16];         /* completed, partial, failed, cancelled */
	char fatal[512];         /* why the whole import failed, "" otherwise */
	/* dry run only */
	json_t *errors;          /* first IMPORT_DRY_ERRORS diagnostics */
	json_t *preview;         /* first IMPORT_PREVIEW rows */
};

#define IMPORT_DRY_ERRORS 100
#define IMPORT_PREVIEW 20
#define IMPORT_SUMMARY_ERRORS 10

void import_result_init(struct import_result *r);
void import_result_release(struct import_result *r);

/*
 * Imports the CSV file at path for user u. import_id is the data_imports
 * row (0 for a dry run); j is the running job (NULL for a dry run: no
 * checkpoints, no cancel). Returns an enum job_result; res says what
 * happened. The data_imports row is finished in the same transaction as the
 * last batch (not for a dry run).
 */
int csv_import_run(store_conn *c, int64_t import_id, const user_rec *u, const char *path,
		   const struct import_options *o, job *j, struct import_result *res);

/* The summary JSON of SPEC §3.3 for a finished import. */
json_t *import_summary_json(store_conn *c, int64_t import_id, const struct import_result *r);

/* Registers the import job kinds with the job system. */
void imports_register_jobs(void);
void imports_register_clients_job(void);

/* The header of our CSV template. */
extern const char IMPORT_TEMPLATE_CSV[];
extern const char IMPORT_CLIENTS_TEMPLATE_CSV[];

#endif
