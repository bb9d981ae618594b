/*
 * screen_login.c - ログイン, 暗証キー入力 (with 暗証キー再請求 and leaving the
 * screen), the home screen, ログアウト and ヘルプ.
 *
 * Wording, order and limits follow the manuals (「ログイン方法」③ and the
 * login and home screens of both): the key screen names the masked
 * address, the time left and the four notes, and asks that the page stay
 * open; leaving it (another page of the portal, 「ログイン画面に戻る」, the
 * session's end) voids the key.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "backend.h"
#include "kenpo-proto.h"
#include "page.h"
#include "pamauth.h"
#include "web.h"

#define LOGIN_MAX 64 /* longer than any login ID: wrong, never sent */
#define PASSWORD_MAX 128
#define KEY_DIGITS 10

void
web_pa_ctx(const struct req *r, struct pa_ctx *c)
{
	c->service = r->w->conf->pam_service;
	c->rhost = r->client;
	c->history = be_previous_login;
}

/* The nickname for ようこそ…さん, read with the login's profile ticket. */
static void
load_nickname(struct session *s)
{
	struct be_profile p;
	const char *v;

	snprintf(s->nickname, sizeof s->nickname, "ご本人");
	if (s->ticket[0] == '\0' ||
	    be_profile_get(s->login, s->ticket, sizeof s->ticket, &p) != KENPO_RES_OK)
		return;
	if ((v = be_profile_value(&p, "nickname")) != NULL && v[0] != '\0')
		snprintf(s->nickname, sizeof s->nickname, "%s", v);
	be_profile_free(&p);
}

void
web_logged_in(struct req *r, const struct pa_result *pr, const char *password)
{
	struct session *s = r->s;

	session_forget_login(s);
	snprintf(s->login, sizeof s->login, "%s", pr->login);
	snprintf(s->ticket, sizeof s->ticket, "%s", pr->ticket);
	snprintf(s->proof, sizeof s->proof, "%s", pr->proof);
	/* No history (the first login) says so; a history that could not
	 * be read leaves the line out rather than say "none". */
	s->last_login_known = pr->history_rc == KENPO_RES_OK;
	snprintf(s->last_login, sizeof s->last_login, "%s", pr->last_login);
	r->rotate = 1;
	if (pr->outcome == PA_MUST_CHANGE) {
		/* The temporary password is the "old" one of the forced change. */
		snprintf(s->secret, sizeof s->secret, "%s", password);
		s->state = SS_MUST_CHANGE;
		req_redirect(r, "/%s/password/new", r->sid);
		return;
	}
	s->state = SS_IN;
	load_nickname(s);
	req_redirect(r, "/%s/home", r->sid);
}

void
web_login_error(struct req *r, const struct pa_result *pr)
{
	char d[64];

	page_duration(r, pr->seconds, d, sizeof d);
	switch (pr->outcome) {
	case PA_WRONG:
		page_error(r, T(r, "ログインIDまたはパスワードが正しくありません。",
				"The login ID or password is not correct."));
		break;
	case PA_LOCKED:
	case PA_DELAY: {
		char msg[512];

		if (pr->seconds > 0)
			snprintf(msg, sizeof msg,
				 T(r,
				   "ログインの失敗が続いたため、現在ログインできません。%s後に再度お試しください。",
				   "There were too many failed logins. Please try again in %s."),
				 d);
		else
			snprintf(msg, sizeof msg, "%s",
				 T(r,
				   "このアカウントはロックされています。健康保険組合にお問い合わせください。",
				   "This account is locked. Please contact your health insurance society."));
		page_error(r, msg);
		break;
	}
	case PA_DISABLED:
		page_error(
			r,
			T(r,
			  "このアカウントは利用停止されています。健康保険組合にお問い合わせください。",
			  "This account has been suspended. Please contact your health insurance society."));
		break;
	case PA_NOT_REGISTERED:
		page_error(
			r,
			T(r,
			  "利用登録が完了していません。お手元の「健康ポータルサイトへの登録について」に記載のログインIDと仮パスワードで、新規利用登録を行ってください。",
			  "The registration is not complete. Please register first with the login ID and temporary password of your letter."));
		break;
	default:
		page_error(
			r,
			T(r,
			  "現在、ログインサービスをご利用いただけません。しばらくしてから再度お試しください。",
			  "The login service is not available at the moment. Please try again later."));
		break;
	}
}

/* ---- ログイン ---- */

