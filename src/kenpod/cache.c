/*
 * cache.c - positive and negative passwd cache (see cache.h).
 *
 * A hash table with chaining, keyed with libsodium's SipHash
 * (crypto_shorthash) under a random key so that crafted names cannot pile
 * up in one bucket, plus two lists in insertion order, one for members
 * and one for "no such user", each dropping its own oldest entry when
 * full.  Written here rather than taken from libc because hsearch_r() has
 * a fixed size and cannot delete.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "cache.h"
#include "proto.h"
#include "pubmap.h"

enum ckind { BY_NAME = 'n', BY_UID = 'u' };

struct centry {
	struct centry *hnext;         /* next in the bucket */
	struct centry *older, *newer; /* insertion order, in its kind's list */
	int64_t expires;              /* CLOCK_MONOTONIC ms */
	uint64_t hash;
	enum ckind kind;
	uint32_t uid;            /* BY_UID */
	struct kenpo_pwrec *rec; /* NULL: "no such user" */
	char name[];             /* BY_NAME: lower-cased */
};

struct cache_list {
	pthread_mutex_t *lock; /* the owning cache's list_lock */
	size_t refs;
	int64_t expires;
	size_t n;
	struct kenpo_pwrec **recs;
};

/* The entries of one kind (members, or "no such user"), oldest first. */
struct age_list {
	struct centry *oldest, *newest;
	size_t count;
};

struct cache {
	pthread_rwlock_t lock;
	unsigned char key[crypto_shorthash_KEYBYTES];
	struct centry **buckets;
	size_t nbuckets; /* a power of two */
	struct age_list found, missing;
	size_t max; /* entries of each kind */
	int64_t positive_ms, negative_ms;
	struct pubmap *map;

	pthread_mutex_t list_lock;
	struct cache_list *list;
};

/* ---- records ---- */

static int
put_str(struct kenpo_pwrec *rec, size_t outsz, size_t *pos, uint32_t *off, const char *s)
{
	size_t len = strlen(s);

	if (len > KENPO_PWREC_STR_MAX || len + 1 > outsz - *pos)
		return -1;
	memcpy((char *)rec + *pos, s, len + 1);
	*off = (uint32_t)*pos;
	*pos += len + 1;
	return 0;
}

int
kenpo_pwrec_build(struct kenpo_pwrec *out, size_t outsz, const char *name, uint32_t uid,
		  uint32_t gid, const char *gecos, const char *home, const char *shell)
{
	size_t pos = sizeof(*out);

	if (outsz < sizeof(*out))
		return -1;
	out->uid = uid;
	out->gid = gid;
	if (put_str(out, outsz, &pos, &out->name, name) != 0 ||
	    put_str(out, outsz, &pos, &out->passwd, "x") != 0 ||
	    put_str(out, outsz, &pos, &out->gecos, gecos) != 0 ||
	    put_str(out, outsz, &pos, &out->home, home) != 0 ||
	    put_str(out, outsz, &pos, &out->shell, shell) != 0)
		return -1;
	out->size = (uint32_t)pos;
	return 0;
}

const char *
kenpo_pwrec_str(const struct kenpo_pwrec *rec, uint32_t off)
{
	return (const char *)rec + off;
}

static struct kenpo_pwrec *
pwrec_dup(const struct kenpo_pwrec *rec)
{
	struct kenpo_pwrec *copy = malloc(rec->size);

	if (copy != NULL)
		memcpy(copy, rec, rec->size);
	return copy;
}

/* ---- keys ---- */

/* Login IDs are ASCII; lower-case by hand so that the process locale
 * cannot change the key. */
static void
lower_ascii(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] - 'A' + 'a') : src[i];
	dst[len] = '\0';
}

