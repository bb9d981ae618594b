/*
 * check.c - `kenpo-admin check`: find what must never be in a kenpo
 * directory and say how to repair each finding.
 *
 * slapo-unique keeps a login ID and a uidNumber to one entry only for the
 * writes a provider receives itself: replicated changes bypass it
 * (slapo-unique(5)).  kenpod and kenpo-admin therefore write one-time state
 * to a single write provider (kenpod.conf(5), write_uri), but what was
 * written elsewhere before that rule, or while two providers could not see
 * each other and a society let both take writes, can still meet in the
 * replicated directory: one login ID held by two members (neither can log
 * in, since kenpod refuses an ambiguous login), one uidNumber given twice
 * (two members own each other's files), a uidNumber counter behind the
 * numbers in use (the next member gets a taken number), and household
 * entries whose member is gone (a member deleted on one provider while its
 * household was added on another: syncrepl then hangs the household under
 * a "glue" entry).  This command reads the whole suffix, which holds every
 * society (login IDs and uidNumbers are unique across all of them), and
 * reports each finding with the entries involved and a repair.  It changes
 * nothing.  Run it against each provider (-H): a provider that missed a
 * change shows different findings.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "gen.h"

#define REPAIR_MAX 2048

/* One entry that holds a login ID or a uidNumber. */
struct holder {
	char *dn, *uid, *number, *created;
	unsigned long long uidnum;
	int has_uidnum;
};

struct house {
	char *dn;
};

struct counter {
	char *dn;
	unsigned long long next;
	int valid;
};

struct check {
	struct admin *a;
	char suffix[ADMIN_DN_MAX];
	struct holder *h;
	size_t nh, caph;
	char **members; /* DNs of kenpoMember entries, sorted */
	size_t nm, capm;
	struct house *houses;
	size_t nhouse, caphouse;
	struct counter *counters;
	size_t nc, capc;
	json_object *problems;
	size_t nproblems;
	int oom;
};

/* ---- collecting ---- */

/* Make room for one more element of size sz in *arr.  0 or -1. */
static int
grow(void **arr, size_t n, size_t *cap, size_t sz)
{
	void *p;
	size_t want;

	if (n < *cap)
		return 0;
	want = *cap == 0 ? 256 : *cap * 2;
	p = realloc(*arr, want * sz);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = want;
	return 0;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static int
take_holder(struct dir_entry *e, void *arg)
{
	struct check *c = arg;
	const char *num = dir_get(e, "uidNumber");
	struct holder *x;

	if (dir_has_value(e, "objectClass", "kenpoMember")) {
		if (grow((void **)&c->members, c->nm, &c->capm, sizeof *c->members) != 0 ||
		    (c->members[c->nm] = strdup(e->dn)) == NULL)
			goto oom;
		c->nm++;
	}
	if (dir_get(e, "uid") == NULL && num == NULL)
		return DIR_CB_NEXT;
	if (grow((void **)&c->h, c->nh, &c->caph, sizeof *c->h) != 0)
		goto oom;
	x = &c->h[c->nh];
	memset(x, 0, sizeof *x);
	x->dn = strdup(e->dn);
	x->uid = dup_or_null(dir_get(e, "uid"));
	x->number = dup_or_null(dir_get(e, "kenpoMemberNumber"));
	x->created = dup_or_null(dir_get(e, "createTimestamp"));
	x->has_uidnum = num != NULL && kenpo_parse_ulong(num, 0, 0xffffffffULL, &x->uidnum) == 0;
	c->nh++;
	if (x->dn == NULL)
		goto oom;
	return DIR_CB_NEXT;
oom:
	c->oom = 1;
	return DIR_CB_FAIL;
}

static int
take_house(struct dir_entry *e, void *arg)
{
	struct check *c = arg;

	if (grow((void **)&c->houses, c->nhouse, &c->caphouse, sizeof *c->houses) != 0 ||
	    (c->houses[c->nhouse].dn = strdup(e->dn)) == NULL) {
		c->oom = 1;
		return DIR_CB_FAIL;
	}
	c->nhouse++;
	return DIR_CB_NEXT;
}

static int
take_counter(struct dir_entry *e, void *arg)
{
	struct check *c = arg;
	const char *v = dir_get(e, "kenpoNextUid");
	struct counter *k;

	if (grow((void **)&c->counters, c->nc, &c->capc, sizeof *c->counters) != 0 ||
	    (c->counters[c->nc].dn = strdup(e->dn)) == NULL) {
		c->oom = 1;
		return DIR_CB_FAIL;
	}
	k = &c->counters[c->nc++];
	k->valid = v != NULL && kenpo_parse_ulong(v, 0, 0xffffffffULL, &k->next) == 0;
	return DIR_CB_NEXT;
}

/* Read what the checks need.  ADMIN_OK or ADMIN_ERROR (message printed). */
static int
collect(struct check *c)
{
	static const char *const holder_attrs[] = {
		"uid", "uidNumber", "kenpoMemberNumber", "objectClass", "createTimestamp", NULL
	};
	static const char *const house_attrs[] = { "kenpoHouseholdIndex", NULL };
	static const char *const counter_attrs[] = { "kenpoNextUid", NULL };
	static const struct {
		const char *filter;
		const char *const *attrs;
		dir_entry_fn *fn;
	} reads[] = {
		{ "(|(objectClass=kenpoMember)(uid=*)(uidNumber=*))", holder_attrs, take_holder },
		{ "(objectClass=kenpoHouseholdMember)", house_attrs, take_house },
		{ "(objectClass=kenpoCounter)", counter_attrs, take_counter },
	};
	char err[ADMIN_ERR_MAX];
	size_t i;
	int rc;

	rc = dir_suffix_of(c->a->dir, c->a->soc.base, c->suffix, sizeof c->suffix, err,
			   sizeof err);
	for (i = 0; rc == DIR_OK && i < sizeof reads / sizeof reads[0]; i++)
		rc = dir_search(c->a->dir, c->suffix, DIR_SUB, reads[i].filter, reads[i].attrs,
				reads[i].fn, c, err, sizeof err);
	if (c->oom) {
		admin_error("out of memory");
		return ADMIN_ERROR;
	}
	if (rc != DIR_OK) {
		admin_error("%s", err);
		return ADMIN_ERROR;
	}
	return ADMIN_OK;
}

/* ---- reporting ---- */

static json_object *
holder_json(const struct holder *x)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "dn", json_object_new_string(x->dn));
	json_object_object_add(o, "member_number", admin_json_str(x->number));
	json_object_object_add(o, "login_id", admin_json_str(x->uid));
	json_object_object_add(o, "uid_number",
			       x->has_uidnum ? json_object_new_int64((int64_t)x->uidnum) : NULL);
	json_object_object_add(o, "created", admin_json_str(x->created));
	return o;
}

