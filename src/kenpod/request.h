/*
 * request.h - what a handler of kenpod sees: the daemon's shared state,
 * the request in hand and the handler's signature.  The handlers (auth.c,
 * passwd.c, the self-service flows) include this; only main.c and the
 * dispatch table of server.c need server.h.
 */
#ifndef KENPOD_REQUEST_H
#define KENPOD_REQUEST_H

#include <stdint.h>
#include <sys/types.h>
#include "proto.h"
#include "secret.h"

struct kenpo_config;
struct cache;
struct pubmap;
struct myldap_session;

/* What the whole daemon shares, as one reading of the configuration
 * sees it (conf.h): read-only, and valid until the request ends (the cache
 * locks itself).  Anything that outlives the request must take its own
 * hold with conf_hold_same(). */
struct kenpod {
	const struct kenpo_config *cfg;
	struct cache *cache;
	struct pubmap *map; /* the published passwd map (pubmap.h) */
	int have_secret;
	const unsigned char *secret; /* KENPO_SERVER_SECRET_BYTES, for the life of kenpod */
	int have_portal_gid;
	gid_t portal_gid;
};

/* The longest DN a request keeps. */
#define REQUEST_DN_MAX 512

/* One request, as a handler sees it. */
struct request {
	const struct kenpod *kd;
	struct myldap_session *ld; /* the worker's directory session */
	uid_t peer_uid;
	gid_t peer_gid;
	pid_t peer_pid;
	int32_t action;
	/* An entry the worker deletes once the answer has been sent (empty:
	 * none): work whose time the answer must not show. */
	char delete_after[REQUEST_DN_MAX];
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
typedef int kenpod_handler(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out);

#endif
