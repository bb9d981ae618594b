/*
 * pwmap.c - the passwd map's hashes and its reader (see pwmap.h).
 *
 * The reader runs inside every process that looks a user up, so it calls
 * nothing that may block or allocate: loads from the mapping, memcpy into
 * the caller's buffer, and clock_gettime (vDSO).  Whatever it reads from
 * the mapping may be half-written by kenpod at that moment, or damaged:
 * each field is read once into a local copy, checked, and only then used,
 * and nothing counts until the sequence counter shows that no change
 * overlapped the read.
 */
#include "autoconfig.h"

#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "pwmap.h"

/* Reads overlapping a change are tried again this many times; from the
 * READ_YIELD'th on the writer gets the processor first (a change takes
 * microseconds, but the writer may be preempted inside one). */
#define READ_TRIES 16
#define READ_YIELD 4
#define REC_FIXED offsetof(struct kenpo_pwmap_rec, str)

_Static_assert(sizeof(struct kenpo_pwmap_rec) == 24, "record header layout");
_Static_assert(offsetof(struct kenpo_pwmap_header, header_check) == 188, "header layout");
_Static_assert(offsetof(struct kenpo_pwmap_header, seq) % 8 == 0, "seq alignment");

/* ---- hashes ---- */

static uint32_t
rotl32(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static uint32_t
mix_block(uint32_t k)
{
	k *= 0xcc9e2d51u;
	k = rotl32(k, 15);
	return k * 0x1b873593u;
}

uint32_t
kenpo_pwmap_hash(uint32_t seed, const void *data, size_t len)
{
	const unsigned char *p = data, *tail = p + (len & ~(size_t)3);
	uint32_t h = seed, k;
	size_t i;

	for (i = 0; i + 4 <= len; i += 4) {
		memcpy(&k, p + i, sizeof k);
		h ^= mix_block(k);
		h = rotl32(h, 13) * 5 + 0xe6546b64u;
	}
	k = 0;
	switch (len & 3) {
	case 3:
		k ^= (uint32_t)tail[2] << 16;
		/* fall through */
	case 2:
		k ^= (uint32_t)tail[1] << 8;
		/* fall through */
	case 1:
		k ^= tail[0];
		h ^= mix_block(k);
		break;
	default:
		break;
	}
	h ^= (uint32_t)len;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	return h ^ (h >> 16);
}

uint32_t
kenpo_pwmap_hash_name(uint32_t seed, const char *name, size_t len)
{
	return kenpo_pwmap_hash(seed, name, len);
}

uint32_t
kenpo_pwmap_hash_uid(uint32_t seed, uint32_t uid)
{
	return kenpo_pwmap_hash(seed, &uid, sizeof uid);
}

/* Bytes of the strings of a record, NULs included. */
static size_t
strings_size(const struct kenpo_pwmap_rec *r)
{
	return (size_t)r->name_len + r->gecos_len + r->home_len + r->shell_len + 4;
}

uint32_t
kenpo_pwmap_rec_check(uint32_t seed, const struct kenpo_pwmap_rec *r)
{
	const unsigned char *p = (const unsigned char *)r;

	return kenpo_pwmap_hash(seed, p + sizeof r->check,
				REC_FIXED - sizeof r->check + strings_size(r));
}

size_t
kenpo_pwmap_rec_size(size_t name, size_t gecos, size_t home, size_t shell)
{
	return (REC_FIXED + name + gecos + home + shell + 4 + 7) & ~(size_t)7;
}

uint32_t
kenpo_pwmap_header_check(const struct kenpo_pwmap_header *h)
{
	return kenpo_pwmap_hash(h->seed, h, offsetof(struct kenpo_pwmap_header, header_check));
}

int64_t
kenpo_pwmap_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the header ---- */

/* Whether [off, off + len) lies inside size bytes. */
static int
inside(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

int
kenpo_pwmap_view_init(struct kenpo_pwmap_view *v, const void *base, size_t size)
{
	struct kenpo_pwmap_header h;
	uint64_t table;

	if (size < sizeof h)
		return -1;
	/* The fixed part never changes once the file is published. */
	memcpy(&h, base, offsetof(struct kenpo_pwmap_header, status));
	if (h.magic != KENPO_PWMAP_MAGIC || h.version != KENPO_PWMAP_VERSION ||
	    h.header_size != sizeof h || kenpo_pwmap_header_check(&h) != h.header_check)
		return -1;
	if (h.file_size > size || h.table_slots == 0 ||
	    (h.table_slots & (h.table_slots - 1)) != 0 || h.table_slots > (1u << 30))
		return -1;
	table = (uint64_t)h.table_slots * 8;
	if (h.names % 8 != 0 || h.uids % 8 != 0 || h.data_start % 8 != 0 || h.names < sizeof h ||
	    !inside(h.names, table, h.file_size) || h.uids < sizeof h ||
	    !inside(h.uids, table, h.file_size) || h.data_start < sizeof h ||
	    h.data_start > h.data_end || h.data_end > h.file_size ||
	    h.data_end >= ((uint64_t)1 << 35))
		return -1;
	v->base = base;
	v->size = size;
	v->h = base;
	v->names =
		(const _Atomic uint64_t *)(const void *)((const unsigned char *)base + h.names);
	v->uids = (const _Atomic uint64_t *)(const void *)((const unsigned char *)base + h.uids);
	v->data_start = h.data_start;
	v->data_end = h.data_end;
	v->mask = h.table_slots - 1;
	v->seed = h.seed;
	return 0;
}

enum kenpo_pwmap_found
kenpo_pwmap_usable(const struct kenpo_pwmap_view *v, int64_t now_ms)
{
	uint32_t status = atomic_load_explicit(&v->h->status, memory_order_relaxed);
	int64_t beat = atomic_load_explicit(&v->h->heartbeat_ms, memory_order_relaxed);

	if (status == KENPO_PWMAP_REPLACED)
		return KENPO_PWMAP_GONE;
	if (status != KENPO_PWMAP_LIVE)
		return KENPO_PWMAP_UNUSABLE;
	/* A stamp from the future is as untrustworthy as an old one. */
	if (now_ms - beat > (int64_t)v->h->heartbeat_max_ms ||
	    beat - now_ms > (int64_t)v->h->heartbeat_max_ms)
		return KENPO_PWMAP_UNUSABLE;
	return KENPO_PWMAP_HIT;
}

/* ---- records ---- */

/* The record at off, its fixed part read once into *r; 0 when it lies
 * within the record area and its strings fit in its size. */
static int
rec_peek(const struct kenpo_pwmap_view *v, uint64_t off, struct kenpo_pwmap_rec *r)
{
	if (off < v->data_start || off % 8 != 0 || !inside(off, REC_FIXED, v->data_end))
		return -1;
	memcpy(r, v->base + off, REC_FIXED);
	if (r->size < REC_FIXED || r->size > KENPO_PWMAP_REC_MAX || r->size % 8 != 0 ||
	    !inside(off, r->size, v->data_end) || REC_FIXED + strings_size(r) > r->size)
		return -1;
	return 0;
}

/* Whether the record at off holds this key, judged on the live bytes (a
 * filter only: the copy is checked again). */
static int
rec_has_name(const struct kenpo_pwmap_view *v, uint64_t off, const char *name, size_t len)
{
	struct kenpo_pwmap_rec r;

	return rec_peek(v, off, &r) == 0 && r.name_len == len &&
	       memcmp(v->base + off + REC_FIXED, name, len) == 0;
}

static int
rec_has_uid(const struct kenpo_pwmap_view *v, uint64_t off, uint32_t uid)
{
	struct kenpo_pwmap_rec r;

	return rec_peek(v, off, &r) == 0 && r.uid == uid;
}

/* Point s at the next string of the copy, which must end where its length
 * says.  0 or -1. */
static int
take_str(const char *buf, size_t *pos, size_t len, const char **s)
{
	if (memchr(buf + *pos, '\0', len) != NULL || buf[*pos + len] != '\0')
		return -1;
	*s = buf + *pos;
	*pos += len + 1;
	return 0;
}

/* Check a copied record and point out at its strings.  0 or -1. */
static int
parse_copy(const struct kenpo_pwmap_view *v, char *buf, size_t copied, struct kenpo_pwent *out)
{
	struct kenpo_pwmap_rec r;
	struct kenpo_pwent e;
	size_t pos = REC_FIXED;

	memcpy(&r, buf, REC_FIXED);
	if (REC_FIXED + strings_size(&r) != copied ||
	    kenpo_pwmap_hash(v->seed, buf + sizeof r.check, copied - sizeof r.check) != r.check)
		return -1;
	if (take_str(buf, &pos, r.name_len, &e.name) != 0 ||
	    take_str(buf, &pos, r.gecos_len, &e.gecos) != 0 ||
	    take_str(buf, &pos, r.home_len, &e.home) != 0 ||
	    take_str(buf, &pos, r.shell_len, &e.shell) != 0 || r.name_len == 0)
		return -1;
	memcpy(buf + copied, "x", 2);
	e.passwd = buf + copied;
	e.uid = r.uid;
	e.gid = r.gid;
	*out = e;
	return 0;
}

/* Copy the record at off into buf and check it.  HIT, RANGE or CORRUPT
 * (the caller decides, by the sequence counter, whether that was damage
 * or a change). */
static enum kenpo_pwmap_found
rec_copy(const struct kenpo_pwmap_view *v, uint64_t off, char *buf, size_t buflen,
	 struct kenpo_pwent *out)
{
	struct kenpo_pwmap_rec r;
	size_t used;

	if (rec_peek(v, off, &r) != 0)
		return KENPO_PWMAP_CORRUPT;
	used = REC_FIXED + strings_size(&r);
	if (buflen < used + 2)
		return KENPO_PWMAP_RANGE;
	memcpy(buf, v->base + off, used);
	return parse_copy(v, buf, used, out) == 0 ? KENPO_PWMAP_HIT : KENPO_PWMAP_CORRUPT;
}

/* ---- lookups ---- */

struct key {
	const char *name; /* NULL: by uid */
	size_t len;
	uint32_t uid;
	uint32_t hash;
};

static int
key_matches(const struct kenpo_pwmap_view *v, const struct key *k, uint64_t off)
{
	return k->name != NULL ? rec_has_name(v, off, k->name, k->len) :
				 rec_has_uid(v, off, k->uid);
}

/* Walk the key's probe sequence: the one record holding it into buf.
 * MISS also when two hold it.  Every slot at most once, so that a damaged
 * table (one with no empty entry) still ends. */
static enum kenpo_pwmap_found
find(const struct kenpo_pwmap_view *v, const struct key *k, char *buf, size_t buflen,
     struct kenpo_pwent *out)
{
	const _Atomic uint64_t *table = k->name != NULL ? v->names : v->uids;
	uint64_t e, found = 0;
	uint32_t i = k->hash & v->mask, n;
	enum kenpo_pwmap_found r;

	for (n = 0; n <= v->mask; n++, i = (i + 1) & v->mask) {
		e = atomic_load_explicit(&table[i], memory_order_relaxed);
		if (e == 0)
			break;
		if (KENPO_PWMAP_ENTRY_HASH(e) != k->hash ||
		    !key_matches(v, k, KENPO_PWMAP_ENTRY_OFF(e)))
			continue;
		if (found != 0)
			return KENPO_PWMAP_MISS;
		found = KENPO_PWMAP_ENTRY_OFF(e);
	}
	if (found == 0)
		return KENPO_PWMAP_MISS;
	r = rec_copy(v, found, buf, buflen, out);
	if (r != KENPO_PWMAP_HIT)
		return r;
	/* The copy, not the live bytes, must hold the key. */
	if (k->name != NULL ? strcmp(out->name, k->name) != 0 : out->uid != k->uid)
		return KENPO_PWMAP_CORRUPT;
	return KENPO_PWMAP_HIT;
}

/* Run fn under the sequence counter: its outcome counts only when no
 * change overlapped it. */
typedef enum kenpo_pwmap_found read_fn(const struct kenpo_pwmap_view *v, const void *arg,
				       char *buf, size_t buflen, struct kenpo_pwent *out);

static enum kenpo_pwmap_found
read_stable(const struct kenpo_pwmap_view *v, int64_t now_ms, read_fn *fn, const void *arg,
	    char *buf, size_t buflen, struct kenpo_pwent *out)
{
	enum kenpo_pwmap_found r;
	struct kenpo_pwent e;
	uint64_t s1, s2;
	int t;

	for (t = 0; t < READ_TRIES; t++) {
		if (t >= READ_YIELD)
			(void)sched_yield();
		s1 = atomic_load_explicit(&v->h->seq, memory_order_acquire);
		if (s1 & 1)
			continue;
		r = kenpo_pwmap_usable(v, now_ms);
		if (r == KENPO_PWMAP_HIT)
			r = fn(v, arg, buf, buflen, &e);
		/* Every read of the map happens before the second load. */
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&v->h->seq, memory_order_relaxed);
		if (s1 != s2)
			continue;
		if (r == KENPO_PWMAP_HIT)
			*out = e;
		return r;
	}
	return KENPO_PWMAP_BUSY;
}

static enum kenpo_pwmap_found
find_fn(const struct kenpo_pwmap_view *v, const void *arg, char *buf, size_t buflen,
	struct kenpo_pwent *out)
{
	return find(v, arg, buf, buflen, out);
}

enum kenpo_pwmap_found
kenpo_pwmap_byname(const struct kenpo_pwmap_view *v, int64_t now_ms, const char *name,
		   struct kenpo_pwent *out, char *buf, size_t buflen)
{
	struct key k = { name, strnlen(name, KENPO_PWMAP_STR_MAX + 1), 0, 0 };

	if (k.len == 0 || k.len > KENPO_PWMAP_STR_MAX)
		return KENPO_PWMAP_MISS;
	k.hash = kenpo_pwmap_hash_name(v->seed, name, k.len);
	return read_stable(v, now_ms, find_fn, &k, buf, buflen, out);
}

enum kenpo_pwmap_found
kenpo_pwmap_byuid(const struct kenpo_pwmap_view *v, int64_t now_ms, uint32_t uid,
		  struct kenpo_pwent *out, char *buf, size_t buflen)
{
	struct key k = { NULL, 0, uid, kenpo_pwmap_hash_uid(v->seed, uid) };

	return read_stable(v, now_ms, find_fn, &k, buf, buflen, out);
}

/* ---- enumeration ---- */

struct walk {
	uint32_t from;
	uint32_t *at; /* the slot of the record found */
};

static enum kenpo_pwmap_found
next_fn(const struct kenpo_pwmap_view *v, const void *arg, char *buf, size_t buflen,
	struct kenpo_pwent *out)
{
	const struct walk *w = arg;
	enum kenpo_pwmap_found r;
	uint64_t e;
	uint32_t i;

	for (i = w->from; i <= v->mask; i++) {
		e = atomic_load_explicit(&v->uids[i], memory_order_relaxed);
		if (e == 0)
			continue;
		r = rec_copy(v, KENPO_PWMAP_ENTRY_OFF(e), buf, buflen, out);
		if (r == KENPO_PWMAP_HIT &&
		    kenpo_pwmap_hash_uid(v->seed, out->uid) != KENPO_PWMAP_ENTRY_HASH(e))
			r = KENPO_PWMAP_CORRUPT;
		*w->at = i;
		return r;
	}
	return KENPO_PWMAP_MISS;
}

enum kenpo_pwmap_found
kenpo_pwmap_next(const struct kenpo_pwmap_view *v, int64_t now_ms, uint32_t *pos,
		 struct kenpo_pwent *out, char *buf, size_t buflen)
{
	uint32_t at = 0;
	struct walk w = { *pos, &at };
	enum kenpo_pwmap_found r;

	if (*pos > v->mask)
		return KENPO_PWMAP_MISS;
	r = read_stable(v, now_ms, next_fn, &w, buf, buflen, out);
	if (r == KENPO_PWMAP_HIT)
		*pos = at + 1;
	return r;
}
