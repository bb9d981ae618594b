/*
 * test_client.c - kenpo's one client (src/client) against the scripted
 * kenpod: every answer the table allows is taken, every short, long or
 * unknown one refused, for every action, with the output left untouched
 * and the buffer wiped; and the PAM stubs' own checks.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "client.h"
#include "fakekenpod.h"

static int
group_setup(void **state)
{
	(void)state;
	return fake_setup("client");
}

static int
group_teardown(void **state)
{
	(void)state;
	fake_teardown();
	return 0;
}

static const struct kenpo_client client = { fake.sock, 2000 };

/* Request values of `action`'s layout: INT 1, STR "x", LIST of one item. */
static size_t
request_values(int32_t action, struct kenpo_value *v)
{
	const char *sig = kenpo_action_find(action)->request;
	size_t n = 0;

	for (; *sig != '\0'; sig++) {
		if (*sig == 'i')
			v[n++] = kenpo_vint(1);
		else if (*sig == 's')
			v[n++] = kenpo_vstr("x");
		else if (*sig == '(')
			v[n++] = kenpo_vlist(1);
	}
	return n;
}

/* Ask the fake, which answers with fake.reply[0].  kenpo_call's return. */
static int
call_fake(int32_t action, unsigned char *mem, size_t memsz, struct kenpo_reply *r)
{
	struct kenpo_value v[8];
	struct kenpo_buf b;
	int rc;

	kenpo_buf_init(&b, mem, memsz);
	fake_start(1);
	rc = kenpo_call(&client, action, v, request_values(action, v), &b, r);
	fake_stop(1);
	return rc;
}

static int
all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static void
test_every_answer_taken(void **state)
{
	const struct kenpo_answer_rule *rule;
	static unsigned char mem[KENPO_PROTO_MAX_FRAME + 4];
	struct kenpo_reply r;
	size_t i;

	(void)state;
	for (i = 0; i < kenpo_nactions; i++) {
		for (rule = kenpo_actions[i].answers; rule->result >= 0; rule++) {
			fake_answer_any(&fake.reply[0], (uint32_t)kenpo_actions[i].code,
					(uint32_t)rule->result);
			assert_int_equal(call_fake(kenpo_actions[i].code, mem, sizeof(mem), &r),
					 0);
			assert_int_equal(r.result, rule->result);
			assert_int_equal(r.layout, rule->layout);
		}
	}
}

/* Make reply[0] (a good answer of n bytes) malformed the way `how` says. */
static void
spoil(struct fake_frame *f, size_t n, int32_t action, int how)
{
	f->n = n;
	if (how == 0) { /* one byte short */
		f->n--;
	} else if (how == 1) { /* one INT32 long */
		fake_put32(f, 0);
	} else if (how == 2) { /* a result the action does not answer */
		f->n = 16;
		memcpy(f->d + 12, "\0\0\0\x63", 4);
	} else if (how == 3) { /* the answer to another action */
		memcpy(f->d + 8, "\0\x09\x77\x77", 4);
	} else { /* another version */
		memcpy(f->d + 4, "\0\0\0\x09", 4);
	}
	(void)action;
	fake_end(f);
}

static void
test_malformed_refused(void **state)
{
	static unsigned char mem[KENPO_PROTO_MAX_FRAME + 4];
	const struct kenpo_answer_rule *rule;
	struct kenpo_reply r, before;
	int32_t act;
	size_t i, n;
	int how;

	(void)state;
	memset(&before, 0x5a, sizeof(before));
	for (i = 0; i < kenpo_nactions; i++) {
		act = kenpo_actions[i].code;
		for (rule = kenpo_actions[i].answers; rule->result >= 0; rule++) {
			for (how = 0; how < 5; how++) {
				fake_answer_any(&fake.reply[0], (uint32_t)act,
						(uint32_t)rule->result);
				n = fake.reply[0].n;
				spoil(&fake.reply[0], n, act, how);
				r = before;
				memset(mem, 0x77, sizeof(mem));
				errno = 0;
				assert_int_equal(call_fake(act, mem, sizeof(mem), &r), -1);
				assert_int_equal(errno, EPROTO);
				assert_memory_equal(&r, &before, sizeof(r));
				assert_true(all_zero(mem, sizeof(mem)));
			}
		}
	}
}

