/*
 * test_readfile.c - the one reader of password files (kenpod's
 * bind_password_file, the SMTP relay's smtp_password_file, kenpo-admin's
 * -y FILE): one non-empty line, LF or CRLF after it, read as a secret.
 */
#include <autoconfig.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "readfile.h"

/* A file's bytes, and the password read from it (NULL: refused). */
struct file {
	const char *data;
	size_t len;
	const char *password;
};

static char dir[] = "/tmp/kenpo-readfile-XXXXXX";
static char path[sizeof dir + 16];

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/pw", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	(void)unlink(path);
	return rmdir(dir);
}

static void
write_file(const char *data, size_t len, mode_t mode)
{
	FILE *f;

	assert_true(unlink(path) == 0 || errno == ENOENT);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Read the file; the password, or NULL when it was refused (err then
 * names the file). */
static char *
read_pw(size_t *len, char *err, size_t errsz)
{
	char *pw = NULL;

	err[0] = '\0';
	if (kenpo_read_secret_line(path, getuid(), 4096, &pw, len, err, errsz) != 0) {
		assert_null(pw);
		assert_non_null(strstr(err, path));
		return NULL;
	}
	return pw;
}

static void
test_one_line(void **state)
{
	static const struct file files[] = {
		{ "s3cretPw", 8, "s3cretPw" },
		{ "s3cretPw\n", 9, "s3cretPw" },
		{ "s3cretPw\r\n", 10, "s3cretPw" }, /* written on Windows: no CR kept */
		{ " with spaces \n", 14, " with spaces " },
		{ "パスワード\n", 16, "パスワード" },
	};
	char err[512], *pw;
	size_t i, len = 0;

	(void)state;
	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		write_file(files[i].data, files[i].len, 0600);
		pw = read_pw(&len, err, sizeof err);
		if (pw == NULL)
			fail_msg("file %zu refused: %s", i, err);
		assert_string_equal(pw, files[i].password);
		assert_int_equal(len, strlen(files[i].password));
		free(pw);
	}
}

static void
test_refused(void **state)
{
	static const struct file files[] = {
		{ "", 0, NULL },       { "\n", 1, NULL },
		{ "\r\n", 2, NULL },   { "two\nlines\n", 10, NULL },
		{ "pw\n\n", 4, NULL }, { "pw\r\n\r\n", 6, NULL },
		{ "pw\r", 3, NULL },   { "p\rw\n", 4, NULL },
		{ "pw\n ", 4, NULL },  { "pw\0x\n", 5, NULL },
		{ "pw\n\0", 4, NULL }, { "\0pw", 3, NULL },
	};
	char err[512];
	size_t i, len = 77;

	(void)state;
	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		write_file(files[i].data, files[i].len, 0600);
		if (read_pw(&len, err, sizeof err) != NULL)
			fail_msg("file %zu accepted", i);
		assert_non_null(strstr(err, "one non-empty line"));
		assert_int_equal(len, 77);
	}
}

static void
test_read_as_a_secret(void **state)
{
	char err[512];
	size_t len = 0;

	(void)state;
	/* Readable by others: refused before it is read. */
	write_file("s3cretPw\n", 9, 0644);
	assert_null(read_pw(&len, err, sizeof err));
	assert_non_null(strstr(err, "must not be readable by group or others"));
	write_file("s3cretPw\n", 9, 0640);
	assert_null(read_pw(&len, err, sizeof err));
	assert_int_equal(unlink(path), 0);
	assert_null(read_pw(&len, err, sizeof err));
	assert_non_null(strstr(err, strerror(ENOENT)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_line),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_read_as_a_secret),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
