/*
 * myldap.c - the directory connection of kenpod's workers (see myldap.h).
 *
 * Modelled on nss-pam-ldapd's nslcd/myldap.c: a session per worker,
 * reopened when the server went away, and a back-off shared by all
 * workers so that an unreachable directory costs clients nothing but an
 * immediate "unavailable".
 *
 * A session has two connections, one per route (myldap.h): to the nearest
 * server of ldap_uri, and to the write provider of write_uri, which all
 * workers share and which only a failover or a failback changes (each
 * change bumps a generation, and a connection of an older generation is
 * reopened).  A thread of its own checks for the failback.
 */
#include "autoconfig.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "config.h"
#include "ldapconn.h"
#include "log.h"
#include "myldap.h"
#include "proto.h"
#include "provider.h"

#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 5000
#define ARGON2_PREFIX "{ARGON2}" /* what slapd's argon2 module writes */
#define ARGON2_PREFIX_LEN (sizeof ARGON2_PREFIX - 1)
#define RECHECK_MS 1000 /* an earlier provider answers but lags: look again */
#define CSN_MAX 32      /* contextCSN values read (one per provider) */

/* One connection of a session. */
struct conn {
	LDAP *ld;
	size_t server; /* index in its route's list */
	unsigned gen;  /* the route's generation when it was opened */
};

struct myldap_session {
	struct conn conn[2]; /* [MYLDAP_NEAREST], [MYLDAP_WRITER] */
	enum myldap_route route;
};

/* A list of servers and what the workers share about it. */
struct route {
	const char *name; /* "directory", "write provider" (for the log) */
	const char *key;  /* its kenpod.conf key */
	struct kenpo_uris uris;
	int sticky; /* stay on `current` until it fails (the writer) */
	int fixed;  /* write_failover = no: the first server only */
	pthread_mutex_t lock;
	size_t current;        /* the server in use */
	unsigned gen;          /* bumped when current changes */
	int64_t backoff_until; /* CLOCK_MONOTONIC ms; 0: none */
	int64_t backoff_next;
	int down;
	pthread_mutex_t switching; /* one failover at a time */
};

/* Set by myldap_setup before the workers start, read-only afterwards
 * (except the routes' locked parts). */
static const struct kenpo_config *ldcfg;
static const char *ldpassword;
static struct route routes[2] = {
	[MYLDAP_NEAREST] = { .name = "directory",
			     .key = "ldap_uri",
			     .lock = PTHREAD_MUTEX_INITIALIZER,
			     .switching = PTHREAD_MUTEX_INITIALIZER,
			     .backoff_next = BACKOFF_FIRST_MS },
	[MYLDAP_WRITER] = { .name = "write provider",
			    .key = "write_uri",
			    .sticky = 1,
			    .lock = PTHREAD_MUTEX_INITIALIZER,
			    .switching = PTHREAD_MUTEX_INITIALIZER,
			    .backoff_next = BACKOFF_FIRST_MS },
};
static int have_writer; /* write_uri is set */

/* The failback check. */
static pthread_t checker;
static int checker_running;
static pthread_mutex_t checker_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t checker_wake = PTHREAD_COND_INITIALIZER;
static int checker_stop;

static int checker_start(void);

int
myldap_setup(const struct kenpo_config *cfg, const char *bind_password)
{
	struct route *w = &routes[MYLDAP_WRITER];

	ldcfg = cfg;
	ldpassword = bind_password != NULL ? bind_password : "";
	/* Here, in one thread, rather than racing in the workers. */
	if (kenpo_ldap_setup() != 0) {
		log_msg(LOG_ERR, "cannot initialise libldap");
		return -1;
	}
	/* The configuration checked the lists: this fails only without memory. */
	if (kenpo_uris_parse(cfg->ldap_uri, &routes[MYLDAP_NEAREST].uris) != 0) {
		log_msg(LOG_ERR, "ldap_uri: cannot be read");
		return -1;
	}
	have_writer = cfg->write_uri != NULL && cfg->write_uri[0] != '\0';
	if (!have_writer)
		return 0;
	if (kenpo_uris_parse(cfg->write_uri, &w->uris) != 0) {
		log_msg(LOG_ERR, "write_uri: cannot be read");
		return -1;
	}
	w->fixed = !cfg->write_failover;
	if (w->uris.n > 1 && !w->fixed)
		return checker_start();
	return 0;
}

