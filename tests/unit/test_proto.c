/*
 * test_proto.c - the frame codec and transport of proto.c.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "proto.h"

/* ---- helpers ---- */

/* Append a raw big-endian word, to build frames the codec would refuse. */
static void
raw32(unsigned char *p, size_t *len, uint32_t v)
{
	uint32_t n = htonl(v);

	memcpy(p + *len, &n, 4);
	*len += 4;
}

/* A reader over mem[0..len). */
static void
reader(struct kenpo_buf *b, unsigned char *mem, size_t cap, size_t len)
{
	kenpo_buf_init(b, mem, cap);
	b->len = len;
}

/* A frame header: length word (given), version, action. */
static size_t
raw_header(unsigned char *p, uint32_t length, uint32_t version, uint32_t action)
{
	size_t len = 0;

	raw32(p, &len, length);
	raw32(p, &len, version);
	raw32(p, &len, action);
	return len;
}

static void
make_pair(int sv[2], int nonblock)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0, sv),
			 0);
}

static void
write_all(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/* ---- encoding and decoding ---- */

static void
test_int32_roundtrip(void **state)
{
	static const int32_t values[] = { 0, 1, -1, INT32_MIN, INT32_MAX, 0x01020304 };
	unsigned char mem[64];
	struct kenpo_buf b;
	size_t i;

	(void)state;
	kenpo_buf_init(&b, mem, sizeof(mem));
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		kenpo_put_int32(&b, values[i]);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, 4 * 6);
	/* Network byte order on the wire. */
	assert_memory_equal(mem + 20, "\x01\x02\x03\x04", 4);
	assert_memory_equal(mem + 8, "\xff\xff\xff\xff", 4);
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		assert_int_equal(kenpo_get_int32(&b), values[i]);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.pos, b.len);
}

static void
test_string_roundtrip(void **state)
{
	static unsigned char mem[3 * KENPO_PROTO_MAX_STRING];
	static char big[KENPO_PROTO_MAX_STRING + 1], out[KENPO_PROTO_MAX_STRING + 1];
	struct kenpo_buf b;
	const char *ref;
	size_t len;

	(void)state;
	memset(big, 'x', KENPO_PROTO_MAX_STRING);
	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_put_cstring(&b, "");
	kenpo_put_cstring(&b, NULL);
	kenpo_put_string(&b, "abcdef", 3);
	kenpo_put_string(&b, big, KENPO_PROTO_MAX_STRING);
	kenpo_put_cstring(&b, "\xe5\x81\xa5\xe4\xbf\x9d");
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, 4 + 4 + 7 + 4 + KENPO_PROTO_MAX_STRING + 10);

	kenpo_get_string(&b, out, sizeof(out));
	assert_string_equal(out, "");
	kenpo_get_string_ref(&b, &ref, &len);
	assert_int_equal(len, 0);
	kenpo_get_string(&b, out, sizeof(out));
	assert_string_equal(out, "abc");
	kenpo_get_string(&b, out, sizeof(out));
	assert_int_equal(strlen(out), KENPO_PROTO_MAX_STRING);
	kenpo_get_string_ref(&b, &ref, &len);
	assert_int_equal(len, 6);
	assert_memory_equal(ref, "\xe5\x81\xa5\xe4\xbf\x9d", 6);
	assert_int_equal(kenpo_frame_close(&b), 0);
}

static void
test_frame_roundtrip(void **state)
{
	unsigned char mem[256];
	struct kenpo_buf b;
	char out[32];
	int32_t action = 0;
	uint32_t n;

	(void)state;
	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_frame_begin(&b, KENPO_ACTION_PASSWD_BYNAME);
	kenpo_put_cstring(&b, "taro.yamada");
	kenpo_put_int32(&b, 42);
	assert_int_equal(kenpo_frame_end(&b), 0);
	memcpy(&n, mem, 4);
	assert_int_equal(ntohl(n), b.len - 4);
	assert_int_equal(b.len, 12 + 4 + 11 + 4);

	assert_int_equal(kenpo_frame_open(&b, &action), 0);
	assert_int_equal(action, KENPO_ACTION_PASSWD_BYNAME);
	kenpo_get_string(&b, out, sizeof(out));
	assert_string_equal(out, "taro.yamada");
	assert_int_equal(kenpo_frame_close(&b), -1); /* the int32 is still unread */
	assert_int_equal(kenpo_get_int32(&b), 42);
	assert_int_equal(kenpo_frame_close(&b), 0);
}

