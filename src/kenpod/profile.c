/*
 * profile.c - the profile in kenpod (プロフィール設定): PROFILE_GET and
 * PROFILE_SET of a member's own fields (login ID, nickname, mail addresses
 * 1 to 3, the key setting, the notification mails) and of the household's
 * (nickname and disclosure per household member).
 *
 * Who may: root presenting no ticket, or a caller presenting the ticket of
 * that member's profile session (token.h), as often as the session lasts.
 *
 * Credentials.  Whoever holds a session a moment (a shared computer, a
 * stolen cookie) must not be able to take the account over quietly by
 * adding an address and resetting the password to it.  So a change of an
 * address or of the key's address (key_mail) needs the current password
 * again, checked and counted as a login checks it (auth_check_password),
 * and every change of an address, the login ID or key_mail is told to
 * every address the member had before it, while a new address gets a
 * confirmation.  The mails go out after the answer (mailer_queue).  Each
 * field changed is written to the audit log.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "flow.h"
#include "gentime.h"
#include "kenpo-proto.h"
#include "log.h"
#include "mail.h"
#include "mailer.h"
#include "member.h"
#include "schema.h"
#include "selfsvc.h"
#include "token.h"

#define PROFILE_PAIRS_MAX KENPO_PROFILE_PAIRS_MAX

enum ptype { PT_LOGIN, PT_NICKNAME, PT_MAIL, PT_KEYMAIL, PT_BOOL_ON, PT_BOOL_OFF };

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
	{ "key_mail", MA_KEY_MAIL, PT_KEYMAIL },
	{ "notify_medical", MA_NOTIFY_MEDICAL, PT_BOOL_ON },
	{ "notify_generic", MA_NOTIFY_GENERIC, PT_BOOL_ON },
	{ "notify_magazine", MA_NOTIFY_MAGAZINE, PT_BOOL_ON },
	{ "notify_documents", MA_NOTIFY_DOCUMENTS, PT_BOOL_ON },
	{ "notify_applications", MA_NOTIFY_APPLICATIONS, PT_BOOL_ON },
	{ "disclose_medical", MA_DISCLOSE_MEDICAL, PT_BOOL_OFF },
	{ "disclose_generic", MA_DISCLOSE_GENERIC, PT_BOOL_OFF },
};
#define NPFIELDS (sizeof pfields / sizeof pfields[0])
enum { PF_LOGIN = 0, PF_MAIL1 = 2, PF_MAIL2 = 3, PF_MAIL3 = 4, PF_KEYMAIL = 5 }; /* rows */
#define PASSWORD_PAIR "current_password"

/* Household members: the same three settings on each child entry. */
static const struct {
	const char *name;
	enum household_attr attr;
	enum ptype type;
} hfields[] = {
	{ "nickname", HA_NICKNAME, PT_NICKNAME },
	{ "disclose_medical", HA_DISCLOSE_MEDICAL, PT_BOOL_OFF },
	{ "disclose_generic", HA_DISCLOSE_GENERIC, PT_BOOL_OFF },
};
#define NHFIELDS (sizeof hfields / sizeof hfields[0])

static const char *
yesno(const char *v, enum ptype type)
{
	if (v == NULL)
		return type == PT_BOOL_ON ? "yes" : "no";
	return strcmp(v, KENPO_TRUE) == 0 ? "yes" : "no";
}

/* "yes"/"no" as TRUE/FALSE; NULL for anything else. */
static const char *
bool_value(const char *v)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
		return KENPO_TRUE;
	if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
		return KENPO_FALSE;
	return NULL;
}

/* ---- PROFILE_GET ---- */

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
	char g[KENPO_GENTIME_MAX];

	out[0] = '\0';
	if (v == NULL || kenpo_gentime_parse(v, &t) != 0 ||
	    kenpo_gentime_format(t, 0, g, sizeof g) != 0)
		return;
	(void)snprintf(out, outsz, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", g, g + 4, g + 6, g + 8,
		       g + 10, g + 12);
}

