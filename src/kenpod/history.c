/*
 * history.c - a member's logins (see history.h).
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "gentime.h"
#include "history.h"
#include "log.h"
#include "member.h"
#include "proof.h"
#include "prototab.h"
#include "zone.h"

#define VALUE_MAX (KENPO_GENTIME_MAX + HISTORY_SERVICE_MAX + HISTORY_SOURCE_MAX + 4)
#define HISTORY_MAX 100 /* login_history's upper bound */

/* Printable ASCII but the space, '?' for the rest, "-" for nothing. */
static void
clean(const char *s, size_t len, size_t max, char *out)
{
	size_t i, n = len < max ? len : max;

	for (i = 0; i < n; i++)
		out[i] = s[i] > ' ' && s[i] < 0x7f ? s[i] : '?';
	if (n == 0)
		out[n++] = '-';
	out[n] = '\0';
}

/* Values sort by their time: the oldest first. */
static int
by_value(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Drop the oldest values so that `keep` remain with the new one. */
static void
drop_oldest(struct member_change *c, const struct member *m, size_t keep)
{
	const char *v[HISTORY_MAX + 8];
	size_t i, n = member_nvalues(m, MA_LOGIN_HISTORY);

	if (n > sizeof v / sizeof v[0])
		n = sizeof v / sizeof v[0];
	for (i = 0; i < n; i++)
		v[i] = member_value_at(m, MA_LOGIN_HISTORY, i);
	qsort(v, n, sizeof v[0], by_value);
	for (i = 0; i + keep < n + 1 && i < n; i++)
		member_delete(c, MA_LOGIN_HISTORY, v[i]);
}

void
history_change_record(struct member_change *c, const struct member *m, int64_t now,
		      const char *service, size_t service_len, const char *source,
		      size_t source_len)
{
	char when[KENPO_GENTIME_MAX], svc[HISTORY_SERVICE_MAX + 2], src[HISTORY_SOURCE_MAX + 2];
	char value[VALUE_MAX];

	if (kenpo_gentime_format(now, 1, when, sizeof when) != 0) {
		c->err = 1;
		return;
	}
	clean(service, service_len, HISTORY_SERVICE_MAX, svc);
	clean(source, source_len, HISTORY_SOURCE_MAX, src);
	(void)snprintf(value, sizeof value, "%s %s %s", when, svc, src);
	/* The time of this login without the milliseconds, as before. */
	when[14] = 'Z';
	when[15] = '\0';
	member_replace(c, MA_LAST_LOGIN, when);
	if (member_has(m, MA_LOGIN_HISTORY, value))
		return;
	drop_oldest(c, m, m->soc->login_history);
	member_add(c, MA_LOGIN_HISTORY, value);
}

void
history_previous(const struct member *m, char out[HISTORY_PREVIOUS_MAX])
{
	int64_t last = member_time(m, MA_LAST_LOGIN);

	out[0] = '\0';
	if (last != 0 && zone_format_local(m->soc, last, out, HISTORY_PREVIOUS_MAX) != 0)
		out[0] = '\0';
}

/* ---- LOGIN_HISTORY ---- */

/* One value as a VISIT: 0, or -1 for a value kenpod did not write. */
static int
put_visit(struct kenpo_buf *out, const struct member *m, const char *v)
{
	char when[KENPO_GENTIME_MAX], local[HISTORY_PREVIOUS_MAX];
	const char *sp1 = strchr(v, ' '), *sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
	int64_t t;

	if (sp2 == NULL || (size_t)(sp1 - v) >= sizeof when)
		return -1;
	memcpy(when, v, (size_t)(sp1 - v));
	when[sp1 - v] = '\0';
	if (kenpo_gentime_parse(when, &t) != 0 ||
	    zone_format_local(m->soc, t, local, sizeof local) != 0)
		return -1;
	kenpo_put_cstring(out, local);
	kenpo_put_string(out, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	kenpo_put_cstring(out, strcmp(sp2 + 1, "-") == 0 ? "" : sp2 + 1);
	return 0;
}

static void
put_history(struct kenpo_buf *out, const struct member *m)
{
	const char *v[HISTORY_MAX + 8];
	size_t i, n = member_nvalues(m, MA_LOGIN_HISTORY), good = 0;
	int64_t t;

	if (n > sizeof v / sizeof v[0])
		n = sizeof v / sizeof v[0];
	for (i = 0; i < n; i++) {
		const char *x = member_value_at(m, MA_LOGIN_HISTORY, i);
		char when[KENPO_GENTIME_MAX];
		const char *sp = strchr(x, ' ');

		if (sp == NULL || (size_t)(sp - x) >= sizeof when || strchr(sp + 1, ' ') == NULL)
			continue;
		memcpy(when, x, (size_t)(sp - x));
		when[sp - x] = '\0';
		if (kenpo_gentime_parse(when, &t) == 0)
			v[good++] = x;
	}
	qsort(v, good, sizeof v[0], by_value);
	kenpo_put_int32(out, (int32_t)good);
	for (i = good; i > 0; i--)
		if (put_visit(out, m, v[i - 1]) != 0)
			log_msg(LOG_ERR, "%.200s: a login history value changed while read",
				m->e->dn);
}

int
auth_login_history(struct request *rq, struct kenpo_buf *in, struct kenpo_buf *out)
{
	struct member m = { NULL, NULL, NULL, 0 };
	const char *login, *proof;
	size_t llen, plen;
	int rc;

	kenpo_get_string_ref(in, &login, &llen);
	kenpo_get_string_ref(in, &proof, &plen);
	if (kenpo_frame_close(in) != 0)
		return KENPO_RES_BADREQ;
	log_setrequest("login history");
	rc = member_load(rq, NULL, login, llen, &m);
	if (rc == KENPO_RES_NOTFOUND && rq->peer_uid == 0) {
		rc = KENPO_RES_NOTFOUND;
	} else if (rc == KENPO_RES_NOTFOUND ||
		   (rc == KENPO_RES_OK && (rq->peer_uid != 0 || plen > 0) &&
		    (!rq->kd->have_secret ||
		     !proof_valid(rq, &m, proof, plen, kenpo_gentime_now())))) {
		kenpo_put_int32(out, (int32_t)rq->kd->cfg->societies[0].lang);
		rc = KENPO_RES_LOGIN_REQUIRED;
	} else if (rc == KENPO_RES_OK) {
		put_history(out, &m);
	} else if (rc == KENPO_RES_UNAVAIL) {
		kenpo_put_int32(out, (int32_t)rq->kd->cfg->societies[0].lang);
	}
	log_msg(LOG_INFO, "%s", kenpo_result_name(rc));
	member_release(&m);
	return rc;
}
