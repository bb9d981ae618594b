/*
 * http.c - requests in, pages out (see http.h).
 *
 * Why libmicrohttpd: the server is one small C program with no interpreter
 * and no FastCGI process manager, that runs the same behind the TLS proxy
 * of a production host (nginx, the example in web/) and alone in the
 * tests; the library, in Debian, parses HTTP and bounds what a client may
 * send (connections, header memory, time).
 *
 * Two kinds of threads.  The library's own, one per processor, read
 * requests and write answers for every connection through epoll; they
 * answer the static files themselves.  A request for a screen may wait on
 * PAM and on kenpod (a login, a key, a mailed link), and must never hold up
 * another member's page: its connection is suspended and the request goes
 * to a queue that `workers` threads take from.  The worker runs the screen
 * and leaves the answer with the request; the connection is resumed and
 * the library's thread sends it.  With a thread per connection instead,
 * 200 connections on two processors held some answers for half a second
 * to three seconds (tests/bench/README.md).
 *
 * Every answer carries a Content-Security-Policy that allows only this
 * site's own style sheet, script, images and form targets and no framing,
 * and pages are never cached.  A POST must carry the session's CSRF token
 * and must not come from another site; its body is at most request_max
 * bytes of application/x-www-form-urlencoded.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "backend.h"
#include "http.h"
#include "page.h"

#define HEADER_MEMORY (32 * 1024) /* per connection: request line and headers */
#define CONNECTION_TIMEOUT 30     /* seconds without traffic */
#define COOKIE_SECURE "__Host-kenpo"
#define COOKIE_PLAIN "kenpo"
#define MHD_THREADS_MAX 16 /* the library's threads: one per processor, at most this */

static const char csp[] =
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

extern const char web_css[], web_js[];

static struct MHD_Daemon *daemon_handle;

/* An answer, made by a screen (in a worker) and sent by the library's
 * thread. */
struct answer {
	unsigned status;
	struct buf body;
	const char *type;                                   /* Content-Type, or NULL */
	int page;                                           /* not to be cached */
	char cookie[160];                                   /* Set-Cookie, or "" */
	char location[sizeof(((struct req *)0)->location)]; /* Location, or "" */
};

/* What one request gathers before it is answered. */
struct upload {
	struct buf body;
	int too_big;
	/* A screen's request, while it waits for a worker and is answered. */
	int answered; /* up->ans is ready: the worker resumed the connection */
	struct MHD_Connection *conn;
	char *url;
	int post;
	const struct kenpo_society *soc; /* the society the path names */
	const char *path;                /* in url, after the society */
	const struct route *route;       /* NULL for POST /prefs */
	struct answer ans;
	struct upload *next; /* in the queue */
};

/* The workers and their queue.  The queue needs no bound of its own: each
 * connection has at most one request in it, and connections_max bounds the
 * connections. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct upload *head, *tail;
	int stopping;
	pthread_t *threads;
	unsigned nthreads;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, NULL, 0 };

/* ---- routes ---- */

#define R_GET 0x1
#define R_POST 0x2
#define R_KEEPS_KEY 0x4 /* visiting it is not leaving the key screen */

static const struct route {
	const char *path;
	unsigned flags;
	screen_fn fn;
} routes[] = {
	{ "/login", R_GET | R_POST, screen_login },
	{ "/key", R_GET | R_POST | R_KEEPS_KEY, screen_key },
	{ "/key/resend", R_POST | R_KEEPS_KEY, screen_key_resend },
	{ "/key/abort", R_POST | R_KEEPS_KEY, screen_key_abort },
	{ "/home", R_GET, screen_home },
	{ "/logout", R_POST | R_KEEPS_KEY, screen_logout },
	{ "/help", R_GET | R_KEEPS_KEY, screen_help },
	{ "/register", R_GET | R_POST, screen_register },
	{ "/register/sent", R_GET, screen_register_sent },
	{ "/guide", R_GET, screen_guide_link },
	{ "/register/start", R_GET | R_POST, screen_register_start },
	{ "/identity/check", R_GET | R_POST, screen_identity },
	{ "/identity/done", R_GET, screen_identity_done },
	{ "/identity", R_GET, screen_identity_link },
	{ "/identity/key", R_GET | R_POST, screen_authkey },
	{ "/register/form", R_GET | R_POST, screen_userinfo },
	{ "/register/done", R_GET, screen_registered },
	{ "/captcha.png", R_GET | R_KEEPS_KEY, screen_captcha },
	{ "/forgot", R_GET | R_POST, screen_forgot },
	{ "/forgot/sent", R_GET, screen_forgot_sent },
	{ "/reset", R_GET, screen_reset_link },
	{ "/reset/login", R_GET | R_POST, screen_temp_login },
	{ "/password/new", R_GET | R_POST, screen_forced_change },
	{ "/password", R_GET | R_POST, screen_password },
	{ "/profile", R_GET | R_POST, screen_profile },
};

