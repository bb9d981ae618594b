/*
 * pubmap.c - the passwd map kenpod publishes (see pubmap.h).
 *
 * Locks: `lock` serialises every change to the published file (the
 * follower's, a worker's forget, the heartbeat's status) and guards the
 * state below it; `rw` guards the pointer to the published file, which
 * workers read under a read lock while a swap holds it for writing.  The
 * order is lock, then rw.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pubmap.h"

/* The seed of the names kept in `forgot`: any, as long as it is fixed. */
#define FORGOT_SEED 0x6b656e70u

/* A forget is not applied to a member whose record the follower changed
 * since the request that made the change began: that record is the new
 * state already (the directory announced the change before kenpod's
 * request got its answer).  The follower's changes of the last RECENT_MS
 * are remembered, RECENT_MAX at most. */
#define RECENT_MAX 1024
#define RECENT_MS 10000
/* New files are sized for this many records at least, and this many
 * bytes a record. */
#define FILE_RECORDS_MIN 1024
#define RECORD_BYTES_GUESS 96

/* A name or uid kenpod changed (pubmap_forget). */
struct forgotten {
	uint32_t name_hash;
	uint32_t uid;
	int64_t ms;
};

struct pubmap {
	char path[PATH_MAX];
	char socket[KENPO_PWMAP_SOCKET_MAX];
	uint32_t flags;
	long safety_ms;
	pthread_mutex_t lock;
	pthread_rwlock_t rw;
	struct mapfile *live; /* published, or NULL */
	atomic_int in_sync;
	int64_t lost_ms; /* when the directory was lost; 0: never had it */
	struct {
		uint32_t uid;
		int64_t ms;
	} recent[RECENT_MAX];
	size_t recent_next;
	struct forgotten forgot[RECENT_MAX];
	size_t forgot_next;
	pthread_cond_t wake; /* the heartbeat's sleep */
	int stopping;
	pthread_t beat;
	int beating;
};

/* ---- taking over the path ---- */

/* A file of another kenpod's at path: refuse one that is locked (alive),
 * retire one that is not (its kenpod died).  0 or -1. */
static int
take_over(const char *path, char *err, size_t errsz)
{
	struct kenpo_pwmap_header *h;
	struct stat sb;
	void *base;
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC), rc = -1;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errsz, "%.200s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errsz, "%.200s: another kenpod publishes its passwd map there",
			 path);
		goto done;
	}
	rc = 0;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size < sizeof(*h))
		goto unlink;
	base = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		goto unlink;
	h = base;
	if (h->magic == KENPO_PWMAP_MAGIC) {
		/* Odd, REPLACED, even: its readers map the path again. */
		atomic_fetch_add_explicit(&h->seq, 1, memory_order_acq_rel);
		atomic_store_explicit(&h->status, KENPO_PWMAP_REPLACED, memory_order_relaxed);
		atomic_fetch_add_explicit(&h->seq, 1, memory_order_acq_rel);
		if ((size_t)sb.st_size > 4096)
			(void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096,
					sb.st_size - 4096);
	}
	munmap(base, (size_t)sb.st_size);
unlink:
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, errsz, "%.200s: %s", path, strerror(errno));
		rc = -1;
	}
	log_msg(LOG_INFO, "passwd map %.200s left by an earlier kenpod retired", path);
done:
	close(fd);
	return rc;
}

/* The directory of path must exist and be ours to write in. */
static int
check_dir(const char *path, char *err, size_t errsz)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (slash == NULL || slash == path || (size_t)(slash - path) >= sizeof dir) {
		snprintf(err, errsz, "%.200s: not an absolute file path", path);
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (access(dir, W_OK | X_OK) != 0) {
		snprintf(err, errsz, "%.200s: kenpod cannot write in %.200s: %s", path, dir,
			 strerror(errno));
		return -1;
	}
	return 0;
}

int
pubmap_new(const struct pubmap_params *p, struct pubmap **out, char *err, size_t errsz)
{
	struct pubmap *pm;
	pthread_condattr_t ca;

	if (strlen(p->path) >= sizeof pm->path || strlen(p->socket) >= sizeof pm->socket) {
		snprintf(err, errsz, "passwd_map or socket path too long");
		return -1;
	}
	if (check_dir(p->path, err, errsz) != 0 || take_over(p->path, err, errsz) != 0)
		return -1;
	pm = calloc(1, sizeof(*pm));
	if (pm == NULL || pthread_condattr_init(&ca) != 0) {
		free(pm);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	memcpy(pm->path, p->path, strlen(p->path) + 1);
	memcpy(pm->socket, p->socket, strlen(p->socket) + 1);
	pm->flags = p->enumerate ? KENPO_PWMAP_F_ENUMERATE : 0;
	pm->safety_ms = p->safety_ms;
	pthread_mutex_init(&pm->lock, NULL);
	pthread_rwlock_init(&pm->rw, NULL);
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pm->wake, &ca);
	pthread_condattr_destroy(&ca);
	*out = pm;
	return 0;
}

