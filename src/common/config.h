/*
 * config.h - /etc/kenpo/kenpod.conf, read by kenpod and the tools.
 *
 * The file is INI-like: a [kenpod] section for the daemon and its
 * connections (optional: every key has a default), and one [society NAME]
 * section per society (at least one).  Lines are "key = value", blank, or
 * comments starting with '#' or ';'.  Spaces and tabs around key and value
 * are removed; a value may hold spaces and UTF-8 but no control character;
 * there is no quoting, and a '#' after a value is part of the value (no
 * trailing comments).  An empty value, an unknown key or section, a key
 * given twice in a section, a key before any section, invalid UTF-8 or a
 * NUL byte are errors.  Every key, its type, its range and its default are
 * in one table in config.c; etc/kenpod.conf.example documents them all.
 * Errors read "file:line: key: problem" (for a section, the key is its
 * header; a missing required key is reported at the header's line), or
 * "file: problem" when the file itself is refused.  The file is opened
 * safely (no symlink, regular file, owned by root or the caller, not
 * writable by group or others, at most 1 MiB).
 *
 * Durations accept 600, 600s, 10m, 3h, 2d; every validity may be as short
 * as 1s, so that tests run the real expiry code.
 */
#ifndef KENPO_CONFIG_H
#define KENPO_CONFIG_H

#include <stddef.h>
#include <sys/types.h>
#include "i18n.h"

#define KENPO_CONFIG_PATH SYSCONFDIR "/kenpo/kenpod.conf"
#define KENPO_CONFIG_MAX_BYTES (1024 * 1024)
#define KENPO_SOCIETY_MAX 64
#define KENPO_LDAP_URIS_MAX 16 /* URIs in ldap_uri, and in write_uri */

enum kenpo_regmethod { KENPO_REG_LETTER = 0, KENPO_REG_IDENTITY = 1 };
/* The ways a society registers its members (kenpo_society.registration). */
#define KENPO_REGF_LETTER 0x1u
#define KENPO_REGF_IDENTITY 0x2u
enum kenpo_smtp_tls { KENPO_TLS_NONE = 0, KENPO_TLS_STARTTLS = 1, KENPO_TLS_SMTPS = 2 };

struct kenpo_society {
	char *id;                    /* the NAME of [society NAME]: [a-z0-9_-]{1,32} */
	char *name;                  /* 東洋紡健康保険組合 (required) */
	char *base;                  /* LDAP base DN of its subtree (required) */
	unsigned registration;       /* registration = letter, identity (letter):
				   * KENPO_REGF_* of the ways offered, one or both */
	enum kenpo_regmethod method; /* the first way offered: letter when
					     * letters are issued at all */
	enum kenpo_lang lang;        /* language = ja|en (ja) */
	char *timezone;              /* timezone = Asia/Tokyo: a file under /usr/share/zoneinfo */
	char *mail_from;             /* mail_from = addr (required) */
	char *mail_from_name;        /* mail_from_name (defaults to name) */
	char *entry_address;         /* entry_address: where empty mails go (optional) */
	char *login_url;             /* login_url (required) */
	char *guide_url;             /* guide_url, with %%TOKEN%% (required) */
	char *identity_url;  /* identity_url, with %%TOKEN%% (optional; required if identity) */
	char *reset_url;     /* reset_url, with %%TOKEN%% (required) */
	char *template_dir;  /* template_dir: overrides of the mail templates (optional) */
	char *home_template; /* home = /home/%u (%u login ID, %n member number, %% '%') */
	char *shell;         /* shell = /bin/bash */
	unsigned long uid_min, uid_max; /* uid_min = 2000000000, uid_max = 2147352575
					     * (65536..4294967294, uid_min < uid_max) */
	unsigned long gid;              /* gid = 100 (1..4294967294) */
	long key_validity;              /* seconds: key_validity = 10m (1s..1d) */
	long key_resend_cooldown;       /* key_resend_cooldown = 60s (0..1h) */
	unsigned key_max_tries;         /* key_max_tries = 5 (1..100) */
	long guide_validity;            /* guide_validity = 3h (1s..7d) */
	long identity_validity;         /* identity_validity = 30m (1s..1d) */
	long reset_validity;            /* reset_validity = 3h (1s..7d) */
	long temp_password_validity; /* temp_password_validity = 90d for letters (0: none..365d) */
	unsigned guide_per_hour; /* guide_per_hour = 5: guide mails per address per hour (1..1000) */
	unsigned reset_per_hour;       /* reset_per_hour = 5 (1..1000) */
	unsigned guide_total_per_hour; /* guide_total_per_hour = 1000: guide requests of
				  * the whole society per hour (1..1000000) */
	unsigned reset_total_per_hour; /* reset_total_per_hour = 1000 (1..1000000) */
	long session_idle;     /* session_idle = 15m: a profile session's idle limit (1s..1d) */
	long session_lifetime; /* session_lifetime = 4h: from the login (1s..7d) */
	unsigned identity_max_tries;          /* identity_max_tries = 5 (1..100) */
	unsigned lockout_failures;            /* lockout_failures = 10 (0 never locks..1000) */
	long lockout_duration;                /* lockout_duration = 30m (1s..30d) */
	unsigned lockout_unfamiliar_failures; /* lockout_unfamiliar_failures = 20: failures
					       * from all unfamiliar sources together that
					       * lock them out (0 never..10000) */
	long familiar_validity;               /* familiar_validity = 90d: a source stays familiar
				      * this long after a login from it (1h..365d) */
	int key_optional;                     /* key = required|optional (required) */
	unsigned key_mails_per_hour;          /* key_mails_per_hour = 5 (1..100) */
	unsigned key_failures_per_day;        /* key_failures_per_day = 20: wrong keys per
					* account a day before keys wait (1..1000) */
	long login_proof_validity;            /* login_proof_validity = 10m (1s..1d) */
	unsigned login_history;               /* login_history = 10 logins kept (1..100) */
	char *temp_password_expiry;           /* temp_password_expiry = YYYY-MM-DD: temporary
				      * passwords without an expiry of their own end
				      * with that day in the society's zone (optional) */
};

