/*
 * form.h - the fields of an application/x-www-form-urlencoded body.
 *
 * Bounded: at most FORM_FIELDS_MAX fields, names of FORM_NAME_MAX bytes
 * and values of FORM_VALUE_MAX bytes once decoded; every value is valid
 * UTF-8 without control characters (no form of the portal has a
 * multi-line field), so nothing that reaches kenpod, PAM, a mail header
 * or a page can carry a CR or LF.  The decoded fields live in one buffer
 * that form_free wipes: forms carry passwords.
 */
#ifndef KENPO_WEB_FORM_H
#define KENPO_WEB_FORM_H

#include <stddef.h>

#define FORM_FIELDS_MAX 640
#define FORM_NAME_MAX 64
#define FORM_VALUE_MAX 1024

enum form_error {
	FORM_OK = 0,
	FORM_ETOOMANY = -1,  /* more than FORM_FIELDS_MAX fields */
	FORM_ETOOLONG = -2,  /* a name or a value too long */
	FORM_EENCODING = -3, /* bad %-escape, bad UTF-8 or a control character */
	FORM_ENOMEM = -4,
};

struct form {
	size_t n;
	const char *name[FORM_FIELDS_MAX];
	const char *value[FORM_FIELDS_MAX];
	char *mem;
	size_t memsz;
};

/* Decode body[0..len).  FORM_OK, or an error with *f empty. */
int form_parse(const char *body, size_t len, struct form *f);
/* The first value of `name`, or NULL. */
const char *form_get(const struct form *f, const char *name);
/* The first value of `name`, or "". */
const char *form_str(const struct form *f, const char *name);
void form_free(struct form *f);

/* One decoded value of a query string or form, checked like a form value
 * (used for the query parameters that libmicrohttpd has decoded). */
int form_value_ok(const char *s);

#endif
