/*
 * test_dlopen_nss.c - load the built libnss_kenpo.so.2 as glibc would, check
 * what it exports and needs, and drive it against absent, stalled and
 * scripted kenpods.
 *
 * The exports and the needed libraries are read from the module's own ELF
 * file (section headers of .dynsym and .dynamic), which needs no binutils
 * at test time and sees exactly what the dynamic linker sees.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <nss.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "elfcheck.h"
#include "fakekenpod.h"
#include "kenpo-proto.h"

static const char *const nss_functions[] = {
	"_nss_kenpo_getpwnam_r", "_nss_kenpo_getpwuid_r", "_nss_kenpo_setpwent",
	"_nss_kenpo_getpwent_r", "_nss_kenpo_endpwent",
};
#define N_FUNCTIONS (sizeof(nss_functions) / sizeof(nss_functions[0]))

static struct {
	char path[4096];
	void *handle;
	nss_getpwnam_r *getpwnam_r;
	nss_getpwuid_r *getpwuid_r;
	nss_setpwent *setpwent;
	nss_getpwent_r *getpwent_r;
	nss_endpwent *endpwent;
} mod;

/* A PASSWD record by hand (for the malformed answers). */
static void
record(struct fake_frame *f, const char *name, uint32_t uid, const char *gecos)
{
	char home[64];

	snprintf(home, sizeof(home), "/home/%s", name);
	fake_putstr(f, name);
	fake_putstr(f, "x");
	fake_put32(f, uid);
	fake_put32(f, 100);
	fake_putstr(f, gecos);
	fake_putstr(f, home);
	fake_putstr(f, "/bin/bash");
}

/* The answer OK to `action` with one member's record. */
static void
ans_record(struct fake_frame *f, uint32_t action, const char *name, uint32_t uid,
	   const char *gecos)
{
	char home[64];

	snprintf(home, sizeof(home), "/home/%s", name);
	fake_answer(f, action, KENPO_RES_OK, name, "x", uid, 100u, gecos, home, "/bin/bash");
}

/* Script one reply and a server for a single lookup. */
static void
fake_one(const struct fake_frame *reply)
{
	fake.reply[0] = *reply;
	fake_start(1);
}

/* True when nobody connected to lfd. */
static int
no_connection(int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	return poll(&p, 1, 0) == 0;
}

/* ---- setup ---- */

static int
group_setup(void **state)
{
	(void)state;
	if (elfcheck_module_path("libnss_kenpo.so.2", mod.path, sizeof(mod.path)) != 0)
		return -1;
	return fake_setup("nss");
}

static int
group_teardown(void **state)
{
	(void)state;
	if (mod.handle != NULL)
		dlclose(mod.handle);
	fake_teardown();
	return 0;
}

static int
test_setup(void **state)
{
	(void)state;
	if (mod.getpwnam_r == NULL)
		return -1; /* the module did not load */
	setenv("KENPO_SOCKET", fake.sock, 1);
	setenv("KENPO_NSS_TIMEOUT_MS", "1000", 1);
	unsetenv("_KENPO_NSS_LOOPS");
	return 0;
}

/* ---- loading and the ABI ---- */

/* Runs first: the later tests call through these pointers. */
static void
test_dlopen_dlsym(void **state)
{
	(void)state;
	mod.handle = dlopen(mod.path, RTLD_NOW | RTLD_LOCAL);
	if (mod.handle == NULL)
		fail_msg("dlopen %s: %s", mod.path, dlerror());
	mod.getpwnam_r = (nss_getpwnam_r *)dlsym(mod.handle, "_nss_kenpo_getpwnam_r");
	mod.getpwuid_r = (nss_getpwuid_r *)dlsym(mod.handle, "_nss_kenpo_getpwuid_r");
	mod.setpwent = (nss_setpwent *)dlsym(mod.handle, "_nss_kenpo_setpwent");
	mod.getpwent_r = (nss_getpwent_r *)dlsym(mod.handle, "_nss_kenpo_getpwent_r");
	mod.endpwent = (nss_endpwent *)dlsym(mod.handle, "_nss_kenpo_endpwent");
	assert_non_null(mod.getpwnam_r);
	assert_non_null(mod.getpwuid_r);
	assert_non_null(mod.setpwent);
	assert_non_null(mod.getpwent_r);
	assert_non_null(mod.endpwent);
	/* The codec stays inside. */
	assert_null(dlsym(mod.handle, "kenpo_put_int32"));
	assert_null(dlsym(mod.handle, "kenpo_connect"));
}

