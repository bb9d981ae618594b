/*
 * bench_nss.c - latency of passwd lookups through libnss_kenpo.so.2, with
 * glibc's own "files" module measured in the same run as the peer, and
 * nslcd's libnss_ldap.so.2 when it is given.
 *
 *   bench_nss [-w WARM] [-t THREADS[,THREADS...]] [-n NSLCD_MODULE] [-q] [-l LOOP]
 *             MODULE WORKLOAD
 *
 * MODULE is the built libnss_kenpo.so.2; its passwd map and kenpod are
 * found through KENPO_PASSWD_MAP and KENPO_SOCKET as usual.  Every module
 * is called directly (_nss_kenpo_getpwnam_r, _nss_files_getpwnam_r,
 * _nss_ldap_getpwnam_r, ...), because routing getpwnam() through kenpo
 * would need an edit of /etc/nsswitch.conf; the cost of glibc's own
 * dispatch is shown by timing plain getpwnam_r() for the files users,
 * which the host's nsswitch.conf answers from files.
 *
 * WORKLOAD (written by run-nss-bench) has one key a line, fields separated
 * by tabs:
 *   peer    NAME  UID         users of /etc/passwd: the first (root) and
 *                             the last line
 *   nopeer  NAME  UID         a name and a uid that /etc/passwd lacks
 *   warmup  LOGIN UID NICK    a few members, looked up again and again (warm)
 *   name    LOGIN UID NICK    members drawn at random from all, looked up
 *                             by name once each (random)
 *   uid     LOGIN UID NICK    the same, by uid
 *   noname  NAME              plausible login IDs that no member holds
 *   nouid   UID               uids of the society's range nobody holds
 *
 * A warm lookup finds its record in the processor's caches; a random one
 * reads a record nobody read for a while, as a lookup of one of many
 * members does.  An absent name is not in kenpo's map: the module asks
 * kenpod, which asks the directory the first time (a miss) and answers
 * from its negative cache the second.  nslcd asks the directory every time.
 * Every answer is checked: the right login, uid and nickname, or "not
 * found" for the absent keys; any wrong answer makes the run fail (exit
 * 1).  Each timed lookup of kenpo or nslcd alternates with a timed call of
 * the files peer, so that the ratio compares them under the same
 * conditions.  A summary gives each row's ratio to files and to nslcd.
 *
 * With -q only kenpo's warm and random rows are measured (the scale runs);
 * with -l N, only N warm lookups by name are made, with nothing else timed
 * in between, and the wall time and this process's CPU time per lookup are
 * printed.
 */
#include "autoconfig.h"

#include <dlfcn.h>
#include <errno.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PW_BUF_SIZE 4096
#define NSLCD_PREFIX "ldap"
#define LINE_MAX_LEN 1024
#define NAME_LEN 256
#define NICK_LEN 256
#define WARM_DEFAULT 20000
#define THREADS_MAX 64
#define THREAD_LISTS_MAX 8
#define FILES_MODULE "libnss_files.so.2"

struct key {
	char name[NAME_LEN];
	uint32_t uid;
	char nick[NICK_LEN]; /* "" for the files users: not checked */
};

struct keyset {
	struct key *v;
	size_t n, cap;
};

enum set_id { S_PEER, S_NOPEER, S_WARMUP, S_NAME, S_UID, S_NONAME, S_NOUID, S_COUNT };

/* The first field of a workload line names its set; the keyword table
 * also says which fields follow. */
static const struct {
	const char *word;
	int has_name, has_uid, has_nick;
} set_kinds[S_COUNT] = {
	[S_PEER] = { "peer", 1, 1, 0 },     [S_NOPEER] = { "nopeer", 1, 1, 0 },
	[S_WARMUP] = { "warmup", 1, 1, 1 }, [S_NAME] = { "name", 1, 1, 1 },
	[S_UID] = { "uid", 1, 1, 1 },       [S_NONAME] = { "noname", 1, 0, 0 },
	[S_NOUID] = { "nouid", 0, 1, 0 },
};

enum by { BY_NAME, BY_UID };