/* ---- the heartbeat ---- */

/* Suspend the map when the directory has been lost for longer than the
 * safety net allows (lock held). */
static void
check_lost(struct pubmap *pm, int64_t now)
{
	const struct kenpo_pwmap_view *v = mapfile_view(pm->live);

	if (pm->in_sync || pm->lost_ms == 0 || now - pm->lost_ms <= pm->safety_ms ||
	    atomic_load_explicit(&v->h->status, memory_order_relaxed) != KENPO_PWMAP_LIVE)
		return;
	mapfile_set_status(pm->live, KENPO_PWMAP_SUSPENDED);
	log_msg(LOG_WARNING,
		"passwd map suspended: the directory has not been followed for "
		"%lld s; lookups go to the directory until it is read again",
		(long long)((now - pm->lost_ms) / 1000));
}

static void *
beat_main(void *arg)
{
	struct pubmap *pm = arg;
	struct timespec until;
	int64_t now;

	pthread_mutex_lock(&pm->lock);
	while (!pm->stopping) {
		now = kenpo_pwmap_now_ms();
		if (pm->live != NULL) {
			check_lost(pm, now);
			mapfile_heartbeat(pm->live, now);
		}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += KENPO_PWMAP_HEARTBEAT_MS / 1000;
		(void)pthread_cond_timedwait(&pm->wake, &pm->lock, &until);
	}
	pthread_mutex_unlock(&pm->lock);
	return NULL;
}

int
pubmap_start(struct pubmap *pm)
{
	int rc = pthread_create(&pm->beat, NULL, beat_main, pm);

	if (rc != 0) {
		log_msg(LOG_ERR, "cannot start the passwd map's heartbeat: %s", strerror(rc));
		return -1;
	}
	pm->beating = 1;
	return 0;
}

