/*
 * gate.h - how many requests kenpo-web has at kenpod at once.
 *
 * kenpo-web serves each connection in a thread of its own, so a crowd of
 * members logging in at once (a portal behind one proxy, 200 keys typed
 * in the same second) would put as many requests at kenpod at the same
 * moment.  kenpod queues a bounded number in each lane and answers the
 * rest UNAVAIL at once, which the member would read as a failed login.
 * A portal is one client multiplexing many members: it waits its turn
 * here instead, and kenpod sees at most `kenpod_concurrency` logins (PAM
 * transactions) and as many self-service calls of this kenpo-web at a
 * time, each served as soon as a worker is free.  A request that waits
 * longer than GATE_WAIT_MS gets the "not available" page, as when kenpod
 * cannot be reached.
 */
#ifndef KENPO_WEB_GATE_H
#define KENPO_WEB_GATE_H

#include <pthread.h>

#define GATE_WAIT_MS 20000

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	unsigned inside, max;
};

/* A gate for `max` at once.  0, or -1. */
int gate_init(struct gate *g, unsigned max);
void gate_destroy(struct gate *g);
/* Wait for a place, at most GATE_WAIT_MS.  0 with the place taken, or -1. */
int gate_enter(struct gate *g);
void gate_leave(struct gate *g);

#endif