/* A passwd source: a module's two lookups. */
struct source {
	const char *label;
	nss_getpwnam_r *byname;
	nss_getpwuid_r *byuid;
};

/* One lookup to make and the answer expected. */
struct probe {
	const struct source *src;
	enum by by;
	const struct key *key;
	int found; /* the key exists */
};

/* Latency samples of one series, in nanoseconds. */
struct series {
	int64_t *ns;
	size_t n;
	size_t errors;
};

struct stats {
	double median, p99, mean; /* microseconds */
};

static struct keyset sets[S_COUNT];

/* ---- time and order ---- */

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* xorshift64*: the order of the lookups only needs to be scattered and
 * repeatable, never unpredictable, so no cryptographic generator. */
static uint64_t
next_random(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545F4914F6CDD1DULL;
}

static void
shuffle(struct keyset *s, uint64_t seed)
{
	struct key tmp;
	size_t i, j;

	for (i = s->n; i > 1; i--) {
		j = (size_t)(next_random(&seed) % i);
		tmp = s->v[i - 1];
		s->v[i - 1] = s->v[j];
		s->v[j] = tmp;
	}
}

/* ---- the workload file ---- */

static int
parse_uid(const char *s, uint32_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > 0xfffffffeULL)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int
copy_field(char *dst, size_t dstsz, const char *src)
{
	size_t len = strlen(src);

	if (len == 0 || len >= dstsz)
		return -1;
	memcpy(dst, src, len + 1);
	return 0;
}

static int
keyset_add(struct keyset *s, const struct key *k)
{
	struct key *grown;
	size_t cap;

	if (s->n == s->cap) {
		cap = s->cap > 0 ? 2 * s->cap : 256;
		grown = realloc(s->v, cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		s->v = grown;
		s->cap = cap;
	}
	s->v[s->n++] = *k;
	return 0;
}

static int
set_of(const char *word)
{
	int i;

	for (i = 0; i < S_COUNT; i++)
		if (strcmp(set_kinds[i].word, word) == 0)
			return i;
	return -1;
}

/* One line "set<TAB>fields..." into its set.  0 or -1. */
static int
parse_line(char *line)
{
	struct key k = { .name = "", .uid = 0, .nick = "" };
	char *save = NULL, *word = strtok_r(line, "\t\n", &save), *f;
	int set = word != NULL ? set_of(word) : -1;

	if (set < 0)
		return -1;
	if (set_kinds[set].has_name && ((f = strtok_r(NULL, "\t\n", &save)) == NULL ||
					copy_field(k.name, sizeof k.name, f) != 0))
		return -1;
	if (set_kinds[set].has_uid &&
	    ((f = strtok_r(NULL, "\t\n", &save)) == NULL || parse_uid(f, &k.uid) != 0))
		return -1;
	if (set_kinds[set].has_nick && ((f = strtok_r(NULL, "\t\n", &save)) == NULL ||
					copy_field(k.nick, sizeof k.nick, f) != 0))
		return -1;
	if (strtok_r(NULL, "\t\n", &save) != NULL)
		return -1;
	return keyset_add(&sets[set], &k);
}

static int
load_workload(const char *path)
{
	char line[LINE_MAX_LEN];
	unsigned long lineno = 0;
	FILE *f = fopen(path, "re");
	int rc = -1;

	if (f == NULL) {
		fprintf(stderr, "bench_nss: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (parse_line(line) != 0) {
			fprintf(stderr, "bench_nss: %s:%lu: bad line\n", path, lineno);
			goto done;
		}
	}
	if (sets[S_PEER].n < 2 || sets[S_NOPEER].n < 1 || sets[S_NAME].n == 0 ||
	    sets[S_UID].n == 0 || sets[S_NONAME].n == 0 || sets[S_NOUID].n == 0) {
		fprintf(stderr, "bench_nss: %s: a set is missing\n", path);
		goto done;
	}
	rc = 0;
done:
	fclose(f);
	return rc;
}

/* ---- the sources ---- */

/* glibc's own getpwnam_r()/getpwuid_r(), through /etc/nsswitch.conf,
 * wrapped into the NSS module signature. */
static enum nss_status
libc_status(int rc, const struct passwd *res, int *errnop)
{
	if (rc != 0) {
		*errnop = rc;
		return NSS_STATUS_UNAVAIL;
	}
	return res != NULL ? NSS_STATUS_SUCCESS : NSS_STATUS_NOTFOUND;
}

static enum nss_status
libc_byname(const char *name, struct passwd *pw, char *buf, size_t len, int *errnop)
{
	struct passwd *res = NULL;
	int rc = getpwnam_r(name, pw, buf, len, &res);

	return libc_status(rc, res, errnop);
}

static enum nss_status
libc_byuid(uid_t uid, struct passwd *pw, char *buf, size_t len, int *errnop)
{
	struct passwd *res = NULL;
	int rc = getpwuid_r(uid, pw, buf, len, &res);

	return libc_status(rc, res, errnop);
}

/* Load a module's lookups.  The symbols of the files module live in
 * libc.so.6 since glibc 2.34; dlsym on the stub's handle finds them there,
 * as it searches the handle's dependencies too. */
static int
load_source(struct source *s, const char *label, const char *path, const char *prefix)
{
	char sym[64];
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		fprintf(stderr, "bench_nss: %s\n", dlerror());
		return -1;
	}
	s->label = label;
	(void)snprintf(sym, sizeof sym, "_nss_%s_getpwnam_r", prefix);
	*(void **)&s->byname = dlsym(h, sym);
	(void)snprintf(sym, sizeof sym, "_nss_%s_getpwuid_r", prefix);
	*(void **)&s->byuid = dlsym(h, sym);
	if (s->byname == NULL || s->byuid == NULL) {
		fprintf(stderr, "bench_nss: %s lacks _nss_%s_getpw*_r\n", path, prefix);
		return -1;
	}
	return 0;
}

