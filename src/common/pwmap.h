/*
 * pwmap.h - the passwd map: members' passwd records in a file that kenpod
 * writes and every process maps read-only (libnss_kenpo reads it without
 * asking kenpod), after SSSD's memory cache (/var/lib/sss/mc/passwd) and
 * nscd's shared databases.
 *
 * This header is the file format and its reader, shared by kenpod (the
 * only writer: src/kenpod/mapfile.c) and the NSS module.  The reader links
 * nothing but libc, never allocates, never blocks and never trusts the
 * file: every offset, length and string is checked before it is used, and
 * every record carries a check value over its bytes.
 *
 * Layout (host byte order; the file never leaves the host):
 *
 *   header   struct kenpo_pwmap_header, at offset 0
 *   names    table_slots entries of 8 bytes: records by login ID
 *   uids     table_slots entries of 8 bytes: records by uid
 *   data     records (struct kenpo_pwmap_rec and its strings), each at an
 *            offset that is a multiple of 8, up to data_end
 *
 * A table entry is (hash << 32 | offset / 8); 0 is an empty entry.  The
 * tables are open-addressed with linear probing and at most half full, so
 * that a lookup reads one or two cache lines of the table and one of the
 * record.  A key may be held by two records for a moment (two members
 * holding one login ID or uid on two providers): a lookup that finds two
 * answers "ask kenpod", which refuses both, as it always has.
 *
 * Consistency: one sequence counter (a seqlock) guards the whole map.
 * kenpod makes it odd before a change and even after; a reader copies what
 * it needs, then checks that the counter is even and unchanged, and else
 * tries again (a few times, then asks kenpod).  Whatever a reader saw
 * during a change is thrown away, so torn reads need only be safe, never
 * right: hence the checks on every read.
 *
 * Life of a file: kenpod fills a new file under a temporary name, renames
 * it over the published path and marks it LIVE.  When it replaces a file
 * (it grew, or the directory was read again) it marks the old one
 * REPLACED, so that every process holding it maps the path again.  While
 * kenpod cannot vouch for the content (it lost the directory for longer
 * than its safety-net TTL, or it is stopping) the file is SUSPENDED.
 * kenpod stamps the heartbeat every KENPO_PWMAP_HEARTBEAT_MS; a reader
 * that finds it older than heartbeat_max_ms treats the map as unusable, so
 * a kenpod that died without a word (SIGKILL) is not believed for longer
 * than that (nscd's clients check the timestamp of its databases alike).
 */
#ifndef KENPO_PWMAP_H
#define KENPO_PWMAP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Where kenpod publishes the map unless passwd_map says otherwise, and
 * where the NSS module looks unless KENPO_PASSWD_MAP says otherwise. */
#define KENPO_PWMAP_PATH RUNDIR "/kenpo/passwd.mc"

#define KENPO_PWMAP_MAGIC 0x314d504bu /* "KPM1" */
#define KENPO_PWMAP_VERSION 1u

enum kenpo_pwmap_status {
	KENPO_PWMAP_BUILDING = 0,  /* being filled, not published yet */
	KENPO_PWMAP_LIVE = 1,      /* current: use it */
	KENPO_PWMAP_REPLACED = 2,  /* another file took its path: map the path again */
	KENPO_PWMAP_SUSPENDED = 3, /* kenpod cannot vouch for it now: ask kenpod */
};

/* Header flags. */
#define KENPO_PWMAP_F_ENUMERATE 0x1u /* enumerate = yes: getpwent reads the map */

#define KENPO_PWMAP_HEARTBEAT_MS 1000
#define KENPO_PWMAP_STALE_MS 3000  /* the default of heartbeat_max_ms */
#define KENPO_PWMAP_SOCKET_MAX 108 /* sun_path */
/* The longest string of a record (as kenpod's records, cache.h). */
#define KENPO_PWMAP_STR_MAX 1024
#define KENPO_PWMAP_REC_MAX (sizeof(struct kenpo_pwmap_rec) + 4 * (KENPO_PWMAP_STR_MAX + 1))
/* Bytes a caller's buffer needs for any record: the record is copied there
 * whole (its check is verified on the copy), followed by "x" for the
 * password field. */
#define KENPO_PWMAP_COPY_MAX (KENPO_PWMAP_REC_MAX + 2)

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");

struct kenpo_pwmap_header {
	/* Fixed when the file is made; covered by header_check. */
	uint32_t magic;
	uint32_t version;
	uint32_t header_size;      /* sizeof(struct kenpo_pwmap_header) */
	uint32_t flags;            /* KENPO_PWMAP_F_* */
	uint64_t file_size;        /* the file is at least this long */
	uint64_t generation;       /* random: tells two files apart */
	uint32_t seed;             /* of the hashes and the record checks */
	uint32_t table_slots;      /* entries of each table, a power of two */
	uint64_t names;            /* offset of the name table */
	uint64_t uids;             /* offset of the uid table */
	uint64_t data_start;       /* offset of the first record */
	uint64_t data_end;         /* end of the record area */
	uint32_t heartbeat_max_ms; /* trust the map this long after a stamp */
	uint32_t reserved;
	char socket[KENPO_PWMAP_SOCKET_MAX]; /* the socket of the kenpod that writes it */
	uint32_t header_check;               /* kenpo_pwmap_hash of everything above */

	/* Changing; the first two under the seqlock. */
	_Atomic uint32_t status; /* enum kenpo_pwmap_status */
	_Atomic uint32_t nrecords;
	_Atomic uint64_t seq;         /* odd while kenpod changes the map */
	_Atomic int64_t heartbeat_ms; /* CLOCK_MONOTONIC ms of kenpod's last stamp */
};

