/*
 * test_secret.c - password hashes, keyed hashes, comparison, wiping and
 * the server secret file.  Password hashes use the lowest cost (t=1,
 * m=8 MiB) so the tests stay fast.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "secret.h"

static const struct kenpo_pwcost LOW = { 1, 8192 * 1024 };
#define LOW_PREFIX "{ARGON2}$argon2id$v=19$m=8192,t=1,p=1$"
#define PW "Tanaka2024"
#define PWLEN (sizeof PW - 1)

static int
setup(void **state)
{
	(void)state;
	return kenpo_secret_init();
}

static void
hash_ok(const char *pw, size_t len, const struct kenpo_pwcost *c, char out[KENPO_PWHASH_MAX])
{
	assert_int_equal(kenpo_pw_hash(pw, len, c, out, KENPO_PWHASH_MAX), 0);
}

static void
test_init_twice(void **state)
{
	(void)state;
	assert_int_equal(kenpo_secret_init(), 0);
}

static void
test_default_cost(void **state)
{
	struct kenpo_pwcost c;

	(void)state;
	kenpo_pwcost_default(&c);
	assert_int_equal(c.opslimit, 2);
	assert_int_equal(c.memlimit, 64 * 1024 * 1024);
}

static void
test_hash_verify(void **state)
{
	char h[KENPO_PWHASH_MAX];

	(void)state;
	hash_ok(PW, PWLEN, &LOW, h);
	assert_int_equal(kenpo_pw_verify(h, PW, PWLEN), 0);
	assert_int_equal(kenpo_pw_verify(h, "Tanaka2025", PWLEN), -1);
	assert_int_equal(kenpo_pw_verify(h, PW, PWLEN - 1), -1);
	assert_int_equal(kenpo_pw_verify(h, "tanaka2024", PWLEN), -1);
	assert_int_equal(kenpo_pw_verify(h, "", 0), -1);
	/* The length is taken from len, not from a NUL. */
	assert_int_equal(kenpo_pw_verify(h, PW "xyz", PWLEN), 0);
	/* Without the {ARGON2} prefix. */
	assert_int_equal(kenpo_pw_verify(h + strlen("{ARGON2}"), PW, PWLEN), 0);
}

/* The form of slapd's argon2 module: "{ARGON2}" then the PHC string with a
 * 16-byte salt and a 32-byte hash in unpadded standard base64. */
static void
test_hash_form(void **state)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char h[KENPO_PWHASH_MAX], h2[KENPO_PWHASH_MAX];
	const char *p = h + strlen(LOW_PREFIX);

	(void)state;
	hash_ok(PW, PWLEN, &LOW, h);
	assert_memory_equal(h, LOW_PREFIX, strlen(LOW_PREFIX));
	assert_int_equal(strspn(p, b64), 22);
	assert_int_equal(p[22], '$');
	assert_int_equal(strspn(p + 23, b64), 43);
	assert_int_equal(p[23 + 43], '\0');
	/* What libsodium (slapd's other backend) verifies once slapd has
	 * removed the scheme. */
	assert_int_equal(crypto_pwhash_str_verify(h + strlen("{ARGON2}"), PW, PWLEN), 0);
	/* A fresh salt each time. */
	hash_ok(PW, PWLEN, &LOW, h2);
	assert_string_not_equal(h, h2);
}

