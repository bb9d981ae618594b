/*
 * pam_kenpo.c - kenpo members log in through PAM (pam_kenpo.so).
 *
 * The module runs inside other people's processes (sshd, login, su, a web
 * server), so it holds no credential and links nothing of LDAP, curl or
 * libsodium: every decision is kenpod's, asked over its unix socket through
 * the stubs of client.c.  This file turns kenpod's answers into PAM return
 * codes and into messages in Japanese or English; the entry points are at
 * the bottom.
 *
 * auth        login ID and password (AUTH_PASSWORD); then, when the member
 *             needs the mailed one-time key (暗証キー), an info line naming the
 *             masked address and the validity and a prompt for the key
 *             (AUTH_KEY).  An empty answer asks for a new key (AUTH_RESEND:
 *             the old one becomes void).  Wrong keys are capped at
 *             key_prompts per transaction (kenpod caps them per key).  A
 *             conversation that ends without success voids the key
 *             (AUTH_ABORT), at once and, should the module not get that far,
 *             from a pam_set_data cleanup at pam_end.
 * account     ACCOUNT: a temporary password gives PAM_NEW_AUTHTOK_REQD.
 * password    PASSWORD_CHANGE after checking every rule locally.
 * session     SESSION_OPEN: shows 前回ログイン日時 and records this login.
 *
 * Web modes, for applications that authenticate through PAM:
 *
 * split   For an application that cannot keep one PAM conversation open
 *         across two HTTP requests.  The key is not voided when a
 *         transaction ends without success, so a later one (on any kenpod
 *         host: the pending key lives in the directory) can answer it.
 *         Request 1: the application answers the password prompt; kenpod
 *         mails a key (KEY_SENT); the module sends the info line "a key
 *         was sent to ****@****.jp, valid 10 minutes" and asks for the key.
 *         The application cannot answer yet, so its conversation function
 *         fails that prompt; the module returns PAM_AUTH_ERR and the key
 *         stays pending.  The application knows a key is on its way from
 *         the info line and the unanswered second prompt, and shows a key
 *         field.  Request 2: the application answers the password, then
 *         the key.  kenpod answers the password with KEY_PENDING (the same
 *         key, no new mail) and the key completes the login.  An empty key
 *         answer asks for a new key as in the interactive mode.  An
 *         application that can answer at once (Cockpit) sees no difference.
 * single  For an application with a single password field.  The answer
 *         may be the password immediately followed by the 10-digit key.
 *         Request 1: the password alone; kenpod mails a key; the module says
 *         where it went and that the member should log in again entering
 *         the password followed by the key, and returns PAM_AUTH_ERR
 *         without voiding the key.  Request 2: password and key, and
 *         PAM_SUCCESS.  No key prompt ever appears in this mode, and
 *         PAM_AUTHTOK holds the answer as typed (only kenpod can tell
 *         whether its last ten digits were a key).
 *
 * Options: debug, use_first_pass, try_first_pass, use_authtok, split,
 * single, lang=ja|en (default: the language of the member's society, which
 * kenpod names in every answer, else ja; Cockpit shows non-ASCII as '?',
 * and lang=en gives ASCII only), socket=PATH, timeout=MS (one round trip
 * to kenpod; default 15000 for the actions that may send mail or hash a
 * password, 2000 for the others), key_prompts=N (default 3),
 * no_host_account (see below).
 *
 * A member is never a local account.  In auth and in account the module
 * checks that getpwnam(PAM_USER) is exactly the member kenpod authenticated:
 * the same name byte for byte and the same uid, so that a member whose
 * login ID names root or a service account of this host (kenpod refuses
 * such IDs, but one kenpod serves many hosts) is refused with a warning in
 * the log.  With no_host_account, for web applications that never switch
 * to a host account, a member may have no passwd entry on this host.
 *
 * Unknown users and wrong passwords give the same PAM_AUTH_ERR and the same
 * message; kenpod makes them take the same time.  The module adds no
 * failure delay of its own: pam_faildelay does that for the whole stack.
 * Logs go through pam_syslog only, never with a secret; debug lines only
 * with `debug`.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "client.h"
#include "i18n.h"
#include "kenpo-proto.h"
#include "localname.h"
#include "policy.h"

#define AUTH_TIMEOUT_MS 15000 /* kenpod may send a mail or hash a password */
#define QUICK_TIMEOUT_MS 2000 /* account, session, abort: directory look-ups */
#define TIMEOUT_MIN_MS 100
#define TIMEOUT_MAX_MS 120000
#define KEY_PROMPTS_DEFAULT 3
#define KEY_PROMPTS_MAX 10
#define KEY_DIGITS 10
#define MSG_MAX 2048
#define SOCKET_PATH_MAX 107 /* sun_path less its NUL */
/* An internal verdict of the key dialog: no PAM code, ask again. */
#define KEEP_ASKING (-1)

#define DATA_PENDING "pam_kenpo_pending_key"
#define DATA_TEMP_AUTHTOK "pam_kenpo_temporary_password"
#define DATA_CHAUTHTOK "pam_kenpo_chauthtok"
#define DATA_PROOF "pam_kenpo_login_proof"

/* Option bits. */
#define OPT_DEBUG 0x01
#define OPT_USE_FIRST_PASS 0x02
#define OPT_TRY_FIRST_PASS 0x04
#define OPT_USE_AUTHTOK 0x08
#define OPT_SPLIT 0x10
#define OPT_SINGLE 0x20
#define OPT_LANG 0x40             /* lang= was given */
#define OPT_TICKET 0x80           /* put the profile ticket into the PAM environment */
#define OPT_NO_HOST_ACCOUNT 0x100 /* members need no passwd entry on this host */
#define OPT_PROOF 0x200           /* put the proof of the login into the PAM environment */

struct opts {
	unsigned flags;
	enum kenpo_lang lang;
	const char *socket;
	int timeout_ms; /* 0: each action's default */
	int key_prompts;
};

/* What one call of an entry point works with. */
struct ctx {
	pam_handle_t *pamh;
	int flags; /* the PAM flags of this call */
	struct opts o;
	enum kenpo_lang lang; /* of the messages */
	const char *user;
};

/*
 * A key waiting for its answer, as the cleanup needs it after the entry
 * point has returned: everything is copied, since the cleanup may run at
 * pam_end, long after this call.
 */
struct pending {
	int active; /* an AUTH_ABORT is still owed */
	int timeout_ms;
	char socket[SOCKET_PATH_MAX + 1];
	char login[KENPO_CLIENT_NAME_MAX + 1];
	char txn[KENPO_CLIENT_TXN_MAX + 1];
};

/* An outcome that needs no number in its message. */
struct outcome {
	int32_t result;
	int pam;
	const char *msgid; /* NULL: no message */
};

/* What the preliminary check of a password change found, for the update
 * (a second call of the module, with a fresh struct ctx). */
struct change_state {
	int32_t result;       /* of ACCOUNT */
	enum kenpo_lang lang; /* of the messages, as learn_lang settled it */
};

/* ---- options ---- */

