/*
 * import.c - issuing members: `issue` (one) and `import` (a roster).
 *
 * The cost of an import is argon2, one hash per new member (about 35 ms
 * of processor time at the default cost, each thread hashing in a region
 * that stays mapped: pwhash.h).  So the hashes are made by a pool of
 * threads, one per processor, while the main thread writes to the
 * directory without waiting for each answer: adds are sent asynchronously
 * and up to a window of them (32) are in flight.  Members are added in roster order and the
 * letters are written in that order, as soon as each add is confirmed.
 *
 * Re-running an import writes nothing twice: the member number is the key.
 * The society's members are read once (in pages) and each roster row is
 * compared with what the directory holds; dependents are matched by who
 * they are (household.h).  With --dry-run the comparison is all that is
 * done.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin.h"
#include "gen.h"
#include "home.h"
#include "import.h"
#include "letters.h"
#include "localname.h"
#include "policy.h"
#include "proto.h"
#include "pwhash.h"
#include "roster.h"
#include "schema.h"
#include "uid.h"

#define ROSTER_MAX_BYTES (1024L * 1024 * 1024)
#define LOGIN_TRIES 5
#define PROGRESS_MS 200
#define FILTER_MAX 600

const struct import_field import_fields[IMPORT_NFIELDS] = {
	{ "name", KENPO_AT_CN },
	{ "birth_date", KENPO_AT_BIRTH },
	{ "mail", KENPO_AT_ROSTER_MAIL },
	{ "household", NULL },
	{ "postal_code", KENPO_AT_POSTAL_CODE },
	{ "address", KENPO_AT_POSTAL_ADDRESS },
	{ "employer", KENPO_AT_EMPLOYER },
	{ "office_code", KENPO_AT_OFFICE },
	{ "left", NULL },
};

enum op_kind { OP_ADD_MEMBER, OP_ADD, OP_MODIFY, OP_DELETE };

struct op {
	struct item *it;
	enum op_kind kind;
	char *dn;
	struct dir_mods *mods; /* NULL for OP_ADD_MEMBER (made when sent) and deletes */
	int msgid;
	struct op *next;
};

/* ---- reading the roster ---- */

