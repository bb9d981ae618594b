/*
 * selfsvc.c - self-service in kenpod: the registration guide mail, letter
 * registration (新規利用登録 + 利用者情報入力), the identity check (本人確認),
 * password reset (パスワード再発行) and the profile (プロフィール設定).
 *
 * Every request is validated whole before anything is looked up, changed
 * or mailed (DESIGN.md 2.7).  Answers that depend on whether an address
 * is known (guide, reset) are OK either way; only the mails differ.
 *
 * Single use.  Every mailed link, registration ticket and profile ticket is
 * a token entry (token.h) that is deleted when used, so two requests
 * presenting one token at once cannot both succeed.  A form that fails on
 * something the member can correct after its token was used (a login ID
 * taken meanwhile) puts the token back as it was.
 *
 * Registration steps: a guide link (利用登録手続きのご案内) is exchanged,
 * with the letter's login ID and temporary password, or through the
 * identity check and the identity link (本人確認完了のご案内) with the
 * on-screen 認証キー, for a registration ticket; the ticket and the form
 * 利用者情報入力 complete the registration.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "config.h"
#include "gen.h"
#include "kenpo-proto.h"
#include "localname.h"
#include "log.h"
#include "mail.h"
#include "mailer.h"
#include "member.h"
#include "myldap.h"
#include "passwd.h"
#include "policy.h"
#include "secret.h"
#include "selfsvc.h"
#include "template.h"
#include "token.h"

#define ADDRESS_MAX 254            /* RFC 5321 path limit */
#define NICKNAME_CHARS_MAX 64      /* kenpoNickname DS{64} */
#define NICKNAME_BYTES_MAX 256
#define TEXT_MAX 512               /* any other field on the wire */
#define SECRET_MAX 128             /* passwords and keys (the rules allow 39) */
#define FILTER_MAX 1024
#define DN_MAX 512
#define URL_MAX 2048
#define RESET_MEMBERS_MAX 10       /* members sharing one address */
#define IDFAIL_WINDOW 86400        /* identity failures per address: a day */
#define PROFILE_PAIRS_MAX KENPO_PROFILE_PAIRS_MAX
#define HOUSEHOLD_MAX 99
#define UPDATE_TRIES 4
#define DEFAULT_NICKNAME "ご本人"

/* ---- reading requests ---- */

/* Copy one STRING into out; a value that does not fit sets *toolong (the
 * frame stays readable, so the answer can name the field). */
static void
take(struct kenpo_buf *in, char *out, size_t outsz, int *toolong)
{
	const char *s;
	size_t len;

	kenpo_get_string_ref(in, &s, &len);
	out[0] = '\0';
	if (in->err)
		return;
	if (len >= outsz) {
		*toolong = 1;
		return;
	}
	memcpy(out, s, len);
	out[len] = '\0';
}

/* BADVALUE naming the field (a PROFILE_SET field name comes from the
 * client: escaped in the log). */
static int
badvalue(struct kenpo_buf *out, const char *field)
{
	char esc[LOG_ESCAPE_MAX];

	log_msg(LOG_INFO, "refused: bad %.100s", log_escape(field, strlen(field), esc));
	kenpo_put_cstring(out, field);
	return KENPO_RES_BADVALUE;
}

static int
ldap_result(int rc)
{
	return rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
}

/* ---- validating values ---- */

static int
address_ok(const char *s)
{
	return strlen(s) <= ADDRESS_MAX && kenpo_mail_address_ok(s);
}

/* A nickname: UTF-8, 1 to 64 characters, no control character (C0, DEL,
 * C1), so it is safe in a mail, a log line and a GECOS field. */
static int
nickname_ok(const char *s)
{
	size_t len = strlen(s), chars = 0, i;
	const unsigned char *u = (const unsigned char *)s;

	if (len == 0 || len > NICKNAME_BYTES_MAX || !kenpo_utf8_valid(s, len))
		return 0;
	for (i = 0; i < len; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f)
			return 0;
		if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] < 0xa0)
			return 0;
		if ((u[i] & 0xc0) != 0x80)
			chars++;
	}
	return chars <= NICKNAME_CHARS_MAX;
}

/* A calendar date "YYYY-MM-DD" that exists (no 2023-02-30). */
static int
date_ok(const char *s)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d, i, leap;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1850 || m < 1 || m > 12 || d < 1)
		return 0;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d <= mdays[m - 1] + (m == 2 && leap);
}

/* The society a request names; "" is the only one there is. */
static const struct kenpo_society *
society_pick(const struct kenpo_config *cfg, const char *id)
{
	if (id[0] == '\0')
		return cfg->nsocieties == 1 ? &cfg->societies[0] : NULL;
	return kenpo_config_society(cfg, id);
}

static void
pwcost(const struct request *rq, struct kenpo_pwcost *c)
{
	c->opslimit = rq->kd->cfg->argon2_opslimit;
	c->memlimit = rq->kd->cfg->argon2_memlimit;
}

static long
ceil_secs(int64_t ms)
{
	return ms <= 0 ? 0 : (long)((ms + 999) / 1000);
}

/* ---- members ---- */

/* Whether a member other than `self_dn` holds the login ID (any case). */
static int
login_taken(struct request *rq, const char *login, const char *self_dn, int *taken)
{
	static const char *const attrs[] = { "uid", NULL };
	const struct kenpo_config *cfg = rq->kd->cfg;
	char esc[3 * KENPO_LOGIN_ID_MAX + 1], filter[FILTER_MAX];
	struct myldap_result *res = NULL;
	size_t i, j;
	int rc;

	*taken = 0;
	if (myldap_escape(login, strlen(login), esc, sizeof esc) != 0)
		return KENPO_RES_INTERNAL;
	(void)snprintf(filter, sizeof filter, "(uid=%s)", esc);
	for (i = 0; i < cfg->nsocieties && !*taken; i++) {
		rc = myldap_search(rq->ld, cfg->societies[i].base, filter, attrs, 4, &res);
		if (rc != MYLDAP_OK)
			return ldap_result(rc);
		for (j = 0; j < res->nentries; j++)
			if (self_dn == NULL || strcasecmp(res->entries[j].dn, self_dn) != 0)
				*taken = 1;
		myldap_result_free(res);
	}
	return KENPO_RES_OK;
}

/* Forget what the passwd cache knows of a member, by both names. */
static void
forget(struct request *rq, const struct member *m, const char *new_login)
{
	cache_forget(rq->kd->cache, member_get(m, MA_UID), m->uid);
	if (new_login != NULL)
		cache_forget(rq->kd->cache, new_login, m->uid);
}

/* ---- changes to an entry ----
 *
 * Registration and the profile write attributes that member_change does
 * not read (homeDirectory, gidNumber, ...) and values longer than it holds
 * (a nickname, a home directory); the values here are only pointed at.
 */

struct change {
	struct myldap_mod mods[MYLDAP_MODS_MAX];
	size_t n;
	int err;
};

static void
ch(struct change *c, enum myldap_modop op, const char *attr, const char *value)
{
	if (c->n == MYLDAP_MODS_MAX) {
		c->err = 1;
		return;
	}
	c->mods[c->n++] = (struct myldap_mod){ op, attr, value };
}

/* Remove exactly the value read (nothing if there was none). */
static void
ch_drop(struct change *c, const struct member *m, enum member_attr a)
{
	if (member_get(m, a) != NULL)
		ch(c, MYLDAP_MOD_DELETE, member_attr_name(a), member_get(m, a));
}

/* ---- mails and links ---- */

/* tmpl with every %%TOKEN%% replaced by token. */
static int
link_of(const char *tmpl, const char *token, char *out, size_t outsz)
{
	static const char mark[] = "%%TOKEN%%";
	const char *p;
	size_t o = 0, n;

	if (tmpl == NULL)
		return -1;
	while ((p = strstr(tmpl, mark)) != NULL) {
		n = (size_t)(p - tmpl);
		if (o + n + KENPO_TOKEN_LEN >= outsz)
			return -1;
		memcpy(out + o, tmpl, n);
		memcpy(out + o + n, token, KENPO_TOKEN_LEN);
		o += n + KENPO_TOKEN_LEN;
		tmpl = p + sizeof mark - 1;
	}
	n = strlen(tmpl);
	if (o + n >= outsz)
		return -1;
	memcpy(out + o, tmpl, n + 1);
	return 0;
}

