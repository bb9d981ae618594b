/*
 * server.c - accept loop, worker threads and the dispatch table.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "answer.h"
#include "auth.h"
#include "cache.h"
#include "config.h"
#include "log.h"
#include "myldap.h"
#include "passwd.h"
#include "prototab.h"
#include "selfsvc.h"
#include "server.h"

#define QUEUE_MAX 256           /* accepted connections waiting for a worker */
#define IDLE_MS 5000            /* for the first frame and between frames */
#define BUSY_IDLE_MS 500        /* the same while other connections wait */
#define FRAME_MS 5000           /* to receive the rest of a frame, or to send one */
#define REQUESTS_PER_CONN 100
#define PEER_GROUPS_MAX 256

static kenpod_handler handle_ping;
static kenpod_handler handle_cache_flush;

/* Every action kenpod answers, and its handler; its name, who may call it
 * and the layouts of request and answers are in kenpo-proto.h's table. */
static const struct action {
	int32_t code;
	kenpod_handler *handler;
} actions[] = {
	{ KENPO_ACTION_PASSWD_BYNAME, passwd_byname },
	{ KENPO_ACTION_PASSWD_BYUID, passwd_byuid },
	{ KENPO_ACTION_PASSWD_ALL, passwd_all },
	/* Authentication: anyone, as the answers prove nothing without the
	 * password (the PAM module runs in sshd, su, a web server, ...);
	 * SESSION_OPEN writes the member's last login: only the login
	 * programs (root) and the portal may. */
	{ KENPO_ACTION_AUTH_PASSWORD, auth_password },
	{ KENPO_ACTION_AUTH_KEY, auth_key },
	{ KENPO_ACTION_AUTH_RESEND, auth_resend },
	{ KENPO_ACTION_AUTH_ABORT, auth_abort },
	{ KENPO_ACTION_ACCOUNT, auth_account },
	{ KENPO_ACTION_SESSION_OPEN, auth_session_open },
	{ KENPO_ACTION_PASSWORD_CHANGE, auth_password_change },
	/* Self-service: root and the portal group (the web application's
	 * user); mail piped in reaches kenpod through the kenpo tool. */
	{ KENPO_ACTION_GUIDE_REQUEST, selfsvc_guide_request },
	{ KENPO_ACTION_TOKEN_CHECK, selfsvc_token_check },
	{ KENPO_ACTION_REG_LETTER_OPEN, selfsvc_reg_letter_open },
	{ KENPO_ACTION_IDENTITY_CHECK, selfsvc_identity_check },
	{ KENPO_ACTION_IDENTITY_OPEN, selfsvc_identity_open },
	{ KENPO_ACTION_REG_COMPLETE, selfsvc_reg_complete },
	{ KENPO_ACTION_RESET_REQUEST, selfsvc_reset_request },
	{ KENPO_ACTION_RESET_OPEN, selfsvc_reset_open },
	{ KENPO_ACTION_LOGIN_ID_CHECK, selfsvc_login_id_check },
	{ KENPO_ACTION_PROFILE_GET, selfsvc_profile_get },
	{ KENPO_ACTION_PROFILE_SET, selfsvc_profile_set },
	{ KENPO_ACTION_PROFILE_END, selfsvc_profile_end },
	{ KENPO_ACTION_PING, handle_ping },
	{ KENPO_ACTION_CACHE_FLUSH, handle_cache_flush },
};

/* The queue between the accept loop and the workers. */
struct queue {
	pthread_mutex_t lock;
	pthread_cond_t ready;
	int fds[QUEUE_MAX];
	size_t head, count;
	int stopping;
};

struct worker {
	pthread_t thread;
	struct kenpod *kd;
	struct queue *q;
	int stop_fd;            /* readable once kenpod is stopping */
	struct myldap_session *ld;
	unsigned char *inmem, *outmem;
};

/* ---- control actions ---- */

static int
handle_ping(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	kenpo_put_cstring(out, PACKAGE_VERSION);
	return KENPO_RES_OK;
}

static int
handle_cache_flush(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	cache_flush(rq->kd->cache);
	log_msg(LOG_INFO, "cache flushed at the request of uid %lu",
		(unsigned long)rq->peer_uid);
	return KENPO_RES_OK;
}

/* ---- callers ---- */

/* Whether the peer has gid among its groups (SO_PEERGROUPS: the
 * supplementary groups it had when it connected). */