static const struct route *
find_route(const char *path)
{
	size_t i;

	for (i = 0; i < sizeof routes / sizeof routes[0]; i++)
		if (strcmp(routes[i].path, path) == 0)
			return &routes[i];
	return NULL;
}

/* ---- what the screens call ---- */

void
req_redirect(struct req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->location, sizeof r->location, fmt, ap);
	va_end(ap);
	r->status = MHD_HTTP_SEE_OTHER;
}

const char *
req_query(const struct req *r, const char *name)
{
	const char *v = r->query(r->query_ctx, name);

	return v != NULL && form_value_ok(v) ? v : NULL;
}

static const char *
mhd_query(void *ctx, const char *name)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- answering ---- */

static void
add_headers(struct MHD_Response *resp, int page)
{
	MHD_add_response_header(resp, "Content-Security-Policy", csp);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
	MHD_add_response_header(resp, "Permissions-Policy",
				"camera=(), microphone=(), "
				"geolocation=(), interest-cohort=()");
	MHD_add_response_header(resp, "Cache-Control",
				page ? "no-store" : "public, max-age=3600");
}

/* Send the answer (the library's thread only); its buffers are freed. */
static enum MHD_Result
send_answer(struct MHD_Connection *conn, struct answer *a)
{
	struct MHD_Response *resp;
	struct buf *b = &a->body;
	enum MHD_Result ret = MHD_NO;

	if (b->err) {
		buf_free(b);
		a->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		buf_add(b, "Internal error\n", 15);
		a->type = "text/plain; charset=utf-8";
	}
	resp = MHD_create_response_from_buffer(b->len, b->len ? b->data : NULL,
					       b->len ? MHD_RESPMEM_MUST_FREE :
							MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		buf_free(b);
		goto done;
	}
	if (b->len == 0)
		free(b->data);
	memset(b, 0, sizeof(*b));
	add_headers(resp, a->page);
	if (a->type != NULL)
		MHD_add_response_header(resp, "Content-Type", a->type);
	if (a->cookie[0] != '\0')
		MHD_add_response_header(resp, "Set-Cookie", a->cookie);
	if (a->location[0] != '\0')
		MHD_add_response_header(resp, "Location", a->location);
	ret = MHD_queue_response(conn, a->status, resp);
	MHD_destroy_response(resp);
done:
	sodium_memzero(a->cookie, sizeof a->cookie);
	return ret;
}

/* A bare error page for requests that never reach a screen. */
static void
answer_plain(struct answer *a, unsigned status, const char *ja, const char *en)
{
	char text[1024];

	snprintf(text, sizeof text,
		 "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset="
		 "\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, "
		 "initial-scale=1\"><title>%u</title><link rel=\"stylesheet\" "
		 "href=\"/static/kenpo.css\"></head><body><main><h1>%u</h1>"
		 "<div class=\"error\" role=\"alert\"><p>%s</p><p lang=\"en\">%s</p></div>"
		 "</main></body></html>\n",
		 status, status, ja, en);
	buf_free(&a->body);
	buf_add(&a->body, text, strlen(text));
	a->status = status;
	a->type = "text/html; charset=utf-8";
	a->page = 1;
}

static enum MHD_Result
send_plain(struct MHD_Connection *conn, unsigned status, const char *ja, const char *en)
{
	struct answer a;

	memset(&a, 0, sizeof a);
	answer_plain(&a, status, ja, en);
	return send_answer(conn, &a);
}