/* The whole file, at most ROSTER_MAX_BYTES.  0 or -1 (message printed). */
static int
read_roster_file(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t n = 0, cap = 0, got;

	if (f == NULL) {
		admin_error("%s: %s", path, strerror(errno));
		return -1;
	}
	do {
		if (n == cap) {
			cap = cap != 0 ? 2 * cap : 1 << 20;
			nb = cap <= ROSTER_MAX_BYTES + 1 ? realloc(buf, cap + 1) : NULL;
			if (nb == NULL) {
				admin_error("%s: too large or out of memory", path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		admin_error("%s: %s", path, strerror(errno));
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

/* The roster as UTF-8 (roster_decode), and its rows.  ADMIN_OK, or
 * ADMIN_ERROR (message printed, or the error in the roster). */
static int
read_roster(struct import *im)
{
	struct roster_error e;
	char *data = NULL, *text = NULL;
	size_t len = 0, tlen = 0;
	int r;

	if (read_roster_file(im->path, &data, &len) != 0)
		return ADMIN_ERROR;
	memset(&e, 0, sizeof e);
	r = roster_decode(data, len, im->a->o.encoding, &text, &tlen, &im->encoding, &e);
	kenpo_wipe_free(data, len);
	if (r == 1) {
		admin_error_at(im->path, e.line, NULL, &e.msg);
		return ADMIN_ERROR;
	}
	if (r == 0 && roster_read(text, tlen, im->a->soc.method, &im->roster) != 0)
		r = -1;
	kenpo_wipe_free(text, tlen);
	if (r != 0) {
		admin_error("out of memory");
		return ADMIN_ERROR;
	}
	if (im->encoding != RE_UTF8 && !im->a->o.json)
		admin_note("%s: read as %s", im->path, roster_encoding_name(im->encoding));
	return ADMIN_OK;
}

/* ---- the directory's members ---- */

static char *
lower_dup(const char *s)
{
	char *d = strdup(s), *p;

	for (p = d; p != NULL && *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

static int
keep_member(struct dir_entry *e, void *arg)
{
	struct import *im = arg;
	struct existing *nx;
	const char *number = dir_get(e, KENPO_AT_NUMBER);

	if (number == NULL)
		return DIR_CB_NEXT;
	if (im->nex == im->excap) {
		nx = realloc(im->ex, (im->excap ? 2 * im->excap : 1024) * sizeof *nx);
		if (nx == NULL)
			return DIR_CB_FAIL;
		im->ex = nx;
		im->excap = im->excap ? 2 * im->excap : 1024;
	}
	memset(&im->ex[im->nex], 0, sizeof im->ex[im->nex]);
	im->ex[im->nex].e = e;
	im->ex[im->nex].key = lower_dup(number);
	if (im->ex[im->nex].key == NULL)
		return DIR_CB_FAIL;
	im->nex++;
	return DIR_CB_KEEP;
}

static struct existing *
find_existing(struct import *im, const char *number)
{
	ENTRY want, *got = NULL;
	char *key = lower_dup(number);

	if (key == NULL || !im->table_made) {
		free(key);
		return NULL;
	}
	want.key = key;
	want.data = NULL;
	if (hsearch_r(want, FIND, &got, &im->table) == 0)
		got = NULL;
	free(key);
	return got != NULL ? got->data : NULL;
}

/* The member number in the parent RDN of a household entry's DN. */
static int
parent_number(const char *dn, char *out, size_t outsz)
{
	static const char rdn[] = KENPO_AT_NUMBER "=";
	const char *p = strchr(dn, ','), *end;

	if (p == NULL || strncasecmp(p + 1, rdn, sizeof rdn - 1) != 0)
		return -1;
	p += sizeof rdn;
	end = p + strcspn(p, ",");
	if ((size_t)(end - p) >= outsz)
		return -1;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return 0;
}

/* The index of a household entry (1..99), or 0 when it has none. */
static unsigned
house_index(const struct dir_entry *e)
{
	const char *idx = dir_get(e, KENPO_AT_HOUSEHOLD_INDEX);
	unsigned long long i;

	if (idx == NULL || kenpo_parse_ulong(idx, 1, ROSTER_HOUSEHOLD_MAX, &i) != 0)
		return 0;
	return (unsigned)i;
}

static int
keep_house(struct dir_entry *e, void *arg)
{
	struct import *im = arg;
	struct existing *x;
	struct dir_entry **nh;
	char number[ROSTER_NUMBER_MAX + 1];

	if (house_index(e) == 0 || parent_number(e->dn, number, sizeof number) != 0 ||
	    (x = find_existing(im, number)) == NULL || x->nhouse == ROSTER_HOUSEHOLD_MAX)
		return DIR_CB_NEXT;
	if (x->nhouse == x->housecap) {
		nh = realloc(x->house, (x->housecap ? 2 * x->housecap : 4) * sizeof *nh);
		if (nh == NULL)
			return DIR_CB_FAIL;
		x->house = nh;
		x->housecap = x->housecap ? 2 * x->housecap : 4;
	}
	x->house[x->nhouse++] = e;
	return DIR_CB_KEEP;
}

static int
make_table(struct import *im)
{
	ENTRY e, *got;
	size_t i;

	memset(&im->table, 0, sizeof im->table);
	if (hcreate_r(2 * im->nex + 64, &im->table) == 0)
		return -1;
	im->table_made = 1;
	for (i = 0; i < im->nex; i++) {
		e.key = im->ex[i].key;
		e.data = &im->ex[i];
		if (hsearch_r(e, ENTER, &got, &im->table) == 0)
			return -1;
	}
	return 0;
}

/* The members to compare the roster with: the whole society for an
 * import, only the member number given for `issue` (which never updates,
 * so needs no household either). */
static int
members_filter(const struct import *im, char *out, size_t outsz)
{
	char esc[3 * ROSTER_NUMBER_MAX + 1];
	int n;

	if (!im->issue)
		n = snprintf(out, outsz, KENPO_FILTER_MEMBER);
	else if (dir_filter_escape(im->roster.rows[0].number, esc, sizeof esc) != 0)
		return -1;
	else
		n = snprintf(out, outsz, "(&" KENPO_FILTER_MEMBER "(" KENPO_AT_NUMBER "=%s))",
			     esc);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* Read the society's members (see members_filter) and their households. */
static int
load_existing(struct import *im)
{
	static const char *const mattrs[] = { KENPO_AT_NUMBER,
					      KENPO_AT_CN,
					      KENPO_AT_BIRTH,
					      KENPO_AT_ROSTER_MAIL,
					      KENPO_AT_UID,
					      KENPO_AT_DISABLED,
					      KENPO_AT_POSTAL_CODE,
					      KENPO_AT_POSTAL_ADDRESS,
					      KENPO_AT_EMPLOYER,
					      KENPO_AT_OFFICE,
					      NULL };
	static const char *const hattrs[] = { KENPO_AT_HOUSEHOLD_INDEX, KENPO_AT_CN,
					      KENPO_AT_BIRTH, NULL };
	char base[ADMIN_DN_MAX], filter[FILTER_MAX], err[ADMIN_ERR_MAX];
	int rc;

	if (admin_sub_dn(im->a, KENPO_RDN_MEMBERS, base, sizeof base) != 0 ||
	    members_filter(im, filter, sizeof filter) != 0)
		return -1;
	rc = dir_search(im->a->dir, base, DIR_ONE, filter, mattrs, keep_member, im, err,
			sizeof err);
	if (rc == DIR_OK && make_table(im) != 0)
		snprintf(err, sizeof err, "out of memory");
	if (rc == DIR_OK && im->table_made && !im->issue)
		rc = dir_search(im->a->dir, base, DIR_SUB, KENPO_FILTER_HOUSEHOLD, hattrs,
				keep_house, im, err, sizeof err);
	if (rc != DIR_OK || !im->table_made) {
		admin_error("%s", err);
		return -1;
	}
	return 0;
}

/* ---- comparing ---- */

static int
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The household plan of a member whose household the roster or the
 * directory has, in *out (NULL when nothing changes).  0; 1 when no index
 * is left for a new dependent (the item fails); -1 when out of memory. */
static int
plan_household(const struct roster_row *row, const struct existing *x, struct hh_plan **out)
{
	struct hh_entry e[ROSTER_HOUSEHOLD_MAX];
	struct hh_plan *p;
	size_t j;

	*out = NULL;
	if (row->nhouse == 0 && x->nhouse == 0)
		return 0;
	for (j = 0; j < x->nhouse; j++) {
		e[j].name = dir_get(x->house[j], KENPO_AT_CN);
		e[j].birth = dir_get(x->house[j], KENPO_AT_BIRTH);
		e[j].index = house_index(x->house[j]);
	}
	p = malloc(sizeof *p);
	if (p == NULL)
		return -1;
	if (household_plan(row->house, row->nhouse, e, x->nhouse, p) != 0) {
		free(p);
		return 1;
	}
	if (household_changes(p))
		*out = p;
	else
		free(p);
	return 0;
}

/* 1 when the member is disabled in the directory. */
static int
is_disabled(const struct existing *x)
{
	const char *v = dir_get(x->e, KENPO_AT_DISABLED);

	return v != NULL && strcasecmp(v, KENPO_TRUE) == 0;
}

/* 1 when the roster says the member has left by now. */
static int
has_left(const struct import *im, const struct roster_row *row)
{
	return row->left != NULL && strcmp(row->left, im->today) <= 0;
}

static unsigned
changed_fields(const struct import *im, const struct roster_row *row, const struct existing *x)
{
	char buf[ROSTER_ADDRESS_MAX * 4 + 1];
	const char *old;
	unsigned f = 0, bit;
	size_t i;

	for (i = 0; i < IMPORT_NFIELDS; i++) {
		bit = 1u << i;
		if (import_fields[i].attr == NULL)
			continue;
		old = import_old_value(x, bit, buf, sizeof buf);
		/* Mail addresses compare without regard to case, as the directory does. */
		if (bit == F_MAIL ? (old == NULL) != (row->mail == NULL) ||
					    (old != NULL && strcasecmp(row->mail, old) != 0) :
				    !same_text(import_new_value(row, bit), old))
			f |= bit;
	}
	if (has_left(im, row) && !is_disabled(x))
		f |= F_LEFT;
	return f;
}

/* ---- operations ---- */

static void
op_free(struct op *op)
{
	if (op == NULL)
		return;
	free(op->dn);
	dir_mods_free(op->mods);
	free(op);
}

/* Queue an operation of it (at the front for a retry).  0 or -1. */
static int
push_op(struct import *im, struct item *it, enum op_kind kind, const char *dn,
	struct dir_mods *mods, int front)
{
	struct op *op = calloc(1, sizeof *op);

	if (op == NULL || (op->dn = strdup(dn)) == NULL) {
		free(op);
		dir_mods_free(mods);
		return -1;
	}
	op->it = it;
	op->kind = kind;
	op->mods = mods;
	it->pending++;
	if (front) {
		op->next = im->queue;
		im->queue = op;
		if (im->queue_tail == NULL)
			im->queue_tail = op;
	} else {
		if (im->queue_tail != NULL)
			im->queue_tail->next = op;
		else
			im->queue = op;
		im->queue_tail = op;
	}
	return 0;
}

static struct op *
pop_op(struct import *im)
{
	struct op *op = im->queue;

	if (op != NULL) {
		im->queue = op->next;
		if (im->queue == NULL)
			im->queue_tail = NULL;
		op->next = NULL;
	}
	return op;
}

/* Put a value, or nothing when value is NULL (for an add). */
static int
put_opt(struct dir_mods *m, const char *attr, const char *value)
{
	return value != NULL ? dir_mods_put(m, DIR_MOD_ADD, attr, value) : 0;
}

/* The entry of a new dependent: roster dependent i (0-based) at index idx. */
static struct dir_mods *
household_entry(const struct roster_row *row, size_t i, unsigned idx)
{
	struct dir_mods *m = dir_mods_new();
	char text[4], nick[32];

	snprintf(text, sizeof text, "%02u", idx);
	/* A dependent is shown as ご家族NN until the household sets a nickname. */
	snprintf(nick, sizeof nick, "ご家族%02u", idx);
	if (m == NULL || dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_OBJECTCLASS, KENPO_OC_HOUSEHOLD) ||
	    dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_HOUSEHOLD_INDEX, text) ||
	    dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_CN, row->house[i].name) ||
	    dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_NICKNAME, nick) ||
	    put_opt(m, KENPO_AT_BIRTH, row->house[i].birth)) {
		dir_mods_free(m);
		return NULL;
	}
	return m;
}

static int
house_dn(const char *member_dn, unsigned idx, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, KENPO_AT_HOUSEHOLD_INDEX "=%02u,%s", idx, member_dn);

	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* Queue the add of roster dependent i at index idx. 0 or -1. */
static int
push_house_add(struct import *im, struct item *it, const char *dn, size_t i, unsigned idx)
{
	char hdn[ADMIN_DN_MAX + 32];
	struct dir_mods *m;

	if (house_dn(dn, idx, hdn, sizeof hdn) != 0 ||
	    (m = household_entry(it->row, i, idx)) == NULL)
		return -1;
	return push_op(im, it, OP_ADD, hdn, m, 0);
}

/* The household of a new member: 01, 02, ... in roster order. 0 or -1. */
static int
push_household_adds(struct import *im, struct item *it)
{
	size_t i;

	for (i = 0; i < it->row->nhouse; i++)
		if (push_house_add(im, it, it->dn, i, (unsigned)(i + 1)) != 0)
			return -1;
	return 0;
}

/* A value replaced, or removed when the roster has none. */
static int
put_replace(struct dir_mods *m, const char *attr, const char *value)
{
	return dir_mods_put(m, DIR_MOD_REPLACE, attr, value);
}

/* The changes of the member entry itself. NULL when out of memory. */
static struct dir_mods *
member_changes(const struct item *it)
{
	const struct roster_row *row = it->row;
	struct dir_mods *m = dir_mods_new();
	char esc[ROSTER_ADDRESS_MAX * 12 + 1];
	size_t i;
	int bad = m == NULL;

	for (i = 0; !bad && i < IMPORT_NFIELDS; i++) {
		unsigned bit = 1u << i;

		if (!(it->fields & bit) || import_fields[i].attr == NULL || bit == F_ADDRESS)
			continue;
		bad = put_replace(m, import_fields[i].attr, import_new_value(row, bit));
	}
	if (!bad && (it->fields & F_NAME))
		bad = put_replace(m, KENPO_AT_SN, row->sn);
	if (!bad && (it->fields & F_ADDRESS))
		bad = row->address != NULL ?
			      admin_postal_escape(row->address, esc, sizeof esc) != 0 ||
				      put_replace(m, KENPO_AT_POSTAL_ADDRESS, esc) :
			      put_replace(m, KENPO_AT_POSTAL_ADDRESS, NULL);
	/* 資格喪失: the member no longer logs in (never deleted by an import). */
	if (!bad && (it->fields & F_LEFT))
		bad = put_replace(m, KENPO_AT_DISABLED, KENPO_TRUE);
	if (bad) {
		dir_mods_free(m);
		return NULL;
	}
	return m;
}

/* A matched dependent whose name text or birth date the roster corrects. */
static int
push_house_fix(struct import *im, struct item *it, size_t i)
{
	const struct dir_entry *h = it->ex->house[it->hp->match[i]];
	struct dir_mods *m = dir_mods_new();

	if (m == NULL || put_replace(m, KENPO_AT_CN, it->row->house[i].name) ||
	    put_replace(m, KENPO_AT_BIRTH, it->row->house[i].birth)) {
		dir_mods_free(m);
		return -1;
	}
	return push_op(im, it, OP_MODIFY, h->dn, m, 0);
}

/* Queue what the household plan says: removals, corrections, additions. */
static int
push_household(struct import *im, struct item *it)
{
	const struct hh_plan *p = it->hp;
	size_t i;

	for (i = 0; i < p->nentries; i++)
		if (p->gone[i] && push_op(im, it, OP_DELETE, it->ex->house[i]->dn, NULL, 0) != 0)
			return -1;
	for (i = 0; i < p->nroster; i++) {
		if (p->match[i] >= 0 && p->fix[i] && push_house_fix(im, it, i) != 0)
			return -1;
		if (p->match[i] < 0 &&
		    push_house_add(im, it, it->ex->e->dn, i, p->new_index[i]) != 0)
			return -1;
	}
	return 0;
}

/* Queue what updates a member. 0 or -1. */
static int
push_update(struct import *im, struct item *it)
{
	struct dir_mods *m;

	if (it->fields & ~F_HOUSEHOLD) {
		m = member_changes(it);
		if (m == NULL || push_op(im, it, OP_MODIFY, it->ex->e->dn, m, 0) != 0)
			return -1;
	}
	return (it->fields & F_HOUSEHOLD) ? push_household(im, it) : 0;
}

/* Disable a member missing from a full roster (--disable-missing). */
static int
push_disable(struct import *im, struct item *it)
{
	struct dir_mods *m = dir_mods_new();

	if (m == NULL || put_replace(m, KENPO_AT_DISABLED, KENPO_TRUE) != 0) {
		dir_mods_free(m);
		return -1;
	}
	return push_op(im, it, OP_MODIFY, it->ex->e->dn, m, 0);
}

/* ---- new members ---- */

/* The login part of a new member (letter registration): posixAccount. */
static int
put_login(const struct import *im, const struct item *it, struct dir_mods *m)
{
	const struct admin_society *s = &im->a->soc;
	char uid[24], gid[24], home[1024];

	snprintf(uid, sizeof uid, "%lu", it->uid);
	snprintf(gid, sizeof gid, "%lu", s->gid);
	if (kenpo_home_expand(s->home_template, it->login, it->row->number, home, sizeof home) !=
	    0)
		return -1;
	return dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_UID, it->login) ||
			       dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_UIDNUMBER, uid) ||
			       dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_GIDNUMBER, gid) ||
			       dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_HOME, home) ||
			       dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_SHELL, s->shell) ||
			       dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_TEMP_PASSWORD, it->hash) ||
			       put_opt(m, KENPO_AT_TEMP_EXPIRY,
				       im->expiry_gt[0] != '\0' ? im->expiry_gt : NULL) ?
		       -1 :
		       0;
}