static void
test_hash_refuses(void **state)
{
	static const struct kenpo_pwcost bad_t = { 0, 8192 * 1024 };
	static const struct kenpo_pwcost bad_m = { 1, 4096 };
	char h[KENPO_PWHASH_MAX];
	char *big = malloc(KENPO_PW_MAX_BYTES + 1);

	(void)state;
	assert_non_null(big);
	memset(big, 'a', KENPO_PW_MAX_BYTES + 1);
	memset(h, '#', sizeof h);
	assert_int_equal(kenpo_pw_hash("ab\0cd", 5, &LOW, h, sizeof h), -1);
	assert_int_equal(kenpo_pw_hash(big, KENPO_PW_MAX_BYTES + 1, &LOW, h, sizeof h), -1);
	assert_int_equal(kenpo_pw_hash(PW, PWLEN, &bad_t, h, sizeof h), -1);
	assert_int_equal(kenpo_pw_hash(PW, PWLEN, &bad_m, h, sizeof h), -1);
	assert_int_equal(kenpo_pw_hash(PW, PWLEN, NULL, h, sizeof h), -1);
	assert_int_equal(kenpo_pw_hash(NULL, 0, &LOW, h, sizeof h), -1);
	assert_int_equal(kenpo_pw_hash(PW, PWLEN, &LOW, h, 90), -1);
	for (size_t i = 0; i < sizeof h; i++)
		assert_int_equal(h[i], '#');
	assert_int_equal(kenpo_pw_hash(PW, PWLEN, &LOW, NULL, sizeof h), -1);
	/* The longest accepted password hashes and verifies. */
	hash_ok(big, KENPO_PW_MAX_BYTES, &LOW, h);
	assert_int_equal(kenpo_pw_verify(h, big, KENPO_PW_MAX_BYTES), 0);
	assert_int_equal(kenpo_pw_verify(h, big, KENPO_PW_MAX_BYTES + 1), -1);
	free(big);
}

static void
test_verify_malformed(void **state)
{
	char h[KENPO_PWHASH_MAX], cut[KENPO_PWHASH_MAX], lower[KENPO_PWHASH_MAX];
	char longer[400];
	size_t n;

	(void)state;
	hash_ok(PW, PWLEN, &LOW, h);
	n = strlen(h);
	memcpy(cut, h, n - 10);
	cut[n - 10] = '\0';
	memcpy(lower, h, n + 1);
	memcpy(lower, "{argon2}", 8);
	memset(longer, 'A', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	memcpy(longer, h, n);

	const char *const bad[] = {
		"",
		"{ARGON2}",
		"{SSHA}xxx",
		"{ARGON2}$argon2id$",
		"$argon2id$",
		"{ARGON2}$argon2d$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
		"{CRYPT}$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
		"{ARGON2}{ARGON2}$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
		PW,
		cut,
		lower,
		longer,
		h + 1,
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (kenpo_pw_verify(bad[i], PW, PWLEN) != -1)
			fail_msg("accepted stored value #%zu", i);
	assert_int_equal(kenpo_pw_verify(NULL, PW, PWLEN), -1);
	assert_int_equal(kenpo_pw_verify(h, NULL, 0), -1);
	assert_int_equal(kenpo_pw_verify(h, PW "\0x", PWLEN + 2), -1);
}

/* What Debian's slapd writes by itself is argon2i: still verified. */
static void
test_verify_argon2i(void **state)
{
	char str[crypto_pwhash_STRBYTES];
	char stored[KENPO_PWHASH_MAX];

	(void)state;
	assert_int_equal(crypto_pwhash_str_alg(str, PW, PWLEN, 3, 8192 * 1024,
					       crypto_pwhash_ALG_ARGON2I13),
			 0);
	snprintf(stored, sizeof stored, "{ARGON2}%s", str);
	assert_int_equal(kenpo_pw_verify(stored, PW, PWLEN), 0);
	assert_int_equal(kenpo_pw_verify(str, PW, PWLEN), 0);
	assert_int_equal(kenpo_pw_verify(stored, "Tanaka2025", PWLEN), -1);
	/* ... and always upgraded to argon2id. */
	const struct kenpo_pwcost same = { 3, 8192 * 1024 };
	assert_int_equal(kenpo_pw_needs_rehash(stored, &same), 1);
}

static void
test_needs_rehash(void **state)
{
	static const struct kenpo_pwcost other_t = { 2, 8192 * 1024 };
	static const struct kenpo_pwcost other_m = { 1, 16384 * 1024 };
	char h[KENPO_PWHASH_MAX];

	(void)state;
	hash_ok(PW, PWLEN, &LOW, h);
	assert_int_equal(kenpo_pw_needs_rehash(h, &LOW), 0);
	assert_int_equal(kenpo_pw_needs_rehash(h + strlen("{ARGON2}"), &LOW), 0);
	assert_int_equal(kenpo_pw_needs_rehash(h, &other_t), 1);
	assert_int_equal(kenpo_pw_needs_rehash(h, &other_m), 1);
	assert_int_equal(kenpo_pw_needs_rehash("{SSHA}xxx", &LOW), -1);
	assert_int_equal(kenpo_pw_needs_rehash("", &LOW), -1);
	assert_int_equal(kenpo_pw_needs_rehash("{ARGON2}$argon2id$garbage", &LOW), -1);
	assert_int_equal(kenpo_pw_needs_rehash("{ARGON2}$argon2i$garbage", &LOW), -1);
	assert_int_equal(kenpo_pw_needs_rehash(NULL, &LOW), -1);
	assert_int_equal(kenpo_pw_needs_rehash(h, NULL), -1);
}

static void
test_fake_hash(void **state)
{
	static const struct kenpo_pwcost other = { 2, 8192 * 1024 };
	static const struct kenpo_pwcost bad = { 0, 0 };
	const char *f = kenpo_pw_fake_hash(&LOW);
	const char *g;

	(void)state;
	assert_non_null(f);
	assert_memory_equal(f, LOW_PREFIX, strlen(LOW_PREFIX));
	assert_int_equal(kenpo_pw_needs_rehash(f, &LOW), 0);
	assert_int_equal(kenpo_pw_verify(f, PW, PWLEN), -1);
	assert_int_equal(kenpo_pw_verify(f, "", 0), -1);
	/* Cached: the same string for the same cost. */
	assert_ptr_equal(kenpo_pw_fake_hash(&LOW), f);
	g = kenpo_pw_fake_hash(&other);
	assert_non_null(g);
	assert_ptr_not_equal(g, f);
	assert_memory_equal(g, "{ARGON2}$argon2id$v=19$m=8192,t=2,p=1$",
			    strlen("{ARGON2}$argon2id$v=19$m=8192,t=2,p=1$"));
	assert_ptr_equal(kenpo_pw_fake_hash(&other), g);
	assert_ptr_equal(kenpo_pw_fake_hash(&LOW), f);
	assert_null(kenpo_pw_fake_hash(&bad));
	assert_null(kenpo_pw_fake_hash(NULL));
}

static const struct kenpo_pwcost THREAD_COST = { 3, 8192 * 1024 };

static void *
fake_thread(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)kenpo_pw_fake_hash(&THREAD_COST);
}

/* First calls racing for a new cost all get the one cached string. */
static void
test_fake_hash_threads(void **state)
{
	pthread_t t[4];
	void *r[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, fake_thread, NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], &r[i]), 0);
	assert_non_null(r[0]);
	for (int i = 1; i < 4; i++)
		assert_ptr_equal(r[i], r[0]);
	assert_ptr_equal(kenpo_pw_fake_hash(&THREAD_COST), r[0]);
}