static enum MHD_Result
send_static(struct MHD_Connection *conn, const char *path)
{
	struct answer a;
	const char *text;

	memset(&a, 0, sizeof a);
	if (strcmp(path, "/static/kenpo.css") == 0) {
		text = web_css;
		a.type = "text/css; charset=utf-8";
	} else if (strcmp(path, "/static/kenpo.js") == 0) {
		text = web_js;
		a.type = "text/javascript; charset=utf-8";
	} else {
		return send_plain(conn, MHD_HTTP_NOT_FOUND, "ページが見つかりません。",
				  "Page not found.");
	}
	buf_add(&a.body, text, strlen(text));
	a.status = MHD_HTTP_OK;
	return send_answer(conn, &a);
}

/* ---- who asks ---- */

/* The client's address: the peer, or what a trusted proxy says. */
static void
client_address(const struct web *w, struct MHD_Connection *conn, char *out, size_t outsz)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const char *fwd, *last;
	socklen_t len;

	snprintf(out, outsz, "unknown");
	if (ci == NULL || ci->client_addr == NULL)
		return;
	len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
						       sizeof(struct sockaddr_in);
	if (getnameinfo(ci->client_addr, len, out, (socklen_t)outsz, NULL, 0, NI_NUMERICHOST) !=
	    0)
		snprintf(out, outsz, "unknown");
	if (!web_conf_trusts(w->conf, out))
		return;
	/* The proxy appends the address it saw: the last one is its own word. */
	fwd = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-For");
	if (fwd == NULL)
		return;
	last = strrchr(fwd, ',');
	last = last != NULL ? last + 1 : fwd;
	while (*last == ' ')
		last++;
	if (*last != '\0' && strlen(last) < outsz &&
	    strspn(last, "0123456789abcdefABCDEF.:") == strlen(last))
		snprintf(out, outsz, "%s", last);
}

/* ---- the session ---- */

static const char *
cookie_name(const struct web *w)
{
	return w->conf->cookie_secure ? COOKIE_SECURE : COOKIE_PLAIN;
}

static void
set_cookie_header(const struct web *w, const struct session *s, char *out, size_t outsz)
{
	char id[SESSION_COOKIE_LEN + 1];

	session_cookie(s, id);
	snprintf(out, outsz, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s", cookie_name(w), id,
		 w->conf->cookie_secure ? "; Secure" : "");
	sodium_memzero(id, sizeof id);
}

/* The session of the request, or a new one (*created set). */
static struct session *
get_session(struct req *r, struct MHD_Connection *conn, int *created)
{
	const char *c = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, cookie_name(r->w));
	struct session *s = c != NULL ? session_find(c) : NULL;

	*created = 0;
	if (s != NULL)
		return s;
	if ((s = session_create()) == NULL)
		return NULL;
	s->lang = r->soc->lang;
	*created = 1;
	return s;
}

/* ---- POST bodies ---- */

static int
form_type_ok(struct MHD_Connection *conn)
{
	const char *t = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	static const char want[] = "application/x-www-form-urlencoded";

	return t != NULL && strncasecmp(t, want, sizeof want - 1) == 0 &&
	       (t[sizeof want - 1] == '\0' || t[sizeof want - 1] == ';');
}

/* Another site's page may not make the browser post here (a second line
 * of defence after the token, in browsers that say where a request
 * comes from). */
static int
same_site(struct MHD_Connection *conn)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-Fetch-Site");

	return v == NULL || strcmp(v, "same-origin") == 0 || strcmp(v, "none") == 0;
}

/* ---- the key screen's end ---- */

/* Leaving the key screen for another page voids the key (the manual: the
 * key becomes void when its screen is closed). */
static void
left_key_screen(struct req *r)
{
	if (r->s->state != SS_KEY)
		return;
	if (r->s->key_expiry > session_now())
		(void)be_key_abort(r->s->login, r->s->secret, r->client);
	session_forget_login(r->s);
}

/* ---- dispatch ---- */

