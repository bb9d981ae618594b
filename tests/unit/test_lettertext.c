/*
 * test_lettertext.c - the letters' wording (tools/admin/lettertext.c):
 * the shipped templates load, and a template whose sections are missing,
 * unknown or repeated is refused with its line, whatever sits between the
 * repeats.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "lettertext.h"

static char soc_id[] = "t1", soc_name[] = "テスト健康保険組合",
	    soc_login_url[] = "https://portal.example.jp/login";
static const struct kenpo_society soc = {
	.id = soc_id,
	.name = soc_name,
	.login_url = soc_login_url,
};

/* The shipped template of `lang` from the source tree, in a malloc'd buffer. */
static char *
shipped(const char *lang, size_t *len)
{
	const char *src = getenv("KENPO_SRCDIR");
	char path[4096], *text;
	FILE *f;
	long n;

	if (src == NULL)
		fail_msg("KENPO_SRCDIR is not set");
	snprintf(path, sizeof path, "%s/templates/%s/letter.txt", src, lang);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	text = malloc((size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	text[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return text;
}

static void
start(struct letter_text *t)
{
	memset(t, 0, sizeof *t);
	t->soc = &soc;
	snprintf(t->path, sizeof t->path, "letter.txt");
}

static void
test_shipped_templates_load(void **state)
{
	static const char *const langs[] = { "ja", "en" };
	struct letter_text t;
	char err[512], *text, *s;
	size_t len, i;

	(void)state;
	for (i = 0; i < 2; i++) {
		text = shipped(langs[i], &len);
		start(&t);
		assert_int_equal(letter_text_parse(&t, text, len, err, sizeof err), 0);
		s = letter_text(&t, LT_COVER_COUNT, "12", "E01");
		assert_non_null(s);
		free(s);
		letter_text_free(&t);
		free(text);
	}
}

/* The shipped template with one more "[heading]" line right after its
 * own: the section is given twice, with nothing between the two. */
static void
test_section_repeated_at_once(void **state)
{
	struct letter_text t;
	char err[512], *text, *at, *twice;
	size_t len, k;

	(void)state;
	text = shipped("en", &len);
	at = strstr(text, "\n[heading]\n");
	assert_non_null(at);
	twice = malloc(len + sizeof "[heading]\n");
	assert_non_null(twice);
	k = (size_t)(at - text) + sizeof "\n[heading]\n" - 1;
	memcpy(twice, text, k);
	memcpy(twice + k, "[heading]\n", sizeof "[heading]\n" - 1);
	memcpy(twice + k + sizeof "[heading]\n" - 1, text + k, len - k);
	start(&t);
	assert_int_equal(letter_text_parse(&t, twice, len + sizeof "[heading]\n" - 1, err,
					   sizeof err),
			 -1);
	assert_non_null(strstr(err, "repeated section [heading]"));
	for (k = 0; k < LT_COUNT; k++)
		assert_null(t.text[k]);
	free(twice);
	free(text);
}

static void
test_bad_templates(void **state)
{
	static const struct {
		const char *text, *what;
	} cases[] = {
		{ "# c\n[heading]\nA\n[intro]\nB\n[heading]\nC\n",
		  "letter.txt:6: repeated section [heading]" },
		{ "# c\n[heading]\nA\n[nope]\n", "letter.txt:4: unknown section [nope]" },
		{ "text\n[heading]\nA\n", "letter.txt:1: text before the first [section]" },
		{ "[heading]\nA\n", "letter.txt: no [intro] section" },
		{ "[heading]\n\xff\n", "not UTF-8 text" },
	};
	struct letter_text t;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		start(&t);
		assert_int_equal(letter_text_parse(&t, cases[i].text, strlen(cases[i].text), err,
						   sizeof err),
				 -1);
		if (strstr(err, cases[i].what) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, cases[i].what);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_templates_load),
		cmocka_unit_test(test_section_repeated_at_once),
		cmocka_unit_test(test_bad_templates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
