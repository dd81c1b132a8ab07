/*
 * filters.h - the request of a filtered export, validated: filters (SPEC
 * §3.4) turned into an entry_filter, and the format options. The validated
 * request is saved with the export and parsed again by its job, so both see
 * exactly the same thing.
 */
#ifndef TT_EXPORT_FILTERS_H
#define TT_EXPORT_FILTERS_H

#include <jansson.h>

#include "exports/export.h"
#include "store/users.h"

struct export_filters {
	entry_filter f;
	struct export_opts opts;
	int64_t *project_ids, *client_ids, *task_ids, *user_ids;
	char **tag_keys;
	size_t ntags;
	char *source;
	json_t *echo;   /* the validated request: {filters, columns, excel, excel_safe} */
};

void export_filters_init(struct export_filters *ef);
void export_filters_release(struct export_filters *ef);

/*
 * Validates body = {format?, filters?, columns?, excel?, excel_safe?} for
 * user u. Errors are 400 naming the field ("filters.start_date"). Unknown
 * ids are errors. Non-admins always get only their own entries; admins may
 * name user_ids.
 */
int export_filters_parse(store_conn *c, const user_rec *u, json_t *body, struct export_filters *ef,
			 tt_error *err);
/* Parses a saved request (ef->echo text) again, in the job. */
int export_filters_parse_saved(store_conn *c, const user_rec *u, const char *saved,
			       struct export_filters *ef, tt_error *err);

/* Chooses file names for export id: stored name (ours only) and download name. */
int export_file_names(int64_t id, const char *type, const char *ext, char *file, size_t file_size,
		      char *download, size_t download_size);

#endif