static const unsigned char KEY1[KENPO_SERVER_SECRET_BYTES] = {
	1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};

static void
keyed(const unsigned char *k, const char *domain, const char *v, char out[KENPO_KEYED_HASH_HEX])
{
	assert_int_equal(kenpo_keyed_hash_hex(k, domain, v, strlen(v), out, KENPO_KEYED_HASH_HEX),
			 0);
}

static void
test_keyed_hash(void **state)
{
	unsigned char key2[KENPO_SERVER_SECRET_BYTES];
	char a[KENPO_KEYED_HASH_HEX], b[KENPO_KEYED_HASH_HEX];

	(void)state;
	memcpy(key2, KEY1, sizeof key2);
	key2[31] ^= 1;
	keyed(KEY1, "key", "0123456789", a);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	keyed(KEY1, "key", "0123456789", b);
	assert_string_equal(a, b);
	keyed(KEY1, "token", "0123456789", b);
	assert_string_not_equal(a, b);
	keyed(key2, "key", "0123456789", b);
	assert_string_not_equal(a, b);
	keyed(KEY1, "key", "0123456788", b);
	assert_string_not_equal(a, b);
	/* The separator: ("ab", "c") is not ("a", "bc"). */
	keyed(KEY1, "ab", "c", a);
	keyed(KEY1, "a", "bc", b);
	assert_string_not_equal(a, b);
	keyed(KEY1, "key", "", a);
	assert_int_equal(strlen(a), 64);
	keyed(KEY1, "key", "7", b);
	assert_string_not_equal(a, b);
}

