/*
 * test_web_unit.c - the pure parts of kenpo-web: form decoding and its
 * bounds, HTML escaping, the reading of pam_kenpo's lines (held to the
 * module's own source), the session store (ids, CSRF tokens, rotation,
 * the cap) and the configuration file.
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "conf.h"
#include "form.h"
#include "gate.h"
#include "page.h"
#include "pamauth.h"
#include "session.h"

/* ---- forms ---- */

static void
test_form_decodes(void **state)
{
	struct form f;
	const char body[] = "login=Toyo.Taro&password=Kenpo%32024&nick=%E3%81%94+x&empty=&flag";

	(void)state;
	assert_int_equal(form_parse(body, strlen(body), &f), FORM_OK);
	assert_int_equal(f.n, 5);
	assert_string_equal(form_get(&f, "login"), "Toyo.Taro");
	assert_string_equal(form_get(&f, "password"), "Kenpo2024");
	assert_string_equal(form_get(&f, "nick"), "ご x");
	assert_string_equal(form_get(&f, "empty"), "");
	assert_string_equal(form_get(&f, "flag"), "");
	assert_null(form_get(&f, "missing"));
	assert_string_equal(form_str(&f, "missing"), "");
	form_free(&f);
	assert_int_equal(form_parse("a&b&c&d", 7, &f), FORM_OK);
	assert_int_equal(f.n, 4);
	form_free(&f);
}

static void
test_form_refuses(void **state)
{
	static const char *const bad[] = {
		"a=%0d%0aSet-Cookie", "a=%00",  "a=%",      "a=%4", "a=%zz",
		"a=%ff%fe",           "a=\x7f", "a=%C0%AF",
	};
	char big[4096], many[16384];
	struct form f;
	size_t i, n = 0;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(form_parse(bad[i], strlen(bad[i]), &f), FORM_EENCODING);
	memset(big, 'x', sizeof big);
	memcpy(big, "a=", 2);
	assert_int_equal(form_parse(big, 2 + FORM_VALUE_MAX + 1, &f), FORM_ETOOLONG);
	assert_int_equal(form_parse(big, 2 + FORM_VALUE_MAX, &f), FORM_OK);
	form_free(&f);
	for (i = 0; i <= FORM_FIELDS_MAX; i++)
		n += (size_t)snprintf(many + n, sizeof many - n, "f=%zu&", i);
	assert_int_equal(form_parse(many, n, &f), FORM_ETOOMANY);
	assert_int_equal(f.n, 0);
}

/* ---- HTML ---- */

static void
test_escaping(void **state)
{
	struct req r;

	(void)state;
	memset(&r, 0, sizeof r);
	hf(&r, "<p title=\"%s\">%s %d</p>", "\"'<x>&", "<script>", 7);
	assert_string_equal(r.body.data,
			    "<p title=\"&quot;&#39;&lt;x&gt;&amp;\">&lt;script&gt; 7</p>");
	buf_free(&r.body);
	hf(&r, "%x", 1); /* an unknown conversion is an error, never raw output */
	assert_true(r.body.err);
	buf_free(&r.body);
}

/* ---- pam_kenpo's lines ---- */

