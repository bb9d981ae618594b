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
#include <syslog.h>

#define KENPOD_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Start logging; `to_stderr` copies every line to stderr, `debug` lets
 * LOG_DEBUG lines through.  May be called again to change both. */
void log_open(int to_stderr, int debug);
void log_close(void);
int log_debug_enabled(void);

void log_msg(int prio, const char *fmt, ...) KENPOD_PRINTF(2, 3);

/* A new request tag for this thread: a fresh random id and no text. */
void log_newrequest(void);
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

#endif
