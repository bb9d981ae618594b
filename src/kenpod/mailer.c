/*
 * mailer.c - render a society's template and send it (see mailer.h).
 *
 * Everything of substance is in the library: kenpo_template_render,
 * kenpo_mail_compose (headers safe by construction) and kenpo_mail_send
 * (libcurl).  This file holds the relay settings for the life of kenpod
 * and makes sure the rendered text, which may carry a key or a temporary
 * password, is wiped on every path.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "config.h"
#include "gen.h"
#include "log.h"
#include "mail.h"
#include "mailer.h"
#include "secret.h"
#include "zone.h"

#define MAILER_VARS_MAX 16
#define URL_MAX 2048

/* Set by mailer_setup before the workers start, read-only afterwards. */
static const struct kenpo_config *mcfg;
static struct kenpo_smtp relay;
static int relay_ready;

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
	mcfg = cfg;
	relay_ready = 1;
	return 0;
}

static void queue_drain(void);

void
mailer_cleanup(void)
{
	queue_drain();
	if (relay_ready)
		kenpo_smtp_clear(&relay);
	relay_ready = 0;
}

/* The caller's variables and SOCIETY, into all (MAILER_VARS_MAX). */
static int
add_society(const struct kenpo_society *soc, const struct kenpo_var *vars,
	    size_t nvars, struct kenpo_var *all)
{
	if (nvars + 1 > MAILER_VARS_MAX)
		return -1;
	if (nvars > 0)
		memcpy(all, vars, nvars * sizeof(*vars));
	all[nvars].name = "SOCIETY";
	all[nvars].value = soc->name;
	return 0;
}

static int
compose_and_send(const struct kenpo_society *soc, const char *subject,
		 const char *body, const char *to)
{
	struct kenpo_mail m = {
		.from_addr = soc->mail_from,
		.from_name = soc->mail_from_name != NULL ? soc->mail_from_name : soc->name,
		.to_addr = to,
		.subject = subject,
		.body = body,
		.msgid_domain = mcfg->mail_helo,
		.date = time(NULL),
	};
	char err[512] = "";
	char *msg = NULL;
	size_t len = 0;
	int rc = -1;

	/* Dated in the society's zone, as its members read their mail. */
	m.utc_offset = zone_utc_offset(soc, (int64_t)m.date * 1000);
	if (kenpo_mail_compose(&m, &msg, &len, err, sizeof err) != 0) {
		log_msg(LOG_ERR, "mail cannot be composed: %s", err);
		goto done;
	}
	if (kenpo_mail_send(&relay, soc->mail_from, to, msg, len, err, sizeof err) != 0) {
		log_msg(LOG_ERR, "%s", err);
		goto done;
	}
	rc = 0;
done:
	kenpo_wipe_free(msg, len);
	return rc;
}

int
mailer_send(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
	    const struct kenpo_var *vars, size_t nvars, const char *to)
{
	struct kenpo_var all[MAILER_VARS_MAX];
	char err[512] = "";
	char *subject = NULL, *body = NULL;
	int rc = -1;

	if (!relay_ready) {
		log_msg(LOG_ERR, "no mail relay configured");
		return -1;
	}
	if (add_society(soc, vars, nvars, all) != 0) {
		log_msg(LOG_ERR, "too many template variables");
		return -1;
	}
	if (kenpo_template_render(kind, soc->lang, soc->template_dir, all, nvars + 1,
				  &subject, &body, err, sizeof err) != 0) {
		log_msg(LOG_ERR, "mail template: %s", err);
		goto done;
	}
	rc = compose_and_send(soc, subject, body, to);
done:
	/* A society's template may put any variable in the subject too. */
	kenpo_secret_free(body);
	kenpo_secret_free(subject);
	return rc;
}

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

