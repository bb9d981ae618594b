/*
 * member.c - a member entry by login ID, DN or filter, and optimistic
 * changes to it (see member.h).  All directory access goes through myldap.c.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cache.h"
#include "config.h"
#include "log.h"
#include "member.h"
#include "policy.h"
#include "request.h"

/* The attributes of enum member_attr, in its order.  pwdAccountLockedTime
 * is operational: it is returned only when asked for by name. */
static const char *const member_attrs[MA_COUNT + 1] = {
	[MA_UID] = "uid",
	[MA_UIDNUMBER] = "uidNumber",
	[MA_STATE] = "kenpoState",
	[MA_DISABLED] = "kenpoDisabled",
	[MA_MAIL1] = "kenpoMail1",
	[MA_KEY_REQUIRED] = "kenpoKeyRequired",
	[MA_PASSWORD] = "userPassword",
	[MA_KEY_HASH] = "kenpoKeyHash",
	[MA_KEY_EXPIRY] = "kenpoKeyExpiry",
	[MA_KEY_TRIES] = "kenpoKeyTries",
	[MA_KEY_SENT_AT] = "kenpoKeySentAt",
	[MA_KEY_TXN] = "kenpoKeyTxn",
	[MA_TEMP_PASSWORD] = "kenpoTempPassword",
	[MA_TEMP_EXPIRY] = "kenpoTempPasswordExpiry",
	[MA_TEMP_TRIES] = "kenpoTempPasswordTries",
	[MA_MUST_CHANGE] = "kenpoMustChange",
	[MA_FAILURES] = "kenpoAuthFailures",
	[MA_FAIL_TIME] = "kenpoAuthFailTime",
	[MA_LOCKED_UNTIL] = "kenpoLockedUntil",
	[MA_LAST_LOGIN] = "kenpoLastLogin",
	[MA_PWD_LOCKED] = "pwdAccountLockedTime",
	[MA_NICKNAME] = "kenpoNickname",
	[MA_MAIL2] = "kenpoMail2",
	[MA_MAIL3] = "kenpoMail3",
	[MA_NOTIFY_MEDICAL] = "kenpoNotifyMedical",
	[MA_NOTIFY_GENERIC] = "kenpoNotifyGeneric",
	[MA_NOTIFY_MAGAZINE] = "kenpoNotifyMagazine",
	[MA_NOTIFY_DOCUMENTS] = "kenpoNotifyDocuments",
	[MA_NOTIFY_APPLICATIONS] = "kenpoNotifyApplications",
	[MA_DISCLOSE_MEDICAL] = "kenpoDiscloseMedical",
	[MA_DISCLOSE_GENERIC] = "kenpoDiscloseGeneric",
	[MA_OBJECTCLASS] = "objectClass",
	[MA_NUMBER] = "kenpoMemberNumber",
	[MA_ROSTER_MAIL] = "kenpoRosterMail",
	[MA_COUNT] = NULL,
};

#define MEMBER_FILTER "(&(objectClass=kenpoMember)(uid=%s))"
#define COUNT_MAX 1000000u

/* ---- loading ---- */

int
member_login_plausible(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > KENPO_LOGIN_ID_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] == '\0' || strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					   "0123456789._-", s[i]) == NULL)
			return 0;
	return 1;
}

const char *
member_attr_name(enum member_attr a)
{
	return member_attrs[a];
}

const struct kenpo_society *
member_society_of_dn(const struct request *rq, const char *dn)
{
	const struct kenpo_config *cfg = rq->kd->cfg;
	size_t i, dlen = strlen(dn), blen;

	for (i = 0; i < cfg->nsocieties; i++) {
		blen = strlen(cfg->societies[i].base);
		if (dlen > blen + 1 && dn[dlen - blen - 1] == ',' &&
		    strcasecmp(dn + dlen - blen, cfg->societies[i].base) == 0)
			return &cfg->societies[i];
	}
	return NULL;
}

