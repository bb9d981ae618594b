/*
 * text.c - UTF-8, domain names and mail addresses (see text.h).
 */
#include "autoconfig.h"

#include <string.h>

#include "text.h"

#define MAIL_ADDRESS_MAX 254 /* RFC 5321 path limit less the brackets */

/* The length of the UTF-8 sequence at s (n bytes left) and its code point,
 * or 0 when it is invalid (overlong, surrogate, beyond U+10FFFF, cut off).
 * Written out because mbrtowc depends on the locale of the calling process
 * (kenpod runs in the C locale), and the file, the templates and the mails
 * are UTF-8 whatever that locale is. */
size_t
kenpo_utf8_next(const unsigned char *s, size_t n, unsigned long *cp)
{
	static const unsigned long min_of[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len, i;
	unsigned long c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min_of[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* C0 controls, DEL and the C1 controls U+0080..U+009F. */
int
kenpo_utf8_is_control(unsigned long cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

int
kenpo_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned long cp;
	size_t i = 0, l;

	while (i < len) {
		l = kenpo_utf8_next(u + i, len - i, &cp);
		if (l == 0)
			return 0;
		i += l;
	}
	return 1;
}

int
kenpo_ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int
kenpo_char_in(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

/* Labels of 1..63 letters, digits and '-', not starting or ending in '-'. */
int
kenpo_domain_ok(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!kenpo_ascii_alnum(s[i]) && s[i] != '-')
			return 0;
		if (s[i] == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[n - 1] != '-';
}

/* local@domain in printable ASCII: the dot-atom local part of RFC 5322
 * without quoting or comments, so the address can go into a header as it is. */
int
kenpo_mail_address_ok(const char *s)
{
	const char *at;
	size_t local, i;

	if (s == NULL || strnlen(s, MAIL_ADDRESS_MAX + 1) > MAIL_ADDRESS_MAX)
		return 0;
	at = strchr(s, '@');
	if (at == NULL || strchr(at + 1, '@') != NULL)
		return 0;
	local = (size_t)(at - s);
	if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.')
		return 0;
	for (i = 0; i < local; i++) {
		if (!kenpo_ascii_alnum(s[i]) && !kenpo_char_in(s[i], "!#$%&'*+-/=?^_`{|}~."))
			return 0;
		if (s[i] == '.' && s[i + 1] == '.')
			return 0;
	}
	return kenpo_domain_ok(at + 1, strlen(at + 1));
}
