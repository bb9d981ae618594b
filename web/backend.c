/*
 * backend.c - kenpo-web's calls to kenpod (see backend.h), all through
 * kenpo's one client (src/client/client.h): kenpo_call() encodes each
 * request from the protocol table and accepts only the answers the table
 * gives that action, so nothing here reads a frame by hand.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "client.h"
#include "gate.h"
#include "kenpo-proto.h"
#include "secret.h"

#define CALL_TIMEOUT_MS 30000 /* a call may hash a password and send a mail */
#define ABORT_TIMEOUT_MS 15000

static const char *sock_path = KENPO_SOCKET_PATH;
static struct gate calls;

int
be_init(const char *socket_path, unsigned concurrency)
{
	if (socket_path != NULL)
		sock_path = socket_path;
	return gate_init(&calls, concurrency);
}

/*
 * One call: the frame buffer (the largest answer, a profile, fills a
 * whole frame) and kenpod's answer, whose strings point into it.  On the
 * heap, since the server's threads have stacks of their own size.
 */
struct call {
	struct kenpo_buf b;
	struct kenpo_reply r;
	unsigned char mem[KENPO_PROTO_MAX_FRAME + 4];
};

static struct call *
call_new(void)
{
	return calloc(1, sizeof(struct call));
}

/* Forget the call: the frame held the request's secrets too. */
static void
call_free(struct call *c)
{
	if (c == NULL)
		return;
	kenpo_call_wipe(&c->b);
	kenpo_wipe(&c->r, sizeof c->r);
	free(c);
}

/* Ask kenpod.  The kenpo_result (the answer is then in c->r), or a BE_E*. */
static int
ask(struct call *c, int32_t action, const struct kenpo_value *v, size_t n)
{
	const struct kenpo_client k = { sock_path, CALL_TIMEOUT_MS };
	int rc;

	kenpo_buf_init(&c->b, c->mem, sizeof c->mem);
	if (gate_enter(&calls) != 0)
		return BE_EUNAVAIL;
	rc = kenpo_call(&k, action, v, n, &c->b, &c->r);
	gate_leave(&calls);
	if (rc == 0)
		return c->r.result;
	if (errno == EPROTO)
		return BE_EPROTO;
	if (errno == EMSGSIZE || errno == EINVAL)
		return BE_ETOOLONG;
	return BE_EUNAVAIL;
}

/* What a refusal carries, into *d. */
static void
take_detail(const struct call *c, int rc, struct be_detail *d)
{
	const struct kenpo_fields *f = &c->r.f;

	if (d == NULL)
		return;
	memset(d, 0, sizeof(*d));
	d->tries_left = -1;
	if (rc < 0)
		return;
	if (f->present & KENPO_HAS(tries))
		d->tries_left = f->tries;
	if (f->present & KENPO_HAS(mask))
		d->mask = (uint32_t)f->mask;
	if (f->present & KENPO_HAS(seconds))
		d->seconds = f->seconds;
	if (f->present & KENPO_HAS(field))
		(void)kenpo_str_copy(f->field, d->field, sizeof d->field);
}

/* A call whose answer carries nothing but a refusal's details. */
static int
ask_simple(int32_t action, const struct kenpo_value *v, size_t n, struct be_detail *d)
{
	struct call *c = call_new();
	int rc;

	if (c == NULL)
		return BE_EUNAVAIL;
	rc = ask(c, action, v, n);
	take_detail(c, rc, d);
	call_free(c);
	return rc;
}

int
be_guide_request(const char *society, const char *address, struct be_detail *d)
{
	const struct kenpo_value v[] = { kenpo_vstr(society), kenpo_vstr(address) };

	return ask_simple(KENPO_ACTION_GUIDE_REQUEST, v, 2, d);
}

int
be_token_check(const char *token, int *kind, int *seconds, char *masked, size_t masksz)
{
	const struct kenpo_value v[] = { kenpo_vstr(token) };
	struct call *c = call_new();
	int rc;

	if (c == NULL)
		return BE_EUNAVAIL;
	rc = ask(c, KENPO_ACTION_TOKEN_CHECK, v, 1);
	if (rc == KENPO_RES_OK) {
		*kind = c->r.f.kind;
		*seconds = c->r.f.seconds;
		if (kenpo_str_copy(c->r.f.masked, masked, masksz) != 0)
			rc = BE_EPROTO;
	}
	call_free(c);
	return rc;
}

/* The REG record of an OK answer into *out. */
static int
take_reg(const struct call *c, struct be_reg *out)
{
	out->seconds = c->r.f.seconds;
	if (kenpo_str_copy(c->r.f.ticket, out->ticket, sizeof out->ticket) != 0 ||
	    kenpo_str_copy(c->r.f.mail, out->mail, sizeof out->mail) != 0) {
		kenpo_wipe(out, sizeof(*out));
		return BE_EPROTO;
	}
	return KENPO_RES_OK;
}