struct kenpo_config {
	char *path; /* the file read */
	/* [kenpod] */
	char *socket_path;            /* socket = /run/kenpo/kenpod.sock */
	char *ldap_uri;               /* ldap_uri = ldapi:/// */
	char *bind_dn;                /* bind_dn (NULL: SASL EXTERNAL) */
	char *bind_password_file;     /* bind_password_file (required with bind_dn) */
	char *ldap_ca_file;           /* ldap_ca_file */
	long ldap_timeout;            /* ldap_timeout = 5s (1s..5m) */
	char *write_uri;              /* write_uri: the providers, in the order every host
				    * shares (NULL: writes go to ldap_uri) */
	long write_failback_interval; /* write_failback_interval = 30s (1s..1d) */
	int write_failover;           /* write_failover = yes (no: the first provider only) */
	char *secret_file;    /* secret_file = SYSCONFDIR/kenpo/secret (kenpod needs the file) */
	char *portal_group;   /* portal_group: group allowed self-service (optional) */
	char *user;           /* user = _kenpo: drop privileges to it */
	unsigned threads;     /* threads = 4 (1..64): workers of the authentication lane
				    * (logins, account checks, password changes) */
	unsigned nss_threads; /* nss_threads = 4 (1..64): workers of the lookup lane */
	unsigned selfservice_threads;     /* selfservice_threads = 2 (1..64) */
	unsigned control_threads;         /* control_threads = 1 (1..16) */
	unsigned max_connections;         /* max_connections = 1024 (16..1048576): open at once */
	unsigned max_connections_per_uid; /* max_connections_per_uid = 64 (1..1048576) */
	unsigned max_connections_portal;  /* max_connections_portal = 512 (1..1048576): per uid
					   * for root and the portal group */
	char *reserved_login_ids;         /* reserved_login_ids: more names no member may take */
	int enumerate;                    /* enumerate = no (yes/no/true/false/on/off/1/0) */
	long cache_positive_ttl;          /* cache_positive_ttl = 60s (0..1d) */
	long cache_negative_ttl;          /* cache_negative_ttl = 10s (0..1d) */
	unsigned long cache_size;         /* cache_size = 200000 answers kept (1..10000000);
				    * a member found by name and by uid takes two */
	char *smtp_url;               /* smtp_url = smtp://localhost:25 (smtp:// or smtps://) */
	enum kenpo_smtp_tls smtp_tls; /* smtp_tls = none|starttls|smtps (absent: smtps for
				       * smtps://, none for smtp://; smtps needs smtps://) */
	char *smtp_user;              /* smtp_user (goes with smtp_password_file) */
	char *smtp_password_file;     /* smtp_password_file (goes with smtp_user) */
	char *smtp_ca_file;           /* smtp_ca_file */
	long smtp_timeout;            /* smtp_timeout = 10s (1s..5m) */
	unsigned mail_threads;        /* mail_threads = 2: threads sending mail (1..16) */
	unsigned long mail_queue;     /* mail_queue = 1000: mails waiting at most (1..100000) */
	char *mail_helo;              /* mail_domain: used in Message-ID (default: the host
				    * name, or "localhost" if that is no domain name) */
	unsigned long long argon2_opslimit; /* argon2_t = 2 (1..10) */
	size_t argon2_memlimit;             /* argon2_m = 64M (8K..4G) */
	unsigned hash_workers; /* hash_workers = 0 (0..64): argon2 runs at once, each in a
				    * region of argon2_m kept mapped; 0: one per processor;
				    * never more than threads + selfservice_threads */
	char *log_level;       /* log_level = info|debug, stored in lower case */
	char *admin_log;       /* admin_log: kenpo-admin appends its audit lines here */
	char *passwd_map;      /* passwd_map = RUNDIR/kenpo/passwd.mc (pwmap.h) */