/* The construction itself: BLAKE2b-256 keyed, over domain, 0, value. */
static void
test_keyed_hash_known(void **state)
{
	static const unsigned char msg[] = "token\0abc";
	unsigned char h[32];
	char want[65], got[KENPO_KEYED_HASH_HEX];

	(void)state;
	assert_int_equal(crypto_generichash(h, sizeof h, msg, sizeof msg - 1, KEY1, sizeof KEY1),
			 0);
	sodium_bin2hex(want, sizeof want, h, sizeof h);
	keyed(KEY1, "token", "abc", got);
	assert_string_equal(got, want);
	/* Binary values with NULs hash by length. */
	assert_int_equal(kenpo_keyed_hash_hex(KEY1, "token", "abc\0d", 5, got, sizeof got), 0);
	assert_string_not_equal(got, want);
}

static void
test_keyed_hash_refuses(void **state)
{
	char out[KENPO_KEYED_HASH_HEX + 8];

	(void)state;
	memset(out, '#', sizeof out);
	assert_int_equal(kenpo_keyed_hash_hex(KEY1, "key", "1", 1, out, KENPO_KEYED_HASH_HEX - 1),
			 -1);
	assert_int_equal(kenpo_keyed_hash_hex(NULL, "key", "1", 1, out, sizeof out), -1);
	assert_int_equal(kenpo_keyed_hash_hex(KEY1, NULL, "1", 1, out, sizeof out), -1);
	assert_int_equal(kenpo_keyed_hash_hex(KEY1, "key", NULL, 1, out, sizeof out), -1);
	for (size_t i = 0; i < sizeof out; i++)
		assert_int_equal(out[i], '#');
	assert_int_equal(kenpo_keyed_hash_hex(KEY1, "key", "1", 1, NULL, sizeof out), -1);
}

static void
test_secret_equal(void **state)
{
	(void)state;
	assert_int_equal(kenpo_secret_equal("0123456789", "0123456789"), 1);
	assert_int_equal(kenpo_secret_equal("0123456789", "0123456788"), 0);
	assert_int_equal(kenpo_secret_equal("1123456789", "0123456789"), 0);
	assert_int_equal(kenpo_secret_equal("012345678", "0123456789"), 0);
	assert_int_equal(kenpo_secret_equal("0123456789", "012345678"), 0);
	assert_int_equal(kenpo_secret_equal("", ""), 1);
	assert_int_equal(kenpo_secret_equal("", "a"), 0);
	assert_int_equal(kenpo_secret_equal(NULL, "a"), 0);
	assert_int_equal(kenpo_secret_equal("a", NULL), 0);
}

static void
test_wipe(void **state)
{
	char buf[16] = "secret-secret";
	char *s = strdup("a secret");

	(void)state;
	assert_non_null(s);
	kenpo_wipe(buf, sizeof buf);
	for (size_t i = 0; i < sizeof buf; i++)
		assert_int_equal(buf[i], 0);
	kenpo_wipe(NULL, 10);
	kenpo_secret_free(s);
	kenpo_secret_free(NULL);
}

/* ---- the server secret file ------------------------------------------- */

struct dir {
	char path[64];
	char file[96];
};

static int
dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof *d);

	if (d == NULL)
		return -1;
	strcpy(d->path, "/tmp/kenpo-test-secret-XXXXXX");
	if (mkdtemp(d->path) == NULL) {
		free(d);
		return -1;
	}
	snprintf(d->file, sizeof d->file, "%s/secret", d->path);
	*state = d;
	return 0;
}

