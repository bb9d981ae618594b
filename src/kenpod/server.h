/*
 * server.h - kenpod's server: one event loop and four lanes of workers.
 *
 * One thread, the event loop (loop.h), owns every connection: it accepts
 * them (capping them per peer uid and in all), and reads nothing but the
 * first words of each request frame, so a client that sends half a frame,
 * or nothing, costs a file descriptor and no worker.  When a whole frame
 * has arrived it hands the connection to the lane that the protocol table
 * gives the frame's action (kenpo-proto.h): lookups, authentication,
 * self-service or control.  Each lane has its own bounded queue and its
 * own workers (kenpod.conf: nss_threads, threads, selfservice_threads,
 * control_threads), each worker its own directory session; a full queue
 * is answered UNAVAIL at once.  A worker reads the frame (all of it is
 * there already, so it never waits for a client), answers it through one
 * table that gives each action its handler, sends the answer without
 * waiting (the event loop sends whatever the client is slow to take), and
 * hands the connection back.  What a handler sees is in request.h.
 */
#ifndef KENPOD_SERVER_H
#define KENPOD_SERVER_H

#include <sys/types.h>

#include "kenpo-proto.h"
#include "request.h"

struct kenpo_config;
struct conn;
struct lanes;

/* Serve on listen_fd until a byte 'T' arrives on ctl_fd (a byte 'H'
 * reloads the configuration, conf.h), with the lanes and workers cfg (the
 * configuration kenpod started with) asks for.  Stops accepting, lets the
 * workers finish the requests in hand, and returns 0, or -1 if the
 * workers could not start. */
int server_run(int listen_fd, int ctl_fd, const struct kenpo_config *cfg);

/* Buffer sizes: a whole frame and its length word. */
#define KENPOD_BUF_SIZE (KENPO_PROTO_MAX_FRAME + 4)

/* For the event loop: queue c, whose whole request frame has arrived, in
 * `lane`.  0, or -1 when that lane's queue is full (c stays the loop's). */
int lanes_put(struct lanes *ls, enum kenpo_lane lane, struct conn *c);
/* For the event loop: have a worker of the control lane reload the
 * configuration (SIGHUP). */
void lanes_reload(struct lanes *ls);
/* The name of a lane in kenpod's log lines: "lookup", "authentication"... */
const char *server_lane_name(enum kenpo_lane lane);

/* Whether the peer on fd has gid as its primary group or among the
 * supplementary groups it had when it connected (SO_PEERGROUPS). */
int server_peer_in_group(int fd, gid_t primary, gid_t gid);

#endif
