/*
 * test_prototab.c - the protocol table of kenpo-proto.h, compiled
 * (prototab.c): its consistency, the checks of requests and answers
 * against it, the field reader and the request encoder.
 */
#include "autoconfig.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "fakekenpod.h"
#include "prototab.h"

/* A result the action does not answer. */
static int32_t
unlisted(int32_t action)
{
	size_t i;

	for (i = 0; i < kenpo_nresults; i++)
		if (kenpo_answer_layout(action, kenpo_results[i].code) < 0)
			return kenpo_results[i].code;
	fail_msg("action 0x%08x answers every result", action);
	return -1;
}

static void
test_table_consistent(void **state)
{
	const struct kenpo_answer_rule *r, *q;
	size_t i, j;

	(void)state;
	for (i = 0; i < kenpo_nresults; i++)
		for (j = i + 1; j < kenpo_nresults; j++)
			assert_int_not_equal(kenpo_results[i].code, kenpo_results[j].code);
	for (i = 0; i < kenpo_nactions; i++) {
		for (j = i + 1; j < kenpo_nactions; j++)
			assert_int_not_equal(kenpo_actions[i].code, kenpo_actions[j].code);
		assert_ptr_equal(kenpo_action_find(kenpo_actions[i].code), &kenpo_actions[i]);
		/* Each result once per action, and each one a result of the table. */
		for (r = kenpo_actions[i].answers; r->result >= 0; r++) {
			assert_non_null(kenpo_result_find(r->result));
			for (q = r + 1; q->result >= 0; q++)
				assert_int_not_equal(r->result, q->result);
		}
	}
	/* Every action may be answered UNAVAIL when its lane is full, without
	 * fields or with the default language (kenpod writes it itself). */
	for (i = 0; i < kenpo_nactions; i++) {
		j = (size_t)kenpo_answer_layout(kenpo_actions[i].code, KENPO_RES_UNAVAIL);
		assert_true(j == KENPO_LAYOUT_NONE || j == KENPO_LAYOUT_LANG);
		assert_true(kenpo_actions[i].lane < KENPO_NLANES);
	}
	assert_int_equal(kenpo_action_find(KENPO_ACTION_PING)->lane, KENPO_LANE_NSS);
	assert_int_equal(kenpo_action_find(KENPO_ACTION_PASSWD_BYUID)->lane, KENPO_LANE_NSS);
	assert_int_equal(kenpo_action_find(KENPO_ACTION_SESSION_OPEN)->lane, KENPO_LANE_AUTH);
	assert_int_equal(kenpo_action_find(KENPO_ACTION_PROFILE_SET)->lane,
			 KENPO_LANE_SELFSERVICE);
	assert_int_equal(kenpo_action_find(KENPO_ACTION_CACHE_FLUSH)->lane, KENPO_LANE_CONTROL);
	assert_string_equal(kenpo_result_name(KENPO_RES_AUTH_ERR), "AUTH_ERR");
	assert_string_equal(kenpo_result_find(KENPO_RES_ID_TAKEN)->text, "id-taken");
	assert_string_equal(kenpo_result_find(KENPO_RES_COOLDOWN)->words, "resend too soon");
	assert_string_equal(kenpo_result_name(99), "?");
	assert_null(kenpo_action_find(0x00097777));
	assert_int_equal(kenpo_answer_layout(0x00097777, KENPO_RES_OK), -1);
	assert_int_equal(kenpo_answer_layout(KENPO_ACTION_PING, KENPO_RES_DENIED),
			 KENPO_LAYOUT_NONE);
	assert_string_equal(kenpo_layout_signatures[KENPO_LAYOUT_PASSWD_PAGE], "(ssiisss)i");
	assert_string_equal(kenpo_action_find(KENPO_ACTION_PROFILE_SET)->request, "ss(ss)");
}

/* Every answer the table allows passes, and each malformed one of it fails. */
static void
test_answers_checked(void **state)
{
	const struct kenpo_answer_rule *r;
	struct fake_frame f;
	struct kenpo_buf b;
	enum kenpo_layout lay;
	int32_t act, res;
	size_t i, n;

	(void)state;
	for (i = 0; i < kenpo_nactions; i++) {
		act = kenpo_actions[i].code;
		for (r = kenpo_actions[i].answers; r->result >= 0; r++) {
			fake_answer_any(&f, (uint32_t)act, (uint32_t)r->result);
			b = fake_reader(&f);
			assert_int_equal(kenpo_answer_open(&b, act, &res, &lay), 0);
			assert_int_equal(res, r->result);
			assert_int_equal(lay, r->layout);
			assert_int_equal(b.pos, 16);
			/* Short by one byte. */
			n = f.n;
			f.n--;
			fake_end(&f);
			b = fake_reader(&f);
			assert_int_equal(kenpo_answer_open(&b, act, &res, &lay), -1);
			/* Long by one INT32. */
			f.n = n;
			fake_put32(&f, 0);
			fake_end(&f);
			b = fake_reader(&f);
			assert_int_equal(kenpo_answer_open(&b, act, &res, &lay), -1);
			/* The answer to another action. */
			f.n = n;
			fake_end(&f);
			b = fake_reader(&f);
			assert_int_equal(kenpo_answer_open(&b, act ^ 0x40, &res, &lay), -1);
			assert_true(b.err);
		}
		/* A result this action does not answer, and one nobody does. */
		fake_begin(&f, (uint32_t)act, (uint32_t)unlisted(act));
		fake_end(&f);
		b = fake_reader(&f);
		assert_int_equal(kenpo_answer_open(&b, act, &res, &lay), -1);
		fake_begin(&f, (uint32_t)act, 99);
		fake_end(&f);
		b = fake_reader(&f);
		assert_int_equal(kenpo_answer_open(&b, act, &res, &lay), -1);
	}
}

