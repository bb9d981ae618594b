/*
 * token.c - tokens and rate counters in the directory (see token.h).
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

#include "config.h"
#include "gentime.h"
#include "kenpo-proto.h"
#include "log.h"
#include "mailer.h"
#include "member.h"
#include "myldap.h"
#include "policy.h"
#include "request.h"
#include "schema.h"
#include "token.h"

#define TOKEN_DOMAIN "token"     /* keyed-hash domain of URL tokens, tickets */
#define AUTHKEY_DOMAIN "authkey" /* of the on-screen 認証キー */
#define RATE_DOMAIN "rate"       /* of counted values (mail addresses) */
#define FILTER_MAX 512
#define UPDATE_TRIES 4 /* reads of a counter that keeps changing */
#define VOID_MAX 50    /* tokens of one member voided at once */
#define RATE_VALUE_MAX 512
#define URL_MAX 2048

static const char *const kind_names[] = {
	[KENPO_TOKEN_GUIDE] = "guide",   [KENPO_TOKEN_IDENTITY] = "identity",
	[KENPO_TOKEN_RESET] = "reset",   [KENPO_TOKEN_REGISTRATION] = "registration",
	[KENPO_TOKEN_TICKET] = "ticket",
};

const char *
token_kind_name(int kind)
{
	if (kind <= 0 || (size_t)kind >= sizeof kind_names / sizeof kind_names[0])
		return NULL;
	return kind_names[kind];
}

static int
kind_of_name(const char *name)
{
	size_t i;

	for (i = 1; name != NULL && i < sizeof kind_names / sizeof kind_names[0]; i++)
		if (strcasecmp(name, kind_names[i]) == 0)
			return (int)i;
	return 0;
}

/* The attributes of a token entry, in the order of enum below. */
static const char *const token_attrs[] = {
	KENPO_AT_TOKEN_HASH,   KENPO_AT_TOKEN_KIND,      KENPO_AT_TOKEN_EXPIRY,
	KENPO_AT_TOKEN_MAIL,   KENPO_AT_TOKEN_MEMBER,    KENPO_AT_TOKEN_TRIES,
	KENPO_AT_AUTHKEY_HASH, KENPO_AT_TOKEN_NOT_AFTER, NULL
};
enum { TA_HASH, TA_KIND, TA_EXPIRY, TA_MAIL, TA_MEMBER, TA_TRIES, TA_AUTHKEY, TA_NOT_AFTER };

static int
keyed(const struct request *rq, const char *domain, const char *value,
      char out[KENPO_KEYED_HASH_HEX])
{
	if (!rq->kd->have_secret) {
		log_msg(LOG_ERR, "no server secret: tokens cannot be used");
		return -1;
	}
	return kenpo_keyed_hash_hex(rq->kd->secret, domain, value, strlen(value), out,
				    KENPO_KEYED_HASH_HEX);
}

static int
token_dn(const struct kenpo_society *soc, const char *hash, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, KENPO_AT_TOKEN_HASH "=%s," KENPO_RDN_TOKENS ",%s", hash,
			 soc->base);

	return n > 0 && (size_t)n < outsz ? 0 : -1;
}

/* Copy a value that may be absent ("" then); -1 if it does not fit. */
static int
copy_opt(const char *v, char *out, size_t outsz)
{
	size_t len = v != NULL ? strlen(v) : 0;

	if (len >= outsz)
		return -1;
	memcpy(out, v != NULL ? v : "", len + 1);
	return 0;
}

/* ---- storing ---- */

/* What a token entry holds, as text. */
struct stored {
	int kind;
	const char *expiry;
	const char *mail, *member, *authkey_hash, *tries, *not_after; /* NULL: none */
};

