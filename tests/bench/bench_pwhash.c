/*
 * bench_pwhash.c - the verify ceiling of each argon2 library: how many
 * verifications of one stored {ARGON2} argon2id hash THREADS threads
 * make in SECONDS, with nothing else running.  The password is the first
 * line of standard input.
 *
 *   bench_pwhash -l kenpo|sodium|argon2 [-t THREADS] [-d SECONDS] [-H] HASH
 *
 *   kenpo   kenpo_pw_verify with a pool of THREADS regions of the hash's
 *           memory (m): what kenpod does now;
 *   sodium  kenpo_pw_verify without a pool: libsodium mapping fresh memory
 *           for each run, as kenpod did before;
 *   argon2  argon2_verify of Debian's libargon2 (loaded with dlopen), the
 *           library slapd's argon2 module verifies binds with.
 *
 * -H hashes (kenpo_pw_hash at the cost of HASH) instead of verifying: kenpo-admin import's work.  Prints one line of
 * key=value pairs: lib, op, threads, runs, seconds, rate (runs/s), p50 and
 * p90 (ms of one run), cpu (ms of processor time per run, user and system).  Exit status 0, or 1 when a run failed (every
 * verification must succeed) or a library is missing.
 */
#include "autoconfig.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "pwhash.h"
#include "secret.h"

#define THREADS_MAX 64
#define SAMPLES_MAX 200000
#define ARGON2_ID 2 /* argon2_type Argon2_id */

typedef int argon2_verify_fn(const char *encoded, const void *pwd, size_t pwdlen, int type);

struct worker {
	pthread_t thread;
	double *ms;
	size_t n, failures;
};

static struct {
	const char *lib, *stored;
	char pw[256];
	size_t pwlen;
	struct kenpo_pwcost cost;
	int hash;
	long threads;
	double seconds, deadline;
	argon2_verify_fn *argon2_verify;
} B = { .threads = 2, .seconds = 5 };

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
run_once(void)
{
	char out[KENPO_PWHASH_MAX];
	const char *enc = B.stored;

	if (B.hash)
		return kenpo_pw_hash(B.pw, B.pwlen, &B.cost, out, sizeof out);
	if (B.argon2_verify == NULL)
		return kenpo_pw_verify(B.stored, B.pw, B.pwlen);
	if (strncmp(enc, "{ARGON2}", 8) == 0)
		enc += 8;
	return B.argon2_verify(enc, B.pw, B.pwlen, ARGON2_ID) == 0 ? 0 : -1;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	double t0;

	while (w->n < SAMPLES_MAX && (t0 = now_s()) < B.deadline) {
		if (run_once() != 0)
			w->failures++;
		else
			w->ms[w->n++] = (now_s() - t0) * 1e3;
	}
	return NULL;
}

/* Processor time of the process so far, user and system, in ms. */
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

/* The m and t of a stored hash, for -H and the regions. */
static int
cost_of(const char *stored, struct kenpo_pwcost *c)
{
	const char *p = strstr(stored, "$m=");
	unsigned long m, t;

	if (p == NULL || sscanf(p, "$m=%lu,t=%lu,", &m, &t) != 2)
		return -1;
	c->memlimit = (size_t)m * 1024;
	c->opslimit = t;
	return 0;
}

static int
lib_open(void)
{
	void *h, *f;

	if (strcmp(B.lib, "kenpo") == 0)
		return kenpo_pwpool_setup((unsigned)B.threads, B.cost.memlimit);
	if (strcmp(B.lib, "sodium") == 0)
		return 0;
	if (strcmp(B.lib, "argon2") != 0 || B.hash)
		return -1;
	h = dlopen("libargon2.so.1", RTLD_NOW);
	if (h == NULL || (f = dlsym(h, "argon2_verify")) == NULL) {
		fprintf(stderr, "bench_pwhash: libargon2.so.1: %s\n", dlerror());
		return -1;
	}
	memcpy(&B.argon2_verify, &f, sizeof f);
	return 0;
}

static int
parse(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "l:t:d:H")) != -1) {
		switch (opt) {
		case 'l':
			B.lib = optarg;
			break;
		case 't':
			B.threads = strtol(optarg, NULL, 10);
			break;
		case 'd':
			B.seconds = strtod(optarg, NULL);
			break;
		case 'H':
			B.hash = 1;
			break;
		default:
			return -1;
		}
	}
	if (argc - optind != 1 || B.lib == NULL || B.threads < 1 || B.threads > THREADS_MAX ||
	    B.seconds <= 0)
		return -1;
	B.stored = argv[optind];
	if (fgets(B.pw, sizeof B.pw, stdin) == NULL)
		return -1;
	B.pw[strcspn(B.pw, "\n")] = '\0';
	B.pwlen = strlen(B.pw);
	return cost_of(B.stored, &B.cost);
}

int
main(int argc, char **argv)
{
	struct worker w[THREADS_MAX];
	size_t total = 0, failures = 0, k = 0;
	double t0, c0, took, cpu, *all;
	long i;

	if (parse(argc, argv) != 0) {
		fprintf(stderr, "usage: bench_pwhash -l kenpo|sodium|argon2 [-t THREADS] "
				"[-d SECONDS] [-H] HASH < password\n");
		return 1;
	}
	if (kenpo_secret_init() != 0 || lib_open() != 0)
		return 1;
	/* One run first, not counted: it checks the password, and maps a
	 * kenpo region as kenpod's start-up does. */
	if (run_once() != 0) {
		fprintf(stderr, "bench_pwhash: the password does not verify\n");
		return 1;
	}
	memset(w, 0, sizeof w);
	c0 = cpu_ms();
	t0 = now_s();
	B.deadline = t0 + B.seconds;
	for (i = 0; i < B.threads; i++) {
		w[i].ms = malloc(SAMPLES_MAX * sizeof *w[i].ms);
		if (w[i].ms == NULL ||
		    pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0)
			return 1;
	}
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
	printf("lib=%s op=%s threads=%ld runs=%zu failures=%zu seconds=%.3f rate=%.2f "
	       "p50=%.2f p90=%.2f cpu=%.2f\n",
	       B.lib, B.hash ? "hash" : "verify", B.threads, total, failures, took,
	       (double)total / took, total ? all[total / 2] : 0.0,
	       total ? all[(total * 9) / 10] : 0.0, total ? cpu / (double)total : 0.0);
	free(all);
	return failures == 0 && total > 0 ? 0 : 1;
}