/* A call answered with a REG record when it is OK. */
static int
ask_reg(int32_t action, const struct kenpo_value *v, size_t n, struct be_reg *out,
	struct be_detail *d)
{
	struct call *c = call_new();
	int rc;

	if (c == NULL)
		return BE_EUNAVAIL;
	rc = ask(c, action, v, n);
	if (rc == KENPO_RES_OK)
		rc = take_reg(c, out);
	take_detail(c, rc, d);
	call_free(c);
	return rc;
}

int
be_letter_open(const char *token, const char *login, const char *temp_password,
	       struct be_reg *out, struct be_detail *d)
{
	const struct kenpo_value v[] = {
		kenpo_vstr(token),
		kenpo_vstr(login),
		kenpo_vstr(temp_password),
	};

	return ask_reg(KENPO_ACTION_REG_LETTER_OPEN, v, 3, out, d);
}

int
be_identity_check(const char *token, const char *address, const char *dob, char *authkey,
		  size_t keysz, struct be_detail *d)
{
	const struct kenpo_value v[] = {
		kenpo_vstr(token),
		kenpo_vstr(address),
		kenpo_vstr(dob),
	};
	struct call *c = call_new();
	int rc;

	if (c == NULL)
		return BE_EUNAVAIL;
	rc = ask(c, KENPO_ACTION_IDENTITY_CHECK, v, 3);
	if (rc == KENPO_RES_OK && kenpo_str_copy(c->r.f.authkey, authkey, keysz) != 0)
		rc = BE_EPROTO;
	take_detail(c, rc, d);
	call_free(c);
	return rc;
}

int
be_identity_open(const char *token, const char *authkey, struct be_reg *out, struct be_detail *d)
{
	const struct kenpo_value v[] = { kenpo_vstr(token), kenpo_vstr(authkey) };

	return ask_reg(KENPO_ACTION_IDENTITY_OPEN, v, 2, out, d);
}

int
be_register(const char *ticket, const char *login, const char *password, const char *mail,
	    const char *nickname, char *final_login, size_t loginsz, struct be_detail *d)
{
	const struct kenpo_value v[] = {
		kenpo_vstr(ticket), kenpo_vstr(login),    kenpo_vstr(password),
		kenpo_vstr(mail),   kenpo_vstr(nickname),
	};
	struct call *c = call_new();
	int rc;

	if (c == NULL)
		return BE_EUNAVAIL;
	rc = ask(c, KENPO_ACTION_REG_COMPLETE, v, 5);
	if (rc == KENPO_RES_OK && kenpo_str_copy(c->r.f.login, final_login, loginsz) != 0)
		rc = BE_EPROTO;
	take_detail(c, rc, d);
	call_free(c);
	return rc;
}

int
be_reset_request(const char *society, const char *address, struct be_detail *d)
{
	const struct kenpo_value v[] = { kenpo_vstr(society), kenpo_vstr(address) };

	return ask_simple(KENPO_ACTION_RESET_REQUEST, v, 2, d);
}

int
be_reset_open(const char *token, char *login, size_t loginsz, int *seconds)
{
	const struct kenpo_value v[] = { kenpo_vstr(token) };
	struct call *c = call_new();
	int rc;

	if (c == NULL)
		return BE_EUNAVAIL;
	rc = ask(c, KENPO_ACTION_RESET_OPEN, v, 1);
	if (rc == KENPO_RES_OK) {
		*seconds = c->r.f.seconds;
		if (kenpo_str_copy(c->r.f.login, login, loginsz) != 0)
			rc = BE_EPROTO;
	}
	call_free(c);
	return rc;
}

/* ---- the profile ---- */

static int
profile_add(struct be_profile *p, const char *field, size_t flen, const char *value, size_t vlen)
{
	if (p->n == BE_PROFILE_MAX)
		return -1;
	p->field[p->n] = strndup(field, flen);
	p->value[p->n] = strndup(value, vlen);
	p->n++;
	return p->field[p->n - 1] != NULL && p->value[p->n - 1] != NULL ? 0 : -1;
}

/* The PAIR items of the PROFILE record into *out.  0, or -1. */
static int
take_pairs(struct call *c, struct be_profile *out)
{
	struct kenpo_list pairs = c->r.f.pairs;
	struct kenpo_fields item;
	int more;

	while ((more = kenpo_list_next(&c->b, &pairs, &item)) == 1)
		if (profile_add(out, item.field.p, item.field.len, item.value.p,
				item.value.len) != 0)
			return -1;
	return more == 0 ? 0 : -1;
}

/* Answers carry the session's ticket (root gets a new one): keep it. */
static int
take_ticket(const struct call *c, char *ticket, size_t ticketsz)
{
	if (c->r.f.ticket.len == 0)
		return 0;
	kenpo_wipe(ticket, ticketsz);
	return kenpo_str_copy(c->r.f.ticket, ticket, ticketsz);
}