/* Mail a link: template kind with URL and VALIDITY (and extra vars). */
static int
mail_link(const struct kenpo_society *soc, enum kenpo_mail_kind kind, const char *url_tmpl,
	  const char *token, long validity, const struct kenpo_var *extra, size_t nextra,
	  const char *to)
{
	struct kenpo_var vars[6];
	char url[URL_MAX], dur[64];
	size_t n = 0;

	if (link_of(url_tmpl, token, url, sizeof url) != 0 || nextra > 4 ||
	    kenpo_duration_format(soc->lang, validity, dur, sizeof dur) != 0) {
		log_msg(LOG_ERR, "society %.100s: the link cannot be made", soc->id);
		return -1;
	}
	vars[n++] = (struct kenpo_var){ "URL", url };
	vars[n++] = (struct kenpo_var){ "VALIDITY", dur };
	if (nextra > 0)
		memcpy(vars + n, extra, nextra * sizeof(*extra));
	return mailer_send(soc, kind, vars, n + nextra, to);
}

/* Make a token and mail its link; the token is withdrawn if the mail
 * fails.  A kenpo_result (MAIL_FAILED for the mail). */
static int
token_mail(struct request *rq, const struct kenpo_society *soc, const struct token_spec *spec,
	   enum kenpo_mail_kind kind, const char *url_tmpl, long validity,
	   const struct kenpo_var *extra, size_t nextra, const char *to)
{
	char token[KENPO_TOKEN_LEN + 1];
	int rc;

	rc = token_create(rq, soc, spec, token, sizeof token);
	if (rc != KENPO_RES_OK)
		return rc;
	if (mail_link(soc, kind, url_tmpl, token, validity, extra, nextra, to) != 0) {
		token_withdraw(rq, soc, token);
		rc = KENPO_RES_MAIL_FAILED;
	}
	kenpo_wipe(token, sizeof token);
	return rc;
}

/* ---- GUIDE_REQUEST ---- */

/* In a society that registers by identity check, a guide goes only to an
 * address of its roster (kenpoRosterMail of a member not yet registered):
 * the check that follows needs the roster address anyway, and the service
 * then cannot be used to mail strangers.  A kenpo_result; *known set. */
static int
roster_has(struct request *rq, const struct kenpo_society *soc, const char *addr, int *known)
{
	char esc[3 * ADDRESS_MAX + 1], filter[FILTER_MAX];
	struct member m = { NULL, NULL, NULL, 0 };
	int rc;

	if (myldap_escape(addr, strlen(addr), esc, sizeof esc) != 0)
		return KENPO_RES_INTERNAL;
	(void)snprintf(filter, sizeof filter, "(&(objectClass=kenpoMember)(kenpoState=issued)"
		       "(kenpoRosterMail=%s)(!(kenpoDisabled=TRUE)))", esc);
	rc = member_find(rq, soc, filter, &m);
	*known = rc == KENPO_RES_OK;
	member_release(&m);
	return rc == KENPO_RES_NOTFOUND ? KENPO_RES_OK : rc;
}

static int
guide_send(struct request *rq, const struct kenpo_society *soc, const char *addr)
{
	struct token_spec spec = { KENPO_TOKEN_GUIDE, 0, addr, NULL, NULL };
	int rc, allowed = 0, known = 1;

	if (soc->method == KENPO_REG_IDENTITY &&
	    (rc = roster_has(rq, soc, addr, &known)) != KENPO_RES_OK)
		return rc;
	rc = rate_take(rq, soc, "guide", addr, soc->guide_per_hour, 3600, &allowed);
	if (rc != KENPO_RES_OK)
		return rc;
	if (!allowed || !known) {
		log_msg(LOG_INFO, "no guide mailed (%s)", allowed ? "not in the roster" :
			"rate limit");
		return KENPO_RES_OK;
	}
	spec.expiry = member_now() + (int64_t)soc->guide_validity * 1000;
	rc = token_mail(rq, soc, &spec, KENPO_MAIL_GUIDE, soc->guide_url,
			soc->guide_validity, NULL, 0, addr);
	if (rc == KENPO_RES_OK)
		log_msg(LOG_INFO, "registration guide mailed");
	return rc;
}

int
selfsvc_guide_request(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char society[TEXT_MAX], addr[TEXT_MAX], esc[LOG_ESCAPE_MAX];
	const struct kenpo_society *soc;
	int toolong = 0, rc;

	take(in, society, sizeof society, &toolong);
	take(in, addr, sizeof addr, &toolong);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("guide request society=%.40s", log_escape(society, strlen(society), esc));
	soc = society_pick(rq->kd->cfg, society);
	if (soc == NULL)
		return badvalue(out, "society");
	if (toolong || !address_ok(addr))
		return badvalue(out, "address");
	rc = guide_send(rq, soc, addr);
	/* The answer does not tell whether a mail went out. */
	if (rc == KENPO_RES_MAIL_FAILED)
		rc = KENPO_RES_OK;
	return rc;
}

/* ---- TOKEN_CHECK ---- */

int
selfsvc_token_check(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char text[TEXT_MAX], masked[TOKEN_MAIL_MAX] = "";
	struct token t;
	int toolong = 0, rc;

	take(in, text, sizeof text, &toolong);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("token check");
	rc = token_get(rq, text, 0, &t);
	kenpo_wipe(text, sizeof text);
	if (rc != KENPO_RES_OK)
		return rc;
	if (t.mail[0] != '\0' && kenpo_mail_mask(t.mail, masked, sizeof masked) != 0)
		masked[0] = '\0';
	kenpo_put_int32(out, t.kind);
	kenpo_put_int32(out, (int32_t)ceil_secs(t.expiry - member_now()));
	kenpo_put_cstring(out, masked);
	return KENPO_RES_OK;
}

/* ---- registration tickets ---- */

/* The member a registration link or ticket is for, not yet registered:
 * OK, or TOKEN_INVALID when it is gone or registered meanwhile. */
static int
load_issued(struct request *rq, const char *dn, struct member *m)
{
	int rc = member_load_dn(rq, dn, m);

	if (rc == KENPO_RES_NOTFOUND || (rc == KENPO_RES_OK && !member_has(m, MA_STATE, "issued")))
		rc = KENPO_RES_TOKEN_INVALID;
	return rc;
}

/* Exchange a used link for a registration ticket and write the REG record. */
static int
reg_ticket(struct request *rq, const struct member *m, const char *mail, struct kenpo_buf *out)
{
	const struct kenpo_society *soc = m->soc;
	struct token_spec spec = { KENPO_TOKEN_REGISTRATION, 0, mail, m->e->dn, NULL };
	char ticket[KENPO_TOKEN_LEN + 1];
	int rc;

	spec.expiry = member_now() + (int64_t)soc->identity_validity * 1000;
	rc = token_create(rq, soc, &spec, ticket, sizeof ticket);
	if (rc != KENPO_RES_OK)
		return rc;
	kenpo_put_cstring(out, ticket);
	kenpo_put_int32(out, (int32_t)soc->identity_validity);
	kenpo_put_cstring(out, mail);
	kenpo_wipe(ticket, sizeof ticket);
	return KENPO_RES_OK;
}

/* ---- REG_LETTER_OPEN ---- */

/* The letter's temporary password of an issued member.  A wrong one
 * counts in the member's kenpoTempPasswordTries; at lockout_failures the
 * letter is void (the society re-issues it), answered like a wrong
 * password so that the answer never tells whether a login ID exists.
 * Unknown login IDs cost the same argon2 verification. */
