/*
 * myldap.h - kenpod's connection to the directory.
 *
 * This is the only part of kenpo that calls ldap_*; nothing of libldap
 * leaks through this header.  Each worker thread owns one session (one
 * connection, bound with the service credential: a simple bind with
 * bind_dn and the password, or SASL EXTERNAL when bind_dn is empty).
 *
 * When the directory cannot be reached an operation is retried once on a
 * fresh connection; if that fails too, every session answers
 * MYLDAP_UNAVAIL at once during a back-off (0.5 s, doubling up to 5 s)
 * instead of making each client wait for its own timeout.
 */
#ifndef KENPOD_MYLDAP_H
#define KENPOD_MYLDAP_H

#include <stddef.h>

struct kenpo_config;

enum myldap_rc {
	MYLDAP_OK = 0,
	MYLDAP_UNAVAIL,   /* the directory cannot be reached or refused our bind */
	MYLDAP_ERROR,     /* anything else; logged */
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
	int truncated;    /* the search stopped at its limit */
};

/* Remember the configuration and the bind password (both must outlive
 * every session) and initialise libldap, before any thread starts. */
int myldap_setup(const struct kenpo_config *cfg, const char *bind_password);

struct myldap_session *myldap_session_new(void);
void myldap_session_free(struct myldap_session *s);

/* Subtree search under base for filter, returning at most `limit` entries
 * (when more match, the first `limit` and truncated = 1).  A limit above
 * MYLDAP_PAGE_SIZE pages through the results (the paged results control),
 * so that the server's size limit does not cut a long list short.  A base
 * that does not exist gives an empty result.  *out is set only on
 * MYLDAP_OK; free it with myldap_result_free. */
#define MYLDAP_PAGE_SIZE 500
enum myldap_rc myldap_search(struct myldap_session *s, const char *base,
			     const char *filter, const char *const attrs[],
			     size_t limit, struct myldap_result **out);
void myldap_result_free(struct myldap_result *r);

/* The first value of attribute number i of an entry, or NULL. */
const char *myldap_value(const struct myldap_entry *e, size_t i);
/* The number of values of attribute number i. */
size_t myldap_nvalues(const struct myldap_entry *e, size_t i);

/* Escape `len` bytes for use as an assertion value inside a filter, with
 * libldap's ldap_bv2escaped_filter_value.  0, or -1 if it does not fit. */
int myldap_escape(const char *value, size_t len, char *out, size_t outsz);

#endif