/* Where the member's letter goes: 〒, address, employer, office code. */
static int
put_postal(const struct roster_row *row, struct dir_mods *m)
{
	char esc[ROSTER_ADDRESS_MAX * 12 + 1];

	if (row->address != NULL && admin_postal_escape(row->address, esc, sizeof esc) != 0)
		return -1;
	return put_opt(m, KENPO_AT_POSTAL_CODE, row->postal_code) ||
			       put_opt(m, KENPO_AT_POSTAL_ADDRESS,
				       row->address != NULL ? esc : NULL) ||
			       put_opt(m, KENPO_AT_EMPLOYER, row->employer) ||
			       put_opt(m, KENPO_AT_OFFICE, row->office_code) ?
		       -1 :
		       0;
}

/* The entry of a new member. NULL when out of memory. */
static struct dir_mods *
member_entry(const struct import *im, const struct item *it)
{
	static const char *const notify[] = {
		KENPO_AT_NOTIFY_MEDICAL,   KENPO_AT_NOTIFY_GENERIC,      KENPO_AT_NOTIFY_MAGAZINE,
		KENPO_AT_NOTIFY_DOCUMENTS, KENPO_AT_NOTIFY_APPLICATIONS,
	};
	const struct roster_row *row = it->row;
	int letter = im->a->soc.method == KENPO_REG_LETTER;
	struct dir_mods *m = dir_mods_new();
	size_t i;
	int bad = m == NULL;

	if (!bad)
		bad = dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_OBJECTCLASS, KENPO_OC_PERSON) ||
		      (letter &&
		       dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_OBJECTCLASS, KENPO_OC_POSIX)) ||
		      dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_OBJECTCLASS, KENPO_OC_MEMBER) ||
		      dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_NUMBER, row->number) ||
		      dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_STATE, KENPO_STATE_ISSUED) ||
		      dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_CN, row->name) ||
		      dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_SN, row->sn) ||
		      dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_NICKNAME,
				   row->nickname != NULL ? row->nickname :
							   ADMIN_NICKNAME_DEFAULT) ||
		      put_opt(m, KENPO_AT_BIRTH, row->birth) ||
		      put_opt(m, KENPO_AT_ROSTER_MAIL, row->mail) || put_postal(row, m) != 0 ||
		      (letter && put_login(im, it, m) != 0);
	/* Every notification is on by default (manual ⑤-5). */
	for (i = 0; !bad && i < sizeof notify / sizeof notify[0]; i++)
		bad = dir_mods_put(m, DIR_MOD_ADD, notify[i], KENPO_TRUE);
	if (bad) {
		dir_mods_free(m);
		return NULL;
	}
	return m;
}

