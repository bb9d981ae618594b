/*
 * test_localname.c - login IDs that would name an account of the host, and
 * member uid ranges that would overlap the host's own (localname.h).
 */
#include <autoconfig.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "localname.h"
#include "policy.h"

static char dir[] = "/tmp/kenpo-test-localname-XXXXXX";

static int
reserved(const char *id, const char *extra)
{
	return kenpo_localname_reserved(id, strlen(id), extra);
}

static void
test_shipped_list(void **state)
{
	static const char *const refused[] = {
		"root",       "ROOT",     "Root",   "daemon",          "www-data",
		"WWW-DATA",   "sudo",     "nobody", "postmaster",      "admin",
		"_apt",       "_kenpo",   "_",      "systemd-network", "SYSTEMD-x",
		"cockpit-ws", "openldap", "kenpod",
	};
	static const char *const allowed[] = {
		"rooted", "roo", "Toyo.Taro", "admin2", "systemd", "www-dat", "a_b", "07AA0A00",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (!reserved(refused[i], NULL))
			fail_msg("%s was not refused", refused[i]);
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (reserved(allowed[i], NULL))
			fail_msg("%s was refused", allowed[i]);
	/* Exactly len bytes are judged. */
	assert_true(kenpo_localname_reserved("rootx", 4, NULL));
	assert_false(kenpo_localname_reserved("root", 3, NULL));
}

static void
test_extra_list(void **state)
{
	const char *extra = " yamada-*,kenpo.office\tStaff ,, ";

	(void)state;
	assert_true(reserved("Yamada-Taro", extra));
	assert_true(reserved("yamada-", extra));
	assert_true(reserved("KENPO.OFFICE", extra));
	assert_true(reserved("staff", extra));
	assert_false(reserved("yamada", extra));
	assert_false(reserved("kenpo.office2", extra));
	assert_false(reserved("Toyo.Taro", ""));
	assert_int_equal(kenpo_localname_check("Yamada-x", 8, extra), KENPO_RULE_ID_RESERVED);
	assert_int_equal(kenpo_localname_check("Toyo.Taro", 9, extra), 0);
}

static void
test_list_syntax(void **state)
{
	char why[128];

	(void)state;
	assert_int_equal(kenpo_localname_list_ok("a, b-*  c.d_e", why, sizeof why), 0);
	assert_int_equal(kenpo_localname_list_ok("", why, sizeof why), 0);
	assert_int_equal(kenpo_localname_list_ok("ok, bad!", why, sizeof why), -1);
	assert_non_null(strstr(why, "\"bad!\""));
	assert_int_equal(kenpo_localname_list_ok("a*b", why, sizeof why), -1);
	assert_int_equal(kenpo_localname_list_ok("*", why, sizeof why), -1);
	assert_int_equal(kenpo_localname_list_ok("名前", why, sizeof why), -1);
}

/* root is on every host; the name check goes through NSS for real. */
static void
test_on_host(void **state)
{
	char absent[40];

	(void)state;
	assert_true(kenpo_localname_on_host("root", 4));
	assert_true(kenpo_localname_on_host("ROOT", 4));
	assert_true(kenpo_localname_on_host("rOoT", 4));
	snprintf(absent, sizeof absent, "no.such.user.%ld", (long)getpid());
	assert_false(kenpo_localname_on_host(absent, strlen(absent)));
	assert_false(kenpo_localname_on_host("", 0));
	assert_false(kenpo_localname_on_host("ro\0ot", 5));
}

static void
write_file(const char *name, const char *text, char *path, size_t pathsz)
{
	FILE *f;

	snprintf(path, pathsz, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void
test_host_ranges(void **state)
{
	char defs[128], subuid[128], none[128], why[256];

	(void)state;
	write_file("login.defs",
		   "# comment\nUID_MIN\t\t 1000\nUID_MAX\t\t60000\n"
		   "SYS_UID_MAX 999\nSUB_UID_MIN 100000\n",
		   defs, sizeof defs);
	write_file("subuid", "alice:100000:65536\nbroken line\nbob:300000:65536\n", subuid,
		   sizeof subuid);
	snprintf(none, sizeof none, "%s/absent", dir);
	assert_int_equal(kenpo_host_range_clear(2000000000, 2147352575, defs, subuid, why,
						sizeof why),
			 0);
	assert_int_equal(kenpo_host_range_clear(65536, 99999, defs, subuid, why, sizeof why), 0);
	assert_int_equal(kenpo_host_range_clear(65535, 99999, defs, subuid, why, sizeof why), -1);
	assert_non_null(strstr(why, "0..65535"));
	assert_int_equal(kenpo_host_range_clear(150000, 200000, defs, subuid, why, sizeof why),
			 -1);
	assert_non_null(strstr(why, "100000..165535"));
	assert_non_null(strstr(why, "line 1"));
	assert_int_equal(kenpo_host_range_clear(300100, 300200, defs, subuid, why, sizeof why),
			 -1);
	assert_non_null(strstr(why, "line 3"));
	/* login.defs with a wider range than Debian's. */
	write_file("wide.defs", "UID_MIN 1000\nUID_MAX 200000\n", defs, sizeof defs);
	assert_int_equal(kenpo_host_range_clear(150000, 160000, defs, none, why, sizeof why), -1);
	assert_non_null(strstr(why, "UID_MIN..UID_MAX"));
	/* Absent files add nothing. */
	assert_int_equal(kenpo_host_range_clear(150000, 160000, none, none, why, sizeof why), 0);
}

static int
setup(void **state)
{
	(void)state;
	/* Members must not count as the host's accounts (libnss_kenpo, if the
	 * host has it, answers "unavailable"). */
	setenv("_KENPO_NSS_LOOPS", "NO", 1);
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	static const char *const names[] = { "login.defs", "subuid", "wide.defs" };
	char path[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_list), cmocka_unit_test(test_extra_list),
		cmocka_unit_test(test_list_syntax),  cmocka_unit_test(test_on_host),
		cmocka_unit_test(test_host_ranges),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
