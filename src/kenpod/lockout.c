/*
 * lockout.c - delays and the lock after failed logins (see lockout.h).
 */
#include "autoconfig.h"

#include "config.h"
#include "gentime.h"
#include "kenpo-proto.h"
#include "lockout.h"

unsigned
lockout_failures_now(const struct failstate *fs, const struct kenpo_society *soc, int64_t now)
{
	if (fs->failures == 0 || fs->last == 0 || now - fs->last >= soc->lockout_duration * 1000)
		return 0;
	if (fs->locked_until != 0 && fs->locked_until <= now)
		return 0;
	return fs->failures;
}

int64_t
lockout_delay_ms(unsigned n, const struct kenpo_society *soc)
{
	int64_t d, cap = LOCKOUT_DELAY_CAP_MS;

	if (n < LOCKOUT_DELAY_AFTER)
		return 0;
	if (soc->lockout_duration * 1000 < cap)
		cap = soc->lockout_duration * 1000;
	d = n - LOCKOUT_DELAY_AFTER >= 16 ? cap : 1000LL << (n - LOCKOUT_DELAY_AFTER);
	return d < cap ? d : cap;
}

/* No argon2 work is spent before this check. */
int
lockout_check(const struct failstate *fs, const struct kenpo_society *soc, int64_t now,
	      long *secs)
{
	unsigned n = lockout_failures_now(fs, soc, now);
	int64_t until;

	if (fs->locked_until > now) {
		*secs = kenpo_ms_to_secs(fs->locked_until - now);
		return KENPO_RES_LOCKED;
	}
	until = fs->last + lockout_delay_ms(n, soc);
	if (n >= LOCKOUT_DELAY_AFTER && until > now) {
		*secs = kenpo_ms_to_secs(until - now);
		return KENPO_RES_DELAY;
	}
	return KENPO_RES_OK;
}

void
lockout_fail(struct failstate *fs, const struct kenpo_society *soc, int64_t now)
{
	fs->failures = lockout_failures_now(fs, soc, now) + 1;
	fs->last = now;
	fs->locked_until = 0;
	if (soc->lockout_failures > 0 && fs->failures >= soc->lockout_failures)
		fs->locked_until = now + soc->lockout_duration * 1000;
}
