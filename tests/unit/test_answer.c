/*
 * test_answer.c - kenpod checks each answer against the protocol table
 * (src/kenpod/answer.c): a good one goes out as it is; a bad one aborts a
 * sanitizer build (KENPO_ABORT_ON_BAD_ANSWER) and becomes INTERNAL in any
 * other.
 */
#include "autoconfig.h"

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "answer.h"
#include "fakekenpod.h"
#include "prototab.h"

static void
test_good_answers_go_out(void **state)
{
	const struct kenpo_answer_rule *r;
	struct fake_frame f, copy;
	struct kenpo_buf b;
	size_t i;

	(void)state;
	for (i = 0; i < kenpo_nactions; i++) {
		for (r = kenpo_actions[i].answers; r->result >= 0; r++) {
			fake_answer_any(&f, (uint32_t)kenpo_actions[i].code, (uint32_t)r->result);
			copy = f;
			b = fake_reader(&f);
			assert_int_equal(answer_check(&b, kenpo_actions[i].code), 0);
			assert_int_equal(b.len, copy.n);
			assert_memory_equal(f.d, copy.d, copy.n);
		}
	}
}

/* Answer i of a handler that got it wrong: the version 2 POLICY of
 * PASSWORD_CHANGE (a field too many), an ACCOUNT record short of its uid,
 * a result TOKEN_CHECK never gives.  answer_check() must not let it out. */
static void
bad_answer(int i)
{
	struct fake_frame f;
	struct kenpo_buf b;
	int32_t res;
	enum kenpo_layout lay;

	if (i == 0) {
		fake_begin(&f, KENPO_ACTION_PASSWORD_CHANGE, KENPO_RES_POLICY);
		fake_put32(&f, 0u);
		fake_put32(&f, 1u << 8);
	} else if (i == 1) {
		fake_begin(&f, KENPO_ACTION_ACCOUNT, KENPO_RES_OK);
		fake_put32(&f, 0u);
		fake_putstr(&f, "taro");
	} else {
		fake_begin(&f, KENPO_ACTION_TOKEN_CHECK, KENPO_RES_NOTFOUND);
	}
	fake_end(&f);
	b = fake_reader(&f);
	assert_int_equal(answer_check(&b, (int32_t)fake_get32(f.d + 8)), -1);
	/* INTERNAL instead (when the build does not abort). */
	assert_int_equal(b.len, 16);
	assert_int_equal(fake_get32(b.data + 12), KENPO_RES_INTERNAL);
	b.pos = 0;
	assert_int_equal(kenpo_answer_open(&b, (int32_t)fake_get32(f.d + 8), &res, &lay), 0);
}

#ifdef KENPO_ABORT_ON_BAD_ANSWER
/* A sanitizer build aborts on each, so that no test can miss it. */
static void
test_bad_answers(void **state)
{
	int i, status;
	pid_t pid;

	(void)state;
	for (i = 0; i < 3; i++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			bad_answer(i);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	}
}
#else
/* Any other build logs it and answers INTERNAL. */
static void
test_bad_answers(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		bad_answer(i);
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_answers_go_out),
		cmocka_unit_test(test_bad_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
