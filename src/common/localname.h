/*
 * localname.h - login IDs that would name an account of the host.
 *
 * A member is never a local account (DESIGN.md, architecture 7).  A login
 * ID is refused when it is on the reserved list (the shipped default below
 * plus reserved_login_ids of kenpod.conf) or when another NSS source of
 * this host knows it as a user or a group, without regard to case: "ROOT"
 * is refused as "root" is, since kenpod matches login IDs without regard
 * to case.  Callers must have set _KENPO_NSS_LOOPS=NO (kenpod, kenpo and
 * kenpo-admin do), so that libnss_kenpo does not answer for the members
 * themselves.
 *
 * A member uid range must stay clear of the host's own ranges: 0 to 65535
 * always (system and regular users, Debian's reserved ids, nobody and the
 * 16-bit -1), the ranges of /etc/login.defs, and the subordinate ranges
 * handed out in /etc/subuid (files in user namespaces are owned by them).
 */
#ifndef KENPO_LOCALNAME_H
#define KENPO_LOCALNAME_H

#include <stddef.h>

/* Every uid below this is the host's own, whatever its files say. */
#define KENPO_HOST_UID_LIMIT 65536UL

/* The shipped reserved list, NULL-terminated.  An entry ending in '*' is a
 * prefix ("systemd-*"). */
extern const char *const kenpo_reserved_login_ids[];

/* 1 when `id` (len bytes) matches, without regard to case, an entry of the
 * shipped list or of `extra` (a list separated by spaces or commas, in the
 * form of reserved_login_ids; NULL for none), else 0. */
int kenpo_localname_reserved(const char *id, size_t len, const char *extra);

/* 1 when an NSS source of this host knows `id` (len bytes) as a user or a
 * group, without regard to case, else 0.  Exact names are asked with
 * getpwnam_r/getgrnam_r; other spellings are found in a lower-cased list of
 * every name the sources enumerate, read again at most once a minute.
 * Thread-safe. */
int kenpo_localname_on_host(const char *id, size_t len);

/* The same questions for many names and uids at once (kenpod's passwd
 * map reads every member): only the lists the sources enumerate are
 * consulted, never the sources by name, so that a check costs a binary
 * search instead of a lookup in every source.  A name or uid known only to
 * a source that does not enumerate passes here.  1 when listed, else 0. */
int kenpo_localname_listed(const char *id, size_t len);
int kenpo_localuid_listed(unsigned long uid);

/* KENPO_RULE_ID_RESERVED when either of the two above holds, else 0. */
unsigned kenpo_localname_check(const char *id, size_t len, const char *extra);

/* 0 when a reserved_login_ids value is well-formed: entries of the login
 * ID alphabet, each optionally ending in '*', separated by spaces or
 * commas.  Else -1 with the offending entry described in why. */
int kenpo_localname_list_ok(const char *list, char *why, size_t whysz);

/*
 * 0 when [uid_min, uid_max] overlaps none of the host's ranges (above);
 * else -1 and one line in why naming the range and where it comes from.
 * login_defs and subuid are the files to read (NULL: /etc/login.defs and
 * /etc/subuid); a file that does not exist adds nothing.
 */
int kenpo_host_range_clear(unsigned long uid_min, unsigned long uid_max, const char *login_defs,
			   const char *subuid, char *why, size_t whysz);

#endif
