/*
 * register.c - registration in kenpod: the registration guide mail
 * (利用登録手続きのご案内), letter registration (新規利用登録 + 利用者情報入力),
 * the identity check (本人確認), the completion (利用登録完了のご案内), and
 * the checks a registration page makes on the way (TOKEN_CHECK,
 * LOGIN_ID_CHECK).
 *
 * Steps: a guide link is exchanged, with the letter's login ID and
 * temporary password, or through the identity check and the identity link
 * (本人確認完了のご案内) with the on-screen 認証キー, for a registration
 * ticket; the ticket and the form 利用者情報入力 complete the registration.
 *
 * Single use.  Every mailed link and registration ticket is a token entry
 * (token.h) that is deleted when used, so two requests presenting one
 * token at once cannot both succeed, on several hosts too: every kenpod
 * deletes tokens on the one write provider (myldap.h).  A login ID is
 * held (token.h) while it is checked and written.  A form that fails on
 * something the member can correct after its ticket was used (a login ID
 * taken meanwhile) puts the ticket back as it was.  The guide's answer
 * does not tell whether an address is known, by its words or by its time:
 * mails go out after the answer (mailer_queue), and a request that mails
 * nothing makes and removes a link, as much directory work as the link it
 * would have mailed.  Guide requests are capped per society and hour
 * (guide_total_per_hour) as well as per address, so that requests for
 * ever new addresses cannot grow the directory without end.
 *
 * A society may register by letter, by identity check, or both
 * (registration = letter, identity): the guide link then opens a page that
 * offers both.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "flow.h"
#include "gen.h"
#include "gentime.h"
#include "home.h"
#include "kenpo-proto.h"
#include "localname.h"
#include "log.h"
#include "mail.h"
#include "mailer.h"
#include "member.h"
#include "policy.h"
#include "schema.h"
#include "secret.h"
#include "selfsvc.h"
#include "token.h"

#define FILTER_MAX 1024
#define IDFAIL_WINDOW 86400 /* identity failures per address: a day */

