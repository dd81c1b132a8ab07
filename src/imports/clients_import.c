/*
 * clients_import.c - the clients CSV import ("import_clients" jobs).
 *
 * Columns: name (required; aliases client_name, client), description,
 * contact_person (contact), email, phone, address, default_hourly_rate
 * (hourly_rate, rate), status; any other column goes into the client's
 * custom_fields object under its header name. A row is a duplicate when an
 * existing client, or an earlier row, has the same values in the detection
 * fields (default: name); duplicates are skipped and counted, or reported as
 * errors when skip_duplicates is false. Client files are small, so the whole
 * file is one transaction: a crash leaves nothing, and the job simply starts
 * again.
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "imports/csv_reader.h"
#include "imports/import.h"
#include "store/entries.h"
#include "store/imports.h"
#include "util/alloc.h"
#include "util/config.h"
#include "util/log.h"
#include "util/strmap.h"

enum ccol { K_NAME, K_DESC, K_CONTACT, K_EMAIL, K_PHONE, K_ADDRESS, K_RATE, K_STATUS, K_N };

static const char *const ccol_names[K_N] = { "name", "description", "contact_person", "email",
					     "phone", "address", "default_hourly_rate", "status" };

static const struct {
	const char *name;
	enum ccol col;
} caliases[] = {
	{ "name", K_NAME }, { "client_name", K_NAME }, { "client", K_NAME },
	{ "description", K_DESC }, { "contact_person", K_CONTACT }, { "contact", K_CONTACT },
	{ "email", K_EMAIL }, { "phone", K_PHONE }, { "address", K_ADDRESS },
	{ "default_hourly_rate", K_RATE }, { "hourly_rate", K_RATE }, { "rate", K_RATE },
	{ "status", K_STATUS },
};

#define CLIENT_FIELD_MAX 1000

static void lower_trim(const char *s, size_t len, char *out, size_t size)
{
	size_t n = 0;

	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	for (size_t i = 0; i < len && n + 1 < size; i++)
		out[n++] = (char)tolower((unsigned char)s[i]);
	out[n] = '\0';
}

static char *trimmed(const csv_record *rec, int f)
{
	const char *v;
	size_t len;

	if (f < 0 || (size_t)f >= rec->nfields)
		return xstrdup("");
	v = rec->fields[f].ptr;
	len = rec->fields[f].len;
	while (len && isspace((unsigned char)*v)) {
		v++;
		len--;
	}
	while (len && isspace((unsigned char)v[len - 1]))
		len--;
	return xstrndup(v, len);
}

/* "95", "95.5", "95,50" (when the delimiter is not a comma) -> "95.50". */
static int parse_rate(const char *v, bool comma, char *out, size_t size)
{
	long long units = 0;
	int cents = 0, digits = 0;
	const char *p = v;

	if (!*p) {
		out[0] = '\0';
		return 0;
	}
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (units > 100000000000LL)
			return -1;
		units = units * 10 + (*p - '0');
	}
	if (*p == '.' || (comma && *p == ',')) {
		for (p++; isdigit((unsigned char)*p); p++, digits++) {
			if (digits >= 2)
				return -1;
			cents = cents * 10 + (*p - '0');
		}
		if (!digits)
			return -1;
		if (digits == 1)
			cents *= 10;
	}
	if (*p)
		return -1;
	snprintf(out, size, "%lld.%02d", units, cents);
	return 0;
}

struct cctx {
	store_conn *c;
	int64_t import_id;
	bool skip_duplicates;
	bool detect[K_N];
	int col[K_N];
	int custom[64];        /* field indexes of custom columns */
	char *custom_names[64];
	int ncustom;
	strmap seen;           /* detection keys of rows already taken */
	int64_t total, ok, failed, skipped;
	tt_error err;
};

static int add_error(struct cctx *x, const csv_record *rec, const char *column, const char *value,
		     const char *code, const char *msg)
{
	char val[201];

	snprintf(val, sizeof(val), "%s", value ? value : "");
	return imports_add_error(x->c, x->import_id, "error", rec->record - 1, rec->line, column,
				 value ? val : NULL, code, msg, &x->err);
}

