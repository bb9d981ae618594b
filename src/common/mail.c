/*
 * mail.c - compose RFC 5322 messages in UTF-8 and send them with libcurl
 * (see mail.h).
 *
 * Every header value is checked before anything is written: no control
 * character (CR and LF would start a header of the sender's choosing),
 * valid UTF-8, addresses of a strict syntax.  Non-ASCII text goes out as
 * RFC 2047 encoded-words, the body as base64, so no line of the message
 * depends on what the values contain.
 */
#include <autoconfig.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "config.h"
#include "mail.h"
#include "readfile.h"
#include "secret.h"
#include "template.h"

#define ADDR_MAX 254 /* RFC 5321 path limit less the brackets */
#define DOMAIN_MAX 253
#define LINE_MAX_COLS 78 /* RFC 5322 2.1.1 */
#define B64_LINE 76      /* RFC 2045 6.8 */
#define BODY_MAX (1024 * 1024)
#define SMTP_PASSWORD_MAX 4096
#define SMTP_TIMEOUT_DEFAULT 10L

/* ---- addresses ---------------------------------------------------------- */

/* Only the last label of the domain stays visible: enough for the member
 * to recognise which address it is, too little to learn it.  A domain of
 * one label (user@localhost) shows that label. */
int
kenpo_mail_mask(const char *addr, char *out, size_t outsz)
{
	const char *domain, *shown, *hidden = "****@****";

	if (!kenpo_mail_address_ok(addr) || out == NULL)
		return -1;
	domain = strchr(addr, '@') + 1;
	shown = strrchr(domain, '.');
	if (shown == NULL) {
		hidden = "****@";
		shown = domain;
	}
	if (strlen(hidden) + strlen(shown) >= outsz)
		return -1;
	snprintf(out, outsz, "%s%s", hidden, shown);
	return 0;
}

/* ---- a growing buffer for the headers (never for secrets) --------------- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static int
sb_put(struct sbuf *b, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (n >= SIZE_MAX / 2 - b->len)
		return -1;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap > 0 ? b->cap : 512;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int
sb_str(struct sbuf *b, const char *s)
{
	return sb_put(b, s, strlen(s));
}

/* A header being written: tokens are separated by a space, or folded onto
 * a new line when the line would pass 78 columns (RFC 5322 2.2.3).  A
 * token itself is never cut; addresses longer than a line stay whole. */
struct hdr {
	struct sbuf *b;
	size_t col;
	int tokens;
};

static int
hdr_begin(struct hdr *h, struct sbuf *b, const char *name)
{
	h->b = b;
	h->col = strlen(name) + 1;
	h->tokens = 0;
	if (sb_str(b, name) != 0 || sb_str(b, ":") != 0)
		return -1;
	return 0;
}

static int
hdr_token(struct hdr *h, const char *tok, size_t n)
{
	int fold = h->tokens > 0 && h->col + 1 + n > LINE_MAX_COLS;

	if (sb_str(h->b, fold ? "\r\n " : " ") != 0 || sb_put(h->b, tok, n) != 0)
		return -1;
	h->col = fold ? 1 + n : h->col + 1 + n;
	h->tokens++;
	return 0;
}

static int
hdr_end(struct hdr *h)
{
	return sb_str(h->b, "\r\n");
}

/*
 * RFC 2047 encoded-words in UTF-8, base64.  A word carries at most 42
 * bytes (56 base64 characters), so "Subject: " plus one word is 77
 * columns and each word is well under the limit of 75 characters.  The
 * text is cut only before a UTF-8 lead byte, as RFC 2047 6.3 requires;
 * the space between words disappears when a reader decodes them.
 */
#define EW_BYTES 42

static int
hdr_encoded_words(struct hdr *h, const char *s)
{
	char b64[sodium_base64_ENCODED_LEN(EW_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	char word[sizeof(b64) + 16];
	size_t len = strlen(s), i = 0, n;
	int w;

	while (i < len) {
		n = len - i < EW_BYTES ? len - i : EW_BYTES;
		while (i + n < len && ((unsigned char)s[i + n] & 0xc0) == 0x80)
			n--;
		sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)s + i, n,
				  sodium_base64_VARIANT_ORIGINAL);
		w = snprintf(word, sizeof(word), "=?UTF-8?B?%s?=", b64);
		if (w < 0 || (size_t)w >= sizeof(word) || hdr_token(h, word, (size_t)w) != 0)
			return -1;
		i += n;
	}
	return 0;
}

