/*
 * member.c - a member entry by login ID, DN or filter, and optimistic
 * changes to it (see member.h).  All directory access goes through myldap.c.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "config.h"
#include "gentime.h"
#include "log.h"
#include "member.h"
#include "policy.h"
#include "request.h"
#include "schema.h"
#include "uid.h"

/* The attributes of enum member_attr, in its order.  pwdAccountLockedTime
 * and pwdReset are operational: they are returned only when asked for by
 * name. */
static const char *const member_attrs[MA_COUNT + 1] = {
	[MA_UID] = KENPO_AT_UID,
	[MA_UIDNUMBER] = KENPO_AT_UIDNUMBER,
	[MA_STATE] = KENPO_AT_STATE,
	[MA_DISABLED] = KENPO_AT_DISABLED,
	[MA_MAIL1] = KENPO_AT_MAIL1,
	[MA_KEY_REQUIRED] = KENPO_AT_KEY_REQUIRED,
	[MA_PASSWORD] = KENPO_AT_PASSWORD,
	[MA_KEY_HASH] = KENPO_AT_KEY_HASH,
	[MA_KEY_EXPIRY] = KENPO_AT_KEY_EXPIRY,
	[MA_KEY_TRIES] = KENPO_AT_KEY_TRIES,
	[MA_KEY_SENT_AT] = KENPO_AT_KEY_SENT_AT,
	[MA_KEY_TXN] = KENPO_AT_KEY_TXN,
	[MA_TEMP_PASSWORD] = KENPO_AT_TEMP_PASSWORD,
	[MA_TEMP_EXPIRY] = KENPO_AT_TEMP_EXPIRY,
	[MA_TEMP_TRIES] = KENPO_AT_TEMP_TRIES,
	[MA_MUST_CHANGE] = KENPO_AT_MUST_CHANGE,
	[MA_FAILURES] = KENPO_AT_FAILURES,
	[MA_FAIL_TIME] = KENPO_AT_FAIL_TIME,
	[MA_LOCKED_UNTIL] = KENPO_AT_LOCKED_UNTIL,
	[MA_LAST_LOGIN] = KENPO_AT_LAST_LOGIN,
	[MA_PWD_LOCKED] = KENPO_AT_PWD_LOCKED,
	[MA_PWD_RESET] = KENPO_AT_PWD_RESET,
	[MA_NICKNAME] = KENPO_AT_NICKNAME,
	[MA_MAIL2] = KENPO_AT_MAIL2,
	[MA_MAIL3] = KENPO_AT_MAIL3,
	[MA_NOTIFY_MEDICAL] = KENPO_AT_NOTIFY_MEDICAL,
	[MA_NOTIFY_GENERIC] = KENPO_AT_NOTIFY_GENERIC,
	[MA_NOTIFY_MAGAZINE] = KENPO_AT_NOTIFY_MAGAZINE,
	[MA_NOTIFY_DOCUMENTS] = KENPO_AT_NOTIFY_DOCUMENTS,
	[MA_NOTIFY_APPLICATIONS] = KENPO_AT_NOTIFY_APPLICATIONS,
	[MA_DISCLOSE_MEDICAL] = KENPO_AT_DISCLOSE_MEDICAL,
	[MA_DISCLOSE_GENERIC] = KENPO_AT_DISCLOSE_GENERIC,
	[MA_OBJECTCLASS] = KENPO_AT_OBJECTCLASS,
	[MA_NUMBER] = KENPO_AT_NUMBER,
	[MA_ROSTER_MAIL] = KENPO_AT_ROSTER_MAIL,
	[MA_GIDNUMBER] = KENPO_AT_GIDNUMBER,
	[MA_HOME] = KENPO_AT_HOME,
	[MA_SHELL] = KENPO_AT_SHELL,
	[MA_KEY_MAIL] = KENPO_AT_KEY_MAIL,
	[MA_AUTH_SOURCE] = KENPO_AT_AUTH_SOURCE,
	[MA_FAMILIAR_SOURCE] = KENPO_AT_FAMILIAR_SOURCE,
	[MA_UNFAMILIAR_FAILURES] = KENPO_AT_UNFAMILIAR_FAILURES,
	[MA_UNFAMILIAR_FAIL_TIME] = KENPO_AT_UNFAMILIAR_FAIL_TIME,
	[MA_UNFAMILIAR_LOCKED_UNTIL] = KENPO_AT_UNFAMILIAR_LOCKED_UNTIL,
	[MA_KEY_FAILURES] = KENPO_AT_KEY_FAILURES,
	[MA_KEY_FAIL_WINDOW] = KENPO_AT_KEY_FAIL_WINDOW,
	[MA_KEY_MAILS] = KENPO_AT_KEY_MAILS,
	[MA_KEY_MAIL_WINDOW] = KENPO_AT_KEY_MAIL_WINDOW,
	[MA_KEY_SOURCE] = KENPO_AT_KEY_SOURCE,
	[MA_LOGIN_HISTORY] = KENPO_AT_LOGIN_HISTORY,
	[MA_RATE_KEY] = KENPO_AT_RATE_KEY,
	[MA_RATE_WINDOW] = KENPO_AT_RATE_WINDOW,
	[MA_COUNT] = NULL,
};

