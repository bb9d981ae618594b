/*
 * import.c - issuing members: `issue` (one) and `import` (a roster).
 *
 * The cost of an import is argon2, one hash per new member (about 0.1 s
 * of processor time at the default cost, a third of it the kernel handing
 * libsodium 64 MiB of fresh pages).  So the hashes are made by a pool of
 * threads, one per processor, while the main thread writes to the
 * directory without waiting for each answer: adds are sent asynchronously
 * and up to a window of them (32) are in flight.  Members are added in roster order and the
 * letters are written in that order, as soon as each add is confirmed.
 *
 * Re-running an import writes nothing twice: the member number is the key.
 * The society's members are read once (in pages) and each roster row is
 * compared with what the directory holds.
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
#include "letters.h"
#include "localname.h"
#include "policy.h"
#include "proto.h"
#include "roster.h"
#include "schema.h"
#include "uid.h"

#define ROSTER_MAX_BYTES (1024L * 1024 * 1024)
#define LOGIN_TRIES 5
#define PROGRESS_MS 200
#define FILTER_MAX 600

/* What changed for a member already in the directory. */
enum field_bit { F_NAME = 1, F_BIRTH = 2, F_MAIL = 4, F_HOUSEHOLD = 8 };
static const char *const field_names[] = { "name", "birth_date", "mail", "household" };

enum item_kind { K_NEW, K_UPDATE, K_SAME };
enum item_state { S_WAIT, S_DONE, S_FAILED, S_SKIPPED };

/* A member of the directory, as read before the import. */
struct existing {
	char *key;                   /* lower-case member number */
	struct dir_entry *e;
	struct dir_entry **house;    /* [1..ROSTER_HOUSEHOLD_MAX], NULL when none */
};

/* One roster row on its way into the directory. */
struct item {
	struct roster_row *row;
	enum item_kind kind;
	enum item_state state;
	struct existing *ex;         /* K_UPDATE, K_SAME */
	unsigned fields;             /* K_UPDATE: enum field_bit */
	int pending;                 /* operations in flight or queued */
	char *msg;                   /* why it failed */
	/* K_NEW */
	char dn[ADMIN_DN_MAX];
	unsigned long uid;
	char login[KENPO_PREISSUED_ID_LEN + 1];
	char pw[KENPO_TEMP_PASSWORD_LEN + 1];
	char hash[KENPO_PWHASH_MAX];
	int hashed;                  /* 0 waiting, 1 made, -1 failed (under ctx->lock) */
	int tries;
};

enum op_kind { OP_ADD_MEMBER, OP_ADD, OP_MODIFY, OP_DELETE };

struct op {
	struct item *it;
	enum op_kind kind;
	char *dn;
	struct dir_mods *mods;       /* NULL for OP_ADD_MEMBER (made when sent) and deletes */
	int msgid;
	struct op *next;
};

