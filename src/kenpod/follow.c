/*
 * follow.c - the follower thread (see follow.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "conf.h"
#include "config.h"
#include "follow.h"
#include "log.h"
#include "myldap.h"
#include "passwd.h"
#include "pubmap.h"
#include "syncrepl.h"

#define POLL_MS 250 /* how soon a stop is seen */
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 5000
/* A directory without syncprov is asked again this seldom. */
#define NO_SYNC_RETRY_MS 60000

struct follow {
	struct kenpod *kd; /* its map and cache; the connection settings */
	const char *password;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stopping;
	int reread;   /* a reload asked for a new reading */
	int reported; /* the directory's absence was logged */
};

/* Sleep ms, or until stopped.  1 when stopping. */
static int
pause_ms(struct follow *f, int64_t ms)
{
	struct timespec until;
	int stop;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&f->lock);
	while (!f->stopping && pthread_cond_timedwait(&f->wake, &f->lock, &until) == 0)
		;
	stop = f->stopping;
	pthread_mutex_unlock(&f->lock);
	return stop;
}

static int
stopping(struct follow *f)
{
	int stop;

	pthread_mutex_lock(&f->lock);
	stop = f->stopping;
	pthread_mutex_unlock(&f->lock);
	return stop;
}

/* Stopping, or a reload wants the map made again: the reading ends. */
static int
ending(struct follow *f)
{
	int end;

	pthread_mutex_lock(&f->lock);
	end = f->stopping || f->reread;
	pthread_mutex_unlock(&f->lock);
	return end;
}

/* ---- one reading of the directory ---- */

struct reading {
	struct follow *f;
	const struct kenpo_config *cfg; /* of the generation the reading holds */
	const char **bases;             /* each society's base */
	struct mapfile *building;       /* until the refresh is complete */
	size_t refreshing;              /* bases whose refresh is not done */
	int64_t started;
	size_t seen; /* entries read during the refresh */
};

/* Apply an entry's new state: into the file being built, or the published. */
static void
apply_entry(struct reading *r, const struct kenpo_sync_event *ev)
{
	const struct kenpo_config *cfg = r->cfg;
	_Alignas(struct kenpo_pwrec) unsigned char buf[KENPO_PWREC_MAX];
	struct kenpo_pwrec *rec = (struct kenpo_pwrec *)(void *)buf;
	struct myldap_entry e = { ev->dn, ev->values };
	const char *why = NULL;
	int user;

	user = passwd_entry_rec(&cfg->societies[ev->base], &e, rec, sizeof buf, &why) == 0;
	if (!user && why != NULL)
		passwd_log_bad_entry(&e, why);
	if (r->building == NULL) {
		if (user)
			pubmap_put(r->f->kd->map, ev->uuid, rec);
		else
			pubmap_drop(r->f->kd->map, ev->uuid);
		return;
	}
	r->seen++;
	if (user ? pubmap_file_put(&r->building, ev->uuid, rec) == MAPFILE_ERROR :
		   mapfile_drop(r->building, ev->uuid) == MAPFILE_ERROR)
		log_msg(LOG_ERR, "%.200s could not be stored", ev->dn);
}

/* A base is read whole; when all are, the new file replaces the old. */
static void
refreshed(struct reading *r)
{
	struct kenpod *kd = r->f->kd;
	size_t n;

	if (r->building == NULL || --r->refreshing > 0)
		return;
	n = mapfile_count(r->building);
	if (pubmap_publish(kd->map, r->building) == 0) {
		/* Answers cached while there was no map may be older than it. */
		cache_flush(kd->cache);
		log_msg(LOG_INFO,
			"%zu members of %zu entries read in %.1f s, "
			"following the directory",
			n, r->seen, (double)(kenpo_now_ms() - r->started) / 1000.0);
	}
	r->building = NULL;
}

static void
apply(struct reading *r, const struct kenpo_sync_event *ev)
{
	switch (ev->kind) {
	case KENPO_SYNC_ENTRY:
		apply_entry(r, ev);
		break;
	case KENPO_SYNC_GONE:
		if (r->building != NULL)
			(void)mapfile_drop(r->building, ev->uuid);
		else
			pubmap_drop(r->f->kd->map, ev->uuid);
		break;
	case KENPO_SYNC_REFRESHED:
		if (ev->missing)
			log_msg(LOG_WARNING, "search base %.200s does not exist",
				r->bases[ev->base]);
		refreshed(r);
		break;
	}
}

/* Read events until the connection ends or kenpod stops.  An LDAP code. */
static int
read_events(struct reading *r, struct kenpo_sync *s)
{
	struct kenpo_sync_event ev;
	int rc;

	while (!ending(r->f)) {
		rc = kenpo_sync_next(s, POLL_MS, &ev);
		if (rc == LDAP_TIMEOUT)
			continue;
		if (rc != LDAP_SUCCESS)
			return rc;
		apply(r, &ev);
		kenpo_sync_event_clear(&ev);
	}
	return LDAP_SUCCESS;
}

