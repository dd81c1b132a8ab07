/*
 * entries.h - time entries and the catalogue they refer to (clients,
 * projects, tasks, tags) in the store.
 *
 * Reads hand rows to a callback one at a time (the strings in an entry_rec
 * are borrowed and valid only during the call), so the same code serves a
 * page of the API and a streamed export of a million rows.
 */
#ifndef TT_STORE_ENTRIES_H
#define TT_STORE_ENTRIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define ENTRY_TAG_SEP '\x1f' /* separates tag names in entry_rec.tags */

typedef struct entry_rec {
	int64_t id;
	int64_t user_id;
	const char *username;
	int64_t project_id;   /* 0 = none */
	const char *project;  /* NULL when none */
	int64_t client_id;
	const char *client;
	int64_t task_id;
	const char *task;
	int64_t start_at;
	int64_t end_at;
	int64_t duration;
	const char *notes;
	bool billable;
	const char *source;
	const char *external_id; /* NULL when none */
	int64_t import_id;       /* 0 when none */
	const char *tags;        /* names joined by ENTRY_TAG_SEP, "" when none */
	int64_t created_at;
	int64_t updated_at;
} entry_rec;

typedef struct entry_filter {
	int64_t user_id;          /* one user; 0 = see user_ids */
	const int64_t *user_ids;  /* several users (admins); n_user_ids 0 = all users */
	size_t n_user_ids;
	bool has_from, has_to;
	int64_t from;             /* start_at >= from */
	int64_t to;               /* start_at < to */
	const int64_t *project_ids; size_t n_project_ids;
	const int64_t *client_ids;  size_t n_client_ids;
	const int64_t *task_ids;    size_t n_task_ids;
	const char *const *tags;    size_t n_tags; /* any of, case-insensitive */
	int billable;             /* -1 any, 0 or 1 */
	const char *source;       /* NULL = any */
	int64_t import_id;        /* 0 = any */
	int64_t entry_id;         /* 0 = any */
	bool ascending;           /* walk oldest start first (exports) */
} entry_filter;

void entry_filter_init(entry_filter *f);

typedef int (*entry_cb)(void *ctx, const entry_rec *e);

/* Count and summed duration of the entries matching f. */
int entries_count(store_conn *c, const entry_filter *f, int64_t *count, int64_t *seconds,
		  tt_error *err);
/*
 * Calls cb for each matching entry, newest start first (then id), skipping
 * offset and stopping after limit (limit < 0: no limit). A non-zero result
 * of cb stops the walk and is returned.
 */
int entries_walk(store_conn *c, const entry_filter *f, int64_t limit, int64_t offset,
		 entry_cb cb, void *ctx, tt_error *err);

typedef struct entry_input {
	int64_t user_id;
	int64_t project_id;  /* 0 = none */
	int64_t task_id;     /* 0 = none */
	int64_t start_at;
	int64_t end_at;
	const char *notes;
	bool billable;
	const char *source;
	const char *external_id; /* NULL = none */
	int64_t import_id;       /* 0 = none */
	const char *const *tags; /* names; found or created case-insensitively */
	size_t n_tags;
	const int64_t *tag_ids;  /* or: ids already resolved (n_tags of them) */
	bool defer_tags;         /* insert: the caller links the tags later */
	bool set_tags;           /* update: replace tags only when true */
} entry_input;

/*
 * Adds n (entry_id, tag_id) links given as pairs[2*i], pairs[2*i+1], many
 * per statement (bulk imports collect a batch's links and add them at once).
 */
int entries_add_tag_links(store_conn *c, const int64_t *pairs, size_t n, tt_error *err);

/*
 * Inserts n entries (their tags are not linked: use entries_add_tag_links),
 * ids[i] receiving each new id. Engines with a bulk load use it (PostgreSQL:
 * ids reserved from the sequence, then one COPY); others insert row by row.
 */
int entries_insert_many(store_conn *c, const entry_input *in, size_t n, int64_t *ids,
			tt_error *err);

/*
 * Calls cb with (start, end, project_id, notes) of every entry of user_id
 * whose start lies in [from, to]: the duplicate check of a whole batch.
 */
int entries_keys_in_range(store_conn *c, int64_t user_id, int64_t from, int64_t to,
			  void (*cb)(void *ctx, int64_t start, int64_t end, int64_t project_id,
				     const char *notes),
			  void *ctx, tt_error *err);