	struct kenpo_society *societies;
	size_t nsocieties;
};

/* Read and check `path` (NULL: KENPO_CONFIG_PATH).  On error returns -1
 * and writes one line "file:line: key: problem" into errbuf.  `owner` is
 * the uid allowed to own the file besides root ((uid_t)-1: only root). */
int kenpo_config_load(const char *path, uid_t owner, struct kenpo_config **out, char *errbuf,
		      size_t errsz);
/* Parse the text of a configuration file, text[0..len) (which need not
 * end in a NUL), as kenpo_config_load does after reading it; `name` is the
 * file named in messages.  Touches no file, except that a timezone value
 * must name one under /usr/share/zoneinfo. */
int kenpo_config_parse(const char *name, const char *text, size_t len, struct kenpo_config **out,
		       char *errbuf, size_t errsz);
void kenpo_config_free(struct kenpo_config *cfg);

/*
 * One key's value in two configurations: of [kenpod] (kenpo_config_*), or
 * of one society's section (kenpo_society_*).  _same: 1 when equal, 0 when
 * not, -1 for a key the section does not have.  _keep: give dst the value
 * src has (kenpod keeps settings it can only take at start-up when it
 * reloads the file); 0, or -1 for an unknown key or no memory.
 */
int kenpo_config_same(const struct kenpo_config *a, const struct kenpo_config *b,
		      const char *key);
int kenpo_config_keep(struct kenpo_config *dst, const struct kenpo_config *src, const char *key);
int kenpo_society_same(const struct kenpo_society *a, const struct kenpo_society *b,
		       const char *key);
int kenpo_society_keep(struct kenpo_society *dst, const struct kenpo_society *src,
		       const char *key);

/* The society with this id, or NULL. */
const struct kenpo_society *kenpo_config_society(const struct kenpo_config *cfg, const char *id);

/* Parse a duration "600", "600s", "10m", "3h", "2d" into seconds within
 * [min, max].  0 or -1.  No sign, no spaces, overflow refused; *out is
 * written only on success.  Exposed for the tools' command-line options. */
int kenpo_parse_duration(const char *s, long min, long max, long *out);
/* Parse an unsigned decimal within [min, max] (strtoull, full string). 0 or -1. */
int kenpo_parse_ulong(const char *s, unsigned long long min, unsigned long long max,
		      unsigned long long *out);
/* Parse a date "YYYY-MM-DD" (2000 to 2099, a real day) into its parts (any
 * may be NULL).  0 or -1. */
int kenpo_date_parse(const char *s, int *year, int *month, int *day);
/* Parse a size "65536", "64K", "64M", "1G" into bytes within [min, max].
 * 0 or -1.  No sign, no spaces; *out is written only on success. */
int kenpo_parse_size(const char *s, size_t min, size_t max, size_t *out);

#endif
