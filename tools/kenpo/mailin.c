/*
 * mailin.c - the sender of a mail piped in by an MTA (see mailin.h).
 *
 * GMime does the RFC 5322 work (unfolding, comments, encoded-words in
 * display names, group syntax); kenpo only chooses among the headers and
 * then applies its own strict address check, since GMime is lenient by
 * design and would repair an address rather than refuse it.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <gmime/gmime.h>

#include "mail.h"
#include "mailin.h"

static const char *const rc_codes[] = {
	[KENPO_MAILIN_OK] = "ok",
	[KENPO_MAILIN_READ_ERROR] = "read-error",
	[KENPO_MAILIN_TOO_LARGE] = "too-large",
	[KENPO_MAILIN_MALFORMED] = "malformed",
	[KENPO_MAILIN_NO_SENDER] = "no-sender",
	[KENPO_MAILIN_AUTOMATIC] = "automatic",
};

static const char *const source_names[] = {
	[KENPO_MAILIN_FROM] = "from",
	[KENPO_MAILIN_SENDER] = "sender",
	[KENPO_MAILIN_RETURN_PATH] = "return-path",
};

const char *
kenpo_mailin_code(enum kenpo_mailin_rc rc)
{
	if ((size_t)rc >= sizeof rc_codes / sizeof rc_codes[0])
		return "unknown";
	return rc_codes[rc];
}

const char *
kenpo_mailin_source_name(enum kenpo_mailin_source s)
{
	if ((size_t)s >= sizeof source_names / sizeof source_names[0])
		return "unknown";
	return source_names[s];
}

/* ---- reading ---- */

enum kenpo_mailin_rc
kenpo_mailin_read(int fd, size_t max, char **data, size_t *len)
{
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap + 1), *grown;
	ssize_t got;
	enum kenpo_mailin_rc rc = KENPO_MAILIN_READ_ERROR;

	if (buf == NULL)
		goto done;
	for (;;) {
		if (n == cap) {
			/* Grow until one byte past the cap: that byte tells "too large". */
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			if (n == cap) {
				rc = KENPO_MAILIN_TOO_LARGE;
				goto done;
			}
			grown = realloc(buf, cap + 1);
			if (grown == NULL)
				goto done;
			buf = grown;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			goto done;
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > max) {
		rc = KENPO_MAILIN_TOO_LARGE;
		goto done;
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	buf = NULL;
	rc = KENPO_MAILIN_OK;
done:
	free(buf);
	return rc;
}

/* ---- choosing the sender ---- */

/* Copy the single usable mailbox of list into out.  0 or -1. */
static int
single_mailbox(InternetAddressList *list, char *out, size_t outsz)
{
	InternetAddress *ia;
	const char *addr;

	if (list == NULL || internet_address_list_length(list) != 1)
		return -1;
	ia = internet_address_list_get_address(list, 0);
	if (ia == NULL || !INTERNET_ADDRESS_IS_MAILBOX(ia))
		return -1; /* a group ("undisclosed-recipients:;") is nobody */
	addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
	if (addr == NULL || !kenpo_mail_address_ok(addr) || strlen(addr) >= outsz)
		return -1;
	memcpy(out, addr, strlen(addr) + 1);
	return 0;
}

/* The value without the white space GMime may leave around it. */
static void
trimmed(const char *s, const char **start, size_t *len)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	*start = s;
	*len = n;
}

/* RFC 3834: anything but "no" (parameters after ';' aside) is automatic. */
static int
is_auto_submitted(GMimeObject *obj)
{
	const char *v = g_mime_object_get_header(obj, "Auto-Submitted"), *s;
	size_t len;

	if (v == NULL)
		return 0;
	trimmed(v, &s, &len);
	len = strcspn(s, ";");
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	return !(len == 2 && strncasecmp(s, "no", 2) == 0);
}

/* "<>" is the null reverse path of a bounce (RFC 5321 4.5.5). */
static int
is_null_return_path(const char *v)
{
	const char *s;
	size_t len;

	if (v == NULL)
		return 0;
	trimmed(v, &s, &len);
	return len == 2 && s[0] == '<' && s[1] == '>';
}

static int
return_path_mailbox(const char *v, char *out, size_t outsz)
{
	InternetAddressList *list;
	int rc;

	if (v == NULL)
		return -1;
	list = internet_address_list_parse(NULL, v);
	rc = single_mailbox(list, out, outsz);
	if (list != NULL)
		g_object_unref(list);
	return rc;
}

static enum kenpo_mailin_rc
choose_sender(GMimeMessage *msg, char *out, size_t outsz, enum kenpo_mailin_source *source)
{
	GMimeObject *obj = GMIME_OBJECT(msg);
	const char *rp = g_mime_object_get_header(obj, "Return-Path");

	if (is_auto_submitted(obj) || is_null_return_path(rp))
		return KENPO_MAILIN_AUTOMATIC;
	if (single_mailbox(g_mime_message_get_from(msg), out, outsz) == 0) {
		*source = KENPO_MAILIN_FROM;
		return KENPO_MAILIN_OK;
	}
	if (single_mailbox(g_mime_message_get_sender(msg), out, outsz) == 0) {
		*source = KENPO_MAILIN_SENDER;
		return KENPO_MAILIN_OK;
	}
	if (return_path_mailbox(rp, out, outsz) == 0) {
		*source = KENPO_MAILIN_RETURN_PATH;
		return KENPO_MAILIN_OK;
	}
	return KENPO_MAILIN_NO_SENDER;
}

/* Skip the mbox "From sender date" line some MTAs put first. */
static void
skip_envelope_line(const char **data, size_t *len)
{
	const char *nl;

	if (*len < 5 || memcmp(*data, "From ", 5) != 0)
		return;
	nl = memchr(*data, '\n', *len);
	if (nl == NULL) {
		*data += *len;
		*len = 0;
		return;
	}
	*len -= (size_t)(nl + 1 - *data);
	*data = nl + 1;
}

enum kenpo_mailin_rc
kenpo_mailin_sender(const char *data, size_t len, char *out, size_t outsz,
		    enum kenpo_mailin_source *source)
{
	GMimeStream *stream = NULL;
	GMimeParser *parser = NULL;
	GMimeMessage *msg = NULL;
	enum kenpo_mailin_source src = KENPO_MAILIN_FROM;
	char addr[256];
	enum kenpo_mailin_rc rc = KENPO_MAILIN_MALFORMED;

	g_mime_init();
	skip_envelope_line(&data, &len);
	if (len == 0)
		goto done;
	stream = g_mime_stream_mem_new_with_buffer(data, len);
	if (stream == NULL)
		goto done;
	parser = g_mime_parser_new_with_stream(stream);
	if (parser == NULL)
		goto done;
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, NULL);
	if (msg == NULL)
		goto done;
	rc = choose_sender(msg, addr, sizeof addr, &src);
	if (rc != KENPO_MAILIN_OK)
		goto done;
	if (strlen(addr) >= outsz) {
		rc = KENPO_MAILIN_NO_SENDER;
		goto done;
	}
	memcpy(out, addr, strlen(addr) + 1);
	if (source != NULL)
		*source = src;
done:
	if (msg != NULL)
		g_object_unref(msg);
	if (parser != NULL)
		g_object_unref(parser);
	if (stream != NULL)
		g_object_unref(stream);
	return rc;
}