static int
letter_verify(struct request *rq, const struct token *t, const char *login,
	      const char *pw, struct member *m)
{
	const struct kenpo_society *soc = t->soc;
	struct kenpo_pwcost cost;
	const char *hash = NULL;
	int rc;

	pwcost(rq, &cost);
	rc = member_load(rq, soc, login, strlen(login), m);
	if (rc != KENPO_RES_OK && rc != KENPO_RES_NOTFOUND)
		return rc;
	if (rc == KENPO_RES_OK && member_has(m, MA_STATE, "issued") &&
	    !member_flag(m, MA_DISABLED, 0)) {
		hash = member_get(m, MA_TEMP_PASSWORD);
		/* An expiry that cannot be read (0) has passed. */
		if (member_get(m, MA_TEMP_EXPIRY) != NULL &&
		    member_now() >= member_time(m, MA_TEMP_EXPIRY))
			hash = NULL;
		if (soc->lockout_failures > 0 &&
		    member_count(m, MA_TEMP_TRIES) >= soc->lockout_failures)
			hash = NULL;
	}
	if (hash == NULL) {
		hash = kenpo_pw_fake_hash(&cost);
		if (hash != NULL && kenpo_pw_verify(hash, pw, strlen(pw)) == 0)
			log_msg(LOG_ERR, "a password verified against the fake hash");
		return KENPO_RES_AUTH_ERR;
	}
	if (kenpo_pw_verify(hash, pw, strlen(pw)) == 0)
		return KENPO_RES_OK;
	return KENPO_RES_AUTH_ERR;
}

/* Count a wrong temporary password on the member (optimistic: a change
 * meanwhile means another failure was counted; this one is then lost,
 * which the per-link count covers). */
static void
letter_failed(struct request *rq, const struct member *m)
{
	struct member_change c;

	if (m->e == NULL || !member_has(m, MA_STATE, "issued"))
		return;
	member_change_init(&c);
	member_set_count(&c, m, MA_TEMP_TRIES, member_count(m, MA_TEMP_TRIES) + 1);
	if (member_apply(rq, m, &c) == MYLDAP_ERROR)
		log_msg(LOG_WARNING, "%.200s: cannot count a wrong temporary password", m->e->dn);
}

int
selfsvc_reg_letter_open(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char text[TEXT_MAX], login[TEXT_MAX], pw[SECRET_MAX];
	struct member m = { NULL, NULL, NULL, 0 };
	struct token t;
	unsigned left = 0;
	int toolong = 0, rc;

	take(in, text, sizeof text, &toolong);
	take(in, login, sizeof login, &toolong);
	take(in, pw, sizeof pw, &toolong);
	if (kenpo_frame_close(in) != 0) {
		rc = KENPO_RES_BADREQ;
		goto done;
	}
	log_setrequest("registration by letter");
	rc = token_get(rq, text, KENPO_TOKEN_GUIDE, &t);
	if (rc != KENPO_RES_OK)
		goto done;
	rc = toolong ? KENPO_RES_AUTH_ERR : letter_verify(rq, &t, login, pw, &m);
	if (rc == KENPO_RES_AUTH_ERR) {
		letter_failed(rq, &m);
		if (token_fail(rq, &t, t.soc->identity_max_tries, &left) != KENPO_RES_OK)
			log_msg(LOG_WARNING, "a wrong answer could not be counted on the link");
		log_msg(LOG_INFO, "wrong login ID or temporary password (%u tries left)", left);
		goto done;
	}
	if (rc != KENPO_RES_OK)
		goto done;
	rc = token_consume(rq, &t);
	if (rc == KENPO_RES_OK)
		rc = reg_ticket(rq, &m, t.mail, out);
	if (rc == KENPO_RES_OK)
		log_msg(LOG_INFO, "%.200s: letter accepted, registration form opened", m.e->dn);
done:
	kenpo_wipe(text, sizeof text);
	kenpo_wipe(pw, sizeof pw);
	member_release(&m);
	return rc;
}

/* ---- IDENTITY_CHECK ---- */

/* The issued member of the roster with this address and date of birth. */
static int
roster_match(struct request *rq, const struct kenpo_society *soc, const char *addr,
	     const char *dob, struct member *m)
{
	char esc[3 * ADDRESS_MAX + 1], filter[FILTER_MAX];

	if (myldap_escape(addr, strlen(addr), esc, sizeof esc) != 0)
		return KENPO_RES_INTERNAL;
	/* dob has been checked to be digits and dashes: no escaping needed. */
	(void)snprintf(filter, sizeof filter, "(&(objectClass=kenpoMember)(kenpoState=issued)"
		       "(kenpoRosterMail=%s)(kenpoDateOfBirth=%s)(!(kenpoDisabled=TRUE)))",
		       esc, dob);
	return member_find(rq, soc, filter, m);
}

/* A failed check: counted on the link and on the address.  MISMATCH with
 * the answers left (the fewer of the two). */
static int
identity_failed(struct request *rq, struct token *t, const char *addr, unsigned addr_count,
		struct kenpo_buf *out)
{
	const struct kenpo_society *soc = t->soc;
	unsigned left = 0, max = soc->identity_max_tries;
	int allowed = 0, rc;

	rc = token_fail(rq, t, max, &left);
	if (rc == KENPO_RES_OK)
		rc = rate_take(rq, soc, "idfail", addr, max, IDFAIL_WINDOW, &allowed);
	if (rc != KENPO_RES_OK)
		return rc;
	if (addr_count + 1 >= max)
		left = 0;
	else if (max - addr_count - 1 < left)
		left = max - addr_count - 1;
	log_msg(LOG_INFO, "identity check failed (%u tries left)", left);
	kenpo_put_int32(out, (int32_t)left);
	return KENPO_RES_MISMATCH;
}

/* The check matched: the guide link is used, the identity link mailed to
 * the roster address and the on-screen key answered. */
static int
identity_passed(struct request *rq, struct token *t, const struct member *m,
		struct kenpo_buf *out)
{
	const struct kenpo_society *soc = t->soc;
	struct token_spec spec = { KENPO_TOKEN_IDENTITY, 0, member_get(m, MA_ROSTER_MAIL),
				   m->e->dn, NULL };
	char key[KENPO_AUTHKEY_LEN + 1];
	int rc;

	if (kenpo_gen_authkey(key, sizeof key) != 0)
		return KENPO_RES_INTERNAL;
	rc = token_consume(rq, t);
	if (rc != KENPO_RES_OK)
		goto done;
	(void)token_void_member(rq, soc, m->e->dn, KENPO_TOKEN_IDENTITY);
	spec.authkey = key;
	spec.expiry = member_now() + (int64_t)soc->identity_validity * 1000;
	rc = token_mail(rq, soc, &spec, KENPO_MAIL_IDENTITY, soc->identity_url,
			soc->identity_validity, NULL, 0, spec.mail);
	if (rc != KENPO_RES_OK) {
		/* Nothing was mailed: the member may try again with the link. */
		if (token_restore(rq, t) != KENPO_RES_OK)
			log_msg(LOG_WARNING, "the guide link could not be put back");
		rc = KENPO_RES_UNAVAIL;
		goto done;
	}
	log_msg(LOG_INFO, "%.200s: identity confirmed, link mailed", m->e->dn);
	kenpo_put_cstring(out, key);
done:
	kenpo_wipe(key, sizeof key);
	return rc;
}

int
selfsvc_identity_check(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char text[TEXT_MAX], addr[TEXT_MAX], dob[TEXT_MAX];
	struct member m = { NULL, NULL, NULL, 0 };
	struct token t;
	unsigned count = 0;
	int toolong = 0, rc;

	take(in, text, sizeof text, &toolong);
	take(in, addr, sizeof addr, &toolong);
	take(in, dob, sizeof dob, &toolong);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("identity check");
	if (!address_ok(addr))
		return badvalue(out, "address");
	if (!date_ok(dob))
		return badvalue(out, "date_of_birth");
	/* The address typed need not be the one the guide went to: the
	 * identity link goes to the roster's address, which proves it, and
	 * the on-screen key ties that mail to this screen. */
	rc = token_get(rq, text, KENPO_TOKEN_GUIDE, &t);
	kenpo_wipe(text, sizeof text);
	if (rc != KENPO_RES_OK)
		return rc;
	if (t.soc->method != KENPO_REG_IDENTITY)
		return badvalue(out, "registration");
	rc = rate_count(rq, t.soc, "idfail", addr, IDFAIL_WINDOW, &count);
	if (rc != KENPO_RES_OK)
		return rc;
	/* An address that failed too often is refused without looking. */
	rc = count >= t.soc->identity_max_tries ? KENPO_RES_NOTFOUND :
		roster_match(rq, t.soc, addr, dob, &m);
	if (rc == KENPO_RES_NOTFOUND)
		rc = identity_failed(rq, &t, addr, count, out);
	else if (rc == KENPO_RES_OK)
		rc = identity_passed(rq, &t, &m, out);
	member_release(&m);
	return rc;
}

/* ---- IDENTITY_OPEN ---- */

