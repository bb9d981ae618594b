/*
 * client.c - the stubs of kenpod's authentication actions (see client.h).
 *
 * Like libnss_kenpo, the module opens one connection per request and
 * closes it on every path, so nothing is shared with a forked child (sshd
 * forks after authentication) or between the threads of a web server.
 *
 * Which fields follow each result is written down once, in the tables
 * below, straight from kenpo-proto.h; one reader walks them.  An answer
 * whose result the table does not list for its action, or whose fields do
 * not fill the frame exactly, is malformed: the module then behaves as if
 * kenpod were away and never as if the answer were good.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "proto.h"

/* Requests hold at most two secrets and three names (see client.h), and
 * answers a few short strings: 8 KiB holds any of them. */
#define BUF_SIZE (8 * 1024)

/* The fields that follow a result. */
enum shape {
	SHAPE_NONE,
	SHAPE_LANG,             /* INT32 lang */
	SHAPE_LANG_OPT,         /* INT32 lang, or nothing */
	SHAPE_LANG_SECONDS,     /* INT32 lang, INT32 seconds */
	SHAPE_LANG_TRIES,       /* INT32 lang, INT32 tries left */
	SHAPE_LANG_MASK,        /* INT32 lang, INT32 mask */
	SHAPE_LANG_TEXT,        /* INT32 lang, STRING (the previous login) */
	SHAPE_TEXT,             /* STRING (kenpod's version) */
	SHAPE_AUTH,             /* AUTH record */
	SHAPE_KEY,              /* KEY record */
	SHAPE_ACCOUNT,          /* INT32 lang, STRING login, INT32 uid */
};

struct rule {
	int32_t result;
	enum shape shape;
};

#define END_OF_RULES { -1, SHAPE_NONE }

static const struct rule auth_password_rules[] = {
	{ KENPO_RES_OK, SHAPE_AUTH },
	{ KENPO_RES_KEY_SENT, SHAPE_KEY },
	{ KENPO_RES_KEY_PENDING, SHAPE_KEY },
	{ KENPO_RES_AUTH_ERR, SHAPE_LANG },
	{ KENPO_RES_NOT_REGISTERED, SHAPE_LANG },
	{ KENPO_RES_DISABLED, SHAPE_LANG },
	{ KENPO_RES_LOCKED, SHAPE_LANG_SECONDS },
	{ KENPO_RES_DELAY, SHAPE_LANG_SECONDS },
	{ KENPO_RES_MAIL_FAILED, SHAPE_LANG },
	/* KENPO_AUTHF_SINGLE with a wrong key after the password */
	{ KENPO_RES_KEY_WRONG, SHAPE_LANG_TRIES },
	{ KENPO_RES_KEY_VOID, SHAPE_LANG },
	END_OF_RULES,
};

static const struct rule auth_key_rules[] = {
	{ KENPO_RES_OK, SHAPE_AUTH },
	{ KENPO_RES_KEY_WRONG, SHAPE_LANG_TRIES },
	{ KENPO_RES_KEY_VOID, SHAPE_LANG },
	{ KENPO_RES_KEY_EXPIRED, SHAPE_LANG },
	{ KENPO_RES_AUTH_ERR, SHAPE_LANG },
	END_OF_RULES,
};

static const struct rule auth_resend_rules[] = {
	{ KENPO_RES_KEY_SENT, SHAPE_KEY },
	{ KENPO_RES_COOLDOWN, SHAPE_LANG_SECONDS },
	{ KENPO_RES_AUTH_ERR, SHAPE_LANG },
	{ KENPO_RES_MAIL_FAILED, SHAPE_LANG },
	END_OF_RULES,
};

static const struct rule auth_abort_rules[] = {
	{ KENPO_RES_OK, SHAPE_NONE },
	END_OF_RULES,
};

/* The header names the fields of OK, MUST_CHANGE and LOCKED; DISABLED and
 * NOTFOUND are read with a language or without. */
static const struct rule account_rules[] = {
	{ KENPO_RES_OK, SHAPE_ACCOUNT },
	{ KENPO_RES_MUST_CHANGE, SHAPE_ACCOUNT },
	{ KENPO_RES_DISABLED, SHAPE_LANG_OPT },
	{ KENPO_RES_LOCKED, SHAPE_LANG_SECONDS },
	{ KENPO_RES_NOTFOUND, SHAPE_LANG_OPT },
	END_OF_RULES,
};

