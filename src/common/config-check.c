/*
 * config-check.c - the checks of one configuration value by its type, and
 * the numbers with units that the configuration and the tools' options
 * use (kenpo_parse_duration, kenpo_parse_size).
 */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"
#include "config-int.h"
#include "localname.h"
#include "text.h"

#define MINUTE 60LL
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
#define ZONEINFO_DIR "/usr/share/zoneinfo"

/* ---- numbers ---------------------------------------------------------- */

struct unit {
	char c;
	unsigned long long mult;
};

static const struct unit duration_units[] = {
	{ 's', 1 }, { 'm', MINUTE }, { 'h', HOUR }, { 'd', DAY }, { 0, 0 },
};
static const struct unit size_units[] = {
	{ 'K', 1ULL << 10 },
	{ 'M', 1ULL << 20 },
	{ 'G', 1ULL << 30 },
	{ 0, 0 },
};
static const struct unit no_units[] = { { 0, 0 } };

enum { PARSE_OK = 0, PARSE_SYNTAX = -1, PARSE_RANGE = -2 };

/* Digits with at most one unit letter, at most `limit`.  The first byte must
 * be a digit: strtoull alone would accept " 5", "+5" and "-1". */
static int
parse_scaled(const char *s, const struct unit *units, unsigned long long limit,
	     unsigned long long *out)
{
	const struct unit *u;
	unsigned long long v, mult = 1;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return PARSE_SYNTAX;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0') {
		for (u = units; u->c != 0 && u->c != *end; u++)
			;
		if (u->c == 0 || end[1] != '\0')
			return PARSE_SYNTAX;
		mult = u->mult;
	}
	if (errno == ERANGE || v > limit / mult)
		return PARSE_RANGE;
	*out = v * mult;
	return PARSE_OK;
}

int
kenpo_parse_duration(const char *s, long min, long max, long *out)
{
	unsigned long long v;

	if (parse_scaled(s, duration_units, LONG_MAX, &v) != PARSE_OK)
		return -1;
	if (max < 0 || v > (unsigned long long)max || (min > 0 && v < (unsigned long long)min))
		return -1;
	*out = (long)v;
	return 0;
}

