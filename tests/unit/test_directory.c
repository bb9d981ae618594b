/*
 * test_directory.c - the pure parts of the directory layer that kenpod and
 * kenpo-admin share (src/directory): GeneralizedTime, the home template,
 * the uidNumber arithmetic and the schema's names.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "gentime.h"
#include "home.h"
#include "schema.h"
#include "uid.h"

/* ---- GeneralizedTime ------------------------------------------------------ */

static void
test_gentime_parse_valid(void **state)
{
	static const struct {
		const char *text;
		int64_t ms;
	} cases[] = {
		{ "19700101000000Z", 0 },
		{ "20240401093000Z", 1711963800000LL },
		{ "20240401093000.5Z", 1711963800500LL },
		{ "20240401093000.123Z", 1711963800123LL },
		{ "20240401093000,123Z", 1711963800123LL },    /* ',' as in X.680 */
		{ "20240401093000.123456Z", 1711963800123LL }, /* cut to ms */
		{ "20240229235959Z", 1709251199000LL },        /* a leap day */
		{ "20161231235960Z", 1483228800000LL },        /* a leap second */
		{ "19691231235959Z", -1000 },                  /* timegm's -1 */
	};
	size_t i;
	int64_t t;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		t = 42;
		if (kenpo_gentime_parse(cases[i].text, &t) != 0)
			fail_msg("refused %s", cases[i].text);
		if (t != cases[i].ms)
			fail_msg("%s: %lld, not %lld", cases[i].text, (long long)t,
				 (long long)cases[i].ms);
	}
}

static void
test_gentime_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"Z",
		"2024040109300Z",
		"20240401093000",
		"20240401093000z",
		"2024040109300aZ",
		"2024-04-01T09:30:00Z",
		"20241301093000Z",
		"20240001093000Z",
		"20240432093000Z",
		"20240400093000Z",
		"20240401243000Z",
		"20240401096000Z",
		"20240401093061Z",
		"20240401093000.Z",
		"20240401093000.1a2Z",
		"20240401093000;5Z",
		"20240401093000+0900",
		"20240401093000.5+0900Z",
		" 20240401093000Z",
		"-2024040109300Z",
		"000001010000Z", /* ppolicy's "locked until unlocked": no time */
	};
	size_t i;
	int64_t t = 42;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (kenpo_gentime_parse(bad[i], &t) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_true(t == 42);
}

static void
test_gentime_format(void **state)
{
	char out[KENPO_GENTIME_MAX], small[15];
	int64_t t;

	(void)state;
	assert_int_equal(kenpo_gentime_format(1711963800123LL, 0, out, sizeof out), 0);
	assert_string_equal(out, "20240401093000Z");
	assert_int_equal(kenpo_gentime_format(1711963800123LL, 1, out, sizeof out), 0);
	assert_string_equal(out, "20240401093000.123Z");
	assert_int_equal(kenpo_gentime_format(7, 1, out, sizeof out), 0);
	assert_string_equal(out, "19700101000000.007Z");
	assert_int_equal(kenpo_gentime_format(-1, 0, out, sizeof out), -1);
	/* "20240401093000Z" needs 16 bytes. */
	assert_int_equal(kenpo_gentime_format(1711963800000LL, 0, small, sizeof small), -1);
	/* Round trips, with and without milliseconds. */
	assert_int_equal(kenpo_gentime_format(4102444799999LL, 1, out, sizeof out), 0);
	assert_int_equal(kenpo_gentime_parse(out, &t), 0);
	assert_true(t == 4102444799999LL);
	assert_int_equal(kenpo_gentime_format(4102444799999LL, 0, out, sizeof out), 0);
	assert_int_equal(kenpo_gentime_parse(out, &t), 0);
	assert_true(t == 4102444799000LL);
}

static void
test_gentime_now_and_seconds(void **state)
{
	int64_t before = (int64_t)time(NULL) * 1000, now = kenpo_gentime_now();

	(void)state;
	assert_true(now >= before && now < before + 2000);
	assert_int_equal(kenpo_ms_to_secs(-5), 0);
	assert_int_equal(kenpo_ms_to_secs(0), 0);
	assert_int_equal(kenpo_ms_to_secs(1), 1);
	assert_int_equal(kenpo_ms_to_secs(1000), 1);
	assert_int_equal(kenpo_ms_to_secs(1001), 2);
	assert_int_equal(kenpo_ms_to_secs(600000), 600);
}

/* ---- the home template ------------------------------------------------------ */

