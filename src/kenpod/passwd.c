/*
 * passwd.c - passwd lookups of members (see passwd.h).
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "config.h"
#include "home.h"
#include "localname.h"
#include "log.h"
#include "member.h"
#include "myldap.h"
#include "passwd.h"
#include "policy.h"
#include "pubmap.h"
#include "schema.h"

/* The attributes read, in this order (see ATTR_*).  The searches ask for
 * users only; the follower reads every member and judges the last two. */
const char *const passwd_attrs[] = { KENPO_AT_UID,       KENPO_AT_UIDNUMBER,
				     KENPO_AT_GIDNUMBER, KENPO_AT_NICKNAME,
				     KENPO_AT_NUMBER,    KENPO_AT_STATE,
				     KENPO_AT_DISABLED,  NULL };
enum {
	ATTR_UID,
	ATTR_UIDNUMBER,
	ATTR_GIDNUMBER,
	ATTR_NICKNAME,
	ATTR_NUMBER,
	ATTR_STATE,
	ATTR_DISABLED
};

/* Only registered members who are not disabled are users. */
#define MEMBER_FILTER \
	"(&" KENPO_FILTER_MEMBER "%s(" KENPO_AT_STATE "=" KENPO_STATE_REGISTERED \
	")" KENPO_FILTER_NOT_DISABLED ")"
#define FILTER_MAX 512

/* PASSWD_ALL reads at most this many members; a directory larger than
 * that should not be enumerated at all (enumerate = no, the default). */
#define ENUM_MAX 100000

/* The nickname as a GECOS field: a colon, a comma (the GECOS separator)
 * or a control character would break /etc/passwd-style output, so they
 * become spaces.  Other bytes (UTF-8 nicknames) pass unchanged. */
static void
gecos_from_nickname(const char *nick, char *out, size_t outsz)
{
	size_t i;
	unsigned char c;

	for (i = 0; nick[i] != '\0' && i + 1 < outsz; i++) {
		c = (unsigned char)nick[i];
		out[i] = (c < 0x20 || c == 0x7f || c == ':' || c == ',') ? ' ' : (char)c;
	}
	out[i] = '\0';
}

/* A member number usable in a path: digits and letters only. */
static int
number_plausible(const char *s)
{
	size_t len = s != NULL ? strlen(s) : 0;

	return len > 0 && len <= 32 &&
	       strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "abcdefghijklmnopqrstuvwxyz") == len;
}

/* Turn one directory entry into a record.  Entries that break the rules
 * (several uids, a uid number outside the society's range, gid 0, ...)
 * are refused: the caller logs them and treats them as absent. */
static int
entry_to_rec(const struct kenpo_society *soc, const struct myldap_entry *e,
	     struct kenpo_pwrec *rec, size_t recsz, const char **why)
{
	const char *login = myldap_value(e, ATTR_UID), *nick = myldap_value(e, ATTR_NICKNAME);
	const char *number = myldap_value(e, ATTR_NUMBER);
	unsigned long long uid, gid;
	char home[KENPO_PWREC_STR_MAX], gecos[KENPO_PWREC_STR_MAX];

	*why = "not exactly one uid, uidNumber and gidNumber";
	if (myldap_nvalues(e, ATTR_UID) != 1 || myldap_nvalues(e, ATTR_UIDNUMBER) != 1 ||
	    myldap_nvalues(e, ATTR_GIDNUMBER) != 1)
		return -1;
	*why = "uid is not a valid login ID";
	if (!member_login_plausible(login, strlen(login)))
		return -1;
	*why = "uidNumber outside the society's range";
	if (kenpo_parse_ulong(myldap_value(e, ATTR_UIDNUMBER), soc->uid_min, soc->uid_max,
			      &uid) != 0)
		return -1;
	*why = "gidNumber invalid or 0";
	if (kenpo_parse_ulong(myldap_value(e, ATTR_GIDNUMBER), 1, 0xfffffffeULL, &gid) != 0)
		return -1;
	*why = "home directory cannot be made from the template";
	if (kenpo_home_expand(soc->home_template, login, number_plausible(number) ? number : NULL,
			      home, sizeof home) != 0)
		return -1;
	gecos_from_nickname(nick != NULL ? nick : "", gecos, sizeof gecos);
	*why = "record too large";
	return kenpo_pwrec_build(rec, recsz, login, (uint32_t)uid, (uint32_t)gid, gecos, home,
				 soc->shell);
}