/* The module's English messages, formatted as it sends them. */
static void
test_reads_the_module(void **state)
{
	struct pa_result out;
	int flags = 0;

	(void)state;
	memset(&out, 0, sizeof out);
	pa_parse_message("A one-time key was sent to ****@****.jp. It is valid for 10 minutes.",
			 &out, &flags);
	assert_string_equal(out.masked, "****@****.jp");
	assert_int_equal(out.seconds, 600);
	assert_int_equal(flags, 1);
	pa_parse_message("The one-time key sent to ****@**.example.jp is valid for 45 seconds more.",
			 &out, &flags);
	assert_string_equal(out.masked, "****@**.example.jp");
	assert_int_equal(out.seconds, 45);
	pa_parse_message("A new one-time key was sent to a***@b.jp; the previous key is no longer "
			 "valid. The new key is valid for 1 minute.",
			 &out, &flags);
	assert_string_equal(out.masked, "a***@b.jp");
	assert_int_equal(out.seconds, 60);
	assert_int_equal(flags, 7);
	out.outcome = PA_OK;
	pa_parse_message("The one-time key is not correct. You can try 2 more times.", &out,
			 &flags);
	assert_int_equal(out.outcome, PA_KEY_WRONG);
	assert_int_equal(out.tries_left, 2);
	pa_parse_message("There were too many failed logins. Please wait 3 minutes and try again.",
			 &out, &flags);
	assert_int_equal(out.outcome, PA_DELAY);
	assert_int_equal(out.seconds, 180);
	pa_parse_message("A new key can be requested in 50 seconds. Please enter the key already "
			 "sent, or wait.",
			 &out, &flags);
	assert_int_equal(out.outcome, PA_COOLDOWN);
	assert_int_equal(out.seconds, 50);
	pa_parse_message("The login ID or password is not correct.", &out, &flags);
	assert_int_equal(out.outcome, PA_WRONG);
}

/* Every line kenpo-web reads is one the module has: its msgids, as they
 * stand in pam_kenpo.c. */