/* ---- hashing threads ---- */

static void *
hasher(void *arg)
{
	struct import *im = arg;
	struct item *it;
	int ok;

	for (;;) {
		pthread_mutex_lock(&im->lock);
		if (im->stop || im->next_hash >= im->nnew) {
			pthread_mutex_unlock(&im->lock);
			return NULL;
		}
		it = im->news[im->next_hash++];
		pthread_mutex_unlock(&im->lock);
		ok = kenpo_gen_temp_password(it->pw, sizeof it->pw) == 0 &&
		     kenpo_pw_hash(it->pw, strlen(it->pw), &im->a->cost, it->hash,
				   sizeof it->hash) == 0;
		pthread_mutex_lock(&im->lock);
		it->hashed = ok ? 1 : -1;
		pthread_cond_broadcast(&im->hashed);
		pthread_mutex_unlock(&im->lock);
	}
}

static int
start_hashers(struct import *im)
{
	size_t n = im->a->o.jobs != 0 ? im->a->o.jobs : admin_nproc();

	if (im->a->soc.method != KENPO_REG_LETTER || im->nnew == 0)
		return 0;
	if (n > im->nnew)
		n = im->nnew;
	if (n > KENPO_PWPOOL_MAX)
		n = KENPO_PWPOOL_MAX;
	/* One argon2 region per thread, mapped once and reused for every
	 * hash (pwhash.h): fresh pages for each would cost more than argon2. */
	if (kenpo_pwpool_setup((unsigned)n, im->a->cost.memlimit) != 0)
		return -1;
	im->threads = calloc(n, sizeof *im->threads);
	if (im->threads == NULL)
		return -1;
	for (im->nthreads = 0; im->nthreads < n; im->nthreads++)
		if (pthread_create(&im->threads[im->nthreads], NULL, hasher, im) != 0)
			return im->nthreads > 0 ? 0 : -1;
	return 0;
}

static void
stop_hashers(struct import *im)
{
	size_t i;

	pthread_mutex_lock(&im->lock);
	im->stop = 1;
	pthread_mutex_unlock(&im->lock);
	for (i = 0; i < im->nthreads; i++)
		pthread_join(im->threads[i], NULL);
	free(im->threads);
	im->threads = NULL;
	im->nthreads = 0;
	kenpo_pwpool_cleanup();
}

