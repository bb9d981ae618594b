/*
 * screen_account.c - パスワード再発行 (the request, the mailed link, 仮ログイン
 * and the forced パスワード変更), パスワード変更 of a logged-in member, and
 * プロフィール設定.
 *
 * The profile is read and written with the profile ticket that the login
 * handed out (pam_kenpo's `ticket` option, KENPO_TICKET): kenpod's profile
 * session, which every page of a logged-in member keeps alive
 * (web_require_login) and logging out ends.  A change of an address or of
 * the key's address asks for the current password again, as kenpod does.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backend.h"
#include "kenpo-proto.h"
#include "page.h"
#include "pamauth.h"
#include "policy.h"
#include "text.h"
#include "web.h"

#define ADDRESS_MAX 254
#define NICKNAME_BYTES_MAX 256
#define CHANGES_MAX 320

static int
address_ok(const char *a)
{
	return a[0] != '\0' && strlen(a) <= ADDRESS_MAX && kenpo_mail_address_ok(a);
}

static const char *
unavailable(const struct req *r)
{
	return T(r, "現在、ご利用いただけません。しばらくしてから再度お試しください。",
		 "The service is not available at the moment. Please try again later.");
}

/* ---- パスワード再発行 ---- */

static void
forgot_page(struct req *r, const char *error)
{
	const struct field mail = { "address", T(r, "メールアドレス", "Mail address"),
				    "email",   "",
				    "email",   ADDRESS_MAX,
				    1,         NULL,
				    "email" };

	page_begin(r, T(r, "パスワード再発行", "Password reset"),
		   T(r, "メールアドレスを入力し、送信してください。",
		     "Enter your mail address and press \"Send\"."));
	if (error != NULL)
		page_error(r, error);
	form_begin(r, "forgot");
	page_field(r, &mail);
	hf(r, "<p class=\"hint\">%s</p>",
	   T(r,
	     "※必ず、登録されているメールアドレスを記入ください。登録されていないメールアドレスに送信してもパスワード再発行案内メールは届きませんので、ご注意ください。",
	     "* Enter your registered address: no mail goes to an address that is not registered."));
	page_button(r, T(r, "送信", "Send"), NULL);
	form_end(r);
	page_link_button(r, "login", T(r, "ログイン画面", "Login page"));
	page_end(r);
}

void
screen_forgot(struct req *r)
{
	const char *address = form_str(&r->form, "address");
	int rc;

	if (!r->post) {
		forgot_page(r, NULL);
		return;
	}
	if (!address_ok(address)) {
		forgot_page(r, T(r, "メールアドレスの形式が正しくありません。",
				 "The mail address is not valid."));
		return;
	}
	rc = be_reset_request(r->sid, address, NULL);
	if (rc == KENPO_RES_OK)
		req_redirect(r, "/%s/forgot/sent", r->sid);
	else if (rc == KENPO_RES_BADVALUE)
		forgot_page(r, T(r, "メールアドレスの形式が正しくありません。",
				 "The mail address is not valid."));
	else
		forgot_page(r, unavailable(r));
}

void
screen_forgot_sent(struct req *r)
{
	char v[64], msg[512];

	page_duration(r, r->soc->reset_validity, v, sizeof v);
	page_begin(r, T(r, "パスワード再発行", "Password reset"), NULL);
	hf(r, "<p>%s</p>",
	   T(r,
	     "入力されたメールアドレスが登録されている場合は、「パスワード再発行のご案内」メールを送信しました。メール本文に記載されているURLをクリックし、仮ログイン手続きに進んでください。",
	     "If the address is registered, a mail \"Password reset\" was sent to it. Follow the link in it to log in with the temporary password."));
	snprintf(msg, sizeof msg,
		 T(r, "※仮パスワードの有効期限は発行から%sです。",
		   "* The temporary password is valid for %s."),
		 v);
	hf(r, "<p>%s</p><p>%s</p>", msg,
	   T(r,
	     "※メールが届かない場合は、迷惑メール等に入っている可能性があります。メールの受信設定をご確認ください。",
	     "* If no mail arrives, it may be in your spam folder. Please check your mail settings."));
	page_link_button(r, "login", T(r, "ログイン画面", "Login page"));
	page_end(r);
}

/* The reset link is used up at its first visit: kenpod hands out the
 * login ID for the 仮ログイン form. */