struct import {
	struct admin *a;
	const char *path;            /* roster file, for messages */
	struct roster roster;
	int issue;                   /* `issue`: one member, never an update */
	/* the directory's members */
	struct existing *ex;
	size_t nex, excap;
	struct hsearch_data table;
	int table_made;
	/* the work */
	struct item *items;
	size_t nitems;
	struct item **news;          /* K_NEW items in roster order */
	size_t nnew, next_send, next_letter;
	struct op *queue, *queue_tail;
	struct op **flight;          /* the window */
	size_t nflight, window;
	int broken;                  /* the connection failed: stop sending */
	unsigned long long uid_first;
	char suffix[ADMIN_DN_MAX];
	struct letters *letters;
	char expiry_gt[20], expiry_text[40];
	/* hashing threads */
	pthread_mutex_t lock;
	pthread_cond_t hashed;
	pthread_t *threads;
	size_t nthreads, next_hash;
	int stop;
	/* progress */
	int progress;
	size_t finished, total;
	int64_t started_ms, shown_ms;
	/* counts */
	size_t n_new, n_updated, n_same, n_failed, n_skipped;
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
	im->ex[im->nex].e = e;
	im->ex[im->nex].house = NULL;
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

static int
keep_house(struct dir_entry *e, void *arg)
{
	struct import *im = arg;
	struct existing *x;
	char number[ROSTER_NUMBER_MAX + 1];
	const char *idx = dir_get(e, KENPO_AT_HOUSEHOLD_INDEX);
	unsigned long long i;

	if (idx == NULL || kenpo_parse_ulong(idx, 1, ROSTER_HOUSEHOLD_MAX, &i) != 0 ||
	    parent_number(e->dn, number, sizeof number) != 0 ||
	    (x = find_existing(im, number)) == NULL)
		return DIR_CB_NEXT;
	if (x->house == NULL && (x->house = calloc(ROSTER_HOUSEHOLD_MAX + 1,
						    sizeof *x->house)) == NULL)
		return DIR_CB_FAIL;
	if (x->house[i] != NULL)
		return DIR_CB_NEXT;
	x->house[i] = e;
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
		n = snprintf(out, outsz, "(&" KENPO_FILTER_MEMBER "(" KENPO_AT_NUMBER "=%s))", esc);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* Read the society's members (see members_filter) and their households. */
static int
load_existing(struct import *im)
{
	static const char *const mattrs[] = {
		KENPO_AT_NUMBER, KENPO_AT_CN, KENPO_AT_BIRTH, KENPO_AT_ROSTER_MAIL, NULL
	};
	static const char *const hattrs[] = {
		KENPO_AT_HOUSEHOLD_INDEX, KENPO_AT_CN, KENPO_AT_BIRTH, NULL
	};
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
		rc = dir_search(im->a->dir, base, DIR_SUB, KENPO_FILTER_HOUSEHOLD,
				hattrs, keep_house, im, err, sizeof err);
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

static int
same_household(const struct roster_row *row, const struct existing *x)
{
	size_t i;

	for (i = 1; i <= ROSTER_HOUSEHOLD_MAX; i++) {
		const struct dir_entry *h = x->house != NULL ? x->house[i] : NULL;

		if (i > row->nhouse && h == NULL)
			continue;
		if (i > row->nhouse || h == NULL)
			return 0;
		if (!same_text(row->house[i - 1].name, dir_get(h, KENPO_AT_CN)) ||
		    !same_text(row->house[i - 1].birth, dir_get(h, KENPO_AT_BIRTH)))
			return 0;
	}
	return 1;
}

static unsigned
changed_fields(const struct roster_row *row, const struct existing *x)
{
	const char *mail = dir_get(x->e, KENPO_AT_ROSTER_MAIL);
	unsigned f = 0;

	if (!same_text(row->name, dir_get(x->e, KENPO_AT_CN)))
		f |= F_NAME;
	if (!same_text(row->birth, dir_get(x->e, KENPO_AT_BIRTH)))
		f |= F_BIRTH;
	/* Mail addresses compare without regard to case, as the directory does. */
	if ((row->mail == NULL) != (mail == NULL) ||
	    (mail != NULL && strcasecmp(row->mail, mail) != 0))
		f |= F_MAIL;
	if (!same_household(row, x))
		f |= F_HOUSEHOLD;
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

/* The entry of dependent i (1-based) of row. */
static struct dir_mods *
household_entry(const struct roster_row *row, size_t i)
{
	struct dir_mods *m = dir_mods_new();
	char idx[4], nick[32];

	snprintf(idx, sizeof idx, "%02zu", i);
	/* The household is shown as ご家族01, ご家族02, ... until each sets a nickname. */
	snprintf(nick, sizeof nick, "ご家族%02zu", i);
	if (m == NULL || dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_OBJECTCLASS, KENPO_OC_HOUSEHOLD) ||
	    dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_HOUSEHOLD_INDEX, idx) ||
	    dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_CN, row->house[i - 1].name) ||
	    dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_NICKNAME, nick) ||
	    put_opt(m, KENPO_AT_BIRTH, row->house[i - 1].birth)) {
		dir_mods_free(m);
		return NULL;
	}
	return m;
}