static int
prefs(struct req *r)
{
	const char *size = form_get(&r->form, "size"), *lang = form_get(&r->form, "lang");
	const char *back = form_str(&r->form, "back");
	size_t n = strlen(r->sid);

	if (size != NULL)
		r->s->large = strcmp(size, "l") == 0;
	if (lang != NULL)
		(void)kenpo_lang_parse(lang, &r->s->lang);
	/* Back only to a page of this society: no open redirect, no header
	 * injection through the Location. */
	if (back[0] == '/' && strncmp(back + 1, r->sid, n) == 0 && back[n + 1] == '/' &&
	    find_route(back + n + 1) != NULL)
		req_redirect(r, "%s", back);
	else
		req_redirect(r, "/%s/login", r->sid);
	return 0;
}

static void
csrf_refused(struct req *r)
{
	r->status = MHD_HTTP_FORBIDDEN;
	page_begin(r, T(r, "エラー", "Error"), NULL);
	page_error(r,
		   T(r,
		     "この操作は受け付けられませんでした（画面の有効期限が切れたか、"
		     "正しくない送信です）。何も変更されていません。画面を開き直して、もう一度操作してください。",
		     "This request was refused (the page has expired or the request is not "
		     "valid). Nothing was changed. Please open the page again and retry."));
	hf(r, "<p><a href=\"/%s/login\">%s</a></p>", r->sid, T(r, "ログイン画面", "Login page"));
	page_end(r);
}

static void
bad_form(struct req *r, int err)
{
	r->status = err == FORM_ETOOMANY || err == FORM_ETOOLONG ? MHD_HTTP_CONTENT_TOO_LARGE :
								   MHD_HTTP_BAD_REQUEST;
	page_begin(r, T(r, "エラー", "Error"), NULL);
	page_error(r,
		   T(r,
		     "入力内容を受け付けられませんでした（長すぎる値、または使えない文字が含まれています）。"
		     "何も変更されていません。",
		     "The form could not be accepted (a value is too long or holds characters "
		     "that cannot be used). Nothing was changed."));
	hf(r, "<p><a href=\"/%s/login\">%s</a></p>", r->sid, T(r, "ログイン画面", "Login page"));
	page_end(r);
}

static void
run_screen(struct req *r, const struct route *rt, struct upload *up, struct MHD_Connection *conn)
{
	int err;

	if (r->post) {
		err = form_parse(up->body.data != NULL ? up->body.data : "", up->body.len,
				 &r->form);
		if (err != FORM_OK) {
			bad_form(r, err);
			return;
		}
		if (!same_site(conn) || !session_csrf_ok(r->s, form_str(&r->form, "csrf"))) {
			csrf_refused(r);
			return;
		}
		if (strcmp(r->path, "/prefs") == 0) {
			(void)prefs(r);
			return;
		}
	} else if (!(rt->flags & R_KEEPS_KEY)) {
		left_key_screen(r);
	}
	r->s->society[0] = '\0';
	snprintf(r->s->society, sizeof r->s->society, "%s", r->sid);
	rt->fn(r);
}

/* The screen's answer, with the session's cookie when it is new. */
static void
respond(struct req *r, struct answer *a, int created)
{
	if (r->rotate && session_rotate(r->s) == 0)
		created = 1;
	if (created)
		set_cookie_header(r->w, r->s, a->cookie, sizeof a->cookie);
	session_release(r->s);
	r->s = NULL;
	if (r->location[0] != '\0') {
		r->status = MHD_HTTP_SEE_OTHER;
		buf_free(&r->body);
		snprintf(a->location, sizeof a->location, "%s", r->location);
	}
	a->status = r->status;
	a->body = r->body;
	memset(&r->body, 0, sizeof r->body);
	a->type = r->content_type ? r->content_type : "text/html; charset=utf-8";
	a->page = 1;
}

/* "/toyobo/key" -> society "toyobo", path "/key". */
static const struct kenpo_society *
split_path(const struct web *w, const char *url, const char **rest)
{
	const char *slash;
	char id[33];
	size_t n;

	if (url[0] != '/' || (slash = strchr(url + 1, '/')) == NULL)
		return NULL;
	n = (size_t)(slash - url - 1);
	if (n == 0 || n >= sizeof id)
		return NULL;
	memcpy(id, url + 1, n);
	id[n] = '\0';
	*rest = slash;
	return kenpo_config_society(w->kenpod, id);
}

/* A screen's request, in a worker: the answer is left in up->ans.  The
 * connection is suspended meanwhile, so the library does not touch its
 * headers while they are read here. */
