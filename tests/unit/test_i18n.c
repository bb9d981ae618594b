/*
 * test_i18n.c - language names and message translation.
 *
 * Run by `make check`, which sets KENPO_LOCALEDIR to the build tree's
 * catalogue (compiled from po/ja.po) and LOCPATH to a private ja_JP.UTF-8
 * locale made by localedef.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "policy.h"

/* The Japanese of every rule message, as po/ja.po has it. */
static const struct {
	unsigned rule;
	const char *ja;
} expected_ja[] = {
	{ KENPO_RULE_ID_TOO_SHORT, "ログインIDは2文字以上で入力してください。" },
	{ KENPO_RULE_ID_TOO_LONG, "ログインIDは40文字未満で入力してください。" },
	{ KENPO_RULE_ID_BAD_CHAR,
	  "ログインIDに使える文字は半角英字、数字と「.」「_」「-」だけです。" },
	{ KENPO_RULE_ID_BAD_START, "ログインIDの先頭に「-」や「.」は使えません。" },
	{ KENPO_RULE_ID_ALL_DIGITS, "ログインIDを数字だけにすることはできません。" },
	{ KENPO_RULE_ID_DIGITS_7_8,
	  "ログインIDを8文字で設定すると7、8桁目には数字を設定することができません。" },
	{ KENPO_RULE_PW_TOO_SHORT, "パスワードは8文字以上で入力してください。" },
	{ KENPO_RULE_PW_TOO_LONG, "パスワードは40文字未満で入力してください。" },
	{ KENPO_RULE_PW_BAD_CHAR,
	  "パスワードに使える文字は半角英大文字、半角英小文字、数字だけです。"
	  "パスワードに記号は使えません。" },
	{ KENPO_RULE_PW_NO_UPPER, "パスワードには半角英大文字を1文字以上含めてください。" },
	{ KENPO_RULE_PW_NO_LOWER, "パスワードには半角英小文字を1文字以上含めてください。" },
	{ KENPO_RULE_PW_NO_DIGIT, "パスワードには数字を1文字以上含めてください。" },
};
#define N_JA (sizeof expected_ja / sizeof expected_ja[0])

static void
assert_japanese(unsigned rule, const char *want)
{
	const char *msgid = kenpo_rule_message(rule);
	const char *got;

	assert_non_null(msgid);
	got = kenpo_i18n_text(KENPO_LANG_JA, msgid);
	assert_non_null(got);
	if (got == msgid)
		fail_msg("\"%s\" untranslated: are KENPO_LOCALEDIR (%s) and LOCPATH (%s) "
			 "set as `make check` sets them?",
			 msgid, getenv("KENPO_LOCALEDIR") ? getenv("KENPO_LOCALEDIR") : "unset",
			 getenv("LOCPATH") ? getenv("LOCPATH") : "unset");
	assert_string_equal(got, want);
}

/* ---- language names --------------------------------------------------- */

static void
test_lang_parse_accepts(void **state)
{
	static const struct {
		const char *in;
		enum kenpo_lang want;
	} ok[] = {
		{ "ja", KENPO_LANG_JA },          { "JA", KENPO_LANG_JA },
		{ "Ja", KENPO_LANG_JA },          { "ja_JP", KENPO_LANG_JA },
		{ "ja_JP.UTF-8", KENPO_LANG_JA }, { "ja_JP.eucJP", KENPO_LANG_JA },
		{ "ja-JP", KENPO_LANG_JA },       { "en", KENPO_LANG_EN },
		{ "EN", KENPO_LANG_EN },          { "en_US", KENPO_LANG_EN },
		{ "en_US.UTF-8", KENPO_LANG_EN }, { "en_GB.utf8", KENPO_LANG_EN },
		{ "en_IE@euro", KENPO_LANG_EN },
	};

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		/* Start from the other language so that a no-op cannot pass. */
		enum kenpo_lang got = ok[i].want == KENPO_LANG_JA ? KENPO_LANG_EN : KENPO_LANG_JA;

		if (kenpo_lang_parse(ok[i].in, &got) != 0)
			fail_msg("\"%s\" refused", ok[i].in);
		assert_int_equal(got, ok[i].want);
	}
}

