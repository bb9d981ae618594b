/*
 * pubmap.h - the passwd map kenpod publishes (DESIGN.md, architecture 8):
 * every registered, enabled member, in a file that libnss_kenpo maps and
 * reads without asking kenpod (pwmap.h), kept up to date from the
 * directory by the follower (follow.h).
 *
 * What kenpod guarantees to the readers:
 * - The file at passwd_map is the current one; a file it replaced says so
 *   (REPLACED) before kenpod lets go of it.
 * - While the follower is in sync with the directory, a change reaches
 *   the map as soon as the directory announces it.  When the follower
 *   loses the directory, the map is still served, as it was, for
 *   cache_positive_ttl (the safety net), then SUSPENDED until a new
 *   reading of the directory replaces it.
 * - A change kenpod makes itself takes the old record out of the lookups
 *   before the request that made it is answered (pubmap_forget), and the
 *   names and uids it changed are looked up in the directory, not only in
 *   the map, for the next RECENT seconds (the directory announces the new
 *   state within milliseconds).
 * - While the follower is in sync, a name or uid the map lacks is nobody's:
 *   kenpod answers "no such user" without asking the directory.
 * - The heartbeat is stamped every second; a kenpod that stops says so
 *   (SUSPENDED) and removes the file, one that dies stops stamping.
 *
 * Workers look members up in the map with pubmap_byname/byuid (no lock
 * but a read lock that only a swap of files takes for writing); every
 * change goes through one mutex.
 */
#ifndef KENPOD_PUBMAP_H
#define KENPOD_PUBMAP_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "mapfile.h"

struct pubmap;

struct pubmap_params {
	const char *path;   /* passwd_map */
	const char *socket; /* kenpod's socket */
	int enumerate;      /* enumerate = yes */
	long safety_ms;     /* how long a map outlives the directory's loss */
};

/* Check that the path can be published (its directory exists) and that
 * no other kenpod publishes there (a live file is locked by its kenpod);
 * mark a file left by a kenpod that died REPLACED, so that its readers
 * let go of it.  0, or -1 with err set. */
int pubmap_new(const struct pubmap_params *p, struct pubmap **out, char *err, size_t errsz);
/* Start stamping the heartbeat.  0 or -1. */
int pubmap_start(struct pubmap *pm);
/* Stop: the file says SUSPENDED and is removed. */
void pubmap_free(struct pubmap *pm);

enum pubmap_hit {
	PUBMAP_NONE = 0, /* no usable map: ask the directory */
	PUBMAP_MISS,     /* the map has no such member (or two), but may be
			       * behind: the directory is not followed right
			       * now, or kenpod changed that name or uid a moment
			       * ago (pubmap_forget); ask the directory */
	PUBMAP_ABSENT,   /* no such member (or two): the map is in step
			       * with the directory */
	PUBMAP_HIT,      /* the record is in out */
};

/* Look a member up in the map (names exactly).  On PUBMAP_HIT the record
 * is in out (outsz >= KENPO_PWREC_MAX). */
enum pubmap_hit pubmap_byname(struct pubmap *pm, const char *name, struct kenpo_pwrec *out,
			      size_t outsz);
enum pubmap_hit pubmap_byuid(struct pubmap *pm, uint32_t uid, struct kenpo_pwrec *out,
			     size_t outsz);
/* kenpod changed the member that had this login ID and uid. */
void pubmap_forget(struct pubmap *pm, const char *name, uint32_t uid);

/* ---- for the follower ---- */

/* A new, unpublished file for a reading of the whole directory, sized for
 * the records the current one holds.  NULL with err set. */
struct mapfile *pubmap_new_file(struct pubmap *pm, char *err, size_t errsz);
/* Put into or drop from an unpublished file, growing it when full.
 * MAPFILE_OK, MAPFILE_SAME or MAPFILE_ERROR. */
enum mapfile_rc pubmap_file_put(struct mapfile **m, const unsigned char *uuid,
				const struct kenpo_pwrec *rec);
/* Publish a complete file in place of the current one (which goes
 * REPLACED); the follower is then in sync.  0, or -1 (the file is freed). */
int pubmap_publish(struct pubmap *pm, struct mapfile *m);
/* Changes the directory announced, into the published file.  A file that
 * is full is replaced by a larger one. */
void pubmap_put(struct pubmap *pm, const unsigned char *uuid, const struct kenpo_pwrec *rec);
void pubmap_drop(struct pubmap *pm, const unsigned char *uuid);
/* The follower lost the directory (or found it again: in_sync 1). */
void pubmap_in_sync(struct pubmap *pm, int in_sync);
/* Members in the published map. */
size_t pubmap_count(struct pubmap *pm);

#endif
