/*
 * test_lockout.c - the arithmetic of failed logins (src/kenpod/lockout.c)
 * and the societies' local time (src/kenpod/zone.c), both pure functions
 * of their inputs once set up.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "kenpo-proto.h"
#include "lockout.h"
#include "zone.h"

#define SEC 1000LL
#define T0 1711963800000LL          /* 2024-04-01 09:30:00 UTC */

/* A society with the defaults of kenpod.conf: 10 failures lock for 30 min. */
static struct kenpo_society
society(unsigned failures, long duration)
{
	struct kenpo_society s;

	memset(&s, 0, sizeof s);
	s.lockout_failures = failures;
	s.lockout_duration = duration;
	return s;
}

/* n failures, one a second, the last at `last`. */
static struct failstate
failed(const struct kenpo_society *soc, unsigned n, int64_t last)
{
	struct failstate fs = { 0, 0, 0 };
	unsigned i;

	for (i = 0; i < n; i++)
		lockout_fail(&fs, soc, last - (int64_t)(n - 1 - i) * SEC);
	return fs;
}

static void
test_delays_grow_and_are_capped(void **state)
{
	struct kenpo_society soc = society(10, 1800);

	(void)state;
	assert_true(lockout_delay_ms(0, &soc) == 0);
	assert_true(lockout_delay_ms(2, &soc) == 0);
	assert_true(lockout_delay_ms(3, &soc) == 1 * SEC);
	assert_true(lockout_delay_ms(4, &soc) == 2 * SEC);
	assert_true(lockout_delay_ms(8, &soc) == 32 * SEC);
	assert_true(lockout_delay_ms(9, &soc) == 60 * SEC);     /* a minute at most */
	assert_true(lockout_delay_ms(19, &soc) == 60 * SEC);
	assert_true(lockout_delay_ms(1000, &soc) == 60 * SEC);  /* no shift overflow */
	/* Never longer than the lock itself. */
	soc = society(10, 5);
	assert_true(lockout_delay_ms(6, &soc) == 5 * SEC);
}

static void
test_check_delay_then_ok(void **state)
{
	struct kenpo_society soc = society(10, 1800);
	struct failstate fs;
	long secs = -1;

	(void)state;
	fs = failed(&soc, 2, T0);
	assert_int_equal(fs.failures, 2);
	assert_int_equal(lockout_check(&fs, &soc, T0, &secs), KENPO_RES_OK);
	assert_int_equal(secs, -1);
	fs = failed(&soc, 3, T0);
	assert_int_equal(lockout_check(&fs, &soc, T0, &secs), KENPO_RES_DELAY);
	assert_int_equal(secs, 1);
	assert_int_equal(lockout_check(&fs, &soc, T0 + 999, &secs), KENPO_RES_DELAY);
	assert_int_equal(secs, 1);                      /* rounded up: never "0 s" */
	assert_int_equal(lockout_check(&fs, &soc, T0 + SEC, &secs), KENPO_RES_OK);
	fs = failed(&soc, 6, T0);
	assert_int_equal(lockout_check(&fs, &soc, T0 + 500, &secs), KENPO_RES_DELAY);
	assert_int_equal(secs, 8);                      /* 2^3 s less 0.5 s, up */
}

static void
test_lock_at_the_limit(void **state)
{
	struct kenpo_society soc = society(10, 1800);
	struct failstate fs;
	long secs = 0;

	(void)state;
	fs = failed(&soc, 9, T0);
	assert_true(fs.locked_until == 0);
	lockout_fail(&fs, &soc, T0 + SEC);
	assert_int_equal(fs.failures, 10);
	assert_true(fs.locked_until == T0 + SEC + 1800 * SEC);
	assert_int_equal(lockout_check(&fs, &soc, T0 + 2 * SEC, &secs), KENPO_RES_LOCKED);
	assert_int_equal(secs, 1799);
	/* A lock that has run out starts the count afresh. */
	assert_int_equal(lockout_check(&fs, &soc, T0 + SEC + 1800 * SEC, &secs), KENPO_RES_OK);
	assert_int_equal(lockout_failures_now(&fs, &soc, T0 + SEC + 1800 * SEC), 0);
	lockout_fail(&fs, &soc, T0 + 1900 * SEC);
	assert_int_equal(fs.failures, 1);
	assert_true(fs.locked_until == 0);
}

