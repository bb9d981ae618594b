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

/* Protocol constants (kenpo-proto.h), repeated so that this test checks
 * the module against the written protocol rather than against itself. */
#define PROTO_VERSION 2
#define ACT_BYNAME 0x00010001
#define ACT_BYUID 0x00010002
#define ACT_ALL 0x00010008
#define RES_OK 0
#define RES_NOTFOUND 1
#define RES_UNAVAIL 2
#define RES_DENIED 3

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
	char dir[64];
	char sock[128];
} mod;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- frames written by hand ---- */

struct frame {
	unsigned char d[12 * 1024];
	size_t n;
};

static void
put32(struct frame *f, uint32_t v)
{
	uint32_t n = htonl(v);

	memcpy(f->d + f->n, &n, 4);
	f->n += 4;
}

static void
putbytes(struct frame *f, const char *s, size_t len)
{
	put32(f, (uint32_t)len);
	memcpy(f->d + f->n, s, len);
	f->n += len;
}

static void
putstr(struct frame *f, const char *s)
{
	putbytes(f, s, strlen(s));
}

static void
begin(struct frame *f, uint32_t action, uint32_t result)
{
	f->n = 0;
	put32(f, 0);
	put32(f, PROTO_VERSION);
	put32(f, action);
	put32(f, result);
}

static void
end(struct frame *f)
{
	uint32_t n = htonl((uint32_t)(f->n - 4));

	memcpy(f->d, &n, 4);
}

static void
record(struct frame *f, const char *name, uint32_t uid, const char *gecos)
{
	char home[64];

	snprintf(home, sizeof(home), "/home/%s", name);
	putstr(f, name);
	putstr(f, "x");
	put32(f, uid);
	put32(f, 100);
	putstr(f, gecos);
	putstr(f, home);
	putstr(f, "/bin/bash");
}

static uint32_t
get32(const unsigned char *p)
{
	uint32_t n;

	memcpy(&n, p, 4);
	return ntohl(n);
}

/* ---- a scripted kenpod: one reply per connection ---- */

#define MAX_CONN 4

static struct {
	int lfd;
	int nreplies;
	struct frame reply[MAX_CONN];
	unsigned char req[MAX_CONN][512];
	size_t reqlen[MAX_CONN];
	int served;
	pthread_t thread;
} fake;

