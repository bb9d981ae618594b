/*
 * client.c - protocol stubs of the kenpo tool (see client.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "kenpo-proto.h"
#include "proto.h"
#include "secret.h"

#define KC_BUF_SIZE (KENPO_PROTO_MAX_FRAME + 4)
#define PROFILE_PAIRS_MAX 256

struct kc {
	int fd;
	int32_t action;               /* of the request in hand */
	struct kenpo_buf req, res;
	struct kc_detail detail;
	unsigned char reqmem[KC_BUF_SIZE];
	unsigned char resmem[KC_BUF_SIZE];
};

int
kc_open(const char *path, struct kc **out)
{
	struct kc *c = calloc(1, sizeof(*c));
	int saved;

	if (c == NULL)
		return KC_EUNAVAIL;
	c->fd = kenpo_connect(path, kenpo_now_ms() + KC_TIMEOUT_MS);
	if (c->fd < 0) {
		saved = errno;
		free(c);
		errno = saved;
		return KC_EUNAVAIL;
	}
	*out = c;
	return 0;
}

void
kc_close(struct kc *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	kenpo_wipe(c, sizeof(*c));
	free(c);
}

const struct kc_detail *
kc_detail(const struct kc *c)
{
	return &c->detail;
}

/* ---- one call ---- */

static struct kenpo_buf *
begin(struct kc *c, int32_t action)
{
	memset(&c->detail, 0, sizeof c->detail);
	c->detail.tries_left = -1;
	c->action = action;
	kenpo_buf_init(&c->req, c->reqmem, sizeof c->reqmem);
	kenpo_frame_begin(&c->req, action);
	return &c->req;
}

/* Bytes of the answer not read yet. */
static size_t
left(const struct kc *c)
{
	return c->res.err || c->res.pos > c->res.len ? 0 : c->res.len - c->res.pos;
}

/* The fields a refusal may carry.  Older or newer kenpods may send fewer
 * or none, so each is read only when there are bytes for it. */
static void
read_detail(struct kc *c, int32_t result)
{
	struct kc_detail *d = &c->detail;

	switch (result) {
	case KENPO_RES_MISMATCH:
		if (left(c) >= 4)
			d->tries_left = kenpo_get_int32(&c->res);
		break;
	case KENPO_RES_BADVALUE:
		if (left(c) >= 4)
			kenpo_get_string(&c->res, d->field, sizeof d->field);
		break;
	case KENPO_RES_POLICY:
		if (left(c) >= 8)
			d->lang = kenpo_get_int32(&c->res);
		if (left(c) >= 4)
			d->mask = (uint32_t)kenpo_get_int32(&c->res);
		break;
	case KENPO_RES_KEY_WRONG:
		if (left(c) >= 4)
			d->lang = kenpo_get_int32(&c->res);
		if (left(c) >= 4)
			d->tries_left = kenpo_get_int32(&c->res);
		break;
	case KENPO_RES_LOCKED:
	case KENPO_RES_DELAY:
	case KENPO_RES_COOLDOWN:
		if (left(c) >= 4)
			d->lang = kenpo_get_int32(&c->res);
		if (left(c) >= 4)
			d->seconds = kenpo_get_int32(&c->res);
		break;
	default:
		if (left(c) >= 4)
			d->lang = kenpo_get_int32(&c->res);
		break;
	}
	/* What is left over is not understood: ignore it. */
	c->res.pos = c->res.len;
}

/*
 * Send the request and read the answer up to its result.  Returns the
 * result (the OK fields are then read by the caller, which ends with
 * finish()), or a KC_E* error, with both buffers wiped.  A refusal's
 * fields are read here.
 */
