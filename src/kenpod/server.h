/*
 * server.h - kenpod's listener, workers and request dispatch.
 *
 * The main thread accepts connections and hands them to a bounded queue;
 * `threads` workers take them, identify the caller with SO_PEERCRED, read
 * request frames with a deadline and dispatch each through one table that
 * says, per action, its handler and who may call it.
 */
#ifndef KENPOD_SERVER_H
#define KENPOD_SERVER_H

#include <stdint.h>
#include <sys/types.h>
#include "proto.h"
#include "secret.h"

struct kenpo_config;
struct cache;
struct myldap_session;

/* What the whole daemon shares; read-only once the workers run (the
 * cache locks itself). */
struct kenpod {
	const struct kenpo_config *cfg;
	struct cache *cache;
	int have_secret;
	unsigned char secret[KENPO_SERVER_SECRET_BYTES];
	int have_portal_gid;
	gid_t portal_gid;
};

/* One request, as a handler sees it. */
struct request {
	const struct kenpod *kd;
	struct myldap_session *ld;      /* the worker's directory session */
	uid_t peer_uid;
	gid_t peer_gid;
	pid_t peer_pid;
	int32_t action;
};

/*
 * A handler reads its fields from `in` (positioned after the action) and
 * must check with kenpo_frame_close() that they filled the frame exactly.
 * It writes the fields of its answer into `out` and returns a
 * kenpo_result.  Fields written with another result than KENPO_RES_OK are
 * sent too (kenpo-proto.h gives some results fields, e.g. a language and
 * seconds), except for BADREQ, INTERNAL, DENIED and UNKNOWN, which never
 * carry any.  KENPO_RES_BADREQ closes the connection.  The request has
 * been checked against the table before the handler runs, and the answer
 * is checked against it after (answer.h).
 */
typedef int kenpod_handler(struct request *rq, struct kenpo_buf *in,
			   struct kenpo_buf *out);

/* Serve on listen_fd until a byte 'T' arrives on ctl_fd (a byte 'H'
 * flushes the cache).  Stops accepting, lets the workers finish the
 * requests in hand, and returns 0, or -1 if the workers could not start. */
int server_run(struct kenpod *kd, int listen_fd, int ctl_fd);

/* Buffer sizes: a whole frame and its length word. */
#define KENPOD_BUF_SIZE (KENPO_PROTO_MAX_FRAME + 4)

#endif
