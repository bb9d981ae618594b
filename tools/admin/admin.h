/*
 * admin.h - what the parts of kenpo-admin share: the options, the society
 * worked on, exit codes, output helpers and the commands.
 */
#ifndef KENPO_ADMIN_H
#define KENPO_ADMIN_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <json-c/json.h>

#include "config.h"
#include "dir.h"
#include "roster.h"
#include "secret.h"

/* Exit codes, documented in `kenpo-admin --help` and kenpo-admin(8). */
enum admin_exit {
	ADMIN_OK = 0,
	ADMIN_ERROR = 1,    /* the directory, a file, the configuration */
	ADMIN_USAGE = 2,    /* the command line */
	ADMIN_NOTFOUND = 3, /* no such member */
	ADMIN_PARTIAL = 4,  /* import: some rows were refused or failed, the rest written */
	ADMIN_REJECTED = 5, /* import --strict: bad rows, nothing written */
	ADMIN_PROBLEMS = 6, /* check: the directory holds something to repair */
};

#define ADMIN_DN_MAX 512
#define ADMIN_ERR_MAX 512
#define ADMIN_JOBS_MAX 64
#define ADMIN_WINDOW_DEFAULT 32
#define ADMIN_WINDOW_MAX 1024
#define ADMIN_NICKNAME_DEFAULT "ご本人"
/* kenpod.conf's default `timezone`, for a society without a configuration. */
#define KENPO_DEFAULT_TIMEZONE "Asia/Tokyo"
/* The access log database of slapo-accesslog that init sets up. */
#define ADMIN_ACCESSLOG_BASE "cn=accesslog"

/* The command line. */
struct admin_opts {
	const char *uri, *bind_dn, *pw_file, *mech;
	const char *base, *society, *config_path, *socket_path;
	int json, verbose, yes, strict, apply, no_letters;
	const char *letters_csv;
	const char *letters_pdf;
	long validity; /* seconds; -1: not given */
	unsigned jobs; /* 0: one per processor */
	unsigned window;
	const char *state, *by;
	/* import */
	int dry_run, full, disable_missing;
	enum roster_encoding encoding;
	/* issue */
	const char *number, *name, *birth, *mail, *household, *nickname;
	const char *key_required; /* refused: the key is the society's policy */
	const char *postal_code, *address, *employer, *office_code;
	/* list, history */
	const char *notify, *accesslog;
	char **args; /* operands after the command */
	int nargs;
};

/* The society worked on: from kenpod.conf, or from -b and the defaults. */
struct admin_society {
	char *id;
	char *name; /* NULL when unknown (no configuration) */
	char *base;
	enum kenpo_regmethod method;
	char *home_template, *shell;
	unsigned long uid_min, uid_max, gid;
	long temp_validity; /* seconds, 0: none */
	int key_optional;   /* kenpod.conf's key: 1 optional, 0 required, -1 unknown */
};

struct admin {
	struct admin_opts o;
	struct kenpo_config *cfg; /* NULL without a configuration */
	struct admin_society soc;
	struct kenpo_pwcost cost;
	struct dir *dir;
	int changed;            /* members changed: kenpod must forget its cache */
	char who[ADMIN_DN_MAX]; /* the identity bound, for the audit lines */
	FILE *audit;            /* the configuration's admin_log, or NULL */
};

/* ---- main.c: messages, names, time, output ---- */
/* Messages in the administrator's language (--lang, else the locale) on
 * stderr; fmt is the English text and the msgid of the Japanese one.  The
 * first error is also the "message" ({en, ja}) of the JSON answer. */
void admin_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void admin_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An error already in both languages, after "PREFIX: " (prefix may be NULL). */
void admin_error_msg(const char *prefix, const char *en, const char *ja);
/* FILE:LINE: COLUMN: problem (a roster's error). */
void admin_error_at(const char *path, unsigned long line, const char *field,
		    const struct roster_msg *m);
/* A message as the JSON convention gives it: {"en": ..., "ja": ...}. */
json_object *admin_json_msg(const struct roster_msg *m);
/* msgid in the administrator's language. */
const char *admin_text(const char *msgid);
/* DNs of the society's parts.  0, or -1 when too long. */
int admin_member_dn(const struct admin *a, const char *number, char *out, size_t outsz);
int admin_sub_dn(const struct admin *a, const char *rdn, char *out, size_t outsz);
/* GeneralizedTime in UTC: "20240401093000Z" (out >= 16 bytes). */
void admin_gentime(time_t t, char *out, size_t outsz);
/* The command's JSON answer (--json), taken over and printed on stdout
 * when the command ends, with its outcome ("ok", "error", ...: kenpo(1),
 * JSON OUTPUT). */