static void
login_form(struct req *r, const char *login, const struct pa_result *pr, const char *error)
{
	const struct field id = { "login",    T(r, "ログインID", "Login ID"),
				  "text",     login,
				  "username", LOGIN_MAX,
				  0,          NULL,
				  NULL };
	const struct field pw = { "password",
				  T(r, "パスワード", "Password"),
				  "password",
				  "",
				  "current-password",
				  PASSWORD_MAX,
				  0,
				  NULL,
				  NULL };

	page_begin(r, T(r, "ログイン", "Log in"),
		   T(r, "登録したログインIDとパスワードでログインしてください。",
		     "Please log in with your registered login ID and password."));
	if (r->w->kenpod->nsocieties > 1)
		hf(r, "<p>%s%s</p>", r->soc->name,
		   T(r, "のアカウントでログインください。",
		     ": log in with your account of this society."));
	if (req_query(r, "bye") != NULL)
		page_notice(r, T(r, "ログアウトしました。", "You have logged out."));
	if (pr != NULL)
		web_login_error(r, pr);
	if (error != NULL)
		page_error(r, error);
	form_begin(r, "login");
	page_field(r, &id);
	page_field(r, &pw);
	page_show_password(r, "password");
	page_button(r, T(r, "ログイン", "Log in"), NULL);
	form_end(r);
	hf(r, "<p><a href=\"/%s/forgot\">%s</a></p>", r->sid,
	   T(r, "ログインID・パスワードを忘れた方はこちら", "Forgot your login ID or password?"));
	hf(r, "<h2>%s</h2><p>%s</p>", T(r, "新規利用登録", "New registration"),
	   T(r, "ユーザー登録がお済でない方は利用登録を行ってください。",
	     "If you have not registered yet, please register first."));
	hf(r, "<p class=\"actions\"><a class=\"button\" href=\"/%s/register\">%s</a></p>", r->sid,
	   T(r, "新規利用登録", "New registration"));
	page_end(r);
}

/* A login that ended at the password: start it over. */
static void
password_step(struct req *r, const char *login, const char *password)
{
	struct pa_ctx c;
	struct pa_result pr;

	web_pa_ctx(r, &c);
	pa_password(&c, login, password, &pr);
	if (pr.outcome == PA_OK || pr.outcome == PA_MUST_CHANGE) {
		web_logged_in(r, &pr, password);
	} else if (pr.outcome == PA_KEY) {
		session_forget_login(r->s);
		r->s->state = SS_KEY;
		snprintf(r->s->login, sizeof r->s->login, "%s", pr.login);
		snprintf(r->s->secret, sizeof r->s->secret, "%s", password);
		snprintf(r->s->masked, sizeof r->s->masked, "%s", pr.masked);
		r->s->key_expiry = session_now() + (pr.seconds > 0 ? pr.seconds : 0);
		r->rotate = 1;
		req_redirect(r, "/%s/key", r->sid);
	} else {
		login_form(r, login, &pr, NULL);
	}
	sodium_memzero(&pr, sizeof pr);
}

void
screen_login(struct req *r)
{
	const char *login = form_str(&r->form, "login");
	const char *password = form_str(&r->form, "password");
	struct pa_result pr;

	if (!r->post) {
		if (r->s->state == SS_IN) {
			req_redirect(r, "/%s/home", r->sid);
			return;
		}
		login_form(r, "", NULL, NULL);
		return;
	}
	memset(&pr, 0, sizeof pr);
	pr.outcome = PA_WRONG;
	/* What this session held (a pending key of another member, or of the
	 * same one starting again; a login) is left behind. */
	web_end_login(r->s, r->client);
	if (login[0] == '\0' || password[0] == '\0') {
		login_form(r, login, NULL,
			   T(r, "ログインIDとパスワードを入力してください。",
			     "Please enter your login ID and password."));
		return;
	}
	if (strlen(login) > LOGIN_MAX || strlen(password) > PASSWORD_MAX) {
		login_form(r, "", &pr, NULL);
		return;
	}
	password_step(r, login, password);
}

/* ---- 暗証キー入力 ---- */