static int
peer_in_group(int fd, gid_t primary, gid_t gid)
{
	gid_t groups[PEER_GROUPS_MAX];
	socklen_t len = sizeof groups;
	size_t i;

	if (primary == gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
		return 0;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

static int
caller_allowed(const struct request *rq, enum kenpo_caller who, int fd)
{
	switch (who) {
	case KENPO_CALLER_ANYONE:
		return 1;
	case KENPO_CALLER_PORTAL:
		if (rq->peer_uid == 0)
			return 1;
		return rq->kd->have_portal_gid &&
		       peer_in_group(fd, rq->peer_gid, rq->kd->portal_gid);
	case KENPO_CALLER_ROOT:
		return rq->peer_uid == 0;
	}
	return 0;
}

static const struct action *
action_find(int32_t code)
{
	size_t i;

	for (i = 0; i < sizeof actions / sizeof actions[0]; i++)
		if (actions[i].code == code)
			return &actions[i];
	return NULL;
}

/* ---- one request ---- */

/* Send an answer carrying only a result. */
static void
answer_only(struct kenpo_buf *out, int32_t code, int32_t result)
{
	kenpo_frame_begin(out, code);
	kenpo_put_int32(out, result);
}

/* Run the handler; leave its answer in out.  A kenpo_result. */
static int
run_action(struct request *rq, const struct action *a, int fd,
	   struct kenpo_buf *in, struct kenpo_buf *out)
{
	const struct kenpo_action_info *info = kenpo_action_find(a->code);
	size_t resultpos, fields;
	uint32_t word;
	int result;

	log_setrequest("%s", info->log_name);
	if (!caller_allowed(rq, info->who, fd)) {
		log_msg(LOG_NOTICE, "refused to uid %lu", (unsigned long)rq->peer_uid);
		answer_only(out, rq->action, KENPO_RES_DENIED);
		return KENPO_RES_DENIED;
	}
	/* The request's fields, as the table gives them, before any handler
	 * reads one. */
	if (kenpo_fields_check(in, info->request) != 0) {
		answer_only(out, rq->action, KENPO_RES_BADREQ);
		return KENPO_RES_BADREQ;
	}
	kenpo_frame_begin(out, rq->action);
	resultpos = out->len;
	kenpo_put_int32(out, KENPO_RES_OK);
	fields = out->len;
	result = a->handler(rq, in, out);
	if (result == KENPO_RES_OK)
		return result;
	/* Other results keep the fields the handler wrote for them (an
	 * authentication outcome's language, seconds, ...); the generic
	 * failures never carry any. */
	if (out->len == fields || out->err || result == KENPO_RES_BADREQ ||
	    result == KENPO_RES_INTERNAL || result == KENPO_RES_DENIED ||
	    result == KENPO_RES_UNKNOWN) {
		answer_only(out, rq->action, result);
	} else {
		word = htonl((uint32_t)result);
		memcpy(out->data + resultpos, &word, sizeof word);
	}
	return result;
}

/* Answer one received frame.  0 to go on, -1 to close the connection. */
static int
dispatch(struct request *rq, int fd, struct kenpo_buf *in, struct kenpo_buf *out)
{
	const struct action *a = NULL;
	int32_t code = 0;
	int result;

	if (kenpo_frame_open(in, &code) != 0) {
		log_msg(LOG_WARNING, "malformed frame (length or version) from pid %ld; "
			"closing", (long)rq->peer_pid);
		answer_only(out, 0, KENPO_RES_BADREQ);
		result = KENPO_RES_BADREQ;
	} else if ((a = action_find(code)) == NULL) {
		log_msg(LOG_NOTICE, "unknown action 0x%08lx", (unsigned long)(uint32_t)code);
		answer_only(out, code, KENPO_RES_UNKNOWN);
		result = KENPO_RES_UNKNOWN;
	} else {
		rq->action = code;
		result = run_action(rq, a, fd, in, out);
		if (result == KENPO_RES_BADREQ)
			log_msg(LOG_WARNING, "malformed request from pid %ld; closing",
				(long)rq->peer_pid);
	}
	if (kenpo_frame_end(out) != 0) {
		log_msg(LOG_ERR, "answer does not fit in a frame");
		answer_only(out, code, KENPO_RES_INTERNAL);
		(void)kenpo_frame_end(out);
	}
	if (a != NULL)
		(void)answer_check(out, code);
	if (kenpo_send_frame(fd, out, kenpo_now_ms() + FRAME_MS) != 0) {
		log_msg(LOG_DEBUG, "cannot send the answer: %s", strerror(errno));
		return -1;
	}
	return result == KENPO_RES_BADREQ ? -1 : 0;
}

/* ---- one connection ---- */

/* Connections accepted and not yet taken by a worker. */
static size_t
queue_waiting(struct queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->count;
	pthread_mutex_unlock(&q->lock);
	return n;
}

/*
 * Wait until fd has data (1), or kenpod stops, or the client stays silent
 * IDLE_MS (0).  While other connections wait for a worker, silence longer
 * than BUSY_IDLE_MS ends the wait too: clients send their request right
 * after connecting, so a silent connection must not hold a worker that
 * others need.
 */
static int
wait_request(int fd, int stop_fd, struct queue *q)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = stop_fd, .events = POLLIN } };
	int64_t start = kenpo_now_ms(), now, slice;
	int r;

	for (;;) {
		now = kenpo_now_ms();
		if (now - start >= IDLE_MS ||
		    (now - start >= BUSY_IDLE_MS && queue_waiting(q) > 0))
			return 0;
		slice = IDLE_MS - (now - start);
		if (slice > BUSY_IDLE_MS / 2)
			slice = BUSY_IDLE_MS / 2;
		r = poll(p, 2, (int)slice);
		if (r < 0 && errno != EINTR)
			return 0;
		if (r <= 0)
			continue;
		if (p[1].revents & POLLIN)
			return 0;
		return (p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
	}
}

