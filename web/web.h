/*
 * web.h - what every screen of kenpo-web works with.
 *
 * A request arrives as a struct req: the method, the path, the society
 * the path names, the form of a POST (already checked for its CSRF token),
 * the session (locked for this request) and the client's address.  A
 * screen writes its page into r->body with the functions of page.h, or asks
 * for a redirect with req_redirect(); http.c sends the answer with the
 * security headers.
 */
#ifndef KENPO_WEB_H
#define KENPO_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "conf.h"
#include "form.h"
#include "i18n.h"
#include "session.h"

/* A growing output buffer. */
struct buf {
	char *data;
	size_t len, cap;
	int err;
};

struct web {
	const struct web_conf *conf;
	struct kenpo_config *kenpod; /* the societies, from kenpod.conf */
};

struct req {
	const struct web *w;
	int post;         /* a POST (form checked) or a GET */
	const char *path; /* after the society: "/login", "/key", ... */
	const struct kenpo_society *soc;
	const char *sid; /* soc->id */
	struct form form;
	struct session *s; /* locked for this request */
	char client[64];   /* the client's numeric address */
	enum kenpo_lang lang;
	const char *(*query)(void *ctx, const char *name); /* a GET parameter, or NULL */
	void *query_ctx;

	/* the answer */
	unsigned status;
	struct buf body;
	const char *content_type;
	char location[512]; /* a redirect (303) when set */
	int rotate;         /* give the session a new id before answering */
	int no_store;       /* 1 by default: pages carry member data */
};

/* Pick the Japanese or the English text, by the page's language. */
#define T(r, ja, en) ((r)->lang == KENPO_LANG_EN ? (en) : (ja))

/* Answer with a redirect to a path of this site ("/toyobo/key"). */
__attribute__((format(printf, 2, 3))) void req_redirect(struct req *r, const char *fmt, ...);
/* A GET parameter, or NULL. */
const char *req_query(const struct req *r, const char *name);

/* The screens: each returns after filling r's answer. */
typedef void (*screen_fn)(struct req *r);

void screen_login(struct req *r);
void screen_key(struct req *r);
void screen_key_resend(struct req *r);
void screen_key_abort(struct req *r);
void screen_home(struct req *r);
void screen_logout(struct req *r);
void screen_help(struct req *r);

void screen_register(struct req *r); /* 新規利用登録: the guide request */
void screen_register_sent(struct req *r);
void screen_guide_link(struct req *r);     /* the mailed guide link */
void screen_register_start(struct req *r); /* 新規利用登録: letter + 本人確認 */
void screen_identity(struct req *r);       /* 本人確認 */
void screen_identity_done(struct req *r);  /* 本人確認完了 */
void screen_identity_link(struct req *r);  /* the mailed identity link */
void screen_authkey(struct req *r);        /* 認証キー入力 */
void screen_userinfo(struct req *r);       /* 利用者情報入力 */
void screen_registered(struct req *r);     /* 利用者情報登録完了 */
void screen_captcha(struct req *r);        /* the CAPTCHA image */

void screen_forgot(struct req *r); /* パスワード再発行 */
void screen_forgot_sent(struct req *r);
void screen_reset_link(struct req *r);    /* the mailed reset link */
void screen_temp_login(struct req *r);    /* 仮ログイン */
void screen_forced_change(struct req *r); /* パスワード変更 (パスワード再発行) */
void screen_password(struct req *r);      /* パスワード変更 */
void screen_profile(struct req *r);       /* プロフィール設定 */

/* Shared by the screens (screen_login.c, screen_register.c). */
struct pa_result;
struct pa_ctx;
void web_pa_ctx(const struct req *r, struct pa_ctx *c);
/* After a successful login (PA_OK or PA_MUST_CHANGE): the session
 * becomes the member's, gets a new id, and goes home or to the change. */
void web_logged_in(struct req *r, const struct pa_result *pr, const char *password);
/* A failed login's message, in an error box. */
void web_login_error(struct req *r, const struct pa_result *pr);
/* The first visit of a mailed link: the token goes into the session and
 * the browser on to `next` (a clean URL). */
void web_link_landing(struct req *r, int kind, const char *next);
/* Pages of a logged-in member.  Each presents the login's profile ticket
 * to kenpod, which keeps the profile session alive (session_idle of the
 * society) or says it has ended: then so has the login here.  1: go on,
 * with the member's profile in *p when p is not NULL (p->n is 0 when
 * kenpod could not be asked; be_profile_free it); 0: a redirect was set. */
struct be_profile;
int web_require_login(struct req *r, struct be_profile *p);
/* The login has ended at kenpod: back to ログイン with why. */
void web_login_expired(struct req *r);
/* End what the session holds at kenpod (a pending key is voided, a
 * profile session ended) and forget the login. */
void web_end_login(struct session *s, const char *rhost);
/* A page that says why a step cannot go on, with a way back. */
void web_dead_end(struct req *r, const char *title, const char *msg, const char *href,
		  const char *label);

/* Sessions that end while a key is pending void it (main.c). */
void web_session_ended(struct session *s, void *arg);

#endif
