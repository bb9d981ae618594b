/*
 * test_template.c - the shipped mail templates in both languages, the
 * strict %%NAME%% expansion, the override directory and the validity
 * wording.  KENPO_TEMPLATEDIR points at the source tree's templates.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "template.h"
#include "text.h"

#define SOCIETY_JA "東洋紡健康保険組合"
#define SOCIETY_EN "Example Health Insurance Society"
#define URL "https://portal.example.jp/t/AbCdEf0123456789"
#define LOGINURL "https://portal.example.jp/login"
#define LOGINID "toyo_taro"
#define PASSWD "P0a40aca"
#define KEY "0123456789"
#define CHANGES "・メールアドレス2 を登録しました（****@****.jp）"

struct kind_case {
	enum kenpo_mail_kind kind;
	const char *name;
	const char *vars[5]; /* besides SOCIETY and VALIDITY */
	long validity;       /* seconds, 0: no VALIDITY */
	const char *ja_validity;
	const char *en_validity;
};

static const struct kind_case kinds[] = {
	{ KENPO_MAIL_GUIDE, "guide", { "URL" }, 10800, "3時間", "3 hours" },
	{ KENPO_MAIL_COMPLETE, "complete", { "LOGINURL", "LOGINID" }, 0, NULL, NULL },
	{ KENPO_MAIL_IDENTITY, "identity", { "URL" }, 1800, "30分", "30 minutes" },
	{ KENPO_MAIL_RESET, "reset", { "URL", "LOGINID", "PASSWD" }, 10800, "3時間", "3 hours" },
	{ KENPO_MAIL_KEY, "key", { "KEY" }, 600, "10分", "10 minutes" },
	{ KENPO_MAIL_PROFILE_CHANGED, "profile-changed", { "CHANGES" }, 0, NULL, NULL },
	{ KENPO_MAIL_ADDRESS_ADDED, "address-added", { "SLOT" }, 0, NULL, NULL },
};

static const char *
sample(const char *name)
{
	static const struct kenpo_var samples[] = {
		{ "URL", URL },       { "LOGINURL", LOGINURL }, { "LOGINID", LOGINID },
		{ "PASSWD", PASSWD }, { "KEY", KEY },           { "CHANGES", CHANGES },
		{ "SLOT", "2" },
	};
	size_t i;

	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		if (strcmp(samples[i].name, name) == 0)
			return samples[i].value;
	fail_msg("no sample for %s", name);
	return NULL;
}

/* The variables kenpod passes for one kind; `skip` (may be NULL) is left
 * out, to test that it is required. */
static size_t
build_vars(const struct kind_case *k, enum kenpo_lang lang, const char *skip, struct kenpo_var *v,
	   char *validity, size_t validitysz)
{
	size_t n = 0, i;

	if (skip == NULL || strcmp(skip, "SOCIETY") != 0)
		v[n++] = (struct kenpo_var){ "SOCIETY",
					     lang == KENPO_LANG_JA ? SOCIETY_JA : SOCIETY_EN };
	if (k->validity > 0 && (skip == NULL || strcmp(skip, "VALIDITY") != 0)) {
		assert_int_equal(kenpo_duration_format(lang, k->validity, validity, validitysz),
				 0);
		v[n++] = (struct kenpo_var){ "VALIDITY", validity };
	}
	for (i = 0; i < 5 && k->vars[i] != NULL; i++)
		if (skip == NULL || strcmp(skip, k->vars[i]) != 0)
			v[n++] = (struct kenpo_var){ k->vars[i], sample(k->vars[i]) };
	return n;
}

static void
test_kind_names(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		assert_string_equal(kenpo_mail_kind_name(kinds[i].kind), kinds[i].name);
	assert_null(kenpo_mail_kind_name(KENPO_MAIL_KIND_COUNT));
	assert_null(kenpo_mail_kind_name((enum kenpo_mail_kind) - 1));
}

