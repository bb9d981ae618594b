/*
 * test_mailin.c - the sender of a mail piped in by an MTA: which header
 * wins, what is refused (no usable sender, robots, bounces, over-long
 * input), and the size cap of the reader.
 */
#include "autoconfig.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mailin.h"

struct sample {
	const char *name;
	const char *text;
	enum kenpo_mailin_rc rc;
	const char *sender; /* on KENPO_MAILIN_OK */
	enum kenpo_mailin_source source;
};

static const struct sample samples[] = {
	{ "display name",
	  "From: \"Taro\" <taro@example.jp>\r\nTo: kc@toyobo-kenpo.jp\r\n"
	  "Subject: \r\n\r\n",
	  KENPO_MAILIN_OK, "taro@example.jp", KENPO_MAILIN_FROM },
	{ "bare address, LF ends", "From: hanako@example.co.jp\nSubject: x\n\nbody ignored\n",
	  KENPO_MAILIN_OK, "hanako@example.co.jp", KENPO_MAILIN_FROM },
	{ "encoded-word name", "From: =?UTF-8?B?5p2x5rSLIOWkqumDjg==?= <toyo@example.jp>\n\n",
	  KENPO_MAILIN_OK, "toyo@example.jp", KENPO_MAILIN_FROM },
	{ "folded From", "From: \"Taro\"\r\n <taro@example.jp>\r\n\r\n", KENPO_MAILIN_OK,
	  "taro@example.jp", KENPO_MAILIN_FROM },
	{ "From wins over Sender and Return-Path",
	  "Return-Path: <bounce@lists.example.jp>\nSender: list@example.jp\n"
	  "From: taro@example.jp\n\n",
	  KENPO_MAILIN_OK, "taro@example.jp", KENPO_MAILIN_FROM },
	{ "two From mailboxes: Sender",
	  "From: a@example.jp, b@example.jp\n"
	  "Sender: a@example.jp\n\n",
	  KENPO_MAILIN_OK, "a@example.jp", KENPO_MAILIN_SENDER },
	{ "no From: Return-Path", "Return-Path: <taro@example.jp>\nSubject: x\n\n",
	  KENPO_MAILIN_OK, "taro@example.jp", KENPO_MAILIN_RETURN_PATH },
	{ "unusable From: Return-Path",
	  "Return-Path: <taro@example.jp>\n"
	  "From: \"Taro\" <taro@>\n\n",
	  KENPO_MAILIN_OK, "taro@example.jp", KENPO_MAILIN_RETURN_PATH },
	{ "mbox envelope line skipped",
	  "From taro@example.jp Mon Apr  1 09:00:00 2024\n"
	  "From: jiro@example.jp\n\n",
	  KENPO_MAILIN_OK, "jiro@example.jp", KENPO_MAILIN_FROM },
	{ "Auto-Submitted: no is a person", "Auto-Submitted: no\nFrom: taro@example.jp\n\n",
	  KENPO_MAILIN_OK, "taro@example.jp", KENPO_MAILIN_FROM },

	{ "no sender at all", "To: kc@toyobo-kenpo.jp\nSubject: hello\n\n",
	  KENPO_MAILIN_NO_SENDER, NULL, 0 },
	{ "two From and no Sender", "From: a@example.jp, b@example.jp\n\n",
	  KENPO_MAILIN_NO_SENDER, NULL, 0 },
	{ "group only", "From: undisclosed-recipients:;\n\n", KENPO_MAILIN_NO_SENDER, NULL, 0 },
	{ "malformed address", "From: taro\n\n", KENPO_MAILIN_NO_SENDER, NULL, 0 },
	{ "non-ASCII local part", "From: t\xc3\xa4ro@example.jp\n\n", KENPO_MAILIN_NO_SENDER,
	  NULL, 0 },
	{ "quoted local part", "From: \"ta ro\"@example.jp\n\n", KENPO_MAILIN_NO_SENDER, NULL,
	  0 },
	{ "body only", "\nhello\n", KENPO_MAILIN_NO_SENDER, NULL, 0 },
	{ "auto-replied", "Auto-Submitted: auto-replied\nFrom: taro@example.jp\n\n",
	  KENPO_MAILIN_AUTOMATIC, NULL, 0 },
	{ "auto-generated with parameter",
	  "Auto-Submitted: Auto-Generated; x=1\n"
	  "From: taro@example.jp\n\n",
	  KENPO_MAILIN_AUTOMATIC, NULL, 0 },
	{ "bounce", "Return-Path: <>\nFrom: MAILER-DAEMON@example.jp\n\n", KENPO_MAILIN_AUTOMATIC,
	  NULL, 0 },
	{ "empty", "", KENPO_MAILIN_MALFORMED, NULL, 0 },
	{ "envelope line only", "From taro@example.jp Mon Apr  1 09:00:00 2024",
	  KENPO_MAILIN_MALFORMED, NULL, 0 },
};

