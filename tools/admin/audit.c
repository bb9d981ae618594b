/*
 * audit.c - kenpo-admin's audit lines: one line for each change it makes
 * to the directory, saying when, who (the LDAP identity bound and the Unix
 * user running the tool), what (the action, the member, the field) and,
 * for what is no secret, the old and the new value:
 *
 *   2025-04-01T09:30:00+0900 kenpo-admin[4242]: audit by="dn:cn=admin,dc=kenpo,dc=test"
 *       user=root action=update member=U00003 field=name old="東洋 太郎3" new="東洋 三郎"
 *
 * The lines go to syslog (LOG_AUTHPRIV, ident kenpo-admin, like kenpod's)
 * and, when kenpod.conf names one, to the admin_log file.  slapd's access
 * log (slapo-accesslog, `kenpo-admin history`) records the same writes on
 * the directory's side, with kenpod's among them.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"

#define AUDIT_LINE_MAX 4096

void
admin_audit_open(struct admin *a)
{
	const char *path = a->cfg != NULL ? a->cfg->admin_log : NULL;
	int fd;

	openlog("kenpo-admin", LOG_PID, LOG_AUTHPRIV);
	if (path == NULL)
		return;
	/* Appended to, never followed through a symbolic link; the lines
	 * name members, so the file is the administrator's only. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && (a->audit = fdopen(fd, "a")) == NULL)
		close(fd);
	if (a->audit == NULL)
		admin_note("%s: %s: the audit lines go to syslog only", path, strerror(errno));
}

void
admin_audit_close(struct admin *a)
{
	if (a->audit != NULL && fclose(a->audit) != 0)
		admin_note("%s: %s: audit lines may be lost", a->cfg->admin_log, strerror(errno));
	a->audit = NULL;
	closelog();
}

/* Append text to line at *o, as much as fits. */
static void
put(char *line, size_t *o, const char *text, size_t n)
{
	if (*o + n >= AUDIT_LINE_MAX)
		n = AUDIT_LINE_MAX - 1 - *o;
	memcpy(line + *o, text, n);
	*o += n;
	line[*o] = '\0';
}

/* " key=value", the value in quotes when it holds anything but letters,
 * digits and .:,@/_-; '"' and '\' escaped, control characters as \xNN,
 * UTF-8 as it is (names are Japanese). */
static void
put_pair(char *line, size_t *o, const char *key, const char *value)
{
	const char *v = value != NULL ? value : "(none)";
	int quote = v[0] == '\0' || v[strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					"0123456789.:,@/_-()")] != '\0';
	char esc[8];

	put(line, o, " ", 1);
	put(line, o, key, strlen(key));
	put(line, o, quote ? "=\"" : "=", quote ? 2 : 1);
	for (; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\') {
			esc[0] = '\\';
			esc[1] = *v;
			put(line, o, esc, 2);
		} else if ((unsigned char)*v < 0x20 || *v == 0x7f) {
			snprintf(esc, sizeof esc, "\\x%02x", (unsigned char)*v);
			put(line, o, esc, 4);
		} else {
			put(line, o, v, 1);
		}
	}
	if (quote)
		put(line, o, "\"", 1);
}

static const char *
user_name(char *buf, size_t bufsz)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (getpwuid_r(getuid(), &pw, tmp, sizeof tmp, &res) == 0 && res != NULL)
		snprintf(buf, bufsz, "%s", res->pw_name);
	else
		snprintf(buf, bufsz, "uid:%lu", (unsigned long)getuid());
	return buf;
}

void
admin_audit(const struct admin *a, const char *action, const char *member, ...)
{
	char line[AUDIT_LINE_MAX], when[40], user[64];
	const char *key, *value;
	time_t now = time(NULL);
	struct tm tm;
	size_t o = 0;
	va_list ap;

	line[0] = '\0';
	put(line, &o, "audit", 5);
	put_pair(line, &o, "by", a->who);
	put_pair(line, &o, "user", user_name(user, sizeof user));
	put_pair(line, &o, "society", a->soc.id);
	put_pair(line, &o, "action", action);
	if (member != NULL)
		put_pair(line, &o, "member", member);
	va_start(ap, member);
	while ((key = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		put_pair(line, &o, key, value);
	}
	va_end(ap);
	syslog(LOG_INFO, "%s", line);
	if (a->audit == NULL)
		return;
	/* The time in the society's zone (main.c sets TZ), with its offset. */
	if (localtime_r(&now, &tm) == NULL || strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z",
						      &tm) == 0)
		snprintf(when, sizeof when, "%lld", (long long)now);
	fprintf(a->audit, "%s kenpo-admin[%ld]: %s\n", when, (long)getpid(), line);
	fflush(a->audit);
}
