/*
 * gate.c - a counting gate with a bounded wait (see gate.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <time.h>

#include "gate.h"

int
gate_init(struct gate *g, unsigned max)
{
	pthread_condattr_t attr;
	int rc = -1;

	g->inside = 0;
	g->max = max > 0 ? max : 1;
	if (pthread_condattr_init(&attr) != 0)
		return -1;
	/* The wait is measured on the monotonic clock: setting the time of
	 * day neither lengthens nor cuts it. */
	if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0)
		goto out;
	if (pthread_mutex_init(&g->lock, NULL) != 0)
		goto out;
	if (pthread_cond_init(&g->freed, &attr) != 0) {
		pthread_mutex_destroy(&g->lock);
		goto out;
	}
	rc = 0;
out:
	pthread_condattr_destroy(&attr);
	return rc;
}

void
gate_destroy(struct gate *g)
{
	pthread_cond_destroy(&g->freed);
	pthread_mutex_destroy(&g->lock);
}

int
gate_enter(struct gate *g)
{
	struct timespec until;
	int rc = 0;

	if (clock_gettime(CLOCK_MONOTONIC, &until) != 0)
		return -1;
	until.tv_sec += GATE_WAIT_MS / 1000;
	until.tv_nsec += (long)(GATE_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&g->lock);
	while (g->inside >= g->max && rc == 0)
		rc = pthread_cond_timedwait(&g->freed, &g->lock, &until);
	/* A place may have come free with the timeout. */
	if (g->inside < g->max) {
		g->inside++;
		rc = 0;
	}
	pthread_mutex_unlock(&g->lock);
	return rc == 0 ? 0 : -1;
}

void
gate_leave(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->inside--;
	pthread_cond_signal(&g->freed);
	pthread_mutex_unlock(&g->lock);
}