static uint64_t
key_hash(const struct cache *c, enum ckind kind, const char *name, uint32_t uid)
{
	unsigned char in[1 + KENPO_PWREC_STR_MAX], out[crypto_shorthash_BYTES];
	size_t len = 1;
	uint64_t h;

	in[0] = (unsigned char)kind;
	if (kind == BY_NAME) {
		len += strlen(name);
		memcpy(in + 1, name, len - 1);
	} else {
		memcpy(in + 1, &uid, sizeof uid);
		len += sizeof uid;
	}
	crypto_shorthash(out, in, len, c->key);
	memcpy(&h, out, sizeof h);
	return h;
}

static int
key_equal(const struct centry *e, uint64_t hash, enum ckind kind, const char *name, uint32_t uid)
{
	if (e->hash != hash || e->kind != kind)
		return 0;
	return kind == BY_NAME ? strcmp(e->name, name) == 0 : e->uid == uid;
}

/* ---- table ---- */

static void list_replace(struct cache *c, struct cache_list *l);

struct cache *
cache_new(size_t max_entries, long positive_ttl, long negative_ttl)
{
	struct cache *c = calloc(1, sizeof(*c));
	size_t n = 64;

	if (c == NULL)
		return NULL;
	while (n < 2 * max_entries && n < ((size_t)1 << 30))
		n <<= 1;
	c->buckets = calloc(n, sizeof(*c->buckets));
	if (c->buckets == NULL) {
		free(c);
		return NULL;
	}
	c->nbuckets = n;
	c->max = max_entries > 0 ? max_entries : 1;
	c->positive_ms = (int64_t)positive_ttl * 1000;
	c->negative_ms = (int64_t)negative_ttl * 1000;
	randombytes_buf(c->key, sizeof c->key);
	pthread_rwlock_init(&c->lock, NULL);
	pthread_mutex_init(&c->list_lock, NULL);
	return c;
}

void
cache_attach_map(struct cache *c, struct pubmap *map)
{
	c->map = map;
}

static struct centry **
bucket_of(struct cache *c, uint64_t hash)
{
	return &c->buckets[hash & (c->nbuckets - 1)];
}

static struct age_list *
list_of(struct cache *c, const struct centry *e)
{
	return e->rec != NULL ? &c->found : &c->missing;
}

/* Unlink e from its bucket and from its age list, and free it. */
static void
entry_drop(struct cache *c, struct centry *e)
{
	struct centry **pp = bucket_of(c, e->hash);
	struct age_list *l = list_of(c, e);

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		l->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		l->newest = e->older;
	l->count--;
	free(e->rec);
	free(e);
}

static struct centry *
entry_find(struct cache *c, uint64_t hash, enum ckind kind, const char *name, uint32_t uid)
{
	struct centry *e;

	for (e = *bucket_of(c, hash); e != NULL; e = e->hnext)
		if (key_equal(e, hash, kind, name, uid))
			return e;
	return NULL;
}

/* Make room in one kind's list: drop expired entries from the old end,
 * then the oldest entries until one more fits.  Write lock held. */
static void
make_room(struct cache *c, struct age_list *l, int64_t now)
{
	while (l->oldest != NULL && l->oldest->expires <= now)
		entry_drop(c, l->oldest);
	while (l->count >= c->max && l->oldest != NULL)
		entry_drop(c, l->oldest);
}

/* Insert (or replace) one entry; takes ownership of rec.  Write lock held. */
static void
entry_insert(struct cache *c, enum ckind kind, const char *name, uint32_t uid,
	     struct kenpo_pwrec *rec, int64_t ttl_ms)
{
	size_t nlen = kind == BY_NAME ? strlen(name) : 0;
	uint64_t hash = key_hash(c, kind, name, uid);
	int64_t now = kenpo_now_ms();
	struct age_list *l = rec != NULL ? &c->found : &c->missing;
	struct centry *e, **bucket;