static int
read_full(int fd, unsigned char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = read(fd, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void *
fake_main(void *arg)
{
	struct pollfd p = { .fd = fake.lfd, .events = POLLIN };
	uint32_t len;
	int i, fd;

	(void)arg;
	for (i = 0; i < fake.nreplies; i++) {
		if (poll(&p, 1, 3000) != 1)
			break;
		fd = accept(fake.lfd, NULL, NULL);
		if (fd < 0)
			break;
		if (read_full(fd, fake.req[i], 4) == 0) {
			len = get32(fake.req[i]);
			if (len <= sizeof(fake.req[i]) - 4 && read_full(fd, fake.req[i] + 4, len) == 0)
				fake.reqlen[i] = 4 + len;
		}
		(void)send(fd, fake.reply[i].d, fake.reply[i].n, MSG_NOSIGNAL);
		close(fd);
		fake.served++;
	}
	return NULL;
}

static int
listen_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, mod.sock, strlen(mod.sock) + 1);
	unlink(mod.sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

/* Start the fake kenpod with fake.nreplies replies already scripted. */
static void
fake_start(void)
{
	fake.lfd = listen_socket();
	fake.served = 0;
	memset(fake.reqlen, 0, sizeof(fake.reqlen));
	assert_int_equal(pthread_create(&fake.thread, NULL, fake_main, NULL), 0);
}

static void
fake_stop(void)
{
	assert_int_equal(pthread_join(fake.thread, NULL), 0);
	close(fake.lfd);
	unlink(mod.sock);
}

/* Script one reply and a server for a single lookup. */
static void
fake_one(const struct frame *reply)
{
	fake.nreplies = 1;
	fake.reply[0] = *reply;
	fake_start();
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
	const char *builddir = getenv("KENPO_BUILDDIR");

	(void)state;
	if (builddir == NULL) {
		fprintf(stderr, "KENPO_BUILDDIR is not set\n");
		return -1;
	}
	snprintf(mod.path, sizeof(mod.path), "%s/.libs/libnss_kenpo.so.2", builddir);
	snprintf(mod.dir, sizeof(mod.dir), "/tmp/kenpo-test-nss-XXXXXX");
	if (mkdtemp(mod.dir) == NULL)
		return -1;
	snprintf(mod.sock, sizeof(mod.sock), "%s/kenpod.sock", mod.dir);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (mod.handle != NULL)
		dlclose(mod.handle);
	unlink(mod.sock);
	rmdir(mod.dir);
	return 0;
}

static int
test_setup(void **state)
{
	(void)state;
	if (mod.getpwnam_r == NULL)
		return -1; /* the module did not load */
	setenv("KENPO_SOCKET", mod.sock, 1);
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
	t0 = now_ms();
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
	assert_true(now_ms() - t0 < 100);
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
	lfd = listen_socket();
	setenv("KENPO_NSS_TIMEOUT_MS", "200", 1);
	t0 = now_ms();
	assert_int_equal(mod.getpwnam_r("taro", &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	dt = now_ms() - t0;
	assert_int_equal(err, ENOENT);
	assert_true(dt >= 190);
	assert_true(dt < 1000);

	/* The deadline is clamped to 10 ms at the least; garbage means 500. */
	setenv("KENPO_NSS_TIMEOUT_MS", "1", 1);
	t0 = now_ms();
	assert_int_equal(mod.getpwuid_r(1001, &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	dt = now_ms() - t0;
	assert_true(dt >= 9 && dt < 190);
	setenv("KENPO_NSS_TIMEOUT_MS", "20ms", 1);
	t0 = now_ms();
	assert_int_equal(mod.getpwuid_r(1001, &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	dt = now_ms() - t0;
	assert_true(dt >= 490 && dt < 1000);
	close(lfd);
	unlink(mod.sock);
}

static void
test_loops_disabled(void **state)
{
	struct passwd pw;
	char buf[1024];
	int err = 0, lfd;

	(void)state;
	lfd = listen_socket();
	setenv("_KENPO_NSS_LOOPS", "NO", 1);
	assert_int_equal(mod.getpwnam_r("taro", &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	assert_int_equal(mod.getpwuid_r(1001, &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	assert_int_equal(mod.setpwent(0), NSS_STATUS_UNAVAIL);
	assert_int_equal(mod.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	assert_true(no_connection(lfd));
	unsetenv("_KENPO_NSS_LOOPS");
	close(lfd);
	unlink(mod.sock);
}

/* ---- answers from a scripted kenpod ---- */

static void
test_byname_found(void **state)
{
	struct frame f;
	struct passwd pw;
	char buf[1024];
	int err = 0;

	(void)state;
	begin(&f, ACT_BYNAME, RES_OK);
	record(&f, "Taro.Yamada", 70001, "\xe3\x81\x94\xe6\x9c\xac\xe4\xba\xba");
	end(&f);
	fake_one(&f);
	assert_int_equal(mod.getpwnam_r("taro.yamada", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_SUCCESS);
	fake_stop();
	assert_string_equal(pw.pw_name, "Taro.Yamada");
	assert_string_equal(pw.pw_passwd, "x");
	assert_int_equal(pw.pw_uid, 70001);
	assert_int_equal(pw.pw_gid, 100);
	assert_string_equal(pw.pw_gecos, "\xe3\x81\x94\xe6\x9c\xac\xe4\xba\xba");
	assert_string_equal(pw.pw_dir, "/home/Taro.Yamada");
	assert_string_equal(pw.pw_shell, "/bin/bash");
	assert_true(pw.pw_name >= buf && pw.pw_shell < buf + sizeof(buf));
	/* The request as sent: length, version, action, the name. */
	assert_int_equal(fake.reqlen[0], 4 + 8 + 4 + 11);
	assert_int_equal(get32(fake.req[0]), 8 + 4 + 11);
	assert_int_equal(get32(fake.req[0] + 4), PROTO_VERSION);
	assert_int_equal(get32(fake.req[0] + 8), ACT_BYNAME);
	assert_int_equal(get32(fake.req[0] + 12), 11);
	assert_memory_equal(fake.req[0] + 16, "taro.yamada", 11);
}

static void
test_byuid_found(void **state)
{
	struct frame f;
	struct passwd pw;
	char buf[1024];
	int err = 0;

	(void)state;
	begin(&f, ACT_BYUID, RES_OK);
	record(&f, "hanako", 4000000000u, "");
	end(&f);
	fake_one(&f);
	assert_int_equal(mod.getpwuid_r(4000000000u, &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_SUCCESS);
	fake_stop();
	assert_string_equal(pw.pw_name, "hanako");
	assert_int_equal(pw.pw_uid, 4000000000u);
	assert_string_equal(pw.pw_gecos, "");
	assert_int_equal(fake.reqlen[0], 16);
	assert_int_equal(get32(fake.req[0] + 8), ACT_BYUID);
	assert_int_equal(get32(fake.req[0] + 12), 4000000000u);

	/* An answer about another uid is refused. */
	fake_one(&f);
	assert_int_equal(mod.getpwuid_r(1234, &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	fake_stop();
	assert_int_equal(err, ENOENT);
}

static void
test_buffer_too_small(void **state)
{
	struct frame f;
	struct passwd pw, before;
	char buf[40];
	int err = 0;

	(void)state;
	/* "hanako" "x" "" "/home/hanako" "/bin/bash": 7+2+1+13+10 = 33 bytes. */
	begin(&f, ACT_BYNAME, RES_OK);
	record(&f, "hanako", 1001, "");
	end(&f);
	memset(&pw, 0x5a, sizeof(pw));
	before = pw;
	fake_one(&f);
	assert_int_equal(mod.getpwnam_r("hanako", &pw, buf, 32, &err), NSS_STATUS_TRYAGAIN);
	fake_stop();
	assert_int_equal(err, ERANGE);
	assert_memory_equal(&pw, &before, sizeof(pw));
	fake_one(&f);
	assert_int_equal(mod.getpwnam_r("hanako", &pw, buf, 33, &err), NSS_STATUS_SUCCESS);
	fake_stop();
	assert_string_equal(pw.pw_shell, "/bin/bash");
}

static void
test_notfound(void **state)
{
	struct frame f;
	struct passwd pw;
	char buf[256];
	int err = 0;

	(void)state;
	begin(&f, ACT_BYNAME, RES_NOTFOUND);
	end(&f);
	fake_one(&f);
	assert_int_equal(mod.getpwnam_r("nobody.here", &pw, buf, sizeof(buf), &err),
			 NSS_STATUS_NOTFOUND);
	fake_stop();
	assert_int_equal(err, ENOENT);
}

/* Each of these answers must give UNAVAIL, never a user. */
static void
test_malformed_answers(void **state)
{
	static struct frame f;
	static char big[3000];
	struct passwd pw;
	char buf[1024];
	int err, i;

	(void)state;
	memset(big, 'g', sizeof(big) - 1);
	for (i = 0; i < 9; i++) {
		begin(&f, i == 0 ? ACT_BYUID : ACT_BYNAME, i == 1 ? RES_UNAVAIL : RES_OK);
		if (i == 2)
			f.d[7] = 3;                       /* another version */
		if (i == 8) {                             /* 9 KB: over the lookup buffer */
			putstr(&f, "hanako");
			putstr(&f, "x");
			put32(&f, 1);
			put32(&f, 1);
			putstr(&f, big);
			putstr(&f, big);
			putstr(&f, big);
		} else if (i == 3) {                      /* truncated record */
			putstr(&f, "hanako");
			putstr(&f, "x");
			put32(&f, 1001);
		} else if (i == 4) {                      /* a NUL inside the name */
			putbytes(&f, "han\0ko", 6);
			putstr(&f, "x");
			put32(&f, 1001);
			put32(&f, 100);
			putstr(&f, "");
			putstr(&f, "/");
			putstr(&f, "/bin/sh");
		} else if (i == 5) {                      /* an empty name */
			record(&f, "", 1001, "");
		} else {
			record(&f, "hanako", 1001, "");
		}
		if (i == 6)
			put32(&f, 0);                     /* trailing garbage */
		end(&f);
		if (i == 7)
			f.n -= 2;                         /* closed in the middle */
		fake_one(&f);
		err = 0;
		assert_int_equal(mod.getpwnam_r("hanako", &pw, buf, sizeof(buf), &err),
				 NSS_STATUS_UNAVAIL);
		fake_stop();
		assert_int_equal(err, ENOENT);
		assert_int_equal(fake.served, 1);
	}
}

static void
test_names_without_kenpod(void **state)
{
	struct frame f;
	struct passwd pw;
	char buf[256], name[300];
	int err = 0, lfd;

	(void)state;
	lfd = listen_socket();
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
	begin(&f, ACT_BYNAME, RES_NOTFOUND);
	end(&f);
	fake_one(&f);
	assert_int_equal(mod.getpwnam_r(name, &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	fake_stop();
	assert_int_equal(fake.served, 1);
	assert_int_equal(get32(fake.req[0] + 12), 255);
}

static void
test_enumeration(void **state)
{
	static const char *const want[] = { "aoi", "ren", "sora" };
	struct passwd pw;
	char buf[256];
	int err = 0, i;

	(void)state;
	fake.nreplies = 3;
	begin(&fake.reply[0], ACT_ALL, RES_OK); /* page 1: two records, next 2 */
	put32(&fake.reply[0], 2);
	record(&fake.reply[0], "aoi", 5001, "");
	record(&fake.reply[0], "ren", 5002, "");
	put32(&fake.reply[0], 2);
	end(&fake.reply[0]);
	begin(&fake.reply[1], ACT_ALL, RES_OK); /* page 2: empty, next 7 */
	put32(&fake.reply[1], 0);
	put32(&fake.reply[1], 7);
	end(&fake.reply[1]);
	begin(&fake.reply[2], ACT_ALL, RES_OK); /* page 3: one record, the end */
	put32(&fake.reply[2], 1);
	record(&fake.reply[2], "sora", 5003, "");
	put32(&fake.reply[2], (uint32_t)-1);
	end(&fake.reply[2]);
	fake_start();
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
	fake_stop();
	assert_int_equal(fake.served, 3);
	/* The offsets asked for: 0, then those kenpod named. */
	assert_int_equal(get32(fake.req[0] + 8), ACT_ALL);
	assert_int_equal(get32(fake.req[0] + 12), 0);
	assert_int_equal(get32(fake.req[1] + 12), 2);
	assert_int_equal(get32(fake.req[2] + 12), 7);
}

static void
test_enumeration_refused(void **state)
{
	struct frame f;
	struct passwd pw;
	char buf[256];
	int err = 0;

	(void)state;
	begin(&f, ACT_ALL, RES_DENIED);
	end(&f);
	fake_one(&f);
	assert_int_equal(mod.setpwent(0), NSS_STATUS_SUCCESS);
	assert_int_equal(mod.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	assert_int_equal(err, ENOENT);
	/* Ended: no second question until setpwent. */
	assert_int_equal(mod.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	fake_stop();
	assert_int_equal(fake.served, 1);

	/* An offset that goes backwards would loop forever: refused. */
	begin(&f, ACT_ALL, RES_OK);
	put32(&f, 0);
	put32(&f, 0);
	end(&f);
	fake_one(&f);
	assert_int_equal(mod.setpwent(0), NSS_STATUS_SUCCESS);
	assert_int_equal(mod.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
	assert_int_equal(mod.getpwent_r(&pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
	assert_int_equal(mod.endpwent(), NSS_STATUS_SUCCESS);
	fake_stop();
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
