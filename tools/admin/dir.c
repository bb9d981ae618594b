/*
 * dir.c - kenpo-admin's directory access (see dir.h).  The only file of
 * the tool that calls ldap_*, with the connection policy and the
 * operations it shares with kenpod (src/directory/ldapconn.c).
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <ldap.h>

#include "config.h"
#include "dir.h"
#include "ldapconn.h"
#include "readfile.h"
#include "schema.h"
#include "secret.h"

#define PAGE_SIZE 500
#define PW_FILE_MAX 4096
/* A search page or a write may take long on a busy server (a whole
 * society is read in pages); connecting is bounded by the timeout. */
#define OP_TIMEOUT_MIN 60

struct dir {
	LDAP *ld;
	long timeout;
};

struct dir_mods {
	LDAPMod **mods; /* NULL-terminated */
	size_t n, cap;
};

/* ---- results and messages ---- */

static int
map_rc(int rc)
{
	static const struct {
		int ldap;
		int dir;
	} table[] = {
		{ LDAP_SUCCESS, DIR_OK },
		{ LDAP_NO_SUCH_OBJECT, DIR_NOSUCH },
		{ LDAP_ALREADY_EXISTS, DIR_EXISTS },
		{ LDAP_CONSTRAINT_VIOLATION, DIR_CONSTRAINT },
		{ LDAP_INSUFFICIENT_ACCESS, DIR_DENIED },
		{ LDAP_UNWILLING_TO_PERFORM, DIR_DENIED },
		{ LDAP_TYPE_OR_VALUE_EXISTS, DIR_ATTREXISTS },
	};
	size_t i;

	for (i = 0; i < sizeof table / sizeof table[0]; i++)
		if (table[i].ldap == rc)
			return table[i].dir;
	return DIR_ERR;
}

/* "what: Server message (diagnostic)" into err. */
static void
set_err(char *err, size_t errsz, const char *what, int rc, const char *diag)
{
	if (err == NULL || errsz == 0)
		return;
	if (diag != NULL && diag[0] != '\0')
		snprintf(err, errsz, "%s: %s (%.200s)", what, ldap_err2string(rc), diag);
	else
		snprintf(err, errsz, "%s: %s", what, ldap_err2string(rc));
}

static long
op_timeout(const struct dir *d)
{
	return d->timeout > OP_TIMEOUT_MIN ? d->timeout : OP_TIMEOUT_MIN;
}

/* ---- connecting ---- */

/* Read the bind password (readfile.h: one line).  The file must be the
 * caller's (or root's) and readable by nobody else. */
static int
read_password(const char *path, char **out, char *err, size_t errsz)
{
	size_t len = 0;

	return kenpo_read_secret_line(path, getuid(), PW_FILE_MAX, out, &len, err, errsz);
}

int
dir_open(const struct dir_bind *b, struct dir **out, char *err, size_t errsz)
{
	struct kenpo_ldap_params p = {
		.uri = b->uri,
		.bind_dn = b->bind_dn,
		.password = NULL,
		.ca_file = b->ca_file,
		.timeout = b->timeout > 0 ? b->timeout : 5,
	};
	struct dir *d = NULL;
	char *pw = NULL;
	LDAP *ld = NULL;
	int ret = -1;

	if (b->bind_dn != NULL && read_password(b->pw_file, &pw, err, errsz) != 0)
		goto done;
	p.password = pw;
	if (kenpo_ldap_setup() != 0) {
		snprintf(err, errsz, "cannot initialise libldap");
		goto done;
	}
	if (kenpo_ldap_open(&p, &ld, err, errsz) != LDAP_SUCCESS)
		goto done;
	d = calloc(1, sizeof *d);
	if (d == NULL) {
		snprintf(err, errsz, "out of memory");
		goto done;
	}
	d->ld = ld;
	d->timeout = p.timeout;
	ld = NULL;
	*out = d;
	ret = 0;
done:
	kenpo_secret_free(pw);
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	return ret;
}

void
dir_close(struct dir *d)
{
	if (d == NULL)
		return;
	ldap_unbind_ext_s(d->ld, NULL, NULL);
	free(d);
}

/* ---- entries ---- */

static const struct dir_attr *
find_attr(const struct dir_entry *e, const char *attr)
{
	size_t i;

	for (i = 0; i < e->nattrs; i++)
		if (strcasecmp(e->attrs[i].name, attr) == 0)
			return &e->attrs[i];
	return NULL;
}

