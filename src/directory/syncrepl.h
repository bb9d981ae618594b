/*
 * syncrepl.h - following subtrees of the directory with the LDAP content
 * synchronisation operation (RFC 4533, refreshAndPersist), which slapd's
 * syncprov overlay serves.
 *
 * One search per base on one connection.  No cookie is ever sent: every
 * start is a full refresh, in which the server sends each entry in scope
 * (as "add"), then says the refresh is done; from then on it sends each
 * change as it happens: an entry's new state (add or modify, with the
 * attributes asked for) or its deletion (its entryUUID only).  An entry
 * that stops matching the filter is announced as deleted.
 *
 * The caller reads events one at a time.  Nothing here keeps state about
 * entries; a caller that loses the connection starts again with a full
 * refresh.  libldap's ldap_sync_* would do the same, but its header is
 * not installed by Debian's libldap-dev, and this is little code.
 */
#ifndef KENPO_DIRECTORY_SYNCREPL_H
#define KENPO_DIRECTORY_SYNCREPL_H

#include <stddef.h>
#include <ldap.h>

#include "ldapconn.h"

#define KENPO_SYNC_UUID_LEN 16

enum kenpo_sync_kind {
	KENPO_SYNC_ENTRY,     /* an entry as it is now (added, or changed) */
	KENPO_SYNC_GONE,      /* the entry of uuid is gone or out of scope */
	KENPO_SYNC_REFRESHED, /* base `base` is read whole: changes follow
				 * (missing: the base does not exist, so it
				 * holds nothing and its search has ended) */
};

struct kenpo_sync_event {
	enum kenpo_sync_kind kind;
	size_t base; /* which base (index given to start) */
	unsigned char uuid[KENPO_SYNC_UUID_LEN];
	char *dn;       /* ENTRY */
	char ***values; /* ENTRY: per attribute asked for, a NULL-terminated
			    * list of its values (NUL-terminated; values holding
			    * a NUL are left out) */
	size_t nattrs;
	int missing; /* REFRESHED: no such base */
};

struct kenpo_sync;

/* Connect and bind under the policy of ldapconn.h, and start one
 * refreshAndPersist search (subtree) per base with filter and attrs (which
 * must outlive s).  An LDAP result code; on LDAP_SUCCESS *out is set, else
 * err says what failed. */
int kenpo_sync_open(const struct kenpo_ldap_params *p, const char *const *bases, size_t nbases,
		    const char *filter, const char *const *attrs, struct kenpo_sync **out,
		    char *err, size_t errsz);

/* Wait at most timeout_ms for the next event.  LDAP_SUCCESS with *ev
 * filled (kenpo_sync_event_clear frees it), LDAP_TIMEOUT when nothing came,
 * or the error that ended the searches: the connection broke
 * (LDAP_SERVER_DOWN), the server refused the control
 * (LDAP_UNAVAILABLE_CRITICAL_EXTENSION: no syncprov), asked for a new
 * refresh (LDAP_SYNC_REFRESH_REQUIRED), or ended a search. */
int kenpo_sync_next(struct kenpo_sync *s, int timeout_ms, struct kenpo_sync_event *ev);
void kenpo_sync_event_clear(struct kenpo_sync_event *ev);

/* Abandon the searches, close the connection and free s. */
void kenpo_sync_free(struct kenpo_sync *s);

/* The text of an LDAP result code. */
const char *kenpo_sync_error(int rc);

#endif
