/*
 * exports.h (store) - the export history (data_exports). file_name is the
 * file's name relative to DATA_DIR/exports: never shown to clients.
 */
#ifndef TT_STORE_EXPORTS_H
#define TT_STORE_EXPORTS_H

#include <stdint.h>

#include "store/store.h"

typedef struct export_rec {
	int64_t id;
	int64_t user_id;
	char export_type[16];   /* gdpr, filtered, backup */
	char export_format[16]; /* json, zip, csv, xlsx, ics, ttbackup */
	char status[16];        /* pending, processing, completed, failed, expired */
	char *file_name;        /* relative to DATA_DIR/exports, or NULL */
	char *download_name;    /* offered to the browser */
	char *filters;          /* JSON */
	char *sha256;
	char *error_message;
	int64_t file_size, record_count, progress_done, progress_total;
	int64_t created_at, completed_at, expires_at;
} export_rec;

void export_rec_release(export_rec *r);

int exports_create(store_conn *c, int64_t user_id, const char *type, const char *format,
		   const char *filters_json, int64_t *id, tt_error *err);
/* Sets the stored and offered names (chosen once the id is known). */
int exports_set_names(store_conn *c, int64_t id, const char *file_name, const char *download_name,
		      tt_error *err);
int exports_get(store_conn *c, int64_t id, export_rec *out, tt_error *err);
int exports_mark_started(store_conn *c, int64_t id, int64_t total, tt_error *err);
int exports_progress(store_conn *c, int64_t id, int64_t done, tt_error *err);
int exports_complete(store_conn *c, int64_t id, int64_t size, const char *sha256, int64_t records,
		     int64_t expires_at, tt_error *err);
int exports_fail(store_conn *c, int64_t id, const char *message, tt_error *err);
/* Marks the row expired (file already removed). */
int exports_mark_expired(store_conn *c, int64_t id, tt_error *err);
/* Completed exports whose expiry passed: cb(ctx, id, file_name). */
int exports_expired(store_conn *c, int64_t now, int (*cb)(void *ctx, int64_t id, const char *file),
		    void *ctx, tt_error *err);
/* History newest first; user_id 0 = everyone. */
int exports_history(store_conn *c, int64_t user_id, int64_t limit, int64_t offset,
		    int (*cb)(void *ctx, const export_rec *r), void *ctx, int64_t *total,
		    tt_error *err);

#endif