void
screen_reset_link(struct req *r)
{
	const char *token = req_query(r, "token");
	int seconds = 0, rc = KENPO_RES_TOKEN_INVALID;
	char login[64] = "";

	if (token != NULL && strlen(token) <= 128)
		rc = be_reset_open(token, login, sizeof login, &seconds);
	if (rc != KENPO_RES_OK) {
		r->status = rc == KENPO_RES_TOKEN_INVALID || rc == KENPO_RES_TOKEN_EXPIRED ? 410 :
											     503;
		web_dead_end(
			r, T(r, "仮ログイン", "Temporary login"),
			rc == KENPO_RES_TOKEN_EXPIRED ?
				T(r,
				  "このURLの有効期限が切れています。お手数ですが、パスワード再発行からやり直してください。",
				  "This link has expired. Please request a password reset again.") :
			rc == KENPO_RES_TOKEN_INVALID ?
				T(r,
				  "このURLは無効です（使用済みか、正しくありません）。メールに記載されたログインIDと仮パスワードは、ログイン画面でも使えます。",
				  "This link is not valid (used, or not correct). The login ID and temporary password of the mail also work on the login page.") :
				unavailable(r),
			"login", T(r, "ログイン画面", "Login page"));
		return;
	}
	snprintf(r->s->reset_login, sizeof r->s->reset_login, "%s", login);
	/* The token itself is spent: nothing secret stays.  On to a clean URL. */
	hf(r,
	   "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
	   "<meta http-equiv=\"refresh\" content=\"0;url=/%s/reset/login\"><title>%s</title>"
	   "<link rel=\"stylesheet\" href=\"/static/kenpo.css\"></head><body><main>"
	   "<p><a href=\"/%s/reset/login\">%s</a></p></main></body></html>\n",
	   r->lang == KENPO_LANG_EN ? "en" : "ja", r->sid, T(r, "仮ログイン", "Temporary login"),
	   r->sid, T(r, "次へ進む", "Continue"));
}

static void
temp_login_page(struct req *r, const char *login, const struct pa_result *pr, const char *error)
{
	const struct field id = {
		"login", T(r, "ログインID", "Login ID"), "text", login, "username", 64, 0, NULL,
		NULL
	};
	const struct field pw = { "password", T(r, "仮パスワード", "Temporary password"),
				  "password", "",
				  "off",      128,
				  0,          NULL,
				  NULL };
	char v[64], msg[256];

	page_duration(r, r->soc->reset_validity, v, sizeof v);
	page_begin(r, T(r, "仮ログイン", "Temporary login"),
		   T(r, "メールでお知らせしたログインIDと仮パスワードでログインしてください。",
		     "Please log in with the login ID and temporary password from the mail."));
	if (pr != NULL)
		web_login_error(r, pr);
	if (error != NULL)
		page_error(r, error);
	form_begin(r, "reset/login");
	page_field(r, &id);
	page_field(r, &pw);
	page_show_password(r, "password");
	page_button(r, T(r, "ログイン", "Log in"), NULL);
	form_end(r);
	snprintf(msg, sizeof msg,
		 T(r, "※尚、仮パスワードの有効期限はメール受信後%sです。",
		   "* The temporary password is valid for %s after the mail."),
		 v);
	hf(r, "<p>%s</p>", msg);
	page_end(r);
}

void
screen_temp_login(struct req *r)
{
	const char *login = form_str(&r->form, "login"), *pw = form_str(&r->form, "password");
	struct pa_result pr;
	struct pa_ctx c;

	if (!r->post) {
		temp_login_page(r, r->s->reset_login, NULL, NULL);
		return;
	}
	if (login[0] == '\0' || pw[0] == '\0' || strlen(login) > 64 || strlen(pw) > 128) {
		temp_login_page(r, login, NULL,
				T(r, "ログインIDと仮パスワードを入力してください。",
				  "Please enter the login ID and the temporary password."));
		return;
	}
	web_pa_ctx(r, &c);
	pa_password(&c, login, pw, &pr);
	if (pr.outcome == PA_OK || pr.outcome == PA_MUST_CHANGE) {
		sodium_memzero(r->s->reset_login, sizeof r->s->reset_login);
		web_logged_in(r, &pr, pw);
	} else if (pr.outcome == PA_KEY) {
		/* The member's usual password: the usual key step. */
		session_forget_login(r->s);
		r->s->state = SS_KEY;
		snprintf(r->s->login, sizeof r->s->login, "%s", pr.login);
		snprintf(r->s->secret, sizeof r->s->secret, "%s", pw);
		snprintf(r->s->masked, sizeof r->s->masked, "%s", pr.masked);
		r->s->key_expiry = session_now() + (pr.seconds > 0 ? pr.seconds : 0);
		r->rotate = 1;
		req_redirect(r, "/%s/key", r->sid);
	} else {
		temp_login_page(r, login, &pr, NULL);
	}
	sodium_memzero(&pr, sizeof pr);
}

/* ---- パスワード変更 ---- */