static const struct rule session_open_rules[] = {
	{ KENPO_RES_OK, SHAPE_LANG_TEXT },
	{ KENPO_RES_NOTFOUND, SHAPE_LANG_OPT },
	END_OF_RULES,
};

static const struct rule password_change_rules[] = {
	{ KENPO_RES_OK, SHAPE_LANG_OPT },
	{ KENPO_RES_POLICY, SHAPE_LANG_MASK },
	{ KENPO_RES_AUTH_ERR, SHAPE_LANG },
	{ KENPO_RES_NOTFOUND, SHAPE_LANG },
	/* The old password is checked like a login. */
	{ KENPO_RES_LOCKED, SHAPE_LANG_SECONDS },
	{ KENPO_RES_DELAY, SHAPE_LANG_SECONDS },
	{ KENPO_RES_NOT_REGISTERED, SHAPE_LANG },
	{ KENPO_RES_DISABLED, SHAPE_LANG },
	END_OF_RULES,
};

static const struct rule ping_rules[] = {
	{ KENPO_RES_OK, SHAPE_TEXT },
	END_OF_RULES,
};

/* Failures any action may answer; they carry a language or nothing. */
static const struct rule common_rules[] = {
	{ KENPO_RES_UNAVAIL, SHAPE_LANG_OPT },
	{ KENPO_RES_DENIED, SHAPE_LANG_OPT },
	{ KENPO_RES_BADREQ, SHAPE_LANG_OPT },
	{ KENPO_RES_UNKNOWN, SHAPE_LANG_OPT },
	{ KENPO_RES_INTERNAL, SHAPE_LANG_OPT },
	END_OF_RULES,
};

static int
find_rule(const struct rule *rules, int32_t result, enum shape *shape)
{
	for (; rules->result >= 0; rules++) {
		if (rules->result == result) {
			*shape = rules->shape;
			return 0;
		}
	}
	return -1;
}

/* Strings shown to the member may not move the cursor or ring bells. */
static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static void
read_lang(struct kenpo_buf *b, struct kenpo_answer *a)
{
	int32_t v = kenpo_get_int32(b);

	/* A language this module does not know keeps the module's own. */
	if (v == KENPO_LANG_JA || v == KENPO_LANG_EN) {
		a->has_lang = 1;
		a->lang = (enum kenpo_lang)v;
	}
}

static void
read_key_record(struct kenpo_buf *b, struct kenpo_answer *a)
{
	kenpo_get_string(b, a->login, sizeof(a->login));
	a->uid = (uint32_t)kenpo_get_int32(b);
	read_lang(b, a);
	kenpo_get_string(b, a->masked, sizeof(a->masked));
	a->seconds = kenpo_get_int32(b);
	kenpo_get_string(b, a->txn, sizeof(a->txn));
	if (a->login[0] == '\0' || a->txn[0] == '\0' || a->seconds < 0 ||
	    !printable(a->masked))
		b->err = 1;
}

static void
read_shape(struct kenpo_buf *b, enum shape shape, struct kenpo_answer *a)
{
	switch (shape) {
	case SHAPE_NONE:
		break;
	case SHAPE_LANG_OPT:
		if (b->pos < b->len)
			read_lang(b, a);
		break;
	case SHAPE_LANG:
		read_lang(b, a);
		break;
	case SHAPE_LANG_SECONDS:
		read_lang(b, a);
		a->seconds = kenpo_get_int32(b);
		if (a->seconds < 0)
			b->err = 1;
		break;
	case SHAPE_LANG_TRIES:
		read_lang(b, a);
		a->tries = kenpo_get_int32(b);
		break;
	case SHAPE_LANG_MASK:
		read_lang(b, a);
		a->mask = (uint32_t)kenpo_get_int32(b);
		break;
	case SHAPE_LANG_TEXT:
		read_lang(b, a);
		kenpo_get_string(b, a->text, sizeof(a->text));
		break;
	case SHAPE_TEXT:
		kenpo_get_string(b, a->text, sizeof(a->text));
		break;
	case SHAPE_AUTH:
		kenpo_get_string(b, a->login, sizeof(a->login));
		a->uid = (uint32_t)kenpo_get_int32(b);
		read_lang(b, a);
		a->flags = kenpo_get_int32(b);
		kenpo_get_string(b, a->ticket, sizeof(a->ticket));
		if (a->login[0] == '\0')
			b->err = 1;
		break;
	case SHAPE_KEY:
		read_key_record(b, a);
		break;
	case SHAPE_ACCOUNT:
		read_lang(b, a);
		kenpo_get_string(b, a->login, sizeof(a->login));
		a->uid = (uint32_t)kenpo_get_int32(b);
		if (a->login[0] == '\0')
			b->err = 1;
		break;
	}
	if (!printable(a->text))
		b->err = 1;
}

