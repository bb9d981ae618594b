/*
 * mapfile.c - writing one passwd map file (see mapfile.h and pwmap.h).
 *
 * Every change to what readers see happens between write_begin() and
 * write_end(), which make the map's sequence counter odd and then even
 * again; a reader that overlapped a change throws its read away.  The
 * tables are changed one 8-byte entry at a time and entries are removed by
 * backward shifting (no tombstones), so a table never fills up with dead
 * entries.  What readers never see stays in kenpod's memory: the index by
 * entryUUID and the lists of freed records.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "mapfile.h"

#define PAGE 4096u
#define SLOTS_MIN 64u
/* Tables at most 70% full: a lookup walks to the first empty entry (to
 * see a second holder of the key), about 6 entries then, in one or two
 * cache lines. */
#define LOAD_NUM 7u
#define LOAD_DEN 10u
#define REC_FIXED offsetof(struct kenpo_pwmap_rec, str)
#define NCLASSES (KENPO_PWMAP_REC_MAX / 8 + 2)

struct freelist {
	uint32_t *refs; /* record offsets / 8 */
	size_t n, cap;
};

struct mapfile {
	char path[PATH_MAX]; /* where it is published */
	char tmp[PATH_MAX];  /* its name until then */
	int published;
	int fd;
	unsigned char *base;
	size_t size;
	struct kenpo_pwmap_header *h;
	struct kenpo_pwmap_view view;
	_Atomic uint64_t *names, *uids;
	uint32_t mask;
	uint32_t seed;
	size_t max_records; /* LOAD of the tables */
	uint64_t bump;      /* the first byte never handed out */
	size_t count;       /* records in the tables */
	size_t bytes;       /* bytes of records handed out */
	/* The index by entryUUID: as many slots as a table. */
	unsigned char (*uuid)[MAPFILE_UUID_LEN];
	uint32_t *uref; /* record offset / 8; 0: empty slot */
	size_t nuuid;
	struct freelist freed[NCLASSES];
	struct mapfile_params p;
	char socket[KENPO_PWMAP_SOCKET_MAX];
};

/* ---- the seqlock ---- */

static void
write_begin(struct mapfile *m)
{
	uint64_t s = atomic_load_explicit(&m->h->seq, memory_order_relaxed);

	atomic_store_explicit(&m->h->seq, s + 1, memory_order_relaxed);
	/* The odd counter is seen before any byte written after it. */
	atomic_thread_fence(memory_order_release);
}

static void
write_end(struct mapfile *m)
{
	uint64_t s = atomic_load_explicit(&m->h->seq, memory_order_relaxed);

	atomic_store_explicit(&m->h->nrecords, (uint32_t)m->count, memory_order_relaxed);
	atomic_store_explicit(&m->h->seq, s + 1, memory_order_release);
}

/* ---- records ---- */

static struct kenpo_pwmap_rec *
rec_at(const struct mapfile *m, uint64_t off)
{
	return (struct kenpo_pwmap_rec *)(void *)(m->base + off);
}

/* The strings of a record, in the order they are stored. */
struct strs {
	const char *name, *gecos, *home, *shell;
};

static void
rec_strs(const struct kenpo_pwmap_rec *r, struct strs *s)
{
	s->name = r->str;
	s->gecos = s->name + r->name_len + 1;
	s->home = s->gecos + r->gecos_len + 1;
	s->shell = s->home + r->home_len + 1;
}

static void
put_str(char **p, const char *s, size_t len)
{
	memcpy(*p, s, len);
	(*p)[len] = '\0';
	*p += len + 1;
}

/* Lay a record out in out (KENPO_PWMAP_REC_MAX bytes, zeroed padding).
 * Its size, or 0 when a string is too long. */
static size_t
rec_build(uint32_t seed, uint32_t uid, uint32_t gid, const struct strs *s,
	  struct kenpo_pwmap_rec *out)
{
	size_t nl = strlen(s->name), gl = strlen(s->gecos), hl = strlen(s->home);
	size_t sl = strlen(s->shell), size;
	char *p = out->str;