static void
test_fields_read(void **state)
{
	struct kenpo_fields f, item;
	struct fake_frame fr;
	struct kenpo_buf b;
	enum kenpo_layout lay;
	int32_t res;

	(void)state;
	fake_answer(&fr, KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, "taro", 70001u, 1u,
		    "****@****.jp", 600u, "txn-1");
	b = fake_reader(&fr);
	assert_int_equal(kenpo_answer_open(&b, KENPO_ACTION_AUTH_PASSWORD, &res, &lay), 0);
	kenpo_fields_read(&b, lay, &f);
	assert_int_equal(kenpo_frame_close(&b), 0);
	assert_int_equal(f.present, KENPO_HAS(login) | KENPO_HAS(uid) | KENPO_HAS(lang) |
					    KENPO_HAS(masked) | KENPO_HAS(seconds) |
					    KENPO_HAS(txn));
	assert_memory_equal(f.login.p, "taro", 4);
	assert_int_equal(f.login.len, 4);
	assert_int_equal(f.uid, 70001);
	assert_int_equal(f.seconds, 600);
	assert_memory_equal(f.txn.p, "txn-1", 5);

	/* A list, walked item by item. */
	fake_answer(&fr, KENPO_ACTION_PROFILE_GET, KENPO_RES_OK, 2u, "nickname", "はな", "mail1",
		    "", "t-2");
	b = fake_reader(&fr);
	assert_int_equal(kenpo_answer_open(&b, KENPO_ACTION_PROFILE_GET, &res, &lay), 0);
	kenpo_fields_read(&b, lay, &f);
	assert_int_equal(kenpo_frame_close(&b), 0);
	assert_int_equal(f.pairs.count, 2);
	assert_int_equal(f.ticket.len, 3);
	assert_int_equal(kenpo_list_next(&b, &f.pairs, &item), 1);
	assert_memory_equal(item.field.p, "nickname", 8);
	assert_int_equal(item.value.len, strlen("はな"));
	assert_int_equal(kenpo_list_next(&b, &f.pairs, &item), 1);
	assert_int_equal(item.value.len, 0);
	assert_int_equal(kenpo_list_next(&b, &f.pairs, &item), 0);
}

/* A request of every action, written from values and checked. */
static void
test_requests(void **state)
{
	struct kenpo_value v[8];
	unsigned char mem[4096];
	struct kenpo_buf b;
	const char *sig;
	size_t i, k, n;
	int32_t act, got;

	(void)state;
	for (i = 0; i < kenpo_nactions; i++) {
		act = kenpo_actions[i].code;
		sig = kenpo_actions[i].request;
		for (n = 0, k = 0; sig[k] != '\0'; k++) {
			if (sig[k] == 'i')
				v[n++] = kenpo_vint(1);
			else if (sig[k] == 's')
				v[n++] = kenpo_vstr("x");
			else if (sig[k] == '(')
				v[n++] = kenpo_vlist(1);
		}
		kenpo_buf_init(&b, mem, sizeof(mem));
		kenpo_frame_begin(&b, act);
		assert_int_equal(kenpo_request_put(&b, act, v, n), 0);
		assert_int_equal(kenpo_frame_end(&b), 0);
		b.pos = 0;
		assert_int_equal(kenpo_request_check(&b, &got), 0);
		assert_int_equal(got, act);
		/* One value more, or one too few. */
		v[n] = kenpo_vint(0);
		kenpo_frame_begin(&b, act);
		assert_int_equal(kenpo_request_put(&b, act, v, n + 1), -1);
		if (n > 0) {
			kenpo_frame_begin(&b, act);
			assert_int_equal(kenpo_request_put(&b, act, v, n - 1), -1);
		}
	}
	/* A value of another type; a list of more items than values. */
	v[0] = kenpo_vint(1);
	kenpo_frame_begin(&b, KENPO_ACTION_ACCOUNT);
	assert_int_equal(kenpo_request_put(&b, KENPO_ACTION_ACCOUNT, v, 1), -1);
	v[0] = kenpo_vstr("taro");
	v[1] = kenpo_vstr("");
	v[2] = kenpo_vlist(2);
	v[3] = kenpo_vstr("nickname");
	v[4] = kenpo_vstr("x");
	kenpo_frame_begin(&b, KENPO_ACTION_PROFILE_SET);
	assert_int_equal(kenpo_request_put(&b, KENPO_ACTION_PROFILE_SET, v, 5), -1);
	/* An unknown action's request is refused by the check. */
	kenpo_frame_begin(&b, 0x00097777);
	assert_int_equal(kenpo_frame_end(&b), 0);
	b.pos = 0;
	assert_int_equal(kenpo_request_check(&b, &got), -1);
	assert_int_equal(got, 0x00097777);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_consistent),
		cmocka_unit_test(test_answers_checked),
		cmocka_unit_test(test_fields_read),
		cmocka_unit_test(test_requests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
