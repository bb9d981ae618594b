/*
 * myldap.c - the directory connection of kenpod's workers (see myldap.h).
 *
 * Modelled on nss-pam-ldapd's nslcd/myldap.c: a session per worker,
 * reopened when the server went away, and a back-off shared by all
 * workers so that an unreachable directory costs clients nothing but an
 * immediate "unavailable".
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <ldap.h>

#include "config.h"
#include "log.h"
#include "myldap.h"
#include "proto.h"

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 5000

struct myldap_session {
	LDAP *ld;
};

/* Set by myldap_setup before the workers start, read-only afterwards. */
static const struct kenpo_config *ldcfg;
static const char *ldpassword;

/* The shared back-off. */
static pthread_mutex_t backoff_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t backoff_until;          /* CLOCK_MONOTONIC ms; 0: none */
static int64_t backoff_next = BACKOFF_FIRST_MS;
static int directory_down;

int
myldap_setup(const struct kenpo_config *cfg, const char *bind_password)
{
	int version = LDAP_VERSION3;

	ldcfg = cfg;
	ldpassword = bind_password != NULL ? bind_password : "";
	/* Setting a global option makes libldap initialise its global state
	 * here, in one thread, rather than racing in the workers. */
	if (ldap_set_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS) {
		log_msg(LOG_ERR, "cannot initialise libldap");
		return -1;
	}
	return 0;
}

struct myldap_session *
myldap_session_new(void)
{
	return calloc(1, sizeof(struct myldap_session));
}

static void
session_close(struct myldap_session *s)
{
	if (s->ld != NULL)
		ldap_unbind_ext_s(s->ld, NULL, NULL);
	s->ld = NULL;
}

void
myldap_session_free(struct myldap_session *s)
{
	if (s == NULL)
		return;
	session_close(s);
	free(s);
}

/* Errors that mean "the server is not there (any more)". */
static int
is_down(int rc)
{
	return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ||
	       rc == LDAP_TIMEOUT || rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY;
}

/* ---- back-off ---- */

static int
backoff_active(void)
{
	int active;

	pthread_mutex_lock(&backoff_lock);
	active = backoff_until != 0 && kenpo_now_ms() < backoff_until;
	pthread_mutex_unlock(&backoff_lock);
	return active;
}

static void
backoff_failed(void)
{
	int64_t wait;

	pthread_mutex_lock(&backoff_lock);
	wait = backoff_next;
	backoff_until = kenpo_now_ms() + wait;
	backoff_next = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait * 2;
	if (!directory_down)
		log_msg(LOG_WARNING, "directory %.200s unreachable; answering "
			"\"unavailable\" for %lld ms", ldcfg->ldap_uri, (long long)wait);
	directory_down = 1;
	pthread_mutex_unlock(&backoff_lock);
}

static void
backoff_succeeded(void)
{
	pthread_mutex_lock(&backoff_lock);
	backoff_until = 0;
	backoff_next = BACKOFF_FIRST_MS;
	if (directory_down)
		log_msg(LOG_INFO, "directory %.200s reachable again", ldcfg->ldap_uri);
	directory_down = 0;
	pthread_mutex_unlock(&backoff_lock);
}

/* ---- opening a session ---- */

static int
set_options(LDAP *ld)
{
	struct timeval tv = { .tv_sec = ldcfg->ldap_timeout, .tv_usec = 0 };
	int version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND;
	int tlsmin = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, newctx = 0;

	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON) != LDAP_OPT_SUCCESS ||
	    /* Never follow a referral with the service credential. */
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS)
		return -1;
	if (ldcfg->ldap_ca_file == NULL || ldcfg->ldap_ca_file[0] == '\0')
		return 0;
	if (ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, ldcfg->ldap_ca_file) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tlsmin) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &newctx) != LDAP_OPT_SUCCESS)
		return -1;
	return 0;
}

/* A CA file with a plain ldap:// URI can only mean StartTLS: the
 * connection must not go on in clear text. */
