/*
 * mailer.c - render a society's template, and send it from a bounded pool
 * of mailer threads (see mailer.h).
 *
 * Everything of substance is in the library: kenpo_template_render,
 * kenpo_mail_compose (headers safe by construction) and kenpo_mail_send
 * (libcurl, with the relay's timeout).  This file holds the relay settings
 * for the life of kenpod, the queue and its threads, and makes sure the
 * rendered and composed text, which may carry a key or a temporary
 * password, is wiped on every path.
 *
 * The queue is a list under one mutex.  A job waited for (mailer_send)
 * goes to the front; its waiter and the thread that sends it agree under
 * the mutex on who frees it: the waiter, when the outcome came in time or
 * the job never started (it is then taken out of the queue); the thread,
 * when the waiter has given up on a job in flight.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "config.h"
#include "gen.h"
#include "log.h"
#include "mail.h"
#include "mailer.h"
#include "secret.h"
#include "zone.h"

#define MAILER_VARS_MAX 16
#define URL_MAX 2048
#define ADDR_MAX 256
#define WHAT_MAX 320
#define WAIT_EXTRA_MS 2000 /* beyond smtp_timeout for a waited mail */

struct job {
	struct job *next;
	char *msg; /* the composed message: may hold a secret */
	size_t len;
	char from[ADDR_MAX];
	char to[ADDR_MAX];
	char what[WHAT_MAX]; /* "key to ****@****.jp", for the log */
	int waited;          /* a mailer_send waits for it */
	int started, done, abandoned, result;
};

/* Set by mailer_setup before the workers start, read-only afterwards;
 * the pool's own state is under P.lock. */
static const struct kenpo_config *mcfg;
static struct kenpo_smtp relay;
static int relay_ready;

static struct {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job queued, or stopping */
	pthread_cond_t done; /* a job finished */
	struct job *head, *tail;
	size_t queued;
	size_t held; /* places taken by mails held until an answer is sent */
	pthread_t *threads;
	size_t nthreads;
	int started, stopping;
} P = { PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_COND_INITIALIZER,
	PTHREAD_COND_INITIALIZER,
	NULL,
	NULL,
	0,
	0,
	NULL,
	0,
	0,
	0 };

/* ---- setup ---- */

int
mailer_setup(const struct kenpo_config *cfg, char *errbuf, size_t errsz)
{
	if (kenpo_smtp_from_config(cfg, &relay, errbuf, errsz) != 0)
		return -1;
	/* curl_global_init is not thread-safe: once, here, before threads. */
	if (kenpo_mail_global_init() != 0) {
		kenpo_smtp_clear(&relay);
		snprintf(errbuf, errsz, "libcurl cannot be initialised");
		return -1;
	}
	/* The relay password lives as long as kenpod: keep it out of swap. */
	if (relay.password_owned != NULL &&
	    sodium_mlock(relay.password_owned, strlen(relay.password_owned) + 1) != 0)
		log_msg(LOG_WARNING, "the relay password cannot be locked in memory: %s",
			strerror(errno));
	mcfg = cfg;
	relay_ready = 1;
	return 0;
}

long
mailer_wait_ms(void)
{
	return (mcfg != NULL ? mcfg->smtp_timeout : 10) * 1000 + WAIT_EXTRA_MS;
}

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	kenpo_wipe_free(j->msg, j->len);
	kenpo_wipe(j, sizeof *j);
	free(j);
}

/* ---- the mailer threads ---- */

/* Take the next job, or NULL when stopping and nothing is left.  With
 * P.lock held. */
static struct job *
next_job(void)
{
	struct job *j;

	while (P.head == NULL && !P.stopping)
		pthread_cond_wait(&P.work, &P.lock);
	j = P.head;
	if (j == NULL)
		return NULL;
	P.head = j->next;
	if (P.head == NULL)
		P.tail = NULL;
	P.queued--;
	j->next = NULL;
	j->started = 1;
	return j;
}

static int
deliver(struct job *j)
{
	char err[512] = "";

	log_newrequest();
	log_setrequest("mail %s", j->what);
	if (kenpo_mail_send(&relay, j->from, j->to, j->msg, j->len, err, sizeof err) != 0) {
		log_msg(LOG_ERR, "not sent: %s", err);
		return -1;
	}
	log_msg(j->waited ? LOG_DEBUG : LOG_INFO, "sent");
	return 0;
}