/*
 * Whether the name or the uid of a record is an account of this host that
 * another NSS source knows.  Login IDs like that are refused when they are
 * chosen, but the directory may hold one from before, from another host's
 * kenpod or from an administrator's ldapmodify: it is never answered, so
 * that no member ever shadows root or a service account, whatever the
 * order of nsswitch.conf.  `every` says the whole membership is being
 * read (the passwd map): then only the lists the sources enumerate are
 * consulted (localname.h), as asking every source for each of a million
 * members would take minutes.
 */
static int
host_owns(const struct kenpo_pwrec *rec, int every, const char **why)
{
	const char *name = kenpo_pwrec_str(rec, rec->name);
	struct passwd pw, *pwp = NULL;
	char buf[1024];

	if (every ? kenpo_localname_listed(name, strlen(name)) :
		    kenpo_localname_on_host(name, strlen(name))) {
		*why = "uid names an account of this host";
		return 1;
	}
	if (every ? kenpo_localuid_listed(rec->uid) :
		    getpwuid_r((uid_t)rec->uid, &pw, buf, sizeof buf, &pwp) == 0 && pwp != NULL) {
		*why = "uidNumber is an account of this host";
		return 1;
	}
	return 0;
}

void
passwd_log_bad_entry(const struct myldap_entry *e, const char *why)
{
	char esc[LOG_ESCAPE_MAX];

	log_msg(LOG_ERR, "entry %.200s ignored: %s", log_escape(e->dn, strlen(e->dn), esc), why);
}

/* Whether the entry is a user: registered and not disabled (what
 * MEMBER_FILTER asks the directory for). */
static int
is_user(const struct myldap_entry *e)
{
	const char *state = myldap_value(e, ATTR_STATE),
		   *disabled = myldap_value(e, ATTR_DISABLED);

	return state != NULL && strcasecmp(state, KENPO_STATE_REGISTERED) == 0 &&
	       (disabled == NULL || strcasecmp(disabled, KENPO_TRUE) != 0);
}

int
passwd_entry_rec(const struct kenpo_society *soc, const struct myldap_entry *e,
		 struct kenpo_pwrec *rec, size_t recsz, const char **why)
{
	*why = NULL;
	if (!is_user(e))
		return 1;
	if (entry_to_rec(soc, e, rec, recsz, why) != 0 || host_owns(rec, 1, why))
		return -1;
	return 0;
}

struct found {
	size_t seen; /* valid records read, accepted or not */
	size_t count;
	struct kenpo_pwrec *rec; /* the first match, KENPO_PWREC_MAX bytes */
	int (*accept)(const struct kenpo_pwrec *rec, const void *arg);
	const void *arg;
};

/* Search one society for `assertion`; add what matches to f.  A kenpo_result. */
static int
search_society(struct request *rq, const struct kenpo_society *soc, const char *assertion,
	       struct found *f)
{
	char filter[FILTER_MAX];
	_Alignas(struct kenpo_pwrec) unsigned char buf[KENPO_PWREC_MAX];
	struct kenpo_pwrec *rec = (struct kenpo_pwrec *)(void *)buf;
	struct myldap_result *res = NULL;
	const char *why;
	size_t i;
	int rc;

	if (snprintf(filter, sizeof filter, MEMBER_FILTER, assertion) >= (int)sizeof filter)
		return KENPO_RES_NOTFOUND;
	rc = myldap_search(rq->ld, soc->base, filter, passwd_attrs, 2, &res);
	if (rc != MYLDAP_OK)
		return rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
	if (res->truncated)
		f->count++; /* more than the two read: a duplicate in any case */
	for (i = 0; i < res->nentries; i++) {
		if (entry_to_rec(soc, &res->entries[i], rec, sizeof buf, &why) != 0 ||
		    host_owns(rec, 0, &why)) {
			passwd_log_bad_entry(&res->entries[i], why);
			continue;
		}
		f->seen++;
		if (!f->accept(rec, f->arg))
			continue;
		if (f->count++ == 0)
			memcpy(f->rec, rec, rec->size);
	}
	myldap_result_free(res);
	return KENPO_RES_OK;
}

/* Search the societies that `wanted` selects.  A kenpo_result; on OK the
 * single matching member is in f->rec. */
