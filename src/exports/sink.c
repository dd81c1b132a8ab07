/*
 * sink.c - where an export's bytes go: `<final>.tmp`, written through a
 * buffer while hashed (SHA-256) and counted, then made durable and renamed.
 *
 * The write side never reports per call what it cannot fix: the first
 * failure is remembered (sticky errno) and every later write is a no-op, so
 * a writer appends freely and learns the outcome once, at sink_commit. A
 * file under its final name is always complete: on any commit failure the
 * sink removes whatever it created (the .tmp, or the final file when only
 * the directory fsync failed), so callers never clean up after a sink.
 *
 * Messages in tt_error never contain the server's paths (they reach the
 * client); the paths go to the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exports/export.h"
#include "util/alloc.h"
#include "util/log.h"

#define SINK_BUF_SIZE (64 * 1024)

struct export_sink {
	int fd; /* -1 once closed */
	char *final_path;
	char *tmp_path;
	unsigned char *buf; /* SINK_BUF_SIZE bytes, len of them pending */
	size_t len;
	crypto_hash_sha256_state sha;
	int64_t size;  /* bytes accepted (hashed), flushed or not */
	int err_no;    /* first write failure; 0 while all is well */
	bool external; /* someone else wrote tmp_path: hash from disk */
};

/* A sentence for a person about errno e while doing what. */
static int sink_fail(tt_error *err, int e, const char *what)
{
	if (e == ENOSPC || e == EDQUOT)
		return tt_error_set(err, TT_EIO, "disk_full", NULL, "the disk is full");
	return tt_error_set(err, TT_EIO, NULL, NULL, "%s", what);
}

/* write(2) all of p, retrying on EINTR and short writes. 0 or errno. */
static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void sink_flush(export_sink *s)
{
	if (s->err_no || s->len == 0 || s->fd < 0) {
		s->len = 0;
		return;
	}
	s->err_no = write_all(s->fd, s->buf, s->len);
	s->len = 0;
}

int sink_open(const char *final_path, export_sink **out, tt_error *err)
{
	export_sink *s;
	char *tmp = xasprintf("%s.tmp", final_path);
	int fd;

	*out = NULL;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;

		log_error("export: cannot create %s: %s", tmp, strerror(e));
		free(tmp);
		return sink_fail(err, e, "cannot create the export file");
	}
	s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->tmp_path = tmp;
	s->final_path = xstrdup(final_path);
	s->buf = xmalloc(SINK_BUF_SIZE);
	crypto_hash_sha256_init(&s->sha);
	*out = s;
	return 0;
}

int sink_write(export_sink *s, const void *p, size_t n)
{
	if (s->err_no)
		return -1;
	if (s->external) {
		/* Bytes after set_external would not be in the file we hash. */
		s->err_no = EINVAL;
		return -1;
	}
	if (n == 0)
		return 0;
	crypto_hash_sha256_update(&s->sha, p, n);
	s->size += (int64_t)n;
	if (s->len + n <= SINK_BUF_SIZE) {
		memcpy(s->buf + s->len, p, n);
		s->len += n;
		return 0;
	}
	sink_flush(s);
	if (s->err_no)
		return -1;
	if (n >= SINK_BUF_SIZE) {
		/* Large blocks skip the copy. */
		s->err_no = write_all(s->fd, p, n);
		return s->err_no ? -1 : 0;
	}
	memcpy(s->buf, p, n);
	s->len = n;
	return 0;
}

int sink_puts(export_sink *s, const char *str)
{
	return sink_write(s, str, strlen(str));
}

int sink_printf(export_sink *s, const char *fmt, ...)
{
	char small[512];
	char *big;
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (!s->err_no)
			s->err_no = EINVAL;
		return -1;
	}
	if ((size_t)n < sizeof(small))
		return sink_write(s, small, (size_t)n);

	big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = sink_write(s, big, (size_t)n);
	free(big);
	return rc;
}

int64_t sink_size(const export_sink *s)
{
	return s->size;
}

const char *sink_tmp_path(const export_sink *s)
{
	return s->tmp_path;
}

void sink_set_external(export_sink *s)
{
	/*
	 * The other writer opens tmp_path itself (and may replace the inode),
	 * so our descriptor is of no further use; commit reopens the file.
	 */
	s->external = true;
	s->len = 0;
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
}

static void sink_free(export_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s->tmp_path);
	free(s->final_path);
	free(s);
}

/* Hashes and measures tmp_path from disk, and fsyncs it. 0 or errno. */
static int hash_external(export_sink *s)
{
	int fd = open(s->tmp_path, O_RDONLY | O_CLOEXEC);
	int e = 0;

	if (fd < 0)
		return errno;
	crypto_hash_sha256_init(&s->sha);
	s->size = 0;
	for (;;) {
		ssize_t r = read(fd, s->buf, SINK_BUF_SIZE);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			break;
		}
		if (r == 0)
			break;
		crypto_hash_sha256_update(&s->sha, s->buf, (size_t)r);
		s->size += r;
	}
	if (!e && fsync(fd) < 0)
		e = errno;
	close(fd);
	return e;
}

/* fsync the directory holding path so the rename is durable. 0 or errno. */
static int fsync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? (slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path)))
	                  : xstrdup(".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int e = 0;

	if (fd < 0) {
		e = errno;
	} else {
		/* Some file systems cannot sync a directory; that is not a failure. */
		if (fsync(fd) < 0 && errno != EINVAL && errno != ENOTSUP)
			e = errno;
		close(fd);
	}
	free(dir);
	return e;
}

int sink_commit(export_sink *s, char sha256_hex[65], int64_t *size, tt_error *err)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	int e = 0;
	int rc = 0;

	if (s->external) {
		e = hash_external(s);
		if (e) {
			log_error("export: cannot read back %s: %s", s->tmp_path, strerror(e));
			rc = sink_fail(err, e, "cannot write the export file");
			goto out_unlink;
		}
	} else {
		sink_flush(s);
		e = s->err_no;
		if (!e && fsync(s->fd) < 0)
			e = errno;
		if (close(s->fd) < 0 && !e && errno != EINTR)
			e = errno;
		s->fd = -1;
		if (e) {
			log_error("export: cannot write %s: %s", s->tmp_path, strerror(e));
			rc = sink_fail(err, e, "cannot write the export file");
			goto out_unlink;
		}
	}
	if (rename(s->tmp_path, s->final_path) < 0) {
		e = errno;
		log_error("export: cannot rename %s to %s: %s", s->tmp_path, s->final_path,
		          strerror(e));
		rc = sink_fail(err, e, "cannot write the export file");
		goto out_unlink;
	}
	e = fsync_dir_of(s->final_path);
	if (e) {
		log_error("export: cannot sync the directory of %s: %s", s->final_path,
		          strerror(e));
		unlink(s->final_path);
		rc = sink_fail(err, e, "cannot write the export file");
		goto out;
	}
	crypto_hash_sha256_final(&s->sha, digest);
	sodium_bin2hex(sha256_hex, 65, digest, sizeof(digest));
	if (size)
		*size = s->size;
	goto out;

out_unlink:
	unlink(s->tmp_path);
out:
	sink_free(s);
	return rc;
}

void sink_abort(export_sink *s)
{
	if (!s)
		return;
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	unlink(s->tmp_path);
	sink_free(s);
}