int
mailer_send_link(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
		 const char *url_tmpl, const char *token, long validity,
		 const struct kenpo_var *extra, size_t nextra, const char *to)
{
	struct kenpo_var vars[2 + MAILER_LINK_EXTRA_MAX];
	char url[URL_MAX], dur[64];
	size_t n = 0;

	if (link_of(url_tmpl, token, url, sizeof url) != 0 || nextra > MAILER_LINK_EXTRA_MAX ||
	    kenpo_duration_format(soc->lang, validity, dur, sizeof dur) != 0) {
		log_msg(LOG_ERR, "society %.100s: the link cannot be made", soc->id);
		return -1;
	}
	vars[n++] = (struct kenpo_var){ "URL", url };
	vars[n++] = (struct kenpo_var){ "VALIDITY", dur };
	if (nextra > 0)
		memcpy(vars + n, extra, nextra * sizeof(*extra));
	return mailer_send(soc, kind, vars, n + nextra, to);
}

/* ---- queued mails ----
 * stand-in until the mailer queue lands: one detached thread per mail, at
 * most QUEUE_MAX at once (more are sent before the answer), and
 * mailer_cleanup waits for those in flight. */

#define QUEUE_MAX 64

struct queued {
	/* soc is of the configuration the request had; a reload may replace
	 * it before the mail is sent, so the mail holds it (conf.h). */
	const struct kenpod *conf;
	const struct kenpo_society *soc;
	enum kenpo_mail_kind kind;
	size_t nvars;
	struct kenpo_var vars[MAILER_VARS_MAX];
	char *to;
};

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_idle = PTHREAD_COND_INITIALIZER;
static unsigned queue_busy;

static void
queued_free(struct queued *q)
{
	size_t i;

	for (i = 0; i < q->nvars; i++) {
		kenpo_secret_free((char *)(uintptr_t)q->vars[i].value);
		free((char *)(uintptr_t)q->vars[i].name);
	}
	free(q->to);
	conf_release(q->conf);
	free(q);
}

static void *
queued_send(void *arg)
{
	struct queued *q = arg;

	(void)mailer_send(q->soc, q->kind, q->vars, q->nvars, q->to);
	queued_free(q);
	pthread_mutex_lock(&queue_lock);
	if (--queue_busy == 0)
		pthread_cond_broadcast(&queue_idle);
	pthread_mutex_unlock(&queue_lock);
	return NULL;
}

static struct queued *
queued_new(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
	   const struct kenpo_var *vars, size_t nvars, const char *to)
{
	struct queued *q = calloc(1, sizeof(*q));
	size_t i;
	int bad;

	if (q == NULL)
		return NULL;
	q->conf = conf_hold_society(soc);
	q->soc = soc;
	q->kind = kind;
	q->to = strdup(to);
	bad = q->to == NULL || nvars >= MAILER_VARS_MAX;
	for (i = 0; !bad && i < nvars; i++) {
		q->nvars = i + 1;
		q->vars[i].name = strdup(vars[i].name);
		q->vars[i].value = strdup(vars[i].value != NULL ? vars[i].value : "");
		bad = q->vars[i].name == NULL || q->vars[i].value == NULL;
	}
	if (bad) {
		queued_free(q);
		return NULL;
	}
	return q;
}

int
mailer_queue(const struct kenpo_society *soc, enum kenpo_mail_kind kind,
	     const struct kenpo_var *vars, size_t nvars, const char *to)
{
	struct queued *q = queued_new(soc, kind, vars, nvars, to);
	pthread_attr_t attr;
	pthread_t t;
	int started = 0;

	if (q == NULL) {
		log_msg(LOG_ERR, "a mail cannot be queued: out of memory");
		return -1;
	}
	pthread_mutex_lock(&queue_lock);
	if (queue_busy < QUEUE_MAX && pthread_attr_init(&attr) == 0) {
		if (pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
		    pthread_create(&t, &attr, queued_send, q) == 0) {
			queue_busy++;
			started = 1;
		}
		pthread_attr_destroy(&attr);
	}
	pthread_mutex_unlock(&queue_lock);
	if (!started) {
		(void)mailer_send(q->soc, q->kind, q->vars, q->nvars, q->to);
		queued_free(q);
	}
	return 0;
}

/* Wait for the mails in flight (mailer_cleanup). */
static void
queue_drain(void)
{
	pthread_mutex_lock(&queue_lock);
	while (queue_busy > 0)
		pthread_cond_wait(&queue_idle, &queue_lock);
	pthread_mutex_unlock(&queue_lock);
}