static int
wants_starttls(void)
{
	return ldcfg->ldap_ca_file != NULL && ldcfg->ldap_ca_file[0] != '\0' &&
	       strncasecmp(ldcfg->ldap_uri, "ldap://", 7) == 0;
}

static int
service_bind(LDAP *ld)
{
	struct berval cred = { 0, NULL };

	if (ldcfg->bind_dn == NULL || ldcfg->bind_dn[0] == '\0')
		return ldap_sasl_bind_s(ld, NULL, "EXTERNAL", &cred, NULL, NULL, NULL);
	/* libldap does not keep or change the credential. */
	cred.bv_val = (char *)(uintptr_t)ldpassword;
	cred.bv_len = strlen(ldpassword);
	return ldap_sasl_bind_s(ld, ldcfg->bind_dn, LDAP_SASL_SIMPLE, &cred,
				NULL, NULL, NULL);
}

/* Connect and bind.  An LDAP result code. */
static int
session_open(struct myldap_session *s)
{
	LDAP *ld = NULL;
	int rc;

	rc = ldap_initialize(&ld, ldcfg->ldap_uri);
	if (rc != LDAP_SUCCESS)
		goto done;
	if (set_options(ld) != 0) {
		rc = LDAP_LOCAL_ERROR;
		goto done;
	}
	if (wants_starttls()) {
		rc = ldap_start_tls_s(ld, NULL, NULL);
		if (rc != LDAP_SUCCESS)
			goto done;
	}
	rc = service_bind(ld);
	if (rc != LDAP_SUCCESS)
		goto done;
	s->ld = ld;
	ld = NULL;
	log_msg(LOG_DEBUG, "connected to %.200s", ldcfg->ldap_uri);
done:
	if (rc != LDAP_SUCCESS)
		log_msg(is_down(rc) ? LOG_DEBUG : LOG_ERR, "cannot connect or bind to "
			"%.200s: %s", ldcfg->ldap_uri, ldap_err2string(rc));
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	return rc;
}

/* ---- results ---- */

static void
entry_clear(struct myldap_entry *e, size_t nattrs)
{
	size_t i, j;

	if (e->values != NULL) {
		for (i = 0; i < nattrs; i++) {
			for (j = 0; e->values[i] != NULL && e->values[i][j] != NULL; j++)
				free(e->values[i][j]);
			free(e->values[i]);
		}
	}
	free(e->values);
	free(e->dn);
}

void
myldap_result_free(struct myldap_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nentries; i++)
		entry_clear(&r->entries[i], r->nattrs);
	free(r->entries);
	free(r);
}

const char *
myldap_value(const struct myldap_entry *e, size_t i)
{
	return e->values[i] != NULL ? e->values[i][0] : NULL;
}

size_t
myldap_nvalues(const struct myldap_entry *e, size_t i)
{
	size_t n = 0;

	while (e->values[i] != NULL && e->values[i][n] != NULL)
		n++;
	return n;
}

/* Copy the values of one attribute; bvals may be NULL (no such attribute). */
static char **
copy_values(struct berval **bvals)
{
	size_t n = bvals != NULL ? ldap_count_values_len(bvals) : 0, i, k = 0;
	char **out = calloc(n + 1, sizeof(*out));

	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (memchr(bvals[i]->bv_val, '\0', bvals[i]->bv_len) != NULL)
			continue;
		out[k] = malloc(bvals[i]->bv_len + 1);
		if (out[k] == NULL)
			goto fail;
		memcpy(out[k], bvals[i]->bv_val, bvals[i]->bv_len);
		out[k][bvals[i]->bv_len] = '\0';
		k++;
	}
	return out;
fail:
	while (k > 0)
		free(out[--k]);
	free(out);
	return NULL;
}