void
pubmap_free(struct pubmap *pm)
{
	if (pm == NULL)
		return;
	pthread_mutex_lock(&pm->lock);
	pm->stopping = 1;
	pthread_cond_broadcast(&pm->wake);
	pthread_mutex_unlock(&pm->lock);
	if (pm->beating)
		pthread_join(pm->beat, NULL);
	if (pm->live != NULL) {
		/* Readers ask kenpod's socket from now on, and find nobody. */
		mapfile_set_status(pm->live, KENPO_PWMAP_SUSPENDED);
		mapfile_unpublish(pm->live);
		mapfile_free(pm->live);
	}
	pthread_cond_destroy(&pm->wake);
	pthread_rwlock_destroy(&pm->rw);
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

/* ---- lookups ---- */

/* Whether kenpod changed this name (NULL: none) or uid within RECENT_MS
 * (lock held). */
static int
forgotten(const struct pubmap *pm, const char *name, uint32_t uid, int64_t now)
{
	uint32_t h = name != NULL ? kenpo_pwmap_hash_name(FORGOT_SEED, name, strlen(name)) : 0;
	size_t i;

	for (i = 0; i < RECENT_MAX; i++) {
		if (pm->forgot[i].ms == 0 || now - pm->forgot[i].ms > RECENT_MS)
			continue;
		if (name != NULL ? pm->forgot[i].name_hash == h : pm->forgot[i].uid == uid)
			return 1;
	}
	return 0;
}

/* What a miss of the map means for this key. */
static enum pubmap_hit
miss(struct pubmap *pm, const char *name, uint32_t uid)
{
	int absent;

	if (!atomic_load(&pm->in_sync))
		return PUBMAP_MISS;
	pthread_mutex_lock(&pm->lock);
	absent = !forgotten(pm, name, uid, kenpo_pwmap_now_ms());
	pthread_mutex_unlock(&pm->lock);
	return absent ? PUBMAP_ABSENT : PUBMAP_MISS;
}

static enum pubmap_hit
found(struct pubmap *pm, enum kenpo_pwmap_found r, const struct kenpo_pwent *e,
      struct kenpo_pwrec *out, size_t outsz)
{
	switch (r) {
	case KENPO_PWMAP_HIT:
		if (kenpo_pwrec_build(out, outsz, e->name, e->uid, e->gid, e->gecos, e->home,
				      e->shell) != 0)
			return PUBMAP_NONE;
		return PUBMAP_HIT;
	case KENPO_PWMAP_MISS:
		return PUBMAP_MISS;
	case KENPO_PWMAP_CORRUPT:
		log_msg(LOG_ERR, "passwd map %.200s: a record fails its check", pm->path);
		return PUBMAP_NONE;
	default:
		return PUBMAP_NONE;
	}
}

enum pubmap_hit
pubmap_byname(struct pubmap *pm, const char *name, struct kenpo_pwrec *out, size_t outsz)
{
	char buf[KENPO_PWMAP_COPY_MAX];
	enum kenpo_pwmap_found r = KENPO_PWMAP_UNUSABLE;
	struct kenpo_pwent e;
	enum pubmap_hit hit;

	if (pm == NULL)
		return PUBMAP_NONE;
	pthread_rwlock_rdlock(&pm->rw);
	if (pm->live != NULL)
		r = kenpo_pwmap_byname(mapfile_view(pm->live), kenpo_pwmap_now_ms(), name, &e,
				       buf, sizeof buf);
	pthread_rwlock_unlock(&pm->rw);
	hit = found(pm, r, &e, out, outsz);
	return hit == PUBMAP_MISS ? miss(pm, name, 0) : hit;
}

enum pubmap_hit
pubmap_byuid(struct pubmap *pm, uint32_t uid, struct kenpo_pwrec *out, size_t outsz)
{
	char buf[KENPO_PWMAP_COPY_MAX];
	enum kenpo_pwmap_found r = KENPO_PWMAP_UNUSABLE;
	struct kenpo_pwent e;
	enum pubmap_hit hit;

	if (pm == NULL)
		return PUBMAP_NONE;
	pthread_rwlock_rdlock(&pm->rw);
	if (pm->live != NULL)
		r = kenpo_pwmap_byuid(mapfile_view(pm->live), kenpo_pwmap_now_ms(), uid, &e, buf,
				      sizeof buf);
	pthread_rwlock_unlock(&pm->rw);
	hit = found(pm, r, &e, out, outsz);
	return hit == PUBMAP_MISS ? miss(pm, NULL, uid) : hit;
}

/* ---- changes ---- */

/* Whether the follower changed uid's record at `since` or later (lock
 * held). */
static int
changed_since(const struct pubmap *pm, uint32_t uid, int64_t since)
{
	size_t i;

	for (i = 0; i < RECENT_MAX; i++)
		if (pm->recent[i].ms != 0 && pm->recent[i].uid == uid &&
		    pm->recent[i].ms >= since)
			return 1;
	return 0;
}

static void
note_change(struct pubmap *pm, uint32_t uid)
{
	pm->recent[pm->recent_next].uid = uid;
	pm->recent[pm->recent_next].ms = kenpo_pwmap_now_ms();
	pm->recent_next = (pm->recent_next + 1) % RECENT_MAX;
}

void
pubmap_forget(struct pubmap *pm, const char *name, uint32_t uid)
{
	int64_t now = kenpo_pwmap_now_ms(), since = log_request_began();

	if (pm == NULL || name == NULL)
		return;
	if (since <= 0 || since > now || now - since > RECENT_MS)
		since = now - RECENT_MS;
	pthread_mutex_lock(&pm->lock);
	pm->forgot[pm->forgot_next].name_hash =
		kenpo_pwmap_hash_name(FORGOT_SEED, name, strlen(name));
	pm->forgot[pm->forgot_next].uid = uid;
	pm->forgot[pm->forgot_next].ms = now;
	pm->forgot_next = (pm->forgot_next + 1) % RECENT_MAX;
	if (pm->live != NULL && !changed_since(pm, uid, since) &&
	    mapfile_unlink(pm->live, name, uid) == MAPFILE_OK)
		log_msg(LOG_DEBUG, "passwd map: uid %lu taken out until the directory says more",
			(unsigned long)uid);
	pthread_mutex_unlock(&pm->lock);
}

static struct mapfile_params
file_params(const struct pubmap *pm, size_t records, size_t bytes)
{
	struct mapfile_params p = {
		pm->path, pm->socket, pm->flags, KENPO_PWMAP_STALE_MS, records, bytes,
	};

	return p;
}

struct mapfile *
pubmap_new_file(struct pubmap *pm, char *err, size_t errsz)
{
	struct mapfile_params p;
	struct mapfile *m = NULL;
	size_t n;

	pthread_mutex_lock(&pm->lock);
	n = pm->live != NULL ? mapfile_count(pm->live) + mapfile_count(pm->live) / 4 : 0;
	p = file_params(pm, n > FILE_RECORDS_MIN ? n : FILE_RECORDS_MIN, 0);
	pthread_mutex_unlock(&pm->lock);
	p.bytes = p.records * RECORD_BYTES_GUESS;
	if (mapfile_create(&p, &m, err, errsz) != 0)
		return NULL;
	return m;
}

/* A copy of m with room for records and bytes.  NULL when it cannot be
 * made (logged). */
static struct mapfile *
resized(const struct mapfile *m, size_t records, size_t bytes)
{
	struct mapfile *to = NULL;
	char err[512];

	if (mapfile_grow(m, records, bytes, &to, err, sizeof err) != 0) {
		log_msg(LOG_ERR, "passwd map: %s", err);
		return NULL;
	}
	return to;
}

static struct mapfile *
grown(const struct mapfile *m)
{
	size_t n = mapfile_count(m) + 1;

	return resized(m, 2 * n, 2 * mapfile_bytes(m) + 64 * 1024);
}

enum mapfile_rc
pubmap_file_put(struct mapfile **m, const unsigned char *uuid, const struct kenpo_pwrec *rec)
{
	enum mapfile_rc rc = mapfile_put(*m, uuid, rec);
	struct mapfile *bigger;

	if (rc != MAPFILE_FULL)
		return rc;
	bigger = grown(*m);
	if (bigger == NULL)
		return MAPFILE_ERROR;
	mapfile_free(*m);
	*m = bigger;
	rc = mapfile_put(*m, uuid, rec);
	return rc == MAPFILE_FULL ? MAPFILE_ERROR : rc;
}

/* Put m in the place of the published file (lock held).  0 or -1 (m is
 * then freed). */
static int
swap_in(struct pubmap *pm, struct mapfile *m)
{
	struct mapfile *old;

	if (mapfile_publish(m) != 0) {
		log_msg(LOG_ERR, "passwd map %.200s: cannot publish: %s", pm->path,
			strerror(errno));
		mapfile_free(m);
		return -1;
	}
	pthread_rwlock_wrlock(&pm->rw);
	old = pm->live;
	pm->live = m;
	pthread_rwlock_unlock(&pm->rw);
	if (old != NULL) {
		mapfile_retire(old);
		mapfile_free(old);
	}
	return 0;
}

int
pubmap_publish(struct pubmap *pm, struct mapfile *m)
{
	size_t n = mapfile_count(m), bytes = mapfile_bytes(m);
	struct mapfile *fit;
	int rc;

	/* Files grown while reading the directory have room to spare: give
	 * the published one a quarter more than it needs. */
	fit = resized(m, n + n / 4 + FILE_RECORDS_MIN, bytes + bytes / 4 + 64 * 1024);
	if (fit != NULL && mapfile_size(fit) < mapfile_size(m)) {
		mapfile_free(m);
		m = fit;
	} else {
		mapfile_free(fit);
	}
	pthread_mutex_lock(&pm->lock);
	rc = swap_in(pm, m);
	if (rc == 0) {
		pm->in_sync = 1;
		pm->lost_ms = 0;
	}
	pthread_mutex_unlock(&pm->lock);
	return rc;
}

void
pubmap_put(struct pubmap *pm, const unsigned char *uuid, const struct kenpo_pwrec *rec)
{
	enum mapfile_rc rc;
	struct mapfile *bigger;

	pthread_mutex_lock(&pm->lock);
	if (pm->live == NULL)
		goto done;
	rc = mapfile_put(pm->live, uuid, rec);
	if (rc == MAPFILE_FULL && (bigger = grown(pm->live)) != NULL) {
		rc = mapfile_put(bigger, uuid, rec);
		if (swap_in(pm, bigger) != 0)
			rc = MAPFILE_ERROR;
	}
	if (rc == MAPFILE_OK)
		note_change(pm, rec->uid);
	else if (rc != MAPFILE_SAME)
		log_msg(LOG_ERR, "passwd map: uid %lu could not be stored",
			(unsigned long)rec->uid);
done:
	pthread_mutex_unlock(&pm->lock);
}

void
pubmap_drop(struct pubmap *pm, const unsigned char *uuid)
{
	pthread_mutex_lock(&pm->lock);
	if (pm->live != NULL)
		(void)mapfile_drop(pm->live, uuid);
	pthread_mutex_unlock(&pm->lock);
}

void
pubmap_in_sync(struct pubmap *pm, int in_sync)
{
	pthread_mutex_lock(&pm->lock);
	if (!in_sync && pm->in_sync)
		pm->lost_ms = kenpo_pwmap_now_ms();
	pm->in_sync = in_sync;
	pthread_mutex_unlock(&pm->lock);
}

size_t
pubmap_count(struct pubmap *pm)
{
	size_t n;

	pthread_mutex_lock(&pm->lock);
	n = pm->live != NULL ? mapfile_count(pm->live) : 0;
	pthread_mutex_unlock(&pm->lock);
	return n;
}
