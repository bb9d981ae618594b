/*
 * conf.h - kenpod's configuration, read at start-up and again on SIGHUP.
 *
 * Each reading makes a generation: the struct kenpod that requests see
 * (request.h).  A request holds the generation current when it started
 * until it ends; a reload that succeeds makes a new generation current for
 * the requests that start after it, and the old one is freed when its last
 * hold ends.  So a request never sees two configurations, and no request
 * is dropped or waits for a reload.
 *
 * Some settings are taken only at start-up (the socket, the user, the
 * secret and password files, the directory and relay connections, the
 * argon2 cost, the workers, the cache, and each society's time zone): a
 * reload that changes one says so in the log and keeps the value in use.
 * A file that cannot be read or is wrong changes nothing: the error is
 * logged and the configuration in use stays.
 */
#ifndef KENPOD_CONF_H
#define KENPOD_CONF_H

#include <stddef.h>

#include "request.h"

struct kenpo_config;
struct kenpo_society;

/* Read `path` (NULL: the default) and check what kenpod needs beyond its
 * syntax.  0 with *out, or -1 with one line in err. */
int conf_read(const char *path, struct kenpo_config **out, char *err, size_t errsz);

/* The gid of cfg's portal_group into kd (have_portal_gid 0 without one).
 * 0, or -1 with err. */
int conf_portal_group(const struct kenpo_config *cfg, struct kenpod *kd, char *err, size_t errsz);

/* Make `first` (its configuration stays the caller's, and must outlive
 * conf_end) the current generation.  `path` is the file SIGHUP reads again
 * (NULL: the default), `force_debug` keeps debug lines on whatever the file
 * says (kenpod -d).  0 or -1 (no memory). */
int conf_begin(const struct kenpod *first, const char *path, int force_debug);
/* Release the current generation, once no request holds any. */
void conf_end(void);

/* The current generation, held until conf_release.  Cheap: a lock and a
 * count. */
const struct kenpod *conf_hold(void);
/* One more hold of the generation kd belongs to, for what outlives the
 * request that had it (a mail sent after the answer). */
const struct kenpod *conf_hold_same(const struct kenpod *kd);
/* A hold of the generation whose configuration soc is a society of, for
 * what keeps soc beyond its request; NULL if none is (a bug). */
const struct kenpod *conf_hold_society(const struct kenpo_society *soc);
void conf_release(const struct kenpod *kd);

/* fn(arg) is called after each reload that made a new configuration
 * current (one hook; NULL removes it). */
void conf_on_reload(void (*fn)(void *arg), void *arg);

/* SIGHUP: flush the cache, read the file again, and make it current or
 * log why not.  Runs in a worker of the control lane. */
void conf_reload(void);

#endif