static int
house_dn(const char *member_dn, size_t i, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, KENPO_AT_HOUSEHOLD_INDEX "=%02zu,%s", i, member_dn);

	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* Queue the adds of dependents first..last of a member. 0 or -1. */
static int
push_household_adds(struct import *im, struct item *it, const char *dn, size_t first,
		    size_t last)
{
	char hdn[ADMIN_DN_MAX + 32];
	struct dir_mods *m;
	size_t i;

	for (i = first; i <= last; i++) {
		if (house_dn(dn, i, hdn, sizeof hdn) != 0 ||
		    (m = household_entry(it->row, i)) == NULL ||
		    push_op(im, it, OP_ADD, hdn, m, 0) != 0)
			return -1;
	}
	return 0;
}

/* The changes of the member entry itself. NULL when out of memory. */
static struct dir_mods *
member_changes(const struct item *it)
{
	const struct roster_row *row = it->row;
	struct dir_mods *m = dir_mods_new();
	int bad = m == NULL;

	if (!bad && (it->fields & F_NAME))
		bad = dir_mods_put(m, DIR_MOD_REPLACE, KENPO_AT_CN, row->name) ||
		      dir_mods_put(m, DIR_MOD_REPLACE, KENPO_AT_SN, row->sn);
	if (!bad && (it->fields & F_BIRTH))
		bad = dir_mods_put(m, DIR_MOD_REPLACE, KENPO_AT_BIRTH, row->birth);
	if (!bad && (it->fields & F_MAIL))
		bad = dir_mods_put(m, DIR_MOD_REPLACE, KENPO_AT_ROSTER_MAIL, row->mail);
	if (bad) {
		dir_mods_free(m);
		return NULL;
	}
	return m;
}

/* One dependent that differs: modify, add or delete it. 0 or -1. */
static int
push_house_change(struct import *im, struct item *it, size_t i)
{
	const struct dir_entry *h = it->ex->house != NULL ? it->ex->house[i] : NULL;
	const struct roster_row *row = it->row;
	struct dir_mods *m;

	if (h == NULL)
		return push_household_adds(im, it, it->ex->e->dn, i, i);
	if (i > row->nhouse)
		return push_op(im, it, OP_DELETE, h->dn, NULL, 0);
	if (same_text(row->house[i - 1].name, dir_get(h, KENPO_AT_CN)) &&
	    same_text(row->house[i - 1].birth, dir_get(h, KENPO_AT_BIRTH)))
		return 0;
	m = dir_mods_new();
	if (m == NULL || dir_mods_put(m, DIR_MOD_REPLACE, KENPO_AT_CN, row->house[i - 1].name) ||
	    dir_mods_put(m, DIR_MOD_REPLACE, KENPO_AT_BIRTH, row->house[i - 1].birth)) {
		dir_mods_free(m);
		return -1;
	}
	return push_op(im, it, OP_MODIFY, h->dn, m, 0);
}

/* Queue what updates a member. 0 or -1. */
static int
push_update(struct import *im, struct item *it)
{
	struct dir_mods *m;
	size_t i;

	if (it->fields & (F_NAME | F_BIRTH | F_MAIL)) {
		m = member_changes(it);
		if (m == NULL || push_op(im, it, OP_MODIFY, it->ex->e->dn, m, 0) != 0)
			return -1;
	}
	for (i = 1; (it->fields & F_HOUSEHOLD) && i <= ROSTER_HOUSEHOLD_MAX; i++) {
		if ((it->ex->house == NULL || it->ex->house[i] == NULL) && i > it->row->nhouse)
			continue;
		if (push_house_change(im, it, i) != 0)
			return -1;
	}
	return 0;
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
	if (kenpo_home_expand(s->home_template, it->login, it->row->number, home,
			      sizeof home) != 0)
		return -1;
	return dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_UID, it->login) ||
	       dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_UIDNUMBER, uid) ||
	       dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_GIDNUMBER, gid) ||
	       dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_HOME, home) ||
	       dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_SHELL, s->shell) ||
	       dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_TEMP_PASSWORD, it->hash) ||
	       put_opt(m, KENPO_AT_TEMP_EXPIRY,
		       im->expiry_gt[0] != '\0' ? im->expiry_gt : NULL) ? -1 : 0;
}

