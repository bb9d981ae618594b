/*
 * test_pwmap.c - the passwd map: kenpod's writer (src/kenpod/mapfile.c)
 * and the reader every process uses (src/common/pwmap.c), on real files
 * in a temporary directory.
 *
 * Besides lookups after every kind of change, it checks what the reader
 * must survive: damaged records and headers, truncated files, stale
 * heartbeats, and a writer changing the map while readers read it (every
 * answer must be a state the writer wrote, never a mix of two).  The built
 * libnss_kenpo.so.2 is loaded too, and read from while kenpod's side
 * replaces the file again and again: a mapping must never be taken away
 * from a thread that reads it.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <nss.h>
#include <pwd.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "cache.h"
#include "elfcheck.h"
#include "mapfile.h"
#include "pwmap.h"

#define SOCKET "/run/kenpo/test.sock"

static char dir[64];
static char path[128];

union recbuf {
	struct kenpo_pwrec rec;
	unsigned char bytes[KENPO_PWREC_MAX];
};

/* ---- helpers ---- */

static void
uuid_of(unsigned n, unsigned char uuid[MAPFILE_UUID_LEN])
{
	memset(uuid, 0, MAPFILE_UUID_LEN);
	memcpy(uuid, &n, sizeof n);
	uuid[15] = 0x5a;
}

static void
rec_of(union recbuf *b, const char *name, uint32_t uid, const char *gecos)
{
	char home[64];

	snprintf(home, sizeof home, "/home/%s", name);
	assert_int_equal(kenpo_pwrec_build(&b->rec, sizeof b->bytes, name, uid, 100, gecos, home,
					   "/bin/sh"),
			 0);
}

static enum mapfile_rc
put(struct mapfile *m, unsigned n, const char *name, uint32_t uid, const char *gecos)
{
	unsigned char uuid[MAPFILE_UUID_LEN];
	union recbuf b;

	uuid_of(n, uuid);
	rec_of(&b, name, uid, gecos);
	return mapfile_put(m, uuid, &b.rec);
}

static enum mapfile_rc
drop(struct mapfile *m, unsigned n)
{
	unsigned char uuid[MAPFILE_UUID_LEN];

	uuid_of(n, uuid);
	return mapfile_drop(m, uuid);
}

static struct mapfile *
new_map(size_t records, size_t bytes)
{
	struct mapfile_params p = { path, SOCKET,  KENPO_PWMAP_F_ENUMERATE,
				    3000, records, bytes > 0 ? bytes : records * 96 };
	struct mapfile *m = NULL;
	char err[256];

	assert_int_equal(mapfile_create(&p, &m, err, sizeof err), 0);
	/* Readable as a published file is, without a path of its own. */
	mapfile_heartbeat(m, kenpo_pwmap_now_ms());
	mapfile_set_status(m, KENPO_PWMAP_LIVE);
	return m;
}

static enum kenpo_pwmap_found
byname(const struct mapfile *m, const char *name, struct kenpo_pwent *e, char *buf, size_t len)
{
	return kenpo_pwmap_byname(mapfile_view(m), kenpo_pwmap_now_ms(), name, e, buf, len);
}

static enum kenpo_pwmap_found
byuid(const struct mapfile *m, uint32_t uid, struct kenpo_pwent *e, char *buf, size_t len)
{
	return kenpo_pwmap_byuid(mapfile_view(m), kenpo_pwmap_now_ms(), uid, e, buf, len);
}

/* The lookup of name gives this uid and gecos (NULL gecos: a miss). */
static void
expect_name(const struct mapfile *m, const char *name, uint32_t uid, const char *gecos)
{
	char buf[KENPO_PWMAP_COPY_MAX];
	struct kenpo_pwent e;

	if (gecos == NULL) {
		assert_int_equal(byname(m, name, &e, buf, sizeof buf), KENPO_PWMAP_MISS);
		return;
	}
	assert_int_equal(byname(m, name, &e, buf, sizeof buf), KENPO_PWMAP_HIT);
	assert_string_equal(e.name, name);
	assert_int_equal(e.uid, uid);
	assert_string_equal(e.gecos, gecos);
	assert_string_equal(e.passwd, "x");
	assert_string_equal(e.shell, "/bin/sh");
}

