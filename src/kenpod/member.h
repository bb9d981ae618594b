/*
 * member.h - a member entry, found by login ID, by DN or by a filter, and
 * changes to it.
 *
 * One search reads every attribute that authentication and self-service
 * need (the table in member.c), so that a request costs one search and at
 * most one modify in the common case.  Changes are optimistic (see
 * myldap.h): a value that was read is changed by deleting exactly that
 * value and adding the new one, so a concurrent change by another worker
 * or another kenpod host makes the modify fail as a whole (MYLDAP_CHANGED)
 * instead of being lost; the caller then reads the entry again and
 * decides anew.  That needs both changes to reach one server: a provider
 * accepts a modify built on its own copy even when another provider took
 * a conflicting one a moment before, and replication then keeps only one
 * of them.  Reads that decide such a change and the change itself
 * therefore go to the write provider (myldap.h).
 */
#ifndef KENPOD_MEMBER_H
#define KENPOD_MEMBER_H

#include <stddef.h>
#include <stdint.h>

#include "myldap.h"

struct request;
struct kenpo_society;

/* The attributes read, in the order of the search (member.c names them). */
enum member_attr {
	MA_UID, /* the canonical login ID */
	MA_UIDNUMBER,
	MA_STATE, /* issued | registered */
	MA_DISABLED,
	MA_MAIL1,
	MA_KEY_REQUIRED, /* obsolete: only deleted (attempt.c) */
	MA_PASSWORD,     /* userPassword, {ARGON2} */
	MA_KEY_HASH,
	MA_KEY_EXPIRY,
	MA_KEY_TRIES,
	MA_KEY_SENT_AT,
	MA_KEY_TXN,
	MA_TEMP_PASSWORD,
	MA_TEMP_EXPIRY,
	MA_TEMP_TRIES,
	MA_MUST_CHANGE,
	MA_FAILURES,
	MA_FAIL_TIME,
	MA_LOCKED_UNTIL,
	MA_LAST_LOGIN,
	MA_PWD_LOCKED, /* ppolicy's pwdAccountLockedTime */
	MA_PWD_RESET,  /* ppolicy's pwdReset: TRUE forces a change, as MA_MUST_CHANGE */
	/* self-service: the profile, the roster, registration */
	MA_NICKNAME,
	MA_MAIL2,
	MA_MAIL3,
	MA_NOTIFY_MEDICAL,
	MA_NOTIFY_GENERIC,
	MA_NOTIFY_MAGAZINE,
	MA_NOTIFY_DOCUMENTS,
	MA_NOTIFY_APPLICATIONS,
	MA_DISCLOSE_MEDICAL,
	MA_DISCLOSE_GENERIC,
	MA_OBJECTCLASS, /* multi-valued */
	MA_NUMBER,      /* kenpoMemberNumber */
	MA_ROSTER_MAIL,
	/* the rest of posixAccount, written when a member registers */
	MA_GIDNUMBER,
	MA_HOME,
	MA_SHELL,
	MA_KEY_MAIL, /* 1, 2 or 3: which address receives the key; absent: 1 */
	/* smart lockout (lockout.h); a login ID without a member keeps the
	 * source attributes in a kenpoLoginFailures entry */
	MA_AUTH_SOURCE,     /* multi-valued: unfamiliar sources' failures */
	MA_FAMILIAR_SOURCE, /* multi-valued: sources of completed logins */
	MA_UNFAMILIAR_FAILURES,
	MA_UNFAMILIAR_FAIL_TIME,
	MA_UNFAMILIAR_LOCKED_UNTIL,
	MA_KEY_FAILURES,
	MA_KEY_FAIL_WINDOW,
	MA_KEY_MAILS,
	MA_KEY_MAIL_WINDOW,
	MA_KEY_SOURCE,
	MA_LOGIN_HISTORY, /* multi-valued */
	MA_RATE_KEY,      /* of a kenpoLoginFailures entry */
	MA_RATE_WINDOW,
	MA_COUNT
};

/* The attributes of a household member (a child entry of the member). */
enum household_attr {
	HA_INDEX, /* "01".."99" */
	HA_NICKNAME,
	HA_DISCLOSE_MEDICAL,
	HA_DISCLOSE_GENERIC,
	HA_COUNT
};