/* The entry of a new member. NULL when out of memory. */
static struct dir_mods *
member_entry(const struct import *im, const struct item *it)
{
	static const char *const notify[] = {
		KENPO_AT_NOTIFY_MEDICAL, KENPO_AT_NOTIFY_GENERIC, KENPO_AT_NOTIFY_MAGAZINE,
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
		      dir_mods_put(m, DIR_MOD_ADD, KENPO_AT_NICKNAME, row->nickname != NULL ?
				   row->nickname : ADMIN_NICKNAME_DEFAULT) ||
		      put_opt(m, KENPO_AT_BIRTH, row->birth) ||
		      put_opt(m, KENPO_AT_ROSTER_MAIL, row->mail) ||
		      put_opt(m, KENPO_AT_KEY_REQUIRED, row->key_required < 0 ? NULL :
			      row->key_required ? KENPO_TRUE : KENPO_FALSE) ||
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
	if (im->a->soc.method == KENPO_REG_LETTER && gen_login(im, it->login, sizeof it->login) != 0)
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

	if (im->suffix[0] == '\0' &&
	    dir_suffix_of(im->a->dir, im->a->soc.base, im->suffix, sizeof im->suffix,
			  err, sizeof err) != DIR_OK)
		snprintf(im->suffix, sizeof im->suffix, "%s", im->a->soc.base);
	/* Generated IDs are letters and digits: nothing to escape. */
	snprintf(filter, sizeof filter, "(" KENPO_AT_UID "=%s)", login);
	if (dir_search(im->a->dir, im->suffix, DIR_SUB, filter, none, note_found, &found,
		       err, sizeof err) != DIR_OK)
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
		if (push_household_adds(im, it, it->dn, 1, it->row->nhouse) != 0)
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
		snprintf(why, sizeof why, "%s %.200s%.280s", op->kind == OP_DELETE ? "delete" :
			 op->kind == OP_MODIFY ? "modify" : "add", op->dn, msg);
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
			x.line = it->row->line;
			x.number = it->row->number;
			x.name = it->row->name;
			x.nickname = it->row->nickname ? it->row->nickname : ADMIN_NICKNAME_DEFAULT;
			x.login = it->login;
			x.password = it->pw;
			x.expiry = im->expiry_text;
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

/* Make one item per good row, and queue the updates. 0 or -1. */
static int
plan(struct import *im)
{
	struct item *it;
	size_t i;

	im->items = calloc(im->roster.nrows + 1, sizeof *im->items);
	im->news = calloc(im->roster.nrows + 1, sizeof *im->news);
	if (im->items == NULL || im->news == NULL)
		return -1;
	for (i = 0; i < im->roster.nrows; i++) {
		it = &im->items[im->nitems++];
		it->row = &im->roster.rows[i];
		it->ex = find_existing(im, it->row->number);
		if (it->ex == NULL) {
			it->kind = K_NEW;
			if (admin_member_dn(im->a, it->row->number, it->dn, sizeof it->dn) != 0)
				return -1;
			im->news[im->nnew++] = it;
			continue;
		}
		it->fields = im->issue ? 0 : changed_fields(it->row, it->ex);
		it->kind = it->fields != 0 ? K_UPDATE : K_SAME;
		it->state = it->fields != 0 ? S_WAIT : S_DONE;
		if (it->fields != 0 && push_update(im, it) != 0)
			return -1;
	}
	im->total = im->nnew;
	for (i = 0; i < im->nitems; i++)
		im->total += im->items[i].kind == K_UPDATE;
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
			    "(%s)", im->uid_first, im->uid_first + im->nnew - 1, s->uid_min,
			    s->uid_max, dn);
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

/* ---- reports ---- */

static json_object *
fields_json(unsigned fields)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < 4; i++)
		if (fields & (1u << i))
			json_object_array_add(arr, json_object_new_string(field_names[i]));
	return arr;
}

