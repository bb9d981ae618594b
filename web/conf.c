/*
 * conf.c - kenpo-web.conf (see conf.h): one table of keywords.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "config.h"
#include "readfile.h"
#include "text.h"

#define CONF_MAX_BYTES (64 * 1024)
#define VALUE_MAX 1024

struct keyword {
	const char *name;
	int (*parse)(struct web_conf *c, const char *v);
};

static int
set_string(char **slot, const char *v)
{
	char *copy = strdup(v);

	if (copy == NULL)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

/* "host:port", "[v6]:port" or ":port" (all addresses). */
static int
kw_listen(struct web_conf *c, const char *v)
{
	const char *colon = strrchr(v, ':');
	unsigned long long port;
	char host[256];
	size_t n;

	if (colon == NULL || kenpo_parse_ulong(colon + 1, 1, 65535, &port) != 0)
		return -1;
	n = (size_t)(colon - v);
	if (n >= 2 && v[0] == '[' && v[n - 1] == ']') {
		v++;
		n -= 2;
	}
	if (n >= sizeof host)
		return -1;
	memcpy(host, v, n);
	host[n] = '\0';
	c->port = (unsigned)port;
	return set_string(&c->listen_host, host);
}

static int
kw_path(char **slot, const char *v)
{
	return v[0] == '/' ? set_string(slot, v) : -1;
}

static int
kw_kenpod_conf(struct web_conf *c, const char *v)
{
	return kw_path(&c->kenpod_conf, v);
}
static int
kw_socket(struct web_conf *c, const char *v)
{
	return strlen(v) <= 107 ? kw_path(&c->socket, v) : -1;
}

/* A PAM service name: a file name under /etc/pam.d. */
static int
kw_pam_service(struct web_conf *c, const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			   v[i]) == NULL)
			return -1;
	return i > 0 && i <= 64 && v[0] != '.' ? set_string(&c->pam_service, v) : -1;
}

static int
uint_in(const char *v, unsigned long long min, unsigned long long max, unsigned *out)
{
	unsigned long long n;

	if (kenpo_parse_ulong(v, min, max, &n) != 0)
		return -1;
	*out = (unsigned)n;
	return 0;
}

static int
kw_conns(struct web_conf *c, const char *v)
{
	return uint_in(v, 8, 100000, &c->connections_max);
}
static int
kw_workers(struct web_conf *c, const char *v)
{
	return uint_in(v, 1, 1024, &c->workers);
}
static int
kw_sessions(struct web_conf *c, const char *v)
{
	return uint_in(v, 16, 1000000, &c->sessions_max);
}
/* Half of kenpod's queue of a lane (64) by default, so that two
 * kenpo-webs fit. */
static int
kw_concurrency(struct web_conf *c, const char *v)
{
	return uint_in(v, 1, 1024, &c->kenpod_concurrency);
}
static int
kw_idle(struct web_conf *c, const char *v)
{
	return kenpo_parse_duration(v, 1, 86400, &c->session_idle);
}
static int
kw_lifetime(struct web_conf *c, const char *v)
{
	return kenpo_parse_duration(v, 1, 7 * 86400, &c->session_lifetime);
}
static int
kw_request_max(struct web_conf *c, const char *v)
{
	return kenpo_parse_size(v, 1024, 1024 * 1024, &c->request_max);
}

static int
kw_cookie_secure(struct web_conf *c, const char *v)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "on") == 0)
		c->cookie_secure = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "off") == 0)
		c->cookie_secure = 0;
	else
		return -1;
	return 0;
}

/* A local path or an https:// URL: the help page may live elsewhere. */
static int
kw_help_url(struct web_conf *c, const char *v)
{
	size_t i;

	if (!(v[0] == '/' && v[1] != '/') && strncmp(v, "https://", 8) != 0)
		return -1;
	for (i = 0; v[i] != '\0'; i++)
		if (v[i] <= ' ' || v[i] > '~' || strchr("\"'<>\\", v[i]) != NULL)
			return -1;
	return set_string(&c->help_url, v);
}

static int
kw_captcha(struct web_conf *c, const char *v)
{
	return strlen(v) <= 32 ? set_string(&c->captcha, v) : -1;
}

/* Numeric addresses separated by spaces. */
static int
kw_proxies(struct web_conf *c, const char *v)
{
	char buf[VALUE_MAX], *save = NULL, *tok;
	size_t i;

	for (i = 0; i < c->nproxies; i++) {
		free(c->trusted_proxies[i]);
		c->trusted_proxies[i] = NULL;
	}
	c->nproxies = 0;
	snprintf(buf, sizeof buf, "%s", v);
	for (tok = strtok_r(buf, " ,", &save); tok != NULL; tok = strtok_r(NULL, " ,", &save)) {
		if (c->nproxies == WEB_PROXIES_MAX ||
		    strspn(tok, "0123456789abcdefABCDEF.:") != strlen(tok))
			return -1;
		if ((c->trusted_proxies[c->nproxies] = strdup(tok)) == NULL)
			return -1;
		c->nproxies++;
	}
	return 0;
}