/* ---- one lookup ---- */

/* Whether the answer is what the key says.  Names are compared exactly:
 * the workload asks with the login as stored. */
static int
answer_right(const struct probe *p, enum nss_status st, const struct passwd *pw)
{
	if (!p->found)
		return st == NSS_STATUS_NOTFOUND;
	if (st != NSS_STATUS_SUCCESS || strcmp(pw->pw_name, p->key->name) != 0 ||
	    pw->pw_uid != p->key->uid)
		return 0;
	return p->key->nick[0] == '\0' || strcmp(pw->pw_gecos, p->key->nick) == 0;
}

/* Make one lookup; return its duration in ns and count a wrong answer. */
static int64_t
timed_lookup(const struct probe *p, size_t *errors)
{
	char buf[PW_BUF_SIZE];
	struct passwd pw;
	enum nss_status st;
	int err = 0;
	int64_t t0, t1;

	t0 = now_ns();
	if (p->by == BY_NAME)
		st = p->src->byname(p->key->name, &pw, buf, sizeof buf, &err);
	else
		st = p->src->byuid((uid_t)p->key->uid, &pw, buf, sizeof buf, &err);
	t1 = now_ns();
	if (!answer_right(p, st, &pw)) {
		if (*errors < 5)
			fprintf(stderr, "bench_nss: %s %s %s/%lu: wrong answer (status %d)\n",
				p->src->label, p->by == BY_NAME ? "byname" : "byuid",
				p->key->name, (unsigned long)p->key->uid, (int)st);
		(*errors)++;
	}
	return t1 - t0;
}

/* ---- statistics ---- */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static struct stats
series_stats(struct series *s)
{
	struct stats st = { 0, 0, 0 };
	double sum = 0;
	size_t i;

	if (s->n == 0)
		return st;
	qsort(s->ns, s->n, sizeof(*s->ns), cmp_i64);
	for (i = 0; i < s->n; i++)
		sum += (double)s->ns[i];
	st.median = (double)s->ns[s->n / 2] / 1000.0;
	st.p99 = (double)s->ns[(s->n * 99) / 100] / 1000.0;
	st.mean = sum / (double)s->n / 1000.0;
	return st;
}