static void
password_fields(struct req *r, int with_current)
{
	const struct field cur = { "current",
				   T(r, "現在のパスワード", "Current password"),
				   "password",
				   "",
				   "current-password",
				   128,
				   1,
				   NULL,
				   NULL };
	const struct field pw = { "password",
				  T(r, "新しいパスワード", "New password"),
				  "password",
				  "",
				  "new-password",
				  39,
				  1,
				  NULL,
				  NULL };
	const struct field pw2 = { "password2",
				   T(r, "パスワード確認", "New password (again)"),
				   "password",
				   "",
				   "new-password",
				   39,
				   1,
				   NULL,
				   NULL };

	if (with_current)
		page_field(r, &cur);
	page_field(r, &pw);
	page_field(r, &pw2);
	page_show_password(r, with_current ? "current password password2" : "password password2");
	page_button(r, T(r, "登録", "Save"), NULL);
}

/* Checks of the two typings; 1 when they may be sent. */
static int
new_password_ok(struct req *r, const char *pw, const char *pw2)
{
	unsigned mask = kenpo_policy_check_password(pw, strlen(pw));

	if (mask != 0) {
		page_policy(r,
			    T(r, "新しいパスワードは次の理由で使用できません。",
			      "The new password cannot be used for these reasons:"),
			    mask);
		return 0;
	}
	if (strlen(pw) != strlen(pw2) || sodium_memcmp(pw, pw2, strlen(pw)) != 0) {
		page_error(r, T(r, "新しいパスワードとパスワード確認が一致しません。",
				"The two new passwords do not match."));
		return 0;
	}
	return 1;
}

static void
change_refused(struct req *r, int rc, const struct be_detail *d)
{
	if (rc == KENPO_RES_POLICY)
		page_policy(r,
			    T(r, "新しいパスワードは次の理由で使用できません。",
			      "The new password cannot be used for these reasons:"),
			    d->mask);
	else if (rc == KENPO_RES_AUTH_ERR)
		page_error(r, T(r, "現在のパスワードが正しくありません。",
				"The current password is not correct."));
	else if (rc == KENPO_RES_LOCKED || rc == KENPO_RES_DELAY)
		page_error(r,
			   T(r,
			     "失敗が続いたため、現在パスワードを変更できません。しばらくしてから再度お試しください。",
			     "Too many failures: please try again later."));
	else
		page_error(r, unavailable(r));
}

/*
 * kenpod asks for a completed login (password and key) that is recent
 * (login_proof_validity) and made with the current password: the member
 * logs in again, and nothing has changed.
 */
static void
login_again(struct req *r)
{
	web_end_login(r->s, r->client);
	snprintf(r->s->notice, sizeof r->s->notice, "%s",
		 T(r,
		   "パスワードを変更するには、あらためてログインしてください（ログインから一定時間が経過したか、パスワードが変更されました）。",
		   "To change your password, please log in again (some time has passed since your login, or the password has changed)."));
	r->rotate = 1;
	req_redirect(r, "/%s/login", r->sid);
}

void
screen_forced_change(struct req *r)
{
	const char *pw = form_str(&r->form, "password"), *pw2 = form_str(&r->form, "password2");
	struct pa_result pr;
	struct be_detail d;
	struct pa_ctx c;
	int rc;

	if (r->s->state != SS_MUST_CHANGE) {
		req_redirect(r, "/%s/login", r->sid);
		return;
	}
	page_begin(r, T(r, "パスワード変更", "Change your password"),
		   T(r, "新しいパスワードに変更してください。", "Please set a new password."));
	if (r->post && new_password_ok(r, pw, pw2)) {
		memset(&d, 0, sizeof d);
		/* A temporary password needs no proof; the login's goes along
		 * all the same. */
		rc = be_password_change(r->s->login, r->s->secret, pw, r->s->proof, r->client,
					&d);
		if (rc == KENPO_RES_OK) {
			web_pa_ctx(r, &c);
			pa_open_session(&c, r->s->login, &pr);
			/* The login's ticket and previous login stay; its proof
			 * died with the temporary password. */
			snprintf(pr.ticket, sizeof pr.ticket, "%s", r->s->ticket);
			snprintf(pr.last_login, sizeof pr.last_login, "%s", r->s->last_login);
			pr.history_rc = r->s->last_login_known ? KENPO_RES_OK : -1;
			sodium_memzero(pr.proof, sizeof pr.proof);
			snprintf(pr.login, sizeof pr.login, "%s", r->s->login);
			pr.outcome = PA_OK;
			snprintf(r->s->notice, sizeof r->s->notice, "%s",
				 T(r, "パスワードを変更しました。",
				   "Your password has been changed."));
			web_logged_in(r, &pr, "");
			sodium_memzero(&pr, sizeof pr);
			return;
		}
		change_refused(r, rc, &d);
	}
	form_begin(r, "password/new");
	password_fields(r, 0);
	form_end(r);
	page_rules_password(r);
	page_end(r);
}

