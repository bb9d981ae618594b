/*
 * session.c - the session store (see session.h).
 *
 * One mutex guards the table, the LRU list and the counts; each session
 * has its own mutex for the request that uses it.  The order is: a
 * session's lock, then the store's; session_find takes the store's lock
 * only to look up and count a reference, and locks the session after.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "conf.h"
#include "session.h"

#define BUCKETS_MIN 256

static struct {
	pthread_mutex_t lock;
	struct session **table;
	size_t nbuckets, count, max;
	long idle, lifetime;
	struct session *lru_head, *lru_tail; /* most recently used first */
	unsigned char hashkey[crypto_shorthash_KEYBYTES];
	session_end_fn on_end;
	void *arg;
} store = { .lock = PTHREAD_MUTEX_INITIALIZER };

int64_t
session_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

int
sessions_init(const struct web_conf *conf, session_end_fn on_end, void *arg)
{
	size_t n = BUCKETS_MIN;

	while (n < conf->sessions_max / 2)
		n *= 2;
	store.table = calloc(n, sizeof(*store.table));
	if (store.table == NULL)
		return -1;
	store.nbuckets = n;
	store.max = conf->sessions_max;
	store.idle = conf->session_idle;
	store.lifetime = conf->session_lifetime;
	store.on_end = on_end;
	store.arg = arg;
	randombytes_buf(store.hashkey, sizeof store.hashkey);
	return 0;
}

static size_t
bucket_of(const unsigned char *id)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v = 0;
	size_t i;

	crypto_shorthash(h, id, SESSION_ID_BYTES, store.hashkey);
	for (i = 0; i < sizeof h; i++)
		v = v << 8 | h[i];
	return (size_t)(v & (store.nbuckets - 1));
}

/* ---- lists, under store.lock ---- */

static void
lru_unlink(struct session *s)
{
	if (s->lprev != NULL)
		s->lprev->lnext = s->lnext;
	else
		store.lru_head = s->lnext;
	if (s->lnext != NULL)
		s->lnext->lprev = s->lprev;
	else
		store.lru_tail = s->lprev;
	s->lprev = s->lnext = NULL;
}

static void
lru_push(struct session *s)
{
	s->lnext = store.lru_head;
	s->lprev = NULL;
	if (store.lru_head != NULL)
		store.lru_head->lprev = s;
	store.lru_head = s;
	if (store.lru_tail == NULL)
		store.lru_tail = s;
}

static void
hash_link(struct session *s)
{
	s->bucket = bucket_of(s->id);
	s->hnext = store.table[s->bucket];
	store.table[s->bucket] = s;
}

static void
hash_unlink(struct session *s)
{
	struct session **pp = &store.table[s->bucket];

	while (*pp != NULL && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp == s)
		*pp = s->hnext;
	s->hnext = NULL;
}

/* Take a session out of the table and the list: nobody finds it again. */
static void
unlink_session(struct session *s)
{
	if (!s->linked)
		return;
	hash_unlink(s);
	lru_unlink(s);
	s->linked = 0;
	s->dead = 1;
	store.count--;
}

