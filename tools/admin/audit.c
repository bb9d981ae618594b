/*
 * audit.c - kenpo-admin's audit lines: one line for each change it makes
 * to the directory, in the format of kenpod's (src/kenpod/log.h), so that
 * one log collector reads both:
 *
 *   audit v=1 event=admin.update at=2025-04-01T00:30:00.123Z
 *       member="kenpoMemberNumber=U00003,ou=members,ou=toyobo,dc=..."
 *       by="dn:cn=admin,dc=kenpo,dc=test" user="root" society="toyobo"
 *       number="U00003" field="name" old="東洋 太郎3" new="東洋 三郎"
 *
 * event is admin.ACTION; at the time in UTC; member the entry's DN; by the
 * LDAP identity bound and user the Unix user running the tool; then the
 * action's own keys.  Values are in double quotes with bytes below 0x20,
 * DEL, '"' and '\\' as \\xNN and UTF-8 kept.  Old and new values are given
 * for what is no secret; a temporary password written reads "(set)".
 *
 * The lines go to syslog (LOG_AUTHPRIV, ident kenpo-admin, like kenpod's)
 * and, when kenpod.conf names one, to the admin_log file, after the local
 * time.  slapd's access log (slapo-accesslog, `kenpo-admin history`)
 * records the same writes on the directory's side, with kenpod's among
 * them.
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
#define AUDIT_HEAD "audit v=1 event=admin."

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

/* " key="value"", escaped as kenpod's audit lines are. */
static void
put_pair(char *line, size_t *o, const char *key, const char *value)
{
	const char *v = value != NULL ? value : "";
	char esc[8];

	put(line, o, " ", 1);
	put(line, o, key, strlen(key));
	put(line, o, "=\"", 2);
	for (; *v != '\0'; v++) {
		if ((unsigned char)*v < 0x20 || *v == 0x7f || *v == '"' || *v == '\\') {
			snprintf(esc, sizeof esc, "\\x%02x", (unsigned char)*v);
			put(line, o, esc, 4);
		} else {
			put(line, o, v, 1);
		}
	}
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
	char line[AUDIT_LINE_MAX], when[40], at[40], user[64];
	const char *key, *value;
	struct timespec ts;
	struct tm tm;
	size_t o = 0;
	va_list ap;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		when[0] = '\0';
	snprintf(at, sizeof at, "%s.%03ldZ", when, ts.tv_nsec / 1000000);
	line[0] = '\0';
	put(line, &o, AUDIT_HEAD, sizeof AUDIT_HEAD - 1);
	put(line, &o, action, strlen(action));
	put(line, &o, " at=", 4);
	put(line, &o, at, strlen(at));
	put_pair(line, &o, "member", member);
	put_pair(line, &o, "by", a->who);
	put_pair(line, &o, "user", user_name(user, sizeof user));
	put_pair(line, &o, "society", a->soc.id);
	va_start(ap, member);
	while ((key = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		put_pair(line, &o, key, value);
	}
	va_end(ap);
	syslog(LOG_NOTICE, "%s", line);
	if (a->audit == NULL)
		return;
	/* The file's lines start with the time in the society's zone (main.c
	 * sets TZ), as a person reads them. */
	if (localtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", &tm) == 0)
		snprintf(when, sizeof when, "%lld", (long long)ts.tv_sec);
	fprintf(a->audit, "%s kenpo-admin[%ld]: %s\n", when, (long)getpid(), line);
	fflush(a->audit);
}
