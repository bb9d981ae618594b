/*
 * bench_login.c - password logins per second through real libpam: each of
 * THREADS clients runs pam_start_confdir, pam_authenticate and pam_end in
 * a loop for SECONDS, answering the prompts with its user's password (and mailed key).
 * The PAM stack is SERVICE in CONFDIR (a private directory: /etc/pam.d is
 * never read), so the same client drives pam_kenpo.so and nslcd's
 * pam_ldap.so (tests/bench/run-login-bench).
 *
 *   bench_login [-t THREADS] [-d SECONDS | -n COUNT] [-w WARMUP] [-k KEYDIR]
 *               CONFDIR SERVICE USERS
 *
 * USERS holds "login password" lines; client i logs in as lines i,
 * i + THREADS, i + 2 THREADS ... in turn (modulo their number).  With -k,
 * the first prompt of a login gets the password and every later one the
 * mailed key: the file KEYDIR/LOGIN, which the caller writes from the mail
 * it reads and which is removed once read (waited for up to 10 s).  Each
 * client first makes WARMUP logins (default 3) that
 * are not counted, then logs in for SECONDS (default 5) or COUNT times.
 * Prints one line of key=value pairs: logins, failures, seconds, rate
 * (logins/s), p50, p90, p99 (ms), cpu (ms of this process's processor
 * time per login: libpam, the module, the client side).  Exit status 0, or 1 when
 * a login failed or the arguments are wrong.
 */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <security/pam_appl.h>

#define USERS_MAX 64
#define THREADS_MAX 64
#define LINE_MAX_LEN 256
#define SAMPLES_MAX 1000000

struct user {
	char login[LINE_MAX_LEN];
	char password[LINE_MAX_LEN];
};

/* One login's conversation: the password first, then (with -k) the key. */
struct login {
	const struct user *user;
	int prompts;
};

struct client {
	pthread_t thread;
	size_t first; /* its first line of USERS */
	double *ms;   /* the duration of each counted login */
	size_t n, failures;
};

static const char *confdir, *service, *keydir;
static struct user users[USERS_MAX];
static size_t nusers;
static long nthreads = 2;
static double seconds = 5;
static long warmup = 3, count;
static double deadline; /* CLOCK_MONOTONIC, seconds */
/* The clients warm up, then wait twice: the main thread sets the deadline
 * between the two, so warm-up time is never counted. */
static pthread_barrier_t warm, go;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The key mailed for this login: KEYDIR/LOGIN once the caller has
 * written it; removed, so that the next login waits for its own. */
static char *
mailed_key(const char *login)
{
	char path[PATH_MAX], key[LINE_MAX_LEN];
	double give_up = now_s() + 10;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", keydir, login);
	while ((f = fopen(path, "r")) == NULL) {
		if (errno != ENOENT || now_s() > give_up)
			return NULL;
		usleep(500);
	}
	if (fscanf(f, "%255s", key) != 1)
		key[0] = '\0';
	fclose(f);
	unlink(path);
	return key[0] != '\0' ? strdup(key) : NULL;
}

/* The first prompt gets the password, later ones the key (with -k) or the
 * password again; messages are read and dropped. */
static int
converse(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct login *l = data;
	struct pam_response *r = calloc((size_t)n, sizeof *r);
	int i;

	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF &&
		    msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		if (keydir != NULL && l->prompts++ > 0)
			r[i].resp = mailed_key(l->user->login);
		else
			r[i].resp = strdup(l->user->password);
		if (r[i].resp == NULL)
			goto fail;
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++)
		free(r[i].resp);
	free(r);
	return PAM_BUF_ERR;
}

static int
login_once(const struct user *u)
{
	struct login l = { u, 0 };
	struct pam_conv conv = { converse, &l };
	pam_handle_t *h = NULL;
	int rc;

	rc = pam_start_confdir(service, u->login, &conv, confdir, &h);
	if (rc != PAM_SUCCESS)
		return rc;
	rc = pam_authenticate(h, PAM_SILENT);
	pam_end(h, rc);
	return rc;
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	size_t next = c->first;
	double t0;
	long i;
	int rc;

	for (i = 0; i < warmup; i++) {
		if (login_once(&users[next % nusers]) != PAM_SUCCESS)
			c->failures++;
		next += (size_t)nthreads;
	}
	pthread_barrier_wait(&warm);
	pthread_barrier_wait(&go);
	while (c->n < SAMPLES_MAX && (t0 = now_s()) < deadline &&
	       (count == 0 || (long)(c->n + c->failures) < count)) {
		rc = login_once(&users[next % nusers]);
		next += (size_t)nthreads;
		if (rc != PAM_SUCCESS) {
			c->failures++;
			continue;
		}
		c->ms[c->n++] = (now_s() - t0) * 1e3;
	}
	return NULL;
}

