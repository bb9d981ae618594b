/*
 * main.c - kenpo, the self-service client a web portal and an MTA call.
 *
 * One subcommand per step of the portal's flows (registration guide,
 * letter registration, identity check, password reset, profile), each
 * answering in text or, with --json, as one JSON object whose fields and
 * error codes are stable.  Secrets (passwords, temporary passwords, the
 * on-screen 認証キー, mailed keys) and the tokens of links and tickets are
 * read from standard input (or the descriptor --fd names), one per line,
 * never from the command line, where any local user could read them in
 * /proc and use them first.  So are the handles of a login (the key's txn,
 * the proof of a completed login): with a handle anyone could burn the
 * key's tries or void it.
 *
 * The policy checks run here (pure rules, no kenpod); every other command
 * asks kenpod over its socket, and kenpod decides (it validates every
 * value again: this tool is a convenience, not a gate).
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <json-c/json.h>

#include "client.h"
#include "gen.h"
#include "i18n.h"
#include "kenpo-proto.h"
#include "localname.h"
#include "mailin.h"
#include "policy.h"
#include "prototab.h"
#include "secret.h"

/* Exit codes (also in usage()). */
enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1, /* a rule broken, a wrong answer, an ID taken ... */
	EXIT_USAGE = 2,
	EXIT_BADINPUT = 3,    /* a malformed value or mail; nothing was done */
	EXIT_TOKEN = 4,       /* the link or ticket is unknown, used or expired */
	EXIT_DENIED = 5,      /* the caller may not do this */
	EXIT_KEY = 6,         /* a key was mailed: answer with `kenpo login key` */
	EXIT_MUST_CHANGE = 7, /* logged in, but the password must be changed now */
	EXIT_SOFTWARE = 70,   /* kenpod failed or answered nonsense */
	EXIT_TEMPFAIL = 75,   /* kenpod, the directory or the mail relay is away: retry */
};

#define SECRET_MAX 4096       /* longest line read from standard input */
#define CALL_TIMEOUT_MS 30000 /* a call may hash a password and send a mail */

/* The client's own failures, beside kenpod's results. */
enum {
	ASK_EUNAVAIL = -1, /* cannot connect, or no answer in time */
	ASK_EPROTO = -2,   /* the answer is malformed */
	ASK_ETOOLONG = -3, /* a value does not fit in a request */
};

/* Options; which a command accepts is in its table row. */
enum {
	OPT_SOCIETY = 1u << 0,
	OPT_TICKET = 1u << 1,
	OPT_LOGIN_ID = 1u << 2,
	OPT_MAIL = 1u << 3,
	OPT_NICKNAME = 1u << 4,
	OPT_AVAILABLE = 1u << 5,
	OPT_RHOST = 1u << 6,
	OPT_PASSWORD = 1u << 7, /* profile set: the current password is read too */
};

struct ctx {
	const char *socket;
	int json;
	enum kenpo_lang lang;
	unsigned given; /* OPT_* seen on the command line */
	const char *society, *login_id, *mail, *nickname, *rhost;
	int available, with_ticket, with_password;
	json_object *out;       /* the answer, printed at the end */
	struct kenpo_buf frame; /* kenpod's answer, while it is read */
	struct kenpo_reply reply;
	unsigned char mem[KENPO_PROTO_MAX_FRAME + 4];
};

/* ---- errors ---- */

struct errinfo {
	const char *code;
	int exit;
	const char *msgid;
};

static const struct errinfo errors[] = {
	{ "usage", EXIT_USAGE, N_("The command line is not valid; see kenpo --help.") },
	{ "bad-input", EXIT_BADINPUT, N_("A value entered is not acceptable.") },
	{ "policy", EXIT_REFUSED, N_("The value does not meet the rules below.") },
	{ "passwords-differ", EXIT_REFUSED, N_("The new password and its confirmation differ.") },
	{ "auth-failed", EXIT_REFUSED, N_("The login ID or the password is wrong.") },
	{ "mismatch", EXIT_REFUSED, N_("The information entered does not match.") },
	{ "id-taken", EXIT_REFUSED, N_("This login ID is already in use.") },
	{ "not-found", EXIT_REFUSED, N_("No such member.") },
	{ "locked", EXIT_REFUSED, N_("The account is locked. Please try again later.") },
	{ "delay", EXIT_REFUSED,
	  N_("Too many failed attempts. Please wait a moment and try again.") },
	{ "disabled", EXIT_REFUSED, N_("This account has been disabled.") },
	{ "not-registered", EXIT_REFUSED,
	  N_("This account is not registered yet. Please register first.") },
	{ "key-wrong", EXIT_REFUSED, N_("The key is wrong.") },
	{ "key-void", EXIT_TOKEN, N_("The key is no longer valid. Please request a new key.") },
	{ "key-expired", EXIT_TOKEN, N_("The key has expired. Please request a new key.") },
	{ "key-limit", EXIT_REFUSED,
	  N_("Too many keys were sent in the last hour. Please wait before asking for "
	     "another.") },
	{ "temp-expired", EXIT_REFUSED,
	  N_("The temporary password has expired. Please request a new one from the password "
	     "reissue page.") },
	{ "login-required", EXIT_DENIED,
	  N_("Please log in with your password and the key first.") },
	{ "cooldown", EXIT_REFUSED, N_("Please wait a moment before asking for a new key.") },
	{ "token-invalid", EXIT_TOKEN,
	  N_("This link is not valid or has already been used. Please start again.") },
	{ "token-expired", EXIT_TOKEN, N_("This link has expired. Please start again.") },
	{ "denied", EXIT_DENIED, N_("You are not allowed to do this.") },
	{ "key-sent", EXIT_KEY,
	  N_("A key has been sent to your mail address. Please enter it.") },
	{ "must-change", EXIT_MUST_CHANGE, N_("Please set a new password now.") },
	{ "too-large", EXIT_BADINPUT, N_("The mail is too large.") },
	{ "no-sender", EXIT_BADINPUT, N_("The mail has no usable sender address.") },
	{ "automatic", EXIT_BADINPUT,
	  N_("The mail was sent automatically; it is not answered.") },
	{ "malformed", EXIT_BADINPUT, N_("The input is not a mail.") },
	{ "unavailable", EXIT_TEMPFAIL,
	  N_("The service is temporarily unavailable. Please try again later.") },
	{ "mail-failed", EXIT_TEMPFAIL,
	  N_("The mail could not be sent. Please try again later.") },
	{ "internal", EXIT_SOFTWARE, N_("An internal error occurred.") },
	{ "protocol", EXIT_SOFTWARE, N_("kenpod gave an answer that is not understood.") },
};

static const struct errinfo *
error_find(const char *code)
{
	size_t i;

	for (i = 0; i < sizeof errors / sizeof errors[0]; i++)
		if (strcmp(errors[i].code, code) == 0)
			return &errors[i];
	return &errors[sizeof errors / sizeof errors[0] - 2]; /* internal */
}

/* kenpod's results (their text codes in kenpo-proto.h), and the client's
 * own failures, as error codes. */
