/*
 * api.h - the HTTP handlers and the routes table that lists them.
 *
 * One file per resource: auth.c (sign-in, tokens, users), entries.c (time
 * entries and the catalogue), pages.c (HTML pages, health). Handlers get a
 * request whose route flags the dispatcher has already enforced.
 */
#ifndef TT_API_H
#define TT_API_H

#include <jansson.h>

#include "http/http.h"

extern const route api_routes[];

/*
 * The paging and scope of a history listing: limit (1..100, default 20),
 * offset, and whose rows: the requester's, ?user_id=N (others' only for
 * admins: 403), or for admins everyone's — by default when admin_all_default,
 * else with ?all=true (?all=false keeps their own). what names the rows in
 * the 403 message. Returns 0, or -1 after replying with the error.
 */
int api_history_scope(http_req *req, bool admin_all_default, const char *what, int64_t *limit,
		      int64_t *offset, int64_t *user_id);

/* Shared renderers. */
json_t *api_time(int64_t t);          /* "YYYY-MM-DDTHH:MM:SSZ", or null for 0 */
json_t *api_user(const user_rec *u);  /* public profile: never the password hash */

/* auth.c */
void h_login(http_req *req);
void h_logout(http_req *req);
void h_me(http_req *req);
void h_tokens_create(http_req *req);
void h_tokens_list(http_req *req);
void h_tokens_revoke(http_req *req);
void h_users_list(http_req *req);
void h_users_create(http_req *req);

/* entries.c */
void h_entries_list(http_req *req);
void h_entries_get(http_req *req);
void h_entries_create(http_req *req);
void h_entries_update(http_req *req);
void h_entries_delete(http_req *req);
void h_clients_list(http_req *req);
void h_projects_list(http_req *req);
void h_tasks_list(http_req *req);
void h_tags_list(http_req *req);

/* imports.c */
void h_import_template_csv(http_req *req);
void h_import_template_clients(http_req *req);
void h_import_csv(http_req *req);
void h_import_status(http_req *req);
void h_import_errors(http_req *req);
void h_import_history(http_req *req);
void h_import_cancel(http_req *req);
void h_import_undo(http_req *req);
void h_import_csv_clients(http_req *req);
void h_wizard_start(http_req *req);
void h_wizard_preview(http_req *req);
void h_wizard_execute(http_req *req);

/* exports.c */
void h_export_gdpr(http_req *req);
void h_export_filtered(http_req *req);
void h_export_status(http_req *req);
void h_export_download(http_req *req);
void h_export_delete(http_req *req);
void h_export_history(http_req *req);

void h_export_backup(http_req *req);

/* backup.c */
void h_backup_verify(http_req *req);
void h_backup_restore(http_req *req);
void h_backup_restore_status(http_req *req);

/* pages.c */
void h_healthz(http_req *req);
void h_login_page(http_req *req);
void h_index_page(http_req *req);

#endif
