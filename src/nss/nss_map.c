/*
 * nss_map.c - the passwd map in libnss_kenpo (see nss_map.h).
 *
 * The process holds at most one current mapping.  A lookup counts itself
 * in `readers` before it loads the current mapping and out after its last
 * read of it.  A mapping that is replaced goes on the retired list and is
 * unmapped once `readers` has been seen at zero after the replacement:
 * every lookup that could still hold it had counted itself in before, and
 * has left (SSSD's client once unmapped its cache under a reading thread,
 * SSSD issues 2726 and 7967; this is the fix without a lock per lookup).
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nss_map.h"
#include "pwmap.h"

/* How often a process looks at the path again while it has no usable
 * map (none there, suspended, stale, damaged). */
#define LOOK_INTERVAL_MS 1000

struct mapping {
	void *base;
	size_t size;
	struct kenpo_pwmap_view v;
	dev_t dev;
	ino_t ino;
	atomic_int broken;    /* a record failed its check */
	struct mapping *next; /* on the retired list */
};

static struct {
	pthread_mutex_t lock; /* mapping, retiring: only ever tried */
	_Atomic(struct mapping *) cur;
	atomic_uint readers;
	atomic_int retiring;     /* the retired list is not empty */
	struct mapping *retired; /* lock held */
	int64_t next_look_ms;    /* lock held */
	/* The last file found unusable (lock held); with its change time, as
	 * a new file may take the inode number of a removed one. */
	dev_t rejected_dev;
	ino_t rejected_ino;
	struct timespec rejected_ctim;
	pthread_once_t once;
} g = { .lock = PTHREAD_MUTEX_INITIALIZER, .once = PTHREAD_ONCE_INIT };

static const char *
map_path(void)
{
	const char *p = secure_getenv("KENPO_PASSWD_MAP");

	return (p != NULL && p[0] != '\0') ? p : KENPO_PWMAP_PATH;
}

/* A child has only the thread that forked: nobody else reads or holds
 * the lock there. */
static void
after_fork_child(void)
{
	(void)pthread_mutex_init(&g.lock, NULL);
	atomic_store(&g.readers, 0);
}

static void
init_once(void)
{
	(void)pthread_atfork(NULL, NULL, after_fork_child);
}

/* ---- retiring ---- */

static void
unmap(struct mapping *m)
{
	munmap(m->base, m->size);
	free(m);
}

/* Unmap the retired mappings if nobody reads (lock held). */
static void
reclaim_locked(void)
{
	struct mapping *m;

	if (atomic_load(&g.readers) != 0)
		return;
	while ((m = g.retired) != NULL) {
		g.retired = m->next;
		unmap(m);
	}
	atomic_store(&g.retiring, 0);
}

static struct mapping *
enter(void)
{
	atomic_fetch_add(&g.readers, 1);
	return atomic_load(&g.cur);
}

static void
leave(void)
{
	if (atomic_fetch_sub(&g.readers, 1) != 1 || !atomic_load(&g.retiring))
		return;
	if (pthread_mutex_trylock(&g.lock) != 0)
		return;
	reclaim_locked();
	pthread_mutex_unlock(&g.lock);
}

/* Make m (or none) the current mapping (lock held). */
static void
install(struct mapping *m)
{
	struct mapping *old = atomic_exchange(&g.cur, m);

	if (old != NULL) {
		old->next = g.retired;
		g.retired = old;
		atomic_store(&g.retiring, 1);
	}
	reclaim_locked();
}

/* ---- mapping ---- */

/* Map the file at fd, if it is a passwd map of the kenpod at socket.
 * NULL otherwise (the file is remembered as rejected). */
