/*
 * routes.c - every endpoint, in one table. The dispatcher (http/server.c)
 * enforces the flags; see http.h for their meaning. Unsafe methods on
 * authenticated routes always carry R_CSRF.
 */
#include "api/api.h"

#define API (R_AUTH | R_CSRF)

const route api_routes[] = {
	{ "GET", "/healthz", h_healthz, 0 },
	{ "GET", "/login", h_login_page, 0 },
	{ "POST", "/login", h_login, R_JSON | R_FORM },
	{ "POST", "/logout", h_logout, API | R_FORM },
	{ "GET", "/", h_index_page, R_AUTH | R_PAGE },

	{ "GET", "/api/me", h_me, R_AUTH },
	{ "POST", "/api/tokens", h_tokens_create, API | R_JSON },
	{ "GET", "/api/tokens", h_tokens_list, R_AUTH },
	{ "DELETE", "/api/tokens/{id}", h_tokens_revoke, API },
	{ "GET", "/api/users", h_users_list, R_ADMIN },
	{ "POST", "/api/users", h_users_create, R_ADMIN | R_CSRF | R_JSON },

	{ "GET", "/api/entries", h_entries_list, R_AUTH },
	{ "POST", "/api/entries", h_entries_create, API | R_JSON },
	{ "GET", "/api/entries/{id}", h_entries_get, R_AUTH },
	{ "PUT", "/api/entries/{id}", h_entries_update, API | R_JSON },
	{ "DELETE", "/api/entries/{id}", h_entries_delete, API },
	{ "GET", "/api/clients", h_clients_list, R_AUTH },
	{ "GET", "/api/projects", h_projects_list, R_AUTH },
	{ "GET", "/api/tasks", h_tasks_list, R_AUTH },
	{ "GET", "/api/tags", h_tags_list, R_AUTH },

	{ "GET", "/api/import/template/csv", h_import_template_csv, R_AUTH },
	{ "GET", "/api/import/template/csv/clients", h_import_template_clients, R_AUTH },
	{ "POST", "/api/import/csv", h_import_csv, API | R_UPLOAD },
	{ "GET", "/api/import/status/{id}", h_import_status, R_AUTH },
	{ "GET", "/api/import/{id}/errors", h_import_errors, R_AUTH },
	{ "POST", "/api/import/{id}/cancel", h_import_cancel, API },
	{ "POST", "/api/import/{id}/undo", h_import_undo, API | R_JSON },
	{ "GET", "/api/import/history", h_import_history, R_AUTH },
	{ "POST", "/api/import/csv/clients", h_import_csv_clients, API | R_UPLOAD },
	{ "POST", "/api/migration/wizard/start", h_wizard_start, API | R_UPLOAD },
	{ "POST", "/api/migration/wizard/{id}/preview", h_wizard_preview, API },
	{ "POST", "/api/migration/wizard/{id}/execute", h_wizard_execute, API },

	{ "POST", "/api/export/gdpr", h_export_gdpr, API | R_JSON },
	{ "POST", "/api/export/filtered", h_export_filtered, API | R_JSON },
	{ "GET", "/api/export/status/{id}", h_export_status, R_AUTH },
	{ "GET", "/api/export/download/{id}", h_export_download, R_AUTH },
	{ "GET", "/api/export/history", h_export_history, R_AUTH },
	{ "DELETE", "/api/export/{id}", h_export_delete, API },

	{ "POST", "/api/export/backup", h_export_backup, R_ADMIN | R_CSRF | R_JSON },
	{ "POST", "/api/backup/verify", h_backup_verify, R_ADMIN | R_CSRF | R_UPLOAD },
	{ "POST", "/api/backup/restore", h_backup_restore, R_ADMIN | R_CSRF | R_UPLOAD },
	{ "GET", "/api/backup/restore/{id}", h_backup_restore_status, R_ADMIN },
	{ NULL, NULL, NULL, 0 },
};