/* Store the entry of an existing hash. */
static int
store(struct request *rq, const struct kenpo_society *soc, const char *hash,
      const struct stored *st)
{
	const char *mail = st->mail, *member = st->member, *authkey_hash = st->authkey_hash;
	struct myldap_mod a[12];
	int kind = st->kind;
	char dn[TOKEN_DN_MAX];
	size_t n = 0;
	int rc;

	if (token_dn(soc, hash, dn, sizeof dn) != 0 || token_kind_name(kind) == NULL)
		return KENPO_RES_INTERNAL;
	a[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_OBJECTCLASS, KENPO_OC_TOKEN };
	a[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_TOKEN_HASH, hash };
	a[n++] =
		(struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_TOKEN_KIND, token_kind_name(kind) };
	a[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_TOKEN_EXPIRY, st->expiry };
	if (mail != NULL && mail[0] != '\0')
		a[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_TOKEN_MAIL, mail };
	if (member != NULL && member[0] != '\0')
		a[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_TOKEN_MEMBER, member };
	if (authkey_hash != NULL && authkey_hash[0] != '\0')
		a[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_AUTHKEY_HASH,
					      authkey_hash };
	if (st->tries != NULL)
		a[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_TOKEN_TRIES, st->tries };
	if (st->not_after != NULL)
		a[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_TOKEN_NOT_AFTER,
					      st->not_after };
	rc = myldap_add(rq->ld, dn, a, n);
	if (rc == MYLDAP_OK)
		return KENPO_RES_OK;
	/* A collision of 192 random bits, or a restore racing a restore. */
	return rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
}

/* ---- cleaning up ----
 *
 * Links that were never used and counters of past windows would pile up.
 * The dds overlay could remove them, but its TTL can only be set with the
 * Refresh operation and would cut a link configured to last longer than
 * the server's default TTL short; so kenpod removes them itself: now and
 * then (one creation in SWEEP_ONE_IN), the entries older than a day past
 * their end, a few at a time.  For that day an expired link is still
 * answered "expired" rather than "unknown".
 */
#define SWEEP_ONE_IN 16
#define SWEEP_MAX 20
#define SWEEP_GRACE_MS (24LL * 3600 * 1000)

static void
sweep_one(struct request *rq, const char *base, const char *attr)
{
	static const char *const attrs[] = { "1.1", NULL };
	char filter[FILTER_MAX], when[32];
	struct myldap_result *res = NULL;
	size_t i;

	if (kenpo_gentime_format(kenpo_gentime_now() - SWEEP_GRACE_MS, 0, when, sizeof when) != 0)
		return;
	(void)snprintf(filter, sizeof filter, "(%s<=%s)", attr, when);
	if (myldap_search(rq->ld, base, filter, attrs, SWEEP_MAX, &res) != MYLDAP_OK)
		return;
	for (i = 0; i < res->nentries; i++)
		(void)myldap_delete(rq->ld, res->entries[i].dn);
	if (res->nentries > 0)
		log_msg(LOG_DEBUG, "removed %zu old entries under %.200s", res->nentries, base);
	myldap_result_free(res);
}

static void
sweep(struct request *rq, const struct kenpo_society *soc)
{
	char base[TOKEN_DN_MAX];

	if (randombytes_uniform(SWEEP_ONE_IN) != 0)
		return;
	(void)snprintf(base, sizeof base, KENPO_RDN_TOKENS ",%s", soc->base);
	sweep_one(rq, base, KENPO_AT_TOKEN_EXPIRY);
	(void)snprintf(base, sizeof base, KENPO_RDN_RATES ",%s", soc->base);
	sweep_one(rq, base, KENPO_AT_RATE_WINDOW);
}

int
token_create(struct request *rq, const struct kenpo_society *soc, const struct token_spec *spec,
	     char *out, size_t outsz)
{
	char text[KENPO_TOKEN_LEN + 1], hash[KENPO_KEYED_HASH_HEX];
	char akhash[KENPO_KEYED_HASH_HEX] = "", expiry[32], not_after[32];
	struct stored st = { spec->kind, expiry, spec->mail, spec->member, akhash, NULL, NULL };
	int rc = KENPO_RES_INTERNAL;

	if (outsz < sizeof text || kenpo_gen_token(text, sizeof text) != 0)
		return KENPO_RES_INTERNAL;
	if (keyed(rq, TOKEN_DOMAIN, text, hash) != 0 ||
	    (spec->authkey != NULL && keyed(rq, AUTHKEY_DOMAIN, spec->authkey, akhash) != 0) ||
	    kenpo_gentime_format(spec->expiry, 1, expiry, sizeof expiry) != 0 ||
	    (spec->not_after != 0 &&
	     kenpo_gentime_format(spec->not_after, 1, not_after, sizeof not_after) != 0))
		goto done;
	if (spec->not_after != 0)
		st.not_after = not_after;
	rc = store(rq, soc, hash, &st);
	if (rc == KENPO_RES_OK) {
		memcpy(out, text, sizeof text);
		sweep(rq, soc);
	}
done:
	kenpo_wipe(text, sizeof text);
	return rc;
}