static void
key_page(struct req *r, const char *error)
{
	const struct field key = { "key",
				   T(r, "暗証キー", "One-time key"),
				   "text",
				   "",
				   "one-time-code",
				   16,
				   1,
				   NULL,
				   "numeric" };
	int64_t left = r->s->key_expiry - session_now();
	char d[64], v[64], msg[256];

	page_duration(r, (long)r->soc->key_validity, v, sizeof v);
	page_begin(r, T(r, "暗証キー入力", "Enter the one-time key"),
		   T(r, "メールに記載された暗証キーを入力してください。",
		     "Please enter the one-time key written in the mail."));
	if (error != NULL)
		page_error(r, error);
	hf(r, "<p>%s<br>%s<br><strong>%s</strong></p>",
	   T(r, "暗証キーをご登録のメールアドレスへ送信しました。",
	     "A one-time key was sent to your registered mail address."),
	   T(r, "メールに記載している暗証キーを入力して、ログインを行ってください。",
	     "Enter the key from the mail to log in."),
	   T(r, "※暗証キーを入力するまでこのページは閉じないでください。",
	     "* Please do not close this page until you have entered the key."));
	hf(r, "<p class=\"masked\">%s</p>", r->s->masked);
	if (left > 0) {
		page_duration(r, (long)left, d, sizeof d);
		snprintf(msg, sizeof msg,
			 T(r, "暗証キーの残り有効時間：約%s", "Time left for this key: about %s"),
			 d);
	} else {
		snprintf(msg, sizeof msg, "%s",
			 T(r, "暗証キーの有効期限が切れました。暗証キー再請求を行ってください。",
			   "The key has expired. Please request a new key."));
	}
	hf(r, "<p class=\"time-left\" role=\"status\">%s</p>", msg);
	form_begin(r, "key");
	page_field(r, &key);
	page_button(r, T(r, "ログイン", "Log in"), NULL);
	form_end(r);
	form_begin(r, "key/resend");
	page_button(r, T(r, "暗証キー再請求", "Request a new key"), "secondary");
	form_end(r);
	hf(r, "<ul class=\"notes\"><li>%s</li>",
	   T(r, "この暗証キーは今回1回限り有効です。", "This key is valid for this login only."));
	snprintf(msg, sizeof msg,
		 T(r,
		   "この暗証キーは約%s間有効です。ご登録いただいているメールアドレスの受信ボックスを%s以内にご確認ください。",
		   "This key is valid for about %s. Please check the inbox of your registered address within %s."),
		 v, v);
	hf(r, "<li>%s</li><li>%s</li>", msg,
	   T(r, "メールが届かない場合は、「迷惑メール」フォルダに入っていないかご確認ください。",
	     "If no mail arrives, please check your spam folder."));
	snprintf(msg, sizeof msg,
		 T(r,
		   "暗証キーが届いていない場合や、%s以上経過した場合は、暗証キー再請求を行ってください。",
		   "If the key has not arrived, or more than %s have passed, please request a new key."),
		 v);
	hf(r, "<li>%s</li></ul>", msg);
	form_begin(r, "key/abort");
	page_button(r,
		    T(r, "ログインを中止してログイン画面に戻る",
		      "Cancel and return to the login page"),
		    "secondary");
	form_end(r);
	page_end(r);
}

static int
key_screen_ok(struct req *r)
{
	if (r->s->state == SS_KEY)
		return 1;
	req_redirect(r, "/%s/login", r->sid);
	return 0;
}

/* The key step ended the login: back to ログイン with why. */
static void
key_failed(struct req *r, const char *why)
{
	session_forget_login(r->s);
	snprintf(r->s->notice, sizeof r->s->notice, "%s", why);
	req_redirect(r, "/%s/login", r->sid);
}

