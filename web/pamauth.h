/*
 * pamauth.h - members log in to kenpo-web through PAM, as any web
 * application would: pam_start on the service of kenpo-web.conf
 * (pam_service, /etc/pam.d/kenpo-web), PAM_RHOST set to the client's
 * address for kenpod's lockout rules, pam_authenticate, pam_acct_mgmt and
 * pam_open_session (which records the login).
 *
 * With the `ticket` and `proof` options the module hands out, in the PAM
 * environment, the profile ticket (KENPO_TICKET) and the proof of the
 * completed login (KENPO_PROOF): kenpo-web keeps both in the server-side
 * session, for the profile and for PASSWORD_CHANGE.  The previous login
 * (前回ログイン日時) is the newest of the member's LOGIN_HISTORY asked
 * with that proof before the session records this login: pa_ctx.history.
 *
 * The service uses pam_kenpo's split mode (pam_kenpo(8), WEB MODES): a
 * web request cannot keep a PAM conversation open until the member has
 * read the key mail, so
 *   1. the login form answers the password prompt; the module mails the
 *      key, says where it went and asks for it; the conversation cannot
 *      answer yet and fails that prompt: PA_KEY, the key stays pending;
 *   2. the key form runs a new transaction that answers the password
 *      again and then the key (an empty key asks for a new one: 再請求).
 * The password is therefore kept in the session between the two steps.
 *
 * The conversation reads the module's information and error lines in
 * English (the service file says lang=en), only to tell the outcomes
 * apart; the member reads kenpo-web's own Japanese or English pages.
 * pa_parse_message is that reading, kept apart so that the unit tests
 * hold it to the module's messages.
 */
#ifndef KENPO_WEB_PAMAUTH_H
#define KENPO_WEB_PAMAUTH_H

#include <stddef.h>

enum pa_outcome {
	PA_OK = 0,      /* logged in */
	PA_MUST_CHANGE, /* logged in with a temporary password: change it */
	PA_KEY,         /* a key was mailed (or is pending): ask for it */
	PA_KEY_RESENT,  /* a new key was mailed; the old one is void */
	PA_COOLDOWN,    /* a new key was asked for too soon (seconds) */
	PA_KEY_WRONG,   /* a wrong key (tries left) */
	PA_KEY_VOID,    /* too many wrong keys: the key is void */
	PA_KEY_EXPIRED,
	PA_TOO_MANY, /* too many requests for a new key */
	PA_WRONG,    /* wrong login ID or password */
	PA_LOCKED,   /* locked (seconds, 0: until unlocked) */
	PA_DELAY,    /* too many failures: wait (seconds) */
	PA_DISABLED,
	PA_NOT_REGISTERED,
	PA_UNAVAIL, /* kenpod or the mail relay cannot be reached */
	PA_ERROR,   /* anything else */
};

struct pa_result {
	enum pa_outcome outcome;
	char masked[256];    /* where the key went */
	long seconds;        /* key validity or time left, time to wait */
	int tries_left;      /* PA_KEY_WRONG; -1 if not said */
	char ticket[160];    /* the profile ticket (pam_kenpo `ticket`), or "" */
	char proof[160];     /* the proof of the login (pam_kenpo `proof`), or "" */
	char last_login[32]; /* "YYYY/MM/DD HH:MM:SS", "" for the first login */
	int history_rc;      /* what pa_ctx.history returned; -1 if not asked */
	char login[64];      /* PAM_USER at the end */
};

struct pa_ctx {
	const char *service;
	const char *rhost;
	/* Asked once a login is complete and the account check passed, before
	 * the session records it: the newest login of the member's history
	 * into when ("" if none), with the proof of this login.  May be NULL. */
	int (*history)(const char *login, const char *proof, char *when, size_t whensz);
};

/* How many PAM transactions may be at kenpod at once (gate.h).  0, or -1. */
int pa_init(unsigned concurrency);

/* Step 1: the password. */
void pa_password(const struct pa_ctx *c, const char *login, const char *password,
		 struct pa_result *out);
/* Step 2: the password again and the key. */
void pa_key(const struct pa_ctx *c, const char *login, const char *password, const char *key,
	    struct pa_result *out);
/* 暗証キー再請求: the password again and an empty key. */
void pa_resend(const struct pa_ctx *c, const char *login, const char *password,
	       struct pa_result *out);
/* After a forced password change: open the session (records the login). */
void pa_open_session(const struct pa_ctx *c, const char *login, struct pa_result *out);

/* What one message line of the module says; updates *out.  Exposed for
 * the unit tests. */
void pa_parse_message(const char *msg, struct pa_result *out, int *key_flag);

#endif
