/*
 * test_mail.c - addresses, masking, message composition (headers, RFC 2047
 * encoded-words, base64 body, header injection) and sending over loopback
 * to a small scripted SMTP server run in a thread of the test.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "mail.h"
#include "template.h"

#define FROM "noreply@toyobo-kenpo.example.jp"
#define TO "taro.toyo@example.co.jp"
#define SOCIETY "東洋紡健康保険組合"
#define SUBJECT "【" SOCIETY "】利用登録手続きのご案内"
#define BODY \
	"■□ 利用登録手続きのご案内 □■\n\n" SOCIETY "です。\n\n" \
	"以下のURLにアクセスして、利用登録の手続きを行ってください。\n\n" \
	"https://portal.example.jp/t/AbCdEf0123456789\n\n" \
	"※URLの有効期限は3時間です。\n"

/* ---- addresses -------------------------------------------------------------- */

static void
test_address_ok(void **state)
{
	static const char *const good[] = {
		"taro@example.co.jp",
		"a.b-c+tag@sub.example.jp",
		"user@localhost",
		"x@a.b",
		"o'brien@example.com",
		"!#$%&'*+-/=?^_`{|}~@example.jp",
		"T.A.R.O@EXAMPLE.JP",
		"1@2.jp",
		"a@xn--eckwd4c7c.xn--zckzah",
		"a@0-0.jp",
	};
	static const char *const bad[] = {
		"",
		"taro",
		"@example.jp",
		"taro@",
		"taro@@example.jp",
		"ta@ro@example.jp",
		"ta ro@example.jp",
		"taro@exa mple.jp",
		".taro@example.jp",
		"taro.@example.jp",
		"ta..ro@example.jp",
		"taro@.example.jp",
		"taro@example.jp.",
		"taro@example..jp",
		"taro@-example.jp",
		"taro@example-.jp",
		"taro@exa_mple.jp",
		"\"taro\"@example.jp",
		"taro@[127.0.0.1]",
		"taro@example.jp\r\nBcc: x@y.jp",
		"taro@example.jp\n",
		"\ttaro@example.jp",
		"tar\xc3\xb6@example.jp",
		"taro@ex\xc3\xa4mple.jp",
		"<taro@example.jp>",
		"taro(c)@example.jp",
		"taro,jiro@example.jp",
		"taro@example.jp;",
		"ta\\ro@example.jp",
		"taro@exam:ple.jp",
		"taro@example.jp\x7f",
	};
	char local65[80], label64[100], long255[300], local64[80];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!kenpo_mail_address_ok(good[i]))
			fail_msg("refused: %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (kenpo_mail_address_ok(bad[i]))
			fail_msg("accepted: %s", bad[i]);
	assert_false(kenpo_mail_address_ok(NULL));

	memset(local64, 'a', 64);
	strcpy(local64 + 64, "@example.jp");
	assert_true(kenpo_mail_address_ok(local64));
	memset(local65, 'a', 65);
	strcpy(local65 + 65, "@example.jp");
	assert_false(kenpo_mail_address_ok(local65));
	strcpy(label64, "a@");
	memset(label64 + 2, 'b', 64);
	strcpy(label64 + 66, ".jp");
	assert_false(kenpo_mail_address_ok(label64));
	strcpy(label64 + 65, ".jp"); /* a label of 63 */
	assert_true(kenpo_mail_address_ok(label64));
	/* 254 characters pass, 255 do not. */
	memset(long255, 'a', sizeof(long255));
	memcpy(long255, "a@", 2);
	for (i = 2 + 60; i < 254; i += 61)
		long255[i] = '.';
	long255[254] = '\0';
	assert_true(kenpo_mail_address_ok(long255));
	long255[254] = 'a';
	long255[255] = '\0';
	assert_false(kenpo_mail_address_ok(long255));
}