static int
is_key(const char *s)
{
	size_t i;

	for (i = 0; i < KEY_DIGITS; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return s[KEY_DIGITS] == '\0';
}

static void
key_answer(struct req *r, const struct pa_result *pr)
{
	char msg[256];

	switch (pr->outcome) {
	case PA_OK:
	case PA_MUST_CHANGE: {
		char pw[64];

		snprintf(pw, sizeof pw, "%s", r->s->secret);
		web_logged_in(r, pr, pw);
		sodium_memzero(pw, sizeof pw);
		return;
	}
	case PA_KEY_WRONG:
		if (pr->tries_left > 0)
			snprintf(msg, sizeof msg,
				 T(r, "暗証キーが正しくありません。あと%d回入力できます。",
				   "The key is not correct. You can try %d more times."),
				 pr->tries_left);
		else
			snprintf(msg, sizeof msg, "%s",
				 T(r,
				   "暗証キーが正しくありません。暗証キー再請求を行ってください。",
				   "The key is not correct. Please request a new key."));
		key_page(r, msg);
		return;
	case PA_KEY_RESENT:
		r->s->key_expiry = session_now() + (pr->seconds > 0 ? pr->seconds : 0);
		key_page(r,
			 T(r,
			   "暗証キーの有効期限が切れていたため、新しい暗証キーを送信しました。新しい暗証キーを入力してください。",
			   "The key had expired, so a new key was sent. Please enter the new key."));
		return;
	case PA_KEY_EXPIRED:
		key_page(r,
			 T(r, "暗証キーの有効期限が切れました。暗証キー再請求を行ってください。",
			   "The key has expired. Please request a new key."));
		return;
	case PA_KEY_VOID:
		key_failed(
			r,
			T(r,
			  "暗証キーの入力を規定回数以上誤ったため、暗証キーは無効になりました。再度ログインしてください。",
			  "The key is void: a wrong key was entered too many times. Please log in again."));
		return;
	default:
		key_failed(r, T(r, "ログインできませんでした。再度ログインしてください。",
				"The login failed. Please log in again."));
		return;
	}
}

void
screen_key(struct req *r)
{
	char key[32];
	const char *in = form_str(&r->form, "key");
	struct pa_result pr;
	struct pa_ctx c;
	size_t i, n = 0;

	if (!key_screen_ok(r))
		return;
	if (!r->post) {
		key_page(r, NULL);
		return;
	}
	/* Spaces and hyphens a mail reader may add are not part of the key. */
	for (i = 0; in[i] != '\0' && n < sizeof key - 1; i++)
		if (in[i] != ' ' && in[i] != '-')
			key[n++] = in[i];
	key[n] = '\0';
	if (!is_key(key)) {
		key_page(r, T(r, "暗証キーは、メールに記載された10桁の数字です。",
			      "The key is the 10-digit number in the mail."));
	} else if (r->s->key_expiry <= session_now()) {
		key_page(r,
			 T(r, "暗証キーの有効期限が切れました。暗証キー再請求を行ってください。",
			   "The key has expired. Please request a new key."));
	} else {
		web_pa_ctx(r, &c);
		pa_key(&c, r->s->login, r->s->secret, key, &pr);
		key_answer(r, &pr);
		sodium_memzero(&pr, sizeof pr);
	}
	sodium_memzero(key, sizeof key);
}

void
screen_key_resend(struct req *r)
{
	struct pa_result pr;
	struct pa_ctx c;
	char d[64], msg[256];

	if (!key_screen_ok(r))
		return;
	web_pa_ctx(r, &c);
	pa_resend(&c, r->s->login, r->s->secret, &pr);
	if (pr.outcome == PA_KEY_RESENT) {
		if (pr.masked[0] != '\0')
			snprintf(r->s->masked, sizeof r->s->masked, "%s", pr.masked);
		r->s->key_expiry = session_now() + (pr.seconds > 0 ? pr.seconds : 0);
		snprintf(r->s->notice, sizeof r->s->notice, "%s",
			 T(r, "新しい暗証キーを送信しました。以前の暗証キーは無効になりました。",
			   "A new key was sent. The previous key is no longer valid."));
		req_redirect(r, "/%s/key", r->sid);
	} else if (pr.outcome == PA_COOLDOWN || pr.outcome == PA_KEY) {
		page_duration(r, pr.seconds > 0 ? pr.seconds : 60, d, sizeof d);
		snprintf(msg, sizeof msg,
			 T(r,
			   "暗証キーの再請求は%s後に行えます。新しいメールは送信していません。送信済みの暗証キーを入力するか、しばらくお待ちください。",
			   "A new key can be requested in %s. No new mail was sent. Please enter the key already sent, or wait."),
			 d);
		key_page(r, msg);
	} else if (pr.outcome == PA_TOO_MANY) {
		key_failed(r, T(r, "暗証キーの再請求が多すぎます。再度ログインしてください。",
				"Too many requests for a new key. Please log in again."));
	} else {
		key_answer(r, &pr);
	}
	sodium_memzero(&pr, sizeof pr);
}

void
screen_key_abort(struct req *r)
{
	web_end_login(r->s, r->client);
	snprintf(r->s->notice, sizeof r->s->notice, "%s",
		 T(r, "ログインを中止しました。発行された暗証キーは無効になりました。",
		   "The login was cancelled. The key that was sent is no longer valid."));
	req_redirect(r, "/%s/login", r->sid);
}

/* ---- home, logout, help ---- */

void
web_end_login(struct session *s, const char *rhost)
{
	if (s->state == SS_KEY && s->key_expiry > session_now())
		(void)be_key_abort(s->login, s->secret, rhost);
	else if ((s->state == SS_IN || s->state == SS_MUST_CHANGE) && s->ticket[0] != '\0')
		(void)be_profile_end(s->login, s->ticket);
	session_forget_login(s);
}

void
web_login_expired(struct req *r)
{
	session_forget_login(r->s);
	snprintf(r->s->notice, sizeof r->s->notice, "%s",
		 T(r,
		   "一定時間操作がなかったか、ログインから長い時間が経ったため、ログアウトしました。再度ログインしてください。",
		   "You have been logged out after a time without use, or a long time after your login. Please log in again."));
	r->rotate = 1;
	req_redirect(r, "/%s/login", r->sid);
}

/* The profile session at kenpod is the login: each page of a member
 * presents its ticket, which keeps it alive or tells that it has ended. */
static int
profile_session(struct req *r, struct be_profile *p)
{
	const char *v;
	int rc;

	if (r->s->ticket[0] == '\0') {
		memset(p, 0, sizeof(*p));
		return 1;
	}
	rc = be_profile_get(r->s->login, r->s->ticket, sizeof r->s->ticket, p);
	if (rc == KENPO_RES_TOKEN_EXPIRED || rc == KENPO_RES_TOKEN_INVALID ||
	    rc == KENPO_RES_DENIED || rc == KENPO_RES_NOTFOUND) {
		web_login_expired(r);
		return 0;
	}
	/* The nickname may have changed on another page. */
	if (rc == KENPO_RES_OK && (v = be_profile_value(p, "nickname")) != NULL && v[0] != '\0')
		snprintf(r->s->nickname, sizeof r->s->nickname, "%s", v);
	return 1;
}

int
web_require_login(struct req *r, struct be_profile *p)
{
	struct be_profile own;
	int ok;

	if (r->s->state == SS_MUST_CHANGE) {
		req_redirect(r, "/%s/password/new", r->sid);
		return 0;
	}
	if (r->s->state != SS_IN) {
		req_redirect(r, "/%s/login", r->sid);
		return 0;
	}
	ok = profile_session(r, p != NULL ? p : &own);
	if (p == NULL)
		be_profile_free(&own);
	return ok;
}

void
screen_home(struct req *r)
{
	char welcome[400];

	if (!web_require_login(r, NULL))
		return;
	page_begin(r, T(r, "ホーム", "Home"), NULL);
	if (r->s->last_login_known)
		hf(r, "<p class=\"last-login\">%s %s</p>", T(r, "前回ログイン日時", "Last login"),
		   r->s->last_login[0] != '\0' ?
			   r->s->last_login :
			   T(r, "なし（初めてのログイン）", "none (first login)"));
	snprintf(welcome, sizeof welcome, T(r, "ようこそ%sさん", "Welcome, %s"), r->s->nickname);
	hf(r, "<p class=\"welcome\">%s</p>", welcome);
	form_begin(r, "logout");
	page_button(r, T(r, "ログアウト", "Log out"), "secondary");
	form_end(r);
	hf(r,
	   "<ul class=\"menu\"><li><a href=\"/%s/profile\">%s</a></li>"
	   "<li><a href=\"/%s/password\">%s</a></li></ul>",
	   r->sid, T(r, "プロフィール設定", "Profile settings"), r->sid,
	   T(r, "パスワード変更", "Change password"));
	page_end(r);
}

void
screen_logout(struct req *r)
{
	web_end_login(r->s, r->client);
	session_end(r->s);
	req_redirect(r, "/%s/login?bye=1", r->sid);
}

void
screen_help(struct req *r)
{
	char v[64], msg[256];

	page_duration(r, (long)r->soc->key_validity, v, sizeof v);
	page_begin(r, T(r, "ヘルプ", "Help"), NULL);
	hf(r, "<h2>%s</h2>", T(r, "ログイン", "Logging in"));
	snprintf(msg, sizeof msg,
		 T(r,
		   "ログインIDとパスワードを入力すると、登録されたメールアドレスに暗証キー（ワンタイムパスワード）が届きます。暗証キーの有効時間は%sです。",
		   "After your login ID and password, a one-time key is mailed to your registered address. It is valid for %s."),
		 v);
	hf(r, "<p>%s</p>", msg);
	hf(r, "<h2>%s</h2><p>%s</p>",
	   T(r, "ログインID・パスワードを忘れた場合", "Forgotten password"),
	   T(r,
	     "ログイン画面の「ログインID・パスワードを忘れた方はこちら」から、登録したメールアドレスを入力してください。",
	     "Use \"Forgot your login ID or password?\" on the login page and enter your registered address."));
	page_rules_id(r);
	page_rules_password(r);
	hf(r, "<p>%s</p>",
	   T(r, "ご不明な点は、健康保険組合にお問い合わせください。",
	     "For any question, please contact your health insurance society."));
	hf(r, "<p><a href=\"/%s/login\">%s</a></p>", r->sid, T(r, "ログイン画面", "Login page"));
	page_end(r);
}
