/*
 * fuzz_proto.c - libFuzzer target for the frame decoder of proto.c.
 *
 * Input: one byte n (taken modulo 16), n selector bytes, then the frame.
 * Selector bit i (the bytes reused in a cycle) gives the type of field i:
 * 1 INT32, 0 STRING; with no selector bytes the fields alternate.  So the
 * fuzzer can steer the walk through any sequence of fields, such as a PASSWD
 * record (STRING STRING INT32 INT32 STRING STRING STRING).
 *
 * Whatever the bytes, the decoder must never read outside the frame, and
 * must accept only well-formed frames: a frame read cleanly to its end is
 * encoded again field by field and must come out identical, byte for byte.
 * The same frame is also checked as a request and as an answer against the
 * protocol table (prototab.c), whose walk must stay inside it too, and an
 * answer it accepts is read by its layout to the frame's end.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "prototab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
field_is_int(const uint8_t *sel, size_t nsel, size_t i)
{
	if (nsel == 0)
		return i % 2 == 0;
	return (sel[(i / 8) % nsel] >> (i % 8)) & 1;
}

/* Decode field i from r and encode it again into w. */
static void
copy_field(struct kenpo_buf *r, struct kenpo_buf *w, int is_int, size_t i)
{
	char small[64];
	const char *s;
	size_t len;

	if (is_int) {
		kenpo_put_int32(w, kenpo_get_int32(r));
		return;
	}
	/* Both string readers: by reference, and copied into a small buffer
	 * (which longer strings must fail cleanly). */
	if (i % 3 == 2) {
		kenpo_get_string(r, small, sizeof(small));
		kenpo_put_cstring(w, small);
		return;
	}
	kenpo_get_string_ref(r, &s, &len);
	kenpo_put_string(w, s, len);
}

/* The frame as a request and as an answer to the action it names. */
static void
check_table(unsigned char *frame, size_t flen)
{
	struct kenpo_fields f, item;
	struct kenpo_list l;
	enum kenpo_layout layout;
	struct kenpo_buf b;
	int32_t action, result;

	kenpo_buf_init(&b, frame, flen);
	b.len = flen;
	(void)kenpo_request_check(&b, &action);
	kenpo_buf_init(&b, frame, flen);
	b.len = flen;
	if (flen < 12)
		return;
	action = (int32_t)(((uint32_t)frame[8] << 24) | ((uint32_t)frame[9] << 16) |
			   ((uint32_t)frame[10] << 8) | frame[11]);
	if (kenpo_answer_open(&b, action, &result, &layout) != 0)
		return;
	kenpo_fields_read(&b, layout, &f);
	if (kenpo_frame_close(&b) != 0)
		abort();
	l = (f.present & KENPO_HAS(records)) ? f.records : f.pairs;
	while (kenpo_list_next(&b, &l, &item) == 1)
		;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[KENPO_PROTO_MAX_FRAME + 4];
	struct kenpo_buf r, w;
	unsigned char *frame;
	size_t nsel, flen, i;
	int32_t action;

	if (size < 1 || size < 1 + (size_t)(data[0] % 16))
		return 0;
	nsel = data[0] % 16;
	flen = size - 1 - nsel;
	/* An exact-size heap copy, so that AddressSanitizer catches any read
	 * past the end of the frame. */
	frame = malloc(flen > 0 ? flen : 1);
	if (frame == NULL)
		return 0;
	memcpy(frame, data + 1 + nsel, flen);
	check_table(frame, flen);
	kenpo_buf_init(&r, frame, flen);
	r.len = flen;
	if (kenpo_frame_open(&r, &action) != 0) {
		/* A refused frame stays refused. */
		if (kenpo_get_int32(&r) != 0 || !r.err || kenpo_frame_close(&r) == 0)
			abort();
		goto done;
	}
	kenpo_buf_init(&w, out, sizeof(out));
	kenpo_frame_begin(&w, action);
	for (i = 0; !r.err && r.pos < r.len; i++)
		copy_field(&r, &w, field_is_int(data + 1, nsel, i), i);
	if (kenpo_frame_close(&r) == 0 &&
	    (kenpo_frame_end(&w) != 0 || w.len != flen || memcmp(out, frame, flen) != 0))
		abort();
done:
	free(frame);
	return 0;
}
