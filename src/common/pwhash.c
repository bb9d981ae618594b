/*
 * pwhash.c - argon2 in memory that stays mapped (see pwhash.h).
 *
 * Why.  libsodium's crypto_pwhash maps the whole argon2 memory (argon2_m,
 * 64 MiB by default) for every hash and every verification and unmaps it
 * afterwards, so each run faults in thousands of fresh pages; in a virtual
 * machine a fresh page costs more than the argon2 work done on it.  On the
 * reference machine (2 vCPUs, Firecracker; tests/bench/README.md, "Password
 * logins") one run at t=2, m=64 MiB took 125-150 ms in fresh memory and
 * 33-36 ms in memory mapped once; at t=1, m=8 MiB, 11 ms against 1.2 ms.
 *
 * How.  libsodium has no hook for its argon2 memory, so kenpo interposes
 * mmap and munmap, within narrow bounds: only on a thread that holds a
 * region (between kenpo_pwpool_enter and kenpo_pwpool_leave, which
 * secret.c puts around one call into libsodium), only for an anonymous,
 * private, read-write mapping at an address of the kernel's choosing that
 * fits in the region, and only while the region is clean.  That call gets
 * the region, and the munmap of it gives the region back to the thread.
 * Every other call, on any thread at any time, goes on unchanged to the
 * function the process would have called (dlsym RTLD_NEXT: the C library,
 * or a sanitizer's interceptor in front of it).  Should a later libsodium
 * allocate differently, nothing is intercepted and runs take fresh memory
 * again: slower, never wrong (kenpod logs it, and test_pwhash fails).
 *
 * Measured and not taken: Debian's libargon2 has an allocation callback,
 * but it is built without SIMD and took 70-80 ms at 64 MiB in reused
 * memory, twice libsodium's time; huge pages for each fresh mapping came
 * close to reuse (37 ms), but they depend on the kernel finding free 2 MiB
 * pages at every run and keep the page allocator busy.
 *
 * Safety.  A region is lent only while it holds zeros, which is exactly
 * what a fresh anonymous mapping holds: kenpo_pwpool_leave wipes all the run
 * used (sodium_memzero; 64 MiB take about 1 ms, some 3% of the run), so no
 * block derived from a password outlives its run, and libsodium finds the
 * memory it always found.  Regions are kept out of core dumps
 * (MADV_DONTDUMP) and advised as huge pages (MADV_HUGEPAGE): fewer faults
 * at first use, fewer TLB misses, fewer page tables.
 *
 * Bounds.  At most `regions` runs at once in the process; the others wait
 * in the order they came (a ticket) and allocate nothing.  A region is
 * mapped at its first use and free regions are taken last in, first out,
 * so a lightly loaded process keeps one region resident, a busy one at
 * most `regions`.
 */
#include <autoconfig.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "pwhash.h"

#define HUGE_PAGE ((size_t)2 << 20)
#define REGION_MIN ((size_t)8192) /* libsodium's crypto_pwhash_MEMLIMIT_MIN */

struct kenpo_pwslot {
	unsigned char *base; /* the region; NULL until mapped */
	void *map;           /* the mapping that holds it */
	size_t maplen;
	size_t lent; /* bytes libsodium holds now; 0: none */
	size_t used; /* bytes written since the last wipe */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	struct kenpo_pwslot slots[KENPO_PWPOOL_MAX];
	unsigned free_idx[KENPO_PWPOOL_MAX]; /* a stack: the last freed on top */
	unsigned n, nfree, busy, peak, mapped;
	size_t bytes;
	unsigned long long next_ticket, serving;
	unsigned long long runs, in_region, waited;
} P = { .lock = PTHREAD_MUTEX_INITIALIZER, .freed = PTHREAD_COND_INITIALIZER };

/* The region this thread holds for the run in progress. */
static _Thread_local struct kenpo_pwslot *armed;
static _Thread_local unsigned long wait_ms;

/* ---- the mmap and munmap the process would call without this file ---- */

typedef void *mmap_fn(void *, size_t, int, int, int, off_t);
typedef int munmap_fn(void *, size_t);

