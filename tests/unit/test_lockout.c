/*
 * test_lockout.c - the arithmetic of failed logins (src/kenpod/lockout.c):
 * delays and locks, sources familiar and unfamiliar, wrong keys, and what
 * the defaults of kenpod.conf allow an attacker; and the societies' local
 * time (src/kenpod/zone.c).  All pure functions of their inputs once set
 * up.
 */
#include <autoconfig.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "kenpo-proto.h"
#include "lockout.h"
#include "zone.h"

#define SEC 1000LL
#define T0 1711963800000LL /* 2024-04-01 09:30:00 UTC */
#define SRC_A "0123456789abcdef"
#define SRC_B "fedcba9876543210"

/* A society with the defaults of kenpod.conf: 10 failures lock for 30 min,
 * the unfamiliar sources together at 20, 20 wrong keys a day. */
static struct kenpo_society
society(unsigned failures, long duration)
{
	struct kenpo_society s;

	memset(&s, 0, sizeof s);
	s.lockout_failures = failures;
	s.lockout_duration = duration;
	s.lockout_unfamiliar_failures = 20;
	s.key_failures_per_day = 20;
	return s;
}

static struct lockout_rule
own(const struct kenpo_society *soc)
{
	return lockout_rule_of(soc, LOCKOUT_OWN);
}

/* n failures, one a second, the last at `last`. */
static struct failstate
failed(const struct kenpo_society *soc, unsigned n, int64_t last)
{
	struct lockout_rule r = own(soc);
	struct failstate fs = { 0, 0, 0 };
	unsigned i;

	for (i = 0; i < n; i++)
		lockout_fail(&fs, &r, last - (int64_t)(n - 1 - i) * SEC);
	return fs;
}

static void
test_delays_grow_and_are_capped(void **state)
{
	struct kenpo_society soc = society(10, 1800);
	struct lockout_rule r = own(&soc), pool = lockout_rule_of(&soc, LOCKOUT_POOL);

	(void)state;
	assert_true(lockout_delay_ms(0, &r) == 0);
	assert_true(lockout_delay_ms(2, &r) == 0);
	assert_true(lockout_delay_ms(3, &r) == 1 * SEC);
	assert_true(lockout_delay_ms(4, &r) == 2 * SEC);
	assert_true(lockout_delay_ms(8, &r) == 32 * SEC);
	assert_true(lockout_delay_ms(9, &r) == 60 * SEC); /* a minute at most */
	assert_true(lockout_delay_ms(19, &r) == 60 * SEC);
	assert_true(lockout_delay_ms(1000, &r) == 60 * SEC); /* no shift overflow */
	/* The pool only locks. */
	assert_true(lockout_delay_ms(15, &pool) == 0);
	/* Never longer than the lock itself. */
	soc = society(10, 5);
	r = own(&soc);
	assert_true(lockout_delay_ms(6, &r) == 5 * SEC);
}

static void
test_check_delay_then_ok(void **state)
{
	struct kenpo_society soc = society(10, 1800);
	struct lockout_rule r = own(&soc);
	struct failstate fs;
	long secs = -1;

	(void)state;
	fs = failed(&soc, 2, T0);
	assert_int_equal(fs.failures, 2);
	assert_int_equal(lockout_check(&fs, &r, T0, &secs), KENPO_RES_OK);
	assert_int_equal(secs, -1);
	fs = failed(&soc, 3, T0);
	assert_int_equal(lockout_check(&fs, &r, T0, &secs), KENPO_RES_DELAY);
	assert_int_equal(secs, 1);
	assert_int_equal(lockout_check(&fs, &r, T0 + 999, &secs), KENPO_RES_DELAY);
	assert_int_equal(secs, 1); /* rounded up: never "0 s" */
	assert_int_equal(lockout_check(&fs, &r, T0 + SEC, &secs), KENPO_RES_OK);
	fs = failed(&soc, 6, T0);
	assert_int_equal(lockout_check(&fs, &r, T0 + 500, &secs), KENPO_RES_DELAY);
	assert_int_equal(secs, 8); /* 2^3 s less 0.5 s, up */
}

