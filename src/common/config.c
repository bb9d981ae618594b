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
 * "file:line: key: problem").  The checks of one value by its type are in
 * config-check.c, the safe reading of the file in readfile.c, and the
 * checks of UTF-8, domain names and mail addresses in text.c.
 */
#include <autoconfig.h>

#include "config.h"
#include "pwmap.h"
#include "config-int.h"
#include "localname.h"
#include "readfile.h"
#include "text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MINUTE 60LL
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
#define UID_LIMIT 4294967294ULL /* (uid_t)-1 means "no user" */
#define PATH_LEN 4095ULL        /* longest path accepted, in bytes */
#define SEEN_MAX 64             /* keys per section, see the asserts */
#define SHOW_MAX 64             /* bytes of a key shown in a message */
#define MAIL_ADDRESS_MAX 254    /* RFC 5321 path limit less the brackets */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define KENPO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define KENPO_PRINTF(f, a)
#endif

/* ---- keyword tables ------------------------------------------------- */

static const struct kw_word bool_words[] = {
	{ "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 }, { "on", 1 },
	{ "off", 0 }, { "1", 1 },  { "0", 0 },    { NULL, 0 },
};
static const struct kw_word lang_words[] = {
	{ "ja", KENPO_LANG_JA },
	{ "en", KENPO_LANG_EN },
	{ NULL, 0 },
};
static const struct kw_word reg_words[] = {
	{ "letter", KENPO_REGF_LETTER },
	{ "identity", KENPO_REGF_IDENTITY },
	{ NULL, 0 },
};
static const struct kw_word tls_words[] = {
	{ "none", KENPO_TLS_NONE },
	{ "starttls", KENPO_TLS_STARTTLS },
	{ "smtps", KENPO_TLS_SMTPS },
	{ NULL, 0 },
};
static const struct kw_word key_words[] = {
	{ "required", 0 },
	{ "optional", 1 },
	{ NULL, 0 },
};
static const struct kw_word log_words[] = {
	{ "info", 0 },
	{ "debug", 1 },
	{ NULL, 0 },
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
	{ "bind_password_file", KW_PATH, D(bind_password_file), 1, PATH_LEN, NULL, 0, NULL,
	  NULL },
	{ "ldap_ca_file", KW_PATH, D(ldap_ca_file), 1, PATH_LEN, NULL, 0, NULL, NULL },
	{ "ldap_timeout", KW_DURATION, D(ldap_timeout), 1, 5 * MINUTE, "5s", 0, NULL, NULL },
	/* Several providers (kenpod.conf(5)): the write provider is the first
	 * of write_uri that answers. */
	{ "write_uri", KW_LDAP_URIS, D(write_uri), 1, 1024, NULL, 0, NULL, ldap_schemes },
	{ "write_failback_interval", KW_DURATION, D(write_failback_interval), 1, DAY, "30s", 0,
	  NULL, NULL },
	{ "write_failover", KW_ENUM, D(write_failover), 0, 0, "yes", 0, bool_words, NULL },
	{ "secret_file", KW_PATH, D(secret_file), 1, PATH_LEN, SYSCONFDIR "/kenpo/secret", 0,
	  NULL, NULL },
	{ "portal_group", KW_NAME, D(portal_group), 1, 32, NULL, 0, NULL, NULL },
	{ "user", KW_NAME, D(user), 1, 32, "_kenpo", 0, NULL, NULL },
	/* Workers per lane (server.h): authentication, lookups, self-service
	 * and control. */
	{ "threads", KW_UINT, D(threads), 1, 64, "4", 0, NULL, NULL },
	{ "nss_threads", KW_UINT, D(nss_threads), 1, 64, "4", 0, NULL, NULL },
	{ "selfservice_threads", KW_UINT, D(selfservice_threads), 1, 64, "2", 0, NULL, NULL },
	{ "control_threads", KW_UINT, D(control_threads), 1, 16, "1", 0, NULL, NULL },
	{ "max_connections", KW_UINT, D(max_connections), 16, 1048576, "1024", 0, NULL, NULL },
	{ "max_connections_per_uid", KW_UINT, D(max_connections_per_uid), 1, 1048576, "64", 0,
	  NULL, NULL },
	{ "max_connections_portal", KW_UINT, D(max_connections_portal), 1, 1048576, "512", 0,
	  NULL, NULL },
	/* Added to the shipped list of localname.c. */
	{ "reserved_login_ids", KW_NAMELIST, D(reserved_login_ids), 1, 8192, NULL, 0, NULL,
	  NULL },
	{ "enumerate", KW_ENUM, D(enumerate), 0, 0, "no", 0, bool_words, NULL },
	{ "cache_positive_ttl", KW_DURATION, D(cache_positive_ttl), 0, DAY, "60s", 0, NULL,
	  NULL },
	{ "cache_negative_ttl", KW_DURATION, D(cache_negative_ttl), 0, DAY, "10s", 0, NULL,
	  NULL },
	{ "cache_size", KW_UINT, D(cache_size), 1, 10000000, "200000", 0, NULL, NULL },
	{ "smtp_url", KW_URL, D(smtp_url), 1, 1024, "smtp://localhost:25", 0, NULL,
	  smtp_schemes },
	/* No default here: it follows the scheme of smtp_url (finish_kenpod). */
	{ "smtp_tls", KW_ENUM, D(smtp_tls), 0, 0, NULL, 0, tls_words, NULL },
	{ "smtp_user", KW_STRING, D(smtp_user), 1, 256, NULL, 0, NULL, NULL },
	{ "smtp_password_file", KW_PATH, D(smtp_password_file), 1, PATH_LEN, NULL, 0, NULL,
	  NULL },
	{ "smtp_ca_file", KW_PATH, D(smtp_ca_file), 1, PATH_LEN, NULL, 0, NULL, NULL },
	{ "smtp_timeout", KW_DURATION, D(smtp_timeout), 1, 5 * MINUTE, "10s", 0, NULL, NULL },
	{ "mail_threads", KW_UINT, D(mail_threads), 1, 16, "2", 0, NULL, NULL },
	{ "mail_queue", KW_UINT, D(mail_queue), 1, 100000, "1000", 0, NULL, NULL },
	/* No default here: the host name (finish_kenpod). */
	{ "mail_domain", KW_DOMAIN, D(mail_helo), 1, 253, NULL, 0, NULL, NULL },
	{ "argon2_t", KW_UINT, D(argon2_opslimit), 1, 10, "2", 0, NULL, NULL },
	/* 8K is libsodium's crypto_pwhash_MEMLIMIT_MIN. */
	{ "argon2_m", KW_SIZE, D(argon2_memlimit), 8192, 4ULL << 30, "64M", 0, NULL, NULL },
	/* 0: one per processor (kenpod resolves it, capped at threads). */
	{ "hash_workers", KW_UINT, D(hash_workers), 0, 64, "0", 0, NULL, NULL },
	{ "log_level", KW_WORD, D(log_level), 1, 16, "info", 0, log_words, NULL },
	/* kenpo-admin's audit lines go here too (besides syslog). */
	{ "admin_log", KW_PATH, D(admin_log), 1, PATH_LEN, NULL, 0, NULL, NULL },
	{ "passwd_map", KW_PATH, D(passwd_map), 1, PATH_LEN, KENPO_PWMAP_PATH, 0, NULL, NULL },
};

/* Every validity may be as short as one second, so that tests run the real
 * expiry code.  Ids start at 1000 so that no member can ever be mapped onto
 * root or a system account. */
static const struct keyword society_keywords[] = {
	{ "name", KW_STRING, S(name), 1, 256, NULL, 1, NULL, NULL },
	{ "base", KW_DN, S(base), 1, 1024, NULL, 1, NULL, NULL },
	/* Both ways on one screen, as the Accenture manual's page offers them. */
	{ "registration", KW_FLAGS, S(registration), 0, 0, "letter", 0, reg_words, NULL },
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
	{ "uid_min", KW_UINT, S(uid_min), KENPO_HOST_UID_LIMIT, UID_LIMIT, "2000000000", 0, NULL,
	  NULL },
	{ "uid_max", KW_UINT, S(uid_max), KENPO_HOST_UID_LIMIT, UID_LIMIT, "2147352575", 0, NULL,
	  NULL },
	{ "gid", KW_UINT, S(gid), 1, UID_LIMIT, "100", 0, NULL, NULL },
	{ "key_validity", KW_DURATION, S(key_validity), 1, DAY, "10m", 0, NULL, NULL },
	{ "key_resend_cooldown", KW_DURATION, S(key_resend_cooldown), 0, HOUR, "60s", 0, NULL,
	  NULL },
	{ "key_max_tries", KW_UINT, S(key_max_tries), 1, 100, "5", 0, NULL, NULL },
	{ "guide_validity", KW_DURATION, S(guide_validity), 1, 7 * DAY, "3h", 0, NULL, NULL },
	{ "identity_validity", KW_DURATION, S(identity_validity), 1, DAY, "30m", 0, NULL, NULL },
	{ "reset_validity", KW_DURATION, S(reset_validity), 1, 7 * DAY, "3h", 0, NULL, NULL },
	/* 0: a letter's temporary password does not expire (not by default:
	 * a temporary password is a way in that skips the key). */
	{ "temp_password_validity", KW_DURATION, S(temp_password_validity), 0, 365 * DAY, "90d",
	  0, NULL, NULL },
	{ "guide_per_hour", KW_UINT, S(guide_per_hour), 1, 1000, "5", 0, NULL, NULL },
	{ "reset_per_hour", KW_UINT, S(reset_per_hour), 1, 1000, "5", 0, NULL, NULL },
	/* Caps of the whole society, whatever the address, so that requests
	 * for ever new addresses cannot grow the directory without end. */
	{ "guide_total_per_hour", KW_UINT, S(guide_total_per_hour), 1, 1000000, "1000", 0, NULL,
	  NULL },
	{ "reset_total_per_hour", KW_UINT, S(reset_total_per_hour), 1, 1000000, "1000", 0, NULL,
	  NULL },
	{ "session_idle", KW_DURATION, S(session_idle), 1, DAY, "15m", 0, NULL, NULL },
	{ "session_lifetime", KW_DURATION, S(session_lifetime), 1, 7 * DAY, "4h", 0, NULL, NULL },
	{ "identity_max_tries", KW_UINT, S(identity_max_tries), 1, 100, "5", 0, NULL, NULL },
	/* 0: never lock (ppolicy's pwdMaxFailure 0). */
	{ "lockout_failures", KW_UINT, S(lockout_failures), 0, 1000, "10", 0, NULL, NULL },
	{ "lockout_duration", KW_DURATION, S(lockout_duration), 1, 30 * DAY, "30m", 0, NULL,
	  NULL },
	/* 0: unfamiliar sources are only locked one by one. */
	{ "lockout_unfamiliar_failures", KW_UINT, S(lockout_unfamiliar_failures), 0, 10000, "20",
	  0, NULL, NULL },
	{ "familiar_validity", KW_DURATION, S(familiar_validity), HOUR, 365 * DAY, "90d", 0, NULL,
	  NULL },
	{ "key", KW_ENUM, S(key_optional), 0, 0, "required", 0, key_words, NULL },
	{ "key_mails_per_hour", KW_UINT, S(key_mails_per_hour), 1, 100, "5", 0, NULL, NULL },
	{ "key_failures_per_day", KW_UINT, S(key_failures_per_day), 1, 1000, "20", 0, NULL,
	  NULL },
	{ "login_proof_validity", KW_DURATION, S(login_proof_validity), 1, DAY, "10m", 0, NULL,
	  NULL },
	{ "login_history", KW_UINT, S(login_history), 1, 100, "10", 0, NULL, NULL },
	{ "temp_password_expiry", KW_DATE, S(temp_password_expiry), 10, 10, NULL, 0, NULL, NULL },
};

_Static_assert(ARRAY_SIZE(kenpod_keywords) <= SEEN_MAX, "raise SEEN_MAX");
_Static_assert(ARRAY_SIZE(society_keywords) <= SEEN_MAX, "raise SEEN_MAX");

/* ---- text of the file ---------------------------------------------------- */

/* The first control character of a valid UTF-8 string, or -1. */
static long
first_control(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, l;
	unsigned long cp = 0;

	while (i < n) {
		l = kenpo_utf8_next(u + i, n - i, &cp);
		if (l == 0)
			return -1;
		if (kenpo_utf8_is_control(cp))
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
		l = kenpo_utf8_next(u + i, n - i, &cp);
		if (l == 0 || kenpo_utf8_is_control(cp)) {
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
	const struct section *sec; /* NULL before the first header */
	size_t soc;                /* index of the current society */
	unsigned line;             /* the line being read */
	unsigned sec_line;         /* line of the current header */
	unsigned kenpod_line;      /* line of [kenpod], 0 until seen */
	unsigned soc_line[KENPO_SOCIETY_MAX];
	unsigned seen[SEEN_MAX]; /* line setting each key, 0 if none */
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
set_value(struct parser *p, const struct keyword *kw, const char *v, unsigned line, int builtin)
{
	char *field = section_base(p) + kw->offset;
	unsigned long long num = 0;
	char why[256];

	if (kenpo_config_is_string(kw->type) && strlen(v) > kw->max) {
		error_at(p, line, kw->name, "longer than %llu bytes", kw->max);
		return -1;
	}
	if (kenpo_config_check(kw, v, builtin, &num, why, sizeof why) != 0) {
		error_at(p, line, kw->name, "%s%s", why,
			 strstr(v, " #") != NULL || strstr(v, " ;") != NULL ?
				 " (a comment cannot follow a value on its line)" :
				 "");
		return -1;
	}
	if (kw->type == KW_WORD)
		return set_string(p, field, kw->words[num].word);
	if (kenpo_config_is_string(kw->type))
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

	s->method = (s->registration & KENPO_REGF_LETTER) ? KENPO_REG_LETTER : KENPO_REG_IDENTITY;
	if ((s->registration & KENPO_REGF_IDENTITY) && s->identity_url == NULL) {
		error_at(p, p->sec_line, "identity_url",
			 "required in [society %s] when registration includes identity", s->id);
		return -1;
	}
	if (s->uid_min >= s->uid_max) {
		if (lmin > lmax)
			error_at(p, lmin, "uid_min", "must be less than uid_max (%lu)",
				 s->uid_max);
		else
			error_at(p, lmax, "uid_max", "must be greater than uid_min (%lu)",
				 s->uid_min);
		return -1;
	}
	if (s->mail_from_name == NULL)
		return set_string(p, (char *)&s->mail_from_name, s->name);
	return 0;
}

static const struct section kenpod_section = {
	"kenpod",
	kenpod_keywords,
	ARRAY_SIZE(kenpod_keywords),
	finish_kenpod,
};
static const struct section society_section = {
	"society",
	society_keywords,
	ARRAY_SIZE(society_keywords),
	finish_society,
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
		error_at(p, p->line, key,
			 "outside of any section (put it under [kenpod] or [society ID])");
		return -1;
	}
	section_label(p, label, sizeof label);
	kw = find_keyword(p->sec, key, &i);
	if (kw == NULL) {
		error_at(p, p->line, key, "unknown key in %s", label);
		return -1;
	}
	if (p->seen[i] != 0) {
		error_at(p, p->line, key, "given twice in %s (first on line %u)", label,
			 p->seen[i]);
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
		error_at(p, p->line, key,
			 strlen(s) != n ? "contains a NUL byte" :
					  "not valid UTF-8 (the file must be saved as UTF-8)");
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
		s[n] = '\0'; /* data[len] is already the NUL of the buffer */
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
		if (!kenpo_config_is_string(kw[i].type))
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

/* ---- one key in two configurations ------------------------------------ */

static const struct keyword *
table_keyword(const struct keyword *table, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(table[i].name, key) == 0)
			return &table[i];
	return NULL;
}

static int
field_same(const struct keyword *kw, const char *a, const char *b)
{
	const char *sa, *sb;

	if (kw == NULL)
		return -1;
	if (!kenpo_config_is_string(kw->type))
		return memcmp(a + kw->offset, b + kw->offset, kw->size) == 0;
	memcpy(&sa, a + kw->offset, sizeof sa);
	memcpy(&sb, b + kw->offset, sizeof sb);
	if (sa == NULL || sb == NULL)
		return sa == sb;
	return strcmp(sa, sb) == 0;
}

static int
field_keep(const struct keyword *kw, char *dst, const char *src)
{
	char *copy = NULL, *old;
	const char *from;

	if (kw == NULL)
		return -1;
	if (!kenpo_config_is_string(kw->type)) {
		memcpy(dst + kw->offset, src + kw->offset, kw->size);
		return 0;
	}
	memcpy(&from, src + kw->offset, sizeof from);
	if (from != NULL && (copy = strdup(from)) == NULL)
		return -1;
	memcpy(&old, dst + kw->offset, sizeof old);
	free(old);
	memcpy(dst + kw->offset, &copy, sizeof copy);
	return 0;
}

int
kenpo_config_same(const struct kenpo_config *a, const struct kenpo_config *b, const char *key)
{
	return field_same(table_keyword(kenpod_keywords, ARRAY_SIZE(kenpod_keywords), key),
			  (const char *)a, (const char *)b);
}

int
kenpo_config_keep(struct kenpo_config *dst, const struct kenpo_config *src, const char *key)
{
	return field_keep(table_keyword(kenpod_keywords, ARRAY_SIZE(kenpod_keywords), key),
			  (char *)dst, (const char *)src);
}

int
kenpo_society_same(const struct kenpo_society *a, const struct kenpo_society *b, const char *key)
{
	return field_same(table_keyword(society_keywords, ARRAY_SIZE(society_keywords), key),
			  (const char *)a, (const char *)b);
}

int
kenpo_society_keep(struct kenpo_society *dst, const struct kenpo_society *src, const char *key)
{
	return field_keep(table_keyword(society_keywords, ARRAY_SIZE(society_keywords), key),
			  (char *)dst, (const char *)src);
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
kenpo_config_parse(const char *name, const char *text, size_t len, struct kenpo_config **out,
		   char *errbuf, size_t errsz)
{
	struct kenpo_config *cfg = NULL;
	struct parser *p = NULL;
	char *data = NULL;
	int r = -1;

	/* The parser cuts the lines in place and relies on a NUL after the
	 * last one, so it works on its own copy. */
	data = len < SIZE_MAX ? malloc(len + 1) : NULL;
	cfg = calloc(1, sizeof *cfg);
	p = calloc(1, sizeof *p);
	if (data == NULL || cfg == NULL || p == NULL || (cfg->path = strdup(name)) == NULL) {
		snprintf(errbuf, errsz, "%s: out of memory", name);
		goto done;
	}
	if (len > 0)
		memcpy(data, text, len);
	data[len] = '\0';
	p->file = name;
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

int
kenpo_config_load(const char *path, uid_t owner, struct kenpo_config **out, char *errbuf,
		  size_t errsz)
{
	char *data = NULL;
	size_t len = 0;
	int r;

	if (path == NULL)
		path = KENPO_CONFIG_PATH;
	if (kenpo_read_file_safely(path, owner, KENPO_CONFIG_MAX_BYTES, 0, &data, &len, errbuf,
				   errsz) != 0)
		return -1;
	r = kenpo_config_parse(path, data, len, out, errbuf, errsz);
	free(data);
	return r;
}

/* Owner, type, mode and size of an open file. */