static size_t
put_household(struct kenpo_buf *out, const struct myldap_result *hh)
{
	char name[64], dflt[64], key[4];
	const struct myldap_entry *e;
	size_t i, j, n = 0;
	const char *v;

	for (i = 1; i <= MEMBER_HOUSEHOLD_MAX; i++) {
		(void)snprintf(key, sizeof key, "%02zu", i);
		if ((e = member_household_find(hh, key)) == NULL)
			continue;
		for (j = 0; j < NHFIELDS; j++) {
			v = myldap_value(e, hfields[j].attr);
			(void)snprintf(name, sizeof name, "household.%s.%s", key,
				       hfields[j].name);
			(void)snprintf(dflt, sizeof dflt, "ご家族%s", key);
			put_pair(out, name,
				 hfields[j].type == PT_NICKNAME ? (v != NULL ? v : dflt) :
								  yesno(v, hfields[j].type));
			n++;
		}
	}
	return n;
}

/* The value a profile shows for a field of the member. */
static const char *
shown_value(const struct member *m, size_t i)
{
	const char *v = member_get(m, pfields[i].attr);

	if (pfields[i].type >= PT_BOOL_ON)
		return yesno(v, pfields[i].type);
	if (pfields[i].type == PT_KEYMAIL &&
	    (v == NULL || strlen(v) != 1 || v[0] < '1' || v[0] > '3'))
		return "1";
	return v;
}

static void
put_profile(struct kenpo_buf *out, const struct member *m, const struct myldap_result *hh)
{
	size_t countpos = out->len, n = 0, i;
	char iso[32];
	uint32_t word;

	kenpo_put_int32(out, 0);
	for (i = 0; i < NPFIELDS; i++, n++)
		put_pair(out, pfields[i].name, shown_value(m, i));
	n += put_household(out, hh);
	iso_time(member_get(m, MA_LAST_LOGIN), iso, sizeof iso);
	put_pair(out, "last_login", iso);
	put_pair(out, "state", member_get(m, MA_STATE));
	n += 2;
	word = htonl((uint32_t)n);
	if (!out->err)
		memcpy(out->data + countpos, &word, sizeof word);
}

/* The ticket of the profile session of `login`: valid, of that member.
 * Loads the member into *m.  A kenpo_result. */
static int
ticket_of(struct request *rq, const char *login, const char *ticket, struct member *m,
	  struct token *t)
{
	int rc = token_get(rq, ticket, KENPO_TOKEN_TICKET, t);

	if (rc == KENPO_RES_OK)
		rc = member_load_dn(rq, t->member, m);
	if (rc == KENPO_RES_NOTFOUND ||
	    (rc == KENPO_RES_OK &&
	     (member_get(m, MA_UID) == NULL || strcasecmp(member_get(m, MA_UID), login) != 0))) {
		log_msg(LOG_NOTICE, "a ticket presented for another member");
		rc = KENPO_RES_TOKEN_INVALID;
	}
	return rc;
}

/*
 * Who may see or change the profile of `login`: root presenting no
 * ticket, or a caller presenting the ticket of that member's session,
 * whose idle time then starts again.  Loads the member into *m and the
 * ticket into *t (*has_ticket).  A kenpo_result.
 */
static int
profile_access(struct request *rq, const char *login, const char *ticket, struct member *m,
	       struct token *t, int *has_ticket)
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
	rc = ticket_of(rq, login, ticket, m, t);
	if (rc == KENPO_RES_OK)
		rc = token_ticket_touch(rq, t);
	return rc;
}

/* The ticket to answer with: the one presented; for root, who presented
 * none, a new session. */
static int
ticket_answer(struct request *rq, const struct member *m, const char *ticket, int has_ticket,
	      char *next, size_t nextsz)
{
	size_t len = strlen(ticket);

	if (has_ticket) {
		if (len >= nextsz)
			return KENPO_RES_INTERNAL;
		memcpy(next, ticket, len + 1);
		return KENPO_RES_OK;
	}
	return token_ticket_issue(rq, m->e->dn, next, nextsz);
}