static int
find_member(struct request *rq, const char *assertion,
	    int (*wanted)(const struct kenpo_society *soc, const void *arg), struct found *f)
{
	const struct kenpo_config *cfg = rq->kd->cfg;
	size_t i;
	int rc;

	for (i = 0; i < cfg->nsocieties; i++) {
		if (!wanted(&cfg->societies[i], f->arg))
			continue;
		rc = search_society(rq, &cfg->societies[i], assertion, f);
		if (rc != KENPO_RES_OK)
			return rc;
	}
	if (f->count > 1) {
		log_msg(LOG_ERR, "%zu members match %.200s; answering \"not found\"", f->count,
			assertion);
		return KENPO_RES_NOTFOUND;
	}
	return f->count == 1 ? KENPO_RES_OK : KENPO_RES_NOTFOUND;
}

static void
put_pwrec(struct kenpo_buf *out, const struct kenpo_pwrec *r)
{
	kenpo_put_cstring(out, kenpo_pwrec_str(r, r->name));
	kenpo_put_cstring(out, kenpo_pwrec_str(r, r->passwd));
	kenpo_put_int32(out, (int32_t)r->uid);
	kenpo_put_int32(out, (int32_t)r->gid);
	kenpo_put_cstring(out, kenpo_pwrec_str(r, r->gecos));
	kenpo_put_cstring(out, kenpo_pwrec_str(r, r->home));
	kenpo_put_cstring(out, kenpo_pwrec_str(r, r->shell));
}

/* Write the answer of a lookup: from the passwd map or the cache (hit),
 * else the directory's outcome rc with its record.  A kenpo_result. */
static int
answer(enum pubmap_hit map, enum cache_hit hit, struct kenpo_pwrec *rec, int rc,
       struct kenpo_buf *out)
{
	if (map == PUBMAP_HIT || hit == CACHE_POSITIVE)
		rc = KENPO_RES_OK;
	else if (hit == CACHE_NEGATIVE)
		rc = KENPO_RES_NOTFOUND;
	if (rc == KENPO_RES_OK)
		put_pwrec(out, rec);
	log_msg(LOG_DEBUG, "%s%s",
		map == PUBMAP_HIT || map == PUBMAP_ABSENT ? "map: " :
		hit != CACHE_MISS                         ? "cached: " :
							    "",
		rc == KENPO_RES_OK       ? "found" :
		rc == KENPO_RES_NOTFOUND ? "not found" :
		rc == KENPO_RES_UNAVAIL  ? "directory unavailable" :
					   "failed");
	return rc;
}

/*
 * The cache's word on a key the map could not answer.  While the map is
 * usable it holds every member, so only "no such user" answers of the
 * cache count (members found in the directory are not cached then: the
 * map has them, or will within a moment); without a map the cache answers
 * both.  A map in step with the directory answers misses itself
 * (PUBMAP_ABSENT), and the cache is not asked at all.
 */
static enum cache_hit
cache_word(enum pubmap_hit map, enum cache_hit hit)
{
	return map == PUBMAP_MISS && hit == CACHE_POSITIVE ? CACHE_MISS : hit;
}

/* ---- PASSWD_BYNAME ---- */

static int
society_any(const struct kenpo_society *soc, const void *arg)
{
	return 1;
}

/* The directory compares uid without regard to case; passwd names are
 * compared byte for byte, as glibc's files module does, so that a program
 * never gets a record whose pw_name differs from the name it asked for
 * ("ROOT" is not "root"). */
static int
same_name(const struct kenpo_pwrec *rec, const void *arg)
{
	return strcmp(kenpo_pwrec_str(rec, rec->name), arg) == 0;
}

