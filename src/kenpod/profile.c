/*
 * profile.c - the profile in kenpod (プロフィール設定): PROFILE_GET and
 * PROFILE_SET of a member's own fields (login ID, nickname, mail addresses
 * 1 to 3, the key setting, the notification mails) and of the household's
 * (nickname and disclosure per household member).
 *
 * Who may: root presenting no ticket, or a caller presenting a profile
 * ticket of that member (token.h), which is used once and answered with
 * the next one.  A change of メールアドレス1 is told to the old address.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
			(void)snprintf(name, sizeof name, "household.%s.%s", key, hfields[j].name);
			(void)snprintf(dflt, sizeof dflt, "ご家族%s", key);
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
		return token_ticket_next(rq, t, next, nextsz);
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
	rc = toolong ? KENPO_RES_NOTFOUND : profile_access(rq, login, ticket, &m, &t, &has_ticket);
	if (rc == KENPO_RES_OK)
		rc = member_household_read(rq, &m, &hh);
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
	char badname[FLOW_TEXT_MAX];
	unsigned builds;                      /* how often the change was made */
};

/* Check one value of a type; 0 or -1. */
static int
value_ok(enum ptype type, const char *v, int required)
{
	switch (type) {
	case PT_LOGIN:
		return 0;           /* the rules are checked on their own */
	case PT_NICKNAME:
		return flow_nickname_ok(v) ? 0 : -1;
	case PT_MAIL:
		return (v[0] == '\0' && !required) || flow_address_ok(v) ? 0 : -1;
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

/* Mail 2 and 3 only with a mail 1, as the member will be.  0, or -1 with
 * p->bad set. */
static int
pset_check_mails(struct pset *p, const struct member *m)
{
	const char *mail1 = p->value[PF_MAIL1] != NULL ? p->value[PF_MAIL1]
						       : member_get(m, MA_MAIL1);

	if (mail1 == NULL || mail1[0] == '\0') {
		if (p->value[PF_MAIL2] != NULL && p->value[PF_MAIL2][0] != '\0')
			p->bad = "mail2";
		else if (p->value[PF_MAIL3] != NULL && p->value[PF_MAIL3][0] != '\0')
			p->bad = "mail3";
	}
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

	if (p->builds++ > 0 && p->value[PF_LOGIN] != NULL) {
		rc = member_login_taken(p->rq, p->value[PF_LOGIN], m->e->dn, &taken);
		if (rc != KENPO_RES_OK || taken)
			return rc != KENPO_RES_OK ? rc : KENPO_RES_ID_TAKEN;
	}
	if (pset_check_mails(p, m) != 0)
		return KENPO_RES_BADVALUE;
	for (i = 0; i < NPFIELDS; i++) {
		if ((v = p->value[i]) == NULL)
			continue;
		if (pfields[i].type >= PT_BOOL_ON)
			v = bool_value(v);
		member_set(c, m, pfields[i].attr, v[0] != '\0' ? v : NULL);
	}
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

/* Mail 1 changed: the old address hears of it (a stolen session that
 * redirects the mails must not go unnoticed).  old is mail 1 as it was. */
static void
pset_notify(const struct pset *p, const struct member *m, const char *old)
{
	const char *new = p->value[PF_MAIL1];
	struct kenpo_var var = { "NEWADDRESS", NULL };
	char masked[TOKEN_MAIL_MAX];

	if (new == NULL || old[0] == '\0' || strcasecmp(old, new) == 0 ||
	    kenpo_mail_mask(new, masked, sizeof masked) != 0)
		return;
	var.value = masked;
	if (mailer_send(m->soc, KENPO_MAIL_ADDRESS_CHANGED, &var, 1, old) != 0)
		log_msg(LOG_WARNING, "%.200s: the address change notice could not be sent",
			m->e->dn);
}

/* The member's entry, then the household's.  The old mail 1 into old. */
static int
pset_apply(struct request *rq, struct pset *p, struct member *m,
	   const struct myldap_result *hh, char *old, size_t oldsz)
{
	int rc;

	(void)snprintf(old, oldsz, "%s", member_get(m, MA_MAIL1) != NULL ?
		       member_get(m, MA_MAIL1) : "");
	rc = member_update(rq, m, pset_build, p);
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
	char next[KENPO_TOKEN_LEN + 1] = "", old[FLOW_TEXT_MAX];
	struct token t;
	int rc, has_ticket = 0, taken = 0;

	rc = profile_access(rq, login, ticket, &m, &t, &has_ticket);
	if (rc == KENPO_RES_OK)
		rc = member_household_read(rq, &m, &hh);
	if (rc == KENPO_RES_OK &&
	    (pset_check_mails(p, &m) != 0 || pset_check_household(p, hh) != 0))
		rc = flow_badvalue(out, p->bad);
	if (rc == KENPO_RES_OK && p->value[PF_LOGIN] != NULL &&
	    (rc = member_login_taken(rq, p->value[PF_LOGIN], m.e->dn, &taken)) == KENPO_RES_OK &&
	    taken)
		rc = KENPO_RES_ID_TAKEN;
	if (rc == KENPO_RES_OK && has_ticket)
		rc = token_consume(rq, &t);
	if (rc == KENPO_RES_OK) {
		rc = pset_apply(rq, p, &m, hh, old, sizeof old);
		if (rc == KENPO_RES_BADVALUE)
			(void)flow_badvalue(out, p->bad);
		if (rc != KENPO_RES_OK && has_ticket && token_restore(rq, &t) != KENPO_RES_OK)
			log_msg(LOG_WARNING, "the ticket could not be put back");
	}
	if (rc == KENPO_RES_OK) {
		log_msg(LOG_INFO, "%.200s: profile changed", m.e->dn);
		pset_notify(p, &m, old);
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
	for (i = 0; i < PROFILE_PAIRS_MAX; i++) {
		free((char *)(uintptr_t)names[i]);
		free((char *)(uintptr_t)values[i]);
	}
	kenpo_wipe(ticket, sizeof ticket);
	free(p);
	return rc;
}
