/*
 * gen.h - generators for identifiers and secrets.  All randomness comes
 * from libsodium (randombytes_uniform, which has no modulo bias).
 */
#ifndef KENPO_GEN_H
#define KENPO_GEN_H

#include <stddef.h>

#define KENPO_PREISSUED_ID_LEN 8  /* e.g. 07AA0A00: 7th and 8th are digits */
#define KENPO_TEMP_PASSWORD_LEN 8 /* e.g. P0a40aca, meets the password rule */
#define KENPO_KEY_LEN 10          /* 暗証キー: 10 digits, mailed */
#define KENPO_AUTHKEY_LEN 8       /* 認証キー: 8 characters, on screen only */
#define KENPO_TOKEN_BYTES 24      /* URL token: 192 bits */
#define KENPO_TOKEN_LEN 32        /* base64url, no padding, of 24 bytes */

/* Each writes exactly LEN characters and a NUL into out (size >= LEN+1).
 * Return 0, or -1 if out is NULL or too small (out is then untouched).
 * kenpo_secret_init() must have been called.
 *
 * Look-alikes left out (gen.c says why): 0 O o Q 1 I l everywhere; in the
 * mixed-case temporary password also C K P S U V W X Z in both cases and
 * g q.  Upper-case codes use A-Z without I O Q, and 2-9. */

/* 8 characters: the 1st to 6th upper-case letters and digits 2-9 with at
 * least one letter (never digits only), the 7th and 8th digits 2-9: the
 * pre-issued form (kenpo_policy_is_preissued_id). */
int kenpo_gen_preissued_id(char *out, size_t outsz);
/* 8 characters from an alphabet without look-alikes, with at least one
 * upper, one lower and one digit: passes kenpo_policy_check_password. */
int kenpo_gen_temp_password(char *out, size_t outsz);
/* 10 digits 0-9 (a leading 0 is possible). */
int kenpo_gen_key(char *out, size_t outsz);
/* 8 characters, upper-case letters and digits without look-alikes. */
int kenpo_gen_authkey(char *out, size_t outsz);
/* URL-safe base64 (no padding) of KENPO_TOKEN_BYTES random bytes;
 * out needs KENPO_TOKEN_LEN + 1 bytes. */
int kenpo_gen_token(char *out, size_t outsz);

/* True if s has the form of a token made by kenpo_gen_token (length and alphabet). */
int kenpo_token_is_wellformed(const char *s);
/* True if s is exactly KENPO_KEY_LEN ASCII digits. */
int kenpo_key_is_wellformed(const char *s);

#endif