	e = entry_find(c, hash, kind, name, uid);
	if (e != NULL)
		entry_drop(c, e);
	make_room(c, l, now);
	e = calloc(1, sizeof(*e) + nlen + 1);
	if (e == NULL) {
		free(rec);
		return;
	}
	memcpy(e->name, kind == BY_NAME ? name : "", nlen + 1);
	e->kind = kind;
	e->uid = uid;
	e->hash = hash;
	e->rec = rec;
	e->expires = now + ttl_ms;
	bucket = bucket_of(c, hash);
	e->hnext = *bucket;
	*bucket = e;
	e->older = l->newest;
	if (l->newest != NULL)
		l->newest->newer = e;
	else
		l->oldest = e;
	l->newest = e;
	l->count++;
}

static enum cache_hit
cache_get(struct cache *c, enum ckind kind, const char *name, uint32_t uid,
	  struct kenpo_pwrec *out, size_t outsz)
{
	uint64_t hash = key_hash(c, kind, name, uid);
	enum cache_hit hit = CACHE_MISS;
	const struct centry *e;

	pthread_rwlock_rdlock(&c->lock);
	e = entry_find(c, hash, kind, name, uid);
	/* An expired entry is a miss; the next insert replaces it. */
	if (e == NULL || e->expires <= kenpo_now_ms())
		goto done;
	if (e->rec == NULL) {
		hit = CACHE_NEGATIVE;
		goto done;
	}
	if (e->rec->size > outsz)
		goto done;
	memcpy(out, e->rec, e->rec->size);
	hit = CACHE_POSITIVE;
done:
	pthread_rwlock_unlock(&c->lock);
	return hit;
}

/* The lower-cased key of a name, or -1 when it cannot be a key. */
static int
name_key(const char *name, char key[KENPO_PWREC_STR_MAX + 1])
{
	size_t len = strlen(name);

	if (len > KENPO_PWREC_STR_MAX)
		return -1;
	lower_ascii(key, name, len);
	return 0;
}

enum cache_hit
cache_get_byname(struct cache *c, const char *name, struct kenpo_pwrec *out, size_t outsz)
{
	char key[KENPO_PWREC_STR_MAX + 1];

	if (name_key(name, key) != 0)
		return CACHE_MISS;
	return cache_get(c, BY_NAME, key, 0, out, outsz);
}

enum cache_hit
cache_get_byuid(struct cache *c, uint32_t uid, struct kenpo_pwrec *out, size_t outsz)
{
	return cache_get(c, BY_UID, NULL, uid, out, outsz);
}

void
cache_put(struct cache *c, const struct kenpo_pwrec *rec)
{
	char key[KENPO_PWREC_STR_MAX + 1];
	struct kenpo_pwrec *a, *b;

	if (c->positive_ms <= 0 || name_key(kenpo_pwrec_str(rec, rec->name), key) != 0)
		return;
	a = pwrec_dup(rec);
	b = pwrec_dup(rec);
	if (a == NULL || b == NULL) {
		free(a);
		free(b);
		return;
	}
	pthread_rwlock_wrlock(&c->lock);
	entry_insert(c, BY_NAME, key, 0, a, c->positive_ms);
	entry_insert(c, BY_UID, NULL, rec->uid, b, c->positive_ms);
	pthread_rwlock_unlock(&c->lock);
}

void
cache_put_missing_name(struct cache *c, const char *name)
{
	char key[KENPO_PWREC_STR_MAX + 1];

	if (c->negative_ms <= 0 || name_key(name, key) != 0)
		return;
	pthread_rwlock_wrlock(&c->lock);
	entry_insert(c, BY_NAME, key, 0, NULL, c->negative_ms);
	pthread_rwlock_unlock(&c->lock);
}

void
cache_put_missing_uid(struct cache *c, uint32_t uid)
{
	if (c->negative_ms <= 0)
		return;
	pthread_rwlock_wrlock(&c->lock);
	entry_insert(c, BY_UID, NULL, uid, NULL, c->negative_ms);
	pthread_rwlock_unlock(&c->lock);
}