static void
test_old_failures_no_longer_count(void **state)
{
	struct kenpo_society soc = society(10, 1800);
	struct failstate fs = failed(&soc, 5, T0);

	(void)state;
	assert_int_equal(lockout_failures_now(&fs, &soc, T0 + 1799 * SEC), 5);
	assert_int_equal(lockout_failures_now(&fs, &soc, T0 + 1800 * SEC), 0);
	lockout_fail(&fs, &soc, T0 + 1800 * SEC);
	assert_int_equal(fs.failures, 1);
	/* A state that never failed, or lost its time, counts nothing. */
	fs.failures = 7;
	fs.last = 0;
	assert_int_equal(lockout_failures_now(&fs, &soc, T0), 0);
}

static void
test_never_locks_with_zero(void **state)
{
	struct kenpo_society soc = society(0, 1800);
	struct failstate fs = failed(&soc, 50, T0);
	long secs = 0;

	(void)state;
	assert_int_equal(fs.failures, 50);
	assert_true(fs.locked_until == 0);
	/* Delays still apply. */
	assert_int_equal(lockout_check(&fs, &soc, T0, &secs), KENPO_RES_DELAY);
	assert_int_equal(secs, 60);
}

/* ---- time zones ------------------------------------------------------------ */

static void
test_zone_local_time(void **state)
{
	struct kenpo_society socs[3];
	struct kenpo_config cfg;
	char tokyo[] = "Asia/Tokyo", berlin[] = "Europe/Berlin", utc[] = "UTC";
	char out[32], err[256];

	(void)state;
	memset(&cfg, 0, sizeof cfg);
	memset(socs, 0, sizeof socs);
	socs[0].timezone = tokyo;
	socs[1].timezone = berlin;
	socs[2].timezone = utc;
	cfg.societies = socs;
	cfg.nsocieties = 3;
	if (zone_setup(&cfg, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_int_equal(zone_format_local(&socs[0], T0, out, sizeof out), 0);
	assert_string_equal(out, "2024/04/01 18:30:00");
	/* Summer time in Berlin since 2024-03-31; winter time in January. */
	assert_int_equal(zone_format_local(&socs[1], T0, out, sizeof out), 0);
	assert_string_equal(out, "2024/04/01 11:30:00");
	assert_int_equal(zone_format_local(&socs[1], 1704101400000LL, out, sizeof out), 0);
	assert_string_equal(out, "2024/01/01 10:30:00");
	/* The second the clocks went forward: 02:00 CET is 03:00 CEST. */
	assert_int_equal(zone_format_local(&socs[1], 1711846799000LL, out, sizeof out), 0);
	assert_string_equal(out, "2024/03/31 01:59:59");
	assert_int_equal(zone_format_local(&socs[1], 1711846800000LL, out, sizeof out), 0);
	assert_string_equal(out, "2024/03/31 03:00:00");
	assert_int_equal(zone_format_local(&socs[2], T0 + 123, out, sizeof out), 0);
	assert_string_equal(out, "2024/04/01 09:30:00");
	assert_int_equal(zone_format_local(&socs[0], T0, out, 10), -1);
	zone_cleanup();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delays_grow_and_are_capped),
		cmocka_unit_test(test_check_delay_then_ok),
		cmocka_unit_test(test_lock_at_the_limit),
		cmocka_unit_test(test_old_failures_no_longer_count),
		cmocka_unit_test(test_never_locks_with_zero),
		cmocka_unit_test(test_zone_local_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