static void
test_lock_at_the_limit(void **state)
{
	struct kenpo_society soc = society(10, 1800);
	struct lockout_rule r = own(&soc);
	struct failstate fs;
	long secs = 0;

	(void)state;
	fs = failed(&soc, 9, T0);
	assert_true(fs.locked_until == 0);
	lockout_fail(&fs, &r, T0 + SEC);
	assert_int_equal(fs.failures, 10);
	assert_true(fs.locked_until == T0 + SEC + 1800 * SEC);
	assert_int_equal(lockout_check(&fs, &r, T0 + 2 * SEC, &secs), KENPO_RES_LOCKED);
	assert_int_equal(secs, 1799);
	/* A lock that has run out starts the count afresh. */
	assert_int_equal(lockout_check(&fs, &r, T0 + SEC + 1800 * SEC, &secs), KENPO_RES_OK);
	assert_int_equal(lockout_failures_now(&fs, &r, T0 + SEC + 1800 * SEC), 0);
	lockout_fail(&fs, &r, T0 + 1900 * SEC);
	assert_int_equal(fs.failures, 1);
	assert_true(fs.locked_until == 0);
}

static void
test_old_failures_no_longer_count(void **state)
{
	struct kenpo_society soc = society(10, 1800);
	struct lockout_rule r = own(&soc);
	struct failstate fs = failed(&soc, 5, T0);

	(void)state;
	assert_int_equal(lockout_failures_now(&fs, &r, T0 + 1799 * SEC), 5);
	assert_int_equal(lockout_failures_now(&fs, &r, T0 + 1800 * SEC), 0);
	lockout_fail(&fs, &r, T0 + 1800 * SEC);
	assert_int_equal(fs.failures, 1);
	/* A state that never failed, or lost its time, counts nothing. */
	fs.failures = 7;
	fs.last = 0;
	assert_int_equal(lockout_failures_now(&fs, &r, T0), 0);
}

static void
test_never_locks_with_zero(void **state)
{
	struct kenpo_society soc = society(0, 1800);
	struct lockout_rule r = own(&soc);
	struct failstate fs = failed(&soc, 50, T0);
	long secs = 0;

	(void)state;
	assert_int_equal(fs.failures, 50);
	assert_true(fs.locked_until == 0);
	/* Delays still apply. */
	assert_int_equal(lockout_check(&fs, &r, T0, &secs), KENPO_RES_DELAY);
	assert_int_equal(secs, 60);
}

/* ---- sources ------------------------------------------------------------------ */

/* One unfamiliar source guessing delays and locks only itself: another
 * source's view is clean, the pool far from its lock. */
static void
test_one_source_stops_only_itself(void **state)
{
	struct kenpo_society soc = society(10, 1800);
	struct lockout_view a, b;
	long secs = 0;
	int i;

	(void)state;
	memset(&a, 0, sizeof a);
	for (i = 0; i < 10; i++)
		lockout_view_fail(&a, &soc, T0 + i * 61 * SEC);
	assert_int_equal(lockout_view_check(&a, &soc, T0 + 10 * 61 * SEC, &secs),
			 KENPO_RES_LOCKED);
	assert_int_equal(a.pool.failures, 10);
	assert_true(a.pool.locked_until == 0);
	/* The member from elsewhere: its own state, the same pool. */
	memset(&b, 0, sizeof b);
	b.pool = a.pool;
	assert_int_equal(lockout_view_check(&b, &soc, T0 + 10 * 61 * SEC, &secs), KENPO_RES_OK);
}

/* Many sources together lock the unfamiliar ones at the pool's count;
 * a familiar source does not care. */