static void
test_mask(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "taro@example.co.jp", "****@****.jp" },
		{ "a@b.jp", "****@****.jp" },
		{ "taro.toyo@mail.sub.example.com", "****@****.com" },
		{ "user@localhost", "****@localhost" },
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(kenpo_mail_mask(cases[i].in, out, sizeof(out)), 0);
		assert_string_equal(out, cases[i].out);
	}
	strcpy(out, "untouched");
	assert_int_equal(kenpo_mail_mask("not an address", out, sizeof(out)), -1);
	assert_int_equal(kenpo_mail_mask(NULL, out, sizeof(out)), -1);
	assert_int_equal(kenpo_mail_mask("taro@example.co.jp", out, 12), -1);
	assert_string_equal(out, "untouched");
	assert_int_equal(kenpo_mail_mask("taro@example.co.jp", out, 13), 0);
	assert_string_equal(out, "****@****.jp");
}

/* ---- reading a composed message back ------------------------------------------ */

/* The unfolded value of header `name`, malloc'd, or NULL. */
static char *
header_value(const char *msg, const char *name)
{
	const char *end = strstr(msg, "\r\n\r\n"), *p = msg, *v;
	size_t n = strlen(name), o = 0;
	char *out;

	assert_non_null(end);
	for (;;) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':')
			break;
		p = strstr(p, "\r\n");
		if (p == NULL || p >= end)
			return NULL;
		p += 2;
	}
	v = p + n + 1;
	while (*v == ' ')
		v++;
	out = malloc(strlen(v) + 1);
	assert_non_null(out);
	for (; *v != '\0'; v++) {
		if (v[0] == '\r' && v[1] == '\n') {
			if (v[2] != ' ' && v[2] != '\t')
				break;
			v++;
			continue;
		}
		out[o++] = *v;
	}
	out[o] = '\0';
	return out;
}

/* Decode the RFC 2047 words at the start of `value` (written here, not by
 * the code under test).  Each word must be at most 75 characters and hold
 * whole UTF-8 characters.  Returns the decoded text; *rest is what follows
 * the words. */
static char *
decode_words(const char *value, const char **rest)
{
	static const char open[] = "=?UTF-8?B?";
	char *out = calloc(1, 1024);
	unsigned char bin[128];
	size_t o = 0, binlen, wlen;
	const char *p = value, *close;

	assert_non_null(out);
	while (strncmp(p, open, sizeof(open) - 1) == 0) {
		close = strstr(p + sizeof(open) - 1, "?=");
		assert_non_null(close);
		wlen = (size_t)(close + 2 - p);
		assert_true(wlen <= 75);
		assert_int_equal(sodium_base642bin(bin, sizeof(bin), p + sizeof(open) - 1,
						   (size_t)(close - p) - (sizeof(open) - 1), NULL,
						   &binlen, NULL, sodium_base64_VARIANT_ORIGINAL),
				 0);
		assert_true(kenpo_utf8_valid((const char *)bin, binlen));
		assert_true(o + binlen < 1024);
		memcpy(out + o, bin, binlen);
		o += binlen;
		p = close + 2;
		while (*p == ' ')
			p++;
	}
	out[o] = '\0';
	*rest = p;
	return out;
}