/* The hash state of it: 1 ready, 0 not yet, -1 failed.  With wait, block
 * until it is known. */
static int
hash_state(struct import *im, struct item *it, int wait)
{
	int h;

	if (im->a->soc.method != KENPO_REG_LETTER)
		return 1;
	pthread_mutex_lock(&im->lock);
	while (wait && it->hashed == 0)
		pthread_cond_wait(&im->hashed, &im->lock);
	h = it->hashed;
	pthread_mutex_unlock(&im->lock);
	return h;
}

/* ---- sending and receiving ---- */

static void
fail_item(struct item *it, const char *msg)
{
	if (it->state == S_FAILED)
		return;
	it->state = S_FAILED;
	free(it->msg);
	it->msg = strdup(msg);
}

/* One operation of it is over. */
static void
op_done(struct import *im, struct item *it)
{
	if (--it->pending > 0)
		return;
	if (it->state == S_WAIT)
		it->state = S_DONE;
	im->finished++;
}

static int
send_op(struct import *im, struct op *op)
{
	char err[ADMIN_ERR_MAX];
	int rc;

	if (op->kind == OP_ADD_MEMBER) {
		dir_mods_free(op->mods);
		op->mods = member_entry(im, op->it);
		if (op->mods == NULL)
			return -1;
	}
	if (op->kind == OP_DELETE)
		rc = dir_delete_start(im->a->dir, op->dn, &op->msgid, err, sizeof err);
	else if (op->kind == OP_MODIFY)
		rc = dir_modify_start(im->a->dir, op->dn, op->mods, &op->msgid, err, sizeof err);
	else
		rc = dir_add_start(im->a->dir, op->dn, op->mods, &op->msgid, err, sizeof err);
	if (rc != DIR_OK) {
		fail_item(op->it, err);
		im->broken = 1;
		return -1;
	}
	im->flight[im->nflight++] = op;
	return 0;
}

/* Start a new member: its DN, a login ID, and the add. 0 or -1. */
/* A fresh pre-issued login ID that names no account of this host and is
 * on no reserved list (localname.h).  0 or -1. */
static int
gen_login(const struct import *im, char *out, size_t outsz)
{
	const char *extra = im->a->cfg != NULL ? im->a->cfg->reserved_login_ids : NULL;
	int tries;

	for (tries = 0; tries < LOGIN_TRIES; tries++) {
		if (kenpo_gen_preissued_id(out, outsz) != 0)
			return -1;
		if (kenpo_localname_check(out, strlen(out), extra) == 0)
			return 0;
	}
	return -1;
}

static int
start_member(struct import *im, struct item *it)
{
	int h = hash_state(im, it, 0);

	if (h < 0) {
		it->pending++;
		fail_item(it, "the temporary password could not be hashed");
		op_done(im, it);
		return 0;
	}
	if (im->a->soc.method == KENPO_REG_LETTER &&
	    gen_login(im, it->login, sizeof it->login) != 0)
		return -1;
	return push_op(im, it, OP_ADD_MEMBER, it->dn, NULL, 0);
}

/* Send what can be sent within the window. 0 or -1. */
static int
fill_window(struct import *im)
{
	struct op *op;

	while (!im->broken && im->nflight < im->window) {
		if ((op = pop_op(im)) != NULL) {
			if (send_op(im, op) != 0) {
				op_done(im, op->it);
				op_free(op);
			}
			continue;
		}
		if (im->next_send >= im->nnew || hash_state(im, im->news[im->next_send], 0) == 0)
			break;
		if (start_member(im, im->news[im->next_send++]) != 0)
			return -1;
	}
	return 0;
}

static int
note_found(struct dir_entry *e, void *arg)
{
	(void)e;
	*(int *)arg = 1;
	return DIR_CB_STOP;
}

/* 1 when login is taken by an entry anywhere in the directory (slapo-unique
 * checks the whole suffix). */
static int
login_taken(struct import *im, const char *login)
{
	static const char *const none[] = { "1.1", NULL };
	char filter[FILTER_MAX], err[ADMIN_ERR_MAX];
	int found = 0;

	if (im->suffix[0] == '\0' && dir_suffix_of(im->a->dir, im->a->soc.base, im->suffix,
						   sizeof im->suffix, err, sizeof err) != DIR_OK)
		snprintf(im->suffix, sizeof im->suffix, "%s", im->a->soc.base);
	/* Generated IDs are letters and digits: nothing to escape. */
	snprintf(filter, sizeof filter, "(" KENPO_AT_UID "=%s)", login);
	if (dir_search(im->a->dir, im->suffix, DIR_SUB, filter, none, note_found, &found, err,
		       sizeof err) != DIR_OK)
		return 0;
	return found;
}

/* The member add failed with a constraint violation: slapo-unique found
 * the login ID (or the uidNumber) in use.  Retry with another login ID. */
static void
member_constraint(struct import *im, struct op *op, const char *msg)
{
	struct item *it = op->it;
	char why[ADMIN_ERR_MAX];

	if (++it->tries < LOGIN_TRIES && login_taken(im, it->login) &&
	    gen_login(im, it->login, sizeof it->login) == 0 &&
	    push_op(im, it, OP_ADD_MEMBER, it->dn, NULL, 1) == 0)
		return;
	snprintf(why, sizeof why, "uidNumber %lu or login ID %s refused%.400s", it->uid,
		 it->login, msg);
	fail_item(it, why);
}

/* The result of one operation. */
static void
handle_result(struct import *im, struct op *op, int rc, const char *msg)
{
	struct item *it = op->it;
	char why[ADMIN_ERR_MAX];

	if (op->kind == OP_ADD_MEMBER && rc == DIR_OK) {
		if (push_household_adds(im, it) != 0)
			fail_item(it, "out of memory");
	} else if (op->kind == OP_ADD_MEMBER && rc == DIR_EXISTS) {
		/* Another import added this member meanwhile: not ours to touch. */
		it->state = S_SKIPPED;
	} else if (op->kind == OP_ADD_MEMBER && rc == DIR_CONSTRAINT) {
		member_constraint(im, op, msg);
	} else if ((op->kind == OP_ADD && rc == DIR_EXISTS) ||
		   (op->kind == OP_DELETE && rc == DIR_NOSUCH)) {
		/* Another import of the same roster read the member between its
		 * add and its household's, and made the same household change:
		 * what this one wanted is there already. */
	} else if (rc != DIR_OK) {
		snprintf(why, sizeof why, "%s %.200s%.280s",
			 op->kind == OP_DELETE ? "delete" :
			 op->kind == OP_MODIFY ? "modify" :
						 "add",
			 op->dn, msg);
		fail_item(it, why);
	}
	op_done(im, it);
}