static void
fields_text(unsigned fields, char *out, size_t outsz)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < 4; i++)
		if ((fields & (1u << i)) && o < outsz)
			o += (size_t)snprintf(out + o, outsz - o, "%s%s", o ? ", " : "",
					      field_names[i]);
}

static void
count(struct import *im, const struct item *it)
{
	if (it->state == S_FAILED)
		im->n_failed++;
	else if (it->state == S_SKIPPED)
		im->n_skipped++;
	else if (it->kind == K_NEW)
		im->n_new++;
	else if (it->kind == K_UPDATE)
		im->n_updated++;
	else
		im->n_same++;
}

static const char *
status_of(const struct item *it)
{
	if (it->state == S_FAILED)
		return "failed";
	if (it->state == S_SKIPPED)
		return "skipped";
	return it->kind == K_NEW ? "new" : it->kind == K_UPDATE ? "updated" : "unchanged";
}

/* A member's line of the text report (only what is worth saying). */
static void
item_text(const struct import *im, const struct item *it)
{
	char f[80];

	if (it->state == S_FAILED) {
		fprintf(stderr, "%s:%lu: member %s: %s\n", im->path, it->row->line,
			it->row->number, it->msg != NULL ? it->msg : "failed");
	} else if (it->state == S_SKIPPED) {
		printf("skipped %s (line %lu): added meanwhile by someone else\n",
		       it->row->number, it->row->line);
	} else if (it->kind == K_UPDATE) {
		fields_text(it->fields, f, sizeof f);
		printf("updated %s (line %lu): %s\n", it->row->number, it->row->line, f);
	} else if (it->kind == K_NEW && im->a->o.verbose) {
		printf("new %s (line %lu)%s%s\n", it->row->number, it->row->line,
		       it->login[0] ? ": " : "", it->login);
	}
}

static json_object *
item_json(const struct item *it)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "line", it->row->line != 0 ?
			       json_object_new_int64((int64_t)it->row->line) : NULL);
	json_object_object_add(o, "member_number", json_object_new_string(it->row->number));
	json_object_object_add(o, "status", json_object_new_string(status_of(it)));
	if (it->kind == K_NEW && it->state == S_DONE && it->login[0] != '\0') {
		json_object_object_add(o, "login_id", json_object_new_string(it->login));
		json_object_object_add(o, "uid_number", json_object_new_int64((int64_t)it->uid));
	}
	if (it->kind == K_UPDATE)
		json_object_object_add(o, "fields", fields_json(it->fields));
	if (it->state == S_FAILED)
		json_object_object_add(o, "message", admin_json_str(it->msg));
	return o;
}

static json_object *
errors_json(const struct roster *r)
{
	json_object *arr = json_object_new_array(), *o;
	size_t i;

	for (i = 0; i < r->nerrs; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "line", json_object_new_int64((int64_t)r->errs[i].line));
		json_object_object_add(o, "field", r->errs[i].field[0] != '\0' ?
				       json_object_new_string(r->errs[i].field) : NULL);
		json_object_object_add(o, "message", json_object_new_string(r->errs[i].msg));
		json_object_array_add(arr, o);
	}
	return arr;
}

static void
print_errors(const struct import *im)
{
	const struct roster *r = &im->roster;
	size_t i;

	for (i = 0; i < r->nerrs && !im->a->o.json; i++)
		fprintf(stderr, "%s:%lu: %s%s%s\n", im->path, r->errs[i].line, r->errs[i].field,
			r->errs[i].field[0] ? ": " : "", r->errs[i].msg);
}

