/*
 * template.h - mail templates with %%NAME%% placeholders.
 *
 * A template file is UTF-8 text: the first line is "Subject: ...", then an
 * empty line, then the body.  Names are [A-Z0-9_]+.  An unknown or missing
 * placeholder is an error (a mail must never go out with a hole in it).
 */
#ifndef KENPO_TEMPLATE_H
#define KENPO_TEMPLATE_H

#include <stddef.h>
#include "config.h" /* enum kenpo_lang */

/* The mails of the portal. */
enum kenpo_mail_kind {
	KENPO_MAIL_GUIDE = 0, /* 利用登録手続きのご案内: URL, VALIDITY */
	KENPO_MAIL_COMPLETE,  /* 利用登録完了のご案内: LOGINURL, LOGINID */
	KENPO_MAIL_IDENTITY,  /* 本人確認完了のご案内: URL, VALIDITY */
	KENPO_MAIL_RESET, /* パスワード再発行のご案内: URL, LOGINID, PASSWD, VALIDITY */
	KENPO_MAIL_KEY,   /* 暗証キーのご案内: KEY, VALIDITY */
	KENPO_MAIL_PROFILE_CHANGED, /* ご登録内容変更のお知らせ: CHANGES (the lines of the change) */
	KENPO_MAIL_ADDRESS_ADDED, /* メールアドレス登録のお知らせ: SLOT (1, 2 or 3) */
	KENPO_MAIL_KEY_SINGLE, /* 暗証キーのご案内, to enter after the password: KEY, VALIDITY */
	KENPO_MAIL_PASSWORD_CHANGED, /* パスワード変更のお知らせ: WHEN */
	KENPO_MAIL_KIND_COUNT
};

/* File stem of a kind: "guide", "complete", "identity", "reset", "key",
 * "profile-changed", "address-added", "key-single", "password-changed";
 * NULL for a value out of range. */
const char *kenpo_mail_kind_name(enum kenpo_mail_kind kind);

struct kenpo_var {
	const char *name;
	const char *value;
};

/* Every template gets SOCIETY (the society's name) besides its own variables. */

/* Load the template of `kind` in `lang`: from override_dir/<lang>/<name>.txt
 * if override_dir is set and the file exists, else from
 * TEMPLATEDIR/<lang>/<name>.txt ($KENPO_TEMPLATEDIR overrides TEMPLATEDIR
 * when not set-id).  Then substitute.  On success *subject and *body are
 * malloc'd UTF-8 strings.  0 or -1 with errbuf filled.
 * The file is read with kenpo_read_file_safely (no symlink, owned by root
 * or the caller, not group- or world-writable, at most 64 KiB): a template
 * is trusted text that goes out under the society's name.  An override
 * file that exists but cannot be read is an error, not a fallback. */
int kenpo_template_render(enum kenpo_mail_kind kind, enum kenpo_lang lang,
			  const char *override_dir, const struct kenpo_var *vars, size_t nvars,
			  char **subject, char **body, char *errbuf, size_t errsz);

/* Substitute in a template text already in memory (what render does after
 * reading).  Splits "Subject: " line from body.  0 or -1.
 * The text must be UTF-8 with LF line ends and no NUL.  Every "%%" must
 * open a %%NAME%% placeholder: an unknown name, a variable whose value is
 * NULL or a stray "%%" is an error naming the template line; a single
 * '%' ("100%") is plain text.  Variables
 * the template does not use are allowed (an override may leave some out).
 * The expanded subject must be one non-empty line.  The body may carry a
 * temporary password or a key: the caller wipes it (sodium_memzero) before
 * freeing it. */
int kenpo_template_expand(const char *text, size_t len, const struct kenpo_var *vars,
			  size_t nvars, char **subject, char **body, char *errbuf, size_t errsz);

/* Read the template file `name` (the stem, e.g. "letter") in `lang` as
 * kenpo_template_render finds and reads a mail's: override_dir's when it
 * has one, else the shipped one.  *text is malloc'd (NUL-terminated,
 * *len bytes), path names the file read.  0 or -1 with errbuf filled. */
int kenpo_template_read(const char *name, enum kenpo_lang lang, const char *override_dir,
			char **text, size_t *len, char *path, size_t pathsz, char *errbuf,
			size_t errsz);

/* Substitute the %%NAME%% placeholders in s[0..n), a part of a template
 * file starting at its line `line` (for messages), into a malloc'd *out.
 * The rules of kenpo_template_expand.  0 or -1 with errbuf filled. */
int kenpo_template_fill(const char *s, size_t n, unsigned line, const struct kenpo_var *vars,
			size_t nvars, char **out, char *errbuf, size_t errsz);

/* A validity for the VALIDITY variable: "3時間", "1時間30分", "45秒" in
 * Japanese, "3 hours", "1 hour 30 minutes", "1 minute" in English.  Zero
 * parts are left out; zero seconds is "0秒" / "0 seconds".  0, or -1 when
 * secs is negative or out is too small (out untouched). */
int kenpo_duration_format(enum kenpo_lang lang, long secs, char *out, size_t outsz);

#endif