int
kenpo_parse_ulong(const char *s, unsigned long long min, unsigned long long max,
		  unsigned long long *out)
{
	unsigned long long v;

	if (parse_scaled(s, no_units, ULLONG_MAX, &v) != PARSE_OK)
		return -1;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
kenpo_parse_size(const char *s, size_t min, size_t max, size_t *out)
{
	unsigned long long v;

	if (parse_scaled(s, size_units, SIZE_MAX, &v) != PARSE_OK)
		return -1;
	if (v < min || v > max)
		return -1;
	*out = (size_t)v;
	return 0;
}

/* "90" as "90s" for durations, "65536" as "64K" for sizes: the largest unit
 * that divides the value, as the admin would write it. */
static void
format_scaled(char *buf, size_t sz, unsigned long long v, const struct unit *units)
{
	const struct unit *u, *best = NULL;

	for (u = units; u->c != 0; u++)
		if (v != 0 && v % u->mult == 0)
			best = u;
	if (best == NULL)
		snprintf(buf, sz, "%llu", v);
	else
		snprintf(buf, sz, "%llu%c", v / best->mult, best->c);
}

/* ---- syntax of the value types ------------------------------------------ */

static int
url_ok(const char *s, size_t n, const char *const *schemes, int need_host)
{
	size_t i, sl = 0;

	for (; *schemes != NULL; schemes++) {
		sl = strlen(*schemes);
		if (n >= sl && strncmp(s, *schemes, sl) == 0)
			break;
	}
	if (*schemes == NULL)
		return 0;
	if (need_host && (n == sl || s[sl] == '/'))
		return 0;
	for (i = sl; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

static size_t
count_substr(const char *s, const char *sub)
{
	size_t n = 0, l = strlen(sub);

	while ((s = strstr(s, sub)) != NULL) {
		n++;
		s += l;
	}
	return n;
}

/* Components of letters, digits and "._+-", none empty, "." or "..". */
static int
tz_name_ok(const char *s)
{
	const char *c = s;
	size_t len;

	for (;;) {
		len = strcspn(c, "/");
		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		for (size_t i = 0; i < len; i++)
			if (!kenpo_ascii_alnum(c[i]) && !kenpo_char_in(c[i], "._+-"))
				return 0;
		if (c[len] == '\0')
			return 1;
		c += len + 1;
	}
}

/* ---- checks of one value, by type ----------------------------------------- */

/* Checks `v` for `kw`.  A number goes to *num (the index for KW_WORD).
 * `builtin` is set for the table's own defaults.  On error writes `why`. */
typedef int check_fn(const struct keyword *kw, const char *v, int builtin,
		     unsigned long long *num, char *why, size_t whysz);

static int
check_string(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
	     char *why, size_t whysz)
{
	return 0;
}

static int
check_name(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
	   char *why, size_t whysz)
{
	size_t i, digits = 0;

	for (i = 0; v[i] != '\0'; i++) {
		if (v[i] >= '0' && v[i] <= '9')
			digits++;
		else if (!kenpo_ascii_alnum(v[i]) && !kenpo_char_in(v[i], "._-"))
			break;
	}
	if (v[i] == '\0' && v[0] != '-' && digits < i)
		return 0;
	snprintf(why, whysz, "not a user or group name (letters, digits, '.', '_', '-')");
	return -1;
}

static int
check_dn(const struct keyword *kw, const char *v, int builtin, unsigned long long *num, char *why,
	 size_t whysz)
{
	if (v[0] != '=' && v[0] != ',' && strchr(v, '=') != NULL)
		return 0;
	snprintf(why, whysz, "not an LDAP DN (such as ou=members,dc=example,dc=jp)");
	return -1;
}

static int
check_path(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
	   char *why, size_t whysz)
{
	if (v[0] == '/')
		return 0;
	snprintf(why, whysz, "must be an absolute path");
	return -1;
}

static int
check_home(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
	   char *why, size_t whysz)
{
	const char *p;

	if (check_path(kw, v, builtin, num, why, whysz) != 0)
		return -1;
	for (p = strchr(v, '%'); p != NULL; p = strchr(p + 2, '%')) {
		if (!kenpo_char_in(p[1], "un%")) {
			snprintf(why, whysz, "unknown placeholder (use %%u, %%n or %%%%)");
			return -1;
		}
	}
	return 0;
}

static int
check_url(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
	  char *why, size_t whysz)
{
	const char *const *sc;
	size_t o;

	if (url_ok(v, strlen(v), kw->schemes, 1))
		return 0;
	o = (size_t)snprintf(why, whysz, "not a URL starting with");
	for (sc = kw->schemes; *sc != NULL && o < whysz; sc++)
		o += (size_t)snprintf(why + o, whysz - o, "%s %s", sc == kw->schemes ? "" : " or",
				      *sc);
	if (o < whysz)
		snprintf(why + o, whysz - o, " (printable ASCII, no spaces)");
	return -1;
}

static int
check_url_token(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
		char *why, size_t whysz)
{
	if (check_url(kw, v, builtin, num, why, whysz) != 0)
		return -1;
	if (count_substr(v, "%%TOKEN%%") == 1)
		return 0;
	snprintf(why, whysz, "must contain %%%%TOKEN%%%% exactly once");
	return -1;
}

static int
check_ldap_uris(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
		char *why, size_t whysz)
{
	size_t n, count = 0;

	while (*v != '\0') {
		n = strcspn(v, " ");
		/* ldap:/// and ldapi:/// name the local server. */
		if (!url_ok(v, n, kw->schemes, 0)) {
			snprintf(why, whysz, "not a list of ldap://, ldaps:// or ldapi:// URIs");
			return -1;
		}
		if (++count > KENPO_LDAP_URIS_MAX) {
			snprintf(why, whysz, "more than %d URIs", KENPO_LDAP_URIS_MAX);
			return -1;
		}
		v += n;
		v += strspn(v, " ");
	}
	return 0;
}

static int
check_namelist(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
	       char *why, size_t whysz)
{
	return kenpo_localname_list_ok(v, why, whysz);
}

static int
check_mail(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
	   char *why, size_t whysz)
{
	if (kenpo_mail_address_ok(v))
		return 0;
	snprintf(why, whysz, "not a mail address (local@domain in ASCII)");
	return -1;
}

static int
check_domain(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
	     char *why, size_t whysz)
{
	if (kenpo_domain_ok(v, strlen(v)))
		return 0;
	snprintf(why, whysz, "not a domain name");
	return -1;
}

/* The built-in default is not looked up, so that a host without tzdata can
 * still start (glibc then shows UTC); a zone written in the file must exist. */
static int
check_tz(const struct keyword *kw, const char *v, int builtin, unsigned long long *num, char *why,
	 size_t whysz)
{
	char path[sizeof(ZONEINFO_DIR) + 256];
	struct stat st;

	if (!tz_name_ok(v)) {
		snprintf(why, whysz, "not a time zone name (such as Asia/Tokyo)");
		return -1;
	}
	if (builtin)
		return 0;
	snprintf(path, sizeof path, "%s/%s", ZONEINFO_DIR, v);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whysz, "unknown time zone (no file %.300s)", path);
		return -1;
	}
	return 0;
}

static int
find_word(const struct keyword *kw, const char *v, size_t *index, char *why, size_t whysz)
{
	const struct kw_word *w;
	size_t o;

	for (w = kw->words; w->word != NULL; w++) {
		if (strcasecmp(w->word, v) == 0) {
			*index = (size_t)(w - kw->words);
			return 0;
		}
	}
	o = (size_t)snprintf(why, whysz, "must be one of");
	for (w = kw->words; w->word != NULL && o < whysz; w++)
		o += (size_t)snprintf(why + o, whysz - o, "%s %s", w == kw->words ? "" : ",",
				      w->word);
	return -1;
}

/* KW_WORD keeps the index (set_value stores the canonical word), KW_ENUM
 * the word's value. */
static int
check_word(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
	   char *why, size_t whysz)
{
	size_t i = 0;

	if (find_word(kw, v, &i, why, whysz) != 0)
		return -1;
	*num = kw->type == KW_ENUM ? kw->words[i].value : i;
	return 0;
}

/* Words separated by commas and spaces, each once: the OR of their values. */
static int
check_flags(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
	    char *why, size_t whysz)
{
	char word[32];
	unsigned long long all = 0;
	size_t n, i = 0;

	while (v[n = strspn(v, ", ")] != '\0') {
		v += n;
		n = strcspn(v, ", ");
		if (n >= sizeof word) {
			find_word(kw, "", &i, why, whysz);
			return -1;
		}
		memcpy(word, v, n);
		word[n] = '\0';
		if (find_word(kw, word, &i, why, whysz) != 0)
			return -1;
		if (all & kw->words[i].value) {
			snprintf(why, whysz, "%s given twice", kw->words[i].word);
			return -1;
		}
		all |= kw->words[i].value;
		v += n;
	}
	if (all == 0) {
		find_word(kw, "", &i, why, whysz);
		return -1;
	}
	*num = all;
	return 0;
}

static int
check_scaled(const struct keyword *kw, const char *v, const struct unit *units, const char *what,
	     unsigned long long *num, char *why, size_t whysz)
{
	char lo[32], hi[32];
	unsigned long long x = 0;
	int r = parse_scaled(v, units, ULLONG_MAX, &x);

	if (r == PARSE_SYNTAX) {
		snprintf(why, whysz, "%s", what);
		return -1;
	}
	if (r == PARSE_RANGE || x < kw->min || x > kw->max) {
		format_scaled(lo, sizeof lo, kw->min, units);
		format_scaled(hi, sizeof hi, kw->max, units);
		snprintf(why, whysz, "must be between %s and %s", lo, hi);
		return -1;
	}
	*num = x;
	return 0;
}

static int
check_duration(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
	       char *why, size_t whysz)
{
	return check_scaled(kw, v, duration_units,
			    "not a duration (such as 600, 600s, 10m, 3h or 2d)", num, why, whysz);
}

static int
check_uint(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
	   char *why, size_t whysz)
{
	return check_scaled(kw, v, no_units, "not an unsigned decimal number", num, why, whysz);
}

static int
check_size(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
	   char *why, size_t whysz)
{
	return check_scaled(kw, v, size_units, "not a size (such as 65536, 64K, 64M or 1G)", num,
			    why, whysz);
}

/* A date of the Gregorian calendar, 2000-01-01 to 2099-12-31. */
static int
check_date(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
	   char *why, size_t whysz)
{
	if (kenpo_date_parse(v, NULL, NULL, NULL) == 0)
		return 0;
	snprintf(why, whysz, "not a date YYYY-MM-DD between 2000-01-01 and 2099-12-31");
	return -1;
}

static const struct {
	check_fn *check;
	int is_string; /* the field is a malloc'd char * */
} kinds[] = {
	[KW_STRING] = { check_string, 1 },
	[KW_NAME] = { check_name, 1 },
	[KW_DN] = { check_dn, 1 },
	[KW_PATH] = { check_path, 1 },
	[KW_HOME] = { check_home, 1 },
	[KW_URL] = { check_url, 1 },
	[KW_URL_TOKEN] = { check_url_token, 1 },
	[KW_LDAP_URIS] = { check_ldap_uris, 1 },
	[KW_NAMELIST] = { check_namelist, 1 },
	[KW_MAIL] = { check_mail, 1 },
	[KW_DOMAIN] = { check_domain, 1 },
	[KW_TZ] = { check_tz, 1 },
	[KW_WORD] = { check_word, 1 },
	[KW_ENUM] = { check_word, 0 },
	[KW_FLAGS] = { check_flags, 0 },
	[KW_DURATION] = { check_duration, 0 },
	[KW_UINT] = { check_uint, 0 },
	[KW_SIZE] = { check_size, 0 },
	[KW_DATE] = { check_date, 1 },
};

int
kenpo_date_parse(const char *s, int *year, int *month, int *day)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d, i, leap;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 2000 || y > 2099 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1] + (m == 2 && leap))
		return -1;
	if (year != NULL)
		*year = y;
	if (month != NULL)
		*month = m;
	if (day != NULL)
		*day = d;
	return 0;
}

int
kenpo_config_check(const struct keyword *kw, const char *v, int builtin, unsigned long long *num,
		   char *why, size_t whysz)
{
	return kinds[kw->type].check(kw, v, builtin, num, why, whysz);
}

int
kenpo_config_is_string(enum kw_type type)
{
	return kinds[type].is_string;
}