/*
 * True in *found when the user already has an entry (any source) with the
 * same project, start, end and notes: the duplicate rule of imports.
 */
int entries_same_exists(store_conn *c, const entry_input *in, bool *found, tt_error *err);

/* The ids of every project called name (under any client), appended to *ids. */
int catalog_project_ids_by_name(store_conn *c, const char *name,
				void (*cb)(void *ctx, int64_t id), void *ctx, tt_error *err);

/* Inserts an entry (inside the caller's transaction, if any). */
int entries_insert(store_conn *c, const entry_input *in, int64_t *id, tt_error *err);
/* Replaces every field of entry id owned by in->user_id. TT_ENOTFOUND if not theirs. */
int entries_update(store_conn *c, int64_t id, const entry_input *in, tt_error *err);
/* Deletes entry id of user_id (0: any owner). TT_ENOTFOUND if none. */
int entries_delete(store_conn *c, int64_t id, int64_t user_id, tt_error *err);

/* Catalogue: find by name or create (remembering import_id, 0 = none). */
int catalog_client(store_conn *c, const char *name, int64_t import_id, int64_t *id,
		   bool *created, tt_error *err);
int catalog_project(store_conn *c, int64_t client_id, const char *name, int64_t import_id,
		    int64_t *id, bool *created, tt_error *err);
int catalog_task(store_conn *c, int64_t project_id, const char *name, int64_t import_id,
		 int64_t *id, bool *created, tt_error *err);
int catalog_tag(store_conn *c, const char *name, int64_t import_id, int64_t *id, bool *created,
		tt_error *err);
/* Looks up a project; TT_ENOTFOUND when absent. */
int catalog_project_get(store_conn *c, int64_t id, int64_t *client_id, tt_error *err);
/* Looks up a task; TT_ENOTFOUND when absent. */
int catalog_task_get(store_conn *c, int64_t id, int64_t *project_id, tt_error *err);

typedef struct catalog_rec {
	int64_t id;
	const char *name;
	int64_t parent_id;       /* project: client_id; task: project_id */
	const char *parent_name; /* project: client name; task: project name */
	const char *status;
	bool billable;           /* projects */
	int64_t created_by_import_id;
	/* clients only */
	const char *description, *contact_person, *email, *phone, *address;
	const char *default_hourly_rate, *custom_fields; /* custom_fields: JSON text */
} catalog_rec;

typedef int (*catalog_cb)(void *ctx, const catalog_rec *r);
enum catalog_kind { CATALOG_CLIENTS, CATALOG_PROJECTS, CATALOG_TASKS, CATALOG_TAGS };
/* Lists a catalogue, by name. parent_id filters tasks by project (0 = all). */
int catalog_list(store_conn *c, enum catalog_kind kind, int64_t parent_id, catalog_cb cb,
		 void *ctx, tt_error *err);

/* A client's fields as a clients import gives them (NULL or "" = none). */
struct client_fields {
	const char *name, *description, *contact_person, *email, *phone, *address;
	const char *default_hourly_rate, *status, *custom_fields; /* custom_fields: JSON text */
};

/*
 * Whether a client matches f on the chosen fields: by_name (exact),
 * by_email, by_phone, by_contact (case-insensitive; missing counts as "").
 */
int catalog_client_match(store_conn *c, const struct client_fields *f, bool by_name, bool by_email,
			 bool by_phone, bool by_contact, bool *found, tt_error *err);
/* Inserts a client with every field; TT_ECONFLICT when the name exists. */
int catalog_client_insert(store_conn *c, const struct client_fields *f, int64_t import_id,
			  tt_error *err);

/* Calls cb once for client or project id (nothing when it does not exist). */
int catalog_get(store_conn *c, enum catalog_kind kind, int64_t id, catalog_cb cb, void *ctx,
		tt_error *err);

/* Whether row id exists in table ("clients", "projects", "tasks", "users" or "tags"). */
int catalog_id_exists(store_conn *c, const char *table, int64_t id, bool *found, tt_error *err);

/* ASCII lower-casing used for case-insensitive keys (tags). */
void catalog_name_key(const char *name, char *out, size_t size);

#endif