/* Send the request in b, receive the answer into b, before one deadline. */
static int
transact(const struct kenpo_client *c, struct kenpo_buf *b)
{
	int64_t deadline = kenpo_now_ms() + c->timeout_ms;
	int fd, rc = -1, err = 0;

	fd = kenpo_connect(c->socket, deadline);
	if (fd < 0)
		return -1;
	if (kenpo_send_frame(fd, b, deadline) != 0 || kenpo_recv_frame(fd, b, deadline) != 0) {
		err = errno;
		goto done;
	}
	rc = 0;
done:
	close(fd);
	if (rc != 0)
		errno = err;
	return rc;
}

/* Parse kenpod's answer to `action` held in b into *a. */
static int
parse_answer(struct kenpo_buf *b, int32_t action, const struct rule *rules,
	     struct kenpo_answer *a)
{
	struct kenpo_answer tmp = { .result = -1 };
	enum shape shape;
	int32_t act;
	int rc = -1;

	if (kenpo_frame_open(b, &act) != 0 || act != action)
		goto done;
	tmp.result = kenpo_get_int32(b);
	if (b->err)
		goto done;
	if (find_rule(rules, tmp.result, &shape) != 0 &&
	    find_rule(common_rules, tmp.result, &shape) != 0)
		goto done;
	read_shape(b, shape, &tmp);
	if (kenpo_frame_close(b) != 0)
		goto done;
	*a = tmp;
	rc = 0;
done:
	explicit_bzero(&tmp, sizeof(tmp));
	if (rc != 0)
		errno = EPROTO;
	return rc;
}

/*
 * Finish the request begun in b, exchange it with kenpod and parse the
 * answer.  The whole buffer is wiped afterwards: the answer, shorter than
 * the request, would otherwise leave the request's password behind it.
 */
static int
exchange(const struct kenpo_client *c, struct kenpo_buf *b, int32_t action,
	 const struct rule *rules, struct kenpo_answer *a)
{
	int rc = -1, err = EMSGSIZE;

	if (kenpo_frame_end(b) != 0)
		goto done;
	if (transact(c, b) != 0) {
		err = errno;
		goto done;
	}
	if (parse_answer(b, action, rules, a) != 0) {
		err = errno;
		goto done;
	}
	rc = 0;
done:
	explicit_bzero(b->data, b->cap);
	if (rc != 0)
		errno = err;
	return rc;
}

/* A name of at most KENPO_CLIENT_NAME_MAX bytes: a longer service or host
 * name is cut there (kenpod only logs them). */
static void
put_name(struct kenpo_buf *b, const char *s)
{
	if (s == NULL)
		s = "";
	kenpo_put_string(b, s, strnlen(s, KENPO_CLIENT_NAME_MAX));
}

/* Logins, secrets and handles are sent whole, or not at all. */
static void
put_bounded(struct kenpo_buf *b, const char *s, size_t max)
{
	size_t len = strnlen(s, max + 1);

	if (len > max) {
		b->err = 1;
		return;
	}
	kenpo_put_string(b, s, len);
}

int
kenpo_client_auth_password(const struct kenpo_client *c, const char *login,
			   const char *password, int32_t flags, const char *service,
			   const char *rhost, struct kenpo_answer *a)
{
	unsigned char mem[BUF_SIZE];
	struct kenpo_buf b;

	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_frame_begin(&b, KENPO_ACTION_AUTH_PASSWORD);
	put_bounded(&b, login, KENPO_CLIENT_NAME_MAX);
	put_bounded(&b, password, KENPO_CLIENT_SECRET_MAX);
	kenpo_put_int32(&b, flags);
	put_name(&b, service);
	put_name(&b, rhost);
	return exchange(c, &b, KENPO_ACTION_AUTH_PASSWORD, auth_password_rules, a);
}

