/*
 * zone.h - the local time of each society (its `timezone`), for the
 * 前回ログイン日時 a session shows.
 */
#ifndef KENPOD_ZONE_H
#define KENPOD_ZONE_H

#include <stddef.h>
#include <stdint.h>

struct kenpo_config;
struct kenpo_society;

/* Learn the offsets of every society's zone, before any thread starts
 * (it sets TZ for a moment).  0, or -1 with errbuf filled. */
int zone_setup(const struct kenpo_config *cfg, char *errbuf, size_t errsz);
void zone_cleanup(void);

/* Whether zone_setup learnt the zone `name` (a society's timezone). */
int zone_known(const char *name);

/* "YYYY/MM/DD HH:MM:SS" of t (ms since the epoch) in the zone of soc, whose
 * timezone zone_setup learnt (zone_known); thread-safe.  0 or -1. */
int zone_format_local(const struct kenpo_society *soc, int64_t t, char *out, size_t outsz);

/* The offset east of UTC, in seconds, of soc's zone at t (ms since the
 * epoch): for the Date of the society's mails.  Thread-safe. */
long zone_utc_offset(const struct kenpo_society *soc, int64_t t);

/* The end of the day `date` ("YYYY-MM-DD", checked by the configuration)
 * in the zone of soc: the next day's midnight there, in ms since the
 * epoch; 0 for a date that is not one. */
int64_t zone_date_end(const struct kenpo_society *soc, const char *date);

#endif