static const char *
result_code(int result)
{
	const struct kenpo_result_info *r = kenpo_result_find(result);

	if (result == ASK_EUNAVAIL)
		return "unavailable";
	if (result == ASK_ETOOLONG)
		return "bad-input";
	return r != NULL && result != KENPO_RES_OK ? r->text : "protocol";
}

/* ---- building the answer ---- */

static void
set_str(struct ctx *x, const char *key, const char *value)
{
	json_object_object_add(x->out, key, json_object_new_string(value != NULL ? value : ""));
}

static void
set_int(struct ctx *x, const char *key, long long value)
{
	json_object_object_add(x->out, key, json_object_new_int64(value));
}

static void
set_bool(struct ctx *x, const char *key, int value)
{
	json_object_object_add(x->out, key, json_object_new_boolean(value));
}

/* {"ja": ..., "en": ...} of an English msgid. */
static json_object *
message_object(const char *msgid)
{
	json_object *m = json_object_new_object();

	json_object_object_add(m, "ja",
			       json_object_new_string(kenpo_i18n_text(KENPO_LANG_JA, msgid)));
	json_object_object_add(m, "en", json_object_new_string(msgid));
	return m;
}

/* The broken rules of a mask, each with its code, bit and message.  The
 * mask of PASSWORD_CHANGE may also hold KENPO_PWC_SAME_AS_OLD, which is no
 * rule of policy.c; a bit this tool does not know is left out. */
static void
set_violations(struct ctx *x, unsigned mask)
{
	json_object *list = json_object_new_array();
	const char *code, *msgid;
	json_object *v;
	unsigned bit;

	while ((bit = kenpo_rule_next(&mask)) != 0) {
		code = kenpo_rule_code(bit);
		msgid = kenpo_rule_message(bit);
		if (bit == KENPO_PWC_SAME_AS_OLD) {
			code = "same-as-old";
			msgid = N_("The new password must differ from the current one.");
		}
		if (code == NULL || msgid == NULL)
			continue;
		v = json_object_new_object();
		json_object_object_add(v, "code", json_object_new_string(code));
		json_object_object_add(v, "bit", json_object_new_int64(bit));
		json_object_object_add(v, "message", message_object(msgid));
		json_object_array_add(list, v);
	}
	json_object_object_add(x->out, "violations", list);
}

static int
succeed(struct ctx *x, const char *msgid)
{
	set_bool(x, "ok", 1);
	if (msgid != NULL)
		json_object_object_add(x->out, "message", message_object(msgid));
	return EXIT_OK;
}

static int
fail(struct ctx *x, const char *code)
{
	const struct errinfo *e = error_find(code);

	set_bool(x, "ok", 0);
	set_str(x, "error", e->code);
	set_int(x, "exit", e->exit);
	json_object_object_add(x->out, "message", message_object(e->msgid));
	return e->exit;
}

/* A string of kenpod's answer. */
static void
set_strn(struct ctx *x, const char *key, struct kenpo_str v)
{
	json_object_object_add(x->out, key, json_object_new_string_len(v.p, (int)v.len));
}

/* A refusal from kenpod, with whatever detail its layout carries. */
static int
fail_result(struct ctx *x, int result)
{
	const struct kenpo_fields *f = &x->reply.f;

	if (result >= 0 && (f->present & KENPO_HAS(tries)) && f->tries >= 0)
		set_int(x, "tries_left", f->tries);
	if (result >= 0 && (f->present & KENPO_HAS(field)) && f->field.len > 0)
		set_strn(x, "field", f->field);
	if (result >= 0 && (f->present & KENPO_HAS(seconds)))
		set_int(x, "seconds", f->seconds);
	if (result >= 0 && (f->present & KENPO_HAS(mask)))
		set_violations(x, (unsigned)f->mask);
	if (result == ASK_EUNAVAIL)
		set_str(x, "socket", x->socket);
	return fail(x, result_code(result));
}

/* ---- printing the answer ---- */

static const char *
text_of(json_object *msg, enum kenpo_lang lang)
{
	json_object *v = NULL;

	if (msg == NULL ||
	    !json_object_object_get_ex(msg, lang == KENPO_LANG_JA ? "ja" : "en", &v))
		return NULL;
	return json_object_get_string(v);
}

/* Fields the text form prints itself, or not at all. */
static int
is_framing(const char *key)
{
	static const char *const framing[] = { "ok", "error", "exit", "message", "violations" };
	size_t i;

	for (i = 0; i < sizeof framing / sizeof framing[0]; i++)
		if (strcmp(key, framing[i]) == 0)
			return 1;
	return 0;
}

/* The members of an object as "prefix.key: value" lines, booleans as yes
 * and no; an array of entries with an "index" (the household) as
 * "key.INDEX.field: value" lines, as kenpod names those fields. */
static void
print_fields(FILE *f, const char *prefix, json_object *o)
{
	json_object *item, *index;
	char sub[64];
	size_t i;

	json_object_object_foreach(o, key, val)
	{
		if (json_object_is_type(val, json_type_array)) {
			for (i = 0; i < json_object_array_length(val); i++) {
				item = json_object_array_get_idx(val, i);
				if (!json_object_object_get_ex(item, "index", &index))
					continue;
				snprintf(sub, sizeof sub, "%s.%s.", key,
					 json_object_get_string(index));
				print_fields(f, sub, item);
			}
		} else if (prefix[0] != '\0' && strcmp(key, "index") == 0) {
			continue;
		} else if (json_object_is_type(val, json_type_boolean)) {
			fprintf(f, "%s%s: %s\n", prefix, key,
				json_object_get_boolean(val) ? "yes" : "no");
		} else {
			fprintf(f, "%s%s: %s\n", prefix, key, json_object_get_string(val));
		}
	}
}

static void
print_text(const struct ctx *x)
{
	json_object *v = NULL, *msg = NULL, *list = NULL, *item;
	int ok = json_object_object_get_ex(x->out, "ok", &v) && json_object_get_boolean(v);
	FILE *f = ok ? stdout : stderr;
	const char *text;
	size_t i;

	json_object_object_get_ex(x->out, "message", &msg);
	if ((text = text_of(msg, x->lang)) != NULL)
		fprintf(f, ok ? "%s\n" : "kenpo: %s\n", text);
	if (json_object_object_get_ex(x->out, "violations", &list)) {
		for (i = 0; i < json_object_array_length(list); i++) {
			item = json_object_array_get_idx(list, i);
			json_object_object_get_ex(item, "message", &msg);
			fprintf(f, "  - %s\n", text_of(msg, x->lang));
		}
	}
	json_object_object_foreach(x->out, key, val)
	{
		if (is_framing(key))
			continue;
		if (json_object_is_type(val, json_type_object)) {
			print_fields(f, "", val);
			continue;
		}
		fprintf(f, "%s: %s\n", key, json_object_get_string(val));
	}
}