static void
test_home_expand(void **state)
{
	static const struct {
		const char *tmpl, *login, *number, *want;
	} cases[] = {
		{ "/home/%u", "Taro.Y", "123", "/home/Taro.Y" },
		{ "/home/%n", "Taro.Y", "123", "/home/123" },
		{ "/srv/%n/%u", "taro", "A-7", "/srv/A-7/taro" },
		{ "/home/100%%/%u", "taro", NULL, "/home/100%/taro" },
		{ "/home/%x%", "taro", NULL, "/home/%x%" }, /* no placeholder: as it is */
		{ "/home/plain", NULL, NULL, "/home/plain" },
		{ "", "taro", "1", "" },
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(out, 'x', sizeof out);
		if (kenpo_home_expand(cases[i].tmpl, cases[i].login, cases[i].number, out,
				      sizeof out) != 0)
			fail_msg("refused %s", cases[i].tmpl);
		assert_string_equal(out, cases[i].want);
	}
}

static void
test_home_expand_refuses(void **state)
{
	char out[12] = "untouched";

	(void)state;
	/* %n without a member number (a roster member without one). */
	assert_int_equal(kenpo_home_expand("/home/%n", "taro", NULL, out, sizeof out), -1);
	assert_int_equal(kenpo_home_expand("/home/%u", NULL, "1", out, sizeof out), -1);
	/* "/home/taro12" and its NUL need 13 bytes. */
	assert_int_equal(kenpo_home_expand("/home/%u", "taro12", NULL, out, sizeof out), -1);
	assert_string_equal(out, "untouched");
	assert_int_equal(kenpo_home_expand("/home/%u", "taro1", NULL, out, sizeof out), 0);
	assert_string_equal(out, "/home/taro1");
	assert_int_equal(kenpo_home_expand("/", NULL, NULL, out, 0), -1);
}

/* ---- the uidNumber counter ---------------------------------------------------- */

static void
test_uid_block(void **state)
{
	unsigned long first = 7;

	(void)state;
	assert_int_equal(kenpo_uid_block(2000000000ULL, 1, 2000000000UL, 2147352575UL, &first),
			 0);
	assert_true(first == 2000000000UL);
	assert_int_equal(kenpo_uid_block(2000000100ULL, 50, 2000000000UL, 2147352575UL, &first),
			 0);
	assert_true(first == 2000000100UL);
	/* The last numbers of the range, exactly. */
	assert_int_equal(kenpo_uid_block(2147352575ULL, 1, 2000000000UL, 2147352575UL, &first),
			 0);
	assert_true(first == 2147352575UL);
	assert_int_equal(kenpo_uid_block(2147352566ULL, 10, 2000000000UL, 2147352575UL, &first),
			 0);
	first = 7;
	/* One number too many, a counter past the range or below it, no block. */
	assert_int_equal(kenpo_uid_block(2147352566ULL, 11, 2000000000UL, 2147352575UL, &first),
			 -1);
	assert_int_equal(kenpo_uid_block(2147352576ULL, 1, 2000000000UL, 2147352575UL, &first),
			 -1);
	assert_int_equal(kenpo_uid_block(1999999999ULL, 1, 2000000000UL, 2147352575UL, &first),
			 -1);
	assert_int_equal(kenpo_uid_block(2000000000ULL, 0, 2000000000UL, 2147352575UL, &first),
			 -1);
	/* Nothing overflows at the top of the types. */
	assert_int_equal(kenpo_uid_block(4294967294ULL, 0xffffffffUL, 65536UL, 4294967294UL,
					 &first),
			 -1);
	assert_int_equal(kenpo_uid_block(0xffffffffffffffffULL, 1, 65536UL, 4294967294UL, &first),
			 -1);
	assert_true(first == 7);
}

static void
test_uid_counter_dn(void **state)
{
	char out[64], small[20];

	(void)state;
	assert_int_equal(kenpo_uid_counter_dn("ou=toyobo,dc=kenpo,dc=test", out, sizeof out), 0);
	assert_string_equal(out, "cn=uidNumber,ou=toyobo,dc=kenpo,dc=test");
	assert_int_equal(kenpo_uid_counter_dn("ou=toyobo,dc=kenpo,dc=test", small, sizeof small),
			 -1);
}

/* ---- names ------------------------------------------------------------------ */

static void
test_schema_filters(void **state)
{
	(void)state;
	assert_string_equal(KENPO_FILTER_MEMBER, "(objectClass=kenpoMember)");
	assert_string_equal("(&" KENPO_FILTER_MEMBER "(" KENPO_AT_UID "=%s))",
			    "(&(objectClass=kenpoMember)(uid=%s))");
	assert_string_equal(KENPO_FILTER_NOT_DISABLED, "(!(kenpoDisabled=TRUE))");
	assert_string_equal(KENPO_RDN_UID_COUNTER ","
						  "dc=x",
			    "cn=uidNumber,dc=x");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gentime_parse_valid),
		cmocka_unit_test(test_gentime_parse_invalid),
		cmocka_unit_test(test_gentime_format),
		cmocka_unit_test(test_gentime_now_and_seconds),
		cmocka_unit_test(test_home_expand),
		cmocka_unit_test(test_home_expand_refuses),
		cmocka_unit_test(test_uid_block),
		cmocka_unit_test(test_uid_counter_dn),
		cmocka_unit_test(test_schema_filters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