static void
test_put_string_refused(void **state)
{
	static char big[KENPO_PROTO_MAX_STRING + 2];
	unsigned char mem[64];
	struct kenpo_buf b;

	(void)state;
	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_put_string(&b, "a\0b", 3);
	assert_int_equal(b.err, 1);
	assert_int_equal(b.len, 0);

	kenpo_buf_init(&b, mem, sizeof(mem));
	memset(big, 'y', sizeof(big) - 1);
	kenpo_put_string(&b, big, KENPO_PROTO_MAX_STRING + 1);
	assert_int_equal(b.err, 1);
	assert_int_equal(b.len, 0);
}

static void
test_write_beyond_capacity(void **state)
{
	unsigned char mem[16];
	struct kenpo_buf b;

	(void)state;
	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_frame_begin(&b, KENPO_ACTION_PING);
	kenpo_put_int32(&b, 1);
	assert_int_equal(b.err, 0);
	kenpo_put_int32(&b, 2); /* 20 bytes in 16 */
	assert_int_equal(b.err, 1);
	assert_int_equal(b.len, 16);
	assert_int_equal(kenpo_frame_end(&b), -1);

	/* Sticky: a later write that would fit is refused too. */
	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_put_cstring(&b, "0123456789abcdef");
	assert_int_equal(b.err, 1);
	assert_int_equal(b.len, 4); /* the length word went in, the text did not */
	kenpo_put_int32(&b, 1);
	assert_int_equal(b.len, 4);

	/* Not even the header fits. */
	kenpo_buf_init(&b, mem, 8);
	kenpo_frame_begin(&b, KENPO_ACTION_PING);
	assert_int_equal(kenpo_frame_end(&b), -1);
}

static void
test_frame_too_large(void **state)
{
	static unsigned char mem[KENPO_PROTO_MAX_FRAME + 8 * KENPO_PROTO_MAX_STRING];
	static char s[KENPO_PROTO_MAX_STRING];
	struct kenpo_buf b;

	(void)state;
	memset(s, 'z', sizeof(s));
	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_frame_begin(&b, KENPO_ACTION_PING);
	while (b.len - 4 <= KENPO_PROTO_MAX_FRAME)
		kenpo_put_string(&b, s, sizeof(s));
	assert_int_equal(b.err, 0);
	assert_int_equal(kenpo_frame_end(&b), -1);
}

static void
test_frame_open_refused(void **state)
{
	unsigned char mem[64];
	struct kenpo_buf b;
	int32_t action = 12345;
	size_t len;

	(void)state;
	/* Well formed: 8-byte body, nothing after the action. */
	len = raw_header(mem, 8, KENPO_PROTO_VERSION, KENPO_ACTION_PING);
	reader(&b, mem, sizeof(mem), len);
	assert_int_equal(kenpo_frame_open(&b, &action), 0);
	assert_int_equal(action, KENPO_ACTION_PING);
	assert_int_equal(kenpo_frame_close(&b), 0);

	action = 12345;
	/* Length word too small for version and action. */
	len = raw_header(mem, 4, KENPO_PROTO_VERSION, KENPO_ACTION_PING);
	reader(&b, mem, sizeof(mem), 8);
	assert_int_equal(kenpo_frame_open(&b, &action), -1);
	/* Larger than what was received. */
	len = raw_header(mem, 12, KENPO_PROTO_VERSION, KENPO_ACTION_PING);
	reader(&b, mem, sizeof(mem), len);
	assert_int_equal(kenpo_frame_open(&b, &action), -1);
	/* Smaller than what was received (trailing bytes outside the frame). */
	len = raw_header(mem, 8, KENPO_PROTO_VERSION, KENPO_ACTION_PING);
	raw32(mem, &len, 0);
	reader(&b, mem, sizeof(mem), len);
	assert_int_equal(kenpo_frame_open(&b, &action), -1);
	/* Negative (as int32) and huge length words. */
	len = raw_header(mem, 0xffffffffu, KENPO_PROTO_VERSION, KENPO_ACTION_PING);
	reader(&b, mem, sizeof(mem), len);
	assert_int_equal(kenpo_frame_open(&b, &action), -1);
	len = raw_header(mem, KENPO_PROTO_MAX_FRAME + 1, KENPO_PROTO_VERSION, KENPO_ACTION_PING);
	reader(&b, mem, sizeof(mem), len);
	assert_int_equal(kenpo_frame_open(&b, &action), -1);
	/* Wrong version. */
	len = raw_header(mem, 8, KENPO_PROTO_VERSION + 1, KENPO_ACTION_PING);
	reader(&b, mem, sizeof(mem), len);
	assert_int_equal(kenpo_frame_open(&b, &action), -1);
	/* Shorter than a length word. */
	reader(&b, mem, sizeof(mem), 3);
	assert_int_equal(kenpo_frame_open(&b, &action), -1);
	assert_int_equal(action, 12345); /* never written on failure */
	/* The failure is sticky: nothing can be read after it. */
	assert_int_equal(b.err, 1);
	assert_int_equal(kenpo_frame_close(&b), -1);
}