#define MEMBER_DN_MAX 512
#define MEMBER_HOUSEHOLD_MAX 99
/* Reads of an entry that keeps changing: every attempt at a login is
 * counted in the member's entry before its password is verified, so as
 * many requests as kenpod has workers (on every host) may race for it. */
#define MEMBER_UPDATE_TRIES 16

struct member {
	const struct kenpo_society *soc;
	struct myldap_result *res; /* owns the entry */
	const struct myldap_entry *e;
	uint32_t uid; /* uidNumber, 0 if none */
};

/* Whether len bytes could be a login ID at all: 1 to KENPO_LOGIN_ID_MAX
 * of [A-Za-z0-9._-].  Looser than the policy for new IDs, so that IDs made
 * under older rules still resolve; anything else is answered without a
 * search. */
int member_login_plausible(const char *s, size_t len);

/*
 * Find the member whose uid is `login` (len bytes, any case: uid matches
 * without regard to case) in soc, or in every society when soc is NULL.
 * A kenpo_result: OK with *m filled (release it with member_release),
 * NOTFOUND (nobody, or the same login ID twice, which is logged), UNAVAIL,
 * INTERNAL.  A login that cannot be a login ID at all is NOTFOUND without
 * a search.
 */
int member_load(struct request *rq, const struct kenpo_society *soc, const char *login,
		size_t len, struct member *m);
/* The member entry `dn`, in whichever society holds it.  As member_load. */
int member_load_dn(struct request *rq, const char *dn, struct member *m);
/*
 * As member_load in every society, and in the same search of the first
 * society the entry of its ou=rates that `also` (a filter) matches: when
 * the login ID names no member, *also_entry is that entry (its e NULL
 * when there is none) and the result is NOTFOUND.  So a login ID that
 * names no member costs the same searches as one that does.  Release
 * both with member_release.
 */
int member_load_also(struct request *rq, const char *login, size_t len, const char *also,
		     struct member *m, struct member *also_entry);
/* The single member of soc that `filter` matches.  As member_load; several
 * matches are logged and NOTFOUND. */
int member_find(struct request *rq, const struct kenpo_society *soc, const char *filter,
		struct member *m);
/* Every member of soc that `filter` matches, at most limit, into *res
 * (free it with myldap_result_free); member_of makes one of its entries a
 * member that does not own the result.  A kenpo_result. */
int member_search(struct request *rq, const struct kenpo_society *soc, const char *filter,
		  size_t limit, struct myldap_result **res);
void member_of(const struct kenpo_society *soc, const struct myldap_entry *e, struct member *m);
void member_release(struct member *m);

/* The society whose subtree holds dn, or NULL. */
const struct kenpo_society *member_society_of_dn(const struct request *rq, const char *dn);

/* The directory's name of an attribute ("kenpoMail1"). */
const char *member_attr_name(enum member_attr a);

/* The value of an attribute, or NULL when absent. */
const char *member_get(const struct member *m, enum member_attr a);
/* The values of a multi-valued attribute: their number, and the i-th. */
size_t member_nvalues(const struct member *m, enum member_attr a);
const char *member_value_at(const struct member *m, enum member_attr a, size_t i);
/* Whether any value of a equals value without regard to case. */
int member_has(const struct member *m, enum member_attr a, const char *value);
/* A Boolean attribute: 1 for TRUE, 0 for FALSE, dflt when absent or invalid. */
int member_flag(const struct member *m, enum member_attr a, int dflt);
/* An INTEGER attribute within 0..1000000, or 0 when absent or invalid. */
unsigned member_count(const struct member *m, enum member_attr a);
/* A GeneralizedTime attribute (gentime.h) in milliseconds since the epoch,
 * or 0 when absent or invalid (invalid values are logged). */
int64_t member_time(const struct member *m, enum member_attr a);

/* ---- changes ---- */

/* The longest value a change holds: a home directory made from the
 * template, a nickname of 64 characters in UTF-8, a password hash. */
#define MEMBER_VALUE_MAX 512

