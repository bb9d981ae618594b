/*
 * test_policy.c - the login ID and password rules, bit by bit.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

/* Every rule bit with the code the wire and `kenpo --json` rely on, in
 * the order kenpo_rule_next() must give them. */
static const struct {
	unsigned bit;
	const char *code;
} expected_rules[] = {
	{ KENPO_RULE_ID_TOO_SHORT, "id-too-short" },
	{ KENPO_RULE_ID_TOO_LONG, "id-too-long" },
	{ KENPO_RULE_ID_BAD_CHAR, "id-bad-char" },
	{ KENPO_RULE_ID_BAD_START, "id-bad-start" },
	{ KENPO_RULE_ID_ALL_DIGITS, "id-all-digits" },
	{ KENPO_RULE_ID_DIGITS_7_8, "id-digits-7-8" },
	{ KENPO_RULE_ID_RESERVED, "id-reserved" },
	{ KENPO_RULE_PW_TOO_SHORT, "password-too-short" },
	{ KENPO_RULE_PW_TOO_LONG, "password-too-long" },
	{ KENPO_RULE_PW_BAD_CHAR, "password-bad-char" },
	{ KENPO_RULE_PW_NO_UPPER, "password-no-upper" },
	{ KENPO_RULE_PW_NO_LOWER, "password-no-lower" },
	{ KENPO_RULE_PW_NO_DIGIT, "password-no-digit" },
};
#define N_RULES (sizeof expected_rules / sizeof expected_rules[0])

static unsigned
id_check(const char *s)
{
	return kenpo_policy_check_login_id(s, strlen(s));
}

static unsigned
pw_check(const char *s)
{
	return kenpo_policy_check_password(s, strlen(s));
}

/* A heap copy of exactly len bytes with no terminator, so that
 * AddressSanitizer catches any read past len. */
static char *
exact_copy(const char *s, size_t len)
{
	char *p = malloc(len > 0 ? len : 1);

	assert_non_null(p);
	memcpy(p, s, len);
	return p;
}

/* `len` copies of `fill` after `head`, in an exact-size heap buffer. */
static char *
make_value(const char *head, char fill, size_t len)
{
	char *p = malloc(len);
	size_t h = strlen(head);

	assert_non_null(p);
	assert_true(h <= len);
	memset(p, fill, len);
	memcpy(p, head, h);
	return p;
}

/* ---- login ID --------------------------------------------------------- */

static void
test_id_valid(void **state)
{
	static const char *const ok[] = {
		"Toyobo",   "ab",      "1a",   "a1", "toyobo1", "toyobo123", "abcdefgh",
		"123456ab", "a.b_c-d", "_abc", "A-", "a.",      "ABCdef.9x", "ab.cd_ef",
	};

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		if (id_check(ok[i]) != 0)
			fail_msg("\"%s\" refused: 0x%x", ok[i], id_check(ok[i]));
	}
}

static void
test_id_too_short(void **state)
{
	(void)state;
	assert_int_equal(id_check("a"), KENPO_RULE_ID_TOO_SHORT);
	assert_int_equal(id_check("7"), KENPO_RULE_ID_TOO_SHORT | KENPO_RULE_ID_ALL_DIGITS);
	assert_int_equal(id_check(""), KENPO_RULE_ID_TOO_SHORT);
	assert_int_equal(kenpo_policy_check_login_id(NULL, 0), KENPO_RULE_ID_TOO_SHORT);
	assert_int_equal(kenpo_policy_check_login_id(NULL, 5), KENPO_RULE_ID_TOO_SHORT);
}

static void
test_id_length_limits(void **state)
{
	char *id39 = make_value("", 'a', KENPO_LOGIN_ID_MAX);
	char *id40 = make_value("", 'a', KENPO_LOGIN_ID_MAX + 1);
	char *id500 = make_value("", 'b', 500);

	(void)state;
	assert_int_equal(KENPO_LOGIN_ID_MAX, 39);
	assert_int_equal(kenpo_policy_check_login_id(id39, 39), 0);
	assert_int_equal(kenpo_policy_check_login_id(id40, 40), KENPO_RULE_ID_TOO_LONG);
	assert_int_equal(kenpo_policy_check_login_id(id500, 500), KENPO_RULE_ID_TOO_LONG);
	free(id39);
	free(id40);
	free(id500);
}