static void
check_rendered(const struct kind_case *k, enum kenpo_lang lang, const char *subject,
	       const char *body)
{
	const char *society = lang == KENPO_LANG_JA ? SOCIETY_JA : SOCIETY_EN;
	size_t i;

	assert_true(strlen(subject) > 0);
	assert_non_null(strstr(subject, society));
	assert_null(strpbrk(subject, "\r\n"));
	assert_non_null(strstr(body, society));
	assert_null(strstr(body, "%%"));
	assert_true(kenpo_utf8_valid(body, strlen(body)));
	if (k->validity > 0)
		assert_non_null(
			strstr(body, lang == KENPO_LANG_JA ? k->ja_validity : k->en_validity));
	for (i = 0; i < 5 && k->vars[i] != NULL; i++)
		assert_non_null(strstr(body, sample(k->vars[i])));
	if (lang == KENPO_LANG_JA) {
		char tail[256];

		assert_non_null(strstr(body, SOCIETY_JA "です。"));
		assert_non_null(strstr(body, "※本メールに覚えがない場合は、大変お手数ですが"
					     "本メールを破棄してください。\n"));
		/* The manuals say it two ways: 「返信できません。」 and
		 * 「返信できませんのでご了承ください。」. */
		assert_non_null(strstr(body, "※本メールには返信できません"));
		snprintf(tail, sizeof(tail), "\n\n%s\n", SOCIETY_JA);
		assert_true(strlen(body) >= strlen(tail));
		assert_string_equal(body + strlen(body) - strlen(tail), tail);
	}
}

static void
test_shipped_templates_render(void **state)
{
	static const enum kenpo_lang langs[] = { KENPO_LANG_JA, KENPO_LANG_EN };
	struct kenpo_var v[8];
	char validity[64], err[256], *subject, *body;
	size_t i, l, n;

	(void)state;
	for (l = 0; l < 2; l++) {
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			n = build_vars(&kinds[i], langs[l], NULL, v, validity, sizeof(validity));
			err[0] = '\0';
			if (kenpo_template_render(kinds[i].kind, langs[l], NULL, v, n, &subject,
						  &body, err, sizeof(err)) != 0)
				fail_msg("%s/%s: %s", langs[l] == KENPO_LANG_JA ? "ja" : "en",
					 kinds[i].name, err);
			check_rendered(&kinds[i], langs[l], subject, body);
			free(subject);
			free(body);
		}
	}
}

/* The Japanese subjects name the action the way the society's mails do. */
static void
test_japanese_subjects(void **state)
{
	static const char *const subjects[] = {
		"【" SOCIETY_JA "】利用登録手続きのご案内",
		"【" SOCIETY_JA "】利用登録完了のご案内",
		"【" SOCIETY_JA "】本人確認完了のご案内",
		"【" SOCIETY_JA "】パスワード再発行のご案内",
		"【" SOCIETY_JA "】暗証キーのご案内",
		"【" SOCIETY_JA "】ご登録内容変更のお知らせ",
		"【" SOCIETY_JA "】メールアドレス登録のお知らせ",
	};
	struct kenpo_var v[8];
	char validity[64], err[256], *subject, *body;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		n = build_vars(&kinds[i], KENPO_LANG_JA, NULL, v, validity, sizeof(validity));
		assert_int_equal(kenpo_template_render(kinds[i].kind, KENPO_LANG_JA, NULL, v, n,
						       &subject, &body, err, sizeof(err)),
				 0);
		assert_string_equal(subject, subjects[i]);
		free(subject);
		free(body);
	}
}

/* Every variable of every kind is required: a mail never goes out with a
 * hole in it, and the error names what is missing. */
static void
test_each_kind_requires_its_variables(void **state)
{
	static const enum kenpo_lang langs[] = { KENPO_LANG_JA, KENPO_LANG_EN };
	const char *names[8];
	struct kenpo_var v[8];
	char validity[64], err[256], want[64], *subject = NULL, *body = NULL;
	size_t i, l, j, n, nn;

	(void)state;
	for (l = 0; l < 2; l++) {
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			nn = build_vars(&kinds[i], langs[l], NULL, v, validity, sizeof(validity));
			for (j = 0; j < nn; j++)
				names[j] = v[j].name;
			for (j = 0; j < nn; j++) {
				n = build_vars(&kinds[i], langs[l], names[j], v, validity,
					       sizeof(validity));
				assert_int_equal(n, nn - 1);
				err[0] = '\0';
				assert_int_equal(kenpo_template_render(kinds[i].kind, langs[l],
								       NULL, v, n, &subject,
								       &body, err, sizeof(err)),
						 -1);
				snprintf(want, sizeof(want), "%%%%%s%%%%", names[j]);
				if (strstr(err, want) == NULL)
					fail_msg("%s without %s: \"%s\"", kinds[i].name, names[j],
						 err);
				assert_null(subject);
				assert_null(body);
			}
		}
	}
}