/* Plain text would be misread if it held "=?" (an encoded-word opener). */
static int
needs_encoding(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p >= 0x80)
			return 1;
	return strstr(s, "=?") != NULL;
}

/* ---- header values -------------------------------------------------------- */

/* UTF-8 and no control character at all.  A NUL cannot be inside: it ends
 * the C string, so nothing after it ever reaches the message. */
static int
header_text_ok(const char *what, const char *s, char *errbuf, size_t errsz)
{
	const unsigned char *p;

	if (!kenpo_utf8_valid(s, strlen(s))) {
		snprintf(errbuf, errsz, "mail: %s is not valid UTF-8", what);
		return -1;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n') {
			snprintf(errbuf, errsz, "mail: %s contains a line break", what);
			return -1;
		}
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(errbuf, errsz, "mail: %s contains a control character", what);
			return -1;
		}
	}
	return 0;
}

static int
check_address(const char *what, const char *addr, char *errbuf, size_t errsz)
{
	if (addr == NULL) {
		snprintf(errbuf, errsz, "mail: no %s", what);
		return -1;
	}
	if (header_text_ok(what, addr, errbuf, errsz) != 0)
		return -1;
	if (!kenpo_mail_address_ok(addr)) {
		snprintf(errbuf, errsz, "mail: %s \"%.100s\" is not a valid mail address", what,
			 addr);
		return -1;
	}
	return 0;
}

/* Everything compose needs to know before writing a byte. */
static int
check_mail(const struct kenpo_mail *m, char *errbuf, size_t errsz)
{
	if (m == NULL || m->subject == NULL || m->body == NULL) {
		snprintf(errbuf, errsz, "mail: subject and body are required");
		return -1;
	}
	if (check_address("sender address", m->from_addr, errbuf, errsz) != 0 ||
	    check_address("recipient address", m->to_addr, errbuf, errsz) != 0)
		return -1;
	if (m->from_name != NULL &&
	    header_text_ok("sender name", m->from_name, errbuf, errsz) != 0)
		return -1;
	if (header_text_ok("subject", m->subject, errbuf, errsz) != 0)
		return -1;
	if (m->subject[0] == '\0') {
		snprintf(errbuf, errsz, "mail: empty subject");
		return -1;
	}
	if (m->msgid_domain != NULL &&
	    !kenpo_domain_ok(m->msgid_domain, strlen(m->msgid_domain))) {
		snprintf(errbuf, errsz,
			 "mail: \"%.100s\" is not a domain for "
			 "Message-ID",
			 m->msgid_domain);
		return -1;
	}
	return 0;
}

/* ---- headers ---------------------------------------------------------------- */

/*
 * RFC 5322 dates use English names whatever the process locale is.  A
 * table of 19 names does this without switching locales (newlocale can
 * fail, and uselocale would affect the calling thread's messages).
 */
static const char *const wday_names[7] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char *const month_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* The Date header in the zone utc_offset seconds east of UTC: the local
 * time there and its offset ("+0900"), as RFC 5322 3.3 writes it. */
static int
put_date(struct sbuf *b, time_t when, long utc_offset)
{
	long off = utc_offset < 0 ? -utc_offset : utc_offset;
	time_t local;
	struct tm tm;
	char date[96];
	int n;

	if (when == 0)
		when = time(NULL);
	/* Offsets on Earth stay within -12:00..+14:00. */
	if (off > 14 * 3600L)
		utc_offset = off = 0;
	local = when + (time_t)utc_offset;
	if (gmtime_r(&local, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11)
		return -1;
	n = snprintf(date, sizeof(date), "Date: %s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld\r\n",
		     wday_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon],
		     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     utc_offset < 0 ? '-' : '+', off / 3600, off % 3600 / 60);
	if (n < 0 || (size_t)n >= sizeof(date))
		return -1;
	return sb_str(b, date);
}

/* An ASCII display name as an RFC 5322 quoted-string, if it fits on the
 * From line; else 0 and the caller encodes it. */