static int
parse_int(const char *s, long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static int
opt_lang(struct opts *o, const char *v)
{
	if (kenpo_lang_parse(v, &o->lang) != 0)
		return -1;
	o->flags |= OPT_LANG;
	return 0;
}

static int
opt_socket(struct opts *o, const char *v)
{
	if (v[0] != '/' || strlen(v) > SOCKET_PATH_MAX)
		return -1;
	o->socket = v;
	return 0;
}

static int
opt_timeout(struct opts *o, const char *v)
{
	return parse_int(v, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, &o->timeout_ms);
}

static int
opt_key_prompts(struct opts *o, const char *v)
{
	return parse_int(v, 1, KEY_PROMPTS_MAX, &o->key_prompts);
}

static const struct option_def {
	const char *name; /* "name" for a flag, "name=" for a value */
	unsigned flag;
	int (*parse)(struct opts *o, const char *value);
} option_table[] = {
	{ "debug", OPT_DEBUG, NULL },
	{ "use_first_pass", OPT_USE_FIRST_PASS, NULL },
	{ "try_first_pass", OPT_TRY_FIRST_PASS, NULL },
	{ "use_authtok", OPT_USE_AUTHTOK, NULL },
	{ "split", OPT_SPLIT, NULL },
	{ "single", OPT_SINGLE, NULL },
	{ "ticket", OPT_TICKET, NULL },
	{ "proof", OPT_PROOF, NULL },
	{ "no_host_account", OPT_NO_HOST_ACCOUNT, NULL },
	{ "lang=", 0, opt_lang },
	{ "socket=", 0, opt_socket },
	{ "timeout=", 0, opt_timeout },
	{ "key_prompts=", 0, opt_key_prompts },
};

/* Apply one module argument; a wrong one is logged and ignored. */
static void
parse_option(pam_handle_t *pamh, struct opts *o, const char *arg)
{
	size_t i, n;

	for (i = 0; i < sizeof(option_table) / sizeof(option_table[0]); i++) {
		const struct option_def *d = &option_table[i];

		n = strlen(d->name);
		if (d->parse == NULL && strcmp(arg, d->name) == 0) {
			o->flags |= d->flag;
			return;
		}
		if (d->parse != NULL && strncmp(arg, d->name, n) == 0) {
			if (d->parse(o, arg + n) != 0)
				pam_syslog(pamh, LOG_WARNING,
					   "bad value in option %.100s, ignored", arg);
			return;
		}
	}
	pam_syslog(pamh, LOG_WARNING, "unknown option %.100s, ignored", arg);
}

static void
ctx_init(struct ctx *c, pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	int i;

	memset(c, 0, sizeof(*c));
	c->pamh = pamh;
	c->flags = flags;
	c->o.lang = KENPO_LANG_JA;
	c->o.socket = KENPO_SOCKET_PATH;
	c->o.key_prompts = KEY_PROMPTS_DEFAULT;
	for (i = 0; i < argc; i++)
		if (argv[i] != NULL)
			parse_option(pamh, &c->o, argv[i]);
	c->lang = c->o.lang;
}

static int
opt(const struct ctx *c, unsigned flag)
{
	return (c->o.flags & flag) != 0;
}

static struct kenpo_client
client(const struct ctx *c, int default_ms)
{
	struct kenpo_client kc = {
		.socket = c->o.socket,
		.timeout_ms = c->o.timeout_ms > 0 ? c->o.timeout_ms : default_ms,
	};

	return kc;
}

/* ---- logging ---- */

/* One line per answer of kenpod, with `debug` only. */
static void
debug_answer(const struct ctx *c, const char *action, const struct kenpo_answer *a)
{
	if (opt(c, OPT_DEBUG))
		pam_syslog(c->pamh, LOG_DEBUG, "%s for %.100s: %s", action, c->user,
			   kenpo_result_name(a->result));
}

/* ---- messages ---- */

/* The message in the language of this call (the format is checked against
 * the English msgid). */
__attribute__((format_arg(2))) static const char *
tr(const struct ctx *c, const char *msgid)
{
	return kenpo_i18n_text(c->lang, msgid);
}

/* One of two msgids by count: kenpo's catalogue has no plural forms, and
 * Japanese needs none. */
__attribute__((format_arg(2), format_arg(3))) static const char *
tr_count(const struct ctx *c, const char *one, const char *many, long n)
{
	return kenpo_i18n_text(c->lang, n == 1 ? one : many);
}

/* The language of the member's society, unless lang= fixed it. */
static void
learn_lang(struct ctx *c, const struct kenpo_answer *a)
{
	if (a->has_lang && !opt(c, OPT_LANG))
		c->lang = a->lang;
}

__attribute__((format(printf, 4, 0))) static void
vsay(struct ctx *c, int style, int always, const char *fmt, va_list ap)
{
	char buf[MSG_MAX];

	if ((c->flags & PAM_SILENT) && !always)
		return;
	if (vsnprintf(buf, sizeof(buf), fmt, ap) < 0)
		return;
	(void)pam_prompt(c->pamh, style, NULL, "%s", buf);
}

/* A message about an outcome; PAM_SILENT silences it. */
__attribute__((format(printf, 3, 4))) static void
say(struct ctx *c, int style, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(c, style, 0, fmt, ap);
	va_end(ap);
}

/* A line of the key dialog, which cannot go on without it. */
__attribute__((format(printf, 3, 4))) static void
say_always(struct ctx *c, int style, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(c, style, 1, fmt, ap);
	va_end(ap);
}

/* "10 minutes", "45 seconds": minutes rounded up from a minute on. */
static void
format_duration(const struct ctx *c, int32_t seconds, char *out, size_t outsz)
{
	long n;

	if (seconds >= 60) {
		n = ((long)seconds + 59) / 60;
		snprintf(out, outsz, tr_count(c, N_("%ld minute"), N_("%ld minutes"), n), n);
	} else {
		n = seconds > 0 ? seconds : 1;
		snprintf(out, outsz, tr_count(c, N_("%ld second"), N_("%ld seconds"), n), n);
	}
}

static void
say_unavailable(struct ctx *c)
{
	say(c, PAM_ERROR_MSG, "%s",
	    tr(c, N_("The login service is not available at the moment. "
		     "Please try again later.")));
}

/* LOCKED and DELAY name the time to wait. */
static void
say_locked(struct ctx *c, int32_t result, int32_t seconds)
{
	char d[64];

	format_duration(c, seconds, d, sizeof(d));
	if (result == KENPO_RES_DELAY && seconds > 0)
		say(c, PAM_ERROR_MSG,
		    tr(c, N_("There were too many failed logins. "
			     "Please wait %s and try again.")),
		    d);
	else if (result == KENPO_RES_DELAY)
		say(c, PAM_ERROR_MSG, "%s",
		    tr(c, N_("There were too many failed logins. "
			     "Please try again later.")));
	else if (seconds > 0)
		say(c, PAM_ERROR_MSG,
		    tr(c, N_("This account is locked after repeated failed "
			     "logins. Please try again in %s.")),
		    d);
	else
		say(c, PAM_ERROR_MSG, "%s",
		    tr(c, N_("This account is locked. Please contact "
			     "your health insurance society.")));
}

/* KEY_LIMIT: key_mails_per_hour keys were mailed; the time until the next. */
static void
say_key_limit(struct ctx *c, int32_t seconds)
{
	char d[64];

	format_duration(c, seconds, d, sizeof(d));
	say(c, PAM_ERROR_MSG,
	    tr(c, N_("Too many one-time keys were sent in the last hour. "
		     "A new key can be sent in %s.")),
	    d);
}

/* Every rule the new password breaks, in one message. */
static void
say_policy(struct ctx *c, unsigned mask)
{
	char buf[MSG_MAX];
	const char *msgid;
	size_t len;
	unsigned rule;
	int n;

	n = snprintf(buf, sizeof(buf), "%s",
		     tr(c, N_("The new password cannot be used for these reasons:")));
	len = n > 0 ? (size_t)n : 0;
	if (mask & KENPO_PWC_SAME_AS_OLD) {
		mask &= ~KENPO_PWC_SAME_AS_OLD;
		n = snprintf(buf + len, sizeof(buf) - len, "\n%s",
			     tr(c, N_("The new password must differ from the current one.")));
		len += n > 0 ? (size_t)n : 0;
	}
	while ((rule = kenpo_rule_next(&mask)) != 0 && len < sizeof(buf)) {
		msgid = kenpo_rule_message(rule);
		if (msgid == NULL)
			continue;
		n = snprintf(buf + len, sizeof(buf) - len, "\n%s", tr(c, msgid));
		if (n < 0)
			break;
		len += (size_t)n;
	}
	say(c, PAM_ERROR_MSG, "%s", buf);
}

/* ---- outcomes ---- */

static const struct outcome auth_outcomes[] = {
	{ KENPO_RES_AUTH_ERR, PAM_AUTH_ERR, N_("The login ID or password is not correct.") },
	{ KENPO_RES_DISABLED, PAM_AUTH_ERR,
	  N_("This account has been suspended. Please contact your health insurance society.") },
	{ KENPO_RES_NOT_REGISTERED, PAM_AUTH_ERR,
	  N_("The registration of this account is not complete. Please first complete the "
	     "registration on the member portal with the login ID and temporary password "
	     "from your letter.") },
	{ KENPO_RES_MAIL_FAILED, PAM_AUTHINFO_UNAVAIL,
	  N_("The mail with the one-time key could not be sent. Please try again later.") },
	{ KENPO_RES_KEY_VOID, PAM_AUTH_ERR,
	  N_("The one-time key is no longer valid because a wrong key was entered too many "
	     "times. Please log in again to receive a new key.") },
	{ KENPO_RES_KEY_EXPIRED, PAM_AUTH_ERR,
	  N_("The one-time key has expired. Please log in again to receive a new key.") },
	{ KENPO_RES_TEMP_EXPIRED, PAM_AUTH_ERR,
	  N_("The temporary password has expired. Please request a new one from the "
	     "password reissue page of the member portal.") },
};

static const struct outcome account_outcomes[] = {
	{ KENPO_RES_OK, PAM_SUCCESS, NULL },
	{ KENPO_RES_MUST_CHANGE, PAM_NEW_AUTHTOK_REQD,
	  N_("Your password must be changed now. Please set a new password.") },
	{ KENPO_RES_DISABLED, PAM_ACCT_EXPIRED,
	  N_("This account has been suspended. Please contact your health insurance society.") },
	/* Not a kenpo member: the stack decides (user_unknown=ignore), as with
	 * pam_sss and nss-pam-ldapd's pam_ldap. */
	{ KENPO_RES_NOTFOUND, PAM_USER_UNKNOWN, NULL },
};

static const struct outcome *
find_outcome(const struct outcome *table, size_t n, int32_t result)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (table[i].result == result)
			return &table[i];
	return NULL;
}