/*
 * The detection key of a row: the chosen fields joined; names as written
 * (client names are case-sensitive), the others lower-cased.
 */
static void detection_key(struct cctx *x, char *const vals[K_N], char *key, size_t size)
{
	size_t n = 0;

	key[0] = '\0';
	for (int k = 0; k < K_N && n < size; k++) {
		size_t start = n;

		if (!x->detect[k])
			continue;
		n += (size_t)snprintf(key + n, size - n, "%s\x1f", vals[k]);
		if (n >= size)
			n = size - 1;
		if (k != K_NAME)
			for (size_t i = start; i < n; i++)
				key[i] = (char)tolower((unsigned char)key[i]);
	}
}

static void fields_of(char *const vals[K_N], struct client_fields *f)
{
	memset(f, 0, sizeof(*f));
	f->name = vals[K_NAME];
	f->description = vals[K_DESC];
	f->contact_person = vals[K_CONTACT];
	f->email = vals[K_EMAIL];
	f->phone = vals[K_PHONE];
	f->address = vals[K_ADDRESS];
	f->status = vals[K_STATUS];
}

static int exists_in_db(struct cctx *x, char *const vals[K_N], bool *found)
{
	struct client_fields f;

	fields_of(vals, &f);
	return catalog_client_match(x->c, &f, x->detect[K_NAME], x->detect[K_EMAIL],
				    x->detect[K_PHONE], x->detect[K_CONTACT], found, &x->err);
}

