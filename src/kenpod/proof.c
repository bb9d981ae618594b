/*
 * proof.c - the proof of a completed login (see proof.h).
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "member.h"
#include "proof.h"
#include "request.h"
#include "secret.h"

#define INPUT_MAX (MEMBER_DN_MAX + KENPO_PWHASH_MAX + 32)

/* The MAC of m's proof ending at expiry, as PROOF_MAC_HEX hex digits. */
static int
mac(const struct request *rq, const struct member *m, int64_t expiry, char out[PROOF_MAC_HEX + 1])
{
	const char *pw = member_get(m, MA_PASSWORD);
	char in[INPUT_MAX], hex[KENPO_KEYED_HASH_HEX];
	int n, rc = -1;

	n = snprintf(in, sizeof in, "%s\n%s\n%" PRId64, m->e->dn, pw != NULL ? pw : "", expiry);
	if (n < 0 || (size_t)n >= sizeof in)
		goto done;
	if (kenpo_keyed_hash_hex(rq->kd->secret, "proof", in, (size_t)n, hex, sizeof hex) != 0)
		goto done;
	memcpy(out, hex, PROOF_MAC_HEX);
	out[PROOF_MAC_HEX] = '\0';
	rc = 0;
done:
	kenpo_wipe(in, sizeof in);
	kenpo_wipe(hex, sizeof hex);
	return rc;
}

int
proof_make(const struct request *rq, const struct member *m, int64_t now, char *out, size_t outsz)
{
	int64_t expiry = now + (int64_t)m->soc->login_proof_validity * 1000;
	char h[PROOF_MAC_HEX + 1];
	int n;

	if (outsz > 0)
		out[0] = '\0';
	if (mac(rq, m, expiry, h) != 0)
		return -1;
	n = snprintf(out, outsz, "%" PRId64 ".%s", expiry, h);
	kenpo_wipe(h, sizeof h);
	if (n < 0 || (size_t)n >= outsz) {
		kenpo_wipe(out, outsz);
		return -1;
	}
	return 0;
}

int
proof_valid(const struct request *rq, const struct member *m, const char *proof, size_t len,
	    int64_t now)
{
	char text[PROOF_MAX], want[PROOF_MAC_HEX + 1];
	const char *dot;
	int64_t expiry = 0;
	size_t i;
	int ok = 0;

	if (len == 0 || len >= sizeof text)
		return 0;
	memcpy(text, proof, len);
	text[len] = '\0';
	dot = strchr(text, '.');
	if (dot == NULL || dot == text || dot - text > 15 || strlen(dot + 1) != PROOF_MAC_HEX)
		goto done;
	for (i = 0; text + i < dot; i++) {
		if (text[i] < '0' || text[i] > '9')
			goto done;
		expiry = expiry * 10 + (text[i] - '0');
	}
	if (expiry <= now || mac(rq, m, expiry, want) != 0)
		goto done;
	ok = kenpo_secret_equal(want, dot + 1);
done:
	kenpo_wipe(text, sizeof text);
	kenpo_wipe(want, sizeof want);
	return ok;
}