/* Lines end in CRLF (no lone CR or LF) and none is longer than 78. */
static void
check_lines(const char *msg, size_t len)
{
	size_t i, col = 0;

	assert_int_equal(strlen(msg), len);
	assert_true(len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n');
	for (i = 0; i < len; i++) {
		if (msg[i] == '\r') {
			assert_int_equal(msg[i + 1], '\n');
			i++;
			col = 0;
			continue;
		}
		assert_int_not_equal(msg[i], '\n');
		col++;
		if (col > 78)
			fail_msg("line longer than 78 at offset %zu", i);
	}
}

/* The base64 body in lines of at most 76, decoded. */
static char *
decode_body(const char *msg)
{
	const char *p = strstr(msg, "\r\n\r\n"), *nl;
	char *b64 = calloc(1, strlen(msg) + 1), *bin;
	size_t o = 0, binlen = 0;

	assert_non_null(p);
	assert_non_null(b64);
	for (p += 4; *p != '\0'; p = nl + 2) {
		nl = strstr(p, "\r\n");
		assert_non_null(nl);
		assert_true(nl - p <= 76);
		if (nl[2] != '\0')
			assert_int_equal(nl - p, 76);
		memcpy(b64 + o, p, (size_t)(nl - p));
		o += (size_t)(nl - p);
	}
	bin = calloc(1, o + 1);
	assert_non_null(bin);
	assert_int_equal(sodium_base642bin((unsigned char *)bin, o + 1, b64, o, NULL, &binlen,
					   NULL, sodium_base64_VARIANT_ORIGINAL),
			 0);
	bin[binlen] = '\0';
	free(b64);
	return bin;
}

static char *
lf_to_crlf(const char *s)
{
	char *out = malloc(strlen(s) * 2 + 1);
	size_t o = 0;

	assert_non_null(out);
	for (; *s != '\0'; s++) {
		if (*s == '\n')
			out[o++] = '\r';
		out[o++] = *s;
	}
	out[o] = '\0';
	return out;
}

static int
compose(const struct kenpo_mail *m, char **msg, size_t *len, char *err, size_t errsz)
{
	err[0] = '\0';
	return kenpo_mail_compose(m, msg, len, err, errsz);
}

/* ---- composition --------------------------------------------------------------- */

static void
test_compose_japanese(void **state)
{
	const struct kenpo_mail m = {
		FROM, SOCIETY, TO, SUBJECT, BODY, "mail.example.jp", (time_t)1679621586,
		0, /* 2023-03-24 01:33:06 UTC, a Friday; in UTC */
	};
	char err[256], *msg, *v, *decoded, *body, *crlf;
	const char *rest;
	size_t len, i;

	(void)state;
	assert_int_equal(compose(&m, &msg, &len, err, sizeof(err)), 0);
	check_lines(msg, len);

	v = header_value(msg, "Date");
	assert_string_equal(v, "Fri, 24 Mar 2023 01:33:06 +0000");
	free(v);

	v = header_value(msg, "From");
	decoded = decode_words(v, &rest);
	assert_string_equal(decoded, SOCIETY);
	assert_string_equal(rest, "<" FROM ">");
	free(decoded);
	free(v);

	v = header_value(msg, "To");
	assert_string_equal(v, TO);
	free(v);

	v = header_value(msg, "Subject");
	decoded = decode_words(v, &rest);
	assert_string_equal(decoded, SUBJECT);
	assert_string_equal(rest, "");
	free(decoded);
	free(v);
	/* 63 bytes of subject need two words, so the header was folded. */
	assert_non_null(strstr(msg, "?=\r\n =?UTF-8?B?"));

	v = header_value(msg, "Message-ID");
	assert_int_equal(strlen(v), 1 + 32 + 1 + strlen("mail.example.jp") + 1);
	assert_int_equal(v[0], '<');
	for (i = 1; i <= 32; i++)
		assert_non_null(strchr("0123456789abcdef", v[i]));
	assert_string_equal(v + 33, "@mail.example.jp>");
	free(v);

	v = header_value(msg, "MIME-Version");
	assert_string_equal(v, "1.0");
	free(v);
	v = header_value(msg, "Content-Type");
	assert_string_equal(v, "text/plain; charset=UTF-8");
	free(v);
	v = header_value(msg, "Content-Transfer-Encoding");
	assert_string_equal(v, "base64");
	free(v);
	v = header_value(msg, "Auto-Submitted");
	assert_string_equal(v, "auto-generated");
	free(v);

	body = decode_body(msg);
	crlf = lf_to_crlf(BODY);
	assert_string_equal(body, crlf);
	free(body);
	free(crlf);
	sodium_memzero(msg, len);
	free(msg);
}

/* Long text with 3- and 4-byte characters: every word holds whole
 * characters (decode_words checks each one alone) and the whole decodes
 * back; a long body gives full 76-character lines. */
static void
test_compose_long_values(void **state)
{
	char subject[1024] = "", name[512] = "", body[8192] = "", err[256], *msg, *v, *decoded,
	     *dec_body, *crlf;
	const char *rest;
	struct kenpo_mail m = { FROM, NULL, TO, NULL, NULL, NULL, 0, 0 };
	size_t len, i;

	(void)state;
	for (i = 0; i < 13; i++)
		strcat(subject, "あ\xf0\x9f\x98\x80"
				"a"); /* 3 + 4 + 1 bytes */
	for (i = 0; i < 30; i++)
		strcat(name, "健保");
	for (i = 0; i < 100; i++)
		strcat(body, "本文の行です。line\n");
	m.subject = subject;
	m.from_name = name;
	m.body = body;
	assert_int_equal(compose(&m, &msg, &len, err, sizeof(err)), 0);
	check_lines(msg, len);
	v = header_value(msg, "Subject");
	decoded = decode_words(v, &rest);
	assert_string_equal(decoded, subject);
	free(decoded);
	free(v);
	v = header_value(msg, "From");
	decoded = decode_words(v, &rest);
	assert_string_equal(decoded, name);
	assert_string_equal(rest, "<" FROM ">");
	free(decoded);
	free(v);
	/* Without msgid_domain the sender's domain is used. */
	v = header_value(msg, "Message-ID");
	assert_non_null(strstr(v, "@toyobo-kenpo.example.jp>"));
	free(v);
	dec_body = decode_body(msg);
	crlf = lf_to_crlf(body);
	assert_string_equal(dec_body, crlf);
	free(dec_body);
	free(crlf);
	free(msg);
}

/* The Date in the society's zone: Tokyo's local time, a day later than
 * UTC's just before midnight, with its offset; and west of UTC. */
static void
test_compose_date_in_zone(void **state)
{
	struct kenpo_mail m = {
		FROM,     NULL, TO, "s", "b", NULL, (time_t)1679670000, /* 2023-03-24 15:00 UTC */
		9 * 3600,
	};
	char err[256], *msg, *v;
	size_t len;

	(void)state;
	assert_int_equal(compose(&m, &msg, &len, err, sizeof(err)), 0);
	v = header_value(msg, "Date");
	assert_string_equal(v, "Sat, 25 Mar 2023 00:00:00 +0900");
	free(v);
	free(msg);
	m.utc_offset = -(3 * 3600 + 30 * 60);
	assert_int_equal(compose(&m, &msg, &len, err, sizeof(err)), 0);
	v = header_value(msg, "Date");
	assert_string_equal(v, "Fri, 24 Mar 2023 11:30:00 -0330");
	free(v);
	free(msg);
}

static void
test_compose_ascii(void **state)
{
	struct kenpo_mail m = {
		FROM,
		"Example \"Kenpo\" \\ Society",
		TO,
		"Your login key",
		"Key: 0123456789\r\nbye",
		"example.jp",
		86400 * 365,
		0,
	};
	char err[256], *msg, *v, *body;
	size_t len;

	(void)state;
	assert_int_equal(compose(&m, &msg, &len, err, sizeof(err)), 0);
	check_lines(msg, len);
	v = header_value(msg, "From");
	assert_string_equal(v, "\"Example \\\"Kenpo\\\" \\\\ Society\" <" FROM ">");
	free(v);
	v = header_value(msg, "Subject");
	assert_string_equal(v, "Your login key");
	free(v);
	v = header_value(msg, "Date");
	assert_string_equal(v, "Fri, 01 Jan 1971 00:00:00 +0000");
	free(v);
	/* CRLF in the body stays CRLF (not CRCRLF). */
	body = decode_body(msg);
	assert_string_equal(body, "Key: 0123456789\r\nbye");
	free(body);
	free(msg);

	/* No display name: the bare address. "=?" in ASCII text would read as
	 * an encoded-word, so such a subject is encoded. */
	m.from_name = NULL;
	m.subject = "=?UTF-8?B?SGk=?=";
	assert_int_equal(compose(&m, &msg, &len, err, sizeof(err)), 0);
	v = header_value(msg, "From");
	assert_string_equal(v, FROM);
	free(v);
	v = header_value(msg, "Subject");
	assert_string_not_equal(v, m.subject);
	free(v);
	free(msg);
}

static void
test_compose_message_ids_differ(void **state)
{
	const struct kenpo_mail m = { FROM, NULL, TO, "s", "b", NULL, 0, 0 };
	char err[256], *a, *b, *va, *vb, *date;
	size_t la, lb;

	(void)state;
	assert_int_equal(compose(&m, &a, &la, err, sizeof(err)), 0);
	assert_int_equal(compose(&m, &b, &lb, err, sizeof(err)), 0);
	va = header_value(a, "Message-ID");
	vb = header_value(b, "Message-ID");
	assert_string_not_equal(va, vb);
	/* date 0 is now, written in UTC. */
	date = header_value(a, "Date");
	assert_non_null(strstr(date, " +0000"));
	assert_null(strstr(date, " 1970 "));
	free(date);
	free(va);
	free(vb);
	free(a);
	free(b);
}

static void
test_compose_refuses(void **state)
{
	static const struct {
		struct kenpo_mail m;
		const char *error;
	} cases[] = {
		{ { FROM, NULL, TO, "Hi\r\nBcc: evil@example.com", "b", NULL, 0, 0 },
		  "line break" },
		{ { FROM, NULL, TO, "Hi\nBcc: evil@example.com", "b", NULL, 0, 0 },
		  "line break" },
		{ { FROM, NULL, TO, "Hi\rthere", "b", NULL, 0, 0 }, "line break" },
		{ { FROM, "Name\r\nBcc: evil@example.com", TO, "s", "b", NULL, 0, 0 },
		  "line break" },
		{ { FROM, "健保\n", TO, "s", "b", NULL, 0, 0 }, "line break" },
		{ { FROM, NULL, TO "\r\nBcc: evil@example.com", "s", "b", NULL, 0, 0 },
		  "line break" },
		{ { FROM "\nBcc: evil@example.com", NULL, TO, "s", "b", NULL, 0, 0 },
		  "line break" },
		{ { FROM, NULL, TO, "tab\there", "b", NULL, 0, 0 }, "control" },
		{ { FROM, NULL, TO, "\xff", "b", NULL, 0, 0 }, "UTF-8" },
		{ { FROM, "\xe5\x81", TO, "s", "b", NULL, 0, 0 }, "UTF-8" },
		{ { FROM, NULL, TO, "s", "\xed\xa0\x80", NULL, 0, 0 }, "UTF-8" },
		{ { FROM, NULL, TO, "s", "lone\rCR", NULL, 0, 0 }, "CR" },
		{ { FROM, NULL, TO, "", "b", NULL, 0, 0 }, "empty subject" },
		{ { FROM, NULL, TO, NULL, "b", NULL, 0, 0 }, "required" },
		{ { FROM, NULL, TO, "s", NULL, NULL, 0, 0 }, "required" },
		{ { NULL, NULL, TO, "s", "b", NULL, 0, 0 }, "sender" },
		{ { FROM, NULL, NULL, "s", "b", NULL, 0, 0 }, "recipient" },
		{ { FROM, NULL, "not-an-address", "s", "b", NULL, 0, 0 },
		  "not a valid mail address" },
		{ { FROM, NULL, "a@b@example.jp", "s", "b", NULL, 0, 0 }, "recipient" },
		{ { "bad sender@example.jp", NULL, TO, "s", "b", NULL, 0, 0 }, "sender" },
		{ { FROM, NULL, TO, "s", "b", "bad domain\r\n", 0, 0 }, "Message-ID" },
		{ { FROM, NULL, TO, "s", "b", "-x.jp", 0, 0 }, "Message-ID" },
	};
	char err[256], *msg = NULL;
	size_t len = 12345, i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (compose(&cases[i].m, &msg, &len, err, sizeof(err)) != -1)
			fail_msg("case %zu accepted", i);
		if (strstr(err, cases[i].error) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].error);
		assert_null(msg);
		assert_int_equal(len, 12345);
	}
	assert_int_equal(kenpo_mail_compose(NULL, &msg, &len, err, sizeof(err)), -1);
}

