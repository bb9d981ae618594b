/*
 * provider.h - the write provider of a multi-provider directory: the rule
 * by which kenpod and kenpo-admin pick it, and when they go back to an
 * earlier one.
 *
 * Replication between providers is not part of a write (schema/README.md,
 * "Several providers"): a provider decides a write on its own copy, so two
 * providers would each accept the same key, ticket or login ID.  Every
 * write of one-time state, and every read that decides one, therefore goes
 * to one provider, which every host picks by the same rule from the same
 * ordered list (kenpod.conf's write_uri): the first that answers.  When it
 * fails, the next that answers takes over; when an earlier one answers
 * again and holds every change the one in use holds (its contextCSN values
 * are at least those of the one in use, server ID by server ID), the hosts
 * go back to it.  The checks fall on multiples of the interval since the
 * epoch, so that hosts whose clocks agree check at the same moments and
 * disagree about the write provider for as short a time as possible.
 */
#ifndef KENPO_DIRECTORY_PROVIDER_H
#define KENPO_DIRECTORY_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* As many as kenpod.conf allows in write_uri and ldap_uri. */
#define KENPO_PROVIDERS_MAX KENPO_LDAP_URIS_MAX

/* An ordered list of URIs, from a value of space-separated URIs. */
struct kenpo_uris {
	size_t n;
	char *uri[KENPO_PROVIDERS_MAX];
	char *buf; /* owns the strings */
};

/* Split list (URIs separated by spaces or tabs) into u.  0, or -1 when it
 * holds none, more than KENPO_PROVIDERS_MAX, or memory runs out (u is
 * then empty).  Free with kenpo_uris_free. */
int kenpo_uris_parse(const char *list, struct kenpo_uris *u);
void kenpo_uris_free(struct kenpo_uris *u);

/* 1 when a CSN has the form slapd writes
 * ("20240401093000.123456Z#000000#001#000000"), else 0. */
int kenpo_csn_wellformed(const char *csn);

/*
 * Whether a provider whose contextCSN values are `have` holds every change
 * that one with `want` holds: for each well-formed CSN of want, have holds
 * one of the same server ID that is not older.  1 yes, 0 no.  Malformed
 * values are ignored.  A provider without replication has no contextCSN
 * on want's side: nothing to wait for, 1.
 */
int kenpo_csn_caught_up(const char *const *have, size_t nhave, const char *const *want,
			size_t nwant);

/* The next check after now (ms since the epoch): the next multiple of
 * interval seconds (> 0) after now. */
int64_t kenpo_provider_next_check(int64_t now_ms, long interval);

#endif