	if (nl == 0 || nl > KENPO_PWMAP_STR_MAX || gl > KENPO_PWMAP_STR_MAX ||
	    hl > KENPO_PWMAP_STR_MAX || sl > KENPO_PWMAP_STR_MAX)
		return 0;
	size = kenpo_pwmap_rec_size(nl, gl, hl, sl);
	memset(out, 0, size);
	out->size = (uint32_t)size;
	out->uid = uid;
	out->gid = gid;
	out->name_len = (uint16_t)nl;
	out->gecos_len = (uint16_t)gl;
	out->home_len = (uint16_t)hl;
	out->shell_len = (uint16_t)sl;
	put_str(&p, s->name, nl);
	put_str(&p, s->gecos, gl);
	put_str(&p, s->home, hl);
	put_str(&p, s->shell, sl);
	out->check = kenpo_pwmap_rec_check(seed, out);
	return size;
}

/* A free record of exactly size bytes, or the next bytes never used.
 * Its offset, or 0 when the record area is full. */
static uint64_t
rec_alloc(struct mapfile *m, size_t size)
{
	struct freelist *f = &m->freed[size / 8];
	uint64_t off;

	if (f->n > 0) {
		off = (uint64_t)f->refs[--f->n] << 3;
	} else {
		if (size > m->view.data_end - m->bump)
			return 0;
		off = m->bump;
		m->bump += size;
	}
	m->bytes += size;
	return off;
}

/* Give a record back.  Losing it when memory is short only wastes it. */
static void
rec_free(struct mapfile *m, uint64_t off)
{
	size_t size = rec_at(m, off)->size;
	struct freelist *f = &m->freed[size / 8];
	uint32_t *grown;
	size_t cap;

	m->bytes -= size;
	if (f->n == f->cap) {
		cap = f->cap > 0 ? 2 * f->cap : 16;
		grown = realloc(f->refs, cap * sizeof(*grown));
		if (grown == NULL)
			return;
		f->refs = grown;
		f->cap = cap;
	}
	f->refs[f->n++] = (uint32_t)(off >> 3);
}

/* ---- the tables ---- */

static uint32_t
name_hash(const struct mapfile *m, const struct kenpo_pwmap_rec *r)
{
	return kenpo_pwmap_hash_name(m->seed, r->str, r->name_len);
}

static void
table_insert(struct mapfile *m, _Atomic uint64_t *t, uint32_t hash, uint64_t off)
{
	uint32_t i = hash & m->mask;

	while (atomic_load_explicit(&t[i], memory_order_relaxed) != 0)
		i = (i + 1) & m->mask;
	atomic_store_explicit(&t[i], KENPO_PWMAP_ENTRY(hash, off), memory_order_relaxed);
}

/* Whether slot k's entry, whose home slot is home, may stay where it is
 * when slot i is emptied: its home lies cyclically in (i, k]. */
static int
stays(uint32_t i, uint32_t home, uint32_t k)
{
	return i <= k ? (i < home && home <= k) : (i < home || home <= k);
}

/* Remove the entry of (hash, off).  1 if it was there. */
static int
table_remove(struct mapfile *m, _Atomic uint64_t *t, uint32_t hash, uint64_t off)
{
	uint64_t want = KENPO_PWMAP_ENTRY(hash, off), e;
	uint32_t i = hash & m->mask, k, n;

	for (n = 0;; n++, i = (i + 1) & m->mask) {
		e = atomic_load_explicit(&t[i], memory_order_relaxed);
		if (e == 0 || n > m->mask)
			return 0;
		if (e == want)
			break;
	}
	/* Backward shift: later entries of the cluster that may move into
	 * the hole do, so that every probe sequence stays unbroken. */
	for (k = (i + 1) & m->mask;; k = (k + 1) & m->mask) {
		e = atomic_load_explicit(&t[k], memory_order_relaxed);
		if (e == 0)
			break;
		if (stays(i, KENPO_PWMAP_ENTRY_HASH(e) & m->mask, k))
			continue;
		atomic_store_explicit(&t[i], e, memory_order_relaxed);
		i = k;
	}
	atomic_store_explicit(&t[i], 0, memory_order_relaxed);
	return 1;
}

