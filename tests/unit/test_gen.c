/*
 * test_gen.c - the generators: forms, alphabets, distribution, uniqueness.
 *
 * The statistical bounds are about ten standard deviations wide, so a
 * correct generator never fails them, while a biased or broken one does.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "gen.h"
#include "policy.h"

#define DRAWS 10000

/* The alphabets as documented in gen.h, written out independently. */
static const char CODE_ALPHABET[] = "ABCDEFGHJKLMNPRSTUVWXYZ23456789";
static const char CODE_LETTERS[] = "ABCDEFGHJKLMNPRSTUVWXYZ";
static const char CLEAR_DIGITS[] = "23456789";
static const char PW_UPPER[] = "ABDEFGHJLMNRTY";
static const char PW_LOWER[] = "abdefhijmnrty";
static const char PW_ALPHABET[] = "ABDEFGHJLMNRTYabdefhijmnrty23456789";
static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

typedef int (*gen_fn)(char *, size_t);

/* sodium_init() rather than kenpo_secret_init(), so this test links only
 * the generators. */
static int
setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static int
in_set(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

static int
count_in(const char *s, size_t n, const char *set)
{
	int k = 0;

	for (size_t i = 0; i < n; i++)
		k += in_set(s[i], set);
	return k;
}

/* Every character of `set` was drawn. */
static void
check_all_seen(const unsigned long counts[256], const char *set)
{
	for (const char *p = set; *p != '\0'; p++)
		if (counts[(unsigned char)*p] == 0)
			fail_msg("character '%c' never drawn", *p);
}

/*
 * Uniform draws from `set`: every count within 20% of total / |set|, and
 * Pearson's chi-square below `chi2max`.  The limits passed are the 1e-9
 * upper quantiles of chi-square with |set| - 1 degrees of freedom (8
 * symbols: 59, 10: 64, 31: 103, 64: 156), so a correct generator fails
 * once in a billion runs, while a modulo bias of a few percent, over the
 * sample sizes used here, lands far above them.
 */
static void
check_uniform(const unsigned long counts[256], const char *set, unsigned long total,
	      double chi2max)
{
	size_t n = strlen(set);
	double expect = (double)total / (double)n, chi2 = 0;
	unsigned long sum = 0;

	for (size_t i = 0; i < n; i++) {
		double c = (double)counts[(unsigned char)set[i]];

		if (c < expect * 0.8 || c > expect * 1.2)
			fail_msg("character '%c' drawn %.0f times, expected about %.0f", set[i],
				 c, expect);
		chi2 += (c - expect) * (c - expect) / expect;
		sum += counts[(unsigned char)set[i]];
	}
	assert_int_equal(sum, total);
	if (chi2 > chi2max)
		fail_msg("chi-square %.1f above %.1f", chi2, chi2max);
}

static void
test_look_alikes_absent(void **state)
{
	(void)state;
	/* The letter spells these out; they must never be ambiguous. */
	for (const char *p = "0Oo1lIQ"; *p != '\0'; p++) {
		assert_false(in_set(*p, CODE_ALPHABET));
		assert_false(in_set(*p, PW_ALPHABET));
	}
	for (const char *p = "CKPSUVWXZckpsuvwxzgq"; *p != '\0'; p++)
		assert_false(in_set(*p, PW_ALPHABET));
}

static void
test_preissued_id(void **state)
{
	unsigned long head[256] = { 0 }, tail[256] = { 0 };
	char id[KENPO_PREISSUED_ID_LEN + 1];

	(void)state;
	/* Five times as many draws: without the forced letter, about one ID
	 * in 3,000 would be digits only, and this would miss it too often. */
	for (int n = 0; n < 5 * DRAWS; n++) {
		assert_int_equal(kenpo_gen_preissued_id(id, sizeof id), 0);
		assert_int_equal(strlen(id), KENPO_PREISSUED_ID_LEN);
		assert_int_equal(count_in(id, 6, CODE_ALPHABET), 6);
		assert_true(count_in(id, 6, CODE_LETTERS) >= 1);
		assert_true(in_set(id[6], CLEAR_DIGITS));
		assert_true(in_set(id[7], CLEAR_DIGITS));
		/* The manuals' rule, through the policy module. */
		assert_true(kenpo_policy_is_preissued_id(id, strlen(id)));
		assert_int_equal(kenpo_policy_check_login_id(id, strlen(id)),
				 KENPO_RULE_ID_DIGITS_7_8);
		for (int i = 0; i < 6; i++)
			head[(unsigned char)id[i]]++;
		tail[(unsigned char)id[6]]++;
		tail[(unsigned char)id[7]]++;
	}
	/* The forced letter skews positions 1..6 towards letters: only check
	 * that every character appears there. */
	check_all_seen(head, CODE_ALPHABET);
	check_uniform(tail, CLEAR_DIGITS, 10UL * DRAWS, 59);
}

static void
check_places(const int at[KENPO_TEMP_PASSWORD_LEN])
{
	double mean = 0;

	for (int i = 0; i < KENPO_TEMP_PASSWORD_LEN; i++)
		mean += at[i] / (double)KENPO_TEMP_PASSWORD_LEN;
	for (int i = 0; i < KENPO_TEMP_PASSWORD_LEN; i++)
		if (at[i] < mean * 0.85 || at[i] > mean * 1.15)
			fail_msg("place %d: %d, mean %.0f", i, at[i], mean);
}

static void
test_temp_password(void **state)
{
	unsigned long counts[256] = { 0 };
	int digit_at[KENPO_TEMP_PASSWORD_LEN] = { 0 };
	int upper_at[KENPO_TEMP_PASSWORD_LEN] = { 0 };
	int lower_at[KENPO_TEMP_PASSWORD_LEN] = { 0 };
	char pw[KENPO_TEMP_PASSWORD_LEN + 1];

	(void)state;
	for (int n = 0; n < DRAWS; n++) {
		assert_int_equal(kenpo_gen_temp_password(pw, sizeof pw), 0);
		assert_int_equal(strlen(pw), KENPO_TEMP_PASSWORD_LEN);
		assert_int_equal(count_in(pw, 8, PW_ALPHABET), 8);
		assert_true(count_in(pw, 8, PW_UPPER) >= 1);
		assert_true(count_in(pw, 8, PW_LOWER) >= 1);
		assert_true(count_in(pw, 8, CLEAR_DIGITS) >= 1);
		assert_int_equal(kenpo_policy_check_password(pw, strlen(pw)), 0);
		for (int i = 0; i < KENPO_TEMP_PASSWORD_LEN; i++) {
			counts[(unsigned char)pw[i]]++;
			digit_at[i] += in_set(pw[i], CLEAR_DIGITS);
			upper_at[i] += in_set(pw[i], PW_UPPER);
			lower_at[i] += in_set(pw[i], PW_LOWER);
		}
	}
	check_all_seen(counts, PW_ALPHABET);
	/* The shuffle: each place holds each class equally often (within 15%,
	 * about nine standard deviations), not the classes forced first. */
	check_places(upper_at);
	check_places(lower_at);
	check_places(digit_at);
}

static void
test_key(void **state)
{
	unsigned long counts[256] = { 0 };
	int leading_zero = 0;
	char key[KENPO_KEY_LEN + 1];

	(void)state;
	for (int n = 0; n < DRAWS; n++) {
		assert_int_equal(kenpo_gen_key(key, sizeof key), 0);
		assert_int_equal(strlen(key), KENPO_KEY_LEN);
		assert_true(kenpo_key_is_wellformed(key));
		leading_zero += key[0] == '0';
		for (int i = 0; i < KENPO_KEY_LEN; i++)
			counts[(unsigned char)key[i]]++;
	}
	/* 100,000 digits: each between 0.08 and 0.12 of them. */
	check_uniform(counts, "0123456789", 10UL * DRAWS, 64);
	assert_true(leading_zero > 0);
}

static void
test_authkey(void **state)
{
	unsigned long counts[256] = { 0 };
	char key[KENPO_AUTHKEY_LEN + 1];

	(void)state;
	for (int n = 0; n < DRAWS; n++) {
		assert_int_equal(kenpo_gen_authkey(key, sizeof key), 0);
		assert_int_equal(strlen(key), KENPO_AUTHKEY_LEN);
		assert_int_equal(count_in(key, 8, CODE_ALPHABET), 8);
		for (int i = 0; i < KENPO_AUTHKEY_LEN; i++)
			counts[(unsigned char)key[i]]++;
	}
	check_uniform(counts, CODE_ALPHABET, 8UL * DRAWS, 103);
}

static int
cmp_token(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_token(void **state)
{
	unsigned long counts[256] = { 0 };
	char(*tok)[KENPO_TOKEN_LEN + 1] = calloc(DRAWS, sizeof *tok);

	(void)state;
	assert_non_null(tok);
	for (int n = 0; n < DRAWS; n++) {
		assert_int_equal(kenpo_gen_token(tok[n], sizeof tok[n]), 0);
		assert_int_equal(strlen(tok[n]), KENPO_TOKEN_LEN);
		assert_int_equal(strspn(tok[n], B64URL), KENPO_TOKEN_LEN);
		assert_true(kenpo_token_is_wellformed(tok[n]));
		for (int i = 0; i < KENPO_TOKEN_LEN; i++)
			counts[(unsigned char)tok[n][i]]++;
	}
	check_uniform(counts, B64URL, (unsigned long)KENPO_TOKEN_LEN * DRAWS, 156);
	qsort(tok, DRAWS, sizeof *tok, cmp_token);
	for (int n = 1; n < DRAWS; n++)
		assert_string_not_equal(tok[n - 1], tok[n]);
	free(tok);
}

/* Too small a buffer: -1 and not one byte written. */
static void
check_too_small(gen_fn gen, size_t len)
{
	char buf[64];

	memset(buf, '#', sizeof buf);
	assert_int_equal(gen(buf, len), -1);
	assert_int_equal(gen(buf, 0), -1);
	for (size_t i = 0; i < sizeof buf; i++)
		assert_int_equal(buf[i], '#');
	assert_int_equal(gen(NULL, len + 1), -1);
	assert_int_equal(gen(buf, len + 1), 0);
	assert_int_equal(strlen(buf), len);
}

static void
test_outsz_too_small(void **state)
{
	(void)state;
	check_too_small(kenpo_gen_preissued_id, KENPO_PREISSUED_ID_LEN);
	check_too_small(kenpo_gen_temp_password, KENPO_TEMP_PASSWORD_LEN);
	check_too_small(kenpo_gen_key, KENPO_KEY_LEN);
	check_too_small(kenpo_gen_authkey, KENPO_AUTHKEY_LEN);
	check_too_small(kenpo_gen_token, KENPO_TOKEN_LEN);
}

static void
test_token_wellformed(void **state)
{
	static const char *const bad[] = {
		"",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* 31 */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 33 */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",  /* standard base64 */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ",
		"AAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
	};

	(void)state;
	assert_true(kenpo_token_is_wellformed("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	assert_true(kenpo_token_is_wellformed("abcdefghijklmnopqrstuvwxyz-_0189"));
	assert_false(kenpo_token_is_wellformed(NULL));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (kenpo_token_is_wellformed(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
}

static void
test_key_wellformed(void **state)
{
	static const char *const bad[] = {
		"",           "012345678",  "01234567890",  "012345678a",           " 123456789",
		"+123456789", "-123456789", "0123456789\n", "１２３４５６７８９０",
	};

	(void)state;
	assert_true(kenpo_key_is_wellformed("0123456789"));
	assert_true(kenpo_key_is_wellformed("0000000000"));
	assert_false(kenpo_key_is_wellformed(NULL));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (kenpo_key_is_wellformed(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_look_alikes_absent),
		cmocka_unit_test(test_preissued_id),
		cmocka_unit_test(test_temp_password),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_authkey),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_outsz_too_small),
		cmocka_unit_test(test_token_wellformed),
		cmocka_unit_test(test_key_wellformed),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
