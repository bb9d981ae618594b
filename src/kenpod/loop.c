/*
 * loop.c - kenpod's event loop (see loop.h and server.h).
 *
 * Connections are registered edge-triggered: an event says something
 * arrived (or the client shut down, or the socket has room again), and the
 * loop then looks at what waits in the socket.  Whatever arrives while a
 * worker has the connection is looked at when the worker hands it back.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "answer.h"
#include "conf.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "prototab.h"
#include "secret.h"
#include "server.h"

#define FIRST_MS 5000         /* from connecting to the first byte */
#define IDLE_MS 5000          /* from an answer to the next request */
#define FRAME_MS 5000         /* from a frame's first byte to its last */
#define SEND_MS 5000          /* for the client to take an answer */
#define REQUESTS_PER_CONN 100 /* answers on one connection; then it is closed */
#define EVENTS_MAX 64         /* epoll events taken at once */
#define ACCEPT_BATCH 64       /* connections accepted per wake-up */
#define ACCEPT_PAUSE_MS 100   /* out of descriptors: wait, then accept again */
#define LOG_EVERY_MS 10000    /* at most one line of a kind in this time */
#define HEAD_BYTES 12         /* a frame's length, version and action */
#define BUSY_ANSWER_MAX 64
/* Room to send is watched only while an answer waits for it: otherwise
 * every answer the client reads would wake the loop once more. */
#define CONN_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLET)

/* The deadline lists.  Every deadline in one list is the same time from
 * the moment the connection joined it, so appending keeps a list in order
 * and the first one is always the next to come. */
enum { LIST_NEW, LIST_IDLE, LIST_FRAME, LIST_SEND, NLISTS };

static const struct list_kind {
	int64_t ms;
	const char *what; /* logged when a deadline passes; NULL: nothing */
} list_kinds[NLISTS] = {
	[LIST_NEW] = { FIRST_MS, "nothing received after connecting" },
	/* The normal end of a connection kept open. */
	[LIST_IDLE] = { IDLE_MS, NULL },
	[LIST_FRAME] = { FRAME_MS, "frame not received in time" },
	[LIST_SEND] = { SEND_MS, "answer not taken in time" },
};

/* The kinds of line written at most once per LOG_EVERY_MS: a client can
 * cause as many as it likes. */
enum {
	LIM_TOTAL,
	LIM_UID,
	LIM_PORTAL,
	LIM_FRAME,
	LIM_ACCEPT,
	LIM_EXPIRE,                     /* one per deadline list */
	LIM_LANE = LIM_EXPIRE + NLISTS, /* one per lane */
	NLIMITS = LIM_LANE + KENPO_NLANES,
};

struct limit {
	int64_t next;          /* no line of the kind before this time */
	unsigned long skipped; /* lines left out since the last one */
};

/* Connections open per uid. */
struct peer {
	uid_t uid;
	unsigned n;
};

struct loop {
	int ep, listen_fd, ctl_fd, wake_fd;
	struct lanes *lanes;
	size_t room; /* connections the open files limit leaves */
	size_t nconns;
	struct conn *all;  /* every open connection */
	struct conn *dead; /* closed in this round, freed after it */
	struct {
		struct conn *head, *tail;
	} lists[NLISTS];
	struct peer *peers; /* sorted by uid */
	size_t npeers, peers_cap;
	int accepting;          /* the listening socket is watched */
	int64_t accept_again;   /* when not: CLOCK_MONOTONIC ms */
	unsigned char *scratch; /* KENPOD_BUF_SIZE: requests answered unread */
	struct limit limits[NLIMITS];
	pthread_mutex_t done_lock;
	struct conn *done; /* handed back by the workers (done_lock) */
};

/* What epoll reports for the descriptors that are not connections. */
static char tag_listen, tag_ctl, tag_wake;

static void conn_read(struct loop *l, struct conn *c, int64_t now);

/* ---- logging ---- */