static void
test_requests_refused_before_sending(void **state)
{
	unsigned char mem[512];
	struct kenpo_value v[3];
	struct kenpo_reply r;
	struct kenpo_buf b;
	char big[600];
	int lfd;

	(void)state;
	/* Nobody accepts: a request that went out would wait for its deadline. */
	lfd = fake_listen();
	v[0] = kenpo_vint(7);
	kenpo_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(kenpo_call(&client, KENPO_ACTION_ACCOUNT, v, 1, &b, &r), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(kenpo_call(&client, 0x00097777, NULL, 0, &b, &r), -1);
	assert_int_equal(errno, EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	v[0] = kenpo_vstr(big);
	v[1] = kenpo_vstr("");
	assert_int_equal(kenpo_call(&client, KENPO_ACTION_ACCOUNT, v, 2, &b, &r), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_true(all_zero(mem, sizeof(mem)));
	close(lfd);
	unlink(fake.sock);
}

static void
test_kenpod_absent_or_stalled(void **state)
{
	const struct kenpo_client quick = { fake.sock, 200 };
	unsigned char mem[512];
	struct kenpo_reply r;
	struct kenpo_buf b;
	int64_t t0, ms;
	int lfd;

	(void)state;
	kenpo_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(kenpo_call(&quick, KENPO_ACTION_PING, NULL, 0, &b, &r), -1);
	assert_true(errno == ENOENT || errno == ECONNREFUSED);
	lfd = fake_listen();
	t0 = fake_now_ms();
	assert_int_equal(kenpo_call(&quick, KENPO_ACTION_PING, NULL, 0, &b, &r), -1);
	ms = fake_now_ms() - t0;
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(ms >= 190 && ms < 2000);
	close(lfd);
	unlink(fake.sock);
}

/* The PAM stubs: what the table allows, and what the module takes. */
static void
test_auth_stub_checks(void **state)
{
	struct kenpo_answer a, before;
	int i;

	(void)state;
	fake_answer(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_KEY_SENT, "taro",
		    70001u, 1u, "****@****.jp", 600u, "txn-1");
	fake_start(1);
	assert_int_equal(kenpo_client_auth_password(&client, "taro", "Secret1Pass", 0, NULL, NULL,
						    &a),
			 0);
	fake_stop(1);
	assert_int_equal(a.result, KENPO_RES_KEY_SENT);
	assert_string_equal(a.login, "taro");
	assert_string_equal(a.masked, "****@****.jp");
	assert_string_equal(a.txn, "txn-1");
	assert_int_equal(a.seconds, 600);
	assert_true(a.has_lang && a.lang == KENPO_LANG_EN);

	memset(&before, 0x5a, sizeof(before));
	for (i = 0; i < 4; i++) {
		if (i == 0) /* an escape in the masked address */
			fake_answer(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD,
				    KENPO_RES_KEY_SENT, "taro", 1u, 1u, "\x1b[2J", 600u, "txn-1");
		else if (i == 1) /* no transaction handle */
			fake_answer(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD,
				    KENPO_RES_KEY_SENT, "taro", 1u, 1u, "m", 600u, "");
		else if (i == 2) /* a negative time */
			fake_answer(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_LOCKED,
				    1u, (uint32_t)-5);
		else /* a record of nobody */
			fake_answer(&fake.reply[0], KENPO_ACTION_AUTH_PASSWORD, KENPO_RES_OK, "",
				    1u, 1u, 0u, "", "", "");
		a = before;
		fake_start(1);
		assert_int_equal(kenpo_client_auth_password(&client, "taro", "Secret1Pass", 0,
							    NULL, NULL, &a),
				 -1);
		fake_stop(1);
		assert_int_equal(errno, EPROTO);
		assert_memory_equal(&a, &before, sizeof(a));
	}
	/* AUTH_ABORT answers OK only; anything else the table allows is an error. */
	fake_answer(&fake.reply[0], KENPO_ACTION_AUTH_ABORT, KENPO_RES_INTERNAL);
	fake_start(1);
	assert_int_equal(kenpo_client_auth_abort(&client, "taro", "txn-1"), -1);
	fake_stop(1);
	/* Too long to send: nothing goes out. */
	{
		char login[KENPO_CLIENT_NAME_MAX + 2];

		memset(login, 'a', sizeof(login) - 1);
		login[sizeof(login) - 1] = '\0';
		assert_int_equal(kenpo_client_account(&client, login, NULL, &a), -1);
		assert_int_equal(errno, EMSGSIZE);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_answer_taken),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_requests_refused_before_sending),
		cmocka_unit_test(test_kenpod_absent_or_stalled),
		cmocka_unit_test(test_auth_stub_checks),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