void
screen_password(struct req *r)
{
	const char *cur = form_str(&r->form, "current"), *pw = form_str(&r->form, "password");
	const char *pw2 = form_str(&r->form, "password2");
	struct be_detail d;
	int rc;

	if (!web_require_login(r, NULL))
		return;
	page_begin(r, T(r, "パスワード変更", "Change password"),
		   T(r, "新しいパスワードに変更してください。", "Please set a new password."));
	if (r->post && new_password_ok(r, pw, pw2)) {
		memset(&d, 0, sizeof d);
		rc = strlen(cur) > 128 ?
			     KENPO_RES_AUTH_ERR :
			     be_password_change(r->s->login, cur, pw, r->s->proof, r->client, &d);
		if (rc == KENPO_RES_OK) {
			/* The change voided the proof: another change needs a
			 * new login. */
			sodium_memzero(r->s->proof, sizeof r->s->proof);
			snprintf(r->s->notice, sizeof r->s->notice, "%s",
				 T(r, "パスワードを変更しました。",
				   "Your password has been changed."));
			r->rotate = 1;
			req_redirect(r, "/%s/home", r->sid);
			return;
		}
		if (rc == KENPO_RES_LOGIN_REQUIRED) {
			login_again(r);
			return;
		}
		change_refused(r, rc, &d);
	}
	form_begin(r, "password");
	password_fields(r, 1);
	form_end(r);
	page_rules_password(r);
	hf(r, "<p><a href=\"/%s/home\">%s</a></p>", r->sid, T(r, "ホームへ戻る", "Back to home"));
	page_end(r);
}

/* ---- プロフィール設定 ---- */

static const char *const notify_fields[] = {
	"notify_medical",   "notify_generic",      "notify_magazine",
	"notify_documents", "notify_applications",
};

static const char *
notify_label(const struct req *r, size_t i)
{
	switch (i) {
	case 0:
		return T(r, "医療費通知メール", "Medical expense notices");
	case 1:
		return T(r, "ジェネリック通知メール", "Generic drug notices");
	case 2:
		return T(r, "健保組合メールマガジン", "The society's newsletter");
	case 3:
		return T(r, "通知書・証明書配布メール", "Notices and certificates");
	default:
		return T(r, "申請書公開メール通知", "New application forms");
	}
}

static const char *
pv(const struct be_profile *p, const char *field)
{
	const char *v = be_profile_value(p, field);

	return v != NULL ? v : "";
}

static void
disclose_radios(struct req *r, const char *prefix, const struct be_profile *p)
{
	static const char *const kinds[] = { "disclose_medical", "disclose_generic" };
	char name[96];
	size_t i;

	for (i = 0; i < 2; i++) {
		int yes;

		snprintf(name, sizeof name, "%s%s", prefix, kinds[i]);
		yes = strcmp(pv(p, name), "yes") == 0;
		hf(r,
		   "<div class=\"choices\" role=\"radiogroup\" aria-label=\"%s\"><span>%s：</span>",
		   i == 0 ? T(r, "医療費通知", "Medical expense notices") :
			    T(r, "ジェネリック通知", "Generic drug notices"),
		   i == 0 ? T(r, "医療費通知", "Medical expense notices") :
			    T(r, "ジェネリック通知", "Generic drug notices"));
		hf(r, "<label><input type=\"radio\" name=\"%s\" value=\"no\"%s> %s</label>", name,
		   yes ? "" : " checked", T(r, "公開しない", "Do not disclose"));
		hf(r,
		   "<label><input type=\"radio\" name=\"%s\" value=\"yes\"%s> %s</label></div>",
		   name, yes ? " checked" : "", T(r, "公開する", "Disclose"));
	}
}

/* The household indices ("01".."99") of a profile, in order. */
static size_t
household(const struct be_profile *p, char idx[][3], size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < p->n && n < max; i++) {
		const char *f = p->field[i];

		if (strncmp(f, "household.", 10) != 0 || strlen(f) < 13 ||
		    strcmp(f + 12, ".nickname") != 0)
			continue;
		memcpy(idx[n], f + 10, 2);
		idx[n][2] = '\0';
		n++;
	}
	return n;
}

