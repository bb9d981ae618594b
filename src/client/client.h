/*
 * client.h - the one client of kenpod: the PAM module, the NSS module, the
 * kenpo tool and kenpo-admin all ask kenpod through it.
 *
 * It links nothing but libc and the protocol tables (prototab.h), and is
 * built as position-independent code, so that both modules can carry it.
 *
 * kenpo_call() is one round trip: it encodes the request from the values
 * given, checked against the request layout of kenpo-proto.h; connects,
 * sends and receives before one deadline; and accepts the answer only
 * when it is exactly one the table gives that action: the right action, a
 * result listed for it, and exactly the fields of that result's layout.
 * A short, long or unknown answer is malformed (EPROTO) for every caller.
 * Each call opens its own connection and closes it on every path, so
 * nothing is shared with a forked child (sshd forks after authentication)
 * or between the threads of a host process.
 *
 * The stubs of the authentication actions below serve the PAM module,
 * mirroring kenpod's handlers as OpenSSH's monitor_wrap.c mirrors
 * monitor.c; they add what the module needs beyond the layout: strings
 * copied within bounds, and refused when they could move a terminal's
 * cursor.
 */
#ifndef KENPO_CLIENT_H
#define KENPO_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "i18n.h"
#include "kenpo-proto.h"
#include "proto.h"
#include "prototab.h"

struct kenpo_client {
	const char *socket; /* kenpod's socket path */
	int timeout_ms;     /* deadline of one round trip: connect, send, receive */
};

/* An answer, checked against the table; its strings point into the
 * buffer of the call. */
struct kenpo_reply {
	int32_t result;           /* enum kenpo_result */
	enum kenpo_layout layout; /* of this result's fields */
	struct kenpo_fields f;
};

/*
 * Ask kenpod: the n request values of `action` (kenpo_vint, kenpo_vstr,
 * kenpo_vlist) go out in b's memory, and the answer comes back into it.
 * 0 with *out written, whatever the result: its strings point into b until
 * kenpo_call_wipe(b).  -1 with errno, *out untouched and b wiped:
 * EINVAL (the values do not match the request layout), EMSGSIZE (they do
 * not fit b or a frame), EPROTO (a malformed answer), ETIMEDOUT, or the
 * error of connecting (kenpod absent).
 */
int kenpo_call(const struct kenpo_client *c, int32_t action, const struct kenpo_value *req,
	       size_t n, struct kenpo_buf *b, struct kenpo_reply *out);
/* The answer check of kenpo_call: b holds one frame as kenpo_recv_frame
 * leaves it (read from its start, no error), the answer to `action`.  0
 * with *out written, its strings pointing into b; -1 when the answer is
 * not exactly one the table gives that action (*out untouched). */
int kenpo_reply_read(struct kenpo_buf *b, int32_t action, struct kenpo_reply *out);
/* Wipe all of b's memory: the request may have carried a password, and
 * the answer a ticket or a key's handle. */
void kenpo_call_wipe(struct kenpo_buf *b);
/* Copy a string of an answer, NUL-terminated.  0, or -1 when it does not
 * fit (out is then ""). */
int kenpo_str_copy(struct kenpo_str s, char *out, size_t outsz);

/* ---- the authentication actions, for the PAM module ----
 *
 * Every stub returns 0 and fills *a when kenpod answered well-formed
 * (whatever the result), or -1 with errno set when kenpod is absent, too
 * slow (ETIMEDOUT), or answered something malformed (EPROTO); *a is then
 * left untouched.  The buffers are wiped before the stub returns: they
 * carry passwords, keys and the key's transaction handle.
 */

/* Longest name or transaction handle the module sends or accepts. */
#define KENPO_CLIENT_NAME_MAX 255
#define KENPO_CLIENT_TXN_MAX 255
/* Longest secret the module sends (passwords are 8 to 39 characters;
 * anything longer is wrong, but kenpod judges it). */
#define KENPO_CLIENT_SECRET_MAX 1024

