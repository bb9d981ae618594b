/*
 * proof.h - the proof of a completed login: what AUTH_PASSWORD or AUTH_KEY
 * hands out when a login is complete, and PASSWORD_CHANGE and
 * LOGIN_HISTORY ask for where the society requires the key.
 *
 * It is kept nowhere: "<expiry ms>.<MAC>", the MAC a keyed hash (the
 * server secret) of the member's DN, the password hash it was made
 * under and the expiry.  So any kenpod host sharing the secret checks it
 * without a directory write, it ends at login_proof_validity, and a
 * password change (a new hash) voids every proof made before.  It is a
 * bearer secret for that time: the PAM module keeps it in the handle, a
 * portal in its session; never on a command line.
 */
#ifndef KENPOD_PROOF_H
#define KENPOD_PROOF_H

#include <stddef.h>
#include <stdint.h>

struct request;
struct member;

#define PROOF_MAC_HEX 32
#define PROOF_MAX 64 /* the longest text, NUL included */

/* A proof for m, valid from now for its society's login_proof_validity.
 * 0, or -1 (out is then ""). */
int proof_make(const struct request *rq, const struct member *m, int64_t now, char *out,
	       size_t outsz);

/* Whether proof (len bytes) is a proof of m that has not expired at now. */
int proof_valid(const struct request *rq, const struct member *m, const char *proof, size_t len,
		int64_t now);

#endif