static void
test_lang_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"",
		"j",
		"e",
		"jp",
		"fr",
		"de_DE",
		"C",
		"POSIX",
		"C.UTF-8",
		"jap",
		"japanese",
		"english",
		"eng",
		"ja_",
		"ja.",
		"en-",
		" ja",
		"ja ",
		"ja_JP UTF-8",
		"ja\n",
		"ja_JP/../x",
		"\xe6\x97\xa5",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum kenpo_lang out = (enum kenpo_lang)42;

		if (kenpo_lang_parse(bad[i], &out) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(out, 42); /* untouched on failure */
	}
	assert_int_equal(kenpo_lang_parse(NULL, NULL), -1);
	assert_int_equal(kenpo_lang_parse("ja", NULL), -1);
}

static void
test_lang_name(void **state)
{
	enum kenpo_lang back = KENPO_LANG_EN;

	(void)state;
	assert_string_equal(kenpo_lang_name(KENPO_LANG_JA), "ja");
	assert_string_equal(kenpo_lang_name(KENPO_LANG_EN), "en");
	assert_null(kenpo_lang_name((enum kenpo_lang)2));
	assert_null(kenpo_lang_name((enum kenpo_lang) - 1));
	assert_int_equal(kenpo_lang_parse(kenpo_lang_name(KENPO_LANG_JA), &back), 0);
	assert_int_equal(back, KENPO_LANG_JA);
	assert_int_equal(kenpo_lang_parse(kenpo_lang_name(KENPO_LANG_EN), &back), 0);
	assert_int_equal(back, KENPO_LANG_EN);
}

/* ---- translation ------------------------------------------------------ */

/* Runs first, before any message has been translated in this process (see
 * i18n.h): glibc lets $LANGUAGE override the thread's locale, so Japanese
 * falls back to the English msgid, never to anything else. */
static void
test_language_env_limitation(void **state)
{
	const char *msgid = kenpo_rule_message(KENPO_RULE_PW_NO_DIGIT);

	(void)state;
	assert_int_equal(setenv("LANGUAGE", "en_US:en", 1), 0);
	assert_ptr_equal(kenpo_i18n_text(KENPO_LANG_JA, msgid), msgid);
	assert_int_equal(unsetenv("LANGUAGE"), 0);
	assert_japanese(KENPO_RULE_PW_NO_DIGIT, expected_ja[N_JA - 1].ja);
}

static void
test_english_passthrough(void **state)
{
	static const char other[] = "Not a message of the catalogue.";

	(void)state;
	for (size_t i = 0; i < N_JA; i++) {
		const char *msgid = kenpo_rule_message(expected_ja[i].rule);

		assert_ptr_equal(kenpo_i18n_text(KENPO_LANG_EN, msgid), msgid);
	}
	assert_ptr_equal(kenpo_i18n_text(KENPO_LANG_EN, other), other);
	assert_null(kenpo_i18n_text(KENPO_LANG_EN, NULL));
}

static void
test_japanese_policy_messages(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_JA; i++)
		assert_japanese(expected_ja[i].rule, expected_ja[i].ja);
}

static void
test_unknown_msgid(void **state)
{
	static const char unknown[] = "No such message in the kenpo catalogue.";
	static const char empty[] = "";

	(void)state;
	assert_ptr_equal(kenpo_i18n_text(KENPO_LANG_JA, unknown), unknown);
	/* Not the catalogue header, which dgettext("") would give. */
	assert_ptr_equal(kenpo_i18n_text(KENPO_LANG_JA, empty), empty);
	assert_null(kenpo_i18n_text(KENPO_LANG_JA, NULL));
	/* An unknown language value is treated as English. */
	assert_ptr_equal(kenpo_i18n_text((enum kenpo_lang)9, kenpo_rule_message(1)),
			 kenpo_rule_message(1));
}

/* The host's LC_* and LANG do not choose the language; LANGUAGE empty or
 * naming Japanese first changes nothing either. */
