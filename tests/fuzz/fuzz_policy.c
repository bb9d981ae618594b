/*
 * fuzz_policy.c - libFuzzer target for the policy checks
 * (src/common/policy.c) and the reserved login IDs (src/common/localname.c).
 *
 * The input is a reserved_login_ids value, a LF, then a value that is
 * checked as a login ID and as a password (without a LF, the whole input
 * is the value and the extra list is empty).  The checks get an exact-size
 * copy of the value, which may hold any byte, NUL included.  Whatever the
 * bytes, nothing is read outside them, and:
 *  - a login ID or a password with no broken rule is within its length
 *    limits and of its alphabet; every broken rule has a code and a
 *    message, for both checks;
 *  - a pre-issued ID is exactly what a self-chosen one may not be;
 *  - the reserved list matches without regard to case: the value in upper
 *    and in lower case is reserved exactly when the value is;
 *  - an extra list that kenpo_localname_list_ok refuses says why.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "localname.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_rules(unsigned mask)
{
	unsigned rule;

	while ((rule = kenpo_rule_next(&mask)) != 0)
		if (kenpo_rule_code(rule) == NULL || kenpo_rule_message(rule) == NULL)
			abort();
}

static int
in_alphabet(const char *s, size_t n, const char *extra)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') ||
		      (s[i] != '\0' && strchr(extra, s[i]) != NULL)))
			return 0;
	return 1;
}

static void
check_value(const char *v, size_t n)
{
	unsigned id = kenpo_policy_check_login_id(v, n);
	unsigned pw = kenpo_policy_check_password(v, n);

	check_rules(id);
	check_rules(pw);
	if (id == 0 && (n < KENPO_LOGIN_ID_MIN || n > KENPO_LOGIN_ID_MAX ||
			!in_alphabet(v, n, "._-") || v[0] == '-' || v[0] == '.'))
		abort();
	if (pw == 0 &&
	    (n < KENPO_PASSWORD_MIN || n > KENPO_PASSWORD_MAX || !in_alphabet(v, n, "")))
		abort();
	if (kenpo_policy_is_preissued_id(v, n) && id != KENPO_RULE_ID_DIGITS_7_8)
		abort();
}

static void
check_reserved(const char *v, size_t n, const char *extra)
{
	char *upper, *lower;
	int r = kenpo_localname_reserved(v, n, extra);
	size_t i;

	upper = malloc(n > 0 ? n : 1);
	lower = malloc(n > 0 ? n : 1);
	if (upper == NULL || lower == NULL)
		goto done;
	for (i = 0; i < n; i++) {
		upper[i] = v[i] >= 'a' && v[i] <= 'z' ? (char)(v[i] - 'a' + 'A') : v[i];
		lower[i] = v[i] >= 'A' && v[i] <= 'Z' ? (char)(v[i] - 'A' + 'a') : v[i];
	}
	if (kenpo_localname_reserved(upper, n, extra) != r ||
	    kenpo_localname_reserved(lower, n, extra) != r)
		abort();
done:
	free(upper);
	free(lower);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t elen = nl != NULL ? (size_t)(nl - data) : 0;
	size_t vlen = nl != NULL ? size - elen - 1 : size;
	char *extra, *value, why[256];

	extra = malloc(elen + 1);
	value = malloc(vlen > 0 ? vlen : 1);
	if (extra == NULL || value == NULL)
		goto done;
	memcpy(extra, data, elen);
	extra[elen] = '\0';
	memcpy(value, data + size - vlen, vlen);
	check_value(value, vlen);
	why[0] = '\0';
	if (kenpo_localname_list_ok(extra, why, sizeof why) != 0) {
		if (why[0] == '\0')
			abort();
		check_reserved(value, vlen, "");
	} else {
		check_reserved(value, vlen, extra);
	}
done:
	free(extra);
	free(value);
	return 0;
}