int
selfsvc_identity_open(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char text[TEXT_MAX], key[SECRET_MAX];
	struct member m = { NULL, NULL, NULL, 0 };
	struct token t;
	unsigned left = 0;
	size_t i;
	int toolong = 0, rc;

	take(in, text, sizeof text, &toolong);
	take(in, key, sizeof key, &toolong);
	if (kenpo_frame_close(in) != 0) {
		rc = KENPO_RES_BADREQ;
		goto done;
	}
	log_setrequest("identity link");
	rc = token_get(rq, text, KENPO_TOKEN_IDENTITY, &t);
	if (rc != KENPO_RES_OK)
		goto done;
	/* The key is shown in capitals; a member may type it in lower case. */
	for (i = 0; key[i] != '\0'; i++)
		if (key[i] >= 'a' && key[i] <= 'z')
			key[i] = (char)(key[i] - 'a' + 'A');
	if (toolong || !token_authkey_matches(rq, &t, key)) {
		rc = token_fail(rq, &t, t.soc->identity_max_tries, &left);
		if (rc == KENPO_RES_OK) {
			kenpo_put_int32(out, (int32_t)left);
			rc = KENPO_RES_MISMATCH;
		}
		goto done;
	}
	rc = load_issued(rq, t.member, &m);
	if (rc == KENPO_RES_OK)
		rc = token_consume(rq, &t);
	if (rc == KENPO_RES_OK)
		rc = reg_ticket(rq, &m, t.mail, out);
done:
	kenpo_wipe(text, sizeof text);
	kenpo_wipe(key, sizeof key);
	member_release(&m);
	return rc;
}

/* ---- REG_COMPLETE ---- */

struct reg_form {
	char ticket[TEXT_MAX];
	char login[TEXT_MAX];
	char pw[SECRET_MAX];
	char mail[TEXT_MAX];
	char nickname[TEXT_MAX];
	char hash[KENPO_PWHASH_MAX];
	/* for a member without posixAccount (identity check) */
	char uidnumber[16], gidnumber[16], home[DN_MAX];
};

/* The rules a new login ID breaks: the manuals' rules, and the names of
 * the host's own accounts and the reserved list (localname.h), so that no
 * member can ever take the name of root or of a service. */
static unsigned
login_id_rules(const struct request *rq, const char *id)
{
	size_t len = strlen(id);

	return kenpo_policy_check_login_id(id, len) |
	       kenpo_localname_check(id, len, rq->kd->cfg->reserved_login_ids);
}

/* Check the whole form.  OK, or the refusal with its field written. */
static int
reg_form_check(struct request *rq, struct reg_form *f, int toolong, struct kenpo_buf *out)
{
	unsigned mask;

	if (toolong)
		return badvalue(out, "form");
	mask = login_id_rules(rq, f->login) | kenpo_policy_check_password(f->pw, strlen(f->pw));
	if (mask != 0) {
		kenpo_put_int32(out, (int32_t)mask);
		return KENPO_RES_POLICY;
	}
	if (!address_ok(f->mail))
		return badvalue(out, "mail");
	if (f->nickname[0] == '\0')
		memcpy(f->nickname, DEFAULT_NICKNAME, sizeof DEFAULT_NICKNAME);
	if (!nickname_ok(f->nickname))
		return badvalue(out, "nickname");
	return KENPO_RES_OK;
}

/* Take the next uidNumber from the society's counter (optimistic: delete
 * the value read, add the next; the unique overlay guards uidNumber too). */
static int
uid_allocate(struct request *rq, const struct kenpo_society *soc, char *out, size_t outsz)
{
	static const char *const attrs[] = { "kenpoNextUid", NULL };
	char base[DN_MAX], next[24];
	struct myldap_result *res = NULL;
	struct myldap_mod m[2];
	unsigned long long uid;
	int attempt, rc = KENPO_RES_INTERNAL;

	(void)snprintf(base, sizeof base, "cn=uidNumber,%s", soc->base);
	for (attempt = 0; attempt < UPDATE_TRIES; attempt++) {
		rc = myldap_search(rq->ld, base, "(objectClass=kenpoCounter)", attrs, 1, &res);
		if (rc != MYLDAP_OK)
			return ldap_result(rc);
		if (res->nentries != 1 || myldap_value(&res->entries[0], 0) == NULL ||
		    kenpo_parse_ulong(myldap_value(&res->entries[0], 0), soc->uid_min,
				      soc->uid_max - 1, &uid) != 0) {
			log_msg(LOG_ERR, "%.200s: no usable kenpoNextUid", base);
			myldap_result_free(res);
			return KENPO_RES_INTERNAL;
		}
		(void)snprintf(out, outsz, "%llu", uid);
		(void)snprintf(next, sizeof next, "%llu", uid + 1);
		m[0] = (struct myldap_mod){ MYLDAP_MOD_DELETE, "kenpoNextUid", out };
		m[1] = (struct myldap_mod){ MYLDAP_MOD_ADD, "kenpoNextUid", next };
		rc = myldap_modify(rq->ld, base, m, 2);
		myldap_result_free(res);
		if (rc == MYLDAP_OK)
			return KENPO_RES_OK;
		if (rc != MYLDAP_CHANGED)
			return ldap_result(rc);
	}
	return KENPO_RES_UNAVAIL;
}

/* The change that registers the member as read. */
static int
reg_change(struct request *rq, const struct member *m, struct reg_form *f, struct change *c)
{
	const struct kenpo_society *soc = m->soc;
	int rc;

	ch_drop(c, m, MA_STATE);
	ch(c, MYLDAP_MOD_ADD, "kenpoState", "registered");
	if (passwd_expand_home(soc->home_template, f->login, member_get(m, MA_NUMBER), f->home,
			       sizeof f->home) != 0)
		return KENPO_RES_INTERNAL;
	if (member_has(m, MA_OBJECTCLASS, "posixAccount") && member_get(m, MA_UID) != NULL) {
		ch_drop(c, m, MA_UID);
		ch(c, MYLDAP_MOD_ADD, "uid", f->login);
		ch(c, MYLDAP_MOD_REPLACE, "homeDirectory", f->home);
	} else {
		/* Imported from the roster for the identity check: it becomes a
		 * Unix account only now. */
		rc = uid_allocate(rq, soc, f->uidnumber, sizeof f->uidnumber);
		if (rc != KENPO_RES_OK)
			return rc;
		(void)snprintf(f->gidnumber, sizeof f->gidnumber, "%lu", soc->gid);
		ch(c, MYLDAP_MOD_ADD, "objectClass", "posixAccount");
		ch(c, MYLDAP_MOD_REPLACE, "uid", f->login);
		ch(c, MYLDAP_MOD_REPLACE, "uidNumber", f->uidnumber);
		ch(c, MYLDAP_MOD_REPLACE, "gidNumber", f->gidnumber);
		ch(c, MYLDAP_MOD_REPLACE, "homeDirectory", f->home);
		ch(c, MYLDAP_MOD_REPLACE, "loginShell", soc->shell);
	}
	ch(c, MYLDAP_MOD_REPLACE, "userPassword", f->hash);
	ch(c, MYLDAP_MOD_REPLACE, "kenpoMail1", f->mail);
	ch(c, MYLDAP_MOD_REPLACE, "kenpoNickname", f->nickname);
	ch_drop(c, m, MA_TEMP_PASSWORD);
	ch_drop(c, m, MA_TEMP_EXPIRY);
	ch_drop(c, m, MA_TEMP_TRIES);
	ch_drop(c, m, MA_MUST_CHANGE);
	return c->err ? KENPO_RES_INTERNAL : KENPO_RES_OK;
}

/* Register the member of the ticket (consumed by now).  OK; ID_TAKEN (the
 * ticket is put back); TOKEN_INVALID (registered meanwhile). */
