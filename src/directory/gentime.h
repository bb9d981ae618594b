/*
 * gentime.h - time as the directory keeps it: GeneralizedTime in UTC
 * ("20240401093000Z", optionally "20240401093000.123Z"), and milliseconds
 * since the epoch as kenpod and kenpo-admin compute with it.
 */
#ifndef KENPO_DIRECTORY_GENTIME_H
#define KENPO_DIRECTORY_GENTIME_H

#include <stddef.h>
#include <stdint.h>

/* Room for the longest text kenpo_gentime_format writes, with its NUL. */
#define KENPO_GENTIME_MAX 32

/* Wall-clock time in milliseconds since the epoch. */
int64_t kenpo_gentime_now(void);

/* GeneralizedTime text of t (ms since the epoch, >= 0): "20240401093000Z",
 * or with milliseconds "20240401093000.123Z".  0 or -1 (out too small). */
int kenpo_gentime_format(int64_t t, int with_ms, char *out, size_t outsz);

/* Parse GeneralizedTime as kenpo and its administrators write it, always
 * in UTC: "YYYYMMDDHHMMSSZ", optionally with a fraction of a second (after
 * '.' or ',', of any length, cut to milliseconds) before the Z.  Into ms
 * since the epoch; 0 or -1, *out written only on success. */
int kenpo_gentime_parse(const char *s, int64_t *out);

/* Milliseconds as whole seconds, rounded up (never "wait 0 s" while
 * something is left); 0 for ms <= 0. */
long kenpo_ms_to_secs(int64_t ms);

#endif
