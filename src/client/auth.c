/*
 * auth.c - the stubs of kenpod's authentication actions (see client.h).
 *
 * kenpo_call() has checked each answer against the table of kenpo-proto.h;
 * what is left here is what the PAM module needs beyond the layout: the
 * strings copied within the bounds of struct kenpo_answer, records that
 * name a member, no negative time, and no string that could move the
 * cursor of the terminal it is shown on.  An answer that fails any of it
 * is malformed too: the module then behaves as if kenpod were away and
 * never as if the answer were good.
 */
#include "autoconfig.h"

#include <errno.h>
#include <string.h>

#include "client.h"

/* Requests hold at most two secrets and three names (see client.h), and
 * answers a few short strings: 8 KiB holds any of them. */
#define BUF_SIZE (8 * 1024)

/* Strings shown to the member may not move the cursor or ring bells. */
static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* A language this module does not know keeps the module's own. */
static void
take_lang(const struct kenpo_fields *f, struct kenpo_answer *a)
{
	if ((f->present & KENPO_HAS(lang)) &&
	    (f->lang == KENPO_LANG_JA || f->lang == KENPO_LANG_EN)) {
		a->has_lang = 1;
		a->lang = (enum kenpo_lang)f->lang;
	}
}

/* Copy a string field when the answer has it.  0, or -1 when it does not fit. */
static int
take_str(const struct kenpo_fields *f, uint64_t bit, struct kenpo_str s, char *out, size_t outsz)
{
	if (!(f->present & bit))
		return 0;
	return kenpo_str_copy(s, out, outsz);
}

int
kenpo_answer_take(const struct kenpo_reply *r, struct kenpo_answer *a)
{
	const struct kenpo_fields *f = &r->f;

	a->result = r->result;
	take_lang(f, a);
	a->uid = (uint32_t)f->uid;
	a->flags = f->flags;
	a->seconds = f->seconds;
	a->tries = f->tries;
	a->mask = (uint32_t)f->mask;
	if (take_str(f, KENPO_HAS(login), f->login, a->login, sizeof(a->login)) != 0 ||
	    take_str(f, KENPO_HAS(masked), f->masked, a->masked, sizeof(a->masked)) != 0 ||
	    take_str(f, KENPO_HAS(txn), f->txn, a->txn, sizeof(a->txn)) != 0 ||
	    take_str(f, KENPO_HAS(ticket), f->ticket, a->ticket, sizeof(a->ticket)) != 0 ||
	    take_str(f, KENPO_HAS(proof), f->proof, a->proof, sizeof(a->proof)) != 0 ||
	    take_str(f, KENPO_HAS(previous), f->previous, a->text, sizeof(a->text)) != 0 ||
	    take_str(f, KENPO_HAS(version), f->version, a->text, sizeof(a->text)) != 0)
		return -1;
	/* A record that names no member, a negative time, a string that
	 * could move the cursor. */
	if ((f->present & KENPO_HAS(login)) && a->login[0] == '\0')
		return -1;
	if ((f->present & KENPO_HAS(txn)) && a->txn[0] == '\0')
		return -1;
	if ((f->present & KENPO_HAS(seconds)) && a->seconds < 0)
		return -1;
	return printable(a->masked) && printable(a->text) ? 0 : -1;
}

/*
 * Ask kenpod and take the answer into *a, written only when all is well.
 * The whole buffer is wiped afterwards: the answer, shorter than the
 * request, would otherwise leave the request's password behind it.
 */
static int
exchange(const struct kenpo_client *c, int32_t action, const struct kenpo_value *v, size_t n,
	 struct kenpo_answer *a)
{
	unsigned char mem[BUF_SIZE];
	struct kenpo_answer tmp = { .result = -1 };
	struct kenpo_reply r;
	struct kenpo_buf b;
	int rc = -1, err = EPROTO;

	kenpo_buf_init(&b, mem, sizeof(mem));
	if (kenpo_call(c, action, v, n, &b, &r) != 0) {
		err = errno;
		goto done;
	}
	if (kenpo_answer_take(&r, &tmp) != 0)
		goto done;
	*a = tmp;
	rc = 0;
done:
	kenpo_call_wipe(&b);
	explicit_bzero(&tmp, sizeof(tmp));
	if (rc != 0)
		errno = err;
	return rc;
}

/* A name of at most KENPO_CLIENT_NAME_MAX bytes: a longer service or host
 * name is cut there (kenpod only logs them). */
static struct kenpo_value
name(const char *s)
{
	if (s == NULL)
		s = "";
	return kenpo_vstrn(s, strnlen(s, KENPO_CLIENT_NAME_MAX));
}

/* Logins, secrets and handles are sent whole, or not at all: -1 with
 * errno EMSGSIZE when one is longer than max. */