static int
call(struct kc *c)
{
	int64_t deadline = kenpo_now_ms() + KC_TIMEOUT_MS;
	int32_t action = 0, result;
	int rc = KC_ETOOLONG;

	kenpo_buf_init(&c->res, c->resmem, sizeof c->resmem);
	if (kenpo_frame_end(&c->req) != 0)
		goto fail;
	rc = KC_EUNAVAIL;
	if (kenpo_send_frame(c->fd, &c->req, deadline) != 0 ||
	    kenpo_recv_frame(c->fd, &c->res, deadline) != 0)
		goto fail;
	kenpo_buf_wipe(&c->req);
	rc = KC_EPROTO;
	if (kenpo_frame_open(&c->res, &action) != 0 || action != c->action)
		goto fail;
	result = kenpo_get_int32(&c->res);
	if (c->res.err || result < 0)
		goto fail;
	/* KEY_SENT and KEY_PENDING carry a record, read by their stubs. */
	if (result != KENPO_RES_OK && result != KENPO_RES_KEY_SENT &&
	    result != KENPO_RES_KEY_PENDING)
		read_detail(c, result);
	return result;
fail:
	/* A partial answer may hold a ticket or a txn. */
	kenpo_buf_wipe(&c->req);
	kenpo_buf_wipe(&c->res);
	return rc;
}

/* After the caller has read an OK answer's fields: were they all there? */
static int
finish(struct kc *c, int result)
{
	int rc = kenpo_frame_close(&c->res) == 0 ? result : KC_EPROTO;

	kenpo_buf_wipe(&c->res);
	return rc;
}

/* call() and, when the answer is a refusal, finish it too.  Returns
 * KENPO_RES_OK when the caller must read the OK fields. */
static int
call_simple(struct kc *c)
{
	int rc = call(c);

	if (rc != KENPO_RES_OK && rc >= 0)
		return finish(c, rc);
	return rc;
}

/* call() for an action whose OK carries no field. */
static int
call_bare(struct kc *c)
{
	int rc = call(c);

	return rc < 0 ? rc : finish(c, rc);
}

/* ---- control ---- */

int
kc_ping(struct kc *c, char *version, size_t versz)
{
	int rc;

	begin(c, KENPO_ACTION_PING);
	rc = call_simple(c);
	if (rc != KENPO_RES_OK)
		return rc;
	kenpo_get_string(&c->res, version, versz);
	return finish(c, rc);
}

/* ---- self-service ---- */

int
kc_guide_request(struct kc *c, const char *society, const char *address)
{
	struct kenpo_buf *b = begin(c, KENPO_ACTION_GUIDE_REQUEST);

	kenpo_put_cstring(b, society);
	kenpo_put_cstring(b, address);
	return call_bare(c);
}

int
kc_token_check(struct kc *c, const char *token, struct kc_token_info *out)
{
	struct kenpo_buf *b = begin(c, KENPO_ACTION_TOKEN_CHECK);
	int rc;

	kenpo_put_cstring(b, token);
	rc = call_simple(c);
	if (rc != KENPO_RES_OK)
		return rc;
	out->kind = kenpo_get_int32(&c->res);
	out->seconds = kenpo_get_int32(&c->res);
	kenpo_get_string(&c->res, out->masked, sizeof out->masked);
	return finish(c, rc);
}

static int
read_reg(struct kc *c, int rc, struct kc_reg *out)
{
	if (rc != KENPO_RES_OK)
		return rc;
	kenpo_get_string(&c->res, out->ticket, sizeof out->ticket);
	out->seconds = kenpo_get_int32(&c->res);
	kenpo_get_string(&c->res, out->mail, sizeof out->mail);
	return finish(c, rc);
}

int
kc_reg_letter_open(struct kc *c, const char *token, const char *login,
		   const char *temp_password, struct kc_reg *out)
{
	struct kenpo_buf *b = begin(c, KENPO_ACTION_REG_LETTER_OPEN);

	kenpo_put_cstring(b, token);
	kenpo_put_cstring(b, login);
	kenpo_put_cstring(b, temp_password);
	return read_reg(c, call_simple(c), out);
}

int
kc_identity_check(struct kc *c, const char *token, const char *address,
		  const char *dob, char *authkey, size_t authkeysz)
{
	struct kenpo_buf *b = begin(c, KENPO_ACTION_IDENTITY_CHECK);
	int rc;

	kenpo_put_cstring(b, token);
	kenpo_put_cstring(b, address);
	kenpo_put_cstring(b, dob);
	rc = call_simple(c);
	if (rc != KENPO_RES_OK)
		return rc;
	kenpo_get_string(&c->res, authkey, authkeysz);
	return finish(c, rc);
}