static void
test_exports_only_nss(void **state)
{
	(void)state;
	elfcheck_exports_only(mod.path, "_nss_kenpo_", nss_functions, N_FUNCTIONS);
}

struct loaded {
	int forbidden;
	int module;
	int libc;
};

static int
each_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct loaded *l = arg;

	(void)size;
	if (elfcheck_is_forbidden(info->dlpi_name)) {
		fprintf(stderr, "# loaded: %s\n", info->dlpi_name);
		l->forbidden++;
	}
	if (strstr(info->dlpi_name, "libnss_kenpo.so.2") != NULL)
		l->module++;
	return 0;
}

static void
needed(const char *name, void *arg)
{
	struct loaded *l = arg;

	if (elfcheck_is_forbidden(name))
		fail_msg("the module needs %s", name);
	if (strncmp(name, "libc.so", 7) == 0)
		l->libc = 1;
}

static void
test_needs_no_heavy_library(void **state)
{
	struct loaded l = { 0, 0, 0 };

	(void)state;
	/* What the module asks for directly. */
	elfcheck_each_needed(mod.path, needed, &l);
	assert_true(l.libc);
	/* And everything loaded now, indirect dependencies included (this test
	 * program itself links none of them). */
	assert_non_null(mod.handle);
	dl_iterate_phdr(each_object, &l);
	assert_int_equal(l.module, 1);
	assert_int_equal(l.forbidden, 0);
}

/* ---- kenpod absent, stalled, or disabled ---- */