static void
test_id_bad_char(void **state)
{
	static const char *const bad[] = {
		"abc def", "abc@example", "ab+c", "a/b",
		"ab:c",    "ab\tc",       "ab~c", "\xe6\x9d\xb1\xe6\xb4\x8b",
		"ab\x7f",  "caf\xc3\xa9",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (id_check(bad[i]) != KENPO_RULE_ID_BAD_CHAR)
			fail_msg("\"%s\": 0x%x", bad[i], id_check(bad[i]));
	}
}

static void
test_id_nul_inside(void **state)
{
	char *p = exact_copy("ab\0cd", 5);

	(void)state;
	assert_int_equal(kenpo_policy_check_login_id(p, 5), KENPO_RULE_ID_BAD_CHAR);
	/* A trailing NUL counted in len is a character too. */
	assert_int_equal(kenpo_policy_check_login_id("abc", 4), KENPO_RULE_ID_BAD_CHAR);
	free(p);
}

static void
test_id_bad_start(void **state)
{
	(void)state;
	assert_int_equal(id_check("-abc"), KENPO_RULE_ID_BAD_START);
	assert_int_equal(id_check(".abc"), KENPO_RULE_ID_BAD_START);
	assert_int_equal(id_check("a-bc"), 0);
	assert_int_equal(id_check("a.bc"), 0);
}

static void
test_id_all_digits(void **state)
{
	(void)state;
	assert_int_equal(id_check("12"), KENPO_RULE_ID_ALL_DIGITS);
	assert_int_equal(id_check("1234567"), KENPO_RULE_ID_ALL_DIGITS);
	assert_int_equal(id_check("123456789"), KENPO_RULE_ID_ALL_DIGITS);
	assert_int_equal(id_check("123456789a"), 0);
	assert_int_equal(id_check("12.34"), 0);
}

static void
test_id_digits_7_8(void **state)
{
	(void)state;
	/* The sample pre-issued ID may not be chosen by a member. */
	assert_int_equal(id_check("07AA0A00"), KENPO_RULE_ID_DIGITS_7_8);
	assert_int_equal(id_check("toyobo12"), KENPO_RULE_ID_DIGITS_7_8);
	assert_int_equal(id_check("abcdef1g"), KENPO_RULE_ID_DIGITS_7_8);
	assert_int_equal(id_check("abcdefg1"), KENPO_RULE_ID_DIGITS_7_8);
	assert_int_equal(id_check("1bcdefgh"), 0);
	/* Only an ID of exactly 8 characters is concerned. */
	assert_int_equal(id_check("abcde12"), 0);
	assert_int_equal(id_check("abcdefg12"), 0);
}

static void
test_id_combinations(void **state)
{
	char *p;

	(void)state;
	assert_int_equal(id_check("-"), KENPO_RULE_ID_TOO_SHORT | KENPO_RULE_ID_BAD_START);
	assert_int_equal(id_check("."), KENPO_RULE_ID_TOO_SHORT | KENPO_RULE_ID_BAD_START);
	assert_int_equal(id_check(" "), KENPO_RULE_ID_TOO_SHORT | KENPO_RULE_ID_BAD_CHAR);
	assert_int_equal(id_check("12345678"),
			 KENPO_RULE_ID_ALL_DIGITS | KENPO_RULE_ID_DIGITS_7_8);
	assert_int_equal(id_check("-bc def1"), KENPO_RULE_ID_BAD_START | KENPO_RULE_ID_BAD_CHAR |
						       KENPO_RULE_ID_DIGITS_7_8);
	assert_int_equal(id_check(".abcde 9"), KENPO_RULE_ID_BAD_START | KENPO_RULE_ID_BAD_CHAR |
						       KENPO_RULE_ID_DIGITS_7_8);

	p = exact_copy("\0", 1);
	assert_int_equal(kenpo_policy_check_login_id(p, 1),
			 KENPO_RULE_ID_TOO_SHORT | KENPO_RULE_ID_BAD_CHAR);
	free(p);

	/* Over-length values are still checked against every other rule. */
	p = make_value("", '7', 40);
	assert_int_equal(kenpo_policy_check_login_id(p, 40),
			 KENPO_RULE_ID_TOO_LONG | KENPO_RULE_ID_ALL_DIGITS);
	free(p);
	p = make_value("-a b", 'x', 45);
	assert_int_equal(kenpo_policy_check_login_id(p, 45), KENPO_RULE_ID_TOO_LONG |
								     KENPO_RULE_ID_BAD_START |
								     KENPO_RULE_ID_BAD_CHAR);
	free(p);
}