const char *
dir_get(const struct dir_entry *e, const char *attr)
{
	return dir_val(e, attr, 0);
}

size_t
dir_nvals(const struct dir_entry *e, const char *attr)
{
	const struct dir_attr *a = find_attr(e, attr);

	return a != NULL ? a->nvals : 0;
}

const char *
dir_val(const struct dir_entry *e, const char *attr, size_t i)
{
	const struct dir_attr *a = find_attr(e, attr);

	return a != NULL && i < a->nvals ? a->vals[i] : NULL;
}

int
dir_has_value(const struct dir_entry *e, const char *attr, const char *value)
{
	const struct dir_attr *a = find_attr(e, attr);
	size_t i;

	for (i = 0; a != NULL && i < a->nvals; i++)
		if (strcasecmp(a->vals[i], value) == 0)
			return 1;
	return 0;
}

void
dir_entry_free(struct dir_entry *e)
{
	size_t i, j;

	if (e == NULL)
		return;
	for (i = 0; i < e->nattrs; i++) {
		for (j = 0; j < e->attrs[i].nvals; j++)
			free(e->attrs[i].vals[j]);
		free(e->attrs[i].vals);
		free(e->attrs[i].name);
	}
	free(e->attrs);
	free(e->dn);
	free(e);
}

/* Copy the values of one attribute.  0 or -1. */
static int
copy_values(struct berval **bv, struct dir_attr *a)
{
	size_t n = (size_t)ldap_count_values_len(bv), i;

	a->vals = calloc(n + 1, sizeof *a->vals);
	if (a->vals == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		a->vals[i] = malloc(bv[i]->bv_len + 1);
		if (a->vals[i] == NULL)
			return -1;
		if (bv[i]->bv_len > 0)
			memcpy(a->vals[i], bv[i]->bv_val, bv[i]->bv_len);
		a->vals[i][bv[i]->bv_len] = '\0';
		a->nvals = i + 1;
	}
	return 0;
}

/* Add one attribute of msg to e.  0 or -1. */
static int
add_attr(LDAP *ld, LDAPMessage *msg, const char *name, struct dir_entry *e)
{
	struct berval **bv = ldap_get_values_len(ld, msg, name);
	struct dir_attr *na, *a;
	int ret = -1;

	na = realloc(e->attrs, (e->nattrs + 1) * sizeof *e->attrs);
	if (na == NULL)
		goto done;
	e->attrs = na;
	a = &e->attrs[e->nattrs++];
	memset(a, 0, sizeof *a);
	a->name = strdup(name);
	if (a->name == NULL)
		goto done;
	ret = bv != NULL ? copy_values(bv, a) : 0;
done:
	ldap_value_free_len(bv);
	return ret;
}

/* A dir_entry made of a search entry; NULL when out of memory. */
static struct dir_entry *
convert_entry(LDAP *ld, LDAPMessage *msg)
{
	struct dir_entry *e = calloc(1, sizeof *e);
	BerElement *ber = NULL;
	char *dn = ldap_get_dn(ld, msg), *name;
	int ok = e != NULL && dn != NULL;

	if (ok)
		ok = (e->dn = strdup(dn)) != NULL;
	for (name = ok ? ldap_first_attribute(ld, msg, &ber) : NULL; name != NULL && ok;
	     name = ldap_next_attribute(ld, msg, ber)) {
		ok = add_attr(ld, msg, name, e) == 0;
		ldap_memfree(name);
	}
	if (ber != NULL)
		ber_free(ber, 0);
	ldap_memfree(dn);
	if (!ok) {
		dir_entry_free(e);
		return NULL;
	}
	return e;
}

/* ---- searching ---- */

struct search {
	struct dir *d;
	dir_entry_fn *fn;
	void *arg;
	int stopped;          /* the callback said stop (1) or fail (-1) */
	struct berval cookie; /* paging */
	char *err;
	size_t errsz;
};

static int
scope_of(enum dir_scope s)
{
	return s == DIR_BASE ? LDAP_SCOPE_BASE :
	       s == DIR_ONE  ? LDAP_SCOPE_ONELEVEL :
			       LDAP_SCOPE_SUBTREE;
}

