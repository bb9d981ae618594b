/*
 * pwhash.h - the memory of argon2: a bounded pool of regions that stay
 * mapped between password hashes (pwhash.c says why and how).
 *
 * kenpo_pw_hash and kenpo_pw_verify (secret.h) take a region for the
 * length of one argon2 run once kenpo_pwpool_setup has been called; before
 * that, and in programs that never call it, libsodium maps fresh memory
 * for every run as it always does.
 */
#ifndef KENPO_PWHASH_H
#define KENPO_PWHASH_H

#include <stddef.h>

#define KENPO_PWPOOL_MAX 64 /* regions at most */

/*
 * Set up the pool: at most `regions` (1..KENPO_PWPOOL_MAX) argon2 runs at
 * once in the whole process, each in a region of `bytes` (>= 8 KiB, the
 * argon2_m of the configuration); further runs wait for a region, in the
 * order they asked.  Regions are mapped when first needed and stay mapped
 * until kenpo_pwpool_cleanup, so at most regions * bytes stay resident.
 * A hash whose memory exceeds `bytes` (a stored hash of a higher cost)
 * still waits for a region, and libsodium maps fresh memory for it.
 * 0, or -1 for bad arguments or while a region is in use (a pool set up
 * again replaces the old one).
 */
int kenpo_pwpool_setup(unsigned regions, size_t bytes) __attribute__((warn_unused_result));

/* Unmap every region and go back to libsodium's own memory.  Call it
 * while no thread hashes (a busy pool is left as it is). */
void kenpo_pwpool_cleanup(void);

struct kenpo_pwpool_stats {
	unsigned regions;             /* the bound; 0 without a pool */
	unsigned mapped;              /* regions mapped so far (resident) */
	unsigned busy;                /* regions in use now */
	unsigned peak;                /* most regions in use at once */
	size_t bytes;                 /* size of each region */
	unsigned long long runs;      /* argon2 runs that took a region */
	unsigned long long in_region; /* of them, those whose memory was the region */
	unsigned long long waited;    /* of them, those that had to wait */
};

void kenpo_pwpool_stats(struct kenpo_pwpool_stats *st);

/* Milliseconds (each wait rounded up) the calling thread has waited for
 * regions since the previous call (0 without a pool); the count starts
 * again at 0. */
unsigned long kenpo_pwpool_wait_take(void);

/* For secret.c: take a region for one argon2 run on this thread (waiting
 * for one if need be) and give it back, wiped.  enter returns NULL without
 * a pool; leave accepts NULL. */
struct kenpo_pwslot;
struct kenpo_pwslot *kenpo_pwpool_enter(void);
void kenpo_pwpool_leave(struct kenpo_pwslot *s);

#endif