static void
log_recv_error(int err)
{
	switch (err) {
	case ECONNRESET:
		break;  /* the client closed the connection: the normal end */
	case EMSGSIZE:
		log_msg(LOG_WARNING, "oversized frame; closing");
		break;
	case EPROTO:
		log_msg(LOG_WARNING, "short or truncated frame; closing");
		break;
	case ETIMEDOUT:
		log_msg(LOG_WARNING, "frame not received in time; closing");
		break;
	default:
		log_msg(LOG_DEBUG, "receive: %s", strerror(err));
		break;
	}
}

static void
serve_connection(struct worker *w, int fd)
{
	struct request rq = { .kd = w->kd, .ld = w->ld };
	struct kenpo_buf in, out;
	struct ucred cred;
	socklen_t len = sizeof cred;
	int n, r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		log_msg(LOG_ERR, "SO_PEERCRED: %s", strerror(errno));
		return;
	}
	rq.peer_uid = cred.uid;
	rq.peer_gid = cred.gid;
	rq.peer_pid = cred.pid;
	kenpo_buf_init(&in, w->inmem, KENPOD_BUF_SIZE);
	kenpo_buf_init(&out, w->outmem, KENPOD_BUF_SIZE);
	for (n = 0; n < REQUESTS_PER_CONN; n++) {
		if (!wait_request(fd, w->stop_fd, w->q))
			break;
		log_newrequest();
		r = kenpo_recv_frame(fd, &in, kenpo_now_ms() + FRAME_MS);
		if (r != 0)
			log_recv_error(errno);
		else
			r = dispatch(&rq, fd, &in, &out);
		/* Requests and answers carry passwords: wipe both, every time. */
		kenpo_buf_wipe(&in);
		kenpo_buf_wipe(&out);
		log_clearrequest();
		if (r != 0)
			break;
	}
}

/* ---- workers ---- */

/* The next connection, or -1 when kenpod stops. */
static int
queue_take(struct queue *q)
{
	int fd = -1;

	pthread_mutex_lock(&q->lock);
	while (q->count == 0 && !q->stopping)
		pthread_cond_wait(&q->ready, &q->lock);
	if (!q->stopping) {
		fd = q->fds[q->head];
		q->head = (q->head + 1) % QUEUE_MAX;
		q->count--;
	}
	pthread_mutex_unlock(&q->lock);
	return fd;
}

/* Queue a connection; -1 when the queue is full. */
static int
queue_put(struct queue *q, int fd)
{
	int rc = -1;

	pthread_mutex_lock(&q->lock);
	if (q->count < QUEUE_MAX) {
		q->fds[(q->head + q->count) % QUEUE_MAX] = fd;
		q->count++;
		pthread_cond_signal(&q->ready);
		rc = 0;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	int fd;

	while ((fd = queue_take(w->q)) >= 0) {
		serve_connection(w, fd);
		close(fd);
	}
	return NULL;
}

static void
worker_free(struct worker *w)
{
	myldap_session_free(w->ld);
	free(w->inmem);
	free(w->outmem);
	w->ld = NULL;
	w->inmem = w->outmem = NULL;
}

static int
worker_start(struct worker *w)
{
	int rc;

	w->ld = myldap_session_new();
	w->inmem = malloc(KENPOD_BUF_SIZE);
	w->outmem = malloc(KENPOD_BUF_SIZE);
	if (w->ld == NULL || w->inmem == NULL || w->outmem == NULL) {
		worker_free(w);
		return -1;
	}
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc != 0) {
		log_msg(LOG_ERR, "cannot start a worker: %s", strerror(rc));
		worker_free(w);
		return -1;
	}
	return 0;
}