static void
own_fields(struct req *r, const struct be_profile *p)
{
	const struct field id = {
		"login_id",
		T(r, "ログインID", "Login ID"),
		"text",
		pv(p, "login_id"),
		"username",
		39,
		1,
		T(r, "2文字以上40文字未満。8文字の場合、7、8桁目に数字は使えません。",
		  "2 to 39 characters; an ID of 8 may not end in digits at places 7 and 8."),
		NULL
	};
	const struct field nn = {
		"nickname",
		T(r, "ニックネーム", "Nickname"),
		"text",
		pv(p, "nickname"),
		"nickname",
		64,
		1,
		T(r,
		  "画面上に表示される名前です。本名は設定しないようご注意ください（デフォルトは「ご本人」）。",
		  "The name shown on the screens; please do not use your real name."),
		NULL
	};
	const struct field m1 = { "mail1", T(r, "メールアドレス1", "Mail address 1"),
				  "email", pv(p, "mail1"),
				  "email", ADDRESS_MAX,
				  1,       NULL,
				  "email" };
	const struct field m2 = { "mail2", T(r, "メールアドレス2", "Mail address 2"),
				  "email", pv(p, "mail2"),
				  "off",   ADDRESS_MAX,
				  0,       NULL,
				  "email" };
	const struct field m3 = {
		"mail3",
		T(r, "メールアドレス3", "Mail address 3"),
		"email",
		pv(p, "mail3"),
		"off",
		ADDRESS_MAX,
		0,
		T(r,
		  "※メールアドレス1は必須です。メールアドレス1を空白のまま、メールアドレス2や3は設定できません。",
		  "* Address 1 is required; addresses 2 and 3 need address 1."),
		"email"
	};

	page_field(r, &id);
	page_field(r, &nn);
	page_field(r, &m1);
	page_field(r, &m2);
	page_field(r, &m3);
}

/* The step-up of a change of an address or of the key's address. */
static void
current_password_field(struct req *r)
{
	const struct field cur = {
		"current_password",
		T(r, "現在のパスワード", "Current password"),
		"password",
		"",
		"current-password",
		128,
		0,
		T(r,
		  "メールアドレス、または認証キーによるログイン設定を変更する場合は、現在のパスワードを入力してください。",
		  "Needed to change a mail address or where the one-time key is sent."),
		NULL
	};

	page_field(r, &cur);
}

static void
key_and_notices(struct req *r, const struct be_profile *p)
{
	const char *key = pv(p, "key_mail");
	size_t i;
	char n[2] = "1";

	hf(r, "<fieldset class=\"choices\"><legend>%s <span class=\"req\">*</span></legend>",
	   T(r, "認証キーによるログイン設定", "Where the one-time key is sent"));
	for (i = 1; i <= 3; i++) {
		char label[64];

		n[0] = (char)('0' + i);
		snprintf(label, sizeof label, T(r, "メールアドレス%zu", "Mail address %zu"), i);
		hf(r, "<label><input type=\"radio\" name=\"key_mail\" value=\"%s\"%s> %s</label>",
		   n, strcmp(key, n) == 0 ? " checked" : "", label);
	}
	hraw(r, "</fieldset>");
	current_password_field(r);
	hf(r, "<fieldset class=\"choices\"><legend>%s</legend><p>%s</p>",
	   T(r, "通知メール受信設定", "Notification mails"),
	   T(r, "通知メールを受信するものにチェックを付けてください。",
	     "Tick the mails you want to receive."));
	for (i = 0; i < sizeof notify_fields / sizeof notify_fields[0]; i++)
		hf(r, "<label><input type=\"checkbox\" name=\"%s\" value=\"yes\"%s> %s</label>",
		   notify_fields[i], strcmp(pv(p, notify_fields[i]), "no") == 0 ? "" : " checked",
		   notify_label(r, i));
	hf(r, "</fieldset><fieldset><legend>%s</legend>",
	   T(r, "世帯内への公開設定", "Disclosure within the household"));
	disclose_radios(r, "", p);
	hraw(r, "</fieldset>");
}

/* A household member is called by the nickname, as in the manual's list
 * (ご家族01さん is the nickname a member starts with). */
static void
member_label(struct req *r, const struct be_profile *p, const char *idx, char *out, size_t outsz)
{
	char name[64];
	const char *nick;

	snprintf(name, sizeof name, "household.%.2s.nickname", idx);
	nick = pv(p, name);
	if (nick[0] != '\0')
		snprintf(out, outsz, "%sさん", nick);
	else
		snprintf(out, outsz, T(r, "ご家族%sさん", "Family member %s"), idx);
}

static void
household_fields(struct req *r, const struct be_profile *p, char idx[][3], size_t n)
{
	char name[64], label[300];
	size_t i;

	for (i = 0; i < n; i++) {
		struct field nn = {
			name, T(r, "ニックネーム", "Nickname"), "text", "", "off", 64, 1, NULL,
			NULL
		};

		snprintf(name, sizeof name, "household.%.2s.nickname", idx[i]);
		nn.value = pv(p, name);
		member_label(r, p, idx[i], label, sizeof label);
		hf(r, "<section id=\"hh%s\"><h2>%s</h2>", idx[i], label);
		page_field(r, &nn);
		snprintf(name, sizeof name, "household.%.2s.", idx[i]);
		hf(r, "<fieldset><legend>%s</legend>",
		   T(r, "世帯内への公開設定", "Disclosure within the household"));
		disclose_radios(r, name, p);
		hraw(r, "</fieldset></section>");
	}
}

