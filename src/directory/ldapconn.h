/*
 * ldapconn.h - how kenpod and kenpo-admin connect to the directory, and
 * the few operations they share.  With myldap.c (kenpod) and
 * tools/admin/dir.c (kenpo-admin) these are the only files that call
 * libldap.
 *
 * One connection policy for both:
 *   - LDAPv3, never following a referral (a referral must not receive the
 *     service's or the administrator's credential);
 *   - the timeout for connecting and for every synchronous operation;
 *   - TLS 1.2 at least, for ldaps://, StartTLS and whatever libldap's
 *     defaults (ldap.conf) would allow;
 *   - a CA file given: the server's certificate must verify against it,
 *     and with a plain ldap:// URI the connection must go on only through
 *     StartTLS, never in clear text;
 *   - a bind DN: a simple bind with the password; none: SASL EXTERNAL (root
 *     over ldapi:///, or a client certificate).
 */
#ifndef KENPO_DIRECTORY_LDAPCONN_H
#define KENPO_DIRECTORY_LDAPCONN_H

#include <stddef.h>
#include <ldap.h>

struct kenpo_ldap_params {
	const char *uri;      /* one URI or several separated by spaces */
	const char *bind_dn;  /* NULL or "": SASL EXTERNAL */
	const char *password; /* with bind_dn (not kept, not changed) */
	const char *ca_file;  /* NULL or "": the system's CAs */
	long timeout;         /* seconds, > 0 */
};

/* libldap's global state and the TLS floor, once per process before any
 * connection and before threads start.  0 or -1. */
int kenpo_ldap_setup(void);

/* Connect and bind under the policy above.  An LDAP result code; on
 * LDAP_SUCCESS *out is the bound connection (ldap_unbind_ext_s frees it),
 * else err holds "step: reason" (never the password). */
int kenpo_ldap_open(const struct kenpo_ldap_params *p, LDAP **out, char *err, size_t errsz);

/* Escape `len` bytes for use as an assertion value inside a filter (RFC
 * 4515), with libldap's ldap_bv2escaped_filter_value.  0, or -1 if it
 * does not fit in outsz bytes. */
int kenpo_ldap_escape(const char *value, size_t len, char *out, size_t outsz);

/* Add `by` to the integer attribute attr of dn and read the value it had
 * before, in one operation (modify-increment with the pre-read control:
 * uid.h).  Waits at most timeout seconds.  An LDAP result code: on
 * LDAP_SUCCESS *before is set; LDAP_DECODING_ERROR when the answer holds
 * no readable pre-read value; the server's diagnostic message, if any, in
 * diag. */
int kenpo_ldap_increment(LDAP *ld, const char *dn, const char *attr, unsigned long by,
			 long timeout, unsigned long long *before, char *diag, size_t diagsz);

#endif