static int
dir_teardown(void **state)
{
	struct dir *d = *state;
	char link[128];

	snprintf(link, sizeof link, "%s/link", d->path);
	unlink(link);
	unlink(d->file);
	rmdir(d->path);
	free(d);
	return 0;
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static const char KEY1_HEX[] = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";

static void
load_ok(const char *path)
{
	unsigned char out[KENPO_SERVER_SECRET_BYTES];
	char err[256] = "";

	memset(out, 0, sizeof out);
	if (kenpo_server_secret_load(path, out, err, sizeof err) != 0)
		fail_msg("refused: %s", err);
	assert_memory_equal(out, KEY1, sizeof out);
}

static void
load_fails(const char *path)
{
	unsigned char out[KENPO_SERVER_SECRET_BYTES];
	char err[256] = "";

	memset(out, 0xA5, sizeof out);
	assert_int_equal(kenpo_server_secret_load(path, out, err, sizeof err), -1);
	assert_true(err[0] != '\0');
	for (size_t i = 0; i < sizeof out; i++)
		assert_int_equal(out[i], 0xA5);
}

static void
test_load_raw(void **state)
{
	struct dir *d = *state;

	write_file(d->file, KEY1, sizeof KEY1, 0600);
	load_ok(d->file);
	write_file(d->file, KEY1, sizeof KEY1, 0400);
	load_ok(d->file);
}

static void
test_load_hex(void **state)
{
	struct dir *d = *state;
	char buf[80];

	write_file(d->file, KEY1_HEX, 64, 0600);
	load_ok(d->file);
	snprintf(buf, sizeof buf, "%s\n", KEY1_HEX);
	write_file(d->file, buf, 65, 0600);
	load_ok(d->file);
}

static void
test_load_bad_content(void **state)
{
	static const unsigned char zero[KENPO_SERVER_SECRET_BYTES] = { 0 };
	struct dir *d = *state;
	char buf[80];

	write_file(d->file, KEY1, 31, 0600);
	load_fails(d->file);
	memcpy(buf, KEY1, sizeof KEY1);
	buf[sizeof KEY1] = '\n';
	write_file(d->file, buf, sizeof KEY1 + 1, 0600);
	load_fails(d->file);
	write_file(d->file, "", 0, 0600);
	load_fails(d->file);
	write_file(d->file, KEY1_HEX, 63, 0600);
	load_fails(d->file);
	snprintf(buf, sizeof buf, "%s\n\n", KEY1_HEX);
	write_file(d->file, buf, 66, 0600);
	load_fails(d->file);
	snprintf(buf, sizeof buf, "%sx", KEY1_HEX);
	write_file(d->file, buf, 65, 0600);
	load_fails(d->file);
	memcpy(buf, KEY1_HEX, 64);
	buf[10] = 'g';
	write_file(d->file, buf, 64, 0600);
	load_fails(d->file);
	write_file(d->file, zero, sizeof zero, 0600);
	load_fails(d->file);
}

static void
test_load_bad_file(void **state)
{
	struct dir *d = *state;
	char link[128];

	write_file(d->file, KEY1, sizeof KEY1, 0644);
	load_fails(d->file);
	write_file(d->file, KEY1, sizeof KEY1, 0640);
	load_fails(d->file);
	write_file(d->file, KEY1, sizeof KEY1, 0604);
	load_fails(d->file);
	write_file(d->file, KEY1, sizeof KEY1, 0600);
	snprintf(link, sizeof link, "%s/link", d->path);
	assert_int_equal(symlink(d->file, link), 0);
	load_fails(link);
	load_fails(d->path);
	unlink(d->file);
	load_fails(d->file);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_twice),
		cmocka_unit_test(test_default_cost),
		cmocka_unit_test(test_hash_verify),
		cmocka_unit_test(test_hash_form),
		cmocka_unit_test(test_hash_refuses),
		cmocka_unit_test(test_verify_malformed),
		cmocka_unit_test(test_verify_argon2i),
		cmocka_unit_test(test_needs_rehash),
		cmocka_unit_test(test_fake_hash),
		cmocka_unit_test(test_fake_hash_threads),
		cmocka_unit_test(test_keyed_hash),
		cmocka_unit_test(test_keyed_hash_known),
		cmocka_unit_test(test_keyed_hash_refuses),
		cmocka_unit_test(test_secret_equal),
		cmocka_unit_test(test_wipe),
		cmocka_unit_test_setup_teardown(test_load_raw, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_load_hex, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_load_bad_content, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_load_bad_file, dir_setup, dir_teardown),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