static void *
mailer_thread(void *arg)
{
	struct job *j;
	int rc;

	(void)arg;
	pthread_mutex_lock(&P.lock);
	while ((j = next_job()) != NULL) {
		pthread_mutex_unlock(&P.lock);
		rc = deliver(j);
		/* The wiping of the message need not wait for the waiter. */
		kenpo_wipe_free(j->msg, j->len);
		j->msg = NULL;
		pthread_mutex_lock(&P.lock);
		if (j->waited && !j->abandoned) {
			j->result = rc;
			j->done = 1;
			pthread_cond_broadcast(&P.done);
		} else {
			if (j->abandoned)
				log_msg(LOG_WARNING, "%s: %s after its request stopped waiting",
					j->what, rc == 0 ? "sent" : "failed");
			job_free(j);
			pthread_cond_broadcast(&P.done);
		}
	}
	pthread_mutex_unlock(&P.lock);
	log_clearrequest();
	return NULL;
}

/* Start the threads with the first mail: kenpod forks after setup, and
 * threads do not survive a fork.  With P.lock held.  0 or -1. */
static int
start_threads(void)
{
	size_t i, n = mcfg->mail_threads > 0 ? mcfg->mail_threads : 1;

	if (P.started)
		return P.nthreads > 0 ? 0 : -1;
	P.started = 1;
	P.threads = calloc(n, sizeof *P.threads);
	if (P.threads == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (pthread_create(&P.threads[i], NULL, mailer_thread, NULL) != 0)
			break;
		P.nthreads++;
	}
	if (P.nthreads == 0)
		log_msg(LOG_ERR, "no mailer thread could be started");
	else if (P.nthreads < n)
		log_msg(LOG_WARNING, "%zu of %zu mailer threads started", P.nthreads, n);
	return P.nthreads > 0 ? 0 : -1;
}

/* 0 when the queue has a place for j (held mails count), else -1, logged.
 * With P.lock held. */
static int
queue_room(const struct job *j)
{
	if (P.queued + P.held < mcfg->mail_queue)
		return 0;
	log_msg(LOG_ERR, "%s: the mail queue is full (%zu mails); not sent", j->what,
		P.queued + P.held);
	return -1;
}

/* Put j in the queue (waited jobs first, in their order).  0, or -1 when
 * it is full or no thread runs.  With P.lock held. */
static int
enqueue(struct job *j)
{
	struct job **p;

	if (P.stopping || start_threads() != 0 || queue_room(j) != 0)
		return -1;
	if (j->waited) {
		for (p = &P.head; *p != NULL && (*p)->waited; p = &(*p)->next)
			;
		j->next = *p;
		*p = j;
		if (j->next == NULL)
			P.tail = j;
	} else {
		if (P.tail != NULL)
			P.tail->next = j;
		else
			P.head = j;
		P.tail = j;
	}
	P.queued++;
	pthread_cond_signal(&P.work);
	return 0;
}

/* Take a job that never started out of the queue.  With P.lock held. */
static void
unqueue(struct job *j)
{
	struct job **p, *prev = NULL;

	for (p = &P.head; *p != NULL; prev = *p, p = &(*p)->next) {
		if (*p != j)
			continue;
		*p = j->next;
		if (P.tail == j)
			P.tail = prev;
		P.queued--;
		return;
	}
}

static void
deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Wait for the outcome of a waited job: its result, or -1 when there was
 * none within mailer_wait_ms.  Frees the job, or leaves it to its thread. */
static int
await(struct job *j)
{
	struct timespec until;
	int rc = 0, result;

	deadline_in(&until, mailer_wait_ms());
	pthread_mutex_lock(&P.lock);
	while (!j->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&P.done, &P.lock, &until);
	if (j->done) {
		result = j->result;
		job_free(j);
	} else if (!j->started) {
		log_msg(LOG_ERR, "%s: no mailer thread free within %ld ms; not sent", j->what,
			mailer_wait_ms());
		unqueue(j);
		job_free(j);
		result = -1;
	} else {
		log_msg(LOG_ERR, "%s: the relay did not answer within %ld ms", j->what,
			mailer_wait_ms());
		j->abandoned = 1;
		result = -1;
	}
	pthread_mutex_unlock(&P.lock);
	return result;
}

/* ---- composing ---- */

/* The caller's variables and SOCIETY, into all (MAILER_VARS_MAX). */
static int
add_society(const struct kenpo_society *soc, const struct kenpo_var *vars, size_t nvars,
	    struct kenpo_var *all)
{
	if (nvars + 1 > MAILER_VARS_MAX)
		return -1;
	if (nvars > 0)
		memcpy(all, vars, nvars * sizeof(*vars));
	all[nvars].name = "SOCIETY";
	all[nvars].value = soc->name;
	return 0;
}

