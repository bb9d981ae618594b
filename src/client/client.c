/*
 * client.c - one round trip to kenpod, checked against the protocol table
 * (see client.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

/* Send the request in b, receive the answer into b, before one deadline. */
static int
transact(const struct kenpo_client *c, struct kenpo_buf *b)
{
	int64_t deadline = kenpo_now_ms() + c->timeout_ms;
	int fd, rc = -1, err = 0;

	fd = kenpo_connect(c->socket, deadline);
	if (fd < 0)
		return -1;
	if (kenpo_send_frame(fd, b, deadline) != 0 || kenpo_recv_frame(fd, b, deadline) != 0) {
		err = errno;
		goto done;
	}
	rc = 0;
done:
	close(fd);
	if (rc != 0)
		errno = err;
	return rc;
}

/* Build the request of `action` in b.  0, or -1 with errno. */
static int
build(struct kenpo_buf *b, int32_t action, const struct kenpo_value *req, size_t n)
{
	kenpo_frame_begin(b, action);
	if (kenpo_request_put(b, action, req, n) != 0) {
		errno = EINVAL;
		return -1;
	}
	if (kenpo_frame_end(b) != 0) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int
kenpo_reply_read(struct kenpo_buf *b, int32_t action, struct kenpo_reply *out)
{
	struct kenpo_reply tmp;

	if (kenpo_answer_open(b, action, &tmp.result, &tmp.layout) != 0)
		return -1;
	kenpo_fields_read(b, tmp.layout, &tmp.f);
	if (kenpo_frame_close(b) != 0)
		return -1;
	*out = tmp;
	return 0;
}

int
kenpo_call(const struct kenpo_client *c, int32_t action, const struct kenpo_value *req, size_t n,
	   struct kenpo_buf *b, struct kenpo_reply *out)
{
	int err = 0;

	if (build(b, action, req, n) != 0 || transact(c, b) != 0) {
		err = errno;
		goto fail;
	}
	if (kenpo_reply_read(b, action, out) != 0) {
		err = EPROTO;
		goto fail;
	}
	return 0;
fail:
	kenpo_call_wipe(b);
	errno = err;
	return -1;
}

void
kenpo_call_wipe(struct kenpo_buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	b->len = 0;
	b->pos = 0;
}

int
kenpo_str_copy(struct kenpo_str s, char *out, size_t outsz)
{
	if (outsz == 0)
		return -1;
	if (s.len >= outsz) {
		out[0] = '\0';
		return -1;
	}
	if (s.len > 0)
		memcpy(out, s.p, s.len);
	out[s.len] = '\0';
	return 0;
}
