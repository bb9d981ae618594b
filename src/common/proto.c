/*
 * proto.c - frames of the kenpod protocol (see kenpo-proto.h).
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

void
kenpo_buf_init(struct kenpo_buf *b, unsigned char *mem, size_t cap)
{
	b->data = mem;
	b->cap = cap;
	b->len = 0;
	b->pos = 0;
	b->err = 0;
}

void
kenpo_buf_wipe(struct kenpo_buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->len > b->cap ? b->cap : b->len);
	b->len = 0;
	b->pos = 0;
}

static void
put_bytes(struct kenpo_buf *b, const void *p, size_t n)
{
	if (b->err || n > b->cap - b->len) {
		b->err = 1;
		return;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
kenpo_put_int32(struct kenpo_buf *b, int32_t v)
{
	uint32_t n = htonl((uint32_t)v);

	put_bytes(b, &n, sizeof(n));
}

void
kenpo_put_string(struct kenpo_buf *b, const char *s, size_t len)
{
	if (len > KENPO_PROTO_MAX_STRING || (len > 0 && memchr(s, '\0', len) != NULL)) {
		b->err = 1;
		return;
	}
	kenpo_put_int32(b, (int32_t)len);
	if (len > 0)
		put_bytes(b, s, len);
}

void
kenpo_put_cstring(struct kenpo_buf *b, const char *s)
{
	if (s == NULL)
		s = "";
	kenpo_put_string(b, s, strlen(s));
}

void
kenpo_frame_begin(struct kenpo_buf *b, int32_t action)
{
	b->len = 0;
	b->pos = 0;
	b->err = 0;
	kenpo_put_int32(b, 0);
	kenpo_put_int32(b, KENPO_PROTO_VERSION);
	kenpo_put_int32(b, action);
}

int
kenpo_frame_end(struct kenpo_buf *b)
{
	uint32_t n;

	if (b->err || b->len < 4 || b->len - 4 > KENPO_PROTO_MAX_FRAME)
		return -1;
	n = htonl((uint32_t)(b->len - 4));
	memcpy(b->data, &n, sizeof(n));
	return 0;
}

static int
get_bytes(struct kenpo_buf *b, void *p, size_t n)
{
	if (b->err || n > b->len - b->pos) {
		b->err = 1;
		return -1;
	}
	memcpy(p, b->data + b->pos, n);
	b->pos += n;
	return 0;
}

int32_t
kenpo_get_int32(struct kenpo_buf *b)
{
	uint32_t n;

	if (get_bytes(b, &n, sizeof(n)) != 0)
		return 0;
	return (int32_t)ntohl(n);
}

void
kenpo_get_string_ref(struct kenpo_buf *b, const char **s, size_t *len)
{
	int32_t n = kenpo_get_int32(b);

	*s = "";
	*len = 0;
	if (b->err)
		return;
	if (n < 0 || n > KENPO_PROTO_MAX_STRING || (size_t)n > b->len - b->pos) {
		b->err = 1;
		return;
	}
	if (n > 0 && memchr(b->data + b->pos, '\0', (size_t)n) != NULL) {
		b->err = 1;
		return;
	}
	*s = (const char *)b->data + b->pos;
	*len = (size_t)n;
	b->pos += (size_t)n;
}

void
kenpo_get_string(struct kenpo_buf *b, char *out, size_t outsz)
{
	const char *s;
	size_t len;

	kenpo_get_string_ref(b, &s, &len);
	if (b->err || len >= outsz) {
		b->err = 1;
		if (outsz > 0)
			out[0] = '\0';
		return;
	}
	memcpy(out, s, len);
	out[len] = '\0';
}

int
kenpo_frame_open(struct kenpo_buf *b, int32_t *action)
{
	int32_t length, version, act;

	b->pos = 0;
	b->err = 0;
	length = kenpo_get_int32(b);
	if (b->err || length < 8 || length > KENPO_PROTO_MAX_FRAME ||
	    (size_t)length != b->len - 4)
		goto bad;
	version = kenpo_get_int32(b);
	act = kenpo_get_int32(b);
	if (b->err || version != KENPO_PROTO_VERSION)
		goto bad;
	*action = act;
	return 0;
bad:
	/* Sticky, so that reads after an unchecked failure fail too. */
	b->err = 1;
	return -1;
}

int
kenpo_frame_close(struct kenpo_buf *b)
{
	return (b->err || b->pos != b->len) ? -1 : 0;
}

/* ---- transport ---- */

int64_t
kenpo_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for `events` or the deadline passes. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int r;

	for (;;) {
		left = deadline - kenpo_now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/*
 * A unix-domain connect never completes later: it succeeds, fails, or says
 * EAGAIN when kenpod's listen queue is full, in which case we try again
 * shortly until the deadline.
 */
int
kenpo_connect(const char *path, int64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec pause = { .tv_sec = 0, .tv_nsec = 2 * 1000 * 1000 };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || kenpo_now_ms() >= deadline)
			break;
		nanosleep(&pause, NULL);
	}
	err = errno == EAGAIN ? ETIMEDOUT : errno;
	close(fd);
	errno = err;
	return -1;
}

int
kenpo_send_frame(int fd, const struct kenpo_buf *b, int64_t deadline)
{
	size_t off = 0;
	ssize_t n;

	while (off < b->len) {
		/* MSG_DONTWAIT: the deadline must hold even on a blocking fd. */
		n = send(fd, b->data + off, b->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT, deadline) != 0)
				return -1;
			continue;
		}
		if (n == 0)
			errno = EPIPE;
		return -1;
	}
	return 0;
}

/* Read exactly n bytes at b->data + b->len. */
static int
recv_exact(int fd, struct kenpo_buf *b, size_t n, int64_t deadline)
{
	ssize_t r;

	while (n > 0) {
		/* MSG_DONTWAIT, as in kenpo_send_frame. */
		r = recv(fd, b->data + b->len, n, MSG_DONTWAIT);
		if (r > 0) {
			b->len += (size_t)r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0) {
			errno = b->len == 0 ? ECONNRESET : EPROTO;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(fd, POLLIN, deadline) != 0)
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

int
kenpo_recv_frame(int fd, struct kenpo_buf *b, int64_t deadline)
{
	uint32_t n;

	b->len = 0;
	b->pos = 0;
	b->err = 0;
	if (b->cap < 4) {
		errno = EMSGSIZE;
		return -1;
	}
	if (recv_exact(fd, b, 4, deadline) != 0)
		return -1;
	memcpy(&n, b->data, sizeof(n));
	n = ntohl(n);
	if (n < 8 || n > KENPO_PROTO_MAX_FRAME || n > b->cap - 4) {
		errno = n < 8 ? EPROTO : EMSGSIZE;
		return -1;
	}
	return recv_exact(fd, b, n, deadline);
}
