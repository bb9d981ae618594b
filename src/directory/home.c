/*
 * home.c - the home directory template (see home.h).
 */
#include "autoconfig.h"

#include <string.h>

#include "home.h"

/* What the placeholder at p stands for, or p's own character; *skip is
 * the number of template bytes it takes.  NULL when it stands for a value
 * that is missing. */
static const char *
placeholder(const char *p, const char *login, const char *number, char one[2], size_t *skip)
{
	*skip = 1;
	if (p[0] == '%' && (p[1] == 'u' || p[1] == 'n' || p[1] == '%')) {
		*skip = 2;
		return p[1] == 'u' ? login : p[1] == 'n' ? number : "%";
	}
	one[0] = p[0];
	one[1] = '\0';
	return one;
}

/* The length of the expansion, or -1; with out, also write it (the
 * caller has checked that it fits). */
static long
expand(const char *tmpl, const char *login, const char *number, char *out)
{
	char one[2];
	const char *add;
	size_t o = 0, n, skip;

	for (; *tmpl != '\0'; tmpl += skip) {
		add = placeholder(tmpl, login, number, one, &skip);
		if (add == NULL)
			return -1;
		n = strlen(add);
		if (out != NULL)
			memcpy(out + o, add, n);
		o += n;
	}
	if (out != NULL)
		out[o] = '\0';
	return (long)o;
}

int
kenpo_home_expand(const char *tmpl, const char *login, const char *number, char *out,
		  size_t outsz)
{
	long len = expand(tmpl, login, number, NULL);

	if (len < 0 || (size_t)len >= outsz)
		return -1;
	(void)expand(tmpl, login, number, out);
	return 0;
}