/* The society a request names; "" is the only one there is. */
static const struct kenpo_society *
society_pick(const struct kenpo_config *cfg, const char *id)
{
	if (id[0] == '\0')
		return cfg->nsocieties == 1 ? &cfg->societies[0] : NULL;
	return kenpo_config_society(cfg, id);
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

/* ---- GUIDE_REQUEST ---- */

/* In a society that registers by identity check, a guide goes only to an
 * address of its roster (kenpoRosterMail of a member not yet registered):
 * the check that follows needs the roster address anyway, and the service
 * then cannot be used to mail strangers.  A kenpo_result; *known set. */
static int
roster_has(struct request *rq, const struct kenpo_society *soc, const char *addr, int *known)
{
	char esc[3 * FLOW_ADDRESS_MAX + 1], filter[FILTER_MAX];
	struct member m = { NULL, NULL, NULL, 0 };
	int rc;

	if (myldap_escape(addr, strlen(addr), esc, sizeof esc) != 0)
		return KENPO_RES_INTERNAL;
	(void)snprintf(filter, sizeof filter,
		       "(&" KENPO_FILTER_MEMBER "(" KENPO_AT_STATE "=" KENPO_STATE_ISSUED
		       ")(" KENPO_AT_ROSTER_MAIL "=%s)" KENPO_FILTER_NOT_DISABLED ")",
		       esc);
	rc = member_find(rq, soc, filter, &m);
	*known = rc == KENPO_RES_OK;
	member_release(&m);
	return rc == KENPO_RES_NOTFOUND ? KENPO_RES_OK : rc;
}

/* Whether the society's and the address's caps let this guide through. */
static int
guide_allowed(struct request *rq, const struct kenpo_society *soc, const char *addr, int *allowed)
{
	int rc = rate_take(rq, soc, "guide-all", "", soc->guide_total_per_hour, 3600, allowed);

	if (rc == KENPO_RES_OK && *allowed)
		rc = rate_take(rq, soc, "guide", addr, soc->guide_per_hour, 3600, allowed);
	return rc;
}

static int
guide_send(struct request *rq, const struct kenpo_society *soc, const char *addr)
{
	struct token_spec spec = { KENPO_TOKEN_GUIDE, 0, addr, NULL, NULL, 0 };
	int rc, allowed = 0, known = 1;

	/* Only a society that registers by identity check alone needs the
	 * roster: with letters, any address may ask for the link. */
	if (soc->registration == KENPO_REGF_IDENTITY &&
	    (rc = roster_has(rq, soc, addr, &known)) != KENPO_RES_OK)
		return rc;
	rc = guide_allowed(rq, soc, addr, &allowed);
	if (rc != KENPO_RES_OK)
		return rc;
	spec.expiry = kenpo_gentime_now() + (int64_t)soc->guide_validity * 1000;
	if (!allowed) {
		log_msg(LOG_INFO, "no guide mailed (rate limit)");
		token_decoy(rq, soc, KENPO_TOKEN_GUIDE, 1);
		return KENPO_RES_OK;
	}
	if (!known) {
		log_msg(LOG_INFO, "no guide mailed (not in the roster)");
		token_mail_decoy(rq, soc, KENPO_TOKEN_GUIDE, 1, KENPO_MAIL_GUIDE, soc->guide_url,
				 soc->guide_validity, NULL, 0, addr);
		return KENPO_RES_OK;
	}
	rc = token_mail(rq, soc, &spec, KENPO_MAIL_GUIDE, soc->guide_url, soc->guide_validity,
			NULL, 0, addr);
	if (rc == KENPO_RES_OK)
		log_msg(LOG_INFO, "registration guide mailed");
	return rc;
}

int
selfsvc_guide_request(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char society[FLOW_TEXT_MAX], addr[FLOW_TEXT_MAX], esc[LOG_ESCAPE_MAX];
	const struct kenpo_society *soc;
	int toolong = 0, rc;

	flow_take(in, society, sizeof society, &toolong);
	flow_take(in, addr, sizeof addr, &toolong);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("guide request society=%.40s", log_escape(society, strlen(society), esc));
	soc = society_pick(rq->kd->cfg, society);
	if (soc == NULL)
		return flow_badvalue(out, "society");
	if (toolong || !flow_address_ok(addr))
		return flow_badvalue(out, "address");
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
	char text[FLOW_TEXT_MAX], masked[TOKEN_MAIL_MAX] = "";
	struct token t;
	int rc;

	if (flow_take_token(in, text, sizeof text, "token check") != KENPO_RES_OK)
		return KENPO_RES_BADREQ;
	rc = token_get(rq, text, 0, &t);
	kenpo_wipe(text, sizeof text);
	if (rc != KENPO_RES_OK)
		return rc;
	if (t.mail[0] != '\0' && kenpo_mail_mask(t.mail, masked, sizeof masked) != 0)
		masked[0] = '\0';
	kenpo_put_int32(out, t.kind);
	kenpo_put_int32(out, (int32_t)kenpo_ms_to_secs(t.expiry - kenpo_gentime_now()));
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

	if (rc == KENPO_RES_NOTFOUND ||
	    (rc == KENPO_RES_OK && !member_has(m, MA_STATE, KENPO_STATE_ISSUED)))
		rc = KENPO_RES_TOKEN_INVALID;
	return rc;
}

/* Exchange a used link for a registration ticket and write the REG record. */
static int
reg_ticket(struct request *rq, const struct member *m, const char *mail, struct kenpo_buf *out)
{
	const struct kenpo_society *soc = m->soc;
	struct token_spec spec = { KENPO_TOKEN_REGISTRATION, 0, mail, m->e->dn, NULL, 0 };
	char ticket[KENPO_TOKEN_LEN + 1];
	int rc;

	spec.expiry = kenpo_gentime_now() + (int64_t)soc->identity_validity * 1000;
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
letter_verify(struct request *rq, const struct token *t, const char *login, const char *pw,
	      struct member *m)
{
	const struct kenpo_society *soc = t->soc;
	struct kenpo_pwcost cost;
	const char *hash = NULL;
	int rc;

	flow_pwcost(rq, &cost);
	rc = member_load(rq, soc, login, strlen(login), m);
	if (rc != KENPO_RES_OK && rc != KENPO_RES_NOTFOUND)
		return rc;
	if (rc == KENPO_RES_OK && member_has(m, MA_STATE, KENPO_STATE_ISSUED) &&
	    !member_flag(m, MA_DISABLED, 0)) {
		hash = member_get(m, MA_TEMP_PASSWORD);
		/* An expiry that cannot be read (0) has passed. */
		if (member_get(m, MA_TEMP_EXPIRY) != NULL &&
		    kenpo_gentime_now() >= member_time(m, MA_TEMP_EXPIRY))
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

	if (m->e == NULL || !member_has(m, MA_STATE, KENPO_STATE_ISSUED))
		return;
	member_change_init(&c);
	member_set_count(&c, m, MA_TEMP_TRIES, member_count(m, MA_TEMP_TRIES) + 1);
	if (member_apply(rq, m, &c) == MYLDAP_ERROR)
		log_msg(LOG_WARNING, "%.200s: cannot count a wrong temporary password", m->e->dn);
}

int
selfsvc_reg_letter_open(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char text[FLOW_TEXT_MAX], login[FLOW_TEXT_MAX], pw[FLOW_SECRET_MAX];
	struct member m = { NULL, NULL, NULL, 0 };
	struct token t;
	unsigned left = 0;
	int toolong = 0, rc;

	flow_take(in, text, sizeof text, &toolong);
	flow_take(in, login, sizeof login, &toolong);
	flow_take(in, pw, sizeof pw, &toolong);
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
	char esc[3 * FLOW_ADDRESS_MAX + 1], filter[FILTER_MAX];

	if (myldap_escape(addr, strlen(addr), esc, sizeof esc) != 0)
		return KENPO_RES_INTERNAL;
	/* dob has been checked to be digits and dashes: no escaping needed. */
	(void)snprintf(filter, sizeof filter,
		       "(&" KENPO_FILTER_MEMBER "(" KENPO_AT_STATE "=" KENPO_STATE_ISSUED
		       ")(" KENPO_AT_ROSTER_MAIL "=%s)"
		       "(" KENPO_AT_BIRTH "=%s)" KENPO_FILTER_NOT_DISABLED ")",
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
	struct token_spec spec = {
		KENPO_TOKEN_IDENTITY, 0, member_get(m, MA_ROSTER_MAIL), m->e->dn, NULL, 0
	};
	char key[KENPO_AUTHKEY_LEN + 1];
	int rc;

	if (kenpo_gen_authkey(key, sizeof key) != 0)
		return KENPO_RES_INTERNAL;
	rc = token_consume(rq, t);
	if (rc != KENPO_RES_OK)
		goto done;
	(void)token_void_member(rq, soc, m->e->dn, KENPO_TOKEN_IDENTITY);
	spec.authkey = key;
	spec.expiry = kenpo_gentime_now() + (int64_t)soc->identity_validity * 1000;
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
	char text[FLOW_TEXT_MAX], addr[FLOW_TEXT_MAX], dob[FLOW_TEXT_MAX];
	struct member m = { NULL, NULL, NULL, 0 };
	struct token t;
	unsigned count = 0;
	int toolong = 0, rc;

	flow_take(in, text, sizeof text, &toolong);
	flow_take(in, addr, sizeof addr, &toolong);
	flow_take(in, dob, sizeof dob, &toolong);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("identity check");
	if (!flow_address_ok(addr))
		return flow_badvalue(out, "address");
	if (!date_ok(dob))
		return flow_badvalue(out, "date_of_birth");
	/* The address typed need not be the one the guide went to: the
	 * identity link goes to the roster's address, which proves it, and
	 * the on-screen key ties that mail to this screen. */
	rc = token_get(rq, text, KENPO_TOKEN_GUIDE, &t);
	kenpo_wipe(text, sizeof text);
	if (rc != KENPO_RES_OK)
		return rc;
	if (!(t.soc->registration & KENPO_REGF_IDENTITY))
		return flow_badvalue(out, "registration");
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
	char text[FLOW_TEXT_MAX], key[FLOW_SECRET_MAX];
	struct member m = { NULL, NULL, NULL, 0 };
	struct token t;
	unsigned left = 0;
	size_t i;
	int toolong = 0, rc;

	flow_take(in, text, sizeof text, &toolong);
	flow_take(in, key, sizeof key, &toolong);
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
	struct request *rq;
	char ticket[FLOW_TEXT_MAX];
	char login[FLOW_TEXT_MAX];
	char pw[FLOW_SECRET_MAX];
	char mail[FLOW_TEXT_MAX];
	char nickname[FLOW_TEXT_MAX];
	char hash[KENPO_PWHASH_MAX];
	char home[MEMBER_VALUE_MAX];
	unsigned long uidnumber; /* taken for a member without posixAccount */
	unsigned builds;         /* how often the change was made */
};

/* Check the whole form.  OK, or the refusal with its field written. */
static int
reg_form_check(struct request *rq, struct reg_form *f, int toolong, struct kenpo_buf *out)
{
	unsigned mask;

	if (toolong)
		return flow_badvalue(out, "form");
	mask = flow_login_id_rules(rq, f->login) |
	       kenpo_policy_check_password(f->pw, strlen(f->pw));
	if (mask != 0) {
		kenpo_put_int32(out, (int32_t)mask);
		return KENPO_RES_POLICY;
	}
	if (!flow_address_ok(f->mail))
		return flow_badvalue(out, "mail");
	if (f->nickname[0] == '\0')
		memcpy(f->nickname, FLOW_DEFAULT_NICKNAME, sizeof FLOW_DEFAULT_NICKNAME);
	if (!flow_nickname_ok(f->nickname))
		return flow_badvalue(out, "nickname");
	return KENPO_RES_OK;
}

/* A member issued for letter registration is a Unix account already; one
 * imported from the roster for the identity check becomes one now. */
static int
is_posix(const struct member *m)
{
	return member_has(m, MA_OBJECTCLASS, KENPO_OC_POSIX) && member_get(m, MA_UID) != NULL;
}

/* The posixAccount of a member imported from the roster. */
static int
reg_posix_change(const struct member *m, struct reg_form *f, struct member_change *c)
{
	char uid[24], gid[24];

	if (f->uidnumber == 0)
		return KENPO_RES_INTERNAL;
	(void)snprintf(uid, sizeof uid, "%lu", f->uidnumber);
	(void)snprintf(gid, sizeof gid, "%lu", m->soc->gid);
	member_add(c, MA_OBJECTCLASS, KENPO_OC_POSIX);
	member_replace(c, MA_UID, f->login);
	member_replace(c, MA_UIDNUMBER, uid);
	member_replace(c, MA_GIDNUMBER, gid);
	member_replace(c, MA_HOME, f->home);
	member_replace(c, MA_SHELL, m->soc->shell);
	return KENPO_RES_OK;
}

/* The change that registers the member as read (member_build_fn).  Made
 * again after a modify was refused: by the unique overlay when the login
 * ID was taken meanwhile (ID_TAKEN), or because the entry changed. */
static int
reg_build(const struct member *m, struct member_change *c, void *ctx)
{
	struct reg_form *f = ctx;
	int rc, taken = 0;

	if (!member_has(m, MA_STATE, KENPO_STATE_ISSUED))
		return KENPO_RES_TOKEN_INVALID;
	if (f->builds++ > 0) {
		rc = member_login_taken(f->rq, f->login, m->e->dn, &taken);
		if (rc != KENPO_RES_OK || taken)
			return rc != KENPO_RES_OK ? rc : KENPO_RES_ID_TAKEN;
	}
	if (kenpo_home_expand(m->soc->home_template, f->login, member_get(m, MA_NUMBER), f->home,
			      sizeof f->home) != 0)
		return KENPO_RES_INTERNAL;
	member_set(c, m, MA_STATE, KENPO_STATE_REGISTERED);
	if (is_posix(m)) {
		member_set(c, m, MA_UID, f->login);
		member_replace(c, MA_HOME, f->home);
	} else if ((rc = reg_posix_change(m, f, c)) != KENPO_RES_OK) {
		return rc;
	}
	member_replace(c, MA_PASSWORD, f->hash);
	member_replace(c, MA_MAIL1, f->mail);
	member_replace(c, MA_NICKNAME, f->nickname);
	member_set(c, m, MA_TEMP_PASSWORD, NULL);
	member_set(c, m, MA_TEMP_EXPIRY, NULL);
	member_set(c, m, MA_TEMP_TRIES, NULL);
	member_set(c, m, MA_MUST_CHANGE, NULL);
	return KENPO_RES_OK;
}

/* Register the member of the ticket (consumed by now).  OK; ID_TAKEN (the
 * ticket is put back); TOKEN_INVALID (registered or gone meanwhile);
 * UNAVAIL; INTERNAL. */
static int
reg_apply(struct request *rq, const struct token *t, struct reg_form *f)
{
	struct member m = { NULL, NULL, NULL, 0 };
	int rc;

	rc = load_issued(rq, t->member, &m);
	/* Taken once, before the change is made (and perhaps made again). */
	if (rc == KENPO_RES_OK && !is_posix(&m))
		rc = member_uid_take(rq, m.soc, &f->uidnumber);
	if (rc == KENPO_RES_OK)
		rc = member_update(rq, &m, reg_build, f);
	if (rc == KENPO_RES_NOTFOUND)
		rc = KENPO_RES_TOKEN_INVALID;
	if (rc == KENPO_RES_OK)
		log_msg(LOG_INFO, "%.200s: registered", m.e->dn);
	member_release(&m);
	return rc;
}

static void
reg_mail(const struct token *t, const struct reg_form *f)
{
	const struct kenpo_society *soc = t->soc;
	struct kenpo_var vars[2] = { { "LOGINURL", soc->login_url }, { "LOGINID", f->login } };

	if (mailer_queue(soc, KENPO_MAIL_COMPLETE, vars, 2, f->mail) != 0)
		log_msg(LOG_WARNING, "registration complete, but its mail could not be queued");
}

/* The audit line of a registration: who, how, with which address. */
static void
reg_audit(const struct request *rq, const struct token *t, const struct reg_form *f)
{
	char uid[24];
	struct log_kv kv[5] = {
		{ "member", t->member },     { "login", f->login }, { "mail", f->mail },
		{ "nickname", f->nickname }, { "caller_uid", uid },
	};

	(void)snprintf(uid, sizeof uid, "%lu", (unsigned long)rq->peer_uid);
	log_audit("register.complete", kv, 5);
}

/* The registration once the login ID is held (token.h): nobody else can
 * give it to a member until this request lets go. */
static int
reg_held(struct request *rq, struct reg_form *f, const struct token *t, struct kenpo_buf *out)
{
	struct kenpo_pwcost cost;
	int rc, taken = 0;

	rc = member_login_taken(rq, f->login, t->member, &taken);
	if (rc != KENPO_RES_OK || taken)
		return rc != KENPO_RES_OK ? rc : KENPO_RES_ID_TAKEN;
	flow_pwcost(rq, &cost);
	if (kenpo_pw_hash(f->pw, strlen(f->pw), &cost, f->hash, sizeof f->hash) != 0)
		return KENPO_RES_INTERNAL;
	rc = token_consume(rq, t);
	if (rc != KENPO_RES_OK)
		return rc;
	rc = reg_apply(rq, t, f);
	if (rc == KENPO_RES_ID_TAKEN || rc == KENPO_RES_UNAVAIL || rc == KENPO_RES_INTERNAL) {
		if (token_restore(rq, t) != KENPO_RES_OK)
			log_msg(LOG_WARNING, "the registration ticket could not be put back");
	}
	if (rc != KENPO_RES_OK)
		return rc;
	reg_audit(rq, t, f);
	reg_mail(t, f);
	kenpo_put_cstring(out, f->login);
	return KENPO_RES_OK;
}

static int
reg_complete(struct request *rq, struct reg_form *f, int toolong, struct kenpo_buf *out)
{
	struct login_hold hold;
	struct token t;
	int rc;

	rc = reg_form_check(rq, f, toolong, out);
	if (rc != KENPO_RES_OK)
		return rc;
	rc = token_get(rq, f->ticket, KENPO_TOKEN_REGISTRATION, &t);
	if (rc != KENPO_RES_OK)
		return rc;
	rc = token_hold_login(rq, f->login, &hold);
	if (rc == KENPO_RES_OK)
		rc = reg_held(rq, f, &t, out);
	token_release_login(rq, &hold);
	return rc;
}

int
selfsvc_reg_complete(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	struct reg_form *f = calloc(1, sizeof(*f));
	int toolong = 0, rc;

	if (f == NULL)
		return KENPO_RES_INTERNAL;
	f->rq = rq;
	flow_take(in, f->ticket, sizeof f->ticket, &toolong);
	flow_take(in, f->login, sizeof f->login, &toolong);
	flow_take(in, f->pw, sizeof f->pw, &toolong);
	flow_take(in, f->mail, sizeof f->mail, &toolong);
	flow_take(in, f->nickname, sizeof f->nickname, &toolong);
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

/* ---- LOGIN_ID_CHECK ---- */

int
selfsvc_login_id_check(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char login[FLOW_TEXT_MAX];
	int toolong = 0, rc, taken = 0;

	flow_take(in, login, sizeof login, &toolong);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("login ID check");
	if (toolong || !member_login_plausible(login, strlen(login)))
		return flow_badvalue(out, "login_id");
	if (kenpo_localname_check(login, strlen(login), rq->kd->cfg->reserved_login_ids) != 0) {
		kenpo_put_int32(out, (int32_t)KENPO_RULE_ID_RESERVED);
		return KENPO_RES_POLICY;
	}
	rc = member_login_taken(rq, login, NULL, &taken);
	if (rc != KENPO_RES_OK)
		return rc;
	kenpo_put_int32(out, taken);
	return KENPO_RES_OK;
}
