/*
 * lockout.h - the arithmetic of failed logins: growing delays and the
 * lock (auth.c explains the policy).
 *
 * From the DELAY_AFTER-th consecutive failure on, further attempts are
 * refused for 2^(n - DELAY_AFTER) seconds after the last failure, capped
 * at a minute and at the society's lockout_duration; at lockout_failures
 * (0: never) the account is locked for lockout_duration.  Failures older
 * than lockout_duration, or from before a lock that has run out, no
 * longer count.  Pure functions of the state and the time, so that the
 * member's entry (kenpoAuthFailures, kenpoAuthFailTime, kenpoLockedUntil)
 * and the in-memory state of unknown login IDs follow the same rules.
 */
#ifndef KENPOD_LOCKOUT_H
#define KENPOD_LOCKOUT_H

#include <stdint.h>

struct kenpo_society;

#define LOCKOUT_DELAY_AFTER 3       /* failures before delays start */
#define LOCKOUT_DELAY_CAP_MS 60000

/* Times in milliseconds since the epoch; 0 is "never". */
struct failstate {
	unsigned failures;
	int64_t last;                /* time of the last failure */
	int64_t locked_until;
};

/* The failures that still count at now. */
unsigned lockout_failures_now(const struct failstate *fs, const struct kenpo_society *soc,
			      int64_t now);

/* The delay after the last of n failures, in milliseconds (0 below
 * LOCKOUT_DELAY_AFTER). */
int64_t lockout_delay_ms(unsigned n, const struct kenpo_society *soc);

/* KENPO_RES_LOCKED or KENPO_RES_DELAY with the seconds to wait in *secs
 * (rounded up), or KENPO_RES_OK when an attempt may be made now. */
int lockout_check(const struct failstate *fs, const struct kenpo_society *soc, int64_t now,
		  long *secs);

/* The state after one more failure at now. */
void lockout_fail(struct failstate *fs, const struct kenpo_society *soc, int64_t now);

#endif