static void
handle(struct web *w, struct upload *up)
{
	struct MHD_Connection *conn = up->conn;
	struct answer *a = &up->ans;
	struct req r;
	int created = 0;

	memset(&r, 0, sizeof r);
	r.w = w;
	r.post = up->post;
	r.status = MHD_HTTP_OK;
	r.query = mhd_query;
	r.query_ctx = conn;
	r.soc = up->soc;
	r.sid = r.soc->id;
	r.path = up->path;
	client_address(w, conn, r.client, sizeof r.client);
	if ((r.s = get_session(&r, conn, &created)) == NULL) {
		answer_plain(a, MHD_HTTP_SERVICE_UNAVAILABLE,
			     "ただいま混み合っています。しばらくしてからもう一度お試しください。",
			     "The portal is busy. Please try again later.");
		return;
	}
	r.lang = r.s->lang;
	run_screen(&r, up->route, up, conn);
	respond(&r, a, created);
	form_free(&r.form);
	buf_free(&r.body);
}

/* ---- the workers ---- */

static void *
worker(void *arg)
{
	struct web *w = arg;
	struct upload *up;

	for (;;) {
		pthread_mutex_lock(&pool.lock);
		while (pool.head == NULL && !pool.stopping)
			pthread_cond_wait(&pool.work, &pool.lock);
		up = pool.head;
		if (up != NULL && (pool.head = up->next) == NULL)
			pool.tail = NULL;
		pthread_mutex_unlock(&pool.lock);
		if (up == NULL)
			return NULL; /* stopping, and the queue is empty */
		handle(w, up);
		up->answered = 1;
		MHD_resume_connection(up->conn);
	}
}

/* Hand the request to the workers; -1 when kenpo-web is stopping. */
static int
enqueue(struct MHD_Connection *conn, struct upload *up)
{
	int rc = -1;

	up->conn = conn;
	pthread_mutex_lock(&pool.lock);
	if (!pool.stopping) {
		MHD_suspend_connection(conn);
		up->next = NULL;
		if (pool.tail != NULL)
			pool.tail->next = up;
		else
			pool.head = up;
		pool.tail = up;
		pthread_cond_signal(&pool.work);
		rc = 0;
	}
	pthread_mutex_unlock(&pool.lock);
	return rc;
}

/* Check what needs no session (the society, the route, the method, the
 * form's size and type) and hand the rest to a worker. */
static enum MHD_Result
route(struct web *w, struct MHD_Connection *conn, const char *url, int post, struct upload *up)
{
	const char *path;

	if ((up->url = strdup(url)) == NULL)
		return MHD_NO;
	if ((up->soc = split_path(w, up->url, &path)) == NULL)
		return send_plain(conn, MHD_HTTP_NOT_FOUND, "ページが見つかりません。",
				  "Page not found.");
	up->path = path;
	up->post = post;
	up->route = find_route(path);
	if (up->route == NULL && !(post && strcmp(path, "/prefs") == 0))
		return send_plain(conn, MHD_HTTP_NOT_FOUND, "ページが見つかりません。",
				  "Page not found.");
	if (up->route != NULL && !(up->route->flags & (post ? R_POST : R_GET)))
		return send_plain(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "この操作はできません。",
				  "Method not allowed.");
	if (post && up->too_big)
		return send_plain(conn, MHD_HTTP_CONTENT_TOO_LARGE,
				  "入力内容が大きすぎます。何も変更されていません。",
				  "The form is too large. Nothing was changed.");
	if (post && !form_type_ok(conn))
		return send_plain(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
				  "受け付けられない形式です。", "Unsupported form encoding.");
	if (enqueue(conn, up) != 0)
		return send_plain(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "ただいま停止中です。しばらくしてからもう一度お試しください。",
				  "The portal is stopping. Please try again later.");
	return MHD_YES;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *data, size_t *data_size, void **con_cls)
{
	struct web *w = cls;
	struct upload *up = *con_cls;
	int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

	(void)version;
	if (up != NULL && up->answered) {
		/* Resumed: the worker's answer is ready. */
		up->answered = 0;
		return send_answer(conn, &up->ans);
	}
	if (up == NULL) {
		if ((up = calloc(1, sizeof(*up))) == NULL)
			return MHD_NO;
		*con_cls = up;
		/* Answer once the whole request is in (a body may follow): a
		 * response queued earlier would cost the connection its
		 * keep-alive. */
		return MHD_YES;
	}
	if (post && *data_size > 0) {
		if (up->body.len + *data_size > w->conf->request_max)
			up->too_big = 1;
		else
			buf_add(&up->body, data, *data_size);
		*data_size = 0;
		return MHD_YES;
	}
	if (!post && strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return send_plain(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "この操作はできません。",
				  "Method not allowed.");
	if (strncmp(url, "/static/", 8) == 0)
		return send_static(conn, url);
	if (strcmp(url, "/") == 0) {
		struct answer a;

		memset(&a, 0, sizeof a);
		a.status = MHD_HTTP_SEE_OTHER;
		a.page = 1;
		snprintf(a.location, sizeof a.location, "/%s/login", w->kenpod->societies[0].id);
		return send_answer(conn, &a);
	}
	return route(w, conn, url, post, up);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct upload *up = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (up == NULL)
		return;
	if (up->body.data != NULL)
		sodium_memzero(up->body.data, up->body.cap);
	buf_free(&up->body);
	buf_free(&up->ans.body);
	sodium_memzero(up->ans.cookie, sizeof up->ans.cookie);
	free(up->url);
	free(up);
	*con_cls = NULL;
}

/* ---- start and stop ---- */

static int
listen_address(const struct web_conf *c, struct sockaddr_storage *ss, unsigned *flags)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (c->listen_host[0] == '\0' || inet_pton(AF_INET, c->listen_host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)c->port);
		return 0;
	}
	if (inet_pton(AF_INET6, c->listen_host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)c->port);
		*flags |= MHD_USE_IPv6;
		return 0;
	}
	return -1;
}