static struct mapping *
map_fd(int fd, const struct stat *sb, const char *socket)
{
	struct mapping *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->size = (size_t)sb->st_size;
	m->dev = sb->st_dev;
	m->ino = sb->st_ino;
	m->base = mmap(NULL, m->size, PROT_READ, MAP_SHARED, fd, 0);
	if (m->base == MAP_FAILED) {
		free(m);
		return NULL;
	}
	if (kenpo_pwmap_view_init(&m->v, m->base, m->size) != 0 ||
	    strncmp(m->v.h->socket, socket, KENPO_PWMAP_SOCKET_MAX) != 0) {
		g.rejected_dev = sb->st_dev;
		g.rejected_ino = sb->st_ino;
		g.rejected_ctim = sb->st_ctim;
		unmap(m);
		return NULL;
	}
	return m;
}

/* Whether the file is worth mapping: a regular file nobody but its owner
 * may write, long enough for a header, neither the current one nor the
 * one rejected last. */
static int
worth_mapping(const struct stat *sb, const struct mapping *cur)
{
	if (!S_ISREG(sb->st_mode) || (sb->st_mode & 022) != 0 ||
	    (size_t)sb->st_size < sizeof(struct kenpo_pwmap_header))
		return 0;
	if (cur != NULL && cur->dev == sb->st_dev && cur->ino == sb->st_ino)
		return 0;
	return !(g.rejected_dev == sb->st_dev && g.rejected_ino == sb->st_ino &&
		 g.rejected_ctim.tv_sec == sb->st_ctim.tv_sec &&
		 g.rejected_ctim.tv_nsec == sb->st_ctim.tv_nsec);
}

/* Map the file at the path if it is another than the current one (lock
 * held).  `drop` retires the current mapping whatever is found. */
