/*
 * syncrepl.c - the client side of RFC 4533 refreshAndPersist (see
 * syncrepl.h).
 *
 * Messages of the searches and what they mean here:
 *   SearchResultEntry with a Sync State control (state, entryUUID):
 *       add, modify  -> ENTRY; delete -> GONE; present -> ignored (only a
 *       refresh with a cookie sends it, and none is sent)
 *   IntermediateResponse syncInfo:
 *       refreshDelete / refreshPresent with refreshDone -> REFRESHED;
 *       syncIdSet with refreshDeletes -> GONE for each UUID;
 *       newcookie, and the rest -> ignored
 *   SearchResultDone -> the search ended: its result code (noSuchObject:
 *       REFRESHED, missing)
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "syncrepl.h"

struct kenpo_sync {
	LDAP *ld;
	size_t nbases;
	int *msgids;
	const char *const *attrs;
	size_t nattrs;
	/* The UUIDs of a syncIdSet not handed out yet, and their base. */
	BerVarray pending;
	size_t npending, next_pending, pending_base;
};

/* ---- the request ---- */

/* The Sync Request control: refreshAndPersist, no cookie. */
static int
sync_control(LDAPControl **out)
{
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	struct berval bv;
	int rc = LDAP_NO_MEMORY;

	if (ber == NULL)
		return rc;
	if (ber_printf(ber, "{e}", (ber_int_t)LDAP_SYNC_REFRESH_AND_PERSIST) != -1 &&
	    ber_flatten2(ber, &bv, 0) == 0)
		rc = ldap_control_create(LDAP_CONTROL_SYNC, 1, &bv, 1, out);
	ber_free(ber, 1);
	return rc;
}

/* The searches, one per base.  An LDAP result code. */
static int
start_searches(struct kenpo_sync *s, const char *const *bases, size_t nbases, const char *filter)
{
	LDAPControl *ctrl = NULL, *ctrls[2] = { NULL, NULL };
	size_t i;
	int rc;

	rc = sync_control(&ctrl);
	if (rc != LDAP_SUCCESS)
		return rc;
	ctrls[0] = ctrl;
	for (i = 0; i < nbases; i++) {
		rc = ldap_search_ext(s->ld, bases[i], LDAP_SCOPE_SUBTREE, filter,
				     (char **)(uintptr_t)s->attrs, 0, ctrls, NULL, NULL, 0,
				     &s->msgids[i]);
		if (rc != LDAP_SUCCESS)
			break;
		s->nbases++;
	}
	ldap_control_free(ctrl);
	return rc;
}

int
kenpo_sync_open(const struct kenpo_ldap_params *p, const char *const *bases, size_t nbases,
		const char *filter, const char *const *attrs, struct kenpo_sync **out, char *err,
		size_t errsz)
{
	struct kenpo_sync *s = calloc(1, sizeof(*s));
	int rc = LDAP_NO_MEMORY;

	if (s == NULL || (s->msgids = calloc(nbases > 0 ? nbases : 1, sizeof(int))) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	s->attrs = attrs;
	while (attrs[s->nattrs] != NULL)
		s->nattrs++;
	rc = kenpo_ldap_open(p, &s->ld, err, errsz);
	if (rc != LDAP_SUCCESS)
		goto fail;
	rc = start_searches(s, bases, nbases, filter);
	if (rc != LDAP_SUCCESS) {
		snprintf(err, errsz, "content synchronisation search: %s", ldap_err2string(rc));
		goto fail;
	}
	*out = s;
	return LDAP_SUCCESS;
fail:
	kenpo_sync_free(s);
	return rc;
}

void
kenpo_sync_free(struct kenpo_sync *s)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->ld != NULL) {
		for (i = 0; i < s->nbases; i++)
			(void)ldap_abandon_ext(s->ld, s->msgids[i], NULL, NULL);
		ldap_unbind_ext_s(s->ld, NULL, NULL);
	}
	ber_bvarray_free(s->pending);
	free(s->msgids);
	free(s);
}