int
token_restore(struct request *rq, const struct token *t)
{
	char tries[16];
	struct stored st = { t->kind,
			     t->expiry_text,
			     t->mail,
			     t->member,
			     t->authkey_hash,
			     t->has_tries ? tries : NULL,
			     t->not_after_text[0] != '\0' ? t->not_after_text : NULL };

	(void)snprintf(tries, sizeof tries, "%u", t->tries);
	return store(rq, t->soc, t->hash, &st);
}

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

/* token_mail, or with stand_in, token_mail_decoy's work: a stand-in
 * token (token_decoy, `writes`) and the mail composed and dropped. */
static int
mail_link(struct request *rq, const struct kenpo_society *soc, const struct token_spec *spec,
	  int stand_in, int writes, enum kenpo_mail_kind kind, const char *url_tmpl,
	  long validity, const struct kenpo_var *extra, size_t nextra, const char *to)
{
	struct kenpo_var vars[2 + TOKEN_MAIL_EXTRA_MAX];
	char token[KENPO_TOKEN_LEN + 1], url[URL_MAX], dur[64];
	int rc = KENPO_RES_OK;

	if (nextra > TOKEN_MAIL_EXTRA_MAX ||
	    kenpo_duration_format(soc->lang, validity, dur, sizeof dur) != 0)
		return KENPO_RES_INTERNAL;
	if (stand_in) {
		token_decoy(rq, soc, spec->kind, writes);
		if (kenpo_gen_token(token, sizeof token) != 0)
			return KENPO_RES_INTERNAL;
	} else if ((rc = token_create(rq, soc, spec, token, sizeof token)) != KENPO_RES_OK) {
		return rc;
	}
	if (link_of(url_tmpl, token, url, sizeof url) != 0) {
		log_msg(LOG_ERR, "society %.100s: the link cannot be made", soc->id);
		rc = KENPO_RES_INTERNAL;
		goto done;
	}
	vars[0] = (struct kenpo_var){ "URL", url };
	vars[1] = (struct kenpo_var){ "VALIDITY", dur };
	if (nextra > 0)
		memcpy(vars + 2, extra, nextra * sizeof(*extra));
	if (stand_in)
		mailer_compose_only(soc, kind, vars, 2 + nextra, to);
	else if (mailer_queue(soc, kind, vars, 2 + nextra, to) != 0)
		rc = KENPO_RES_MAIL_FAILED;
done:
	kenpo_wipe(url, sizeof url);
	kenpo_wipe(token, sizeof token);
	return rc;
}

int
token_mail(struct request *rq, const struct kenpo_society *soc, const struct token_spec *spec,
	   enum kenpo_mail_kind kind, const char *url_tmpl, long validity,
	   const struct kenpo_var *extra, size_t nextra, const char *to)
{
	return mail_link(rq, soc, spec, 0, 0, kind, url_tmpl, validity, extra, nextra, to);
}

void
token_mail_decoy(struct request *rq, const struct kenpo_society *soc, int token_kind, int writes,
		 enum kenpo_mail_kind kind, const char *url_tmpl, long validity,
		 const struct kenpo_var *extra, size_t nextra, const char *to)
{
	struct token_spec spec = { token_kind, 0, NULL, NULL, NULL, 0 };

	(void)mail_link(rq, soc, &spec, 1, writes, kind, url_tmpl, validity, extra, nextra, to);
}

_Static_assert(TOKEN_DN_MAX <= REQUEST_DN_MAX, "a token's DN fits rq->delete_after");

void
token_decoy(struct request *rq, const struct kenpo_society *soc, int kind, int writes)
{
	struct token_spec spec = { kind, 0, NULL, NULL, NULL, 0 };
	char token[KENPO_TOKEN_LEN + 1], hash[KENPO_KEYED_HASH_HEX], dn[TOKEN_DN_MAX];

	spec.expiry = kenpo_gentime_now();
	if (token_create(rq, soc, &spec, token, sizeof token) != KENPO_RES_OK ||
	    keyed(rq, TOKEN_DOMAIN, token, hash) != 0 ||
	    token_dn(soc, hash, dn, sizeof dn) != 0) {
		log_msg(LOG_WARNING, "the stand-in token could not be made");
	} else if (writes < 2) {
		memcpy(rq->delete_after, dn, sizeof dn);
	} else if (myldap_delete(rq->ld, dn) != MYLDAP_OK) {
		log_msg(LOG_WARNING, "the stand-in token could not be removed");
	}
	kenpo_wipe(token, sizeof token);
}