/* Wait for one result and handle it. 0, or -1 when the connection failed. */
static int
collect_one(struct import *im, int timeout_ms)
{
	char msg[ADMIN_ERR_MAX];
	int msgid = -1, rc = DIR_ERR, r;
	size_t i;
	struct op *op;

	r = dir_collect(im->a->dir, timeout_ms, &msgid, &rc, msg, sizeof msg);
	if (r <= 0)
		return r;
	for (i = 0; i < im->nflight && im->flight[i]->msgid != msgid; i++)
		;
	if (i == im->nflight)
		return 0;
	op = im->flight[i];
	im->flight[i] = im->flight[--im->nflight];
	handle_result(im, op, rc, msg);
	op_free(op);
	return 0;
}

/* ---- letters and progress ---- */

/* Write the letters of the members confirmed so far, in roster order, and
 * wipe their passwords.  0 or -1 (the letters file failed). */
static int
write_letters(struct import *im)
{
	struct item *it;
	struct letter x;
	int ret = 0;

	while (im->next_letter < im->next_send &&
	       (it = im->news[im->next_letter])->pending == 0 && it->state != S_WAIT) {
		if (it->state == S_DONE && im->letters != NULL && it->login[0] != '\0') {
			memset(&x, 0, sizeof x);
			x.line = it->row->line;
			x.number = it->row->number;
			x.name = it->row->name;
			x.nickname = it->row->nickname ? it->row->nickname :
							 ADMIN_NICKNAME_DEFAULT;
			x.login = it->login;
			x.password = it->pw;
			x.expiry = im->expiry_text;
			x.postal_code = it->row->postal_code;
			x.address = it->row->address;
			x.employer = it->row->employer;
			x.office_code = it->row->office_code;
			if (letters_write(im->letters, &x) != 0)
				ret = -1;
		}
		if (!im->issue)
			kenpo_wipe(it->pw, sizeof it->pw);
		im->next_letter++;
	}
	return ret;
}

