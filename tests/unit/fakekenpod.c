/*
 * fakekenpod.c - a scripted kenpod (see fakekenpod.h).
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fakekenpod.h"
#include "prototab.h"

struct fake_kenpod fake;

int
fake_setup(const char *name)
{
	snprintf(fake.dir, sizeof(fake.dir), "/tmp/kenpo-test-%s-XXXXXX", name);
	if (mkdtemp(fake.dir) == NULL)
		return -1;
	snprintf(fake.sock, sizeof(fake.sock), "%s/kenpod.sock", fake.dir);
	return 0;
}

void
fake_teardown(void)
{
	unlink(fake.sock);
	rmdir(fake.dir);
}

int64_t
fake_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- frames ---- */

void
fake_put32(struct fake_frame *f, uint32_t v)
{
	uint32_t n = htonl(v);

	assert_true(f->n + 4 <= sizeof(f->d));
	memcpy(f->d + f->n, &n, 4);
	f->n += 4;
}

void
fake_putbytes(struct fake_frame *f, const char *s, size_t len)
{
	fake_put32(f, (uint32_t)len);
	assert_true(f->n + len <= sizeof(f->d));
	memcpy(f->d + f->n, s, len);
	f->n += len;
}

void
fake_putstr(struct fake_frame *f, const char *s)
{
	fake_putbytes(f, s, strlen(s));
}

void
fake_begin(struct fake_frame *f, uint32_t action, uint32_t result)
{
	f->n = 0;
	fake_put32(f, 0);
	fake_put32(f, KENPO_PROTO_VERSION);
	fake_put32(f, action);
	fake_put32(f, result);
}

void
fake_end(struct fake_frame *f)
{
	uint32_t n = htonl((uint32_t)(f->n - 4));

	memcpy(f->d, &n, 4);
}

struct kenpo_buf
fake_reader(struct fake_frame *f)
{
	struct kenpo_buf b;

	kenpo_buf_init(&b, f->d, sizeof(f->d));
	b.len = f->n;
	return b;
}

uint32_t
fake_get32(const unsigned char *p)
{
	uint32_t n;

	memcpy(&n, p, 4);
	return ntohl(n);
}

/* Put the fields of sig (up to its end or the ')' of its group) from ap;
 * the signature after them. */
static const char *
put_sig(struct fake_frame *f, const char *sig, va_list *ap)
{
	const char *item;
	unsigned n, i;

	while (*sig != '\0' && *sig != ')') {
		if (*sig == 'i') {
			fake_put32(f, va_arg(*ap, unsigned));
		} else if (*sig == 's') {
			fake_putstr(f, va_arg(*ap, const char *));
		} else {
			n = va_arg(*ap, unsigned);
			fake_put32(f, n);
			item = sig + 1;
			sig = item;
			while (*sig != ')')
				sig++;
			for (i = 0; i < n; i++)
				(void)put_sig(f, item, ap);
		}
		sig++;
	}
	return sig;
}

void
fake_answer(struct fake_frame *f, uint32_t action, uint32_t result, ...)
{
	int layout = kenpo_answer_layout((int32_t)action, (int32_t)result);
	struct kenpo_buf b;
	enum kenpo_layout lay;
	int32_t res;
	va_list ap;

	if (layout < 0)
		fail_msg("the table gives action 0x%08x no result %s", action,
			 kenpo_result_name((int32_t)result));
	fake_begin(f, action, result);
	va_start(ap, result);
	(void)put_sig(f, kenpo_layout_signatures[layout], &ap);
	va_end(ap);
	fake_end(f);
	/* What the table writes, the table reads. */
	b = fake_reader(f);
	assert_int_equal(kenpo_answer_open(&b, (int32_t)action, &res, &lay), 0);
}

/* Put fields of sig (up to its end or the ')' of its group) with made-up
 * values: INT 7, STR "v", LIST two items; the signature after them. */