/* An answer of the auth actions that ends the attempt without success. */
static int
auth_failed(struct ctx *c, const struct kenpo_answer *a)
{
	const struct outcome *o;

	pam_syslog(c->pamh, LOG_NOTICE, "authentication failure for %.100s: %s", c->user,
		   kenpo_result_name(a->result));
	/* Locked accounts fail like wrong passwords, with the time to wait,
	 * as pam_faillock's do: PAM_MAXTRIES would make some applications
	 * (sshd) end the whole connection, and stacks that count failures
	 * (pam_faillock authfail) would not see these. */
	if (a->result == KENPO_RES_LOCKED || a->result == KENPO_RES_DELAY) {
		say_locked(c, a->result, a->seconds);
		return PAM_AUTH_ERR;
	}
	if (a->result == KENPO_RES_KEY_LIMIT) {
		say_key_limit(c, a->seconds);
		return PAM_AUTH_ERR;
	}
	o = find_outcome(auth_outcomes, sizeof(auth_outcomes) / sizeof(auth_outcomes[0]),
			 a->result);
	if (o == NULL) {
		/* UNAVAIL, INTERNAL, DENIED: never a success. */
		say_unavailable(c);
		return PAM_AUTHINFO_UNAVAIL;
	}
	say(c, PAM_ERROR_MSG, "%s", tr(c, o->msgid));
	return o->pam;
}

/* kenpod could not be asked: log why, tell the member, never succeed. */
static int
unreachable(struct ctx *c, const char *action, int err)
{
	errno = err;
	pam_syslog(c->pamh, LOG_ERR, "%s for %.100s: kenpod at %.200s: %m", action,
		   c->user != NULL ? c->user : "", c->o.socket);
	say_unavailable(c);
	return PAM_AUTHINFO_UNAVAIL;
}

/* ---- conversation ---- */