/* The attributes of a household member, in the order of enum household_attr. */
static const char *const household_attrs[] = { KENPO_AT_HOUSEHOLD_INDEX, KENPO_AT_NICKNAME,
					       KENPO_AT_DISCLOSE_MEDICAL,
					       KENPO_AT_DISCLOSE_GENERIC, NULL };
_Static_assert(sizeof household_attrs / sizeof household_attrs[0] == HA_COUNT + 1,
	       "one name for each household_attr");

#define MEMBER_FILTER "(&" KENPO_FILTER_MEMBER "(" KENPO_AT_UID "=%s))"
#define MEMBER_FILTER_MAX (sizeof MEMBER_FILTER + 3 * KENPO_LOGIN_ID_MAX)
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
					   "0123456789._-",
					   s[i]) == NULL)
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

/* Whether e is a kenpoLoginFailures entry (which member_load_also finds
 * beside members). */
static int
is_failure_entry(const struct myldap_entry *e)
{
	size_t i, n = myldap_nvalues(e, MA_OBJECTCLASS);

	for (i = 0; i < n; i++)
		if (strcasecmp(e->values[MA_OBJECTCLASS][i], KENPO_OC_LOGIN_FAILURES) == 0)
			return 1;
	return 0;
}

/* The entries of res that may be taken: with a login, only those whose
 * single uid equals it without regard to case (the directory's rule; a
 * second uid value must not match).  Keep the first in *m (which then
 * owns res), count all in *count.  With `also`, a kenpoLoginFailures entry
 * goes there, and owns res when *m does not. */
static void
take_matches(const struct kenpo_society *soc, struct myldap_result *res, const char *login,
	     struct member *m, size_t *count, struct member *also)
{
	const struct myldap_entry *e;
	size_t i;