const char *
kenpo_sync_error(int rc)
{
	return ldap_err2string(rc);
}

/* ---- events ---- */

void
kenpo_sync_event_clear(struct kenpo_sync_event *ev)
{
	size_t i, j;

	if (ev->values != NULL) {
		for (i = 0; i < ev->nattrs; i++) {
			for (j = 0; ev->values[i] != NULL && ev->values[i][j] != NULL; j++)
				free(ev->values[i][j]);
			free(ev->values[i]);
		}
	}
	free(ev->values);
	free(ev->dn);
	memset(ev, 0, sizeof(*ev));
}

/* The base of a message id, or -1 for a message of no search of ours. */
static long
base_of(const struct kenpo_sync *s, int msgid)
{
	size_t i;

	for (i = 0; i < s->nbases; i++)
		if (s->msgids[i] == msgid)
			return (long)i;
	return -1;
}

/* A copy of the values of one attribute (bvals may be NULL). */
static char **
copy_values(struct berval **bvals)
{
	size_t n = bvals != NULL ? (size_t)ldap_count_values_len(bvals) : 0, i, k = 0;
	char **out = calloc(n + 1, sizeof(*out));

	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (memchr(bvals[i]->bv_val, '\0', bvals[i]->bv_len) != NULL)
			continue;
		out[k] = malloc(bvals[i]->bv_len + 1);
		if (out[k] == NULL)
			break;
		memcpy(out[k], bvals[i]->bv_val, bvals[i]->bv_len);
		out[k][bvals[i]->bv_len] = '\0';
		k++;
	}
	if (i == n)
		return out;
	while (k > 0)
		free(out[--k]);
	free(out);
	return NULL;
}

/* The DN and the attributes asked for.  An LDAP result code. */
static int
copy_entry(struct kenpo_sync *s, LDAPMessage *msg, struct kenpo_sync_event *ev)
{
	struct berval **bvals;
	char *dn = ldap_get_dn(s->ld, msg);
	size_t i;

	ev->dn = dn != NULL ? strdup(dn) : NULL;
	ldap_memfree(dn);
	ev->nattrs = s->nattrs;
	ev->values = calloc(s->nattrs, sizeof(*ev->values));
	if (ev->dn == NULL || ev->values == NULL)
		return LDAP_NO_MEMORY;
	for (i = 0; i < s->nattrs; i++) {
		bvals = ldap_get_values_len(s->ld, msg, s->attrs[i]);
		ev->values[i] = copy_values(bvals);
		ldap_value_free_len(bvals);
		if (ev->values[i] == NULL)
			return LDAP_NO_MEMORY;
	}
	return LDAP_SUCCESS;
}

/* The state and entryUUID of a Sync State control. */
static int
parse_state(LDAPControl *c, ber_int_t *state, unsigned char *uuid)
{
	BerElement *ber = ber_init(&c->ldctl_value);
	struct berval id = { 0, NULL };
	int rc = LDAP_DECODING_ERROR;

	if (ber == NULL)
		return LDAP_NO_MEMORY;
	if (ber_scanf(ber, "{em", state, &id) != LBER_ERROR && id.bv_len == KENPO_SYNC_UUID_LEN) {
		memcpy(uuid, id.bv_val, KENPO_SYNC_UUID_LEN);
		rc = LDAP_SUCCESS;
	}
	ber_free(ber, 1);
	return rc;
}

