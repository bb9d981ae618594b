/*
 * fuzz_template.c - libFuzzer target for the template engine
 * (src/common/template.c) and the letters' wording built on it
 * (tools/admin/lettertext.c).
 *
 * The input is one byte of options, then a template file.  Bit 0 of the
 * options chooses the file's kind: a mail template, expanded by
 * kenpo_template_expand as kenpo_template_render does after reading it;
 * or the letters' template, split into its sections and checked by
 * letter_text_parse as letter_text_load does.  Bit 1 gives the language
 * of a VALIDITY formatted by kenpo_duration_format from the options.
 *
 * The variables are those of the mails, one with no value, and values
 * that must be taken as text: one holding "%%URL%%" (never expanded
 * again) and one holding a line break (which a subject must refuse).
 * Whatever the bytes, nothing is read outside them and nothing leaks; a
 * mail accepted has a subject of one non-empty line of UTF-8 and a body of
 * UTF-8 text with no NUL.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "lettertext.h"
#include "template.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_mail(const char *text, size_t len, const char *validity)
{
	const struct kenpo_var vars[] = {
		{ "SOCIETY", "東洋紡健康保険組合" },
		{ "URL", "https://example.org/g?t=%%URL%%" },
		{ "LOGINID", "taro.yamada" },
		{ "PASSWD", "Pw1\nSubject: x" },
		{ "VALIDITY", validity },
		{ "KEY", NULL },
		{ "SLOT", "2" },
		{ "CHANGES", "mail2: a@example.org\n" },
	};
	char *subject = NULL, *body = NULL, err[256];

	if (kenpo_template_expand(text, len, vars, sizeof vars / sizeof vars[0], &subject, &body,
				  err, sizeof err) != 0)
		return;
	if (subject[0] == '\0' || strpbrk(subject, "\r\n") != NULL ||
	    !kenpo_utf8_valid(subject, strlen(subject)) || !kenpo_utf8_valid(body, strlen(body)))
		abort();
	free(subject);
	free(body);
}

static void
check_letter(const char *text, size_t len)
{
	static char id[] = "fuzz", name[] = "東洋紡健康保険組合",
		    login_url[] = "https://example.org/login", entry[] = "entry@example.org";
	static const struct kenpo_society soc = {
		.id = id,
		.name = name,
		.login_url = login_url,
		.entry_address = entry,
	};
	struct letter_text t;
	char err[512], *s;
	size_t k;

	memset(&t, 0, sizeof t);
	t.soc = &soc;
	memcpy(t.path, "letter.txt", sizeof "letter.txt");
	if (letter_text_parse(&t, text, len, err, sizeof err) != 0) {
		for (k = 0; k < LT_COUNT; k++)
			if (t.text[k] != NULL)
				abort();
		return;
	}
	for (k = 0; k < LT_COUNT; k++) {
		s = letter_text(&t, (enum letter_key)k, "12", "A-01");
		if (s == NULL || !kenpo_utf8_valid(s, strlen(s)))
			abort();
		free(s);
	}
	letter_text_free(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char validity[64];
	enum kenpo_lang lang;
	char *text;
	size_t len;

	if (size < 1)
		return 0;
	lang = (data[0] & 2) ? KENPO_LANG_EN : KENPO_LANG_JA;
	if (kenpo_duration_format(lang, (long)data[0] * 977, validity, sizeof validity) != 0)
		abort();
	len = size - 1;
	text = malloc(len > 0 ? len : 1);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, len);
	if (data[0] & 1)
		check_letter(text, len);
	else
		check_mail(text, len, validity);
	free(text);
	return 0;
}
