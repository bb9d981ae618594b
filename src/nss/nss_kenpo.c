/*
 * nss_kenpo.c - kenpo members in glibc's passwd database (libnss_kenpo.so.2).
 *
 * This code runs inside every process that looks a user up, so it links
 * nothing but libc and kenpo's client (src/client/client.h).  It reads
 * members from the passwd map kenpod publishes (nss_map.h, pwmap.h)
 * without asking anyone; what the map cannot answer it asks kenpod over
 * its unix socket (see kenpo-proto.h), as nss-pam-ldapd's nss/ asks nslcd:
 * - one connection per call, closed on every path, so nothing is shared
 *   with a forked child or between threads;
 * - one deadline for connect, send and receive together (default 500 ms,
 *   KENPO_NSS_TIMEOUT_MS, 10 to 5000), so a stalled kenpod delays the host
 *   process by at most that, and an absent one not at all;
 * - never a line of output, never exit(): failures are NSS statuses.
 *
 * Environment: KENPO_SOCKET, KENPO_PASSWD_MAP and KENPO_NSS_TIMEOUT_MS are
 * read with secure_getenv (a set-id program ignores them);
 * _KENPO_NSS_LOOPS=NO, set by kenpod, makes every call answer UNAVAIL so
 * that kenpod never waits for itself.
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

#include "client.h"
#include "nss_map.h"

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

/* A PASSWD record as it lies in the receive buffer. */
struct pw_ref {
	struct kenpo_str name, passwd, gecos, dir, shell;
	uint32_t uid, gid;
};

/*
 * Enumeration state, one per process like glibc's own getpwent state; the
 * mutex serialises getpwent_r callers.  The source is chosen at the first
 * getpwent_r after setpwent: the map, nothing (kenpod's enumerate = no),
 * or kenpod's pages.  `next` is the offset of the page to ask for, -1 once
 * the enumeration has ended; `pos` the map's slot to read next.
 */
enum ent_source { ENT_UNDECIDED, ENT_MAP, ENT_SOCKET };

