/*
 * screen_register.c - 新規利用登録: the guide request (an address on the web,
 * or an empty mail), the mailed guide link, the letter's login ID and
 * temporary password, 本人確認 with its CAPTCHA and 本人確認完了 with the
 * on-screen 認証キー, the identity link and 認証キー入力, 利用者情報入力 and
 * 利用者情報登録完了.
 *
 * A mailed link's token is read from its URL once, kept in the session
 * and the browser sent on to a clean URL, so that no secret stays in the
 * address bar, the history or a Referer.  The hop is a page that moves on
 * by itself (meta refresh) rather than a redirect: the session cookie is
 * SameSite=Strict, and a browser does not send it on a redirect that a
 * click in a mail reader (another site) started; a navigation started by
 * this site's own page carries it.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend.h"
#include "captcha.h"
#include "kenpo-proto.h"
#include "page.h"
#include "policy.h"
#include "text.h"
#include "web.h"

#define TOKEN_MAX 128
#define ADDRESS_MAX 254
#define NICKNAME_MAX 64

/* ---- shared ---- */

void
web_dead_end(struct req *r, const char *title, const char *msg, const char *href,
	     const char *label)
{
	page_begin(r, title, NULL);
	page_error(r, msg);
	hf(r, "<p class=\"actions\"><a class=\"button\" href=\"/%s/%s\">%s</a></p>", r->sid, href,
	   label);
	page_end(r);
}