static void
test_module_still_says_so(void **state)
{
	static const char *const used[] = {
		"A one-time key was sent to %s. It is valid for %s.",
		"The one-time key sent to %s is valid for %s more.",
		"A new one-time key was sent to %s; the previous key is no",
		"A new key can be requested in %s. ",
		"The one-time key is not correct. You can try %d more time",
		"The one-time key is not correct. Please log in again.",
		"The one-time key is no longer valid because a wrong key was",
		"The one-time key has expired.",
		"The login ID or password is not correct.",
		"There were too many failed logins. ",
		"This account is locked",
		"This account has been suspended.",
		"The registration of this account is not complete.",
		"The login service is not available",
		"The mail with the one-time key could not be sent.",
		"Too many requests for a new key.",
		"%ld minute",
		"%ld second",
	};
	const char *src = getenv("KENPO_SRCDIR");
	char path[4096], *text;
	FILE *f;
	long n;
	size_t i;

	(void)state;
	assert_non_null(src);
	snprintf(path, sizeof path, "%s/pam_kenpo/pam_kenpo.c", src);
	assert_non_null(f = fopen(path, "r"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	assert_non_null(text = calloc(1, (size_t)n + 1));
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	for (i = 0; i < sizeof used / sizeof used[0]; i++)
		if (strstr(text, used[i]) == NULL)
			fail_msg("pam_kenpo.c no longer says \"%s\"", used[i]);
	free(text);
}

/* ---- sessions ---- */

static void
test_sessions(void **state)
{
	struct web_conf conf;
	char cookie[SESSION_COOKIE_LEN + 1], old[SESSION_COOKIE_LEN + 1];
	char token[SESSION_TOKEN_LEN + 1];
	struct session *s, *t, *u;
	size_t i;

	(void)state;
	memset(&conf, 0, sizeof conf);
	conf.sessions_max = 16;
	conf.session_idle = 60;
	conf.session_lifetime = 3600;
	assert_int_equal(sessions_init(&conf, NULL, NULL), 0);
	assert_non_null(s = session_create());
	session_cookie(s, cookie);
	session_csrf(s, token);
	assert_int_equal(strlen(cookie), SESSION_COOKIE_LEN);
	assert_true(session_csrf_ok(s, token));
	assert_false(session_csrf_ok(s, cookie));
	assert_false(session_csrf_ok(s, ""));
	s->state = SS_IN;
	session_release(s);
	assert_non_null(t = session_find(cookie));
	assert_ptr_equal(t, s);
	/* Rotation: the old id and token are worth nothing. */
	memcpy(old, cookie, sizeof old);
	assert_int_equal(session_rotate(t), 0);
	assert_false(session_csrf_ok(t, token));
	session_cookie(t, cookie);
	assert_string_not_equal(cookie, old);
	session_release(t);
	assert_null(session_find(old));
	assert_null(session_find("not a cookie"));
	/* The cap: anonymous sessions make room, the logged-in one stays. */
	for (i = 0; i < 40; i++) {
		assert_non_null(u = session_create());
		session_release(u);
	}
	assert_int_equal(sessions_count(), 16);
	assert_non_null(t = session_find(cookie));
	/* Logout: gone for good. */
	session_end(t);
	session_release(t);
	assert_null(session_find(cookie));
	sessions_shutdown();
}

/* ---- configuration ---- */

static int
write_conf(char *path, const char *text)
{
	int fd;

	strcpy(path, "/tmp/kenpo-web-conf-XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return -1;
	}
	fchmod(fd, 0644);
	return close(fd);
}

static void
test_conf(void **state)
{
	struct web_conf *c = NULL;
	char path[64], err[256];

	(void)state;
	assert_int_equal(write_conf(path,
				    "# c\n[web]\nlisten = [::1]:9000\nconnections_max = 30\nworkers = 4\n"
				    "session_idle = 10m\ncookie_secure = no\n"
				    "trusted_proxies = 10.0.0.1 ::1\n"),
			 0);
	assert_int_equal(web_conf_load(path, getuid(), &c, err, sizeof err), 0);
	assert_string_equal(c->listen_host, "::1");
	assert_int_equal(c->port, 9000);
	assert_int_equal(c->connections_max, 30);
	assert_int_equal(c->workers, 4);
	assert_int_equal(c->session_idle, 600);
	assert_false(c->cookie_secure);
	assert_true(web_conf_trusts(c, "10.0.0.1"));
	assert_false(web_conf_trusts(c, "127.0.0.1"));
	web_conf_free(c);
	unlink(path);
	assert_int_equal(write_conf(path, "[web]\nconnections_max = 0\n"), 0);
	assert_int_equal(web_conf_load(path, getuid(), &c, err, sizeof err), -1);
	assert_non_null(strstr(err, ":2: connections_max: bad value"));
	unlink(path);
	assert_int_equal(write_conf(path, "[web]\nworkers = 0\n"), 0);
	assert_int_equal(web_conf_load(path, getuid(), &c, err, sizeof err), -1);
	assert_non_null(strstr(err, ":2: workers: bad value"));
	unlink(path);
	assert_int_equal(write_conf(path, "[web]\nhelp_url = //evil.example\n"), 0);
	assert_int_equal(web_conf_load(path, getuid(), &c, err, sizeof err), -1);
	unlink(path);
	assert_int_equal(write_conf(path, "[web]\nsession_idle = 2m\nsession_idle = 3m\n"), 0);
	assert_int_equal(web_conf_load(path, getuid(), &c, err, sizeof err), -1);
	assert_non_null(strstr(err, "given twice"));
	unlink(path);
}

/* The gate lets `max` in; one more waits until a place comes free. */
struct waiter {
	struct gate *g;
	int rc;
};

static void *
wait_at(void *arg)
{
	struct waiter *w = arg;

	w->rc = gate_enter(w->g);
	return NULL;
}

static void
test_gate(void **state)
{
	struct gate g;
	struct waiter w = { &g, -2 };
	pthread_t t;

	(void)state;
	assert_int_equal(gate_init(&g, 2), 0);
	assert_int_equal(gate_enter(&g), 0);
	assert_int_equal(gate_enter(&g), 0);
	assert_int_equal(pthread_create(&t, NULL, wait_at, &w), 0);
	usleep(100 * 1000);
	assert_int_equal(g.inside, 2);
	gate_leave(&g);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(w.rc, 0);
	assert_int_equal(g.inside, 2);
	gate_leave(&g);
	gate_leave(&g);
	assert_int_equal(g.inside, 0);
	gate_destroy(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_decodes),
		cmocka_unit_test(test_form_refuses),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_reads_the_module),
		cmocka_unit_test(test_module_still_says_so),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_gate),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