/* text with every line after the first indented under the first. */
static void
print_indented(const char *lead, const char *text)
{
	const char *nl;

	fputs(lead, stdout);
	while ((nl = strchr(text, '\n')) != NULL) {
		printf("%.*s\n    ", (int)(nl - text), text);
		text = nl + 1;
	}
	printf("%s\n\n", text);
}

/* One finding: kind, what it is about, the entries (holders or DNs) and
 * the repair, printed or added to the JSON list. */
static void
report(struct check *c, const char *kind, const char *what, struct holder **hs, size_t n,
       const char *dn, const char *repair)
{
	json_object *o, *list;
	size_t i;

	c->nproblems++;
	if (!c->a->o.json) {
		printf("%s: %s\n", kind, what);
		for (i = 0; i < n; i++)
			printf("  %s  (login ID %s, uidNumber %s%llu, created %s)\n", hs[i]->dn,
			       hs[i]->uid != NULL ? hs[i]->uid : "-",
			       hs[i]->has_uidnum ? "" : "-",
			       hs[i]->has_uidnum ? hs[i]->uidnum : 0ULL,
			       hs[i]->created != NULL ? hs[i]->created : "-");
		if (dn != NULL)
			printf("  %s\n", dn);
		print_indented("  repair: ", repair);
		return;
	}
	o = json_object_new_object();
	list = json_object_new_array();
	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "what", json_object_new_string(what));
	for (i = 0; i < n; i++)
		json_object_array_add(list, holder_json(hs[i]));
	if (dn != NULL)
		json_object_array_add(list, json_object_new_string(dn));
	json_object_object_add(o, "entries", list);
	json_object_object_add(o, "repair", json_object_new_string(repair));
	json_object_array_add(c->problems, o);
}

/* ---- the checks ---- */

/* Oldest first; an entry without createTimestamp last. */
static int
by_created(const struct holder *x, const struct holder *y)
{
	if (x->created == NULL || y->created == NULL)
		return (x->created == NULL) - (y->created == NULL);
	return strcmp(x->created, y->created);
}

static int
cmp_uid(const void *p, const void *q)
{
	const struct holder *x = *(struct holder *const *)p, *y = *(struct holder *const *)q;
	int r = strcasecmp(x->uid, y->uid);

	return r != 0 ? r : by_created(x, y);
}