int
passwd_byname(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	char name[KENPO_LOGIN_ID_MAX + 1], esc[LOG_ESCAPE_MAX];
	char value[3 * KENPO_LOGIN_ID_MAX + 1], assertion[3 * KENPO_LOGIN_ID_MAX + 8];
	_Alignas(struct kenpo_pwrec) unsigned char buf[KENPO_PWREC_MAX];
	struct kenpo_pwrec *rec = (struct kenpo_pwrec *)(void *)buf;
	struct found f = { 0, 0, rec, same_name, name };
	enum pubmap_hit map;
	enum cache_hit hit = CACHE_MISS;
	const char *s;
	size_t len;
	int rc = KENPO_RES_NOTFOUND;

	kenpo_get_string_ref(in, &s, &len);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("passwd byname=%.100s", log_escape(s, len, esc));
	if (!member_login_plausible(s, len)) {
		log_msg(LOG_DEBUG, "not a login ID");
		return KENPO_RES_NOTFOUND;
	}
	memcpy(name, s, len);
	name[len] = '\0';
	map = pubmap_byname(rq->kd->map, name, rec, sizeof buf);
	if (map == PUBMAP_ABSENT)
		return answer(map, hit, rec, KENPO_RES_NOTFOUND, out);
	if (map != PUBMAP_HIT)
		hit = cache_word(map, cache_get_byname(rq->kd->cache, name, rec, sizeof buf));
	/* The cache is keyed without regard to case. */
	if (hit == CACHE_POSITIVE && !same_name(rec, name))
		hit = CACHE_NEGATIVE;
	if (map != PUBMAP_HIT && hit == CACHE_MISS) {
		/* The name is plain already, but every filter value is escaped. */
		if (myldap_escape(name, len, value, sizeof value) != 0)
			return KENPO_RES_INTERNAL;
		(void)snprintf(assertion, sizeof assertion, "(" KENPO_AT_UID "=%s)", value);
		rc = find_member(rq, assertion, society_any, &f);
		if (rc == KENPO_RES_OK && map == PUBMAP_NONE)
			cache_put(rq->kd->cache, rec);
		else if (rc == KENPO_RES_NOTFOUND && f.seen == 0)
			/* Not when another spelling of the name exists: the
			 * cache key would stand for that member too. */
			cache_put_missing_name(rq->kd->cache, name);
	}
	return answer(map, hit, rec, rc, out);
}

/* ---- PASSWD_BYUID ---- */

static int
society_has_uid(const struct kenpo_society *soc, const void *arg)
{
	uint32_t uid = *(const uint32_t *)arg;

	return uid >= soc->uid_min && uid <= soc->uid_max;
}

static int
same_uid(const struct kenpo_pwrec *rec, const void *arg)
{
	return rec->uid == *(const uint32_t *)arg;
}

static int
uid_in_any_society(const struct kenpo_config *cfg, uint32_t uid)
{
	size_t i;

	for (i = 0; i < cfg->nsocieties; i++)
		if (society_has_uid(&cfg->societies[i], &uid))
			return 1;
	return 0;
}

int
passwd_byuid(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	_Alignas(struct kenpo_pwrec) unsigned char buf[KENPO_PWREC_MAX];
	struct kenpo_pwrec *rec = (struct kenpo_pwrec *)(void *)buf;
	uint32_t uid;
	struct found f = { 0, 0, rec, same_uid, &uid };
	char assertion[32];
	enum pubmap_hit map;
	enum cache_hit hit = CACHE_MISS;
	int rc = KENPO_RES_NOTFOUND;

	uid = (uint32_t)kenpo_get_int32(in);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("passwd byuid=%lu", (unsigned long)uid);
	/* System accounts (uid 0 and the like) never reach the directory. */
	if (!uid_in_any_society(rq->kd->cfg, uid))
		return KENPO_RES_NOTFOUND;
	map = pubmap_byuid(rq->kd->map, uid, rec, sizeof buf);
	if (map == PUBMAP_ABSENT)
		return answer(map, hit, rec, KENPO_RES_NOTFOUND, out);
	if (map != PUBMAP_HIT)
		hit = cache_word(map, cache_get_byuid(rq->kd->cache, uid, rec, sizeof buf));
	if (map != PUBMAP_HIT && hit == CACHE_MISS) {
		(void)snprintf(assertion, sizeof assertion, "(" KENPO_AT_UIDNUMBER "=%lu)",
			       (unsigned long)uid);
		rc = find_member(rq, assertion, society_has_uid, &f);
		if (rc == KENPO_RES_OK && map == PUBMAP_NONE)
			cache_put(rq->kd->cache, rec);
		else if (rc == KENPO_RES_NOTFOUND && f.count == 0)
			cache_put_missing_uid(rq->kd->cache, uid);
	}
	return answer(map, hit, rec, rc, out);
}

/* ---- PASSWD_ALL ---- */

/* Read every member of one society into *recs (grown as needed).  A
 * kenpo_result. */
