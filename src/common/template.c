/*
 * template.c - mail templates with %%NAME%% placeholders (see template.h).
 *
 * Expansion runs in two passes over the same code: the first checks the
 * text and measures the result, the second writes it into a buffer of
 * exactly that size.  The values include temporary passwords and keys, so
 * the result is never grown with realloc (which would leave copies of a
 * secret in freed memory) and is wiped before it is freed on an error.
 */
#include <autoconfig.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "config.h"
#include "readfile.h"
#include "text.h"
#include "secret.h"
#include "template.h"

#ifndef TEMPLATEDIR
#define TEMPLATEDIR "/usr/share/kenpo/templates"
#endif

static const char *const kind_names[KENPO_MAIL_KIND_COUNT] = {
	[KENPO_MAIL_GUIDE] = "guide",
	[KENPO_MAIL_COMPLETE] = "complete",
	[KENPO_MAIL_IDENTITY] = "identity",
	[KENPO_MAIL_RESET] = "reset",
	[KENPO_MAIL_KEY] = "key",
	[KENPO_MAIL_PROFILE_CHANGED] = "profile-changed",
	[KENPO_MAIL_ADDRESS_ADDED] = "address-added",
	[KENPO_MAIL_KEY_SINGLE] = "key-single",
	[KENPO_MAIL_PASSWORD_CHANGED] = "password-changed",
};

/* The directory names under the template directories. */
static const char *const lang_dirs[] = {
	[KENPO_LANG_JA] = "ja",
	[KENPO_LANG_EN] = "en",
};

const char *
kenpo_mail_kind_name(enum kenpo_mail_kind kind)
{
	if ((unsigned)kind >= KENPO_MAIL_KIND_COUNT)
		return NULL;
	return kind_names[kind];
}

/* ---- duration --------------------------------------------------------- */

struct duration_words {
	const char *unit[3];  /* hours, minutes, seconds: one */
	const char *units[3]; /* the same, more than one */
	const char *sep;      /* between the parts */
};

static const struct duration_words duration_words[] = {
	[KENPO_LANG_JA] = { { "時間", "分", "秒" }, { "時間", "分", "秒" }, "" },
	[KENPO_LANG_EN] = { { " hour", " minute", " second" },
			    { " hours", " minutes", " seconds" },
			    " " },
};

int
kenpo_duration_format(enum kenpo_lang lang, long secs, char *out, size_t outsz)
{
	const struct duration_words *w;
	long part[3];
	char buf[128];
	size_t used = 0;
	int i, n;

	if ((unsigned)lang >= sizeof(duration_words) / sizeof(duration_words[0]) || secs < 0 ||
	    out == NULL)
		return -1;
	w = &duration_words[lang];
	part[0] = secs / 3600;
	part[1] = secs % 3600 / 60;
	part[2] = secs % 60;
	buf[0] = '\0';
	for (i = 0; i < 3; i++) {
		/* Zero parts are left out, except a duration of zero itself. */
		if (part[i] == 0 && !(i == 2 && used == 0))
			continue;
		n = snprintf(buf + used, sizeof(buf) - used, "%s%ld%s", used > 0 ? w->sep : "",
			     part[i], part[i] == 1 ? w->unit[i] : w->units[i]);
		if (n < 0 || (size_t)n >= sizeof(buf) - used)
			return -1;
		used += (size_t)n;
	}
	if (used >= outsz)
		return -1;
	memcpy(out, buf, used + 1);
	return 0;
}

/* ---- expansion ---------------------------------------------------------- */

/* One part of a template (the subject or the body) being expanded. */
struct expansion {
	const struct kenpo_var *vars;
	size_t nvars;
	unsigned line; /* line of the template, for messages */
	char *out;     /* NULL in the measuring pass */
	size_t len;
	char *errbuf;
	size_t errsz;
};

static int
is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static const struct kenpo_var *
find_var(const struct expansion *x, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < x->nvars; i++) {
		if (x->vars[i].name != NULL && strlen(x->vars[i].name) == n &&
		    memcmp(x->vars[i].name, name, n) == 0)
			return &x->vars[i];
	}
	return NULL;
}

static int
emit(struct expansion *x, const char *s, size_t n)
{
	if (n > SIZE_MAX - 1 - x->len) {
		snprintf(x->errbuf, x->errsz, "template: result too large");
		return -1;
	}
	if (x->out != NULL)
		memcpy(x->out + x->len, s, n);
	x->len += n;
	return 0;
}

/* At s (which starts with "%%"), a placeholder: emit its value and return
 * its length, or -1 if it is malformed, unknown or has no value. */