struct myldap_session *
myldap_session_new(void)
{
	return calloc(1, sizeof(struct myldap_session));
}

static void
conn_close(struct conn *c)
{
	if (c->ld != NULL)
		ldap_unbind_ext_s(c->ld, NULL, NULL);
	c->ld = NULL;
}

void
myldap_session_free(struct myldap_session *s)
{
	if (s == NULL)
		return;
	conn_close(&s->conn[MYLDAP_NEAREST]);
	conn_close(&s->conn[MYLDAP_WRITER]);
	free(s);
}

void
myldap_session_route(struct myldap_session *s, enum myldap_route route)
{
	s->route = route;
}

/* The route the session's next operation takes: without write_uri,
 * everything goes to ldap_uri. */
static struct route *
route_of(const struct myldap_session *s)
{
	return &routes[have_writer ? s->route : MYLDAP_NEAREST];
}

/* Every write goes to the write provider, whatever route the request
 * took: a change is never made on a server chosen for being near, which
 * may not have seen the last one.  The request's later reads follow it
 * there. */
static void
route_write(struct myldap_session *s)
{
	s->route = MYLDAP_WRITER;
}

static struct conn *
conn_of(struct myldap_session *s)
{
	return &s->conn[route_of(s) == &routes[MYLDAP_WRITER] ? MYLDAP_WRITER : MYLDAP_NEAREST];
}

/* Errors that mean "the server is not there (any more)". */
static int
is_down(int rc)
{
	return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT ||
	       rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY;
}

/* ---- back-off ---- */

static int
backoff_active(struct route *r)
{
	int active;

	pthread_mutex_lock(&r->lock);
	active = r->backoff_until != 0 && kenpo_now_ms() < r->backoff_until;
	pthread_mutex_unlock(&r->lock);
	return active;
}

static void
backoff_failed(struct route *r)
{
	int64_t wait;

	pthread_mutex_lock(&r->lock);
	wait = r->backoff_next;
	r->backoff_until = kenpo_now_ms() + wait;
	r->backoff_next = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait * 2;
	if (!r->down)
		log_msg(LOG_WARNING, "no %s of %s answers; answering \"unavailable\" for %lld ms",
			r->sticky ? "provider" : "server", r->key, (long long)wait);
	r->down = 1;
	pthread_mutex_unlock(&r->lock);
}

static void
backoff_succeeded(struct route *r)
{
	pthread_mutex_lock(&r->lock);
	r->backoff_until = 0;
	r->backoff_next = BACKOFF_FIRST_MS;
	if (r->down)
		log_msg(LOG_INFO, "%s %.200s answers again", r->name, r->uris.uri[r->current]);
	r->down = 0;
	pthread_mutex_unlock(&r->lock);
}

/* ---- opening a connection ---- */

/* Connect and bind to one server (ldapconn.h).  An LDAP result code. */
static int
open_server(const char *uri, LDAP **out)
{
	struct kenpo_ldap_params p = {
		.uri = uri,
		.bind_dn = ldcfg->bind_dn,
		.password = ldpassword,
		.ca_file = ldcfg->ldap_ca_file,
		.timeout = ldcfg->ldap_timeout,
	};
	char err[600];
	int rc;

	rc = kenpo_ldap_open(&p, out, err, sizeof err);
	if (rc != LDAP_SUCCESS)
		log_msg(is_down(rc) ? LOG_DEBUG : LOG_ERR,
			"cannot connect or bind to "
			"%.200s: %s",
			uri, err);
	return rc;
}

/* The nearest server: the first of ldap_uri that answers.  An LDAP result
 * code. */
static int
open_nearest(struct route *r, struct conn *c)
{
	size_t i;
	int rc = LDAP_SERVER_DOWN;

	for (i = 0; i < r->uris.n; i++) {
		rc = open_server(r->uris.uri[i], &c->ld);
		if (rc == LDAP_SUCCESS) {
			c->server = i;
			pthread_mutex_lock(&r->lock);
			if (r->current != i)
				log_msg(LOG_INFO, "directory: reading from %.200s",
					r->uris.uri[i]);
			r->current = i;
			pthread_mutex_unlock(&r->lock);
			log_msg(LOG_DEBUG, "connected to %.200s", r->uris.uri[i]);
			return rc;
		}
		if (!is_down(rc))
			return rc;
	}
	return rc;
}