static int
series_init(struct series *s, size_t n)
{
	s->ns = calloc(n > 0 ? n : 1, sizeof(*s->ns));
	s->n = 0;
	s->errors = 0;
	return s->ns != NULL ? 0 : -1;
}

static void
print_header(void)
{
	printf("%-34s %7s %9s %9s %9s %7s %7s\n", "lookup", "n", "median", "p99", "mean", "x med",
	       "x p99");
	printf("%-34s %7s %9s %9s %9s %7s %7s\n", "", "", "us", "us", "us", "(peer)", "(peer)");
}

static void
print_row(const char *label, size_t n, const struct stats *st, const struct stats *peer)
{
	printf("%-34s %7zu %9.2f %9.2f %9.2f", label, n, st->median, st->p99, st->mean);
	if (peer != NULL)
		printf(" %7.1f %7.1f", st->median / peer->median, st->p99 / peer->p99);
	printf("\n");
}

/* ---- sequential phases ---- */

/* The outcome of a row: its source's statistics and those of the peer
 * measured alternately with it. */
struct row {
	struct stats st, peer;
	size_t n;
	int done;
};

/*
 * n lookups of `src` cycling through keys, each followed by one lookup of
 * the peer (when given), both timed.  Prints the row of the lookups and,
 * indented, the row of the peer; returns the number of wrong answers, or
 * -1 when out of memory.
 */
static long
run_phase(const char *label, const struct source *src, enum by by, const struct keyset *keys,
	  int found, size_t n, const struct probe *peer, struct row *out)
{
	struct series s, ps;
	struct stats st, pst;
	struct probe p = { src, by, NULL, found };
	char plabel[64];
	size_t i;
	long rc = -1;

	if (series_init(&s, n) != 0 || series_init(&ps, n) != 0)
		goto done;
	for (i = 0; i < n; i++) {
		p.key = &keys->v[i % keys->n];
		s.ns[s.n++] = timed_lookup(&p, &s.errors);
		if (peer != NULL)
			ps.ns[ps.n++] = timed_lookup(peer, &ps.errors);
	}
	st = series_stats(&s);
	pst = series_stats(&ps);
	print_row(label, s.n, &st, peer != NULL ? &pst : NULL);
	if (peer != NULL) {
		(void)snprintf(plabel, sizeof plabel, "  peer %s", peer->src->label);
		print_row(plabel, ps.n, &pst, NULL);
	}
	if (out != NULL)
		*out = (struct row){ st, pst, s.n, 1 };
	rc = (long)(s.errors + ps.errors);
done:
	free(s.ns);
	free(ps.ns);
	return rc;
}

static long
add_errors(long total, long more)
{
	return (total < 0 || more < 0) ? -1 : total + more;
}

enum row_id {
	R_NAME_WARM,
	R_NAME_RANDOM,
	R_UID_WARM,
	R_UID_RANDOM,
	R_ABSENT,
	R_ABSENT_AGAIN,
	R_COUNT
};

static const struct {
	const char *label;
	enum by by;
	enum set_id set;
	int found, warm;
} row_kinds[R_COUNT] = {
	[R_NAME_WARM] = { "byname warm", BY_NAME, S_WARMUP, 1, 1 },
	[R_NAME_RANDOM] = { "byname random", BY_NAME, S_NAME, 1, 0 },
	[R_UID_WARM] = { "byuid warm", BY_UID, S_WARMUP, 1, 1 },
	[R_UID_RANDOM] = { "byuid random", BY_UID, S_UID, 1, 0 },
	[R_ABSENT] = { "byname absent", BY_NAME, S_NONAME, 0, 0 },
	[R_ABSENT_AGAIN] = { "byname absent again", BY_NAME, S_NONAME, 0, 0 },
};

/* The rows of one source (kenpo or nslcd), each alternating with files:
 * warm rows make `warm` lookups, the others one of each key. */