static void
test_pool_locks_unfamiliar_only(void **state)
{
	struct kenpo_society soc = society(10, 1800);
	struct lockout_view v, fam;
	struct failstate pool = { 0, 0, 0 };
	long secs = 0;
	int i;

	(void)state;
	for (i = 0; i < 20; i++) {
		memset(&v, 0, sizeof v); /* a fresh source each time */
		v.pool = pool;
		assert_int_equal(lockout_view_check(&v, &soc, T0 + i, &secs), KENPO_RES_OK);
		lockout_view_fail(&v, &soc, T0 + i);
		pool = v.pool;
	}
	assert_true(pool.locked_until == T0 + 19 + 1800 * SEC);
	memset(&v, 0, sizeof v);
	v.pool = pool;
	assert_int_equal(lockout_view_check(&v, &soc, T0 + SEC, &secs), KENPO_RES_LOCKED);
	assert_int_equal(secs, 1800);
	memset(&fam, 0, sizeof fam);
	fam.familiar = 1;
	fam.pool = pool;
	assert_int_equal(lockout_view_check(&fam, &soc, T0 + SEC, &secs), KENPO_RES_OK);
	/* A familiar failure leaves the pool alone. */
	lockout_view_fail(&fam, &soc, T0 + SEC);
	assert_int_equal(fam.pool.failures, 20);
	assert_int_equal(fam.own.failures, 1);
	/* 0 never locks the pool. */
	soc.lockout_unfamiliar_failures = 0;
	memset(&v, 0, sizeof v);
	for (i = 0; i < 100; i++)
		lockout_view_fail(&v, &soc, T0);
	assert_true(v.pool.locked_until == 0);
}

/* The count made before a password is verified is taken back when it is
 * right: the source starts afresh, the pool loses the one. */
static void
test_right_password_takes_its_count_back(void **state)
{
	struct kenpo_society soc = society(10, 1800);
	struct lockout_view v;

	(void)state;
	memset(&v, 0, sizeof v);
	lockout_view_fail(&v, &soc, T0);
	lockout_view_fail(&v, &soc, T0 + SEC);
	lockout_view_right(&v);
	assert_int_equal(v.own.failures, 0);
	assert_true(v.own.last == 0);
	assert_int_equal(v.pool.failures, 1);
	v.familiar = 1;
	v.own.failures = 4;
	lockout_view_right(&v);
	assert_int_equal(v.own.failures, 0);
	assert_int_equal(v.pool.failures, 1);
}

static void
test_stored_source_values(void **state)
{
	char id[LOCKOUT_SOURCE_ID_LEN + 1], out[LOCKOUT_VALUE_MAX];
	struct failstate fs = { 4, T0, T0 + 1800 * SEC }, back;
	int64_t when;

	(void)state;
	assert_int_equal(lockout_source_format(SRC_A, &fs, out, sizeof out), 0);
	assert_string_equal(out, SRC_A ":4:1711963800000:1711965600000");
	assert_int_equal(lockout_source_parse(out, id, &back), 0);
	assert_string_equal(id, SRC_A);
	/* Field by field: the padding after failures is not part of the state. */
	assert_int_equal(back.failures, fs.failures);
	assert_true(back.last == fs.last && back.locked_until == fs.locked_until);
	assert_int_equal(lockout_source_format(SRC_A, &fs, out, 20), -1);
	assert_int_equal(lockout_familiar_format(SRC_B, T0, out, sizeof out), 0);
	assert_string_equal(out, SRC_B ":1711963800000");
	assert_int_equal(lockout_familiar_parse(out, id, &when), 0);
	assert_true(when == T0);
	/* What kenpod did not write is dropped, not trusted. */
	assert_int_equal(lockout_source_parse("0123456789ABCDEF:1:2:3", id, &back), -1);
	assert_int_equal(lockout_source_parse(SRC_A ":1:2", id, &back), -1);
	assert_int_equal(lockout_source_parse(SRC_A ":1:2:3:4", id, &back), -1);
	assert_int_equal(lockout_source_parse(SRC_A ":-1:2:3", id, &back), -1);
	assert_int_equal(lockout_source_parse(SRC_A ":1:99999999999999999999:3", id, &back), -1);
	assert_int_equal(lockout_source_parse("abc:1:2:3", id, &back), -1);
	assert_int_equal(lockout_familiar_parse(SRC_A ":", id, &when), -1);
	assert_int_equal(lockout_familiar_parse(SRC_A, id, &when), -1);
}

/* ---- keys ------------------------------------------------------------------------- */

