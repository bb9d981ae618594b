/*
 * text.h - checks of text that the configuration, the mail code, the
 * templates, kenpod and the tools share: UTF-8, domain names and mail
 * addresses.  They judge bytes, whatever the locale of the process, and
 * live in the library that every binary links.
 */
#ifndef KENPO_TEXT_H
#define KENPO_TEXT_H

#include <stddef.h>

/* 1 if s[0..len) is valid UTF-8 (RFC 3629: no overlong forms, surrogates
 * or code points above U+10FFFF), else 0.  NUL bytes are valid UTF-8. */
int kenpo_utf8_valid(const char *s, size_t len);

/* The length of the UTF-8 sequence at s (n > 0 bytes left) and its code
 * point in *cp, or 0 when it is invalid (overlong, surrogate, beyond
 * U+10FFFF, cut off). */
size_t kenpo_utf8_next(const unsigned char *s, size_t n, unsigned long *cp);

/* 1 for the C0 controls, DEL and the C1 controls U+0080..U+009F. */
int kenpo_utf8_is_control(unsigned long cp);

/* An ASCII letter or digit, whatever the locale. */
int kenpo_ascii_alnum(char c);
/* c is not NUL and is one of the characters of set. */
int kenpo_char_in(char c, const char *set);

/* 1 if s[0..n) is a domain name: at most 253 bytes, labels of 1 to 63
 * letters, digits and inner hyphens. */
int kenpo_domain_ok(const char *s, size_t n);

/* A syntactic check of an addr-spec: local@domain, printable ASCII, no
 * spaces, no CR/LF/NUL, at most 254 characters, one '@', a dot-atom local
 * part of at most 64 characters (no quoted strings), a domain as
 * kenpo_domain_ok.  1 if acceptable; NULL is not. */
int kenpo_mail_address_ok(const char *addr);

#endif
