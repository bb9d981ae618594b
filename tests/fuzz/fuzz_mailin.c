/*
 * fuzz_mailin.c - libFuzzer target for `kenpo mailin`, the sender of a
 * mail piped in by an MTA (tools/kenpo/mailin.c, with GMime).
 *
 * The input is the mail as the MTA pipes it.  Whatever the bytes, the
 * reader must not read outside them or leak, and a sender it accepts must
 * be an address kenpo would mail (kenpo_mail_address_ok: no CR, LF or
 * space that could add a header), found in the place it names.  With an
 * output buffer too small for the address the answer is "no sender",
 * never a cut address.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailin.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum kenpo_mailin_source src = KENPO_MAILIN_FROM, src2 = KENPO_MAILIN_FROM;
	enum kenpo_mailin_rc rc, rc2;
	char out[256], small[12];
	char *copy;

	if (size > KENPO_MAILIN_MAX)
		return 0;
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	rc = kenpo_mailin_sender(copy, size, out, sizeof out, &src);
	if (kenpo_mailin_code(rc) == NULL)
		abort();
	if (rc == KENPO_MAILIN_OK) {
		if (!kenpo_mail_address_ok(out) || strpbrk(out, "\r\n \t") != NULL ||
		    kenpo_mailin_source_name(src) == NULL)
			abort();
	}
	rc2 = kenpo_mailin_sender(copy, size, small, sizeof small, &src2);
	if (rc2 == KENPO_MAILIN_OK &&
	    (rc != KENPO_MAILIN_OK || strcmp(small, out) != 0 || src2 != src))
		abort();
	if (rc == KENPO_MAILIN_OK && rc2 != KENPO_MAILIN_OK &&
	    (rc2 != KENPO_MAILIN_NO_SENDER || strlen(out) < sizeof small))
		abort();
	if (rc != KENPO_MAILIN_OK && rc2 != rc)
		abort();
	free(copy);
	return 0;
}