static void
test_id_reads_only_len(void **state)
{
	char *p = exact_copy("Toyobo", 6);

	(void)state;
	assert_int_equal(kenpo_policy_check_login_id(p, 6), 0);
	/* What follows len does not count. */
	assert_int_equal(kenpo_policy_check_login_id("abc def", 3), 0);
	assert_int_equal(kenpo_policy_check_login_id("toyobo12", 7), 0);
	free(p);
}

/* ---- password --------------------------------------------------------- */

static void
test_pw_valid(void **state)
{
	static const char *const ok[] = {
		"P0a40aca", "Password1", "aaaaaaB1", "1234567aB", "ZZZZZZz0",
	};

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		if (pw_check(ok[i]) != 0)
			fail_msg("\"%s\" refused: 0x%x", ok[i], pw_check(ok[i]));
	}
}

static void
test_pw_length_limits(void **state)
{
	char *pw7 = make_value("Aa1", 'x', 7);
	char *pw8 = make_value("Aa1", 'x', 8);
	char *pw39 = make_value("Aa1", 'x', 39);
	char *pw40 = make_value("Aa1", 'x', 40);

	(void)state;
	assert_int_equal(KENPO_PASSWORD_MIN, 8);
	assert_int_equal(KENPO_PASSWORD_MAX, 39);
	assert_int_equal(kenpo_policy_check_password(pw7, 7), KENPO_RULE_PW_TOO_SHORT);
	assert_int_equal(kenpo_policy_check_password(pw8, 8), 0);
	assert_int_equal(kenpo_policy_check_password(pw39, 39), 0);
	assert_int_equal(kenpo_policy_check_password(pw40, 40), KENPO_RULE_PW_TOO_LONG);
	free(pw7);
	free(pw8);
	free(pw39);
	free(pw40);
}

static void
test_pw_classes(void **state)
{
	(void)state;
	assert_int_equal(pw_check("password1"), KENPO_RULE_PW_NO_UPPER);
	assert_int_equal(pw_check("PASSWORD1"), KENPO_RULE_PW_NO_LOWER);
	assert_int_equal(pw_check("Password"), KENPO_RULE_PW_NO_DIGIT);
	assert_int_equal(pw_check("12345678"), KENPO_RULE_PW_NO_UPPER | KENPO_RULE_PW_NO_LOWER);
	assert_int_equal(pw_check("abcdefgh"), KENPO_RULE_PW_NO_UPPER | KENPO_RULE_PW_NO_DIGIT);
	assert_int_equal(pw_check("ABCDEFGH"), KENPO_RULE_PW_NO_LOWER | KENPO_RULE_PW_NO_DIGIT);
}

static void
test_pw_bad_char(void **state)
{
	static const char *const bad[] = {
		"Pass-word1",
		"Pass word1",
		"Pass_word1",
		"Pass.word1",
		"Password1!",
		"P\xc3\xa4ssword1",
		"Pass\tword1",
		"\xef\xbc\xb0"
		"Password1",
	};
	char *p = exact_copy("Pass\0word1", 10);

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (pw_check(bad[i]) != KENPO_RULE_PW_BAD_CHAR)
			fail_msg("\"%s\": 0x%x", bad[i], pw_check(bad[i]));
	}
	assert_int_equal(kenpo_policy_check_password(p, 10), KENPO_RULE_PW_BAD_CHAR);
	free(p);
}