int
selfsvc_profile_get(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char login[FLOW_TEXT_MAX], ticket[FLOW_TEXT_MAX], next[KENPO_TOKEN_LEN + 1] = "";
	struct member m = { NULL, NULL, NULL, 0 };
	struct myldap_result *hh = NULL;
	struct token t;
	int toolong = 0, has_ticket = 0, rc;

	flow_take(in, login, sizeof login, &toolong);
	flow_take(in, ticket, sizeof ticket, &toolong);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("profile get");
	rc = toolong ? KENPO_RES_NOTFOUND :
		       profile_access(rq, login, ticket, &m, &t, &has_ticket);
	if (rc == KENPO_RES_OK)
		rc = member_household_read(rq, &m, &hh);
	if (rc == KENPO_RES_OK)
		rc = ticket_answer(rq, &m, ticket, has_ticket, next, sizeof next);
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

/* What a change does to the credentials (pset.changes). */
#define CH_MAIL(i) (1u << (i)) /* address i (0..2) */
#define CH_LOGIN 0x8u
#define CH_KEYMAIL 0x10u      /* key_mail chosen anew */
#define CH_KEYMAIL_BACK 0x20u /* key_mail moved back to 1 */
#define CH_STEP_UP (CH_MAIL(0) | CH_MAIL(1) | CH_MAIL(2) | CH_KEYMAIL)

struct pset {
	struct request *rq;
	const char *value[NPFIELDS]; /* NULL: unchanged; "" removes */
	char hh_idx[PROFILE_PAIRS_MAX][3];
	const char *hh_value[PROFILE_PAIRS_MAX];
	size_t hh_field[PROFILE_PAIRS_MAX];
	size_t nhh;
	const char *password; /* current_password, or NULL */
	unsigned mask;        /* login ID rules broken */
	const char *bad;      /* the field refused */
	char badname[FLOW_TEXT_MAX];
	unsigned builds;  /* how often the change was made */
	unsigned changes; /* CH_* of the change made */
	int key_back;     /* the change moves key_mail back to 1 */
};

/* Check one value of a type; 0 or -1. */
static int
value_ok(enum ptype type, const char *v, int required)
{
	switch (type) {
	case PT_LOGIN:
		return 0; /* the rules are checked on their own */
	case PT_NICKNAME:
		return flow_nickname_ok(v) ? 0 : -1;
	case PT_MAIL:
		return (v[0] == '\0' && !required) || flow_address_ok(v) ? 0 : -1;
	case PT_KEYMAIL:
		return strlen(v) == 1 && v[0] >= '1' && v[0] <= '3' ? 0 : -1;
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
	if (strcmp(name, PASSWORD_PAIR) == 0) {
		if (p->password != NULL)
			return -1;
		p->password = v;
		p->bad = NULL;
		return 0;
	}
	for (i = 0; i < NPFIELDS; i++) {
		if (strcmp(name, pfields[i].name) != 0)
			continue;
		if (p->value[i] != NULL || value_ok(pfields[i].type, v, i == PF_MAIL1) != 0)
			return -1;
		if (pfields[i].type == PT_LOGIN)
			p->mask |= flow_login_id_rules(p->rq, v);
		p->value[i] = v;
		p->bad = NULL;
		return 0;
	}
	if (p->nhh == PROFILE_PAIRS_MAX ||
	    parse_household(name, p->hh_idx[p->nhh], &p->hh_field[p->nhh]) != 0 ||
	    value_ok(hfields[p->hh_field[p->nhh]].type, v, 1) != 0)
		return -1;
	for (i = 0; i < p->nhh; i++)
		if (strcmp(p->hh_idx[i], p->hh_idx[p->nhh]) == 0 &&
		    p->hh_field[i] == p->hh_field[p->nhh])
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

/* Address i (0..2) of the member as it is, "" when none. */
static const char *
mail_now(const struct member *m, size_t i)
{
	const char *v = member_get(m, pfields[PF_MAIL1 + i].attr);

	return v != NULL ? v : "";
}

/* Address i (0..2) as the change leaves it. */
static const char *
mail_after(const struct pset *p, const struct member *m, size_t i)
{
	return p->value[PF_MAIL1 + i] != NULL ? p->value[PF_MAIL1 + i] : mail_now(m, i);
}

/* key_mail (1..3) as it is. */
static int
keymail_now(const struct member *m)
{
	return shown_value(m, PF_KEYMAIL)[0] - '0';
}

/* What the change does to the member as read: CH_* bits, and whether
 * key_mail must move back to 1 because its address goes. */
static unsigned
pset_changes(struct pset *p, const struct member *m)
{
	const char *login = member_get(m, MA_UID);
	unsigned ch = 0;
	size_t i;
	int km = keymail_now(m);

	for (i = 0; i < 3; i++)
		if (strcasecmp(mail_now(m, i), mail_after(p, m, i)) != 0)
			ch |= CH_MAIL(i);
	if (p->value[PF_LOGIN] != NULL &&
	    (login == NULL || strcmp(login, p->value[PF_LOGIN]) != 0))
		ch |= CH_LOGIN;
	if (p->value[PF_KEYMAIL] != NULL && p->value[PF_KEYMAIL][0] - '0' != km)
		ch |= CH_KEYMAIL;
	p->key_back = p->value[PF_KEYMAIL] == NULL && km != 1 &&
		      mail_after(p, m, km - 1)[0] == '\0';
	if (p->key_back)
		ch |= CH_KEYMAIL_BACK;
	return ch;
}

/* Mail 2 and 3 only with a mail 1, and key_mail only naming an address,
 * as the member will be.  0, or -1 with p->bad set. */
static int
pset_check_mails(struct pset *p, const struct member *m)
{
	const char *km = p->value[PF_KEYMAIL];

	if (mail_after(p, m, 0)[0] == '\0') {
		if (mail_after(p, m, 1)[0] != '\0' && p->value[PF_MAIL2] != NULL)
			p->bad = "mail2";
		else if (mail_after(p, m, 2)[0] != '\0' && p->value[PF_MAIL3] != NULL)
			p->bad = "mail3";
	}
	if (p->bad == NULL && km != NULL && mail_after(p, m, (size_t)(km[0] - '1'))[0] == '\0')
		p->bad = "key_mail";
	return p->bad == NULL ? 0 : -1;
}

/* Every household index must exist.  0, or -1 with p->bad set. */
static int
pset_check_household(struct pset *p, const struct myldap_result *hh)
{
	size_t i;

	for (i = 0; i < p->nhh && p->bad == NULL; i++) {
		if (member_household_find(hh, p->hh_idx[i]) == NULL) {
			(void)snprintf(p->badname, sizeof p->badname, "household.%s.%s",
				       p->hh_idx[i], hfields[p->hh_field[i]].name);
			p->bad = p->badname;
		}
	}
	return p->bad == NULL ? 0 : -1;
}

/* A change of addresses or of key_mail through a session needs the
 * current password, checked as a login checks it.  OK, or the refusal
 * with its fields written. */
static int
pset_step_up(struct request *rq, struct pset *p, struct member *m, int has_ticket,
	     struct kenpo_buf *out)
{
	if (!has_ticket || (pset_changes(p, m) & CH_STEP_UP) == 0)
		return KENPO_RES_OK;
	if (p->password == NULL)
		return flow_badvalue(out, PASSWORD_PAIR);
	return auth_check_password(rq, m, p->password, strlen(p->password), "", out);
}

/* ---- PROFILE_SET: applying ---- */

/* The change of the member's own fields (member_build_fn).  Made again
 * after a modify was refused: by the unique overlay when the new login ID
 * was taken meanwhile (ID_TAKEN), or because the entry changed, which may
 * have removed mail 1 (BADVALUE). */
static int
pset_build(const struct member *m, struct member_change *c, void *ctx)
{
	struct pset *p = ctx;
	const char *v;
	size_t i;
	int rc, taken = 0;

	/* The audit lines and the notices name the values before the change. */
	c->as_read = 1;
	if (p->builds++ > 0 && p->value[PF_LOGIN] != NULL) {
		rc = member_login_taken(p->rq, p->value[PF_LOGIN], m->e->dn, &taken);
		if (rc != KENPO_RES_OK || taken)
			return rc != KENPO_RES_OK ? rc : KENPO_RES_ID_TAKEN;
	}
	if (pset_check_mails(p, m) != 0)
		return KENPO_RES_BADVALUE;
	p->changes = pset_changes(p, m);
	for (i = 0; i < NPFIELDS; i++) {
		if ((v = p->value[i]) == NULL)
			continue;
		if (pfields[i].type >= PT_BOOL_ON)
			v = bool_value(v);
		member_set(c, m, pfields[i].attr, v[0] != '\0' ? v : NULL);
	}
	/* The address that received the key is gone: address 1 does now. */
	if (p->key_back)
		member_set(c, m, MA_KEY_MAIL, "1");
	return KENPO_RES_OK;
}

static int
pset_household_apply(struct request *rq, const struct pset *p, const struct myldap_result *hh)
{
	const char *v;
	size_t i;
	int rc;

	for (i = 0; i < p->nhh; i++) {
		v = p->hh_value[i];
		if (hfields[p->hh_field[i]].type != PT_NICKNAME)
			v = bool_value(v);
		rc = member_household_set(rq, member_household_find(hh, p->hh_idx[i]),
					  hfields[p->hh_field[i]].attr, v);
		if (rc != KENPO_RES_OK)
			return rc;
	}
	return KENPO_RES_OK;
}

/* ---- PROFILE_SET: notices ---- */

#define NOTICE_MAX 2048

/* The lines of the notices, in the society's language; each "{}" takes
 * the next value. */
static const struct {
	const char *added, *removed, *changed, *login, *keymail, *keyback;
} words[] = {
	[KENPO_LANG_JA] = {
		"・メールアドレス{} を登録しました（{}）\n",
		"・メールアドレス{} を削除しました\n",
		"・メールアドレス{} を変更しました（変更後：{}）\n",
		"・ログインIDを変更しました（変更後：{}）\n",
		"・認証キーの送信先をメールアドレス{} に変更しました\n",
		"・認証キーの送信先のメールアドレスが削除されたため、"
		"送信先をメールアドレス1 に戻しました\n",
	},
	[KENPO_LANG_EN] = {
		"- Mail address {} was added ({})\n",
		"- Mail address {} was removed\n",
		"- Mail address {} was changed (now {})\n",
		"- The login ID was changed (now {})\n",
		"- The key now goes to mail address {}\n",
		"- The address that received the key was removed: "
		"the key goes to mail address 1 again\n",
	},
};

/* Append line to the notice text at *o, "{}" replaced by a, then b. */
static void
notice_line(char *text, size_t *o, const char *line, const char *a, const char *b)
{
	const char *v[2] = { a, b }, *mark;
	size_t n, k = 0;

	while (*line != '\0') {
		mark = strstr(line, "{}");
		n = mark != NULL ? (size_t)(mark - line) : strlen(line);
		if (*o + n >= NOTICE_MAX)
			return;
		memcpy(text + *o, line, n);
		*o += n;
		line += n;
		if (mark == NULL)
			break;
		n = k < 2 && v[k] != NULL ? strlen(v[k]) : 0;
		if (*o + n >= NOTICE_MAX)
			return;
		memcpy(text + *o, n > 0 ? v[k] : "", n);
		*o += n;
		k++;
		line += 2;
	}
	text[*o] = '\0';
}

/* The lines of the notice of change p->changes to m as it was. */
static void
notice_text(const struct pset *p, const struct member *m, char *text)
{
	const enum kenpo_lang lang = m->soc->lang == KENPO_LANG_EN ? KENPO_LANG_EN :
								     KENPO_LANG_JA;
	char masked[TOKEN_MAIL_MAX], num[4];
	const char *new, *line;
	size_t i, o = 0;

	text[0] = '\0';
	for (i = 0; i < 3; i++) {
		if (!(p->changes & CH_MAIL(i)))
			continue;
		new = mail_after(p, m, i);
		if (new[0] != '\0' && kenpo_mail_mask(new, masked, sizeof masked) != 0)
			(void)snprintf(masked, sizeof masked, "****");
		line = new[0] == '\0'            ? words[lang].removed :
		       mail_now(m, i)[0] == '\0' ? words[lang].added :
						   words[lang].changed;
		(void)snprintf(num, sizeof num, "%zu", i + 1);
		notice_line(text, &o, line, num, masked);
	}
	if (p->changes & CH_LOGIN)
		notice_line(text, &o, words[lang].login, p->value[PF_LOGIN], NULL);
	if (p->changes & CH_KEYMAIL)
		notice_line(text, &o, words[lang].keymail, p->value[PF_KEYMAIL], NULL);
	if (p->changes & CH_KEYMAIL_BACK)
		notice_line(text, &o, words[lang].keyback, NULL, NULL);
	if (o > 0 && text[o - 1] == '\n')
		text[o - 1] = '\0';
}

/* Whether addr is one of the first n addresses of m as it was. */
static int
had_address(const struct member *m, size_t n, const char *addr)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(mail_now(m, i), addr) == 0)
			return 1;
	return 0;
}

/* The change is told to every address the member had (each once), and
 * each new address is told that it was registered. */
static void
pset_notify(const struct pset *p, const struct member *m)
{
	struct kenpo_var changes = { "CHANGES", NULL }, slot = { "SLOT", NULL };
	const char *addr;
	char text[NOTICE_MAX], num[4];
	size_t i;

	if ((p->changes & (CH_MAIL(0) | CH_MAIL(1) | CH_MAIL(2) | CH_LOGIN | CH_KEYMAIL |
			   CH_KEYMAIL_BACK)) == 0)
		return;
	notice_text(p, m, text);
	changes.value = text;
	for (i = 0; i < 3; i++) {
		addr = mail_now(m, i);
		if (addr[0] != '\0' && !had_address(m, i, addr) &&
		    mailer_queue(m->soc, KENPO_MAIL_PROFILE_CHANGED, &changes, 1, addr) != 0)
			log_msg(LOG_WARNING, "%.200s: a change notice could not be queued",
				m->e->dn);
	}
	for (i = 0; i < 3; i++) {
		addr = mail_after(p, m, i);
		if (!(p->changes & CH_MAIL(i)) || addr[0] == '\0' || had_address(m, 3, addr))
			continue;
		(void)snprintf(num, sizeof num, "%zu", i + 1);
		slot.value = num;
		if (mailer_queue(m->soc, KENPO_MAIL_ADDRESS_ADDED, &slot, 1, addr) != 0)
			log_msg(LOG_WARNING, "%.200s: a confirmation could not be queued",
				m->e->dn);
	}
}

/* One audit line per field changed, with its old and new value. */
static void
pset_audit(const struct request *rq, const struct pset *p, const struct member *m, int has_ticket)
{
	char uid[24], pid[24], name[64];
	struct log_kv kv[8] = {
		{ "member", m->e->dn },
		{ "login", member_get(m, MA_UID) },
		{ "caller_uid", uid },
		{ "caller_pid", pid },
		{ "source", has_ticket ? "ticket" : "root" },
		{ "field", NULL },
		{ "old", NULL },
		{ "new", NULL },
	};
	size_t i;

	(void)snprintf(uid, sizeof uid, "%lu", (unsigned long)rq->peer_uid);
	(void)snprintf(pid, sizeof pid, "%ld", (long)rq->peer_pid);
	for (i = 0; i < NPFIELDS; i++) {
		if (p->value[i] == NULL && !(i == PF_KEYMAIL && p->key_back))
			continue;
		kv[5].value = pfields[i].name;
		kv[6].value = shown_value(m, i);
		kv[7].value = p->value[i] != NULL ? p->value[i] : "1";
		if (pfields[i].type >= PT_BOOL_ON)
			kv[7].value = strcmp(bool_value(p->value[i]), KENPO_TRUE) == 0 ? "yes" :
											 "no";
		if (strcmp(kv[6].value != NULL ? kv[6].value : "", kv[7].value) != 0)
			log_audit("profile.change", kv, 8);
	}
	for (i = 0; i < p->nhh; i++) {
		(void)snprintf(name, sizeof name, "household.%s.%s", p->hh_idx[i],
			       hfields[p->hh_field[i]].name);
		kv[5].value = name;
		kv[6].value = NULL;
		kv[7].value = p->hh_value[i];
		log_audit("profile.change", kv, 8);
	}
}

/* The member's entry, then the household's. */
static int
pset_apply(struct request *rq, struct pset *p, struct member *m, const struct myldap_result *hh)
{
	int rc = member_update(rq, m, pset_build, p);

	if (rc == KENPO_RES_OK)
		rc = pset_household_apply(rq, p, hh);
	return rc;
}

/* Everything after the request was read and checked for form. */
static int
profile_set(struct request *rq, const char *login, const char *ticket, struct pset *p,
	    struct kenpo_buf *out)
{
	struct member m = { NULL, NULL, NULL, 0 };
	struct myldap_result *hh = NULL;
	char next[KENPO_TOKEN_LEN + 1] = "";
	struct login_hold hold = { "", 0 };
	struct token t;
	int rc, has_ticket = 0, taken = 0;

	rc = profile_access(rq, login, ticket, &m, &t, &has_ticket);
	if (rc == KENPO_RES_OK)
		rc = member_household_read(rq, &m, &hh);
	if (rc == KENPO_RES_OK &&
	    (pset_check_mails(p, &m) != 0 || pset_check_household(p, hh) != 0))
		rc = flow_badvalue(out, p->bad);
	if (rc == KENPO_RES_OK)
		rc = pset_step_up(rq, p, &m, has_ticket, out);
	/* A new login ID is held (token.h) before it is checked and written. */
	if (rc == KENPO_RES_OK && p->value[PF_LOGIN] != NULL)
		rc = token_hold_login(rq, p->value[PF_LOGIN], &hold);
	if (rc == KENPO_RES_OK && p->value[PF_LOGIN] != NULL &&
	    (rc = member_login_taken(rq, p->value[PF_LOGIN], m.e->dn, &taken)) == KENPO_RES_OK &&
	    taken)
		rc = KENPO_RES_ID_TAKEN;
	if (rc == KENPO_RES_OK) {
		rc = pset_apply(rq, p, &m, hh);
		if (rc == KENPO_RES_BADVALUE)
			(void)flow_badvalue(out, p->bad);
	}
	if (rc == KENPO_RES_OK) {
		/* m is the entry as it was just before the change. */
		pset_audit(rq, p, &m, has_ticket);
		pset_notify(p, &m);
		rc = ticket_answer(rq, &m, ticket, has_ticket, next, sizeof next);
		if (rc == KENPO_RES_OK)
			kenpo_put_cstring(out, next);
	}
	token_release_login(rq, &hold);
	kenpo_wipe(next, sizeof next);
	myldap_result_free(hh);
	member_release(&m);
	return rc;
}

/* Free the pairs read; the current password is wiped. */
static void
pairs_free(const char **names, const char **values)
{
	size_t i;

	for (i = 0; i < PROFILE_PAIRS_MAX; i++) {
		if (names[i] != NULL && strcmp(names[i], PASSWORD_PAIR) == 0)
			kenpo_secret_free((char *)(uintptr_t)values[i]);
		else
			free((char *)(uintptr_t)values[i]);
		free((char *)(uintptr_t)names[i]);
	}
}

int
selfsvc_profile_set(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char login[FLOW_TEXT_MAX], ticket[FLOW_TEXT_MAX];
	const char *names[PROFILE_PAIRS_MAX] = { NULL }, *values[PROFILE_PAIRS_MAX] = { NULL };
	struct pset *p = calloc(1, sizeof(*p));
	int32_t count = 0, i;
	int toolong = 0, rc;

	if (p == NULL)
		return KENPO_RES_INTERNAL;
	p->rq = rq;
	flow_take(in, login, sizeof login, &toolong);
	flow_take(in, ticket, sizeof ticket, &toolong);
	rc = pset_read(in, names, values, &count);
	log_setrequest("profile set");
	for (i = 0; i < count && rc == KENPO_RES_OK; i++)
		if (pset_add(p, names[i], values[i]) != 0)
			rc = flow_badvalue(out, p->bad);
	if (rc == KENPO_RES_OK && p->mask != 0) {
		kenpo_put_int32(out, (int32_t)p->mask);
		rc = KENPO_RES_POLICY;
	}
	if (rc == KENPO_RES_OK)
		rc = toolong ? KENPO_RES_NOTFOUND : profile_set(rq, login, ticket, p, out);
	pairs_free(names, values);
	kenpo_wipe(ticket, sizeof ticket);
	free(p);
	return rc;
}

/* ---- PROFILE_END ---- */

int
selfsvc_profile_end(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char login[FLOW_TEXT_MAX], ticket[FLOW_TEXT_MAX], uid[24];
	struct member m = { NULL, NULL, NULL, 0 };
	struct log_kv kv[3] = { { "member", NULL }, { "login", NULL }, { "caller_uid", uid } };
	struct token t;
	int toolong = 0, rc;

	(void)out;
	flow_take(in, login, sizeof login, &toolong);
	flow_take(in, ticket, sizeof ticket, &toolong);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("profile end");
	rc = toolong ? KENPO_RES_TOKEN_INVALID : ticket_of(rq, login, ticket, &m, &t);
	if (rc == KENPO_RES_OK || rc == KENPO_RES_TOKEN_EXPIRED)
		rc = token_ticket_end(rq, &t);
	if (rc == KENPO_RES_OK && m.e != NULL) {
		(void)snprintf(uid, sizeof uid, "%lu", (unsigned long)rq->peer_uid);
		kv[0].value = m.e->dn;
		kv[1].value = member_get(&m, MA_UID);
		log_audit("profile.session-end", kv, 3);
	}
	kenpo_wipe(ticket, sizeof ticket);
	member_release(&m);
	/* Always OK: the answer does not tell whether there was a session. */
	return KENPO_RES_OK;
}