/* ---- profile tickets ---- */

int
token_ticket_issue(struct request *rq, const char *member_dn, char *out, size_t outsz)
{
	const struct kenpo_society *soc = member_society_of_dn(rq, member_dn);
	struct token_spec spec = { KENPO_TOKEN_TICKET, 0, NULL, member_dn, NULL, 0 };
	int64_t now = kenpo_gentime_now();

	if (soc == NULL) {
		log_msg(LOG_ERR, "%.200s is in no society: no ticket", member_dn);
		return KENPO_RES_INTERNAL;
	}
	spec.not_after = now + (int64_t)soc->session_lifetime * 1000;
	spec.expiry = now + (int64_t)soc->session_idle * 1000;
	if (spec.expiry > spec.not_after)
		spec.expiry = spec.not_after;
	return token_create(rq, soc, &spec, out, outsz);
}

int
token_ticket_touch(struct request *rq, struct token *t)
{
	int64_t idle = (int64_t)t->soc->session_idle * 1000, until = kenpo_gentime_now() + idle;
	struct myldap_mod m;
	char text[32];
	int rc;

	if (t->not_after != 0 && until > t->not_after)
		until = t->not_after;
	if (until - t->expiry <= idle / 10)
		return KENPO_RES_OK;
	if (kenpo_gentime_format(until, 1, text, sizeof text) != 0)
		return KENPO_RES_INTERNAL;
	/* Last writer wins: two uses at once both move the end to about now. */
	m = (struct myldap_mod){ MYLDAP_MOD_REPLACE, KENPO_AT_TOKEN_EXPIRY, text };
	rc = myldap_modify(rq->ld, t->dn, &m, 1);
	if (rc == MYLDAP_OK) {
		t->expiry = until;
		return KENPO_RES_OK;
	}
	return rc == MYLDAP_CHANGED ? KENPO_RES_TOKEN_INVALID :
	       rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL :
				      KENPO_RES_INTERNAL;
}

int
token_ticket_end(struct request *rq, const struct token *t)
{
	int rc = myldap_delete(rq->ld, t->dn);

	return rc == MYLDAP_OK || rc == MYLDAP_CHANGED ? KENPO_RES_OK :
	       rc == MYLDAP_UNAVAIL                    ? KENPO_RES_UNAVAIL :
							 KENPO_RES_INTERNAL;
}

/* ---- reading ---- */

static int
entry_to_token(const struct kenpo_society *soc, const struct myldap_entry *e, struct token *t)
{
	const char *tries = myldap_value(e, TA_TRIES);
	unsigned long long n = 0;

	memset(t, 0, sizeof(*t));
	t->soc = soc;
	t->kind = kind_of_name(myldap_value(e, TA_KIND));
	if (t->kind == 0 || copy_opt(e->dn, t->dn, sizeof t->dn) != 0 ||
	    copy_opt(myldap_value(e, TA_HASH), t->hash, sizeof t->hash) != 0 ||
	    copy_opt(myldap_value(e, TA_EXPIRY), t->expiry_text, sizeof t->expiry_text) != 0 ||
	    kenpo_gentime_parse(t->expiry_text, &t->expiry) != 0 ||
	    copy_opt(myldap_value(e, TA_MAIL), t->mail, sizeof t->mail) != 0 ||
	    copy_opt(myldap_value(e, TA_MEMBER), t->member, sizeof t->member) != 0 ||
	    copy_opt(myldap_value(e, TA_AUTHKEY), t->authkey_hash, sizeof t->authkey_hash) != 0 ||
	    copy_opt(myldap_value(e, TA_NOT_AFTER), t->not_after_text,
		     sizeof t->not_after_text) != 0 ||
	    (t->not_after_text[0] != '\0' &&
	     kenpo_gentime_parse(t->not_after_text, &t->not_after) != 0))
		return -1;
	if (tries != NULL) {
		if (kenpo_parse_ulong(tries, 0, 1000000, &n) != 0)
			return -1;
		t->has_tries = 1;
		t->tries = (unsigned)n;
	}
	return 0;
}