struct member_change {
	struct myldap_mod mods[MYLDAP_MODS_MAX];
	char vals[MYLDAP_MODS_MAX][MEMBER_VALUE_MAX];
	enum member_attr attrs[MYLDAP_MODS_MAX];
	size_t n;
	int err;               /* too many changes or a value too long */
	int passwd;            /* an attribute that passwd shows is changed */
	const char *new_login; /* the login ID set, in vals, or NULL */
	int as_read;           /* leave the entry in memory as it was read: the
			     * caller tells the old values after the change */
};

void member_change_init(struct member_change *c);
/* Set a to value (NULL: remove it), optimistically: delete the value that
 * was read (if any) and add the new one.  Nothing when they are equal. */
void member_set(struct member_change *c, const struct member *m, enum member_attr a,
		const char *value);
void member_set_count(struct member_change *c, const struct member *m, enum member_attr a,
		      unsigned value);
void member_set_time(struct member_change *c, const struct member *m, enum member_attr a,
		     int64_t t, int with_ms);
/* Delete exactly this value of a (NULL: the whole attribute), e.g. to take
 * back what this request wrote, and nothing that someone wrote since. */
void member_delete(struct member_change *c, enum member_attr a, const char *value);
/* Replace whatever a holds (last writer wins): for values that are not
 * read-modify-write, a new password hash or the time of this login. */
void member_replace(struct member_change *c, enum member_attr a, const char *value);
/* Add a value to a (an object class; fails as a whole if it is there). */
void member_add(struct member_change *c, enum member_attr a, const char *value);

/*
 * Send the changes as one modify (none: nothing is sent).  A myldap_rc:
 * MYLDAP_CHANGED means nothing was changed because the entry changed
 * since it was read.  On success *m shows the entry as written (when m
 * owns its entry: member_load, member_load_dn, member_find, and the
 * change is not as_read), so that a later change of the same request
 * builds on what this one wrote.  On success kenpod's passwd cache forgets the member
 * when the change touched what passwd shows (uid, uidNumber, state,
 * disabled, nickname, member number): keys, failures and login times, the
 * changes of every login, leave the cache and the member list alone.
 */
enum myldap_rc member_apply(struct request *rq, const struct member *m, struct member_change *c);

/* ---- updates with re-reads ---- */

/* Build the change from the entry as read: KENPO_RES_OK to apply it, or
 * another result to stop without changing anything. */
typedef int member_build_fn(const struct member *m, struct member_change *c, void *ctx);

/*
 * Apply what build makes of the entry; when the entry changed since it was
 * read (MYLDAP_CHANGED), read it again and build anew, at most
 * MEMBER_UPDATE_TRIES times.  The entry is read again by its login ID when
 * it had one, else by its DN.  A kenpo_result: OK, the result of build,
 * NOTFOUND (the member went away or lost that login ID), UNAVAIL (also
 * when the entry keeps changing) or INTERNAL.  *m is the entry as last
 * read (released and empty after a failed read).
 */
int member_update(struct request *rq, struct member *m, member_build_fn *build, void *ctx);

/* ---- login IDs and uid numbers ---- */

/* Whether a member other than self_dn (NULL: anybody) holds the login ID,
 * in any society and without regard to case, into *taken.  A kenpo_result. */
int member_login_taken(struct request *rq, const char *login, const char *self_dn, int *taken);

/* Take the next uidNumber of the society from its counter (uid.h).  A
 * kenpo_result: OK with *uid, UNAVAIL, INTERNAL (no counter, or the
 * society's range is used up: logged). */
int member_uid_take(struct request *rq, const struct kenpo_society *soc, unsigned long *uid);

/* ---- the household ---- */

/* The directory's name of a household attribute. */
const char *member_household_attr_name(enum household_attr a);
/* The household entries of a member, at most MEMBER_HOUSEHOLD_MAX, with
 * the attributes of enum household_attr, into *res (free it with
 * myldap_result_free).  A kenpo_result. */
int member_household_read(struct request *rq, const struct member *m, struct myldap_result **res);
/* The entry of household index idx ("01".."99") in hh, or NULL. */
const struct myldap_entry *member_household_find(const struct myldap_result *hh, const char *idx);
/* Replace attribute a of a household entry by value (NULL: remove it).  A
 * kenpo_result: NOTFOUND when the entry is gone. */
int member_household_set(struct request *rq, const struct myldap_entry *e, enum household_attr a,
			 const char *value);

#endif
