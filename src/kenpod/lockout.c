/*
 * lockout.c - delays, locks, sources and wrong keys after failed logins
 * (see lockout.h).
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "gentime.h"
#include "kenpo-proto.h"
#include "lockout.h"

#define DAY_MS (24LL * 3600 * 1000)

struct lockout_rule
lockout_rule_of(const struct kenpo_society *soc, enum lockout_kind kind)
{
	struct lockout_rule r;

	r.duration_ms = (int64_t)soc->lockout_duration * 1000;
	if (kind == LOCKOUT_POOL) {
		r.failures = soc->lockout_unfamiliar_failures;
		r.delays = 0;
	} else {
		r.failures = soc->lockout_failures;
		r.delays = 1;
	}
	return r;
}

unsigned
lockout_failures_now(const struct failstate *fs, const struct lockout_rule *r, int64_t now)
{
	if (fs->failures == 0 || fs->last == 0 || now - fs->last >= r->duration_ms)
		return 0;
	if (fs->locked_until != 0 && fs->locked_until <= now)
		return 0;
	return fs->failures;
}

int64_t
lockout_delay_ms(unsigned n, const struct lockout_rule *r)
{
	int64_t d, cap = LOCKOUT_DELAY_CAP_MS;

	if (!r->delays || n < LOCKOUT_DELAY_AFTER)
		return 0;
	if (r->duration_ms < cap)
		cap = r->duration_ms;
	d = n - LOCKOUT_DELAY_AFTER >= 16 ? cap : 1000LL << (n - LOCKOUT_DELAY_AFTER);
	return d < cap ? d : cap;
}

/* No argon2 work is spent before this check. */
int
lockout_check(const struct failstate *fs, const struct lockout_rule *r, int64_t now, long *secs)
{
	unsigned n = lockout_failures_now(fs, r, now);
	int64_t until;

	if (fs->locked_until > now) {
		*secs = kenpo_ms_to_secs(fs->locked_until - now);
		return KENPO_RES_LOCKED;
	}
	until = fs->last + lockout_delay_ms(n, r);
	if (n >= LOCKOUT_DELAY_AFTER && until > now) {
		*secs = kenpo_ms_to_secs(until - now);
		return KENPO_RES_DELAY;
	}
	return KENPO_RES_OK;
}

void
lockout_fail(struct failstate *fs, const struct lockout_rule *r, int64_t now)
{
	fs->failures = lockout_failures_now(fs, r, now) + 1;
	fs->last = now;
	fs->locked_until = 0;
	if (r->failures > 0 && fs->failures >= r->failures)
		fs->locked_until = now + r->duration_ms;
}

/* ---- sources ---- */

int
lockout_view_check(const struct lockout_view *v, const struct kenpo_society *soc, int64_t now,
		   long *secs)
{
	struct lockout_rule own = lockout_rule_of(soc, LOCKOUT_OWN);
	struct lockout_rule pool = lockout_rule_of(soc, LOCKOUT_POOL);
	long s1 = 0, s2 = 0;
	int r1, r2;

	r1 = lockout_check(&v->own, &own, now, &s1);
	if (v->familiar || r1 == KENPO_RES_LOCKED) {
		*secs = s1;
		return r1;
	}
	/* The pool only locks; its lock outweighs a source's delay. */
	r2 = lockout_check(&v->pool, &pool, now, &s2);
	if (r2 == KENPO_RES_LOCKED) {
		*secs = s2;
		return r2;
	}
	*secs = s1;
	return r1;
}

void
lockout_view_fail(struct lockout_view *v, const struct kenpo_society *soc, int64_t now)
{
	struct lockout_rule own = lockout_rule_of(soc, LOCKOUT_OWN);
	struct lockout_rule pool = lockout_rule_of(soc, LOCKOUT_POOL);

	lockout_fail(&v->own, &own, now);
	if (!v->familiar)
		lockout_fail(&v->pool, &pool, now);
}

void
lockout_view_right(struct lockout_view *v)
{
	memset(&v->own, 0, sizeof v->own);
	if (!v->familiar && v->pool.failures > 0)
		v->pool.failures--;
}

static int
is_id(const char *s, size_t n)
{
	size_t i;

	if (n != LOCKOUT_SOURCE_ID_LEN)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Decimal digits up to stop (or the end): 0 with *out, or -1. */
static int
number(const char **p, char stop, uint64_t max, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s != stop)
		return -1;
	*p = stop != '\0' ? s + 1 : s;
	*out = v;
	return 0;
}