static int
reg_apply(struct request *rq, const struct token *t, struct reg_form *f)
{
	struct member m = { NULL, NULL, NULL, 0 };
	struct change c;
	int attempt, rc = KENPO_RES_UNAVAIL, taken = 0;

	for (attempt = 0; attempt < UPDATE_TRIES; attempt++) {
		rc = load_issued(rq, t->member, &m);
		if (rc != KENPO_RES_OK)
			break;
		memset(&c, 0, sizeof c);
		rc = reg_change(rq, &m, f, &c);
		if (rc == KENPO_RES_OK)
			rc = myldap_modify(rq->ld, m.e->dn, c.mods, c.n);
		if (rc == MYLDAP_OK) {
			forget(rq, &m, f->login);
			log_msg(LOG_INFO, "%.200s: registered", m.e->dn);
			rc = KENPO_RES_OK;
			break;
		}
		member_release(&m);
		if (rc != MYLDAP_CHANGED) {
			rc = rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
			break;
		}
		/* Refused: the login ID taken meanwhile, or the entry changed. */
		rc = login_taken(rq, f->login, t->member, &taken);
		if (rc != KENPO_RES_OK || taken) {
			rc = rc != KENPO_RES_OK ? rc : KENPO_RES_ID_TAKEN;
			break;
		}
		rc = KENPO_RES_UNAVAIL;
	}
	member_release(&m);
	return rc;
}

static void
reg_mail(const struct token *t, const struct reg_form *f)
{
	const struct kenpo_society *soc = t->soc;
	struct kenpo_var vars[2] = { { "LOGINURL", soc->login_url }, { "LOGINID", f->login } };

	if (mailer_send(soc, KENPO_MAIL_COMPLETE, vars, 2, f->mail) != 0)
		log_msg(LOG_WARNING, "registration complete, but its mail could not be sent");
}

static int
reg_complete(struct request *rq, struct reg_form *f, int toolong, struct kenpo_buf *out)
{
	struct kenpo_pwcost cost;
	struct token t;
	int rc, taken = 0;

	rc = reg_form_check(rq, f, toolong, out);
	if (rc != KENPO_RES_OK)
		return rc;
	rc = token_get(rq, f->ticket, KENPO_TOKEN_REGISTRATION, &t);
	if (rc != KENPO_RES_OK)
		return rc;
	rc = login_taken(rq, f->login, t.member, &taken);
	if (rc != KENPO_RES_OK || taken)
		return rc != KENPO_RES_OK ? rc : KENPO_RES_ID_TAKEN;
	pwcost(rq, &cost);
	if (kenpo_pw_hash(f->pw, strlen(f->pw), &cost, f->hash, sizeof f->hash) != 0)
		return KENPO_RES_INTERNAL;
	rc = token_consume(rq, &t);
	if (rc != KENPO_RES_OK)
		return rc;
	rc = reg_apply(rq, &t, f);
	if (rc == KENPO_RES_ID_TAKEN || rc == KENPO_RES_UNAVAIL || rc == KENPO_RES_INTERNAL) {
		if (token_restore(rq, &t) != KENPO_RES_OK)
			log_msg(LOG_WARNING, "the registration ticket could not be put back");
	}
	if (rc != KENPO_RES_OK)
		return rc;
	reg_mail(&t, f);
	kenpo_put_cstring(out, f->login);
	return KENPO_RES_OK;
}

int
selfsvc_reg_complete(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	struct reg_form *f = calloc(1, sizeof(*f));
	int toolong = 0, rc;

	if (f == NULL)
		return KENPO_RES_INTERNAL;
	take(in, f->ticket, sizeof f->ticket, &toolong);
	take(in, f->login, sizeof f->login, &toolong);
	take(in, f->pw, sizeof f->pw, &toolong);
	take(in, f->mail, sizeof f->mail, &toolong);
	take(in, f->nickname, sizeof f->nickname, &toolong);
	if (kenpo_frame_close(in) != 0) {
		rc = KENPO_RES_BADREQ;
		goto done;
	}
	log_setrequest("registration complete");
	rc = reg_complete(rq, f, toolong, out);
done:
	kenpo_wipe(f, sizeof(*f));
	free(f);
	return rc;
}

/* ---- RESET_REQUEST ---- */

/* A temporary password for one member, stored, and its link mailed. */
static int
reset_one(struct request *rq, const struct member *m, const char *addr)
{
	const struct kenpo_society *soc = m->soc;
	struct token_spec spec = { KENPO_TOKEN_RESET, 0, addr, m->e->dn, NULL };
	char temp[KENPO_TEMP_PASSWORD_LEN + 1], hash[KENPO_PWHASH_MAX], exp[32];
	struct kenpo_var vars[2] = { { "LOGINID", member_get(m, MA_UID) }, { "PASSWD", temp } };
	struct myldap_mod mods[3];
	struct kenpo_pwcost cost;
	int rc = KENPO_RES_INTERNAL;

	pwcost(rq, &cost);
	spec.expiry = member_now() + (int64_t)soc->reset_validity * 1000;
	if (kenpo_gen_temp_password(temp, sizeof temp) != 0 ||
	    kenpo_pw_hash(temp, strlen(temp), &cost, hash, sizeof hash) != 0 ||
	    member_format_time(spec.expiry, 0, exp, sizeof exp) != 0)
		goto done;
	/* The current password keeps working; the temporary one is a second
	 * way in until it expires, and a login with it forces a change. */
	mods[0] = (struct myldap_mod){ MYLDAP_MOD_REPLACE, "kenpoTempPassword", hash };
	mods[1] = (struct myldap_mod){ MYLDAP_MOD_REPLACE, "kenpoTempPasswordExpiry", exp };
	mods[2] = (struct myldap_mod){ MYLDAP_MOD_REPLACE, "kenpoTempPasswordTries", NULL };
	rc = myldap_modify(rq->ld, m->e->dn, mods, 3);
	if (rc != MYLDAP_OK) {
		rc = rc == MYLDAP_CHANGED ? KENPO_RES_OK : ldap_result(rc);
		goto done;
	}
	(void)token_void_member(rq, soc, m->e->dn, KENPO_TOKEN_RESET);
	rc = token_mail(rq, soc, &spec, KENPO_MAIL_RESET, soc->reset_url, soc->reset_validity,
			vars, 2, addr);
	if (rc != KENPO_RES_OK) {
		/* Take back exactly the value written, nothing written since. */
		mods[0] = (struct myldap_mod){ MYLDAP_MOD_DELETE, "kenpoTempPassword", hash };
		(void)myldap_modify(rq->ld, m->e->dn, mods, 1);
	} else {
		log_msg(LOG_INFO, "%.200s: temporary password mailed", m->e->dn);
	}
done:
	kenpo_wipe(temp, sizeof temp);
	kenpo_wipe(hash, sizeof hash);
	return rc;
}

static int
reset_send(struct request *rq, const struct kenpo_society *soc, const char *addr)
{
	char esc[3 * ADDRESS_MAX + 1], filter[3 * sizeof esc + 256];
	struct myldap_result *res = NULL;
	struct member m;
	size_t i;
	int rc, r, allowed = 0;

	rc = rate_take(rq, soc, "reset", addr, soc->reset_per_hour, 3600, &allowed);
	if (rc != KENPO_RES_OK || !allowed) {
		if (rc == KENPO_RES_OK)
			log_msg(LOG_INFO, "no reset mailed (rate limit)");
		return rc;
	}
	if (myldap_escape(addr, strlen(addr), esc, sizeof esc) != 0)
		return KENPO_RES_INTERNAL;
	(void)snprintf(filter, sizeof filter, "(&(objectClass=kenpoMember)"
		       "(kenpoState=registered)(!(kenpoDisabled=TRUE))"
		       "(|(kenpoMail1=%s)(kenpoMail2=%s)(kenpoMail3=%s)))", esc, esc, esc);
	rc = member_search(rq, soc, filter, RESET_MEMBERS_MAX, &res);
	if (rc != KENPO_RES_OK)
		return rc;
	/* A mail that fails for one member (logged by the mailer) does not
	 * keep the others who share the address from theirs. */
	for (i = 0; i < res->nentries; i++) {
		member_of(soc, &res->entries[i], &m);
		if (myldap_nvalues(m.e, MA_UID) != 1)
			continue;
		r = reset_one(rq, &m, addr);
		if (r != KENPO_RES_OK)
			rc = r;
		if (r != KENPO_RES_OK && r != KENPO_RES_MAIL_FAILED)
			break;
	}
	if (res->nentries == 0)
		log_msg(LOG_INFO, "no reset mailed (no registered member has the address)");
	myldap_result_free(res);
	return rc;
}