static void
expect_uid(const struct mapfile *m, uint32_t uid, const char *name)
{
	char buf[KENPO_PWMAP_COPY_MAX];
	struct kenpo_pwent e;

	if (name == NULL) {
		assert_int_equal(byuid(m, uid, &e, buf, sizeof buf), KENPO_PWMAP_MISS);
		return;
	}
	assert_int_equal(byuid(m, uid, &e, buf, sizeof buf), KENPO_PWMAP_HIT);
	assert_string_equal(e.name, name);
	assert_int_equal(e.uid, uid);
}

/* ---- setup ---- */

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(dir, sizeof dir, "/tmp/kenpo-pwmap-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/passwd.mc", dir);
	return 0;
}

/* Remove the directory and whatever a failed test left in it. */
static int
group_teardown(void **state)
{
	char file[sizeof dir + 256];
	struct dirent *d;
	DIR *dp = opendir(dir);

	(void)state;
	while (dp != NULL && (d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		snprintf(file, sizeof file, "%s/%s", dir, d->d_name);
		(void)unlink(file);
	}
	if (dp != NULL)
		closedir(dp);
	return rmdir(dir);
}

/* ---- lookups and changes ---- */

static void
test_put_find_change(void **state)
{
	struct mapfile *m = new_map(100, 0);

	(void)state;
	assert_int_equal(put(m, 1, "Taro.Yamada", 100001, "ご本人"), MAPFILE_OK);
	assert_int_equal(put(m, 2, "hanako", 100002, "はなこ"), MAPFILE_OK);
	assert_int_equal(mapfile_publish(m), 0);
	expect_name(m, "Taro.Yamada", 100001, "ご本人");
	expect_uid(m, 100002, "hanako");
	/* Names are exact. */
	expect_name(m, "taro.yamada", 0, NULL);
	expect_name(m, "Taro.Yamad", 0, NULL);
	expect_uid(m, 100003, NULL);
	/* The same state again changes nothing. */
	assert_int_equal(put(m, 1, "Taro.Yamada", 100001, "ご本人"), MAPFILE_SAME);
	/* A rename: the old name goes, the uid follows the new one. */
	assert_int_equal(put(m, 1, "Jiro.Yamada", 100001, "ご本人"), MAPFILE_OK);
	expect_name(m, "Taro.Yamada", 0, NULL);
	expect_name(m, "Jiro.Yamada", 100001, "ご本人");
	expect_uid(m, 100001, "Jiro.Yamada");
	/* A deletion. */
	assert_int_equal(drop(m, 2), MAPFILE_OK);
	assert_int_equal(drop(m, 2), MAPFILE_SAME);
	expect_name(m, "hanako", 0, NULL);
	expect_uid(m, 100002, NULL);
	assert_int_equal(mapfile_count(m), 1);
	mapfile_unpublish(m);
	mapfile_free(m);
}

static void
test_unlink_until_next_put(void **state)
{
	struct mapfile *m = new_map(100, 0);

	(void)state;
	assert_int_equal(put(m, 1, "Taro.Yamada", 100001, "a"), MAPFILE_OK);
	/* Only the record of that name and uid. */
	assert_int_equal(mapfile_unlink(m, "Taro.Yamada", 100002), MAPFILE_SAME);
	assert_int_equal(mapfile_unlink(m, "Taro.Yamada", 100001), MAPFILE_OK);
	expect_name(m, "Taro.Yamada", 0, NULL);
	expect_uid(m, 100001, NULL);
	/* The entry's next state brings it back, even when it is the same. */
	assert_int_equal(put(m, 1, "Taro.Yamada", 100001, "a"), MAPFILE_OK);
	expect_name(m, "Taro.Yamada", 100001, "a");
	assert_int_equal(mapfile_count(m), 1);
	mapfile_free(m);
}

static void
test_two_holders_are_nobody(void **state)
{
	struct mapfile *m = new_map(100, 0);

	(void)state;
	assert_int_equal(put(m, 1, "Same.Name", 100001, "a"), MAPFILE_OK);
	assert_int_equal(put(m, 2, "Same.Name", 100002, "b"), MAPFILE_OK);
	expect_name(m, "Same.Name", 0, NULL);
	expect_uid(m, 100001, "Same.Name");
	assert_int_equal(put(m, 3, "Other.Name", 100002, "c"), MAPFILE_OK);
	expect_uid(m, 100002, NULL);
	assert_int_equal(drop(m, 2), MAPFILE_OK);
	expect_name(m, "Same.Name", 100001, "a");
	expect_uid(m, 100002, "Other.Name");
	mapfile_free(m);
}

static void
test_small_buffer(void **state)
{
	struct mapfile *m = new_map(100, 0);
	char buf[KENPO_PWMAP_COPY_MAX];
	struct kenpo_pwent e;

	(void)state;
	assert_int_equal(put(m, 1, "Taro.Yamada", 100001, "ご本人"), MAPFILE_OK);
	assert_int_equal(byname(m, "Taro.Yamada", &e, buf, 40), KENPO_PWMAP_RANGE);
	assert_int_equal(byuid(m, 100001, &e, buf, 40), KENPO_PWMAP_RANGE);
	mapfile_free(m);
}

/* Many inserts, renames and deletions against a model: every lookup of
 * every name and uid ever used answers as the model says (backward-shift
 * deletion keeps every probe sequence whole). */
#define MODEL 3000

static void
check_model(const struct mapfile *m, const int *alive, const unsigned *version)
{
	char name[32], gecos[16];
	unsigned i, v;

	for (i = 0; i < MODEL; i++) {
		for (v = 0; v < 3; v++) {
			snprintf(name, sizeof name, "m%u.v%u", i, v);
			snprintf(gecos, sizeof gecos, "g%u", v);
			expect_name(m, name, 200000 + i,
				    alive[i] && version[i] == v ? gecos : NULL);
		}
		snprintf(name, sizeof name, "m%u.v%u", i, version[i]);
		expect_uid(m, 200000 + i, alive[i] ? name : NULL);
	}
}

static void
test_against_a_model(void **state)
{
	static int alive[MODEL];
	static unsigned version[MODEL];
	struct mapfile *m = new_map(16, 512), *bigger;
	char name[32], gecos[16], err[256];
	uint64_t seed = 42;
	unsigned step, i;
	enum mapfile_rc rc;

	(void)state;
	for (step = 0; step < 5 * MODEL; step++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		i = (unsigned)(seed >> 33) % MODEL;
		if (alive[i] && (seed >> 20) % 4 == 0) {
			assert_int_equal(drop(m, i), MAPFILE_OK);
			alive[i] = 0;
			continue;
		}
		version[i] = alive[i] ? (version[i] + 1) % 3 : 0;
		snprintf(name, sizeof name, "m%u.v%u", i, version[i]);
		snprintf(gecos, sizeof gecos, "g%u", version[i]);
		while ((rc = put(m, i, name, 200000 + i, gecos)) == MAPFILE_FULL) {
			assert_int_equal(mapfile_grow(m, 2 * mapfile_count(m) + 16,
						      2 * mapfile_bytes(m) + 4096, &bigger, err,
						      sizeof err),
					 0);
			mapfile_free(m);
			m = bigger;
			mapfile_heartbeat(m, kenpo_pwmap_now_ms());
			mapfile_set_status(m, KENPO_PWMAP_LIVE);
		}
		assert_int_equal(rc, MAPFILE_OK);
		alive[i] = 1;
	}
	check_model(m, alive, version);
	mapfile_free(m);
}

static void
test_enumeration_visits_each_once(void **state)
{
	struct mapfile *m = new_map(500, 0);
	char name[32], buf[KENPO_PWMAP_COPY_MAX];
	static int seen[400];
	struct kenpo_pwent e;
	uint32_t pos = 0;
	unsigned i, n = 0;

	(void)state;
	for (i = 0; i < 400; i++) {
		snprintf(name, sizeof name, "e%u", i);
		assert_int_equal(put(m, i, name, 300000 + i, "x"), MAPFILE_OK);
	}
	while (kenpo_pwmap_next(mapfile_view(m), kenpo_pwmap_now_ms(), &pos, &e, buf,
				sizeof buf) == KENPO_PWMAP_HIT) {
		assert_true(e.uid >= 300000 && e.uid < 300400);
		assert_int_equal(seen[e.uid - 300000]++, 0);
		n++;
	}
	assert_int_equal(n, 400);
	mapfile_free(m);
}

/* ---- what the reader must refuse ---- */

/* The published file, mapped as a reader maps it. */
static void
map_file(void **base, size_t *size)
{
	struct stat sb;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	*size = (size_t)sb.st_size;
	*base = mmap(NULL, *size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(*base != MAP_FAILED);
	close(fd);
}

static struct mapfile *
published_one(void)
{
	struct mapfile *m = new_map(100, 0);

	assert_int_equal(put(m, 1, "Taro.Yamada", 100001, "ご本人"), MAPFILE_OK);
	assert_int_equal(mapfile_publish(m), 0);
	return m;
}

static void
test_damaged_record(void **state)
{
	struct mapfile *m = published_one();
	const struct kenpo_pwmap_view *w = mapfile_view(m);
	char buf[KENPO_PWMAP_COPY_MAX];
	struct kenpo_pwent e;
	unsigned char *p;

	(void)state;
	/* A byte of the nickname, as damage would change it. */
	p = memmem(w->base, w->size, "ご本人", strlen("ご本人"));
	assert_non_null(p);
	p[1] ^= 0x01;
	assert_int_equal(byname(m, "Taro.Yamada", &e, buf, sizeof buf), KENPO_PWMAP_CORRUPT);
	assert_int_equal(byuid(m, 100001, &e, buf, sizeof buf), KENPO_PWMAP_CORRUPT);
	p[1] ^= 0x01;
	expect_name(m, "Taro.Yamada", 100001, "ご本人");
	mapfile_unpublish(m);
	mapfile_free(m);
}

static void
test_damaged_or_truncated_header(void **state)
{
	struct mapfile *m = published_one();
	struct kenpo_pwmap_view v;
	unsigned char *copy;
	size_t size;
	void *base;

	(void)state;
	map_file(&base, &size);
	assert_int_equal(kenpo_pwmap_view_init(&v, base, size), 0);
	/* Shorter than the header says: a truncated file. */
	assert_int_equal(kenpo_pwmap_view_init(&v, base, size - 4096), -1);
	assert_int_equal(kenpo_pwmap_view_init(&v, base, 100), -1);
	copy = malloc(size);
	assert_non_null(copy);
	memcpy(copy, base, size);
	copy[offsetof(struct kenpo_pwmap_header, data_end)] ^= 0x08;
	assert_int_equal(kenpo_pwmap_view_init(&v, copy, size), -1);
	memcpy(copy, base, size);
	copy[0] ^= 0xff;
	assert_int_equal(kenpo_pwmap_view_init(&v, copy, size), -1);
	free(copy);
	munmap(base, size);
	mapfile_unpublish(m);
	mapfile_free(m);
}

static void
test_status_and_heartbeat(void **state)
{
	struct mapfile *m = published_one();
	const struct kenpo_pwmap_view *v = mapfile_view(m);
	int64_t now = kenpo_pwmap_now_ms();

	(void)state;
	assert_int_equal(kenpo_pwmap_usable(v, now), KENPO_PWMAP_HIT);
	/* No stamp for longer than heartbeat_max_ms: kenpod may be dead. */
	assert_int_equal(kenpo_pwmap_usable(v, now + 3001), KENPO_PWMAP_UNUSABLE);
	mapfile_heartbeat(m, now + 3001);
	assert_int_equal(kenpo_pwmap_usable(v, now + 3001), KENPO_PWMAP_HIT);
	assert_int_equal(kenpo_pwmap_usable(v, now + 10), KENPO_PWMAP_HIT);
	/* A stamp from further ahead than that is no better than an old one. */
	assert_int_equal(kenpo_pwmap_usable(v, now - 10), KENPO_PWMAP_UNUSABLE);
	mapfile_heartbeat(m, now);
	mapfile_set_status(m, KENPO_PWMAP_SUSPENDED);
	assert_int_equal(kenpo_pwmap_usable(v, now), KENPO_PWMAP_UNUSABLE);
	mapfile_retire(m);
	assert_int_equal(kenpo_pwmap_usable(v, now), KENPO_PWMAP_GONE);
	mapfile_unpublish(m);
	mapfile_free(m);
}

static void
test_garbage_tables_end(void **state)
{
	struct mapfile *m = published_one();
	const struct kenpo_pwmap_view *v = mapfile_view(m);
	char buf[KENPO_PWMAP_COPY_MAX];
	struct kenpo_pwent e;
	unsigned char *p = (unsigned char *)(uintptr_t)v->base;
	uint64_t i, seed = 7;
	enum kenpo_pwmap_found r;

	(void)state;
	/* Noise over the tables and the records: a lookup ends, and never
	 * with a record that is not one kenpod wrote. */
	for (i = v->h->names; i < v->data_end; i++) {
		seed = seed * 6364136223846793005ULL + 1;
		p[i] = (unsigned char)(seed >> 56);
	}
	r = byname(m, "Taro.Yamada", &e, buf, sizeof buf);
	assert_true(r == KENPO_PWMAP_MISS || r == KENPO_PWMAP_CORRUPT);
	r = byuid(m, 100001, &e, buf, sizeof buf);
	assert_true(r == KENPO_PWMAP_MISS || r == KENPO_PWMAP_CORRUPT);
	mapfile_unpublish(m);
	mapfile_free(m);
}

/* ---- a writer and readers at once ---- */

#define MEMBERS 64
#define ROUNDS 20000
#define HITS 2000
#define RACE_SECONDS 20

struct race {
	struct mapfile *m;
	atomic_int stop;
	atomic_ulong hits, mixes;
	enum mapfile_rc failed;
	unsigned long rounds;
};

/* Member i in state v: name "r<i>.<v>", gecos "state <v> of <i>".  The
 * writer goes on until the reader has read enough while it wrote (on a
 * busy machine the reader may start late). */
static void *
writer_main(void *arg)
{
	struct race *r = arg;
	char name[32], gecos[32];
	unsigned long round;
	unsigned i;
	int64_t until = kenpo_pwmap_now_ms() + RACE_SECONDS * 1000;

	for (round = 0; round < ROUNDS || atomic_load(&r->hits) < HITS; round++) {
		i = round % MEMBERS;
		snprintf(name, sizeof name, "r%u.%lu", i, round % 5);
		snprintf(gecos, sizeof gecos, "state %lu of %u", round % 5, i);
		r->failed = put(r->m, i, name, 400000 + i, gecos);
		if (r->failed == MAPFILE_SAME)
			r->failed = MAPFILE_OK;
		if (r->failed != MAPFILE_OK || kenpo_pwmap_now_ms() > until)
			break;
	}
	r->rounds = round;
	atomic_store(&r->stop, 1);
	return NULL;
}

static void *
reader_main(void *arg)
{
	struct race *r = arg;
	char buf[KENPO_PWMAP_COPY_MAX], want[32];
	struct kenpo_pwent e;
	unsigned i = 0, v;

	while (!atomic_load(&r->stop)) {
		i = (i + 7) % MEMBERS;
		if (byuid(r->m, 400000 + i, &e, buf, sizeof buf) != KENPO_PWMAP_HIT)
			continue;
		atomic_fetch_add(&r->hits, 1);
		/* The name and the gecos of one state, never of two. */
		if (sscanf(e.name, "r%*u.%u", &v) != 1 ||
		    snprintf(want, sizeof want, "state %u of %u", v, i) <= 0 ||
		    strcmp(e.gecos, want) != 0)
			atomic_fetch_add(&r->mixes, 1);
	}
	return NULL;
}

static void
test_readers_never_see_a_mix(void **state)
{
	/* Room for records of every length the writer makes. */
	struct race r = { .m = new_map(MEMBERS * 2, 1 << 20) };
	pthread_t w, rd;
	char name[32], gecos[32];
	unsigned i;

	(void)state;
	for (i = 0; i < MEMBERS; i++) {
		snprintf(name, sizeof name, "r%u.0", i);
		snprintf(gecos, sizeof gecos, "state 0 of %u", i);
		assert_int_equal(put(r.m, i, name, 400000 + i, gecos), MAPFILE_OK);
	}
	assert_int_equal(pthread_create(&rd, NULL, reader_main, &r), 0);
	assert_int_equal(pthread_create(&w, NULL, writer_main, &r), 0);
	pthread_join(w, NULL);
	pthread_join(rd, NULL);
	assert_int_equal(r.failed, MAPFILE_OK);
	assert_true(r.rounds >= ROUNDS);
	assert_true(atomic_load(&r.hits) > 0);
	assert_int_equal(atomic_load(&r.mixes), 0);
	mapfile_free(r.m);
}

/* ---- the module while files are replaced ---- */

#define MODULE_THREADS 4
#define REPLACEMENTS 200

struct module_race {
	nss_getpwnam_r *getpwnam_r;
	atomic_int stop;
	atomic_ulong hits, wrong;
};

static void *
module_reader(void *arg)
{
	struct module_race *r = arg;
	char buf[1024], name[32];
	struct passwd pw;
	enum nss_status st;
	unsigned i = 0;
	int err;

	while (!atomic_load(&r->stop)) {
		i = (i + 1) % 50;
		snprintf(name, sizeof name, "mod%u", i);
		st = r->getpwnam_r(name, &pw, buf, sizeof buf, &err);
		if (st != NSS_STATUS_SUCCESS)
			continue; /* between files, or kenpod (absent) asked */
		atomic_fetch_add(&r->hits, 1);
		if (strcmp(pw.pw_name, name) != 0 || pw.pw_uid != 500000 + i)
			atomic_fetch_add(&r->wrong, 1);
	}
	return NULL;
}

/* A complete file with the 50 members, published in place of the last. */
static struct mapfile *
publish_fifty(struct mapfile *old)
{
	struct mapfile *m = new_map(64, 0);
	char name[32];
	unsigned i;

	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof name, "mod%u", i);
		assert_int_equal(put(m, i, name, 500000 + i, "m"), MAPFILE_OK);
	}
	assert_int_equal(mapfile_publish(m), 0);
	if (old != NULL) {
		mapfile_retire(old);
		mapfile_free(old);
	}
	return m;
}

