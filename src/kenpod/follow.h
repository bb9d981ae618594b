/*
 * follow.h - the follower: kenpod's own connection to the directory and
 * its own thread, which reads every member of every society with RFC 4533
 * content synchronisation (syncrepl.h) and keeps the published passwd map
 * (pubmap.h) in step with the directory, whoever changes it: this kenpod,
 * another host's, kenpo-admin or an administrator's ldapmodify.
 *
 * At start and after every reconnection it reads the whole membership
 * into a new file while the old one is still served, and publishes the
 * new file once the directory says the reading is complete; from then on
 * each change the directory announces is applied at once.  When the
 * connection breaks it tries again after 0.5 s, doubling up to 5 s.
 */
#ifndef KENPOD_FOLLOW_H
#define KENPOD_FOLLOW_H

#include "request.h"

struct follow;

/* Start following for kd (kd->map must be set, and conf_begin done: each
 * reading takes the societies of the configuration current when it
 * starts), binding with bind_password (which must outlive the follower).
 * 0 or -1. */
int follow_start(struct kenpod *kd, const char *bind_password, struct follow **out);
/* Stop the thread (within a quarter of a second) and free f. */
void follow_stop(struct follow *f);
/* A reload made a new configuration current: end the reading and make the
 * map again with its settings (the old map is served meanwhile).  arg is
 * the struct follow; the signature is conf_on_reload's. */
void follow_reread(void *arg);

#endif