	for (i = 0; i < res->nentries; i++) {
		e = &res->entries[i];
		if (also != NULL && is_failure_entry(e)) {
			if (also->e == NULL)
				member_of(soc, e, also);
			continue;
		}
		if (login != NULL && (myldap_nvalues(e, MA_UID) != 1 ||
				      strcasecmp(myldap_value(e, MA_UID), login) != 0))
			continue;
		if ((*count)++ == 0) {
			member_of(soc, e, m);
			m->res = res;
		}
	}
	if (also != NULL && also->e != NULL && also->res == NULL && m->res != res)
		also->res = res;
	else if (m->res != res)
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
	take_matches(soc, res, login, &found, &count, NULL);
	if (count != 1) {
		if (count > 1)
			log_msg(LOG_ERR,
				"%zu members match under %.200s, %.200s among them; "
				"none taken",
				count, base, found.e->dn);
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
	return find_one(rq, soc, dn, KENPO_FILTER_MEMBER, NULL, m);
}

/* The filter that finds the member `login`, escaped.  0 or -1. */
static int
login_filter(const char *login, size_t len, char name[KENPO_LOGIN_ID_MAX + 1], char *filter,
	     size_t fsz)
{
	char value[3 * KENPO_LOGIN_ID_MAX + 1];

	memcpy(name, login, len);
	name[len] = '\0';
	/* The name is plain already, but every filter value is escaped. */
	if (myldap_escape(name, len, value, sizeof value) != 0)
		return -1;
	return snprintf(filter, fsz, MEMBER_FILTER, value) < (int)fsz ? 0 : -1;
}

/* Search every society (or soc) for the member `login`; with `also`, the
 * first society's search also looks for that filter (member_load_also). */
static int
load(struct request *rq, const struct kenpo_society *soc, const char *login, size_t len,
     const char *also, struct member *m, struct member *also_entry)
{
	const struct kenpo_config *cfg = rq->kd->cfg;
	char name[KENPO_LOGIN_ID_MAX + 1], filter[2 * MEMBER_FILTER_MAX];
	char both[4 * MEMBER_FILTER_MAX];
	struct member found = { NULL, NULL, NULL, 0 };
	struct myldap_result *res;
	size_t i, count = 0;
	int rc = KENPO_RES_OK;

	if (!member_login_plausible(login, len))
		return KENPO_RES_NOTFOUND;
	if (login_filter(login, len, name, filter, sizeof filter) != 0 ||
	    (also != NULL &&
	     snprintf(both, sizeof both, "(|%s%s)", filter, also) >= (int)sizeof both))
		return KENPO_RES_INTERNAL;
	for (i = 0; i < cfg->nsocieties && rc == KENPO_RES_OK; i++) {
		if (soc != NULL && soc != &cfg->societies[i])
			continue;
		res = NULL;
		rc = member_search(rq, &cfg->societies[i], also != NULL && i == 0 ? both : filter,
				   also != NULL && i == 0 ? 3 : 2, &res);
		if (rc == KENPO_RES_OK)
			take_matches(&cfg->societies[i], res, name, &found, &count,
				     also != NULL && i == 0 ? also_entry : NULL);
	}
	if (rc == KENPO_RES_OK && count > 1) {
		log_msg(LOG_ERR, "%zu members hold the login ID %.100s; refusing it", count,
			name);
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

int
member_load(struct request *rq, const struct kenpo_society *soc, const char *login, size_t len,
	    struct member *m)
{
	return load(rq, soc, login, len, NULL, m, NULL);
}

int
member_load_also(struct request *rq, const char *login, size_t len, const char *also,
		 struct member *m, struct member *also_entry)
{
	int rc;

	*also_entry = (struct member){ NULL, NULL, NULL, 0 };
	rc = load(rq, NULL, login, len, also, m, also_entry);
	/* Only for a login ID that names no member: a member's entry may have
	 * been re-read meanwhile, and the failure entry not with it. */
	if (rc != KENPO_RES_NOTFOUND)
		member_release(also_entry);
	/* One that shared the result of members refused as duplicates is gone
	 * with it. */
	if (also_entry->res == NULL)
		also_entry->e = NULL;
	return rc;
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

size_t
member_nvalues(const struct member *m, enum member_attr a)
{
	return myldap_nvalues(m->e, (size_t)a);
}

const char *
member_value_at(const struct member *m, enum member_attr a, size_t i)
{
	return i < myldap_nvalues(m->e, (size_t)a) ? m->e->values[a][i] : NULL;
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
	if (kenpo_gentime_parse(v, &t) != 0) {
		log_msg(LOG_WARNING, "%.200s: %s: not a time kenpo reads: %.40s", m->e->dn,
			member_attrs[a], v);
		return 0;
	}
	return t;
}

/* ---- changes ---- */

void
member_change_init(struct member_change *c)
{
	c->n = 0;
	c->err = 0;
	c->passwd = 0;
	c->new_login = NULL;
	c->as_read = 0;
}

/* Whether passwd lookups show (or depend on) the attribute. */
static int
shown_by_passwd(enum member_attr a)
{
	return a == MA_UID || a == MA_UIDNUMBER || a == MA_GIDNUMBER || a == MA_STATE ||
	       a == MA_DISABLED || a == MA_NICKNAME || a == MA_NUMBER;
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
	c->attrs[c->n] = a;
	c->mods[c->n].op = op;
	c->mods[c->n].attr = member_attrs[a];
	c->mods[c->n].value = NULL;
	if (value != NULL) {
		memcpy(c->vals[c->n], value, len + 1);
		c->mods[c->n].value = c->vals[c->n];
	}
	/* A new login ID: the cache may hold "no such user" for it. */
	if (a == MA_UID && op != MYLDAP_MOD_DELETE && value != NULL)
		c->new_login = c->vals[c->n];
	c->n++;
}

void
member_set(struct member_change *c, const struct member *m, enum member_attr a, const char *value)
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
member_set_time(struct member_change *c, const struct member *m, enum member_attr a, int64_t t,
		int with_ms)
{
	char buf[32];

	if (kenpo_gentime_format(t, with_ms, buf, sizeof buf) != 0) {
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

void
member_add(struct member_change *c, enum member_attr a, const char *value)
{
	add_mod(c, MYLDAP_MOD_ADD, a, value);
}

/* The values of one attribute of an entry after one change.  0, or -1
 * when out of memory (the values are then as before). */
static int
values_apply(char ***values, const struct myldap_mod *mod)
{
	char **v = *values, **grown, *copy = NULL;
	size_t n = 0, i;

	while (v != NULL && v[n] != NULL)
		n++;
	if (mod->value != NULL && mod->op != MYLDAP_MOD_DELETE &&
	    (copy = strdup(mod->value)) == NULL)
		return -1;
	if (mod->op == MYLDAP_MOD_REPLACE ||
	    (mod->op == MYLDAP_MOD_DELETE && mod->value == NULL)) {
		for (i = 0; i < n; i++)
			free(v[i]);
		n = 0;
	} else if (mod->op == MYLDAP_MOD_DELETE) {
		for (i = 0; i < n && strcmp(v[i], mod->value) != 0; i++)
			;
		if (i < n) {
			free(v[i]);
			memmove(v + i, v + i + 1, (n - i) * sizeof(*v));
			n--;
		}
	}
	grown = realloc(v, (n + 2) * sizeof(*v));
	if (grown == NULL) {
		free(copy);
		if (v != NULL)
			v[n] = NULL;
		return -1;
	}
	if (copy != NULL)
		grown[n++] = copy;
	grown[n] = NULL;
	*values = grown;
	return 0;
}

/* Make the entry in memory what the directory now holds. */
static void
remember(const struct member *m, const struct member_change *c)
{
	struct myldap_entry *e;
	size_t i, k;

	if (m->res == NULL || m->e < m->res->entries ||
	    m->e >= m->res->entries + m->res->nentries)
		return;
	k = (size_t)(m->e - m->res->entries);
	e = &m->res->entries[k];
	for (i = 0; i < c->n; i++) {
		if (values_apply(&e->values[c->attrs[i]], &c->mods[i]) != 0) {
			log_msg(LOG_ERR, "%.200s: out of memory; the entry in memory is stale",
				e->dn);
			return;
		}
	}
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
	if (rc == MYLDAP_OK && c->new_login != NULL)
		cache_forget(rq->kd->cache, c->new_login, m->uid);
	/* After the cache: it forgets the login ID as it was. */
	if (rc == MYLDAP_OK && !c->as_read)
		remember(m, c);
done:
	/* The values may hold a password hash. */
	kenpo_wipe(c->vals, sizeof c->vals);
	c->n = 0;
	return rc;
}

/* ---- updates with re-reads ---- */

/* The member as it is now: by its login ID when it has one (a member
 * found by login ID stays the member of that login ID), else by its DN. */
static int
reload(struct request *rq, const char *login, const char *dn, struct member *m)
{
	if (login[0] != '\0')
		return member_load(rq, NULL, login, strlen(login), m);
	return member_load_dn(rq, dn, m);
}

int
member_update(struct request *rq, struct member *m, member_build_fn *build, void *ctx)
{
	char login[KENPO_LOGIN_ID_MAX + 1], dn[MEMBER_DN_MAX];
	struct member_change c;
	int attempt, rc;

	(void)snprintf(login, sizeof login, "%s",
		       member_get(m, MA_UID) != NULL ? member_get(m, MA_UID) : "");
	if (snprintf(dn, sizeof dn, "%s", m->e->dn) >= (int)sizeof dn)
		return KENPO_RES_INTERNAL;
	for (attempt = 0; attempt < MEMBER_UPDATE_TRIES; attempt++) {
		member_change_init(&c);
		rc = build(m, &c, ctx);
		if (rc != KENPO_RES_OK)
			return rc;
		switch (member_apply(rq, m, &c)) {
		case MYLDAP_OK:
			return KENPO_RES_OK;
		case MYLDAP_UNAVAIL:
			return KENPO_RES_UNAVAIL;
		case MYLDAP_ERROR:
			return KENPO_RES_INTERNAL;
		case MYLDAP_CHANGED:
			break;
		}
		member_release(m);
		rc = reload(rq, login, dn, m);
		if (rc != KENPO_RES_OK)
			return rc;
	}
	log_msg(LOG_WARNING, "the entry kept changing; giving up");
	return KENPO_RES_UNAVAIL;
}

/* ---- login IDs and uid numbers ---- */

int
member_login_taken(struct request *rq, const char *login, const char *self_dn, int *taken)
{
	static const char *const attrs[] = { KENPO_AT_UID, NULL };
	const struct kenpo_config *cfg = rq->kd->cfg;
	char esc[3 * KENPO_LOGIN_ID_MAX + 1], filter[sizeof esc + 16];
	struct myldap_result *res = NULL;
	size_t i, j;
	int rc;

	*taken = 0;
	if (myldap_escape(login, strlen(login), esc, sizeof esc) != 0)
		return KENPO_RES_INTERNAL;
	(void)snprintf(filter, sizeof filter, "(" KENPO_AT_UID "=%s)", esc);
	for (i = 0; i < cfg->nsocieties && !*taken; i++) {
		rc = myldap_search(rq->ld, cfg->societies[i].base, filter, attrs, 4, &res);
		if (rc != MYLDAP_OK)
			return rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
		for (j = 0; j < res->nentries; j++)
			if (self_dn == NULL || strcasecmp(res->entries[j].dn, self_dn) != 0)
				*taken = 1;
		myldap_result_free(res);
	}
	return KENPO_RES_OK;
}

int
member_uid_take(struct request *rq, const struct kenpo_society *soc, unsigned long *uid)
{
	char dn[MEMBER_DN_MAX];
	unsigned long long before = 0;
	int rc;

	if (kenpo_uid_counter_dn(soc->base, dn, sizeof dn) != 0)
		return KENPO_RES_INTERNAL;
	rc = myldap_increment(rq->ld, dn, KENPO_AT_NEXT_UID, 1, &before);
	if (rc != MYLDAP_OK)
		return rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
	if (kenpo_uid_block(before, 1, soc->uid_min, soc->uid_max, uid) != 0) {
		log_msg(LOG_ERR, "%.200s: %s %llu is outside the society's range %lu..%lu", dn,
			KENPO_AT_NEXT_UID, before, soc->uid_min, soc->uid_max);
		return KENPO_RES_INTERNAL;
	}
	return KENPO_RES_OK;
}

/* ---- the household ---- */

const char *
member_household_attr_name(enum household_attr a)
{
	return household_attrs[a];
}

int
member_household_read(struct request *rq, const struct member *m, struct myldap_result **res)
{
	int rc = myldap_search(rq->ld, m->e->dn, KENPO_FILTER_HOUSEHOLD, household_attrs,
			       MEMBER_HOUSEHOLD_MAX, res);

	if (rc != MYLDAP_OK)
		return rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
	return KENPO_RES_OK;
}

const struct myldap_entry *
member_household_find(const struct myldap_result *hh, const char *idx)
{
	size_t i;

	for (i = 0; hh != NULL && i < hh->nentries; i++) {
		const char *v = myldap_value(&hh->entries[i], HA_INDEX);

		if (v != NULL && strcmp(v, idx) == 0)
			return &hh->entries[i];
	}
	return NULL;
}

int
member_household_set(struct request *rq, const struct myldap_entry *e, enum household_attr a,
		     const char *value)
{
	struct myldap_mod mod = { MYLDAP_MOD_REPLACE, household_attrs[a], value };
	int rc = myldap_modify(rq->ld, e->dn, &mod, 1);

	if (rc == MYLDAP_OK)
		return KENPO_RES_OK;
	return rc == MYLDAP_CHANGED ? KENPO_RES_NOTFOUND :
	       rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL :
				      KENPO_RES_INTERNAL;
}
