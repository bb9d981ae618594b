/*
 * test_cache.c - kenpod's passwd cache (src/kenpod/cache.c): records,
 * hits by name (any case) and by uid, negative answers, expiry, eviction
 * of the oldest entries when full, forgetting, flushing and the member
 * list.
 *
 * Expiry is tested with a TTL of one second and a wait of a little more:
 * an entry can only expire late by the cache's own clock, never early, so
 * a busy machine makes the wait longer, not the test wrong.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <sodium.h>

#include "cache.h"

/* A record buffer aligned as the structure. */
union recbuf {
	struct kenpo_pwrec rec;
	unsigned char bytes[KENPO_PWREC_MAX];
};

/* The sizes and TTLs of a test's cache (cmocka's prestate). */
struct params {
	size_t max;
	long positive, negative;
};
static struct params roomy = { 100, 60, 10 }, four = { 4, 60, 10 }, brief = { 100, 1, 1 },
		     off = { 100, 0, 0 };

static int
setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static int
cache_setup(void **state)
{
	const struct params *p = *state;

	*state = cache_new(p->max, p->positive, p->negative);
	return *state != NULL ? 0 : -1;
}

static int
cache_teardown(void **state)
{
	cache_free(*state);
	return 0;
}

static void
make(union recbuf *b, const char *name, uint32_t uid)
{
	char home[64];

	snprintf(home, sizeof home, "/home/%s", name);
	assert_int_equal(kenpo_pwrec_build(&b->rec, sizeof b->bytes, name, uid, 100, "ご本人",
					   home, "/bin/bash"),
			 0);
}

static void
put(struct cache *c, const char *name, uint32_t uid)
{
	union recbuf b;

	make(&b, name, uid);
	cache_put(c, &b.rec);
}

static enum cache_hit
byname(struct cache *c, const char *name)
{
	union recbuf out;

	return cache_get_byname(c, name, &out.rec, sizeof out.bytes);
}