static void
free_secret(char **s)
{
	if (*s != NULL) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

/* Ask for a secret (echo off).  The answer is the caller's to free_secret. */
static int
ask_secret(struct ctx *c, const char *prompt, char **out)
{
	char *resp = NULL;
	int rc;

	rc = pam_prompt(c->pamh, PAM_PROMPT_ECHO_OFF, &resp, "%s", prompt);
	if (rc != PAM_SUCCESS) {
		free_secret(&resp);
		return rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : rc;
	}
	if (resp == NULL)
		return PAM_CONV_ERR;
	*out = resp;
	return PAM_SUCCESS;
}

/*
 * The secret of `item` (PAM_AUTHTOK, PAM_OLDAUTHTOK): the one an earlier
 * module set when `take` allows, else asked for and stored in the item.
 * With `must`, a missing item is an error (use_first_pass).  *out points
 * to libpam's copy: never free it.
 */
static int
get_secret(struct ctx *c, int item, const char *prompt, int take, int must, const char **out)
{
	const void *v = NULL;
	char *resp = NULL;
	int rc;

	if (take && pam_get_item(c->pamh, item, &v) == PAM_SUCCESS && v != NULL) {
		*out = v;
		return PAM_SUCCESS;
	}
	if (must)
		return PAM_AUTHTOK_RECOVERY_ERR;
	rc = ask_secret(c, prompt, &resp);
	if (rc != PAM_SUCCESS)
		return rc;
	rc = pam_set_item(c->pamh, item, resp);
	free_secret(&resp);
	if (rc != PAM_SUCCESS)
		return rc;
	rc = pam_get_item(c->pamh, item, &v);
	if (rc != PAM_SUCCESS || v == NULL)
		return PAM_SYSTEM_ERR;
	*out = v;
	return PAM_SUCCESS;
}

static int
get_user(struct ctx *c)
{
	const char *user = NULL;
	int rc;

	rc = pam_get_user(c->pamh, &user, tr(c, N_("Login ID: ")));
	if (rc != PAM_SUCCESS)
		return rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : rc;
	if (user == NULL)
		return PAM_SYSTEM_ERR;
	c->user = user;
	return PAM_SUCCESS;
}

/* A name kenpod could know: no longer than any login ID it sends. */
static int
user_fits(const struct ctx *c)
{
	return strnlen(c->user, KENPO_CLIENT_NAME_MAX + 1) <= KENPO_CLIENT_NAME_MAX;
}

static const char *
item_string(const struct ctx *c, int item)
{
	const void *v = NULL;

	if (pam_get_item(c->pamh, item, &v) != PAM_SUCCESS)
		return NULL;
	return v;
}

/* ---- who the member is on this host ---- */

/*
 * Whether the host's account named PAM_USER is exactly the member kenpod
 * vouched for (a->login, a->uid): the same name byte for byte and the same
 * uid.  kenpod refuses login IDs that name local accounts, but one kenpod
 * serves hosts with different local accounts and the directory may hold a
 * name from before; without this check a member called "root" would log in
 * as root, since the program switches to whatever getpwnam(PAM_USER) names
 * (DESIGN.md, architecture 7).  With no_host_account a member may have no
 * passwd entry here at all (a web application that never switches to a
 * host account), but an entry of that name must still be the member.
 */
static int
is_this_member(struct ctx *c, const struct kenpo_answer *a)
{
	char buf[4096];
	struct passwd pw, *pwp = NULL;
	const char *why;
	int rc;

	if (strcmp(c->user, a->login) != 0) {
		why = "the name differs from the member's login ID";
		goto refused;
	}
	if (a->uid < KENPO_HOST_UID_LIMIT) {
		why = "its uid is one of the host's own";
		goto refused;
	}
	rc = getpwnam_r(c->user, &pw, buf, sizeof(buf), &pwp);
	if (pwp == NULL) {
		if ((rc == 0 || rc == ENOENT) && opt(c, OPT_NO_HOST_ACCOUNT))
			return 1;
		why = "the host has no account of that name";
		goto refused;
	}
	if (strcmp(pw.pw_name, a->login) != 0 || pw.pw_uid != (uid_t)a->uid) {
		why = "the host's account of that name is not the member";
		goto refused;
	}
	explicit_bzero(buf, sizeof(buf));
	return 1;
refused:
	explicit_bzero(buf, sizeof(buf));
	pam_syslog(c->pamh, LOG_WARNING,
		   "refused %.100s: kenpod knows member %.100s (uid %lu), "
		   "but %s",
		   c->user, a->login, (unsigned long)a->uid, why);
	return 0;
}

/* ---- the pending key ---- */

/* Void the key, once (AUTH_ABORT; kenpod agrees unless too busy, and then
 * the key expires by itself). */
static void
abort_pending(pam_handle_t *pamh, struct pending *p)
{
	struct kenpo_client kc = { .socket = p->socket, .timeout_ms = p->timeout_ms };

	if (!p->active)
		return;
	p->active = 0;
	if (kenpo_client_auth_abort(&kc, p->login, p->txn) != 0)
		pam_syslog(pamh, LOG_WARNING, "could not void the pending key of %.100s: %m",
			   p->login);
	explicit_bzero(p->txn, sizeof(p->txn));
}

/* pam_end (or a new attempt replacing the data): a key still pending was
 * never answered.  A forked child ending its copy of the handle
 * (PAM_DATA_SILENT) leaves the parent's key alone. */
static void
pending_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	struct pending *p = data;

	if (!(error_status & PAM_DATA_SILENT))
		abort_pending(pamh, p);
	explicit_bzero(p, sizeof(*p));
	free(p);
}

/* The record of a key kenpod just mailed or holds. */
static void
pending_set(struct pending *p, const struct kenpo_answer *a)
{
	snprintf(p->login, sizeof(p->login), "%s", a->login);
	snprintf(p->txn, sizeof(p->txn), "%s", a->txn);
}

/* In the interactive mode the key must die with the conversation: the
 * cleanup that voids it is registered before the dialog starts. */
static int
pending_register(struct ctx *c, const struct kenpo_answer *a, struct pending **out)
{
	struct pending *p = calloc(1, sizeof(*p));
	int rc;

	if (p == NULL)
		return PAM_BUF_ERR;
	p->timeout_ms = client(c, QUICK_TIMEOUT_MS).timeout_ms;
	snprintf(p->socket, sizeof(p->socket), "%s", c->o.socket);
	pending_set(p, a);
	p->active = 1;
	rc = pam_set_data(c->pamh, DATA_PENDING, p, pending_cleanup);
	if (rc != PAM_SUCCESS) {
		abort_pending(c->pamh, p);
		free(p);
		return rc;
	}
	*out = p;
	return PAM_SUCCESS;
}

/* ---- the key dialog ---- */

static void
temp_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	explicit_bzero(data, strlen(data));
	free(data);
}

/* A temporary password (KENPO_AUTHR_MUST_CHANGE) is kept for the password
 * change PAM_CHANGE_EXPIRED_AUTHTOK asks for next, so the member does not
 * type it twice. */
static void
keep_temporary_password(struct ctx *c, const char *password)
{
	char *copy = strdup(password);

	if (copy == NULL ||
	    pam_set_data(c->pamh, DATA_TEMP_AUTHTOK, copy, temp_cleanup) != PAM_SUCCESS) {
		pam_syslog(c->pamh, LOG_WARNING, "could not keep the temporary password");
		if (copy != NULL)
			temp_cleanup(c->pamh, copy, 0);
	}
}

/*
 * With the `ticket` option, the profile ticket kenpod hands out on success
 * goes into the PAM environment as KENPO_TICKET, where a web portal reads
 * it (pam_getenv) to let the member change the profile with `kenpo profile
 * set --ticket`.  It is off by default: sshd and login copy the PAM
 * environment into the session, where nothing needs it.
 */
static void
offer_ticket(struct ctx *c, const struct kenpo_answer *a)
{
	char var[sizeof("KENPO_TICKET=") + KENPO_CLIENT_TXN_MAX];

	if (!opt(c, OPT_TICKET) || a->ticket[0] == '\0')
		return;
	snprintf(var, sizeof(var), "KENPO_TICKET=%s", a->ticket);
	if (pam_putenv(c->pamh, var) != PAM_SUCCESS)
		pam_syslog(c->pamh, LOG_WARNING, "could not set KENPO_TICKET");
	explicit_bzero(var, sizeof(var));
}

/*
 * With the `proof` option, the proof of the completed login goes into the
 * PAM environment as KENPO_PROOF, where a web portal reads it
 * (pam_getenv) and keeps it in its server-side session for what kenpod
 * asks it for: PASSWORD_CHANGE and LOGIN_HISTORY, in later requests that
 * have no PAM transaction.  Off by default, as the ticket is: sshd and
 * login would copy it into the session's environment.
 */
static void
offer_proof(struct ctx *c, const struct kenpo_answer *a)
{
	char var[sizeof("KENPO_PROOF=") + KENPO_CLIENT_TXN_MAX];

	if (!opt(c, OPT_PROOF))
		return;
	snprintf(var, sizeof(var), "KENPO_PROOF=%s", a->proof);
	if (pam_putenv(c->pamh, var) != PAM_SUCCESS)
		pam_syslog(c->pamh, LOG_WARNING, "could not set KENPO_PROOF");
	explicit_bzero(var, sizeof(var));
}

/*
 * The proof of the completed login is kept in the handle for a password
 * change in the same transaction (the forced change after a login, or
 * `passwd` after auth): kenpod asks for it where the society requires the
 * key.  Only the `proof` option lets it out of the handle.
 */