/* A NUL ends the C string: what follows it never reaches the message. */
static void
test_compose_nul_cuts(void **state)
{
	const struct kenpo_mail m = { FROM, "Name\0Bcc: evil@example.com",
				      TO,   "Hi\0\r\nBcc: evil@example.com",
				      "b",  NULL,
				      0,    0 };
	char err[256], *msg;
	size_t len;

	(void)state;
	assert_int_equal(compose(&m, &msg, &len, err, sizeof(err)), 0);
	assert_null(strstr(msg, "Bcc"));
	assert_null(strstr(msg, "evil"));
	free(msg);
}

/* ---- SMTP settings from the configuration ---------------------------------------- */

static void
write_secret(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void
test_smtp_from_config(void **state)
{
	static const struct {
		const char *text;
		const char *password;
	} files[] = {
		{ "s3cretPw\n", "s3cretPw" },
		{ "s3cretPw", "s3cretPw" },
		{ "s3cretPw\r\n", "s3cretPw" },
		{ "\n", NULL },
		{ "", NULL },
		{ "two\nlines\n", NULL },
		{ "s3cretPw\n\n", NULL },
	};
	char dir[] = "/tmp/kenpo-mail-XXXXXX", path[256], err[512];
	char conf[] = "/etc/kenpo/kenpod.conf", url[] = "smtps://relay.example.jp:465",
	     user[] = "kenpo", ca[] = "/etc/ssl/relay.pem";
	struct kenpo_config cfg;
	struct kenpo_smtp s;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/smtp.pw", dir);
	memset(&cfg, 0, sizeof(cfg));
	cfg.path = conf;
	cfg.smtp_url = url;
	cfg.smtp_tls = KENPO_TLS_SMTPS;
	cfg.smtp_user = user;
	cfg.smtp_password_file = path;
	cfg.smtp_ca_file = ca;
	cfg.smtp_timeout = 7;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		write_secret(path, files[i].text, 0600);
		memset(&s, 0, sizeof(s));
		err[0] = '\0';
		if (files[i].password == NULL) {
			assert_int_equal(kenpo_smtp_from_config(&cfg, &s, err, sizeof(err)), -1);
			assert_non_null(strstr(err, path));
			assert_null(s.password);
			continue;
		}
		if (kenpo_smtp_from_config(&cfg, &s, err, sizeof(err)) != 0)
			fail_msg("file %zu: %s", i, err);
		assert_string_equal(s.password, files[i].password);
		assert_string_equal(s.url, cfg.smtp_url);
		assert_string_equal(s.user, "kenpo");
		assert_string_equal(s.ca_file, cfg.smtp_ca_file);
		assert_int_equal(s.tls, KENPO_TLS_SMTPS);
		assert_int_equal(s.timeout, 7);
		kenpo_smtp_clear(&s);
		assert_null(s.password);
		assert_null(s.password_owned);
		kenpo_smtp_clear(&s); /* twice is harmless */
	}

	/* A password readable by others is refused. */
	write_secret(path, "s3cretPw\n", 0644);
	memset(&s, 0, sizeof(s));
	assert_int_equal(kenpo_smtp_from_config(&cfg, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "readable"));

	/* A user needs a password file and the reverse. */
	cfg.smtp_password_file = NULL;
	assert_int_equal(kenpo_smtp_from_config(&cfg, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "smtp_password_file"));
	cfg.smtp_password_file = path;
	cfg.smtp_user = NULL;
	assert_int_equal(kenpo_smtp_from_config(&cfg, &s, err, sizeof(err)), -1);

	/* Without AUTH nothing is read. */
	cfg.smtp_password_file = NULL;
	assert_int_equal(kenpo_smtp_from_config(&cfg, &s, err, sizeof(err)), 0);
	assert_null(s.user);
	assert_null(s.password);
	kenpo_smtp_clear(&s);
	cfg.smtp_url = NULL;
	assert_int_equal(kenpo_smtp_from_config(&cfg, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "smtp_url"));

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- sending ------------------------------------------------------------------------ */

/* A scripted SMTP server on 127.0.0.1 for one connection. */
struct fake_smtp {
	int lfd;
	unsigned short port;
	const char *rcpt_reply; /* reply to RCPT TO */
	int silent;             /* never accept: the client waits */
	pthread_t thread;
	char mail_from[256], rcpt_to[256];
	char *data; /* what came after DATA, without the "." line */
	size_t datalen;
};

static int
listen_loopback(unsigned short *port)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void
say(int fd, const char *line)
{
	size_t n = strlen(line);

	if (write(fd, line, n) != (ssize_t)n)
		return;
}

/* Reads one CRLF line into buf (without it); 0 at end of connection. */
static int
read_line(int fd, char *buf, size_t sz)
{
	size_t n = 0;
	char c;

	while (read(fd, &c, 1) == 1) {
		if (c == '\n') {
			if (n > 0 && buf[n - 1] == '\r')
				n--;
			buf[n] = '\0';
			return 1;
		}
		if (n + 1 < sz)
			buf[n++] = c;
	}
	return 0;
}

static void
read_data(struct fake_smtp *f, int fd)
{
	char line[1024];
	size_t n;

	while (read_line(fd, line, sizeof(line)) && strcmp(line, ".") != 0) {
		n = strlen(line);
		f->data = realloc(f->data, f->datalen + n + 3);
		if (f->data == NULL)
			return;
		memcpy(f->data + f->datalen, line, n);
		memcpy(f->data + f->datalen + n, "\r\n", 3);
		f->datalen += n + 2;
	}
}

static void *
fake_smtp_run(void *arg)
{
	struct fake_smtp *f = arg;
	struct pollfd pfd = { f->lfd, POLLIN, 0 };
	char line[1024];
	int fd;

	if (poll(&pfd, 1, 10000) != 1 || (fd = accept(f->lfd, NULL, NULL)) < 0)
		return NULL;
	say(fd, "220 fake.example.jp ESMTP\r\n");
	while (read_line(fd, line, sizeof(line))) {
		if (strncasecmp(line, "EHLO", 4) == 0 || strncasecmp(line, "HELO", 4) == 0) {
			say(fd, "250 fake.example.jp\r\n");
		} else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
			snprintf(f->mail_from, sizeof(f->mail_from), "%.255s", line + 10);
			say(fd, "250 2.1.0 Ok\r\n");
		} else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
			snprintf(f->rcpt_to, sizeof(f->rcpt_to), "%.255s", line + 8);
			say(fd, f->rcpt_reply);
		} else if (strcasecmp(line, "DATA") == 0) {
			say(fd, "354 End data with <CR><LF>.<CR><LF>\r\n");
			read_data(f, fd);
			say(fd, "250 2.0.0 Ok: queued\r\n");
		} else if (strcasecmp(line, "QUIT") == 0) {
			say(fd, "221 2.0.0 Bye\r\n");
			break;
		} else {
			say(fd, "502 5.5.2 Error: command not recognized\r\n");
		}
	}
	close(fd);
	return NULL;
}

