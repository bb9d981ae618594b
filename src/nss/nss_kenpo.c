/*
 * nss_kenpo.c - kenpo members in glibc's passwd database (libnss_kenpo.so.2).
 *
 * This code runs inside every process that looks a user up, so it links
 * nothing but libc and the protocol codec and asks kenpod over its unix
 * socket (see kenpo-proto.h), as nss-pam-ldapd's nss/ asks nslcd:
 * - one connection per call, closed on every path, so nothing is shared
 *   with a forked child or between threads;
 * - one deadline for connect, send and receive together (default 500 ms,
 *   KENPO_NSS_TIMEOUT_MS, 10 to 5000), so a stalled kenpod delays the host
 *   process by at most that, and an absent one not at all;
 * - never a line of output, never exit(): failures are NSS statuses.
 *
 * Environment: KENPO_SOCKET and KENPO_NSS_TIMEOUT_MS are read with
 * secure_getenv (a set-id program ignores them); _KENPO_NSS_LOOPS=NO, set
 * by kenpod, makes every call answer UNAVAIL so that kenpod never waits for
 * itself.
 *
 * Memory: a single lookup receives into 8 KiB on the stack, which holds any
 * record kenpod sends (login IDs are under 40 characters, home and shell
 * are paths) without straining the small thread stacks of host processes;
 * a longer answer is refused as malformed.  Enumeration pages, up to a whole
 * frame, are received into one heap buffer freed by endpwent.
 */
#include "autoconfig.h"

#include <errno.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

#define LOOKUP_BUF_SIZE (8 * 1024)
#define PAGE_BUF_SIZE (KENPO_PROTO_MAX_FRAME + 4)
/* Longer names are surely no login ID (2 to 39 characters) and are answered
 * without kenpod; kenpod judges every shorter one. */
#define NAME_MAX_LEN 255
#define TIMEOUT_DEFAULT_MS 500
#define TIMEOUT_MIN_MS 10
#define TIMEOUT_MAX_MS 5000

/* Declared with glibc's own types so the compiler checks the signatures. */
nss_getpwnam_r _nss_kenpo_getpwnam_r;
nss_getpwuid_r _nss_kenpo_getpwuid_r;
nss_setpwent _nss_kenpo_setpwent;
nss_getpwent_r _nss_kenpo_getpwent_r;
nss_endpwent _nss_kenpo_endpwent;

struct str_ref {
	const char *s;
	size_t len;
};

/* A PASSWD record as it lies in the receive buffer. */
struct pw_ref {
	struct str_ref name, passwd, gecos, dir, shell;
	uint32_t uid, gid;
};

/*
 * Enumeration state, one per process like glibc's own getpwent state; the
 * mutex serialises getpwent_r callers.  `next` is the offset of the page to
 * ask for, -1 once the enumeration has ended.
 */
static struct {
	pthread_mutex_t lock;
	unsigned char *mem;     /* PAGE_BUF_SIZE bytes, or NULL */
	struct kenpo_buf page;  /* the page being walked */
	int32_t left;           /* records of the page not yet returned */
	int32_t next;
} ent = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int
lookups_disabled(void)
{
	const char *v = getenv("_KENPO_NSS_LOOPS");

	return v != NULL && strcmp(v, "NO") == 0;
}

static const char *
socket_path(void)
{
	const char *p = secure_getenv("KENPO_SOCKET");

	return (p != NULL && p[0] != '\0') ? p : KENPO_SOCKET_PATH;
}

static int
timeout_ms(void)
{
	const char *v = secure_getenv("KENPO_NSS_TIMEOUT_MS");
	char *end;
	long ms;

	if (v == NULL || v[0] == '\0')
		return TIMEOUT_DEFAULT_MS;
	errno = 0;
	ms = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return TIMEOUT_DEFAULT_MS;
	if (ms < TIMEOUT_MIN_MS)
		return TIMEOUT_MIN_MS;
	if (ms > TIMEOUT_MAX_MS)
		return TIMEOUT_MAX_MS;
	return (int)ms;
}

/* Set *errnop the way glibc expects for each status: ERANGE asks it to
 * retry with a larger buffer, ENOENT says "no such entry here". */
static enum nss_status
finish(enum nss_status st, int *errnop)
{
	if (st == NSS_STATUS_TRYAGAIN)
		*errnop = ERANGE;
	else if (st != NSS_STATUS_SUCCESS)
		*errnop = ENOENT;
	return st;
}

/*
 * Send the request in b and receive kenpod's answer into b, all before one
 * deadline.  0, or -1 when kenpod is absent, stalled or misbehaving.
 */
