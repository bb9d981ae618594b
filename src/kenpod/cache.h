/*
 * cache.h - kenpod's cache of passwd answers.
 *
 * Positive answers are kept cache_positive_ttl seconds, "no such user"
 * answers cache_negative_ttl seconds, both by lower-cased name (login IDs
 * are unique without regard to case) and by uid.  Each kind is held in its
 * own list of at most a fixed number of entries, which drops its oldest
 * entry when full: names that are nobody's never push a member out.  It
 * is shared by all workers behind a read-write lock.
 *
 * While the passwd map (pubmap.h) is published, it answers for members and
 * the cache keeps only "no such user" answers (passwd.c).
 *
 * Records are stored in a flat, self-contained, fixed-layout form: one
 * contiguous block per record, a header of 32-bit fields followed by the
 * strings, each addressed by its offset from the start of the block, never
 * by a pointer.  A block can therefore be copied out as is, and a later
 * memory-mapped fast path read directly by libnss_kenpo (as SSSD's mmap
 * cache) can place the same blocks in a shared file without rework.
 */
#ifndef KENPOD_CACHE_H
#define KENPOD_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* One passwd record.  All fields are in host byte order.  The offsets
 * point at NUL-terminated strings inside the block, after the header. */
struct kenpo_pwrec {
	uint32_t size; /* bytes of the whole block, header included */
	uint32_t uid;
	uint32_t gid;
	uint32_t name;   /* canonical login ID, as stored */
	uint32_t passwd; /* always "x" */
	uint32_t gecos;  /* the nickname */
	uint32_t home;
	uint32_t shell;
};

/* Largest block: the header and five strings of at most 1 KiB each. */
#define KENPO_PWREC_STR_MAX 1024
#define KENPO_PWREC_MAX (sizeof(struct kenpo_pwrec) + 5 * (KENPO_PWREC_STR_MAX + 1))

/* Build a record into out (outsz bytes, KENPO_PWREC_MAX is always
 * enough; a byte buffer must be aligned as the structure).  0, or -1 if a string is longer than KENPO_PWREC_STR_MAX. */
int kenpo_pwrec_build(struct kenpo_pwrec *out, size_t outsz, const char *name, uint32_t uid,
		      uint32_t gid, const char *gecos, const char *home, const char *shell);
/* The string at offset `off` of a record built by kenpo_pwrec_build. */
const char *kenpo_pwrec_str(const struct kenpo_pwrec *rec, uint32_t off);

enum cache_hit { CACHE_MISS = 0, CACHE_POSITIVE, CACHE_NEGATIVE };

struct cache;

/* A cache of at most max_entries entries of each kind; a TTL of 0
 * disables that kind of entry.  NULL on allocation failure. */
struct cache *cache_new(size_t max_entries, long positive_ttl, long negative_ttl);
/* Let cache_forget take a member out of the passwd map too. */
struct pubmap;
void cache_attach_map(struct cache *c, struct pubmap *map);
void cache_free(struct cache *c);

/* Look up by name (any case) or by uid.  On CACHE_POSITIVE the record is
 * copied into out (outsz >= KENPO_PWREC_MAX). */
enum cache_hit cache_get_byname(struct cache *c, const char *name, struct kenpo_pwrec *out,
				size_t outsz);
enum cache_hit cache_get_byuid(struct cache *c, uint32_t uid, struct kenpo_pwrec *out,
			       size_t outsz);

/* Remember a record under its name and its uid (replacing what was there).
 * Failure to remember is not an error for the caller: it only costs a
 * lookup later. */
void cache_put(struct cache *c, const struct kenpo_pwrec *rec);
/* Remember that there is no such name / uid. */
void cache_put_missing_name(struct cache *c, const char *name);
void cache_put_missing_uid(struct cache *c, uint32_t uid);

/* Forget whatever is known of this name and of this uid: kenpod calls it
 * when it changes a member (name may be NULL), with the login ID it had
 * and with the one it gets.  The passwd map drops the member's record at
 * once unless the directory has announced the change already. */
void cache_forget(struct cache *c, const char *name, uint32_t uid);
/* Forget everything (SIGHUP, the CACHE_FLUSH action). */
void cache_flush(struct cache *c);

/*
 * The list of all members for PASSWD_ALL: a snapshot, sorted by uid, kept
 * positive_ttl seconds and dropped by cache_flush.  Pages are served from
 * one snapshot by index; a client that pages across a refresh may see a
 * member twice or miss one, which getpwent callers tolerate.
 */
struct cache_list;
/* Take a reference to the current snapshot, or NULL if none is fresh. */
struct cache_list *cache_list_get(struct cache *c);
/* Install a new snapshot made of `n` records (malloc'd blocks whose
 * ownership passes to the cache, as does the array, which may be NULL when
 * n is 0) and return a reference to it.  The records are sorted here.  NULL on allocation failure, in
 * which case the records have been freed. */
struct cache_list *cache_list_put(struct cache *c, struct kenpo_pwrec **recs, size_t n);
size_t cache_list_count(const struct cache_list *l);
const struct kenpo_pwrec *cache_list_at(const struct cache_list *l, size_t i);
void cache_list_release(struct cache_list *l);

#endif