/* A PING frame with one raw string length word and `n` bytes of text. */
static void
string_frame(struct kenpo_buf *b, unsigned char *mem, size_t cap, uint32_t slen, const char *text,
	     size_t n)
{
	size_t len = raw_header(mem, 0, KENPO_PROTO_VERSION, KENPO_ACTION_PING);
	uint32_t w;

	raw32(mem, &len, slen);
	memcpy(mem + len, text, n);
	len += n;
	w = htonl((uint32_t)(len - 4));
	memcpy(mem, &w, 4);
	reader(b, mem, cap, len);
}

static void
test_string_refused(void **state)
{
	static unsigned char mem[2 * KENPO_PROTO_MAX_STRING];
	static char text[KENPO_PROTO_MAX_STRING + 1];
	struct kenpo_buf b;
	int32_t action;
	const char *ref;
	char out[8];
	size_t len;

	(void)state;
	memset(text, 'q', sizeof(text));
	/* The good case, for contrast. */
	string_frame(&b, mem, sizeof(mem), 3, "abc", 3);
	assert_int_equal(kenpo_frame_open(&b, &action), 0);
	kenpo_get_string(&b, out, sizeof(out));
	assert_string_equal(out, "abc");
	assert_int_equal(kenpo_frame_close(&b), 0);

	/* Negative length. */
	string_frame(&b, mem, sizeof(mem), 0xfffffffeu, "abc", 3);
	assert_int_equal(kenpo_frame_open(&b, &action), 0);
	kenpo_get_string_ref(&b, &ref, &len);
	assert_int_equal(b.err, 1);
	assert_int_equal(len, 0);
	/* Beyond the frame. */
	string_frame(&b, mem, sizeof(mem), 4, "abc", 3);
	assert_int_equal(kenpo_frame_open(&b, &action), 0);
	kenpo_get_string_ref(&b, &ref, &len);
	assert_int_equal(b.err, 1);
	/* Longer than KENPO_PROTO_MAX_STRING, although all its bytes are there. */
	string_frame(&b, mem, sizeof(mem), KENPO_PROTO_MAX_STRING + 1, text,
		     KENPO_PROTO_MAX_STRING + 1);
	assert_int_equal(kenpo_frame_open(&b, &action), 0);
	kenpo_get_string_ref(&b, &ref, &len);
	assert_int_equal(b.err, 1);
	/* A NUL inside. */
	string_frame(&b, mem, sizeof(mem), 3, "a\0c", 3);
	assert_int_equal(kenpo_frame_open(&b, &action), 0);
	kenpo_get_string(&b, out, sizeof(out));
	assert_int_equal(b.err, 1);
	assert_string_equal(out, "");
	/* Does not fit the caller's buffer (7 characters + NUL > 7). */
	string_frame(&b, mem, sizeof(mem), 7, "abcdefg", 7);
	assert_int_equal(kenpo_frame_open(&b, &action), 0);
	kenpo_get_string(&b, out, 7);
	assert_int_equal(b.err, 1);
	assert_string_equal(out, "");
	assert_int_equal(kenpo_frame_close(&b), -1);
}

static void
test_trailing_and_overrun(void **state)
{
	unsigned char mem[64];
	struct kenpo_buf b;
	int32_t action;
	size_t len;
	uint32_t w;

	(void)state;
	len = raw_header(mem, 0, KENPO_PROTO_VERSION, KENPO_ACTION_PASSWD_BYUID);
	raw32(mem, &len, 1000);
	mem[len++] = 0x55; /* garbage after the last field */
	w = htonl((uint32_t)(len - 4));
	memcpy(mem, &w, 4);
	reader(&b, mem, sizeof(mem), len);
	assert_int_equal(kenpo_frame_open(&b, &action), 0);
	assert_int_equal(kenpo_get_int32(&b), 1000);
	assert_int_equal(b.err, 0);
	assert_int_equal(kenpo_frame_close(&b), -1);
	/* Reading past the end: 0 and a sticky error. */
	assert_int_equal(kenpo_get_int32(&b), 0);
	assert_int_equal(b.err, 1);
	assert_int_equal(kenpo_frame_close(&b), -1);
}

