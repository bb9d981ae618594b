/*
 * mapfile.h - one passwd map file as kenpod writes it (the format is
 * pwmap.h's).
 *
 * A file is made under a temporary name beside the published path, filled,
 * then published (renamed over the path) and kept up to date in place
 * under the map's seqlock.  Records are known to kenpod by the entryUUID
 * of their directory entry (an index kept in kenpod's memory, never in the
 * file), which is how the directory names an entry in content
 * synchronisation, also after a rename or when it is deleted.
 *
 * A file has a fixed capacity (records and record bytes); a write that
 * does not fit answers MAPFILE_FULL, and the caller makes a larger file
 * with mapfile_grow.  Freed records are reused by records of the same
 * size.  One writer at a time: the caller serialises every call but the
 * readers' (pwmap.h), which need no lock.
 */
#ifndef KENPOD_MAPFILE_H
#define KENPOD_MAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "pwmap.h"

#define MAPFILE_UUID_LEN 16

struct mapfile;

struct mapfile_params {
	const char *path;   /* where it is published */
	const char *socket; /* kenpod's socket, recorded for the readers */
	uint32_t flags;     /* KENPO_PWMAP_F_* */
	uint32_t stale_ms;  /* heartbeat_max_ms */
	size_t records;     /* records it must hold at least */
	size_t bytes;       /* record bytes it must hold at least */
};

enum mapfile_rc {
	MAPFILE_OK = 0,
	MAPFILE_SAME,  /* put: the record was there as it is */
	MAPFILE_FULL,  /* no room: grow */
	MAPFILE_ERROR, /* a record that cannot be stored (logged) */
};

/* A new file beside p->path (DIR/.NAME.XXXXXX), mapped read-write, its
 * space allocated (posix_fallocate: a full file system fails here, not
 * with SIGBUS later) and locked (flock), status BUILDING.  0, or -1 with
 * err set. */
int mapfile_create(const struct mapfile_params *p, struct mapfile **out, char *err, size_t errsz);
/* Unmap and close; an unpublished file is removed. */
void mapfile_free(struct mapfile *m);

/* Put the record of an entry (a new one, or the entry's new state). */
enum mapfile_rc mapfile_put(struct mapfile *m, const unsigned char uuid[MAPFILE_UUID_LEN],
			    const struct kenpo_pwrec *rec);
/* The entry is gone, or no longer a user.  MAPFILE_OK or MAPFILE_SAME
 * (it was not in the map). */
enum mapfile_rc mapfile_drop(struct mapfile *m, const unsigned char uuid[MAPFILE_UUID_LEN]);
/* Take the record of login ID `name` and uid `uid` out of the lookups at
 * once (kenpod changed that member); the entry's next put brings its new
 * state back.  MAPFILE_OK or MAPFILE_SAME (no such record). */
enum mapfile_rc mapfile_unlink(struct mapfile *m, const char *name, uint32_t uid);

/* A new, unpublished file holding every record of m, made for `records`
 * records and `bytes` record bytes (more than m holds: to grow; about as
 * many: to give back what a file grown in steps has to spare).  0 or -1. */
int mapfile_grow(const struct mapfile *m, size_t records, size_t bytes, struct mapfile **out,
		 char *err, size_t errsz);

/* Records the lookups find, and record bytes in use. */
size_t mapfile_count(const struct mapfile *m);
size_t mapfile_bytes(const struct mapfile *m);
size_t mapfile_size(const struct mapfile *m);
const struct kenpo_pwmap_view *mapfile_view(const struct mapfile *m);

/* Rename the file over its path and make it LIVE.  0 or -1 (errno). */
int mapfile_publish(struct mapfile *m);
void mapfile_heartbeat(struct mapfile *m, int64_t now_ms);
void mapfile_set_status(struct mapfile *m, enum kenpo_pwmap_status status);
/* Mark a published file REPLACED and give its memory back (the bytes
 * after the header become holes: a process still holding the mapping
 * reads zeros and, as the header says, maps the path again). */
void mapfile_retire(struct mapfile *m);
/* Remove the published path if it is still this file. */
void mapfile_unpublish(struct mapfile *m);

#endif
