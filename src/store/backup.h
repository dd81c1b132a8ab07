/*
 * backup.h (store) - the one read behind a logical backup: every row of a
 * table, in key order, as a JSON object.
 *
 * The caller (backup/archive.c) names the table and its columns from its
 * fixed table list (BACKUP_TABLES), never from input, and opens the read
 * transaction so that every table is read from one snapshot.
 */
#ifndef TT_STORE_BACKUP_H
#define TT_STORE_BACKUP_H

#include <jansson.h>

#include "store/store.h"

/*
 * Calls cb(ctx, row) for every row of table: ORDER BY id when the table has
 * an `id` column, else by every column in turn (a link table such as
 * time_entry_tags, whose columns are its key).
 *
 * columns: the column names, NULL-terminated; types: one character per
 * column, 'i' for an integer column (a JSON integer) and 't' for a text
 * column (a JSON string); SQL NULL is JSON null either way. Both become SQL
 * text, so they must be program constants; names that are not lower-case
 * identifiers are refused (TT_EINTERNAL).
 *
 * The row object's keys are the columns in order; it is owned by the walk
 * and freed after cb returns (cb may json_incref it to keep it). Text that is
 * not valid UTF-8 or holds a NUL byte (only possible when something outside
 * TimeTracker wrote it) stops the walk with TT_EINVAL naming the table, the row and the column,
 * because such a backup could not be read back. A non-zero cb result stops
 * the walk and is returned. Memory holds one row at a time.
 */
int store_backup_walk(store_conn *c, const char *table, const char *const *columns,
                      const char *types, int (*cb)(void *ctx, json_t *row), void *ctx,
                      tt_error *err);

#endif