static int
quote_name(const char *name, char *out, size_t outsz)
{
	size_t i, o = 0;

	if (needs_encoding(name))
		return 0;
	out[o++] = '"';
	for (i = 0; name[i] != '\0'; i++) {
		if (o + 4 > outsz)
			return 0;
		if (name[i] == '"' || name[i] == '\\')
			out[o++] = '\\';
		out[o++] = name[i];
	}
	out[o++] = '"';
	out[o] = '\0';
	return 1;
}

static int
put_from(struct sbuf *b, const char *name, const char *addr)
{
	char quoted[LINE_MAX_COLS - sizeof("From: ") + 2], angle[ADDR_MAX + 3];
	struct hdr h;

	if (hdr_begin(&h, b, "From") != 0)
		return -1;
	if (name == NULL || name[0] == '\0')
		return hdr_token(&h, addr, strlen(addr)) != 0 ? -1 : hdr_end(&h);
	if (quote_name(name, quoted, sizeof(quoted))) {
		if (hdr_token(&h, quoted, strlen(quoted)) != 0)
			return -1;
	} else if (hdr_encoded_words(&h, name) != 0) {
		return -1;
	}
	snprintf(angle, sizeof(angle), "<%s>", addr);
	if (hdr_token(&h, angle, strlen(angle)) != 0)
		return -1;
	return hdr_end(&h);
}

static int
put_subject(struct sbuf *b, const char *subject)
{
	struct hdr h;
	size_t len = strlen(subject);

	if (hdr_begin(&h, b, "Subject") != 0)
		return -1;
	/* Plain ASCII only when it fits one line: folding at its spaces would
	 * do too, but encoded-words are simpler and always correct. */
	if (!needs_encoding(subject) && h.col + 1 + len <= LINE_MAX_COLS) {
		if (hdr_token(&h, subject, len) != 0)
			return -1;
	} else if (hdr_encoded_words(&h, subject) != 0) {
		return -1;
	}
	return hdr_end(&h);
}

static int
put_simple(struct sbuf *b, const char *name, const char *value)
{
	struct hdr h;

	if (hdr_begin(&h, b, name) != 0 || hdr_token(&h, value, strlen(value)) != 0)
		return -1;
	return hdr_end(&h);
}

/* 128 random bits: unique without any state shared between hosts. */
static int
put_message_id(struct sbuf *b, const char *domain)
{
	unsigned char rnd[16];
	char hex[sizeof(rnd) * 2 + 1], id[sizeof(hex) + DOMAIN_MAX + 4];

	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(id, sizeof(id), "<%s@%s>", hex, domain);
	return put_simple(b, "Message-ID", id);
}

static int
put_headers(struct sbuf *b, const struct kenpo_mail *m)
{
	const char *domain = m->msgid_domain != NULL ? m->msgid_domain :
						       strchr(m->from_addr, '@') + 1;

	if (put_date(b, m->date, m->utc_offset) != 0 ||
	    put_from(b, m->from_name, m->from_addr) != 0 ||
	    put_simple(b, "To", m->to_addr) != 0 || put_subject(b, m->subject) != 0 ||
	    put_message_id(b, domain) != 0)
		return -1;
	return sb_str(b, "MIME-Version: 1.0\r\n"
			 "Content-Type: text/plain; charset=UTF-8\r\n"
			 "Content-Transfer-Encoding: base64\r\n"
			 "Auto-Submitted: auto-generated\r\n"
			 "\r\n");
}

/* ---- body --------------------------------------------------------------------- */

/* LF becomes CRLF, CRLF stays, a lone CR is refused.  The body may hold a
 * temporary password or a key, so every copy is sized exactly (no
 * realloc leaving a copy behind) and wiped by the caller. */
static int
body_to_crlf(const char *body, char **out, size_t *outlen, char *errbuf, size_t errsz)
{
	size_t len = strlen(body), extra = 0, i, o = 0;
	char *p;

	if (len > BODY_MAX || !kenpo_utf8_valid(body, len)) {
		snprintf(errbuf, errsz, "mail: the body is %s",
			 len > BODY_MAX ? "too large" : "not valid UTF-8");
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (body[i] == '\r' && body[i + 1] != '\n') {
			snprintf(errbuf, errsz, "mail: the body contains a lone CR");
			return -1;
		}
		extra += body[i] == '\n' && (i == 0 || body[i - 1] != '\r');
	}
	p = malloc(len + extra + 1);
	if (p == NULL) {
		snprintf(errbuf, errsz, "mail: out of memory");
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r'))
			p[o++] = '\r';
		p[o++] = body[i];
	}
	p[o] = '\0';
	*out = p;
	*outlen = o;
	return 0;
}

