/*
 * fakekenpod.h - a scripted kenpod for the tests of the modules and the
 * client: one thread, one scripted answer per connection.
 *
 * Every request it receives is recorded and checked against the request
 * layout of kenpo-proto.h's table; fake_stop() fails the test when one did
 * not match.  Answers are written from the table with fake_answer(), or
 * byte by byte with the fake_put* helpers when a test needs a malformed one.
 */
#ifndef KENPO_TEST_FAKEKENPOD_H
#define KENPO_TEST_FAKEKENPOD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define FAKE_MAX_CONN 10
#define FAKE_FRAME_MAX (16 * 1024)

struct fake_frame {
	unsigned char d[FAKE_FRAME_MAX];
	size_t n;
};

struct fake_kenpod {
	char dir[64];   /* a directory of the test's own */
	char sock[128]; /* the socket path it listens on, in dir */
	int lfd;
	int nreplies;
	struct fake_frame reply[FAKE_MAX_CONN];
	struct fake_frame req[FAKE_MAX_CONN]; /* n 0: none received */
	int served;
	int bad_requests; /* requests the table does not allow */
	pthread_t thread;
};

extern struct fake_kenpod fake;

/* Make fake.dir, /tmp/kenpo-test-NAME-XXXXXX, and fake.sock in it.  0 or -1. */
int fake_setup(const char *name);
/* Remove fake.sock and fake.dir (empty again by then). */
void fake_teardown(void);
/* The monotonic clock in milliseconds, to time the clients' deadlines. */
int64_t fake_now_ms(void);

/* A socket listening at fake.sock that nobody accepts on (a stalled kenpod);
 * the caller closes it. */
int fake_listen(void);
/* Serve the first `nreplies` frames of fake.reply, one per connection. */
void fake_start(int nreplies);
/* Wait for the fake; it must have served exactly `expected` connections,
 * nobody may be waiting for more, and every request must have matched the
 * table. */
void fake_stop(int expected);

/* ---- frames by hand ---- */
void fake_begin(struct fake_frame *f, uint32_t action, uint32_t result);
void fake_put32(struct fake_frame *f, uint32_t v);
void fake_putbytes(struct fake_frame *f, const char *s, size_t len);
void fake_putstr(struct fake_frame *f, const char *s);
/* Fill in the length word. */
void fake_end(struct fake_frame *f);
uint32_t fake_get32(const unsigned char *p);
/* A reader over a frame, for the codec's checks. */
struct kenpo_buf fake_reader(struct fake_frame *f);

/*
 * The answer `result` to `action` as the table lays it out: the fields as
 * arguments in order, an unsigned int (uint32_t) for an INT, a const char *
 * for a STR, and for a LIST its count followed by the fields of each item.
 * A result the table does not give that action fails the test.
 */
void fake_answer(struct fake_frame *f, uint32_t action, uint32_t result, ...);

/* An answer `result` to `action` as the table lays it out, with made-up
 * values: each INT 7, each STR "v", each LIST two items. */
void fake_answer_any(struct fake_frame *f, uint32_t action, uint32_t result);

/* ---- reading a recorded request ---- */
struct fake_rd {
	const struct fake_frame *f;
	size_t pos;
};

/* A reader after the length, version and action words, which must be
 * those of a request for `action`. */
struct fake_rd fake_request(const struct fake_frame *f, uint32_t action);
uint32_t fake_rd32(struct fake_rd *r);
void fake_rdstr_is(struct fake_rd *r, const char *want);
void fake_rd_end(const struct fake_rd *r);

#endif
