/*
 * test_pwhash.c - the pool of argon2 regions (pwhash.h): libsodium's argon2
 * memory is the region, the region is reused, wiped before it is lent
 * again, bounded in number (further runs wait and then succeed), and the
 * hashes are those libsodium makes in its own memory.
 *
 * The tests look at a region the way libsodium does: while holding it
 * (kenpo_pwpool_enter), an anonymous private mapping of at most the
 * region's size is the region.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>
#include <sodium.h>

#include "pwhash.h"
#include "secret.h"

#define REGION ((size_t)1 << 20)
static const struct kenpo_pwcost COST = { 1, REGION };
#define PW "Tanaka2024"
#define PWLEN (sizeof PW - 1)
#define THREADS 6

static int
setup(void **state)
{
	(void)state;
	return kenpo_secret_init();
}

static int
teardown(void **state)
{
	(void)state;
	kenpo_pwpool_cleanup();
	return 0;
}

static void
stats(struct kenpo_pwpool_stats *st)
{
	memset(st, 0xff, sizeof *st);
	kenpo_pwpool_stats(st);
}

/* The region lent to the calling thread: what libsodium's argon2 gets. */
static unsigned char *
borrow(size_t len)
{
	unsigned char *p =
		mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

static int
all_zero(const unsigned char *p, size_t len)
{
	return sodium_is_zero(p, len) == 1;
}

static void
test_no_pool(void **state)
{
	struct kenpo_pwpool_stats st;
	char h[KENPO_PWHASH_MAX];

	(void)state;
	assert_null(kenpo_pwpool_enter());
	kenpo_pwpool_leave(NULL);
	assert_int_equal(kenpo_pw_hash(PW, PWLEN, &COST, h, sizeof h), 0);
	assert_int_equal(kenpo_pw_verify(h, PW, PWLEN), 0);
	stats(&st);
	assert_int_equal(st.regions, 0);
	assert_int_equal(st.runs, 0);
	assert_int_equal(kenpo_pwpool_wait_take(), 0);
}

static void
test_setup_refuses(void **state)
{
	struct kenpo_pwslot *s;

	(void)state;
	assert_int_equal(kenpo_pwpool_setup(0, REGION), -1);
	assert_int_equal(kenpo_pwpool_setup(KENPO_PWPOOL_MAX + 1, REGION), -1);
	assert_int_equal(kenpo_pwpool_setup(1, 4096), -1);
	assert_int_equal(kenpo_pwpool_setup(2, REGION), 0);
	/* Not while a region is held. */
	s = kenpo_pwpool_enter();
	assert_non_null(s);
	assert_int_equal(kenpo_pwpool_setup(1, REGION), -1);
	kenpo_pwpool_cleanup(); /* left alone: busy */
	kenpo_pwpool_leave(s);
	assert_int_equal(kenpo_pwpool_setup(1, REGION), 0);
}

/* libsodium's argon2 memory is the region, and the same region each time:
 * one mapped, every run in it. */
static void
test_runs_reuse_one_region(void **state)
{
	struct kenpo_pwpool_stats st;
	char h[KENPO_PWHASH_MAX];
	int i;

	(void)state;
	assert_int_equal(kenpo_pwpool_setup(4, REGION), 0);
	assert_int_equal(kenpo_pw_hash(PW, PWLEN, &COST, h, sizeof h), 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(kenpo_pw_verify(h, PW, PWLEN), 0);
	assert_int_equal(kenpo_pw_verify(h, "Tanaka2025", PWLEN), -1);
	stats(&st);
	assert_int_equal(st.regions, 4);
	assert_int_equal(st.bytes, REGION);
	assert_int_equal(st.mapped, 1);
	assert_int_equal(st.runs, 7);
	assert_int_equal(st.in_region, 7);
	assert_int_equal(st.peak, 1);
	assert_int_equal(st.busy, 0);
	assert_int_equal(st.waited, 0);
}

/* Hashes made in a region are byte for byte those libsodium makes in its
 * own memory, and each verifies with the other. */
static void
test_same_hashes_as_libsodium(void **state)
{
	unsigned char salt[crypto_pwhash_SALTBYTES], fresh[32], pooled[32];
	char h1[KENPO_PWHASH_MAX], h2[KENPO_PWHASH_MAX];
	struct kenpo_pwslot *s;
	struct kenpo_pwpool_stats st;

	(void)state;
	memset(salt, 0x5a, sizeof salt);
	assert_int_equal(crypto_pwhash(fresh, sizeof fresh, PW, PWLEN, salt, 2, REGION,
				       crypto_pwhash_ALG_ARGON2ID13),
			 0);
	assert_int_equal(kenpo_pw_hash(PW, PWLEN, &COST, h1, sizeof h1), 0);
	assert_int_equal(kenpo_pwpool_setup(1, REGION), 0);
	s = kenpo_pwpool_enter();
	assert_int_equal(crypto_pwhash(pooled, sizeof pooled, PW, PWLEN, salt, 2, REGION,
				       crypto_pwhash_ALG_ARGON2ID13),
			 0);
	kenpo_pwpool_leave(s);
	assert_memory_equal(fresh, pooled, sizeof fresh);
	assert_int_equal(kenpo_pw_hash(PW, PWLEN, &COST, h2, sizeof h2), 0);
	assert_int_equal(kenpo_pw_verify(h1, PW, PWLEN), 0);
	stats(&st);
	assert_int_equal(st.in_region, 3);
	kenpo_pwpool_cleanup();
	assert_int_equal(kenpo_pw_verify(h2, PW, PWLEN), 0);
}

/* A region is lent only holding zeros: whatever a run wrote is wiped when
 * the run ends, before anyone can be lent the region again. */
static void
test_region_wiped_between_runs(void **state)
{
	struct kenpo_pwslot *s;
	unsigned char *p;
	char h[KENPO_PWHASH_MAX];

	(void)state;
	assert_int_equal(kenpo_pwpool_setup(1, REGION), 0);
	s = kenpo_pwpool_enter();
	p = borrow(REGION);
	assert_true(all_zero(p, REGION)); /* fresh: zeros */
	memset(p, 0xa5, REGION);
	assert_int_equal(munmap(p, REGION), 0);
	kenpo_pwpool_leave(s);

	s = kenpo_pwpool_enter();
	assert_ptr_equal(borrow(REGION), p); /* the same region ... */
	assert_true(all_zero(p, REGION));    /* ... wiped */
	assert_int_equal(munmap(p, REGION), 0);
	kenpo_pwpool_leave(s);

	/* After a real argon2 run too. */
	assert_int_equal(kenpo_pw_hash(PW, PWLEN, &COST, h, sizeof h), 0);
	s = kenpo_pwpool_enter();
	assert_ptr_equal(borrow(REGION), p);
	assert_true(all_zero(p, REGION));
	assert_int_equal(munmap(p, REGION), 0);
	kenpo_pwpool_leave(s);
}

/* Only what argon2 asks for is lent: other mappings, mappings on threads
 * holding no region, and a second mapping in one run are real ones. */
static void
test_interposition_is_narrow(void **state)
{
	struct kenpo_pwslot *s;
	unsigned char *region, *p;

	(void)state;
	assert_int_equal(kenpo_pwpool_setup(1, REGION), 0);
	p = borrow(REGION); /* no region held */
	s = kenpo_pwpool_enter();
	region = borrow(REGION);
	assert_ptr_not_equal(region, p);
	assert_int_equal(munmap(p, REGION), 0);
	/* Lent already: the next one is a real mapping. */
	p = borrow(REGION / 2);
	assert_ptr_not_equal(p, region);
	assert_int_equal(munmap(p, REGION / 2), 0);
	assert_int_equal(munmap(region, REGION), 0);
	kenpo_pwpool_leave(s);

	s = kenpo_pwpool_enter();
	p = borrow(2 * REGION); /* larger than the region */
	assert_ptr_not_equal(p, region);
	assert_int_equal(munmap(p, 2 * REGION), 0);
	p = mmap(NULL, REGION, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(p, region); /* not read-write */
	assert_int_equal(munmap(p, REGION), 0);
	p = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_ptr_not_equal(p, region); /* shared */
	assert_int_equal(munmap(p, REGION), 0);
	kenpo_pwpool_leave(s);
}

/* A stored hash that needs more memory than a region still verifies, in
 * memory libsodium maps itself, and still takes a place in the pool. */
static void
test_larger_hash_verifies(void **state)
{
	const struct kenpo_pwcost big = { 1, 4 * REGION };
	struct kenpo_pwpool_stats st;
	char h[KENPO_PWHASH_MAX];

	(void)state;
	assert_int_equal(kenpo_pw_hash(PW, PWLEN, &big, h, sizeof h), 0);
	assert_int_equal(kenpo_pwpool_setup(1, REGION), 0);
	assert_int_equal(kenpo_pw_verify(h, PW, PWLEN), 0);
	stats(&st);
	assert_int_equal(st.runs, 1);
	assert_int_equal(st.in_region, 0);
}

struct worker {
	const char *hash;
	int rc;
};

static void *
verify_many(void *arg)
{
	struct worker *w = arg;
	int i;

	w->rc = 0;
	for (i = 0; i < 3 && w->rc == 0; i++)
		w->rc = kenpo_pw_verify(w->hash, PW, PWLEN);
	return NULL;
}

/* More threads than regions: never more regions than the bound, the
 * others wait their turn, and every verification succeeds. */
static void
check_bounded(unsigned regions)
{
	struct kenpo_pwpool_stats st;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	char h[KENPO_PWHASH_MAX];
	int i;

	assert_int_equal(kenpo_pw_hash(PW, PWLEN, &COST, h, sizeof h), 0);
	assert_int_equal(kenpo_pwpool_setup(regions, REGION), 0);
	for (i = 0; i < THREADS; i++) {
		w[i].hash = h;
		assert_int_equal(pthread_create(&t[i], NULL, verify_many, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].rc, 0);
	}
	stats(&st);
	assert_int_equal(st.runs, 3 * THREADS);
	assert_int_equal(st.in_region, 3 * THREADS);
	assert_true(st.mapped >= 1 && st.mapped <= regions);
	assert_true(st.peak >= 1 && st.peak <= regions);
	assert_int_equal(st.busy, 0);
	/* Six threads, three runs each, a few milliseconds a run: with one
	 * region some of them must have found it taken. */
	if (regions == 1)
		assert_true(st.waited > 0);
}

static void
test_bounded_one(void **state)
{
	(void)state;
	check_bounded(1);
}

static void
test_bounded_two(void **state)
{
	(void)state;
	check_bounded(2);
}

/* The time waited is handed out once. */
static void
test_wait_take(void **state)
{
	(void)state;
	(void)kenpo_pwpool_wait_take();
	assert_int_equal(kenpo_pwpool_wait_take(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_no_pool, teardown),
		cmocka_unit_test_teardown(test_setup_refuses, teardown),
		cmocka_unit_test_teardown(test_runs_reuse_one_region, teardown),
		cmocka_unit_test_teardown(test_same_hashes_as_libsodium, teardown),
		cmocka_unit_test_teardown(test_region_wiped_between_runs, teardown),
		cmocka_unit_test_teardown(test_interposition_is_narrow, teardown),
		cmocka_unit_test_teardown(test_larger_hash_verifies, teardown),
		cmocka_unit_test_teardown(test_bounded_one, teardown),
		cmocka_unit_test_teardown(test_bounded_two, teardown),
		cmocka_unit_test_teardown(test_wait_take, teardown),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