int
kenpo_client_auth_key(const struct kenpo_client *c, const char *login, const char *txn,
		      const char *key, int32_t flags, struct kenpo_answer *a)
{
	unsigned char mem[BUF_SIZE];
	struct kenpo_buf b;

	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_frame_begin(&b, KENPO_ACTION_AUTH_KEY);
	put_bounded(&b, login, KENPO_CLIENT_NAME_MAX);
	put_bounded(&b, txn, KENPO_CLIENT_TXN_MAX);
	put_bounded(&b, key, KENPO_CLIENT_SECRET_MAX);
	kenpo_put_int32(&b, flags);
	return exchange(c, &b, KENPO_ACTION_AUTH_KEY, auth_key_rules, a);
}

int
kenpo_client_auth_resend(const struct kenpo_client *c, const char *login, const char *txn,
			 struct kenpo_answer *a)
{
	unsigned char mem[BUF_SIZE];
	struct kenpo_buf b;

	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_frame_begin(&b, KENPO_ACTION_AUTH_RESEND);
	put_bounded(&b, login, KENPO_CLIENT_NAME_MAX);
	put_bounded(&b, txn, KENPO_CLIENT_TXN_MAX);
	return exchange(c, &b, KENPO_ACTION_AUTH_RESEND, auth_resend_rules, a);
}

int
kenpo_client_auth_abort(const struct kenpo_client *c, const char *login, const char *txn)
{
	unsigned char mem[BUF_SIZE];
	struct kenpo_answer a;
	struct kenpo_buf b;
	int rc;

	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_frame_begin(&b, KENPO_ACTION_AUTH_ABORT);
	put_bounded(&b, login, KENPO_CLIENT_NAME_MAX);
	put_bounded(&b, txn, KENPO_CLIENT_TXN_MAX);
	rc = exchange(c, &b, KENPO_ACTION_AUTH_ABORT, auth_abort_rules, &a);
	if (rc == 0 && a.result != KENPO_RES_OK) {
		errno = EPROTO;
		rc = -1;
	}
	return rc;
}

int
kenpo_client_account(const struct kenpo_client *c, const char *login, struct kenpo_answer *a)
{
	unsigned char mem[BUF_SIZE];
	struct kenpo_buf b;

	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_frame_begin(&b, KENPO_ACTION_ACCOUNT);
	put_bounded(&b, login, KENPO_CLIENT_NAME_MAX);
	return exchange(c, &b, KENPO_ACTION_ACCOUNT, account_rules, a);
}

int
kenpo_client_session_open(const struct kenpo_client *c, const char *login, const char *service,
			  const char *rhost, struct kenpo_answer *a)
{
	unsigned char mem[BUF_SIZE];
	struct kenpo_buf b;

	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_frame_begin(&b, KENPO_ACTION_SESSION_OPEN);
	put_bounded(&b, login, KENPO_CLIENT_NAME_MAX);
	put_name(&b, service);
	put_name(&b, rhost);
	return exchange(c, &b, KENPO_ACTION_SESSION_OPEN, session_open_rules, a);
}

int
kenpo_client_password_change(const struct kenpo_client *c, const char *login,
			     const char *old_password, const char *new_password, int32_t flags,
			     struct kenpo_answer *a)
{
	unsigned char mem[BUF_SIZE];
	struct kenpo_buf b;

	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_frame_begin(&b, KENPO_ACTION_PASSWORD_CHANGE);
	put_bounded(&b, login, KENPO_CLIENT_NAME_MAX);
	put_bounded(&b, old_password, KENPO_CLIENT_SECRET_MAX);
	put_bounded(&b, new_password, KENPO_CLIENT_SECRET_MAX);
	kenpo_put_int32(&b, flags);
	return exchange(c, &b, KENPO_ACTION_PASSWORD_CHANGE, password_change_rules, a);
}

int
kenpo_client_ping(const struct kenpo_client *c, struct kenpo_answer *a)
{
	unsigned char mem[BUF_SIZE];
	struct kenpo_buf b;

	kenpo_buf_init(&b, mem, sizeof(mem));
	kenpo_frame_begin(&b, KENPO_ACTION_PING);
	return exchange(c, &b, KENPO_ACTION_PING, ping_rules, a);
}

void
kenpo_answer_wipe(struct kenpo_answer *a)
{
	explicit_bzero(a, sizeof(*a));
}