static void
profile_page(struct req *r, const struct be_profile *p)
{
	char title[400], idx[99][3];
	size_t n = household(p, idx, 99), i;

	snprintf(title, sizeof title, T(r, "プロフィール設定（%sさん）", "Profile (%s)"),
		 pv(p, "nickname"));
	page_begin(r, title,
		   T(r, "「*」表示がある箇所は登録が必須となっています。",
		     "Fields marked \"*\" are required."));
	if (n > 0) {
		hf(r, "<nav aria-label=\"%s\"><ul><li><a href=\"#self\">%sさん</a></li>",
		   T(r, "世帯", "Household"), pv(p, "nickname"));
		for (i = 0; i < n; i++) {
			char label[300];

			member_label(r, p, idx[i], label, sizeof label);
			hf(r, "<li><a href=\"#hh%s\">%s</a></li>", idx[i], label);
		}
		hraw(r, "</ul></nav>");
	}
}

/*
 * The changes the form asks for: the fields the member changed on it.  The
 * form carries the values it showed (was.FIELD), so that a form shown
 * before a change made on another page (a second tab of the same login)
 * does not undo that change with the value it still shows.  A field
 * without its shown value counts as changed when it differs from the
 * profile.
 */
struct changes {
	size_t n;
	const char *field[CHANGES_MAX];
	const char *value[CHANGES_MAX];
	char names[CHANGES_MAX][64];
};

static void
change(struct changes *c, const struct form *f, const struct be_profile *p, const char *field,
       const char *value)
{
	char was_name[80];
	const char *was;

	snprintf(was_name, sizeof was_name, "was.%s", field);
	was = form_get(f, was_name);
	if (c->n == CHANGES_MAX || strcmp(pv(p, field), value) == 0 ||
	    (was != NULL && strcmp(was, value) == 0))
		return;
	snprintf(c->names[c->n], sizeof c->names[c->n], "%s", field);
	c->field[c->n] = c->names[c->n];
	c->value[c->n] = value;
	c->n++;
}

/* The values of the profile the form shows (see struct changes). */
static void
shown_values(struct req *r, const struct be_profile *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->field[i], "last_login") != 0 && strcmp(p->field[i], "state") != 0)
			hf(r, "<input type=\"hidden\" name=\"was.%s\" value=\"%s\">", p->field[i],
			   p->value[i]);
}

static void keep_typed(struct be_profile *p, const struct changes *c);

/* The form of profile p; c: the changes of a refused form, shown again as
 * the member filled it in, or NULL. */
static void
profile_form(struct req *r, struct be_profile *p, const struct changes *c)
{
	char idx[99][3];
	size_t n = household(p, idx, 99);

	form_begin(r, "profile");
	shown_values(r, p);
	if (c != NULL)
		keep_typed(p, c);
	hf(r, "<section id=\"self\"><h2>%sさん</h2>", pv(p, "nickname"));
	own_fields(r, p);
	key_and_notices(r, p);
	hraw(r, "</section>");
	household_fields(r, p, idx, n);
	page_button(r, T(r, "登録", "Save"), NULL);
	form_end(r);
	hf(r, "<p><a href=\"/%s/home\">%s</a></p>", r->sid, T(r, "ホームへ戻る", "Back to home"));
	page_end(r);
}

static const char *
yes_no(const char *v)
{
	return strcmp(v, "yes") == 0 ? "yes" : "no";
}

static void
collect(struct req *r, const struct be_profile *p, struct changes *c)
{
	static const char *const own[] = { "login_id", "nickname", "mail1",
					   "mail2",    "mail3",    "key_mail" };
	char idx[99][3], name[64];
	size_t i, j, n = household(p, idx, 99);

	for (i = 0; i < sizeof own / sizeof own[0]; i++)
		if (form_get(&r->form, own[i]) != NULL)
			change(c, &r->form, p, own[i], form_str(&r->form, own[i]));
	for (i = 0; i < sizeof notify_fields / sizeof notify_fields[0]; i++)
		change(c, &r->form, p, notify_fields[i],
		       yes_no(form_str(&r->form, notify_fields[i])));
	change(c, &r->form, p, "disclose_medical",
	       yes_no(form_str(&r->form, "disclose_medical")));
	change(c, &r->form, p, "disclose_generic",
	       yes_no(form_str(&r->form, "disclose_generic")));
	for (i = 0; i < n; i++) {
		static const char *const hh[] = { "nickname", "disclose_medical",
						  "disclose_generic" };

		for (j = 0; j < 3; j++) {
			const char *v;

			snprintf(name, sizeof name, "household.%.2s.%s", idx[i], hh[j]);
			v = form_str(&r->form, name);
			change(c, &r->form, p, name, j == 0 ? v : yes_no(v));
		}
	}
}

