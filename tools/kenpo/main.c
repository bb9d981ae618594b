/*
 * main.c - kenpo, the self-service client a web portal and an MTA call.
 *
 * One subcommand per step of the portal's flows (registration guide,
 * letter registration, identity check, password reset, profile), each
 * answering in text or, with --json, as one JSON object whose fields and
 * error codes are stable.  Secrets (passwords, temporary passwords, the
 * on-screen 認証キー, mailed keys) are read from standard input, one per
 * line, never from the command line, where any local user could read them
 * in /proc; tokens may be arguments, since they come from URLs.
 *
 * The policy checks run here (pure rules, no kenpod); every other command
 * asks kenpod over its socket, and kenpod decides (it validates every
 * value again: this tool is a convenience, not a gate).
 */
#include "autoconfig.h"

#include <errno.h>
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
#include "secret.h"

/* Exit codes (also in usage()). */
enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,     /* a rule broken, a wrong answer, an ID taken ... */
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

/* Options; which a command accepts is in its table row. */
enum {
	OPT_SOCIETY = 1u << 0,
	OPT_TICKET = 1u << 1,
	OPT_LOGIN_ID = 1u << 2,
	OPT_MAIL = 1u << 3,
	OPT_NICKNAME = 1u << 4,
	OPT_AVAILABLE = 1u << 5,
	OPT_RHOST = 1u << 6,
};

struct ctx {
	const char *socket;
	int json;
	enum kenpo_lang lang;
	unsigned given;             /* OPT_* seen on the command line */
	const char *society, *ticket, *login_id, *mail, *nickname, *rhost;
	int available;
	json_object *out;           /* the answer, printed at the end */
	struct kc *kc;
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
	{ "passwords-differ", EXIT_REFUSED,
	  N_("The new password and its confirmation differ.") },
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
	{ "key-void", EXIT_TOKEN,
	  N_("The key is no longer valid. Please request a new key.") },
	{ "key-expired", EXIT_TOKEN,
	  N_("The key has expired. Please request a new key.") },
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
	return &errors[sizeof errors / sizeof errors[0] - 2];   /* internal */
}

/* kenpod's results, and the client's own failures, as error codes. */
static const struct {
	int result;
	const char *code;
} result_codes[] = {
	{ KENPO_RES_NOTFOUND, "not-found" }, { KENPO_RES_UNAVAIL, "unavailable" },
	{ KENPO_RES_DENIED, "denied" }, { KENPO_RES_BADREQ, "protocol" },
	{ KENPO_RES_UNKNOWN, "protocol" }, { KENPO_RES_INTERNAL, "internal" },
	{ KENPO_RES_AUTH_ERR, "auth-failed" }, { KENPO_RES_KEY_SENT, "key-sent" },
	{ KENPO_RES_KEY_PENDING, "key-sent" }, { KENPO_RES_KEY_WRONG, "key-wrong" },
	{ KENPO_RES_KEY_VOID, "key-void" }, { KENPO_RES_KEY_EXPIRED, "key-expired" },
	{ KENPO_RES_COOLDOWN, "cooldown" }, { KENPO_RES_LOCKED, "locked" },
	{ KENPO_RES_DELAY, "delay" }, { KENPO_RES_DISABLED, "disabled" },
	{ KENPO_RES_NOT_REGISTERED, "not-registered" },
	{ KENPO_RES_MAIL_FAILED, "mail-failed" }, { KENPO_RES_MUST_CHANGE, "must-change" },
	{ KENPO_RES_POLICY, "policy" }, { KENPO_RES_TOKEN_INVALID, "token-invalid" },
	{ KENPO_RES_TOKEN_EXPIRED, "token-expired" }, { KENPO_RES_MISMATCH, "mismatch" },
	{ KENPO_RES_ID_TAKEN, "id-taken" }, { KENPO_RES_BADVALUE, "bad-input" },
	{ KC_EUNAVAIL, "unavailable" }, { KC_EPROTO, "protocol" },
	{ KC_ETOOLONG, "bad-input" },
};

