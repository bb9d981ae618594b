/*
 * readfile.c - reading files safely (see readfile.h).
 *
 * This library does not link libsodium (the PAM module links it), so
 * glibc's explicit_bzero stands in for sodium_memzero.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readfile.h"

#if defined(__GNUC__)
#define KENPO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define KENPO_PRINTF(f, a)
#endif

static void KENPO_PRINTF(3, 4) error_file(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static int
check_stat(const char *path, const struct stat *st, uid_t owner, size_t maxbytes, int secret,
	   char *errbuf, size_t errsz)
{
	unsigned mode = (unsigned)(st->st_mode & 07777);

	if (!S_ISREG(st->st_mode)) {
		error_file(errbuf, errsz, "%s: is not a regular file%s", path,
			   S_ISDIR(st->st_mode) ? " (a directory)" : "");
		return -1;
	}
	if (st->st_uid != 0 && (owner == (uid_t)-1 || st->st_uid != owner)) {
		if (owner == (uid_t)-1 || owner == 0)
			error_file(errbuf, errsz, "%s: owned by uid %lu, expected root", path,
				   (unsigned long)st->st_uid);
		else
			error_file(errbuf, errsz,
				   "%s: owned by uid %lu, expected root or uid %lu", path,
				   (unsigned long)st->st_uid, (unsigned long)owner);
		return -1;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		error_file(errbuf, errsz,
			   "%s: must not be writable by group or others (mode %04o)", path, mode);
		return -1;
	}
	if (secret && (st->st_mode & (S_IRGRP | S_IROTH)) != 0) {
		error_file(errbuf, errsz,
			   "%s: must not be readable by group or others (mode %04o)", path, mode);
		return -1;
	}
	if ((unsigned long long)st->st_size > maxbytes) {
		error_file(errbuf, errsz, "%s: larger than %zu bytes", path, maxbytes);
		return -1;
	}
	return 0;
}

/* Reads up to `cap` bytes; fewer only at the end of the file. */
static int
read_full(int fd, char *buf, size_t cap, size_t *got)
{
	size_t n = 0;
	ssize_t r;

	while (n < cap) {
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*got = n;
	return 0;
}

int
kenpo_read_file_safely(const char *path, uid_t owner, size_t maxbytes, int secret, char **data,
		       size_t *len, char *errbuf, size_t errsz)
{
	struct stat st;
	char *buf = NULL, eb[128];
	size_t cap = 0, got = 0;
	int fd = -1, r = -1;

	/* O_NONBLOCK: a FIFO put in the file's place must not hang the open;
	 * it is then refused as not a regular file.  Reads of a regular file
	 * ignore the flag. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP)
			error_file(errbuf, errsz, "%s: is a symbolic link", path);
		else
			error_file(errbuf, errsz, "%s: %s", path,
				   strerror_r(errno, eb, sizeof eb));
		goto done;
	}
	if (fstat(fd, &st) != 0) {
		error_file(errbuf, errsz, "%s: %s", path, strerror_r(errno, eb, sizeof eb));
		goto done;
	}
	if (check_stat(path, &st, owner, maxbytes, secret, errbuf, errsz) != 0)
		goto done;
	/* One byte more than the size tells whether the file grew meanwhile;
	 * since the size is at most maxbytes, so is what is kept. */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap + 1);
	if (buf == NULL) {
		error_file(errbuf, errsz, "%s: out of memory", path);
		goto done;
	}
	if (read_full(fd, buf, cap, &got) != 0) {
		error_file(errbuf, errsz, "%s: %s", path, strerror_r(errno, eb, sizeof eb));
		goto done;
	}
	if (got == cap) {
		error_file(errbuf, errsz, "%s: grew while being read", path);
		goto done;
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	buf = NULL;
	r = 0;
done:
	if (buf != NULL && secret)
		explicit_bzero(buf, cap + 1);
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}

/* Whether the n bytes at s are the end of a line: none, LF or CRLF. */
static int
line_end(const char *s, size_t n)
{
	return n == 0 || (n == 1 && s[0] == '\n') || (n == 2 && s[0] == '\r' && s[1] == '\n');
}

int
kenpo_secret_line_len(const char *data, size_t size, size_t *len)
{
	size_t n = strcspn(data, "\r\n");

	/* What follows the line: nothing, LF or CRLF (a NUL byte stops
	 * strcspn, and then the line is shorter than the file). */
	if (n == 0 || n > size || !line_end(data + n, size - n))
		return -1;
	*len = n;
	return 0;
}

int
kenpo_read_secret_line(const char *path, uid_t owner, size_t maxbytes, char **out, size_t *len,
		       char *errbuf, size_t errsz)
{
	char *data = NULL;
	size_t size = 0, n = 0;

	if (kenpo_read_file_safely(path, owner, maxbytes, 1, &data, &size, errbuf, errsz) != 0)
		return -1;
	if (kenpo_secret_line_len(data, size, &n) != 0) {
		error_file(errbuf, errsz, "%s: must hold the password on one non-empty line",
			   path);
		explicit_bzero(data, size);
		free(data);
		return -1;
	}
	/* The line end goes; this also ends the string. */
	explicit_bzero(data + n, size - n);
	*out = data;
	*len = n;
	return 0;
}
