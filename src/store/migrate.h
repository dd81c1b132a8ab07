/*
 * migrate.h - numbered schema migrations embedded in the binary.
 *
 * Files live in src/store/schema/ as NNN_name.<engine>.<up|down>.sql and are
 * compiled into the binary (scripts/embed). Applied versions are recorded in
 * schema_migrations. Each migration runs in its own write transaction, so a
 * failing one leaves the schema at the previous version; concurrent callers
 * (several instances starting at once) serialise on the write lock and skip
 * what another already applied.
 */
#ifndef TT_MIGRATE_H
#define TT_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct migration_info {
	int version;
	char name[64];
	bool applied;
	int64_t applied_at; /* 0 when not applied */
} migration_info;

/* Highest version known to this binary. */
int migrate_latest(void);

/* Applies every pending migration up to target (0 = all). *count gets the number applied. */
int migrate_up(store *s, int target, int *count, tt_error *err);

/* Reverts the newest `steps` applied migrations (steps >= 1). */
int migrate_down(store *s, int steps, int *count, tt_error *err);

/* Version of the newest applied migration (0 for an empty database). */
int migrate_current(store *s, int *version, tt_error *err);

/* Every known migration with its state; *list is malloc'ed, free() it. */
int migrate_status(store *s, migration_info **list, size_t *n, tt_error *err);

#endif
