/*
 * bench_argon2mem.c - where should argon2's memory come from?  The same
 * argon2id verification (t, m of a stored hash) with its memory from each
 * candidate, in THREADS threads for SECONDS:
 *
 *   sodium-fresh      libsodium as it is: mmap (MAP_POPULATE) and munmap of
 *                     the whole memory for each run, in 4 KiB pages;
 *   sodium-fresh-thp  libsodium, a fresh mapping for each run, advised as
 *                     huge pages (MADV_HUGEPAGE) and unmapped afterwards;
 *   sodium-kept-4k    libsodium in a region per thread kept mapped, 4 KiB
 *                     pages (MADV_NOHUGEPAGE), wiped after each run;
 *   sodium-kept-thp   the same in huge pages: what src/common/pwhash.c does;
 *   argon2-malloc     Debian's libargon2 (dlopen) as slapd's argon2 module
 *                     calls it: argon2_verify, memory from malloc;
 *   argon2-kept       libargon2's argon2_ctx with an allocate_cbk that hands
 *                     out a region per thread kept mapped (huge pages);
 *                     libargon2 wipes it itself.
 *
 *   bench_argon2mem -l MODE [-t THREADS] [-d SECONDS] HASH < password
 *
 * libsodium has no allocation hook, so this program interposes mmap and
 * munmap itself, as pwhash.c does (it does not link libkenpocore).  Prints
 * one line of key=value pairs: mode, threads, runs, seconds, rate (runs/s),
 * p50 (ms), cpu (ms of processor time per run).  Exit status 0, or 1 when a
 * run failed (every verification must succeed).
 */
#include "autoconfig.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#define THREADS_MAX 16
#define SAMPLES_MAX 100000
#define HUGE_PAGE ((size_t)2 << 20)
#define ARGON2_ID 2
#define ARGON2_V13 0x13
#define HASH_BYTES 32

/* libargon2.so.1's context (argon2.h of 20171227), declared here so that
 * the benchmark needs no libargon2-dev. */
struct argon2_ctx {
	uint8_t *out;
	uint32_t outlen;
	uint8_t *pwd;
	uint32_t pwdlen;
	uint8_t *salt;
	uint32_t saltlen;
	uint8_t *secret;
	uint32_t secretlen;
	uint8_t *ad;
	uint32_t adlen;
	uint32_t t_cost, m_cost, lanes, threads, version;
	int (*allocate_cbk)(uint8_t **memory, size_t bytes);
	void (*free_cbk)(uint8_t *memory, size_t bytes);
	uint32_t flags;
};
typedef int argon2_ctx_fn(struct argon2_ctx *ctx, int type);
typedef int argon2_verify_fn(const char *encoded, const void *pwd, size_t pwdlen, int type);

enum mode { FRESH, FRESH_THP, KEPT_4K, KEPT_THP, A2_MALLOC, A2_KEPT };
static const char *const mode_names[] = {
	"sodium-fresh",    "sodium-fresh-thp", "sodium-kept-4k",
	"sodium-kept-thp", "argon2-malloc",    "argon2-kept",
};

static struct {
	enum mode mode;
	const char *stored; /* without "{ARGON2}" */
	char pw[256];
	size_t pwlen;
	unsigned long t, m; /* passes, KiB */
	unsigned char salt[64], hash[HASH_BYTES];
	size_t saltlen;
	long threads;
	double seconds, deadline;
	argon2_ctx_fn *argon2_ctx;
	argon2_verify_fn *argon2_verify;
} B = { .threads = 1, .seconds = 3 };

/* The region of the calling thread, and whether libsodium holds it. */
static _Thread_local unsigned char *region;
static _Thread_local int lent;
/* The workers map their regions and make one run, then wait twice: the
 * main thread starts the clock between the two. */
static pthread_barrier_t warm, go;

