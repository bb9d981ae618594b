/*
 * readfile.h - reading configuration and secret files safely, as pam-u2f's
 * open_safely() does: no symbolic link, a regular file, owner and mode
 * checked, size capped.
 */
#ifndef KENPO_READFILE_H
#define KENPO_READFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Open a file safely for reading: O_NOFOLLOW|O_CLOEXEC, a regular file,
 * owned by root or `owner`, not group- or world-writable, at most maxbytes;
 * when `secret` is true also not group- or world-readable.  Reads it whole
 * into a NUL-terminated malloc'd buffer (which may hold NUL bytes: *len
 * counts them; a file that grows while read is refused).  0 or -1 with
 * errbuf filled as "path: problem".  A FIFO or device does not block. */
int kenpo_read_file_safely(const char *path, uid_t owner, size_t maxbytes, int secret,
			   char **data, size_t *len, char *errbuf, size_t errsz);

/*
 * Read a password file (bind_password_file, smtp_password_file,
 * kenpo-admin -y), the one rule for every password kenpo reads from a
 * file: the file is read as a secret (above), and holds the password on
 * one line, which must not be empty.  The line end after it, LF or CRLF as
 * editors on either system write it, is not part of the password; a NUL
 * byte, a CR inside the line, or anything after the line end (a second
 * line, a blank line) is an error.  On success *out is the password,
 * NUL-terminated, in a malloc'd buffer of *len + 1 bytes that the caller
 * wipes and frees; 0, or -1 with errbuf filled (never with the password).
 */
int kenpo_read_secret_line(const char *path, uid_t owner, size_t maxbytes, char **out,
			   size_t *len, char *errbuf, size_t errsz);

/* The check kenpo_read_secret_line makes of the file's bytes data[0..size)
 * (data[size] must be a NUL, as the reader above leaves it): 0 with the
 * password's length in *len, or -1 when they are not one non-empty line. */
int kenpo_secret_line_len(const char *data, size_t size, size_t *len);

#endif