static int
rec_linked(const struct mapfile *m, uint64_t off)
{
	const struct kenpo_pwmap_rec *r = rec_at(m, off);
	uint64_t want = KENPO_PWMAP_ENTRY(name_hash(m, r), off), e;
	uint32_t i = KENPO_PWMAP_ENTRY_HASH(want) & m->mask;

	while ((e = atomic_load_explicit(&m->names[i], memory_order_relaxed)) != 0) {
		if (e == want)
			return 1;
		i = (i + 1) & m->mask;
	}
	return 0;
}

/* Into both tables (write section held). */
static void
rec_link(struct mapfile *m, uint64_t off)
{
	const struct kenpo_pwmap_rec *r = rec_at(m, off);

	table_insert(m, m->names, name_hash(m, r), off);
	table_insert(m, m->uids, kenpo_pwmap_hash_uid(m->seed, r->uid), off);
	m->count++;
}

/* Out of both tables, if it is in them (write section held). */
static void
rec_unlink(struct mapfile *m, uint64_t off)
{
	const struct kenpo_pwmap_rec *r = rec_at(m, off);

	if (table_remove(m, m->names, name_hash(m, r), off)) {
		(void)table_remove(m, m->uids, kenpo_pwmap_hash_uid(m->seed, r->uid), off);
		m->count--;
	}
}

/* ---- the index by entryUUID ---- */

static uint32_t
uuid_home(const struct mapfile *m, const unsigned char *uuid)
{
	return kenpo_pwmap_hash(m->seed, uuid, MAPFILE_UUID_LEN) & m->mask;
}

/* The slot holding uuid, or the empty slot where it would go. */
static uint32_t
uuid_slot(const struct mapfile *m, const unsigned char *uuid)
{
	uint32_t i = uuid_home(m, uuid);

	while (m->uref[i] != 0 && memcmp(m->uuid[i], uuid, MAPFILE_UUID_LEN) != 0)
		i = (i + 1) & m->mask;
	return i;
}

static void
uuid_remove(struct mapfile *m, uint32_t i)
{
	uint32_t k;

	for (k = (i + 1) & m->mask; m->uref[k] != 0; k = (k + 1) & m->mask) {
		if (stays(i, uuid_home(m, m->uuid[k]), k))
			continue;
		memcpy(m->uuid[i], m->uuid[k], MAPFILE_UUID_LEN);
		m->uref[i] = m->uref[k];
		i = k;
	}
	m->uref[i] = 0;
	m->nuuid--;
}

/* ---- making a file ---- */

static size_t
round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

/* The temporary name: .NAME.XXXXXX beside the path. */
static int
temp_name(const char *path, char *out, size_t outsz)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash != NULL ? (int)(slash - path) : 0;

	if (slash == NULL || slash[1] == '\0')
		return -1;
	return snprintf(out, outsz, "%.*s/.%s.XXXXXX", dirlen, path, slash + 1) < (int)outsz ? 0 :
											       -1;
}

/* Sizes of a file for the wanted records and bytes. */
static void
plan(struct mapfile *m, const struct mapfile_params *p, struct kenpo_pwmap_header *h)
{
	size_t slots = SLOTS_MIN, table;

	while (slots * LOAD_NUM / LOAD_DEN < p->records + 1 && slots < ((size_t)1 << 30))
		slots <<= 1;
	table = slots * 8;
	h->table_slots = (uint32_t)slots;
	h->names = PAGE;
	h->uids = PAGE + table;
	h->data_start = round_up(h->uids + table, PAGE);
	h->data_end = h->data_start + round_up(p->bytes > 0 ? p->bytes : PAGE, PAGE);
	h->file_size = h->data_end;
	m->max_records = slots * LOAD_NUM / LOAD_DEN;
}