static enum cache_hit
byuid(struct cache *c, uint32_t uid)
{
	union recbuf out;

	return cache_get_byuid(c, uid, &out.rec, sizeof out.bytes);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void
test_record_layout(void **state)
{
	union recbuf b;
	char longname[KENPO_PWREC_STR_MAX + 2];

	(void)state;
	make(&b, "Taro.Y", 2000000001);
	assert_string_equal(kenpo_pwrec_str(&b.rec, b.rec.name), "Taro.Y");
	assert_string_equal(kenpo_pwrec_str(&b.rec, b.rec.passwd), "x");
	assert_string_equal(kenpo_pwrec_str(&b.rec, b.rec.gecos), "ご本人");
	assert_string_equal(kenpo_pwrec_str(&b.rec, b.rec.home), "/home/Taro.Y");
	assert_string_equal(kenpo_pwrec_str(&b.rec, b.rec.shell), "/bin/bash");
	assert_int_equal(b.rec.uid, 2000000001);
	assert_int_equal(b.rec.gid, 100);
	assert_true(b.rec.size > sizeof b.rec && b.rec.size <= sizeof b.bytes);
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_int_equal(kenpo_pwrec_build(&b.rec, sizeof b.bytes, longname, 1, 1, "", "/", "/"),
			 -1);
	assert_int_equal(kenpo_pwrec_build(&b.rec, sizeof b.rec - 1, "a", 1, 1, "", "/", "/"),
			 -1);
}

static void
test_hits_by_name_and_uid(void **state)
{
	struct cache *c = *state;
	union recbuf out;

	assert_int_equal(byname(c, "taro"), CACHE_MISS);
	put(c, "Taro.Y", 2000000001);
	/* Login IDs are unique without regard to case. */
	assert_int_equal(cache_get_byname(c, "TARO.y", &out.rec, sizeof out.bytes),
			 CACHE_POSITIVE);
	assert_string_equal(kenpo_pwrec_str(&out.rec, out.rec.name), "Taro.Y");
	assert_int_equal(cache_get_byuid(c, 2000000001, &out.rec, sizeof out.bytes),
			 CACHE_POSITIVE);
	assert_int_equal(out.rec.uid, 2000000001);
	/* A buffer too small for the record is a miss, not an overflow. */
	assert_int_equal(cache_get_byuid(c, 2000000001, &out.rec, sizeof out.rec), CACHE_MISS);
	assert_int_equal(byuid(c, 2000000002), CACHE_MISS);
	cache_put_missing_name(c, "Ghost");
	cache_put_missing_uid(c, 2000000002);
	assert_int_equal(byname(c, "ghost"), CACHE_NEGATIVE);
	assert_int_equal(byuid(c, 2000000002), CACHE_NEGATIVE);
	/* A record replaces "no such user". */
	put(c, "ghost", 2000000002);
	assert_int_equal(byname(c, "Ghost"), CACHE_POSITIVE);
	assert_int_equal(byuid(c, 2000000002), CACHE_POSITIVE);
}

static void
test_oldest_dropped_when_full(void **state)
{
	/* Each member takes two entries, by name and by uid. */
	struct cache *c = *state;
	char name[16];
	int i;

	put(c, "first", 1001);
	put(c, "second", 1002);
	assert_int_equal(byname(c, "first"), CACHE_POSITIVE);
	put(c, "third", 1003);
	/* A read does not make an entry younger: the first went. */
	assert_int_equal(byname(c, "first"), CACHE_MISS);
	assert_int_equal(byuid(c, 1001), CACHE_MISS);
	assert_int_equal(byname(c, "second"), CACHE_POSITIVE);
	assert_int_equal(byuid(c, 1002), CACHE_POSITIVE);
	assert_int_equal(byname(c, "third"), CACHE_POSITIVE);
	assert_int_equal(byuid(c, 1003), CACHE_POSITIVE);
	/* Replacing an entry takes no room; "no such user" answers have a
	 * list of their own and never push a member out. */
	put(c, "third", 1003);
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "nobody%d", i);
		cache_put_missing_name(c, name);
		cache_put_missing_uid(c, 9000 + (uint32_t)i);
	}
	assert_int_equal(byname(c, "second"), CACHE_POSITIVE);
	assert_int_equal(byuid(c, 1002), CACHE_POSITIVE);
	assert_int_equal(byname(c, "third"), CACHE_POSITIVE);
	assert_int_equal(byname(c, "nobody999"), CACHE_NEGATIVE);
	assert_int_equal(byuid(c, 9999), CACHE_NEGATIVE);
	/* ... which holds at most as many, the newest. */
	assert_int_equal(byname(c, "nobody997"), CACHE_MISS);
	/* Many more members than fit: never more than the limit, the newest
	 * kept. */
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "m%d", i);
		put(c, name, 5000 + (uint32_t)i);
	}
	assert_int_equal(byname(c, "m999"), CACHE_POSITIVE);
	assert_int_equal(byuid(c, 5999), CACHE_POSITIVE);
	assert_int_equal(byname(c, "m998"), CACHE_POSITIVE);
	assert_int_equal(byname(c, "m997"), CACHE_MISS);
	assert_int_equal(byname(c, "nobody999"), CACHE_NEGATIVE);
}

static void
test_expiry(void **state)
{
	struct cache *c = *state;

	put(c, "taro", 1001);
	cache_put_missing_uid(c, 1002);
	assert_int_equal(byname(c, "taro"), CACHE_POSITIVE);
	assert_int_equal(byuid(c, 1002), CACHE_NEGATIVE);
	sleep_ms(1100);
	assert_int_equal(byname(c, "taro"), CACHE_MISS);
	assert_int_equal(byuid(c, 1001), CACHE_MISS);
	assert_int_equal(byuid(c, 1002), CACHE_MISS);
	/* Expired entries make room before live ones are dropped. */
	put(c, "jiro", 1003);
	assert_int_equal(byname(c, "jiro"), CACHE_POSITIVE);
}

