/*
 * auth.h - kenpod's side of authentication: the AUTH_*, ACCOUNT,
 * SESSION_OPEN and PASSWORD_CHANGE actions of kenpo-proto.h.
 */
#ifndef KENPOD_AUTH_H
#define KENPOD_AUTH_H

#include "request.h"

struct kenpo_config;
struct member;

/* Prepare what the handlers share: the mail relay (reads
 * smtp_password_file: call it before dropping privileges), the fake hash
 * for unknown logins and the societies' time zones.  Before any thread
 * starts.  0, or -1 with errbuf filled. */
int auth_setup(const struct kenpo_config *cfg, char *errbuf, size_t errsz);
void auth_cleanup(void);

kenpod_handler auth_password;
kenpod_handler auth_key;
kenpod_handler auth_resend;
kenpod_handler auth_abort;
kenpod_handler auth_account;
kenpod_handler auth_session_open;
kenpod_handler auth_password_change;
kenpod_handler auth_login_history; /* history.c */

/*
 * Check the current password of member m as a login checks it: the
 * growing delay and the lock first, then the password, and a wrong one
 * counted as a failed login.  rhost is where the request comes from ("" if
 * unknown).  OK, or the refusal with its fields written into out
 * (AUTH_ERR with a language, LOCKED and DELAY with a language and
 * seconds, UNAVAIL), or INTERNAL.
 *
 * The failure counts on rhost's source before the password is verified
 * (attempt.h) and is taken back when it is right; a temporary password
 * that is still valid is right too.  m may be read again meanwhile (a
 * concurrent change): *m is then the entry as last read.
 */
int auth_check_password(struct request *rq, struct member *m, const char *pw, size_t len,
			const char *rhost, struct kenpo_buf *out);

#endif