/* The new value of `field` when the form changes it, else NULL. */
static const char *
changed(const struct changes *c, const char *field)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->field[i], field) == 0)
			return c->value[i];
	return NULL;
}

/* Whether the change needs the current password: kenpod steps up a
 * change of an address or of the key's address. */
static int
needs_password(const struct changes *c)
{
	return changed(c, "mail1") != NULL || changed(c, "mail2") != NULL ||
	       changed(c, "mail3") != NULL || changed(c, "key_mail") != NULL;
}

static const char *
password_needed(const struct req *r)
{
	return T(r,
		 "メールアドレス、または認証キーによるログイン設定を変更する場合は、現在のパスワードを入力してください。",
		 "To change a mail address or where the one-time key is sent, please enter your current password.");
}

static const char *
key_mail_refused(const struct req *r)
{
	return T(r,
		 "認証キーによるログイン設定には、登録されているメールアドレスを選んでください。",
		 "The one-time key can only be sent to a mail address that is filled in.");
}

/* The form's own checks; an error box and 0 when one fails. */
static int
profile_check(struct req *r, const struct changes *c)
{
	const char *id = form_str(&r->form, "login_id"), *nn = form_str(&r->form, "nickname");
	const char *m[3] = { form_str(&r->form, "mail1"), form_str(&r->form, "mail2"),
			     form_str(&r->form, "mail3") };
	const char *key = changed(c, "key_mail");
	unsigned mask = kenpo_policy_check_login_id(id, strlen(id));
	size_t i;

	if (mask != 0) {
		page_policy(r, T(r, "ログインIDをご確認ください。", "Please check the login ID:"),
			    mask);
		return 0;
	}
	if (nn[0] == '\0' || strlen(nn) > NICKNAME_BYTES_MAX) {
		page_error(r,
			   T(r,
			     "ニックネームを入力してください（本名は設定しないようご注意ください）。",
			     "Please enter a nickname (not your real name)."));
		return 0;
	}
	if (m[0][0] == '\0') {
		page_error(r,
			   T(r,
			     "メールアドレス1は必須です。メールアドレス1を空白のまま、メールアドレス2や3は設定できません。",
			     "Mail address 1 is required; addresses 2 and 3 need address 1."));
		return 0;
	}
	for (i = 0; i < 3; i++)
		if (m[i][0] != '\0' && !address_ok(m[i])) {
			page_error(r, T(r, "メールアドレスの形式が正しくありません。",
					"A mail address is not valid."));
			return 0;
		}
	/* A key sent to an address that is not there would never arrive. */
	if (key != NULL &&
	    (key[0] < '1' || key[0] > '3' || key[1] != '\0' || m[key[0] - '1'][0] == '\0')) {
		page_error(r, key_mail_refused(r));
		return 0;
	}
	if (needs_password(c) && form_str(&r->form, "current_password")[0] == '\0') {
		page_error(r, password_needed(r));
		return 0;
	}
	return 1;
}

/* A refused form is shown again as the member filled it in. */
static void
keep_typed(struct be_profile *p, const struct changes *c)
{
	size_t i, j;
	char *v;

	for (i = 0; i < c->n; i++)
		for (j = 0; j < p->n; j++) {
			if (strcmp(p->field[j], c->field[i]) != 0 ||
			    (v = strdup(c->value[i])) == NULL)
				continue;
			free(p->value[j]);
			p->value[j] = v;
		}
}

static void
save_refused(struct req *r, int rc, const struct be_detail *d)
{
	if (rc == KENPO_RES_POLICY)
		page_policy(r, T(r, "ログインIDをご確認ください。", "Please check the login ID:"),
			    d->mask);
	else if (rc == KENPO_RES_ID_TAKEN)
		page_error(r,
			   T(r,
			     "このログインIDは既に使用されています。別のログインIDを入力してください。",
			     "This login ID is already taken. Please choose another."));
	else if (rc == KENPO_RES_AUTH_ERR)
		page_error(r, T(r, "現在のパスワードが正しくありません。",
				"The current password is not correct."));
	else if (rc == KENPO_RES_LOCKED || rc == KENPO_RES_DELAY)
		page_error(r,
			   T(r,
			     "失敗が続いたため、現在変更できません。しばらくしてから再度お試しください。",
			     "Too many failures: please try again later."));
	else if (rc == KENPO_RES_BADVALUE && strcmp(d->field, "current_password") == 0)
		page_error(r, password_needed(r));
	else if (rc == KENPO_RES_BADVALUE && strcmp(d->field, "key_mail") == 0)
		page_error(r, key_mail_refused(r));
	else if (rc == KENPO_RES_BADVALUE)
		page_error(r,
			   T(r,
			     "入力内容に正しくない値があります（ニックネームまたはメールアドレス）。",
			     "A value is not valid (a nickname or a mail address)."));
	else
		page_error(r, unavailable(r));
}

