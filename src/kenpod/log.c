/*
 * log.c - syslog and stderr logging with a per-request tag (see log.h).
 */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "log.h"

#define LOG_LINE_MAX 1024
#define LOG_TAG_MAX 192
#define LOG_ESCAPE_INPUT 100

/* Set once in the main thread before any worker starts, read after. */
static int log_stderr;
static int log_debug;

/* The tag of the request this thread is serving: "[3f2a] passwd byname=x". */
static _Thread_local char request_id[8];
static _Thread_local char request_text[LOG_TAG_MAX];

void
log_open(int to_stderr, int debug)
{
	/* Under systemd both syslog and stderr end in the journal: when stderr
	 * is the journal's stream, syslog alone says it once. */
	log_stderr = to_stderr && getenv("JOURNAL_STREAM") == NULL;
	log_debug = debug;
	openlog("kenpod", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
}

void
log_close(void)
{
	closelog();
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