static void
add_counts(json_object *o, const struct import *im, double secs)
{
	static const struct { const char *key; size_t off; } counts[] = {
		{ "new", offsetof(struct import, n_new) },
		{ "updated", offsetof(struct import, n_updated) },
		{ "unchanged", offsetof(struct import, n_same) },
		{ "failed", offsetof(struct import, n_failed) },
		{ "skipped", offsetof(struct import, n_skipped) },
	};
	size_t i;

	json_object_object_add(o, "rows", json_object_new_int64(
		(int64_t)(im->roster.nrows + im->roster.nbad)));
	for (i = 0; i < sizeof counts / sizeof counts[0]; i++)
		json_object_object_add(o, counts[i].key, json_object_new_int64((int64_t)
			*(const size_t *)(const void *)((const char *)im + counts[i].off)));
	json_object_object_add(o, "refused", json_object_new_int64((int64_t)im->roster.nbad));
	json_object_object_add(o, "seconds", json_object_new_double(secs));
	json_object_object_add(o, "rows_per_second", json_object_new_double(
		secs > 0 ? (double)im->total / secs : 0));
	json_object_object_add(o, "argon2_t", json_object_new_int64(
		(int64_t)im->a->cost.opslimit));
	json_object_object_add(o, "argon2_m", json_object_new_int64(
		(int64_t)im->a->cost.memlimit));
}

static void
report_import(struct import *im)
{
	double secs = (double)(kenpo_now_ms() - im->started_ms) / 1000.0;
	json_object *o = NULL, *members = NULL;
	size_t i;

	if (im->a->o.json) {
		o = json_object_new_object();
		members = json_object_new_array();
	}
	for (i = 0; i < im->nitems; i++) {
		count(im, &im->items[i]);
		if (members != NULL && (im->items[i].kind != K_SAME || im->a->o.verbose))
			json_object_array_add(members, item_json(&im->items[i]));
		else if (members == NULL)
			item_text(im, &im->items[i]);
	}
	if (o == NULL) {
		printf("%s: %zu rows: %zu new, %zu updated, %zu unchanged, %zu refused, "
		       "%zu failed, %zu skipped; %zu written in %.1f s (%.1f/s, argon2id "
		       "t=%llu m=%zuK)\n", im->path, im->roster.nrows + im->roster.nbad,
		       im->n_new, im->n_updated, im->n_same, im->roster.nbad, im->n_failed,
		       im->n_skipped, im->total, secs, secs > 0 ? (double)im->total / secs : 0,
		       im->a->cost.opslimit, im->a->cost.memlimit / 1024);
		return;
	}
	json_object_object_add(o, "roster", json_object_new_string(im->path));
	add_counts(o, im, secs);
	if (im->uid_first != 0)
		json_object_object_add(o, "uid_first", json_object_new_int64((int64_t)im->uid_first));
	json_object_object_add(o, "members", members);
	json_object_object_add(o, "errors", errors_json(&im->roster));
	admin_json_print(o);
}

/* What `issue` prints: the member, and the password unless it went to
 * the letters CSV. */
static void
report_issue(struct import *im)
{
	struct item *it = &im->items[0];
	json_object *o;

	if (!im->a->o.json) {
		printf("issued %s%s%s", it->row->number, it->login[0] ? ": login ID " : "",
		       it->login);
		if (it->login[0] != '\0' && im->letters == NULL)
			printf(", temporary password %s%s%s", it->pw,
			       im->expiry_text[0] ? ", valid until " : "", im->expiry_text);
		printf("\n");
		return;
	}
	o = item_json(it);
	if (it->login[0] != '\0' && im->letters == NULL)
		json_object_object_add(o, "temp_password", json_object_new_string(it->pw));
	json_object_object_add(o, "temp_password_expiry",
			       admin_json_str(im->expiry_text[0] ? im->expiry_text : NULL));
	admin_json_print(o);
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
	}
	free(im->items);
	free(im->news);
	free(im->flight);
	for (i = 0; i < im->nex; i++) {
		for (j = 0; im->ex[i].house != NULL && j <= ROSTER_HOUSEHOLD_MAX; j++)
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
	if (letters_open(im->a->o.letters_csv, im->a->soc.name, &im->letters, err,
			 sizeof err) != 0) {
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
			    "new password)", im->roster.rows[0].number);
		goto done;
	}
	expiry(im);
	if (open_letters(im) != 0 || allocate_uids(im) != 0 || start_hashers(im) != 0)
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
	memset(im, 0, sizeof *im);
	im->a = a;
	im->path = path;
	im->issue = issue;
	im->started_ms = kenpo_now_ms();
	if (pthread_mutex_init(&im->lock, NULL) != 0)
		return -1;
	if (pthread_cond_init(&im->hashed, NULL) != 0) {
		pthread_mutex_destroy(&im->lock);
		return -1;
	}
	return 0;
}