static void KENPOD_PRINTF(3, 4) limited_log(struct loop *l, int kind, const char *fmt, ...)
{
	struct limit *lim = &l->limits[kind];
	int64_t now = kenpo_now_ms();
	char line[512];
	va_list ap;

	if (lim->next != 0 && now < lim->next) {
		lim->skipped++;
		return;
	}
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (lim->skipped > 0)
		log_msg(LOG_WARNING, "%s (and %lu more since the last such line)", line,
			lim->skipped);
	else
		log_msg(LOG_WARNING, "%s", line);
	lim->skipped = 0;
	lim->next = now + LOG_EVERY_MS;
}

/* ---- connections per uid ---- */

/* The index of uid in l->peers, or where it would go. */
static size_t
peer_slot(const struct loop *l, uid_t uid)
{
	size_t lo = 0, hi = l->npeers, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (l->peers[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static unsigned
peer_count(const struct loop *l, uid_t uid)
{
	size_t i = peer_slot(l, uid);

	return i < l->npeers && l->peers[i].uid == uid ? l->peers[i].n : 0;
}

static int
peer_add(struct loop *l, uid_t uid)
{
	size_t i = peer_slot(l, uid), cap;
	struct peer *grown;

	if (i < l->npeers && l->peers[i].uid == uid) {
		l->peers[i].n++;
		return 0;
	}
	if (l->npeers == l->peers_cap) {
		cap = l->peers_cap > 0 ? 2 * l->peers_cap : 16;
		grown = realloc(l->peers, cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		l->peers = grown;
		l->peers_cap = cap;
	}
	memmove(&l->peers[i + 1], &l->peers[i], (l->npeers - i) * sizeof(*l->peers));
	l->peers[i].uid = uid;
	l->peers[i].n = 1;
	l->npeers++;
	return 0;
}

static void
peer_drop(struct loop *l, uid_t uid)
{
	size_t i = peer_slot(l, uid);

	if (i >= l->npeers || l->peers[i].uid != uid || --l->peers[i].n > 0)
		return;
	memmove(&l->peers[i], &l->peers[i + 1], (l->npeers - i - 1) * sizeof(*l->peers));
	l->npeers--;
}

/* ---- deadline lists ---- */

static void
list_out(struct loop *l, struct conn *c)
{
	if (c->list < 0)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->lists[c->list].head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->lists[c->list].tail = c->prev;
	c->prev = c->next = NULL;
	c->list = -1;
}

static void
list_in(struct loop *l, struct conn *c, int which, int64_t now)
{
	list_out(l, c);
	c->list = which;
	c->deadline = now + list_kinds[which].ms;
	c->prev = l->lists[which].tail;
	if (c->prev != NULL)
		c->prev->next = c;
	else
		l->lists[which].head = c;
	l->lists[which].tail = c;
}

/* Milliseconds epoll may wait: until the next deadline, or for ever. */
static int
next_wait(const struct loop *l, int64_t now)
{
	int64_t first = l->accepting ? -1 : l->accept_again;
	const struct conn *c;
	size_t k;

	for (k = 0; k < NLISTS; k++) {
		c = l->lists[k].head;
		if (c != NULL && (first < 0 || c->deadline < first))
			first = c->deadline;
	}
	if (first < 0)
		return -1;
	if (first <= now)
		return 0;
	return first - now > INT_MAX ? INT_MAX : (int)(first - now);
}

/* ---- opening and closing ---- */

static void
unsent_free(struct conn *c)
{
	/* An answer may carry a ticket or a key's handle. */
	kenpo_wipe_free(c->unsent, c->unsent_len);
	c->unsent = NULL;
	c->unsent_len = c->unsent_off = 0;
}

static void
conn_close(struct loop *l, struct conn *c)
{
	list_out(l, c);
	if (c->all_prev != NULL)
		c->all_prev->all_next = c->all_next;
	else
		l->all = c->all_next;
	if (c->all_next != NULL)
		c->all_next->all_prev = c->all_prev;
	peer_drop(l, c->uid);
	l->nconns--;
	/* Closing the only descriptor of the socket takes it out of epoll. */
	close(c->fd);
	c->fd = -1;
	unsent_free(c);
	c->state = CONN_CLOSED;
	c->next = l->dead;
	l->dead = c;
}

/* Free the connections closed in this round: events for them may still
 * have come in it. */
static void
bury(struct loop *l)
{
	struct conn *c;

	while ((c = l->dead) != NULL) {
		l->dead = c->next;
		free(c);
	}
}

static int
conn_open(struct loop *l, int fd, const struct ucred *cred, int64_t now)
{
	struct epoll_event ev = { .events = CONN_EVENTS };
	struct conn *c = calloc(1, sizeof *c);

	if (c == NULL || peer_add(l, cred->uid) != 0) {
		free(c);
		return -1;
	}
	c->fd = fd;
	c->uid = cred->uid;
	c->gid = cred->gid;
	c->pid = cred->pid;
	c->list = -1;
	ev.data.ptr = c;
	/* What the client sent before this is reported at once. */
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		peer_drop(l, cred->uid);
		free(c);
		return -1;
	}
	c->all_next = l->all;
	if (l->all != NULL)
		l->all->all_prev = c;
	l->all = c;
	l->nconns++;
	c->state = CONN_NEW;
	list_in(l, c, LIST_NEW, now);
	return 0;
}

/* ---- accepting ---- */

/* Whether one more connection may be open for this peer; logs why not.
 * Root and the portal group get max_connections_portal: root's processes
 * (sshd, login, su, cron) look members up and authenticate them for every
 * user of the host, and the portal's web server carries every member's
 * requests under one uid, so a cap meant for one user would lock everyone
 * out; and no other user can connect as them. */
static int
admit(struct loop *l, int fd, const struct ucred *cred)
{
	const struct kenpod *kd = conf_hold();
	const struct kenpo_config *cfg = kd->cfg;
	size_t total = cfg->max_connections < l->room ? cfg->max_connections : l->room;
	unsigned long uid = cred->uid, held = peer_count(l, cred->uid);
	long pid = cred->pid;
	int ok = 1, portal;

	if (l->nconns >= total) {
		limited_log(l, LIM_TOTAL,
			    "%zu connections open, the most %s allows: refusing "
			    "one from uid %lu (pid %ld)",
			    l->nconns,
			    total < cfg->max_connections ? "the open files limit" :
							   "max_connections",
			    uid, pid);
		ok = 0;
	} else if (held >= cfg->max_connections_per_uid) {
		portal = uid == 0 || (kd->have_portal_gid &&
				      server_peer_in_group(fd, cred->gid, kd->portal_gid));
		if (!portal || held >= cfg->max_connections_portal) {
			limited_log(l, portal ? LIM_PORTAL : LIM_UID,
				    "uid %lu has %lu connections "
				    "open, the most %s allows: refusing one more (pid %ld)",
				    uid, held,
				    portal ? "max_connections_portal" : "max_connections_per_uid",
				    pid);
			ok = 0;
		}
	}
	conf_release(kd);
	return ok;
}

/* Stop watching the listening socket for a while (out of descriptors:
 * the pending connections would wake the loop again at once). */
static void
pause_accept(struct loop *l, int64_t now)
{
	struct epoll_event ev = { .events = 0, .data.ptr = &tag_listen };

	limited_log(l, LIM_ACCEPT, "accept: %s: waiting %d ms", strerror(errno), ACCEPT_PAUSE_MS);
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, l->listen_fd, &ev) != 0)
		return;
	l->accepting = 0;
	l->accept_again = now + ACCEPT_PAUSE_MS;
}

static void
resume_accept(struct loop *l, int64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_listen };

	if (l->accepting || now < l->accept_again)
		return;
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, l->listen_fd, &ev) == 0)
		l->accepting = 1;
}