static long
source_rows(const struct source *src, const struct source *files, size_t warm, int quick,
	    struct row rows[R_COUNT])
{
	const struct key *last = &sets[S_PEER].v[sets[S_PEER].n - 1];
	const struct probe peers[] = {
		[BY_NAME] = { files, BY_NAME, last, 1 },
		[BY_UID] = { files, BY_UID, last, 1 },
	};
	const struct probe absent = { files, BY_NAME, &sets[S_NOPEER].v[0], 0 };
	char label[64];
	long errors = 0;
	int r, last_row = quick ? R_UID_RANDOM : R_ABSENT_AGAIN;
	struct keyset *keys;

	for (r = 0; r <= last_row; r++) {
		keys = &sets[row_kinds[r].set];
		/* Ask again in another order, so that the answers are not
		 * simply replayed in the order the first pass made them. */
		if (r == R_ABSENT_AGAIN)
			shuffle(keys, 0x6b656e706fULL);
		(void)snprintf(label, sizeof label, "%s %s", src->label, row_kinds[r].label);
		errors = add_errors(errors,
				    run_phase(label, src, row_kinds[r].by, keys,
					      row_kinds[r].found,
					      row_kinds[r].warm ? warm : keys->n,
					      row_kinds[r].found ? &peers[row_kinds[r].by] :
								   &absent,
					      &rows[r]));
	}
	return errors;
}

/* ---- the summary ---- */

static void
print_ratio(double a, double b)
{
	if (b > 0)
		printf(" %7.2f", a / b);
	else
		printf(" %7s", "-");
}

/* Each row of kenpo beside its files peer and nslcd's row of that name. */
static void
print_summary(const struct row *k, const struct row *n)
{
	int r;

	printf("\nsummary (us; x = kenpo / other: below 1, kenpo is faster)\n");
	printf("%-20s %9s %9s %9s %9s %9s %9s %7s %7s %7s %7s\n", "lookup", "kenpo", "p99",
	       "files", "p99", "nslcd", "p99", "x files", "p99", "x nslcd", "p99");
	for (r = 0; r < R_COUNT; r++) {
		if (!k[r].done)
			continue;
		printf("%-20s %9.2f %9.2f %9.2f %9.2f", row_kinds[r].label, k[r].st.median,
		       k[r].st.p99, k[r].peer.median, k[r].peer.p99);
		if (n != NULL && n[r].done)
			printf(" %9.2f %9.2f", n[r].st.median, n[r].st.p99);
		else
			printf(" %9s %9s", "-", "-");
		print_ratio(k[r].st.median, k[r].peer.median);
		print_ratio(k[r].st.p99, k[r].peer.p99);
		print_ratio(k[r].st.median, n != NULL && n[r].done ? n[r].st.median : 0);
		print_ratio(k[r].st.p99, n != NULL && n[r].done ? n[r].st.p99 : 0);
		printf("\n");
	}
	/* A member kenpo's map lacks costs kenpo a round trip to kenpod and
	 * a directory search: what every lookup costs nslcd. */
	if (n != NULL && k[R_ABSENT].done && n[R_NAME_RANDOM].done)
		printf("miss: kenpo absent name (kenpod + directory) p50 %.2f us, nslcd member "
		       "lookup p50 %.2f us: x %.2f\n",
		       k[R_ABSENT].st.median, n[R_NAME_RANDOM].st.median,
		       k[R_ABSENT].st.median / n[R_NAME_RANDOM].st.median);
	printf("scale: name_warm_p50=%.3f name_random_p50=%.3f uid_warm_p50=%.3f "
	       "uid_random_p50=%.3f name_random_p99=%.3f files_p50=%.3f\n",
	       k[R_NAME_WARM].st.median, k[R_NAME_RANDOM].st.median, k[R_UID_WARM].st.median,
	       k[R_UID_RANDOM].st.median, k[R_NAME_RANDOM].st.p99, k[R_NAME_RANDOM].peer.median);
}

/* ---- concurrent phases ---- */

struct worker {
	pthread_t thread;
	pthread_barrier_t *start;
	struct probe p;
	const struct keyset *keys;
	size_t first, n;
	struct series s;
	int64_t t0, t1; /* when this thread started and ended */
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	size_t i;