/* Look for the hash in one society.  A kenpo_result; *found is set. */
static int
find_in(struct request *rq, const struct kenpo_society *soc, const char *hash, struct token *t,
	int *found)
{
	char base[TOKEN_DN_MAX], filter[FILTER_MAX];
	struct myldap_result *res = NULL;
	int rc;

	(void)snprintf(base, sizeof base, KENPO_RDN_TOKENS ",%s", soc->base);
	(void)snprintf(filter, sizeof filter,
		       "(&" KENPO_FILTER_TOKEN "(" KENPO_AT_TOKEN_HASH "=%s))", hash);
	rc = myldap_search(rq->ld, base, filter, token_attrs, 2, &res);
	if (rc != MYLDAP_OK)
		return rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
	rc = KENPO_RES_OK;
	if (res->nentries == 1) {
		if (entry_to_token(soc, &res->entries[0], t) == 0) {
			*found = 1;
		} else {
			log_msg(LOG_ERR, "token entry %.200s is malformed; ignored",
				res->entries[0].dn);
		}
	}
	myldap_result_free(res);
	return rc;
}

int
token_get(struct request *rq, const char *text, int kind, struct token *t)
{
	const struct kenpo_config *cfg = rq->kd->cfg;
	char hash[KENPO_KEYED_HASH_HEX];
	size_t i;
	int rc = KENPO_RES_OK, found = 0;

	if (!kenpo_token_is_wellformed(text))
		return KENPO_RES_TOKEN_INVALID;
	if (keyed(rq, TOKEN_DOMAIN, text, hash) != 0)
		return KENPO_RES_UNAVAIL;
	for (i = 0; i < cfg->nsocieties && rc == KENPO_RES_OK && !found; i++)
		rc = find_in(rq, &cfg->societies[i], hash, t, &found);
	if (rc != KENPO_RES_OK)
		return rc;
	if (!found || (kind != 0 && t->kind != kind))
		return KENPO_RES_TOKEN_INVALID;
	if (kenpo_gentime_now() >= t->expiry)
		return KENPO_RES_TOKEN_EXPIRED;
	return KENPO_RES_OK;
}

int
token_consume(struct request *rq, const struct token *t)
{
	switch (myldap_delete(rq->ld, t->dn)) {
	case MYLDAP_OK:
		return KENPO_RES_OK;
	case MYLDAP_CHANGED:
		log_msg(LOG_INFO, "%s token used by another request", token_kind_name(t->kind));
		return KENPO_RES_TOKEN_INVALID;
	case MYLDAP_UNAVAIL:
		return KENPO_RES_UNAVAIL;
	default:
		return KENPO_RES_INTERNAL;
	}
}

int
token_authkey_matches(const struct request *rq, const struct token *t, const char *key)
{
	char hash[KENPO_KEYED_HASH_HEX];
	int ok;

	if (t->authkey_hash[0] == '\0' || keyed(rq, AUTHKEY_DOMAIN, key, hash) != 0)
		return 0;
	ok = kenpo_secret_equal(hash, t->authkey_hash);
	kenpo_wipe(hash, sizeof hash);
	return ok;
}

/* One more wrong answer on the entry as read: delete the count read and
 * add the new one, so that concurrent answers are all counted. */
int
token_fail(struct request *rq, struct token *t, unsigned max, unsigned *left)
{
	char old[16], new[16];
	struct myldap_mod m[2];
	size_t n = 0;
	unsigned tries = t->tries + 1;
	int rc;

	if (tries >= max) {
		*left = 0;
		rc = myldap_delete(rq->ld, t->dn);
		return rc == MYLDAP_OK || rc == MYLDAP_CHANGED ? KENPO_RES_OK :
		       rc == MYLDAP_UNAVAIL                    ? KENPO_RES_UNAVAIL :
								 KENPO_RES_INTERNAL;
	}
	(void)snprintf(old, sizeof old, "%u", t->tries);
	(void)snprintf(new, sizeof new, "%u", tries);
	if (t->has_tries)
		m[n++] = (struct myldap_mod){ MYLDAP_MOD_DELETE, KENPO_AT_TOKEN_TRIES, old };
	m[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_TOKEN_TRIES, new };
	rc = myldap_modify(rq->ld, t->dn, m, n);
	if (rc == MYLDAP_CHANGED) {
		/* Answered at the same time, or used meanwhile: this answer
		 * counts as the last allowed one, which is never too lenient. */
		*left = 0;
		(void)myldap_delete(rq->ld, t->dn);
		return KENPO_RES_OK;
	}
	if (rc != MYLDAP_OK)
		return rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
	t->tries = tries;
	t->has_tries = 1;
	*left = max - tries;
	return KENPO_RES_OK;
}