static void
test_ttl_zero_keeps_nothing(void **state)
{
	struct cache *c = *state;

	put(c, "taro", 1001);
	cache_put_missing_name(c, "ghost");
	assert_int_equal(byname(c, "taro"), CACHE_MISS);
	assert_int_equal(byname(c, "ghost"), CACHE_MISS);
}

static void
test_forget_and_flush(void **state)
{
	struct cache *c = *state;

	put(c, "taro", 1001);
	put(c, "jiro", 1002);
	cache_put_missing_name(c, "hanako");
	/* A renamed member: the old name, the uid and the new name. */
	cache_forget(c, "TARO", 1001);
	cache_forget(c, "hanako", 1001);
	assert_int_equal(byname(c, "taro"), CACHE_MISS);
	assert_int_equal(byuid(c, 1001), CACHE_MISS);
	assert_int_equal(byname(c, "hanako"), CACHE_MISS);
	assert_int_equal(byname(c, "jiro"), CACHE_POSITIVE);
	cache_forget(c, NULL, 1002);
	assert_int_equal(byuid(c, 1002), CACHE_MISS);
	assert_int_equal(byname(c, "jiro"), CACHE_POSITIVE);
	cache_flush(c);
	assert_int_equal(byname(c, "jiro"), CACHE_MISS);
}

static struct kenpo_pwrec *
heap_record(const char *name, uint32_t uid)
{
	union recbuf b;
	struct kenpo_pwrec *r;

	make(&b, name, uid);
	r = malloc(b.rec.size);
	assert_non_null(r);
	memcpy(r, &b.rec, b.rec.size);
	return r;
}

static void
test_member_list(void **state)
{
	struct cache *c = *state;
	struct kenpo_pwrec **recs = calloc(3, sizeof *recs);
	struct cache_list *l, *again;

	assert_non_null(recs);
	assert_null(cache_list_get(c));
	recs[0] = heap_record("c", 3003);
	recs[1] = heap_record("a", 1001);
	recs[2] = heap_record("b", 2002);
	l = cache_list_put(c, recs, 3);
	assert_non_null(l);
	/* Sorted by uid. */
	assert_int_equal(cache_list_count(l), 3);
	assert_int_equal(cache_list_at(l, 0)->uid, 1001);
	assert_int_equal(cache_list_at(l, 2)->uid, 3003);
	assert_null(cache_list_at(l, 3));
	again = cache_list_get(c);
	assert_true(again == l);
	cache_list_release(again);
	/* A change to any member drops the snapshot; a holder keeps its copy. */
	cache_forget(c, "a", 1001);
	assert_null(cache_list_get(c));
	assert_int_equal(cache_list_at(l, 1)->uid, 2002);
	cache_list_release(l);
	cache_list_release(NULL);
	l = cache_list_put(c, NULL, 0);
	assert_non_null(l);
	assert_int_equal(cache_list_count(l), 0);
	cache_list_release(l);
	cache_flush(c);
	assert_null(cache_list_get(c));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_layout),
		cmocka_unit_test_prestate_setup_teardown(test_hits_by_name_and_uid, cache_setup,
							 cache_teardown, (void *)&roomy),
		cmocka_unit_test_prestate_setup_teardown(test_oldest_dropped_when_full,
							 cache_setup, cache_teardown,
							 (void *)&four),
		cmocka_unit_test_prestate_setup_teardown(test_expiry, cache_setup, cache_teardown,
							 (void *)&brief),
		cmocka_unit_test_prestate_setup_teardown(test_ttl_zero_keeps_nothing, cache_setup,
							 cache_teardown, (void *)&off),
		cmocka_unit_test_prestate_setup_teardown(test_forget_and_flush, cache_setup,
							 cache_teardown, (void *)&roomy),
		cmocka_unit_test_prestate_setup_teardown(test_member_list, cache_setup,
							 cache_teardown, (void *)&roomy),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