static void
print_answer(const struct ctx *x)
{
	if (x->json)
		printf("%s\n",
		       json_object_to_json_string_ext(x->out,
						      JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_text(x);
	fflush(stdout);
}

/* ---- standard input ---- */

/* Where secrets and tokens are read: standard input, or --fd N. */
static int secret_fd = STDIN_FILENO;

/*
 * Read one line of standard input into buf (the line end removed), a byte
 * at a time so that nothing past the line is consumed.  On a terminal the
 * prompt goes to stderr and echo is off.  0, or -1 at end of input, on a
 * line longer than the buffer, or on a NUL byte.
 */
static int
read_secret_line(const char *prompt, char *buf, size_t bufsz)
{
	struct termios old, quiet;
	int tty = isatty(secret_fd) && tcgetattr(secret_fd, &old) == 0;
	size_t n = 0;
	ssize_t got;
	char c;
	int rc = -1;

	if (tty) {
		fprintf(stderr, "%s: ", prompt);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(secret_fd, TCSAFLUSH, &quiet);
	}
	for (;;) {
		got = read(secret_fd, &c, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = n > 0 ? 0 : -1;
			break;
		}
		if (c == '\n') {
			rc = 0;
			break;
		}
		if (c == '\0' || n + 1 >= bufsz)
			break;
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	c = 0;
	if (tty) {
		(void)tcsetattr(secret_fd, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (rc != 0)
		kenpo_wipe(buf, bufsz);
	return rc;
}

/* Read `n` secrets (one a line) into bufs: EXIT_OK, or the exit code of
 * the error answered.  The caller wipes bufs on every path. */
static int
read_secrets(struct ctx *x, const char *const *prompts, char (*bufs)[SECRET_MAX], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (read_secret_line(prompts[i], bufs[i], SECRET_MAX) != 0) {
			set_str(x, "field", "stdin");
			return fail(x, "bad-input");
		}
	}
	return EXIT_OK;
}

/* ---- kenpod ---- */

/*
 * Ask kenpod; its answer, checked against the protocol table, is then in
 * x->reply until done_asking().  The kenpo_result, or an ASK_E* error.
 */
static int
ask(struct ctx *x, int32_t action, const struct kenpo_value *v, size_t n)
{
	const struct kenpo_client c = { x->socket, CALL_TIMEOUT_MS };

	memset(&x->reply, 0, sizeof x->reply);
	kenpo_buf_init(&x->frame, x->mem, sizeof x->mem);
	if (kenpo_call(&c, action, v, n, &x->frame, &x->reply) == 0)
		return x->reply.result;
	if (errno == EPROTO)
		return ASK_EPROTO;
	if (errno == EMSGSIZE || errno == EINVAL)
		return ASK_ETOOLONG;
	return ASK_EUNAVAIL;
}

/* Forget the answer: the frame held the request's secrets too. */
static void
done_asking(struct ctx *x)
{
	kenpo_call_wipe(&x->frame);
	kenpo_wipe(&x->reply, sizeof x->reply);
}

/* Answer a refusal of kenpod (or no answer at all), and forget it. */
static int
fail_asked(struct ctx *x, int rc)
{
	rc = fail_result(x, rc);
	done_asking(x);
	return rc;
}

/* ---- commands: policy ---- */

static int
cmd_check_login_id(struct ctx *x, char **args)
{
	size_t len = strlen(args[0]);
	unsigned mask = kenpo_policy_check_login_id(args[0], len);
	struct kenpo_value v[1] = { kenpo_vstr(args[0]) };
	int rc, taken;

	/* kenpod adds its reserved_login_ids with --available. */
	if (mask == 0)
		mask = kenpo_localname_check(args[0], len, NULL);

	set_violations(x, mask);
	if (mask != 0)
		return fail(x, "policy");
	if (x->available) {
		rc = ask(x, KENPO_ACTION_LOGIN_ID_CHECK, v, 1);
		if (rc != KENPO_RES_OK)
			return fail_asked(x, rc);
		taken = x->reply.f.taken != 0;
		done_asking(x);
		set_bool(x, "available", !taken);
		if (taken)
			return fail(x, "id-taken");
	}
	return succeed(x, NULL);
}

static int
cmd_check_password(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Password" };
	char pw[1][SECRET_MAX];
	unsigned mask;
	int rc;

	(void)args;
	if ((rc = read_secrets(x, prompts, pw, 1)) != EXIT_OK)
		goto done;
	mask = kenpo_policy_check_password(pw[0], strlen(pw[0]));
	set_violations(x, mask);
	rc = mask != 0 ? fail(x, "policy") : succeed(x, NULL);
done:
	kenpo_wipe(pw, sizeof pw);
	return rc;
}

/* ---- commands: registration guide ---- */

static const char guide_sent[] =
	N_("If this address can register, a mail with the registration URL has been sent to it.");

static int
guide_request(struct ctx *x, const char *address)
{
	struct kenpo_value v[2] = { kenpo_vstr(x->society), kenpo_vstr(address) };
	int rc = ask(x, KENPO_ACTION_GUIDE_REQUEST, v, 2);

	if (rc != KENPO_RES_OK)
		return fail_asked(x, rc);
	done_asking(x);
	return succeed(x, guide_sent);
}

static int
cmd_guide_request(struct ctx *x, char **args)
{
	return guide_request(x, args[0]);
}

static int
cmd_mailin(struct ctx *x, char **args)
{
	enum kenpo_mailin_source src;
	enum kenpo_mailin_rc mrc;
	char *data = NULL, sender[256];
	size_t len = 0;

	(void)args;
	mrc = kenpo_mailin_read(STDIN_FILENO, KENPO_MAILIN_MAX, &data, &len);
	if (mrc == KENPO_MAILIN_OK)
		mrc = kenpo_mailin_sender(data, len, sender, sizeof sender, &src);
	free(data);
	if (mrc == KENPO_MAILIN_READ_ERROR)
		return fail(x, "malformed");
	if (mrc != KENPO_MAILIN_OK)
		return fail(x, kenpo_mailin_code(mrc));
	set_str(x, "sender_from", kenpo_mailin_source_name(src));
	return guide_request(x, sender);
}

/* ---- commands: tokens and registration ---- */

static const char *const token_kinds[] = {
	[KENPO_TOKEN_GUIDE] = "guide",   [KENPO_TOKEN_IDENTITY] = "identity",
	[KENPO_TOKEN_RESET] = "reset",   [KENPO_TOKEN_REGISTRATION] = "registration",
	[KENPO_TOKEN_TICKET] = "ticket",
};

static int
cmd_token_check(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Token" };
	char tok[1][SECRET_MAX];
	struct kenpo_value v[1];
	const struct kenpo_fields *f = &x->reply.f;
	int rc;

	(void)args;
	if ((rc = read_secrets(x, prompts, tok, 1)) != EXIT_OK)
		goto done;
	v[0] = kenpo_vstr(tok[0]);
	rc = ask(x, KENPO_ACTION_TOKEN_CHECK, v, 1);
	if (rc != KENPO_RES_OK) {
		rc = fail_asked(x, rc);
		goto done;
	}
	set_str(x, "kind",
		f->kind > 0 && f->kind <= KENPO_TOKEN_TICKET ? token_kinds[f->kind] : "unknown");
	set_int(x, "seconds", f->seconds);
	set_strn(x, "masked_address", f->masked);
	done_asking(x);
	rc = succeed(x, NULL);
done:
	kenpo_wipe(tok, sizeof tok);
	return rc;
}

/* A REG record: the registration form may open. */
static int
answer_reg(struct ctx *x, int rc)
{
	const struct kenpo_fields *f = &x->reply.f;

	if (rc != KENPO_RES_OK)
		return fail_asked(x, rc);
	set_strn(x, "ticket", f->ticket);
	set_int(x, "seconds", f->seconds);
	set_strn(x, "mail", f->mail);
	done_asking(x);
	return succeed(x, N_("Please enter your new login ID, password, mail address "
			     "and nickname."));
}

static int
cmd_register_letter(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Token", "Temporary password" };
	char in[2][SECRET_MAX];
	struct kenpo_value v[3];
	int rc;

	if ((rc = read_secrets(x, prompts, in, 2)) != EXIT_OK)
		goto done;
	v[0] = kenpo_vstr(in[0]);
	v[1] = kenpo_vstr(args[0]);
	v[2] = kenpo_vstr(in[1]);
	rc = answer_reg(x, ask(x, KENPO_ACTION_REG_LETTER_OPEN, v, 3));
done:
	kenpo_wipe(in, sizeof in);
	return rc;
}

static int
cmd_register_identity(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Token" };
	char tok[1][SECRET_MAX];
	struct kenpo_value v[3];
	int rc;

	if ((rc = read_secrets(x, prompts, tok, 1)) != EXIT_OK)
		goto done;
	v[0] = kenpo_vstr(tok[0]);
	v[1] = kenpo_vstr(args[0]);
	v[2] = kenpo_vstr(args[1]);
	rc = ask(x, KENPO_ACTION_IDENTITY_CHECK, v, 3);
	if (rc != KENPO_RES_OK) {
		rc = fail_asked(x, rc);
		goto done;
	}
	set_strn(x, "authkey", x->reply.f.authkey);
	done_asking(x);
	rc = succeed(x, N_("Your identity has been confirmed. A mail with a URL has been "
			   "sent to your registered address. Please note the key shown here: "
			   "it is needed to register and is not in the mail."));
done:
	kenpo_wipe(tok, sizeof tok);
	return rc;
}

static int
cmd_register_identity_open(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Token", "Key" };
	char key[2][SECRET_MAX];
	struct kenpo_value v[2];
	int rc;

	(void)args;
	if ((rc = read_secrets(x, prompts, key, 2)) != EXIT_OK)
		goto done;
	v[0] = kenpo_vstr(key[0]);
	v[1] = kenpo_vstr(key[1]);
	rc = answer_reg(x, ask(x, KENPO_ACTION_IDENTITY_OPEN, v, 2));
done:
	kenpo_wipe(key, sizeof key);
	return rc;
}

/* Read a first line when lead names it (the ticket, the current
 * password), then a new password twice, into pw[0..2]: EXIT_OK, or the
 * exit code of the error answered (missing or different). */
static int
read_new_password(struct ctx *x, char (*pw)[SECRET_MAX], const char *lead)
{
	const char *prompts[3] = { lead, "New password", "New password (again)" };
	size_t first = lead != NULL ? 1 : 0;
	int rc = read_secrets(x, prompts + 1 - first, pw, first + 2);

	if (rc != EXIT_OK)
		return rc;
	if (!kenpo_secret_equal(pw[first], pw[first + 1]))
		return fail(x, "passwords-differ");
	return EXIT_OK;
}

static int
cmd_register_complete(struct ctx *x, char **args)
{
	char pw[3][SECRET_MAX];
	struct kenpo_value v[5];
	int rc;

	(void)args;
	if (!(x->given & OPT_LOGIN_ID) || !(x->given & OPT_MAIL))
		return fail(x, "usage");
	if ((rc = read_new_password(x, pw, "Ticket")) != EXIT_OK)
		goto done;
	v[0] = kenpo_vstr(pw[0]);
	v[1] = kenpo_vstr(x->login_id);
	v[2] = kenpo_vstr(pw[1]);
	v[3] = kenpo_vstr(x->mail);
	v[4] = kenpo_vstr(x->nickname);
	rc = ask(x, KENPO_ACTION_REG_COMPLETE, v, 5);
	if (rc != KENPO_RES_OK) {
		rc = fail_asked(x, rc);
		goto done;
	}
	set_strn(x, "login_id", x->reply.f.login);
	done_asking(x);
	rc = succeed(x, N_("Registration is complete. Please log in with your new login ID "
			   "and password."));
done:
	kenpo_wipe(pw, sizeof pw);
	return rc;
}

/* ---- commands: password reset ---- */

static int
cmd_reset_request(struct ctx *x, char **args)
{
	struct kenpo_value v[2] = { kenpo_vstr(x->society), kenpo_vstr(args[0]) };
	int rc = ask(x, KENPO_ACTION_RESET_REQUEST, v, 2);

	if (rc != KENPO_RES_OK)
		return fail_asked(x, rc);
	done_asking(x);
	return succeed(x, N_("If this address is registered, a mail with a temporary "
			     "password has been sent to it."));
}

static int
cmd_reset_open(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Token" };
	char tok[1][SECRET_MAX];
	struct kenpo_value v[1];
	int rc;

	(void)args;
	if ((rc = read_secrets(x, prompts, tok, 1)) != EXIT_OK)
		goto done;
	v[0] = kenpo_vstr(tok[0]);
	rc = ask(x, KENPO_ACTION_RESET_OPEN, v, 1);
	if (rc != KENPO_RES_OK) {
		rc = fail_asked(x, rc);
		goto done;
	}
	set_strn(x, "login_id", x->reply.f.login);
	set_int(x, "seconds", x->reply.f.seconds);
	done_asking(x);
	rc = succeed(x, N_("Please log in with the login ID and the temporary password "
			   "from the mail."));
done:
	kenpo_wipe(tok, sizeof tok);
	return rc;
}

/* ---- commands: login and password change ---- */

/* The answer to AUTH_PASSWORD or AUTH_KEY: OK with an AUTH record, or
 * KEY_SENT and KEY_PENDING with a KEY record. */
static int
answer_auth(struct ctx *x, int rc)
{
	const struct kenpo_fields *f = &x->reply.f;
	int must_change = (f->flags & KENPO_AUTHR_MUST_CHANGE) != 0;

	if (rc == KENPO_RES_KEY_SENT || rc == KENPO_RES_KEY_PENDING) {
		set_strn(x, "login_id", f->login);
		set_strn(x, "masked_address", f->masked);
		set_int(x, "seconds", f->seconds);
		set_strn(x, "txn", f->txn);
		set_bool(x, "key_pending", rc == KENPO_RES_KEY_PENDING);
		done_asking(x);
		return fail(x, "key-sent");
	}
	if (rc != KENPO_RES_OK)
		return fail_asked(x, rc);
	set_strn(x, "login_id", f->login);
	set_bool(x, "must_change", must_change);
	if (f->ticket.len > 0)
		set_strn(x, "ticket", f->ticket);
	if (f->proof.len > 0)
		set_strn(x, "proof", f->proof);
	set_strn(x, "previous_login", f->previous);
	done_asking(x);
	if (must_change)
		return fail(x, "must-change");
	return succeed(x, NULL);
}

static int
cmd_login(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Password" };
	char pw[1][SECRET_MAX];
	struct kenpo_value v[5];
	int rc;

	if ((rc = read_secrets(x, prompts, pw, 1)) != EXIT_OK)
		goto done;
	/* A web portal cannot hold a PAM conversation open: split mode; it
	 * wants the profile ticket, and opens no PAM session: the login is
	 * recorded with its previous one answered. */
	v[0] = kenpo_vstr(args[0]);
	v[1] = kenpo_vstr(pw[0]);
	v[2] = kenpo_vint(KENPO_AUTHF_SPLIT | KENPO_AUTHF_TICKET | KENPO_AUTHF_SESSION);
	v[3] = kenpo_vstr("kenpo");
	v[4] = kenpo_vstr(x->rhost);
	rc = answer_auth(x, ask(x, KENPO_ACTION_AUTH_PASSWORD, v, 5));
done:
	kenpo_wipe(pw, sizeof pw);
	return rc;
}

/* The answer to AUTH_RESEND: KEY_SENT with a KEY record, or a refusal. */
static int
answer_resend(struct ctx *x, int rc)
{
	if (rc != KENPO_RES_KEY_SENT)
		return fail_asked(x, rc);
	set_bool(x, "resent", 1);
	return answer_auth(x, rc);
}

static int
resend(struct ctx *x, const char *login, const char *txn)
{
	struct kenpo_value v[2] = { kenpo_vstr(login), kenpo_vstr(txn) };

	return answer_resend(x, ask(x, KENPO_ACTION_AUTH_RESEND, v, 2));
}

/*
 * The key of the pending login: the txn and the key on standard input.
 * An empty key asks for a new one (暗証キー再請求) instead of counting as a
 * wrong one.  An expired key leaves the login open: the answer says that a
 * new key can be sent (kenpo login resend).
 */
static int
cmd_login_key(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Key handle (txn)", "Key" };
	char in[2][SECRET_MAX];
	struct kenpo_value v[6];
	int rc;

	if ((rc = read_secrets(x, prompts, in, 2)) != EXIT_OK)
		goto done;
	if (in[1][0] == '\0') {
		rc = resend(x, args[0], in[0]);
		goto done;
	}
	v[0] = kenpo_vstr(args[0]);
	v[1] = kenpo_vstr(in[0]);
	v[2] = kenpo_vstr(in[1]);
	v[3] = kenpo_vint(KENPO_AUTHF_TICKET | KENPO_AUTHF_SESSION);
	v[4] = kenpo_vstr("kenpo");
	v[5] = kenpo_vstr(x->rhost);
	rc = ask(x, KENPO_ACTION_AUTH_KEY, v, 6);
	if (rc == KENPO_RES_KEY_EXPIRED)
		set_bool(x, "can_resend", 1);
	rc = answer_auth(x, rc);
done:
	kenpo_wipe(in, sizeof in);
	return rc;
}

/* 暗証キー再請求: a new key for the pending login, the txn on standard input. */
static int
cmd_login_resend(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Key handle (txn)" };
	char txn[1][SECRET_MAX];
	int rc;

	if ((rc = read_secrets(x, prompts, txn, 1)) == EXIT_OK)
		rc = resend(x, args[0], txn[0]);
	kenpo_wipe(txn, sizeof txn);
	return rc;
}

/* Void the pending key (the key page was left); the txn on standard input.
 * kenpod answers the same whether there was a key or not. */
static int
cmd_login_abort(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Key handle (txn)" };
	char txn[1][SECRET_MAX];
	struct kenpo_value v[2];
	int rc;

	if ((rc = read_secrets(x, prompts, txn, 1)) != EXIT_OK)
		goto done;
	v[0] = kenpo_vstr(args[0]);
	v[1] = kenpo_vstr(txn[0]);
	rc = ask(x, KENPO_ACTION_AUTH_ABORT, v, 2);
	if (rc != KENPO_RES_OK) {
		rc = fail_asked(x, rc);
		goto done;
	}
	done_asking(x);
	rc = succeed(x, N_("The key is no longer valid."));
done:
	kenpo_wipe(txn, sizeof txn);
	return rc;
}

/* The member's recent logins, newest first; the proof of the login on
 * standard input (root may give an empty line). */
static int
cmd_login_history(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Proof of the login" };
	char proof[1][SECRET_MAX];
	struct kenpo_value v[2];
	struct kenpo_list visits;
	struct kenpo_fields item;
	json_object *list, *o;
	int rc, more;

	if ((rc = read_secrets(x, prompts, proof, 1)) != EXIT_OK)
		goto done;
	v[0] = kenpo_vstr(args[0]);
	v[1] = kenpo_vstr(proof[0]);
	rc = ask(x, KENPO_ACTION_LOGIN_HISTORY, v, 2);
	if (rc != KENPO_RES_OK) {
		rc = fail_asked(x, rc);
		goto done;
	}
	list = json_object_new_array();
	json_object_object_add(x->out, "logins", list);
	visits = x->reply.f.visits;
	while ((more = kenpo_list_next(&x->frame, &visits, &item)) == 1) {
		o = json_object_new_object();
		json_object_object_add(o, "when",
				       json_object_new_string_len(item.when.p,
								  (int)item.when.len));
		json_object_object_add(o, "service",
				       json_object_new_string_len(item.service.p,
								  (int)item.service.len));
		json_object_object_add(o, "source",
				       json_object_new_string_len(item.source.p,
								  (int)item.source.len));
		json_object_array_add(list, o);
	}
	done_asking(x);
	rc = more == 0 ? succeed(x, NULL) : fail(x, "protocol");
done:
	kenpo_wipe(proof, sizeof proof);
	return rc;
}

/*
 * The proof of a completed login (from `kenpo login` or `login key`; an
 * empty line after a temporary password), then the current password and
 * the new one twice, on standard input.
 */
static int
cmd_password_change(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Proof of the login" };
	char proof[1][SECRET_MAX], pw[3][SECRET_MAX];
	struct kenpo_value v[6];
	int rc;

	if ((rc = read_secrets(x, prompts, proof, 1)) != EXIT_OK ||
	    (rc = read_new_password(x, pw, "Current password")) != EXIT_OK)
		goto done;
	v[0] = kenpo_vstr(args[0]);
	v[1] = kenpo_vstr(pw[0]);
	v[2] = kenpo_vstr(pw[1]);
	v[3] = kenpo_vint(0);
	v[4] = kenpo_vstr(proof[0]);
	v[5] = kenpo_vstr(x->rhost);
	rc = ask(x, KENPO_ACTION_PASSWORD_CHANGE, v, 6);
	if (rc != KENPO_RES_OK) {
		rc = fail_asked(x, rc);
		goto done;
	}
	done_asking(x);
	rc = succeed(x, N_("The password has been changed."));
done:
	kenpo_wipe(proof, sizeof proof);
	kenpo_wipe(pw, sizeof pw);
	return rc;
}

/* ---- commands: profile ---- */

/* Profile fields whose values are "yes" or "no": JSON booleans. */
static int
is_flag_field(const char *name)
{
	static const char *const flags[] = {
		"notify_medical",      "notify_generic",   "notify_magazine",  "notify_documents",
		"notify_applications", "disclose_medical", "disclose_generic",
	};
	size_t i;

	for (i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (strcmp(name, flags[i]) == 0)
			return 1;
	return 0;
}

static json_object *
profile_value(const char *field, const char *value)
{
	if (is_flag_field(field) && (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0))
		return json_object_new_boolean(strcmp(value, "yes") == 0);
	return json_object_new_string(value);
}

/* The household entry of index NN in the array, added at its end when new. */
static json_object *
household_entry(json_object *household, const char *index)
{
	json_object *h, *v;
	size_t i;

	for (i = 0; i < json_object_array_length(household); i++) {
		h = json_object_array_get_idx(household, i);
		if (json_object_object_get_ex(h, "index", &v) &&
		    strcmp(json_object_get_string(v), index) == 0)
			return h;
	}
	h = json_object_new_object();
	json_object_object_add(h, "index", json_object_new_string(index));
	json_object_array_add(household, h);
	return h;
}

/* One field of the profile: "household.NN.FIELD" goes into the entry NN
 * of the "household" array, every other one into the profile itself. */
static void
profile_add(json_object *profile, const char *field, const char *value)
{
	json_object *household;
	char index[3];

	if (strncmp(field, "household.", 10) != 0 || strlen(field) < 14 || field[12] != '.') {
		json_object_object_add(profile, field, profile_value(field, value));
		return;
	}
	if (!json_object_object_get_ex(profile, "household", &household)) {
		household = json_object_new_array();
		json_object_object_add(profile, "household", household);
	}
	memcpy(index, field + 10, 2);
	index[2] = '\0';
	json_object_object_add(household_entry(household, index), field + 13,
			       profile_value(field + 13, value));
}

/* The PROFILE record of the answer as a JSON object.  0, or -1 when a
 * string cannot be taken (a NUL-free copy is made of each). */
static int
profile_json(struct ctx *x, json_object *profile)
{
	struct kenpo_list pairs = x->reply.f.pairs;
	struct kenpo_fields item;
	char *field = NULL, *value = NULL;
	int more, rc = 0;

	while (rc == 0 && (more = kenpo_list_next(&x->frame, &pairs, &item)) == 1) {
		field = strndup(item.field.p, item.field.len);
		value = strndup(item.value.p, item.value.len);
		if (field == NULL || value == NULL)
			rc = -1;
		else
			profile_add(profile, field, value);
		free(field);
		free(value);
	}
	return rc == 0 && more == 0 ? 0 : -1;
}

/* The lines a profile command reads: the ticket with --ticket, then the
 * current password with --current-password.  EXIT_OK or the error
 * answered; in[0] is the ticket ("" without --ticket), in[1] the
 * password. */
static int
read_session(struct ctx *x, char (*in)[SECRET_MAX])
{
	static const char *const prompts[] = { "Ticket", "Current password" };
	size_t first = x->with_ticket ? 0 : 1,
	       n = (x->with_ticket ? 1u : 0u) + (x->with_password ? 1u : 0u);

	in[0][0] = in[1][0] = '\0';
	return read_secrets(x, prompts + first, in + first, n);
}

static int
cmd_profile_show(struct ctx *x, char **args)
{
	char in[2][SECRET_MAX];
	struct kenpo_value v[2];
	json_object *profile;
	int rc;

	if ((rc = read_session(x, in)) != EXIT_OK)
		goto done;
	v[0] = kenpo_vstr(args[0]);
	v[1] = kenpo_vstr(in[0]);
	rc = ask(x, KENPO_ACTION_PROFILE_GET, v, 2);
	if (rc != KENPO_RES_OK) {
		rc = fail_asked(x, rc);
		goto done;
	}
	profile = json_object_new_object();
	json_object_object_add(x->out, "profile", profile);
	if (profile_json(x, profile) != 0) {
		done_asking(x);
		rc = fail(x, "internal");
		goto done;
	}
	/* Root, who gave none, gets the ticket of a new session. */
	if (!x->with_ticket && x->reply.f.ticket.len > 0)
		set_strn(x, "ticket", x->reply.f.ticket);
	done_asking(x);
	rc = succeed(x, NULL);
done:
	kenpo_wipe(in, sizeof in);
	return rc;
}

/* Split FIELD=VALUE arguments into request values (a field and a value
 * each); -1 (answered) for one without '='. */
static int
split_pairs(struct ctx *x, char **args, int n, struct kenpo_value *v)
{
	char *eq;
	int i;

	for (i = 0; i < n; i++) {
		eq = strchr(args[i], '=');
		if (eq == NULL || eq == args[i]) {
			set_str(x, "argument", args[i]);
			fail(x, "usage");
			return -1;
		}
		v[2 * i] = kenpo_vstrn(args[i], (size_t)(eq - args[i]));
		v[2 * i + 1] = kenpo_vstr(eq + 1);
	}
	return 0;
}

static int
cmd_profile_set(struct ctx *x, char **args, int nargs)
{
	struct kenpo_value v[3 + 2 * (KENPO_PROFILE_PAIRS_MAX + 1)];
	char in[2][SECRET_MAX];
	int n = nargs - 1, rc;
	size_t nv;

	/* kenpod takes so many pairs at the most (the current password is
	 * one): more are a usage error before anything is sent. */
	if (n + (x->with_password ? 1 : 0) > KENPO_PROFILE_PAIRS_MAX) {
		set_int(x, "fields_max", KENPO_PROFILE_PAIRS_MAX);
		return fail(x, "usage");
	}
	v[0] = kenpo_vstr(args[0]);
	if (split_pairs(x, args + 1, n, v + 3) != 0)
		return EXIT_USAGE;
	if ((rc = read_session(x, in)) != EXIT_OK)
		goto done;
	v[1] = kenpo_vstr(in[0]);
	nv = 3 + 2 * (size_t)n;
	if (x->with_password) {
		v[nv++] = kenpo_vstr("current_password");
		v[nv++] = kenpo_vstr(in[1]);
	}
	v[2] = kenpo_vlist((int32_t)(nv - 3) / 2);
	rc = ask(x, KENPO_ACTION_PROFILE_SET, v, nv);
	if (rc != KENPO_RES_OK) {
		rc = fail_asked(x, rc);
		goto done;
	}
	if (!x->with_ticket && x->reply.f.ticket.len > 0)
		set_strn(x, "ticket", x->reply.f.ticket);
	done_asking(x);
	rc = succeed(x, N_("The profile has been saved."));
done:
	kenpo_wipe(in, sizeof in);
	return rc;
}

static int
cmd_profile_end(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Ticket" };
	char tok[1][SECRET_MAX];
	struct kenpo_value v[2];
	int rc;

	if ((rc = read_secrets(x, prompts, tok, 1)) != EXIT_OK)
		goto done;
	v[0] = kenpo_vstr(args[0]);
	v[1] = kenpo_vstr(tok[0]);
	rc = ask(x, KENPO_ACTION_PROFILE_END, v, 2);
	if (rc != KENPO_RES_OK) {
		rc = fail_asked(x, rc);
		goto done;
	}
	done_asking(x);
	rc = succeed(x, N_("You have logged out."));
done:
	kenpo_wipe(tok, sizeof tok);
	return rc;
}

/* ---- the command table ---- */

struct command {
	const char *word1, *word2; /* word2 NULL: a one-word command */
	int min_args, max_args;    /* -1: any number */
	unsigned options;
	int (*run)(struct ctx *x, char **args);
	int (*run_n)(struct ctx *x, char **args, int nargs);
	const char *synopsis;
};

static const struct command commands[] = {
	{ "policy", "check-login-id", 1, 1, OPT_AVAILABLE, cmd_check_login_id, NULL,
	  "policy check-login-id [--available] ID" },
	{ "policy", "check-password", 0, 0, 0, cmd_check_password, NULL,
	  "policy check-password               (password on stdin)" },
	{ "guide", "request", 1, 1, OPT_SOCIETY, cmd_guide_request, NULL,
	  "guide request [--society S] ADDRESS" },
	{ "mailin", NULL, 0, 0, OPT_SOCIETY, cmd_mailin, NULL,
	  "mailin [--society S]                (a mail on stdin, from an MTA)" },
	{ "token", "check", 0, 0, 0, cmd_token_check, NULL,
	  "token check                         (token on stdin)" },
	{ "register", "letter", 1, 1, 0, cmd_register_letter, NULL,
	  "register letter LOGINID             (token, temporary password on stdin)" },
	{ "register", "identity", 2, 2, 0, cmd_register_identity, NULL,
	  "register identity ADDRESS YYYY-MM-DD (token on stdin)" },
	{ "register", "identity-open", 0, 0, 0, cmd_register_identity_open, NULL,
	  "register identity-open              (token, 認証キー on stdin)" },
	{ "register", "complete", 0, 0, OPT_LOGIN_ID | OPT_MAIL | OPT_NICKNAME,
	  cmd_register_complete, NULL,
	  "register complete --login-id ID --mail ADDRESS [--nickname N]\n"
	  "                                    (ticket, new password twice on stdin)" },
	{ "reset", "request", 1, 1, OPT_SOCIETY, cmd_reset_request, NULL,
	  "reset request [--society S] ADDRESS" },
	{ "reset", "open", 0, 0, 0, cmd_reset_open, NULL,
	  "reset open                          (token on stdin)" },
	{ "login", "key", 1, 1, OPT_RHOST, cmd_login_key, NULL,
	  "login key [--rhost ADDR] LOGINID    (txn, then the mailed key, on stdin;\n"
	  "                                    an empty key asks for a new one)" },
	{ "login", "resend", 1, 1, 0, cmd_login_resend, NULL,
	  "login resend LOGINID                (txn on stdin): a new key" },
	{ "login", "abort", 1, 1, 0, cmd_login_abort, NULL,
	  "login abort LOGINID                 (txn on stdin): void the key" },
	{ "login", "history", 1, 1, 0, cmd_login_history, NULL,
	  "login history LOGINID               (proof of the login on stdin)" },
	{ "login", NULL, 1, 1, OPT_RHOST, cmd_login, NULL,
	  "login [--rhost ADDR] LOGINID        (password on stdin)" },
	{ "password", "change", 1, 1, OPT_RHOST, cmd_password_change, NULL,
	  "password change [--rhost ADDR] LOGINID\n"
	  "                                    (proof of the login, old, new, new again\n"
	  "                                    on stdin)" },
	{ "profile", "show", 1, 1, OPT_TICKET, cmd_profile_show, NULL,
	  "profile show [--ticket] LOGINID     (with --ticket: the ticket on stdin)" },
	{ "profile", "set", 2, -1, OPT_TICKET | OPT_PASSWORD, NULL, cmd_profile_set,
	  "profile set [--ticket] [--current-password] LOGINID FIELD=VALUE...\n"
	  "                                    (the ticket, then the current password on stdin)" },
	{ "profile", "end", 1, 1, 0, cmd_profile_end, NULL,
	  "profile end LOGINID                 (the ticket on stdin: log out)" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: kenpo [-s SOCKET] [--json] [--lang ja|en] COMMAND ...\n\n"
		   "Self-service steps of the member portal, for web applications and MTAs.\n"
		   "Secrets, tokens and tickets are read from standard input (or --fd N), one\n"
		   "per line, in the order each command names them; never from arguments.\n"
		   "So are the handles of a login (txn, proof).\n\n"
		   "Commands:\n");
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  kenpo %s\n", commands[i].synopsis);
	fprintf(f,
		"\nOptions:\n"
		"  -s, --socket PATH  kenpod's socket (default: $KENPO_SOCKET, else %s)\n"
		"  --json             answer with one JSON object: \"ok\", and on failure\n"
		"                     \"error\" (a stable code), \"exit\" and \"message\" {ja, en}\n"
		"  --lang ja|en       language of the text answer (default: from $LANG)\n"
		"  --fd N             read secrets, tokens and tickets from descriptor N\n\n"
		"Profile fields: login_id nickname mail1 mail2 mail3 key_mail (1, 2 or 3)\n"
		"  notify_medical notify_generic notify_magazine notify_documents\n"
		"  notify_applications (yes/no), household.NN.nickname,\n"
		"  household.NN.disclose_medical, household.NN.disclose_generic (yes/no)\n\n"
		"Exit status:\n"
		"   0  done\n"
		"   1  refused: a rule broken, a wrong answer, a login ID taken, locked ...\n"
		"   2  usage error\n"
		"   3  bad input: a malformed value or mail; nothing was changed or sent\n"
		"   4  the link, ticket or key is unknown, used or expired\n"
		"   5  not allowed: only root and the portal group may call kenpod here,\n"
		"      and a profile needs a ticket\n"
		"   6  a key was mailed: answer it with `kenpo login key`\n"
		"   7  logged in with a temporary password: change it now\n"
		"  70  internal error\n"
		"  75  kenpod, the directory or the mail relay is unavailable: try again\n"
		"      later (an MTA defers the mail)\n",
		KENPO_SOCKET_PATH);
}

/* ---- the command line ---- */

static const struct option long_options[] = {
	{ "socket", required_argument, NULL, 's' },     { "json", no_argument, NULL, 'j' },
	{ "lang", required_argument, NULL, 'L' },       { "help", no_argument, NULL, 'h' },
	{ "society", required_argument, NULL, 'S' },    { "ticket", no_argument, NULL, 'T' },
	{ "current-password", no_argument, NULL, 'P' }, { "fd", required_argument, NULL, 'F' },
	{ "login-id", required_argument, NULL, 'I' },   { "mail", required_argument, NULL, 'M' },
	{ "nickname", required_argument, NULL, 'N' },   { "available", no_argument, NULL, 'A' },
	{ "rhost", required_argument, NULL, 'R' },      { NULL, 0, NULL, 0 },
};

/*
 * A login's txn handle has a token's form (base64url), so one in 64
 * starts with '-', which getopt would take for options.  An argument of
 * exactly that form (no option of kenpo's has it) is hidden from getopt
 * behind a stand-in and given back afterwards: the portal need not know to
 * put "--" first.
 */
struct standin {
	char **orig;  /* the arguments as given */
	char **stand; /* their stand-ins (NULL: the argument itself) */
	int n;
};
static struct standin standins;

static void
hide_tokens(int argc, char **argv)
{
	int i;

	standins.orig = calloc((size_t)argc, sizeof(char *));
	standins.stand = calloc((size_t)argc, sizeof(char *));
	if (standins.orig == NULL || standins.stand == NULL)
		return;
	standins.n = argc;
	for (i = 1; i < argc; i++) {
		standins.orig[i] = argv[i];
		if (argv[i][0] != '-' || !kenpo_token_is_wellformed(argv[i]))
			continue;
		standins.stand[i] = malloc(strlen(argv[i]) + 2);
		if (standins.stand[i] == NULL)
			continue;
		standins.stand[i][0] = 'T';
		memcpy(standins.stand[i] + 1, argv[i], strlen(argv[i]) + 1);
		argv[i] = standins.stand[i];
	}
}

/* The argument a stand-in stands for (or p itself). */
static char *
unhide(char *p)
{
	int i;

	for (i = 0; i < standins.n; i++)
		if (p != NULL && p == standins.stand[i])
			return standins.orig[i];
	return p;
}

static void
standins_free(void)
{
	int i;

	for (i = 0; i < standins.n; i++)
		free(standins.stand[i]);
	free(standins.stand);
	free(standins.orig);
}

/* Store a command option.  0, or -1 for an unknown option. */
static int
take_option(struct ctx *x, int c, const char *arg)
{
	static const struct {
		int c;
		unsigned bit;
	} bits[] = {
		{ 'S', OPT_SOCIETY }, { 'T', OPT_TICKET },   { 'I', OPT_LOGIN_ID },
		{ 'M', OPT_MAIL },    { 'N', OPT_NICKNAME }, { 'A', OPT_AVAILABLE },
		{ 'R', OPT_RHOST },   { 'P', OPT_PASSWORD },
	};
	const char **slot[] = { &x->society,  NULL, &x->login_id, &x->mail,
				&x->nickname, NULL, &x->rhost,    NULL };
	int *flag[] = { NULL, &x->with_ticket, NULL, NULL,
			NULL, &x->available,   NULL, &x->with_password };
	size_t i;

	for (i = 0; i < sizeof bits / sizeof bits[0]; i++) {
		if (bits[i].c != c)
			continue;
		x->given |= bits[i].bit;
		if (slot[i] != NULL)
			*slot[i] = arg;
		else
			*flag[i] = 1;
		return 0;
	}
	return -1;
}

/* --fd N: an open descriptor the caller handed down. */
static int
parse_fd(const char *s)
{
	char *end = NULL;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n < 0 || n > 1023 ||
	    fcntl((int)n, F_GETFD) < 0)
		return -1;
	secret_fd = (int)n;
	return 0;
}

static int
parse_options(struct ctx *x, int argc, char **argv)
{
	int c;

	while ((c = getopt_long(argc, argv, "s:h", long_options, NULL)) != -1) {
		switch (c) {
		case 's':
			x->socket = optarg;
			break;
		case 'j':
			x->json = 1;
			break;
		case 'F':
			if (parse_fd(optarg) != 0)
				return -1;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'L':
			if (kenpo_lang_parse(optarg, &x->lang) != 0)
				return -1;
			break;
		default:
			if (take_option(x, c, unhide(optarg)) != 0)
				return -1;
			break;
		}
	}
	return 0;
}

static const struct command *
command_find(char **words, int nwords, int *used)
{
	size_t i;

	for (i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		const struct command *cmd = &commands[i];

		if (nwords < 1 || strcmp(words[0], cmd->word1) != 0)
			continue;
		if (cmd->word2 == NULL) {
			*used = 1;
			return cmd;
		}
		if (nwords >= 2 && strcmp(words[1], cmd->word2) == 0) {
			*used = 2;
			return cmd;
		}
	}
	return NULL;
}

/* Text answers in Japanese when the environment asks for Japanese. */
static enum kenpo_lang
lang_from_environment(void)
{
	static const char *const vars[] = { "LC_ALL", "LC_MESSAGES", "LANG" };
	enum kenpo_lang lang = KENPO_LANG_EN;
	const char *v;
	size_t i;

	for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		v = getenv(vars[i]);
		if (v != NULL && v[0] != '\0')
			return kenpo_lang_parse(v, &lang) == 0 ? lang : KENPO_LANG_EN;
	}
	return lang;
}

static const char *
default_socket(void)
{
	const char *p = secure_getenv("KENPO_SOCKET");

	return p != NULL && p[0] != '\0' ? p : KENPO_SOCKET_PATH;
}

/* Parse and run; the answer is in x->out.  Returns the exit code. */
static int
run(struct ctx *x, int argc, char **argv)
{
	const struct command *cmd;
	int used = 0, nargs, i;

	hide_tokens(argc, argv);
	if (parse_options(x, argc, argv) != 0)
		return fail(x, "usage");
	for (i = optind; i < argc; i++)
		argv[i] = unhide(argv[i]);
	cmd = command_find(argv + optind, argc - optind, &used);
	if (cmd == NULL)
		return fail(x, "usage");
	nargs = argc - optind - used;
	if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args) ||
	    (x->given & ~cmd->options) != 0)
		return fail(x, "usage");
	if (cmd->run_n != NULL)
		return cmd->run_n(x, argv + optind + used, nargs);
	return cmd->run(x, argv + optind + used);
}

int
main(int argc, char **argv)
{
	struct ctx x = { .lang = lang_from_environment(), .socket = default_socket() };
	int rc;

	/* Members must not count as the host's own accounts when a login ID
	 * is checked (localname.h): libnss_kenpo answers "unavailable" here. */
	if (setenv("_KENPO_NSS_LOOPS", "NO", 1) != 0)
		return EXIT_SOFTWARE;
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	x.out = json_object_new_object();
	if (x.out == NULL)
		return EXIT_SOFTWARE;
	set_bool(&x, "ok", 0); /* first in the object; set for good at the end */
	rc = run(&x, argc, argv);
	print_answer(&x);
	standins_free();
	done_asking(&x);
	json_object_put(x.out);
	return rc;
}
