/*
 * mail.h - compose RFC 5322 messages in UTF-8 and send them with libcurl.
 *
 * Header values never contain CR, LF or NUL: compose refuses them, so header
 * injection is impossible by construction.  The Subject is RFC 2047
 * encoded (base64, UTF-8) when not plain ASCII, the display name likewise;
 * the body is base64 with lines of 76 characters.
 */
#ifndef KENPO_MAIL_H
#define KENPO_MAIL_H

#include <stddef.h>
#include <time.h>
#include "config.h"

struct kenpo_mail {
	const char *from_addr;   /* noreply@example.jp */
	const char *from_name;   /* UTF-8 display name, may be NULL */
	const char *to_addr;     /* one recipient */
	const char *subject;     /* UTF-8 */
	const char *body;        /* UTF-8, LF line ends (converted to CRLF) */
	const char *msgid_domain;/* right side of Message-ID */
	time_t date;             /* 0: now */
};

/* A syntactic check of an addr-spec: local@domain, printable ASCII, no
 * spaces, no CR/LF/NUL, at most 254 characters, one '@', a dot-atom local
 * part (no quoted strings), a domain of labels.  1 if acceptable. */
int kenpo_mail_address_ok(const char *addr);

/* Mask an address for display: "taro@example.co.jp" -> "****@****.jp".
 * Writes into out; 0 or -1. */
int kenpo_mail_mask(const char *addr, char *out, size_t outsz);

/* Compose the whole message (CRLF line ends) into a malloc'd buffer.
 * 0 or -1 with errbuf filled (bad address, CR/LF/NUL in a header value,
 * invalid UTF-8). */
int kenpo_mail_compose(const struct kenpo_mail *m, char **out, size_t *outlen,
		       char *errbuf, size_t errsz);

/* SMTP connection settings, filled from the config or by hand. */
struct kenpo_smtp {
	const char *url;          /* smtp://host:port or smtps://host:port */
	enum kenpo_smtp_tls tls;  /* starttls requires it (CURLUSESSL_ALL) */
	const char *user;         /* NULL: no AUTH */
	const char *password;
	const char *ca_file;      /* NULL: system store */
	long timeout;             /* seconds, connect and whole transfer */
};

/* Fill from the configuration; reads smtp_password_file (safely) into a
 * malloc'd password the caller frees with kenpo_smtp_clear. 0 or -1. */
int kenpo_smtp_from_config(const struct kenpo_config *cfg, struct kenpo_smtp *s,
			   char *errbuf, size_t errsz);
void kenpo_smtp_clear(struct kenpo_smtp *s);

/* Send a composed message to one recipient.  0, or -1 with a clear errbuf
 * ("mail relay smtp://...: connection refused", "...: recipient refused: 550 ..."). */
int kenpo_mail_send(const struct kenpo_smtp *s, const char *from_addr,
		    const char *to_addr, const char *msg, size_t len,
		    char *errbuf, size_t errsz);

#endif