static int
cmp_uidnum(const void *p, const void *q)
{
	const struct holder *x = *(struct holder *const *)p, *y = *(struct holder *const *)q;

	if (x->uidnum != y->uidnum)
		return x->uidnum < y->uidnum ? -1 : 1;
	return by_created(x, y);
}

/* Pointers to the holders that have a uid (with_uid) or a uidNumber. */
static struct holder **
holders_with(struct check *c, int with_uid, size_t *n)
{
	struct holder **v = calloc(c->nh + 1, sizeof *v);
	size_t i;

	*n = 0;
	for (i = 0; v != NULL && i < c->nh; i++)
		if (with_uid ? c->h[i].uid != NULL : c->h[i].has_uidnum)
			v[(*n)++] = &c->h[i];
	return v;
}

static void
repair_login(struct holder **g, size_t n, char *out, size_t outsz)
{
	char id[KENPO_PREISSUED_ID_LEN + 1];
	size_t i, used;

	used = (size_t)
		snprintf(out, outsz,
			 "login IDs are compared without regard to case, so "
			 "nobody can log in with this one now.  Leave it to one member (the one who "
			 "uses it: kenpo-admin show, last login) and give every other one a new "
			 "pre-issued login ID and a letter, on the write provider:");
	for (i = 1; i < n && used < outsz; i++) {
		if (kenpo_gen_preissued_id(id, sizeof id) != 0)
			snprintf(id, sizeof id, "NEWID000");
		used += (size_t)
			snprintf(out + used, outsz - used,
				 "  ldapmodify <<EOF\n"
				 "dn: %s\nchangetype: modify\nreplace: uid\nuid: %s\nEOF\n"
				 "  kenpo-admin reissue --by number %s --letters-csv FILE",
				 g[i]->dn, id, g[i]->number != NULL ? g[i]->number : "NUMBER");
	}
}

static void
check_logins(struct check *c)
{
	char what[300], repair[REPAIR_MAX];
	size_t n, i, j;
	struct holder **v = holders_with(c, 1, &n);

	if (v == NULL) {
		c->oom = 1;
		return;
	}
	qsort(v, n, sizeof *v, cmp_uid);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcasecmp(v[i]->uid, v[j]->uid) == 0; j++)
			;
		if (j - i < 2)
			continue;
		snprintf(what, sizeof what, "login ID %.100s is held by %zu entries", v[i]->uid,
			 j - i);
		repair_login(v + i, j - i, repair, sizeof repair);
		report(c, "duplicate-login-id", what, v + i, j - i, NULL, repair);
	}
	free(v);
}

static void
check_uidnums(struct check *c)
{
	char what[200], repair[REPAIR_MAX];
	size_t n, i, j;
	struct holder **v = holders_with(c, 0, &n);

	if (v == NULL) {
		c->oom = 1;
		return;
	}
	qsort(v, n, sizeof *v, cmp_uidnum);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && v[i]->uidnum == v[j]->uidnum; j++)
			;
		if (j - i < 2)
			continue;
		snprintf(what, sizeof what, "uidNumber %llu is held by %zu entries", v[i]->uidnum,
			 j - i);
		snprintf(repair, sizeof repair,
			 "leave it to the first entry (created first) and "
			 "give each other one a number from its society's counter, on the write "
			 "provider: take one with  ldapmodify -e preread=kenpoNextUid  (dn: "
			 "cn=uidNumber,<society base>, changetype: modify, increment: kenpoNextUid, "
			 "kenpoNextUid: 1), put the number it printed into the entry's uidNumber, "
			 "and on every host move the member's files: chown -R --from=%llu NEW PATH",
			 v[i]->uidnum);
		report(c, "duplicate-uid-number", what, v + i, j - i, NULL, repair);
	}
	free(v);
}

/* 1 when dn lies strictly below base (ASCII case-insensitive: both come
 * from the same server, which returns DNs as they were written). */
static int
dn_below(const char *dn, const char *base)
{
	size_t a = strlen(dn), b = strlen(base);

	return a > b + 1 && strcasecmp(dn + a - b, base) == 0 && dn[a - b - 1] == ',';
}