/* headers + base64 of the body in lines of 76, into one exact buffer. */
static int
assemble(const struct sbuf *hdrs, const char *crlf, size_t crlflen, char **out, size_t *outlen)
{
	size_t b64sz = sodium_base64_encoded_len(crlflen, sodium_base64_VARIANT_ORIGINAL);
	size_t b64len = b64sz - 1, lines = (b64len + B64_LINE - 1) / B64_LINE;
	size_t total = hdrs->len + b64len + 2 * lines, i, o;
	char *b64, *msg;

	b64 = malloc(b64sz);
	msg = malloc(total + 1);
	if (b64 == NULL || msg == NULL) {
		free(b64);
		free(msg);
		return -1;
	}
	sodium_bin2base64(b64, b64sz, (const unsigned char *)crlf, crlflen,
			  sodium_base64_VARIANT_ORIGINAL);
	memcpy(msg, hdrs->p, hdrs->len);
	o = hdrs->len;
	for (i = 0; i < b64len; i += B64_LINE) {
		size_t n = b64len - i < B64_LINE ? b64len - i : B64_LINE;

		memcpy(msg + o, b64 + i, n);
		memcpy(msg + o + n, "\r\n", 2);
		o += n + 2;
	}
	msg[o] = '\0';
	kenpo_wipe_free(b64, b64sz);
	*out = msg;
	*outlen = o;
	return 0;
}

int
kenpo_mail_compose(const struct kenpo_mail *m, char **out, size_t *outlen, char *errbuf,
		   size_t errsz)
{
	struct sbuf hdrs = { NULL, 0, 0 };
	char *crlf = NULL;
	size_t crlflen = 0;
	int rc = -1;

	if (out == NULL || outlen == NULL || check_mail(m, errbuf, errsz) != 0)
		goto done;
	if (sodium_init() < 0) {
		snprintf(errbuf, errsz, "mail: libsodium cannot be initialised");
		goto done;
	}
	if (body_to_crlf(m->body, &crlf, &crlflen, errbuf, errsz) != 0)
		goto done;
	if (put_headers(&hdrs, m) != 0 || assemble(&hdrs, crlf, crlflen, out, outlen) != 0) {
		snprintf(errbuf, errsz, "mail: out of memory");
		goto done;
	}
	rc = 0;
done:
	kenpo_wipe_free(crlf, crlflen);
	free(hdrs.p);
	return rc;
}

/* ---- SMTP settings ------------------------------------------------------- */

static int
is_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

int
kenpo_smtp_from_config(const struct kenpo_config *cfg, struct kenpo_smtp *s, char *errbuf,
		       size_t errsz)
{
	struct kenpo_smtp t;
	const char *file = cfg != NULL ? cfg->path : NULL;
	size_t len = 0;

	memset(&t, 0, sizeof(t));
	if (cfg == NULL || s == NULL || !is_set(cfg->smtp_url)) {
		snprintf(errbuf, errsz, "%s: smtp_url: not set", file ? file : "config");
		return -1;
	}
	if (is_set(cfg->smtp_user) != is_set(cfg->smtp_password_file)) {
		snprintf(errbuf, errsz,
			 "%s: smtp_user and smtp_password_file "
			 "go together",
			 file ? file : "config");
		return -1;
	}
	t.url = cfg->smtp_url;
	t.tls = cfg->smtp_tls;
	t.ca_file = is_set(cfg->smtp_ca_file) ? cfg->smtp_ca_file : NULL;
	t.timeout = cfg->smtp_timeout;
	if (is_set(cfg->smtp_user)) {
		if (kenpo_read_secret_line(cfg->smtp_password_file, geteuid(), SMTP_PASSWORD_MAX,
					   &t.password_owned, &len, errbuf, errsz) != 0)
			return -1;
		t.user = cfg->smtp_user;
		t.password = t.password_owned;
	}
	*s = t;
	return 0;
}

void
kenpo_smtp_clear(struct kenpo_smtp *s)
{
	if (s == NULL)
		return;
	kenpo_secret_free(s->password_owned);
	s->password_owned = NULL;
	s->password = NULL;
}

