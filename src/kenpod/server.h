/*
 * server.h - kenpod's listener, workers and request dispatch.
 *
 * The main thread accepts connections and hands them to a bounded queue;
 * `threads` workers take them, identify the caller with SO_PEERCRED, read
 * request frames with a deadline and dispatch each through one table that
 * says, per action, its handler and who may call it.  What a handler sees
 * is in request.h.
 */
#ifndef KENPOD_SERVER_H
#define KENPOD_SERVER_H

#include "request.h"

/* Serve on listen_fd until a byte 'T' arrives on ctl_fd (a byte 'H'
 * flushes the cache).  Stops accepting, lets the workers finish the
 * requests in hand, and returns 0, or -1 if the workers could not start. */
int server_run(struct kenpod *kd, int listen_fd, int ctl_fd);

/* Buffer sizes: a whole frame and its length word. */
#define KENPOD_BUF_SIZE (KENPO_PROTO_MAX_FRAME + 4)

#endif