static void
route_now(struct route *r, size_t *current, unsigned *gen)
{
	pthread_mutex_lock(&r->lock);
	*current = r->current;
	*gen = r->gen;
	pthread_mutex_unlock(&r->lock);
}

/* Make server i the write provider, if the provider is still the one of
 * generation gen; log the switch.  The generation now in force. */
static unsigned
writer_switch(struct route *r, unsigned gen, size_t i, const char *why)
{
	unsigned now;

	pthread_mutex_lock(&r->lock);
	if (r->gen == gen && r->current != i) {
		log_msg(LOG_WARNING,
			"write provider is now %.200s (%zu of %zu in write_uri), "
			"was %.200s: %s",
			r->uris.uri[i], i + 1, r->uris.n, r->uris.uri[r->current], why);
		r->current = i;
		r->gen++;
	}
	now = r->gen;
	pthread_mutex_unlock(&r->lock);
	return now;
}

/*
 * The write provider of generation gen, server `failed`, does not answer
 * (rc): the first other server of write_uri that answers becomes the write
 * provider, for every worker.  One thread at a time looks; one that finds
 * the generation moved on meanwhile takes the provider found.  An LDAP
 * result code; on success c is open.
 */
static int
writer_failover(struct route *r, struct conn *c, size_t failed, unsigned gen, int rc)
{
	size_t i, cur;
	unsigned now;

	if (r->fixed)
		return rc;
	pthread_mutex_lock(&r->switching);
	route_now(r, &cur, &now);
	if (now != gen) {
		rc = open_server(r->uris.uri[cur], &c->ld);
		c->server = cur;
		c->gen = now;
		pthread_mutex_unlock(&r->switching);
		return rc;
	}
	for (i = 0; i < r->uris.n; i++) {
		if (i == failed)
			continue;
		rc = open_server(r->uris.uri[i], &c->ld);
		if (rc == LDAP_SUCCESS) {
			c->server = i;
			c->gen = writer_switch(r, gen, i, "it does not answer");
			break;
		}
	}
	pthread_mutex_unlock(&r->switching);
	return rc;
}

/* The write provider in force; failing over when it does not answer. */
static int
open_writer(struct route *r, struct conn *c)
{
	size_t cur;
	unsigned gen;
	int rc;

	route_now(r, &cur, &gen);
	rc = open_server(r->uris.uri[cur], &c->ld);
	if (rc == LDAP_SUCCESS) {
		c->server = cur;
		c->gen = gen;
		log_msg(LOG_DEBUG, "connected to the write provider %.200s", r->uris.uri[cur]);
		return rc;
	}
	if (!is_down(rc))
		return rc;
	return writer_failover(r, c, cur, gen, rc);
}

static int
conn_open(struct route *r, struct conn *c)
{
	return r->sticky ? open_writer(r, c) : open_nearest(r, c);
}

/* A writer connection of an older generation goes: the workers follow a
 * failover or failback another worker or the checker made. */
