/*
 * secret.h - password hashes, keyed hashes, comparison and wiping.
 * Everything here is libsodium; nothing is written by hand.
 */
#ifndef KENPO_SECRET_H
#define KENPO_SECRET_H

#include <stddef.h>

#define KENPO_WUR __attribute__((warn_unused_result))

/* Cost of argon2id password hashes. */
struct kenpo_pwcost {
	unsigned long long opslimit; /* t, iterations (>= 1) */
	size_t memlimit;             /* bytes (>= 8 KiB) */
};
/* The default: t=2, m=64 MiB, p=1 (libsodium's INTERACTIVE is t=2, m=64 MiB). */
void kenpo_pwcost_default(struct kenpo_pwcost *c);

/* Longest stored form "{ARGON2}" + crypto_pwhash_STRBYTES. */
#define KENPO_PWHASH_MAX 140

/* Must be called once before anything else here and before the
 * generators of gen.h (wraps sodium_init; 0 also when already done). */
int kenpo_secret_init(void) KENPO_WUR;

/* Longest password accepted by kenpo_pw_hash and kenpo_pw_verify.  The
 * policy allows 39 characters; the bound only keeps absurd input out. */
#define KENPO_PW_MAX_BYTES 4096

/* Hash pw (len bytes) with argon2id into out as "{ARGON2}$argon2id$v=19$m=...,t=...,p=1$salt$hash",
 * the form slapd's argon2 module verifies on bind.  0 or -1: -1 also for a
 * cost outside libsodium's limits, len > KENPO_PW_MAX_BYTES or a NUL byte
 * in pw (PAM and the wire carry C strings, so no real password has one). */
int kenpo_pw_hash(const char *pw, size_t len, const struct kenpo_pwcost *cost, char *out,
		  size_t outsz) KENPO_WUR;

/* Verify pw against a stored value (with or without the "{ARGON2}" prefix,
 * upper case as slapd writes it), of the "$argon2id$" or "$argon2i$" form.
 * 0 on match, -1 on mismatch, a malformed stored value, or a pw that
 * kenpo_pw_hash would refuse. */
int kenpo_pw_verify(const char *stored, const char *pw, size_t len) KENPO_WUR;

/* 1 if the stored hash was made with another cost than `cost` (or is not
 * argon2id), 0 if current, -1 if malformed. */
int kenpo_pw_needs_rehash(const char *stored, const struct kenpo_pwcost *cost);

/* A hash that costs the same to verify as a real one, for unknown users
 * (OpenSSH auth-pam.c fake_password); no password verifies against it.
 * Made once per cost and cached for the life of the process (thread-safe);
 * NULL for an invalid cost, on failure, or beyond 16 distinct costs. */
const char *kenpo_pw_fake_hash(const struct kenpo_pwcost *cost);

#define KENPO_SERVER_SECRET_BYTES 32
#define KENPO_KEYED_HASH_BYTES 32
/* Hex of a keyed hash: what is stored in the directory for keys and tokens. */
#define KENPO_KEYED_HASH_HEX (2 * KENPO_KEYED_HASH_BYTES + 1)

/* BLAKE2b-256 keyed with the server secret, of a domain string ("key",
 * "token", ...) and the value, so a hash of one kind never matches another.
 * Writes lower-case hex into out (>= KENPO_KEYED_HASH_HEX). 0 or -1. */
int kenpo_keyed_hash_hex(const unsigned char secret[KENPO_SERVER_SECRET_BYTES],
			 const char *domain, const char *value, size_t len, char *out,
			 size_t outsz) KENPO_WUR;

/* Constant-time equality of two NUL-terminated strings of equal length;
 * strings of different lengths are unequal (length is not secret). 1 or 0. */
int kenpo_secret_equal(const char *a, const char *b);

/* Wipe with sodium_memzero; kenpo_secret_free wipes strlen+1 then frees;
 * kenpo_wipe_free wipes len bytes then frees.  All accept NULL. */
void kenpo_wipe(void *p, size_t len);
void kenpo_secret_free(char *s);
void kenpo_wipe_free(void *p, size_t len);

/* Read the server secret: a file of exactly 32 random bytes, or 64 hex
 * characters and an optional newline; all zero is refused.  The file is
 * read with kenpo_read_file_safely(): no symlink, owned by root or the
 * effective user, readable by nobody else.  0 or -1 with errbuf filled;
 * out is written only on success. */
int kenpo_server_secret_load(const char *path, unsigned char out[KENPO_SERVER_SECRET_BYTES],
			     char *errbuf, size_t errsz) KENPO_WUR;

#endif