static int
transact(struct kenpo_buf *b)
{
	int64_t deadline = kenpo_now_ms() + timeout_ms();
	int fd, rc = -1;

	fd = kenpo_connect(socket_path(), deadline);
	if (fd < 0)
		goto done;
	if (kenpo_send_frame(fd, b, deadline) != 0)
		goto done;
	if (kenpo_recv_frame(fd, b, deadline) != 0)
		goto done;
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Open kenpod's answer, check it answers `action`, and read the result. */
static int
open_answer(struct kenpo_buf *b, int32_t action, int32_t *result)
{
	int32_t act, res;

	if (kenpo_frame_open(b, &act) != 0 || act != action)
		return -1;
	res = kenpo_get_int32(b);
	if (b->err)
		return -1;
	*result = res;
	return 0;
}

static int
read_record(struct kenpo_buf *b, struct pw_ref *r)
{
	struct pw_ref tmp;

	kenpo_get_string_ref(b, &tmp.name.s, &tmp.name.len);
	kenpo_get_string_ref(b, &tmp.passwd.s, &tmp.passwd.len);
	tmp.uid = (uint32_t)kenpo_get_int32(b);
	tmp.gid = (uint32_t)kenpo_get_int32(b);
	kenpo_get_string_ref(b, &tmp.gecos.s, &tmp.gecos.len);
	kenpo_get_string_ref(b, &tmp.dir.s, &tmp.dir.len);
	kenpo_get_string_ref(b, &tmp.shell.s, &tmp.shell.len);
	/* A nameless entry would confuse every caller. */
	if (b->err || tmp.name.len == 0 || tmp.name.len > NAME_MAX_LEN)
		return -1;
	*r = tmp;
	return 0;
}

/* Copy s, NUL-terminated, to *next in the caller's buffer. */
static int
copy_str(const struct str_ref *s, char **next, size_t *left, char **out)
{
	if (s->len >= *left)
		return -1;
	memcpy(*next, s->s, s->len);
	(*next)[s->len] = '\0';
	*out = *next;
	*next += s->len + 1;
	*left -= s->len + 1;
	return 0;
}

/* Fill pw, its strings in buffer.  -1 when buffer is too small. */
static int
fill_passwd(const struct pw_ref *r, struct passwd *pw, char *buffer, size_t buflen)
{
	struct passwd tmp = { .pw_uid = r->uid, .pw_gid = r->gid };
	char *next = buffer;
	size_t left = buflen;

	if (copy_str(&r->name, &next, &left, &tmp.pw_name) != 0 ||
	    copy_str(&r->passwd, &next, &left, &tmp.pw_passwd) != 0 ||
	    copy_str(&r->gecos, &next, &left, &tmp.pw_gecos) != 0 ||
	    copy_str(&r->dir, &next, &left, &tmp.pw_dir) != 0 ||
	    copy_str(&r->shell, &next, &left, &tmp.pw_shell) != 0)
		return -1;
	*pw = tmp;
	return 0;
}

/* PASSWD_BYNAME (name != NULL) or PASSWD_BYUID. */
static enum nss_status
lookup(const char *name, uid_t uid, struct passwd *pw, char *buffer, size_t buflen)
{
	int32_t action = name != NULL ? KENPO_ACTION_PASSWD_BYNAME : KENPO_ACTION_PASSWD_BYUID;
	unsigned char mem[LOOKUP_BUF_SIZE];
	enum nss_status st = NSS_STATUS_UNAVAIL;
	struct kenpo_buf b;
	struct pw_ref r;
	int32_t result;

	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_frame_begin(&b, action);
	if (name != NULL)
		kenpo_put_cstring(&b, name);
	else
		kenpo_put_int32(&b, (int32_t)uid);
	if (kenpo_frame_end(&b) != 0 || transact(&b) != 0 ||
	    open_answer(&b, action, &result) != 0)
		goto done;
	if (result == KENPO_RES_NOTFOUND) {
		if (kenpo_frame_close(&b) == 0)
			st = NSS_STATUS_NOTFOUND;
		goto done;
	}
	if (result != KENPO_RES_OK || read_record(&b, &r) != 0 || kenpo_frame_close(&b) != 0)
		goto done;
	/* An answer about another uid is a confused kenpod, not a user. */
	if (name == NULL && r.uid != (uint32_t)uid)
		goto done;
	st = fill_passwd(&r, pw, buffer, buflen) == 0 ? NSS_STATUS_SUCCESS : NSS_STATUS_TRYAGAIN;
done:
	return st;
}

enum nss_status
_nss_kenpo_getpwnam_r(const char *name, struct passwd *pw, char *buffer, size_t buflen,
		      int *errnop)
{
	if (lookups_disabled())
		return finish(NSS_STATUS_UNAVAIL, errnop);
	if (name == NULL || name[0] == '\0' || strnlen(name, NAME_MAX_LEN + 1) > NAME_MAX_LEN)
		return finish(NSS_STATUS_NOTFOUND, errnop);
	if (pw == NULL || buffer == NULL) {
		*errnop = EINVAL;
		return NSS_STATUS_UNAVAIL;
	}
	return finish(lookup(name, 0, pw, buffer, buflen), errnop);
}

enum nss_status
_nss_kenpo_getpwuid_r(uid_t uid, struct passwd *pw, char *buffer, size_t buflen, int *errnop)
{
	if (lookups_disabled())
		return finish(NSS_STATUS_UNAVAIL, errnop);
	if (pw == NULL || buffer == NULL) {
		*errnop = EINVAL;
		return NSS_STATUS_UNAVAIL;
	}
	return finish(lookup(NULL, uid, pw, buffer, buflen), errnop);
}

/* ---- enumeration (ent.lock held) ---- */

static void
ent_reset(int32_t next)
{
	free(ent.mem);
	ent.mem = NULL;
	ent.left = 0;
	ent.next = next;
}

/* Walk over count records, checking each. */
static int
skip_records(struct kenpo_buf *b, int32_t count)
{
	struct pw_ref r;
	int32_t i;

	for (i = 0; i < count; i++)
		if (read_record(b, &r) != 0)
			return -1;
	return 0;
}

/*
 * Fetch the page at ent.next and check it whole, so that the walk can trust
 * it.  SUCCESS, NOTFOUND when kenpod refuses enumeration, or UNAVAIL.
 */
static enum nss_status
fetch_page(void)
{
	struct kenpo_buf *b = &ent.page;
	int32_t offset = ent.next, result, count, next;
	size_t first;

	if (ent.mem == NULL && (ent.mem = malloc(PAGE_BUF_SIZE)) == NULL)
		return NSS_STATUS_UNAVAIL;
	kenpo_buf_init(b, ent.mem, PAGE_BUF_SIZE);
	kenpo_frame_begin(b, KENPO_ACTION_PASSWD_ALL);
	kenpo_put_int32(b, offset);
	if (kenpo_frame_end(b) != 0 || transact(b) != 0 ||
	    open_answer(b, KENPO_ACTION_PASSWD_ALL, &result) != 0)
		return NSS_STATUS_UNAVAIL;
	if (result == KENPO_RES_DENIED)
		return kenpo_frame_close(b) == 0 ? NSS_STATUS_NOTFOUND : NSS_STATUS_UNAVAIL;
	if (result != KENPO_RES_OK)
		return NSS_STATUS_UNAVAIL;
	count = kenpo_get_int32(b);
	if (b->err || count < 0)
		return NSS_STATUS_UNAVAIL;
	first = b->pos;
	if (skip_records(b, count) != 0)
		return NSS_STATUS_UNAVAIL;
	next = kenpo_get_int32(b);
	if (kenpo_frame_close(b) != 0)
		return NSS_STATUS_UNAVAIL;
	/* An offset that does not move forward would never end. */
	if (next != -1 && next <= offset)
		return NSS_STATUS_UNAVAIL;
	b->pos = first;
	ent.left = count;
	ent.next = next;
	return NSS_STATUS_SUCCESS;
}

static enum nss_status
next_entry(struct passwd *pw, char *buffer, size_t buflen)
{
	enum nss_status st;
	struct pw_ref r;
	size_t pos;

	while (ent.left == 0) {
		if (ent.next < 0)
			return NSS_STATUS_NOTFOUND;
		st = fetch_page();
		if (st != NSS_STATUS_SUCCESS) {
			/* End here; setpwent starts again from the beginning. */
			ent_reset(-1);
			return st;
		}
	}
	pos = ent.page.pos;
	if (read_record(&ent.page, &r) != 0) {
		ent_reset(-1);
		return NSS_STATUS_UNAVAIL;
	}
	if (fill_passwd(&r, pw, buffer, buflen) != 0) {
		/* glibc calls again with a larger buffer: give the same record. */
		ent.page.pos = pos;
		return NSS_STATUS_TRYAGAIN;
	}
	ent.left--;
	return NSS_STATUS_SUCCESS;
}

/* No connection is opened here: getpwent_r fetches pages as it needs them. */
enum nss_status
_nss_kenpo_setpwent(int stayopen)
{
	(void)stayopen;
	if (lookups_disabled())
		return NSS_STATUS_UNAVAIL;
	if (pthread_mutex_lock(&ent.lock) != 0)
		return NSS_STATUS_UNAVAIL;
	ent_reset(0);
	pthread_mutex_unlock(&ent.lock);
	return NSS_STATUS_SUCCESS;
}

enum nss_status
_nss_kenpo_getpwent_r(struct passwd *pw, char *buffer, size_t buflen, int *errnop)
{
	enum nss_status st;

	if (lookups_disabled())
		return finish(NSS_STATUS_UNAVAIL, errnop);
	if (pw == NULL || buffer == NULL) {
		*errnop = EINVAL;
		return NSS_STATUS_UNAVAIL;
	}
	if (pthread_mutex_lock(&ent.lock) != 0)
		return finish(NSS_STATUS_UNAVAIL, errnop);
	st = next_entry(pw, buffer, buflen);
	pthread_mutex_unlock(&ent.lock);
	return finish(st, errnop);
}

enum nss_status
_nss_kenpo_endpwent(void)
{
	if (pthread_mutex_lock(&ent.lock) != 0)
		return NSS_STATUS_UNAVAIL;
	ent_reset(0);
	pthread_mutex_unlock(&ent.lock);
	return NSS_STATUS_SUCCESS;
}
