/*
 * nss_map.h - the passwd map (pwmap.h) as libnss_kenpo reads it: mapped
 * once per process, read without asking kenpod, and let go of as soon as
 * kenpod says the file was replaced.
 *
 * The rules the module keeps (libnss_kenpo(8)):
 * - A member found in the map is answered from it; anything else (a miss,
 *   a map that is busy, suspended, stale, damaged or absent) is asked of
 *   kenpod over its socket, as before the map existed.
 * - The map is believed only while kenpod's heartbeat in it is at most
 *   heartbeat_max_ms old (3 s): a kenpod that died is not believed longer.
 * - Only the map of the kenpod the module would ask is used: the socket
 *   recorded in the file must be the module's (KENPO_SOCKET or the
 *   default).
 * - The file is mapped read-only and its descriptor closed at once (an
 *   application that closes or reuses descriptor numbers cannot hurt it),
 *   and it is unmapped only when no thread of the process reads it.
 * - Nothing here waits: a lock held by another thread (or by a thread that
 *   does not exist in a forked child) means "ask kenpod this time".
 */
#ifndef KENPO_NSS_MAP_H
#define KENPO_NSS_MAP_H

#include <pwd.h>
#include <stddef.h>
#include <stdint.h>

enum nss_map_rc {
	NSS_MAP_HIT,   /* *pw is filled */
	NSS_MAP_RANGE, /* the buffer is too small: glibc retries with a larger one */
	NSS_MAP_ASK,   /* ask kenpod */
	NSS_MAP_END,   /* enumeration: no more members */
};

/* Look up in the map of the kenpod at `socket`. */
enum nss_map_rc nss_map_byname(const char *socket, const char *name, struct passwd *pw, char *buf,
			       size_t buflen);
enum nss_map_rc nss_map_byuid(const char *socket, uid_t uid, struct passwd *pw, char *buf,
			      size_t buflen);

/* How getpwent is answered now: from the map, not at all (kenpod's
 * enumerate = no), or by kenpod. */
enum nss_map_enum { NSS_MAP_ENUM_MAP, NSS_MAP_ENUM_NONE, NSS_MAP_ENUM_ASK };
enum nss_map_enum nss_map_enum_source(const char *socket);
/* The member at or after *pos (then moved past it): HIT, RANGE (*pos not
 * moved), END, or ASK when the map became unusable meanwhile. */
enum nss_map_rc nss_map_next(const char *socket, uint32_t *pos, struct passwd *pw, char *buf,
			     size_t buflen);

#endif