static const char *
put_any(struct fake_frame *f, const char *sig)
{
	const char *item;

	while (*sig != '\0' && *sig != ')') {
		if (*sig == 'i') {
			fake_put32(f, 7);
		} else if (*sig == 's') {
			fake_putstr(f, "v");
		} else {
			fake_put32(f, 2);
			item = sig + 1;
			(void)put_any(f, item);
			sig = put_any(f, item);
		}
		sig++;
	}
	return sig;
}

void
fake_answer_any(struct fake_frame *f, uint32_t action, uint32_t result)
{
	int layout = kenpo_answer_layout((int32_t)action, (int32_t)result);

	assert_true(layout >= 0);
	fake_begin(f, action, result);
	(void)put_any(f, kenpo_layout_signatures[layout]);
	fake_end(f);
}

/* ---- the server ---- */

static int
read_full(int fd, unsigned char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = read(fd, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Receive one request into q and check it against the table. */
static void
receive(int fd, struct fake_frame *q)
{
	struct kenpo_buf b;
	int32_t action;
	uint32_t len;

	q->n = 0;
	if (read_full(fd, q->d, 4) != 0)
		return;
	len = fake_get32(q->d);
	if (len > sizeof(q->d) - 4 || read_full(fd, q->d + 4, len) != 0)
		return;
	q->n = 4 + len;
	b = fake_reader(q);
	if (kenpo_request_check(&b, &action) != 0)
		fake.bad_requests++;
}

static void *
fake_main(void *arg)
{
	struct pollfd p = { .fd = fake.lfd, .events = POLLIN };
	int i, fd;

	(void)arg;
	for (i = 0; i < fake.nreplies; i++) {
		if (poll(&p, 1, 10000) != 1)
			break;
		fd = accept(fake.lfd, NULL, NULL);
		if (fd < 0)
			break;
		receive(fd, &fake.req[i]);
		(void)send(fd, fake.reply[i].d, fake.reply[i].n, MSG_NOSIGNAL);
		close(fd);
		fake.served++;
	}
	return NULL;
}

int
fake_listen(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(fake.sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, fake.sock, strlen(fake.sock) + 1);
	unlink(fake.sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

void
fake_start(int nreplies)
{
	assert_true(nreplies >= 0 && nreplies <= FAKE_MAX_CONN);
	fake.nreplies = nreplies;
	fake.lfd = fake_listen();
	fake.served = 0;
	fake.bad_requests = 0;
	memset(fake.req, 0, sizeof(fake.req));
	assert_int_equal(pthread_create(&fake.thread, NULL, fake_main, NULL), 0);
}

void
fake_stop(int expected)
{
	struct pollfd p = { .fd = fake.lfd, .events = POLLIN };

	assert_int_equal(pthread_join(fake.thread, NULL), 0);
	assert_int_equal(fake.served, expected);
	assert_int_equal(poll(&p, 1, 0), 0);
	assert_int_equal(fake.bad_requests, 0);
	close(fake.lfd);
	unlink(fake.sock);
}

/* ---- recorded requests ---- */

struct fake_rd
fake_request(const struct fake_frame *f, uint32_t action)
{
	struct fake_rd r = { f, 12 };

	assert_true(f->n >= 12);
	assert_int_equal(fake_get32(f->d), f->n - 4);
	assert_int_equal(fake_get32(f->d + 4), KENPO_PROTO_VERSION);
	assert_int_equal(fake_get32(f->d + 8), action);
	return r;
}

uint32_t
fake_rd32(struct fake_rd *r)
{
	assert_true(r->pos + 4 <= r->f->n);
	r->pos += 4;
	return fake_get32(r->f->d + r->pos - 4);
}

void
fake_rdstr_is(struct fake_rd *r, const char *want)
{
	uint32_t len = fake_rd32(r);

	assert_true(r->pos + len <= r->f->n);
	if (len != strlen(want) || memcmp(r->f->d + r->pos, want, len) != 0)
		fail_msg("request field \"%.*s\", expected \"%s\"", (int)len,
			 (const char *)r->f->d + r->pos, want);
	r->pos += len;
}

void
fake_rd_end(const struct fake_rd *r)
{
	assert_int_equal(r->pos, r->f->n);
}