static void *
sys_mmap(size_t len)
{
	return (void *)syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* A mapping of `len` bytes on a huge-page boundary (the slack around it
 * unmapped), advised as `advice`. */
static unsigned char *
region_new(size_t len, int advice)
{
	unsigned char *p = sys_mmap(len + HUGE_PAGE), *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (unsigned char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	if (a > p)
		(void)syscall(SYS_munmap, p, (size_t)(a - p));
	if (a + len < p + len + HUGE_PAGE)
		(void)syscall(SYS_munmap, a + len, (size_t)(p + len + HUGE_PAGE - (a + len)));
	(void)madvise(a, len, advice);
	return a;
}

void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	int argon2 = addr == NULL && fd == -1 && prot == (PROT_READ | PROT_WRITE) &&
		     (flags & ~MAP_POPULATE) == (MAP_PRIVATE | MAP_ANONYMOUS) &&
		     len == (size_t)B.m * 1024;
	unsigned char *p;

	if (argon2 && B.mode == FRESH_THP) {
		/* Fresh each run, but in huge pages; libsodium unmaps it. */
		p = region_new(len, MADV_HUGEPAGE);
		return p != NULL ? p : MAP_FAILED;
	}
	if (argon2 && (B.mode == KEPT_4K || B.mode == KEPT_THP) && region != NULL && !lent) {
		lent = 1;
		return region;
	}
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int
munmap(void *addr, size_t len)
{
	if (lent && addr == region) {
		lent = 0;
		sodium_memzero(region, len);
		return 0;
	}
	return (int)syscall(SYS_munmap, addr, len);
}

static int
a2_alloc(uint8_t **memory, size_t bytes)
{
	if (region == NULL || bytes > (size_t)B.m * 1024)
		return -1;
	*memory = region;
	return 0;
}

static void
a2_free(uint8_t *memory, size_t bytes)
{
	(void)memory;
	(void)bytes;
}

static int
run_once(void)
{
	unsigned char out[HASH_BYTES];
	struct argon2_ctx c;

	switch (B.mode) {
	case A2_MALLOC:
		return B.argon2_verify(B.stored, B.pw, B.pwlen, ARGON2_ID) == 0 ? 0 : -1;
	case A2_KEPT:
		memset(&c, 0, sizeof c);
		c.out = out;
		c.outlen = sizeof out;
		c.pwd = (uint8_t *)B.pw;
		c.pwdlen = (uint32_t)B.pwlen;
		c.salt = B.salt;
		c.saltlen = (uint32_t)B.saltlen;
		c.t_cost = (uint32_t)B.t;
		c.m_cost = (uint32_t)B.m;
		c.lanes = c.threads = 1;
		c.version = ARGON2_V13;
		c.allocate_cbk = a2_alloc;
		c.free_cbk = a2_free;
		if (B.argon2_ctx(&c, ARGON2_ID) != 0)
			return -1;
		return sodium_memcmp(out, B.hash, sizeof out) == 0 ? 0 : -1;
	default:
		return crypto_pwhash_str_verify(B.stored, B.pw, B.pwlen) == 0 ? 0 : -1;
	}
}

struct worker {
	pthread_t thread;
	double *ms;
	size_t n, failures;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	size_t len = (size_t)B.m * 1024;
	double t0;

	if (B.mode == KEPT_4K || B.mode == KEPT_THP || B.mode == A2_KEPT)
		region = region_new(len, B.mode == KEPT_4K ? MADV_NOHUGEPAGE : MADV_HUGEPAGE);
	/* One run first, not counted: the region's first faults. */
	if (run_once() != 0)
		w->failures++;
	pthread_barrier_wait(&warm);
	pthread_barrier_wait(&go);
	while (w->n < SAMPLES_MAX && (t0 = now_s()) < B.deadline) {
		if (run_once() != 0)
			w->failures++;
		else
			w->ms[w->n++] = (now_s() - t0) * 1e3;
	}
	return NULL;
}

static double
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* t, m, salt and hash of "$argon2id$v=19$m=M,t=T,p=1$SALT$HASH". */
static int
parse_stored(const char *s)
{
	const char *salt, *hash;
	size_t len;

	if (strncmp(s, "{ARGON2}", 8) == 0)
		s += 8;
	B.stored = s;
	if (sscanf(s, "$argon2id$v=19$m=%lu,t=%lu,p=1$", &B.m, &B.t) != 2)
		return -1;
	salt = strrchr(s, '$');
	if (salt == NULL || salt == s)
		return -1;
	hash = salt + 1;
	for (salt--; salt > s && *salt != '$'; salt--)
		;
	salt++;
	if (sodium_base642bin(B.salt, sizeof B.salt, salt, (size_t)(hash - 1 - salt), NULL,
			      &B.saltlen, NULL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
	    sodium_base642bin(B.hash, sizeof B.hash, hash, strlen(hash), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
	    len != HASH_BYTES)
		return -1;
	return 0;
}

static int
parse(int argc, char **argv)
{
	const char *mode = NULL;
	size_t i;
	int opt;

	while ((opt = getopt(argc, argv, "l:t:d:")) != -1) {
		switch (opt) {
		case 'l':
			mode = optarg;
			break;
		case 't':
			B.threads = strtol(optarg, NULL, 10);
			break;
		case 'd':
			B.seconds = strtod(optarg, NULL);
			break;
		default:
			return -1;
		}
	}
	if (mode == NULL || argc - optind != 1 || B.threads < 1 || B.threads > THREADS_MAX ||
	    B.seconds <= 0)
		return -1;
	for (i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++)
		if (strcmp(mode, mode_names[i]) == 0)
			break;
	if (i == sizeof mode_names / sizeof mode_names[0])
		return -1;
	B.mode = (enum mode)i;
	if (fgets(B.pw, sizeof B.pw, stdin) == NULL)
		return -1;
	B.pw[strcspn(B.pw, "\n")] = '\0';
	B.pwlen = strlen(B.pw);
	return parse_stored(argv[optind]);
}

static int
load_argon2(void)
{
	void *h = dlopen("libargon2.so.1", RTLD_NOW), *c, *v;

	if (h == NULL || (c = dlsym(h, "argon2_ctx")) == NULL ||
	    (v = dlsym(h, "argon2_verify")) == NULL) {
		fprintf(stderr, "bench_argon2mem: libargon2.so.1: %s\n", dlerror());
		return -1;
	}
	memcpy(&B.argon2_ctx, &c, sizeof c);
	memcpy(&B.argon2_verify, &v, sizeof v);
	return 0;
}

int
main(int argc, char **argv)
{
	struct worker w[THREADS_MAX];
	size_t total = 0, failures = 0, k = 0;
	double t0, c0, took, cpu, *all;
	long i;

	if (parse(argc, argv) != 0) {
		fprintf(stderr, "usage: bench_argon2mem -l MODE [-t THREADS] [-d SECONDS] HASH "
				"< password\n");
		return 1;
	}
	if (sodium_init() < 0 || load_argon2() != 0)
		return 1;
	memset(w, 0, sizeof w);
	if (pthread_barrier_init(&warm, NULL, (unsigned)B.threads + 1) != 0 ||
	    pthread_barrier_init(&go, NULL, (unsigned)B.threads + 1) != 0)
		return 1;
	for (i = 0; i < B.threads; i++) {
		w[i].ms = malloc(SAMPLES_MAX * sizeof *w[i].ms);
		if (w[i].ms == NULL ||
		    pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0)
			return 1;
	}
	pthread_barrier_wait(&warm);
	c0 = cpu_ms();
	t0 = now_s();
	B.deadline = t0 + B.seconds;
	pthread_barrier_wait(&go);
	for (i = 0; i < B.threads; i++) {
		pthread_join(w[i].thread, NULL);
		total += w[i].n;
		failures += w[i].failures;
	}
	took = now_s() - t0;
	cpu = cpu_ms() - c0;
	all = malloc((total + 1) * sizeof *all);
	if (all == NULL)
		return 1;
	for (i = 0; i < B.threads; i++) {
		memcpy(all + k, w[i].ms, w[i].n * sizeof *all);
		k += w[i].n;
		free(w[i].ms);
	}
	qsort(all, total, sizeof *all, cmp_double);
	printf("mode=%s threads=%ld runs=%zu failures=%zu seconds=%.3f rate=%.2f p50=%.2f "
	       "cpu=%.2f\n",
	       mode_names[B.mode], B.threads, total, failures, took, (double)total / took,
	       total ? all[total / 2] : 0.0, total ? cpu / (double)total : 0.0);
	free(all);
	return failures == 0 && total > 0 ? 0 : 1;
}
