/*
 * server.c - the lanes, their workers and the dispatch table (see
 * server.h).
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "answer.h"
#include "auth.h"
#include "cache.h"
#include "conf.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "mailer.h"
#include "myldap.h"
#include "passwd.h"
#include "prototab.h"
#include "selfsvc.h"
#include "server.h"

#define PEER_GROUPS_MAX 256
/* Descriptors kept for what is not a connection: syslog, pipes, epoll,
 * files read (zones, templates); and two per worker, its directory session
 * and a relay connection. */
#define FD_RESERVE 64

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
	{ KENPO_ACTION_LOGIN_HISTORY, auth_login_history },
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

/*
 * The lanes.  A request of the lookup lane takes about 50 µs from the
 * cache and one directory search otherwise, one of authentication an
 * argon2 hash (about 0.1 s) and perhaps a mail: the queues hold what the
 * workers can clear well within a client's patience (the NSS module waits
 * a few seconds, pam_kenpo longer).  Beyond that a client is better
 * served by UNAVAIL at once than by an answer too late.
 */
static const struct lane_kind {
	const char *name;
	size_t queue;
} lane_kinds[KENPO_NLANES] = {
	[KENPO_LANE_NSS] = { "lookup", 256 },
	[KENPO_LANE_AUTH] = { "authentication", 64 },
	[KENPO_LANE_SELFSERVICE] = { "self-service", 64 },
	[KENPO_LANE_CONTROL] = { "control", 16 },
};

struct lane;

struct worker {
	pthread_t thread;
	struct lane *lane;
	struct loop *loop;
	struct myldap_session *ld;
	unsigned char *inmem, *outmem;
};

/* One lane: a bounded queue of connections whose request has arrived,
 * and the workers that take them. */
struct lane {
	const struct lane_kind *kind;
	pthread_mutex_t lock;
	pthread_cond_t ready;
	struct conn **queue;
	size_t head, count;
	int stopping;
	int reload; /* the control lane: a reload is asked for */
	struct worker *workers;
	size_t nworkers, started;
};

struct lanes {
	struct lane lane[KENPO_NLANES];
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
	log_msg(LOG_INFO, "cache flushed at the request of uid %lu", (unsigned long)rq->peer_uid);
	return KENPO_RES_OK;
}

/* ---- callers ---- */

int
server_peer_in_group(int fd, gid_t primary, gid_t gid)
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
		       server_peer_in_group(fd, rq->peer_gid, rq->kd->portal_gid);
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

/* Where an action's directory operations go (myldap.h): a passwd lookup
 * may be answered by any replica, the nearest; everything else decides or
 * changes one-time state (keys, tokens, tickets, login IDs, uidNumbers,
 * failures, rates) or reads what such a change left, and goes to the write
 * provider, so that no replica that has not seen the last change decides. */
static enum myldap_route
action_route(int32_t action)
{
	return (uint32_t)action >> 16 == (uint32_t)KENPO_ACTION_PASSWD_BYNAME >> 16 ?
		       MYLDAP_NEAREST :
		       MYLDAP_WRITER;
}

/* Run the handler; leave its answer in out.  A kenpo_result. */
static int
run_action(struct request *rq, const struct action *a, int fd, struct kenpo_buf *in,
	   struct kenpo_buf *out)
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
	myldap_session_route(rq->ld, action_route(rq->action));
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

/* Answer one received frame into out.  0 to go on, -1 to close the
 * connection once the answer is sent. */
