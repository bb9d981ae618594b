/*
 * proto.h - encoding, decoding and transport of kenpo-proto.h frames.
 *
 * Used by kenpod, the tools, and the NSS and PAM modules, so it depends on
 * nothing but libc and never allocates: the caller supplies the buffer.
 * Every read is bounds-checked; a failed read or write sets a sticky error
 * so a sequence of calls can be checked once at its end.
 */
#ifndef KENPO_PROTO_CODEC_H
#define KENPO_PROTO_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include "kenpo-proto.h"

struct kenpo_buf {
	unsigned char *data;
	size_t cap; /* bytes available at data */
	size_t len; /* bytes written (writer) or received (reader) */
	size_t pos; /* read position */
	int err;    /* sticky: set by any out-of-bounds or malformed field */
};

void kenpo_buf_init(struct kenpo_buf *b, unsigned char *mem, size_t cap);
/* Wipe the bytes used (explicit_bzero: the buffers carry passwords). */
void kenpo_buf_wipe(struct kenpo_buf *b);

/* ---- writing ---- */
/* Start a frame: length placeholder, version, action. */
void kenpo_frame_begin(struct kenpo_buf *b, int32_t action);
/* Fill in the length. 0, or -1 if any write failed or the frame is too large. */
int kenpo_frame_end(struct kenpo_buf *b);
void kenpo_put_int32(struct kenpo_buf *b, int32_t v);
/* A NUL inside s, or len > KENPO_PROTO_MAX_STRING, is an error. */
void kenpo_put_string(struct kenpo_buf *b, const char *s, size_t len);
void kenpo_put_cstring(struct kenpo_buf *b, const char *s); /* NULL as "" */

/* ---- reading (b->data holds one whole frame, length word included) ---- */
/* Check the length word and the version, and read the action.  0 or -1. */
int kenpo_frame_open(struct kenpo_buf *b, int32_t *action);
int32_t kenpo_get_int32(struct kenpo_buf *b);
/* Copy a string into out (NUL-terminated); an error if it does not fit or
 * holds a NUL. */
void kenpo_get_string(struct kenpo_buf *b, char *out, size_t outsz);
/* Point at a string inside the buffer (not NUL-terminated). */
void kenpo_get_string_ref(struct kenpo_buf *b, const char **s, size_t *len);
/* 0 when every read succeeded and the frame was consumed exactly. */
int kenpo_frame_close(struct kenpo_buf *b);

/* ---- transport ----
 * All waits are bounded by an absolute deadline in CLOCK_MONOTONIC
 * milliseconds (kenpo_now_ms() + timeout), so a stalled peer can never hang
 * the caller.  The socket is non-blocking and close-on-exec. */
int64_t kenpo_now_ms(void);
/* Connect to a unix socket path.  Returns the fd, or -1 with errno. */
int kenpo_connect(const char *path, int64_t deadline);
/* Send a whole frame (MSG_NOSIGNAL).  0 or -1. */
int kenpo_send_frame(int fd, const struct kenpo_buf *b, int64_t deadline);
/* Receive one whole frame into b (b->cap must be >= the frame). 0, or -1
 * (errno EMSGSIZE for an oversized frame, EPROTO for a short one, ETIMEDOUT,
 * ECONNRESET at EOF). */
int kenpo_recv_frame(int fd, struct kenpo_buf *b, int64_t deadline);

#endif