/* Hand one entry to the callback. 0, or -1 (out of memory). */
static int
deliver(struct search *s, LDAPMessage *msg)
{
	struct dir_entry *e = convert_entry(s->d->ld, msg);
	int r;

	if (e == NULL) {
		snprintf(s->err, s->errsz, "out of memory");
		return -1;
	}
	r = s->fn(e, s->arg);
	if (r != DIR_CB_KEEP)
		dir_entry_free(e);
	if (r == DIR_CB_STOP)
		s->stopped = 1;
	else if (r == DIR_CB_FAIL)
		s->stopped = -1;
	return 0;
}

/* The result of one page: the code, and the cookie of the next page. */
static int
page_result(struct search *s, LDAPMessage *msg, const char *base)
{
	LDAPControl **ctrls = NULL, *pc;
	char *diag = NULL;
	ber_int_t count = 0;
	int rc, prc;

	prc = ldap_parse_result(s->d->ld, msg, &rc, NULL, &diag, NULL, &ctrls, 0);
	if (prc != LDAP_SUCCESS)
		rc = prc;
	ber_memfree(s->cookie.bv_val);
	s->cookie.bv_val = NULL;
	s->cookie.bv_len = 0;
	if (rc == LDAP_SUCCESS && ctrls != NULL &&
	    (pc = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, ctrls, NULL)) != NULL &&
	    ldap_parse_pageresponse_control(s->d->ld, pc, &count, &s->cookie) != LDAP_SUCCESS)
		rc = LDAP_DECODING_ERROR;
	if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
		char what[300];

		snprintf(what, sizeof what, "search under %.200s", base);
		/* Paged searches count against size.prtotal, which defaults to
		 * the size limit (500) for all but the rootdn. */
		set_err(s->err, s->errsz, what, rc,
			rc != LDAP_SIZELIMIT_EXCEEDED ?
				diag :
				"the server limits what this identity may read: give it olcLimits "
				"size=unlimited (kenpo-admin init shows how)");
	}
	ldap_memfree(diag);
	ldap_controls_free(ctrls);
	return rc;
}

/* Read one page.  An LDAP result code. */
static int
search_page(struct search *s, const char *base, int scope, const char *filter, char **attrs)
{
	LDAPControl *page = NULL, *ctrls[2] = { NULL, NULL };
	LDAPMessage *msg = NULL;
	struct timeval tv = { .tv_sec = op_timeout(s->d), .tv_usec = 0 };
	int rc, msgid, type;

	rc = ldap_create_page_control(s->d->ld, PAGE_SIZE,
				      s->cookie.bv_val != NULL ? &s->cookie : NULL, 0, &page);
	if (rc != LDAP_SUCCESS)
		goto done;
	ctrls[0] = page;
	rc = ldap_search_ext(s->d->ld, base, scope, filter, attrs, 0, ctrls, NULL, &tv,
			     LDAP_NO_LIMIT, &msgid);
	while (rc == LDAP_SUCCESS) {
		type = ldap_result(s->d->ld, msgid, LDAP_MSG_ONE, &tv, &msg);
		if (type <= 0) {
			rc = type == 0 ? LDAP_TIMEOUT : LDAP_SERVER_DOWN;
			break;
		}
		if (type == LDAP_RES_SEARCH_RESULT) {
			rc = page_result(s, msg, base);
			break;
		}
		if (type == LDAP_RES_SEARCH_ENTRY && s->stopped == 0 && deliver(s, msg) != 0)
			rc = LDAP_NO_MEMORY;
		ldap_msgfree(msg);
		msg = NULL;
	}
done:
	ldap_msgfree(msg);
	ldap_control_free(page);
	return rc;
}

int
dir_search(struct dir *d, const char *base, enum dir_scope scope, const char *filter,
	   const char *const *attrs, dir_entry_fn *fn, void *arg, char *err, size_t errsz)
{
	struct search s = { .d = d, .fn = fn, .arg = arg, .err = err, .errsz = errsz };
	/* libldap takes char ** but only reads the names. */
	char **a = (char **)(uintptr_t)attrs;
	int rc;

	err[0] = '\0';
	do {
		rc = search_page(&s, base, scope_of(scope), filter, a);
	} while (rc == LDAP_SUCCESS && s.stopped == 0 && s.cookie.bv_len > 0);
	/* A search stopped early leaves its paging state on the server until
	 * the connection closes, which is soon: nothing to clean up. */
	ber_memfree(s.cookie.bv_val);
	if (rc != LDAP_SUCCESS && err[0] == '\0') {
		char what[300];

		snprintf(what, sizeof what, "search under %.200s", base);
		set_err(err, errsz, what, rc, NULL);
	}
	if (rc == LDAP_SUCCESS && s.stopped < 0)
		return DIR_ERR;
	return map_rc(rc);
}