int
be_profile_get(const char *login, char *ticket, size_t ticketsz, struct be_profile *out)
{
	const struct kenpo_value v[] = { kenpo_vstr(login), kenpo_vstr(ticket) };
	struct call *c = call_new();
	int rc;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return BE_EUNAVAIL;
	rc = ask(c, KENPO_ACTION_PROFILE_GET, v, 2);
	if (rc == KENPO_RES_OK && take_ticket(c, ticket, ticketsz) != 0)
		rc = BE_EPROTO;
	if (rc == KENPO_RES_OK && take_pairs(c, out) != 0)
		rc = BE_EUNAVAIL;
	if (rc != KENPO_RES_OK)
		be_profile_free(out);
	call_free(c);
	return rc;
}

int
be_profile_set(const char *login, char *ticket, size_t ticketsz, size_t n,
	       const char *const *fields, const char *const *values, const char *current_password,
	       struct be_detail *d)
{
	struct kenpo_value v[3 + 2 * KENPO_PROFILE_PAIRS_MAX];
	size_t i, pairs = n + (current_password != NULL);
	struct call *c;
	int rc;

	if (pairs > KENPO_PROFILE_PAIRS_MAX)
		return BE_ETOOLONG;
	v[0] = kenpo_vstr(login);
	v[1] = kenpo_vstr(ticket);
	v[2] = kenpo_vlist((int32_t)pairs);
	for (i = 0; i < n; i++) {
		v[3 + 2 * i] = kenpo_vstr(fields[i]);
		v[4 + 2 * i] = kenpo_vstr(values[i]);
	}
	if (current_password != NULL) {
		v[3 + 2 * n] = kenpo_vstr("current_password");
		v[4 + 2 * n] = kenpo_vstr(current_password);
	}
	if ((c = call_new()) == NULL)
		return BE_EUNAVAIL;
	rc = ask(c, KENPO_ACTION_PROFILE_SET, v, 3 + 2 * pairs);
	if (rc == KENPO_RES_OK && take_ticket(c, ticket, ticketsz) != 0)
		rc = BE_EPROTO;
	take_detail(c, rc, d);
	call_free(c);
	return rc;
}

int
be_profile_end(const char *login, const char *ticket)
{
	const struct kenpo_value v[] = { kenpo_vstr(login), kenpo_vstr(ticket) };

	return ask_simple(KENPO_ACTION_PROFILE_END, v, 2, NULL);
}

const char *
be_profile_value(const struct be_profile *p, const char *field)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->field[i], field) == 0)
			return p->value[i];
	return NULL;
}

void
be_profile_free(struct be_profile *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		free(p->field[i]);
		free(p->value[i]);
	}
	p->n = 0;
}

int
be_password_change(const char *login, const char *old_password, const char *new_password,
		   const char *proof, const char *rhost, struct be_detail *d)
{
	const struct kenpo_value v[] = {
		kenpo_vstr(login), kenpo_vstr(old_password), kenpo_vstr(new_password),
		kenpo_vint(0),     kenpo_vstr(proof),        kenpo_vstr(rhost),
	};

	return ask_simple(KENPO_ACTION_PASSWORD_CHANGE, v, sizeof v / sizeof v[0], d);
}

int
be_previous_login(const char *login, const char *proof, char *when, size_t whensz)
{
	const struct kenpo_value v[] = { kenpo_vstr(login), kenpo_vstr(proof) };
	struct call *c = call_new();
	struct kenpo_list visits;
	struct kenpo_fields item;
	int rc, more;

	when[0] = '\0';
	if (c == NULL)
		return BE_EUNAVAIL;
	rc = ask(c, KENPO_ACTION_LOGIN_HISTORY, v, 2);
	if (rc == KENPO_RES_OK) {
		/* The newest first: only the first item is wanted. */
		visits = c->r.f.visits;
		more = kenpo_list_next(&c->b, &visits, &item);
		if (more < 0 || (more == 1 && kenpo_str_copy(item.when, when, whensz) != 0))
			rc = BE_EPROTO;
	}
	call_free(c);
	return rc;
}

/*
 * Voiding a pending key needs its transaction handle, which only the
 * answer to the password carries; PAM keeps it inside the module.  So the
 * password is asked again in split mode (kenpod answers KEY_PENDING with
 * the handle and mails nothing) and AUTH_ABORT voids the key.  The caller
 * does this only while the key is still valid, or kenpod would mail a new
 * one first.
 */
int
be_key_abort(const char *login, const char *password, const char *rhost)
{
	const struct kenpo_client k = { sock_path, ABORT_TIMEOUT_MS };
	struct kenpo_answer a;
	int rc;

	memset(&a, 0, sizeof a);
	if (kenpo_client_auth_password(&k, login, password, KENPO_AUTHF_SPLIT, "kenpo-web", rhost,
				       &a) != 0)
		return errno == EPROTO ? BE_EPROTO : BE_EUNAVAIL;
	rc = a.result;
	if (rc == KENPO_RES_KEY_PENDING || rc == KENPO_RES_KEY_SENT)
		rc = kenpo_client_auth_abort(&k, a.login, a.txn) == 0 ? KENPO_RES_OK :
									BE_EUNAVAIL;
	kenpo_answer_wipe(&a);
	return rc;
}