int
token_void_member(struct request *rq, const struct kenpo_society *soc, const char *member_dn,
		  int kind)
{
	static const char *const attrs[] = { KENPO_AT_TOKEN_HASH, NULL };
	char base[TOKEN_DN_MAX], filter[FILTER_MAX], esc[3 * TOKEN_DN_MAX + 1];
	struct myldap_result *res = NULL;
	size_t i;
	int rc;

	if (myldap_escape(member_dn, strlen(member_dn), esc, sizeof esc) != 0)
		return KENPO_RES_INTERNAL;
	(void)snprintf(base, sizeof base, KENPO_RDN_TOKENS ",%s", soc->base);
	if (snprintf(filter, sizeof filter,
		     "(&" KENPO_FILTER_TOKEN "(" KENPO_AT_TOKEN_KIND "=%s)"
		     "(" KENPO_AT_TOKEN_MEMBER "=%s))",
		     token_kind_name(kind), esc) >= (int)sizeof filter)
		return KENPO_RES_INTERNAL;
	rc = myldap_search(rq->ld, base, filter, attrs, VOID_MAX, &res);
	if (rc != MYLDAP_OK)
		return rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
	for (i = 0; i < res->nentries; i++)
		if (myldap_delete(rq->ld, res->entries[i].dn) == MYLDAP_ERROR)
			log_msg(LOG_WARNING, "cannot void %.200s", res->entries[i].dn);
	myldap_result_free(res);
	return KENPO_RES_OK;
}

/* ---- holding a login ID (token.h) ---- */

#define HOLD_DOMAIN "loginid" /* keyed-hash domain of held login IDs */
#define HOLD_KIND "hold"
#define HOLD_MS (60 * 1000) /* after this a hold is left over */

/* The society whose ou=tokens keeps the holds: the one whose id sorts
 * first, the same on every host serving the same societies. */
static const struct kenpo_society *
hold_society(const struct kenpo_config *cfg)
{
	const struct kenpo_society *s = &cfg->societies[0];
	size_t i;

	for (i = 1; i < cfg->nsocieties; i++)
		if (strcmp(cfg->societies[i].id, s->id) < 0)
			s = &cfg->societies[i];
	return s;
}

static enum myldap_rc
hold_add(struct request *rq, const char *dn, const char *hash)
{
	char expiry[KENPO_GENTIME_MAX];
	struct myldap_mod a[4] = {
		{ MYLDAP_MOD_ADD, KENPO_AT_OBJECTCLASS, KENPO_OC_TOKEN },
		{ MYLDAP_MOD_ADD, KENPO_AT_TOKEN_HASH, hash },
		{ MYLDAP_MOD_ADD, KENPO_AT_TOKEN_KIND, HOLD_KIND },
		{ MYLDAP_MOD_ADD, KENPO_AT_TOKEN_EXPIRY, expiry },
	};

	if (kenpo_gentime_format(kenpo_gentime_now() + HOLD_MS, 0, expiry, sizeof expiry) != 0)
		return MYLDAP_ERROR;
	return myldap_add(rq->ld, dn, a, 4);
}

static int
ldap_result(enum myldap_rc rc)
{
	return rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
}

/* The hold at dn was there already.  One past its end was left by a
 * kenpod that stopped: it is removed (of two requests trying, one deletes
 * it).  A kenpo_result; on OK *gone tells whether the hold is gone now. */
static int
hold_gone(struct request *rq, const char *dn, int *gone)
{
	static const char *const attrs[] = { KENPO_AT_TOKEN_EXPIRY, NULL };
	struct myldap_result *res = NULL;
	const char *v;
	int64_t end = 0;
	int rc, stale;

	rc = myldap_search(rq->ld, dn, "(objectClass=" KENPO_OC_TOKEN ")", attrs, 1, &res);
	if (rc != MYLDAP_OK)
		return ldap_result(rc);
	*gone = res->nentries == 0;
	v = res->nentries == 1 ? myldap_value(&res->entries[0], 0) : NULL;
	stale = !*gone &&
		(v == NULL || kenpo_gentime_parse(v, &end) != 0 || end <= kenpo_gentime_now());
	myldap_result_free(res);
	if (!stale)
		return KENPO_RES_OK;
	log_msg(LOG_NOTICE, "a login ID hold past its end is removed");
	rc = myldap_delete(rq->ld, dn);
	if (rc != MYLDAP_OK && rc != MYLDAP_CHANGED)
		return ldap_result(rc);
	*gone = 1;
	return KENPO_RES_OK;
}