/* Copy one LDAP entry into e.  0 or -1 (out of memory). */
static int
copy_entry(LDAP *ld, LDAPMessage *msg, const char *const attrs[],
	   size_t nattrs, struct myldap_entry *e)
{
	struct berval **bvals;
	char *dn;
	size_t i;

	e->values = calloc(nattrs, sizeof(*e->values));
	dn = ldap_get_dn(ld, msg);
	e->dn = dn != NULL ? strdup(dn) : NULL;
	ldap_memfree(dn);
	if (e->values == NULL || e->dn == NULL)
		return -1;
	for (i = 0; i < nattrs; i++) {
		bvals = ldap_get_values_len(ld, msg, attrs[i]);
		e->values[i] = copy_values(bvals);
		ldap_value_free_len(bvals);
		if (e->values[i] == NULL)
			return -1;
	}
	return 0;
}

/* Append the entries of one result message chain to r, up to limit. */
static int
collect(LDAP *ld, LDAPMessage *res, const char *const attrs[],
	size_t limit, struct myldap_result *r)
{
	struct myldap_entry *grown;
	LDAPMessage *msg;
	int n = ldap_count_entries(ld, res);

	if (n <= 0)
		return 0;
	grown = realloc(r->entries, (r->nentries + (size_t)n) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	r->entries = grown;
	for (msg = ldap_first_entry(ld, res); msg != NULL; msg = ldap_next_entry(ld, msg)) {
		if (r->nentries >= limit) {
			r->truncated = 1;
			break;
		}
		memset(&r->entries[r->nentries], 0, sizeof(r->entries[0]));
		r->nentries++;  /* counted before filling so that it is freed on failure */
		if (copy_entry(ld, msg, attrs, r->nattrs, &r->entries[r->nentries - 1]) != 0)
			return -1;
	}
	return 0;
}

/* ---- searching ---- */

struct search {
	const char *base;
	const char *filter;
	const char *const *attrs;
	size_t limit;
};

/* The page cookie of a result, into cookie (empty at the end).  An LDAP
 * result code. */
static int
page_cookie(LDAP *ld, LDAPMessage *res, struct berval *cookie)
{
	LDAPControl **ctrls = NULL, *page;
	ber_int_t count;
	int rc, err = LDAP_SUCCESS;

	rc = ldap_parse_result(ld, res, &err, NULL, NULL, NULL, &ctrls, 0);
	if (rc != LDAP_SUCCESS)
		return rc;
	page = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, ctrls, NULL);
	if (page != NULL)
		rc = ldap_parse_pageresponse_control(ld, page, &count, cookie);
	ldap_controls_free(ctrls);
	return rc != LDAP_SUCCESS ? rc : err;
}

/* One request of a search (one page when paging).  An LDAP result code;
 * *more is set when another page follows. */
static int
search_page(LDAP *ld, const struct search *q, struct berval *cookie,
	    struct myldap_result *r, int *more)
{
	struct timeval tv = { .tv_sec = ldcfg->ldap_timeout, .tv_usec = 0 };
	LDAPControl *page = NULL, *ctrls[2] = { NULL, NULL };
	LDAPMessage *res = NULL;
	int paged = q->limit > MYLDAP_PAGE_SIZE, rc;

	*more = 0;
	if (paged) {
		rc = ldap_create_page_control(ld, MYLDAP_PAGE_SIZE, cookie, 0, &page);
		if (rc != LDAP_SUCCESS)
			goto done;
		ctrls[0] = page;
	}
	rc = ldap_search_ext_s(ld, q->base, LDAP_SCOPE_SUBTREE, q->filter,
			       (char **)(uintptr_t)q->attrs, 0, ctrls, NULL, &tv,
			       paged ? 0 : (int)q->limit, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED)
		goto done;
	if (rc == LDAP_SIZELIMIT_EXCEEDED)
		r->truncated = 1;
	if (collect(ld, res, q->attrs, q->limit, r) != 0) {
		rc = LDAP_NO_MEMORY;
		goto done;
	}
	if (paged) {
		ber_memfree(cookie->bv_val);
		cookie->bv_val = NULL;
		cookie->bv_len = 0;
		rc = page_cookie(ld, res, cookie);
		*more = rc == LDAP_SUCCESS && cookie->bv_len > 0 && !r->truncated;
	} else {
		rc = LDAP_SUCCESS;
	}
done:
	if (page != NULL)
		ldap_control_free(page);
	ldap_msgfree(res);
	return rc;
}