static int
bounded(const char *s, size_t max, struct kenpo_value *v)
{
	size_t len = strnlen(s, max + 1);

	if (len > max) {
		errno = EMSGSIZE;
		return -1;
	}
	*v = kenpo_vstrn(s, len);
	return 0;
}

int
kenpo_client_auth_password(const struct kenpo_client *c, const char *login, const char *password,
			   int32_t flags, const char *service, const char *rhost,
			   struct kenpo_answer *a)
{
	struct kenpo_value v[5];

	if (bounded(login, KENPO_CLIENT_NAME_MAX, &v[0]) != 0 ||
	    bounded(password, KENPO_CLIENT_SECRET_MAX, &v[1]) != 0)
		return -1;
	v[2] = kenpo_vint(flags);
	v[3] = name(service);
	v[4] = name(rhost);
	return exchange(c, KENPO_ACTION_AUTH_PASSWORD, v, 5, a);
}

int
kenpo_client_auth_key(const struct kenpo_client *c, const char *login, const char *txn,
		      const char *key, int32_t flags, const char *service, const char *rhost,
		      struct kenpo_answer *a)
{
	struct kenpo_value v[6];

	if (bounded(login, KENPO_CLIENT_NAME_MAX, &v[0]) != 0 ||
	    bounded(txn, KENPO_CLIENT_TXN_MAX, &v[1]) != 0 ||
	    bounded(key, KENPO_CLIENT_SECRET_MAX, &v[2]) != 0)
		return -1;
	v[3] = kenpo_vint(flags);
	v[4] = name(service);
	v[5] = name(rhost);
	return exchange(c, KENPO_ACTION_AUTH_KEY, v, 6, a);
}

int
kenpo_client_auth_resend(const struct kenpo_client *c, const char *login, const char *txn,
			 struct kenpo_answer *a)
{
	struct kenpo_value v[2];

	if (bounded(login, KENPO_CLIENT_NAME_MAX, &v[0]) != 0 ||
	    bounded(txn, KENPO_CLIENT_TXN_MAX, &v[1]) != 0)
		return -1;
	return exchange(c, KENPO_ACTION_AUTH_RESEND, v, 2, a);
}

int
kenpo_client_auth_abort(const struct kenpo_client *c, const char *login, const char *txn)
{
	struct kenpo_answer a;
	struct kenpo_value v[2];

	if (bounded(login, KENPO_CLIENT_NAME_MAX, &v[0]) != 0 ||
	    bounded(txn, KENPO_CLIENT_TXN_MAX, &v[1]) != 0)
		return -1;
	if (exchange(c, KENPO_ACTION_AUTH_ABORT, v, 2, &a) != 0)
		return -1;
	if (a.result != KENPO_RES_OK) {
		errno = a.result == KENPO_RES_UNAVAIL ? EAGAIN : EPROTO;
		return -1;
	}
	return 0;
}

int
kenpo_client_account(const struct kenpo_client *c, const char *login, const char *rhost,
		     struct kenpo_answer *a)
{
	struct kenpo_value v[2];

	if (bounded(login, KENPO_CLIENT_NAME_MAX, &v[0]) != 0)
		return -1;
	v[1] = name(rhost);
	return exchange(c, KENPO_ACTION_ACCOUNT, v, 2, a);
}

int
kenpo_client_session_open(const struct kenpo_client *c, const char *login, const char *service,
			  const char *rhost, struct kenpo_answer *a)
{
	struct kenpo_value v[3];

	if (bounded(login, KENPO_CLIENT_NAME_MAX, &v[0]) != 0)
		return -1;
	v[1] = name(service);
	v[2] = name(rhost);
	return exchange(c, KENPO_ACTION_SESSION_OPEN, v, 3, a);
}

int
kenpo_client_password_change(const struct kenpo_client *c, const char *login,
			     const char *old_password, const char *new_password, int32_t flags,
			     const char *proof, const char *rhost, struct kenpo_answer *a)
{
	struct kenpo_value v[6];

	if (bounded(login, KENPO_CLIENT_NAME_MAX, &v[0]) != 0 ||
	    bounded(old_password, KENPO_CLIENT_SECRET_MAX, &v[1]) != 0 ||
	    bounded(new_password, KENPO_CLIENT_SECRET_MAX, &v[2]) != 0 ||
	    bounded(proof != NULL ? proof : "", KENPO_CLIENT_TXN_MAX, &v[4]) != 0)
		return -1;
	v[3] = kenpo_vint(flags);
	v[5] = name(rhost);
	return exchange(c, KENPO_ACTION_PASSWORD_CHANGE, v, 6, a);
}

int
kenpo_client_ping(const struct kenpo_client *c, struct kenpo_answer *a)
{
	return exchange(c, KENPO_ACTION_PING, NULL, 0, a);
}

void
kenpo_answer_wipe(struct kenpo_answer *a)
{
	explicit_bzero(a, sizeof(*a));
}