void
member_of(const struct kenpo_society *soc, const struct myldap_entry *e, struct member *m)
{
	unsigned long long uid;
	const char *v;

	m->soc = soc;
	m->res = NULL;
	m->e = e;
	m->uid = 0;
	v = member_get(m, MA_UIDNUMBER);
	if (v != NULL && kenpo_parse_ulong(v, 1, 0xfffffffeULL, &uid) == 0)
		m->uid = (uint32_t)uid;
}

/* Search base for filter, at most limit entries.  A kenpo_result. */
static int
search_base(struct request *rq, const char *base, const char *filter, size_t limit,
	    struct myldap_result **res)
{
	int rc = myldap_search(rq->ld, base, filter, member_attrs, limit, res);

	if (rc != MYLDAP_OK)
		return rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
	return KENPO_RES_OK;
}

int
member_search(struct request *rq, const struct kenpo_society *soc, const char *filter,
	      size_t limit, struct myldap_result **res)
{
	return search_base(rq, soc->base, filter, limit, res);
}

/* The entries of res that may be taken: with a login, only those whose
 * single uid equals it without regard to case (the directory's rule; a
 * second uid value must not match).  Keep the first in *m (which then
 * owns res), count all in *count. */
static void
take_matches(const struct kenpo_society *soc, struct myldap_result *res, const char *login,
	     struct member *m, size_t *count)
{
	const struct myldap_entry *e;
	size_t i;

	for (i = 0; i < res->nentries; i++) {
		e = &res->entries[i];
		if (login != NULL && (myldap_nvalues(e, MA_UID) != 1 ||
				      strcasecmp(myldap_value(e, MA_UID), login) != 0))
			continue;
		if ((*count)++ == 0) {
			member_of(soc, e, m);
			m->res = res;
		}
	}
	if (m->res != res)
		myldap_result_free(res);
}

/* The single entry of base that filter (and login) match: found, or an
 * error with nothing held. */
static int
find_one(struct request *rq, const struct kenpo_society *soc, const char *base,
	 const char *filter, const char *login, struct member *m)
{
	struct member found = { NULL, NULL, NULL, 0 };
	struct myldap_result *res = NULL;
	size_t count = 0;
	int rc;

	rc = search_base(rq, base, filter, 2, &res);
	if (rc != KENPO_RES_OK)
		return rc;
	take_matches(soc, res, login, &found, &count);
	if (count != 1) {
		if (count > 1)
			log_msg(LOG_ERR, "%zu members match under %.200s, %.200s among them; "
				"none taken", count, base, found.e->dn);
		member_release(&found);
		return KENPO_RES_NOTFOUND;
	}
	*m = found;
	return KENPO_RES_OK;
}

int
member_find(struct request *rq, const struct kenpo_society *soc, const char *filter,
	    struct member *m)
{
	return find_one(rq, soc, soc->base, filter, NULL, m);
}

int
member_load_dn(struct request *rq, const char *dn, struct member *m)
{
	const struct kenpo_society *soc = member_society_of_dn(rq, dn);

	if (soc == NULL)
		return KENPO_RES_NOTFOUND;
	return find_one(rq, soc, dn, "(objectClass=kenpoMember)", NULL, m);
}