/* The message of j: composed from subject and body. 0 or -1 (logged). */
static int
compose(const struct kenpo_society *soc, const char *subject, const char *body, struct job *j)
{
	struct kenpo_mail m = {
		.from_addr = soc->mail_from,
		.from_name = soc->mail_from_name != NULL ? soc->mail_from_name : soc->name,
		.to_addr = j->to,
		.subject = subject,
		.body = body,
		.msgid_domain = mcfg->mail_helo,
		.date = time(NULL),
	};
	char err[512] = "";

	/* Dated in the society's zone, as its members read their mail. */
	m.utc_offset = zone_utc_offset(soc, (int64_t)m.date * 1000);
	if (kenpo_mail_compose(&m, &j->msg, &j->len, err, sizeof err) != 0) {
		log_msg(LOG_ERR, "%s: mail cannot be composed: %s", j->what, err);
		return -1;
	}
	return 0;
}

/* A job for template `kind` to `to`, rendered and composed; NULL after
 * logging why.  The job holds no pointer into soc: a reload may free the
 * request's configuration before the mail goes out (conf.h). */
static struct job *
job_make(const struct kenpo_society *soc, enum kenpo_mail_kind kind, const struct kenpo_var *vars,
	 size_t nvars, const char *to)
{
	struct kenpo_var all[MAILER_VARS_MAX];
	char err[512] = "", masked[ADDR_MAX];
	char *subject = NULL, *body = NULL;
	const char *name = kenpo_mail_kind_name(kind);
	struct job *j = NULL;

	if (!relay_ready || to == NULL || strlen(to) >= ADDR_MAX ||
	    strlen(soc->mail_from) >= ADDR_MAX || add_society(soc, vars, nvars, all) != 0) {
		log_msg(LOG_ERR,
			"%s mail: no relay, or an address or variables kenpod cannot "
			"take",
			name != NULL ? name : "?");
		return NULL;
	}
	if ((j = calloc(1, sizeof *j)) == NULL)
		return NULL;
	if (kenpo_mail_mask(to, masked, sizeof masked) != 0)
		memcpy(masked, "****", 5);
	(void)snprintf(j->what, sizeof j->what, "%s to %s", name != NULL ? name : "?", masked);
	memcpy(j->to, to, strlen(to) + 1);
	memcpy(j->from, soc->mail_from, strlen(soc->mail_from) + 1);
	if (kenpo_template_render(kind, soc->lang, soc->template_dir, all, nvars + 1, &subject,
				  &body, err, sizeof err) != 0) {
		log_msg(LOG_ERR, "mail template: %s", err);
		job_free(j);
		j = NULL;
	} else if (compose(soc, subject, body, j) != 0) {
		job_free(j);
		j = NULL;
	}
	/* A society's template may put any variable in the subject too. */
	kenpo_secret_free(body);
	kenpo_secret_free(subject);
	return j;
}

/* The mails a request worker's thread holds until its answer is sent
 * (mailer_hold): each has its place in the queue already. */
#define HOLD_MAX 8
static _Thread_local struct {
	int active;
	size_t n;
	struct job *jobs[HOLD_MAX];
} hold;

/* Keep j until mailer_release, if this thread holds mails and has room:
 * 1 (kept), 0 (not held here), -1 (the queue is full).  With P.lock held. */
static int
hold_job(struct job *j)
{
	if (!hold.active || hold.n >= HOLD_MAX || j->waited)
		return 0;
	if (P.stopping || queue_room(j) != 0)
		return -1;
	P.held++;
	hold.jobs[hold.n++] = j;
	return 1;
}

/* Hand j to the pool; with `wait`, its outcome. */
static int
submit(struct job *j, int wait)
{
	int rc;

	if (j == NULL)
		return -1;
	j->waited = wait;
	pthread_mutex_lock(&P.lock);
	rc = hold_job(j);
	if (rc == 0)
		rc = enqueue(j);
	else
		rc = rc > 0 ? 0 : -1;
	pthread_mutex_unlock(&P.lock);
	if (rc != 0) {
		job_free(j);
		return -1;
	}
	return wait ? await(j) : 0;
}

void
mailer_compose_only(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
		    const struct kenpo_var *vars, size_t nvars, const char *to)
{
	struct job *j = job_make(soc, kind, vars, nvars, to);

	if (j != NULL)
		job_free(j);
}

void
mailer_hold(void)
{
	hold.active = 1;
}

void
mailer_release(void)
{
	size_t i;

	hold.active = 0;
	if (hold.n == 0)
		return;
	pthread_mutex_lock(&P.lock);
	for (i = 0; i < hold.n; i++) {
		P.held--;
		if (enqueue(hold.jobs[i]) != 0)
			job_free(hold.jobs[i]);
		hold.jobs[i] = NULL;
	}
	pthread_mutex_unlock(&P.lock);
	hold.n = 0;
}

