/*
 * secret.c - password hashes, keyed hashes, comparison and wiping, all
 * with libsodium.
 */
#include <autoconfig.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "secret.h"
#include "pwhash.h"
#include "readfile.h"

#define ARGON2_PREFIX "{ARGON2}"
#define ARGON2_PREFIX_LEN (sizeof ARGON2_PREFIX - 1)
#define ARGON2ID_TAG "$argon2id$"
#define ARGON2I_TAG "$argon2i$"

/* Distinct costs for which a fake hash is kept; in practice one or two
 * (the configured cost, perhaps the previous one during an upgrade). */
#define FAKE_HASH_SLOTS 16
/* The server secret file is tiny; anything longer is surely wrong. */
#define SECRET_FILE_MAX 1024

void
kenpo_pwcost_default(struct kenpo_pwcost *c)
{
	/* Written out rather than crypto_pwhash_argon2id_*_INTERACTIVE, so a
	 * libsodium upgrade that changed those could not silently make every
	 * stored hash "need a rehash". */
	c->opslimit = 2;
	c->memlimit = (size_t)64 * 1024 * 1024;
}

int
kenpo_secret_init(void)
{
	/* 1 means another part of the process initialised libsodium already. */
	return sodium_init() >= 0 ? 0 : -1;
}

static int
cost_is_valid(const struct kenpo_pwcost *c)
{
	return c != NULL && c->opslimit >= crypto_pwhash_argon2id_OPSLIMIT_MIN &&
	       c->opslimit <= crypto_pwhash_argon2id_OPSLIMIT_MAX &&
	       c->memlimit >= crypto_pwhash_argon2id_MEMLIMIT_MIN &&
	       c->memlimit <= crypto_pwhash_argon2id_MEMLIMIT_MAX;
}

/* A password kenpo accepts for hashing or verification: at most
 * KENPO_PW_MAX_BYTES and no NUL byte (PAM and the wire carry C strings, so
 * a NUL could never arrive; refusing it keeps every path alike). */
static int
pw_is_acceptable(const char *pw, size_t len)
{
	return pw != NULL && len <= KENPO_PW_MAX_BYTES && memchr(pw, '\0', len) == NULL;
}

/* "{ARGON2}" + the libsodium string, into out; pw may hold any bytes. */
static int
hash_raw(const char *pw, size_t len, const struct kenpo_pwcost *cost, char *out, size_t outsz)
{
	char str[crypto_pwhash_STRBYTES];
	struct kenpo_pwslot *slot;
	size_t n;
	int rc = -1, r;

	/* In a region of the pool, when there is one (pwhash.h). */
	slot = kenpo_pwpool_enter();
	r = crypto_pwhash_str_alg(str, pw, len, cost->opslimit, cost->memlimit,
				  crypto_pwhash_ALG_ARGON2ID13);
	kenpo_pwpool_leave(slot);
	if (r != 0)
		goto done;
	n = strlen(str);
	if (ARGON2_PREFIX_LEN + n + 1 > outsz)
		goto done;
	memcpy(out, ARGON2_PREFIX, ARGON2_PREFIX_LEN);
	memcpy(out + ARGON2_PREFIX_LEN, str, n + 1);
	rc = 0;
done:
	sodium_memzero(str, sizeof str);
	return rc;
}

int
kenpo_pw_hash(const char *pw, size_t len, const struct kenpo_pwcost *cost, char *out,
	      size_t outsz)
{
	if (!pw_is_acceptable(pw, len) || !cost_is_valid(cost) || out == NULL)
		return -1;
	return hash_raw(pw, len, cost, out, outsz);
}

/*
 * The libsodium string inside a stored value: the "{ARGON2}" prefix, as
 * slapd writes it (upper case), is optional; what follows must be the
 * argon2id or argon2i form, shorter than crypto_pwhash_STRBYTES.  Copied
 * into str so libsodium never reads past a short value.  0 or -1.
 */