/* Letter registration makes passwords that must go somewhere. */
static int
letters_given(const struct admin *a)
{
	if (a->soc.method != KENPO_REG_LETTER || a->o.letters_csv != NULL || a->o.no_letters)
		return 1;
	admin_error("import: the temporary passwords exist only in the letters: give "
		    "--letters-csv FILE, or --no-letters to issue without them");
	return 0;
}

int
cmd_import(struct admin *a)
{
	struct import im;
	char *data = NULL;
	size_t len = 0;
	int rc;

	if (!letters_given(a))
		return ADMIN_USAGE;
	if (init_import(&im, a, a->o.args[0], 0) != 0)
		return ADMIN_ERROR;
	rc = read_roster_file(im.path, &data, &len) == 0 ? ADMIN_OK : ADMIN_ERROR;
	if (rc == ADMIN_OK && roster_read(data, len, a->soc.method, &im.roster) != 0) {
		admin_error("out of memory");
		rc = ADMIN_ERROR;
	}
	free(data);
	if (rc == ADMIN_OK) {
		print_errors(&im);
		if (im.roster.fatal)
			rc = ADMIN_ERROR;
		else if (a->o.strict && im.roster.nbad > 0)
			rc = ADMIN_REJECTED;
	}
	if (rc == ADMIN_OK)
		rc = write_members(&im);
	if (rc == ADMIN_OK || (a->o.json && (rc == ADMIN_REJECTED || im.roster.fatal)))
		report_import(&im);
	if (rc == ADMIN_REJECTED && !a->o.json)
		admin_error("%s: %zu bad rows (--strict): nothing written", im.path, im.roster.nbad);
	if (rc == ADMIN_OK && (im.roster.nbad > 0 || im.n_failed > 0))
		rc = ADMIN_PARTIAL;
	cleanup(&im);
	return rc;
}

/* The option of `issue` that sets a roster column. */
static const char *
option_of(const char *column)
{
	static const struct { const char *column, *option; } names[] = {
		{ "member_number", "--number" }, { "name", "--name" },
		{ "birth_date", "--birth-date" }, { "mail", "--mail" },
		{ "household", "--household" }, { "nickname", "--nickname" },
		{ "key_required", "--key-required" },
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
	struct import im;
	struct roster_row row;
	const char *field = "";
	char msg[ROSTER_MSG_MAX];
	int rc;

	if (roster_row_make(a->o.number, a->o.name, a->o.birth, a->o.mail, a->o.household,
			    a->o.nickname, a->o.key_required, a->soc.method, &row, &field,
			    msg, sizeof msg) != 0) {
		admin_error("issue: %s: %s", option_of(field), msg);
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
	if (rc == ADMIN_OK && im.items[0].state == S_DONE)
		report_issue(&im);
	else if (rc == ADMIN_OK)
		admin_error("issue %s: %s", row.number, im.items[0].msg ? im.items[0].msg :
			    "added meanwhile by someone else");
	if (rc == ADMIN_OK && im.items[0].state != S_DONE)
		rc = ADMIN_ERROR;
	cleanup(&im);
	return rc;
}