static long
expand_placeholder(struct expansion *x, const char *s, size_t n)
{
	const struct kenpo_var *v;
	size_t k = 2;

	while (k < n && is_name_char(s[k]))
		k++;
	if (k == 2 || k + 1 >= n || s[k] != '%' || s[k + 1] != '%') {
		snprintf(x->errbuf, x->errsz,
			 "template line %u: '%%%%' that does not start a "
			 "%%%%NAME%%%% placeholder",
			 x->line);
		return -1;
	}
	v = find_var(x, s + 2, k - 2);
	if (v == NULL || v->value == NULL) {
		snprintf(x->errbuf, x->errsz, "template line %u: %s %%%%%.*s%%%%", x->line,
			 v == NULL ? "unknown placeholder" : "no value for placeholder",
			 (int)(k - 2), s + 2);
		return -1;
	}
	if (emit(x, v->value, strlen(v->value)) != 0)
		return -1;
	return (long)(k + 2);
}

static int
is_open(const char *s, size_t n, size_t i)
{
	return s[i] == '%' && i + 1 < n && s[i + 1] == '%';
}

static int
expand_part(struct expansion *x, const char *s, size_t n)
{
	size_t i = 0, plain;
	long used;

	while (i < n) {
		if (is_open(s, n, i)) {
			used = expand_placeholder(x, s + i, n - i);
			if (used < 0)
				return -1;
			i += (size_t)used;
			continue;
		}
		/* Plain text up to the next "%%"; a single '%' ("100%") is text. */
		for (plain = i; plain < n && !is_open(s, n, plain); plain++)
			x->line += s[plain] == '\n';
		if (emit(x, s + i, plain - i) != 0)
			return -1;
		i = plain;
	}
	return 0;
}

/* Expand one part into a new NUL-terminated buffer of exactly its size. */
static int
expand_alloc(const struct kenpo_var *vars, size_t nvars, unsigned line, const char *s, size_t n,
	     char **out, size_t *outlen, char *errbuf, size_t errsz)
{
	struct expansion x = { vars, nvars, line, NULL, 0, errbuf, errsz };
	char *buf;

	if (expand_part(&x, s, n) != 0)
		return -1;
	buf = malloc(x.len + 1);
	if (buf == NULL) {
		snprintf(errbuf, errsz, "template: out of memory");
		return -1;
	}
	x.out = buf;
	x.len = 0;
	x.line = line;
	if (expand_part(&x, s, n) != 0) {
		/* Not reached: the first pass accepted the same input. */
		kenpo_wipe_free(buf, x.len);
		return -1;
	}
	buf[x.len] = '\0';
	*out = buf;
	*outlen = x.len;
	return 0;
}

/* Check the raw template: UTF-8, no NUL, no CR, and the shape
 * "Subject: ...\n\n...".  Sets the spans of subject and body. */
static int
split_template(const char *text, size_t len, const char **subj, size_t *subjlen,
	       const char **body, size_t *bodylen, char *errbuf, size_t errsz)
{
	static const char tag[] = "Subject:";
	const char *nl;

	if (!kenpo_utf8_valid(text, len) || memchr(text, '\0', len) != NULL) {
		snprintf(errbuf, errsz, "template: not valid UTF-8 text");
		return -1;
	}
	if (memchr(text, '\r', len) != NULL) {
		snprintf(errbuf, errsz, "template: carriage return (line ends must be LF)");
		return -1;
	}
	nl = memchr(text, '\n', len);
	if (len < sizeof(tag) - 1 || memcmp(text, tag, sizeof(tag) - 1) != 0 || nl == NULL ||
	    (size_t)(nl - text) + 1 >= len || nl[1] != '\n') {
		snprintf(errbuf, errsz,
			 "template: must start with a \"Subject: ...\" "
			 "line and an empty line");
		return -1;
	}
	*subj = text + sizeof(tag) - 1;
	*subjlen = (size_t)(nl - *subj);
	while (*subjlen > 0 && (**subj == ' ' || **subj == '\t')) {
		(*subj)++;
		(*subjlen)--;
	}
	*body = nl + 2;
	*bodylen = len - (size_t)(*body - text);
	return 0;
}

/* The expanded subject must be one non-empty line of UTF-8 (values come
 * from outside the template). */
static int
check_subject(const char *s, size_t n, char *errbuf, size_t errsz)
{
	if (n == 0) {
		snprintf(errbuf, errsz, "template: empty subject");
		return -1;
	}
	if (strcspn(s, "\r\n") != n) {
		snprintf(errbuf, errsz, "template: subject contains a line break");
		return -1;
	}
	if (!kenpo_utf8_valid(s, n)) {
		snprintf(errbuf, errsz, "template: subject is not valid UTF-8");
		return -1;
	}
	return 0;
}

