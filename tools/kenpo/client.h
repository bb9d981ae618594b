/*
 * client.h - the kenpo tool's side of the kenpod protocol.
 *
 * One stub per action, mirroring the handlers in src/kenpod/selfsvc.c and
 * auth.c (as OpenSSH's monitor_wrap.c mirrors monitor.c).  Each stub sends
 * one request on the client's connection and returns the kenpo_result of
 * the answer (>= 0), or a negative KC_E* when no answer could be had.
 * The fields of an OK answer go into the stub's output; the fields some
 * refusals carry (tries left, a rule mask, a field name, seconds) go into
 * the client's `detail`.
 *
 * Requests carry passwords and keys: both frame buffers are wiped after
 * every call and when the client is closed.
 */
#ifndef KENPO_TOOL_CLIENT_H
#define KENPO_TOOL_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include "proto.h"

#define KC_TIMEOUT_MS 30000    /* a call may hash a password and send a mail */

enum kc_error {
	KC_EUNAVAIL = -1,      /* cannot connect, or no answer in time */
	KC_EPROTO = -2,        /* the answer is malformed */
	KC_ETOOLONG = -3,      /* a value does not fit in a request */
};

/* What a refusal carries, when it carries anything. */
struct kc_detail {
	int32_t lang;          /* AUTH_ERR, LOCKED, ... */
	int32_t tries_left;    /* MISMATCH, KEY_WRONG; -1 if not given */
	uint32_t mask;         /* POLICY: enum kenpo_rule bits */
	int32_t seconds;       /* LOCKED, DELAY, COOLDOWN */
	char field[64];        /* BADVALUE: the field refused */
};

struct kc;

/* Connect to the socket at path.  0 or KC_EUNAVAIL (errno set). */
int kc_open(const char *path, struct kc **out);
void kc_close(struct kc *c);
const struct kc_detail *kc_detail(const struct kc *c);

/* ---- control ---- */
int kc_ping(struct kc *c, char *version, size_t versz);

/* ---- self-service ---- */
struct kc_token_info {
	int32_t kind;          /* KENPO_TOKEN_* */
	int32_t seconds;       /* left */
	char masked[256];      /* the address it was mailed to, masked */
};

struct kc_reg {
	char ticket[64];       /* the registration ticket */
	int32_t seconds;
	char mail[256];        /* prefill of the mail address, may be "" */
};

int kc_guide_request(struct kc *c, const char *society, const char *address);
int kc_token_check(struct kc *c, const char *token, struct kc_token_info *out);
int kc_reg_letter_open(struct kc *c, const char *token, const char *login,
		       const char *temp_password, struct kc_reg *out);
int kc_identity_check(struct kc *c, const char *token, const char *address,
		      const char *dob, char *authkey, size_t authkeysz);
int kc_identity_open(struct kc *c, const char *token, const char *authkey,
		     struct kc_reg *out);
int kc_reg_complete(struct kc *c, const char *ticket, const char *login,
		    const char *password, const char *mail, const char *nickname,
		    char *final_login, size_t loginsz);
int kc_reset_request(struct kc *c, const char *society, const char *address);
/* RESET_OPEN: the login ID the reset link was mailed for, and the seconds
 * its temporary password stays valid. */
int kc_reset_open(struct kc *c, const char *token, char *login, size_t loginsz,
		  int32_t *seconds);
/* LOGIN_ID_CHECK: *taken is 1 when a member holds the ID (any case). */
int kc_login_id_check(struct kc *c, const char *login, int *taken);

/* A profile: field/value pairs as kenpod sends them. */
struct kc_profile {
	size_t n;
	char **field;
	char **value;
	char next_ticket[64];  /* the ticket to present next ("" for root) */
};
void kc_profile_free(struct kc_profile *p);
int kc_profile_get(struct kc *c, const char *login, const char *ticket,
		   struct kc_profile *out);
/* fields[i] = values[i] for i < n, all or nothing. */
int kc_profile_set(struct kc *c, const char *login, const char *ticket, size_t n,
		   const char *const *fields, const char *const *values,
		   char *next_ticket, size_t ticketsz);

/* ---- authentication (for a web portal) ---- */
struct kc_auth {
	char login[64];        /* canonical login ID */
	uint32_t uid;          /* the member's uidNumber */
	int32_t lang;
	int32_t flags;         /* KENPO_AUTHR_* */
	char ticket[64];       /* profile ticket, when kenpod gives one ("") */
	/* KEY_SENT / KEY_PENDING */
	char masked[256];
	int32_t seconds;
	char txn[128];
};
int kc_auth_password(struct kc *c, const char *login, const char *password,
		     int32_t flags, const char *service, const char *rhost,
		     struct kc_auth *out);
int kc_auth_key(struct kc *c, const char *login, const char *txn, const char *key,
		int32_t flags, struct kc_auth *out);
int kc_password_change(struct kc *c, const char *login, const char *old_pw,
		       const char *new_pw, int32_t flags);

#endif
