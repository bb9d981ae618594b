/*
 * log.c - syslog and stderr logging with a per-request tag (see log.h).
 */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "log.h"
#include "proto.h"
#include "text.h"

#define LOG_LINE_MAX 1024
#define LOG_TAG_MAX 192
#define LOG_ESCAPE_INPUT 100

/* Set once in the main thread before any worker starts, read after. */
static int log_stderr;
static int log_syslog;
/* Changed by a reload of the configuration while the workers log. */
static atomic_int log_debug;

/* The tag of the request this thread is serving: "[3f2a] passwd byname=x". */
static _Thread_local char request_id[8];
static _Thread_local char request_text[LOG_TAG_MAX];
static _Thread_local int64_t request_began;

void
log_open(int to_stderr, int debug)
{
	/* Under systemd both syslog and stderr end in the journal: when stderr
	 * is the journal's stream, syslog alone says it once. */
	log_stderr = to_stderr && getenv("JOURNAL_STREAM") == NULL;
	log_debug = debug;
	/* Where no syslog listens (a container, a test's sandbox), syslog()
	 * would try to connect again at every line: stderr alone then. */
	log_syslog = !log_stderr || access(_PATH_LOG, W_OK) == 0;
	if (log_syslog)
		openlog("kenpod", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
}

void
log_close(void)
{
	if (log_syslog)
		closelog();
}

void
log_set_debug(int debug)
{
	log_debug = debug;
}

int
log_debug_enabled(void)
{
	return log_debug;
}

static const char *
prio_label(int prio)
{
	switch (prio) {
	case LOG_DEBUG:
		return "debug: ";
	case LOG_WARNING:
		return "warning: ";
	case LOG_ERR:
	case LOG_CRIT:
	case LOG_ALERT:
	case LOG_EMERG:
		return "error: ";
	default:
		return "";
	}
}

void
log_msg(int prio, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	char tag[LOG_TAG_MAX + 16] = "";
	va_list ap;

	if (prio == LOG_DEBUG && !log_debug)
		return;
	va_start(ap, fmt);
	/* A line longer than the buffer is cut; vsnprintf always terminates. */
	(void)vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (request_id[0] != '\0' && request_text[0] != '\0')
		(void)snprintf(tag, sizeof tag, "[%s] %s: ", request_id, request_text);
	else if (request_id[0] != '\0')
		(void)snprintf(tag, sizeof tag, "[%s] ", request_id);
	if (log_syslog)
		syslog(prio, "%s%s", tag, line);
	if (log_stderr)
		fprintf(stderr, "kenpod: %s%s%s\n", prio_label(prio), tag, line);
}

void
log_newrequest(void)
{
	unsigned char r[2];

	randombytes_buf(r, sizeof r);
	(void)snprintf(request_id, sizeof request_id, "%02x%02x", r[0], r[1]);
	request_text[0] = '\0';
	request_began = kenpo_now_ms();
}

int64_t
log_request_began(void)
{
	return request_began;
}

void
log_setrequest(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(request_text, sizeof request_text, fmt, ap);
	va_end(ap);
}

void
log_clearrequest(void)
{
	request_id[0] = '\0';
	request_text[0] = '\0';
}

const char *
log_escape(const char *s, size_t len, char out[LOG_ESCAPE_MAX])
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	unsigned char c;

	for (i = 0; i < len && i < LOG_ESCAPE_INPUT; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 0x0f];
	}
	if (len > LOG_ESCAPE_INPUT) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* ---- audit lines ---- */

#define AUDIT_VALUE_MAX 256

/* Append `value` quoted to line at *o (see log.h).  The line has room
 * for at least 16 bytes more, checked by the caller; a value that does not
 * fit is cut before a character, never inside one. */
static void
audit_value(char *line, size_t linesz, size_t *o, const char *value)
{
	static const char hex[] = "0123456789abcdef";
	size_t len = value != NULL ? strlen(value) : 0, lim = len, i;
	int utf8 = value != NULL && kenpo_utf8_valid(value, len);
	unsigned char c;

	if (lim > AUDIT_VALUE_MAX)
		lim = AUDIT_VALUE_MAX;
	while (utf8 && lim > 0 && lim < len && (value[lim] & 0xc0) == 0x80)
		lim--;
	line[(*o)++] = '"';
	for (i = 0; i < lim; i++) {
		c = (unsigned char)value[i];
		/* Room for this byte escaped, the rest of its character, "...\"". */
		if (*o + 4 + 4 + 5 >= linesz)
			break;
		if ((c >= 0x20 && c < 0x7f && c != '"' && c != '\\') || (c >= 0x80 && utf8)) {
			line[(*o)++] = (char)c;
			continue;
		}
		line[(*o)++] = '\\';
		line[(*o)++] = 'x';
		line[(*o)++] = hex[c >> 4];
		line[(*o)++] = hex[c & 0x0f];
	}
	while (utf8 && i > 0 && i < len && (value[i] & 0xc0) == 0x80) {
		i--;
		(*o)--;
	}
	if (i < len) {
		memcpy(line + *o, "...", 3);
		*o += 3;
	}
	line[(*o)++] = '"';
	line[*o] = '\0';
}

void
log_audit(const char *event, const struct log_kv *kv, size_t n)
{
	char line[LOG_LINE_MAX], when[40];
	struct timespec ts;
	struct tm tm;
	size_t o, i;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		when[0] = '\0';
	o = (size_t)snprintf(line, sizeof line, "audit v=1 event=%s at=%s.%03ldZ", event, when,
			     ts.tv_nsec / 1000000);
	for (i = 0; i < n && o + 16 + strlen(kv[i].key) + 2 < sizeof line; i++) {
		o += (size_t)snprintf(line + o, sizeof line - o, " %s=", kv[i].key);
		audit_value(line, sizeof line, &o, kv[i].value);
	}
	line[sizeof line - 1] = '\0';
	log_msg(LOG_NOTICE, "%s", line);
}