static void
keep_proof(struct ctx *c, const struct kenpo_answer *a)
{
	char *copy;

	if (a->proof[0] == '\0')
		return;
	offer_proof(c, a);
	copy = strdup(a->proof);
	if (copy == NULL ||
	    pam_set_data(c->pamh, DATA_PROOF, copy, temp_cleanup) != PAM_SUCCESS) {
		pam_syslog(c->pamh, LOG_WARNING, "could not keep the proof of the login");
		if (copy != NULL)
			temp_cleanup(c->pamh, copy, 0);
	}
}

/* The proof kept by keep_proof, or "". */
static const char *
kept_proof(const struct ctx *c)
{
	const void *v = NULL;

	if (pam_get_data(c->pamh, DATA_PROOF, &v) != PAM_SUCCESS || v == NULL)
		return "";
	return v;
}

static int
succeeded(struct ctx *c, int32_t authr_flags, const char *password)
{
	if (authr_flags & KENPO_AUTHR_MUST_CHANGE)
		keep_temporary_password(c, password);
	if (opt(c, OPT_DEBUG))
		pam_syslog(c->pamh, LOG_DEBUG, "%.100s authenticated%s", c->user,
			   (authr_flags & KENPO_AUTHR_MUST_CHANGE) ? " (must change)" : "");
	return PAM_SUCCESS;
}

/* The info line of a key: where it went and how long it stays valid. */
static void
say_key_sent(struct ctx *c, int32_t result, const struct kenpo_answer *a, int again)
{
	char d[64];

	format_duration(c, a->seconds, d, sizeof(d));
	if (again)
		say_always(c, PAM_TEXT_INFO,
			   tr(c, N_("A new one-time key was sent to %s; the previous key is no "
				    "longer valid. The new key is valid for %s.")),
			   a->masked, d);
	else if (result == KENPO_RES_KEY_PENDING)
		say_always(c, PAM_TEXT_INFO,
			   tr(c, N_("The one-time key sent to %s is valid for %s more.")),
			   a->masked, d);
	else
		say_always(c, PAM_TEXT_INFO,
			   tr(c, N_("A one-time key was sent to %s. It is valid for %s.")),
			   a->masked, d);
}