/* Stop the workers once the queue is empty; each request in it is
 * answered first, so that no connection stays suspended. */
static void
workers_stop(void)
{
	unsigned i;

	pthread_mutex_lock(&pool.lock);
	pool.stopping = 1;
	pthread_cond_broadcast(&pool.work);
	pthread_mutex_unlock(&pool.lock);
	for (i = 0; i < pool.nthreads; i++)
		pthread_join(pool.threads[i], NULL);
	free(pool.threads);
	pool.threads = NULL;
	pool.nthreads = 0;
}

static int
workers_start(struct web *w)
{
	unsigned n = w->conf->workers;

	pool.stopping = 0;
	if ((pool.threads = calloc(n, sizeof(*pool.threads))) == NULL)
		return -1;
	for (pool.nthreads = 0; pool.nthreads < n; pool.nthreads++) {
		if (pthread_create(&pool.threads[pool.nthreads], NULL, worker, w) != 0) {
			workers_stop();
			return -1;
		}
	}
	return 0;
}

/* The library's threads: one per processor. */
static unsigned
mhd_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > MHD_THREADS_MAX ? MHD_THREADS_MAX : (unsigned)n;
}

int
http_start(struct web *w, char *errbuf, size_t errsz)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME;
	struct sockaddr_storage ss;

	if (listen_address(w->conf, &ss, &flags) != 0) {
		snprintf(errbuf, errsz, "listen: %s is not a numeric address",
			 w->conf->listen_host);
		return -1;
	}
	if (workers_start(w) != 0) {
		snprintf(errbuf, errsz, "cannot start %u workers", w->conf->workers);
		return -1;
	}
	daemon_handle =
		MHD_start_daemon(flags, (uint16_t)w->conf->port, NULL, NULL, on_request, w,
				 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				 MHD_OPTION_THREAD_POOL_SIZE, mhd_threads(),
				 MHD_OPTION_CONNECTION_LIMIT, (unsigned)w->conf->connections_max,
				 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY,
				 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT,
				 MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	if (daemon_handle == NULL) {
		workers_stop();
		snprintf(errbuf, errsz, "cannot listen on %s port %u", w->conf->listen_host,
			 w->conf->port);
		return -1;
	}
	return 0;
}

void
http_stop(void)
{
	workers_stop();
	if (daemon_handle != NULL)
		MHD_stop_daemon(daemon_handle);
	daemon_handle = NULL;
}