static void
show_progress(struct import *im, int last)
{
	int64_t now = kenpo_now_ms();
	double secs = (double)(now - im->started_ms) / 1000.0;
	size_t width = 30, fill = im->total ? im->finished * width / im->total : width, i;
	char bar[64];

	if (!im->progress || (!last && now - im->shown_ms < PROGRESS_MS))
		return;
	im->shown_ms = now;
	for (i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = '\0';
	fprintf(stderr, "\r[%s] %zu/%zu members  %.0f/s ", bar, im->finished, im->total,
		secs > 0 ? (double)im->finished / secs : 0.0);
	if (last)
		fputc('\n', stderr);
	fflush(stderr);
}

/* ---- the pipeline ---- */

static int
all_done(const struct import *im)
{
	return im->next_send >= im->nnew && im->queue == NULL && im->nflight == 0;
}

/* Give up on everything not written (the connection failed). */
static void
abandon(struct import *im, const char *why)
{
	struct op *op;
	size_t i;

	while ((op = pop_op(im)) != NULL) {
		fail_item(op->it, why);
		op_done(im, op->it);
		op_free(op);
	}
	for (i = 0; i < im->nflight; i++) {
		fail_item(im->flight[i]->it, why);
		op_done(im, im->flight[i]->it);
		op_free(im->flight[i]);
	}
	im->nflight = 0;
	for (; im->next_send < im->nnew; im->next_send++) {
		im->news[im->next_send]->pending++;
		fail_item(im->news[im->next_send], why);
		op_done(im, im->news[im->next_send]);
	}
}

static int
pipeline(struct import *im)
{
	int waiting, ret = 0;

	while (!all_done(im)) {
		if (fill_window(im) != 0) {
			admin_error("out of memory");
			ret = -1;
			abandon(im, "not written (out of memory)");
			break;
		}
		waiting = im->next_send < im->nnew && im->queue == NULL;
		if (im->broken) {
			abandon(im, "not written: the connection to the directory failed");
		} else if (im->nflight > 0) {
			/* Poll briefly while a hash is due, so the window refills. */
			if (collect_one(im, waiting ? 20 : 5000) < 0) {
				im->broken = 1;
				admin_error("the connection to the directory failed");
			}
		} else if (waiting) {
			(void)hash_state(im, im->news[im->next_send], 1);
		}
		if (write_letters(im) != 0 && ret == 0) {
			admin_error("the letters file cannot be written: stopping");
			ret = -1;
			im->broken = 1;
		}
		show_progress(im, 0);
	}
	show_progress(im, 1);
	return ret;
}

/* ---- planning ---- */

/* One roster row: new, left before it was issued, or compared with its
 * member.  0 or -1. */
static int
plan_row(struct import *im, struct item *it)
{
	int r;

	it->ex = find_existing(im, it->row->number);
	if (it->ex == NULL && has_left(im, it->row)) {
		it->kind = K_LEFT;
		it->state = S_DONE;
		return 0;
	}
	if (it->ex == NULL) {
		it->kind = K_NEW;
		if (admin_member_dn(im->a, it->row->number, it->dn, sizeof it->dn) != 0)
			return -1;
		im->news[im->nnew++] = it;
		return 0;
	}
	it->ex->seen = 1;
	it->kind = K_SAME;
	it->state = S_DONE;
	if (im->issue)
		return 0;
	it->fields = changed_fields(im, it->row, it->ex);
	r = plan_household(it->row, it->ex, &it->hp);
	if (r < 0)
		return -1;
	if (it->hp != NULL)
		it->fields |= F_HOUSEHOLD;
	if (it->fields != 0) {
		it->kind = K_UPDATE;
		it->state = S_WAIT;
	}
	if (r > 0) {
		it->kind = K_UPDATE;
		fail_item(it, "the household has no index left for a new dependent "
			      "(99 entries)");
	}
	return 0;
}

/* With --full: the members no row names.  With --disable-missing they are
 * disabled (never deleted); else only reported.  0 or -1. */
static int
plan_missing(struct import *im)
{
	struct existing *x;
	struct item *it;
	size_t i, k = 0;

	if (!im->a->o.full || im->issue)
		return 0;
	im->missing_rows = calloc(im->nex + 1, sizeof *im->missing_rows);
	if (im->missing_rows == NULL)
		return -1;
	for (i = 0; i < im->nex; i++) {
		x = &im->ex[i];
		if (x->seen)
			continue;
		im->missing_rows[k].number = strdup(dir_get(x->e, KENPO_AT_NUMBER));
		if (im->missing_rows[k].number == NULL)
			return -1;
		it = &im->items[im->nitems++];
		it->row = &im->missing_rows[k++];
		it->ex = x;
		it->kind = K_MISSING;
		it->disable = im->a->o.disable_missing && !is_disabled(x);
		it->state = it->disable ? S_WAIT : S_DONE;
	}
	return 0;
}

/* Make one item per good row (and per missing member). 0 or -1. */
static int
plan(struct import *im)
{
	size_t i;

	im->items = calloc(im->roster.nrows + im->nex + 1, sizeof *im->items);
	im->news = calloc(im->roster.nrows + 1, sizeof *im->news);
	if (im->items == NULL || im->news == NULL)
		return -1;
	for (i = 0; i < im->roster.nrows; i++) {
		im->items[im->nitems].row = &im->roster.rows[i];
		if (plan_row(im, &im->items[im->nitems++]) != 0)
			return -1;
	}
	if (plan_missing(im) != 0)
		return -1;
	im->total = im->nnew;
	for (i = 0; i < im->nitems; i++)
		im->total += im->items[i].state == S_WAIT && im->items[i].kind != K_NEW;
	return 0;
}

/* Queue the writes of the members already in the directory. 0 or -1. */
static int
queue_updates(struct import *im)
{
	struct item *it;
	size_t i;

	for (i = 0; i < im->nitems; i++) {
		it = &im->items[i];
		if (it->state != S_WAIT || it->kind == K_NEW)
			continue;
		if ((it->kind == K_UPDATE ? push_update(im, it) : push_disable(im, it)) != 0)
			return -1;
	}
	return 0;
}

/* Take uid numbers for the new members, all at once (uid.h). 0 or -1. */
static int
allocate_uids(struct import *im)
{
	const struct admin_society *s = &im->a->soc;
	char dn[ADMIN_DN_MAX], err[ADMIN_ERR_MAX];
	unsigned long first;
	size_t i;

	if (s->method != KENPO_REG_LETTER || im->nnew == 0)
		return 0;
	if (kenpo_uid_counter_dn(s->base, dn, sizeof dn) != 0 ||
	    dir_increment(im->a->dir, dn, KENPO_AT_NEXT_UID, (unsigned long)im->nnew,
			  &im->uid_first, err, sizeof err) != DIR_OK) {
		admin_error("%s", err);
		return -1;
	}
	if (kenpo_uid_block(im->uid_first, (unsigned long)im->nnew, s->uid_min, s->uid_max,
			    &first) != 0) {
		admin_error("uid numbers %llu..%llu are outside the society's range %lu..%lu "
			    "(%s)",
			    im->uid_first, im->uid_first + im->nnew - 1, s->uid_min, s->uid_max,
			    dn);
		return -1;
	}
	for (i = 0; i < im->nnew; i++)
		im->news[i]->uid = first + (unsigned long)i;
	return 0;
}

static void
expiry(struct import *im)
{
	const struct admin *a = im->a;
	long validity = a->o.validity >= 0 ? a->o.validity : a->soc.temp_validity;
	time_t t = time(NULL) + validity;
	struct tm tm;

	if (validity <= 0 || a->soc.method != KENPO_REG_LETTER)
		return;
	admin_gentime(t, im->expiry_gt, sizeof im->expiry_gt);
	if (gmtime_r(&t, &tm) != NULL)
		strftime(im->expiry_text, sizeof im->expiry_text, "%Y-%m-%d %H:%M UTC", &tm);
}

/* ---- running ---- */

static void
cleanup(struct import *im)
{
	struct op *op;
	size_t i, j;

	while ((op = pop_op(im)) != NULL)
		op_free(op);
	for (i = 0; i < im->nflight; i++)
		op_free(im->flight[i]);
	for (i = 0; i < im->nitems; i++) {
		kenpo_wipe(im->items[i].pw, sizeof im->items[i].pw);
		free(im->items[i].msg);
		free(im->items[i].hp);
	}
	free(im->items);
	free(im->news);
	free(im->flight);
	for (i = 0; im->missing_rows != NULL && im->missing_rows[i].number != NULL; i++)
		roster_row_clear(&im->missing_rows[i]);
	free(im->missing_rows);
	for (i = 0; i < im->nex; i++) {
		for (j = 0; j < im->ex[i].nhouse; j++)
			dir_entry_free(im->ex[i].house[j]);
		free(im->ex[i].house);
		dir_entry_free(im->ex[i].e);
		free(im->ex[i].key);
	}
	free(im->ex);
	if (im->table_made)
		hdestroy_r(&im->table);
	roster_free(&im->roster);
	pthread_mutex_destroy(&im->lock);
	pthread_cond_destroy(&im->hashed);
}

/* Open the letters file when new members get a password. 0 or -1. */
static int
open_letters(struct import *im)
{
	char err[ADMIN_ERR_MAX];

	if (im->a->o.letters_csv == NULL || im->nnew == 0 ||
	    im->a->soc.method != KENPO_REG_LETTER)
		return 0;
	if (letters_open(im->a->o.letters_csv, im->a->soc.name, &im->letters, err, sizeof err) !=
	    0) {
		admin_error("%s", err);
		return -1;
	}
	return 0;
}

static int
close_letters(struct import *im)
{
	char err[ADMIN_ERR_MAX];
	int r;

	if (im->letters == NULL)
		return 0;
	r = letters_close(im->letters, err, sizeof err);
	im->letters = NULL;
	if (r != 0)
		admin_error("%s", err);
	return r;
}

/* New members of a letter-registration society get temporary passwords,
 * which must go somewhere: asked only when there are such members, so
 * that a re-import, or a society registering by identity check, needs no
 * letters file. */
static int
letters_given(const struct import *im)
{
	const struct admin *a = im->a;

	if (im->nnew == 0 || a->soc.method != KENPO_REG_LETTER || a->o.letters_csv != NULL ||
	    a->o.no_letters || im->issue)
		return 1;
	admin_error("import: %zu new members get temporary passwords, which exist only in the "
		    "letters: give --letters-csv FILE, or --no-letters to issue them without "
		    "(nothing was written)",
		    im->nnew);
	return 0;
}

/* Everything after the roster is read and accepted. ADMIN_* */
static int
write_members(struct import *im)
{
	int rc = ADMIN_ERROR;

	im->window = im->a->o.window != 0 ? im->a->o.window : ADMIN_WINDOW_DEFAULT;
	im->flight = calloc(im->window, sizeof *im->flight);
	if (im->flight == NULL || load_existing(im) != 0 || plan(im) != 0)
		goto done;
	if (im->issue && im->nnew == 0) {
		admin_error("member %s exists already (import updates it; reissue makes a "
			    "new password)",
			    im->roster.rows[0].number);
		goto done;
	}
	if (im->a->o.dry_run) {
		rc = ADMIN_OK;
		goto done;
	}
	if (!letters_given(im)) {
		rc = ADMIN_USAGE;
		goto done;
	}
	expiry(im);
	if (queue_updates(im) != 0 || open_letters(im) != 0 || allocate_uids(im) != 0 ||
	    start_hashers(im) != 0)
		goto done;
	im->progress = !im->issue && isatty(STDERR_FILENO);
	if (pipeline(im) == 0)
		rc = ADMIN_OK;
	im->a->changed = im->total > 0;
done:
	stop_hashers(im);
	if (close_letters(im) != 0)
		rc = ADMIN_ERROR;
	return rc;
}

static int
init_import(struct import *im, struct admin *a, const char *path, int issue)
{
	time_t now = time(NULL);
	struct tm tm;

	memset(im, 0, sizeof *im);
	im->a = a;
	im->path = path;
	im->issue = issue;
	im->started_ms = kenpo_now_ms();
	/* Today in the society's time zone (main.c sets TZ to it). */
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(im->today, sizeof im->today, "%Y-%m-%d", &tm) != ROSTER_DATE_LEN)
		return -1;
	if (pthread_mutex_init(&im->lock, NULL) != 0)
		return -1;
	if (pthread_cond_init(&im->hashed, NULL) != 0) {
		pthread_mutex_destroy(&im->lock);
		return -1;
	}
	return 0;
}

