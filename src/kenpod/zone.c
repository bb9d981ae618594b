/*
 * zone.c - the societies' local time (see zone.h).
 *
 * localtime_r follows the process's TZ, and changing TZ while workers run
 * is a data race (getenv in other threads, libraries calling tzset).  So
 * zone_setup, before any thread starts, sets TZ to each society's zone
 * once and records its UTC offsets from 1970 to 2100: one localtime_r a
 * day, and a bisection to the second wherever the offset changes.  The
 * workers then only look the offset up and call gmtime_r.  Asia/Tokyo has
 * had one offset since 1951.
 *
 * Zones are found by name, not by the society's place in the
 * configuration, so that the societies of a configuration kenpod reloads
 * (conf.h) find the zones learnt at start-up.  A reload cannot learn new
 * ones: setting TZ is only safe before the threads start.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "zone.h"

struct zone {
	const char *name; /* the society's `timezone` */
	size_t n;
	int64_t *at; /* the offset off[i] applies from at[i] */
	long *off;
};

/* Set by zone_setup before the workers start, read-only afterwards. */
static struct {
	const struct kenpo_config *cfg;
	struct zone *zones; /* one per society of cfg */
} Z;

#define ZONE_FROM 0LL
#define ZONE_TO 4102444800LL /* 2100-01-01 */
#define ZONE_STEP 86400LL

static long
local_offset(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	return tm.tm_gmtoff;
}

static int
zone_push(struct zone *z, int64_t at, long off)
{
	int64_t *a = realloc(z->at, (z->n + 1) * sizeof(*a));
	long *o;

	if (a == NULL)
		return -1;
	z->at = a;
	o = realloc(z->off, (z->n + 1) * sizeof(*o));
	if (o == NULL)
		return -1;
	z->off = o;
	z->at[z->n] = at;
	z->off[z->n] = off;
	z->n++;
	return 0;
}

/* The offsets of the zone TZ names now. */
static int
zone_scan(struct zone *z)
{
	int64_t t, lo, hi, mid;
	long cur = local_offset(ZONE_FROM), next;

	if (zone_push(z, INT64_MIN, cur) != 0)
		return -1;
	for (t = ZONE_FROM; t < ZONE_TO; t += ZONE_STEP) {
		next = local_offset(t + ZONE_STEP);
		if (next == cur)
			continue;
		for (lo = t, hi = t + ZONE_STEP; hi - lo > 1;) {
			mid = lo + (hi - lo) / 2;
			if (local_offset(mid) == cur)
				lo = mid;
			else
				hi = mid;
		}
		if (zone_push(z, hi, next) != 0)
			return -1;
		cur = next;
	}
	return 0;
}

static int
zone_build(const char *name, struct zone *z)
{
	const char *env = getenv("TZ");
	char *saved = env != NULL ? strdup(env) : NULL;
	char tz[300];
	int rc = -1;

	if (env != NULL && saved == NULL)
		return -1;
	/* The leading colon: a file name under the zoneinfo directory. */
	if (snprintf(tz, sizeof tz, ":%s", name) >= (int)sizeof tz || setenv("TZ", tz, 1) != 0)
		goto done;
	tzset();
	rc = zone_scan(z);
done:
	if (saved != NULL)
		(void)setenv("TZ", saved, 1);
	else
		(void)unsetenv("TZ");
	tzset();
	free(saved);
	return rc;
}

static long
zone_offset(const struct zone *z, int64_t t)
{
	size_t lo = 0, hi = z->n;

	/* The last entry that starts at or before t (the first starts at
	 * INT64_MIN). */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (z->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->off[lo];
}

static const struct zone *
zone_find(const char *name)
{
	size_t i;

	for (i = 0; Z.zones != NULL && i < Z.cfg->nsocieties; i++)
		if (strcmp(Z.zones[i].name, name) == 0)
			return &Z.zones[i];
	return NULL;
}

int
zone_known(const char *name)
{
	return zone_find(name) != NULL;
}

int
zone_format_local(const struct kenpo_society *soc, int64_t t, char *out, size_t outsz)
{
	const struct zone *z = zone_find(soc->timezone);
	time_t local;
	struct tm tm;

	if (z == NULL)
		return -1;
	local = (time_t)(t / 1000 + zone_offset(z, t / 1000));
	if (gmtime_r(&local, &tm) == NULL || strftime(out, outsz, "%Y/%m/%d %H:%M:%S", &tm) == 0)
		return -1;
	return 0;
}

long
zone_utc_offset(const struct kenpo_society *soc, int64_t t)
{
	return zone_offset(&Z.zones[soc - Z.cfg->societies], t / 1000);
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int64_t
zone_date_end(const struct kenpo_society *soc, const char *date)
{
	const struct zone *z = &Z.zones[soc - Z.cfg->societies];
	int y, m, d;
	int64_t local;

	if (date == NULL || kenpo_date_parse(date, &y, &m, &d) != 0)
		return 0;
	local = (days_from_civil(y, m, d) + 1) * 86400;
	/* The offset at that moment, found from the local time itself. */
	return (local - zone_offset(z, local - zone_offset(z, local))) * 1000;
}

void
zone_cleanup(void)
{
	size_t i;

	if (Z.zones == NULL)
		return;
	for (i = 0; i < Z.cfg->nsocieties; i++) {
		free(Z.zones[i].at);
		free(Z.zones[i].off);
	}
	free(Z.zones);
	Z.zones = NULL;
}

int
zone_setup(const struct kenpo_config *cfg, char *errbuf, size_t errsz)
{
	size_t i;

	Z.cfg = cfg;
	Z.zones = calloc(cfg->nsocieties, sizeof(*Z.zones));
	if (Z.zones == NULL) {
		snprintf(errbuf, errsz, "out of memory");
		return -1;
	}
	for (i = 0; i < cfg->nsocieties; i++) {
		Z.zones[i].name = cfg->societies[i].timezone;
		if (zone_build(cfg->societies[i].timezone, &Z.zones[i]) != 0) {
			snprintf(errbuf, errsz, "society %.100s: timezone %.100s cannot be read",
				 cfg->societies[i].id, cfg->societies[i].timezone);
			zone_cleanup();
			return -1;
		}
	}
	return 0;
}