	pthread_barrier_wait(w->start);
	w->t0 = now_ns();
	for (i = 0; i < w->n; i++) {
		w->p.key = &w->keys->v[(w->first + i) % w->keys->n];
		w->s.ns[w->s.n++] = timed_lookup(&w->p, &w->s.errors);
	}
	w->t1 = now_ns();
	return NULL;
}

/* Join the workers; merge their samples into all.  Returns the time from
 * the first start to the last end, in ns: the main thread may wake from
 * the barrier later than the workers, so it does not time them itself. */
static int64_t
join_workers(struct worker *w, size_t n, struct series *all)
{
	int64_t first = INT64_MAX, last = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		pthread_join(w[i].thread, NULL);
		memcpy(all->ns + all->n, w[i].s.ns, w[i].s.n * sizeof(*all->ns));
		all->n += w[i].s.n;
		all->errors += w[i].s.errors;
		free(w[i].s.ns);
		first = w[i].t0 < first ? w[i].t0 : first;
		last = w[i].t1 > last ? w[i].t1 : last;
	}
	return last - first;
}

/*
 * `total` lookups of src split over `nthreads` threads that start together.
 * Stores the lookups per second and the merged latencies in *all
 * (total samples).  0, or -1 when the barrier cannot be made.
 */
static int
run_threads(const struct source *src, const struct keyset *keys, int found, size_t nthreads,
	    size_t total, double *per_sec, struct series *all)
{
	struct worker w[THREADS_MAX];
	pthread_barrier_t start;
	size_t i;
	int64_t wall;

	if (pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1) != 0)
		return -1;
	for (i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .start = &start,
					.p = { src, BY_NAME, NULL, found },
					.keys = keys,
					.first = i * (keys->n / nthreads),
					.n = total / nthreads };
		if (series_init(&w[i].s, w[i].n) != 0 ||
		    pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
			/* The threads started wait at a barrier that can now
			 * never open: give up the whole run. */
			fprintf(stderr, "bench_nss: cannot start %zu threads\n", nthreads);
			exit(2);
		}
	}
	pthread_barrier_wait(&start);
	wall = join_workers(w, nthreads, all);
	*per_sec = (double)all->n * 1e9 / (double)(wall > 0 ? wall : 1);
	pthread_barrier_destroy(&start);
	return 0;
}

/* One row of the concurrency table.  Returns wrong answers, or -1. */
static long
concurrency_row(const struct source *src, const struct keyset *keys, size_t nthreads,
		size_t total, double *per_sec)
{
	struct series all;
	struct stats st;
	long rc = -1;

	if (series_init(&all, total) != 0)
		return -1;
	if (run_threads(src, keys, 1, nthreads, total, per_sec, &all) == 0) {
		st = series_stats(&all);
		printf("%-12s %7zu %7zu %12.0f %9.2f %9.2f\n", src->label, nthreads, all.n,
		       *per_sec, st.median, st.p99);
		rc = (long)all.errors;
	}
	free(all.ns);
	return rc;
}

/* kenpo and nslcd look up random members, files its last user. */
static long
concurrent_phases(const struct source *kenpo, const struct source *files,
		  const struct source *nslcd, size_t warm, const size_t *threads, size_t nthreads)
{
	struct keyset last = { &sets[S_PEER].v[sets[S_PEER].n - 1], 1, 1 };
	double kps, fps, nps = 0;
	long errors = 0;
	size_t i;

	printf("\nlookups by name from concurrent threads (kenpo, nslcd: random members; "
	       "files: its last user)\n");
	printf("%-12s %7s %7s %12s %9s %9s\n", "source", "threads", "n", "lookups/s", "median us",
	       "p99 us");
	for (i = 0; i < nthreads; i++) {
		errors = add_errors(errors, concurrency_row(kenpo, &sets[S_NAME], threads[i],
							    warm, &kps));
		errors =
			add_errors(errors, concurrency_row(files, &last, threads[i], warm, &fps));
		if (nslcd != NULL)
			errors = add_errors(errors, concurrency_row(nslcd, &sets[S_NAME],
								    threads[i], warm, &nps));
		if (errors < 0)
			continue;
		printf("%-12s %7zu %7s %12.3f\n", "kenpo/files", threads[i], "", kps / fps);
		if (nslcd != NULL)
			printf("%-12s %7zu %7s %12.3f\n", "kenpo/nslcd", threads[i], "",
			       kps / nps);
	}
	return errors;
}