static int
list_society(struct request *rq, const struct kenpo_society *soc, struct kenpo_pwrec ***recs,
	     size_t *n)
{
	char filter[FILTER_MAX];
	_Alignas(struct kenpo_pwrec) unsigned char buf[KENPO_PWREC_MAX];
	struct kenpo_pwrec *rec = (struct kenpo_pwrec *)(void *)buf, **grown;
	struct myldap_result *res = NULL;
	const char *why;
	size_t i;
	int rc = KENPO_RES_INTERNAL;

	(void)snprintf(filter, sizeof filter, MEMBER_FILTER, "");
	rc = myldap_search(rq->ld, soc->base, filter, passwd_attrs, ENUM_MAX, &res);
	if (rc != MYLDAP_OK)
		return rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
	if (res->truncated)
		log_msg(LOG_WARNING,
			"society %.100s: more members than can be "
			"enumerated; the list is cut short",
			soc->id);
	grown = realloc(*recs, (*n + res->nentries + 1) * sizeof(*grown));
	if (grown == NULL)
		goto done;
	*recs = grown;
	for (i = 0; i < res->nentries; i++) {
		if (entry_to_rec(soc, &res->entries[i], rec, sizeof buf, &why) != 0 ||
		    host_owns(rec, 0, &why)) {
			passwd_log_bad_entry(&res->entries[i], why);
			continue;
		}
		(*recs)[*n] = malloc(rec->size);
		if ((*recs)[*n] == NULL)
			goto done;
		memcpy((*recs)[*n], rec, rec->size);
		(*n)++;
	}
	rc = KENPO_RES_OK;
done:
	myldap_result_free(res);
	return rc;
}

/* The snapshot of all members, from the cache or freshly read. */
static int
member_list(struct request *rq, struct cache_list **out)
{
	const struct kenpo_config *cfg = rq->kd->cfg;
	struct kenpo_pwrec **recs = NULL;
	struct cache_list *l;
	size_t i, n = 0;
	int rc = KENPO_RES_OK;

	l = cache_list_get(rq->kd->cache);
	if (l != NULL) {
		*out = l;
		return KENPO_RES_OK;
	}
	for (i = 0; i < cfg->nsocieties && rc == KENPO_RES_OK; i++)
		rc = list_society(rq, &cfg->societies[i], &recs, &n);
	if (rc != KENPO_RES_OK) {
		while (n > 0)
			free(recs[--n]);
		free(recs);
		return rc;
	}
	l = cache_list_put(rq->kd->cache, recs, n);
	if (l == NULL)
		return KENPO_RES_INTERNAL;
	*out = l;
	return KENPO_RES_OK;
}

/* Bytes that put_pwrec writes for r. */
static size_t
pwrec_wire_size(const struct kenpo_pwrec *r)
{
	return 7 * 4 + strlen(kenpo_pwrec_str(r, r->name)) +
	       strlen(kenpo_pwrec_str(r, r->passwd)) + strlen(kenpo_pwrec_str(r, r->gecos)) +
	       strlen(kenpo_pwrec_str(r, r->home)) + strlen(kenpo_pwrec_str(r, r->shell));
}

int
passwd_all(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	struct cache_list *l = NULL;
	const struct kenpo_pwrec *r;
	size_t i, count = 0, countpos;
	int32_t offset;
	uint32_t word;
	int rc;

	offset = kenpo_get_int32(in);
	if (kenpo_frame_close(in) != 0 || offset < 0)
		return KENPO_RES_BADREQ;
	log_setrequest("passwd all offset=%ld", (long)offset);
	if (!rq->kd->cfg->enumerate)
		return KENPO_RES_DENIED;
	rc = member_list(rq, &l);
	if (rc != KENPO_RES_OK)
		return rc;
	countpos = out->len;
	kenpo_put_int32(out, 0);
	/* As many records as fit in one frame, leaving room for the offset. */
	for (i = (size_t)offset; (r = cache_list_at(l, i)) != NULL; i++) {
		if (pwrec_wire_size(r) + 4 > out->cap - out->len)
			break;
		put_pwrec(out, r);
		count++;
	}
	kenpo_put_int32(out, cache_list_at(l, i) != NULL ? (int32_t)i : -1);
	word = htonl((uint32_t)count);
	if (!out->err)
		memcpy(out->data + countpos, &word, sizeof word);
	log_msg(LOG_DEBUG, "%zu of %zu members sent", count, cache_list_count(l));
	cache_list_release(l);
	return KENPO_RES_OK;
}
