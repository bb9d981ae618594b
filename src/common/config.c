/*
 * config.c - the parser of /etc/kenpo/kenpod.conf.
 *
 * Two tables of keywords, one for [kenpod] and one for [society ID], give
 * each key its type, its place in the structure, its range and its default.
 * Parsing, defaults and range checks all read the same tables, so a key
 * cannot be parsed one way and defaulted another.  The defaults are written
 * as text and go through the same parser as the file.
 *
 * The shape follows Linux-PAM's faillock_config.c (one table, errors as
 * "file:line: key: problem") and pam-u2f's open_safely() (no symlink, owner
 * and mode checked, size capped).
 *
 * The checks of UTF-8, domain names and mail addresses that the parser
 * needs are public (config.h): the mail code, the templates and kenpod use
 * them too, and this is the library that every binary links.
 */
#include <autoconfig.h>

#include "config.h"
#include "localname.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MINUTE 60LL
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
#define ZONEINFO_DIR "/usr/share/zoneinfo"
#define UID_LIMIT 4294967294ULL   /* (uid_t)-1 means "no user" */
#define PATH_LEN 4095ULL          /* longest path accepted, in bytes */
#define SEEN_MAX 48               /* keys per section, see the asserts */
#define SHOW_MAX 64               /* bytes of a key shown in a message */
#define MAIL_ADDRESS_MAX 254      /* RFC 5321 path limit less the brackets */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define KENPO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define KENPO_PRINTF(f, a)
#endif

/* ---- keyword tables ------------------------------------------------- */

enum kw_type {
	KW_STRING,     /* any text without control characters */
	KW_NAME,       /* a user or group name */
	KW_DN,         /* an LDAP distinguished name */
	KW_PATH,       /* an absolute path */
	KW_HOME,       /* an absolute path with %u, %n and %% */
	KW_URL,        /* a URL with one of the schemes in `schemes` */
	KW_URL_TOKEN,  /* the same, containing %%TOKEN%% exactly once */
	KW_LDAP_URIS,  /* LDAP URIs separated by spaces (libldap tries each) */
	KW_NAMELIST,   /* login IDs, '*' at the end for a prefix, separated by spaces or commas */
	KW_MAIL,       /* a mail address */
	KW_DOMAIN,     /* a domain name */
	KW_TZ,         /* a time zone name under /usr/share/zoneinfo */
	KW_WORD,       /* one of `words`, stored as its canonical text */
	KW_ENUM,       /* one of `words`, stored as its number (bool too) */
	KW_DURATION,   /* seconds, see kenpo_parse_duration */
	KW_UINT,       /* an unsigned decimal */
	KW_SIZE,       /* bytes, see kenpo_parse_size */
};

struct kw_word {
	const char *word;
	unsigned value;
};

struct keyword {
	const char *name;
	enum kw_type type;
	size_t offset;                /* of the field in its structure */
	size_t size;                  /* of the field */
	unsigned long long min, max;  /* numbers: range; text: max is a length */
	const char *def;              /* default as written in the file, or NULL */
	int required;
	const struct kw_word *words;  /* KW_WORD, KW_ENUM */
	const char *const *schemes;   /* KW_URL, KW_URL_TOKEN, KW_LDAP_URIS */
};