static int
token_ok(const char *t)
{
	size_t n = strlen(t);

	return n > 0 && n <= TOKEN_MAX &&
	       strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

void
web_link_landing(struct req *r, int kind, const char *next)
{
	const char *token = req_query(r, "token");

	if (token == NULL || !token_ok(token)) {
		r->status = 404;
		web_dead_end(r, T(r, "エラー", "Error"),
			     T(r,
			       "このURLは正しくありません。メールに記載されたURLをもう一度ご確認ください。",
			       "This link is not valid. Please check the link in the mail."),
			     "login", T(r, "ログイン画面", "Login page"));
		return;
	}
	sodium_memzero(r->s->link, sizeof r->s->link);
	snprintf(r->s->link, sizeof r->s->link, "%s", token);
	r->s->link_kind = kind;
	hf(r,
	   "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
	   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	   "<meta http-equiv=\"refresh\" content=\"0;url=/%s/%s\"><title>%s</title>"
	   "<link rel=\"stylesheet\" href=\"/static/kenpo.css\"></head><body><main>"
	   "<p><a href=\"/%s/%s\">%s</a></p></main></body></html>\n",
	   r->lang == KENPO_LANG_EN ? "en" : "ja", r->sid, next,
	   T(r, "健康マイポータル", "Health My Portal"), r->sid, next,
	   T(r, "次へ進む", "Continue"));
}

/* The link of this session, checked with kenpod: 1 when usable. */
static int
link_usable(struct req *r, int kind)
{
	char masked[256];
	int k = 0, secs = 0, rc;

	if (r->s->link[0] == '\0' || r->s->link_kind != kind) {
		rc = KENPO_RES_TOKEN_INVALID;
	} else {
		rc = be_token_check(r->s->link, &k, &secs, masked, sizeof masked);
		if (rc == KENPO_RES_OK && k != kind)
			rc = KENPO_RES_TOKEN_INVALID;
	}
	if (rc == KENPO_RES_OK)
		return 1;
	if (rc == KENPO_RES_TOKEN_EXPIRED)
		web_dead_end(
			r, T(r, "新規利用登録", "New registration"),
			T(r,
			  "URLの有効期限が切れています。お手数ですが、メールアドレスの登録からやり直してください。",
			  "The link has expired. Please start again by entering your mail address."),
			"register", T(r, "新規利用登録", "New registration"));
	else if (rc == KENPO_RES_TOKEN_INVALID)
		web_dead_end(
			r, T(r, "新規利用登録", "New registration"),
			T(r,
			  "このURLは無効です（使用済みか、正しくありません）。お手数ですが、メールアドレスの登録からやり直してください。",
			  "This link is no longer valid (used, or not correct). Please start again by entering your mail address."),
			"register", T(r, "新規利用登録", "New registration"));
	else
		web_dead_end(r, T(r, "新規利用登録", "New registration"),
			     T(r,
			       "現在、ご利用いただけません。しばらくしてから再度お試しください。",
			       "The service is not available at the moment. Please try again later."),
			     "login", T(r, "ログイン画面", "Login page"));
	return 0;
}

static int
address_ok(const char *a)
{
	return a[0] != '\0' && strlen(a) <= ADDRESS_MAX && kenpo_mail_address_ok(a);
}

/* ---- 新規利用登録: the guide request ---- */

static void
register_page(struct req *r, const char *address, const char *error)
{
	const struct field mail = { "address", T(r, "メールアドレス", "Mail address"),
				    "email",   address,
				    "email",   ADDRESS_MAX,
				    1,         NULL,
				    "email" };

	page_begin(r, T(r, "新規利用登録", "New registration"),
		   T(r,
		     "登録するメールアドレスを入力し、「送信する」ボタンをクリックしてください。",
		     "Enter the mail address to register and press \"Send\"."));
	if (error != NULL)
		page_error(r, error);
	form_begin(r, "register");
	page_field(r, &mail);
	hf(r, "<p class=\"hint\">%s</p>",
	   T(r, "※送信前にはメールアドレスに間違いがないか再度ご確認ください。",
	     "* Please check the address before sending."));
	page_button(r, T(r, "送信する", "Send"), NULL);
	form_end(r);
	hf(r, "<p>%s</p>",
	   T(r,
	     "入力したメールアドレスに「利用登録手続きのご案内」メールが届きます。メール本文に記載されているURLから登録手続きに進んでください。",
	     "A mail \"Registration guide\" will arrive at the address. Follow the link in it to register."));
	if (r->soc->entry_address != NULL) {
		hf(r, "<h2>%s</h2><p>%s</p>",
		   T(r, "空メールを送信して登録する", "Register by an empty mail"),
		   T(r,
		     "スマートフォンなどから次のアドレスへ空メールを送信すると、「利用登録手続きのご案内」メールが自動で返信されます。",
		     "Send an empty mail from your phone or computer to this address; the registration guide is sent back automatically."));
		hf(r, "<p class=\"masked\"><a href=\"mailto:%s\">%s</a></p>",
		   r->soc->entry_address, r->soc->entry_address);
	}
	hf(r, "<p class=\"actions\"><a class=\"button\" href=\"/%s/login\">%s</a></p>", r->sid,
	   T(r, "ログイン画面", "Login page"));
	page_end(r);
}

void
screen_register(struct req *r)
{
	const char *address = form_str(&r->form, "address");
	int rc;

	if (!r->post) {
		register_page(r, "", NULL);
		return;
	}
	if (!address_ok(address)) {
		register_page(r, "",
			      T(r, "メールアドレスの形式が正しくありません。",
				"The mail address is not valid."));
		return;
	}
	rc = be_guide_request(r->sid, address, NULL);
	if (rc == KENPO_RES_OK)
		req_redirect(r, "/%s/register/sent", r->sid);
	else if (rc == KENPO_RES_BADVALUE)
		register_page(r, "",
			      T(r, "メールアドレスの形式が正しくありません。",
				"The mail address is not valid."));
	else
		register_page(
			r, address,
			T(r, "現在、ご利用いただけません。しばらくしてから再度お試しください。",
			  "The service is not available at the moment. Please try again later."));
}

void
screen_register_sent(struct req *r)
{
	char v[64], msg[512];

	page_duration(r, r->soc->guide_validity, v, sizeof v);
	page_begin(r, T(r, "新規利用登録", "New registration"), NULL);
	hf(r, "<p>%s</p>",
	   T(r,
	     "入力されたメールアドレス宛に「利用登録手続きのご案内」メールを送信しました。メール本文に記載されているURLから利用登録の手続きに進んでください。",
	     "A mail \"Registration guide\" was sent to the address you entered. Please follow the link in it to register."));
	snprintf(msg, sizeof msg,
		 T(r,
		   "※URLの有効期限は%sです。有効期限を過ぎた場合は、お手数ですがメールアドレスの登録からやり直してください。",
		   "* The link is valid for %s. After that, please start again by entering your address."),
		 v);
	hf(r, "<p>%s</p>", msg);
	hf(r, "<p>%s</p>",
	   T(r,
	     "※メールが届かない場合は、メールアドレスが間違えているか迷惑メールに入っている可能性があります。メールの受信設定等を再度ご確認ください。",
	     "* If no mail arrives, the address may be wrong or the mail may be in your spam folder. Please check your mail settings."));
	hf(r, "<p>%s<a href=\"/%s/register\">%s</a>%s</p>",
	   T(r, "しばらく経ってもメールが届かない場合は、", "If no mail arrives after a while, "),
	   r->sid, T(r, "こちら", "start again"),
	   T(r, "よりメールアドレスの入力からやり直してください。",
	     " by entering your address."));
	page_link_button(r, "login", T(r, "ログイン画面", "Login page"));
	page_end(r);
}

/* ---- the guide link, and 新規利用登録 with the letter ---- */

void
screen_guide_link(struct req *r)
{
	web_link_landing(r, KENPO_TOKEN_GUIDE, "register/start");
}

static void
start_page(struct req *r, const char *login, const char *error)
{
	const struct field id = {
		"login", T(r, "ログインID", "Login ID"), "text", login, "username", 64, 1, NULL,
		NULL
	};
	const struct field pw = { "temp_password",
				  T(r, "仮パスワード", "Temporary password"),
				  "password",
				  "",
				  "off",
				  128,
				  1,
				  NULL,
				  NULL };
	/* A society that registers both ways offers both on this screen, as
	 * the Accenture manual's does: the letter's login first. */
	int letter = (r->soc->registration & KENPO_REGF_LETTER) != 0;
	int identity = (r->soc->registration & KENPO_REGF_IDENTITY) != 0;

	page_begin(r, T(r, "新規利用登録", "New registration"),
		   letter ?
			   T(r,
			     "事前にお知らせしたログインIDと仮パスワードでログインしてください。",
			     "Please log in with the login ID and temporary password of your letter.") :
			   T(r, "本人確認を行って、利用登録を開始してください。",
			     "Please confirm your identity to start the registration."));
	if (error != NULL)
		page_error(r, error);
	if (letter) {
		form_begin(r, "register/start");
		page_field(r, &id);
		page_field(r, &pw);
		page_show_password(r, "temp_password");
		page_button(r, T(r, "ログイン", "Log in"), NULL);
		form_end(r);
	}
	if (identity) {
		hf(r, "<p>%s</p>",
		   T(r, "※ログインIDが不明な場合は、こちらから利用登録を開始してください。",
		     "* If you have no login ID, start the registration here."));
		hf(r,
		   "<p class=\"actions\"><a class=\"button\" href=\"/%s/identity/check\">%s</a></p>",
		   r->sid, T(r, "本人確認ページへ", "To the identity check"));
	}
	page_end(r);
}

void
screen_register_start(struct req *r)
{
	const char *login = form_str(&r->form, "login");
	const char *temp = form_str(&r->form, "temp_password");
	struct be_detail d;
	struct be_reg reg;
	int rc;

	if (!link_usable(r, KENPO_TOKEN_GUIDE))
		return;
	if (!r->post) {
		start_page(r, "", NULL);
		return;
	}
	if (login[0] == '\0' || temp[0] == '\0') {
		start_page(r, login,
			   T(r, "ログインIDと仮パスワードを入力してください。",
			     "Please enter the login ID and the temporary password."));
		return;
	}
	memset(&reg, 0, sizeof reg);
	rc = be_letter_open(r->s->link, login, temp, &reg, &d);
	if (rc == KENPO_RES_OK) {
		sodium_memzero(r->s->link, sizeof r->s->link);
		snprintf(r->s->reg_ticket, sizeof r->s->reg_ticket, "%s", reg.ticket);
		snprintf(r->s->reg_mail, sizeof r->s->reg_mail, "%s", reg.mail);
		r->rotate = 1;
		req_redirect(r, "/%s/register/form", r->sid);
	} else if (rc == KENPO_RES_AUTH_ERR) {
		start_page(r, login,
			   T(r, "ログインIDまたは仮パスワードが正しくありません。",
			     "The login ID or the temporary password is not correct."));
	} else if (rc == KENPO_RES_LOCKED || rc == KENPO_RES_TOKEN_INVALID ||
		   rc == KENPO_RES_TOKEN_EXPIRED) {
		web_dead_end(
			r, T(r, "新規利用登録", "New registration"),
			T(r,
			  "誤った入力が続いたか有効期限が過ぎたため、このURLは使えなくなりました。お手数ですが、メールアドレスの登録からやり直してください。",
			  "This link can no longer be used (too many wrong entries, or expired). Please start again by entering your address."),
			"register", T(r, "新規利用登録", "New registration"));
	} else {
		start_page(r, login,
			   T(r,
			     "現在、ご利用いただけません。しばらくしてから再度お試しください。",
			     "The service is not available at the moment. Please try again later."));
	}
	sodium_memzero(&reg, sizeof reg);
}

/* ---- 本人確認 ---- */

static const struct captcha_provider *
captcha(const struct req *r)
{
	return captcha_find(r->w->conf->captcha);
}

static void
identity_page(struct req *r, const char *address, const char *y, const char *m, const char *d,
	      const char *error)
{
	const struct field mail = { "address", T(r, "メールアドレス", "Mail address"),
				    "email",   address,
				    "email",   ADDRESS_MAX,
				    1,         NULL,
				    "email" };

	if (captcha(r)->challenge(r) != 0) {
		r->status = 500;
		return;
	}
	page_begin(r, T(r, "本人確認", "Identity check"),
		   T(r, "本人確認に必要な情報を入力してください。",
		     "Please enter the information needed to confirm your identity."));
	if (error != NULL)
		page_error(r, error);
	form_begin(r, "identity/check");
	page_field(r, &mail);
	hf(r,
	   "<fieldset><legend>%s <span class=\"req\">*</span></legend><div class=\"dob\">%s "
	   "<input id=\"dob_y\" name=\"dob_y\" type=\"text\" inputmode=\"numeric\" maxlength=\"4\" "
	   "value=\"%s\" aria-label=\"%s\" required> %s "
	   "<input id=\"dob_m\" name=\"dob_m\" type=\"text\" inputmode=\"numeric\" maxlength=\"2\" "
	   "value=\"%s\" aria-label=\"%s\" required> %s "
	   "<input id=\"dob_d\" name=\"dob_d\" type=\"text\" inputmode=\"numeric\" maxlength=\"2\" "
	   "value=\"%s\" aria-label=\"%s\" required> %s</div></fieldset>",
	   T(r, "生年月日", "Date of birth"), T(r, "西暦", ""), y, T(r, "年（西暦）", "Year"),
	   T(r, "年", "/"), m, T(r, "月", "Month"), T(r, "月", "/"), d, T(r, "日", "Day"),
	   T(r, "日", ""));
	captcha(r)->form(r);
	page_button(r, T(r, "確認", "Confirm"), NULL);
	form_end(r);
	page_end(r);
}

/* "YYYY-MM-DD" from the three fields, or -1. */
static int
birth_date(const char *y, const char *m, const char *d, char *out, size_t outsz)
{
	char *end;
	long yy = strtol(y, &end, 10), mm, dd;

	if (*y == '\0' || *end != '\0' || yy < 1900 || yy > 2100)
		return -1;
	mm = strtol(m, &end, 10);
	if (*m == '\0' || *end != '\0' || mm < 1 || mm > 12)
		return -1;
	dd = strtol(d, &end, 10);
	if (*d == '\0' || *end != '\0' || dd < 1 || dd > 31)
		return -1;
	snprintf(out, outsz, "%04ld-%02ld-%02ld", yy, mm, dd);
	return 0;
}

static void
identity_answer(struct req *r, int rc, const struct be_detail *d, const char *address,
		const char *y, const char *m, const char *dd)
{
	char msg[256];

	if (rc == KENPO_RES_OK) {
		sodium_memzero(r->s->link, sizeof r->s->link);
		req_redirect(r, "/%s/identity/done", r->sid);
	} else if (rc == KENPO_RES_MISMATCH && d->tries_left > 0) {
		snprintf(msg, sizeof msg,
			 T(r,
			   "入力された情報では本人確認ができませんでした。入力内容をご確認ください（あと%d回入力できます）。",
			   "Your identity could not be confirmed with this information. Please check it (%d more tries)."),
			 d->tries_left);
		identity_page(r, address, y, m, dd, msg);
	} else if (rc == KENPO_RES_MISMATCH || rc == KENPO_RES_TOKEN_INVALID ||
		   rc == KENPO_RES_TOKEN_EXPIRED) {
		web_dead_end(
			r, T(r, "本人確認", "Identity check"),
			T(r,
			  "本人確認ができませんでした。このURLは使えなくなりました。お手数ですが、健康保険組合にお問い合わせください。",
			  "Your identity could not be confirmed, and this link can no longer be used. Please contact your health insurance society."),
			"login", T(r, "ログイン画面", "Login page"));
	} else if (rc == KENPO_RES_BADVALUE && strcmp(d->field, "registration") == 0) {
		web_dead_end(r, T(r, "本人確認", "Identity check"),
			     T(r,
			       "この健康保険組合では、本人確認による利用登録は行っていません。",
			       "This society does not register members by an identity check."),
			     "register/start", T(r, "新規利用登録", "New registration"));
	} else if (rc == KENPO_RES_BADVALUE) {
		identity_page(r, address, y, m, dd,
			      T(r, "メールアドレスまたは生年月日の形式が正しくありません。",
				"The mail address or the date of birth is not valid."));
	} else {
		identity_page(
			r, address, y, m, dd,
			T(r, "現在、ご利用いただけません。しばらくしてから再度お試しください。",
			  "The service is not available at the moment. Please try again later."));
	}
}

void
screen_identity(struct req *r)
{
	const char *address = form_str(&r->form, "address"), *y = form_str(&r->form, "dob_y");
	const char *m = form_str(&r->form, "dob_m"), *dd = form_str(&r->form, "dob_d");
	struct be_detail d;
	char dob[16];
	int rc;

	if (!link_usable(r, KENPO_TOKEN_GUIDE))
		return;
	if (!r->post) {
		identity_page(r, "", "", "", "", NULL);
		return;
	}
	/* The CAPTCHA first: it is used up whatever else is wrong. */
	if (!captcha(r)->verify(r, form_str(&r->form, "captcha"))) {
		identity_page(
			r, address, y, m, dd,
			T(r, "画像の文字が正しくありません。新しい画像の文字を入力してください。",
			  "The characters of the image are not correct. Please type those of the new image."));
		return;
	}
	if (!address_ok(address) || birth_date(y, m, dd, dob, sizeof dob) != 0) {
		identity_page(r, address, y, m, dd,
			      T(r, "メールアドレスまたは生年月日の形式が正しくありません。",
				"The mail address or the date of birth is not valid."));
		return;
	}
	memset(&d, 0, sizeof d);
	rc = be_identity_check(r->s->link, address, dob, r->s->authkey, sizeof r->s->authkey, &d);
	identity_answer(r, rc, &d, address, y, m, dd);
}

void
screen_identity_done(struct req *r)
{
	if (r->s->authkey[0] == '\0') {
		req_redirect(r, "/%s/login", r->sid);
		return;
	}
	page_begin(r, T(r, "本人確認完了", "Identity confirmed"),
		   T(r, "本人確認が完了しました。", "Your identity has been confirmed."));
	hf(r, "<p>%s<br>%s<br>%s<br><strong>%s</strong></p>",
	   T(r, "ご登録のメールアドレスに利用登録手続きのご案内を送信しました。",
	     "A registration guide was sent to your registered mail address."),
	   T(r, "メール本文に記載されているURLから利用登録を行ってください。",
	     "Please register through the link in the mail."),
	   T(r, "利用登録の際には認証キーが必要です。",
	     "You will need the authentication key below."),
	   T(r, "認証キーはメールに記載されませんので、この画面で必ず覚えてください。",
	     "The key is not in the mail: please note it now."));
	hf(r, "<p><span class=\"authkey\" id=\"authkey\">%s</span></p>", r->s->authkey);
	page_end(r);
}

/* ---- the identity link and 認証キー入力 ---- */

void
screen_identity_link(struct req *r)
{
	web_link_landing(r, KENPO_TOKEN_IDENTITY, "identity/key");
}

static void
authkey_page(struct req *r, const char *error)
{
	const struct field key = {
		"authkey", T(r, "認証キー", "Authentication key"), "text", "", "off", 16, 1, NULL,
		NULL
	};

	page_begin(r, T(r, "認証キー入力", "Enter the authentication key"),
		   T(r, "本人確認完了画面に表示された認証キーを入力してください。",
		     "Please enter the key shown on the identity confirmation page."));
	if (error != NULL)
		page_error(r, error);
	form_begin(r, "identity/key");
	page_field(r, &key);
	page_button(r, T(r, "認証", "Authenticate"), NULL);
	form_end(r);
	page_end(r);
}

void
screen_authkey(struct req *r)
{
	const char *key = form_str(&r->form, "authkey");
	struct be_detail d;
	struct be_reg reg;
	char msg[256];
	int rc;

	if (!link_usable(r, KENPO_TOKEN_IDENTITY))
		return;
	if (!r->post) {
		authkey_page(r, NULL);
		return;
	}
	memset(&reg, 0, sizeof reg);
	memset(&d, 0, sizeof d);
	rc = strlen(key) > 16 ? KENPO_RES_MISMATCH : be_identity_open(r->s->link, key, &reg, &d);
	if (rc == KENPO_RES_OK) {
		sodium_memzero(r->s->link, sizeof r->s->link);
		sodium_memzero(r->s->authkey, sizeof r->s->authkey);
		snprintf(r->s->reg_ticket, sizeof r->s->reg_ticket, "%s", reg.ticket);
		snprintf(r->s->reg_mail, sizeof r->s->reg_mail, "%s", reg.mail);
		r->rotate = 1;
		req_redirect(r, "/%s/register/form", r->sid);
	} else if (rc == KENPO_RES_MISMATCH && d.tries_left > 0) {
		snprintf(msg, sizeof msg,
			 T(r, "認証キーが正しくありません。あと%d回入力できます。",
			   "The key is not correct. You can try %d more times."),
			 d.tries_left);
		authkey_page(r, msg);
	} else {
		web_dead_end(
			r, T(r, "認証キー入力", "Enter the authentication key"),
			T(r,
			  "このURLは使えなくなりました。お手数ですが、新規利用登録からやり直してください。",
			  "This link can no longer be used. Please start the registration again."),
			"register", T(r, "新規利用登録", "New registration"));
	}
	sodium_memzero(&reg, sizeof reg);
}

/* ---- 利用者情報入力 and 利用者情報登録完了 ---- */

static void
userinfo_page(struct req *r, const char *login, const char *mail, const char *nickname)
{
	const struct field id = { "login",    T(r, "新ログインID", "New login ID"),
				  "text",     login,
				  "username", 39,
				  1,          NULL,
				  NULL };
	const struct field pw = { "password",
				  T(r, "新パスワード", "New password"),
				  "password",
				  "",
				  "new-password",
				  39,
				  1,
				  NULL,
				  NULL };
	const struct field pw2 = { "password2",
				   T(r, "新パスワード(確認)", "New password (again)"),
				   "password",
				   "",
				   "new-password",
				   39,
				   1,
				   NULL,
				   NULL };
	const struct field ad = { "mail",  T(r, "メールアドレス", "Mail address"),
				  "email", mail,
				  "email", ADDRESS_MAX,
				  1,       NULL,
				  "email" };
	const struct field nn = {
		"nickname",
		T(r, "ニックネーム", "Nickname"),
		"text",
		nickname,
		"nickname",
		NICKNAME_MAX,
		0,
		T(r,
		  "健康マイポータル上で表示される名称です。本名ではなくニックネームでのご登録をお勧めします。設定は任意です（デフォルトは「ご本人」）。",
		  "The name shown on the portal; please do not use your real name. Optional (default: ご本人)."),
		NULL
	};

	form_begin(r, "register/form");
	page_field(r, &id);
	page_field(r, &pw);
	page_field(r, &pw2);
	page_show_password(r, "password password2");
	page_field(r, &ad);
	page_field(r, &nn);
	page_button(r, T(r, "登録", "Register"), NULL);
	form_end(r);
	hf(r, "<ul class=\"notes\"><li>%s</li><li>%s</li><li>%s</li></ul>",
	   T(r, "ログインIDから新ログインIDに変更します。",
	     "Your login ID becomes the new login ID."),
	   T(r,
	     "仮パスワードから新パスワードに変更します。新パスワード(確認)に変更するパスワードを入れてください。",
	     "The temporary password becomes the new password; type it twice."),
	   T(r, "ニックネームを設定できます。設定は任意です。",
	     "You may set a nickname (optional)."));
	page_rules_id(r);
	page_rules_password(r);
	page_end(r);
}

static void
userinfo_begin(struct req *r)
{
	page_begin(r, T(r, "利用者情報入力", "Member information"),
		   T(r, "新しいログインID、パスワードを入力してください。",
		     "Please enter your new login ID and password."));
}

/* The form's own checks, before kenpod is asked: 1 when all pass. */
static int
userinfo_check(struct req *r, const char *login, const char *pw, const char *pw2,
	       const char *mail, const char *nickname)
{
	unsigned mask = kenpo_policy_check_login_id(login, strlen(login)) |
			kenpo_policy_check_password(pw, strlen(pw));

	if (mask != 0) {
		page_policy(r, T(r, "入力内容をご確認ください。", "Please check the form:"),
			    mask);
		return 0;
	}
	if (strlen(pw) != strlen(pw2) || sodium_memcmp(pw, pw2, strlen(pw)) != 0) {
		page_error(r, T(r, "新パスワードと新パスワード(確認)が一致しません。",
				"The two new passwords do not match."));
		return 0;
	}
	if (!address_ok(mail)) {
		page_error(r, T(r, "メールアドレスの形式が正しくありません。",
				"The mail address is not valid."));
		return 0;
	}
	if (strlen(nickname) > 4 * NICKNAME_MAX) {
		page_error(r, T(r, "ニックネームが長すぎます。", "The nickname is too long."));
		return 0;
	}
	return 1;
}

static void
register_answer(struct req *r, int rc, const struct be_detail *d)
{
	if (rc == KENPO_RES_POLICY)
		page_policy(r, T(r, "入力内容をご確認ください。", "Please check the form:"),
			    d->mask);
	else if (rc == KENPO_RES_ID_TAKEN)
		page_error(r,
			   T(r,
			     "このログインIDは既に使用されています。別のログインIDを入力してください。",
			     "This login ID is already taken. Please choose another."));
	else if (rc == KENPO_RES_BADVALUE)
		page_error(r,
			   strcmp(d->field, "nickname") == 0 ?
				   T(r,
				     "ニックネームに使えない文字が含まれているか、長すぎます。",
				     "The nickname holds characters that cannot be used, or is too long.") :
				   T(r, "入力内容に正しくない値があります。",
				     "A value of the form is not valid."));
	else
		page_error(r,
			   T(r,
			     "現在、ご利用いただけません。しばらくしてから再度お試しください。",
			     "The service is not available at the moment. Please try again later."));
}

void
screen_userinfo(struct req *r)
{
	const char *login = form_str(&r->form, "login"), *pw = form_str(&r->form, "password");
	const char *pw2 = form_str(&r->form, "password2"), *mail = form_str(&r->form, "mail");
	const char *nickname = form_str(&r->form, "nickname");
	struct be_detail d;
	char final[64];
	int rc;

	if (r->s->reg_ticket[0] == '\0') {
		req_redirect(r, "/%s/login", r->sid);
		return;
	}
	if (!r->post) {
		userinfo_begin(r);
		userinfo_page(r, "", r->s->reg_mail, T(r, "ご本人", "ご本人"));
		return;
	}
	userinfo_begin(r);
	if (!userinfo_check(r, login, pw, pw2, mail, nickname)) {
		userinfo_page(r, login, mail, nickname);
		return;
	}
	memset(&d, 0, sizeof d);
	rc = be_register(r->s->reg_ticket, login, pw, mail, nickname, final, sizeof final, &d);
	if (rc == KENPO_RES_OK) {
		sodium_memzero(r->s->reg_ticket, sizeof r->s->reg_ticket);
		sodium_memzero(r->s->authkey, sizeof r->s->authkey);
		r->body.len = 0;
		req_redirect(r, "/%s/register/done", r->sid);
		return;
	}
	if (rc == KENPO_RES_TOKEN_EXPIRED || rc == KENPO_RES_TOKEN_INVALID) {
		sodium_memzero(r->s->reg_ticket, sizeof r->s->reg_ticket);
		r->body.len = 0;
		web_dead_end(r, T(r, "利用者情報入力", "Member information"),
			     T(r,
			       "登録の有効時間が過ぎました。お手数ですが、新規利用登録からやり直してください。",
			       "The registration has expired. Please start again."),
			     "register", T(r, "新規利用登録", "New registration"));
		return;
	}
	register_answer(r, rc, &d);
	userinfo_page(r, login, mail, nickname);
}

void
screen_registered(struct req *r)
{
	page_begin(r, T(r, "利用者情報登録完了", "Registration complete"),
		   T(r, "利用登録が完了しました。ログイン画面へ進んでください。",
		     "Your registration is complete. Please go on to the login page."));
	page_link_button(r, "login", T(r, "ログイン画面", "Login page"));
	page_end(r);
}

void
screen_captcha(struct req *r)
{
	captcha(r)->image(r);
}