/* ---- the run ---- */

/* Look each warm-up member up twice, so that every kenpod worker (and
 * nslcd thread) has its directory connection open before anything is
 * timed, and the files module its file in the page cache. */
static long
warm_up(const struct source *kenpo, const struct source *files, const struct source *nslcd)
{
	struct probe p = { files, BY_NAME, &sets[S_PEER].v[0], 1 };
	const struct source *src[2] = { kenpo, nslcd };
	size_t i, j, errors = 0;

	for (i = 0; i < 200; i++)
		(void)timed_lookup(&p, &errors);
	for (j = 0; j < 2; j++) {
		if (src[j] == NULL)
			continue;
		p.src = src[j];
		for (i = 0; i < 2 * sets[S_WARMUP].n; i++) {
			p.key = &sets[S_WARMUP].v[i % sets[S_WARMUP].n];
			(void)timed_lookup(&p, &errors);
		}
	}
	return (long)errors;
}

/* The files module and glibc's getpw*_r alone, for reference. */
static long
peer_table(const struct source *files, const struct source *libc, size_t warm)
{
	const struct key *root = &sets[S_PEER].v[0], *last = &sets[S_PEER].v[sets[S_PEER].n - 1];
	struct key k;
	struct keyset one = { &k, 1, 1 };
	long errors = 0;
	char label[64];
	const struct {
		const struct source *src;
		enum by by;
		const struct key *k;
		int found;
	} rows[] = {
		{ files, BY_NAME, root, 1 },
		{ files, BY_NAME, last, 1 },
		{ files, BY_UID, root, 1 },
		{ files, BY_UID, last, 1 },
		{ files, BY_NAME, &sets[S_NOPEER].v[0], 0 },
		{ files, BY_UID, &sets[S_NOPEER].v[0], 0 },
		{ libc, BY_NAME, root, 1 },
		{ libc, BY_NAME, last, 1 },
	};
	size_t i;

	printf("peers alone (%zu lookups each)\n", warm);
	print_header();
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		k = *rows[i].k;
		(void)snprintf(label, sizeof label, "%s %s %.20s", rows[i].src->label,
			       rows[i].by == BY_NAME ? "byname" : "byuid",
			       rows[i].found ? rows[i].k->name : "(absent)");
		errors = add_errors(errors, run_phase(label, rows[i].src, rows[i].by, &one,
						      rows[i].found, warm, NULL, NULL));
	}
	return errors;
}

static double
cpu_us(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec * 1e6 + (double)ru->ru_utime.tv_usec +
	       (double)ru->ru_stime.tv_sec * 1e6 + (double)ru->ru_stime.tv_usec;
}

/* -l: n warm lookups by name, back to back.  Returns wrong answers. */
static long
loop_only(const struct source *kenpo, size_t n)
{
	struct probe p = { kenpo, BY_NAME, NULL, 1 };
	const struct keyset *keys = &sets[S_NAME];
	struct rusage r0, r1;
	size_t i, errors = 0;
	int64_t t0, t1;

	/* One untimed pass reads every record once. */
	for (i = 0; i < keys->n; i++) {
		p.key = &keys->v[i];
		(void)timed_lookup(&p, &errors);
	}
	getrusage(RUSAGE_SELF, &r0);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		p.key = &keys->v[i % keys->n];
		(void)timed_lookup(&p, &errors);
	}
	t1 = now_ns();
	getrusage(RUSAGE_SELF, &r1);
	printf("loop: %zu warm lookups by name, %.2f us wall, %.2f us CPU of the caller "
	       "each\n",
	       n, (double)(t1 - t0) / 1000.0 / (double)n,
	       (cpu_us(&r1) - cpu_us(&r0)) / (double)n);
	return (long)errors;
}