static int
is_key(const char *s)
{
	size_t i;

	for (i = 0; i < KEY_DIGITS; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return s[KEY_DIGITS] == '\0';
}

/* An empty answer: a new key is mailed and the old one becomes void. */
static int
request_new_key(struct ctx *c, struct pending *p, int *requests)
{
	struct kenpo_client kc = client(c, AUTH_TIMEOUT_MS);
	struct kenpo_answer a;
	char d[64];
	int rc = KEEP_ASKING;

	if (++*requests > c->o.key_prompts) {
		say(c, PAM_ERROR_MSG, "%s",
		    tr(c, N_("Too many requests for a new key. "
			     "Please log in again.")));
		return PAM_AUTH_ERR;
	}
	if (kenpo_client_auth_resend(&kc, p->login, p->txn, &a) != 0)
		return unreachable(c, "AUTH_RESEND", errno);
	learn_lang(c, &a);
	debug_answer(c, "AUTH_RESEND", &a);
	if (a.result == KENPO_RES_KEY_SENT) {
		pending_set(p, &a);
		say_key_sent(c, a.result, &a, 1);
	} else if (a.result == KENPO_RES_COOLDOWN) {
		format_duration(c, a.seconds, d, sizeof(d));
		say_always(c, PAM_ERROR_MSG,
			   tr(c, N_("A new key can be requested in %s. "
				    "Please enter the key already sent, "
				    "or wait.")),
			   d);
	} else {
		rc = auth_failed(c, &a);
	}
	kenpo_answer_wipe(&a);
	return rc;
}

/* After a wrong key: tries left, the lower of kenpod's count for the key
 * and what is left of this transaction's prompts. */
static int
wrong_key(struct ctx *c, int32_t tries, int *wrong)
{
	int left = c->o.key_prompts - ++*wrong;

	if (tries < left)
		left = tries;
	if (left <= 0 && tries <= 0) {
		say_always(c, PAM_ERROR_MSG, "%s",
			   tr(c, N_("The one-time key is no longer valid because a wrong key was "
				    "entered too many times. Please log in again to receive a "
				    "new key.")));
		return PAM_AUTH_ERR;
	}
	if (left <= 0) {
		say_always(c, PAM_ERROR_MSG, "%s",
			   tr(c, N_("The one-time key is not correct. Please log in again.")));
		return PAM_AUTH_ERR;
	}
	say_always(c, PAM_ERROR_MSG,
		   tr_count(c, N_("The one-time key is not correct. You can try %d more time."),
			    N_("The one-time key is not correct. You can try %d more times."),
			    left),
		   left);
	return KEEP_ASKING;
}

static int
try_key(struct ctx *c, struct pending *p, const char *key, int *wrong, int32_t *authr_flags)
{
	struct kenpo_client kc = client(c, AUTH_TIMEOUT_MS);
	struct kenpo_answer a;
	int rc;

	if (!is_key(key)) {
		/* Sure to be wrong: kenpod is not asked, and the key's tries are
		 * spared; this transaction's are not. */
		say_always(c, PAM_ERROR_MSG, "%s",
			   tr(c, N_("The one-time key is the 10-digit number in the mail.")));
		return ++*wrong >= c->o.key_prompts ? PAM_AUTH_ERR : KEEP_ASKING;
	}
	if (kenpo_client_auth_key(&kc, p->login, p->txn, key,
				  opt(c, OPT_TICKET) ? KENPO_AUTHF_TICKET : 0,
				  item_string(c, PAM_SERVICE), item_string(c, PAM_RHOST),
				  &a) != 0)
		return unreachable(c, "AUTH_KEY", errno);
	learn_lang(c, &a);
	debug_answer(c, "AUTH_KEY", &a);
	if (a.result == KENPO_RES_OK) {
		*authr_flags = a.flags;
		offer_ticket(c, &a);
		keep_proof(c, &a);
		rc = PAM_SUCCESS;
	} else if (a.result == KENPO_RES_KEY_WRONG) {
		rc = wrong_key(c, a.tries, wrong);
	} else if (a.result == KENPO_RES_KEY_EXPIRED) {
		/* The login goes on: an empty answer mails a new key. */
		say_always(c, PAM_ERROR_MSG, "%s",
			   tr(c, N_("The one-time key has expired. To have a new key sent, "
				    "enter nothing.")));
		rc = ++*wrong >= c->o.key_prompts ? PAM_AUTH_ERR : KEEP_ASKING;
	} else {
		rc = auth_failed(c, &a);
	}
	kenpo_answer_wipe(&a);
	return rc;
}

/*
 * Ask for the key until it is right, void, expired, or asked for too
 * often.  A conversation that cannot answer (a web application in split
 * mode) ends the dialog with PAM_AUTH_ERR.
 */
static int
key_dialog(struct ctx *c, struct pending *p, const struct kenpo_answer *first,
	   int32_t *authr_flags)
{
	int wrong = 0, requests = 0, rc = KEEP_ASKING;
	char *key = NULL;

	say_key_sent(c, first->result, first, 0);
	say_always(c, PAM_TEXT_INFO, "%s",
		   tr(c, N_("Enter the key from the mail. To have a new key sent, "
			    "enter nothing.")));
	while (rc == KEEP_ASKING) {
		if (ask_secret(c, tr(c, N_("One-time key: ")), &key) != PAM_SUCCESS) {
			if (opt(c, OPT_DEBUG))
				pam_syslog(c->pamh, LOG_DEBUG, "no answer to the key prompt");
			return PAM_AUTH_ERR;
		}
		if (key[0] == '\0')
			rc = request_new_key(c, p, &requests);
		else
			rc = try_key(c, p, key, &wrong, authr_flags);
		free_secret(&key);
	}
	return rc;
}

/* KENPO_AUTHF_SINGLE: a right password followed by a wrong key. */
static int
single_wrong_key(struct ctx *c, const struct kenpo_answer *a)
{
	pam_syslog(c->pamh, LOG_NOTICE, "authentication failure for %.100s: %s", c->user,
		   kenpo_result_name(a->result));
	say_always(c, PAM_ERROR_MSG,
		   tr_count(c, N_("The one-time key is not correct. You can try %d more time."),
			    N_("The one-time key is not correct. You can try %d more times."),
			    a->tries),
		   a->tries);
	say_always(c, PAM_TEXT_INFO, "%s",
		   tr(c, N_("Please log in again, entering your password immediately "
			    "followed by the 10-digit key.")));
	return PAM_AUTH_ERR;
}

/* KEY_SENT or KEY_PENDING after a right password. */
static int
key_needed(struct ctx *c, const struct kenpo_answer *a, const char *password)
{
	struct pending local, *p = &local;
	int32_t authr_flags = 0;
	int rc;

	if (opt(c, OPT_SINGLE)) {
		say_key_sent(c, a->result, a, 0);
		say_always(c, PAM_TEXT_INFO, "%s",
			   tr(c, N_("Please log in again, entering your password immediately "
				    "followed by the 10-digit key.")));
		return PAM_AUTH_ERR;
	}
	memset(&local, 0, sizeof(local));
	pending_set(&local, a);
	if (!opt(c, OPT_SPLIT) && (rc = pending_register(c, a, &p)) != PAM_SUCCESS)
		goto done;
	rc = key_dialog(c, p, a, &authr_flags);
	if (rc == PAM_SUCCESS) {
		p->active = 0;
		rc = succeeded(c, authr_flags, password);
	} else {
		abort_pending(c->pamh, p);
	}
done:
	explicit_bzero(&local, sizeof(local));
	return rc;
}

/* Refuse a member who is not the host's account of that name: the answer
 * of a wrong password, and the key voided at once. */
static int
not_this_member(struct ctx *c, const struct kenpo_client *kc, struct kenpo_answer *a)
{
	int32_t result = a->result;

	if (result == KENPO_RES_KEY_SENT || result == KENPO_RES_KEY_PENDING)
		(void)kenpo_client_auth_abort(kc, a->login, a->txn);
	a->result = KENPO_RES_AUTH_ERR;
	return auth_failed(c, a);
}

static int
authenticate(struct ctx *c)
{
	struct kenpo_client kc = client(c, AUTH_TIMEOUT_MS);
	int32_t flags = (opt(c, OPT_SPLIT) ? KENPO_AUTHF_SPLIT : 0) |
			(opt(c, OPT_SINGLE) ? KENPO_AUTHF_SINGLE : 0) |
			(opt(c, OPT_TICKET) ? KENPO_AUTHF_TICKET : 0);
	struct kenpo_answer a = { .result = KENPO_RES_AUTH_ERR };
	const char *password;
	int rc;

	if ((rc = get_user(c)) != PAM_SUCCESS)
		return rc;
	rc = get_secret(c, PAM_AUTHTOK, tr(c, N_("Password: ")),
			opt(c, OPT_USE_FIRST_PASS | OPT_TRY_FIRST_PASS),
			opt(c, OPT_USE_FIRST_PASS), &password);
	if (rc != PAM_SUCCESS)
		return rc;
	/* Longer than any login ID or password: wrong, whoever asks. */
	if (!user_fits(c) ||
	    strnlen(password, KENPO_CLIENT_SECRET_MAX + 1) > KENPO_CLIENT_SECRET_MAX)
		return auth_failed(c, &a);
	if (kenpo_client_auth_password(&kc, c->user, password, flags, item_string(c, PAM_SERVICE),
				       item_string(c, PAM_RHOST), &a) != 0)
		return unreachable(c, "AUTH_PASSWORD", errno);
	learn_lang(c, &a);
	debug_answer(c, "AUTH_PASSWORD", &a);
	if ((a.result == KENPO_RES_OK || a.result == KENPO_RES_KEY_SENT ||
	     a.result == KENPO_RES_KEY_PENDING) &&
	    !is_this_member(c, &a))
		rc = not_this_member(c, &kc, &a);
	else if (a.result == KENPO_RES_OK) {
		offer_ticket(c, &a);
		keep_proof(c, &a);
		rc = succeeded(c, a.flags, password);
	} else if (a.result == KENPO_RES_KEY_SENT || a.result == KENPO_RES_KEY_PENDING)
		rc = key_needed(c, &a, password);
	else if (a.result == KENPO_RES_KEY_WRONG)
		rc = single_wrong_key(c, &a);
	else
		rc = auth_failed(c, &a);
	kenpo_answer_wipe(&a);
	return rc;
}

/* ---- account and session ---- */

static int
account(struct ctx *c)
{
	struct kenpo_client kc = client(c, QUICK_TIMEOUT_MS);
	const struct outcome *o;
	struct kenpo_answer a;
	int rc;

	if ((rc = get_user(c)) != PAM_SUCCESS)
		return rc;
	if (!user_fits(c))
		return PAM_USER_UNKNOWN;
	/* kenpod away: PAM_AUTHINFO_UNAVAIL, as pam_ldap answers when nslcd is.
	 * A `required` line then fails closed (a locked member cannot slip
	 * through); profiles add authinfo_unavail=ignore so local users still
	 * get in.  No message: the user may not be a member at all. */
	if (kenpo_client_account(&kc, c->user, item_string(c, PAM_RHOST), &a) != 0) {
		pam_syslog(c->pamh, LOG_ERR, "ACCOUNT for %.100s: kenpod at %.200s: %m", c->user,
			   c->o.socket);
		return PAM_AUTHINFO_UNAVAIL;
	}
	learn_lang(c, &a);
	debug_answer(c, "ACCOUNT", &a);
	if ((a.result == KENPO_RES_OK || a.result == KENPO_RES_MUST_CHANGE) &&
	    !is_this_member(c, &a))
		return PAM_PERM_DENIED;
	if (a.result == KENPO_RES_LOCKED) {
		say_locked(c, a.result, a.seconds);
		return PAM_PERM_DENIED;
	}
	o = find_outcome(account_outcomes, sizeof(account_outcomes) / sizeof(account_outcomes[0]),
			 a.result);
	if (o == NULL) {
		pam_syslog(c->pamh, LOG_ERR, "ACCOUNT for %.100s: kenpod answered %s", c->user,
			   kenpo_result_name(a.result));
		return PAM_AUTHINFO_UNAVAIL;
	}
	if (o->msgid != NULL)
		say(c, PAM_ERROR_MSG, "%s", tr(c, o->msgid));
	return o->pam;
}

/* "YYYY/MM/DD HH:MM:SS", as kenpod sends the previous login. */
static int
is_timestamp(const char *s)
{
	static const char form[] = "0000/00/00 00:00:00";
	size_t i;

	for (i = 0; i < sizeof(form) - 1; i++) {
		if (form[i] == '0' ? (s[i] < '0' || s[i] > '9') : s[i] != form[i])
			return 0;
	}
	return s[i] == '\0';
}

/* Errors are logged and never fail the session, as pam_lastlog does. */
static int
open_session(struct ctx *c)
{
	struct kenpo_client kc = client(c, QUICK_TIMEOUT_MS);
	struct kenpo_answer a;
	int rc;

	if ((rc = get_user(c)) != PAM_SUCCESS)
		return rc;
	if (!user_fits(c))
		return PAM_IGNORE;
	if (kenpo_client_session_open(&kc, c->user, item_string(c, PAM_SERVICE),
				      item_string(c, PAM_RHOST), &a) != 0) {
		pam_syslog(c->pamh, LOG_ERR, "SESSION_OPEN for %.100s: kenpod at %.200s: %m",
			   c->user, c->o.socket);
		return PAM_SUCCESS;
	}
	learn_lang(c, &a);
	debug_answer(c, "SESSION_OPEN", &a);
	if (a.result == KENPO_RES_NOTFOUND)
		return PAM_IGNORE;
	if (a.result != KENPO_RES_OK)
		pam_syslog(c->pamh, LOG_ERR, "SESSION_OPEN for %.100s: kenpod answered %s",
			   c->user, kenpo_result_name(a.result));
	else if (is_timestamp(a.text))
		say(c, PAM_TEXT_INFO, tr(c, N_("Last login: %s")), a.text);
	return PAM_SUCCESS;
}

/* ---- password change ---- */

/* root changing someone's password (passwd NAME): no old password.  Not
 * for the forced change after a login, which runs as root in sshd. */
static int
is_admin(const struct ctx *c)
{
	return getuid() == 0 && !(c->flags & PAM_CHANGE_EXPIRED_AUTHTOK);
}

/* The temporary password of this login, if auth kept it. */
static const char *
temporary_password(const struct ctx *c)
{
	const void *v = NULL;

	if (!(c->flags & PAM_CHANGE_EXPIRED_AUTHTOK))
		return NULL;
	if (pam_get_data(c->pamh, DATA_TEMP_AUTHTOK, &v) != PAM_SUCCESS)
		return NULL;
	return v;
}

static int
old_password(struct ctx *c, int prelim, const char **out)
{
	const char *temp = temporary_password(c);

	if (temp != NULL) {
		*out = temp;
		return PAM_SUCCESS;
	}
	/* The update takes what the preliminary check asked for. */
	return get_secret(c, PAM_OLDAUTHTOK, tr(c, N_("Current password: ")),
			  !prelim || opt(c, OPT_USE_FIRST_PASS | OPT_TRY_FIRST_PASS),
			  prelim && opt(c, OPT_USE_FIRST_PASS), out);
}

/* Compares the two typings of the new password without an early exit
 * (no libsodium here for sodium_memcmp). */
static int
same_secret(const char *x, const char *y)
{
	size_t lx = strlen(x), ly = strlen(y), n = lx > ly ? lx : ly, i;
	volatile unsigned char d = (unsigned char)(lx != ly);

	for (i = 0; i < n; i++)
		d |= (unsigned char)((i < lx ? x[i] : 0) ^ (i < ly ? y[i] : 0));
	return d == 0;
}

static int
check_rules(struct ctx *c, const char *pw)
{
	unsigned mask = kenpo_policy_check_password(pw, strlen(pw));

	if (mask == 0)
		return PAM_SUCCESS;
	say_policy(c, mask);
	return PAM_AUTHTOK_ERR;
}

/* The new password typed twice; *typed is the caller's to free_secret. */
static int
ask_new_password(struct ctx *c, char **typed)
{
	char *first = NULL, *again = NULL;
	int rc;

	if (ask_secret(c, tr(c, N_("New password: ")), &first) != PAM_SUCCESS)
		return PAM_AUTHTOK_ERR;
	if ((rc = check_rules(c, first)) != PAM_SUCCESS)
		goto done;
	rc = PAM_AUTHTOK_ERR;
	if (ask_secret(c, tr(c, N_("Retype new password: ")), &again) != PAM_SUCCESS)
		goto done;
	if (!same_secret(first, again)) {
		say(c, PAM_ERROR_MSG, "%s", tr(c, N_("The two new passwords do not match.")));
		goto done;
	}
	*typed = first;
	first = NULL;
	rc = PAM_SUCCESS;
done:
	free_secret(&first);
	free_secret(&again);
	return rc;
}

/* With use_authtok the new password is the one an earlier module set. */
static int
new_password(struct ctx *c, const char **out, char **typed)
{
	const void *v = NULL;
	int rc;

	if (!opt(c, OPT_USE_AUTHTOK)) {
		if ((rc = ask_new_password(c, typed)) == PAM_SUCCESS)
			*out = *typed;
		return rc;
	}
	if (pam_get_item(c->pamh, PAM_AUTHTOK, &v) != PAM_SUCCESS || v == NULL)
		return PAM_AUTHTOK_ERR;
	if ((rc = check_rules(c, v)) != PAM_SUCCESS)
		return rc;
	*out = v;
	return PAM_SUCCESS;
}

static const struct outcome change_outcomes[] = {
	{ KENPO_RES_AUTH_ERR, PAM_AUTH_ERR, N_("The current password is not correct.") },
	{ KENPO_RES_LOGIN_REQUIRED, PAM_PERM_DENIED,
	  N_("To change the password, please first log in with your password and the "
	     "one-time key.") },
	{ KENPO_RES_TEMP_EXPIRED, PAM_PERM_DENIED,
	  N_("The temporary password has expired. Please request a new one from the "
	     "password reissue page of the member portal.") },
	{ KENPO_RES_NOTFOUND, PAM_USER_UNKNOWN, NULL },
	{ KENPO_RES_DENIED, PAM_PERM_DENIED, NULL },
	{ KENPO_RES_DISABLED, PAM_PERM_DENIED,
	  N_("This account has been suspended. Please contact your health insurance society.") },
	{ KENPO_RES_NOT_REGISTERED, PAM_PERM_DENIED,
	  N_("The registration of this account is not complete. Please first complete the "
	     "registration on the member portal with the login ID and temporary password "
	     "from your letter.") },
};

static int
change_answer(struct ctx *c, const struct kenpo_answer *a, char *typed)
{
	const struct outcome *o;

	if (a->result == KENPO_RES_OK) {
		if (typed != NULL && pam_set_item(c->pamh, PAM_AUTHTOK, typed) != PAM_SUCCESS)
			pam_syslog(c->pamh, LOG_WARNING, "could not set PAM_AUTHTOK");
		/* The temporary password is spent. */
		(void)pam_set_data(c->pamh, DATA_TEMP_AUTHTOK, NULL, NULL);
		pam_syslog(c->pamh, LOG_NOTICE, "password changed for %.100s", c->user);
		say(c, PAM_TEXT_INFO, "%s", tr(c, N_("Your password has been changed.")));
		return PAM_SUCCESS;
	}
	if (a->result == KENPO_RES_POLICY) {
		say_policy(c, a->mask);
		return PAM_AUTHTOK_ERR;
	}
	pam_syslog(c->pamh, LOG_NOTICE, "password change for %.100s refused: %s", c->user,
		   kenpo_result_name(a->result));
	if (a->result == KENPO_RES_LOCKED || a->result == KENPO_RES_DELAY) {
		say_locked(c, a->result, a->seconds);
		return PAM_PERM_DENIED;
	}
	o = find_outcome(change_outcomes, sizeof(change_outcomes) / sizeof(change_outcomes[0]),
			 a->result);
	if (o == NULL) {
		say_unavailable(c);
		return PAM_AUTHINFO_UNAVAIL;
	}
	if (o->msgid != NULL)
		say(c, PAM_ERROR_MSG, "%s", tr(c, o->msgid));
	return o->pam;
}

static void
state_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	free(data);
}