int
kc_identity_open(struct kc *c, const char *token, const char *authkey,
		 struct kc_reg *out)
{
	struct kenpo_buf *b = begin(c, KENPO_ACTION_IDENTITY_OPEN);

	kenpo_put_cstring(b, token);
	kenpo_put_cstring(b, authkey);
	return read_reg(c, call_simple(c), out);
}

int
kc_reg_complete(struct kc *c, const char *ticket, const char *login,
		const char *password, const char *mail, const char *nickname,
		char *final_login, size_t loginsz)
{
	struct kenpo_buf *b = begin(c, KENPO_ACTION_REG_COMPLETE);
	int rc;

	kenpo_put_cstring(b, ticket);
	kenpo_put_cstring(b, login);
	kenpo_put_cstring(b, password);
	kenpo_put_cstring(b, mail);
	kenpo_put_cstring(b, nickname);
	rc = call_simple(c);
	if (rc != KENPO_RES_OK)
		return rc;
	kenpo_get_string(&c->res, final_login, loginsz);
	return finish(c, rc);
}

int
kc_reset_request(struct kc *c, const char *society, const char *address)
{
	struct kenpo_buf *b = begin(c, KENPO_ACTION_RESET_REQUEST);

	kenpo_put_cstring(b, society);
	kenpo_put_cstring(b, address);
	return call_bare(c);
}

int
kc_reset_open(struct kc *c, const char *token, char *login, size_t loginsz,
	      int32_t *seconds)
{
	struct kenpo_buf *b = begin(c, KENPO_ACTION_RESET_OPEN);
	int rc;

	kenpo_put_cstring(b, token);
	rc = call_simple(c);
	if (rc != KENPO_RES_OK)
		return rc;
	kenpo_get_string(&c->res, login, loginsz);
	*seconds = kenpo_get_int32(&c->res);
	return finish(c, rc);
}

int
kc_login_id_check(struct kc *c, const char *login, int *taken)
{
	struct kenpo_buf *b = begin(c, KENPO_ACTION_LOGIN_ID_CHECK);
	int rc;

	kenpo_put_cstring(b, login);
	rc = call_simple(c);
	if (rc != KENPO_RES_OK)
		return rc;
	*taken = kenpo_get_int32(&c->res) != 0;
	return finish(c, rc);
}

/* ---- profile ---- */

void
kc_profile_free(struct kc_profile *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		free(p->field[i]);
		free(p->value[i]);
	}
	free(p->field);
	free(p->value);
	p->n = 0;
	p->field = p->value = NULL;
}

