/*
 * myldap.h - kenpod's connection to the directory.
 *
 * This is the only part of kenpod that calls ldap_* (with the shared
 * connection policy of src/directory/ldapconn.c); nothing of libldap leaks
 * through this header.  Each worker thread owns one session (one
 * connection, bound with the service credential: a simple bind with
 * bind_dn and the password, or SASL EXTERNAL when bind_dn is empty).
 *
 * A session sends each operation by one of two routes (myldap_session_route):
 *   MYLDAP_NEAREST  the first server of ldap_uri that answers: passwd
 *                   lookups, which any replica may answer;
 *   MYLDAP_WRITER   the write provider: the first server of write_uri that
 *                   answers, the same for every worker and, by the same rule
 *                   over the same list, for every host (provider.h).  It is
 *                   kept until it fails; then the first other server of the
 *                   list that answers takes over, for every worker, and the
 *                   switch is logged with both URIs.  A thread checks every
 *                   write_failback_interval whether an earlier server answers
 *                   again and holds every change (contextCSN), and goes back
 *                   to it.  With write_failover = no, only the first server
 *                   of the list is ever written to.  Everything that decides
 *                   or changes one-time state takes this route, and so does
 *                   every add, modify, delete and increment, whatever the
 *                   session's route (the session stays on it afterwards).
 * Without write_uri both routes are ldap_uri.
 *
 * When a route's servers cannot be reached an operation is retried once on
 * a fresh connection; if that fails too, every session answers
 * MYLDAP_UNAVAIL on that route at once during a back-off (0.5 s, doubling up
 * to 5 s) instead of making each client wait for its own timeout.
 */
#ifndef KENPOD_MYLDAP_H
#define KENPOD_MYLDAP_H

#include <stddef.h>

struct kenpo_config;

enum myldap_rc {
	MYLDAP_OK = 0,
	MYLDAP_UNAVAIL, /* the directory cannot be reached or refused our bind */
	MYLDAP_ERROR,   /* anything else; logged */
	MYLDAP_CHANGED, /* modify only: the entry is no longer as it was read */
};

/* One entry of a search: its DN and, for each attribute asked for (in the
 * order asked), a NULL-terminated list of its values, each NUL-terminated.
 * Values holding a NUL byte are left out. */
struct myldap_entry {
	char *dn;
	char ***values;
};

struct myldap_result {
	size_t nentries;
	struct myldap_entry *entries;
	size_t nattrs;
	int truncated; /* the search stopped at its limit */
};

/* Remember the configuration and the bind password (both must outlive
 * every session) and initialise libldap, before the workers start; with
 * several write providers, start the failback check (a thread). */
int myldap_setup(const struct kenpo_config *cfg, const char *bind_password);

struct myldap_session *myldap_session_new(void);
void myldap_session_free(struct myldap_session *s);

enum myldap_route { MYLDAP_NEAREST = 0, MYLDAP_WRITER = 1 };
/* The route of the session's next operations (MYLDAP_NEAREST at first). */
void myldap_session_route(struct myldap_session *s, enum myldap_route route);

/* Stop the failback check and release what myldap_setup took, once the
 * workers are gone. */
void myldap_teardown(void);

/* Subtree search under base for filter, returning at most `limit` entries
 * (when more match, the first `limit` and truncated = 1).  A limit above
 * MYLDAP_PAGE_SIZE pages through the results (the paged results control),
 * so that the server's size limit does not cut a long list short.  A base
 * that does not exist gives an empty result.  *out is set only on
 * MYLDAP_OK; free it with myldap_result_free. */
#define MYLDAP_PAGE_SIZE 500
enum myldap_rc myldap_search(struct myldap_session *s, const char *base, const char *filter,
			     const char *const attrs[], size_t limit, struct myldap_result **out);
void myldap_result_free(struct myldap_result *r);

/* The first value of attribute number i of an entry, or NULL. */
const char *myldap_value(const struct myldap_entry *e, size_t i);
/* The number of values of attribute number i. */
size_t myldap_nvalues(const struct myldap_entry *e, size_t i);

/*
 * Changes to one entry.  Every change names one attribute and at most one
 * value (kenpo's attributes are single-valued):
 *   ADD      the value (required);
 *   DELETE   that value, or the whole attribute when value is NULL;
 *   REPLACE  all values by this one, or none when value is NULL.
 * libldap applies them in order and atomically.
 *
 * Optimistic concurrency: to change a value that was read, delete the old
 * value and add the new one in one modify.  If someone changed it since,
 * the delete fails (noSuchAttribute); if someone added a value to an
 * attribute that was absent, the add fails.  Either way, and when the
 * entry was deleted, nothing is changed and the answer is MYLDAP_CHANGED:
 * read the entry again and decide anew.
 */
enum myldap_modop { MYLDAP_MOD_ADD, MYLDAP_MOD_DELETE, MYLDAP_MOD_REPLACE };
struct myldap_mod {
	enum myldap_modop op;
	const char *attr;
	const char *value;
};
#define MYLDAP_MODS_MAX 32
enum myldap_rc myldap_modify(struct myldap_session *s, const char *dn,
			     const struct myldap_mod *mods, size_t n);

/* Compare attr=value of one entry with the attribute's equality rule.
 * On MYLDAP_OK *match is 1 or 0 (0 also when the entry lacks attr). */
enum myldap_rc myldap_compare(struct myldap_session *s, const char *dn, const char *attr,
			      const char *value, int *match);

/* Add an entry of (attr, value) pairs (op is ignored); consecutive pairs
 * of one attribute give it several values.  MYLDAP_CHANGED when an entry
 * of that DN exists already (or a unique value is taken). */
enum myldap_rc myldap_add(struct myldap_session *s, const char *dn,
			  const struct myldap_mod *attrs, size_t n);
/* Delete a leaf entry.  MYLDAP_CHANGED when it is not there: of two
 * deletes of one entry on one server exactly one gets MYLDAP_OK, which
 * makes a delete the way to use something once -- on the write provider:
 * two providers would each delete their own copy. */
enum myldap_rc myldap_delete(struct myldap_session *s, const char *dn);

/* Add `by` to the integer attribute attr of dn and read the value it had
 * before, atomically (modify-increment with pre-read: uid.h).  On
 * MYLDAP_OK *before is set.  Never MYLDAP_CHANGED: there is nothing to
 * read again.  A retry on a fresh connection may apply the increment
 * twice, which leaves a gap and never hands a value out twice. */
enum myldap_rc myldap_increment(struct myldap_session *s, const char *dn, const char *attr,
				unsigned long by, unsigned long long *before);

/* Directory operations this thread has sent since the last reset (a
 * retry on a fresh connection counts twice): what a request costs. */
struct myldap_counts {
	unsigned searches;
	unsigned modifies;
	unsigned compares;
};
void myldap_counts_reset(void);
struct myldap_counts myldap_counts_get(void);

/* Escape `len` bytes for use as an assertion value inside a filter, with
 * libldap's ldap_bv2escaped_filter_value.  0, or -1 if it does not fit. */
int myldap_escape(const char *value, size_t len, char *out, size_t outsz);

#endif