/* "1,2,8" into threads[].  The count, or -1. */
static int
parse_threads(const char *arg, size_t *threads)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	unsigned long long v;
	int n = 0;

	if (copy == NULL)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *end;

		errno = 0;
		v = strtoull(tok, &end, 10);
		if (errno != 0 || *end != '\0' || tok[0] == '-' || v < 1 || v > THREADS_MAX ||
		    n == THREAD_LISTS_MAX) {
			n = -1;
			break;
		}
		threads[n++] = (size_t)v;
	}
	free(copy);
	return n;
}

static int
usage(void)
{
	fprintf(stderr, "usage: bench_nss [-w WARM] [-t THREADS,...] [-n NSLCD_MODULE] [-q] "
			"[-l LOOP] MODULE WORKLOAD\n");
	return 2;
}

struct options {
	size_t threads[THREAD_LISTS_MAX];
	int nthreads;
	size_t warm, loop;
	const char *nslcd;
	int quick;
};

static int
parse_options(int argc, char **argv, struct options *o)
{
	unsigned long long v;
	char *end;
	int opt;

	while ((opt = getopt(argc, argv, "w:t:l:n:q")) != -1) {
		if (opt == 'w' || opt == 'l') {
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || optarg[0] == '-' || v < 100 ||
			    v > 100000000)
				return -1;
			*(opt == 'w' ? &o->warm : &o->loop) = (size_t)v;
		} else if (opt == 'n') {
			o->nslcd = optarg;
		} else if (opt == 'q') {
			o->quick = 1;
		} else if (opt != 't' || (o->nthreads = parse_threads(optarg, o->threads)) <= 0) {
			return -1;
		}
	}
	return argc - optind == 2 ? 0 : -1;
}

/* Every measurement but the loop.  The number of wrong answers, or -1. */
static long
measure(const struct options *o, const struct source *kenpo, const struct source *files,
	const struct source *libc, const struct source *nslcd)
{
	static struct row krows[R_COUNT], nrows[R_COUNT];
	long errors = 0;

	if (!o->quick)
		errors = add_errors(errors, peer_table(files, libc, o->warm));
	printf("\n(each row: x = the row / the peer row under it, measured alternately)\n");
	print_header();
	errors = add_errors(errors, source_rows(kenpo, files, o->warm, o->quick, krows));
	if (nslcd != NULL)
		errors = add_errors(errors, source_rows(nslcd, files, o->warm, o->quick, nrows));
	if (!o->quick)
		errors = add_errors(errors, concurrent_phases(kenpo, files, nslcd, o->warm,
							      o->threads, (size_t)o->nthreads));
	print_summary(krows, nslcd != NULL ? nrows : NULL);
	return errors;
}

int
main(int argc, char **argv)
{
	struct options o = { { 1, 2, 8 }, 3, WARM_DEFAULT, 0, NULL, 0 };
	struct source kenpo, files, nslcd, libc = { "libc", libc_byname, libc_byuid };
	long errors;

	if (parse_options(argc, argv, &o) != 0)
		return usage();
	/* The driver reads the rows as they come, interleaved with errors. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (load_source(&kenpo, "kenpo", argv[optind], "kenpo") != 0 ||
	    load_source(&files, "files", FILES_MODULE, "files") != 0 ||
	    (o.nslcd != NULL && load_source(&nslcd, "nslcd", o.nslcd, NSLCD_PREFIX) != 0) ||
	    load_workload(argv[optind + 1]) != 0)
		return 2;
	shuffle(&sets[S_NAME], 1);
	shuffle(&sets[S_UID], 2);
	errors = warm_up(&kenpo, &files, o.nslcd != NULL ? &nslcd : NULL);
	if (o.loop > 0)
		return add_errors(errors, loop_only(&kenpo, o.loop)) == 0 ? 0 : 1;
	errors = add_errors(errors,
			    measure(&o, &kenpo, &files, &libc, o.nslcd != NULL ? &nslcd : NULL));
	if (errors != 0) {
		printf("\nFAILED: %ld wrong answers%s\n", errors < 0 ? 0 : errors,
		       errors < 0 ? " (out of memory)" : "");
		return 1;
	}
	printf("\nall answers checked: right\n");
	return 0;
}