static void
header_init(struct mapfile *m, const struct mapfile_params *p, struct kenpo_pwmap_header *h)
{
	h->magic = KENPO_PWMAP_MAGIC;
	h->version = KENPO_PWMAP_VERSION;
	h->header_size = sizeof(*h);
	h->flags = p->flags;
	randombytes_buf(&h->generation, sizeof h->generation);
	randombytes_buf(&h->seed, sizeof h->seed);
	h->heartbeat_max_ms = p->stale_ms;
	(void)snprintf(h->socket, sizeof h->socket, "%s", p->socket);
	h->header_check = kenpo_pwmap_header_check(h);
}

/* Open the temporary file with its space allocated and its lock taken. */
static int
open_file(struct mapfile *m, size_t size, char *err, size_t errsz)
{
	int rc;

	m->fd = mkostemp(m->tmp, O_CLOEXEC);
	if (m->fd < 0) {
		snprintf(err, errsz, "%.200s: %s", m->tmp, strerror(errno));
		m->tmp[0] = '\0';
		return -1;
	}
	/* Every local process reads it; it holds nothing secret. */
	if (fchmod(m->fd, 0644) != 0 || flock(m->fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errsz, "%.200s: %s", m->tmp, strerror(errno));
		return -1;
	}
	rc = posix_fallocate(m->fd, 0, (off_t)size);
	if (rc != 0) {
		snprintf(err, errsz, "%.200s: cannot allocate %zu bytes: %s", m->tmp, size,
			 strerror(rc));
		return -1;
	}
	return 0;
}

static int
map_file(struct mapfile *m, const struct kenpo_pwmap_header *h, char *err, size_t errsz)
{
	void *base = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);

	if (base == MAP_FAILED) {
		snprintf(err, errsz, "mmap %.200s: %s", m->tmp, strerror(errno));
		return -1;
	}
	m->base = base;
	m->h = base;
	memcpy(m->h, h, offsetof(struct kenpo_pwmap_header, status));
	atomic_store_explicit(&m->h->status, KENPO_PWMAP_BUILDING, memory_order_relaxed);
	if (kenpo_pwmap_view_init(&m->view, base, m->size) != 0) {
		snprintf(err, errsz, "%.200s: the header just written is not valid", m->tmp);
		return -1;
	}
	m->names = (_Atomic uint64_t *)(void *)(m->base + h->names);
	m->uids = (_Atomic uint64_t *)(void *)(m->base + h->uids);
	m->mask = h->table_slots - 1;
	m->seed = h->seed;
	m->bump = h->data_start;
	return 0;
}

int
mapfile_create(const struct mapfile_params *p, struct mapfile **out, char *err, size_t errsz)
{
	struct kenpo_pwmap_header h;
	struct mapfile *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	m->fd = -1;
	memset(&h, 0, sizeof h);
	plan(m, p, &h);
	header_init(m, p, &h);
	m->size = h.file_size;
	m->p = *p;
	(void)snprintf(m->socket, sizeof m->socket, "%s", p->socket);
	m->p.socket = m->socket;
	m->uuid = calloc(h.table_slots, sizeof(*m->uuid));
	m->uref = calloc(h.table_slots, sizeof(*m->uref));
	if (m->uuid == NULL || m->uref == NULL) {
		snprintf(err, errsz, "out of memory for %lu slots", (unsigned long)h.table_slots);
		goto fail;
	}
	if (snprintf(m->path, sizeof m->path, "%s", p->path) >= (int)sizeof m->path ||
	    temp_name(p->path, m->tmp, sizeof m->tmp) != 0) {
		snprintf(err, errsz, "%.200s: not a usable file path", p->path);
		goto fail;
	}
	m->p.path = m->path;
	if (open_file(m, m->size, err, errsz) != 0 || map_file(m, &h, err, errsz) != 0)
		goto fail;
	*out = m;
	return 0;
fail:
	mapfile_free(m);
	return -1;
}

void
mapfile_free(struct mapfile *m)
{
	size_t i;

	if (m == NULL)
		return;
	if (m->base != NULL)
		munmap(m->base, m->size);
	if (m->fd >= 0)
		close(m->fd);
	if (!m->published && m->tmp[0] != '\0')
		(void)unlink(m->tmp);
	for (i = 0; i < NCLASSES; i++)
		free(m->freed[i].refs);
	free(m->uuid);
	free(m->uref);
	free(m);
}