static void
test_buf_wipe(void **state)
{
	unsigned char mem[32], zero[32] = { 0 };
	struct kenpo_buf b;

	(void)state;
	memset(mem, 0xaa, sizeof(mem));
	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_put_cstring(&b, "Secret12");
	kenpo_buf_wipe(&b);
	assert_memory_equal(mem, zero, 12);
	assert_int_equal(mem[12], 0xaa); /* only the used bytes */
	assert_int_equal(b.len, 0);
}

/* ---- transport ---- */

static void
test_send_recv(void **state)
{
	unsigned char out[128], in[128];
	struct kenpo_buf w, r;
	int32_t action;
	int sv[2];

	(void)state;
	make_pair(sv, 1);
	kenpo_buf_init(&w, out, sizeof(out));
	kenpo_frame_begin(&w, KENPO_ACTION_PASSWD_BYUID);
	kenpo_put_int32(&w, 1001);
	assert_int_equal(kenpo_frame_end(&w), 0);
	assert_int_equal(kenpo_send_frame(sv[0], &w, kenpo_now_ms() + 1000), 0);
	assert_int_equal(kenpo_send_frame(sv[0], &w, kenpo_now_ms() + 1000), 0);

	/* Two frames in a row: each read takes exactly one. */
	kenpo_buf_init(&r, in, sizeof(in));
	assert_int_equal(kenpo_recv_frame(sv[1], &r, kenpo_now_ms() + 1000), 0);
	assert_int_equal(r.len, w.len);
	assert_memory_equal(in, out, w.len);
	assert_int_equal(kenpo_frame_open(&r, &action), 0);
	assert_int_equal(kenpo_get_int32(&r), 1001);
	assert_int_equal(kenpo_frame_close(&r), 0);
	assert_int_equal(kenpo_recv_frame(sv[1], &r, kenpo_now_ms() + 1000), 0);
	assert_int_equal(r.len, w.len);
	close(sv[0]);
	close(sv[1]);
}

static void
test_recv_oversized(void **state)
{
	unsigned char hdr[4], in[64];
	struct kenpo_buf r;
	size_t len = 0;
	int sv[2];

	(void)state;
	make_pair(sv, 1);
	raw32(hdr, &len, KENPO_PROTO_MAX_FRAME + 1);
	write_all(sv[0], hdr, 4);
	kenpo_buf_init(&r, in, sizeof(in));
	errno = 0;
	assert_int_equal(kenpo_recv_frame(sv[1], &r, kenpo_now_ms() + 1000), -1);
	assert_int_equal(errno, EMSGSIZE);
	close(sv[0]);
	close(sv[1]);

	/* Within the protocol's limit but larger than the caller's buffer. */
	make_pair(sv, 1);
	len = 0;
	raw32(hdr, &len, 61);
	write_all(sv[0], hdr, 4);
	kenpo_buf_init(&r, in, sizeof(in));
	errno = 0;
	assert_int_equal(kenpo_recv_frame(sv[1], &r, kenpo_now_ms() + 1000), -1);
	assert_int_equal(errno, EMSGSIZE);
	close(sv[0]);
	close(sv[1]);
}

static void
test_recv_short(void **state)
{
	unsigned char raw[64], in[64];
	struct kenpo_buf r;
	size_t len;
	int sv[2];

	(void)state;
	/* The length word promises 20 bytes; 10 come, then EOF. */
	make_pair(sv, 1);
	len = raw_header(raw, 20, KENPO_PROTO_VERSION, KENPO_ACTION_PING);
	write_all(sv[0], raw, len + 2);
	close(sv[0]);
	kenpo_buf_init(&r, in, sizeof(in));
	errno = 0;
	assert_int_equal(kenpo_recv_frame(sv[1], &r, kenpo_now_ms() + 1000), -1);
	assert_int_equal(errno, EPROTO);
	close(sv[1]);

	/* A length word below the header size. */
	make_pair(sv, 1);
	len = raw_header(raw, 7, KENPO_PROTO_VERSION, KENPO_ACTION_PING);
	write_all(sv[0], raw, len);
	errno = 0;
	assert_int_equal(kenpo_recv_frame(sv[1], &r, kenpo_now_ms() + 1000), -1);
	assert_int_equal(errno, EPROTO);
	close(sv[0]);
	close(sv[1]);

	/* EOF before anything: the peer closed. */
	make_pair(sv, 1);
	close(sv[0]);
	errno = 0;
	assert_int_equal(kenpo_recv_frame(sv[1], &r, kenpo_now_ms() + 1000), -1);
	assert_int_equal(errno, ECONNRESET);
	close(sv[1]);
}