/* A SearchResultEntry: ENTRY, GONE or nothing (*have 0). */
static int
on_entry(struct kenpo_sync *s, LDAPMessage *msg, struct kenpo_sync_event *ev, int *have)
{
	LDAPControl **ctrls = NULL, *c;
	ber_int_t state = 0;
	int rc;

	rc = ldap_get_entry_controls(s->ld, msg, &ctrls);
	if (rc != LDAP_SUCCESS)
		return rc;
	c = ldap_control_find(LDAP_CONTROL_SYNC_STATE, ctrls, NULL);
	rc = c != NULL ? parse_state(c, &state, ev->uuid) : LDAP_PROTOCOL_ERROR;
	ldap_controls_free(ctrls);
	if (rc != LDAP_SUCCESS)
		return rc;
	switch (state) {
	case LDAP_SYNC_ADD:
	case LDAP_SYNC_MODIFY:
		ev->kind = KENPO_SYNC_ENTRY;
		*have = 1;
		return copy_entry(s, msg, ev);
	case LDAP_SYNC_DELETE:
		ev->kind = KENPO_SYNC_GONE;
		*have = 1;
		return LDAP_SUCCESS;
	default:
		return LDAP_SUCCESS;
	}
}

/* refreshDelete / refreshPresent: { cookie OPTIONAL, refreshDone DEFAULT TRUE } */
static int
refresh_done(BerElement *ber)
{
	struct berval cookie;
	ber_len_t len;
	ber_int_t done = 1;

	if (ber_scanf(ber, "{") == LBER_ERROR)
		return -1;
	if (ber_peek_tag(ber, &len) == LDAP_TAG_SYNC_COOKIE &&
	    ber_scanf(ber, "m", &cookie) == LBER_ERROR)
		return -1;
	if (ber_peek_tag(ber, &len) == LBER_BOOLEAN && ber_scanf(ber, "b", &done) == LBER_ERROR)
		return -1;
	return done != 0;
}

/* syncIdSet: { cookie OPTIONAL, refreshDeletes DEFAULT FALSE, syncUUIDs } */
static int
id_set(struct kenpo_sync *s, BerElement *ber, size_t base)
{
	struct berval cookie;
	BerVarray uuids = NULL;
	ber_len_t len;
	ber_int_t deletes = 0;

	if (ber_scanf(ber, "{") == LBER_ERROR)
		return LDAP_DECODING_ERROR;
	if (ber_peek_tag(ber, &len) == LDAP_TAG_SYNC_COOKIE &&
	    ber_scanf(ber, "m", &cookie) == LBER_ERROR)
		return LDAP_DECODING_ERROR;
	if (ber_peek_tag(ber, &len) == LBER_BOOLEAN &&
	    ber_scanf(ber, "b", &deletes) == LBER_ERROR)
		return LDAP_DECODING_ERROR;
	if (ber_scanf(ber, "[W]", &uuids) == LBER_ERROR)
		return LDAP_DECODING_ERROR;
	/* A set of present entries comes only after a cookie: never here. */
	if (!deletes) {
		ber_bvarray_free(uuids);
		return LDAP_PROTOCOL_ERROR;
	}
	ber_bvarray_free(s->pending);
	s->pending = uuids;
	s->npending = 0;
	while (uuids != NULL && uuids[s->npending].bv_val != NULL)
		s->npending++;
	s->next_pending = 0;
	s->pending_base = base;
	return LDAP_SUCCESS;
}

/* The next UUID of a syncIdSet, as GONE.  1 if there was one. */
static int
next_pending(struct kenpo_sync *s, struct kenpo_sync_event *ev)
{
	struct berval *id;

	while (s->next_pending < s->npending) {
		id = &s->pending[s->next_pending++];
		if (id->bv_len != KENPO_SYNC_UUID_LEN)
			continue;
		ev->kind = KENPO_SYNC_GONE;
		ev->base = s->pending_base;
		memcpy(ev->uuid, id->bv_val, KENPO_SYNC_UUID_LEN);
		return 1;
	}
	return 0;
}

