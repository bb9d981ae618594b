/*
 * form.c - urlencoded forms, decoded with bounds (see form.h).
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "form.h"
#include "secret.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode src[0..n) into out (which has room for n + 1 bytes); returns the
 * decoded length or -1 on a bad escape. */
static long
decode(const char *src, size_t n, char *out)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (src[i] == '+') {
			out[o++] = ' ';
		} else if (src[i] == '%') {
			if (i + 2 >= n || (hi = hexval(src[i + 1])) < 0 ||
			    (lo = hexval(src[i + 2])) < 0)
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = src[i];
		}
	}
	out[o] = '\0';
	return (long)o;
}

int
form_value_ok(const char *s)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return kenpo_utf8_valid(s, n);
}

/* One "name=value" pair at p[0..n). */
static int
add_pair(struct form *f, const char *p, size_t n, char **cursor)
{
	const char *eq = memchr(p, '=', n);
	size_t nlen = eq != NULL ? (size_t)(eq - p) : n;
	size_t vlen = eq != NULL ? n - nlen - 1 : 0;
	long dn, dv;
	char *name = *cursor, *value;

	if (f->n == FORM_FIELDS_MAX)
		return FORM_ETOOMANY;
	if ((dn = decode(p, nlen, name)) < 0)
		return FORM_EENCODING;
	value = name + dn + 1;
	if ((dv = decode(eq != NULL ? eq + 1 : "", vlen, value)) < 0)
		return FORM_EENCODING;
	if ((size_t)dn > FORM_NAME_MAX || (size_t)dv > FORM_VALUE_MAX)
		return FORM_ETOOLONG;
	if (strlen(name) != (size_t)dn || strlen(value) != (size_t)dv || !form_value_ok(name) ||
	    !form_value_ok(value))
		return FORM_EENCODING;
	f->name[f->n] = name;
	f->value[f->n] = value;
	f->n++;
	*cursor = value + dv + 1;
	return FORM_OK;
}

int
form_parse(const char *body, size_t len, struct form *f)
{
	const char *p = body, *end = body + len, *amp;
	char *cursor;
	int rc = FORM_OK;

	memset(f, 0, sizeof(*f));
	/* Each pair decodes to at most its length plus two NULs. */
	f->memsz = 2 * len + 2;
	if ((f->mem = malloc(f->memsz)) == NULL)
		return FORM_ENOMEM;
	cursor = f->mem;
	while (p < end && rc == FORM_OK) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp > p)
			rc = add_pair(f, p, (size_t)(amp - p), &cursor);
		p = amp + 1;
	}
	if (rc != FORM_OK)
		form_free(f);
	return rc;
}

const char *
form_get(const struct form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->name[i], name) == 0)
			return f->value[i];
	return NULL;
}

const char *
form_str(const struct form *f, const char *name)
{
	const char *v = form_get(f, name);

	return v != NULL ? v : "";
}

void
form_free(struct form *f)
{
	if (f->mem != NULL)
		kenpo_wipe_free(f->mem, f->memsz);
	memset(f, 0, sizeof(*f));
}