static int
stored_to_str(const char *stored, char str[crypto_pwhash_STRBYTES])
{
	size_t n;

	if (stored == NULL)
		return -1;
	if (strncmp(stored, ARGON2_PREFIX, ARGON2_PREFIX_LEN) == 0)
		stored += ARGON2_PREFIX_LEN;
	if (strncmp(stored, ARGON2ID_TAG, sizeof ARGON2ID_TAG - 1) != 0 &&
	    strncmp(stored, ARGON2I_TAG, sizeof ARGON2I_TAG - 1) != 0)
		return -1;
	n = strnlen(stored, crypto_pwhash_STRBYTES);
	if (n >= crypto_pwhash_STRBYTES)
		return -1;
	memcpy(str, stored, n + 1);
	return 0;
}

int
kenpo_pw_verify(const char *stored, const char *pw, size_t len)
{
	char str[crypto_pwhash_STRBYTES];
	struct kenpo_pwslot *slot;
	int r;

	/* crypto_pwhash_str_verify takes the password with its length, so it
	 * needs no NUL-terminated copy; only the stored string must end in
	 * a NUL, which stored_to_str guarantees. */
	if (!pw_is_acceptable(pw, len) || stored_to_str(stored, str) != 0)
		return -1;
	slot = kenpo_pwpool_enter();
	r = crypto_pwhash_str_verify(str, pw, len);
	kenpo_pwpool_leave(slot);
	return r == 0 ? 0 : -1;
}

int
kenpo_pw_needs_rehash(const char *stored, const struct kenpo_pwcost *cost)
{
	char str[crypto_pwhash_STRBYTES];
	int r;

	if (!cost_is_valid(cost) || stored_to_str(stored, str) != 0)
		return -1;
	if (strncmp(str, ARGON2ID_TAG, sizeof ARGON2ID_TAG - 1) == 0)
		return crypto_pwhash_argon2id_str_needs_rehash(str, cost->opslimit,
							       cost->memlimit);
	/* argon2i (what slapd itself would write): well-formed values are
	 * always upgraded to argon2id, whatever their cost. */
	r = crypto_pwhash_argon2i_str_needs_rehash(str, cost->opslimit, cost->memlimit);
	return r < 0 ? -1 : 1;
}

struct fake_hash {
	unsigned long long opslimit;
	size_t memlimit;
	char hash[KENPO_PWHASH_MAX];
};

/* Entries are written once, under the lock, and never change afterwards,
 * so a pointer handed out stays valid and readable without the lock. */
static struct fake_hash fake_hashes[FAKE_HASH_SLOTS];
static size_t fake_hash_count;
static pthread_mutex_t fake_hash_lock = PTHREAD_MUTEX_INITIALIZER;

/* A hash of a random password that is wiped at once: nothing verifies
 * against it, yet verifying costs what a real hash of that cost costs. */
static int
fake_hash_make(const struct kenpo_pwcost *cost, char *out, size_t outsz)
{
	unsigned char pw[32];
	int rc;

	randombytes_buf(pw, sizeof pw);
	rc = hash_raw((const char *)pw, sizeof pw, cost, out, outsz);
	sodium_memzero(pw, sizeof pw);
	return rc;
}

const char *
kenpo_pw_fake_hash(const struct kenpo_pwcost *cost)
{
	const char *found = NULL;
	struct fake_hash *slot;

	if (!cost_is_valid(cost) || pthread_mutex_lock(&fake_hash_lock) != 0)
		return NULL;
	for (size_t i = 0; i < fake_hash_count && found == NULL; i++)
		if (fake_hashes[i].opslimit == cost->opslimit &&
		    fake_hashes[i].memlimit == cost->memlimit)
			found = fake_hashes[i].hash;
	if (found != NULL || fake_hash_count == FAKE_HASH_SLOTS)
		goto done;
	/* Hashing under the lock: it happens once per cost, and it keeps
	 * concurrent first callers from each claiming memlimit bytes. */
	slot = &fake_hashes[fake_hash_count];
	if (fake_hash_make(cost, slot->hash, sizeof slot->hash) != 0)
		goto done;
	slot->opslimit = cost->opslimit;
	slot->memlimit = cost->memlimit;
	fake_hash_count++;
	found = slot->hash;
done:
	pthread_mutex_unlock(&fake_hash_lock);
	return found;
}

