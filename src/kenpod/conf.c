/*
 * conf.c - kenpod's configuration and its generations (see conf.h).
 *
 * A generation is swapped in under one lock and counted: readers take a
 * hold for the length of a request, so an old generation is freed by
 * whoever drops its last hold, and a reload never waits for requests.
 */
#include "autoconfig.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "conf.h"
#include "config.h"
#include "localname.h"
#include "log.h"
#include "zone.h"

struct generation {
	struct kenpod kd;           /* first: requests see this */
	struct kenpo_config *owned; /* its configuration, unless the start-up one */
	unsigned long holds;        /* under gen_lock */
	unsigned long number;       /* 1 at start-up, then one per reload */
	int flush;                  /* replaced: flush the cache when it ends */
	struct generation *next_live;
};

static pthread_mutex_t gen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct generation *current; /* under gen_lock */
static struct generation *live;    /* every one held, under gen_lock */
/* One reload at a time, whichever worker of the control lane runs it. */
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
/* Set by conf_begin before the threads start, read-only afterwards. */
static char conf_path[PATH_MAX];
static int conf_force_debug;

/*
 * What kenpod takes only at start-up: the socket and the user (bound and
 * become before anything else), the files read as root (secret,
 * passwords), the directory and relay settings that myldap.c and mailer.c
 * keep (the write providers among them), the argon2 cost of auth.c's fake
 * hash and its regions (pwhash.h), the workers of each lane, the cache's
 * size and lifetimes, and the passwd map that follow.c keeps in step with
 * the directory.
 */
static const char *const start_only[] = {
	"socket",
	"user",
	"secret_file",
	"ldap_uri",
	"bind_dn",
	"bind_password_file",
	"ldap_ca_file",
	"ldap_timeout",
	"smtp_url",
	"smtp_tls",
	"smtp_user",
	"smtp_password_file",
	"smtp_ca_file",
	"smtp_timeout",
	"mail_domain",
	"argon2_t",
	"argon2_m",
	"hash_workers",
	"threads",
	"nss_threads",
	"selfservice_threads",
	"control_threads",
	"cache_size",
	"cache_positive_ttl",
	"cache_negative_ttl",
	"passwd_map",
	"write_uri",
	"write_failover",
	"write_failback_interval",
};

/* Of the first society: auth.c answers unknown login IDs in its language
 * and counts their failures by its lockout, as it does for every member
 * (an answer must not tell whether a login ID exists), from the
 * configuration it was given at start-up. */