int
cmd_import(struct admin *a)
{
	struct import im;
	int rc;

	if (init_import(&im, a, a->o.args[0], 0) != 0)
		return ADMIN_ERROR;
	rc = read_roster(&im);
	if (rc == ADMIN_OK) {
		import_print_errors(&im);
		if (im.roster.fatal)
			rc = ADMIN_ERROR;
		else if (a->o.strict && im.roster.nbad > 0)
			rc = ADMIN_REJECTED;
	}
	if (rc == ADMIN_OK)
		rc = write_members(&im);
	if (rc == ADMIN_OK || (a->o.json && (rc == ADMIN_REJECTED || im.roster.fatal)))
		import_report(&im);
	if (rc == ADMIN_OK && !a->o.dry_run)
		import_audit(&im);
	if (rc == ADMIN_REJECTED && !a->o.json)
		admin_error("%s: %zu bad rows (--strict): nothing written", im.path,
			    im.roster.nbad);
	if (rc == ADMIN_OK && (im.roster.nbad > 0 || im.n_failed > 0))
		rc = ADMIN_PARTIAL;
	cleanup(&im);
	return rc;
}

/* The option of `issue` that sets a roster column. */
static const char *
option_of(const char *column)
{
	static const struct {
		const char *column, *option;
	} names[] = {
		{ "member_number", "--number" },    { "name", "--name" },
		{ "birth_date", "--birth-date" },   { "mail", "--mail" },
		{ "household", "--household" },     { "nickname", "--nickname" },
		{ "postal_code", "--postal-code" }, { "address", "--address" },
		{ "employer", "--employer" },       { "office_code", "--office-code" },
	};
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(column, names[i].column) == 0)
			return names[i].option;
	return "issue";
}

int
cmd_issue(struct admin *a)
{
	const char *const values[RC_COUNT] = {
		[RC_NUMBER] = a->o.number,
		[RC_NAME] = a->o.name,
		[RC_BIRTH] = a->o.birth,
		[RC_MAIL] = a->o.mail,
		[RC_HOUSEHOLD] = a->o.household,
		[RC_NICKNAME] = a->o.nickname,
		[RC_POSTAL_CODE] = a->o.postal_code,
		[RC_ADDRESS] = a->o.address,
		[RC_EMPLOYER] = a->o.employer,
		[RC_OFFICE] = a->o.office_code,
	};
	struct import im;
	struct roster_row row;
	struct roster_msg msg;
	const char *field = "";
	int rc;

	/* As the roster's key_required column (roster.c): the key is the
	 * society's policy, and an option that seemed to set it per member
	 * must not be taken silently. */
	if (a->o.key_required != NULL) {
		admin_error("--key-required: whether a login needs the mailed key is no "
			    "member's setting: it is the society's key = required | optional "
			    "in kenpod.conf");
		return ADMIN_USAGE;
	}
	if (roster_row_make(values, a->soc.method, &row, &field, &msg) != 0) {
		admin_error_msg(option_of(field), msg.en, msg.ja);
		return ADMIN_USAGE;
	}
	if (init_import(&im, a, "issue", 1) != 0) {
		roster_row_clear(&row);
		return ADMIN_ERROR;
	}
	im.roster.rows = malloc(sizeof row);
	if (im.roster.rows == NULL) {
		roster_row_clear(&row);
		cleanup(&im);
		return ADMIN_ERROR;
	}
	row.line = 0;
	im.roster.rows[0] = row;
	im.roster.nrows = 1;
	rc = write_members(&im);
	if (rc == ADMIN_OK && im.items[0].state == S_DONE) {
		import_report_issue(&im);
		import_audit(&im);
	} else if (rc == ADMIN_OK) {
		admin_error("issue %s: %s", row.number,
			    im.items[0].msg ? im.items[0].msg :
					      "added meanwhile by someone else");
	}
	if (rc == ADMIN_OK && im.items[0].state != S_DONE)
		rc = ADMIN_ERROR;
	cleanup(&im);
	return rc;
}