/* Whether the change removes the address that receives the key: kenpod
 * then sends the key to address 1 again. */
static int
key_moves_back(const struct be_profile *p, const struct changes *c)
{
	const char *key = pv(p, "key_mail"), *m;
	char field[8];

	if (changed(c, "key_mail") != NULL || key[0] < '2' || key[0] > '3' || key[1] != '\0')
		return 0;
	snprintf(field, sizeof field, "mail%c", key[0]);
	m = changed(c, field);
	return m != NULL && m[0] == '\0';
}

/* What the member is told after a change: the mails kenpod sends. */
static void
saved_notice(struct req *r, const struct be_profile *p, const struct changes *c)
{
	const char *m[3] = { changed(c, "mail1"), changed(c, "mail2"), changed(c, "mail3") };
	int told = changed(c, "login_id") != NULL || needs_password(c);
	int added = (m[0] != NULL && m[0][0] != '\0') || (m[1] != NULL && m[1][0] != '\0') ||
		    (m[2] != NULL && m[2][0] != '\0');

	snprintf(r->s->notice, sizeof r->s->notice, "%s%s%s%s",
		 T(r, "プロフィールを登録しました。", "Your profile has been saved. "),
		 told ? T(r,
			  "変更前に登録されていたメールアドレスに、変更のお知らせを送信しました。",
			  "A notice of the change was sent to the addresses registered before it. ") :
			"",
		 added ? T(r, "新しく登録したメールアドレスに、登録のお知らせを送信しました。",
			   "The new address was told that it was registered. ") :
			 "",
		 key_moves_back(p, c) ?
			 T(r,
			   "認証キーの送付先のメールアドレスを削除したため、認証キーはメールアドレス1に送信します。",
			   "The address that received the one-time key was removed: the key now goes to mail address 1.") :
			 "");
}

static void
saved(struct req *r, const struct be_profile *p, const struct changes *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (strcmp(c->field[i], "login_id") == 0)
			snprintf(r->s->login, sizeof r->s->login, "%s", c->value[i]);
		if (strcmp(c->field[i], "nickname") == 0)
			snprintf(r->s->nickname, sizeof r->s->nickname, "%s", c->value[i]);
	}
	if (c->n > 0)
		saved_notice(r, p, c);
	else
		snprintf(r->s->notice, sizeof r->s->notice, "%s",
			 T(r, "変更はありませんでした。", "Nothing was changed."));
	req_redirect(r, "/%s/profile", r->sid);
}

/* Save the changes: 1 when saved (a redirect is set), 0 when refused
 * (an error box is on the page), -1 when the login has ended. */
static int
save(struct req *r, const struct be_profile *p, const struct changes *c)
{
	const char *cur = needs_password(c) ? form_str(&r->form, "current_password") : NULL;
	struct be_detail d;
	int rc;

	memset(&d, 0, sizeof d);
	if (!profile_check(r, c))
		return 0;
	if (cur != NULL && strlen(cur) > 128)
		rc = KENPO_RES_AUTH_ERR;
	else
		rc = c->n == 0 ? KENPO_RES_OK :
				 be_profile_set(r->s->login, r->s->ticket, sizeof r->s->ticket,
						c->n, c->field, c->value, cur, &d);
	if (rc == KENPO_RES_OK) {
		saved(r, p, c);
		return 1;
	}
	if (rc == KENPO_RES_TOKEN_EXPIRED || rc == KENPO_RES_TOKEN_INVALID ||
	    rc == KENPO_RES_DENIED)
		return -1;
	save_refused(r, rc, &d);
	return 0;
}

void
screen_profile(struct req *r)
{
	struct be_profile p;
	struct changes *c;
	int rc;

	if (!web_require_login(r, &p))
		return;
	if (p.n == 0) {
		web_dead_end(r, T(r, "プロフィール設定", "Profile"), unavailable(r), "home",
			     T(r, "ホームへ戻る", "Back to home"));
		return;
	}
	if (!r->post) {
		profile_page(r, &p);
		profile_form(r, &p, NULL);
		be_profile_free(&p);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		be_profile_free(&p);
		r->status = 500;
		return;
	}
	collect(r, &p, c);
	profile_page(r, &p);
	rc = save(r, &p, c);
	if (rc < 0) {
		r->body.len = 0;
		web_login_expired(r);
	} else if (rc == 0) {
		profile_form(r, &p, c);
	}
	free(c);
	be_profile_free(&p);
}
