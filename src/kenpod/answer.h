/*
 * answer.h - kenpod's answers checked against the protocol table.
 *
 * Every answer kenpod sends to an action it knows is checked against the
 * layout kenpo-proto.h gives that action and result before it goes out.
 * A mismatch is a bug in kenpod: a build with KENPO_ABORT_ON_BAD_ANSWER
 * (configure --enable-sanitizers) aborts, so that the test suite cannot
 * miss it; any other build logs it and answers INTERNAL instead, so that
 * no client ever has to make sense of it.
 */
#ifndef KENPOD_ANSWER_H
#define KENPOD_ANSWER_H

#include <stdint.h>

#include "proto.h"

/* Check the finished answer frame in out (kenpo_frame_end done) to
 * `action`.  0 when it matches; -1 when it did not and out now holds
 * INTERNAL. */
int answer_check(struct kenpo_buf *out, int32_t action);

#endif