static void
test_pw_combinations(void **state)
{
	const unsigned no_class = KENPO_RULE_PW_NO_UPPER | KENPO_RULE_PW_NO_LOWER |
				  KENPO_RULE_PW_NO_DIGIT;
	char *p;

	(void)state;
	assert_int_equal(pw_check(""), KENPO_RULE_PW_TOO_SHORT | no_class);
	assert_int_equal(kenpo_policy_check_password(NULL, 12),
			 KENPO_RULE_PW_TOO_SHORT | no_class);
	assert_int_equal(pw_check("-"),
			 KENPO_RULE_PW_TOO_SHORT | KENPO_RULE_PW_BAD_CHAR | no_class);
	assert_int_equal(pw_check("pass"), KENPO_RULE_PW_TOO_SHORT | KENPO_RULE_PW_NO_UPPER |
						   KENPO_RULE_PW_NO_DIGIT);
	assert_int_equal(pw_check("pass-word"), KENPO_RULE_PW_BAD_CHAR | KENPO_RULE_PW_NO_UPPER |
							KENPO_RULE_PW_NO_DIGIT);
	p = make_value("", '!', 40);
	assert_int_equal(kenpo_policy_check_password(p, 40),
			 KENPO_RULE_PW_TOO_LONG | KENPO_RULE_PW_BAD_CHAR | no_class);
	free(p);
	p = make_value("Aa1", 'x', 60);
	assert_int_equal(kenpo_policy_check_password(p, 60), KENPO_RULE_PW_TOO_LONG);
	free(p);
	/* Password checks never set login ID bits and the reverse. */
	assert_int_equal(pw_check("-") & 0xffu, 0);
	assert_int_equal(id_check("") & 0xff00u, 0);
}

static void
test_pw_reads_only_len(void **state)
{
	char *p = exact_copy("P0a40aca", 8);

	(void)state;
	assert_int_equal(kenpo_policy_check_password(p, 8), 0);
	assert_int_equal(kenpo_policy_check_password("P0a40aca!!", 8), 0);
	free(p);
}

/* ---- pre-issued IDs --------------------------------------------------- */

static void
test_preissued(void **state)
{
	static const char *const yes[] = { "07AA0A00", "AB12CD34", "abcdef12", "a.b_c-00" };
	static const char *const no[] = {
		"12345678", "-bcdef12",  ".bcdef12", "abcdef1g", "abcdefg1", "abcdefgh",
		"Toyobo",   "abcdefg12", "bcdef12",  "ab def12", "ab#def12", "",
	};

	(void)state;
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (!kenpo_policy_is_preissued_id(yes[i], strlen(yes[i])))
			fail_msg("\"%s\" not recognised", yes[i]);
	}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		if (kenpo_policy_is_preissued_id(no[i], strlen(no[i])))
			fail_msg("\"%s\" taken for pre-issued", no[i]);
	}
	assert_false(kenpo_policy_is_preissued_id(NULL, 8));
	assert_false(kenpo_policy_is_preissued_id("07AA0A00", 7));
	assert_false(kenpo_policy_is_preissued_id("07AA0A00\0", 9));
}

/* Every pre-issued ID is refused as a self-chosen one, so the two can never meet. */
static void
test_preissued_never_selfchosen(void **state)
{
	static const char *const samples[] = { "07AA0A00", "ZZZZZZ99", "ab.cd_00" };

	(void)state;
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		assert_true(kenpo_policy_is_preissued_id(samples[i], 8));
		assert_int_not_equal(id_check(samples[i]), 0);
	}
}

/* ---- codes, messages and iteration ------------------------------------ */

static void
test_rule_codes(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_RULES; i++) {
		const char *code = kenpo_rule_code(expected_rules[i].bit);

		assert_non_null(code);
		assert_string_equal(code, expected_rules[i].code);
	}
	assert_null(kenpo_rule_code(0));
	assert_null(kenpo_rule_code(1u << 7));
	assert_null(kenpo_rule_code(1u << 14));
	assert_null(kenpo_rule_code(1u << 31));
	assert_null(kenpo_rule_code(KENPO_RULE_ID_TOO_SHORT | KENPO_RULE_ID_BAD_START));
}

static void
test_rule_messages(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_RULES; i++) {
		unsigned bit = expected_rules[i].bit;
		const char *msg = kenpo_rule_message(bit);

		assert_non_null(msg);
		assert_true(strlen(msg) > 20);
		assert_int_equal(msg[strlen(msg) - 1], '.');
		assert_non_null(
			strstr(msg, bit <= KENPO_RULE_ID_RESERVED ? "login ID" : "password"));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(msg, kenpo_rule_message(expected_rules[j].bit));
	}
	assert_null(kenpo_rule_message(0));
	assert_null(kenpo_rule_message(1u << 20));
	assert_null(kenpo_rule_message(KENPO_RULE_PW_NO_UPPER | KENPO_RULE_PW_NO_LOWER));
}

