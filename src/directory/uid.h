/*
 * uid.h - uidNumbers for new members.
 *
 * Each society has one counter, the entry cn=uidNumber under its base
 * (KENPO_AT_NEXT_UID: the next number to hand out).  kenpod (a member
 * registered by identity check becomes a Unix account) and kenpo-admin
 * (issue, import) take numbers from it the same way: one modify that adds
 * the size of the block to the counter (RFC 4525 modify-increment) and
 * reads the value before the increment with the pre-read control (RFC
 * 4527).  slapd applies it atomically, so two takers, in one process or
 * on two hosts writing to the one write provider, never get the same
 * numbers, and nobody has to retry.  An increment that is sent twice (a
 * connection lost after the server applied it) only leaves a gap.
 */
#ifndef KENPO_DIRECTORY_UID_H
#define KENPO_DIRECTORY_UID_H

#include <stddef.h>

/* The DN of the counter of the society at base.  0, or -1 if it does not
 * fit in outsz bytes. */
int kenpo_uid_counter_dn(const char *base, char *out, size_t outsz);

/* The counter said `before` when a block of n numbers (n >= 1) was taken
 * from it: the block is before .. before + n - 1.  0 with *first = before
 * when the whole block lies within [min, max], else -1 (the society's
 * range is used up, or the counter was set outside it). */
int kenpo_uid_block(unsigned long long before, unsigned long n, unsigned long min,
		    unsigned long max, unsigned long *first);

#endif