int
dir_keep_first(struct dir_entry *e, void *arg)
{
	struct dir_entry **out = arg;

	if (*out != NULL)
		return DIR_CB_NEXT;
	*out = e;
	return DIR_CB_KEEP;
}

/* ---- modifications ---- */

struct dir_mods *
dir_mods_new(void)
{
	return calloc(1, sizeof(struct dir_mods));
}

size_t
dir_mods_count(const struct dir_mods *m)
{
	return m->n;
}

static int
ldap_op_of(enum dir_op op)
{
	static const int ops[] = {
		[DIR_MOD_ADD] = LDAP_MOD_ADD,
		[DIR_MOD_DELETE] = LDAP_MOD_DELETE,
		[DIR_MOD_REPLACE] = LDAP_MOD_REPLACE,
		[DIR_MOD_INCREMENT] = LDAP_MOD_INCREMENT,
	};

	return ops[op] | LDAP_MOD_BVALUES;
}

/* The modification to add a value to: the last one if it has the same op
 * and attribute, else a new one.  NULL when out of memory. */
static LDAPMod *
mod_for(struct dir_mods *m, enum dir_op op, const char *attr)
{
	LDAPMod *last = m->n > 0 ? m->mods[m->n - 1] : NULL, *mod, **nm;

	if (last != NULL && last->mod_op == ldap_op_of(op) &&
	    strcasecmp(last->mod_type, attr) == 0)
		return last;
	if (m->n + 2 > m->cap) {
		nm = realloc(m->mods, (m->cap != 0 ? 2 * m->cap : 16) * sizeof *nm);
		if (nm == NULL)
			return NULL;
		m->mods = nm;
		m->cap = m->cap != 0 ? 2 * m->cap : 16;
	}
	mod = calloc(1, sizeof *mod);
	if (mod == NULL || (mod->mod_type = ber_strdup(attr)) == NULL) {
		free(mod);
		return NULL;
	}
	mod->mod_op = ldap_op_of(op);
	m->mods[m->n++] = mod;
	m->mods[m->n] = NULL;
	return mod;
}

int
dir_mods_put(struct dir_mods *m, enum dir_op op, const char *attr, const char *value)
{
	LDAPMod *mod = mod_for(m, op, attr);
	struct berval **nv;
	size_t n = 0;

	if (mod == NULL)
		return -1;
	if (value == NULL)
		return 0;
	while (mod->mod_bvalues != NULL && mod->mod_bvalues[n] != NULL)
		n++;
	nv = realloc(mod->mod_bvalues, (n + 2) * sizeof *nv);
	if (nv == NULL)
		return -1;
	mod->mod_bvalues = nv;
	nv[n] = ber_bvstrdup(value);
	nv[n + 1] = NULL;
	return nv[n] != NULL ? 0 : -1;
}

void
dir_mods_free(struct dir_mods *m)
{
	if (m == NULL)
		return;
	if (m->mods != NULL)
		ldap_mods_free(m->mods, 1);
	free(m);
}

static LDAPMod **
mods_of(const struct dir_mods *m)
{
	static LDAPMod *none[1] = { NULL };

	return m->n > 0 ? m->mods : none;
}

/* ---- writes ---- */

static void
op_err(char *err, size_t errsz, const char *op, const char *dn, int rc, const char *diag)
{
	char what[400];

	snprintf(what, sizeof what, "%s %.300s", op, dn);
	set_err(err, errsz, what, rc, diag);
}

int
dir_add_start(struct dir *d, const char *dn, const struct dir_mods *m, int *msgid, char *err,
	      size_t errsz)
{
	int rc = ldap_add_ext(d->ld, dn, mods_of(m), NULL, NULL, msgid);

	if (rc != LDAP_SUCCESS)
		op_err(err, errsz, "add", dn, rc, NULL);
	return map_rc(rc) == DIR_OK ? DIR_OK : DIR_ERR;
}

int
dir_modify_start(struct dir *d, const char *dn, const struct dir_mods *m, int *msgid, char *err,
		 size_t errsz)
{
	int rc = ldap_modify_ext(d->ld, dn, mods_of(m), NULL, NULL, msgid);

	if (rc != LDAP_SUCCESS)
		op_err(err, errsz, "modify", dn, rc, NULL);
	return map_rc(rc) == DIR_OK ? DIR_OK : DIR_ERR;
}

