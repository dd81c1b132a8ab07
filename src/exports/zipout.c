/*
 * zipout.c - ZIP archives through an export sink (see zipout.h).
 */
#include "exports/zipout.h"

#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "util/log.h"

/* The archive's bytes go to the sink. */
static la_ssize_t write_cb(struct archive *a, void *ctx, const void *buf, size_t n)
{
	export_sink *s = ctx;

	if (sink_write(s, buf, n) < 0) {
		archive_set_error(a, EIO, "cannot write the file");
		return -1;
	}
	return (la_ssize_t)n;
}

int zipout_fail(zipout *z, const char *what)
{
	if (!z->failed) {
		log_error("%s: %s: %s", z->what, what,
			  z->a && archive_error_string(z->a) ? archive_error_string(z->a) : "?");
		z->failed = tt_error_set(z->err, TT_EIO, NULL, NULL, "%s", z->fail_msg);
	}
	return z->failed;
}

int zipout_open(zipout *z, export_sink *sink, bool archive, const char *what, const char *fail_msg,
		int perm, tt_error *err)
{
	memset(z, 0, sizeof(*z));
	z->sink = sink;
	z->what = what;
	z->fail_msg = fail_msg;
	z->perm = perm;
	z->err = err;
	z->now = store_now();
	if (!archive)
		return 0;
	z->a = archive_write_new();
	if (!z->a)
		return zipout_fail(z, "creating the archive");
	if (archive_write_set_format_zip(z->a) != ARCHIVE_OK ||
	    archive_write_zip_set_compression_deflate(z->a) != ARCHIVE_OK ||
	    /* No padding after the central directory. */
	    archive_write_set_bytes_in_last_block(z->a, 1) != ARCHIVE_OK ||
	    archive_write_open(z->a, sink, NULL, write_cb, NULL) != ARCHIVE_OK)
		return zipout_fail(z, "opening the archive");
	return 0;
}

int zipout_write(zipout *z, const void *p, size_t n)
{
	const unsigned char *b = p;

	if (z->failed)
		return z->failed;
	if (n == 0)
		return 0;
	if (!z->a) {
		if (sink_write(z->sink, p, n) < 0)
			z->failed = tt_error_set(z->err, TT_EIO, NULL, NULL, "%s", z->fail_msg);
		return z->failed;
	}
	crypto_hash_sha256_update(&z->sha, b, n);
	z->member_size += (int64_t)n;
	while (n > 0) {
		la_ssize_t w = archive_write_data(z->a, b, n);

		if (w <= 0)
			return zipout_fail(z, "writing a member");
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int zipout_puts(zipout *z, const char *s)
{
	return zipout_write(z, s, strlen(s));
}

int zipout_begin(zipout *z, const char *name, int64_t size)
{
	struct archive_entry *ae;
	int rc;

	if (z->failed)
		return z->failed;
	assert(z->n_members < ZIPOUT_MAX_MEMBERS);
	ae = archive_entry_new();
	archive_entry_set_pathname(ae, name);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, (mode_t)z->perm);
	archive_entry_set_mtime(ae, (time_t)z->now, 0);
	if (size >= 0)
		archive_entry_set_size(ae, size);
	else
		archive_entry_unset_size(ae);
	rc = archive_write_header(z->a, ae);
	archive_entry_free(ae);
	if (rc != ARCHIVE_OK)
		return zipout_fail(z, "writing a member header");
	crypto_hash_sha256_init(&z->sha);
	z->member_size = 0;
	z->members[z->n_members].name = name;
	return 0;
}

int zipout_end(zipout *z, bool listed)
{
	struct zip_member_sum *m = &z->members[z->n_members];
	unsigned char digest[crypto_hash_sha256_BYTES];

	if (z->failed)
		return z->failed;
	if (archive_write_finish_entry(z->a) != ARCHIVE_OK)
		return zipout_fail(z, "finishing a member");
	crypto_hash_sha256_final(&z->sha, digest);
	sodium_bin2hex(m->sha256, sizeof(m->sha256), digest, sizeof(digest));
	m->size = z->member_size;
	if (listed)
		z->n_members++;
	return 0;
}

int zipout_close(zipout *z)
{
	int rc = 0;

	if (z->a && archive_write_close(z->a) != ARCHIVE_OK)
		rc = zipout_fail(z, "closing the archive");
	zipout_free(z);
	return rc ? rc : z->failed;
}

void zipout_free(zipout *z)
{
	if (z->a)
		archive_write_free(z->a); /* closes an open archive: harmless after a failure */
	z->a = NULL;
}
