/*
 * provider.c - the write provider's rule (provider.h): the URI list, the
 * comparison of contextCSN values, the schedule of failback checks.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "provider.h"

#define CSN_LEN 40    /* YYYYmmddHHMMSS.uuuuuuZ#cccccc#sss#mmmmmm */
#define CSN_SID_AT 30 /* the server ID's three hex digits */

int
kenpo_uris_parse(const char *list, struct kenpo_uris *u)
{
	char *p, *save = NULL;

	memset(u, 0, sizeof *u);
	if (list == NULL || (u->buf = strdup(list)) == NULL)
		return -1;
	for (p = strtok_r(u->buf, " \t", &save); p != NULL; p = strtok_r(NULL, " \t", &save)) {
		if (u->n == KENPO_PROVIDERS_MAX) {
			kenpo_uris_free(u);
			return -1;
		}
		u->uri[u->n++] = p;
	}
	if (u->n == 0) {
		kenpo_uris_free(u);
		return -1;
	}
	return 0;
}

void
kenpo_uris_free(struct kenpo_uris *u)
{
	free(u->buf);
	memset(u, 0, sizeof *u);
}

static int
all_of(const char *s, size_t n, const char *set)
{
	return strspn(s, set) >= n;
}

int
kenpo_csn_wellformed(const char *csn)
{
	static const char digits[] = "0123456789", hex[] = "0123456789abcdefABCDEF";

	return csn != NULL && strlen(csn) == CSN_LEN && all_of(csn, 14, digits) &&
	       csn[14] == '.' && all_of(csn + 15, 6, digits) && csn[21] == 'Z' &&
	       csn[22] == '#' && all_of(csn + 23, 6, hex) && csn[29] == '#' &&
	       all_of(csn + CSN_SID_AT, 3, hex) && csn[33] == '#' && all_of(csn + 34, 6, hex);
}

/* Whether have holds a CSN of w's server ID that is not older than w.
 * CSNs of one server ID compare as text: fixed width, time first. */
static int
covered(const char *w, const char *const *have, size_t nhave)
{
	size_t i;

	for (i = 0; i < nhave; i++)
		if (kenpo_csn_wellformed(have[i]) &&
		    strncasecmp(have[i] + CSN_SID_AT, w + CSN_SID_AT, 3) == 0 &&
		    strcmp(have[i], w) >= 0)
			return 1;
	return 0;
}

int
kenpo_csn_caught_up(const char *const *have, size_t nhave, const char *const *want, size_t nwant)
{
	size_t i;

	for (i = 0; i < nwant; i++)
		if (kenpo_csn_wellformed(want[i]) && !covered(want[i], have, nhave))
			return 0;
	return 1;
}

int64_t
kenpo_provider_next_check(int64_t now_ms, long interval)
{
	int64_t step = (int64_t)interval * 1000;

	if (step <= 0)
		step = 1000;
	return (now_ms / step + 1) * step;
}