/* Log why following stopped, once per outage. */
static void
report(struct follow *f, int rc, const char *what)
{
	const struct kenpo_config *cfg = f->kd->cfg;

	if (rc == LDAP_UNAVAILABLE_CRITICAL_EXTENSION) {
		log_msg(LOG_ERR,
			"%.200s does not serve content synchronisation "
			"(load slapd's syncprov overlay on the members' database); members are "
			"looked up in the directory one by one",
			cfg->ldap_uri);
		return;
	}
	if (!f->reported)
		log_msg(LOG_WARNING, "%s %.200s: %.300s; trying again", what, cfg->ldap_uri,
			kenpo_sync_error(rc));
	f->reported = 1;
}

/* One connection: read the directory whole, then follow it, with the
 * societies and their settings of the configuration current when it
 * starts (the connection's own settings are taken only at start-up, so
 * they are the same in every configuration).  An LDAP code; *worked when
 * the reading was complete. */
static int
session(struct follow *f, int *worked)
{
	const struct kenpod *g = conf_hold();
	const struct kenpo_config *cfg = g->cfg;
	struct kenpo_ldap_params p = {
		.uri = cfg->ldap_uri,
		.bind_dn = cfg->bind_dn,
		.password = f->password,
		.ca_file = cfg->ldap_ca_file,
		.timeout = cfg->ldap_timeout,
	};
	struct reading r = { f, cfg, NULL, NULL, cfg->nsocieties, kenpo_now_ms(), 0 };
	struct kenpo_sync *s = NULL;
	char err[600];
	size_t i;
	int rc;

	pthread_mutex_lock(&f->lock);
	f->reread = 0;
	pthread_mutex_unlock(&f->lock);
	r.bases = calloc(cfg->nsocieties, sizeof(*r.bases));
	r.building = r.bases != NULL ? pubmap_new_file(f->kd->map, err, sizeof err) : NULL;
	if (r.building == NULL) {
		log_msg(LOG_ERR, "%s", r.bases != NULL ? err : "out of memory");
		rc = LDAP_NO_MEMORY;
		goto done;
	}
	for (i = 0; i < cfg->nsocieties; i++)
		r.bases[i] = cfg->societies[i].base;
	rc = kenpo_sync_open(&p, r.bases, cfg->nsocieties, PASSWD_SYNC_FILTER, passwd_attrs, &s,
			     err, sizeof err);
	if (rc != LDAP_SUCCESS) {
		if (!f->reported && rc != LDAP_UNAVAILABLE_CRITICAL_EXTENSION)
			log_msg(LOG_WARNING, "%.500s; trying again", err);
		f->reported = 1;
		goto done;
	}
	f->reported = 0;
	rc = read_events(&r, s);
	*worked = r.building == NULL;
	if (rc != LDAP_SUCCESS)
		report(f, rc, *worked ? "lost" : "cannot read");
done:
	mapfile_free(r.building);
	kenpo_sync_free(s);
	free(r.bases);
	conf_release(g);
	return rc;
}

static void *
follow_main(void *arg)
{
	struct follow *f = arg;
	int64_t wait = BACKOFF_FIRST_MS;
	int rc, worked;

	log_newrequest();
	log_setrequest("passwd map");
	while (!stopping(f)) {
		worked = 0;
		rc = session(f, &worked);
		pubmap_in_sync(f->kd->map, 0);
		if (rc == LDAP_SUCCESS && !stopping(f)) {
			/* A reload: read again at once, with its settings. */
			wait = BACKOFF_FIRST_MS;
			continue;
		}
		if (worked)
			wait = BACKOFF_FIRST_MS;
		if (pause_ms(f,
			     rc == LDAP_UNAVAILABLE_CRITICAL_EXTENSION ? NO_SYNC_RETRY_MS : wait))
			break;
		wait = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait * 2;
	}
	log_clearrequest();
	return NULL;
}

int
follow_start(struct kenpod *kd, const char *bind_password, struct follow **out)
{
	struct follow *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	if (f == NULL)
		return -1;
	f->kd = kd;
	f->password = bind_password != NULL ? bind_password : "";
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&ca);
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->wake, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals go to the main thread, never into a call of libldap. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&f->thread, NULL, follow_main, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_msg(LOG_ERR, "cannot start the passwd map's follower: %s", strerror(rc));
		pthread_cond_destroy(&f->wake);
		pthread_mutex_destroy(&f->lock);
		free(f);
		return -1;
	}
	*out = f;
	return 0;
}

void
follow_stop(struct follow *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = 1;
	pthread_cond_broadcast(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void
follow_reread(void *arg)
{
	struct follow *f = arg;

	pthread_mutex_lock(&f->lock);
	f->reread = 1;
	pthread_cond_broadcast(&f->wake);
	pthread_mutex_unlock(&f->lock);
}