static void
free_session(struct session *s)
{
	pthread_mutex_destroy(&s->lock);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

static int
expired(const struct session *s, int64_t now)
{
	return now - s->seen >= store.idle || now - s->created >= store.lifetime;
}

/* ---- finding ---- */

static int
decode_id(const char *text, unsigned char *out)
{
	size_t len = 0;

	if (text == NULL || strlen(text) != SESSION_COOKIE_LEN)
		return -1;
	if (sodium_base642bin(out, SESSION_ID_BYTES, text, SESSION_COOKIE_LEN, NULL, &len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != SESSION_ID_BYTES)
		return -1;
	return 0;
}

struct session *
session_find(const char *cookie)
{
	unsigned char id[SESSION_ID_BYTES];
	struct session *s, *found = NULL;
	int64_t now = session_now();

	if (decode_id(cookie, id) != 0)
		return NULL;
	pthread_mutex_lock(&store.lock);
	for (s = store.table[bucket_of(id)]; s != NULL; s = s->hnext)
		if (sodium_memcmp(s->id, id, SESSION_ID_BYTES) == 0)
			found = s;
	if (found != NULL && !expired(found, now)) {
		found->refs++;
		found->seen = now;
		lru_unlink(found);
		lru_push(found);
	} else {
		found = NULL;
	}
	pthread_mutex_unlock(&store.lock);
	sodium_memzero(id, sizeof id);
	if (found == NULL)
		return NULL;
	pthread_mutex_lock(&found->lock);
	if (found->dead) {
		session_release(found);
		return NULL;
	}
	return found;
}

/* The least recently used session that nobody uses and that holds no
 * login in progress; NULL when there is none. */
static struct session *
evictable(void)
{
	struct session *s;

	for (s = store.lru_tail; s != NULL; s = s->lprev)
		if (s->refs == 0 && s->state == SS_ANON)
			return s;
	return NULL;
}

static int
make_room(void)
{
	struct session *victim;

	if (store.count < store.max)
		return 0;
	victim = evictable();
	if (victim == NULL)
		return -1;
	/* An anonymous session holds no pending key: no end callback. */
	unlink_session(victim);
	free_session(victim);
	return 0;
}

struct session *
session_create(void)
{
	struct session *s = calloc(1, sizeof(*s));
	int64_t now = session_now();

	if (s == NULL)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	randombytes_buf(s->id, sizeof s->id);
	randombytes_buf(s->csrf, sizeof s->csrf);
	s->created = s->seen = now;
	s->refs = 1;
	pthread_mutex_lock(&s->lock);
	/* A full store first loses the sessions that timed out. */
	if (sessions_count() >= store.max)
		(void)sessions_sweep();
	pthread_mutex_lock(&store.lock);
	if (make_room() != 0) {
		pthread_mutex_unlock(&store.lock);
		pthread_mutex_unlock(&s->lock);
		free_session(s);
		return NULL;
	}
	hash_link(s);
	lru_push(s);
	s->linked = 1;
	store.count++;
	pthread_mutex_unlock(&store.lock);
	return s;
}

int
session_rotate(struct session *s)
{
	pthread_mutex_lock(&store.lock);
	if (s->linked)
		hash_unlink(s);
	randombytes_buf(s->id, sizeof s->id);
	randombytes_buf(s->csrf, sizeof s->csrf);
	if (s->linked)
		hash_link(s);
	pthread_mutex_unlock(&store.lock);
	return s->linked ? 0 : -1;
}

void
session_release(struct session *s)
{
	int gone;

	pthread_mutex_unlock(&s->lock);
	pthread_mutex_lock(&store.lock);
	gone = --s->refs == 0 && s->dead;
	pthread_mutex_unlock(&store.lock);
	if (gone)
		free_session(s);
}

void
session_end(struct session *s)
{
	pthread_mutex_lock(&store.lock);
	unlink_session(s);
	pthread_mutex_unlock(&store.lock);
	session_forget_login(s);
}

void
session_forget_login(struct session *s)
{
	sodium_memzero(s->secret, sizeof s->secret);
	sodium_memzero(s->ticket, sizeof s->ticket);
	sodium_memzero(s->proof, sizeof s->proof);
	sodium_memzero(s->login, sizeof s->login);
	sodium_memzero(s->last_login, sizeof s->last_login);
	s->last_login_known = 0;
	sodium_memzero(s->masked, sizeof s->masked);
	s->key_expiry = 0;
	s->state = SS_ANON;
}

/* ---- ids on the wire ---- */

void
session_cookie(const struct session *s, char out[SESSION_COOKIE_LEN + 1])
{
	sodium_bin2base64(out, SESSION_COOKIE_LEN + 1, s->id, sizeof s->id,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void
session_csrf(const struct session *s, char out[SESSION_TOKEN_LEN + 1])
{
	sodium_bin2base64(out, SESSION_TOKEN_LEN + 1, s->csrf, sizeof s->csrf,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
session_csrf_ok(const struct session *s, const char *token)
{
	unsigned char got[SESSION_ID_BYTES];
	int ok;

	if (decode_id(token, got) != 0)
		return 0;
	ok = sodium_memcmp(got, s->csrf, sizeof got) == 0;
	sodium_memzero(got, sizeof got);
	return ok;
}

/* ---- expiry ---- */

size_t
sessions_sweep(void)
{
	struct session *s, *prev, *ended = NULL;
	int64_t now = session_now();
	size_t left;

	pthread_mutex_lock(&store.lock);
	for (s = store.lru_tail; s != NULL; s = prev) {
		prev = s->lprev;
		if (s->refs != 0 || !expired(s, now))
			continue;
		unlink_session(s);
		s->refs = 1;
		s->hnext = ended;
		ended = s;
	}
	left = store.count;
	pthread_mutex_unlock(&store.lock);
	while (ended != NULL) {
		s = ended;
		ended = s->hnext;
		pthread_mutex_lock(&s->lock);
		if (store.on_end != NULL && s->state != SS_ANON)
			store.on_end(s, store.arg);
		session_release(s);
	}
	return left;
}

size_t
sessions_count(void)
{
	size_t n;

	pthread_mutex_lock(&store.lock);
	n = store.count;
	pthread_mutex_unlock(&store.lock);
	return n;
}

void
sessions_shutdown(void)
{
	struct session *s, *next;

	pthread_mutex_lock(&store.lock);
	for (s = store.lru_head; s != NULL; s = next) {
		next = s->lnext;
		free_session(s);
	}
	free(store.table);
	store.table = NULL;
	store.lru_head = store.lru_tail = NULL;
	store.count = 0;
	pthread_mutex_unlock(&store.lock);
}