/* ---- the accept loop ---- */

/* Accept one connection and queue it; a full queue closes it at once,
 * so that the accept loop never waits for a worker. */
static void
accept_one(int listen_fd, struct queue *q)
{
	static int64_t last_warning;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			log_msg(LOG_ERR, "accept: %s", strerror(errno));
			/* Let the workers close some before trying again. */
			(void)poll(NULL, 0, 100);
		}
		return;
	}
	if (queue_put(q, fd) == 0)
		return;
	close(fd);
	if (kenpo_now_ms() - last_warning >= 10000) {
		log_msg(LOG_WARNING, "all workers busy and %d connections waiting: "
			"refusing connections", QUEUE_MAX);
		last_warning = kenpo_now_ms();
	}
}

/* Read the control pipe.  1 when kenpod must stop. */
static int
control(struct kenpod *kd, int ctl_fd)
{
	char cmds[16];
	ssize_t n, i;
	int stop = 0;

	n = read(ctl_fd, cmds, sizeof cmds);
	for (i = 0; i < n; i++) {
		if (cmds[i] == 'H') {
			cache_flush(kd->cache);
			log_msg(LOG_INFO, "SIGHUP: cache flushed");
		} else if (cmds[i] == 'T') {
			stop = 1;
		}
	}
	return stop;
}

static void
accept_loop(struct kenpod *kd, int listen_fd, int ctl_fd, struct queue *q)
{
	struct pollfd p[2] = { { .fd = listen_fd, .events = POLLIN },
			       { .fd = ctl_fd, .events = POLLIN } };

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_msg(LOG_ERR, "poll: %s", strerror(errno));
			return;
		}
		if ((p[1].revents & POLLIN) && control(kd, ctl_fd))
			return;
		if (p[0].revents & POLLIN)
			accept_one(listen_fd, q);
	}
}

/* Stop the workers: they finish the request in hand, then return. */
static void
stop_workers(struct queue *q, struct worker *w, size_t n, int stop_wr)
{
	size_t i;

	pthread_mutex_lock(&q->lock);
	q->stopping = 1;
	pthread_cond_broadcast(&q->ready);
	pthread_mutex_unlock(&q->lock);
	if (write(stop_wr, "T", 1) != 1)
		log_msg(LOG_ERR, "cannot wake the workers: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		pthread_join(w[i].thread, NULL);
		worker_free(&w[i]);
	}
	while (q->count > 0) {
		close(q->fds[q->head]);
		q->head = (q->head + 1) % QUEUE_MAX;
		q->count--;
	}
}

/* Start the workers with the signals blocked, so that signals reach the
 * main thread and never interrupt a worker's call into libldap. */
static size_t
start_workers(struct kenpod *kd, struct queue *q, struct worker *w, size_t n, int stop_rd)
{
	sigset_t all, old;
	size_t i;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n; i++) {
		w[i].kd = kd;
		w[i].q = q;
		w[i].stop_fd = stop_rd;
		if (worker_start(&w[i]) != 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return i;
}

int
server_run(struct kenpod *kd, int listen_fd, int ctl_fd)
{
	struct queue q = { .head = 0, .count = 0, .stopping = 0 };
	struct worker *w;
	size_t n = kd->cfg->threads, started = 0;
	int stop[2] = { -1, -1 }, rc = -1;

	pthread_mutex_init(&q.lock, NULL);
	pthread_cond_init(&q.ready, NULL);
	w = calloc(n, sizeof(*w));
	if (w == NULL || pipe2(stop, O_CLOEXEC) != 0) {
		log_msg(LOG_ERR, "cannot set up the workers: %s", strerror(errno));
		goto done;
	}
	started = start_workers(kd, &q, w, n, stop[0]);
	if (started == n) {
		log_msg(LOG_INFO, "serving with %zu workers", n);
		accept_loop(kd, listen_fd, ctl_fd, &q);
		rc = 0;
	}
	stop_workers(&q, w, started, stop[1]);
done:
	if (stop[0] >= 0) {
		close(stop[0]);
		close(stop[1]);
	}
	free(w);
	pthread_cond_destroy(&q.ready);
	pthread_mutex_destroy(&q.lock);
	return rc;
}