/* An IntermediateResponse: REFRESHED, GONEs, or nothing. */
static int
on_intermediate(struct kenpo_sync *s, LDAPMessage *msg, struct kenpo_sync_event *ev, int *have)
{
	char *oid = NULL;
	struct berval *data = NULL;
	BerElement *ber = NULL;
	ber_len_t len;
	int rc, done;

	rc = ldap_parse_intermediate(s->ld, msg, &oid, &data, NULL, 0);
	if (rc != LDAP_SUCCESS)
		return rc;
	if (oid == NULL || strcmp(oid, LDAP_SYNC_INFO) != 0 || data == NULL)
		goto done;
	if ((ber = ber_init(data)) == NULL) {
		rc = LDAP_NO_MEMORY;
		goto done;
	}
	switch (ber_peek_tag(ber, &len)) {
	case LDAP_TAG_SYNC_REFRESH_DELETE:
	case LDAP_TAG_SYNC_REFRESH_PRESENT:
		done = refresh_done(ber);
		if (done < 0)
			rc = LDAP_DECODING_ERROR;
		else if (done) {
			ev->kind = KENPO_SYNC_REFRESHED;
			*have = 1;
		}
		break;
	case LDAP_TAG_SYNC_ID_SET:
		rc = id_set(s, ber, ev->base);
		if (rc == LDAP_SUCCESS)
			*have = next_pending(s, ev);
		break;
	default:
		break;
	}
done:
	if (ber != NULL)
		ber_free(ber, 1);
	ldap_memfree(oid);
	ber_bvfree(data);
	return rc;
}

/* A SearchResultDone: the search ended.  Its result code, never success,
 * but for a base that does not exist: an empty base, read whole. */
static int
on_done(struct kenpo_sync *s, LDAPMessage *msg, struct kenpo_sync_event *ev, int *have)
{
	int err = LDAP_OTHER, rc;

	rc = ldap_parse_result(s->ld, msg, &err, NULL, NULL, NULL, NULL, 0);
	if (rc != LDAP_SUCCESS)
		return rc;
	if (err == LDAP_NO_SUCH_OBJECT) {
		ev->kind = KENPO_SYNC_REFRESHED;
		ev->missing = 1;
		*have = 1;
		return LDAP_SUCCESS;
	}
	return err == LDAP_SUCCESS ? LDAP_OTHER : err;
}

/* Handle one message.  *have says whether ev is an event. */
static int
on_message(struct kenpo_sync *s, LDAPMessage *msg, struct kenpo_sync_event *ev, int *have)
{
	long base = base_of(s, ldap_msgid(msg));

	if (base < 0)
		return LDAP_SUCCESS;
	ev->base = (size_t)base;
	switch (ldap_msgtype(msg)) {
	case LDAP_RES_SEARCH_ENTRY:
		return on_entry(s, msg, ev, have);
	case LDAP_RES_INTERMEDIATE:
		return on_intermediate(s, msg, ev, have);
	case LDAP_RES_SEARCH_RESULT:
		return on_done(s, msg, ev, have);
	default:
		return LDAP_SUCCESS;
	}
}

int
kenpo_sync_next(struct kenpo_sync *s, int timeout_ms, struct kenpo_sync_event *ev)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	LDAPMessage *msg = NULL;
	int type, rc, have = 0, err = LDAP_SERVER_DOWN;

	memset(ev, 0, sizeof(*ev));
	if (next_pending(s, ev))
		return LDAP_SUCCESS;
	type = ldap_result(s->ld, LDAP_RES_ANY, LDAP_MSG_ONE, &tv, &msg);
	if (type == 0)
		return LDAP_TIMEOUT;
	if (type < 0) {
		(void)ldap_get_option(s->ld, LDAP_OPT_RESULT_CODE, &err);
		return err != LDAP_SUCCESS ? err : LDAP_SERVER_DOWN;
	}
	rc = on_message(s, msg, ev, &have);
	ldap_msgfree(msg);
	if (rc != LDAP_SUCCESS) {
		kenpo_sync_event_clear(ev);
		return rc;
	}
	if (!have) {
		kenpo_sync_event_clear(ev);
		return LDAP_TIMEOUT;
	}
	return LDAP_SUCCESS;
}