int
member_load(struct request *rq, const struct kenpo_society *soc, const char *login,
	    size_t len, struct member *m)
{
	const struct kenpo_config *cfg = rq->kd->cfg;
	char name[KENPO_LOGIN_ID_MAX + 1], value[3 * KENPO_LOGIN_ID_MAX + 1];
	char filter[sizeof MEMBER_FILTER + sizeof value];
	struct member found = { NULL, NULL, NULL, 0 };
	struct myldap_result *res;
	size_t i, count = 0;
	int rc = KENPO_RES_OK;

	if (!member_login_plausible(login, len))
		return KENPO_RES_NOTFOUND;
	memcpy(name, login, len);
	name[len] = '\0';
	/* The name is plain already, but every filter value is escaped. */
	if (myldap_escape(name, len, value, sizeof value) != 0)
		return KENPO_RES_INTERNAL;
	(void)snprintf(filter, sizeof filter, MEMBER_FILTER, value);
	for (i = 0; i < cfg->nsocieties && rc == KENPO_RES_OK; i++) {
		if (soc != NULL && soc != &cfg->societies[i])
			continue;
		res = NULL;
		rc = member_search(rq, &cfg->societies[i], filter, 2, &res);
		if (rc == KENPO_RES_OK)
			take_matches(&cfg->societies[i], res, name, &found, &count);
	}
	if (rc == KENPO_RES_OK && count > 1) {
		log_msg(LOG_ERR, "%zu members hold the login ID %.100s; refusing it", count, name);
		rc = KENPO_RES_NOTFOUND;
	} else if (rc == KENPO_RES_OK && count == 0) {
		rc = KENPO_RES_NOTFOUND;
	}
	if (rc != KENPO_RES_OK) {
		member_release(&found);
		return rc;
	}
	*m = found;
	return KENPO_RES_OK;
}

void
member_release(struct member *m)
{
	myldap_result_free(m->res);
	m->res = NULL;
	m->e = NULL;
}

/* ---- reading values ---- */

const char *
member_get(const struct member *m, enum member_attr a)
{
	return myldap_value(m->e, (size_t)a);
}

int
member_has(const struct member *m, enum member_attr a, const char *value)
{
	size_t i, n = myldap_nvalues(m->e, (size_t)a);

	for (i = 0; i < n; i++)
		if (strcasecmp(m->e->values[a][i], value) == 0)
			return 1;
	return 0;
}

int
member_flag(const struct member *m, enum member_attr a, int dflt)
{
	const char *v = member_get(m, a);

	if (v == NULL)
		return dflt;
	if (strcmp(v, "TRUE") == 0)
		return 1;
	if (strcmp(v, "FALSE") == 0)
		return 0;
	return dflt;
}

unsigned
member_count(const struct member *m, enum member_attr a)
{
	const char *v = member_get(m, a);
	unsigned long long n;

	if (v == NULL || kenpo_parse_ulong(v, 0, COUNT_MAX, &n) != 0)
		return 0;
	return (unsigned)n;
}

int64_t
member_time(const struct member *m, enum member_attr a)
{
	const char *v = member_get(m, a);
	int64_t t;

	if (v == NULL)
		return 0;
	if (member_parse_time(v, &t) != 0) {
		log_msg(LOG_WARNING, "%.200s: %s: not a time kenpo reads: %.40s",
			m->e->dn, member_attrs[a], v);
		return 0;
	}
	return t;
}

/* ---- times ---- */

int64_t
member_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fixed-width decimal digits of s[0..n) into *out.  0 or -1. */
static int
digits(const char *s, size_t n, int *out)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* The milliseconds of a fraction ".5", ".123456" (more digits are cut). */
static int
fraction_ms(const char *s, size_t n, int *ms)
{
	int v = 0, scale = 100;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v += (s[i] - '0') * scale;
		scale /= 10;
	}
	*ms = v;
	return 0;
}

/*
 * GeneralizedTime as kenpo and its administrators write it, always in UTC:
 * "YYYYMMDDHHMMSSZ", optionally with a fraction of a second before the Z.
 * Parsed by hand because strptime has no directive for the fraction and
 * would accept a one-digit month; timegm does the calendar arithmetic.
 */
int
member_parse_time(const char *s, int64_t *out)
{
	struct tm tm;
	size_t len = strlen(s);
	int y, mo, d, h, mi, sec, ms = 0;
	time_t t;

	if (len < 15 || s[len - 1] != 'Z')
		return -1;
	if (digits(s, 4, &y) != 0 || digits(s + 4, 2, &mo) != 0 || digits(s + 6, 2, &d) != 0 ||
	    digits(s + 8, 2, &h) != 0 || digits(s + 10, 2, &mi) != 0 ||
	    digits(s + 12, 2, &sec) != 0)
		return -1;
	if (len > 15 && ((s[14] != '.' && s[14] != ',') ||
			 fraction_ms(s + 15, len - 16, &ms) != 0))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 && !(y == 1969 && mo == 12 && d == 31))
		return -1;
	*out = (int64_t)t * 1000 + ms;
	return 0;
}

