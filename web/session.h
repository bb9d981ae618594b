/*
 * session.h - server-side sessions of kenpo-web.
 *
 * A session is found by a random 32-byte id that travels only in a cookie
 * (base64url, 43 characters); ids are compared in constant time and hashed
 * into the table with a keyed SipHash (crypto_shorthash), so neither
 * timing nor chosen ids tell anything about other sessions.  Each session
 * has its own CSRF token, is rotated (new id, new token) at every change
 * of privilege, and ends after `session_idle` without a request or
 * `session_lifetime` after it began.  The store holds at most
 * `sessions_max`: when it is full, the least recently used session that
 * belongs to nobody logged in or logging in makes room; when there is
 * none, no new session is made (the server answers 503).
 *
 * A session is used by one request at a time: session_find and
 * session_create return it locked, session_release unlocks it.  The data
 * after `lock` is the request's to read and write while it holds it.
 * Secrets in it (password, ticket, proof, tokens) are wiped when the session
 * ends.
 */
#ifndef KENPO_WEB_SESSION_H
#define KENPO_WEB_SESSION_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "i18n.h"

#define SESSION_ID_BYTES 32
#define SESSION_COOKIE_LEN 43 /* base64url of 32 bytes, no padding */
#define SESSION_TOKEN_LEN 43  /* the CSRF token, the same way */

enum session_state {
	SS_ANON = 0,    /* nobody logged in */
	SS_KEY,         /* the password was right; the mailed key is awaited */
	SS_MUST_CHANGE, /* logged in with a temporary password: change it first */
	SS_IN,          /* logged in */
};

struct session {
	/* ---- the store's ---- */
	unsigned char id[SESSION_ID_BYTES];
	size_t bucket;
	int64_t created, seen; /* monotonic seconds */
	int refs, dead, linked;
	struct session *hnext, *lprev, *lnext;
	pthread_mutex_t lock;

	/* ---- the request's, under lock ---- */
	unsigned char csrf[SESSION_ID_BYTES];
	enum kenpo_lang lang;
	int large; /* 文字サイズ 大 */
	enum session_state state;
	char society[33];   /* of the screens last shown */
	char login[64];     /* canonical login ID (SS_KEY and later) */
	char secret[64];    /* password kept for the key step (split mode), or the
				   * temporary password until the forced change */
	char masked[256];   /* where the key went */
	int64_t key_expiry; /* monotonic seconds */
	char ticket[160];   /* the newest profile ticket */
	char proof[160];    /* the proof of the completed login, for PASSWORD_CHANGE;
				   * "" once a password change has voided it */
	char nickname[260];
	char last_login[32];  /* 前回ログイン日時, "" for the first */
	int last_login_known; /* the login history answered */
	char link[160];       /* a mailed link's token, taken from its URL */
	int link_kind;        /* KENPO_TOKEN_* */
	char reg_ticket[160]; /* the registration ticket (利用者情報入力) */
	char reg_mail[256];
	char authkey[16];     /* the on-screen 認証キー, shown once */
	char reset_login[64]; /* prefill of 仮ログイン */
	char captcha[16];     /* the answer of the CAPTCHA shown, "" when used */
	char notice[1024];    /* a message for the next page, shown once */
};

struct web_conf;

/* Called with a session that ends by timeout or eviction, locked, before
 * its secrets are wiped (to void a pending key). */
typedef void (*session_end_fn)(struct session *s, void *arg);

int sessions_init(const struct web_conf *conf, session_end_fn on_end, void *arg);
void sessions_shutdown(void);
/* The live session of a cookie value, locked; NULL if none. */
struct session *session_find(const char *cookie);
/* A new session, locked; NULL when the store is full of sessions in use. */
struct session *session_create(void);
/* A new id and CSRF token for a locked session.  0 or -1. */
int session_rotate(struct session *s);
/* Unlock a session found or created. */
void session_release(struct session *s);
/* End a locked session now (logout); release it afterwards as usual. */
void session_end(struct session *s);
/* The cookie value and the CSRF token of a locked session. */
void session_cookie(const struct session *s, char out[SESSION_COOKIE_LEN + 1]);
void session_csrf(const struct session *s, char out[SESSION_TOKEN_LEN + 1]);
/* 1 when `token` is the session's CSRF token (constant time). */
int session_csrf_ok(const struct session *s, const char *token);
/* End the sessions that timed out.  Returns how many are left. */
size_t sessions_sweep(void);
size_t sessions_count(void);
int64_t session_now(void);
/* Wipe what a flow keeps, for a new flow or the end of a login. */
void session_forget_login(struct session *s);

#endif