static void
test_complete_mail_has_no_password(void **state)
{
	struct kenpo_var v[8];
	char validity[64], err[256], *subject, *body;
	size_t n;

	(void)state;
	n = build_vars(&kinds[1], KENPO_LANG_JA, NULL, v, validity, sizeof(validity));
	v[n++] = (struct kenpo_var){ "PASSWD", PASSWD };
	assert_int_equal(kenpo_template_render(KENPO_MAIL_COMPLETE, KENPO_LANG_JA, NULL, v, n,
					       &subject, &body, err, sizeof(err)),
			 0);
	assert_null(strstr(body, PASSWD));
	assert_null(strstr(subject, PASSWD));
	assert_non_null(strstr(body, LOGINURL));
	free(subject);
	free(body);
}

static void
test_key_mail_has_the_key(void **state)
{
	struct kenpo_var v[8];
	char validity[64], err[256], *subject, *body;
	size_t n;

	(void)state;
	n = build_vars(&kinds[4], KENPO_LANG_JA, NULL, v, validity, sizeof(validity));
	assert_int_equal(kenpo_template_render(KENPO_MAIL_KEY, KENPO_LANG_JA, NULL, v, n,
					       &subject, &body, err, sizeof(err)),
			 0);
	assert_non_null(strstr(body, "暗証キー：" KEY "\n"));
	assert_non_null(strstr(body, "※10分以内にログインがされないと"));
	free(subject);
	free(body);
}

/* ---- expansion ---------------------------------------------------------- */

static int
expand(const char *text, const struct kenpo_var *v, size_t n, char **subject, char **body,
       char *err, size_t errsz)
{
	err[0] = '\0';
	return kenpo_template_expand(text, strlen(text), v, n, subject, body, err, errsz);
}

static void
test_expand_substitutes(void **state)
{
	const struct kenpo_var v[] = {
		{ "A", "alpha" },
		{ "B_2", "ß" },
		{ "UNUSED", "x" },
		{ "EMPTY", "" },
	};
	char err[256], *subject, *body;

	(void)state;
	assert_int_equal(expand("Subject:  %%A%% and %%B_2%% 100%\n\n%%A%%%%B_2%%\n"
				"[%%EMPTY%%] 50% off, %A% %\n",
				v, 4, &subject, &body, err, sizeof(err)),
			 0);
	assert_string_equal(subject, "alpha and ß 100%");
	assert_string_equal(body, "alphaß\n[] 50% off, %A% %\n");
	free(subject);
	free(body);
	/* Values are inserted as they are, never expanded again. */
	{
		const struct kenpo_var w[] = { { "A", "%%B%%" } };

		assert_int_equal(expand("Subject: s\n\n%%A%%", w, 1, &subject, &body, err,
					sizeof(err)),
				 0);
		assert_string_equal(body, "%%B%%");
		free(subject);
		free(body);
	}
}

static void
test_expand_refuses(void **state)
{
	static const struct {
		const char *text;
		const char *error; /* part of the message */
	} cases[] = {
		{ "Subject: s\n\n%%NOPE%%\n", "unknown placeholder %%NOPE%%" },
		{ "Subject: %%NOPE%%\n\nbody\n", "%%NOPE%%" },
		{ "Subject: s\n\nline\n100%% sure\n", "line 4" },
		{ "Subject: s\n\n%%A%\n", "'%%'" },
		{ "Subject: s\n\n%%lower%%\n", "'%%'" },
		{ "Subject: s\n\n%%%%\n", "'%%'" },
		{ "Subject: s\n\n%URL%%\n", "'%%'" },
		{ "Subject: s\n\nends with %%", "'%%'" },
		{ "Subject: s\n\n%%NULLVAL%%\n", "no value for placeholder %%NULLVAL%%" },
		{ "Subject: s\nbody\n", "empty line" },
		{ "Subject: s\n", "empty line" },
		{ "Subject: s", "empty line" },
		{ "From: x\n\nbody\n", "Subject" },
		{ "", "Subject" },
		{ "Subject: s\r\n\r\nbody\r\n", "LF" },
		{ "Subject: \n\nbody\n", "empty subject" },
		{ "Subject: %%EMPTY%%\n\nbody\n", "empty subject" },
		{ "Subject: %%NL%%\n\nbody\n", "line break" },
		{ "Subject: %%CR%%\n\nbody\n", "line break" },
		{ "Subject: s\n\n\xc3\x28\n", "UTF-8" },
		{ "Subject: s\n\n%%BAD%%\n", "UTF-8" },
		{ "Subject: %%BAD%%\n\nbody\n", "UTF-8" },
	};
	const struct kenpo_var v[] = {
		{ "A", "a" },     { "NULLVAL", NULL },   { "EMPTY", "" },
		{ "NL", "x\ny" }, { "CR", "x\rBcc: y" }, { "BAD", "\xed\xa0\x80" },
	};
	char err[256], *subject = NULL, *body = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (expand(cases[i].text, v, sizeof(v) / sizeof(v[0]), &subject, &body, err,
			   sizeof(err)) != -1)
			fail_msg("accepted: %s", cases[i].text);
		if (strstr(err, cases[i].error) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].text, err, cases[i].error);
		assert_null(subject);
		assert_null(body);
	}
}