int
member_format_time(int64_t t, int with_ms, char *out, size_t outsz)
{
	time_t secs = (time_t)(t / 1000);
	struct tm tm;
	char base[32];
	int n;

	if (t < 0 || gmtime_r(&secs, &tm) == NULL ||
	    strftime(base, sizeof base, "%Y%m%d%H%M%S", &tm) == 0)
		return -1;
	if (with_ms)
		n = snprintf(out, outsz, "%s.%03dZ", base, (int)(t % 1000));
	else
		n = snprintf(out, outsz, "%sZ", base);
	return n > 0 && (size_t)n < outsz ? 0 : -1;
}

/* ---- changes ---- */

void
member_change_init(struct member_change *c)
{
	c->n = 0;
	c->err = 0;
	c->passwd = 0;
}

/* Whether passwd lookups show (or depend on) the attribute. */
static int
shown_by_passwd(enum member_attr a)
{
	return a == MA_UID || a == MA_UIDNUMBER || a == MA_STATE || a == MA_DISABLED ||
	       a == MA_NICKNAME || a == MA_NUMBER;
}

/* Append one change; value is copied (NULL stays NULL). */
static void
add_mod(struct member_change *c, enum myldap_modop op, enum member_attr a, const char *value)
{
	size_t len = value != NULL ? strlen(value) : 0;

	if (c->n == MYLDAP_MODS_MAX || len >= MEMBER_VALUE_MAX) {
		c->err = 1;
		return;
	}
	c->passwd |= shown_by_passwd(a);
	c->mods[c->n].op = op;
	c->mods[c->n].attr = member_attrs[a];
	c->mods[c->n].value = NULL;
	if (value != NULL) {
		memcpy(c->vals[c->n], value, len + 1);
		c->mods[c->n].value = c->vals[c->n];
	}
	c->n++;
}

void
member_set(struct member_change *c, const struct member *m, enum member_attr a,
	   const char *value)
{
	const char *old = member_get(m, a);

	if (old != NULL && value != NULL && strcmp(old, value) == 0)
		return;
	if (old != NULL)
		add_mod(c, MYLDAP_MOD_DELETE, a, old);
	if (value != NULL)
		add_mod(c, MYLDAP_MOD_ADD, a, value);
}

void
member_set_count(struct member_change *c, const struct member *m, enum member_attr a,
		 unsigned value)
{
	char buf[16];

	(void)snprintf(buf, sizeof buf, "%u", value);
	member_set(c, m, a, buf);
}

void
member_set_time(struct member_change *c, const struct member *m, enum member_attr a,
		int64_t t, int with_ms)
{
	char buf[32];

	if (member_format_time(t, with_ms, buf, sizeof buf) != 0) {
		c->err = 1;
		return;
	}
	member_set(c, m, a, buf);
}

void
member_delete(struct member_change *c, enum member_attr a, const char *value)
{
	add_mod(c, MYLDAP_MOD_DELETE, a, value);
}

void
member_replace(struct member_change *c, enum member_attr a, const char *value)
{
	add_mod(c, MYLDAP_MOD_REPLACE, a, value);
}

enum myldap_rc
member_apply(struct request *rq, const struct member *m, struct member_change *c)
{
	enum myldap_rc rc;

	if (c->err) {
		log_msg(LOG_ERR, "%.200s: change too large", m->e->dn);
		rc = MYLDAP_ERROR;
		goto done;
	}
	if (c->n == 0)
		return MYLDAP_OK;
	rc = myldap_modify(rq->ld, m->e->dn, c->mods, c->n);
	if (rc == MYLDAP_OK && c->passwd)
		cache_forget(rq->kd->cache, member_get(m, MA_UID), m->uid);
done:
	/* The values may hold a password hash. */
	kenpo_wipe(c->vals, sizeof c->vals);
	c->n = 0;
	return rc;
}