int
selfsvc_reset_request(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	const struct kenpo_config *cfg = rq->kd->cfg;
	char society[TEXT_MAX], addr[TEXT_MAX], esc[LOG_ESCAPE_MAX];
	const struct kenpo_society *soc;
	int toolong = 0, rc = KENPO_RES_OK;
	size_t i;

	take(in, society, sizeof society, &toolong);
	take(in, addr, sizeof addr, &toolong);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("reset request society=%.40s", log_escape(society, strlen(society), esc));
	soc = society[0] != '\0' ? kenpo_config_society(cfg, society) : NULL;
	if (society[0] != '\0' && soc == NULL)
		return badvalue(out, "society");
	if (toolong || !address_ok(addr))
		return badvalue(out, "address");
	/* No society named: the login page serves every society (「利用可能な
	 * 組合」), so the address is looked for in each. */
	for (i = 0; i < cfg->nsocieties && rc == KENPO_RES_OK; i++)
		if (soc == NULL || soc == &cfg->societies[i])
			rc = reset_send(rq, &cfg->societies[i], addr);
	return rc == KENPO_RES_MAIL_FAILED ? KENPO_RES_OK : rc;
}

/* ---- RESET_OPEN ---- */

int
selfsvc_reset_open(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char text[TEXT_MAX];
	struct member m = { NULL, NULL, NULL, 0 };
	struct token t;
	int toolong = 0, rc;

	take(in, text, sizeof text, &toolong);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("reset link");
	rc = token_get(rq, text, KENPO_TOKEN_RESET, &t);
	kenpo_wipe(text, sizeof text);
	if (rc == KENPO_RES_OK)
		rc = member_load_dn(rq, t.member, &m);
	if (rc == KENPO_RES_NOTFOUND || (rc == KENPO_RES_OK && member_get(&m, MA_UID) == NULL))
		rc = KENPO_RES_TOKEN_INVALID;
	if (rc == KENPO_RES_OK)
		rc = token_consume(rq, &t);
	if (rc == KENPO_RES_OK) {
		kenpo_put_cstring(out, member_get(&m, MA_UID));
		kenpo_put_int32(out, (int32_t)ceil_secs(member_time(&m, MA_TEMP_EXPIRY) -
							member_now()));
	}
	member_release(&m);
	return rc;
}

/* ---- LOGIN_ID_CHECK ---- */

int
selfsvc_login_id_check(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char login[TEXT_MAX];
	int toolong = 0, rc, taken = 0;

	take(in, login, sizeof login, &toolong);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("login ID check");
	if (toolong || !member_login_plausible(login, strlen(login)))
		return badvalue(out, "login_id");
	if (kenpo_localname_check(login, strlen(login), rq->kd->cfg->reserved_login_ids) != 0) {
		kenpo_put_int32(out, (int32_t)KENPO_RULE_ID_RESERVED);
		return KENPO_RES_POLICY;
	}
	rc = login_taken(rq, login, NULL, &taken);
	if (rc != KENPO_RES_OK)
		return rc;
	kenpo_put_int32(out, taken);
	return KENPO_RES_OK;
}

/* ---- tickets ---- */

int
selfsvc_ticket_issue(struct request *rq, const char *member_dn, char *out, size_t outsz)
{
	const struct kenpo_society *soc = member_society_of_dn(rq, member_dn);
	struct token_spec spec = { KENPO_TOKEN_TICKET, 0, NULL, member_dn, NULL };

	if (soc == NULL) {
		log_msg(LOG_ERR, "%.200s is in no society: no ticket", member_dn);
		return KENPO_RES_INTERNAL;
	}
	spec.expiry = member_now() + (int64_t)SELFSVC_TICKET_VALIDITY * 1000;
	return token_create(rq, soc, &spec, out, outsz);
}

/* The next ticket after `t` was used: the same member, the same expiry. */
static int
ticket_next(struct request *rq, const struct token *t, char *out, size_t outsz)
{
	struct token_spec spec = { KENPO_TOKEN_TICKET, t->expiry, NULL, t->member, NULL };

	return token_create(rq, t->soc, &spec, out, outsz);
}

/* ---- PROFILE_GET and PROFILE_SET ---- */

enum ptype { PT_LOGIN, PT_NICKNAME, PT_MAIL, PT_BOOL_ON, PT_BOOL_OFF };

struct pfield {
	const char *name;
	enum member_attr attr;
	enum ptype type;
};

/* The member's own fields, in the order a profile shows them. */
static const struct pfield pfields[] = {
	{ "login_id", MA_UID, PT_LOGIN },
	{ "nickname", MA_NICKNAME, PT_NICKNAME },
	{ "mail1", MA_MAIL1, PT_MAIL },
	{ "mail2", MA_MAIL2, PT_MAIL },
	{ "mail3", MA_MAIL3, PT_MAIL },
	{ "key_required", MA_KEY_REQUIRED, PT_BOOL_ON },
	{ "notify_medical", MA_NOTIFY_MEDICAL, PT_BOOL_ON },
	{ "notify_generic", MA_NOTIFY_GENERIC, PT_BOOL_ON },
	{ "notify_magazine", MA_NOTIFY_MAGAZINE, PT_BOOL_ON },
	{ "notify_documents", MA_NOTIFY_DOCUMENTS, PT_BOOL_ON },
	{ "notify_applications", MA_NOTIFY_APPLICATIONS, PT_BOOL_ON },
	{ "disclose_medical", MA_DISCLOSE_MEDICAL, PT_BOOL_OFF },
	{ "disclose_generic", MA_DISCLOSE_GENERIC, PT_BOOL_OFF },
};
#define NPFIELDS (sizeof pfields / sizeof pfields[0])
enum { PF_LOGIN = 0, PF_MAIL1 = 2, PF_MAIL2 = 3, PF_MAIL3 = 4 };  /* rows of pfields */

/* Household members: the same three settings on each child entry. */
static const char *const hh_attrs[] = {
	"kenpoHouseholdIndex", "kenpoNickname", "kenpoDiscloseMedical",
	"kenpoDiscloseGeneric", NULL
};
enum { HA_INDEX, HA_NICKNAME, HA_D_MEDICAL, HA_D_GENERIC };
static const struct {
	const char *name;
	size_t attr;
	enum ptype type;
} hfields[] = {
	{ "nickname", HA_NICKNAME, PT_NICKNAME },
	{ "disclose_medical", HA_D_MEDICAL, PT_BOOL_OFF },
	{ "disclose_generic", HA_D_GENERIC, PT_BOOL_OFF },
};
#define NHFIELDS (sizeof hfields / sizeof hfields[0])

static const char *
yesno(const char *v, enum ptype type)
{
	if (v == NULL)
		return type == PT_BOOL_ON ? "yes" : "no";
	return strcmp(v, "TRUE") == 0 ? "yes" : "no";
}

/* "yes"/"no" as TRUE/FALSE; NULL for anything else. */
static const char *
bool_value(const char *v)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
		return "TRUE";
	if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
		return "FALSE";
	return NULL;
}

static int
household_read(struct request *rq, const struct member *m, struct myldap_result **res)
{
	int rc = myldap_search(rq->ld, m->e->dn, "(objectClass=kenpoHouseholdMember)",
			       hh_attrs, HOUSEHOLD_MAX, res);

	return rc == MYLDAP_OK ? KENPO_RES_OK : ldap_result(rc);
}

/* The child entry of household index `idx` ("01".."99"), or NULL. */
static const struct myldap_entry *
household_find(const struct myldap_result *hh, const char *idx)
{
	size_t i;

	for (i = 0; hh != NULL && i < hh->nentries; i++) {
		const char *v = myldap_value(&hh->entries[i], HA_INDEX);

		if (v != NULL && strcmp(v, idx) == 0)
			return &hh->entries[i];
	}
	return NULL;
}

static void
put_pair(struct kenpo_buf *out, const char *field, const char *value)
{
	kenpo_put_cstring(out, field);
	kenpo_put_cstring(out, value != NULL ? value : "");
}

/* A GeneralizedTime as ISO 8601 UTC, "" when absent or unreadable. */
static void
iso_time(const char *v, char *out, size_t outsz)
{
	int64_t t;
	char g[32];

	out[0] = '\0';
	if (v == NULL || member_parse_time(v, &t) != 0 || member_format_time(t, 0, g, sizeof g) != 0)
		return;
	(void)snprintf(out, outsz, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", g, g + 4, g + 6, g + 8,
		       g + 10, g + 12);
}