static void
test_absent_kenpod(void **state)
{
	struct passwd pw;
	char buf[1024];
	int err = 0;
	int64_t t0;

	(void)state;
	setenv("KENPO_SOCKET", "/nonexistent/kenpo/kenpod.sock", 1);
	t0 = fake_now_ms();
	assert_int_equal(mod.getpwnam_r("taro", &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	assert_int_equal(err, ENOENT);
	err = 0;
	assert_int_equal(mod.getpwuid_r(1001, &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	assert_int_equal(err, ENOENT);
	assert_int_equal(mod.setpwent(0), NSS_STATUS_SUCCESS);
	err = 0;
	assert_int_equal(mod.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	assert_int_equal(err, ENOENT);
	assert_int_equal(mod.endpwent(), NSS_STATUS_SUCCESS);
	assert_true(fake_now_ms() - t0 < 100);
}

static void
test_stalled_kenpod(void **state)
{
	struct passwd pw;
	char buf[1024];
	int err = 0, lfd;
	int64_t t0, dt;

	(void)state;
	/* Listening, never accepting: connect succeeds, no answer ever comes. */
	lfd = fake_listen();
	setenv("KENPO_NSS_TIMEOUT_MS", "200", 1);
	t0 = fake_now_ms();
	assert_int_equal(mod.getpwnam_r("taro", &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	dt = fake_now_ms() - t0;
	assert_int_equal(err, ENOENT);
	assert_true(dt >= 190);
	assert_true(dt < 1000);

	/* The deadline is clamped to 10 ms at the least; garbage means 500. */
	setenv("KENPO_NSS_TIMEOUT_MS", "1", 1);
	t0 = fake_now_ms();
	assert_int_equal(mod.getpwuid_r(1001, &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	dt = fake_now_ms() - t0;
	assert_true(dt >= 9 && dt < 190);
	setenv("KENPO_NSS_TIMEOUT_MS", "20ms", 1);
	t0 = fake_now_ms();
	assert_int_equal(mod.getpwuid_r(1001, &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	dt = fake_now_ms() - t0;
	assert_true(dt >= 490 && dt < 1000);
	close(lfd);
	unlink(fake.sock);
}

static void
test_loops_disabled(void **state)
{
	struct passwd pw;
	char buf[1024];
	int err = 0, lfd;

	(void)state;
	lfd = fake_listen();
	setenv("_KENPO_NSS_LOOPS", "NO", 1);
	assert_int_equal(mod.getpwnam_r("taro", &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	assert_int_equal(mod.getpwuid_r(1001, &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	assert_int_equal(mod.setpwent(0), NSS_STATUS_UNAVAIL);
	assert_int_equal(mod.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	assert_true(no_connection(lfd));
	unsetenv("_KENPO_NSS_LOOPS");
	close(lfd);
	unlink(fake.sock);
}

/* ---- answers from a scripted kenpod ---- */

static void
test_byname_found(void **state)
{
	struct fake_frame f;
	struct passwd pw;
	char buf[1024];
	int err = 0;
	struct fake_rd r;

	(void)state;
	ans_record(&f, KENPO_ACTION_PASSWD_BYNAME, "Taro.Yamada", 70001,
		   "\xe3\x81\x94\xe6\x9c\xac\xe4\xba\xba");
	fake_one(&f);
	assert_int_equal(mod.getpwnam_r("taro.yamada", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_SUCCESS);
	fake_stop(1);
	assert_string_equal(pw.pw_name, "Taro.Yamada");
	assert_string_equal(pw.pw_passwd, "x");
	assert_int_equal(pw.pw_uid, 70001);
	assert_int_equal(pw.pw_gid, 100);
	assert_string_equal(pw.pw_gecos, "\xe3\x81\x94\xe6\x9c\xac\xe4\xba\xba");
	assert_string_equal(pw.pw_dir, "/home/Taro.Yamada");
	assert_string_equal(pw.pw_shell, "/bin/bash");
	assert_true(pw.pw_name >= buf && pw.pw_shell < buf + sizeof(buf));
	/* The request as sent: length, version, action, the name. */
	assert_int_equal(fake.req[0].n, 4 + 8 + 4 + 11);
	r = fake_request(&fake.req[0], KENPO_ACTION_PASSWD_BYNAME);
	fake_rdstr_is(&r, "taro.yamada");
	fake_rd_end(&r);
}

static void
test_byuid_found(void **state)
{
	struct fake_frame f;
	struct passwd pw;
	char buf[1024];
	int err = 0;
	struct fake_rd r;

	(void)state;
	ans_record(&f, KENPO_ACTION_PASSWD_BYUID, "hanako", 4000000000u, "");
	fake_one(&f);
	assert_int_equal(mod.getpwuid_r(4000000000u, &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_SUCCESS);
	fake_stop(1);
	assert_string_equal(pw.pw_name, "hanako");
	assert_int_equal(pw.pw_uid, 4000000000u);
	assert_string_equal(pw.pw_gecos, "");
	assert_int_equal(fake.req[0].n, 16);
	r = fake_request(&fake.req[0], KENPO_ACTION_PASSWD_BYUID);
	assert_int_equal(fake_rd32(&r), 4000000000u);
	fake_rd_end(&r);

	/* An answer about another uid is refused. */
	fake_one(&f);
	assert_int_equal(mod.getpwuid_r(1234, &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	fake_stop(1);
	assert_int_equal(err, ENOENT);
}

static void
test_buffer_too_small(void **state)
{
	struct fake_frame f;
	struct passwd pw, before;
	char buf[40];
	int err = 0;

	(void)state;
	/* "hanako" "x" "" "/home/hanako" "/bin/bash": 7+2+1+13+10 = 33 bytes. */
	ans_record(&f, KENPO_ACTION_PASSWD_BYNAME, "hanako", 1001, "");
	memset(&pw, 0x5a, sizeof(pw));
	before = pw;
	fake_one(&f);
	assert_int_equal(mod.getpwnam_r("hanako", &pw, buf, 32, &err), NSS_STATUS_TRYAGAIN);
	fake_stop(1);
	assert_int_equal(err, ERANGE);
	assert_memory_equal(&pw, &before, sizeof(pw));
	fake_one(&f);
	assert_int_equal(mod.getpwnam_r("hanako", &pw, buf, 33, &err), NSS_STATUS_SUCCESS);
	fake_stop(1);
	assert_string_equal(pw.pw_shell, "/bin/bash");
}

static void
test_notfound(void **state)
{
	struct fake_frame f;
	struct passwd pw;
	char buf[256];
	int err = 0;

	(void)state;
	fake_answer(&f, KENPO_ACTION_PASSWD_BYNAME, KENPO_RES_NOTFOUND);
	fake_one(&f);
	assert_int_equal(mod.getpwnam_r("nobody.here", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);
	fake_stop(1);
	assert_int_equal(err, ENOENT);
}

/* Each of these answers must give UNAVAIL, never a user: short, long, of
 * a result the table does not give, or of another action or version. */
static void
test_malformed_answers(void **state)
{
	static struct fake_frame f;
	static char big[3000];
	struct passwd pw;
	char buf[1024];
	int err, i;

	(void)state;
	memset(big, 'g', sizeof(big) - 1);
	for (i = 0; i < 12; i++) {
		fake_begin(&f, i == 0 ? KENPO_ACTION_PASSWD_BYUID : KENPO_ACTION_PASSWD_BYNAME,
			   i == 1  ? KENPO_RES_UNAVAIL :
			   i == 9  ? KENPO_RES_KEY_SENT :
			   i == 10 ? 99 :
				     KENPO_RES_OK);
		if (i == 2)
			f.d[7] = 9; /* another version */
		if (i == 8) {       /* 9 KB: over the lookup buffer */
			fake_putstr(&f, "hanako");
			fake_putstr(&f, "x");
			fake_put32(&f, 1);
			fake_put32(&f, 1);
			fake_putstr(&f, big);
			fake_putstr(&f, big);
			fake_putstr(&f, big);
		} else if (i == 3) { /* truncated record */
			fake_putstr(&f, "hanako");
			fake_putstr(&f, "x");
			fake_put32(&f, 1001);
		} else if (i == 4) { /* a NUL inside the name */
			fake_putbytes(&f, "han\0ko", 6);
			fake_putstr(&f, "x");
			fake_put32(&f, 1001);
			fake_put32(&f, 100);
			fake_putstr(&f, "");
			fake_putstr(&f, "/");
			fake_putstr(&f, "/bin/sh");
		} else if (i == 5) { /* an empty name */
			record(&f, "", 1001, "");
		} else if (i == 11) { /* NOTFOUND with fields */
			f.n -= 4;
			fake_put32(&f, KENPO_RES_NOTFOUND);
			fake_put32(&f, 0);
		} else {
			record(&f, "hanako", 1001, "");
		}
		if (i == 6)
			fake_put32(&f, 0); /* trailing garbage */
		fake_end(&f);
		if (i == 7)
			f.n -= 2; /* closed in the middle */
		fake_one(&f);
		err = 0;
		assert_int_equal(mod.getpwnam_r("hanako", &pw, buf, sizeof(buf), &err),
				 NSS_STATUS_UNAVAIL);
		fake_stop(1);
		assert_int_equal(err, ENOENT);
	}
}

static void
test_names_without_kenpod(void **state)
{
	struct fake_frame f;
	struct passwd pw;
	char buf[256], name[300];
	int err = 0, lfd;
	struct fake_rd r;

	(void)state;
	lfd = fake_listen();
	memset(name, 'a', sizeof(name));
	name[256] = '\0';
	assert_int_equal(mod.getpwnam_r(name, &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	assert_int_equal(err, ENOENT);
	assert_int_equal(mod.getpwnam_r("", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	assert_int_equal(mod.getpwnam_r(NULL, &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	assert_true(no_connection(lfd));
	close(lfd);

	/* 255 characters are kenpod's to judge. */
	name[255] = '\0';
	fake_answer(&f, KENPO_ACTION_PASSWD_BYNAME, KENPO_RES_NOTFOUND);
	fake_one(&f);
	assert_int_equal(mod.getpwnam_r(name, &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	fake_stop(1);
	r = fake_request(&fake.req[0], KENPO_ACTION_PASSWD_BYNAME);
	assert_int_equal(fake_rd32(&r), 255);
}

static void
test_enumeration(void **state)
{
	static const char *const want[] = { "aoi", "ren", "sora" };
	struct passwd pw;
	char buf[256];
	int err = 0, i;
	struct fake_rd r;

	(void)state;
	/* page 1: two records, next 2; page 2: empty, next 7; page 3: one
	 * record, the end. */
	fake_answer(&fake.reply[0], KENPO_ACTION_PASSWD_ALL, KENPO_RES_OK, 2u, "aoi", "x", 5001u,
		    100u, "", "/home/aoi", "/bin/bash", "ren", "x", 5002u, 100u, "", "/home/ren",
		    "/bin/bash", 2u);
	fake_answer(&fake.reply[1], KENPO_ACTION_PASSWD_ALL, KENPO_RES_OK, 0u, 7u);
	fake_answer(&fake.reply[2], KENPO_ACTION_PASSWD_ALL, KENPO_RES_OK, 1u, "sora", "x", 5003u,
		    100u, "", "/home/sora", "/bin/bash", (uint32_t)-1);
	fake_start(3);
	assert_int_equal(mod.setpwent(0), NSS_STATUS_SUCCESS);
	for (i = 0; i < 3; i++) {
		if (i == 1) {
			/* Too small: the same record comes again with more room. */
			assert_int_equal(mod.getpwent_r(&pw, buf, 8, &err), NSS_STATUS_TRYAGAIN);
			assert_int_equal(err, ERANGE);
		}
		assert_int_equal(mod.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
		assert_string_equal(pw.pw_name, want[i]);
		assert_int_equal(pw.pw_uid, 5001 + i);
	}
	assert_int_equal(mod.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	assert_int_equal(err, ENOENT);
	assert_int_equal(mod.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	assert_int_equal(mod.endpwent(), NSS_STATUS_SUCCESS);
	fake_stop(3);
	/* The offsets asked for: 0, then those kenpod named. */
	for (i = 0; i < 3; i++) {
		r = fake_request(&fake.req[i], KENPO_ACTION_PASSWD_ALL);
		assert_int_equal(fake_rd32(&r), i == 0 ? 0 : i == 1 ? 2 : 7);
		fake_rd_end(&r);
	}
}

static void
test_enumeration_refused(void **state)
{
	struct fake_frame f;
	struct passwd pw;
	char buf[256];
	int err = 0, i;

	(void)state;
	fake_answer(&f, KENPO_ACTION_PASSWD_ALL, KENPO_RES_DENIED);
	fake_one(&f);
	assert_int_equal(mod.setpwent(0), NSS_STATUS_SUCCESS);
	assert_int_equal(mod.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	assert_int_equal(err, ENOENT);
	/* Ended: no second question until setpwent. */
	assert_int_equal(mod.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	fake_stop(1);

	/* An offset that goes backwards would loop forever; a page with an
	 * empty name, a count beyond its records, or a record short: refused. */
	for (i = 0; i < 4; i++) {
		if (i == 0)
			fake_answer(&f, KENPO_ACTION_PASSWD_ALL, KENPO_RES_OK, 0u, 0u);
		else if (i == 1)
			fake_answer(&f, KENPO_ACTION_PASSWD_ALL, KENPO_RES_OK, 1u, "", "x", 5003u,
				    100u, "", "/", "/bin/sh", (uint32_t)-1);
		else {
			fake_begin(&f, KENPO_ACTION_PASSWD_ALL, KENPO_RES_OK);
			fake_put32(&f, 2);
			record(&f, "aoi", 5001, "");
			if (i == 3)
				fake_put32(&f, 1);
			fake_put32(&f, (uint32_t)-1);
			fake_end(&f);
		}
		fake_one(&f);
		assert_int_equal(mod.setpwent(0), NSS_STATUS_SUCCESS);
		assert_int_equal(mod.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
		assert_int_equal(mod.getpwent_r(&pw, buf, sizeof(buf), &err),
				 NSS_STATUS_NOTFOUND);
		assert_int_equal(mod.endpwent(), NSS_STATUS_SUCCESS);
		fake_stop(1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dlopen_dlsym),
		cmocka_unit_test(test_exports_only_nss),
		cmocka_unit_test(test_needs_no_heavy_library),
		cmocka_unit_test_setup(test_absent_kenpod, test_setup),
		cmocka_unit_test_setup(test_stalled_kenpod, test_setup),
		cmocka_unit_test_setup(test_loops_disabled, test_setup),
		cmocka_unit_test_setup(test_byname_found, test_setup),
		cmocka_unit_test_setup(test_byuid_found, test_setup),
		cmocka_unit_test_setup(test_buffer_too_small, test_setup),
		cmocka_unit_test_setup(test_notfound, test_setup),
		cmocka_unit_test_setup(test_malformed_answers, test_setup),
		cmocka_unit_test_setup(test_names_without_kenpod, test_setup),
		cmocka_unit_test_setup(test_enumeration, test_setup),
		cmocka_unit_test_setup(test_enumeration_refused, test_setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