static mmap_fn *next_mmap;
static munmap_fn *next_munmap;
static pthread_once_t next_once = PTHREAD_ONCE_INIT;

static void
next_find(void)
{
	void *m = dlsym(RTLD_NEXT, "mmap");
	void *u = dlsym(RTLD_NEXT, "munmap");

	/* POSIX lets dlsym's answer be used as a function pointer. */
	memcpy(&next_mmap, &m, sizeof next_mmap);
	memcpy(&next_munmap, &u, sizeof next_munmap);
}

static void *
real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	(void)pthread_once(&next_once, next_find);
	/* Nothing next (a static program): the system call itself. */
	if (next_mmap == NULL)
		return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	return next_mmap(addr, len, prot, flags, fd, off);
}

static int
real_munmap(void *addr, size_t len)
{
	(void)pthread_once(&next_once, next_find);
	if (next_munmap == NULL)
		return (int)syscall(SYS_munmap, addr, len);
	return next_munmap(addr, len);
}

/* ---- the interposition ---- */

/* Whether this mmap call is libsodium asking for the argon2 memory of the
 * run s is held for: what crypto_pwhash maps, nothing else. */
static int
lends(const struct kenpo_pwslot *s, const void *addr, size_t len, int prot, int flags, int fd,
      off_t off)
{
	return s != NULL && s->base != NULL && s->lent == 0 && s->used == 0 && addr == NULL &&
	       len > 0 && len <= P.bytes && fd == -1 && off == 0 &&
	       prot == (PROT_READ | PROT_WRITE) &&
	       (flags & ~MAP_POPULATE) == (MAP_PRIVATE | MAP_ANONYMOUS);
}

void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct kenpo_pwslot *s = armed;

	/* P.bytes changes only in kenpo_pwpool_setup, which refuses while a
	 * region is held, so reading it here without the lock is safe. */
	if (lends(s, addr, len, prot, flags, fd, off)) {
		s->lent = len;
		return s->base;
	}
	return real_mmap(addr, len, prot, flags, fd, off);
}

int
munmap(void *addr, size_t len)
{
	struct kenpo_pwslot *s = armed;

	if (s != NULL && s->lent != 0 && addr == s->base) {
		s->used = s->lent;
		s->lent = 0;
		return 0;
	}
	return real_munmap(addr, len);
}

/* ---- regions ---- */

/* Map s: P.bytes on a huge-page boundary (when they fill one), advised as
 * huge pages and kept out of core dumps.  On failure s stays unmapped and
 * libsodium maps its own memory for the run, as without a pool. */
static void
slot_map(struct kenpo_pwslot *s)
{
	size_t align = P.bytes >= HUGE_PAGE ? HUGE_PAGE : 0;
	size_t len = P.bytes + align;
	unsigned char *p =
		real_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		return;
	a = (uintptr_t)p;
	if (align != 0)
		a = (a + align - 1) & ~(uintptr_t)(align - 1);
	/* Both are advice: a kernel without them still gives working memory. */
	(void)madvise(p, len, MADV_DONTDUMP);
	(void)madvise((void *)a, P.bytes, MADV_HUGEPAGE);
	s->map = p;
	s->maplen = len;
	s->base = (unsigned char *)a;
	pthread_mutex_lock(&P.lock);
	P.mapped++;
	pthread_mutex_unlock(&P.lock);
}

/* Unmap every region; under the lock, with none in use. */
static void
slots_unmap(void)
{
	unsigned i;

	for (i = 0; i < P.n; i++) {
		if (P.slots[i].map != NULL)
			(void)real_munmap(P.slots[i].map, P.slots[i].maplen);
		memset(&P.slots[i], 0, sizeof P.slots[i]);
	}
	P.mapped = 0;
}