static struct {
	pthread_mutex_t lock;
	enum ent_source source;
	uint32_t pos;
	unsigned char *mem;        /* PAGE_BUF_SIZE bytes, or NULL */
	struct kenpo_buf page;     /* the page being walked */
	struct kenpo_list records; /* its records not yet returned */
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

/* Ask kenpod: the answer, checked against the protocol table, in b.
 * 0, or -1 when kenpod is absent, stalled or misbehaving. */
static int
call(int32_t action, struct kenpo_value v, struct kenpo_buf *b, struct kenpo_reply *r)
{
	struct kenpo_client c = { socket_path(), timeout_ms() };

	return kenpo_call(&c, action, &v, 1, b, r);
}

/* A PASSWD record of a checked answer. */
static int
take_record(const struct kenpo_fields *f, struct pw_ref *r)
{
	/* A nameless entry would confuse every caller. */
	if (f->name.len == 0 || f->name.len > NAME_MAX_LEN)
		return -1;
	r->name = f->name;
	r->passwd = f->passwd;
	r->uid = (uint32_t)f->uid;
	r->gid = (uint32_t)f->gid;
	r->gecos = f->gecos;
	r->dir = f->home;
	r->shell = f->shell;
	return 0;
}

/* Copy s, NUL-terminated, to *next in the caller's buffer. */
static int
copy_str(const struct kenpo_str *s, char **next, size_t *left, char **out)
{
	if (s->len >= *left)
		return -1;
	memcpy(*next, s->p, s->len);
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
	struct kenpo_buf b;
	struct kenpo_reply r;
	struct pw_ref rec;

	kenpo_buf_init(&b, mem, sizeof(mem));
	if (call(action, name != NULL ? kenpo_vstr(name) : kenpo_vint((int32_t)uid), &b, &r) != 0)
		return NSS_STATUS_UNAVAIL;
	if (r.result == KENPO_RES_NOTFOUND)
		return NSS_STATUS_NOTFOUND;
	if (r.result != KENPO_RES_OK || take_record(&r.f, &rec) != 0)
		return NSS_STATUS_UNAVAIL;
	/* An answer about another uid is a confused kenpod, not a user. */
	if (name == NULL && rec.uid != (uint32_t)uid)
		return NSS_STATUS_UNAVAIL;
	return fill_passwd(&rec, pw, buffer, buflen) == 0 ? NSS_STATUS_SUCCESS :
							    NSS_STATUS_TRYAGAIN;
}

/* The status of an answer of the map, or -1: ask kenpod. */
static int
map_status(enum nss_map_rc rc)
{
	if (rc == NSS_MAP_HIT)
		return NSS_STATUS_SUCCESS;
	return rc == NSS_MAP_RANGE ? NSS_STATUS_TRYAGAIN : -1;
}

enum nss_status
_nss_kenpo_getpwnam_r(const char *name, struct passwd *pw, char *buffer, size_t buflen,
		      int *errnop)
{
	int st;

	if (lookups_disabled())
		return finish(NSS_STATUS_UNAVAIL, errnop);
	if (name == NULL || name[0] == '\0' || strnlen(name, NAME_MAX_LEN + 1) > NAME_MAX_LEN)
		return finish(NSS_STATUS_NOTFOUND, errnop);
	if (pw == NULL || buffer == NULL) {
		*errnop = EINVAL;
		return NSS_STATUS_UNAVAIL;
	}
	st = map_status(nss_map_byname(socket_path(), name, pw, buffer, buflen));
	if (st >= 0)
		return finish((enum nss_status)st, errnop);
	return finish(lookup(name, 0, pw, buffer, buflen), errnop);
}

enum nss_status
_nss_kenpo_getpwuid_r(uid_t uid, struct passwd *pw, char *buffer, size_t buflen, int *errnop)
{
	int st;

	if (lookups_disabled())
		return finish(NSS_STATUS_UNAVAIL, errnop);
	if (pw == NULL || buffer == NULL) {
		*errnop = EINVAL;
		return NSS_STATUS_UNAVAIL;
	}
	st = map_status(nss_map_byuid(socket_path(), uid, pw, buffer, buflen));
	if (st >= 0)
		return finish((enum nss_status)st, errnop);
	return finish(lookup(NULL, uid, pw, buffer, buflen), errnop);
}

/* ---- enumeration (ent.lock held) ---- */

static void
ent_reset(int32_t next)
{
	free(ent.mem);
	ent.mem = NULL;
	ent.records.count = ent.records.done = 0;
	ent.next = next;
	/* An ended enumeration stays ended until setpwent. */
	ent.source = next < 0 ? ENT_SOCKET : ENT_UNDECIDED;
	ent.pos = 0;
}

/* Walk over the records of a page, checking each. */
static int
check_records(const struct kenpo_buf *b, struct kenpo_list l)
{
	struct kenpo_fields f;
	struct pw_ref r;
	int more;

	while ((more = kenpo_list_next(b, &l, &f)) == 1)
		if (take_record(&f, &r) != 0)
			return -1;
	return more;
}

/*
 * Fetch the page at ent.next and check it whole, so that the walk can trust
 * it.  SUCCESS, NOTFOUND when kenpod refuses enumeration, or UNAVAIL.
 */
static enum nss_status
fetch_page(void)
{
	int32_t offset = ent.next;
	struct kenpo_reply r;

	if (ent.mem == NULL && (ent.mem = malloc(PAGE_BUF_SIZE)) == NULL)
		return NSS_STATUS_UNAVAIL;
	kenpo_buf_init(&ent.page, ent.mem, PAGE_BUF_SIZE);
	if (call(KENPO_ACTION_PASSWD_ALL, kenpo_vint(offset), &ent.page, &r) != 0)
		return NSS_STATUS_UNAVAIL;
	if (r.result == KENPO_RES_DENIED)
		return NSS_STATUS_NOTFOUND;
	if (r.result != KENPO_RES_OK || check_records(&ent.page, r.f.records) != 0)
		return NSS_STATUS_UNAVAIL;
	/* An offset that does not move forward would never end. */
	if (r.f.next != -1 && r.f.next <= offset)
		return NSS_STATUS_UNAVAIL;
	ent.records = r.f.records;
	ent.next = r.f.next;
	return NSS_STATUS_SUCCESS;
}

/* The next member from the map; ends the enumeration when the map stops
 * being usable in its middle. */
static enum nss_status
next_from_map(struct passwd *pw, char *buffer, size_t buflen)
{
	switch (nss_map_next(socket_path(), &ent.pos, pw, buffer, buflen)) {
	case NSS_MAP_HIT:
		return NSS_STATUS_SUCCESS;
	case NSS_MAP_RANGE:
		return NSS_STATUS_TRYAGAIN;
	case NSS_MAP_END:
		return NSS_STATUS_NOTFOUND;
	default:
		ent_reset(-1);
		return NSS_STATUS_UNAVAIL;
	}
}

/* Choose where this enumeration comes from. */
static void
ent_decide(void)
{
	if (ent.source != ENT_UNDECIDED)
		return;
	switch (nss_map_enum_source(socket_path())) {
	case NSS_MAP_ENUM_MAP:
		ent.source = ENT_MAP;
		break;
	case NSS_MAP_ENUM_NONE:
		/* As kenpod refuses to list its members. */
		ent.source = ENT_SOCKET;
		ent.next = -1;
		break;
	default:
		ent.source = ENT_SOCKET;
		break;
	}
}

static enum nss_status
next_entry(struct passwd *pw, char *buffer, size_t buflen)
{
	struct kenpo_list before;
	struct kenpo_fields f;
	enum nss_status st;
	struct pw_ref r;

	ent_decide();
	if (ent.source == ENT_MAP)
		return next_from_map(pw, buffer, buflen);
	while (ent.records.done >= ent.records.count) {
		if (ent.next < 0)
			return NSS_STATUS_NOTFOUND;
		st = fetch_page();
		if (st != NSS_STATUS_SUCCESS) {
			/* End here; setpwent starts again from the beginning. */
			ent_reset(-1);
			return st;
		}
	}
	before = ent.records;
	if (kenpo_list_next(&ent.page, &ent.records, &f) != 1 || take_record(&f, &r) != 0) {
		ent_reset(-1);
		return NSS_STATUS_UNAVAIL;
	}
	if (fill_passwd(&r, pw, buffer, buflen) != 0) {
		/* glibc calls again with a larger buffer: give the same record. */
		ent.records = before;
		return NSS_STATUS_TRYAGAIN;
	}
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