static const char *const first_society_only[] = {
	"language",
	"lockout_failures",
	"lockout_duration",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- reading and checking ---- */

/* A member is never a local account: no society's uids may be the host's
 * own (localname.h). */
static int
check_uid_ranges(const struct kenpo_config *cfg, char *err, size_t errsz)
{
	const struct kenpo_society *s;
	char why[256];
	size_t i;

	for (i = 0; i < cfg->nsocieties; i++) {
		s = &cfg->societies[i];
		if (kenpo_host_range_clear(s->uid_min, s->uid_max, NULL, NULL, why, sizeof why) !=
		    0) {
			snprintf(err, errsz, "%s: [society %s] uid_min..uid_max %lu..%lu %s",
				 cfg->path, s->id, s->uid_min, s->uid_max, why);
			return -1;
		}
	}
	return 0;
}

/* Checks beyond the file's syntax that only kenpod needs. */
static int
check_config(const struct kenpo_config *cfg, char *err, size_t errsz)
{
	if (cfg->nsocieties == 0) {
		snprintf(err, errsz, "%s: no [society NAME] section", cfg->path);
		return -1;
	}
	if (cfg->bind_dn != NULL && cfg->bind_dn[0] != '\0' &&
	    (cfg->bind_password_file == NULL || cfg->bind_password_file[0] == '\0')) {
		/* A simple bind with an empty password is an anonymous bind. */
		snprintf(err, errsz, "%s: bind_password_file: required with bind_dn", cfg->path);
		return -1;
	}
	if (cfg->max_connections_portal < cfg->max_connections_per_uid) {
		snprintf(err, errsz,
			 "%s: max_connections_portal: less than "
			 "max_connections_per_uid (%u)",
			 cfg->path, cfg->max_connections_per_uid);
		return -1;
	}
	return check_uid_ranges(cfg, err, errsz);
}

int
conf_read(const char *path, struct kenpo_config **out, char *err, size_t errsz)
{
	struct kenpo_config *cfg = NULL;

	if (kenpo_config_load(path, geteuid(), &cfg, err, errsz) != 0)
		return -1;
	if (check_config(cfg, err, errsz) != 0) {
		kenpo_config_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

int
conf_portal_group(const struct kenpo_config *cfg, struct kenpod *kd, char *err, size_t errsz)
{
	const char *name = cfg->portal_group;
	struct group *gr;

	kd->have_portal_gid = 0;
	if (name == NULL || name[0] == '\0')
		return 0;
	errno = 0;
	gr = getgrnam(name);
	if (gr == NULL) {
		snprintf(err, errsz, "portal_group: %.100s: %s", name,
			 errno != 0 ? strerror(errno) : "no such group");
		return -1;
	}
	kd->portal_gid = gr->gr_gid;
	kd->have_portal_gid = 1;
	return 0;
}

/* ---- generations ---- */

static struct generation *
generation_of(const struct kenpod *kd)
{
	/* kd is the first member of its generation. */
	return (struct generation *)(void *)(uintptr_t)kd;
}

static void
generation_free(struct generation *g)
{
	/* Records looked up with the old settings while the new ones came
	 * in must not outlive the old ones. */
	if (g->flush)
		cache_flush(g->kd.cache);
	kenpo_config_free(g->owned);
	free(g);
}

int
conf_begin(const struct kenpod *first, const char *path, int force_debug)
{
	struct generation *g = calloc(1, sizeof *g);
	char cwd[PATH_MAX];
	int n;

	if (path == NULL)
		path = KENPO_CONFIG_PATH;
	/* kenpod changes to / when it detaches: a relative path must still
	 * name the same file when SIGHUP reads it again. */
	if (path[0] == '/')
		n = snprintf(conf_path, sizeof conf_path, "%s", path);
	else if (getcwd(cwd, sizeof cwd) != NULL)
		n = snprintf(conf_path, sizeof conf_path, "%s/%s", cwd, path);
	else
		n = -1;
	if (g == NULL || n < 0 || (size_t)n >= sizeof conf_path) {
		free(g);
		return -1;
	}
	conf_force_debug = force_debug;
	g->kd = *first;
	g->holds = 1; /* being current is a hold */
	g->number = 1;
	current = live = g;
	return 0;
}

void
conf_end(void)
{
	struct generation *g;

	pthread_mutex_lock(&gen_lock);
	g = current;
	current = NULL;
	pthread_mutex_unlock(&gen_lock);
	if (g != NULL)
		conf_release(&g->kd);
}

const struct kenpod *
conf_hold(void)
{
	struct generation *g;

	pthread_mutex_lock(&gen_lock);
	g = current;
	g->holds++;
	pthread_mutex_unlock(&gen_lock);
	return &g->kd;
}

const struct kenpod *
conf_hold_same(const struct kenpod *kd)
{
	pthread_mutex_lock(&gen_lock);
	generation_of(kd)->holds++;
	pthread_mutex_unlock(&gen_lock);
	return kd;
}

const struct kenpod *
conf_hold_society(const struct kenpo_society *soc)
{
	uintptr_t p = (uintptr_t)soc, first;
	struct generation *g;

	pthread_mutex_lock(&gen_lock);
	for (g = live; g != NULL; g = g->next_live) {
		first = (uintptr_t)g->kd.cfg->societies;
		if (p >= first && p < first + g->kd.cfg->nsocieties * sizeof(*soc)) {
			g->holds++;
			break;
		}
	}
	pthread_mutex_unlock(&gen_lock);
	return g != NULL ? &g->kd : NULL;
}

/* Take g off the list of live generations (under gen_lock). */
static void
unlink_live(struct generation *g)
{
	struct generation **p;

	for (p = &live; *p != NULL; p = &(*p)->next_live) {
		if (*p == g) {
			*p = g->next_live;
			return;
		}
	}
}

void
conf_release(const struct kenpod *kd)
{
	struct generation *g;
	int last;

	if (kd == NULL)
		return;
	g = generation_of(kd);
	pthread_mutex_lock(&gen_lock);
	last = --g->holds == 0;
	if (last)
		unlink_live(g);
	pthread_mutex_unlock(&gen_lock);
	if (last)
		generation_free(g);
}

/* Make g current in place of old, which the caller holds; old ends with
 * its last request.  Returns g's number. */
static unsigned long
publish(struct generation *g, const struct kenpod *old_kd)
{
	struct generation *old = generation_of(old_kd);
	unsigned long number;

	pthread_mutex_lock(&gen_lock);
	number = g->number = old->number + 1;
	g->holds = 1;
	current = g;
	g->next_live = live;
	live = g;
	/* Holds beyond being current and the caller's are requests in
	 * flight: records they put in the cache after the caller flushes it
	 * were made with the old settings. */
	old->flush = old->holds > 2;
	pthread_mutex_unlock(&gen_lock);
	conf_release(&old->kd);
	return number;
}

/* ---- reload ---- */

static int
keep_kenpod(struct kenpo_config *cfg, const struct kenpo_config *old, char *err, size_t errsz)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(start_only); i++) {
		/* -1: a key this build does not have. */
		if (kenpo_config_same(cfg, old, start_only[i]) != 0)
			continue;
		log_msg(LOG_WARNING,
			"SIGHUP: [kenpod] %s changed: it takes effect when kenpod "
			"restarts; the value in use stays",
			start_only[i]);
		if (kenpo_config_keep(cfg, old, start_only[i]) != 0) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
	}
	return 0;
}

static int
keep_society(struct kenpo_society *s, const struct kenpo_society *old, const char *key, char *err,
	     size_t errsz)
{
	if (kenpo_society_same(s, old, key) != 0)
		return 0;
	log_msg(LOG_WARNING,
		"SIGHUP: [society %s] %s changed: it takes effect when kenpod "
		"restarts; the value in use stays",
		s->id, key);
	if (kenpo_society_keep(s, old, key) == 0)
		return 0;
	snprintf(err, errsz, "out of memory");
	return -1;
}

/* The first society stays first, with its language and lockout; every
 * society keeps its time zone, and a new one needs a zone already known. */
static int
keep_societies(struct kenpo_config *cfg, const struct kenpo_config *old, char *err, size_t errsz)
{
	const struct kenpo_society *was;
	struct kenpo_society *s;
	size_t i;

	if (strcmp(cfg->societies[0].id, old->societies[0].id) != 0) {
		snprintf(err, errsz,
			 "%s: [society %s] must stay the first society: its "
			 "language and lockout apply to unknown login IDs (a restart can change "
			 "it)",
			 cfg->path, old->societies[0].id);
		return -1;
	}
	for (i = 0; i < ARRAY_SIZE(first_society_only); i++)
		if (keep_society(&cfg->societies[0], &old->societies[0], first_society_only[i],
				 err, errsz) != 0)
			return -1;
	for (i = 0; i < cfg->nsocieties; i++) {
		s = &cfg->societies[i];
		was = kenpo_config_society(old, s->id);
		if (was != NULL && keep_society(s, was, "timezone", err, errsz) != 0)
			return -1;
		if (!zone_known(s->timezone)) {
			snprintf(err, errsz,
				 "%s: [society %s] timezone: %.100s is used by no "
				 "society kenpod started with (a restart can add it)",
				 cfg->path, s->id, s->timezone);
			return -1;
		}
	}
	return 0;
}

static struct generation *
generation_new(struct kenpo_config *cfg, const struct kenpod *old, char *err, size_t errsz)
{
	struct generation *g;

	if (keep_kenpod(cfg, old->cfg, err, errsz) != 0 ||
	    keep_societies(cfg, old->cfg, err, errsz) != 0)
		return NULL;
	g = calloc(1, sizeof *g);
	if (g == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	g->kd = *old;
	g->kd.cfg = cfg;
	if (conf_portal_group(cfg, &g->kd, err, errsz) != 0) {
		free(g);
		return NULL;
	}
	g->owned = cfg;
	return g;
}

static void (*reload_hook)(void *);
static void *reload_hook_arg;

void
conf_on_reload(void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&reload_lock);
	reload_hook = fn;
	reload_hook_arg = arg;
	pthread_mutex_unlock(&reload_lock);
}

void
conf_reload(void)
{
	const struct kenpod *old;
	struct kenpo_config *cfg = NULL;
	struct generation *g = NULL;
	unsigned long number = 0;
	char err[512] = "";

	pthread_mutex_lock(&reload_lock);
	old = conf_hold();
	log_msg(LOG_INFO, "SIGHUP: reading %.200s", conf_path);
	if (conf_read(conf_path, &cfg, err, sizeof err) != 0 ||
	    (g = generation_new(cfg, old, err, sizeof err)) == NULL) {
		log_msg(LOG_ERR, "SIGHUP: %s; the configuration in use stays", err);
		kenpo_config_free(cfg);
	} else {
		log_set_debug(conf_force_debug || strcmp(cfg->log_level, "debug") == 0);
		number = publish(g, old);
	}
	/* After the new settings are in place, so that no record made with
	 * the old ones stays; and whether the file was good or not, as
	 * SIGHUP always did. */
	cache_flush(old->cache);
	if (number > 0 && reload_hook != NULL)
		reload_hook(reload_hook_arg);
	if (number > 0)
		log_msg(LOG_INFO, "SIGHUP: configuration %lu in use, cache flushed", number);
	else
		log_msg(LOG_INFO, "SIGHUP: cache flushed");
	conf_release(old);
	pthread_mutex_unlock(&reload_lock);
}