static void
test_host_environment_ignored(void **state)
{
	static const char *const vars[] = { "LC_ALL", "LC_MESSAGES", "LANG" };
	static const char *const languages[] = { "", "ja", "ja_JP:en", "fr:ja" };

	(void)state;
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		assert_int_equal(setenv(vars[i], "en_US.UTF-8", 1), 0);
	for (size_t i = 0; i < sizeof languages / sizeof languages[0]; i++) {
		assert_int_equal(setenv("LANGUAGE", languages[i], 1), 0);
		assert_japanese(KENPO_RULE_ID_TOO_SHORT, expected_ja[0].ja);
		assert_japanese(KENPO_RULE_PW_NO_UPPER, expected_ja[9].ja);
	}
	assert_int_equal(unsetenv("LANGUAGE"), 0);
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		assert_int_equal(unsetenv(vars[i]), 0);
}

static void
test_host_locale_untouched(void **state)
{
	const char *before;
	char *saved;

	(void)state;
	before = setlocale(LC_ALL, NULL);
	assert_non_null(before);
	saved = strdup(before);
	assert_non_null(saved);
	assert_japanese(KENPO_RULE_ID_BAD_START, expected_ja[3].ja);
	assert_string_equal(setlocale(LC_ALL, NULL), saved);
	assert_ptr_equal(uselocale((locale_t)0), LC_GLOBAL_LOCALE);
	free(saved);

	/* A host in another global locale keeps it and still gets Japanese. */
	assert_non_null(setlocale(LC_ALL, "C.UTF-8"));
	assert_japanese(KENPO_RULE_ID_ALL_DIGITS, expected_ja[4].ja);
	assert_string_equal(setlocale(LC_ALL, NULL), "C.UTF-8");
	assert_string_equal(setlocale(LC_MESSAGES, NULL), "C.UTF-8");
	assert_non_null(setlocale(LC_ALL, "C"));
}

static void
test_thread_locale_restored(void **state)
{
	locale_t mine = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	locale_t prev;

	(void)state;
	assert_non_null(mine);
	prev = uselocale(mine);
	assert_non_null(prev);
	assert_japanese(KENPO_RULE_PW_TOO_LONG, expected_ja[7].ja);
	assert_ptr_equal(uselocale((locale_t)0), mine);
	assert_non_null(uselocale(prev));
	freelocale(mine);
}

/* ---- threads ---------------------------------------------------------- */

#define ROUNDS 2000

struct worker {
	pthread_barrier_t *start;
	enum kenpo_lang lang;
	unsigned failures;
};

/* No cmocka assertion here: they may not run outside the main thread. */
static void *
worker_run(void *arg)
{
	struct worker *w = arg;

	(void)pthread_barrier_wait(w->start);
	for (unsigned n = 0; n < ROUNDS; n++) {
		size_t i = n % N_JA;
		const char *msgid = kenpo_rule_message(expected_ja[i].rule);
		const char *got = kenpo_i18n_text(w->lang, msgid);
		const char *want = w->lang == KENPO_LANG_JA ? expected_ja[i].ja : msgid;

		if (got == NULL || strcmp(got, want) != 0)
			w->failures++;
		if (uselocale((locale_t)0) != LC_GLOBAL_LOCALE)
			w->failures++;
	}
	return NULL;
}

static void
test_two_threads(void **state)
{
	pthread_barrier_t start;
	struct worker w[2] = {
		{ &start, KENPO_LANG_JA, 0 },
		{ &start, KENPO_LANG_EN, 0 },
	};
	pthread_t tid[2];

	(void)state;
	assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, worker_run, &w[i]), 0);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
	assert_int_equal(pthread_barrier_destroy(&start), 0);
	assert_int_equal(w[0].failures, 0);
	assert_int_equal(w[1].failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_language_env_limitation),
		cmocka_unit_test(test_lang_parse_accepts),
		cmocka_unit_test(test_lang_parse_refuses),
		cmocka_unit_test(test_lang_name),
		cmocka_unit_test(test_english_passthrough),
		cmocka_unit_test(test_japanese_policy_messages),
		cmocka_unit_test(test_unknown_msgid),
		cmocka_unit_test(test_host_environment_ignored),
		cmocka_unit_test(test_host_locale_untouched),
		cmocka_unit_test(test_thread_locale_restored),
		cmocka_unit_test(test_two_threads),
	};

	/* The caller's own $LANGUAGE must not decide what these tests see. */
	if (unsetenv("LANGUAGE") != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