static void
fake_smtp_start(struct fake_smtp *f, const char *rcpt_reply, int silent)
{
	memset(f, 0, sizeof(*f));
	f->rcpt_reply = rcpt_reply;
	f->silent = silent;
	f->lfd = listen_loopback(&f->port);
	if (!silent)
		assert_int_equal(pthread_create(&f->thread, NULL, fake_smtp_run, f), 0);
}

static void
fake_smtp_stop(struct fake_smtp *f)
{
	if (!f->silent)
		assert_int_equal(pthread_join(f->thread, NULL), 0);
	close(f->lfd);
}

static char *
compose_simple(size_t *len)
{
	const struct kenpo_mail m = { FROM, SOCIETY, TO, SUBJECT, BODY, NULL, 0, 0 };
	char err[256], *msg;

	assert_int_equal(kenpo_mail_compose(&m, &msg, len, err, sizeof(err)), 0);
	return msg;
}

static void
test_send_delivers(void **state)
{
	struct fake_smtp f;
	struct kenpo_smtp s;
	char url[64], err[512], *msg;
	size_t len;

	(void)state;
	fake_smtp_start(&f, "250 2.1.5 Ok\r\n", 0);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%u", (unsigned)f.port);
	memset(&s, 0, sizeof(s));
	s.url = url;
	s.timeout = 10;
	msg = compose_simple(&len);
	err[0] = '\0';
	if (kenpo_mail_send(&s, FROM, TO, msg, len, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	fake_smtp_stop(&f);
	assert_non_null(strstr(f.mail_from, "<" FROM ">"));
	assert_string_equal(f.rcpt_to, "<" TO ">");
	assert_non_null(f.data);
	assert_int_equal(f.datalen, len);
	assert_memory_equal(f.data, msg, len);
	free(f.data);
	free(msg);
}

static void
test_send_recipient_refused(void **state)
{
	struct fake_smtp f;
	struct kenpo_smtp s;
	char url[64], want[128], err[512], *msg;
	size_t len;

	(void)state;
	fake_smtp_start(&f, "550 5.1.1 <" TO ">: Recipient address rejected\r\n", 0);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%u", (unsigned)f.port);
	memset(&s, 0, sizeof(s));
	s.url = url;
	s.timeout = 10;
	msg = compose_simple(&len);
	assert_int_equal(kenpo_mail_send(&s, FROM, TO, msg, len, err, sizeof(err)), -1);
	fake_smtp_stop(&f);
	snprintf(want, sizeof(want), "mail relay %s: refused: 550 5.1.1", url);
	if (strstr(err, want) == NULL || strstr(err, "Recipient address rejected") == NULL)
		fail_msg("%s", err);
	assert_null(f.data);
	free(msg);
}

static void
test_send_connection_refused(void **state)
{
	struct kenpo_smtp s;
	unsigned short port;
	char url[64], want[128], err[512], *msg;
	size_t len;
	int fd;

	(void)state;
	/* A port that was free a moment ago and has no listener now. */
	fd = listen_loopback(&port);
	close(fd);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%u", (unsigned)port);
	memset(&s, 0, sizeof(s));
	s.url = url;
	s.timeout = 5;
	msg = compose_simple(&len);
	assert_int_equal(kenpo_mail_send(&s, FROM, TO, msg, len, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "mail relay %s: connection refused", url);
	assert_string_equal(err, want);
	free(msg);
}

/* A relay that never greets: the timeout ends the wait. */
static void
test_send_times_out(void **state)
{
	struct fake_smtp f;
	struct kenpo_smtp s;
	char url[64], err[512], *msg;
	size_t len;
	time_t start;

	(void)state;
	fake_smtp_start(&f, NULL, 1);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%u", (unsigned)f.port);
	memset(&s, 0, sizeof(s));
	s.url = url;
	s.timeout = 1;
	msg = compose_simple(&len);
	start = time(NULL);
	assert_int_equal(kenpo_mail_send(&s, FROM, TO, msg, len, err, sizeof(err)), -1);
	assert_true(time(NULL) - start <= 4);
	assert_non_null(strstr(err, url));
	assert_non_null(strstr(err, "timed out"));
	fake_smtp_stop(&f);
	free(msg);
}

static void
test_send_refuses_settings(void **state)
{
	static const struct {
		const char *url;
		enum kenpo_smtp_tls tls;
		const char *from, *to;
		const char *error;
	} cases[] = {
		{ "http://127.0.0.1:25", KENPO_TLS_NONE, FROM, TO, "smtp://" },
		{ "file:///etc/passwd", KENPO_TLS_NONE, FROM, TO, "smtp://" },
		{ NULL, KENPO_TLS_NONE, FROM, TO, "smtp://" },
		{ "smtp://user:pw@127.0.0.1:25", KENPO_TLS_NONE, FROM, TO, "user name" },
		{ "smtp://127.0.0.1:25/\r\nx", KENPO_TLS_NONE, FROM, TO, "printable" },
		{ "smtp://127.0.0.1:25", KENPO_TLS_SMTPS, FROM, TO, "smtps" },
		{ "smtps://127.0.0.1:465", KENPO_TLS_STARTTLS, FROM, TO, "smtps" },
		{ "smtp://127.0.0.1:25", KENPO_TLS_NONE, FROM, "x\r\nRCPT TO:<y@z.jp>",
		  "recipient" },
		{ "smtp://127.0.0.1:25", KENPO_TLS_NONE, "bad", TO, "sender" },
	};
	struct kenpo_smtp s;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&s, 0, sizeof(s));
		s.url = cases[i].url;
		s.tls = cases[i].tls;
		err[0] = '\0';
		assert_int_equal(kenpo_mail_send(&s, cases[i].from, cases[i].to, "x\r\n", 3, err,
						 sizeof(err)),
				 -1);
		if (strstr(err, cases[i].error) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].error);
	}
	assert_int_equal(kenpo_mail_send(NULL, FROM, TO, "x", 1, err, sizeof(err)), -1);
	assert_int_equal(kenpo_mail_global_init(), 0);
	assert_int_equal(kenpo_mail_global_init(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_ok),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_compose_japanese),
		cmocka_unit_test(test_compose_long_values),
		cmocka_unit_test(test_compose_ascii),
		cmocka_unit_test(test_compose_message_ids_differ),
		cmocka_unit_test(test_compose_refuses),
		cmocka_unit_test(test_compose_nul_cuts),
		cmocka_unit_test(test_smtp_from_config),
		cmocka_unit_test(test_send_delivers),
		cmocka_unit_test(test_send_recipient_refused),
		cmocka_unit_test(test_compose_date_in_zone),
		cmocka_unit_test(test_send_connection_refused),
		cmocka_unit_test(test_send_times_out),
		cmocka_unit_test(test_send_refuses_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
