/*
 * restore.h (store) - the SQL a restore needs: emptying tables, inserting
 * rows given as JSON objects (column names come from the fixed table list of
 * backup.h, never from the archive), and resetting id sequences.
 */
#ifndef TT_STORE_RESTORE_H
#define TT_STORE_RESTORE_H

#include <jansson.h>

#include "store/store.h"

/* DELETE FROM table (table from the fixed list). */
int restore_empty_table(store_conn *c, const char *table, tt_error *err);
/*
 * Inserts one row: columns[] are the table's columns. Values come from row by
 * column name: integers, strings or null; columns the row lacks (an older
 * schema's backup) take their defaults.
 */
int restore_insert_row(store_conn *c, const char *table, const char *const *columns, json_t *row,
		       tt_error *err);
/*
 * Imports and exports that were running when the backup was taken have no
 * job here: they end as failed, saying why (their files are not in backups).
 */
int restore_end_unfinished(store_conn *c, tt_error *err);

/* Makes the next generated id of table follow its largest id (PostgreSQL; no-op on SQLite). */
int restore_reset_sequence(store_conn *c, const char *table, tt_error *err);

#endif
