/*
 * test_provider.c - the write provider's rule: the URI list, the
 * comparison of contextCSN values and the schedule of failback checks.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "provider.h"

#define A1 "20240401093000.000001Z#000000#001#000000"
#define A1_LATER "20240401093000.000002Z#000000#001#000000"
#define A1_COUNT "20240401093000.000001Z#000001#001#000000"
#define B2 "20240401093500.000000Z#000000#002#000000"
#define B2_LATER "20240401100000.000000Z#000000#002#000000"

static void
test_uris(void **state)
{
	struct kenpo_uris u;
	char many[40 * (KENPO_PROVIDERS_MAX + 1)];
	size_t i;

	(void)state;
	assert_int_equal(kenpo_uris_parse("ldapi:///  ldap://b.example.jp/\tldap://c", &u), 0);
	assert_int_equal(u.n, 3);
	assert_string_equal(u.uri[0], "ldapi:///");
	assert_string_equal(u.uri[1], "ldap://b.example.jp/");
	assert_string_equal(u.uri[2], "ldap://c");
	kenpo_uris_free(&u);
	assert_int_equal(u.n, 0);
	assert_int_equal(kenpo_uris_parse("   ", &u), -1);
	assert_int_equal(kenpo_uris_parse(NULL, &u), -1);
	many[0] = '\0';
	for (i = 0; i <= KENPO_PROVIDERS_MAX; i++)
		strcat(many, "ldap://x ");
	assert_int_equal(kenpo_uris_parse(many, &u), -1);
	assert_null(u.buf);
}

static void
test_csn_form(void **state)
{
	(void)state;
	assert_true(kenpo_csn_wellformed(A1));
	assert_true(kenpo_csn_wellformed("20240401093000.000001Z#00000a#fff#000000"));
	assert_false(kenpo_csn_wellformed("20240401093000Z#000000#001#000000"));
	assert_false(kenpo_csn_wellformed(A1 "0"));
	assert_false(kenpo_csn_wellformed("2024040109300x.000001Z#000000#001#000000"));
	assert_false(kenpo_csn_wellformed("20240401093000.000001Z#000000#0g1#000000"));
	assert_false(kenpo_csn_wellformed(NULL));
}

static void
test_caught_up(void **state)
{
	const char *want[] = { A1, B2 };
	const char *same[] = { B2, A1 };
	const char *newer[] = { A1_LATER, B2_LATER, "20240401093000.000001Z#000000#003#000000" };
	const char *older_b[] = { A1, "20240401093000.000000Z#000000#002#000000" };
	const char *no_b[] = { A1_LATER };
	const char *count[] = { A1_COUNT, B2 };
	const char *junk[] = { "junk", A1 };

	(void)state;
	assert_true(kenpo_csn_caught_up(same, 2, want, 2));
	assert_true(kenpo_csn_caught_up(newer, 3, want, 2));
	assert_true(kenpo_csn_caught_up(count, 2, want, 2));
	assert_false(kenpo_csn_caught_up(older_b, 2, want, 2));
	assert_false(kenpo_csn_caught_up(no_b, 1, want, 2));
	assert_false(kenpo_csn_caught_up(want, 2, count, 2));
	/* Nothing to wait for: the one in use has no replication state. */
	assert_true(kenpo_csn_caught_up(NULL, 0, NULL, 0));
	assert_true(kenpo_csn_caught_up(no_b, 1, junk, 1));
	assert_false(kenpo_csn_caught_up(junk, 2, want, 2));
}

static void
test_next_check(void **state)
{
	(void)state;
	assert_int_equal(kenpo_provider_next_check(0, 30), 30000);
	assert_int_equal(kenpo_provider_next_check(29999, 30), 30000);
	assert_int_equal(kenpo_provider_next_check(30000, 30), 60000);
	/* Two hosts a little apart check at the same moment. */
	assert_int_equal(kenpo_provider_next_check(1700000001234LL, 2),
			 kenpo_provider_next_check(1700000000100LL, 2));
	assert_int_equal(kenpo_provider_next_check(5, 0), 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uris),
		cmocka_unit_test(test_csn_form),
		cmocka_unit_test(test_caught_up),
		cmocka_unit_test(test_next_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
