/*
 * gentime.c - GeneralizedTime (see gentime.h).
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gentime.h"

int64_t
kenpo_gentime_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long
kenpo_ms_to_secs(int64_t ms)
{
	return ms <= 0 ? 0 : (long)((ms + 999) / 1000);
}

/* Fixed-width decimal digits of s[0..n) into *out.  0 or -1. */
static int
digits(const char *s, size_t n, int *out)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* The milliseconds of a fraction ".5", ".123456" (more digits are cut). */
static int
fraction_ms(const char *s, size_t n, int *ms)
{
	int v = 0, scale = 100;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v += (s[i] - '0') * scale;
		scale /= 10;
	}
	*ms = v;
	return 0;
}

/*
 * Parsed by hand because strptime has no directive for the fraction and
 * would accept a one-digit month; timegm does the calendar arithmetic.
 */
int
kenpo_gentime_parse(const char *s, int64_t *out)
{
	struct tm tm;
	size_t len = strlen(s);
	int y, mo, d, h, mi, sec, ms = 0;
	time_t t;

	if (len < 15 || s[len - 1] != 'Z')
		return -1;
	if (digits(s, 4, &y) != 0 || digits(s + 4, 2, &mo) != 0 || digits(s + 6, 2, &d) != 0 ||
	    digits(s + 8, 2, &h) != 0 || digits(s + 10, 2, &mi) != 0 ||
	    digits(s + 12, 2, &sec) != 0)
		return -1;
	if (len > 15 &&
	    ((s[14] != '.' && s[14] != ',') || fraction_ms(s + 15, len - 16, &ms) != 0))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 && !(y == 1969 && mo == 12 && d == 31))
		return -1;
	*out = (int64_t)t * 1000 + ms;
	return 0;
}

int
kenpo_gentime_format(int64_t t, int with_ms, char *out, size_t outsz)
{
	time_t secs = (time_t)(t / 1000);
	struct tm tm;
	char base[32];
	int n;

	if (t < 0 || gmtime_r(&secs, &tm) == NULL ||
	    strftime(base, sizeof base, "%Y%m%d%H%M%S", &tm) == 0)
		return -1;
	if (with_ms)
		n = snprintf(out, outsz, "%s.%03dZ", base, (int)(t % 1000));
	else
		n = snprintf(out, outsz, "%sZ", base);
	return n > 0 && (size_t)n < outsz ? 0 : -1;
}
