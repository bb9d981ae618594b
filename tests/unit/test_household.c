/*
 * test_household.c - which roster dependent is which household entry
 * (tools/admin/household.c): by name and birth date, never by position.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "household.h"

/* Roster dependents own their text: writable copies of the literals. */
#define R(n, b) \
	{ \
		(char[]){ n }, (char[]) \
		{ \
			b \
		} \
	}
#define RN(n) \
	{ \
		(char[]){ n }, NULL \
	}

/* The first of two dependents leaves and a child is born: the second keeps
 * her entry (02), the newborn gets 03, never the 01 that just left. */
static void
test_leaving_and_born(void **state)
{
	struct roster_house r[] = { R("家族 花子", "2002-02-02"), R("家族 新", "2024-05-01") };
	struct hh_entry e[] = { { "家族 一郎", "2000-01-01", 1 },
				{ "家族 花子", "2002-02-02", 2 } };
	struct hh_plan p;

	(void)state;
	assert_int_equal(household_plan(r, 2, e, 2, &p), 0);
	assert_int_equal(p.match[0], 1);
	assert_int_equal(p.match[1], -1);
	assert_int_equal(p.new_index[1], 3);
	assert_int_equal(p.gone[0], 1);
	assert_int_equal(p.gone[1], 0);
	assert_int_equal(p.nadd, 1);
	assert_int_equal(p.nremove, 1);
	assert_int_equal(p.nfix, 0);
}

/* Order, white space and a birth date given for the first time change no
 * one's entry. */
static void
test_order_space_and_new_birth_date(void **state)
{
	struct roster_house r[] = {
		R("子　三", "2003-03-03"),
		R("子 一", "1999-09-09"),
		R("子 二", "2001-01-01"),
	};
	struct hh_entry e[] = {
		{ "子 一", NULL, 1 },
		{ "子 二", "2001-01-01", 2 },
		{ "子 三", "2003-03-03", 3 },
	};
	struct hh_plan p;

	(void)state;
	assert_int_equal(household_plan(r, 3, e, 3, &p), 0);
	assert_int_equal(p.match[0], 2);
	assert_int_equal(p.match[1], 0);
	assert_int_equal(p.match[2], 1);
	assert_int_equal(p.fix[0], 1); /* the name's white space */
	assert_int_equal(p.fix[1], 1); /* the birth date */
	assert_int_equal(p.fix[2], 0);
	assert_int_equal(p.nadd + p.nremove, 0);
	assert_true(household_changes(&p));
}

/* Twins of one name are told apart by nothing but the date; a name given
 * without a date matches only when there is no choice. */
static void
test_no_guessing_between_two_of_one_name(void **state)
{
	struct roster_house r[] = { RN("同名") };
	struct hh_entry e[] = { { "同名", "2010-01-01", 4 }, { "同名", "2012-01-01", 5 } };
	struct hh_plan p;

	(void)state;
	assert_int_equal(household_plan(r, 1, e, 2, &p), 0);
	assert_int_equal(p.match[0], -1);
	assert_int_equal(p.new_index[0], 6);
	assert_int_equal(p.nremove, 2);
}

/* Nothing to do when the roster says what the directory holds. */
static void
test_same_household(void **state)
{
	struct roster_house r[] = { R("子", "2010-01-01") };
	struct hh_entry e[] = { { "子", "2010-01-01", 7 } };
	struct hh_plan p;

	(void)state;
	assert_int_equal(household_plan(r, 1, e, 1, &p), 0);
	assert_false(household_changes(&p));
	assert_int_equal(household_plan(NULL, 0, NULL, 0, &p), 0);
	assert_false(household_changes(&p));
}

/* At 99 the lowest index no entry holds is taken; with none left, -1. */
static void
test_indexes_run_out(void **state)
{
	static struct hh_entry e[ROSTER_HOUSEHOLD_MAX];
	struct roster_house r[] = { R("新人", "2020-01-01") };
	struct hh_plan p;
	unsigned i;

	(void)state;
	for (i = 0; i < ROSTER_HOUSEHOLD_MAX; i++) {
		e[i].name = "古株";
		e[i].birth = NULL;
		e[i].index = i + 1;
	}
	e[0].index = 99;
	e[98].index = 1;
	assert_int_equal(household_plan(r, 1, e, ROSTER_HOUSEHOLD_MAX - 1, &p), 0);
	assert_int_equal(p.new_index[0], 1);
	assert_int_equal(household_plan(r, 1, e, ROSTER_HOUSEHOLD_MAX, &p), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaving_and_born),
		cmocka_unit_test(test_order_space_and_new_birth_date),
		cmocka_unit_test(test_no_guessing_between_two_of_one_name),
		cmocka_unit_test(test_same_household),
		cmocka_unit_test(test_indexes_run_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
