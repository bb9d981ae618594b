/*
 * policy.c - the login ID and password rules of the portal manuals
 * (【注1】 and 【注2】), plus kenpo's own choice of the login ID alphabet.
 */
#include <autoconfig.h>

#include "policy.h"

#include <stdbool.h>
#include <stddef.h>

#include "i18n.h"

/* One row per rule: its wire bit, its stable code and its message.  The
 * order of the rows is the order of the bits, the order in which a form
 * lists the broken rules. */
struct rule_info {
	unsigned bit;
	const char *code;
	const char *message;
};

static const struct rule_info rules[] = {
	{ KENPO_RULE_ID_TOO_SHORT, "id-too-short",
	  N_("The login ID must be at least 2 characters long.") },
	{ KENPO_RULE_ID_TOO_LONG, "id-too-long",
	  N_("The login ID must be shorter than 40 characters.") },
	{ KENPO_RULE_ID_BAD_CHAR, "id-bad-char",
	  N_("The login ID may contain only letters (A-Z, a-z), digits (0-9), "
	     "'.', '_' and '-'.") },
	{ KENPO_RULE_ID_BAD_START, "id-bad-start",
	  N_("The login ID may not start with '-' or '.'.") },
	{ KENPO_RULE_ID_ALL_DIGITS, "id-all-digits",
	  N_("The login ID may not consist of digits only.") },
	{ KENPO_RULE_ID_DIGITS_7_8, "id-digits-7-8",
	  N_("A login ID of 8 characters may not have a digit as its 7th or "
	     "8th character.") },
	{ KENPO_RULE_ID_RESERVED, "id-reserved",
	  N_("This login ID is reserved or names an account of the system; "
	     "choose another.") },
	{ KENPO_RULE_PW_TOO_SHORT, "password-too-short",
	  N_("The password must be at least 8 characters long.") },
	{ KENPO_RULE_PW_TOO_LONG, "password-too-long",
	  N_("The password must be shorter than 40 characters.") },
	{ KENPO_RULE_PW_BAD_CHAR, "password-bad-char",
	  N_("The password may contain only upper-case letters (A-Z), "
	     "lower-case letters (a-z) and digits (0-9); symbols are not "
	     "allowed.") },
	{ KENPO_RULE_PW_NO_UPPER, "password-no-upper",
	  N_("The password must contain at least one upper-case letter (A-Z).") },
	{ KENPO_RULE_PW_NO_LOWER, "password-no-lower",
	  N_("The password must contain at least one lower-case letter (a-z).") },
	{ KENPO_RULE_PW_NO_DIGIT, "password-no-digit",
	  N_("The password must contain at least one digit (0-9).") },
};

/* Character classes, as bits so that one pass over a value collects all. */
enum {
	CC_UPPER = 1u << 0,
	CC_LOWER = 1u << 1,
	CC_DIGIT = 1u << 2,
	CC_PUNCT = 1u << 3, /* the three allowed in a login ID: . _ - */
	CC_OTHER = 1u << 4,
};

/* Classifies by ASCII code rather than with <ctype.h>, whose answers depend
 * on the locale of the host process (isalpha() accepts accented letters in
 * a Latin-1 locale); the rules are about ASCII whatever the locale. */
static unsigned
char_class(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return CC_UPPER;
	if (c >= 'a' && c <= 'z')
		return CC_LOWER;
	if (c >= '0' && c <= '9')
		return CC_DIGIT;
	if (c == '.' || c == '_' || c == '-')
		return CC_PUNCT;
	return CC_OTHER;
}

/* The union of the classes of the first len bytes of s. */
static unsigned
classes_of(const char *s, size_t len)
{
	unsigned seen = 0;

	for (size_t i = 0; i < len; i++)
		seen |= char_class((unsigned char)s[i]);
	return seen;
}

static bool
is_digit(char c)
{
	return char_class((unsigned char)c) == CC_DIGIT;
}

unsigned
kenpo_policy_check_login_id(const char *id, size_t len)
{
	unsigned broken = 0;
	unsigned seen;

	if (id == NULL)
		len = 0;
	seen = classes_of(id, len);
	if (len < KENPO_LOGIN_ID_MIN)
		broken |= KENPO_RULE_ID_TOO_SHORT;
	if (len > KENPO_LOGIN_ID_MAX)
		broken |= KENPO_RULE_ID_TOO_LONG;
	if (seen & CC_OTHER)
		broken |= KENPO_RULE_ID_BAD_CHAR;
	if (len > 0 && (id[0] == '-' || id[0] == '.'))
		broken |= KENPO_RULE_ID_BAD_START;
	if (seen == CC_DIGIT)
		broken |= KENPO_RULE_ID_ALL_DIGITS;
	/* 【注1】: an 8-character ID may not end in a digit at 7th or 8th place,
	 * so that it can never equal a pre-issued ID. */
	if (len == 8 && (is_digit(id[6]) || is_digit(id[7])))
		broken |= KENPO_RULE_ID_DIGITS_7_8;
	return broken;
}

unsigned
kenpo_policy_check_password(const char *pw, size_t len)
{
	unsigned broken = 0;
	unsigned seen;

	if (pw == NULL)
		len = 0;
	seen = classes_of(pw, len);
	if (len < KENPO_PASSWORD_MIN)
		broken |= KENPO_RULE_PW_TOO_SHORT;
	if (len > KENPO_PASSWORD_MAX)
		broken |= KENPO_RULE_PW_TOO_LONG;
	if (seen & (CC_PUNCT | CC_OTHER))
		broken |= KENPO_RULE_PW_BAD_CHAR;
	if (!(seen & CC_UPPER))
		broken |= KENPO_RULE_PW_NO_UPPER;
	if (!(seen & CC_LOWER))
		broken |= KENPO_RULE_PW_NO_LOWER;
	if (!(seen & CC_DIGIT))
		broken |= KENPO_RULE_PW_NO_DIGIT;
	return broken;
}

int
kenpo_policy_is_preissued_id(const char *id, size_t len)
{
	if (id == NULL || len != 8)
		return 0;
	if (!is_digit(id[6]) || !is_digit(id[7]))
		return 0;
	/* The pre-issued form is exactly the one a self-chosen ID may not take. */
	return kenpo_policy_check_login_id(id, len) == KENPO_RULE_ID_DIGITS_7_8;
}

static const struct rule_info *
rule_find(unsigned rule)
{
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		if (rules[i].bit == rule)
			return &rules[i];
	}
	return NULL;
}

const char *
kenpo_rule_code(unsigned rule)
{
	const struct rule_info *r = rule_find(rule);

	return r != NULL ? r->code : NULL;
}

const char *
kenpo_rule_message(unsigned rule)
{
	const struct rule_info *r = rule_find(rule);

	return r != NULL ? r->message : NULL;
}

unsigned
kenpo_rule_next(unsigned *mask)
{
	unsigned lowest;

	if (mask == NULL || *mask == 0)
		return 0;
	/* Two's complement on an unsigned value: isolates the lowest set bit. */
	lowest = *mask & (~*mask + 1u);
	*mask &= ~lowest;
	return lowest;
}