static void
test_recv_deadline(void **state)
{
	unsigned char in[64];
	struct kenpo_buf r;
	int64_t t0, dt;
	int sv[2], blocking;

	(void)state;
	kenpo_buf_init(&r, in, sizeof(in));
	/* Also on a blocking socket: the deadline must hold whatever the fd. */
	for (blocking = 0; blocking <= 1; blocking++) {
		make_pair(sv, !blocking);
		write_all(sv[0], "\0\0", 2); /* half a length word, then silence */
		t0 = kenpo_now_ms();
		errno = 0;
		assert_int_equal(kenpo_recv_frame(sv[1], &r, t0 + 100), -1);
		dt = kenpo_now_ms() - t0;
		assert_int_equal(errno, ETIMEDOUT);
		assert_true(dt >= 95);
		assert_true(dt < 600);
		close(sv[0]);
		close(sv[1]);
	}
}

static void
test_send_to_closed_peer(void **state)
{
	unsigned char out[64];
	struct kenpo_buf w;
	int sv[2];

	(void)state;
	make_pair(sv, 1);
	close(sv[1]);
	kenpo_buf_init(&w, out, sizeof(out));
	kenpo_frame_begin(&w, KENPO_ACTION_PING);
	assert_int_equal(kenpo_frame_end(&w), 0);
	/* MSG_NOSIGNAL: an error, not a SIGPIPE that would kill this test. */
	errno = 0;
	assert_int_equal(kenpo_send_frame(sv[0], &w, kenpo_now_ms() + 1000), -1);
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
}

static void
test_connect(void **state)
{
	char dir[] = "/tmp/kenpo-test-proto-XXXXXX", path[128], longpath[200];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t t0;
	int fd, lfd, flags;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);

	/* Missing: ENOENT at once, not at the deadline. */
	t0 = kenpo_now_ms();
	errno = 0;
	assert_int_equal(kenpo_connect(path, t0 + 2000), -1);
	assert_int_equal(errno, ENOENT);
	assert_true(kenpo_now_ms() - t0 < 100);

	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	errno = 0;
	assert_int_equal(kenpo_connect(longpath, t0 + 2000), -1);
	assert_int_equal(errno, ENAMETOOLONG);

	/* Bound but not listening (a stale socket): refused at once. */
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	errno = 0;
	assert_int_equal(kenpo_connect(path, kenpo_now_ms() + 2000), -1);
	assert_int_equal(errno, ECONNREFUSED);

	/* Listening: connected, non-blocking and close-on-exec. */
	assert_int_equal(listen(lfd, 4), 0);
	fd = kenpo_connect(path, kenpo_now_ms() + 2000);
	assert_true(fd >= 0);
	flags = fcntl(fd, F_GETFL);
	assert_true(flags >= 0 && (flags & O_NONBLOCK));
	flags = fcntl(fd, F_GETFD);
	assert_true(flags >= 0 && (flags & FD_CLOEXEC));
	close(fd);
	close(lfd);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int32_roundtrip),
		cmocka_unit_test(test_string_roundtrip),
		cmocka_unit_test(test_frame_roundtrip),
		cmocka_unit_test(test_put_string_refused),
		cmocka_unit_test(test_write_beyond_capacity),
		cmocka_unit_test(test_frame_too_large),
		cmocka_unit_test(test_frame_open_refused),
		cmocka_unit_test(test_string_refused),
		cmocka_unit_test(test_trailing_and_overrun),
		cmocka_unit_test(test_buf_wipe),
		cmocka_unit_test(test_send_recv),
		cmocka_unit_test(test_recv_oversized),
		cmocka_unit_test(test_recv_short),
		cmocka_unit_test(test_recv_deadline),
		cmocka_unit_test(test_send_to_closed_peer),
		cmocka_unit_test(test_connect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