int
kenpo_template_expand(const char *text, size_t len, const struct kenpo_var *vars, size_t nvars,
		      char **subject, char **body, char *errbuf, size_t errsz)
{
	const char *subj_in, *body_in;
	size_t subj_inlen, body_inlen, slen = 0, blen = 0;
	char *s = NULL, *b = NULL;
	int rc = -1;

	if (text == NULL || subject == NULL || body == NULL || (vars == NULL && nvars > 0)) {
		snprintf(errbuf, errsz, "template: invalid arguments");
		return -1;
	}
	if (split_template(text, len, &subj_in, &subj_inlen, &body_in, &body_inlen, errbuf,
			   errsz) != 0)
		goto done;
	if (expand_alloc(vars, nvars, 1, subj_in, subj_inlen, &s, &slen, errbuf, errsz) != 0)
		goto done;
	if (check_subject(s, slen, errbuf, errsz) != 0)
		goto done;
	if (expand_alloc(vars, nvars, 3, body_in, body_inlen, &b, &blen, errbuf, errsz) != 0)
		goto done;
	if (!kenpo_utf8_valid(b, blen) || strlen(b) != blen) {
		snprintf(errbuf, errsz, "template: body is not valid UTF-8 text");
		goto done;
	}
	*subject = s;
	*body = b;
	s = NULL;
	b = NULL;
	rc = 0;
done:
	kenpo_wipe_free(s, slen);
	kenpo_wipe_free(b, blen);
	return rc;
}

/* ---- files ---------------------------------------------------------------- */

#define TEMPLATE_MAX_BYTES (64 * 1024)

/* The directory of the shipped templates: $KENPO_TEMPLATEDIR lets the
 * tests use the source tree, but never in a set-id process. */
static const char *
template_dir(void)
{
	const char *env = secure_getenv("KENPO_TEMPLATEDIR");

	return env != NULL && *env != '\0' ? env : TEMPLATEDIR;
}

static int
template_path(const char *dir, enum kenpo_lang lang, const char *name, char *path, size_t pathsz,
	      char *errbuf, size_t errsz)
{
	int n = snprintf(path, pathsz, "%s/%s/%s.txt", dir, lang_dirs[lang], name);

	if (n < 0 || (size_t)n >= pathsz) {
		snprintf(errbuf, errsz, "template directory %.200s: path too long", dir);
		return -1;
	}
	return 0;
}

/* Pick the override when it exists; a file that exists but cannot be used
 * is an error, never a silent fallback. */
static int
choose_path(enum kenpo_lang lang, const char *name, const char *override_dir, char *path,
	    size_t pathsz, char *errbuf, size_t errsz)
{
	struct stat st;

	if (override_dir != NULL && *override_dir != '\0') {
		if (template_path(override_dir, lang, name, path, pathsz, errbuf, errsz) != 0)
			return -1;
		if (lstat(path, &st) == 0)
			return 0;
		if (errno != ENOENT) {
			snprintf(errbuf, errsz, "%.300s: %s", path, strerror(errno));
			return -1;
		}
	}
	return template_path(template_dir(), lang, name, path, pathsz, errbuf, errsz);
}

int
kenpo_template_render(enum kenpo_mail_kind kind, enum kenpo_lang lang, const char *override_dir,
		      const struct kenpo_var *vars, size_t nvars, char **subject, char **body,
		      char *errbuf, size_t errsz)
{
	const char *name = kenpo_mail_kind_name(kind);
	char path[4096], err[512];
	char *text = NULL;
	size_t len = 0;
	int rc = -1;

	if (name == NULL || (unsigned)lang >= sizeof(lang_dirs) / sizeof(lang_dirs[0])) {
		snprintf(errbuf, errsz, "template: unknown mail kind or language");
		return -1;
	}
	if (choose_path(lang, name, override_dir, path, sizeof(path), errbuf, errsz) != 0)
		goto done;
	if (kenpo_read_file_safely(path, geteuid(), TEMPLATE_MAX_BYTES, 0, &text, &len, errbuf,
				   errsz) != 0)
		goto done;
	if (kenpo_template_expand(text, len, vars, nvars, subject, body, err, sizeof(err)) != 0) {
		snprintf(errbuf, errsz, "%.300s: %s", path, err);
		goto done;
	}
	rc = 0;
done:
	free(text);
	return rc;
}

int
kenpo_template_read(const char *name, enum kenpo_lang lang, const char *override_dir, char **text,
		    size_t *len, char *path, size_t pathsz, char *errbuf, size_t errsz)
{
	if ((unsigned)lang >= sizeof(lang_dirs) / sizeof(lang_dirs[0])) {
		snprintf(errbuf, errsz, "template: unknown language");
		return -1;
	}
	if (choose_path(lang, name, override_dir, path, pathsz, errbuf, errsz) != 0)
		return -1;
	return kenpo_read_file_safely(path, geteuid(), TEMPLATE_MAX_BYTES, 0, text, len, errbuf,
				      errsz);
}

int
kenpo_template_fill(const char *s, size_t n, unsigned line, const struct kenpo_var *vars,
		    size_t nvars, char **out, char *errbuf, size_t errsz)
{
	size_t len = 0;

	return expand_alloc(vars, nvars, line, s, n, out, &len, errbuf, errsz);
}