/* The whole search on an open session.  An LDAP result code. */
static int
search_all(struct myldap_session *s, const struct search *q,
	   struct myldap_result *r)
{
	struct berval cookie = { 0, NULL };
	int rc, more;

	do {
		rc = search_page(s->ld, q, &cookie, r, &more);
	} while (rc == LDAP_SUCCESS && more);
	ber_memfree(cookie.bv_val);
	/* A base that is not there holds no entries. */
	if (rc == LDAP_NO_SUCH_OBJECT) {
		log_msg(LOG_WARNING, "search base %.200s does not exist", q->base);
		rc = LDAP_SUCCESS;
	}
	return rc;
}

static struct myldap_result *
result_new(size_t nattrs)
{
	struct myldap_result *r = calloc(1, sizeof(*r));

	if (r != NULL)
		r->nattrs = nattrs;
	return r;
}

/*
 * Run the search on the session, opening it first if needed.  When a
 * session that was already open finds the server gone (it restarted, or
 * closed an idle connection), the search is tried once more on a fresh
 * connection.  An LDAP result code; *open_failed tells whether a connection
 * was attempted and failed.
 */
static int
search_with_retry(struct myldap_session *s, const struct search *q,
		  size_t nattrs, struct myldap_result **out, int *open_failed)
{
	struct myldap_result *r = NULL;
	int attempt, rc = LDAP_OTHER;

	*open_failed = 0;
	for (attempt = 0; attempt < 2; attempt++) {
		int was_open = s->ld != NULL;

		if (!was_open && (rc = session_open(s)) != LDAP_SUCCESS) {
			*open_failed = 1;
			break;
		}
		myldap_result_free(r);
		r = result_new(nattrs);
		if (r == NULL) {
			rc = LDAP_NO_MEMORY;
			break;
		}
		rc = search_all(s, q, r);
		if (!is_down(rc))
			break;
		log_msg(LOG_DEBUG, "connection lost: %s", ldap_err2string(rc));
		session_close(s);
		if (!was_open)
			break;
	}
	if (rc == LDAP_SUCCESS) {
		*out = r;
		r = NULL;
	}
	myldap_result_free(r);
	return rc;
}

enum myldap_rc
myldap_search(struct myldap_session *s, const char *base, const char *filter,
	      const char *const attrs[], size_t limit, struct myldap_result **out)
{
	struct search q = { base, filter, attrs, limit };
	size_t nattrs = 0;
	int rc, open_failed;

	if (backoff_active())
		return MYLDAP_UNAVAIL;
	while (attrs[nattrs] != NULL)
		nattrs++;
	log_msg(LOG_DEBUG, "search %.200s %.300s", base, filter);
	rc = search_with_retry(s, &q, nattrs, out, &open_failed);
	if (rc == LDAP_SUCCESS) {
		backoff_succeeded();
		return MYLDAP_OK;
	}
	if (open_failed || is_down(rc)) {
		backoff_failed();
		return MYLDAP_UNAVAIL;
	}
	log_msg(LOG_ERR, "search %.200s %.300s: %s", base, filter, ldap_err2string(rc));
	return MYLDAP_ERROR;
}

int
myldap_escape(const char *value, size_t len, char *out, size_t outsz)
{
	struct berval in, esc = { 0, NULL };
	int rc = -1;

	in.bv_val = (char *)(uintptr_t)value;
	in.bv_len = len;
	if (ldap_bv2escaped_filter_value(&in, &esc) != LDAP_SUCCESS)
		goto done;
	if (esc.bv_len >= outsz)
		goto done;
	memcpy(out, esc.bv_val, esc.bv_len);
	out[esc.bv_len] = '\0';
	rc = 0;
done:
	ber_memfree(esc.bv_val);
	return rc;
}
