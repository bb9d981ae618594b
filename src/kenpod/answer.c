/*
 * answer.c - kenpod's answers checked against the protocol table (see
 * answer.h).
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "log.h"
#include "prototab.h"

int
answer_check(struct kenpo_buf *out, int32_t action)
{
	struct kenpo_buf b = *out;
	enum kenpo_layout layout;
	int32_t result = -1;
	uint32_t word;

	if (kenpo_answer_open(&b, action, &result, &layout) == 0)
		return 0;
	/* The result as written, for the log: after the length, version and
	 * action words. */
	if (out->len >= 16) {
		memcpy(&word, out->data + 12, sizeof word);
		result = (int32_t)ntohl(word);
	}
	log_msg(LOG_ERR, "the answer %s to %s does not match the protocol table",
		kenpo_result_name(result),
		kenpo_action_find(action) != NULL ? kenpo_action_find(action)->name : "?");
#ifdef KENPO_ABORT_ON_BAD_ANSWER
	abort();
#endif
	kenpo_frame_begin(out, action);
	kenpo_put_int32(out, KENPO_RES_INTERNAL);
	(void)kenpo_frame_end(out);
	return -1;
}
