/*
 * gen.c - generators for login IDs, temporary passwords, keys and tokens.
 *
 * Every random choice is randombytes_uniform() or randombytes_buf() from
 * libsodium: randombytes_uniform() draws without modulo bias, so each
 * character of an alphabet is equally likely.
 */
#include <autoconfig.h>

#include <string.h>
#include <sodium.h>

#include "gen.h"

/*
 * Alphabets.  What a member reads on a printed letter or a screen must be
 * typed back without doubt, so characters that can be taken for another
 * one are left out:
 *  - 0 O o Q: round shapes (Q loses its tail in small print);
 *  - 1 I l: vertical strokes;
 *  - in mixed case, letters whose capital and small forms differ only in
 *    size (C K P S U V W X Z and c k p s u v w x z): printed alone, without
 *    a neighbour to compare with, the member cannot tell which case to type,
 *    and passwords are case-sensitive;
 *  - g and q, which pass for 9 in many fonts.
 * Upper-case-only codes (login IDs, 認証キー) keep the size-twin letters:
 * there is only one case to type, and login IDs compare without regard to
 * case anyway.
 */
#define CODE_LETTERS "ABCDEFGHJKLMNPRSTUVWXYZ"
#define PW_UPPER "ABDEFGHJLMNRTY"
#define PW_LOWER "abdefhijmnrty"
#define CLEAR_DIGITS "23456789"

static const char code_letters[] = CODE_LETTERS;
static const char code_digits[] = CLEAR_DIGITS;
static const char code_alphabet[] = CODE_LETTERS CLEAR_DIGITS;

static const char pw_upper[] = PW_UPPER;
static const char pw_lower[] = PW_LOWER;
static const char pw_digits[] = CLEAR_DIGITS;
static const char pw_alphabet[] = PW_UPPER PW_LOWER CLEAR_DIGITS;

static const char key_digits[] = "0123456789";

/* One character drawn uniformly from a NUL-terminated alphabet. */
static char
pick(const char *alphabet)
{
	return alphabet[randombytes_uniform((uint32_t)strlen(alphabet))];
}

/* Fill out[0..n) with characters drawn from alphabet. */
static void
fill(char *out, size_t n, const char *alphabet)
{
	for (size_t i = 0; i < n; i++)
		out[i] = pick(alphabet);
}

/* Fisher-Yates shuffle of s[0..n), every permutation equally likely. */
static void
shuffle(char *s, size_t n)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = randombytes_uniform((uint32_t)(i + 1));
		char c = s[i];

		s[i] = s[j];
		s[j] = c;
	}
}

int
kenpo_gen_preissued_id(char *out, size_t outsz)
{
	if (out == NULL || outsz < KENPO_PREISSUED_ID_LEN + 1)
		return -1;
	/* Positions 1..6 from the code alphabet, one of them surely a letter,
	 * so the ID is never digits only; 7th and 8th digits, the pre-issued
	 * form that no self-chosen ID can take. */
	fill(out, 6, code_alphabet);
	out[randombytes_uniform(6)] = pick(code_letters);
	fill(out + 6, 2, code_digits);
	out[KENPO_PREISSUED_ID_LEN] = '\0';
	return 0;
}

int
kenpo_gen_temp_password(char *out, size_t outsz)
{
	if (out == NULL || outsz < KENPO_TEMP_PASSWORD_LEN + 1)
		return -1;
	/* The first three places hold one character of each required class,
	 * the rest any character; the shuffle then moves the three to random
	 * places, so a class is not tied to a position. */
	out[0] = pick(pw_upper);
	out[1] = pick(pw_lower);
	out[2] = pick(pw_digits);
	fill(out + 3, KENPO_TEMP_PASSWORD_LEN - 3, pw_alphabet);
	shuffle(out, KENPO_TEMP_PASSWORD_LEN);
	out[KENPO_TEMP_PASSWORD_LEN] = '\0';
	return 0;
}

/* len characters of alphabet and a NUL into out, if it has room. */
static int
gen_code(char *out, size_t outsz, size_t len, const char *alphabet)
{
	if (out == NULL || outsz < len + 1)
		return -1;
	fill(out, len, alphabet);
	out[len] = '\0';
	return 0;
}

int
kenpo_gen_key(char *out, size_t outsz)
{
	return gen_code(out, outsz, KENPO_KEY_LEN, key_digits);
}

int
kenpo_gen_authkey(char *out, size_t outsz)
{
	return gen_code(out, outsz, KENPO_AUTHKEY_LEN, code_alphabet);
}

int
kenpo_gen_token(char *out, size_t outsz)
{
	unsigned char raw[KENPO_TOKEN_BYTES];
	const size_t need = sodium_base64_ENCODED_LEN(KENPO_TOKEN_BYTES,
						      sodium_base64_VARIANT_URLSAFE_NO_PADDING);

	/* need counts the NUL: KENPO_TOKEN_LEN + 1. */
	if (out == NULL || outsz < need)
		return -1;
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(out, outsz, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	return 0;
}

int
kenpo_token_is_wellformed(const char *s)
{
	unsigned char raw[KENPO_TOKEN_BYTES];
	size_t rawlen = 0;
	int ok;

	if (s == NULL || strlen(s) != KENPO_TOKEN_LEN)
		return 0;
	/* Decoding with the same variant checks the alphabet without a
	 * hand-written character table; without an end pointer it fails
	 * unless every character is consumed. */
	ok = sodium_base642bin(raw, sizeof raw, s, KENPO_TOKEN_LEN, NULL, &rawlen, NULL,
			       sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
	     rawlen == KENPO_TOKEN_BYTES;
	sodium_memzero(raw, sizeof raw);
	return ok;
}

int
kenpo_key_is_wellformed(const char *s)
{
	if (s == NULL || strlen(s) != KENPO_KEY_LEN)
		return 0;
	/* strspn, not isdigit(): only the ASCII digits, whatever the locale. */
	return strspn(s, key_digits) == KENPO_KEY_LEN;
}