/* One record: the fixed part, then name, gecos, home and shell, each
 * NUL-terminated, then padding to a multiple of 8 bytes. */
struct kenpo_pwmap_rec {
	uint32_t check; /* kenpo_pwmap_hash(seed) of the bytes after this field,
				 * up to the shell's NUL (padding excluded) */
	uint32_t size;  /* bytes of the whole record, padding included */
	uint32_t uid;
	uint32_t gid;
	uint16_t name_len, gecos_len, home_len, shell_len; /* NULs excluded */
	char str[];
};

/* Where a table entry points, and with which hash. */
#define KENPO_PWMAP_ENTRY(hash, off) (((uint64_t)(hash) << 32) | ((uint64_t)(off) >> 3))
#define KENPO_PWMAP_ENTRY_HASH(e) ((uint32_t)((e) >> 32))
#define KENPO_PWMAP_ENTRY_OFF(e) (((e)&0xffffffffu) << 3)

/* Bytes of a record holding strings of these lengths. */
size_t kenpo_pwmap_rec_size(size_t name, size_t gecos, size_t home, size_t shell);

/* MurmurHash3 (x86, 32 bits) of len bytes with a seed: keys, records and
 * the header.  Not a cryptographic hash: the seed is in the file, and it
 * only keeps honest data spread out and catches damage. */
uint32_t kenpo_pwmap_hash(uint32_t seed, const void *data, size_t len);
uint32_t kenpo_pwmap_hash_name(uint32_t seed, const char *name, size_t len);
uint32_t kenpo_pwmap_hash_uid(uint32_t seed, uint32_t uid);
/* The check value of a record whose size and fields are filled in. */
uint32_t kenpo_pwmap_rec_check(uint32_t seed, const struct kenpo_pwmap_rec *r);
uint32_t kenpo_pwmap_header_check(const struct kenpo_pwmap_header *h);

/* ---- reading ---- */

/* A mapped file whose header was found sound (kenpo_pwmap_view_init). */
struct kenpo_pwmap_view {
	const unsigned char *base;
	size_t size;
	const struct kenpo_pwmap_header *h;
	const _Atomic uint64_t *names, *uids;
	uint64_t data_start, data_end;
	uint32_t mask; /* table_slots - 1 */
	uint32_t seed;
};

/* Check the fixed header of a mapping of `size` bytes (the file's size
 * when it was mapped) and fill v.  0, or -1 when the file is not a passwd
 * map of this version, is shorter than its header says (truncated), or
 * its tables or data lie outside it. */
int kenpo_pwmap_view_init(struct kenpo_pwmap_view *v, const void *base, size_t size);

/* What a lookup found. */
enum kenpo_pwmap_found {
	KENPO_PWMAP_HIT = 0,  /* the record is in the caller's buffer */
	KENPO_PWMAP_MISS,     /* no such key, or two records hold it: ask kenpod */
	KENPO_PWMAP_RANGE,    /* the caller's buffer is too small for the record */
	KENPO_PWMAP_BUSY,     /* kenpod kept changing the map: ask kenpod */
	KENPO_PWMAP_UNUSABLE, /* not LIVE, or the heartbeat is stale: ask kenpod */
	KENPO_PWMAP_GONE,     /* REPLACED: map the path again */
	KENPO_PWMAP_CORRUPT,  /* a record failed its checks: stop using this file */
};

/* A record copied out of the map; the strings point into the caller's
 * buffer (pw_passwd's "x" too), after a copy of the record's fixed part. */
struct kenpo_pwent {
	uint32_t uid, gid;
	const char *name, *passwd, *gecos, *home, *shell;
};

/* Whether the map may be used now: LIVE with a fresh heartbeat (HIT),
 * else UNUSABLE or GONE.  now_ms is CLOCK_MONOTONIC. */
enum kenpo_pwmap_found kenpo_pwmap_usable(const struct kenpo_pwmap_view *v, int64_t now_ms);

/* Look a login ID up (exact bytes, as glibc's files module compares), or
 * a uid, and copy the record into buf (buflen bytes; KENPO_PWMAP_COPY_MAX
 * always suffices).  *out is written only on HIT. */
enum kenpo_pwmap_found kenpo_pwmap_byname(const struct kenpo_pwmap_view *v, int64_t now_ms,
					  const char *name, struct kenpo_pwent *out, char *buf,
					  size_t buflen);
enum kenpo_pwmap_found kenpo_pwmap_byuid(const struct kenpo_pwmap_view *v, int64_t now_ms,
					 uint32_t uid, struct kenpo_pwent *out, char *buf,
					 size_t buflen);

/*
 * Enumeration: the record of uid-table slot *pos or of the next slot that
 * holds one, copied as above; *pos is then the slot after it.  HIT, MISS
 * at the end of the table, or a failure as above (the caller may try the
 * same *pos again: it moves only on HIT).  A map that changes meanwhile
 * may show a member twice or not at all, as getpwent callers expect of
 * every changing source.
 */
enum kenpo_pwmap_found kenpo_pwmap_next(const struct kenpo_pwmap_view *v, int64_t now_ms,
					uint32_t *pos, struct kenpo_pwent *out, char *buf,
					size_t buflen);

/* CLOCK_MONOTONIC in milliseconds, the clock of the heartbeat. */
int64_t kenpo_pwmap_now_ms(void);

#endif