int
token_hold_login(struct request *rq, const char *login, struct login_hold *h)
{
	char lower[KENPO_LOGIN_ID_MAX + 1], hash[KENPO_KEYED_HASH_HEX];
	size_t i, len = strlen(login);
	int attempt, rc, gone = 0;

	memset(h, 0, sizeof(*h));
	if (len >= sizeof lower)
		return KENPO_RES_INTERNAL;
	for (i = 0; i <= len; i++)
		lower[i] = (char)(login[i] >= 'A' && login[i] <= 'Z' ? login[i] - 'A' + 'a' :
								       login[i]);
	if (keyed(rq, HOLD_DOMAIN, lower, hash) != 0 ||
	    token_dn(hold_society(rq->kd->cfg), hash, h->dn, sizeof h->dn) != 0)
		return KENPO_RES_INTERNAL;
	for (attempt = 0; attempt < 2; attempt++) {
		rc = hold_add(rq, h->dn, hash);
		if (rc == MYLDAP_OK) {
			h->held = 1;
			return KENPO_RES_OK;
		}
		if (rc != MYLDAP_CHANGED)
			return ldap_result(rc);
		rc = hold_gone(rq, h->dn, &gone);
		if (rc != KENPO_RES_OK)
			return rc;
		if (!gone)
			break;
	}
	return KENPO_RES_ID_TAKEN;
}

void
token_release_login(struct request *rq, struct login_hold *h)
{
	if (!h->held)
		return;
	h->held = 0;
	if (myldap_delete(rq->ld, h->dn) == MYLDAP_UNAVAIL)
		log_msg(LOG_WARNING, "a login ID hold could not be removed; it ends by itself "
				     "in a minute");
}

/* ---- rate counters ---- */

static const char *const rate_attrs[] = { KENPO_AT_RATE_COUNT, KENPO_AT_RATE_WINDOW, NULL };
enum { RA_COUNT, RA_WINDOW };

struct rate {
	char key[128]; /* what:<64 hex> */
	char dn[TOKEN_DN_MAX];
	int exists;
	char count_text[16], window_text[32];
	unsigned count;
	int64_t window;
};

/* The counter's key: what, and the keyed hash of the value in lower case
 * (addresses are compared without regard to case, and stored only hashed). */
static int
rate_key(const struct request *rq, const struct kenpo_society *soc, const char *what,
	 const char *value, struct rate *r)
{
	char lower[RATE_VALUE_MAX], hash[KENPO_KEYED_HASH_HEX];
	size_t i, len = strlen(value);

	if (len >= sizeof lower)
		return -1;
	for (i = 0; i <= len; i++)
		lower[i] = (value[i] >= 'A' && value[i] <= 'Z') ? (char)(value[i] - 'A' + 'a') :
								  value[i];
	if (keyed(rq, RATE_DOMAIN, lower, hash) != 0)
		return -1;
	if (snprintf(r->key, sizeof r->key, "%s:%s", what, hash) >= (int)sizeof r->key ||
	    snprintf(r->dn, sizeof r->dn, KENPO_AT_RATE_KEY "=%s," KENPO_RDN_RATES ",%s", r->key,
		     soc->base) >= (int)sizeof r->dn)
		return -1;
	return 0;
}

static int
rate_read(struct request *rq, const struct kenpo_society *soc, struct rate *r)
{
	char base[TOKEN_DN_MAX], filter[FILTER_MAX];
	struct myldap_result *res = NULL;
	unsigned long long n;
	int rc;

	r->exists = 0;
	(void)snprintf(base, sizeof base, KENPO_RDN_RATES ",%s", soc->base);
	(void)snprintf(filter, sizeof filter,
		       "(&(" KENPO_AT_OBJECTCLASS "=" KENPO_OC_RATE_COUNTER ")"
		       "(" KENPO_AT_RATE_KEY "=%s))",
		       r->key);
	rc = myldap_search(rq->ld, base, filter, rate_attrs, 1, &res);
	if (rc != MYLDAP_OK)
		return rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
	if (res->nentries == 1 &&
	    copy_opt(myldap_value(&res->entries[0], RA_COUNT), r->count_text,
		     sizeof r->count_text) == 0 &&
	    copy_opt(myldap_value(&res->entries[0], RA_WINDOW), r->window_text,
		     sizeof r->window_text) == 0 &&
	    kenpo_parse_ulong(r->count_text, 0, 1000000, &n) == 0 &&
	    kenpo_gentime_parse(r->window_text, &r->window) == 0) {
		r->exists = 1;
		r->count = (unsigned)n;
	} else if (res->nentries == 1) {
		log_msg(LOG_WARNING, "rate counter %.200s is malformed; starting again", r->dn);
		r->exists = -1;
	}
	myldap_result_free(res);
	return KENPO_RES_OK;
}