static void
remap_locked(const char *socket, int drop)
{
	struct mapping *cur = atomic_load(&g.cur), *m = NULL;
	struct stat sb;
	int fd;

	/* O_NONBLOCK: a FIFO put there must not make the lookup wait. */
	fd = open(map_path(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd >= 0) {
		if (fstat(fd, &sb) == 0 && worth_mapping(&sb, cur))
			m = map_fd(fd, &sb, socket);
		close(fd);
	}
	if (m != NULL || drop)
		install(m);
}

/* After a lookup could not use mapping m (r says why): let go of a
 * replaced file, and look for another file at the path, at once when the
 * file said it was replaced, else at most every LOOK_INTERVAL_MS.
 * 1 when another mapping is now current. */
static int
look_again(const char *socket, struct mapping *m, enum kenpo_pwmap_found r, int64_t now)
{
	int gone = m != NULL && r == KENPO_PWMAP_GONE, changed;

	if (pthread_mutex_trylock(&g.lock) != 0)
		return 0;
	if (atomic_load(&g.cur) != m) {
		/* Another thread has mapped the path again meanwhile. */
		changed = 1;
	} else if (gone || now >= g.next_look_ms) {
		g.next_look_ms = now + LOOK_INTERVAL_MS;
		remap_locked(socket, gone);
		changed = atomic_load(&g.cur) != m;
	} else {
		changed = 0;
	}
	pthread_mutex_unlock(&g.lock);
	return changed;
}

/* ---- lookups ---- */

static void
fill(const struct kenpo_pwent *e, struct passwd *pw)
{
	pw->pw_name = (char *)(uintptr_t)e->name;
	pw->pw_passwd = (char *)(uintptr_t)e->passwd;
	pw->pw_uid = e->uid;
	pw->pw_gid = e->gid;
	pw->pw_gecos = (char *)(uintptr_t)e->gecos;
	pw->pw_dir = (char *)(uintptr_t)e->home;
	pw->pw_shell = (char *)(uintptr_t)e->shell;
}

struct query {
	const char *name; /* NULL: by uid, or enumeration with pos */
	uid_t uid;
	uint32_t *pos;
};

static enum kenpo_pwmap_found
query_map(const struct mapping *m, int64_t now, const struct query *q, struct kenpo_pwent *e,
	  char *buf, size_t buflen)
{
	if (q->name != NULL)
		return kenpo_pwmap_byname(&m->v, now, q->name, e, buf, buflen);
	if (q->pos == NULL)
		return kenpo_pwmap_byuid(&m->v, now, (uint32_t)q->uid, e, buf, buflen);
	return kenpo_pwmap_next(&m->v, now, q->pos, e, buf, buflen);
}

/* One query, on the current mapping or, when that cannot answer, on the
 * one found at the path instead. */
static enum kenpo_pwmap_found
query(const char *socket, const struct query *q, struct kenpo_pwent *e, char *buf, size_t buflen)
{
	int64_t now = kenpo_pwmap_now_ms();
	enum kenpo_pwmap_found r = KENPO_PWMAP_UNUSABLE;
	struct mapping *m;
	int t;

	pthread_once(&g.once, init_once);
	for (t = 0; t < 2; t++) {
		m = enter();
		if (m != NULL && !atomic_load(&m->broken))
			r = query_map(m, now, q, e, buf, buflen);
		else
			r = KENPO_PWMAP_UNUSABLE;
		if (r == KENPO_PWMAP_CORRUPT)
			atomic_store(&m->broken, 1);
		leave();
		if (r == KENPO_PWMAP_HIT || r == KENPO_PWMAP_RANGE || r == KENPO_PWMAP_MISS ||
		    r == KENPO_PWMAP_BUSY)
			return r;
		if (!look_again(socket, m, r, now))
			return r;
	}
	return r;
}

static enum nss_map_rc
outcome(enum kenpo_pwmap_found r, const struct kenpo_pwent *e, struct passwd *pw)
{
	if (r == KENPO_PWMAP_HIT) {
		fill(e, pw);
		return NSS_MAP_HIT;
	}
	return r == KENPO_PWMAP_RANGE ? NSS_MAP_RANGE : NSS_MAP_ASK;
}

enum nss_map_rc
nss_map_byname(const char *socket, const char *name, struct passwd *pw, char *buf, size_t buflen)
{
	struct query q = { name, 0, NULL };
	struct kenpo_pwent e;

	return outcome(query(socket, &q, &e, buf, buflen), &e, pw);
}

enum nss_map_rc
nss_map_byuid(const char *socket, uid_t uid, struct passwd *pw, char *buf, size_t buflen)
{
	struct query q = { NULL, uid, NULL };
	struct kenpo_pwent e;

	return outcome(query(socket, &q, &e, buf, buflen), &e, pw);
}

/* ---- enumeration ---- */

enum nss_map_enum
nss_map_enum_source(const char *socket)
{
	int64_t now = kenpo_pwmap_now_ms();
	enum nss_map_enum src = NSS_MAP_ENUM_ASK;
	enum kenpo_pwmap_found r;
	struct mapping *m;
	int t;

	pthread_once(&g.once, init_once);
	for (t = 0; t < 2; t++) {
		m = enter();
		r = m != NULL && !atomic_load(&m->broken) ? kenpo_pwmap_usable(&m->v, now) :
							    KENPO_PWMAP_UNUSABLE;
		if (r == KENPO_PWMAP_HIT)
			src = (m->v.h->flags & KENPO_PWMAP_F_ENUMERATE) ? NSS_MAP_ENUM_MAP :
									  NSS_MAP_ENUM_NONE;
		leave();
		if (r == KENPO_PWMAP_HIT || !look_again(socket, m, r, now))
			break;
	}
	return src;
}

enum nss_map_rc
nss_map_next(const char *socket, uint32_t *pos, struct passwd *pw, char *buf, size_t buflen)
{
	struct query q = { NULL, 0, pos };
	enum kenpo_pwmap_found r;
	struct kenpo_pwent e;

	r = query(socket, &q, &e, buf, buflen);
	if (r == KENPO_PWMAP_MISS)
		return NSS_MAP_END;
	return outcome(r, &e, pw);
}
