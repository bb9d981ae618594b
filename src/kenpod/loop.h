/*
 * loop.h - kenpod's event loop: the connections, their deadlines and
 * caps (see server.h for the whole).
 *
 * The loop waits in epoll on the listening socket, the control pipe of the
 * signal handlers, an eventfd the workers signal, and every connection.
 * A frame is only looked at, never read, until all of it has arrived: its
 * bytes wait in the socket, charged to the client's socket buffer, and a
 * worker reads them at once.  Each connection has one deadline at a time:
 * for its first byte after connecting, for the rest of a frame begun, for
 * its next request, or for the client to take an answer; at the deadline
 * the connection is closed.
 */
#ifndef KENPOD_LOOP_H
#define KENPOD_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct lanes;
struct loop;

enum conn_state {
	CONN_NEW,    /* connected, nothing received yet */
	CONN_IDLE,   /* between requests */
	CONN_FRAME,  /* part of a frame received */
	CONN_BUSY,   /* its request is in a lane: a worker's until handed back */
	CONN_SEND,   /* the loop sends the rest of an answer */
	CONN_CLOSED, /* closed, freed after this round of events */
};

/*
 * One client connection.  The loop owns it in every state but CONN_BUSY;
 * then the lane's queue hands it to a worker, and loop_done() hands it
 * back (both under a lock).
 */
struct conn {
	int fd;
	uid_t uid; /* SO_PEERCRED at accept */
	gid_t gid;
	pid_t pid;
	enum conn_state state;
	unsigned answered; /* requests answered on it */
	int hangup;        /* the client has shut down its side */
	/* The loop's deadline list it is in. */
	int list;         /* -1: none */
	int64_t deadline; /* CLOCK_MONOTONIC ms */
	struct conn *prev, *next;
	struct conn *all_prev, *all_next; /* every open connection */
	/* Written by the worker, read by the loop once handed back. */
	int close_after;       /* close once the answer is out */
	unsigned char *unsent; /* the answer's rest the client did not take yet */
	size_t unsent_len, unsent_off;
	struct conn *done_next; /* handed back, not yet seen by the loop */
};

/* The loop on listen_fd and ctl_fd (the signal handlers' pipe), with room
 * for fd_room connections (what the open files limit leaves).  NULL when
 * out of memory or descriptors (logged). */
struct loop *loop_new(int listen_fd, int ctl_fd, size_t fd_room);
/* Serve until 'T' arrives on the control pipe; 'H' asks ls for a reload.
 * 0, or -1 if epoll failed. */
int loop_run(struct loop *l, struct lanes *ls);
/* Close every connection (the workers must have stopped) and free l. */
void loop_free(struct loop *l);

/* Send an answer on c as far as the socket takes it now, never waiting;
 * the rest goes to c->unsent for the loop to send.  0, or -1 when the
 * connection failed (or no memory for the rest). */
int loop_send_now(struct conn *c, const unsigned char *data, size_t len);

/* From a worker: c's request is answered (or c->close_after set), its answer
 * sent, or its rest left in c->unsent for the loop. */
void loop_done(struct loop *l, struct conn *c);

#endif