int
rate_count(struct request *rq, const struct kenpo_society *soc, const char *what,
	   const char *value, long window, unsigned *count)
{
	struct rate r;
	int rc;

	if (rate_key(rq, soc, what, value, &r) != 0)
		return KENPO_RES_INTERNAL;
	rc = rate_read(rq, soc, &r);
	if (rc != KENPO_RES_OK)
		return rc;
	*count = r.exists == 1 && kenpo_gentime_now() < r.window + (int64_t)window * 1000 ?
			 r.count :
			 0;
	return KENPO_RES_OK;
}

/* Write count (and, when starting a window, the window) over what was
 * read.  A myldap_rc. */
static int
rate_write(struct request *rq, const struct rate *r, unsigned count, int64_t start)
{
	char cnt[16], win[32];
	struct myldap_mod m[6];
	size_t n = 0;

	(void)snprintf(cnt, sizeof cnt, "%u", count);
	if (start != 0 && kenpo_gentime_format(start, 1, win, sizeof win) != 0)
		return MYLDAP_ERROR;
	if (r->exists == 0) {
		m[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_OBJECTCLASS,
					      KENPO_OC_RATE_COUNTER };
		m[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_RATE_KEY, r->key };
		m[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_RATE_COUNT, cnt };
		m[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_RATE_WINDOW, win };
		return myldap_add(rq->ld, r->dn, m, n);
	}
	if (r->exists == 1) {
		m[n++] = (struct myldap_mod){ MYLDAP_MOD_DELETE, KENPO_AT_RATE_COUNT,
					      r->count_text };
		if (start != 0)
			m[n++] = (struct myldap_mod){ MYLDAP_MOD_DELETE, KENPO_AT_RATE_WINDOW,
						      r->window_text };
	} else {
		m[n++] = (struct myldap_mod){ MYLDAP_MOD_REPLACE, KENPO_AT_RATE_COUNT, NULL };
		m[n++] = (struct myldap_mod){ MYLDAP_MOD_REPLACE, KENPO_AT_RATE_WINDOW, NULL };
	}
	m[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_RATE_COUNT, cnt };
	if (start != 0)
		m[n++] = (struct myldap_mod){ MYLDAP_MOD_ADD, KENPO_AT_RATE_WINDOW, win };
	return myldap_modify(rq->ld, r->dn, m, n);
}

int
rate_take(struct request *rq, const struct kenpo_society *soc, const char *what,
	  const char *value, unsigned limit, long window, int *allowed)
{
	struct rate r;
	int64_t now;
	int attempt, rc;

	if (rate_key(rq, soc, what, value, &r) != 0)
		return KENPO_RES_INTERNAL;
	/* Counters are made by requests for ever new addresses: those
	 * requests clean up too. */
	sweep(rq, soc);
	for (attempt = 0; attempt < UPDATE_TRIES; attempt++) {
		rc = rate_read(rq, soc, &r);
		if (rc != KENPO_RES_OK)
			return rc;
		now = kenpo_gentime_now();
		if (r.exists == 1 && now < r.window + (int64_t)window * 1000) {
			if (r.count >= limit) {
				*allowed = 0;
				return KENPO_RES_OK;
			}
			rc = rate_write(rq, &r, r.count + 1, 0);
		} else {
			rc = rate_write(rq, &r, 1, now);
		}
		if (rc == MYLDAP_OK) {
			*allowed = 1;
			return KENPO_RES_OK;
		}
		if (rc != MYLDAP_CHANGED)
			return rc == MYLDAP_UNAVAIL ? KENPO_RES_UNAVAIL : KENPO_RES_INTERNAL;
	}
	log_msg(LOG_WARNING, "rate counter %.200s keeps changing; refusing", r.dn);
	*allowed = 0;
	return KENPO_RES_OK;
}