static void
assert_mentions(unsigned rule, int number)
{
	char text[16];

	snprintf(text, sizeof text, "%d", number);
	if (strstr(kenpo_rule_message(rule), text) == NULL)
		fail_msg("\"%s\" does not mention %s", kenpo_rule_message(rule), text);
}

/* The limits written in the messages are those the checks apply. */
static void
test_rule_messages_limits(void **state)
{
	(void)state;
	assert_mentions(KENPO_RULE_ID_TOO_SHORT, KENPO_LOGIN_ID_MIN);
	assert_mentions(KENPO_RULE_ID_TOO_LONG, KENPO_LOGIN_ID_MAX + 1);
	assert_mentions(KENPO_RULE_PW_TOO_SHORT, KENPO_PASSWORD_MIN);
	assert_mentions(KENPO_RULE_PW_TOO_LONG, KENPO_PASSWORD_MAX + 1);
	assert_mentions(KENPO_RULE_ID_DIGITS_7_8, 8);
}

static void
test_rule_next_order(void **state)
{
	unsigned mask = 0;
	size_t n = 0;
	unsigned bit;

	(void)state;
	for (size_t i = 0; i < N_RULES; i++)
		mask |= expected_rules[i].bit;
	while ((bit = kenpo_rule_next(&mask)) != 0) {
		assert_true(n < N_RULES);
		assert_int_equal(bit, expected_rules[n].bit);
		n++;
	}
	assert_int_equal(n, N_RULES);
	assert_int_equal(mask, 0);
	assert_int_equal(kenpo_rule_next(&mask), 0);
	assert_int_equal(kenpo_rule_next(NULL), 0);
}

static void
test_rule_next_bits(void **state)
{
	unsigned mask = (1u << 31) | (1u << 3) | 1u;

	(void)state;
	assert_int_equal(kenpo_rule_next(&mask), 1u);
	assert_int_equal(mask, (1u << 31) | (1u << 3));
	assert_int_equal(kenpo_rule_next(&mask), 1u << 3);
	assert_int_equal(kenpo_rule_next(&mask), 1u << 31);
	assert_int_equal(mask, 0);
	assert_int_equal(kenpo_rule_next(&mask), 0);
}

/* What a form does: list every broken rule of one value by its code. */
static void
test_rule_next_lists_codes(void **state)
{
	unsigned mask = pw_check("pass-word");
	const char *codes[4] = { NULL, NULL, NULL, NULL };
	size_t n = 0;
	unsigned bit;

	(void)state;
	while ((bit = kenpo_rule_next(&mask)) != 0 && n < 4)
		codes[n++] = kenpo_rule_code(bit);
	assert_int_equal(n, 3);
	assert_string_equal(codes[0], "password-bad-char");
	assert_string_equal(codes[1], "password-no-upper");
	assert_string_equal(codes[2], "password-no-digit");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_id_too_short),
		cmocka_unit_test(test_id_length_limits),
		cmocka_unit_test(test_id_bad_char),
		cmocka_unit_test(test_id_nul_inside),
		cmocka_unit_test(test_id_bad_start),
		cmocka_unit_test(test_id_all_digits),
		cmocka_unit_test(test_id_digits_7_8),
		cmocka_unit_test(test_id_combinations),
		cmocka_unit_test(test_id_reads_only_len),
		cmocka_unit_test(test_pw_valid),
		cmocka_unit_test(test_pw_length_limits),
		cmocka_unit_test(test_pw_classes),
		cmocka_unit_test(test_pw_bad_char),
		cmocka_unit_test(test_pw_combinations),
		cmocka_unit_test(test_pw_reads_only_len),
		cmocka_unit_test(test_preissued),
		cmocka_unit_test(test_preissued_never_selfchosen),
		cmocka_unit_test(test_rule_codes),
		cmocka_unit_test(test_rule_messages),
		cmocka_unit_test(test_rule_messages_limits),
		cmocka_unit_test(test_rule_next_order),
		cmocka_unit_test(test_rule_next_bits),
		cmocka_unit_test(test_rule_next_lists_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