static size_t
put_household(struct kenpo_buf *out, const struct myldap_result *hh)
{
	char name[64], dflt[64];
	size_t i, j, n = 0;
	const char *idx, *v;

	for (i = 1; i <= HOUSEHOLD_MAX; i++) {
		char key[4];
		const struct myldap_entry *e;

		(void)snprintf(key, sizeof key, "%02zu", i);
		if ((e = household_find(hh, key)) == NULL)
			continue;
		idx = key;
		for (j = 0; j < NHFIELDS; j++) {
			v = myldap_value(e, hfields[j].attr);
			(void)snprintf(name, sizeof name, "household.%s.%s", idx, hfields[j].name);
			(void)snprintf(dflt, sizeof dflt, "ご家族%s", idx);
			put_pair(out, name, hfields[j].type == PT_NICKNAME ? (v != NULL ? v : dflt)
							 : yesno(v, hfields[j].type));
			n++;
		}
	}
	return n;
}

static void
put_profile(struct kenpo_buf *out, const struct member *m, const struct myldap_result *hh)
{
	size_t countpos = out->len, n = 0, i;
	char iso[32];
	uint32_t word;
	const char *v;

	kenpo_put_int32(out, 0);
	for (i = 0; i < NPFIELDS; i++, n++) {
		v = member_get(m, pfields[i].attr);
		put_pair(out, pfields[i].name, pfields[i].type >= PT_BOOL_ON ?
			 yesno(v, pfields[i].type) : v);
	}
	n += put_household(out, hh);
	iso_time(member_get(m, MA_LAST_LOGIN), iso, sizeof iso);
	put_pair(out, "last_login", iso);
	put_pair(out, "state", member_get(m, MA_STATE));
	n += 2;
	word = htonl((uint32_t)n);
	if (!out->err)
		memcpy(out->data + countpos, &word, sizeof word);
}

/*
 * Who may see or change the profile of `login`: root presenting no
 * ticket, or a caller presenting a valid ticket of that member.  Loads the
 * member into *m and the ticket into *t (*has_ticket).  A kenpo_result.
 */
static int
profile_access(struct request *rq, const char *login, const char *ticket,
	       struct member *m, struct token *t, int *has_ticket)
{
	int rc;

	*has_ticket = ticket[0] != '\0';
	if (!*has_ticket) {
		if (rq->peer_uid != 0) {
			log_msg(LOG_NOTICE, "profile without a ticket from uid %lu: refused",
				(unsigned long)rq->peer_uid);
			return KENPO_RES_DENIED;
		}
		return member_load(rq, NULL, login, strlen(login), m);
	}
	rc = token_get(rq, ticket, KENPO_TOKEN_TICKET, t);
	if (rc != KENPO_RES_OK)
		return rc;
	rc = member_load_dn(rq, t->member, m);
	if (rc == KENPO_RES_NOTFOUND ||
	    (rc == KENPO_RES_OK && (member_get(m, MA_UID) == NULL ||
				    strcasecmp(member_get(m, MA_UID), login) != 0))) {
		log_msg(LOG_NOTICE, "a ticket presented for another member");
		rc = KENPO_RES_TOKEN_INVALID;
	}
	return rc;
}

/* The ticket to answer with: the next one after a used ticket; for root,
 * who presented none, a fresh one. */
static int
ticket_answer(struct request *rq, const struct member *m, const struct token *t,
	      int has_ticket, char *next, size_t nextsz)
{
	if (has_ticket)
		return ticket_next(rq, t, next, nextsz);
	return selfsvc_ticket_issue(rq, m->e->dn, next, nextsz);
}

int
selfsvc_profile_get(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char login[TEXT_MAX], ticket[TEXT_MAX], next[KENPO_TOKEN_LEN + 1] = "";
	struct member m = { NULL, NULL, NULL, 0 };
	struct myldap_result *hh = NULL;
	struct token t;
	int toolong = 0, has_ticket = 0, rc;

	take(in, login, sizeof login, &toolong);
	take(in, ticket, sizeof ticket, &toolong);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("profile get");
	rc = toolong ? KENPO_RES_NOTFOUND : profile_access(rq, login, ticket, &m, &t, &has_ticket);
	if (rc == KENPO_RES_OK)
		rc = household_read(rq, &m, &hh);
	if (rc == KENPO_RES_OK && has_ticket)
		rc = token_consume(rq, &t);
	if (rc == KENPO_RES_OK)
		rc = ticket_answer(rq, &m, &t, has_ticket, next, sizeof next);
	if (rc == KENPO_RES_OK) {
		put_profile(out, &m, hh);
		kenpo_put_cstring(out, next);
	}
	kenpo_wipe(next, sizeof next);
	kenpo_wipe(ticket, sizeof ticket);
	myldap_result_free(hh);
	member_release(&m);
	return rc;
}

/* ---- PROFILE_SET: parsing and checking ---- */

struct pset {
	struct request *rq;
	const char *value[NPFIELDS];          /* NULL: unchanged; "" removes */
	char hh_idx[PROFILE_PAIRS_MAX][3];
	const char *hh_value[PROFILE_PAIRS_MAX];
	size_t hh_field[PROFILE_PAIRS_MAX];
	size_t nhh;
	unsigned mask;                        /* login ID rules broken */
	const char *bad;                      /* the field refused */
	char badname[TEXT_MAX];
};

/* Check one value of a type; 0 or -1. */
static int
value_ok(enum ptype type, const char *v, int required)
{
	switch (type) {
	case PT_LOGIN:
		return 0;           /* the rules are checked on their own */
	case PT_NICKNAME:
		return nickname_ok(v) ? 0 : -1;
	case PT_MAIL:
		return (v[0] == '\0' && !required) || address_ok(v) ? 0 : -1;
	case PT_BOOL_ON:
	case PT_BOOL_OFF:
		return bool_value(v) != NULL ? 0 : -1;
	}
	return -1;
}

/* "household.NN.field": the index and the field number.  0 or -1. */
static int
parse_household(const char *name, char idx[3], size_t *field)
{
	size_t j;

	if (strncmp(name, "household.", 10) != 0 || name[10] < '0' || name[10] > '9' ||
	    name[11] < '0' || name[11] > '9' || name[12] != '.' ||
	    (name[10] == '0' && name[11] == '0'))
		return -1;
	for (j = 0; j < NHFIELDS; j++) {
		if (strcmp(name + 13, hfields[j].name) == 0) {
			idx[0] = name[10];
			idx[1] = name[11];
			idx[2] = '\0';
			*field = j;
			return 0;
		}
	}
	return -1;
}

/* One FIELD=VALUE pair into p.  0, or -1 with p->bad set. */
static int
pset_add(struct pset *p, const char *name, const char *v)
{
	size_t i;

	(void)snprintf(p->badname, sizeof p->badname, "%s", name);
	p->bad = p->badname;
	for (i = 0; i < NPFIELDS; i++) {
		if (strcmp(name, pfields[i].name) != 0)
			continue;
		if (p->value[i] != NULL || value_ok(pfields[i].type, v, i == PF_MAIL1) != 0)
			return -1;
		if (pfields[i].type == PT_LOGIN)
			p->mask |= login_id_rules(p->rq, v);
		p->value[i] = v;
		p->bad = NULL;
		return 0;
	}
	if (p->nhh == PROFILE_PAIRS_MAX ||
	    parse_household(name, p->hh_idx[p->nhh], &p->hh_field[p->nhh]) != 0 ||
	    value_ok(hfields[p->hh_field[p->nhh]].type, v, 1) != 0)
		return -1;
	for (i = 0; i < p->nhh; i++)
		if (strcmp(p->hh_idx[i], p->hh_idx[p->nhh]) == 0 && p->hh_field[i] == p->hh_field[p->nhh])
			return -1;
	p->hh_value[p->nhh++] = v;
	p->bad = NULL;
	return 0;
}