int
kenpo_keyed_hash_hex(const unsigned char secret[KENPO_SERVER_SECRET_BYTES], const char *domain,
		     const char *value, size_t len, char *out, size_t outsz)
{
	crypto_generichash_state st;
	unsigned char h[KENPO_KEYED_HASH_BYTES];
	static const unsigned char sep = 0;
	int rc = -1;

	if (secret == NULL || domain == NULL || (value == NULL && len > 0) || out == NULL ||
	    outsz < KENPO_KEYED_HASH_HEX)
		return -1;
	/* domain, a 0 byte, value: the domain holds no 0 byte, so the first
	 * one ends it and no (domain, value) pair can pose as another. */
	if (crypto_generichash_init(&st, secret, KENPO_SERVER_SECRET_BYTES, sizeof h) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)domain, strlen(domain)) != 0 ||
	    crypto_generichash_update(&st, &sep, 1) != 0 ||
	    (len > 0 && crypto_generichash_update(&st, (const unsigned char *)value, len) != 0) ||
	    crypto_generichash_final(&st, h, sizeof h) != 0)
		goto done;
	sodium_bin2hex(out, outsz, h, sizeof h);
	rc = 0;
done:
	sodium_memzero(&st, sizeof st);
	sodium_memzero(h, sizeof h);
	return rc;
}

int
kenpo_secret_equal(const char *a, const char *b)
{
	size_t len;

	if (a == NULL || b == NULL)
		return 0;
	len = strlen(a);
	if (strlen(b) != len)
		return 0;
	return sodium_memcmp(a, b, len) == 0;
}

void
kenpo_wipe(void *p, size_t len)
{
	if (p != NULL)
		sodium_memzero(p, len);
}

void
kenpo_secret_free(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s) + 1);
	free(s);
}

void
kenpo_wipe_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	sodium_memzero(p, len);
	free(p);
}

/* The secret in a file's contents: 32 raw bytes, or 64 hex characters and
 * an optional newline.  0, or -1 with a reason. */
static int
secret_decode(const char *data, size_t len, unsigned char out[KENPO_SERVER_SECRET_BYTES],
	      const char **why)
{
	size_t binlen = 0;

	if (len == KENPO_SERVER_SECRET_BYTES) {
		memcpy(out, data, KENPO_SERVER_SECRET_BYTES);
		return 0;
	}
	if (len == 2 * KENPO_SERVER_SECRET_BYTES + 1 && data[len - 1] == '\n')
		len--;
	if (len != 2 * KENPO_SERVER_SECRET_BYTES) {
		*why = "expected 32 bytes, or 64 hexadecimal characters";
		return -1;
	}
	/* Without an end pointer, sodium_hex2bin fails unless it consumes
	 * every character. */
	if (sodium_hex2bin(out, KENPO_SERVER_SECRET_BYTES, data, len, NULL, &binlen, NULL) != 0 ||
	    binlen != KENPO_SERVER_SECRET_BYTES) {
		*why = "not hexadecimal";
		return -1;
	}
	return 0;
}

int
kenpo_server_secret_load(const char *path, unsigned char out[KENPO_SERVER_SECRET_BYTES],
			 char *errbuf, size_t errsz)
{
	unsigned char key[KENPO_SERVER_SECRET_BYTES];
	char *data = NULL;
	size_t len = 0;
	const char *why = NULL;
	int rc = -1;

	if (path == NULL || out == NULL)
		return -1;
	/* Owned by root or by the process itself (kenpod after dropping
	 * privileges), readable by nobody else. */
	if (kenpo_read_file_safely(path, geteuid(), SECRET_FILE_MAX, 1, &data, &len, errbuf,
				   errsz) != 0)
		goto done;
	if (secret_decode(data, len, key, &why) != 0)
		goto done;
	/* A file of zeros is a set-up mistake (head -c 32 /dev/zero). */
	if (sodium_is_zero(key, sizeof key)) {
		why = "all zero";
		goto done;
	}
	memcpy(out, key, sizeof key);
	rc = 0;
done:
	if (why != NULL && errbuf != NULL && errsz > 0)
		snprintf(errbuf, errsz, "%.200s: secret: %s", path, why);
	kenpo_wipe_free(data, len);
	sodium_memzero(key, sizeof key);
	return rc;
}