/* An answer of kenpod; which fields are set depends on the result. */
struct kenpo_answer {
	int32_t result;                         /* enum kenpo_result */
	int has_lang;                           /* the answer named a language */
	enum kenpo_lang lang;                   /* the member's society's language */
	char login[KENPO_CLIENT_NAME_MAX + 1];  /* AUTH, KEY, ACCOUNT: canonical login ID */
	uint32_t uid;                           /* AUTH, KEY, ACCOUNT: the member's uid */
	int32_t flags;                          /* AUTH: KENPO_AUTHR_* */
	char masked[KENPO_CLIENT_NAME_MAX + 1]; /* KEY: masked mail address */
	int32_t seconds; /* KEY: validity; LOCKED, DELAY, COOLDOWN: time to wait */
	int32_t tries;   /* KEY_WRONG: tries left */
	uint32_t mask;   /* POLICY: broken enum kenpo_rule bits */
	char txn[KENPO_CLIENT_TXN_MAX + 1];    /* KEY: handle of the pending key */
	char ticket[KENPO_CLIENT_TXN_MAX + 1]; /* AUTH: profile ticket, may be "" */
	char proof[KENPO_CLIENT_TXN_MAX + 1];  /* AUTH: proof of the completed login */
	char text[64]; /* SESSION_OPEN, AUTH: previous login; PING: kenpod's version */
};

/* AUTH_PASSWORD.  service and rhost may be NULL (sent as ""); flags are
 * KENPO_AUTHF_*. */
int kenpo_client_auth_password(const struct kenpo_client *c, const char *login,
			       const char *password, int32_t flags, const char *service,
			       const char *rhost, struct kenpo_answer *a);
/* AUTH_KEY: the key a member typed for the pending key `txn`; flags:
 * KENPO_AUTHF_TICKET, KENPO_AUTHF_SESSION or 0.  service and rhost may be
 * NULL. */
int kenpo_client_auth_key(const struct kenpo_client *c, const char *login, const char *txn,
			  const char *key, int32_t flags, const char *service, const char *rhost,
			  struct kenpo_answer *a);
/* AUTH_RESEND: mail a new key for `txn`; the old one becomes void. */
int kenpo_client_auth_resend(const struct kenpo_client *c, const char *login, const char *txn,
			     struct kenpo_answer *a);
/* AUTH_ABORT: void the pending key `txn`.  kenpod answers OK, or UNAVAIL
 * when too busy to take it (-1 with errno EAGAIN: the key then expires). */
int kenpo_client_auth_abort(const struct kenpo_client *c, const char *login, const char *txn);
/* ACCOUNT, for a request from rhost (NULL: "") */
int kenpo_client_account(const struct kenpo_client *c, const char *login, const char *rhost,
			 struct kenpo_answer *a);
/* SESSION_OPEN: records this login; a.text is the previous one, or "". */
int kenpo_client_session_open(const struct kenpo_client *c, const char *login,
			      const char *service, const char *rhost, struct kenpo_answer *a);
/* PASSWORD_CHANGE.  old is "" with KENPO_PWCF_ADMIN; proof is that of a
 * completed login ("" or NULL for none); rhost may be NULL. */
int kenpo_client_password_change(const struct kenpo_client *c, const char *login,
				 const char *old_password, const char *new_password,
				 int32_t flags, const char *proof, const char *rhost,
				 struct kenpo_answer *a);
/* PING: a.text is kenpod's version. */
int kenpo_client_ping(const struct kenpo_client *c, struct kenpo_answer *a);

/* What the stubs check of an answer kenpo_call accepted, beyond its
 * layout, taking its fields into *a: 0, or -1 when the module cannot take
 * them (a string too long or able to move the cursor, a record naming no
 * member, a negative time).  *a may be partly written on -1: the stubs
 * take into a scratch answer. */
int kenpo_answer_take(const struct kenpo_reply *r, struct kenpo_answer *a);
/* Wipe an answer (its txn is what lets anyone answer the pending key). */
void kenpo_answer_wipe(struct kenpo_answer *a);

#endif