static int
save_state(struct ctx *c, int32_t account_result)
{
	struct change_state *s = malloc(sizeof(*s));
	int rc;

	if (s == NULL)
		return PAM_BUF_ERR;
	s->result = account_result;
	s->lang = c->lang;
	rc = pam_set_data(c->pamh, DATA_CHAUTHTOK, s, state_cleanup);
	if (rc != PAM_SUCCESS)
		free(s);
	return rc;
}

/* Nothing to change: a forced change (PAM_CHANGE_EXPIRED_AUTHTOK) of a
 * password that need not change, as pam_unix decides it. */
static int
nothing_to_change(const struct ctx *c, int32_t account_result)
{
	return (c->flags & PAM_CHANGE_EXPIRED_AUTHTOK) && account_result == KENPO_RES_OK;
}

/*
 * A change with the current password needs a completed login where the
 * society requires the key.  A handle that authenticated has its proof
 * (keep_proof); else the login is made here, with the key asked for as in
 * auth (in this conversation, whatever the web modes say), so that `passwd`
 * works for a member as pam_unix's does with a second factor.
 */
static int
login_for_change(struct ctx *c, const char *old)
{
	struct kenpo_client kc = client(c, AUTH_TIMEOUT_MS);
	struct kenpo_answer a = { .result = KENPO_RES_AUTH_ERR };
	struct pending *p = NULL;
	int32_t authr_flags = 0;
	int rc;

	if (kept_proof(c)[0] != '\0' || temporary_password(c) != NULL)
		return PAM_SUCCESS;
	if (kenpo_client_auth_password(&kc, c->user, old, 0, item_string(c, PAM_SERVICE),
				       item_string(c, PAM_RHOST), &a) != 0)
		return unreachable(c, "AUTH_PASSWORD", errno);
	learn_lang(c, &a);
	debug_answer(c, "AUTH_PASSWORD", &a);
	if ((a.result == KENPO_RES_OK || a.result == KENPO_RES_KEY_SENT ||
	     a.result == KENPO_RES_KEY_PENDING) &&
	    !is_this_member(c, &a)) {
		rc = not_this_member(c, &kc, &a);
	} else if (a.result == KENPO_RES_OK) {
		keep_proof(c, &a);
		rc = PAM_SUCCESS;
	} else if (a.result == KENPO_RES_KEY_SENT || a.result == KENPO_RES_KEY_PENDING) {
		rc = pending_register(c, &a, &p);
		if (rc == PAM_SUCCESS)
			rc = key_dialog(c, p, &a, &authr_flags);
		if (rc == PAM_SUCCESS)
			p->active = 0;
		else if (p != NULL)
			abort_pending(c->pamh, p);
	} else {
		rc = auth_failed(c, &a);
	}
	kenpo_answer_wipe(&a);
	return rc;
}