static void
test_module_keeps_reading_while_files_are_replaced(void **state)
{
	struct module_race r = { 0 };
	char module[4096];
	pthread_t t[MODULE_THREADS];
	struct mapfile *m = NULL;
	void *h;
	int i;

	(void)state;
	assert_int_equal(elfcheck_module_path("libnss_kenpo.so.2", module, sizeof module), 0);
	/* The socket the files name; nobody listens there. */
	assert_int_equal(setenv("KENPO_SOCKET", SOCKET, 1), 0);
	assert_int_equal(setenv("KENPO_PASSWD_MAP", path, 1), 0);
	assert_int_equal(setenv("KENPO_NSS_TIMEOUT_MS", "10", 1), 0);
	h = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	*(void **)&r.getpwnam_r = dlsym(h, "_nss_kenpo_getpwnam_r");
	assert_non_null(r.getpwnam_r);
	m = publish_fifty(NULL);
	for (i = 0; i < MODULE_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, module_reader, &r), 0);
	for (i = 0; i < REPLACEMENTS; i++)
		m = publish_fifty(m);
	/* Let the readers find the last one. */
	usleep(100 * 1000);
	atomic_store(&r.stop, 1);
	for (i = 0; i < MODULE_THREADS; i++)
		pthread_join(t[i], NULL);
	assert_true(atomic_load(&r.hits) > 0);
	assert_int_equal(atomic_load(&r.wrong), 0);
	mapfile_unpublish(m);
	mapfile_free(m);
	/* Not dlclose'd: glibc never unloads an NSS module either, and the
	 * module keeps its mapping for the life of the process. */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_find_change),
		cmocka_unit_test(test_unlink_until_next_put),
		cmocka_unit_test(test_two_holders_are_nobody),
		cmocka_unit_test(test_small_buffer),
		cmocka_unit_test(test_against_a_model),
		cmocka_unit_test(test_enumeration_visits_each_once),
		cmocka_unit_test(test_damaged_record),
		cmocka_unit_test(test_damaged_or_truncated_header),
		cmocka_unit_test(test_status_and_heartbeat),
		cmocka_unit_test(test_garbage_tables_end),
		cmocka_unit_test(test_readers_never_see_a_mix),
		cmocka_unit_test(test_module_keeps_reading_while_files_are_replaced),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