static void
test_expand_refuses_nul(void **state)
{
	static const char text[] = "Subject: s\n\nbefore\0after\n";
	char err[256], *subject = NULL, *body = NULL;

	(void)state;
	assert_int_equal(kenpo_template_expand(text, sizeof(text) - 1, NULL, 0, &subject, &body,
					       err, sizeof(err)),
			 -1);
	assert_null(subject);
	assert_null(body);
}

static void
test_utf8_valid(void **state)
{
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
		{ "", 1 },
		{ "ascii", 1 },
		{ "東洋紡", 1 },
		{ "\xc2\x80", 1 },
		{ "\xf0\x9f\x98\x80", 1 },
		{ "\xef\xbf\xbf", 1 },
		{ "\xf4\x8f\xbf\xbf", 1 },
		{ "\xc3\x28", 0 },             /* bad continuation */
		{ "\xc0\xaf", 0 },             /* overlong '/' */
		{ "\xe0\x80\xaf", 0 },         /* overlong, 3 bytes */
		{ "\xf0\x80\x80\xaf", 0 },     /* overlong, 4 bytes */
		{ "\xed\xa0\x80", 0 },         /* surrogate */
		{ "\xf4\x90\x80\x80", 0 },     /* above U+10FFFF */
		{ "\xf8\x88\x80\x80\x80", 0 }, /* 5 bytes */
		{ "\xe6\x9d", 0 },             /* truncated */
		{ "\x80", 0 },
		{ "\xff", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (kenpo_utf8_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
			fail_msg("case %zu", i);
}

/* ---- files ----------------------------------------------------------------- */

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void
test_override_dir(void **state)
{
	const struct kenpo_var v[] = {
		{ "SOCIETY", SOCIETY_JA },
		{ "KEY", KEY },
		{ "VALIDITY", "10分" },
		{ "URL", URL },
	};
	char dir[] = "/tmp/kenpo-template-XXXXXX", path[256], err[512];
	char *subject, *body, *big;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ja", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/ja/key.txt", dir);
	write_file(path, "Subject: 上書き %%KEY%%\n\n本文 %%KEY%%\n", 0644);

	/* The override wins. */
	assert_int_equal(kenpo_template_render(KENPO_MAIL_KEY, KENPO_LANG_JA, dir, v, 4, &subject,
					       &body, err, sizeof(err)),
			 0);
	assert_string_equal(subject, "上書き " KEY);
	assert_string_equal(body, "本文 " KEY "\n");
	free(subject);
	free(body);

	/* A kind or a language the override lacks comes from the shipped set. */
	assert_int_equal(kenpo_template_render(KENPO_MAIL_GUIDE, KENPO_LANG_JA, dir, v, 4,
					       &subject, &body, err, sizeof(err)),
			 0);
	assert_string_equal(subject, "【" SOCIETY_JA "】利用登録手続きのご案内");
	free(subject);
	free(body);
	assert_int_equal(kenpo_template_render(KENPO_MAIL_KEY, KENPO_LANG_EN, dir, v, 4, &subject,
					       &body, err, sizeof(err)),
			 0);
	assert_null(strstr(subject, "上書き"));
	free(subject);
	free(body);

	/* A broken override is an error naming the file, never a fallback. */
	write_file(path, "Subject: %%NOPE%%\n\nx\n", 0644);
	subject = body = NULL;
	assert_int_equal(kenpo_template_render(KENPO_MAIL_KEY, KENPO_LANG_JA, dir, v, 4, &subject,
					       &body, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "key.txt"));
	assert_non_null(strstr(err, "%%NOPE%%"));
	assert_null(subject);

	/* Bigger than 64 KiB. */
	big = malloc(70000);
	assert_non_null(big);
	memcpy(big, "Subject: s\n\n", 12);
	memset(big + 12, 'x', 70000 - 13);
	big[70000 - 1] = '\0';
	write_file(path, big, 0644);
	free(big);
	assert_int_equal(kenpo_template_render(KENPO_MAIL_KEY, KENPO_LANG_JA, dir, v, 4, &subject,
					       &body, err, sizeof(err)),
			 -1);
	assert_null(subject);

	/* Writable by others: anyone could rewrite the society's mails. */
	write_file(path, "Subject: s\n\nx\n", 0666);
	assert_int_equal(kenpo_template_render(KENPO_MAIL_KEY, KENPO_LANG_JA, dir, v, 4, &subject,
					       &body, err, sizeof(err)),
			 -1);
	assert_null(subject);

	/* A symlink is refused too, not followed. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(kenpo_template_render(KENPO_MAIL_KEY, KENPO_LANG_JA, dir, v, 4, &subject,
					       &body, err, sizeof(err)),
			 -1);
	assert_null(subject);

	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/ja", dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_missing_template_dir(void **state)
{
	const struct kenpo_var v[] = { { "SOCIETY", "s" },
				       { "KEY", KEY },
				       { "VALIDITY", "1分" } };
	char *old = getenv("KENPO_TEMPLATEDIR"), *saved, err[512], *subject = NULL, *body = NULL;

	(void)state;
	assert_non_null(old);
	saved = strdup(old);
	assert_non_null(saved);
	assert_int_equal(setenv("KENPO_TEMPLATEDIR", "/nonexistent/kenpo", 1), 0);
	assert_int_equal(kenpo_template_render(KENPO_MAIL_KEY, KENPO_LANG_JA, NULL, v, 3,
					       &subject, &body, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "/nonexistent/kenpo/ja/key.txt"));
	assert_null(subject);
	assert_int_equal(setenv("KENPO_TEMPLATEDIR", saved, 1), 0);
	free(saved);
	assert_int_equal(kenpo_template_render(KENPO_MAIL_KIND_COUNT, KENPO_LANG_JA, NULL, v, 3,
					       &subject, &body, err, sizeof(err)),
			 -1);
	assert_int_equal(kenpo_template_render(KENPO_MAIL_KEY, (enum kenpo_lang)7, NULL, v, 3,
					       &subject, &body, err, sizeof(err)),
			 -1);
}

/* ---- validity wording --------------------------------------------------------- */

static void
test_duration_format(void **state)
{
	static const struct {
		long secs;
		const char *ja, *en;
	} cases[] = {
		{ 10800, "3時間", "3 hours" },
		{ 1800, "30分", "30 minutes" },
		{ 600, "10分", "10 minutes" },
		{ 5400, "1時間30分", "1 hour 30 minutes" },
		{ 60, "1分", "1 minute" },
		{ 45, "45秒", "45 seconds" },
		{ 1, "1秒", "1 second" },
		{ 3600, "1時間", "1 hour" },
		{ 3661, "1時間1分1秒", "1 hour 1 minute 1 second" },
		{ 3605, "1時間5秒", "1 hour 5 seconds" },
		{ 172800, "48時間", "48 hours" },
		{ 0, "0秒", "0 seconds" },
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(kenpo_duration_format(KENPO_LANG_JA, cases[i].secs, out,
						       sizeof(out)),
				 0);
		assert_string_equal(out, cases[i].ja);
		assert_int_equal(kenpo_duration_format(KENPO_LANG_EN, cases[i].secs, out,
						       sizeof(out)),
				 0);
		assert_string_equal(out, cases[i].en);
	}
	strcpy(out, "untouched");
	assert_int_equal(kenpo_duration_format(KENPO_LANG_JA, -1, out, sizeof(out)), -1);
	assert_int_equal(kenpo_duration_format(KENPO_LANG_EN, 5400, out, 10), -1);
	assert_int_equal(kenpo_duration_format((enum kenpo_lang)5, 60, out, sizeof(out)), -1);
	assert_string_equal(out, "untouched");
	/* Exactly large enough. */
	assert_int_equal(kenpo_duration_format(KENPO_LANG_EN, 60, out, 9), 0);
	assert_string_equal(out, "1 minute");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_shipped_templates_render),
		cmocka_unit_test(test_japanese_subjects),
		cmocka_unit_test(test_each_kind_requires_its_variables),
		cmocka_unit_test(test_complete_mail_has_no_password),
		cmocka_unit_test(test_key_mail_has_the_key),
		cmocka_unit_test(test_expand_substitutes),
		cmocka_unit_test(test_expand_refuses),
		cmocka_unit_test(test_expand_refuses_nul),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_override_dir),
		cmocka_unit_test(test_missing_template_dir),
		cmocka_unit_test(test_duration_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