static void
check_counters(struct check *c)
{
	char what[ADMIN_DN_MAX + 200], repair[REPAIR_MAX];
	const char *base;
	unsigned long long max;
	size_t i, k;
	int any;

	for (k = 0; k < c->nc; k++) {
		/* cn=uidNumber,<society base>: the society's members are below its parent. */
		base = strchr(c->counters[k].dn, ',');
		if (base == NULL || !c->counters[k].valid)
			continue;
		base++;
		for (i = 0, max = 0, any = 0; i < c->nh; i++)
			if (c->h[i].has_uidnum && dn_below(c->h[i].dn, base) &&
			    (!any || c->h[i].uidnum > max)) {
				max = c->h[i].uidnum;
				any = 1;
			}
		if (!any || c->counters[k].next > max)
			continue;
		snprintf(what, sizeof what,
			 "the uidNumber counter %.300s says %llu next, but "
			 "%llu is in use",
			 c->counters[k].dn, c->counters[k].next, max);
		snprintf(repair, sizeof repair,
			 "the next members would get numbers that are "
			 "taken.  Move the counter past them, on the write provider:  ldapmodify "
			 "<<EOF\ndn: %s\nchangetype: modify\nreplace: kenpoNextUid\n"
			 "kenpoNextUid: %llu\nEOF",
			 c->counters[k].dn, max + 1);
		report(c, "counter-behind", what, NULL, 0, c->counters[k].dn, repair);
	}
}

static int
cmp_str_ci(const void *p, const void *q)
{
	return strcasecmp(*(char *const *)p, *(char *const *)q);
}

/* The parent of dn: after the first comma that no backslash escapes. */
static const char *
parent_of(const char *dn)
{
	const char *p;

	for (p = dn; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == ',')
			return p + 1;
	}
	return NULL;
}

static void
check_houses(struct check *c)
{
	char what[ADMIN_DN_MAX + 100], repair[REPAIR_MAX];
	const char *parent;
	size_t i;

	qsort(c->members, c->nm, sizeof *c->members, cmp_str_ci);
	for (i = 0; i < c->nhouse; i++) {
		parent = parent_of(c->houses[i].dn);
		if (parent != NULL &&
		    bsearch(&parent, c->members, c->nm, sizeof *c->members, cmp_str_ci) != NULL)
			continue;
		snprintf(what, sizeof what, "household entry %.300s belongs to no member",
			 c->houses[i].dn);
		snprintf(repair, sizeof repair,
			 "its parent %.300s is not a member entry (a "
			 "member deleted on one provider while its household was added on "
			 "another leaves a glue entry, which only the ManageDsaIT control "
			 "shows).  If the member is meant to be gone, delete the household "
			 "entry and then the glue, on the write provider: ldapdelete '%.300s' "
			 "and ldapdelete -M '%.300s'; if not, import the member again from the "
			 "roster (kenpo-admin import)",
			 parent != NULL ? parent : "(none)", c->houses[i].dn,
			 parent != NULL ? parent : "(none)");
		report(c, "household-without-member", what, NULL, 0, c->houses[i].dn, repair);
	}
}

static void
check_free(struct check *c)
{
	size_t i;

	for (i = 0; i < c->nh; i++) {
		free(c->h[i].dn);
		free(c->h[i].uid);
		free(c->h[i].number);
		free(c->h[i].created);
	}
	for (i = 0; i < c->nm; i++)
		free(c->members[i]);
	for (i = 0; i < c->nhouse; i++)
		free(c->houses[i].dn);
	for (i = 0; i < c->nc; i++)
		free(c->counters[i].dn);
	free(c->h);
	free(c->members);
	free(c->houses);
	free(c->counters);
	json_object_put(c->problems);
}

int
cmd_check(struct admin *a)
{
	struct check c;
	json_object *o, *n;
	int rc;

	memset(&c, 0, sizeof c);
	c.a = a;
	c.problems = json_object_new_array();
	rc = collect(&c);
	if (rc == ADMIN_OK) {
		check_logins(&c);
		check_uidnums(&c);
		check_counters(&c);
		check_houses(&c);
		if (c.oom) {
			admin_error("out of memory");
			rc = ADMIN_ERROR;
		}
	}
	if (rc == ADMIN_OK && a->o.json) {
		o = json_object_new_object();
		n = json_object_new_object();
		json_object_object_add(o, "suffix", json_object_new_string(c.suffix));
		json_object_object_add(n, "entries", json_object_new_int64((int64_t)c.nh));
		json_object_object_add(n, "households", json_object_new_int64((int64_t)c.nhouse));
		json_object_object_add(n, "counters", json_object_new_int64((int64_t)c.nc));
		json_object_object_add(o, "checked", n);
		json_object_object_add(o, "problems", json_object_get(c.problems));
		admin_json_print(o);
	} else if (rc == ADMIN_OK) {
		printf("%zu problem%s in %s (%zu entries with a login ID or uidNumber, %zu "
		       "household entries, %zu counters)\n",
		       c.nproblems, c.nproblems == 1 ? "" : "s", c.suffix, c.nh, c.nhouse, c.nc);
	}
	if (rc == ADMIN_OK && c.nproblems > 0)
		rc = ADMIN_PROBLEMS;
	check_free(&c);
	return rc;
}