void admin_json_print(json_object *o);
/* A list streamed inside the answer as {"KEY":[item,...], outcome}; the
 * item stays the caller's. */
void admin_json_list_begin(const char *key);
void admin_json_list_item(json_object *o);
json_object *admin_json_str(const char *s); /* NULL -> null */
/* Tell kenpod to forget its cache, so that lookups see the change at
 * once; a note when kenpod cannot be asked.  0 if flushed, -1 if not. */
int admin_flush_kenpod(const struct admin *a);
/* Ask kenpod to mail the reset of `address` (RESET_REQUEST).  A
 * kenpo_result, or -1 with errno when kenpod cannot be reached. */
int admin_kenpod_reset(const struct admin *a, const char *address);
/* The number of processors (at least 1). */
unsigned admin_nproc(void);
/* An address as an LDAP PostalAddress value ('\\' as \\5C, '$' as \\24:
 * RFC 4517 3.3.28) and back.  0, or -1 when out is too small. */
int admin_postal_escape(const char *in, char *out, size_t outsz);
int admin_postal_unescape(const char *in, char *out, size_t outsz);

/* ---- audit.c: who changed what ---- */
/* Open syslog (LOG_AUTHPRIV, "kenpo-admin") and the configuration's
 * admin_log; close both. */
void admin_audit_open(struct admin *a);
void admin_audit_close(struct admin *a);
/* One audit line of a change made to the directory (event admin.ACTION):
 * when, the member's entry (its DN), who (the identity bound and the Unix
 * user), then KEY, VALUE pairs ending with a NULL key (a NULL value is
 * written ""), in the format of kenpod's audit lines.  Never pass a secret:
 * "(set)" says that one was written. */
void admin_audit(const struct admin *a, const char *action, const char *member, ...)
	__attribute__((sentinel));

/* ---- lifecycle.c: one member at a time ---- */
/* Find the member named by key (a login ID or a member number, as
 * --by says).  ADMIN_OK with *out, ADMIN_NOTFOUND, or ADMIN_ERROR. */
int admin_find_member(struct admin *a, const char *key, const char *const *attrs,
		      struct dir_entry **out);
int cmd_show(struct admin *a);
int cmd_list(struct admin *a);
int cmd_lock(struct admin *a);
int cmd_unlock(struct admin *a);
int cmd_disable(struct admin *a);
int cmd_enable(struct admin *a);
int cmd_reissue(struct admin *a);
int cmd_delete(struct admin *a);
int cmd_purge(struct admin *a);
int cmd_reset(struct admin *a);

/* ---- profile.c ---- */
int cmd_set(struct admin *a);
/* The address (1 to 3) the member's login key goes to, as kenpod shows
 * it: kenpoKeyMail, 1 when it is absent or not 1 to 3. */
int admin_key_mail(const struct dir_entry *e);

/* ---- notify.c ---- */
/* `list --notify CATEGORY`. */
int cmd_list_notify(struct admin *a);

/* ---- history.c ---- */
int cmd_history(struct admin *a);

/* ---- import.c ---- */
int cmd_issue(struct admin *a);
int cmd_import(struct admin *a);

/* ---- init.c ---- */
int cmd_init(struct admin *a);

/* ---- lettercmd.c: the printable letters ---- */
/* `kenpo-admin letters LETTERS.csv OUT.pdf`: the PDF of a letters CSV, for
 * the society of the configuration (it needs no directory). */
int cmd_letters(struct admin *a);
/* Before issue, import or reissue with --letters-pdf: whether the PDF can
 * be made (a configured society, no such file yet), so that nothing is
 * changed when it cannot.  An exit code (message printed). */
int admin_letters_pdf_ready(const struct admin *a);
/* After issue, import or reissue with --letters-csv and --letters-pdf: the
 * PDF of the letters CSV just written.  rc is the command's exit code: it
 * is returned as it is when the command failed, or when there is no PDF
 * to make; else the PDF's failure (ADMIN_ERROR) or rc. */
int admin_letters_pdf(struct admin *a, int rc);

/* ---- check.c ---- */
int cmd_check(struct admin *a);

#endif