void
cache_forget(struct cache *c, const char *name, uint32_t uid)
{
	char key[KENPO_PWREC_STR_MAX + 1];
	struct centry *e;

	pthread_rwlock_wrlock(&c->lock);
	if (name != NULL && name_key(name, key) == 0) {
		e = entry_find(c, key_hash(c, BY_NAME, key, 0), BY_NAME, key, 0);
		if (e != NULL)
			entry_drop(c, e);
	}
	e = entry_find(c, key_hash(c, BY_UID, NULL, uid), BY_UID, NULL, uid);
	if (e != NULL)
		entry_drop(c, e);
	pthread_rwlock_unlock(&c->lock);
	/* The member list may hold the old record too. */
	list_replace(c, NULL);
	pubmap_forget(c->map, name, uid);
}

void
cache_flush(struct cache *c)
{
	pthread_rwlock_wrlock(&c->lock);
	while (c->found.oldest != NULL)
		entry_drop(c, c->found.oldest);
	while (c->missing.oldest != NULL)
		entry_drop(c, c->missing.oldest);
	pthread_rwlock_unlock(&c->lock);
	list_replace(c, NULL);
}

void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	cache_flush(c);
	pthread_rwlock_destroy(&c->lock);
	pthread_mutex_destroy(&c->list_lock);
	sodium_memzero(c->key, sizeof c->key);
	free(c->buckets);
	free(c);
}

/* ---- the member list ---- */

/* Drop one reference; list_lock held. */
static void
list_unref_locked(struct cache_list *l)
{
	size_t i;

	if (--l->refs > 0)
		return;
	for (i = 0; i < l->n; i++)
		free(l->recs[i]);
	free(l->recs);
	free(l);
}

struct cache_list *
cache_list_get(struct cache *c)
{
	struct cache_list *l;

	pthread_mutex_lock(&c->list_lock);
	l = c->list;
	if (l != NULL && l->expires <= kenpo_now_ms())
		l = NULL;
	if (l != NULL)
		l->refs++;
	pthread_mutex_unlock(&c->list_lock);
	return l;
}

static int
pwrec_cmp_uid(const void *a, const void *b)
{
	const struct kenpo_pwrec *x = *(const struct kenpo_pwrec *const *)a;
	const struct kenpo_pwrec *y = *(const struct kenpo_pwrec *const *)b;

	return (x->uid > y->uid) - (x->uid < y->uid);
}

/* Install l (NULL: none) as the current snapshot. */
static void
list_replace(struct cache *c, struct cache_list *l)
{
	struct cache_list *old;

	pthread_mutex_lock(&c->list_lock);
	old = c->list;
	c->list = l;
	if (old != NULL)
		list_unref_locked(old);
	pthread_mutex_unlock(&c->list_lock);
}

/* A snapshot lives at least this long even with caching off, so that a
 * client can page through it. */
#define LIST_MIN_MS 5000

struct cache_list *
cache_list_put(struct cache *c, struct kenpo_pwrec **recs, size_t n)
{
	struct cache_list *l = calloc(1, sizeof(*l));
	size_t i;

	if (l == NULL) {
		for (i = 0; i < n; i++)
			free(recs[i]);
		free(recs);
		return NULL;
	}
	if (n > 1)
		qsort(recs, n, sizeof(*recs), pwrec_cmp_uid);
	l->lock = &c->list_lock;
	l->refs = 2; /* the cache's and the caller's */
	l->expires =
		kenpo_now_ms() + (c->positive_ms > LIST_MIN_MS ? c->positive_ms : LIST_MIN_MS);
	l->n = n;
	l->recs = recs;
	list_replace(c, l);
	return l;
}

size_t
cache_list_count(const struct cache_list *l)
{
	return l->n;
}

const struct kenpo_pwrec *
cache_list_at(const struct cache_list *l, size_t i)
{
	return i < l->n ? l->recs[i] : NULL;
}

void
cache_list_release(struct cache_list *l)
{
	pthread_mutex_t *lock;

	if (l == NULL)
		return;
	lock = l->lock;
	pthread_mutex_lock(lock);
	list_unref_locked(l);
	pthread_mutex_unlock(lock);
}
