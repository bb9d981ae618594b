/*
 * policy.h - the login ID and password rules of the portal manuals.
 *
 * Every rule that a value breaks is reported on its own, as a bit in a
 * mask, so that a form can list all of them at once.  The codes are
 * stable: they travel on the wire and appear in `kenpo --json` output.
 * This part is pure (no I/O, no allocation) and is linked by every binary,
 * the PAM module included.
 */
#ifndef KENPO_POLICY_H
#define KENPO_POLICY_H

#include <stddef.h>

#define KENPO_LOGIN_ID_MIN 2 /* 「2文字以上40文字未満」 */
#define KENPO_LOGIN_ID_MAX 39
#define KENPO_PASSWORD_MIN 8 /* 「8文字以上40文字未満」 */
#define KENPO_PASSWORD_MAX 39

/* Bits of the mask returned by the checks.  Never renumber: they are wire values. */
enum kenpo_rule {
	KENPO_RULE_ID_TOO_SHORT = 1u << 0,  /* fewer than 2 characters */
	KENPO_RULE_ID_TOO_LONG = 1u << 1,   /* 40 characters or more */
	KENPO_RULE_ID_BAD_CHAR = 1u << 2,   /* not A-Z a-z 0-9 . _ - */
	KENPO_RULE_ID_BAD_START = 1u << 3,  /* starts with '-' or '.' */
	KENPO_RULE_ID_ALL_DIGITS = 1u << 4, /* digits only: would read as a uid */
	KENPO_RULE_ID_DIGITS_7_8 = 1u << 5, /* 8 characters with a digit at 7th or 8th place */
	KENPO_RULE_ID_RESERVED = 1u << 6, /* reserved, or an account of the host (localname.h) */
	KENPO_RULE_PW_TOO_SHORT = 1u << 8,
	KENPO_RULE_PW_TOO_LONG = 1u << 9,
	KENPO_RULE_PW_BAD_CHAR = 1u << 10, /* anything but A-Z a-z 0-9 */
	KENPO_RULE_PW_NO_UPPER = 1u << 11,
	KENPO_RULE_PW_NO_LOWER = 1u << 12,
	KENPO_RULE_PW_NO_DIGIT = 1u << 13,
};

/* Returns 0 when `id` (len bytes, need not be NUL-terminated) is a valid
 * self-chosen login ID, else the mask of broken rules.  A NUL byte inside
 * counts as a bad character.  Exactly len bytes are read, however long:
 * an over-long value is still checked against every other rule.  NULL is
 * taken as the empty value.  Characters are judged as ASCII bytes, whatever
 * the locale of the process. */
unsigned kenpo_policy_check_login_id(const char *id, size_t len);

/* The same for a password (its bits are KENPO_RULE_PW_*).  The value is
 * only read: nothing is copied, so there is nothing to wipe here. */
unsigned kenpo_policy_check_password(const char *pw, size_t len);

/* True when `id` has the pre-issued form: 8 characters of the login ID
 * alphabet, 7th and 8th digits, and no other rule broken but DIGITS_7_8. */
int kenpo_policy_is_preissued_id(const char *id, size_t len);

/* Stable text code of one rule bit, e.g. "id-too-short"; NULL if unknown. */
const char *kenpo_rule_code(unsigned rule);

/* English message (a gettext msgid) of one rule bit; NULL if unknown.
 * Translate with kenpo_i18n_text(). */
const char *kenpo_rule_message(unsigned rule);

/* Iterate over the bits of a mask in a fixed order: returns the lowest set
 * bit of `mask` and clears it, or 0 when none is left. */
unsigned kenpo_rule_next(unsigned *mask);

#endif