static const struct kw_word bool_words[] = {
	{ "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 },
	{ "on", 1 }, { "off", 0 }, { "1", 1 }, { "0", 0 }, { NULL, 0 },
};
static const struct kw_word lang_words[] = {
	{ "ja", KENPO_LANG_JA }, { "en", KENPO_LANG_EN }, { NULL, 0 },
};
static const struct kw_word reg_words[] = {
	{ "letter", KENPO_REG_LETTER }, { "identity", KENPO_REG_IDENTITY }, { NULL, 0 },
};
static const struct kw_word tls_words[] = {
	{ "none", KENPO_TLS_NONE }, { "starttls", KENPO_TLS_STARTTLS },
	{ "smtps", KENPO_TLS_SMTPS }, { NULL, 0 },
};
static const struct kw_word log_words[] = {
	{ "info", 0 }, { "debug", 1 }, { NULL, 0 },
};
static const char *const web_schemes[] = { "https://", "http://", NULL };
static const char *const smtp_schemes[] = { "smtp://", "smtps://", NULL };
static const char *const ldap_schemes[] = { "ldap://", "ldaps://", "ldapi://", NULL };

#define D(f) offsetof(struct kenpo_config, f), sizeof(((struct kenpo_config *)0)->f)
#define S(f) offsetof(struct kenpo_society, f), sizeof(((struct kenpo_society *)0)->f)

static const struct keyword kenpod_keywords[] = {
	/* sun_path holds 108 bytes with the terminating NUL. */
	{ "socket", KW_PATH, D(socket_path), 1, 107, RUNDIR "/kenpo/kenpod.sock", 0, NULL, NULL },
	{ "ldap_uri", KW_LDAP_URIS, D(ldap_uri), 1, 1024, "ldapi:///", 0, NULL, ldap_schemes },
	{ "bind_dn", KW_DN, D(bind_dn), 1, 1024, NULL, 0, NULL, NULL },
	{ "bind_password_file", KW_PATH, D(bind_password_file), 1, PATH_LEN, NULL, 0, NULL, NULL },
	{ "ldap_ca_file", KW_PATH, D(ldap_ca_file), 1, PATH_LEN, NULL, 0, NULL, NULL },
	{ "ldap_timeout", KW_DURATION, D(ldap_timeout), 1, 5 * MINUTE, "5s", 0, NULL, NULL },
	{ "secret_file", KW_PATH, D(secret_file), 1, PATH_LEN, SYSCONFDIR "/kenpo/secret", 0, NULL, NULL },
	{ "portal_group", KW_NAME, D(portal_group), 1, 32, NULL, 0, NULL, NULL },
	{ "user", KW_NAME, D(user), 1, 32, "_kenpo", 0, NULL, NULL },
	{ "threads", KW_UINT, D(threads), 1, 64, "4", 0, NULL, NULL },
	/* Added to the shipped list of localname.c. */
	{ "reserved_login_ids", KW_NAMELIST, D(reserved_login_ids), 1, 8192, NULL, 0, NULL, NULL },
	{ "enumerate", KW_ENUM, D(enumerate), 0, 0, "no", 0, bool_words, NULL },
	{ "cache_positive_ttl", KW_DURATION, D(cache_positive_ttl), 0, DAY, "60s", 0, NULL, NULL },
	{ "cache_negative_ttl", KW_DURATION, D(cache_negative_ttl), 0, DAY, "10s", 0, NULL, NULL },
	{ "cache_size", KW_UINT, D(cache_size), 1, 10000000, "200000", 0, NULL, NULL },
	{ "smtp_url", KW_URL, D(smtp_url), 1, 1024, "smtp://localhost:25", 0, NULL, smtp_schemes },
	/* No default here: it follows the scheme of smtp_url (finish_kenpod). */
	{ "smtp_tls", KW_ENUM, D(smtp_tls), 0, 0, NULL, 0, tls_words, NULL },
	{ "smtp_user", KW_STRING, D(smtp_user), 1, 256, NULL, 0, NULL, NULL },
	{ "smtp_password_file", KW_PATH, D(smtp_password_file), 1, PATH_LEN, NULL, 0, NULL, NULL },
	{ "smtp_ca_file", KW_PATH, D(smtp_ca_file), 1, PATH_LEN, NULL, 0, NULL, NULL },
	{ "smtp_timeout", KW_DURATION, D(smtp_timeout), 1, 5 * MINUTE, "10s", 0, NULL, NULL },
	/* No default here: the host name (finish_kenpod). */
	{ "mail_domain", KW_DOMAIN, D(mail_helo), 1, 253, NULL, 0, NULL, NULL },
	{ "argon2_t", KW_UINT, D(argon2_opslimit), 1, 10, "2", 0, NULL, NULL },
	/* 8K is libsodium's crypto_pwhash_MEMLIMIT_MIN. */
	{ "argon2_m", KW_SIZE, D(argon2_memlimit), 8192, 4ULL << 30, "64M", 0, NULL, NULL },
	{ "log_level", KW_WORD, D(log_level), 1, 16, "info", 0, log_words, NULL },
};

/* Every validity may be as short as one second, so that tests run the real
 * expiry code.  Ids start at 1000 so that no member can ever be mapped onto
 * root or a system account. */
static const struct keyword society_keywords[] = {
	{ "name", KW_STRING, S(name), 1, 256, NULL, 1, NULL, NULL },
	{ "base", KW_DN, S(base), 1, 1024, NULL, 1, NULL, NULL },
	{ "registration", KW_ENUM, S(method), 0, 0, "letter", 0, reg_words, NULL },
	{ "language", KW_ENUM, S(lang), 0, 0, "ja", 0, lang_words, NULL },
	{ "timezone", KW_TZ, S(timezone), 1, 255, "Asia/Tokyo", 0, NULL, NULL },
	{ "mail_from", KW_MAIL, S(mail_from), 3, MAIL_ADDRESS_MAX, NULL, 1, NULL, NULL },
	/* No default here: the society's name (finish_society). */
	{ "mail_from_name", KW_STRING, S(mail_from_name), 1, 256, NULL, 0, NULL, NULL },
	{ "entry_address", KW_MAIL, S(entry_address), 3, MAIL_ADDRESS_MAX, NULL, 0, NULL, NULL },
	{ "login_url", KW_URL, S(login_url), 1, 2048, NULL, 1, NULL, web_schemes },
	{ "guide_url", KW_URL_TOKEN, S(guide_url), 1, 2048, NULL, 1, NULL, web_schemes },
	{ "identity_url", KW_URL_TOKEN, S(identity_url), 1, 2048, NULL, 0, NULL, web_schemes },
	{ "reset_url", KW_URL_TOKEN, S(reset_url), 1, 2048, NULL, 1, NULL, web_schemes },
	{ "template_dir", KW_PATH, S(template_dir), 1, PATH_LEN, NULL, 0, NULL, NULL },
	{ "home", KW_HOME, S(home_template), 1, PATH_LEN, "/home/%u", 0, NULL, NULL },
	{ "shell", KW_PATH, S(shell), 1, PATH_LEN, "/bin/bash", 0, NULL, NULL },
	/* Above the host's own ids (localname.h), and by default clear of the
	 * subordinate ids useradd hands out (100000..600100000 on Debian), of
	 * systemd's container ranges (524288..1879048191) and of 2^31 and up,
	 * which some programs read as negative. */
	{ "uid_min", KW_UINT, S(uid_min), KENPO_HOST_UID_LIMIT, UID_LIMIT, "2000000000", 0, NULL, NULL },
	{ "uid_max", KW_UINT, S(uid_max), KENPO_HOST_UID_LIMIT, UID_LIMIT, "2147352575", 0, NULL, NULL },
	{ "gid", KW_UINT, S(gid), 1, UID_LIMIT, "100", 0, NULL, NULL },
	{ "key_validity", KW_DURATION, S(key_validity), 1, DAY, "10m", 0, NULL, NULL },
	{ "key_resend_cooldown", KW_DURATION, S(key_resend_cooldown), 0, HOUR, "60s", 0, NULL, NULL },
	{ "key_max_tries", KW_UINT, S(key_max_tries), 1, 100, "5", 0, NULL, NULL },
	{ "guide_validity", KW_DURATION, S(guide_validity), 1, 7 * DAY, "3h", 0, NULL, NULL },
	{ "identity_validity", KW_DURATION, S(identity_validity), 1, DAY, "30m", 0, NULL, NULL },
	{ "reset_validity", KW_DURATION, S(reset_validity), 1, 7 * DAY, "3h", 0, NULL, NULL },
	/* 0: a letter's temporary password does not expire. */
	{ "temp_password_validity", KW_DURATION, S(temp_password_validity), 0, 365 * DAY, "0", 0, NULL, NULL },
	{ "guide_per_hour", KW_UINT, S(guide_per_hour), 1, 1000, "5", 0, NULL, NULL },
	{ "reset_per_hour", KW_UINT, S(reset_per_hour), 1, 1000, "5", 0, NULL, NULL },
	{ "identity_max_tries", KW_UINT, S(identity_max_tries), 1, 100, "5", 0, NULL, NULL },
	/* 0: never lock (ppolicy's pwdMaxFailure 0). */
	{ "lockout_failures", KW_UINT, S(lockout_failures), 0, 1000, "10", 0, NULL, NULL },
	{ "lockout_duration", KW_DURATION, S(lockout_duration), 1, 30 * DAY, "30m", 0, NULL, NULL },
};

_Static_assert(ARRAY_SIZE(kenpod_keywords) <= SEEN_MAX, "raise SEEN_MAX");
_Static_assert(ARRAY_SIZE(society_keywords) <= SEEN_MAX, "raise SEEN_MAX");

/* ---- numbers ---------------------------------------------------------- */

struct unit {
	char c;
	unsigned long long mult;
};

static const struct unit duration_units[] = {
	{ 's', 1 }, { 'm', MINUTE }, { 'h', HOUR }, { 'd', DAY }, { 0, 0 },
};
static const struct unit size_units[] = {
	{ 'K', 1ULL << 10 }, { 'M', 1ULL << 20 }, { 'G', 1ULL << 30 }, { 0, 0 },
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
	if (max < 0 || v > (unsigned long long)max ||
	    (min > 0 && v < (unsigned long long)min))
		return -1;
	*out = (long)v;
	return 0;
}

int
kenpo_parse_ulong(const char *s, unsigned long long min,
		  unsigned long long max, unsigned long long *out)
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

/* ---- text ------------------------------------------------------------- */

/* The length of the UTF-8 sequence at s (n bytes left) and its code point,
 * or 0 when it is invalid (overlong, surrogate, beyond U+10FFFF, cut off).
 * Written out because mbrtowc depends on the locale of the calling process
 * (kenpod runs in the C locale), and the file, the templates and the mails
 * are UTF-8 whatever that locale is. */
static size_t
utf8_next(const unsigned char *s, size_t n, unsigned long *cp)
{
	static const unsigned long min_of[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len, i;
	unsigned long c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min_of[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* C0 controls, DEL and the C1 controls U+0080..U+009F. */
static int
is_control(unsigned long cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

int
kenpo_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned long cp;
	size_t i = 0, l;

	while (i < len) {
		l = utf8_next(u + i, len - i, &cp);
		if (l == 0)
			return 0;
		i += l;
	}
	return 1;
}

/* The first control character of a valid UTF-8 string, or -1. */
static long
first_control(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, l;
	unsigned long cp = 0;

	while (i < n) {
		l = utf8_next(u + i, n - i, &cp);
		if (l == 0)
			return -1;
		if (is_control(cp))
			return (long)cp;
		i += l;
	}
	return -1;
}

/* A copy of s fit for a message: at most SHOW_MAX bytes, invalid bytes and
 * control characters as '?', never cutting a character in two. */
static void
show(char *dst, size_t dsz, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, o = 0, l;
	unsigned long cp;

	while (i < n && o + 4 < dsz && o < SHOW_MAX) {
		l = utf8_next(u + i, n - i, &cp);
		if (l == 0 || is_control(cp)) {
			dst[o++] = '?';
			i += l == 0 ? 1 : l;
			continue;
		}
		memcpy(dst + o, s + i, l);
		o += l;
		i += l;
	}
	if (i < n && o + 3 < dsz) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims spaces and tabs in place; returns the start. */
static char *
trim(char *s)
{
	size_t n;

	while (is_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int
in_set(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

/* ---- syntax of the value types ------------------------------------------ */

/* Labels of 1..63 letters, digits and '-', not starting or ending in '-'. */
int
kenpo_domain_ok(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!is_alnum(s[i]) && s[i] != '-')
			return 0;
		if (s[i] == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[n - 1] != '-';
}

/* local@domain in printable ASCII: the dot-atom local part of RFC 5322
 * without quoting or comments, so the address can go into a header as it is. */
int
kenpo_mail_address_ok(const char *s)
{
	const char *at;
	size_t local, i;

	if (s == NULL || strnlen(s, MAIL_ADDRESS_MAX + 1) > MAIL_ADDRESS_MAX)
		return 0;
	at = strchr(s, '@');
	if (at == NULL || strchr(at + 1, '@') != NULL)
		return 0;
	local = (size_t)(at - s);
	if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.')
		return 0;
	for (i = 0; i < local; i++) {
		if (!is_alnum(s[i]) && !in_set(s[i], "!#$%&'*+-/=?^_`{|}~."))
			return 0;
		if (s[i] == '.' && s[i + 1] == '.')
			return 0;
	}
	return kenpo_domain_ok(at + 1, strlen(at + 1));
}

/* A URL of n bytes: one of the schemes, then printable ASCII without spaces;
 * with need_host, something between the scheme and the first '/'. */
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
			if (!is_alnum(c[i]) && !in_set(c[i], "._+-"))
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
check_string(const struct keyword *kw, const char *v, int builtin,
	     unsigned long long *num, char *why, size_t whysz)
{
	return 0;
}

static int
check_name(const struct keyword *kw, const char *v, int builtin,
	   unsigned long long *num, char *why, size_t whysz)
{
	size_t i, digits = 0;

	for (i = 0; v[i] != '\0'; i++) {
		if (v[i] >= '0' && v[i] <= '9')
			digits++;
		else if (!is_alnum(v[i]) && !in_set(v[i], "._-"))
			break;
	}
	if (v[i] == '\0' && v[0] != '-' && digits < i)
		return 0;
	snprintf(why, whysz, "not a user or group name (letters, digits, '.', '_', '-')");
	return -1;
}

static int
check_dn(const struct keyword *kw, const char *v, int builtin,
	 unsigned long long *num, char *why, size_t whysz)
{
	if (v[0] != '=' && v[0] != ',' && strchr(v, '=') != NULL)
		return 0;
	snprintf(why, whysz, "not an LDAP DN (such as ou=members,dc=example,dc=jp)");
	return -1;
}

static int
check_path(const struct keyword *kw, const char *v, int builtin,
	   unsigned long long *num, char *why, size_t whysz)
{
	if (v[0] == '/')
		return 0;
	snprintf(why, whysz, "must be an absolute path");
	return -1;
}

static int
check_home(const struct keyword *kw, const char *v, int builtin,
	   unsigned long long *num, char *why, size_t whysz)
{
	const char *p;

	if (check_path(kw, v, builtin, num, why, whysz) != 0)
		return -1;
	for (p = strchr(v, '%'); p != NULL; p = strchr(p + 2, '%')) {
		if (!in_set(p[1], "un%")) {
			snprintf(why, whysz, "unknown placeholder (use %%u, %%n or %%%%)");
			return -1;
		}
	}
	return 0;
}

static int
check_url(const struct keyword *kw, const char *v, int builtin,
	  unsigned long long *num, char *why, size_t whysz)
{
	const char *const *sc;
	size_t o;

	if (url_ok(v, strlen(v), kw->schemes, 1))
		return 0;
	o = (size_t)snprintf(why, whysz, "not a URL starting with");
	for (sc = kw->schemes; *sc != NULL && o < whysz; sc++)
		o += (size_t)snprintf(why + o, whysz - o, "%s %s",
				      sc == kw->schemes ? "" : " or", *sc);
	if (o < whysz)
		snprintf(why + o, whysz - o, " (printable ASCII, no spaces)");
	return -1;
}

static int
check_url_token(const struct keyword *kw, const char *v, int builtin,
		unsigned long long *num, char *why, size_t whysz)
{
	if (check_url(kw, v, builtin, num, why, whysz) != 0)
		return -1;
	if (count_substr(v, "%%TOKEN%%") == 1)
		return 0;
	snprintf(why, whysz, "must contain %%%%TOKEN%%%% exactly once");
	return -1;
}

static int
check_ldap_uris(const struct keyword *kw, const char *v, int builtin,
		unsigned long long *num, char *why, size_t whysz)
{
	size_t n;

	while (*v != '\0') {
		n = strcspn(v, " ");
		/* ldap:/// and ldapi:/// name the local server. */
		if (!url_ok(v, n, kw->schemes, 0)) {
			snprintf(why, whysz, "not a list of ldap://, ldaps:// or ldapi:// URIs");
			return -1;
		}
		v += n;
		v += strspn(v, " ");
	}
	return 0;
}

static int
check_namelist(const struct keyword *kw, const char *v, int builtin,
	       unsigned long long *num, char *why, size_t whysz)
{
	return kenpo_localname_list_ok(v, why, whysz);
}

static int
check_mail(const struct keyword *kw, const char *v, int builtin,
	   unsigned long long *num, char *why, size_t whysz)
{
	if (kenpo_mail_address_ok(v))
		return 0;
	snprintf(why, whysz, "not a mail address (local@domain in ASCII)");
	return -1;
}

static int
check_domain(const struct keyword *kw, const char *v, int builtin,
	     unsigned long long *num, char *why, size_t whysz)
{
	if (kenpo_domain_ok(v, strlen(v)))
		return 0;
	snprintf(why, whysz, "not a domain name");
	return -1;
}

/* The built-in default is not looked up, so that a host without tzdata can
 * still start (glibc then shows UTC); a zone written in the file must exist. */
static int
check_tz(const struct keyword *kw, const char *v, int builtin,
	 unsigned long long *num, char *why, size_t whysz)
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
		o += (size_t)snprintf(why + o, whysz - o, "%s %s",
				      w == kw->words ? "" : ",", w->word);
	return -1;
}

/* KW_WORD keeps the index (set_value stores the canonical word), KW_ENUM
 * the word's value. */
static int
check_word(const struct keyword *kw, const char *v, int builtin,
	   unsigned long long *num, char *why, size_t whysz)
{
	size_t i = 0;

	if (find_word(kw, v, &i, why, whysz) != 0)
		return -1;
	*num = kw->type == KW_ENUM ? kw->words[i].value : i;
	return 0;
}

static int
check_scaled(const struct keyword *kw, const char *v, const struct unit *units,
	     const char *what, unsigned long long *num, char *why, size_t whysz)
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
check_duration(const struct keyword *kw, const char *v, int builtin,
	       unsigned long long *num, char *why, size_t whysz)
{
	return check_scaled(kw, v, duration_units,
			    "not a duration (such as 600, 600s, 10m, 3h or 2d)", num, why, whysz);
}

static int
check_uint(const struct keyword *kw, const char *v, int builtin,
	   unsigned long long *num, char *why, size_t whysz)
{
	return check_scaled(kw, v, no_units, "not an unsigned decimal number", num, why, whysz);
}

static int
check_size(const struct keyword *kw, const char *v, int builtin,
	   unsigned long long *num, char *why, size_t whysz)
{
	return check_scaled(kw, v, size_units,
			    "not a size (such as 65536, 64K, 64M or 1G)", num, why, whysz);
}

static const struct {
	check_fn *check;
	int is_string;  /* the field is a malloc'd char * */
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
	[KW_DURATION] = { check_duration, 0 },
	[KW_UINT] = { check_uint, 0 },
	[KW_SIZE] = { check_size, 0 },
};

/* Stores a number into a field of `size` bytes (unsigned, long, size_t, an
 * enum or int): all hold non-negative values here, whose bytes are the same
 * in the signed and unsigned types of one width. */
static int
store_number(char *field, size_t size, unsigned long long v)
{
	uint8_t v8 = (uint8_t)v;
	uint16_t v16 = (uint16_t)v;
	uint32_t v32 = (uint32_t)v;
	uint64_t v64 = (uint64_t)v;

	if (size == 1 && v <= UINT8_MAX)
		memcpy(field, &v8, size);
	else if (size == 2 && v <= UINT16_MAX)
		memcpy(field, &v16, size);
	else if (size == 4 && v <= UINT32_MAX)
		memcpy(field, &v32, size);
	else if (size == 8)
		memcpy(field, &v64, size);
	else
		return -1;
	return 0;
}

/* ---- the parser --------------------------------------------------------- */

struct parser;

struct section {
	const char *name;
	const struct keyword *keywords;
	size_t nkeywords;
	int (*finish)(struct parser *p);
};

struct parser {
	const char *file;
	char *err;
	size_t errsz;
	struct kenpo_config *cfg;
	const struct section *sec;    /* NULL before the first header */
	size_t soc;                   /* index of the current society */
	unsigned line;                /* the line being read */
	unsigned sec_line;            /* line of the current header */
	unsigned kenpod_line;         /* line of [kenpod], 0 until seen */
	unsigned soc_line[KENPO_SOCIETY_MAX];
	unsigned seen[SEEN_MAX];      /* line setting each key, 0 if none */
};

static void KENPO_PRINTF(4, 5)
error_at(struct parser *p, unsigned line, const char *key, const char *fmt, ...)
{
	char k[SHOW_MAX + 8];
	va_list ap;
	int n;

	if (p->err == NULL || p->errsz == 0)
		return;
	show(k, sizeof k, key);
	n = snprintf(p->err, p->errsz, "%s:%u: %s: ", p->file, line, k);
	if (n < 0 || (size_t)n >= p->errsz)
		return;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errsz - (size_t)n, fmt, ap);
	va_end(ap);
}

static void KENPO_PRINTF(3, 4)
error_file(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static void
section_label(const struct parser *p, char *buf, size_t sz)
{
	if (p->sec->keywords == kenpod_keywords)
		snprintf(buf, sz, "[kenpod]");
	else
		snprintf(buf, sz, "[society %s]", p->cfg->societies[p->soc].id);
}

static char *
section_base(const struct parser *p)
{
	if (p->sec->keywords == kenpod_keywords)
		return (char *)p->cfg;
	return (char *)&p->cfg->societies[p->soc];
}

static const struct keyword *
find_keyword(const struct section *sec, const char *name, size_t *index)
{
	size_t i;

	for (i = 0; i < sec->nkeywords; i++) {
		if (strcmp(sec->keywords[i].name, name) == 0) {
			*index = i;
			return &sec->keywords[i];
		}
	}
	return NULL;
}

/* The line that set `name` in the current section, or 0. */
static unsigned
seen_line(const struct parser *p, const char *name)
{
	size_t i;

	if (find_keyword(p->sec, name, &i) == NULL)
		return 0;
	return p->seen[i];
}

static int
set_string(struct parser *p, char *field, const char *text)
{
	char **slot = (char **)(void *)field;
	char *copy = strdup(text);

	if (copy == NULL) {
		error_at(p, p->line, "-", "out of memory");
		return -1;
	}
	free(*slot);
	*slot = copy;
	return 0;
}

/* Checks and stores one value, from line `line` or (builtin) the table. */
static int
set_value(struct parser *p, const struct keyword *kw, const char *v,
	  unsigned line, int builtin)
{
	char *field = section_base(p) + kw->offset;
	unsigned long long num = 0;
	char why[256];

	if (kinds[kw->type].is_string && strlen(v) > kw->max) {
		error_at(p, line, kw->name, "longer than %llu bytes", kw->max);
		return -1;
	}
	if (kinds[kw->type].check(kw, v, builtin, &num, why, sizeof why) != 0) {
		error_at(p, line, kw->name, "%s%s", why,
			 strstr(v, " #") != NULL || strstr(v, " ;") != NULL ?
			 " (a comment cannot follow a value on its line)" : "");
		return -1;
	}
	if (kw->type == KW_WORD)
		return set_string(p, field, kw->words[num].word);
	if (kinds[kw->type].is_string)
		return set_string(p, field, v);
	if (store_number(field, kw->size, num) != 0) {
		error_at(p, line, kw->name, "does not fit its field");
		return -1;
	}
	return 0;
}

/* Defaults for the keys not given, and the required ones. */
static int
apply_defaults(struct parser *p)
{
	const struct keyword *kw;
	char label[64];
	size_t i;

	for (i = 0; i < p->sec->nkeywords; i++) {
		kw = &p->sec->keywords[i];
		if (p->seen[i] != 0)
			continue;
		if (kw->required) {
			section_label(p, label, sizeof label);
			error_at(p, p->sec_line, kw->name, "required in %s", label);
			return -1;
		}
		if (kw->def != NULL && set_value(p, kw, kw->def, p->sec_line, 1) != 0)
			return -1;
	}
	return 0;
}

/* Two keys that go together: `a` given needs `b`. */
static int
require_pair(struct parser *p, const char *a, const char *b)
{
	if (seen_line(p, a) != 0 && seen_line(p, b) == 0) {
		error_at(p, p->sec_line, b, "required in [kenpod] when %s is set", a);
		return -1;
	}
	return 0;
}

static int
finish_kenpod(struct parser *p)
{
	struct kenpo_config *c = p->cfg;
	int smtps = strncmp(c->smtp_url, "smtps://", 8) == 0;
	char host[256];
	unsigned tls_line = seen_line(p, "smtp_tls");

	if (require_pair(p, "bind_dn", "bind_password_file") != 0 ||
	    require_pair(p, "bind_password_file", "bind_dn") != 0 ||
	    require_pair(p, "smtp_user", "smtp_password_file") != 0 ||
	    require_pair(p, "smtp_password_file", "smtp_user") != 0)
		return -1;
	if (tls_line == 0) {
		c->smtp_tls = smtps ? KENPO_TLS_SMTPS : KENPO_TLS_NONE;
	} else if ((c->smtp_tls == KENPO_TLS_SMTPS) != smtps) {
		error_at(p, tls_line, "smtp_tls", "%s needs an %s smtp_url",
			 c->smtp_tls == KENPO_TLS_SMTPS ? "smtps" : "none or starttls",
			 c->smtp_tls == KENPO_TLS_SMTPS ? "smtps://" : "smtp://");
		return -1;
	}
	if (c->mail_helo == NULL) {
		/* A host name that is no domain name would make a bad Message-ID. */
		if (gethostname(host, sizeof host - 1) != 0)
			host[0] = '\0';
		host[sizeof host - 1] = '\0';
		if (!kenpo_domain_ok(host, strlen(host)))
			snprintf(host, sizeof host, "localhost");
		if (set_string(p, (char *)&c->mail_helo, host) != 0)
			return -1;
	}
	return 0;
}

static int
finish_society(struct parser *p)
{
	struct kenpo_society *s = &p->cfg->societies[p->soc];
	unsigned lmin = seen_line(p, "uid_min"), lmax = seen_line(p, "uid_max");

	if (s->method == KENPO_REG_IDENTITY && s->identity_url == NULL) {
		error_at(p, p->sec_line, "identity_url",
			 "required in [society %s] when registration = identity", s->id);
		return -1;
	}
	if (s->uid_min >= s->uid_max) {
		if (lmin > lmax)
			error_at(p, lmin, "uid_min", "must be less than uid_max (%lu)", s->uid_max);
		else
			error_at(p, lmax, "uid_max", "must be greater than uid_min (%lu)", s->uid_min);
		return -1;
	}
	if (s->mail_from_name == NULL)
		return set_string(p, (char *)&s->mail_from_name, s->name);
	return 0;
}

static const struct section kenpod_section = {
	"kenpod", kenpod_keywords, ARRAY_SIZE(kenpod_keywords), finish_kenpod,
};
static const struct section society_section = {
	"society", society_keywords, ARRAY_SIZE(society_keywords), finish_society,
};

static int
end_section(struct parser *p)
{
	if (p->sec == NULL)
		return 0;
	if (apply_defaults(p) != 0 || p->sec->finish(p) != 0)
		return -1;
	p->sec = NULL;
	return 0;
}

static void
begin_section(struct parser *p, const struct section *sec)
{
	p->sec = sec;
	p->sec_line = p->line;
	memset(p->seen, 0, sizeof p->seen);
}

static int
society_id_ok(const char *id)
{
	size_t n = strlen(id);

	return n >= 1 && n <= 32 && strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int
open_society(struct parser *p, const char *header, const char *id)
{
	struct kenpo_config *c = p->cfg;
	struct kenpo_society *grown;
	size_t i;

	if (!society_id_ok(id)) {
		error_at(p, p->line, header, "a society ID is 1 to 32 of a-z, 0-9, '_' and '-'");
		return -1;
	}
	for (i = 0; i < c->nsocieties; i++) {
		if (strcmp(c->societies[i].id, id) == 0) {
			error_at(p, p->line, header, "society given twice (first on line %u)",
				 p->soc_line[i]);
			return -1;
		}
	}
	if (c->nsocieties == KENPO_SOCIETY_MAX) {
		error_at(p, p->line, header, "more than %d societies", KENPO_SOCIETY_MAX);
		return -1;
	}
	grown = realloc(c->societies, (c->nsocieties + 1) * sizeof *grown);
	if (grown == NULL) {
		error_at(p, p->line, header, "out of memory");
		return -1;
	}
	c->societies = grown;
	memset(&grown[c->nsocieties], 0, sizeof *grown);
	grown[c->nsocieties].id = strdup(id);
	if (grown[c->nsocieties].id == NULL) {
		error_at(p, p->line, header, "out of memory");
		return -1;
	}
	p->soc = c->nsocieties;
	p->soc_line[p->soc] = p->line;
	c->nsocieties++;
	begin_section(p, &society_section);
	return 0;
}

/* Control characters are refused in headers, keys and values; tabs are
 * allowed only around them. */
static int
no_controls(struct parser *p, const char *key, const char *text)
{
	long cc = first_control(text);

	if (cc < 0)
		return 0;
	error_at(p, p->line, key, "contains a control character (U+%04lX)", (unsigned long)cc);
	return -1;
}

/* `s` is a trimmed line starting with '['. */
static int
parse_header(struct parser *p, char *s)
{
	char header[SHOW_MAX + 8], *inner;
	size_t n = strlen(s);

	if (no_controls(p, s, s) != 0)
		return -1;
	if (s[n - 1] != ']') {
		error_at(p, p->line, s, "a section header must end with ']'");
		return -1;
	}
	if (end_section(p) != 0)
		return -1;
	show(header, sizeof header, s);
	s[n - 1] = '\0';
	inner = trim(s + 1);
	if (strcmp(inner, "kenpod") == 0) {
		if (p->kenpod_line != 0) {
			error_at(p, p->line, header, "section given twice (first on line %u)",
				 p->kenpod_line);
			return -1;
		}
		p->kenpod_line = p->line;
		begin_section(p, &kenpod_section);
		return 0;
	}
	if (strncmp(inner, "society", 7) == 0 && (inner[7] == ' ' || inner[7] == '\0'))
		return open_society(p, header, trim(inner + 7));
	error_at(p, p->line, header, "unknown section (expected [kenpod] or [society ID])");
	return -1;
}

static int
parse_setting(struct parser *p, char *s)
{
	char *eq = strchr(s, '='), *key, *value, label[64];
	const struct keyword *kw;
	size_t i;

	if (eq == NULL) {
		if (no_controls(p, s, s) == 0)
			error_at(p, p->line, s, "missing '=' (write key = value)");
		return -1;
	}
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	if (no_controls(p, key, key) != 0 || no_controls(p, key, value) != 0)
		return -1;
	if (*key == '\0') {
		error_at(p, p->line, "=", "missing key before '='");
		return -1;
	}
	if (p->sec == NULL) {
		error_at(p, p->line, key, "outside of any section (put it under [kenpod] or [society ID])");
		return -1;
	}
	section_label(p, label, sizeof label);
	kw = find_keyword(p->sec, key, &i);
	if (kw == NULL) {
		error_at(p, p->line, key, "unknown key in %s", label);
		return -1;
	}
	if (p->seen[i] != 0) {
		error_at(p, p->line, key, "given twice in %s (first on line %u)", label, p->seen[i]);
		return -1;
	}
	if (*value == '\0') {
		error_at(p, p->line, key, "empty value (remove the line to get the default)");
		return -1;
	}
	if (set_value(p, kw, value, p->line, 0) != 0)
		return -1;
	p->seen[i] = p->line;
	return 0;
}

/* The key of a broken line, for its message: the text before '='. */
static void
line_key(const char *s, size_t n, char *buf, size_t sz)
{
	const char *eq = memchr(s, '=', n);
	size_t k = eq != NULL ? (size_t)(eq - s) : n;

	while (k > 0 && is_space(s[k - 1]))
		k--;
	while (k > 0 && is_space(*s))
		s++, k--;
	if (k >= sz)
		k = sz - 1;
	memcpy(buf, s, k);
	buf[k] = '\0';
}

/* One line of n bytes, NUL-terminated at s[n]. */
static int
parse_line(struct parser *p, char *s, size_t n)
{
	char key[SHOW_MAX * 2];

	if (strlen(s) != n || !kenpo_utf8_valid(s, n)) {
		line_key(s, strlen(s), key, sizeof key);
		error_at(p, p->line, key, strlen(s) != n ? "contains a NUL byte"
			 : "not valid UTF-8 (the file must be saved as UTF-8)");
		return -1;
	}
	s = trim(s);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[')
		return parse_header(p, s);
	return parse_setting(p, s);
}

static int
parse_buffer(struct parser *p, char *data, size_t len)
{
	size_t pos = 0, n;
	char *s, *nl;

	while (pos < len) {
		s = data + pos;
		nl = memchr(s, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - s) : len - pos;
		s[n] = '\0';   /* data[len] is already the NUL of the buffer */
		pos += n + 1;
		p->line++;
		if (parse_line(p, s, n) != 0)
			return -1;
	}
	if (end_section(p) != 0)
		return -1;
	if (p->kenpod_line == 0) {
		/* Every key of [kenpod] has a default: the section is optional. */
		begin_section(p, &kenpod_section);
		p->sec_line = p->line;
		if (end_section(p) != 0)
			return -1;
	}
	if (p->cfg->nsocieties == 0) {
		error_at(p, p->line > 0 ? p->line : 1, "[society ID]",
			 "at least one society section is required");
		return -1;
	}
	return 0;
}

/* ---- public functions ------------------------------------------------- */

static void
free_fields(char *base, const struct keyword *kw, size_t n)
{
	char **slot;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!kinds[kw[i].type].is_string)
			continue;
		slot = (char **)(void *)(base + kw[i].offset);
		free(*slot);
		*slot = NULL;
	}
}

void
kenpo_config_free(struct kenpo_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nsocieties; i++) {
		free_fields((char *)&cfg->societies[i], society_keywords,
			    ARRAY_SIZE(society_keywords));
		free(cfg->societies[i].id);
	}
	free(cfg->societies);
	free_fields((char *)cfg, kenpod_keywords, ARRAY_SIZE(kenpod_keywords));
	free(cfg->path);
	free(cfg);
}

const struct kenpo_society *
kenpo_config_society(const struct kenpo_config *cfg, const char *id)
{
	size_t i;

	if (cfg == NULL || id == NULL)
		return NULL;
	for (i = 0; i < cfg->nsocieties; i++)
		if (strcmp(cfg->societies[i].id, id) == 0)
			return &cfg->societies[i];
	return NULL;
}

int
kenpo_config_load(const char *path, uid_t owner, struct kenpo_config **out,
		  char *errbuf, size_t errsz)
{
	struct kenpo_config *cfg = NULL;
	struct parser *p = NULL;
	char *data = NULL;
	size_t len = 0;
	int r = -1;

	if (path == NULL)
		path = KENPO_CONFIG_PATH;
	if (kenpo_read_file_safely(path, owner, KENPO_CONFIG_MAX_BYTES, 0, &data, &len,
				   errbuf, errsz) != 0)
		goto done;
	cfg = calloc(1, sizeof *cfg);
	p = calloc(1, sizeof *p);
	if (cfg == NULL || p == NULL || (cfg->path = strdup(path)) == NULL) {
		error_file(errbuf, errsz, "%s: out of memory", path);
		goto done;
	}
	p->file = path;
	p->err = errbuf;
	p->errsz = errsz;
	p->cfg = cfg;
	if (parse_buffer(p, data, len) != 0)
		goto done;
	*out = cfg;
	cfg = NULL;
	r = 0;
done:
	kenpo_config_free(cfg);
	free(p);
	free(data);
	return r;
}

/* Owner, type, mode and size of an open file. */
static int
check_stat(const char *path, const struct stat *st, uid_t owner, size_t maxbytes,
	   int secret, char *errbuf, size_t errsz)
{
	unsigned mode = (unsigned)(st->st_mode & 07777);

	if (!S_ISREG(st->st_mode)) {
		error_file(errbuf, errsz, "%s: is not a regular file%s", path,
			   S_ISDIR(st->st_mode) ? " (a directory)" : "");
		return -1;
	}
	if (st->st_uid != 0 && (owner == (uid_t)-1 || st->st_uid != owner)) {
		if (owner == (uid_t)-1 || owner == 0)
			error_file(errbuf, errsz, "%s: owned by uid %lu, expected root", path,
				   (unsigned long)st->st_uid);
		else
			error_file(errbuf, errsz, "%s: owned by uid %lu, expected root or uid %lu",
				   path, (unsigned long)st->st_uid, (unsigned long)owner);
		return -1;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		error_file(errbuf, errsz, "%s: must not be writable by group or others (mode %04o)",
			   path, mode);
		return -1;
	}
	if (secret && (st->st_mode & (S_IRGRP | S_IROTH)) != 0) {
		error_file(errbuf, errsz, "%s: must not be readable by group or others (mode %04o)",
			   path, mode);
		return -1;
	}
	if ((unsigned long long)st->st_size > maxbytes) {
		error_file(errbuf, errsz, "%s: larger than %zu bytes", path, maxbytes);
		return -1;
	}
	return 0;
}

/* Reads up to `cap` bytes; fewer only at the end of the file. */
static int
read_full(int fd, char *buf, size_t cap, size_t *got)
{
	size_t n = 0;
	ssize_t r;

	while (n < cap) {
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*got = n;
	return 0;
}

int
kenpo_read_file_safely(const char *path, uid_t owner, size_t maxbytes,
		       int secret, char **data, size_t *len,
		       char *errbuf, size_t errsz)
{
	struct stat st;
	char *buf = NULL, eb[128];
	size_t cap = 0, got = 0;
	int fd = -1, r = -1;

	/* O_NONBLOCK: a FIFO put in the file's place must not hang the open;
	 * it is then refused as not a regular file.  Reads of a regular file
	 * ignore the flag. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP)
			error_file(errbuf, errsz, "%s: is a symbolic link", path);
		else
			error_file(errbuf, errsz, "%s: %s", path, strerror_r(errno, eb, sizeof eb));
		goto done;
	}
	if (fstat(fd, &st) != 0) {
		error_file(errbuf, errsz, "%s: %s", path, strerror_r(errno, eb, sizeof eb));
		goto done;
	}
	if (check_stat(path, &st, owner, maxbytes, secret, errbuf, errsz) != 0)
		goto done;
	/* One byte more than the size tells whether the file grew meanwhile;
	 * since the size is at most maxbytes, so is what is kept. */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap + 1);
	if (buf == NULL) {
		error_file(errbuf, errsz, "%s: out of memory", path);
		goto done;
	}
	if (read_full(fd, buf, cap, &got) != 0) {
		error_file(errbuf, errsz, "%s: %s", path, strerror_r(errno, eb, sizeof eb));
		goto done;
	}
	if (got == cap) {
		error_file(errbuf, errsz, "%s: grew while being read", path);
		goto done;
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	buf = NULL;
	r = 0;
done:
	if (buf != NULL && secret) {
		/* This library does not link libsodium (the PAM module links it),
		 * so glibc's explicit_bzero stands in for sodium_memzero. */
		explicit_bzero(buf, cap + 1);
	}
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}