static int
dispatch(struct request *rq, int fd, struct kenpo_buf *in, struct kenpo_buf *out)
{
	const struct action *a = NULL;
	int32_t code = 0;
	int result;

	if (kenpo_frame_open(in, &code) != 0) {
		log_msg(LOG_WARNING,
			"malformed frame (length or version) from pid %ld; "
			"closing",
			(long)rq->peer_pid);
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
	return result == KENPO_RES_BADREQ ? -1 : 0;
}

/* ---- one request, in a worker ---- */

static void
log_recv_error(int err)
{
	switch (err) {
	case ECONNRESET:
		break; /* the client closed the connection: the normal end */
	case EMSGSIZE:
		log_msg(LOG_WARNING, "oversized frame; closing");
		break;
	case EPROTO:
		log_msg(LOG_WARNING, "short or truncated frame; closing");
		break;
	default:
		log_msg(LOG_DEBUG, "receive: %s", strerror(err));
		break;
	}
}

/* Read c's request (the loop saw all of it arrive, so a read with no time
 * to wait gets it), answer it and send the answer. */
static void
serve(struct worker *w, struct conn *c)
{
	const struct kenpod *kd = conf_hold();
	struct request rq = {
		.kd = kd, .ld = w->ld, .peer_uid = c->uid, .peer_gid = c->gid, .peer_pid = c->pid
	};
	struct kenpo_buf in, out;

	kenpo_buf_init(&in, w->inmem, KENPOD_BUF_SIZE);
	kenpo_buf_init(&out, w->outmem, KENPOD_BUF_SIZE);
	log_newrequest();
	if (kenpo_recv_frame(c->fd, &in, kenpo_now_ms()) != 0) {
		log_recv_error(errno);
		c->close_after = 1;
	} else {
		mailer_hold();
		c->close_after = dispatch(&rq, c->fd, &in, &out) != 0;
		if (loop_send_now(c, out.data, out.len) != 0) {
			log_msg(LOG_DEBUG, "cannot send the answer: %s", strerror(errno));
			c->close_after = 1;
		}
		mailer_release();
		if (rq.delete_after[0] != '\0' &&
		    myldap_delete(rq.ld, rq.delete_after) != MYLDAP_OK)
			log_msg(LOG_WARNING, "%.200s could not be removed", rq.delete_after);
	}
	/* Requests and answers carry passwords: wipe both, every time. */
	kenpo_buf_wipe(&in);
	kenpo_buf_wipe(&out);
	log_clearrequest();
	conf_release(kd);
}

/* ---- lanes ---- */

const char *
server_lane_name(enum kenpo_lane lane)
{
	return lane_kinds[lane].name;
}

enum take { TAKE_STOP, TAKE_CONN, TAKE_RELOAD };

/* The next thing for a worker of lane ln to do. */
static enum take
lane_take(struct lane *ln, struct conn **c)
{
	enum take what = TAKE_STOP;

	pthread_mutex_lock(&ln->lock);
	while (ln->count == 0 && !ln->reload && !ln->stopping)
		pthread_cond_wait(&ln->ready, &ln->lock);
	if (ln->stopping) {
		what = TAKE_STOP;
	} else if (ln->reload) {
		ln->reload = 0;
		what = TAKE_RELOAD;
	} else {
		*c = ln->queue[ln->head];
		ln->head = (ln->head + 1) % ln->kind->queue;
		ln->count--;
		what = TAKE_CONN;
	}
	pthread_mutex_unlock(&ln->lock);
	return what;
}

int
lanes_put(struct lanes *ls, enum kenpo_lane lane, struct conn *c)
{
	struct lane *ln = &ls->lane[lane];
	int rc = -1;

	pthread_mutex_lock(&ln->lock);
	if (ln->count < ln->kind->queue && !ln->stopping) {
		ln->queue[(ln->head + ln->count) % ln->kind->queue] = c;
		ln->count++;
		pthread_cond_signal(&ln->ready);
		rc = 0;
	}
	pthread_mutex_unlock(&ln->lock);
	return rc;
}

void
lanes_reload(struct lanes *ls)
{
	struct lane *ln = &ls->lane[KENPO_LANE_CONTROL];

	pthread_mutex_lock(&ln->lock);
	ln->reload = 1;
	pthread_cond_signal(&ln->ready);
	pthread_mutex_unlock(&ln->lock);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct conn *c = NULL;
	enum take what;

	while ((what = lane_take(w->lane, &c)) != TAKE_STOP) {
		if (what == TAKE_RELOAD) {
			conf_reload();
			continue;
		}
		serve(w, c);
		loop_done(w->loop, c);
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

/* The workers kenpod.conf gives a lane. */
static unsigned
lane_workers(const struct kenpo_config *cfg, enum kenpo_lane lane)
{
	switch (lane) {
	case KENPO_LANE_NSS:
		return cfg->nss_threads;
	case KENPO_LANE_AUTH:
		return cfg->threads;
	case KENPO_LANE_SELFSERVICE:
		return cfg->selfservice_threads;
	case KENPO_LANE_CONTROL:
		return cfg->control_threads;
	}
	return 1;
}

static int
lane_init(struct lane *ln, enum kenpo_lane lane, const struct kenpo_config *cfg, struct loop *l)
{
	size_t i;

	ln->kind = &lane_kinds[lane];
	ln->nworkers = lane_workers(cfg, lane);
	ln->queue = calloc(ln->kind->queue, sizeof(*ln->queue));
	ln->workers = calloc(ln->nworkers, sizeof(*ln->workers));
	if (ln->queue == NULL || ln->workers == NULL)
		return -1;
	for (i = 0; i < ln->nworkers; i++) {
		ln->workers[i].lane = ln;
		ln->workers[i].loop = l;
	}
	return 0;
}

/* Stop the workers: they finish the request in hand, then return.
 * Connections still queued stay the loop's to close. */
static void
lanes_stop(struct lanes *ls)
{
	struct lane *ln;
	size_t i, k;

	for (k = 0; k < KENPO_NLANES; k++) {
		ln = &ls->lane[k];
		pthread_mutex_lock(&ln->lock);
		ln->stopping = 1;
		pthread_cond_broadcast(&ln->ready);
		pthread_mutex_unlock(&ln->lock);
	}
	for (k = 0; k < KENPO_NLANES; k++) {
		ln = &ls->lane[k];
		for (i = 0; i < ln->started; i++) {
			pthread_join(ln->workers[i].thread, NULL);
			worker_free(&ln->workers[i]);
		}
		ln->started = 0;
	}
}

static void
lanes_free(struct lanes *ls)
{
	size_t k;

	if (ls == NULL)
		return;
	for (k = 0; k < KENPO_NLANES; k++) {
		free(ls->lane[k].queue);
		free(ls->lane[k].workers);
		pthread_cond_destroy(&ls->lane[k].ready);
		pthread_mutex_destroy(&ls->lane[k].lock);
	}
	free(ls);
}

static struct lanes *
lanes_new(const struct kenpo_config *cfg, struct loop *l)
{
	struct lanes *ls = calloc(1, sizeof *ls);
	size_t k;
	int rc = 0;

	if (ls == NULL)
		return NULL;
	for (k = 0; k < KENPO_NLANES; k++) {
		pthread_mutex_init(&ls->lane[k].lock, NULL);
		pthread_cond_init(&ls->lane[k].ready, NULL);
		if (lane_init(&ls->lane[k], (enum kenpo_lane)k, cfg, l) != 0)
			rc = -1;
	}
	if (rc != 0) {
		lanes_free(ls);
		return NULL;
	}
	return ls;
}

/* Start every lane's workers with the signals blocked, so that signals
 * reach the main thread and never interrupt a worker's call into libldap.
 * 0, or -1 when one could not start. */
static int
lanes_start(struct lanes *ls)
{
	sigset_t all, old;
	struct lane *ln;
	size_t k;
	int rc = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (k = 0; k < KENPO_NLANES && rc == 0; k++) {
		ln = &ls->lane[k];
		while (ln->started < ln->nworkers && rc == 0) {
			rc = worker_start(&ln->workers[ln->started]);
			if (rc == 0)
				ln->started++;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* ---- the server ---- */

/* Raise the open files limit as far as allowed, and return the room it
 * leaves for connections. */
static size_t
fd_room(const struct kenpo_config *cfg)
{
	size_t reserve = FD_RESERVE + 2 * ((size_t)cfg->nss_threads + cfg->threads +
					   cfg->selfservice_threads + cfg->control_threads);
	struct rlimit rl = { 1024, 1024 };
	size_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)1 << 24)
		rl.rlim_cur = (rlim_t)1 << 24;
	room = (size_t)rl.rlim_cur > 2 * reserve ? (size_t)rl.rlim_cur - reserve : reserve;
	if (room < cfg->max_connections)
		log_msg(LOG_WARNING,
			"max_connections %u: the open files limit (%lu) leaves "
			"room for %zu",
			cfg->max_connections, (unsigned long)rl.rlim_cur, room);
	return room;
}

int
server_run(int listen_fd, int ctl_fd, const struct kenpo_config *cfg)
{
	struct loop *l = loop_new(listen_fd, ctl_fd, fd_room(cfg));
	struct lanes *ls = l != NULL ? lanes_new(cfg, l) : NULL;
	int rc = -1;

	if (ls == NULL) {
		log_msg(LOG_ERR, "cannot set up the workers: out of memory");
		goto done;
	}
	if (lanes_start(ls) == 0) {
		log_msg(LOG_INFO,
			"serving with %u lookup, %u authentication, %u self-service "
			"and %u control workers",
			cfg->nss_threads, cfg->threads, cfg->selfservice_threads,
			cfg->control_threads);
		rc = loop_run(l, ls);
	}
	lanes_stop(ls);
done:
	loop_free(l);
	lanes_free(ls);
	return rc;
}