/* ---- sending ----------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void
curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
kenpo_mail_global_init(void)
{
	if (pthread_once(&curl_once, curl_init_once) != 0)
		return -1;
	return curl_init_result == CURLE_OK ? 0 : -1;
}

/* smtp:// or smtps://, printable ASCII, and no user in it: credentials
 * belong in smtp_user/smtp_password_file, never in a URL that is logged. */
static int
check_url(const struct kenpo_smtp *s, char *errbuf, size_t errsz)
{
	const char *u = s->url, *host;
	size_t i, authority;
	int smtps;

	if (u == NULL ||
	    (strncasecmp(u, "smtp://", 7) != 0 && strncasecmp(u, "smtps://", 8) != 0)) {
		snprintf(errbuf, errsz,
			 "mail relay: the URL must start with smtp:// or smtps://");
		return -1;
	}
	smtps = strncasecmp(u, "smtps://", 8) == 0;
	host = u + (smtps ? 8 : 7);
	authority = strcspn(host, "/?#");
	for (i = 0; u[i] != '\0'; i++) {
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f ||
		    (&u[i] >= host && &u[i] < host + authority && u[i] == '@')) {
			snprintf(errbuf, errsz,
				 "mail relay: the URL must be printable "
				 "ASCII without a user name");
			return -1;
		}
	}
	if ((s->tls == KENPO_TLS_SMTPS) != smtps) {
		snprintf(errbuf, errsz,
			 "mail relay %.200s: smtps:// goes with "
			 "smtp_tls = smtps and only with it",
			 u);
		return -1;
	}
	return 0;
}

struct upload {
	const char *p;
	size_t left;
};

static size_t
read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct upload *up = arg;
	size_t n = size * nmemb;

	if (n > up->left)
		n = up->left;
	memcpy(dst, up->p, n);
	up->p += n;
	up->left -= n;
	return n;
}

/* The relay's first refusal (a 4xx or 5xx reply line), printable ASCII
 * only, for the error message: later lines (the reply to QUIT) say less. */
struct reply {
	char line[200];
};

static size_t
reply_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct reply *r = arg;
	size_t n = size * nmemb, i, o = 0;

	if (r->line[0] != '\0' || n == 0 || (data[0] != '4' && data[0] != '5'))
		return n;
	for (i = 0; i < n && o + 1 < sizeof(r->line); i++) {
		if (data[i] == '\r' || data[i] == '\n')
			break;
		r->line[o++] = data[i] >= 0x20 && data[i] < 0x7f ? data[i] : '?';
	}
	r->line[o] = '\0';
	return n;
}

struct send_job {
	const struct kenpo_smtp *s;
	char from[ADDR_MAX + 3];
	struct curl_slist *rcpt;
	struct upload up;
	struct reply reply;
	char curlerr[CURL_ERROR_SIZE];
};

static CURLcode
set_string_options(CURL *c, struct send_job *j)
{
	const struct {
		CURLoption opt;
		const char *value;
	} opts[] = {
		{ CURLOPT_URL, j->s->url },
		{ CURLOPT_PROTOCOLS_STR, "smtp,smtps" },
		{ CURLOPT_MAIL_FROM, j->from },
		{ CURLOPT_CAINFO, j->s->ca_file },
		{ CURLOPT_USERNAME, j->s->user },
		{ CURLOPT_PASSWORD, j->s->user != NULL ? j->s->password : NULL },
	};
	CURLcode rc;
	size_t i;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (opts[i].value == NULL)
			continue;
		if ((rc = curl_easy_setopt(c, opts[i].opt, opts[i].value)) != CURLE_OK)
			return rc;
	}
	return CURLE_OK;
}

static CURLcode
set_long_options(CURL *c, const struct kenpo_smtp *s)
{
	long timeout = s->timeout > 0 ? s->timeout : SMTP_TIMEOUT_DEFAULT;
	const struct {
		CURLoption opt;
		long value;
	} opts[] = {
		{ CURLOPT_UPLOAD, 1L },
		{ CURLOPT_NOSIGNAL, 1L }, /* kenpod sends from worker threads */
		{ CURLOPT_CONNECTTIMEOUT, timeout },
		{ CURLOPT_TIMEOUT, timeout },
		{ CURLOPT_USE_SSL,
		  s->tls == KENPO_TLS_NONE ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL },
	};
	CURLcode rc;
	size_t i;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if ((rc = curl_easy_setopt(c, opts[i].opt, opts[i].value)) != CURLE_OK)
			return rc;
	return CURLE_OK;
}

