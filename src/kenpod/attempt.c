/*
 * attempt.c - the failure state of a login attempt in the directory (see
 * attempt.h).
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "attempt.h"
#include "config.h"
#include "gentime.h"
#include "kenpo-proto.h"
#include "log.h"
#include "policy.h"
#include "request.h"
#include "schema.h"
#include "secret.h"

#define PWDLOCK_FOREVER "000001010000Z"
#define FILTER_MAX 256
#define DN_MAX 600
#define STALE_DROPS_MAX 2 /* old source values dropped per change */

/* The keyed hash of s (at most max bytes) in lower case, as hex. */
static int
keyed_lower(const struct request *rq, const char *domain, const char *s, size_t len, size_t max,
	    char out[KENPO_KEYED_HASH_HEX])
{
	char lower[ATTEMPT_SOURCE_MAX + 1];
	size_t i, n = len < max ? len : max;
	int rc;

	if (n > ATTEMPT_SOURCE_MAX)
		n = ATTEMPT_SOURCE_MAX;
	for (i = 0; i < n; i++)
		lower[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	rc = kenpo_keyed_hash_hex(rq->kd->secret, domain, lower, n, out, KENPO_KEYED_HASH_HEX);
	kenpo_wipe(lower, sizeof lower);
	return rc;
}

int
attempt_source_id(const struct request *rq, const char *rhost, size_t len,
		  char out[LOCKOUT_SOURCE_ID_LEN + 1])
{
	char hex[KENPO_KEYED_HASH_HEX];

	if (keyed_lower(rq, "source", rhost != NULL ? rhost : "", rhost != NULL ? len : 0,
			ATTEMPT_SOURCE_MAX, hex) != 0)
		return -1;
	memcpy(out, hex, LOCKOUT_SOURCE_ID_LEN);
	out[LOCKOUT_SOURCE_ID_LEN] = '\0';
	return 0;
}

static const struct kenpo_society *
first_society(const struct attempt *a)
{
	return &a->rq->kd->cfg->societies[0];
}

static int
failure_filter(const struct attempt *a, char *out, size_t outsz)
{
	int n = snprintf(out, outsz,
			 "(&(" KENPO_AT_OBJECTCLASS "=" KENPO_OC_LOGIN_FAILURES ")"
			 "(" KENPO_AT_RATE_KEY "=%s))",
			 a->rate_key);

	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

int
attempt_begin(struct attempt *a, struct request *rq, const char *login, size_t len,
	      const char *rhost, size_t rhost_len, int64_t now)
{
	char hex[KENPO_KEYED_HASH_HEX], filter[FILTER_MAX];
	int rc;

	memset(a, 0, sizeof *a);
	a->rq = rq;
	a->now = now;
	if (attempt_source_id(rq, rhost, rhost_len, a->source) != 0 ||
	    keyed_lower(rq, "login", login, len, KENPO_LOGIN_ID_MAX, hex) != 0 ||
	    snprintf(a->rate_key, sizeof a->rate_key, "login:%s", hex) >=
		    (int)sizeof a->rate_key ||
	    failure_filter(a, filter, sizeof filter) != 0)
		return KENPO_RES_INTERNAL;
	rc = member_load_also(rq, login, len, filter, &a->m, &a->fail);
	if (rc == KENPO_RES_OK)
		a->known = 1;
	return rc == KENPO_RES_NOTFOUND ? KENPO_RES_OK : rc;
}

void
attempt_end(struct attempt *a)
{
	member_release(&a->m);
	member_release(&a->fail);
}

/* ---- reading the state ---- */

/* The value of source among the values of attribute at of m, or NULL,
 * with its parsed state. */
static const char *
find_source(const struct member *m, const char *source, struct failstate *fs)
{
	char id[LOCKOUT_SOURCE_ID_LEN + 1];
	const char *v;
	size_t i;

	for (i = 0; (v = member_value_at(m, MA_AUTH_SOURCE, i)) != NULL; i++)
		if (lockout_source_parse(v, id, fs) == 0 && strcmp(id, source) == 0)
			return v;
	memset(fs, 0, sizeof *fs);
	return NULL;
}

static int
is_familiar(const struct member *m, const char *source, int64_t now)
{
	char id[LOCKOUT_SOURCE_ID_LEN + 1];
	int64_t when;
	const char *v;
	size_t i;

	if (m->soc == NULL)
		return 0;
	for (i = 0; (v = member_value_at(m, MA_FAMILIAR_SOURCE, i)) != NULL; i++)
		if (lockout_familiar_parse(v, id, &when) == 0 && strcmp(id, source) == 0 &&
		    now < when + (int64_t)m->soc->familiar_validity * 1000)
			return 1;
	return 0;
}

void
attempt_view(const struct member *m, const char *source, int64_t now, struct lockout_view *v)
{
	memset(v, 0, sizeof *v);
	v->familiar = is_familiar(m, source, now);
	if (v->familiar) {
		v->own.failures = member_count(m, MA_FAILURES);
		v->own.last = member_time(m, MA_FAIL_TIME);
		v->own.locked_until = member_time(m, MA_LOCKED_UNTIL);
	} else {
		(void)find_source(m, source, &v->own);
	}
	v->pool.failures = member_count(m, MA_UNFAMILIAR_FAILURES);
	v->pool.last = member_time(m, MA_UNFAMILIAR_FAIL_TIME);
	v->pool.locked_until = member_time(m, MA_UNFAMILIAR_LOCKED_UNTIL);
}

/* An administrator's lock through ppolicy: pwdAccountLockedTime
 * 000001010000Z locks until removed (*secs 0); another time locks for
 * lockout_duration from then, as ppolicy would with pwdLockoutDuration. */
static int
admin_locked(const struct member *m, int64_t now, long *secs)
{
	const char *v = member_get(m, MA_PWD_LOCKED);
	int64_t t;

	if (v == NULL)
		return 0;
	if (strcmp(v, PWDLOCK_FOREVER) == 0 || (t = member_time(m, MA_PWD_LOCKED)) == 0) {
		*secs = 0;
		return 1;
	}
	t += m->soc->lockout_duration * 1000;
	if (t <= now)
		return 0;
	*secs = kenpo_ms_to_secs(t - now);
	return 1;
}

/* The entry whose state counts: the member, or the failure entry (which
 * may not exist yet: then no failures). */
static const struct member *
holder(const struct attempt *a)
{
	return a->known ? &a->m : &a->fail;
}

int
attempt_check(const struct attempt *a, long *secs)
{
	const struct kenpo_society *soc = a->known ? a->m.soc : first_society(a);
	struct lockout_view v;

	if (a->known && admin_locked(&a->m, a->now, secs))
		return KENPO_RES_LOCKED;
	if (holder(a)->e == NULL) {
		memset(&v, 0, sizeof v);
	} else {
		attempt_view(holder(a), a->source, a->now, &v);
		/* A failure entry's settings are the first society's. */
		v.familiar = v.familiar && a->known;
	}
	return lockout_view_check(&v, soc, a->now, secs);
}

/* ---- writing the state ---- */

static void
set_state(struct member_change *c, const struct member *m, enum member_attr n,
	  enum member_attr last, enum member_attr locked, const struct failstate *fs)
{
	if (fs->failures == 0 && fs->locked_until == 0) {
		member_set(c, m, n, NULL);
		member_set(c, m, last, NULL);
		member_set(c, m, locked, NULL);
		return;
	}
	member_set_count(c, m, n, fs->failures);
	member_set_time(c, m, last, fs->last, 1);
	if (fs->locked_until != 0)
		member_set_time(c, m, locked, fs->locked_until, 1);
	else
		member_set(c, m, locked, NULL);
}

/* Drop source values that hold nothing any more, at most a few, and the
 * oldest when `adding` one more would pass LOCKOUT_SOURCES_MAX. */
static void
drop_old_sources(struct member_change *c, const struct member *m, const char *keep, int adding,
		 int64_t now)
{
	struct lockout_rule r = lockout_rule_of(m->soc, LOCKOUT_OWN);
	char id[LOCKOUT_SOURCE_ID_LEN + 1];
	const char *v, *oldest = NULL;
	struct failstate fs;
	int64_t oldest_t = INT64_MAX;
	size_t i, n = 0, dropped = 0;

	for (i = 0; (v = member_value_at(m, MA_AUTH_SOURCE, i)) != NULL; i++) {
		if (lockout_source_parse(v, id, &fs) == 0 && strcmp(id, keep) == 0)
			continue;
		if (dropped < STALE_DROPS_MAX &&
		    (lockout_source_parse(v, id, &fs) != 0 ||
		     (lockout_failures_now(&fs, &r, now) == 0 && fs.locked_until <= now))) {
			member_delete(c, MA_AUTH_SOURCE, v);
			dropped++;
			continue;
		}
		n++;
		if (fs.last < oldest_t) {
			oldest_t = fs.last;
			oldest = v;
		}
	}
	if (adding && n + 1 > LOCKOUT_SOURCES_MAX && oldest != NULL)
		member_delete(c, MA_AUTH_SOURCE, oldest);
}

/* Write the view of source back into m's entry. */
static void
write_view(struct member_change *c, const struct member *m, const char *source,
	   const struct lockout_view *v, int64_t now)
{
	char value[LOCKOUT_VALUE_MAX];
	struct failstate old;
	const char *was;

	if (v->familiar) {
		set_state(c, m, MA_FAILURES, MA_FAIL_TIME, MA_LOCKED_UNTIL, &v->own);
		return;
	}
	was = find_source(m, source, &old);
	value[0] = '\0';
	if ((v->own.failures > 0 || v->own.locked_until != 0) &&
	    lockout_source_format(source, &v->own, value, sizeof value) != 0)
		c->err = 1;
	if (was == NULL || strcmp(was, value) != 0) {
		if (was != NULL)
			member_delete(c, MA_AUTH_SOURCE, was);
		if (value[0] != '\0')
			member_add(c, MA_AUTH_SOURCE, value);
	}
	drop_old_sources(c, m, source, was == NULL && value[0] != '\0', now);
	set_state(c, m, MA_UNFAMILIAR_FAILURES, MA_UNFAMILIAR_FAIL_TIME,
		  MA_UNFAMILIAR_LOCKED_UNTIL, &v->pool);
}

void
attempt_change_right(struct member_change *c, const struct member *m, const char *source,
		     int64_t now)
{
	struct lockout_view v;

	attempt_view(m, source, now, &v);
	lockout_view_right(&v);
	write_view(c, m, source, &v, now);
}

void
attempt_change_failure(struct member_change *c, const struct member *m, const char *source,
		       int64_t now)
{
	struct lockout_view v;

	attempt_view(m, source, now, &v);
	lockout_view_fail(&v, m->soc, now);
	write_view(c, m, source, &v, now);
}

/* Keep source familiar as of now: the oldest of more than
 * LOCKOUT_FAMILIAR_MAX, and any past familiar_validity, are dropped. */
static void
remember_familiar(struct member_change *c, const struct member *m, const char *source,
		  int64_t now)
{
	char id[LOCKOUT_SOURCE_ID_LEN + 1], value[LOCKOUT_VALUE_MAX];
	const char *v, *oldest = NULL;
	int64_t when, oldest_t = INT64_MAX, keep = (int64_t)m->soc->familiar_validity * 1000;
	size_t i, n = 0;

	if (lockout_familiar_format(source, now, value, sizeof value) != 0) {
		c->err = 1;
		return;
	}
	for (i = 0; (v = member_value_at(m, MA_FAMILIAR_SOURCE, i)) != NULL; i++) {
		if (lockout_familiar_parse(v, id, &when) != 0 || strcmp(id, source) == 0 ||
		    now >= when + keep) {
			if (strcmp(v, value) != 0)
				member_delete(c, MA_FAMILIAR_SOURCE, v);
			continue;
		}
		n++;
		if (when < oldest_t) {
			oldest_t = when;
			oldest = v;
		}
	}
	if (n + 1 > LOCKOUT_FAMILIAR_MAX && oldest != NULL)
		member_delete(c, MA_FAMILIAR_SOURCE, oldest);
	if (!member_has(m, MA_FAMILIAR_SOURCE, value))
		member_add(c, MA_FAMILIAR_SOURCE, value);
}

void
attempt_change_completed(struct member_change *c, const struct member *m, const char *source,
			 int64_t now, int counted)
{
	struct lockout_view v;
	struct failstate fs;
	const char *slot;

	attempt_view(m, source, now, &v);
	if (v.familiar) {
		memset(&fs, 0, sizeof fs);
		set_state(c, m, MA_FAILURES, MA_FAIL_TIME, MA_LOCKED_UNTIL, &fs);
	} else if (counted && v.pool.failures > 0) {
		v.pool.failures--;
		set_state(c, m, MA_UNFAMILIAR_FAILURES, MA_UNFAMILIAR_FAIL_TIME,
			  MA_UNFAMILIAR_LOCKED_UNTIL, &v.pool);
	}
	slot = find_source(m, source, &fs);
	if (slot != NULL)
		member_delete(c, MA_AUTH_SOURCE, slot);
	remember_familiar(c, m, source, now);
}

void
attempt_change_clear(struct member_change *c, const struct member *m)
{
	static const enum member_attr single[] = {
		MA_FAILURES,
		MA_FAIL_TIME,
		MA_LOCKED_UNTIL,
		MA_UNFAMILIAR_FAILURES,
		MA_UNFAMILIAR_FAIL_TIME,
		MA_UNFAMILIAR_LOCKED_UNTIL,
		MA_KEY_FAILURES,
		MA_KEY_FAIL_WINDOW,
	};
	size_t i;

	for (i = 0; i < sizeof single / sizeof single[0]; i++)
		member_set(c, m, single[i], NULL);
	if (member_nvalues(m, MA_AUTH_SOURCE) > 0)
		member_delete(c, MA_AUTH_SOURCE, NULL);
}

/* ---- counting before the verification ---- */

struct count_ctx {
	struct attempt *a;
	long secs;
};

unsigned
attempt_locks_begun(const struct lockout_view *before, const struct lockout_view *after,
		    int64_t now)
{
	unsigned locks = 0;

	if (after->own.locked_until > now && before->own.locked_until <= now)
		locks |= ATTEMPT_LOCK_OWN;
	if (after->pool.locked_until > now && before->pool.locked_until <= now)
		locks |= ATTEMPT_LOCK_POOL;
	return locks;
}

static int
build_count(const struct member *m, struct member_change *c, void *ctx)
{
	struct count_ctx *k = ctx;
	struct lockout_view v, before;
	int rc;

	attempt_view(m, k->a->source, k->a->now, &v);
	rc = lockout_view_check(&v, m->soc, k->a->now, &k->secs);
	if (rc != KENPO_RES_OK)
		return rc;
	before = v;
	lockout_view_fail(&v, m->soc, k->a->now);
	k->a->locks = attempt_locks_begun(&before, &v, k->a->now);
	write_view(c, m, k->a->source, &v, k->a->now);
	/* The key is the society's policy now: the old per-member switch
	 * goes at the member's next login. */
	member_set(c, m, MA_KEY_REQUIRED, NULL);
	return KENPO_RES_OK;
}

/* When a failure entry holds nothing any more. */
static int64_t
failure_end(const struct lockout_view *v, const struct kenpo_society *soc)
{
	int64_t dur = (int64_t)soc->lockout_duration * 1000, end = v->own.last + dur;

	if (v->pool.last + dur > end)
		end = v->pool.last + dur;
	if (v->own.locked_until > end)
		end = v->own.locked_until;
	if (v->pool.locked_until > end)
		end = v->pool.locked_until;
	return end;
}

/* A new failure entry holding v. */
static enum myldap_rc
failure_add(struct attempt *a, const struct lockout_view *v)
{
	const struct kenpo_society *soc = first_society(a);
	char dn[DN_MAX], end[KENPO_GENTIME_MAX], value[LOCKOUT_VALUE_MAX], n[16];
	char last[KENPO_GENTIME_MAX], locked[KENPO_GENTIME_MAX];
	struct myldap_mod at[8];
	size_t k = 0;

	if (snprintf(dn, sizeof dn, KENPO_AT_RATE_KEY "=%s," KENPO_RDN_RATES ",%s", a->rate_key,
		     soc->base) >= (int)sizeof dn ||
	    kenpo_gentime_format(failure_end(v, soc), 0, end, sizeof end) != 0 ||
	    lockout_source_format(a->source, &v->own, value, sizeof value) != 0 ||
	    kenpo_gentime_format(v->pool.last, 1, last, sizeof last) != 0 ||
	    kenpo_gentime_format(v->pool.locked_until, 1, locked, sizeof locked) != 0)
		return MYLDAP_ERROR;
	(void)snprintf(n, sizeof n, "%u", v->pool.failures);
	at[k++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_OBJECTCLASS,
				       KENPO_OC_LOGIN_FAILURES };
	at[k++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_RATE_KEY, a->rate_key };
	at[k++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_RATE_WINDOW, end };
	at[k++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_AUTH_SOURCE, value };
	at[k++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_UNFAMILIAR_FAILURES, n };
	at[k++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_UNFAMILIAR_FAIL_TIME, last };
	if (v->pool.locked_until != 0)
		at[k++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_UNFAMILIAR_LOCKED_UNTIL,
					       locked };
	return myldap_add(a->rq->ld, dn, at, k);
}

/* One failure more in the failure entry, written over what was read. */
static enum myldap_rc
failure_write(struct attempt *a, const struct lockout_view *v)
{
	struct member_change c;

	if (a->fail.e == NULL)
		return failure_add(a, v);
	member_change_init(&c);
	write_view(&c, &a->fail, a->source, v, a->now);
	member_set_time(&c, &a->fail, MA_RATE_WINDOW, failure_end(v, first_society(a)), 0);
	return member_apply(a->rq, &a->fail, &c);
}

static int
count_unknown(struct attempt *a, long *secs)
{
	const struct kenpo_society *soc = first_society(a);
	char filter[FILTER_MAX];
	struct lockout_view v, before;
	int attempt, rc;

	for (attempt = 0; attempt < MEMBER_UPDATE_TRIES; attempt++) {
		memset(&v, 0, sizeof v);
		if (a->fail.e != NULL)
			attempt_view(&a->fail, a->source, a->now, &v);
		v.familiar = 0;
		rc = lockout_view_check(&v, soc, a->now, secs);
		if (rc != KENPO_RES_OK)
			return rc;
		before = v;
		lockout_view_fail(&v, soc, a->now);
		a->locks = attempt_locks_begun(&before, &v, a->now);
		switch (failure_write(a, &v)) {
		case MYLDAP_OK:
			return KENPO_RES_OK;
		case MYLDAP_UNAVAIL:
			return KENPO_RES_UNAVAIL;
		case MYLDAP_ERROR:
			return KENPO_RES_INTERNAL;
		case MYLDAP_CHANGED:
			break;
		}
		member_release(&a->fail);
		if (failure_filter(a, filter, sizeof filter) != 0)
			return KENPO_RES_INTERNAL;
		rc = member_find(a->rq, soc, filter, &a->fail);
		if (rc != KENPO_RES_OK && rc != KENPO_RES_NOTFOUND)
			return rc;
	}
	log_msg(LOG_WARNING, "the failure entry kept changing; giving up");
	return KENPO_RES_UNAVAIL;
}

int
attempt_count(struct attempt *a, long *secs)
{
	struct count_ctx k = { a, 0 };
	int rc;

	if (!a->known)
		return count_unknown(a, secs);
	rc = member_update(a->rq, &a->m, build_count, &k);
	*secs = k.secs;
	return rc;
}