int
dir_delete_start(struct dir *d, const char *dn, int *msgid, char *err, size_t errsz)
{
	int rc = ldap_delete_ext(d->ld, dn, NULL, NULL, msgid);

	if (rc != LDAP_SUCCESS)
		op_err(err, errsz, "delete", dn, rc, NULL);
	return map_rc(rc) == DIR_OK ? DIR_OK : DIR_ERR;
}

/* Wait for one result (msgid, or LDAP_RES_ANY).  1, 0 (timeout) or -1. */
static int
wait_result(struct dir *d, int want, int timeout_ms, int *msgid, int *rc, char *msg, size_t msgsz)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };
	LDAPMessage *res = NULL;
	char *diag = NULL;
	int type, code = LDAP_OTHER, prc;

	type = ldap_result(d->ld, want, LDAP_MSG_ALL, &tv, &res);
	if (type == 0)
		return 0;
	if (type < 0) {
		(void)ldap_get_option(d->ld, LDAP_OPT_RESULT_CODE, &code);
		snprintf(msg, msgsz, "connection to the directory failed: %s",
			 ldap_err2string(code));
		return -1;
	}
	*msgid = ldap_msgid(res);
	prc = ldap_parse_result(d->ld, res, &code, NULL, &diag, NULL, NULL, 1);
	if (prc != LDAP_SUCCESS)
		code = prc;
	*rc = map_rc(code);
	if (code != LDAP_SUCCESS)
		set_err(msg, msgsz, "", code, diag);
	else if (msgsz > 0)
		msg[0] = '\0';
	ldap_memfree(diag);
	return 1;
}

int
dir_collect(struct dir *d, int timeout_ms, int *msgid, int *rc, char *msg, size_t msgsz)
{
	return wait_result(d, LDAP_RES_ANY, timeout_ms, msgid, rc, msg, msgsz);
}

/* Wait for the result of one request sent by a synchronous call. */
static int
finish(struct dir *d, int msgid, const char *op, const char *dn, char *err, size_t errsz)
{
	char msg[400];
	int got = -1, rc = DIR_ERR, r;

	r = wait_result(d, msgid, (int)op_timeout(d) * 1000, &got, &rc, msg, sizeof msg);
	if (r <= 0) {
		snprintf(err, errsz, "%s %.300s: %s", op, dn, r == 0 ? "timed out" : msg);
		return DIR_ERR;
	}
	if (rc != DIR_OK)
		/* msg starts with ": " (set_err with an empty prefix). */
		snprintf(err, errsz, "%s %.300s%s", op, dn, msg);
	return rc;
}

int
dir_add(struct dir *d, const char *dn, const struct dir_mods *m, char *err, size_t errsz)
{
	int msgid;

	if (dir_add_start(d, dn, m, &msgid, err, errsz) != DIR_OK)
		return DIR_ERR;
	return finish(d, msgid, "add", dn, err, errsz);
}

int
dir_modify(struct dir *d, const char *dn, const struct dir_mods *m, char *err, size_t errsz)
{
	int msgid;

	if (dir_modify_start(d, dn, m, &msgid, err, errsz) != DIR_OK)
		return DIR_ERR;
	return finish(d, msgid, "modify", dn, err, errsz);
}

int
dir_delete(struct dir *d, const char *dn, char *err, size_t errsz)
{
	int msgid;

	if (dir_delete_start(d, dn, &msgid, err, errsz) != DIR_OK)
		return DIR_ERR;
	return finish(d, msgid, "delete", dn, err, errsz);
}

/* ---- counters ---- */

int
dir_increment(struct dir *d, const char *dn, const char *attr, unsigned long by,
	      unsigned long long *before, char *err, size_t errsz)
{
	char diag[256];
	int rc;

	rc = kenpo_ldap_increment(d->ld, dn, attr, by, op_timeout(d), before, diag, sizeof diag);
	if (rc == LDAP_DECODING_ERROR)
		snprintf(err, errsz, "increment %.300s: no readable pre-read value of %s", dn,
			 attr);
	else if (rc != LDAP_SUCCESS)
		op_err(err, errsz, "increment", dn, rc, diag);
	return rc == LDAP_SUCCESS ? DIR_OK : rc == LDAP_DECODING_ERROR ? DIR_ERR : map_rc(rc);
}

/* ---- the root DSE and the schema ---- */