int
lockout_source_parse(const char *v, char id[LOCKOUT_SOURCE_ID_LEN + 1], struct failstate *fs)
{
	const char *colon = strchr(v, ':'), *p;
	uint64_t n, last, locked;

	if (colon == NULL || !is_id(v, (size_t)(colon - v)))
		return -1;
	p = colon + 1;
	if (number(&p, ':', 1000000, &n) != 0 || number(&p, ':', INT64_MAX, &last) != 0 ||
	    number(&p, '\0', INT64_MAX, &locked) != 0)
		return -1;
	memcpy(id, v, LOCKOUT_SOURCE_ID_LEN);
	id[LOCKOUT_SOURCE_ID_LEN] = '\0';
	fs->failures = (unsigned)n;
	fs->last = (int64_t)last;
	fs->locked_until = (int64_t)locked;
	return 0;
}

int
lockout_source_format(const char *id, const struct failstate *fs, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s:%u:%" PRId64 ":%" PRId64, id, fs->failures, fs->last,
			 fs->locked_until);

	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

int
lockout_familiar_parse(const char *v, char id[LOCKOUT_SOURCE_ID_LEN + 1], int64_t *when)
{
	const char *colon = strchr(v, ':'), *p;
	uint64_t t;

	if (colon == NULL || !is_id(v, (size_t)(colon - v)))
		return -1;
	p = colon + 1;
	if (number(&p, '\0', INT64_MAX, &t) != 0)
		return -1;
	memcpy(id, v, LOCKOUT_SOURCE_ID_LEN);
	id[LOCKOUT_SOURCE_ID_LEN] = '\0';
	*when = (int64_t)t;
	return 0;
}

int
lockout_familiar_format(const char *id, int64_t when, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s:%" PRId64, id, when);

	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* ---- keys ---- */

unsigned
lockout_key_failures_now(const struct keystate *ks, int64_t now)
{
	if (ks->window == 0 || now - ks->window >= LOCKOUT_KEY_WINDOW_MS || now < ks->window)
		return 0;
	return ks->failures;
}

int
lockout_key_check(const struct keystate *ks, const struct kenpo_society *soc, int64_t now,
		  long *secs)
{
	if (lockout_key_failures_now(ks, now) < soc->key_failures_per_day)
		return KENPO_RES_OK;
	*secs = kenpo_ms_to_secs(ks->window + LOCKOUT_KEY_WINDOW_MS - now);
	return KENPO_RES_LOCKED;
}

void
lockout_key_fail(struct keystate *ks, int64_t now)
{
	unsigned n = lockout_key_failures_now(ks, now);

	if (n == 0)
		ks->window = now;
	ks->failures = n + 1;
}

/* ---- what the rules allow ---- */

/* Attempts the state allows in `span` ms from 0, each made the moment it
 * is allowed, all failing. */
static unsigned long
attempts_in(const struct lockout_rule *r, int64_t span)
{
	struct failstate fs = { 0, 0, 0 };
	unsigned long n = 0;
	int64_t t = 1;
	long secs;

	while (t < span) {
		if (lockout_check(&fs, r, t, &secs) == KENPO_RES_OK) {
			lockout_fail(&fs, r, t);
			n++;
			continue;
		}
		/* The exact end of the wait, not the rounded seconds. */
		t = fs.locked_until > t ?
			    fs.locked_until :
			    fs.last + lockout_delay_ms(lockout_failures_now(&fs, r, t), r);
	}
	return n;
}

void
lockout_guesses_per_day(const struct kenpo_society *soc, struct lockout_bound *b)
{
	struct lockout_rule own = lockout_rule_of(soc, LOCKOUT_OWN);
	struct lockout_rule pool = lockout_rule_of(soc, LOCKOUT_POOL);

	b->familiar_per_day = attempts_in(&own, DAY_MS);
	/* Each unfamiliar attempt from a new source: no source ever waits,
	 * only the pool stops them.  A pool that never locks bounds nothing. */
	b->unfamiliar_per_day = pool.failures > 0 ? attempts_in(&pool, DAY_MS) :
						    (unsigned long)-1;
}

unsigned long
lockout_key_guesses_per_year(const struct kenpo_society *soc)
{
	struct keystate ks = { 0, 0 };
	unsigned long n = 0;
	int64_t t = 1, span = 366 * DAY_MS;
	long secs;

	while (t < span) {
		if (lockout_key_check(&ks, soc, t, &secs) == KENPO_RES_OK) {
			lockout_key_fail(&ks, t);
			n++;
			continue;
		}
		t = ks.window + LOCKOUT_KEY_WINDOW_MS;
	}
	return n;
}
