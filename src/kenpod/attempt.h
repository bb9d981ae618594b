/*
 * attempt.h - the failure state of a login attempt in the directory: where
 * it lives, counting a failure before the password is verified, and the
 * changes a right password, a wrong key or a completed login make to it.
 * lockout.h holds the arithmetic; auth.c the policy.
 *
 * Where the state lives.  A member's: in the member's entry (the familiar
 * state in kenpoAuthFailures, kenpoAuthFailTime, kenpoLockedUntil; each
 * unfamiliar source in a value of kenpoAuthSource, at most
 * LOCKOUT_SOURCES_MAX, the oldest dropped first; the pool in
 * kenpoUnfamiliar*).  A login ID that names no member: in an entry
 * kenpoRateKey=login:<keyed hash of the lower-cased ID>,ou=rates under
 * the first society, with the same source and pool attributes and
 * kenpoRateWindow set to when it no longer holds anything, where every
 * kenpod host sees it.  Its search is part of the member's (one search
 * either way), and counting writes one entry either way, so that the
 * directory's work does not tell the two apart; it follows the lockout
 * settings of the first society.
 *
 * A source is the keyed hash of PAM_RHOST or of the address a portal
 * passes, in lower case ("" when there is none: a console, su).
 */
#ifndef KENPOD_ATTEMPT_H
#define KENPOD_ATTEMPT_H

#include <stddef.h>
#include <stdint.h>

#include "lockout.h"
#include "member.h"

struct request;

#define ATTEMPT_RATE_KEY_MAX 80
#define ATTEMPT_SOURCE_MAX 255 /* bytes of a source hashed */

struct attempt {
	struct request *rq;
	int64_t now;
	char source[LOCKOUT_SOURCE_ID_LEN + 1];
	int known; /* m is the member named */
	struct member m;
	struct member fail; /* else its failure entry (e NULL: none yet) */
	char rate_key[ATTEMPT_RATE_KEY_MAX];
	unsigned locks; /* ATTEMPT_LOCK_* that attempt_count began */
};

#define ATTEMPT_LOCK_OWN 0x1  /* the member's own state, or the source's */
#define ATTEMPT_LOCK_POOL 0x2 /* all unfamiliar sources */

/* The source id of rhost (len bytes; longer ones are cut). 0 or -1. */
int attempt_source_id(const struct request *rq, const char *rhost, size_t len,
		      char out[LOCKOUT_SOURCE_ID_LEN + 1]);

/* Look the login ID up, with its failure entry when it names no member.
 * OK (a->known tells which), UNAVAIL or INTERNAL.  attempt_end releases
 * what it holds, on every path. */
int attempt_begin(struct attempt *a, struct request *rq, const char *login, size_t len,
		  const char *rhost, size_t rhost_len, int64_t now);
void attempt_end(struct attempt *a);

/* Which ATTEMPT_LOCK_* going from `before` to `after` began. */
unsigned attempt_locks_begun(const struct lockout_view *before, const struct lockout_view *after,
			     int64_t now);

/* Whether an attempt may be made now, before anything is verified:
 * OK, or LOCKED or DELAY with *secs.  An administrator's lock
 * (pwdAccountLockedTime) counts for members. */
int attempt_check(const struct attempt *a, long *secs);

/* Count one failure now, before the password is verified, so that
 * attempts in parallel cannot pass the delay: OK, or LOCKED or DELAY
 * (*secs) when others counted first, NOTFOUND (the member went away),
 * UNAVAIL, INTERNAL.  A member is re-read on a concurrent change, and so
 * is a failure entry. */
int attempt_count(struct attempt *a, long *secs);

/* ---- the changes of a member's entry (inside member_update builds) ---- */

/* The view of source at now in m (lockout.h). */
void attempt_view(const struct member *m, const char *source, int64_t now,
		  struct lockout_view *v);
/* The password proved right: the failure counted before it is taken back. */
void attempt_change_right(struct member_change *c, const struct member *m, const char *source,
			  int64_t now);
/* One failure more from source: a wrong key. */
void attempt_change_failure(struct member_change *c, const struct member *m, const char *source,
			    int64_t now);
/* A completed login from source: it becomes familiar (the oldest of more
 * than LOCKOUT_FAMILIAR_MAX, and any past familiar_validity, are
 * dropped), its unfamiliar state goes, and a familiar one's own state
 * starts afresh.  `counted`: a failure was counted for this login before
 * its password was verified (attempt_count), and is taken back. */
void attempt_change_completed(struct member_change *c, const struct member *m, const char *source,
			      int64_t now, int counted);
/* Everything the member's failures hold, as kenpo-admin unlock clears it. */
void attempt_change_clear(struct member_change *c, const struct member *m);

#endif