/* The root DSE with the attributes asked for; NULL with err filled. */
static struct dir_entry *
root_dse(struct dir *d, const char *attr, char *err, size_t errsz)
{
	const char *attrs[] = { attr, NULL };
	struct dir_entry *e = NULL;

	if (dir_search(d, "", DIR_BASE, "(" KENPO_AT_OBJECTCLASS "=*)", attrs, dir_keep_first, &e,
		       err, errsz) != DIR_OK) {
		dir_entry_free(e);
		return NULL;
	}
	if (e == NULL)
		snprintf(err, errsz, "the root DSE cannot be read");
	return e;
}

/* dn normalised (RFC 4514 form, lower case), in a malloc'd string. */
static char *
normalize_dn(const char *dn)
{
	char *n = NULL, *copy, *p;

	if (ldap_dn_normalize(dn, LDAP_DN_FORMAT_LDAPV3, &n, LDAP_DN_FORMAT_LDAPV3) !=
	    LDAP_SUCCESS)
		return NULL;
	copy = strdup(n != NULL ? n : "");
	ldap_memfree(n);
	for (p = copy; p != NULL && *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return copy;
}

/* 1 when normalised ndn lies under (or is) normalised suffix ns. */
static int
is_under(const char *ndn, const char *ns)
{
	size_t a = strlen(ndn), b = strlen(ns);

	if (b == 0 || a < b || strcmp(ndn + a - b, ns) != 0)
		return 0;
	return a == b || ndn[a - b - 1] == ',';
}

int
dir_suffix_of(struct dir *d, const char *dn, char *out, size_t outsz, char *err, size_t errsz)
{
	struct dir_entry *e = root_dse(d, "namingContexts", err, errsz);
	char *ndn = NULL, *ns;
	size_t i, best = 0;
	int ret = DIR_ERR;

	if (e == NULL)
		return DIR_ERR;
	ndn = normalize_dn(dn);
	if (ndn == NULL) {
		snprintf(err, errsz, "%.300s: not a valid DN", dn);
		goto done;
	}
	ret = DIR_NOSUCH;
	for (i = 0; i < dir_nvals(e, "namingContexts"); i++) {
		ns = normalize_dn(dir_val(e, "namingContexts", i));
		if (ns != NULL && is_under(ndn, ns) && strlen(ns) > best &&
		    strlen(dir_val(e, "namingContexts", i)) < outsz) {
			best = strlen(ns);
			snprintf(out, outsz, "%s", dir_val(e, "namingContexts", i));
			ret = DIR_OK;
		}
		free(ns);
	}
	if (ret == DIR_NOSUCH)
		snprintf(err, errsz, "no naming context of the directory holds %.300s", dn);
done:
	free(ndn);
	dir_entry_free(e);
	return ret;
}

int
dir_schema_has_class(struct dir *d, const char *name, char *err, size_t errsz)
{
	const char *attrs[] = { "objectClasses", NULL };
	struct dir_entry *dse = root_dse(d, "subschemaSubentry", err, errsz), *sch = NULL;
	const char *sub = dse != NULL ? dir_get(dse, "subschemaSubentry") : NULL;
	char quoted[140];
	size_t i;
	int ret = -1;

	if (sub == NULL) {
		if (dse != NULL)
			snprintf(err, errsz, "the server names no subschema entry");
		goto done;
	}
	if (dir_search(d, sub, DIR_BASE, "(" KENPO_AT_OBJECTCLASS "=subschema)", attrs,
		       dir_keep_first, &sch, err, errsz) != DIR_OK ||
	    sch == NULL)
		goto done;
	snprintf(quoted, sizeof quoted, "'%.128s'", name);
	ret = 0;
	for (i = 0; i < dir_nvals(sch, "objectClasses") && ret == 0; i++)
		ret = strcasestr(dir_val(sch, "objectClasses", i), quoted) != NULL;
done:
	dir_entry_free(sch);
	dir_entry_free(dse);
	return ret;
}

int
dir_filter_escape(const char *in, char *out, size_t outsz)
{
	return kenpo_ldap_escape(in, strlen(in), out, outsz);
}

int
dir_whoami(struct dir *d, char *out, size_t outsz)
{
	struct berval *id = NULL;
	int ret = -1;

	if (ldap_whoami_s(d->ld, &id, NULL, NULL) != LDAP_SUCCESS)
		return -1;
	if (id != NULL && id->bv_len < outsz) {
		memcpy(out, id->bv_val, id->bv_len);
		out[id->bv_len] = '\0';
		ret = 0;
	}
	ber_bvfree(id);
	return ret;
}