/* Read the pairs (pointing into the request frame).  A kenpo_result. */
static int
pset_read(struct kenpo_buf *in, const char **names, const char **values, int32_t *count)
{
	char *copy;
	const char *s;
	size_t len;
	int32_t i;

	*count = kenpo_get_int32(in);
	if (in->err || *count < 0 || *count > PROFILE_PAIRS_MAX)
		return KENPO_RES_BADREQ;
	for (i = 0; i < 2 * *count; i++) {
		kenpo_get_string_ref(in, &s, &len);
		if (in->err)
			return KENPO_RES_BADREQ;
		copy = malloc(len + 1);
		if (copy == NULL)
			return KENPO_RES_INTERNAL;
		memcpy(copy, s, len);
		copy[len] = '\0';
		if (i % 2 == 0)
			names[i / 2] = copy;
		else
			values[i / 2] = copy;
	}
	return kenpo_frame_close(in) == 0 ? KENPO_RES_OK : KENPO_RES_BADREQ;
}

/* Check what depends on the member as read: mail 2 and 3 only with a
 * mail 1; every household index must exist. */
static int
pset_check_member(struct pset *p, const struct member *m, const struct myldap_result *hh)
{
	const char *mail1 = p->value[PF_MAIL1] != NULL ? p->value[PF_MAIL1]
						       : member_get(m, MA_MAIL1);
	size_t i;

	if (mail1 == NULL || mail1[0] == '\0') {
		if (p->value[PF_MAIL2] != NULL && p->value[PF_MAIL2][0] != '\0')
			p->bad = "mail2";
		else if (p->value[PF_MAIL3] != NULL && p->value[PF_MAIL3][0] != '\0')
			p->bad = "mail3";
	}
	for (i = 0; i < p->nhh && p->bad == NULL; i++) {
		if (household_find(hh, p->hh_idx[i]) == NULL) {
			(void)snprintf(p->badname, sizeof p->badname, "household.%s.%s",
				       p->hh_idx[i], hfields[p->hh_field[i]].name);
			p->bad = p->badname;
		}
	}
	return p->bad == NULL ? 0 : -1;
}

/* ---- PROFILE_SET: applying ---- */

static int
pset_member_change(const struct pset *p, struct change *c)
{
	size_t i;
	const char *v;

	for (i = 0; i < NPFIELDS; i++) {
		if ((v = p->value[i]) == NULL)
			continue;
		if (pfields[i].type >= PT_BOOL_ON)
			v = bool_value(v);
		ch(c, MYLDAP_MOD_REPLACE, member_attr_name(pfields[i].attr), v[0] != '\0' ? v : NULL);
	}
	return c->err ? -1 : 0;
}

static int
pset_household_apply(struct request *rq, const struct pset *p, const struct myldap_result *hh)
{
	const struct myldap_entry *e;
	struct myldap_mod mod;
	const char *v;
	size_t i;
	int rc;

	for (i = 0; i < p->nhh; i++) {
		e = household_find(hh, p->hh_idx[i]);
		v = p->hh_value[i];
		if (hfields[p->hh_field[i]].type != PT_NICKNAME)
			v = bool_value(v);
		mod = (struct myldap_mod){ MYLDAP_MOD_REPLACE, hh_attrs[hfields[p->hh_field[i]].attr],
					   v };
		rc = myldap_modify(rq->ld, e->dn, &mod, 1);
		if (rc != MYLDAP_OK)
			return rc == MYLDAP_CHANGED ? KENPO_RES_NOTFOUND : ldap_result(rc);
	}
	return KENPO_RES_OK;
}

/* The member's entry, then the household's.  ID_TAKEN when the unique
 * overlay refused the login ID. */
static int
pset_apply(struct request *rq, const struct pset *p, const struct member *m,
	   const struct myldap_result *hh)
{
	struct change c;
	int rc, taken = 0;

	memset(&c, 0, sizeof c);
	if (pset_member_change(p, &c) != 0)
		return KENPO_RES_INTERNAL;
	if (c.n > 0) {
		rc = myldap_modify(rq->ld, m->e->dn, c.mods, c.n);
		if (rc == MYLDAP_CHANGED && p->value[PF_LOGIN] != NULL) {
			rc = login_taken(rq, p->value[PF_LOGIN], m->e->dn, &taken);
			return rc != KENPO_RES_OK ? rc : taken ? KENPO_RES_ID_TAKEN
							       : KENPO_RES_NOTFOUND;
		}
		if (rc != MYLDAP_OK)
			return rc == MYLDAP_CHANGED ? KENPO_RES_NOTFOUND : ldap_result(rc);
		forget(rq, m, p->value[PF_LOGIN]);
	}
	return pset_household_apply(rq, p, hh);
}

/* Mail 1 changed: the old address hears of it (a stolen session that
 * redirects the mails must not go unnoticed). */
static void
pset_notify(const struct pset *p, const struct member *m)
{
	const char *old = member_get(m, MA_MAIL1), *new = p->value[PF_MAIL1];
	struct kenpo_var var = { "NEWADDRESS", NULL };
	char masked[TOKEN_MAIL_MAX];

	if (new == NULL || old == NULL || strcasecmp(old, new) == 0 ||
	    kenpo_mail_mask(new, masked, sizeof masked) != 0)
		return;
	var.value = masked;
	if (mailer_send(m->soc, KENPO_MAIL_ADDRESS_CHANGED, &var, 1, old) != 0)
		log_msg(LOG_WARNING, "%.200s: the address change notice could not be sent",
			m->e->dn);
}

/* Everything after the request was read and checked for form. */
static int
profile_set(struct request *rq, const char *login, const char *ticket, struct pset *p,
	    struct kenpo_buf *out)
{
	struct member m = { NULL, NULL, NULL, 0 };
	struct myldap_result *hh = NULL;
	char next[KENPO_TOKEN_LEN + 1] = "";
	struct token t;
	int rc, has_ticket = 0, taken = 0;

	rc = profile_access(rq, login, ticket, &m, &t, &has_ticket);
	if (rc == KENPO_RES_OK)
		rc = household_read(rq, &m, &hh);
	if (rc == KENPO_RES_OK && pset_check_member(p, &m, hh) != 0)
		rc = badvalue(out, p->bad);
	if (rc == KENPO_RES_OK && p->value[PF_LOGIN] != NULL &&
	    (rc = login_taken(rq, p->value[PF_LOGIN], m.e->dn, &taken)) == KENPO_RES_OK && taken)
		rc = KENPO_RES_ID_TAKEN;
	if (rc == KENPO_RES_OK && has_ticket)
		rc = token_consume(rq, &t);
	if (rc == KENPO_RES_OK) {
		rc = pset_apply(rq, p, &m, hh);
		if (rc != KENPO_RES_OK && has_ticket && token_restore(rq, &t) != KENPO_RES_OK)
			log_msg(LOG_WARNING, "the ticket could not be put back");
	}
	if (rc == KENPO_RES_OK) {
		log_msg(LOG_INFO, "%.200s: profile changed", m.e->dn);
		pset_notify(p, &m);
		rc = ticket_answer(rq, &m, &t, has_ticket, next, sizeof next);
		if (rc == KENPO_RES_OK)
			kenpo_put_cstring(out, next);
	}
	kenpo_wipe(next, sizeof next);
	myldap_result_free(hh);
	member_release(&m);
	return rc;
}

int
selfsvc_profile_set(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char login[TEXT_MAX], ticket[TEXT_MAX];
	const char *names[PROFILE_PAIRS_MAX] = { NULL }, *values[PROFILE_PAIRS_MAX] = { NULL };
	struct pset *p = calloc(1, sizeof(*p));
	int32_t count = 0, i;
	int toolong = 0, rc;

	if (p == NULL)
		return KENPO_RES_INTERNAL;
	p->rq = rq;
	take(in, login, sizeof login, &toolong);
	take(in, ticket, sizeof ticket, &toolong);
	rc = pset_read(in, names, values, &count);
	log_setrequest("profile set");
	for (i = 0; i < count && rc == KENPO_RES_OK; i++)
		if (pset_add(p, names[i], values[i]) != 0)
			rc = badvalue(out, p->bad);
	if (rc == KENPO_RES_OK && p->mask != 0) {
		kenpo_put_int32(out, (int32_t)p->mask);
		rc = KENPO_RES_POLICY;
	}
	if (rc == KENPO_RES_OK)
		rc = toolong ? KENPO_RES_NOTFOUND : profile_set(rq, login, ticket, p, out);
	for (i = 0; i < PROFILE_PAIRS_MAX; i++) {
		free((char *)(uintptr_t)names[i]);
		free((char *)(uintptr_t)values[i]);
	}
	kenpo_wipe(ticket, sizeof ticket);
	free(p);
	return rc;
}