/* ---- changes ---- */

/* Turn a record of kenpod's cache into the map's form. */
static size_t
from_pwrec(const struct mapfile *m, const struct kenpo_pwrec *rec, struct kenpo_pwmap_rec *out)
{
	struct strs s = {
		kenpo_pwrec_str(rec, rec->name),
		kenpo_pwrec_str(rec, rec->gecos),
		kenpo_pwrec_str(rec, rec->home),
		kenpo_pwrec_str(rec, rec->shell),
	};

	return rec_build(m->seed, rec->uid, rec->gid, &s, out);
}

/* The entry's record exists at old: it stays, as it is or linked again.
 * MAPFILE_SAME, or MAPFILE_OK when it had been unlinked. */
static enum mapfile_rc
keep(struct mapfile *m, uint64_t old)
{
	if (rec_linked(m, old))
		return MAPFILE_SAME;
	write_begin(m);
	rec_link(m, old);
	write_end(m);
	return MAPFILE_OK;
}

/* Write a new record for the entry at uuid slot u (old: its record, or 0). */
static enum mapfile_rc
replace(struct mapfile *m, uint32_t u, uint64_t old, const struct kenpo_pwmap_rec *r)
{
	uint64_t off = rec_alloc(m, r->size);

	if (off == 0)
		return MAPFILE_FULL;
	write_begin(m);
	if (old != 0)
		rec_unlink(m, old);
	memcpy(m->base + off, r, r->size);
	rec_link(m, off);
	write_end(m);
	if (old != 0)
		rec_free(m, old);
	m->uref[u] = (uint32_t)(off >> 3);
	return MAPFILE_OK;
}

enum mapfile_rc
mapfile_put(struct mapfile *m, const unsigned char uuid[MAPFILE_UUID_LEN],
	    const struct kenpo_pwrec *rec)
{
	_Alignas(8) unsigned char buf[KENPO_PWMAP_REC_MAX];
	struct kenpo_pwmap_rec *r = (struct kenpo_pwmap_rec *)(void *)buf;
	uint32_t u = uuid_slot(m, uuid);
	uint64_t old = (uint64_t)m->uref[u] << 3;
	size_t size = from_pwrec(m, rec, r);
	enum mapfile_rc rc;

	if (size == 0)
		return MAPFILE_ERROR;
	if (old != 0 && rec_at(m, old)->size == size && memcmp(rec_at(m, old), r, size) == 0)
		return keep(m, old);
	if (old == 0 && m->nuuid + 1 > m->max_records)
		return MAPFILE_FULL;
	rc = replace(m, u, old, r);
	if (rc == MAPFILE_OK && old == 0) {
		memcpy(m->uuid[u], uuid, MAPFILE_UUID_LEN);
		m->nuuid++;
	}
	return rc;
}

enum mapfile_rc
mapfile_drop(struct mapfile *m, const unsigned char uuid[MAPFILE_UUID_LEN])
{
	uint32_t u = uuid_slot(m, uuid);
	uint64_t old = (uint64_t)m->uref[u] << 3;

	if (old == 0)
		return MAPFILE_SAME;
	write_begin(m);
	rec_unlink(m, old);
	write_end(m);
	rec_free(m, old);
	uuid_remove(m, u);
	return MAPFILE_OK;
}

enum mapfile_rc
mapfile_unlink(struct mapfile *m, const char *name, uint32_t uid)
{
	size_t len = strlen(name);
	uint32_t hash = kenpo_pwmap_hash_name(m->seed, name, len), i = hash & m->mask;
	const struct kenpo_pwmap_rec *r;
	uint64_t e, off = 0;

	for (; (e = atomic_load_explicit(&m->names[i], memory_order_relaxed)) != 0;
	     i = (i + 1) & m->mask) {
		r = rec_at(m, KENPO_PWMAP_ENTRY_OFF(e));
		if (KENPO_PWMAP_ENTRY_HASH(e) == hash && r->uid == uid && r->name_len == len &&
		    memcmp(r->str, name, len) == 0) {
			off = KENPO_PWMAP_ENTRY_OFF(e);
			break;
		}
	}
	if (off == 0)
		return MAPFILE_SAME;
	write_begin(m);
	rec_unlink(m, off);
	write_end(m);
	return MAPFILE_OK;
}