static void
test_samples(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		const struct sample *s = &samples[i];
		enum kenpo_mailin_source src = (enum kenpo_mailin_source)99;
		char out[256] = "untouched";
		enum kenpo_mailin_rc rc;

		rc = kenpo_mailin_sender(s->text, strlen(s->text), out, sizeof out, &src);
		if (rc != s->rc)
			fail_msg("%s: %s, expected %s", s->name, kenpo_mailin_code(rc),
				 kenpo_mailin_code(s->rc));
		if (rc != KENPO_MAILIN_OK) {
			if (strcmp(out, "untouched") != 0 || src != (enum kenpo_mailin_source)99)
				fail_msg("%s: output written on failure", s->name);
			continue;
		}
		if (strcmp(out, s->sender) != 0)
			fail_msg("%s: sender %s, expected %s", s->name, out, s->sender);
		if (src != s->source)
			fail_msg("%s: source %s, expected %s", s->name,
				 kenpo_mailin_source_name(src),
				 kenpo_mailin_source_name(s->source));
	}
}

/* A header cannot smuggle a second address in with CR or LF: whatever
 * comes out is one plain addr-spec. */
static void
test_no_injection(void **state)
{
	static const char msg[] = "From: taro@example.jp\r\nBcc: victim@example.jp\r\n\r\n";
	static const char bare_cr[] = "From: taro@example.jp\rBcc: victim@example.jp\n\n";
	char out[256];

	(void)state;
	assert_int_equal(kenpo_mailin_sender(msg, strlen(msg), out, sizeof out, NULL),
			 KENPO_MAILIN_OK);
	assert_string_equal(out, "taro@example.jp");
	if (kenpo_mailin_sender(bare_cr, strlen(bare_cr), out, sizeof out, NULL) ==
	    KENPO_MAILIN_OK) {
		assert_null(strchr(out, '\r'));
		assert_null(strchr(out, '\n'));
		assert_null(strchr(out, ' '));
	}
}

/* A NUL byte inside the message does not cut the header short. */
static void
test_nul_byte(void **state)
{
	static const char msg[] = "Subject: a\0b\nFrom: taro@example.jp\n\n";
	char out[256];

	(void)state;
	if (kenpo_mailin_sender(msg, sizeof msg - 1, out, sizeof out, NULL) == KENPO_MAILIN_OK)
		assert_string_equal(out, "taro@example.jp");
}

static void
test_small_output(void **state)
{
	static const char msg[] = "From: taro@example.jp\n\n";
	char out[8] = "same";

	(void)state;
	assert_int_not_equal(kenpo_mailin_sender(msg, strlen(msg), out, sizeof out, NULL),
			     KENPO_MAILIN_OK);
	assert_string_equal(out, "same");
}

/* A file of n bytes, opened for reading. */
static int
file_of(size_t n)
{
	char path[] = "/tmp/test_mailin.XXXXXX";
	char block[4096];
	int fd = mkstemp(path);
	size_t left = n, k;

	assert_true(fd >= 0);
	unlink(path);
	memset(block, 'x', sizeof block);
	memcpy(block, "From: taro@example.jp\n\n", 23);
	while (left > 0) {
		k = left < sizeof block ? left : sizeof block;
		assert_int_equal(write(fd, block, k), (ssize_t)k);
		left -= k;
	}
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void
test_read_cap(void **state)
{
	char *data = NULL;
	size_t len = 0;
	int fd;

	(void)state;
	fd = file_of(KENPO_MAILIN_MAX);
	assert_int_equal(kenpo_mailin_read(fd, KENPO_MAILIN_MAX, &data, &len), KENPO_MAILIN_OK);
	assert_int_equal(len, KENPO_MAILIN_MAX);
	assert_int_equal(data[len], '\0');
	assert_memory_equal(data, "From: taro@example.jp", 21);
	free(data);
	close(fd);

	data = NULL;
	fd = file_of(KENPO_MAILIN_MAX + 1);
	assert_int_equal(kenpo_mailin_read(fd, KENPO_MAILIN_MAX, &data, &len),
			 KENPO_MAILIN_TOO_LARGE);
	assert_null(data);
	close(fd);

	fd = file_of(0);
	assert_int_equal(kenpo_mailin_read(fd, KENPO_MAILIN_MAX, &data, &len), KENPO_MAILIN_OK);
	assert_int_equal(len, 0);
	free(data);
	close(fd);

	assert_int_equal(kenpo_mailin_read(-1, KENPO_MAILIN_MAX, &data, &len),
			 KENPO_MAILIN_READ_ERROR);
}

static void
test_codes(void **state)
{
	(void)state;
	assert_string_equal(kenpo_mailin_code(KENPO_MAILIN_NO_SENDER), "no-sender");
	assert_string_equal(kenpo_mailin_code(KENPO_MAILIN_TOO_LARGE), "too-large");
	assert_string_equal(kenpo_mailin_code((enum kenpo_mailin_rc)77), "unknown");
	assert_string_equal(kenpo_mailin_source_name(KENPO_MAILIN_RETURN_PATH), "return-path");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),  cmocka_unit_test(test_no_injection),
		cmocka_unit_test(test_nul_byte), cmocka_unit_test(test_small_output),
		cmocka_unit_test(test_read_cap), cmocka_unit_test(test_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