static int one_row(struct cctx *x, const csv_record *rec, char delim)
{
	char *vals[K_N] = { 0 };
	char rate[48], key[2048];
	json_t *custom = NULL;
	char *custom_text = NULL;
	bool found = false;
	int64_t v;
	int rc = 0;

	for (int k = 0; k < K_N; k++)
		vals[k] = trimmed(rec, x->col[k]);
	if (rec->bad_utf8_field >= 0) {
		rc = add_error(x, rec, NULL, NULL, "invalid_utf8",
			       "the row holds bytes that are not UTF-8; save the file as UTF-8");
		goto bad;
	}
	if (!vals[K_NAME][0]) {
		rc = add_error(x, rec, "name", NULL, "missing_value", "name is required");
		goto bad;
	}
	for (int k = 0; k < K_N; k++) {
		if (strlen(vals[k]) > (k == K_NAME ? 200u : CLIENT_FIELD_MAX)) {
			rc = add_error(x, rec, ccol_names[k], vals[k], "too_long", "the value is too long");
			goto bad;
		}
	}
	if (vals[K_EMAIL][0] && !strchr(vals[K_EMAIL], '@')) {
		rc = add_error(x, rec, "email", vals[K_EMAIL], "invalid_email",
			       "email must be an address such as name@example.com");
		goto bad;
	}
	if (parse_rate(vals[K_RATE], delim != ',', rate, sizeof(rate))) {
		rc = add_error(x, rec, "default_hourly_rate", vals[K_RATE], "invalid_number",
			       "default_hourly_rate must be a number such as 95 or 95.50");
		goto bad;
	}
	if (vals[K_STATUS][0]) {
		for (char *p = vals[K_STATUS]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (strcmp(vals[K_STATUS], "active") && strcmp(vals[K_STATUS], "inactive") &&
		    strcmp(vals[K_STATUS], "archived")) {
			rc = add_error(x, rec, "status", vals[K_STATUS], "invalid_status",
				       "status must be active, inactive or archived");
			goto bad;
		}
	}
	detection_key(x, vals, key, sizeof(key));
	if (strmap_get(&x->seen, key, &v)) {
		found = true;
	} else if ((rc = exists_in_db(x, vals, &found))) {
		goto out;
	}
	if (!found && !x->detect[K_NAME]) {
		/* Names are unique whatever the detection fields say. */
		bool by_name;
		bool saved[K_N];

		memcpy(saved, x->detect, sizeof(saved));
		memset(x->detect, 0, sizeof(x->detect));
		x->detect[K_NAME] = true;
		rc = exists_in_db(x, vals, &by_name);
		memcpy(x->detect, saved, sizeof(saved));
		if (rc)
			goto out;
		if (by_name) {
			rc = add_error(x, rec, "name", vals[K_NAME], "name_taken",
				       "a client with this name already exists");
			goto bad;
		}
	}
	if (found) {
		if (x->skip_duplicates) {
			x->skipped++;
			goto out;
		}
		rc = add_error(x, rec, "name", vals[K_NAME], "duplicate",
			       "a client with the same detection fields already exists");
		goto bad;
	}
	if (x->ncustom) {
		custom = json_object();
		for (int i = 0; i < x->ncustom; i++) {
			int f = x->custom[i];

			if ((size_t)f < rec->nfields && rec->fields[f].len)
				json_object_set_new(custom, x->custom_names[i],
						    json_stringn(rec->fields[f].ptr, rec->fields[f].len));
		}
		if (json_object_size(custom))
			custom_text = json_dumps(custom, JSON_COMPACT);
		json_decref(custom);
	}
	{
		struct client_fields f;

		fields_of(vals, &f);
		f.default_hourly_rate = rate;
		f.custom_fields = custom_text;
		rc = catalog_client_insert(x->c, &f, x->import_id, &x->err);
	}
	free(custom_text);
	if (rc < 0)
		goto out;
	strmap_put(&x->seen, key, 1);
	x->ok++;
	rc = 0;
	goto out;
bad:
	if (rc == 0)
		x->failed++;
out:
	for (int k = 0; k < K_N; k++)
		free(vals[k]);
	return rc;
}

static int run_clients(job *j)
{
	struct cctx x = { 0 };
	import_rec r;
	csv_record rec;
	csv_reader *rd = NULL;
	json_t *opts = NULL;
	const char *fields;
	char path[1024], fatal[512] = "";
	int fd = -1, st, rc = 0, result = JOB_DONE;

	tt_error_init(&x.err);
	if (imports_get(j->c, j->ref_id, &r, &x.err))
		return JOB_FAILED;
	x.c = j->c;
	x.import_id = r.id;
	x.skip_duplicates = true;
	x.detect[K_NAME] = true;
	strmap_init(&x.seen);
	opts = r.options ? json_loads(r.options, 0, NULL) : NULL;
	if (opts && json_is_false(json_object_get(opts, "skip_duplicates")))
		x.skip_duplicates = false;
	fields = opts ? json_string_value(json_object_get(opts, "duplicate_detection_fields")) : NULL;
	if (fields && *fields) {
		char *copy = xstrdup(fields), *save = NULL;

		memset(x.detect, 0, sizeof(x.detect));
		for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
			for (int k = 0; k < K_N; k++)
				if (!strcmp(t, ccol_names[k]))
					x.detect[k] = true;
		free(copy);
	}
	snprintf(path, sizeof(path), "%s/%s", cfg.data_dir, r.file_name ? r.file_name : "");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(fatal, sizeof(fatal), "the uploaded file cannot be read");
		goto finish;
	}
	rd = csv_reader_new(fd, NULL);
	st = csv_reader_next(rd, &rec);
	if (st != CSV_OK || rec.bad_utf8_field >= 0) {
		snprintf(fatal, sizeof(fatal), "%s", st == CSV_EOF ? "the file is empty: it needs a header line"
						     : "the header line cannot be read (is the file CSV UTF-8?)");
		goto finish;
	}
	for (int k = 0; k < K_N; k++)
		x.col[k] = -1;
	for (size_t f = 0; f < rec.nfields; f++) {
		char name[128];
		bool known = false;

		lower_trim(rec.fields[f].ptr, rec.fields[f].len, name, sizeof(name));
		for (size_t a = 0; a < sizeof(caliases) / sizeof(caliases[0]); a++) {
			if (!strcmp(name, caliases[a].name)) {
				known = true;
				if (x.col[caliases[a].col] < 0)
					x.col[caliases[a].col] = (int)f;
			}
		}
		if (!known && name[0] && x.ncustom < 64) {
			x.custom[x.ncustom] = (int)f;
			x.custom_names[x.ncustom++] = xstrndup(rec.fields[f].ptr, rec.fields[f].len);
		}
	}
	if (x.col[K_NAME] < 0) {
		snprintf(fatal, sizeof(fatal), "the header lacks the required column: name");
		goto finish;
	}
	if ((rc = store_begin(x.c, STORE_TX_WRITE, &x.err)))
		goto finish;
	imports_mark_started(x.c, r.id, &x.err);
	while ((st = csv_reader_next(rd, &rec)) != CSV_EOF) {
		if (st == CSV_EIO || st == CSV_EENCODING) {
			snprintf(fatal, sizeof(fatal), "reading the file failed: %s", csv_status_message(st));
			break;
		}
		x.total++;
		if (x.total % 500 == 0 && job_should_stop(j, &result)) {
			store_rollback(x.c);
			x.ok = x.failed = x.skipped = 0;
			x.total = 0;
			if (result == JOB_CANCELLED) {
				imports_finish(x.c, r.id, "cancelled", NULL, NULL, &x.err);
				unlink(path);
			}
			goto stopped;
		}
		if (st != CSV_OK) {
			rc = add_error(&x, &rec, NULL, NULL, "bad_row", csv_status_message(st));
			x.failed++;
		} else {
			rc = one_row(&x, &rec, csv_reader_delimiter(rd));
		}
		if (rc)
			break;
	}
	if (rc || fatal[0]) {
		store_rollback(x.c);
		if (rc)
			snprintf(fatal, sizeof(fatal), "the import stopped on a database error: %.300s",
				 x.err.msg);
		x.ok = x.skipped = 0;
	}
finish:
	{
		const char *status = fatal[0] ? "failed"
				     : x.failed && !x.ok && !x.skipped ? "failed"
				     : x.failed ? "partial" : "completed";
		struct import_result res;
		json_t *summary;
		char *text;

		if (!store_in_tx(x.c) && store_begin(x.c, STORE_TX_WRITE, &x.err)) {
			/* The database is busy or gone: try the whole file again later. */
			log_warn("clients import %lld: cannot record its end (%s); it will run again",
				 (long long)r.id, x.err.msg);
			result = JOB_INTERRUPTED;
			goto stopped;
		}
		import_result_init(&res);
		res.total = x.total;
		res.ok = x.ok;
		res.failed = x.failed;
		res.skipped = x.skipped;
		imports_progress(x.c, r.id, x.total, x.ok, x.failed, x.skipped, 0, r.file_size, &x.err);
		imports_created_counts(x.c, r.id, res.created, &x.err);
		summary = import_summary_json(x.c, r.id, &res);
		text = json_dumps(summary, JSON_COMPACT);
		json_decref(summary);
		rc = imports_finish(x.c, r.id, status, text, fatal[0] ? fatal : NULL, &x.err);
		free(text);
		if (rc || store_commit(x.c, &x.err)) {
			store_rollback(x.c);
			log_warn("clients import %lld: cannot record its end; it will run again",
				 (long long)r.id);
			result = JOB_INTERRUPTED;
			goto stopped;
		}
		log_info("clients import %lld: %s: %lld rows, %lld created, %lld failed, %lld skipped",
			 (long long)r.id, status, (long long)x.total, (long long)x.ok,
			 (long long)x.failed, (long long)x.skipped);
	}
	unlink(path);
stopped:
	csv_reader_free(rd);
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < x.ncustom; i++)
		free(x.custom_names[i]);
	strmap_release(&x.seen);
	json_decref(opts);
	import_rec_release(&r);
	if (result != JOB_DONE)
		return result; /* cancelled: nothing stored; interrupted: starts again */
	return fatal[0] ? JOB_FAILED : JOB_DONE;
}

static void abandon_clients(store_conn *c, int64_t ref_id, const char *reason)
{
	imports_finish(c, ref_id, "failed", NULL, reason, NULL);
}

static void cancel_queued_clients(store_conn *c, int64_t ref_id)
{
	imports_finish(c, ref_id, "cancelled", NULL, NULL, NULL);
}

static const struct job_kind clients_kind = {
	.name = IMPORT_JOB_CLIENTS,
	.resumable = true, /* one transaction: starting again is exact */
	.run = run_clients,
	.abandon = abandon_clients,
	.cancel_queued = cancel_queued_clients,
};

void imports_register_clients_job(void)
{
	jobs_register(&clients_kind);
}