/*
 * PAM_PRELIM_CHECK: is kenpod there and is this a member?  Then the old
 * password is asked for here, as pam_unix does, so that the modules after
 * this one find it.
 */
static int
prelim_check(struct ctx *c)
{
	struct kenpo_client kc = client(c, QUICK_TIMEOUT_MS);
	struct kenpo_answer a;
	const char *old;
	int rc;

	if (kenpo_client_account(&kc, c->user, item_string(c, PAM_RHOST), &a) != 0) {
		(void)unreachable(c, "ACCOUNT", errno);
		return PAM_TRY_AGAIN;
	}
	learn_lang(c, &a);
	debug_answer(c, "ACCOUNT", &a);
	if ((rc = save_state(c, a.result)) != PAM_SUCCESS)
		return rc;
	if (a.result == KENPO_RES_NOTFOUND)
		return PAM_USER_UNKNOWN;
	if (nothing_to_change(c, a.result) || is_admin(c))
		return PAM_SUCCESS;
	if ((rc = old_password(c, 1, &old)) != PAM_SUCCESS)
		return rc;
	return login_for_change(c, old);
}

static int
update_password(struct ctx *c)
{
	struct kenpo_client kc = client(c, AUTH_TIMEOUT_MS);
	const char *old = "", *newpw = NULL;
	const struct change_state *s;
	struct kenpo_answer a;
	const void *v = NULL;
	char *typed = NULL;
	int rc;

	if (pam_get_data(c->pamh, DATA_CHAUTHTOK, &v) == PAM_SUCCESS && v != NULL) {
		s = v;
		c->lang = s->lang;
		/* Not a member: the preliminary check said so, and the stack
		 * went on (user_unknown=ignore); ask nothing. */
		if (s->result == KENPO_RES_NOTFOUND)
			return PAM_USER_UNKNOWN;
		if (nothing_to_change(c, s->result))
			return PAM_SUCCESS;
	}
	if (!is_admin(c) && (rc = old_password(c, 0, &old)) != PAM_SUCCESS)
		return rc;
	if ((rc = new_password(c, &newpw, &typed)) != PAM_SUCCESS)
		goto done;
	if (kenpo_client_password_change(&kc, c->user, old, newpw,
					 is_admin(c) ? KENPO_PWCF_ADMIN : 0, kept_proof(c),
					 item_string(c, PAM_RHOST), &a) != 0) {
		rc = unreachable(c, "PASSWORD_CHANGE", errno);
		goto done;
	}
	learn_lang(c, &a);
	debug_answer(c, "PASSWORD_CHANGE", &a);
	rc = change_answer(c, &a, typed);
	kenpo_answer_wipe(&a);
done:
	free_secret(&typed);
	return rc;
}

static int
chauthtok(struct ctx *c)
{
	int rc;

	if ((rc = get_user(c)) != PAM_SUCCESS)
		return rc;
	if (!user_fits(c))
		return PAM_USER_UNKNOWN;
	if (c->flags & PAM_PRELIM_CHECK)
		return prelim_check(c);
	if (c->flags & PAM_UPDATE_AUTHTOK)
		return update_password(c);
	return PAM_SERVICE_ERR;
}

/* ---- entry points ---- */

int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct ctx c;

	ctx_init(&c, pamh, flags, argc, argv);
	return authenticate(&c);
}

int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}

int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct ctx c;

	ctx_init(&c, pamh, flags, argc, argv);
	return account(&c);
}

int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct ctx c;

	ctx_init(&c, pamh, flags, argc, argv);
	return open_session(&c);
}

int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}

int
pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct ctx c;

	ctx_init(&c, pamh, flags, argc, argv);
	return chauthtok(&c);
}