static const struct keyword keywords[] = {
	{ "listen", kw_listen },           { "kenpod_conf", kw_kenpod_conf },
	{ "socket", kw_socket },           { "pam_service", kw_pam_service },
	{ "connections_max", kw_conns },   { "workers", kw_workers },
	{ "sessions_max", kw_sessions },   { "kenpod_concurrency", kw_concurrency },
	{ "session_idle", kw_idle },       { "session_lifetime", kw_lifetime },
	{ "request_max", kw_request_max }, { "cookie_secure", kw_cookie_secure },
	{ "help_url", kw_help_url },       { "captcha", kw_captcha },
	{ "trusted_proxies", kw_proxies },
};

static int
defaults(struct web_conf *c)
{
	c->connections_max = 1000;
	c->workers = 64;
	c->sessions_max = 10000;
	c->kenpod_concurrency = 32;
	c->session_idle = 15 * 60;
	c->session_lifetime = 8 * 3600;
	c->request_max = 16 * 1024;
	c->cookie_secure = 1;
	if (kw_listen(c, "127.0.0.1:8080") != 0 ||
	    set_string(&c->kenpod_conf, KENPO_CONFIG_PATH) != 0 ||
	    set_string(&c->pam_service, "kenpo-web") != 0 ||
	    set_string(&c->help_url, "/help") != 0 || set_string(&c->captcha, "image") != 0 ||
	    kw_proxies(c, "127.0.0.1 ::1") != 0)
		return -1;
	return 0;
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* One line; seen[] marks the keys given, so that none is given twice. */
static const char *
parse_line(struct web_conf *c, char *line, int *section, unsigned char *seen)
{
	char *key, *eq, *v;
	size_t i;

	key = trim(line);
	if (*key == '\0' || *key == '#' || *key == ';')
		return NULL;
	if (*key == '[') {
		if (strcmp(key, "[web]") != 0 || *section)
			return "unknown or repeated section";
		*section = 1;
		return NULL;
	}
	if (!*section)
		return "setting before the [web] section";
	if ((eq = strchr(key, '=')) == NULL)
		return "not a \"key = value\" line";
	*eq = '\0';
	key = trim(key);
	v = trim(eq + 1);
	if (*v == '\0')
		return "empty value";
	for (i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
		if (strcmp(keywords[i].name, key) != 0)
			continue;
		if (seen[i]++)
			return "given twice";
		return keywords[i].parse(c, v) == 0 ? NULL : "bad value";
	}
	return "unknown key";
}

static int
parse(struct web_conf *c, const char *path, char *text, char *errbuf, size_t errsz)
{
	unsigned char seen[sizeof keywords / sizeof keywords[0]] = { 0 };
	char *save = NULL, *line, *copy;
	const char *problem;
	int section = 0;
	unsigned n = 0;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		n++;
		if ((copy = strdup(line)) == NULL)
			return -1;
		problem = parse_line(c, line, &section, seen);
		if (problem != NULL) {
			char *eq = strchr(copy, '=');

			if (eq != NULL)
				*eq = '\0';
			snprintf(errbuf, errsz, "%s:%u: %.64s: %s", path, n, trim(copy), problem);
			free(copy);
			return -1;
		}
		free(copy);
	}
	return 0;
}

int
web_conf_load(const char *path, uid_t owner, struct web_conf **out, char *errbuf, size_t errsz)
{
	struct web_conf *c = calloc(1, sizeof(*c));
	char *text = NULL;
	size_t len = 0;
	int rc = -1;

	if (c == NULL || defaults(c) != 0) {
		snprintf(errbuf, errsz, "out of memory");
		goto done;
	}
	if (path == NULL && access(WEB_CONF_PATH, F_OK) != 0 && errno == ENOENT) {
		rc = 0;
		goto done;
	}
	if (path == NULL)
		path = WEB_CONF_PATH;
	if (kenpo_read_file_safely(path, owner, CONF_MAX_BYTES, 0, &text, &len, errbuf, errsz) !=
	    0)
		goto done;
	if (strlen(text) != len || !kenpo_utf8_valid(text, len)) {
		snprintf(errbuf, errsz, "%s: not UTF-8 text", path);
		goto done;
	}
	rc = parse(c, path, text, errbuf, errsz);
done:
	free(text);
	if (rc == 0)
		*out = c;
	else
		web_conf_free(c);
	return rc;
}

void
web_conf_free(struct web_conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->listen_host);
	free(c->kenpod_conf);
	free(c->socket);
	free(c->pam_service);
	free(c->help_url);
	free(c->captcha);
	for (i = 0; i < c->nproxies; i++)
		free(c->trusted_proxies[i]);
	free(c);
}

int
web_conf_trusts(const struct web_conf *c, const char *addr)
{
	size_t i;

	for (i = 0; i < c->nproxies; i++)
		if (strcmp(c->trusted_proxies[i], addr) == 0)
			return 1;
	return 0;
}