int
mailer_send(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
	    const struct kenpo_var *vars, size_t nvars, const char *to)
{
	return submit(job_make(soc, kind, vars, nvars, to), 1);
}

int
mailer_queue(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
	     const struct kenpo_var *vars, size_t nvars, const char *to)
{
	return submit(job_make(soc, kind, vars, nvars, to), 0);
}

/* ---- links ---- */

/* tmpl with every %%TOKEN%% replaced by token. */
static int
link_of(const char *tmpl, const char *token, char *out, size_t outsz)
{
	static const char mark[] = "%%TOKEN%%";
	const char *p;
	size_t o = 0, n;

	if (tmpl == NULL)
		return -1;
	while ((p = strstr(tmpl, mark)) != NULL) {
		n = (size_t)(p - tmpl);
		if (o + n + KENPO_TOKEN_LEN >= outsz)
			return -1;
		memcpy(out + o, tmpl, n);
		memcpy(out + o + n, token, KENPO_TOKEN_LEN);
		o += n + KENPO_TOKEN_LEN;
		tmpl = p + sizeof mark - 1;
	}
	n = strlen(tmpl);
	if (o + n >= outsz)
		return -1;
	memcpy(out + o, tmpl, n + 1);
	return 0;
}

static int
link_job(const struct kenpo_society *soc, enum kenpo_mail_kind kind, const char *url_tmpl,
	 const char *token, long validity, const struct kenpo_var *extra, size_t nextra,
	 const char *to, int wait)
{
	struct kenpo_var vars[2 + MAILER_LINK_EXTRA_MAX];
	char url[URL_MAX], dur[64];
	size_t n = 0;
	int rc;

	if (link_of(url_tmpl, token, url, sizeof url) != 0 || nextra > MAILER_LINK_EXTRA_MAX ||
	    kenpo_duration_format(soc->lang, validity, dur, sizeof dur) != 0) {
		log_msg(LOG_ERR, "society %.100s: the link cannot be made", soc->id);
		return -1;
	}
	vars[n++] = (struct kenpo_var){ "URL", url };
	vars[n++] = (struct kenpo_var){ "VALIDITY", dur };
	if (nextra > 0)
		memcpy(vars + n, extra, nextra * sizeof(*extra));
	rc = submit(job_make(soc, kind, vars, n + nextra, to), wait);
	/* The URL holds the token. */
	kenpo_wipe(url, sizeof url);
	return rc;
}

int
mailer_send_link(const struct kenpo_society *soc, enum kenpo_mail_kind kind, const char *url_tmpl,
		 const char *token, long validity, const struct kenpo_var *extra, size_t nextra,
		 const char *to)
{
	return link_job(soc, kind, url_tmpl, token, validity, extra, nextra, to, 1);
}

int
mailer_queue_link(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
		  const char *url_tmpl, const char *token, long validity,
		  const struct kenpo_var *extra, size_t nextra, const char *to)
{
	return link_job(soc, kind, url_tmpl, token, validity, extra, nextra, to, 0);
}

/* ---- shutdown ---- */

/* Give the queue smtp_timeout to drain; then drop what is left. */
static void
drain(void)
{
	struct timespec until;
	struct job *j;
	size_t dropped = 0;
	int rc = 0;

	deadline_in(&until, mcfg->smtp_timeout * 1000);
	pthread_mutex_lock(&P.lock);
	P.stopping = 1;
	pthread_cond_broadcast(&P.work);
	while (P.queued > 0 && P.nthreads > 0 && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&P.done, &P.lock, &until);
	while ((j = P.head) != NULL) {
		P.head = j->next;
		if (j->waited) {
			/* Its waiter is still there: tell it, it frees the job. */
			j->next = NULL;
			j->result = -1;
			j->done = 1;
		} else {
			job_free(j);
		}
		dropped++;
	}
	P.tail = NULL;
	P.queued = 0;
	pthread_cond_broadcast(&P.done);
	pthread_mutex_unlock(&P.lock);
	if (dropped > 0)
		log_msg(LOG_WARNING, "%zu queued mails dropped at exit", dropped);
}

void
mailer_cleanup(void)
{
	size_t i;

	if (!relay_ready)
		return;
	if (P.started) {
		drain();
		for (i = 0; i < P.nthreads; i++)
			pthread_join(P.threads[i], NULL);
		free(P.threads);
		P.threads = NULL;
		P.nthreads = 0;
	}
	/* Wiped and unlocked, then freed. */
	if (relay.password_owned != NULL)
		(void)sodium_munlock(relay.password_owned, strlen(relay.password_owned) + 1);
	kenpo_smtp_clear(&relay);
	relay_ready = 0;
}