static void
test_key_window(void **state)
{
	struct kenpo_society soc = society(10, 1800);
	struct keystate ks = { 0, 0 };
	long secs = 0;
	int i;

	(void)state;
	for (i = 0; i < 19; i++)
		lockout_key_fail(&ks, T0 + i * SEC);
	assert_int_equal(lockout_key_check(&ks, &soc, T0 + 19 * SEC, &secs), KENPO_RES_OK);
	lockout_key_fail(&ks, T0 + 19 * SEC);
	assert_int_equal(ks.failures, 20);
	assert_true(ks.window == T0);
	assert_int_equal(lockout_key_check(&ks, &soc, T0 + 20 * SEC, &secs), KENPO_RES_LOCKED);
	assert_int_equal(secs, 86400 - 20);
	/* The next window starts with the next wrong key. */
	assert_int_equal(lockout_key_check(&ks, &soc, T0 + 86400 * SEC, &secs), KENPO_RES_OK);
	assert_int_equal(lockout_key_failures_now(&ks, T0 + 86400 * SEC), 0);
	lockout_key_fail(&ks, T0 + 90000 * SEC);
	assert_int_equal(ks.failures, 1);
	assert_true(ks.window == T0 + 90000 * SEC);
}

/* ---- what the defaults allow ------------------------------------------------------ */

/* The first society of a kenpod.conf with nothing but the required keys:
 * every setting at its default. */
static struct kenpo_config *
defaults(void)
{
	static const char text[] =
		"[society s]\nname = S\nbase = ou=s,dc=example,dc=jp\n"
		"mail_from = noreply@example.jp\nlogin_url = https://example.jp/\n"
		"guide_url = https://example.jp/g?t=%%TOKEN%%\n"
		"reset_url = https://example.jp/r?t=%%TOKEN%%\n";
	char path[PATH_MAX], err[512] = "";
	struct kenpo_config *cfg = NULL;
	FILE *f;

	snprintf(path, sizeof path, "%s/kenpod-defaults-%ld.conf",
		 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp", (long)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	if (kenpo_config_load(path, getuid(), &cfg, err, sizeof err) != 0)
		fail_msg("%s", err);
	unlink(path);
	return cfg;
}

/*
 * Password guesses a day against one account, and the chance of guessing
 * a key in a year when the attacker knows the password, from the
 * defaults (kenpod(8) shows the same arithmetic).
 *
 * Familiar sources: 10 failures, waiting 1+2+4+8+16+32+60 s between the
 * 3rd and the 10th, then 30 min locked: 10 per 1923 s, 450 a day.
 * Unfamiliar sources, as many as the attacker likes: 20, then 30 min
 * locked, 960 a day.
 * Keys: at most 20 wrong keys in a window of a day, windows a day apart:
 * 7320 in 366 days; each guesses one of 10^10 keys (a fresh key after at
 * most 5 tries), so the chance is at most 7320 / 10^10 = 7.3e-7 <= 1e-6.
 */
static void
test_bounds_of_the_defaults(void **state)
{
	struct kenpo_config *cfg = defaults();
	const struct kenpo_society *soc = &cfg->societies[0];
	struct lockout_bound b;
	unsigned long keys;
	double chance;

	(void)state;
	assert_int_equal(soc->lockout_failures, 10);
	assert_int_equal(soc->lockout_duration, 1800);
	assert_int_equal(soc->lockout_unfamiliar_failures, 20);
	assert_int_equal(soc->key_failures_per_day, 20);
	assert_int_equal(soc->key_max_tries, 5);
	lockout_guesses_per_day(soc, &b);
	print_message("password guesses a day: %lu familiar + %lu unfamiliar = %lu\n",
		      b.familiar_per_day, b.unfamiliar_per_day,
		      b.familiar_per_day + b.unfamiliar_per_day);
	assert_int_equal(b.familiar_per_day, 450);
	assert_int_equal(b.unfamiliar_per_day, 960);
	keys = lockout_key_guesses_per_year(soc);
	chance = (double)keys / 1e10;
	print_message("wrong keys a year: %lu; chance of guessing one: %.2g\n", keys, chance);
	assert_int_equal(keys, 366UL * soc->key_failures_per_day);
	assert_true(chance <= 1e-6);
	kenpo_config_free(cfg);
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
		cmocka_unit_test(test_one_source_stops_only_itself),
		cmocka_unit_test(test_pool_locks_unfamiliar_only),
		cmocka_unit_test(test_right_password_takes_its_count_back),
		cmocka_unit_test(test_stored_source_values),
		cmocka_unit_test(test_key_window),
		cmocka_unit_test(test_bounds_of_the_defaults),
		cmocka_unit_test(test_zone_local_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