static const char *
result_code(int result)
{
	size_t i;

	for (i = 0; i < sizeof result_codes / sizeof result_codes[0]; i++)
		if (result_codes[i].result == result)
			return result_codes[i].code;
	return "protocol";
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

	json_object_object_add(m, "ja", json_object_new_string(
		kenpo_i18n_text(KENPO_LANG_JA, msgid)));
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

/* A refusal from kenpod, with whatever detail it carries. */
static int
fail_result(struct ctx *x, int result)
{
	const struct kc_detail *d = x->kc != NULL ? kc_detail(x->kc) : NULL;

	if (d != NULL && (result == KENPO_RES_MISMATCH || result == KENPO_RES_KEY_WRONG) &&
	    d->tries_left >= 0)
		set_int(x, "tries_left", d->tries_left);
	if (d != NULL && result == KENPO_RES_BADVALUE && d->field[0] != '\0')
		set_str(x, "field", d->field);
	if (d != NULL && (result == KENPO_RES_LOCKED || result == KENPO_RES_DELAY ||
			  result == KENPO_RES_COOLDOWN))
		set_int(x, "seconds", d->seconds);
	if (d != NULL && result == KENPO_RES_POLICY)
		set_violations(x, d->mask);
	if (result == KC_EUNAVAIL)
		set_str(x, "socket", x->socket);
	return fail(x, result_code(result));
}

/* ---- printing the answer ---- */

static const char *
text_of(json_object *msg, enum kenpo_lang lang)
{
	json_object *v = NULL;

	if (msg == NULL || !json_object_object_get_ex(msg, lang == KENPO_LANG_JA ? "ja" : "en", &v))
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
	json_object_object_foreach(x->out, key, val) {
		if (is_framing(key))
			continue;
		if (json_object_is_type(val, json_type_object)) {
			json_object_object_foreach(val, k2, v2)
				fprintf(f, "%s: %s\n", k2, json_object_get_string(v2));
			continue;
		}
		fprintf(f, "%s: %s\n", key, json_object_get_string(val));
	}
}

static void
print_answer(const struct ctx *x)
{
	if (x->json)
		printf("%s\n", json_object_to_json_string_ext(x->out, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_text(x);
	fflush(stdout);
}

/* ---- standard input ---- */

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
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	size_t n = 0;
	ssize_t got;
	char c;
	int rc = -1;

	if (tty) {
		fprintf(stderr, "%s: ", prompt);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	for (;;) {
		got = read(STDIN_FILENO, &c, 1);
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
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
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

/* Connect; on failure the error is answered and the exit code returned. */
static int
connect_kenpod(struct ctx *x)
{
	if (kc_open(x->socket, &x->kc) == 0)
		return EXIT_OK;
	x->kc = NULL;
	return fail_result(x, KC_EUNAVAIL);
}

/* ---- commands: policy ---- */

static int
cmd_check_login_id(struct ctx *x, char **args)
{
	size_t len = strlen(args[0]);
	unsigned mask = kenpo_policy_check_login_id(args[0], len);
	int rc, taken = 0;

	/* kenpod adds its reserved_login_ids with --available. */
	if (mask == 0)
		mask = kenpo_localname_check(args[0], len, NULL);

	set_violations(x, mask);
	if (mask != 0)
		return fail(x, "policy");
	if (x->available) {
		if ((rc = connect_kenpod(x)) != EXIT_OK)
			return rc;
		rc = kc_login_id_check(x->kc, args[0], &taken);
		if (rc == KENPO_RES_POLICY) {
			set_violations(x, kc_detail(x->kc)->mask);
			return fail(x, "policy");
		}
		if (rc != KENPO_RES_OK)
			return fail_result(x, rc);
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
	int rc;

	if ((rc = connect_kenpod(x)) != EXIT_OK)
		return rc;
	rc = kc_guide_request(x->kc, x->society != NULL ? x->society : "", address);
	if (rc != KENPO_RES_OK)
		return fail_result(x, rc);
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
	[KENPO_TOKEN_GUIDE] = "guide", [KENPO_TOKEN_IDENTITY] = "identity",
	[KENPO_TOKEN_RESET] = "reset", [KENPO_TOKEN_REGISTRATION] = "registration",
	[KENPO_TOKEN_TICKET] = "ticket",
};

static int
cmd_token_check(struct ctx *x, char **args)
{
	struct kc_token_info t;
	int rc;

	if ((rc = connect_kenpod(x)) != EXIT_OK)
		return rc;
	rc = kc_token_check(x->kc, args[0], &t);
	if (rc != KENPO_RES_OK)
		return fail_result(x, rc);
	set_str(x, "kind", t.kind > 0 && t.kind <= KENPO_TOKEN_TICKET ?
		token_kinds[t.kind] : "unknown");
	set_int(x, "seconds", t.seconds);
	set_str(x, "masked_address", t.masked);
	return succeed(x, NULL);
}

static int
answer_reg(struct ctx *x, int rc, const struct kc_reg *reg)
{
	if (rc != KENPO_RES_OK)
		return fail_result(x, rc);
	set_str(x, "ticket", reg->ticket);
	set_int(x, "seconds", reg->seconds);
	set_str(x, "mail", reg->mail);
	return succeed(x, N_("Please enter your new login ID, password, mail address "
			     "and nickname."));
}

static int
cmd_register_letter(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Temporary password" };
	char pw[1][SECRET_MAX];
	struct kc_reg reg;
	int rc;

	if ((rc = read_secrets(x, prompts, pw, 1)) != EXIT_OK ||
	    (rc = connect_kenpod(x)) != EXIT_OK)
		goto done;
	rc = kc_reg_letter_open(x->kc, args[0], args[1], pw[0], &reg);
	rc = answer_reg(x, rc, &reg);
	kenpo_wipe(&reg, sizeof reg);
done:
	kenpo_wipe(pw, sizeof pw);
	return rc;
}

static int
cmd_register_identity(struct ctx *x, char **args)
{
	char authkey[64];
	int rc;

	if ((rc = connect_kenpod(x)) != EXIT_OK)
		return rc;
	rc = kc_identity_check(x->kc, args[0], args[1], args[2], authkey, sizeof authkey);
	if (rc != KENPO_RES_OK)
		return fail_result(x, rc);
	set_str(x, "authkey", authkey);
	rc = succeed(x, N_("Your identity has been confirmed. A mail with a URL has been "
			   "sent to your registered address. Please note the key shown here: "
			   "it is needed to register and is not in the mail."));
	kenpo_wipe(authkey, sizeof authkey);
	return rc;
}

static int
cmd_register_identity_open(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Key" };
	char key[1][SECRET_MAX];
	struct kc_reg reg;
	int rc;

	if ((rc = read_secrets(x, prompts, key, 1)) != EXIT_OK ||
	    (rc = connect_kenpod(x)) != EXIT_OK)
		goto done;
	rc = kc_identity_open(x->kc, args[0], key[0], &reg);
	rc = answer_reg(x, rc, &reg);
	kenpo_wipe(&reg, sizeof reg);
done:
	kenpo_wipe(key, sizeof key);
	return rc;
}

/* Read the current password when first is 1, then a new one twice:
 * EXIT_OK, or the exit code of the error answered (missing or different). */
static int
read_new_password(struct ctx *x, char (*pw)[SECRET_MAX], size_t first)
{
	static const char *const prompts[] = {
		"Current password", "New password", "New password (again)"
	};
	int rc = read_secrets(x, prompts + (first == 0 ? 1 : 0), pw, first + 2);

	if (rc != EXIT_OK)
		return rc;
	if (!kenpo_secret_equal(pw[first], pw[first + 1]))
		return fail(x, "passwords-differ");
	return EXIT_OK;
}

static int
cmd_register_complete(struct ctx *x, char **args)
{
	char pw[2][SECRET_MAX];
	char login[64];
	int rc;

	if (!(x->given & OPT_LOGIN_ID) || !(x->given & OPT_MAIL))
		return fail(x, "usage");
	if ((rc = read_new_password(x, pw, 0)) != EXIT_OK ||
	    (rc = connect_kenpod(x)) != EXIT_OK)
		goto done;
	rc = kc_reg_complete(x->kc, args[0], x->login_id, pw[0], x->mail,
			     x->nickname != NULL ? x->nickname : "", login, sizeof login);
	if (rc != KENPO_RES_OK) {
		rc = fail_result(x, rc);
		goto done;
	}
	set_str(x, "login_id", login);
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
	int rc;

	if ((rc = connect_kenpod(x)) != EXIT_OK)
		return rc;
	rc = kc_reset_request(x->kc, x->society != NULL ? x->society : "", args[0]);
	if (rc != KENPO_RES_OK)
		return fail_result(x, rc);
	return succeed(x, N_("If this address is registered, a mail with a temporary "
			     "password has been sent to it."));
}

static int
cmd_reset_open(struct ctx *x, char **args)
{
	char login[64];
	int32_t seconds = 0;
	int rc;

	if ((rc = connect_kenpod(x)) != EXIT_OK)
		return rc;
	rc = kc_reset_open(x->kc, args[0], login, sizeof login, &seconds);
	if (rc != KENPO_RES_OK)
		return fail_result(x, rc);
	set_str(x, "login_id", login);
	set_int(x, "seconds", seconds);
	return succeed(x, N_("Please log in with the login ID and the temporary password "
			     "from the mail."));
}

/* ---- commands: login and password change ---- */

static int
answer_auth(struct ctx *x, int rc, const struct kc_auth *a)
{
	if (rc == KENPO_RES_KEY_SENT || rc == KENPO_RES_KEY_PENDING) {
		set_str(x, "login_id", a->login);
		set_str(x, "masked_address", a->masked);
		set_int(x, "seconds", a->seconds);
		set_str(x, "txn", a->txn);
		set_bool(x, "key_pending", rc == KENPO_RES_KEY_PENDING);
		return fail(x, "key-sent");
	}
	if (rc != KENPO_RES_OK)
		return fail_result(x, rc);
	set_str(x, "login_id", a->login);
	set_bool(x, "must_change", (a->flags & KENPO_AUTHR_MUST_CHANGE) != 0);
	if (a->ticket[0] != '\0')
		set_str(x, "ticket", a->ticket);
	if (a->flags & KENPO_AUTHR_MUST_CHANGE)
		return fail(x, "must-change");
	return succeed(x, NULL);
}

static int
cmd_login(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Password" };
	char pw[1][SECRET_MAX];
	struct kc_auth a;
	int rc;

	if ((rc = read_secrets(x, prompts, pw, 1)) != EXIT_OK ||
	    (rc = connect_kenpod(x)) != EXIT_OK)
		goto done;
	/* A web portal cannot hold a PAM conversation open: split mode; and it
	 * wants the profile ticket. */
	rc = kc_auth_password(x->kc, args[0], pw[0], KENPO_AUTHF_SPLIT | KENPO_AUTHF_TICKET, "kenpo",
			      x->rhost != NULL ? x->rhost : "", &a);
	rc = answer_auth(x, rc, &a);
	kenpo_wipe(&a, sizeof a);       /* the txn and the ticket */
done:
	kenpo_wipe(pw, sizeof pw);
	return rc;
}

static int
cmd_login_key(struct ctx *x, char **args)
{
	static const char *const prompts[] = { "Key" };
	char key[1][SECRET_MAX];
	struct kc_auth a;
	int rc;

	if ((rc = read_secrets(x, prompts, key, 1)) != EXIT_OK ||
	    (rc = connect_kenpod(x)) != EXIT_OK)
		goto done;
	rc = kc_auth_key(x->kc, args[0], args[1], key[0], KENPO_AUTHF_TICKET, &a);
	rc = answer_auth(x, rc, &a);
	kenpo_wipe(&a, sizeof a);
done:
	kenpo_wipe(key, sizeof key);
	return rc;
}

static int
cmd_password_change(struct ctx *x, char **args)
{
	char pw[3][SECRET_MAX];
	int rc;

	if ((rc = read_new_password(x, pw, 1)) != EXIT_OK ||
	    (rc = connect_kenpod(x)) != EXIT_OK)
		goto done;
	rc = kc_password_change(x->kc, args[0], pw[0], pw[1], 0);
	rc = rc == KENPO_RES_OK ? succeed(x, N_("The password has been changed.")) :
				  fail_result(x, rc);
done:
	kenpo_wipe(pw, sizeof pw);
	return rc;
}

/* ---- commands: profile ---- */

static int
cmd_profile_show(struct ctx *x, char **args)
{
	struct kc_profile p = { 0, NULL, NULL, "" };
	json_object *fields;
	size_t i;
	int rc;

	if ((rc = connect_kenpod(x)) != EXIT_OK)
		return rc;
	rc = kc_profile_get(x->kc, args[0], x->ticket != NULL ? x->ticket : "", &p);
	if (rc != KENPO_RES_OK)
		return fail_result(x, rc);
	fields = json_object_new_object();
	for (i = 0; i < p.n; i++)
		json_object_object_add(fields, p.field[i], json_object_new_string(p.value[i]));
	json_object_object_add(x->out, "profile", fields);
	if (p.next_ticket[0] != '\0')
		set_str(x, "ticket", p.next_ticket);
	kc_profile_free(&p);
	return succeed(x, NULL);
}

/* Split FIELD=VALUE arguments in place; -1 (answered) for one without '='. */
static int
split_pairs(struct ctx *x, char **args, int n, const char **fields, const char **values)
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
		*eq = '\0';
		fields[i] = args[i];
		values[i] = eq + 1;
	}
	return 0;
}

static int
cmd_profile_set(struct ctx *x, char **args, int nargs)
{
	const char **fields = calloc((size_t)nargs, sizeof(char *));
	const char **values = calloc((size_t)nargs, sizeof(char *));
	char next[64] = "";
	int rc;

	if (fields == NULL || values == NULL) {
		rc = fail(x, "internal");
		goto done;
	}
	if (split_pairs(x, args + 1, nargs - 1, fields, values) != 0) {
		rc = EXIT_USAGE;
		goto done;
	}
	if ((rc = connect_kenpod(x)) != EXIT_OK)
		goto done;
	rc = kc_profile_set(x->kc, args[0], x->ticket != NULL ? x->ticket : "",
			    (size_t)(nargs - 1), fields, values, next, sizeof next);
	if (rc != KENPO_RES_OK) {
		rc = fail_result(x, rc);
		goto done;
	}
	if (next[0] != '\0')
		set_str(x, "ticket", next);
	rc = succeed(x, N_("The profile has been saved."));
done:
	free(fields);
	free(values);
	return rc;
}

/* ---- the command table ---- */

struct command {
	const char *word1, *word2;  /* word2 NULL: a one-word command */
	int min_args, max_args;     /* -1: any number */
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
	{ "token", "check", 1, 1, 0, cmd_token_check, NULL, "token check TOKEN" },
	{ "register", "letter", 2, 2, 0, cmd_register_letter, NULL,
	  "register letter TOKEN LOGINID       (temporary password on stdin)" },
	{ "register", "identity", 3, 3, 0, cmd_register_identity, NULL,
	  "register identity TOKEN ADDRESS YYYY-MM-DD" },
	{ "register", "identity-open", 1, 1, 0, cmd_register_identity_open, NULL,
	  "register identity-open TOKEN        (認証キー on stdin)" },
	{ "register", "complete", 1, 1, OPT_LOGIN_ID | OPT_MAIL | OPT_NICKNAME,
	  cmd_register_complete, NULL,
	  "register complete TICKET --login-id ID --mail ADDRESS [--nickname N]\n"
	  "                                    (new password twice on stdin)" },
	{ "reset", "request", 1, 1, OPT_SOCIETY, cmd_reset_request, NULL,
	  "reset request [--society S] ADDRESS" },
	{ "reset", "open", 1, 1, 0, cmd_reset_open, NULL, "reset open TOKEN" },
	{ "login", "key", 2, 2, 0, cmd_login_key, NULL,
	  "login key LOGINID TXN               (the mailed key on stdin)" },
	{ "login", NULL, 1, 1, OPT_RHOST, cmd_login, NULL,
	  "login [--rhost ADDR] LOGINID        (password on stdin)" },
	{ "password", "change", 1, 1, 0, cmd_password_change, NULL,
	  "password change LOGINID             (old, new, new again on stdin)" },
	{ "profile", "show", 1, 1, OPT_TICKET, cmd_profile_show, NULL,
	  "profile show [--ticket T] LOGINID" },
	{ "profile", "set", 2, -1, OPT_TICKET, NULL, cmd_profile_set,
	  "profile set [--ticket T] LOGINID FIELD=VALUE..." },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: kenpo [-s SOCKET] [--json] [--lang ja|en] COMMAND ...\n\n"
		"Self-service steps of the member portal, for web applications and MTAs.\n"
		"Secrets are read from standard input, one per line; tokens and tickets\n"
		"are arguments.\n\nCommands:\n");
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  kenpo %s\n", commands[i].synopsis);
	fprintf(f, "\nOptions:\n"
		"  -s, --socket PATH  kenpod's socket (default: $KENPO_SOCKET, else %s)\n"
		"  --json             answer with one JSON object: \"ok\", and on failure\n"
		"                     \"error\" (a stable code), \"exit\" and \"message\" {ja, en}\n"
		"  --lang ja|en       language of the text answer (default: from $LANG)\n\n"
		"Profile fields: login_id nickname mail1 mail2 mail3 key_required\n"
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
		"      later (an MTA defers the mail)\n", KENPO_SOCKET_PATH);
}

/* ---- the command line ---- */

static const struct option long_options[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "json", no_argument, NULL, 'j' },
	{ "lang", required_argument, NULL, 'L' },
	{ "help", no_argument, NULL, 'h' },
	{ "society", required_argument, NULL, 'S' },
	{ "ticket", required_argument, NULL, 'T' },
	{ "login-id", required_argument, NULL, 'I' },
	{ "mail", required_argument, NULL, 'M' },
	{ "nickname", required_argument, NULL, 'N' },
	{ "available", no_argument, NULL, 'A' },
	{ "rhost", required_argument, NULL, 'R' },
	{ NULL, 0, NULL, 0 },
};

/*
 * Tokens come from URLs and are base64url, so one in 64 starts with '-',
 * which getopt would take for options.  An argument of exactly a token's
 * form (no option of kenpo's has that form) is hidden from getopt behind
 * a stand-in and given back afterwards: the portal need not know to put
 * "--" first.
 */
struct standin {
	char **orig;        /* the arguments as given */
	char **stand;       /* their stand-ins (NULL: the argument itself) */
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
	static const struct { int c; unsigned bit; } bits[] = {
		{ 'S', OPT_SOCIETY }, { 'T', OPT_TICKET }, { 'I', OPT_LOGIN_ID },
		{ 'M', OPT_MAIL }, { 'N', OPT_NICKNAME }, { 'A', OPT_AVAILABLE },
		{ 'R', OPT_RHOST },
	};
	const char **slot[] = { &x->society, &x->ticket, &x->login_id, &x->mail,
				&x->nickname, NULL, &x->rhost };
	size_t i;

	for (i = 0; i < sizeof bits / sizeof bits[0]; i++) {
		if (bits[i].c != c)
			continue;
		x->given |= bits[i].bit;
		if (slot[i] != NULL)
			*slot[i] = arg;
		else
			x->available = 1;
		return 0;
	}
	return -1;
}

static int
parse_options(struct ctx *x, int argc, char **argv)
{
	int c;

	while ((c = getopt_long(argc, argv, "s:h", long_options, NULL)) != -1) {
		switch (c) {
		case 's': x->socket = optarg; break;
		case 'j': x->json = 1; break;
		case 'h': usage(stdout); exit(EXIT_OK);
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
	set_bool(&x, "ok", 0);  /* first in the object; set for good at the end */
	rc = run(&x, argc, argv);
	print_answer(&x);
	standins_free();
	kc_close(x.kc);
	json_object_put(x.out);
	return rc;
}