static int
read_users(const char *path, struct user *u, size_t *n)
{
	char line[2 * LINE_MAX_LEN];
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		fprintf(stderr, "bench_login: %s: %s\n", path, strerror(errno));
		return -1;
	}
	*n = 0;
	while (*n < USERS_MAX && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "%255s %255s", u[*n].login, u[*n].password) == 2)
			(*n)++;
	fclose(f);
	return *n > 0 ? 0 : -1;
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

static double
pct(const double *v, size_t n, size_t p)
{
	return n == 0 ? 0 : v[(n * p) / 100 < n ? (n * p) / 100 : n - 1];
}

static int
report(struct client *c, long nclients, double took, double cpu)
{
	size_t total = 0, failures = 0, k = 0;
	double *all;
	long i;

	for (i = 0; i < nclients; i++) {
		total += c[i].n;
		failures += c[i].failures;
	}
	all = malloc((total + 1) * sizeof *all);
	if (all == NULL)
		return 1;
	for (i = 0; i < nclients; i++) {
		memcpy(all + k, c[i].ms, c[i].n * sizeof *all);
		k += c[i].n;
	}
	qsort(all, total, sizeof *all, cmp_double);
	printf("logins=%zu failures=%zu seconds=%.3f rate=%.2f p50=%.2f p90=%.2f p99=%.2f "
	       "cpu=%.3f\n",
	       total, failures, took, (double)total / took, pct(all, total, 50),
	       pct(all, total, 90), pct(all, total, 99), total ? cpu / (double)total : 0.0);
	free(all);
	return failures == 0 && total > 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct client c[THREADS_MAX];
	long i;
	double t0, c0, took;
	int opt, rc;

	while ((opt = getopt(argc, argv, "t:d:n:w:k:")) != -1) {
		switch (opt) {
		case 't':
			nthreads = strtol(optarg, NULL, 10);
			break;
		case 'd':
			seconds = strtod(optarg, NULL);
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			seconds = 3600;
			break;
		case 'w':
			warmup = strtol(optarg, NULL, 10);
			break;
		case 'k':
			keydir = optarg;
			break;
		default:
			return 1;
		}
	}
	if (argc - optind != 3 || nthreads < 1 || nthreads > THREADS_MAX || seconds <= 0 ||
	    warmup < 0 || count < 0) {
		fprintf(stderr, "usage: bench_login [-t THREADS] [-d SECONDS | -n COUNT] "
				"[-w WARMUP] [-k KEYDIR] CONFDIR SERVICE USERS\n");
		return 1;
	}
	confdir = argv[optind];
	service = argv[optind + 1];
	if (read_users(argv[optind + 2], users, &nusers) != 0)
		return 1;
	memset(c, 0, sizeof c);
	for (i = 0; i < nthreads; i++) {
		c[i].first = (size_t)i;
		c[i].ms = malloc(SAMPLES_MAX * sizeof *c[i].ms);
		if (c[i].ms == NULL)
			return 1;
	}
	if (pthread_barrier_init(&warm, NULL, (unsigned)nthreads + 1) != 0 ||
	    pthread_barrier_init(&go, NULL, (unsigned)nthreads + 1) != 0)
		return 1;
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&c[i].thread, NULL, client_main, &c[i]) != 0)
			return 1;
	pthread_barrier_wait(&warm);
	c0 = cpu_ms();
	t0 = now_s();
	deadline = t0 + seconds;
	pthread_barrier_wait(&go);
	for (i = 0; i < nthreads; i++)
		pthread_join(c[i].thread, NULL);
	took = now_s() - t0;
	rc = report(c, nthreads, took, cpu_ms() - c0);
	for (i = 0; i < nthreads; i++)
		free(c[i].ms);
	return rc;
}
