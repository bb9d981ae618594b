/*
 * uid.c - the uidNumber counter (see uid.h).  The increment itself is
 * kenpo_ldap_increment (ldapconn.h).
 */
#include "autoconfig.h"

#include <stdio.h>

#include "schema.h"
#include "uid.h"

int
kenpo_uid_counter_dn(const char *base, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s,%s", KENPO_RDN_UID_COUNTER, base);

	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

int
kenpo_uid_block(unsigned long long before, unsigned long n, unsigned long min, unsigned long max,
		unsigned long *first)
{
	/* Written so that nothing overflows: max - before is computed only
	 * when before <= max. */
	if (n == 0 || before < min || before > max || n - 1 > max - before)
		return -1;
	*first = (unsigned long)before;
	return 0;
}
