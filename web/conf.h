/*
 * conf.h - /etc/kenpo/kenpo-web.conf, the settings of kenpo-web.
 *
 * One [web] section of "key = value" lines, read with the same rules as
 * kenpod.conf(5) (the file is opened by kenpo_read_file_safely; blank
 * lines and lines starting with '#' or ';' are comments; an unknown key,
 * a key given twice or an empty value is an error reported as
 * "file:line: key: problem").  Every key has a default; the keyword
 * table in conf.c and man/kenpo-web.8 list them.  The societies, their
 * names and how they register come from kenpod.conf, read once at start.
 */
#ifndef KENPO_WEB_CONF_H
#define KENPO_WEB_CONF_H

#include <stddef.h>
#include <sys/types.h>

#define WEB_CONF_PATH SYSCONFDIR "/kenpo/kenpo-web.conf"
#define WEB_PROXIES_MAX 8

struct web_conf {
	char *listen_host; /* listen = 127.0.0.1:8080 */
	unsigned port;
	char *kenpod_conf;        /* kenpod_conf = SYSCONFDIR/kenpo/kenpod.conf */
	char *socket;             /* socket = the kenpod.conf's, else RUNDIR/kenpo/kenpod.sock */
	char *pam_service;        /* pam_service = kenpo-web */
	unsigned connections_max; /* connections_max = 1000 (8..100000) */
	unsigned workers;         /* workers = 64 (1..1024): threads that run the screens */
	unsigned kenpod_concurrency; /* kenpod_concurrency = 32 (1..1024): gate.h */
	unsigned sessions_max;       /* sessions_max = 10000 (16..1000000) */
	long session_idle;           /* session_idle = 15m (1s..1d) */
	long session_lifetime;       /* session_lifetime = 8h (1s..7d) */
	size_t request_max;          /* request_max = 16K (1K..1M): a form's body */
	int cookie_secure;           /* cookie_secure = yes: "Secure" and the __Host- name */
	char *help_url;              /* help_url = /help (the ヘルプ link) */
	char *captcha;               /* captcha = image: the provider of captcha.h */
	char *trusted_proxies[WEB_PROXIES_MAX]; /* trusted_proxies = 127.0.0.1 ::1 */
	size_t nproxies;
};

/* Read `path` (NULL: WEB_CONF_PATH); a missing file at the default path
 * gives the defaults.  0, or -1 with one line in errbuf. */
int web_conf_load(const char *path, uid_t owner, struct web_conf **out, char *errbuf,
		  size_t errsz);
void web_conf_free(struct web_conf *c);
/* 1 when addr (numeric, as the peer's address is printed) is a trusted proxy. */
int web_conf_trusts(const struct web_conf *c, const char *addr);

#endif