/* Accept one connection.  0, or -1 when there is none (or no room). */
static int
accept_one(struct loop *l, int64_t now)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	int fd = accept4(l->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			pause_accept(l, now);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		log_msg(LOG_ERR, "SO_PEERCRED: %s", strerror(errno));
		close(fd);
		return 0;
	}
	if (!admit(l, fd, &cred)) {
		close(fd);
		return 0;
	}
	if (conn_open(l, fd, &cred, now) != 0) {
		log_msg(LOG_ERR, "cannot take a connection: %s", strerror(errno));
		close(fd);
	}
	return 0;
}

static void
accept_some(struct loop *l, int64_t now)
{
	int i;

	for (i = 0; i < ACCEPT_BATCH; i++)
		if (accept_one(l, now) != 0)
			break;
}

/* ---- sending ---- */

/* Send from p + *off up to len.  0 when all is sent, 1 when the socket
 * has no room for the rest now, -1 on error. */
static int
send_some(int fd, const unsigned char *p, size_t len, size_t *off)
{
	ssize_t n;

	while (*off < len) {
		n = send(fd, p + *off, len - *off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			*off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		return -1;
	}
	return 0;
}

int
loop_send_now(struct conn *c, const unsigned char *data, size_t len)
{
	size_t off = 0;
	int rc = send_some(c->fd, data, len, &off);

	if (rc <= 0)
		return rc;
	c->unsent = malloc(len - off);
	if (c->unsent == NULL)
		return -1;
	memcpy(c->unsent, data + off, len - off);
	c->unsent_len = len - off;
	c->unsent_off = 0;
	return 0;
}

/* An answer is out: wait for the next request, or close. */
static void
answered(struct loop *l, struct conn *c, int64_t now)
{
	c->answered++;
	if (c->close_after || c->answered >= REQUESTS_PER_CONN) {
		conn_close(l, c);
		return;
	}
	c->state = CONN_IDLE;
	list_in(l, c, LIST_IDLE, now);
	/* A request that came while the answer was made gave its event then. */
	conn_read(l, c, now);
}

/* Watch c for room to send (out), or not. */
static int
watch_out(struct loop *l, struct conn *c, int out)
{
	struct epoll_event ev = { .events = CONN_EVENTS | (out ? EPOLLOUT : 0), .data.ptr = c };

	return epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Send the rest of an answer the client was slow to take. */
static void
send_rest(struct loop *l, struct conn *c, int64_t now)
{
	int rc = send_some(c->fd, c->unsent, c->unsent_len, &c->unsent_off);

	if (rc == 1)
		return;
	unsent_free(c);
	if (rc < 0 || watch_out(l, c, 0) != 0)
		conn_close(l, c);
	else
		answered(l, c, now);
}

/* After an answer was handed to the socket: the rest, if any, waits. */
static void
after_send(struct loop *l, struct conn *c, int64_t now)
{
	if (c->unsent == NULL) {
		answered(l, c, now);
		return;
	}
	c->state = CONN_SEND;
	list_in(l, c, LIST_SEND, now);
	/* Room that came meanwhile is reported at once. */
	if (watch_out(l, c, 1) != 0)
		conn_close(l, c);
}

/* ---- requests ---- */

/* UNAVAIL to `action`, in the layout the table gives it (kenpo-proto.h:
 * none, or the default language); UNKNOWN to an action it does not know. */
static void
busy_answer(struct kenpo_buf *out, int32_t action)
{
	int layout = kenpo_answer_layout(action, KENPO_RES_UNAVAIL);
	const struct kenpod *kd;

	kenpo_frame_begin(out, action);
	if (layout < 0) {
		kenpo_put_int32(out, KENPO_RES_UNKNOWN);
		(void)kenpo_frame_end(out);
		return;
	}
	kenpo_put_int32(out, KENPO_RES_UNAVAIL);
	if (layout == KENPO_LAYOUT_LANG) {
		kd = conf_hold();
		kenpo_put_int32(out, (int32_t)kd->cfg->societies[0].lang);
		conf_release(kd);
	}
	(void)kenpo_frame_end(out);
	(void)answer_check(out, action);
}

/* The lane of `action` is full: read the request unseen and answer
 * UNAVAIL at once. */
static void
refuse(struct loop *l, struct conn *c, int32_t action, int64_t now)
{
	unsigned char mem[BUSY_ANSWER_MAX];
	struct kenpo_buf in, out;
	int rc;

	kenpo_buf_init(&in, l->scratch, KENPOD_BUF_SIZE);
	kenpo_buf_init(&out, mem, sizeof mem);
	rc = kenpo_recv_frame(c->fd, &in, now);
	/* It may carry a password. */
	kenpo_buf_wipe(&in);
	if (rc != 0) {
		conn_close(l, c);
		return;
	}
	busy_answer(&out, action);
	if (loop_send_now(c, out.data, out.len) != 0) {
		conn_close(l, c);
		return;
	}
	after_send(l, c, now);
}

/* A whole frame is there: to its lane, or UNAVAIL when that is full. */
static void
conn_request(struct loop *l, struct conn *c, int32_t action, int64_t now)
{
	const struct kenpo_action_info *info = kenpo_action_find(action);
	/* Unknown actions and versions: a worker answers what kenpod says
	 * to them, in the lane nothing urgent waits in. */
	enum kenpo_lane lane = info != NULL ? info->lane : KENPO_LANE_CONTROL;

	list_out(l, c);
	c->state = CONN_BUSY;
	c->close_after = 0;
	if (lanes_put(l->lanes, lane, c) == 0)
		return;
	limited_log(l, LIM_LANE + (int)lane,
		    "the %s lane is full: answering \"unavailable\" "
		    "(uid %lu, pid %ld)",
		    server_lane_name(lane), (unsigned long)c->uid, (long)c->pid);
	refuse(l, c, action, now);
}

/* Part of a frame is there: its deadline runs from now. */
static void
frame_begun(struct loop *l, struct conn *c, int64_t now)
{
	if (c->hangup) {
		/* The client will send no more. */
		limited_log(l, LIM_FRAME,
			    "short or truncated frame from uid %lu (pid %ld); "
			    "closing",
			    (unsigned long)c->uid, (long)c->pid);
		conn_close(l, c);
		return;
	}
	if (c->state == CONN_FRAME)
		return;
	c->state = CONN_FRAME;
	list_in(l, c, LIST_FRAME, now);
}

/* Look at what waits in the socket: nothing, the end, part of a frame,
 * or a whole one. */
static void
conn_read(struct loop *l, struct conn *c, int64_t now)
{
	unsigned char head[HEAD_BYTES];
	uint32_t word, len = 0;
	int queued = 0;
	ssize_t n = recv(c->fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		/* The client closed: the normal end of a connection. */
		conn_close(l, c);
		return;
	}
	if (n >= 4) {
		memcpy(&word, head, sizeof word);
		len = ntohl(word);
		if (len < 8 || len > KENPO_PROTO_MAX_FRAME) {
			limited_log(l, LIM_FRAME,
				    "%s frame (%lu bytes) from uid %lu "
				    "(pid %ld); closing",
				    len < 8 ? "short" : "oversized", (unsigned long)len,
				    (unsigned long)c->uid, (long)c->pid);
			conn_close(l, c);
			return;
		}
	}
	if (n < HEAD_BYTES || ioctl(c->fd, FIONREAD, &queued) != 0 ||
	    (size_t)queued < (size_t)len + 4) {
		frame_begun(l, c, now);
		return;
	}
	memcpy(&word, head + 8, sizeof word);
	conn_request(l, c, (int32_t)ntohl(word), now);
}

static void
conn_event(struct loop *l, struct conn *c, uint32_t events, int64_t now)
{
	if (c->state == CONN_CLOSED)
		return;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->hangup = 1;
	if (c->state == CONN_BUSY)
		return; /* looked at again when the worker hands it back */
	if (c->state == CONN_SEND)
		send_rest(l, c, now);
	else
		conn_read(l, c, now);
}

/* ---- the workers' hand-back ---- */

void
loop_done(struct loop *l, struct conn *c)
{
	uint64_t one = 1;
	int wake;

	pthread_mutex_lock(&l->done_lock);
	/* A list already waiting has woken the loop, or is about to. */
	wake = l->done == NULL;
	c->done_next = l->done;
	l->done = c;
	pthread_mutex_unlock(&l->done_lock);
	if (wake && write(l->wake_fd, &one, sizeof one) != (ssize_t)sizeof one)
		log_msg(LOG_ERR, "cannot wake the event loop: %s", strerror(errno));
}

static void
take_done(struct loop *l, int64_t now)
{
	struct conn *c, *next;
	uint64_t n;

	/* First the count, then the list: a connection handed back after the
	 * list is taken wakes the loop again. */
	if (read(l->wake_fd, &n, sizeof n) < 0 && errno != EAGAIN)
		log_msg(LOG_ERR, "eventfd: %s", strerror(errno));
	pthread_mutex_lock(&l->done_lock);
	c = l->done;
	l->done = NULL;
	pthread_mutex_unlock(&l->done_lock);
	for (; c != NULL; c = next) {
		next = c->done_next;
		c->done_next = NULL;
		after_send(l, c, now);
	}
}

/* ---- the loop ---- */

static void
expired_log(struct loop *l, size_t list, const struct conn *c)
{
	limited_log(l, LIM_EXPIRE + (int)list, "%s from uid %lu (pid %ld); closing",
		    list_kinds[list].what, (unsigned long)c->uid, (long)c->pid);
}

static void
expire(struct loop *l, int64_t now)
{
	struct conn *c;
	size_t k;

	for (k = 0; k < NLISTS; k++) {
		while ((c = l->lists[k].head) != NULL && c->deadline <= now) {
			if (list_kinds[k].what != NULL)
				expired_log(l, k, c);
			conn_close(l, c);
		}
	}
}

/* The signal handlers' commands.  1 when kenpod must stop. */
static int
control(struct loop *l)
{
	char cmds[16];
	ssize_t n, i;
	int stop = 0;

	n = read(l->ctl_fd, cmds, sizeof cmds);
	for (i = 0; i < n; i++) {
		if (cmds[i] == 'H')
			lanes_reload(l->lanes);
		else if (cmds[i] == 'T')
			stop = 1;
	}
	return stop;
}

int
loop_run(struct loop *l, struct lanes *ls)
{
	struct epoll_event ev[EVENTS_MAX];
	int64_t now;
	int i, n;

	l->lanes = ls;
	for (;;) {
		n = epoll_wait(l->ep, ev, EVENTS_MAX, next_wait(l, kenpo_now_ms()));
		if (n < 0 && errno != EINTR) {
			log_msg(LOG_ERR, "epoll_wait: %s", strerror(errno));
			return -1;
		}
		now = kenpo_now_ms();
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == &tag_ctl) {
				if (control(l))
					return 0;
			} else if (ev[i].data.ptr == &tag_wake) {
				take_done(l, now);
			} else if (ev[i].data.ptr == &tag_listen) {
				accept_some(l, now);
			} else {
				conn_event(l, ev[i].data.ptr, ev[i].events, now);
			}
		}
		expire(l, now);
		resume_accept(l, now);
		bury(l);
	}
}

static int
watch(struct loop *l, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev);
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	while (l->all != NULL)
		conn_close(l, l->all);
	bury(l);
	if (l->ep >= 0)
		close(l->ep);
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	free(l->scratch);
	free(l->peers);
	pthread_mutex_destroy(&l->done_lock);
	free(l);
}

struct loop *
loop_new(int listen_fd, int ctl_fd, size_t fd_room)
{
	struct loop *l = calloc(1, sizeof *l);

	if (l == NULL)
		return NULL;
	l->listen_fd = listen_fd;
	l->ctl_fd = ctl_fd;
	l->room = fd_room;
	pthread_mutex_init(&l->done_lock, NULL);
	l->scratch = malloc(KENPOD_BUF_SIZE);
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->scratch == NULL || l->ep < 0 || l->wake_fd < 0 ||
	    watch(l, listen_fd, &tag_listen) != 0 || watch(l, ctl_fd, &tag_ctl) != 0 ||
	    watch(l, l->wake_fd, &tag_wake) != 0) {
		log_msg(LOG_ERR, "cannot set up the event loop: %s", strerror(errno));
		loop_free(l);
		return NULL;
	}
	l->accepting = 1;
	return l;
}