static void
conn_refresh(struct route *r, struct conn *c)
{
	size_t cur;
	unsigned gen;

	if (!r->sticky || c->ld == NULL)
		return;
	route_now(r, &cur, &gen);
	if (c->gen != gen)
		conn_close(c);
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
		size_t len = bvals[i]->bv_len;

		/* Debian's slapd 2.5 stores the password hashes it makes
		 * itself in a buffer of argon2_encodedlen() bytes, which can
		 * be longer than the string: after its NUL come trailing NULs
		 * or uninitialised bytes.  Such a value is read as the C
		 * string it holds.  A NUL inside any other value drops it. */
		while (len > 0 && bvals[i]->bv_val[len - 1] == '\0')
			len--;
		if (len > ARGON2_PREFIX_LEN &&
		    memcmp(bvals[i]->bv_val, ARGON2_PREFIX, ARGON2_PREFIX_LEN) == 0)
			len = strnlen(bvals[i]->bv_val, len);
		if (memchr(bvals[i]->bv_val, '\0', len) != NULL)
			continue;
		out[k] = malloc(len + 1);
		if (out[k] == NULL)
			goto fail;
		memcpy(out[k], bvals[i]->bv_val, len);
		out[k][len] = '\0';
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
copy_entry(LDAP *ld, LDAPMessage *msg, const char *const attrs[], size_t nattrs,
	   struct myldap_entry *e)
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
collect(LDAP *ld, LDAPMessage *res, const char *const attrs[], size_t limit,
	struct myldap_result *r)
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
		r->nentries++; /* counted before filling so that it is freed on failure */
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
search_page(LDAP *ld, const struct search *q, struct berval *cookie, struct myldap_result *r,
	    int *more)
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

/* The whole search on an open connection.  An LDAP result code. */
static int
search_all(LDAP *ld, const struct search *q, struct myldap_result *r)
{
	struct berval cookie = { 0, NULL };
	int rc, more;

	do {
		rc = search_page(ld, q, &cookie, r, &more);
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
 * One operation on an open connection: an LDAP result code.  `arg` is the
 * operation's own description; on success the operation may hand back a
 * result through it.
 */
typedef int myldap_op(LDAP *ld, void *arg);

/*
 * Run an operation on the session, opening it first if needed.  When a
 * session that was already open finds the server gone (it restarted, or
 * closed an idle connection), the operation is tried once more on a fresh
 * connection.  An LDAP result code; *open_failed tells whether a connection
 * was attempted and failed.
 *
 * A modify that reached the server just before the connection broke is
 * sent again by the retry; kenpod's modifies delete the old value of what
 * they change, so the second one fails with noSuchAttribute and the
 * caller reads the entry again and decides anew (at worst refusing an
 * attempt that had in fact succeeded) instead of applying a change twice.
 */
static int
run_with_retry(struct myldap_session *s, myldap_op *op, void *arg, int *open_failed)
{
	struct route *r = route_of(s);
	struct conn *c = conn_of(s);
	int attempt, rc = LDAP_OTHER;

	*open_failed = 0;
	for (attempt = 0; attempt < 2; attempt++) {
		int was_open;

		conn_refresh(r, c);
		was_open = c->ld != NULL;
		if (!was_open && (rc = conn_open(r, c)) != LDAP_SUCCESS) {
			*open_failed = 1;
			break;
		}
		rc = op(c->ld, arg);
		if (!is_down(rc))
			break;
		log_msg(LOG_DEBUG, "connection to %.200s lost: %s", r->uris.uri[c->server],
			ldap_err2string(rc));
		conn_close(c);
		if (!was_open)
			break;
	}
	return rc;
}

/* Map an LDAP result code of a finished operation onto myldap_rc, and
 * keep the route's back-off up to date. */
static enum myldap_rc
finish(struct route *r, int rc, int open_failed)
{
	if (rc == LDAP_SUCCESS) {
		backoff_succeeded(r);
		return MYLDAP_OK;
	}
	if (open_failed || is_down(rc)) {
		backoff_failed(r);
		return MYLDAP_UNAVAIL;
	}
	/* The server answered: it is reachable. */
	backoff_succeeded(r);
	return MYLDAP_ERROR;
}

/* ---- operation counts ---- */

static _Thread_local struct myldap_counts op_counts;

void
myldap_counts_reset(void)
{
	memset(&op_counts, 0, sizeof op_counts);
}

struct myldap_counts
myldap_counts_get(void)
{
	return op_counts;
}

/* ---- searching (the operation) ---- */

struct search_op {
	struct search q;
	size_t nattrs;
	struct myldap_result *r;
};

static int
search_op(LDAP *ld, void *arg)
{
	struct search_op *so = arg;

	myldap_result_free(so->r);
	so->r = result_new(so->nattrs);
	if (so->r == NULL)
		return LDAP_NO_MEMORY;
	op_counts.searches++;
	return search_all(ld, &so->q, so->r);
}

enum myldap_rc
myldap_search(struct myldap_session *s, const char *base, const char *filter,
	      const char *const attrs[], size_t limit, struct myldap_result **out)
{
	struct search_op so = { { base, filter, attrs, limit }, 0, NULL };
	struct route *r = route_of(s);
	enum myldap_rc mrc;
	int rc, open_failed;

	if (backoff_active(r))
		return MYLDAP_UNAVAIL;
	while (attrs[so.nattrs] != NULL)
		so.nattrs++;
	log_msg(LOG_DEBUG, "search %.200s %.300s", base, filter);
	rc = run_with_retry(s, search_op, &so, &open_failed);
	mrc = finish(r, rc, open_failed);
	if (mrc == MYLDAP_OK) {
		*out = so.r;
		return MYLDAP_OK;
	}
	myldap_result_free(so.r);
	if (mrc == MYLDAP_ERROR)
		log_msg(LOG_ERR, "search %.200s %.300s: %s", base, filter, ldap_err2string(rc));
	return mrc;
}

/* ---- modifying ---- */

struct modify_op {
	const char *dn;
	LDAPMod **mods;
};

static int
modify_op(LDAP *ld, void *arg)
{
	struct modify_op *mo = arg;

	op_counts.modifies++;
	return ldap_modify_ext_s(ld, mo->dn, mo->mods, NULL, NULL);
}

static const int modop_codes[] = {
	[MYLDAP_MOD_ADD] = LDAP_MOD_ADD,
	[MYLDAP_MOD_DELETE] = LDAP_MOD_DELETE,
	[MYLDAP_MOD_REPLACE] = LDAP_MOD_REPLACE,
};

/* libldap's form of the changes: one LDAPMod and at most one value each.
 * The values are only pointed at (libldap does not change them). */
struct ldapmods {
	LDAPMod mod[MYLDAP_MODS_MAX];
	char *vals[MYLDAP_MODS_MAX][2];
	LDAPMod *list[MYLDAP_MODS_MAX + 1];
};

static int
build_mods(const struct myldap_mod *mods, size_t n, struct ldapmods *lm)
{
	size_t i;

	if (n == 0 || n > MYLDAP_MODS_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		if (mods[i].op > MYLDAP_MOD_REPLACE || mods[i].attr == NULL ||
		    (mods[i].op == MYLDAP_MOD_ADD && mods[i].value == NULL))
			return -1;
		lm->vals[i][0] = (char *)(uintptr_t)mods[i].value;
		lm->vals[i][1] = NULL;
		lm->mod[i].mod_op = modop_codes[mods[i].op];
		lm->mod[i].mod_type = (char *)(uintptr_t)mods[i].attr;
		lm->mod[i].mod_values = mods[i].value != NULL ? lm->vals[i] : NULL;
		lm->list[i] = &lm->mod[i];
	}
	lm->list[n] = NULL;
	return 0;
}

/* The entry is not as the caller read it: a value to delete is gone, a
 * single value to add is already there, or the entry itself is gone. */
static int
is_changed(int rc)
{
	return rc == LDAP_NO_SUCH_ATTRIBUTE || rc == LDAP_TYPE_OR_VALUE_EXISTS ||
	       rc == LDAP_CONSTRAINT_VIOLATION || rc == LDAP_NO_SUCH_OBJECT;
}

enum myldap_rc
myldap_modify(struct myldap_session *s, const char *dn, const struct myldap_mod *mods, size_t n)
{
	struct ldapmods lm;
	struct modify_op mo = { dn, lm.list };
	struct route *r;
	int rc, open_failed;

	route_write(s);
	r = route_of(s);

	if (build_mods(mods, n, &lm) != 0) {
		log_msg(LOG_ERR, "modify %.200s: invalid change", dn);
		return MYLDAP_ERROR;
	}
	if (backoff_active(r))
		return MYLDAP_UNAVAIL;
	log_msg(LOG_DEBUG, "modify %.200s (%zu changes)", dn, n);
	rc = run_with_retry(s, modify_op, &mo, &open_failed);
	if (is_changed(rc)) {
		backoff_succeeded(r);
		log_msg(LOG_DEBUG, "modify %.200s: %s: changed meanwhile", dn,
			ldap_err2string(rc));
		return MYLDAP_CHANGED;
	}
	if (finish(r, rc, open_failed) == MYLDAP_ERROR) {
		log_msg(LOG_ERR, "modify %.200s: %s", dn, ldap_err2string(rc));
		return MYLDAP_ERROR;
	}
	return rc == LDAP_SUCCESS ? MYLDAP_OK : MYLDAP_UNAVAIL;
}

/* ---- comparing ---- */

struct compare_op {
	const char *dn;
	const char *attr;
	struct berval value;
};

static int
compare_op(LDAP *ld, void *arg)
{
	struct compare_op *co = arg;

	op_counts.compares++;
	return ldap_compare_ext_s(ld, co->dn, co->attr, &co->value, NULL, NULL);
}

enum myldap_rc
myldap_compare(struct myldap_session *s, const char *dn, const char *attr, const char *value,
	       int *match)
{
	struct compare_op co = { dn, attr, { 0, NULL } };
	struct route *r = route_of(s);
	int rc, open_failed;

	co.value.bv_val = (char *)(uintptr_t)value;
	co.value.bv_len = strlen(value);
	if (backoff_active(r))
		return MYLDAP_UNAVAIL;
	log_msg(LOG_DEBUG, "compare %.200s %.100s", dn, attr);
	rc = run_with_retry(s, compare_op, &co, &open_failed);
	if (rc == LDAP_COMPARE_TRUE || rc == LDAP_COMPARE_FALSE) {
		backoff_succeeded(r);
		*match = rc == LDAP_COMPARE_TRUE;
		return MYLDAP_OK;
	}
	/* An entry without the attribute compares as "no match". */
	if (rc == LDAP_NO_SUCH_ATTRIBUTE || rc == LDAP_UNDEFINED_TYPE) {
		backoff_succeeded(r);
		*match = 0;
		return MYLDAP_OK;
	}
	if (finish(r, rc, open_failed) == MYLDAP_ERROR) {
		log_msg(LOG_ERR, "compare %.200s %.100s: %s", dn, attr, ldap_err2string(rc));
		return MYLDAP_ERROR;
	}
	return MYLDAP_UNAVAIL;
}

/* ---- adding and deleting entries (tokens, rate counters) ---- */

struct ldapadd {
	LDAPMod mod[MYLDAP_MODS_MAX];
	char *vals[2 * MYLDAP_MODS_MAX + 1];
	LDAPMod *list[MYLDAP_MODS_MAX + 1];
};

/* Group consecutive pairs of one attribute into one LDAPMod: an add
 * request must not name an attribute twice. */
static int
build_add(const struct myldap_mod *attrs, size_t n, struct ldapadd *la)
{
	size_t i, m = 0, v = 0;

	if (n == 0 || n > MYLDAP_MODS_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		if (attrs[i].attr == NULL || attrs[i].value == NULL)
			return -1;
		if (i == 0 || strcasecmp(attrs[i].attr, attrs[i - 1].attr) != 0) {
			if (i > 0)
				la->vals[v++] = NULL;
			la->mod[m].mod_op = LDAP_MOD_ADD;
			la->mod[m].mod_type = (char *)(uintptr_t)attrs[i].attr;
			la->mod[m].mod_values = &la->vals[v];
			la->list[m] = &la->mod[m];
			m++;
		}
		la->vals[v++] = (char *)(uintptr_t)attrs[i].value;
	}
	la->vals[v] = NULL;
	la->list[m] = NULL;
	return 0;
}

struct entry_op {
	const char *dn;
	LDAPMod **mods; /* NULL: delete */
};

static int
entry_op(LDAP *ld, void *arg)
{
	struct entry_op *eo = arg;

	op_counts.modifies++;
	if (eo->mods == NULL)
		return ldap_delete_ext_s(ld, eo->dn, NULL, NULL);
	return ldap_add_ext_s(ld, eo->dn, eo->mods, NULL, NULL);
}

/* Run an add or a delete; `changed` is the LDAP code that means "the
 * entry is not as the caller thought" (there already, gone already). */
static enum myldap_rc
run_entry_op(struct myldap_session *s, struct entry_op *eo, int changed)
{
	const char *what = eo->mods == NULL ? "delete" : "add";
	struct route *r;
	int rc, open_failed;

	route_write(s);
	r = route_of(s);

	if (backoff_active(r))
		return MYLDAP_UNAVAIL;
	log_msg(LOG_DEBUG, "%s %.200s", what, eo->dn);
	rc = run_with_retry(s, entry_op, eo, &open_failed);
	if (rc == changed || rc == LDAP_CONSTRAINT_VIOLATION) {
		backoff_succeeded(r);
		log_msg(LOG_DEBUG, "%s %.200s: %s", what, eo->dn, ldap_err2string(rc));
		return MYLDAP_CHANGED;
	}
	if (finish(r, rc, open_failed) == MYLDAP_ERROR) {
		log_msg(LOG_ERR, "%s %.200s: %s", what, eo->dn, ldap_err2string(rc));
		return MYLDAP_ERROR;
	}
	return rc == LDAP_SUCCESS ? MYLDAP_OK : MYLDAP_UNAVAIL;
}

enum myldap_rc
myldap_add(struct myldap_session *s, const char *dn, const struct myldap_mod *attrs, size_t n)
{
	struct ldapadd la;
	struct entry_op eo = { dn, la.list };

	if (build_add(attrs, n, &la) != 0) {
		log_msg(LOG_ERR, "add %.200s: invalid entry", dn);
		return MYLDAP_ERROR;
	}
	return run_entry_op(s, &eo, LDAP_ALREADY_EXISTS);
}

enum myldap_rc
myldap_delete(struct myldap_session *s, const char *dn)
{
	struct entry_op eo = { dn, NULL };

	return run_entry_op(s, &eo, LDAP_NO_SUCH_OBJECT);
}

/* ---- incrementing a counter ---- */

struct increment_op {
	const char *dn;
	const char *attr;
	unsigned long by;
	unsigned long long before;
};

static int
increment_op(LDAP *ld, void *arg)
{
	struct increment_op *io = arg;
	char diag[256];
	int rc;

	op_counts.modifies++;
	rc = kenpo_ldap_increment(ld, io->dn, io->attr, io->by, ldcfg->ldap_timeout, &io->before,
				  diag, sizeof diag);
	if (rc != LDAP_SUCCESS && diag[0] != '\0')
		log_msg(LOG_DEBUG, "increment %.200s: %.200s", io->dn, diag);
	return rc;
}

enum myldap_rc
myldap_increment(struct myldap_session *s, const char *dn, const char *attr, unsigned long by,
		 unsigned long long *before)
{
	struct increment_op io = { dn, attr, by, 0 };
	struct route *r;
	int rc, open_failed;

	route_write(s);
	r = route_of(s);

	if (backoff_active(r))
		return MYLDAP_UNAVAIL;
	log_msg(LOG_DEBUG, "increment %.200s %.100s by %lu", dn, attr, by);
	rc = run_with_retry(s, increment_op, &io, &open_failed);
	if (finish(r, rc, open_failed) == MYLDAP_ERROR) {
		log_msg(LOG_ERR, "increment %.200s %.100s: %s", dn, attr, ldap_err2string(rc));
		return MYLDAP_ERROR;
	}
	if (rc != LDAP_SUCCESS)
		return MYLDAP_UNAVAIL;
	*before = io.before;
	return MYLDAP_OK;
}

int
myldap_escape(const char *value, size_t len, char *out, size_t outsz)
{
	return kenpo_ldap_escape(value, len, out, outsz);
}

/* ---- the failback check ---- */

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when dn is base or lies below it (ASCII case-insensitive). */
static int
dn_within(const char *dn, const char *base)
{
	size_t a = strlen(dn), b = strlen(base);

	return a >= b && strcasecmp(dn + a - b, base) == 0 && (a == b || dn[a - b - 1] == ',');
}

/* The values of attr of the entry dn, at most max, copied into
 * vals[0..*n).  An LDAP result code. */
static int
read_values(LDAP *ld, const char *dn, const char *attr, char **vals, size_t max, size_t *n)
{
	struct timeval tv = { .tv_sec = ldcfg->ldap_timeout, .tv_usec = 0 };
	char *attrs[2] = { (char *)(uintptr_t)attr, NULL };
	LDAPMessage *res = NULL, *e;
	struct berval **bv = NULL;
	size_t i;
	int rc;

	*n = 0;
	rc = ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
			       &tv, 1, &res);
	e = rc == LDAP_SUCCESS ? ldap_first_entry(ld, res) : NULL;
	if (e != NULL)
		bv = ldap_get_values_len(ld, e, attr);
	for (i = 0; bv != NULL && bv[i] != NULL && *n < max; i++) {
		vals[*n] = strndup(bv[i]->bv_val, bv[i]->bv_len);
		if (vals[*n] == NULL) {
			rc = LDAP_NO_MEMORY;
			break;
		}
		(*n)++;
	}
	ldap_value_free_len(bv);
	ldap_msgfree(res);
	return rc;
}

static void
free_values(char **vals, size_t n)
{
	while (n > 0)
		free(vals[--n]);
}

/* The contextCSN values of the naming context that holds the societies:
 * what changes, from which provider, the server holds.  An LDAP result
 * code. */
static int
context_csns(LDAP *ld, char **csn, size_t *n)
{
	char *ctx[CSN_MAX];
	size_t nctx = 0, i;
	const char *suffix = NULL;
	int rc;

	*n = 0;
	rc = read_values(ld, "", "namingContexts", ctx, CSN_MAX, &nctx);
	for (i = 0; rc == LDAP_SUCCESS && i < nctx && suffix == NULL; i++)
		if (dn_within(ldcfg->societies[0].base, ctx[i]))
			suffix = ctx[i];
	if (rc == LDAP_SUCCESS && suffix != NULL)
		rc = read_values(ld, suffix, "contextCSN", csn, CSN_MAX, n);
	free_values(ctx, nctx);
	return rc;
}

/*
 * Whether server i of write_uri may take over from server cur: it answers
 * and holds every change cur holds (its contextCSN values are at least
 * cur's, server ID by server ID), or cur does not answer at all.  1 yes,
 * 0 it answers but lags, -1 it does not answer.
 */
static int
may_take_over(const struct route *r, size_t i, size_t cur)
{
	LDAP *a = NULL, *b = NULL;
	char *have[CSN_MAX], *want[CSN_MAX];
	size_t nh = 0, nw = 0;
	int ok = -1;

	if (open_server(r->uris.uri[i], &a) != LDAP_SUCCESS)
		goto done;
	ok = 1;
	if (open_server(r->uris.uri[cur], &b) != LDAP_SUCCESS)
		goto done;
	if (context_csns(b, want, &nw) != LDAP_SUCCESS ||
	    context_csns(a, have, &nh) != LDAP_SUCCESS) {
		ok = 0;
		goto done;
	}
	ok = kenpo_csn_caught_up((const char *const *)have, nh, (const char *const *)want, nw);
	if (!ok)
		log_msg(LOG_INFO,
			"%.200s answers again but lacks changes that %.200s holds; "
			"waiting for replication",
			r->uris.uri[i], r->uris.uri[cur]);
done:
	free_values(have, nh);
	free_values(want, nw);
	if (a != NULL)
		ldap_unbind_ext_s(a, NULL, NULL);
	if (b != NULL)
		ldap_unbind_ext_s(b, NULL, NULL);
	return ok;
}

/* One check: go back to the first earlier provider that may take over.
 * 1 when one answered but lagged (look again soon), else 0. */
static int
failback_check(void)
{
	struct route *r = &routes[MYLDAP_WRITER];
	size_t cur, i;
	unsigned gen;
	int lag = 0, st;

	route_now(r, &cur, &gen);
	for (i = 0; i < cur; i++) {
		st = may_take_over(r, i, cur);
		if (st == 1) {
			writer_switch(r, gen, i, "it answers again and holds every change");
			return 0;
		}
		lag |= st == 0;
	}
	return lag;
}

/* The checks fall on multiples of write_failback_interval (wall clock),
 * the same moments on every host. */
static void *
checker_main(void *arg)
{
	struct timespec ts;
	int64_t due;
	int lag = 0;

	(void)arg;
	log_setrequest("write provider check");
	pthread_mutex_lock(&checker_lock);
	while (!checker_stop) {
		due = lag ? wall_ms() + RECHECK_MS :
			    kenpo_provider_next_check(wall_ms(), ldcfg->write_failback_interval);
		ts.tv_sec = (time_t)(due / 1000);
		ts.tv_nsec = (long)(due % 1000) * 1000000;
		while (!checker_stop &&
		       pthread_cond_timedwait(&checker_wake, &checker_lock, &ts) != ETIMEDOUT)
			;
		if (checker_stop)
			break;
		pthread_mutex_unlock(&checker_lock);
		lag = failback_check();
		pthread_mutex_lock(&checker_lock);
	}
	pthread_mutex_unlock(&checker_lock);
	return NULL;
}

static int
checker_start(void)
{
	sigset_t all, old;
	int rc;

	/* Signals are the main thread's (server.c blocks them in workers too). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&checker, NULL, checker_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_msg(LOG_ERR, "cannot start the write provider check: %s", strerror(rc));
		return -1;
	}
	checker_running = 1;
	return 0;
}

void
myldap_teardown(void)
{
	if (checker_running) {
		pthread_mutex_lock(&checker_lock);
		checker_stop = 1;
		pthread_cond_signal(&checker_wake);
		pthread_mutex_unlock(&checker_lock);
		pthread_join(checker, NULL);
		checker_running = 0;
	}
	kenpo_uris_free(&routes[MYLDAP_NEAREST].uris);
	kenpo_uris_free(&routes[MYLDAP_WRITER].uris);
}