static CURLcode
set_options(CURL *c, struct send_job *j)
{
	CURLcode rc;

	if ((rc = set_string_options(c, j)) != CURLE_OK ||
	    (rc = set_long_options(c, j->s)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_MAIL_RCPT, j->rcpt)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_READDATA, &j->up)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, reply_cb)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_HEADERDATA, &j->reply)) != CURLE_OK)
		return rc;
	return curl_easy_setopt(c, CURLOPT_ERRORBUFFER, j->curlerr);
}

static const struct {
	long err;
	const char *text;
} errno_texts[] = {
	{ ECONNREFUSED, "connection refused" }, { ETIMEDOUT, "connection timed out" },
	{ EHOSTUNREACH, "host unreachable" },   { ENETUNREACH, "network unreachable" },
	{ ECONNRESET, "connection reset" },
};

/* The network's reason (errno), else the relay's reply, else libcurl's. */
static void
describe_failure(CURL *c, CURLcode rc, const struct send_job *j, char *errbuf, size_t errsz)
{
	const char *detail = j->curlerr[0] != '\0' ? j->curlerr : curl_easy_strerror(rc);
	long code = 0, oserr = 0;
	size_t i;

	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
		code = 0;
	if (curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr) != CURLE_OK)
		oserr = 0;
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(errbuf, errsz, "mail relay %.200s: timed out (%s)", j->s->url, detail);
		return;
	}
	if (code >= 400) {
		snprintf(errbuf, errsz, "mail relay %.200s: refused: %.200s (%s)", j->s->url,
			 j->reply.line[0] != '\0' ? j->reply.line : "", detail);
		return;
	}
	for (i = 0; i < sizeof(errno_texts) / sizeof(errno_texts[0]); i++) {
		if (errno_texts[i].err == oserr) {
			snprintf(errbuf, errsz, "mail relay %.200s: %s", j->s->url,
				 errno_texts[i].text);
			return;
		}
	}
	snprintf(errbuf, errsz, "mail relay %.200s: %s", j->s->url, detail);
}

static int
check_send(const struct kenpo_smtp *s, const char *from_addr, const char *to_addr,
	   const char *msg, char *errbuf, size_t errsz)
{
	if (s == NULL || msg == NULL) {
		snprintf(errbuf, errsz, "mail relay: no settings or no message");
		return -1;
	}
	if (check_url(s, errbuf, errsz) != 0 ||
	    check_address("sender address", from_addr, errbuf, errsz) != 0 ||
	    check_address("recipient address", to_addr, errbuf, errsz) != 0)
		return -1;
	return 0;
}

int
kenpo_mail_send(const struct kenpo_smtp *s, const char *from_addr, const char *to_addr,
		const char *msg, size_t len, char *errbuf, size_t errsz)
{
	struct send_job j;
	char to[ADDR_MAX + 3];
	CURL *c = NULL;
	CURLcode rc;
	int ret = -1;

	memset(&j, 0, sizeof(j));
	if (check_send(s, from_addr, to_addr, msg, errbuf, errsz) != 0)
		return -1;
	if (kenpo_mail_global_init() != 0 || (c = curl_easy_init()) == NULL) {
		snprintf(errbuf, errsz, "mail relay %.200s: libcurl cannot be initialised",
			 s->url);
		goto done;
	}
	j.s = s;
	j.up.p = msg;
	j.up.left = len;
	snprintf(j.from, sizeof(j.from), "<%s>", from_addr);
	snprintf(to, sizeof(to), "<%s>", to_addr);
	if ((j.rcpt = curl_slist_append(NULL, to)) == NULL ||
	    (rc = set_options(c, &j)) != CURLE_OK) {
		snprintf(errbuf, errsz, "mail relay %.200s: libcurl cannot be set up", s->url);
		goto done;
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		describe_failure(c, rc, &j, errbuf, errsz);
		goto done;
	}
	ret = 0;
done:
	curl_slist_free_all(j.rcpt);
	curl_easy_cleanup(c);
	return ret;
}
