/*
 * mail.h - compose RFC 5322 messages in UTF-8 and send them with libcurl.
 *
 * Header values never contain CR, LF or NUL: compose refuses them, so header
 * injection is impossible by construction.  The Subject is RFC 2047
 * encoded (base64, UTF-8) when not plain ASCII (or too long for one line,
 * or holding "=?"), the display name likewise; the body is base64 with
 * lines of 76 characters.
 */
#ifndef KENPO_MAIL_H
#define KENPO_MAIL_H

#include <stddef.h>
#include <time.h>
#include "config.h"
#include "text.h" /* kenpo_mail_address_ok */

struct kenpo_mail {
	const char *from_addr;    /* noreply@example.jp */
	const char *from_name;    /* UTF-8 display name, may be NULL */
	const char *to_addr;      /* one recipient */
	const char *subject;      /* UTF-8 */
	const char *body;         /* UTF-8, LF line ends (converted to CRLF) */
	const char *msgid_domain; /* right side of Message-ID (NULL: from_addr's domain) */
	time_t date;              /* 0: now */
	long utc_offset;          /* seconds east of UTC of the Date header's zone (the
				    society's: +0900 for Asia/Tokyo); 0: UTC (+0000) */
};

/* kenpo_mail_address_ok(), the check of an address, is in text.h: the
 * configuration checks addresses too, and that library links no mail code. */

/* Mask an address for display: "taro@example.co.jp" -> "****@****.jp".
 * The local part becomes "****", and all domain labels but the last
 * together become one "****" (so the number of labels does not show);
 * a one-label domain (user@localhost) is shown as it is.
 * Writes into out; 0, or -1 for an invalid address or a small out. */
int kenpo_mail_mask(const char *addr, char *out, size_t outsz);

/* Compose the whole message (CRLF line ends) into a malloc'd buffer.
 * 0 or -1 with errbuf filled (bad address, CR/LF/NUL in a header value,
 * invalid UTF-8).  Headers: Date, From, To, Subject, Message-ID (128
 * random bits in hex), MIME-Version, Content-Type text/plain UTF-8,
 * Content-Transfer-Encoding base64, Auto-Submitted: auto-generated.
 * Lines are folded at 78 columns; only an address longer than a line can
 * make a longer one.  The body keeps CRLF, turns LF into CRLF and must
 * have no lone CR.  The message may hold a secret from the body: the
 * caller wipes it with sodium_memzero before freeing it. */
int kenpo_mail_compose(const struct kenpo_mail *m, char **out, size_t *outlen, char *errbuf,
		       size_t errsz);

/* SMTP connection settings, filled from the config or by hand. */
struct kenpo_smtp {
	const char *url;         /* smtp://host:port or smtps://host:port */
	enum kenpo_smtp_tls tls; /* starttls requires it (CURLUSESSL_ALL) */
	const char *user;        /* NULL: no AUTH */
	const char *password;
	const char *ca_file;  /* NULL: system store */
	long timeout;         /* seconds, connect and whole transfer (<= 0: 10) */
	char *password_owned; /* the copy kenpo_smtp_from_config read; NULL
				     when filled by hand */
};

/* Fill from the configuration; reads smtp_password_file (safely) into a
 * malloc'd password the caller frees with kenpo_smtp_clear. 0 or -1.
 * The file is read with kenpo_read_secret_line (readfile.h: owned by root
 * or the caller, mode 0600 or stricter, at most 4 KiB, the password on one
 * line).  smtp_user and smtp_password_file go together.
 * url, user and ca_file point into cfg, which must outlive s. */
int kenpo_smtp_from_config(const struct kenpo_config *cfg, struct kenpo_smtp *s, char *errbuf,
			   size_t errsz);
/* Wipe (sodium_memzero) and free the password read from the file. */
void kenpo_smtp_clear(struct kenpo_smtp *s);

/* curl_global_init, once per process (pthread_once); kenpo_mail_send calls
 * it, a threaded daemon may call it early from main.  0 or -1. */
int kenpo_mail_global_init(void);

/* Send a composed message to one recipient.  0, or -1 with a clear errbuf
 * ("mail relay smtp://127.0.0.1:1: connection refused", or on an SMTP
 * refusal "mail relay smtp://...: refused: 550 <the relay's reply> (RCPT
 * failed: 550)").  The URL is smtp:// (tls none or starttls, the latter
 * requiring STARTTLS) or smtps:// (tls smtps), without a user name in it.
 * Only SMTP is allowed (CURLOPT_PROTOCOLS_STR); safe in threads. */
int kenpo_mail_send(const struct kenpo_smtp *s, const char *from_addr, const char *to_addr,
		    const char *msg, size_t len, char *errbuf, size_t errsz);

#endif
