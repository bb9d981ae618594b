/*
 * log.h - kenpod's logging.
 *
 * Everything goes to syslog (LOG_AUTHPRIV, ident "kenpod"); in the
 * foreground also to stderr.  Each worker thread carries a request tag
 * ("[3f2a] passwd byname=alice") that prefixes its lines, as nslcd's
 * log_setrequest does, so the lines of one request can be found together.
 * Debug lines are written only when debugging is on.
 *
 * Never pass a secret to these functions.  Strings that come from clients
 * or from the directory go through log_escape() and are bounded with %.100s.
 */
#ifndef KENPOD_LOG_H
#define KENPOD_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

#define KENPOD_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Start logging; `to_stderr` copies every line to stderr, `debug` lets
 * LOG_DEBUG lines through.  May be called again to change both. */
void log_open(int to_stderr, int debug);
void log_close(void);
/* Let debug lines through, or not, from now on (any thread). */
void log_set_debug(int debug);
int log_debug_enabled(void);

void log_msg(int prio, const char *fmt, ...) KENPOD_PRINTF(2, 3);

/* A new request tag for this thread: a fresh random id and no text. */
void log_newrequest(void);
/* When this thread's request began (log_newrequest), in CLOCK_MONOTONIC
 * milliseconds; 0 before the first. */
int64_t log_request_began(void);
/* The text after the id, e.g. log_setrequest("passwd byname=%.100s", n). */
void log_setrequest(const char *fmt, ...) KENPOD_PRINTF(1, 2);
/* No tag at all (the thread is idle). */
void log_clearrequest(void);

/* Longest output of log_escape, NUL included: 100 input bytes, each at
 * most 4 output bytes ("\xff"), and a "..." marker. */
#define LOG_ESCAPE_MAX (100 * 4 + 4)

/* Make `len` bytes of untrusted input printable for a log line: bytes
 * outside printable ASCII, and the backslash, become \xNN; more than 100
 * input bytes are cut and marked with "...".  Returns out. */
const char *log_escape(const char *s, size_t len, char out[LOG_ESCAPE_MAX]);

/*
 * Audit lines: what changed a member's credentials or registration, one
 * line each, in one format that a log collector can parse:
 *
 *   audit v=1 event=profile.change at=2025-04-01T09:30:12.345Z member="..." ...
 *
 * `event` is a word (profile.change, register.complete, reset.request, ...),
 * `at` the time in UTC, then each key of kv (a word) with its value in
 * double quotes: bytes below 0x20, DEL, '"' and '\\' as \xNN, and UTF-8
 * kept as it is (a value that is not UTF-8 has every byte above 0x7f as
 * \xNN); a value longer than 256 bytes is cut and ends in "...".  A NULL
 * value is written "".  Keys used: member (the entry's DN), login, field,
 * old, new (values of fields that are no secret), caller_uid and
 * caller_pid (the peer of the request: the portal), source (how the
 * caller was allowed: ticket or root), result; for logins (auth.c) also
 * service, rhost, reason, scope, by and must_change.  Secrets never go
 * into an audit line.  Written at LOG_NOTICE with the request tag, like
 * every line.
 */
struct log_kv {
	const char *key;
	const char *value;
};
void log_audit(const char *event, const struct log_kv *kv, size_t n);

#endif
