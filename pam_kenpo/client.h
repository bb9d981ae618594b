/*
 * client.h - pam_kenpo's side of the authentication actions of kenpod.
 *
 * One stub per action of kenpo-proto.h's 0x0002 group (and PING), mirroring
 * kenpod's handlers as OpenSSH's monitor_wrap.c mirrors monitor.c: each
 * builds the request, asks kenpod over its unix socket before one deadline,
 * and checks that the answer carries exactly the fields the protocol gives
 * its result.  Nothing here knows PAM: pam_kenpo.c turns answers into PAM
 * codes and messages.
 *
 * Every stub returns 0 and fills *a when kenpod answered with a well-formed
 * frame (whatever the result), or -1 with errno set when kenpod is absent,
 * too slow (ETIMEDOUT), or answered something malformed (EPROTO); *a is
 * then left untouched.  Request and answer buffers are wiped before the
 * stub returns: they carry passwords, keys and the key's transaction handle.
 */
#ifndef PAM_KENPO_CLIENT_H
#define PAM_KENPO_CLIENT_H

#include <stdint.h>

#include "i18n.h"
#include "kenpo-proto.h"

/* Longest name or transaction handle the module sends or accepts. */
#define KENPO_CLIENT_NAME_MAX 255
#define KENPO_CLIENT_TXN_MAX 255
/* Longest secret the module sends (passwords are 8 to 39 characters;
 * anything longer is wrong, but kenpod judges it). */
#define KENPO_CLIENT_SECRET_MAX 1024

struct kenpo_client {
	const char *socket;     /* kenpod's socket path */
	int timeout_ms;         /* deadline of one round trip: connect, send, receive */
};

/* An answer of kenpod; which fields are set depends on the result. */
struct kenpo_answer {
	int32_t result;                            /* enum kenpo_result */
	int has_lang;                              /* the answer named a language */
	enum kenpo_lang lang;                      /* the member's society's language */
	char login[KENPO_CLIENT_NAME_MAX + 1];     /* AUTH, KEY, ACCOUNT: canonical login ID */
	uint32_t uid;                              /* AUTH, KEY, ACCOUNT: the member's uid */
	int32_t flags;                             /* AUTH: KENPO_AUTHR_* */
	char masked[KENPO_CLIENT_NAME_MAX + 1];    /* KEY: masked mail address */
	int32_t seconds;   /* KEY: validity; LOCKED, DELAY, COOLDOWN: time to wait */
	int32_t tries;                             /* KEY_WRONG: tries left */
	uint32_t mask;                             /* POLICY: broken enum kenpo_rule bits */
	char txn[KENPO_CLIENT_TXN_MAX + 1];        /* KEY: handle of the pending key */
	char ticket[KENPO_CLIENT_TXN_MAX + 1];     /* AUTH: profile ticket, may be "" */
	char text[64];     /* SESSION_OPEN: previous login; PING: kenpod's version */
};

/* AUTH_PASSWORD.  service and rhost may be NULL (sent as ""); flags are
 * KENPO_AUTHF_*. */
int kenpo_client_auth_password(const struct kenpo_client *c, const char *login,
			       const char *password, int32_t flags, const char *service,
			       const char *rhost, struct kenpo_answer *a);
/* AUTH_KEY: the key a member typed for the pending key `txn`; flags:
 * KENPO_AUTHF_TICKET or 0. */
int kenpo_client_auth_key(const struct kenpo_client *c, const char *login, const char *txn,
			  const char *key, int32_t flags, struct kenpo_answer *a);
/* AUTH_RESEND: mail a new key for `txn`; the old one becomes void. */
int kenpo_client_auth_resend(const struct kenpo_client *c, const char *login,
			     const char *txn, struct kenpo_answer *a);
/* AUTH_ABORT: void the pending key `txn`.  kenpod always answers OK. */
int kenpo_client_auth_abort(const struct kenpo_client *c, const char *login, const char *txn);
/* ACCOUNT */
int kenpo_client_account(const struct kenpo_client *c, const char *login,
			 struct kenpo_answer *a);
/* SESSION_OPEN: records this login; a.text is the previous one, or "". */
int kenpo_client_session_open(const struct kenpo_client *c, const char *login,
			      const char *service, const char *rhost, struct kenpo_answer *a);
/* PASSWORD_CHANGE.  old is "" with KENPO_PWCF_ADMIN. */
int kenpo_client_password_change(const struct kenpo_client *c, const char *login,
				 const char *old_password, const char *new_password,
				 int32_t flags, struct kenpo_answer *a);
/* PING: a.text is kenpod's version. */
int kenpo_client_ping(const struct kenpo_client *c, struct kenpo_answer *a);

/* Wipe an answer (its txn is what lets anyone answer the pending key). */
void kenpo_answer_wipe(struct kenpo_answer *a);

#endif