/* ---- growing ---- */

/* Copy one entry's record into the new file, linked if it was. */
static int
copy_entry(const struct mapfile *m, uint32_t i, struct mapfile *to)
{
	_Alignas(8) unsigned char buf[KENPO_PWMAP_REC_MAX];
	struct kenpo_pwmap_rec *r = (struct kenpo_pwmap_rec *)(void *)buf;
	const struct kenpo_pwmap_rec *old = rec_at(m, (uint64_t)m->uref[i] << 3);
	uint32_t u = uuid_slot(to, m->uuid[i]);
	struct strs s;
	uint64_t off;

	rec_strs(old, &s);
	if (rec_build(to->seed, old->uid, old->gid, &s, r) == 0 ||
	    (off = rec_alloc(to, r->size)) == 0)
		return -1;
	memcpy(to->base + off, r, r->size);
	if (rec_linked(m, (uint64_t)m->uref[i] << 3))
		rec_link(to, off);
	memcpy(to->uuid[u], m->uuid[i], MAPFILE_UUID_LEN);
	to->uref[u] = (uint32_t)(off >> 3);
	to->nuuid++;
	return 0;
}

int
mapfile_grow(const struct mapfile *m, size_t records, size_t bytes, struct mapfile **out,
	     char *err, size_t errsz)
{
	struct mapfile_params p = m->p;
	struct mapfile *to = NULL;
	uint32_t i;

	p.records = records > m->nuuid ? records : m->nuuid;
	p.bytes = bytes > m->bytes ? bytes : m->bytes;
	if (mapfile_create(&p, &to, err, errsz) != 0)
		return -1;
	for (i = 0; i <= m->mask; i++) {
		if (m->uref[i] != 0 && copy_entry(m, i, to) != 0) {
			snprintf(err, errsz, "%.200s: a record does not fit the larger file",
				 to->tmp);
			mapfile_free(to);
			return -1;
		}
	}
	atomic_store_explicit(&to->h->nrecords, (uint32_t)to->count, memory_order_relaxed);
	*out = to;
	return 0;
}

/* ---- state ---- */

size_t
mapfile_count(const struct mapfile *m)
{
	return m->count;
}

size_t
mapfile_bytes(const struct mapfile *m)
{
	return m->bytes;
}

size_t
mapfile_size(const struct mapfile *m)
{
	return m->size;
}

const struct kenpo_pwmap_view *
mapfile_view(const struct mapfile *m)
{
	return &m->view;
}

void
mapfile_set_status(struct mapfile *m, enum kenpo_pwmap_status status)
{
	write_begin(m);
	atomic_store_explicit(&m->h->status, (uint32_t)status, memory_order_relaxed);
	write_end(m);
}

void
mapfile_heartbeat(struct mapfile *m, int64_t now_ms)
{
	atomic_store_explicit(&m->h->heartbeat_ms, now_ms, memory_order_relaxed);
}

int
mapfile_publish(struct mapfile *m)
{
	mapfile_heartbeat(m, kenpo_pwmap_now_ms());
	mapfile_set_status(m, KENPO_PWMAP_LIVE);
	if (rename(m->tmp, m->path) != 0)
		return -1;
	m->published = 1;
	return 0;
}

void
mapfile_retire(struct mapfile *m)
{
	mapfile_set_status(m, KENPO_PWMAP_REPLACED);
	/* After the status: a reader that sees the holes sees the counter
	 * move too, throws its read away and finds REPLACED. */
	if (m->size > PAGE)
		(void)fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PAGE,
				(off_t)(m->size - PAGE));
}

void
mapfile_unpublish(struct mapfile *m)
{
	struct stat a, b;

	if (!m->published)
		return;
	if (fstat(m->fd, &a) == 0 && lstat(m->path, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		(void)unlink(m->path);
}