static char *
get_dup(struct kenpo_buf *b)
{
	const char *s;
	size_t len;
	char *out;

	kenpo_get_string_ref(b, &s, &len);
	if (b->err)
		return NULL;
	out = malloc(len + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

static int
read_pairs(struct kc *c, struct kc_profile *p)
{
	int32_t n = kenpo_get_int32(&c->res);
	int32_t i;

	if (c->res.err || n < 0 || n > PROFILE_PAIRS_MAX)
		return -1;
	p->field = calloc((size_t)n + 1, sizeof(char *));
	p->value = calloc((size_t)n + 1, sizeof(char *));
	if (p->field == NULL || p->value == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		p->field[i] = get_dup(&c->res);
		p->value[i] = get_dup(&c->res);
		p->n++;
		if (p->field[i] == NULL || p->value[i] == NULL)
			return -1;
	}
	return 0;
}

int
kc_profile_get(struct kc *c, const char *login, const char *ticket,
	       struct kc_profile *out)
{
	struct kenpo_buf *b = begin(c, KENPO_ACTION_PROFILE_GET);
	struct kc_profile p = { 0, NULL, NULL, "" };
	int rc;

	kenpo_put_cstring(b, login);
	kenpo_put_cstring(b, ticket);
	rc = call_simple(c);
	if (rc != KENPO_RES_OK)
		return rc;
	if (read_pairs(c, &p) != 0) {
		kc_profile_free(&p);
		kenpo_buf_wipe(&c->res);
		return KC_EPROTO;
	}
	kenpo_get_string(&c->res, p.next_ticket, sizeof p.next_ticket);
	rc = finish(c, rc);
	if (rc != KENPO_RES_OK) {
		kc_profile_free(&p);
		return rc;
	}
	*out = p;
	return rc;
}

int
kc_profile_set(struct kc *c, const char *login, const char *ticket, size_t n,
	       const char *const *fields, const char *const *values,
	       char *next_ticket, size_t ticketsz)
{
	struct kenpo_buf *b = begin(c, KENPO_ACTION_PROFILE_SET);
	size_t i;
	int rc;

	if (n > PROFILE_PAIRS_MAX)
		return KC_ETOOLONG;
	kenpo_put_cstring(b, login);
	kenpo_put_cstring(b, ticket);
	kenpo_put_int32(b, (int32_t)n);
	for (i = 0; i < n; i++) {
		kenpo_put_cstring(b, fields[i]);
		kenpo_put_cstring(b, values[i]);
	}
	rc = call_simple(c);
	if (rc != KENPO_RES_OK)
		return rc;
	kenpo_get_string(&c->res, next_ticket, ticketsz);
	return finish(c, rc);
}

/* ---- authentication ---- */

/* AUTH record, and the profile ticket kenpod may append to it. */
static int
read_auth(struct kc *c, int rc, struct kc_auth *out)
{
	kenpo_get_string(&c->res, out->login, sizeof out->login);
	out->uid = (uint32_t)kenpo_get_int32(&c->res);
	out->lang = kenpo_get_int32(&c->res);
	out->flags = kenpo_get_int32(&c->res);
	out->ticket[0] = '\0';
	if (left(c) >= 4)
		kenpo_get_string(&c->res, out->ticket, sizeof out->ticket);
	return finish(c, rc);
}

static int
read_key(struct kc *c, int rc, struct kc_auth *out)
{
	kenpo_get_string(&c->res, out->login, sizeof out->login);
	out->uid = (uint32_t)kenpo_get_int32(&c->res);
	out->lang = kenpo_get_int32(&c->res);
	kenpo_get_string(&c->res, out->masked, sizeof out->masked);
	out->seconds = kenpo_get_int32(&c->res);
	kenpo_get_string(&c->res, out->txn, sizeof out->txn);
	return finish(c, rc);
}

/* OK carries an AUTH record, KEY_SENT and KEY_PENDING a KEY record. */
static int
auth_answer(struct kc *c, struct kc_auth *out)
{
	int rc = call(c);

	memset(out, 0, sizeof(*out));
	if (rc == KENPO_RES_OK)
		return read_auth(c, rc, out);
	if (rc == KENPO_RES_KEY_SENT || rc == KENPO_RES_KEY_PENDING)
		return read_key(c, rc, out);
	return rc < 0 ? rc : finish(c, rc);
}

int
kc_auth_password(struct kc *c, const char *login, const char *password,
		 int32_t flags, const char *service, const char *rhost,
		 struct kc_auth *out)
{
	struct kenpo_buf *b = begin(c, KENPO_ACTION_AUTH_PASSWORD);

	kenpo_put_cstring(b, login);
	kenpo_put_cstring(b, password);
	kenpo_put_int32(b, flags);
	kenpo_put_cstring(b, service);
	kenpo_put_cstring(b, rhost);
	return auth_answer(c, out);
}

int
kc_auth_key(struct kc *c, const char *login, const char *txn, const char *key,
	    int32_t flags, struct kc_auth *out)
{
	struct kenpo_buf *b = begin(c, KENPO_ACTION_AUTH_KEY);

	kenpo_put_cstring(b, login);
	kenpo_put_cstring(b, txn);
	kenpo_put_cstring(b, key);
	kenpo_put_int32(b, flags);
	return auth_answer(c, out);
}

int
kc_password_change(struct kc *c, const char *login, const char *old_pw,
		   const char *new_pw, int32_t flags)
{
	struct kenpo_buf *b = begin(c, KENPO_ACTION_PASSWORD_CHANGE);

	kenpo_put_cstring(b, login);
	kenpo_put_cstring(b, old_pw);
	kenpo_put_cstring(b, new_pw);
	kenpo_put_int32(b, flags);
	return call_bare(c);
}
