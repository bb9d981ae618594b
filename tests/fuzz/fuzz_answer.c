/*
 * fuzz_answer.c - libFuzzer target for the client's reading of kenpod's
 * answers (src/client/client.c, auth.c): what the PAM module, the NSS
 * module and both tools accept from the socket.
 *
 * The input is one byte choosing the action asked (its index in
 * KENPO_ACTIONS, modulo their number), then the answer frame without its
 * length word, which the target writes as kenpo_recv_frame would have
 * checked it.  The frame is read by kenpo_reply_read, the check of
 * kenpo_call, and an answer it accepts is taken by kenpo_answer_take, as
 * the authentication stubs take it; its lists are walked as the tools walk
 * them.  Whatever the bytes, nothing is read outside the frame (an
 * exact-size heap copy), an accepted answer has a result the table lists
 * for the action, and a taken answer holds only bounded strings that
 * cannot move a terminal's cursor.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ACTION_NUMBER_(name, number, ...) number,
static const int32_t actions[] = { KENPO_ACTIONS(ACTION_NUMBER_) };

static void
check_text(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		abort();
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

static void
check_taken(const struct kenpo_reply *r)
{
	struct kenpo_answer a;

	memset(&a, 0, sizeof a);
	if (kenpo_answer_take(r, &a) != 0)
		return;
	if (a.result != r->result || strnlen(a.login, sizeof a.login) == sizeof a.login ||
	    strnlen(a.txn, sizeof a.txn) == sizeof a.txn ||
	    strnlen(a.ticket, sizeof a.ticket) == sizeof a.ticket)
		abort();
	check_text(a.masked, sizeof a.masked);
	check_text(a.text, sizeof a.text);
	if ((r->f.present & KENPO_HAS(seconds)) && a.seconds < 0)
		abort();
	kenpo_answer_wipe(&a);
}

static void
walk_lists(struct kenpo_buf *b, const struct kenpo_reply *r)
{
	struct kenpo_fields item;
	struct kenpo_list l;
	int32_t n = 0;
	int rc;

	if (r->f.present & KENPO_HAS(records))
		l = r->f.records;
	else if (r->f.present & KENPO_HAS(pairs))
		l = r->f.pairs;
	else
		return;
	while ((rc = kenpo_list_next(b, &l, &item)) == 1)
		n++;
	/* The frame was checked whole: every item is there. */
	if (rc != 0 || n != l.count)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kenpo_reply r;
	struct kenpo_buf b;
	unsigned char *frame;
	uint32_t n;
	int32_t action;

	if (size < 1 || size - 1 < 8 || size - 1 > KENPO_PROTO_MAX_FRAME)
		return 0;
	action = actions[data[0] % (sizeof actions / sizeof actions[0])];
	frame = malloc(size + 3);
	if (frame == NULL)
		return 0;
	n = htonl((uint32_t)(size - 1));
	memcpy(frame, &n, 4);
	memcpy(frame + 4, data + 1, size - 1);
	kenpo_buf_init(&b, frame, size + 3);
	b.len = size + 3;
	if (kenpo_reply_read(&b, action, &r) == 0) {
		if (kenpo_answer_layout(action, r.result) != (int)r.layout)
			abort();
		walk_lists(&b, &r);
		check_taken(&r);
	}
	free(frame);
	return 0;
}
