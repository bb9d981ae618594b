/*
 * lockout.h - the arithmetic of failed logins: growing delays, locks,
 * sources familiar and unfamiliar, and wrong keys (auth.c explains the
 * policy and where the state lives).
 *
 * A failure state counts failures with the time of the last one.  Under
 * a rule with delays, from the LOCKOUT_DELAY_AFTER-th consecutive failure
 * on, further attempts are refused for 2^(n - LOCKOUT_DELAY_AFTER) seconds
 * after the last failure, capped at a minute and at the rule's duration;
 * at the rule's count (0: never) the state is locked for the duration.
 * Failures older than the duration, or from before a lock that has run
 * out, no longer count.
 *
 * Smart lockout (after Microsoft Entra's: a member who logs in from where
 * they did before is not locked out by someone guessing elsewhere):
 *   - a familiar source, one from which the member completed a login
 *     lately, counts its failures on the member's own state
 *     (lockout_failures, lockout_duration, delays);
 *   - every other source counts on a state of its own (the same rule), so
 *     one source guessing delays and locks only itself,
 *   - and on the pool of all unfamiliar sources (lockout_unfamiliar_failures,
 *     no delays), whose lock stops every unfamiliar source: this bounds
 *     what many sources can guess together.
 * Wrong keys count as failures there too, and besides in a window of a
 * day (key_failures_per_day), whose end the key step waits for when full:
 * that bounds the guessing of keys by someone who knows the password.
 *
 * Everything here is a pure function of the state, the settings and the
 * time, so the member's entry, the entry of an unknown login ID and the
 * unit tests follow the same rules.  Times are milliseconds since the
 * epoch; 0 is "never".
 */
#ifndef KENPOD_LOCKOUT_H
#define KENPOD_LOCKOUT_H

#include <stddef.h>
#include <stdint.h>

struct kenpo_society;

#define LOCKOUT_DELAY_AFTER 3 /* failures before delays start */
#define LOCKOUT_DELAY_CAP_MS 60000
#define LOCKOUT_SOURCE_ID_LEN 16 /* hex of the keyed hash naming a source */
#define LOCKOUT_SOURCES_MAX 8    /* unfamiliar sources kept per account */
#define LOCKOUT_FAMILIAR_MAX 8   /* familiar sources kept per member */
#define LOCKOUT_VALUE_MAX 80     /* longest stored source value, NUL included */
#define LOCKOUT_KEY_WINDOW_MS (24LL * 3600 * 1000)

struct failstate {
	unsigned failures;
	int64_t last; /* time of the last failure */
	int64_t locked_until;
};

/* How a failure state counts. */
struct lockout_rule {
	unsigned failures;   /* the lock comes at this count; 0: never */
	int64_t duration_ms; /* of the lock, and how long failures count */
	int delays;          /* growing delays from LOCKOUT_DELAY_AFTER on */
};

enum lockout_kind {
	LOCKOUT_OWN,  /* a member's own, or one source's */
	LOCKOUT_POOL, /* all unfamiliar sources together */
};

/* The rule of a society for a kind of state. */
struct lockout_rule lockout_rule_of(const struct kenpo_society *soc, enum lockout_kind kind);

/* The failures that still count at now. */
unsigned lockout_failures_now(const struct failstate *fs, const struct lockout_rule *r,
			      int64_t now);

/* The delay after the last of n failures, in milliseconds (0 below
 * LOCKOUT_DELAY_AFTER, or without delays). */
int64_t lockout_delay_ms(unsigned n, const struct lockout_rule *r);

/* KENPO_RES_LOCKED or KENPO_RES_DELAY with the seconds to wait in *secs
 * (rounded up), or KENPO_RES_OK when an attempt may be made now. */
int lockout_check(const struct failstate *fs, const struct lockout_rule *r, int64_t now,
		  long *secs);

/* The state after one more failure at now. */
void lockout_fail(struct failstate *fs, const struct lockout_rule *r, int64_t now);

/* ---- sources ---- */

/* What one login attempt is counted on: the member's own state when the
 * source is familiar, else the source's state and the pool. */
struct lockout_view {
	int familiar;
	struct failstate own; /* the member's (familiar) or the source's */
	struct failstate pool;
};

/* Whether an attempt from this view may be made now: as lockout_check,
 * the longer wait of the states that apply. */
int lockout_view_check(const struct lockout_view *v, const struct kenpo_society *soc, int64_t now,
		       long *secs);
/* One more failure from this view. */
void lockout_view_fail(struct lockout_view *v, const struct kenpo_society *soc, int64_t now);
/* Undo the failure counted before a password that proved right: the own
 * state starts afresh, the pool loses that one. */
void lockout_view_right(struct lockout_view *v);

/* A stored source state "ID:FAILURES:LAST:LOCKED" (times in ms) and a
 * familiar source "ID:WHEN".  The parsers return 0, or -1 for a value
 * kenpod did not write (it is then dropped); the formatters 0 or -1 when
 * out is too small. */
int lockout_source_parse(const char *v, char id[LOCKOUT_SOURCE_ID_LEN + 1], struct failstate *fs);
int lockout_source_format(const char *id, const struct failstate *fs, char *out, size_t outsz);
int lockout_familiar_parse(const char *v, char id[LOCKOUT_SOURCE_ID_LEN + 1], int64_t *when);
int lockout_familiar_format(const char *id, int64_t when, char *out, size_t outsz);

/* ---- keys ---- */

/* Wrong keys in the current window of a day. */
struct keystate {
	unsigned failures;
	int64_t window; /* when the window started */
};

/* The wrong keys that count at now. */
unsigned lockout_key_failures_now(const struct keystate *ks, int64_t now);
/* KENPO_RES_LOCKED with *secs until the window ends when key_failures_per_day
 * wrong keys were given in it, else KENPO_RES_OK. */
int lockout_key_check(const struct keystate *ks, const struct kenpo_society *soc, int64_t now,
		      long *secs);
void lockout_key_fail(struct keystate *ks, int64_t now);

/* ---- what the rules allow an attacker ---- */

/* Password guesses a day against one account by an attacker at full
 * speed with no login of the member in between: from familiar sources
 * (the member's own state) and from any number of unfamiliar ones (the
 * pool).  Computed by running the rules above, not by a formula. */
struct lockout_bound {
	unsigned long familiar_per_day;
	unsigned long unfamiliar_per_day;
};
void lockout_guesses_per_day(const struct kenpo_society *soc, struct lockout_bound *b);
/* Wrong keys a year against one account by an attacker who knows the
 * password, at full speed, counting only the key window (the other
 * limits only lower it): key_failures_per_day per window, windows no
 * closer than a day, in 366 days. */
unsigned long lockout_key_guesses_per_year(const struct kenpo_society *soc);

#endif