int
kenpo_pwpool_setup(unsigned regions, size_t bytes)
{
	unsigned i;
	int rc = -1;

	if (regions == 0 || regions > KENPO_PWPOOL_MAX || bytes < REGION_MIN)
		return -1;
	pthread_mutex_lock(&P.lock);
	if (P.busy != 0)
		goto done;
	slots_unmap();
	P.n = regions;
	P.bytes = bytes;
	/* Slot 0 on top of the stack: it is taken first. */
	for (i = 0; i < regions; i++)
		P.free_idx[i] = regions - 1 - i;
	P.nfree = regions;
	P.peak = 0;
	P.runs = P.in_region = P.waited = 0;
	rc = 0;
done:
	pthread_mutex_unlock(&P.lock);
	return rc;
}

void
kenpo_pwpool_cleanup(void)
{
	pthread_mutex_lock(&P.lock);
	if (P.busy == 0) {
		slots_unmap();
		P.n = 0;
		P.nfree = 0;
	}
	pthread_mutex_unlock(&P.lock);
}

void
kenpo_pwpool_stats(struct kenpo_pwpool_stats *st)
{
	pthread_mutex_lock(&P.lock);
	st->regions = P.n;
	st->mapped = P.mapped;
	st->busy = P.busy;
	st->peak = P.peak;
	st->bytes = P.bytes;
	st->runs = P.runs;
	st->in_region = P.in_region;
	st->waited = P.waited;
	pthread_mutex_unlock(&P.lock);
}

unsigned long
kenpo_pwpool_wait_take(void)
{
	unsigned long ms = wait_ms;

	wait_ms = 0;
	return ms;
}

/* Whole milliseconds since t0, rounded up: a wait is never 0 ms. */
static unsigned long
ms_since(const struct timespec *t0)
{
	struct timespec t;
	long long ns;

	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	ns = (long long)(t.tv_sec - t0->tv_sec) * 1000000000LL + (t.tv_nsec - t0->tv_nsec);
	return (unsigned long)((ns + 999999) / 1000000);
}

/* Under the lock: wait for this thread's turn and a free region, take it. */
static struct kenpo_pwslot *
slot_take(void)
{
	unsigned long long ticket = P.next_ticket++;
	struct kenpo_pwslot *s;
	struct timespec t0;
	int waited = 0;

	while (ticket != P.serving || P.nfree == 0) {
		if (!waited)
			(void)clock_gettime(CLOCK_MONOTONIC, &t0);
		waited = 1;
		pthread_cond_wait(&P.freed, &P.lock);
	}
	s = &P.slots[P.free_idx[--P.nfree]];
	P.serving++;
	P.busy++;
	if (P.busy > P.peak)
		P.peak = P.busy;
	P.runs++;
	P.waited += (unsigned long long)waited;
	/* The next in line may take another free region at once. */
	if (P.nfree > 0 && P.next_ticket != P.serving)
		pthread_cond_broadcast(&P.freed);
	if (waited)
		wait_ms += ms_since(&t0);
	return s;
}

struct kenpo_pwslot *
kenpo_pwpool_enter(void)
{
	struct kenpo_pwslot *s = NULL;

	pthread_mutex_lock(&P.lock);
	if (P.n != 0)
		s = slot_take();
	pthread_mutex_unlock(&P.lock);
	if (s == NULL)
		return NULL;
	/* Mapped by the thread that holds it, outside the lock: nobody else
	 * touches a held slot. */
	if (s->base == NULL)
		slot_map(s);
	armed = s;
	return s;
}

void
kenpo_pwpool_leave(struct kenpo_pwslot *s)
{
	int used;

	if (s == NULL)
		return;
	armed = NULL;
	/* libsodium unmaps what it maps; were a run to return without doing
	 * so, the region is taken back all the same. */
	if (s->lent != 0)
		s->used = s->lent;
	s->lent = 0;
	used = s->used != 0;
	if (used)
		sodium_memzero(s->base, s->used);
	s->used = 0;
	pthread_mutex_lock(&P.lock);
	P.in_region += (unsigned long long)used;
	P.free_idx[P.nfree++] = (unsigned)(s - P.slots);
	P.busy--;
	pthread_cond_broadcast(&P.freed);
	pthread_mutex_unlock(&P.lock);
}
