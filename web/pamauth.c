/*
 * pamauth.c - the PAM side of kenpo-web's logins (see pamauth.h).
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>
#include <sodium.h>

#include "gate.h"
#include "pamauth.h"

#define ANSWERS_MAX 3

/* Which key lines the module showed. */
#define KF_SENT 0x1    /* a key was mailed by this transaction's password */
#define KF_PENDING 0x2 /* the key mailed earlier is still pending */
#define KF_RESENT 0x4  /* a new key was mailed on request */

/* The logins at kenpod at once. */
static struct gate logins;

int
pa_init(unsigned concurrency)
{
	return gate_init(&logins, concurrency);
}

struct conv_data {
	const char *answers[ANSWERS_MAX];
	size_t nanswers, next;
	int unanswered; /* a prompt the conversation could not answer */
	int key_flags;
	enum pa_outcome error; /* what the last error line said, PA_OK if none */
	struct pa_result *out;
};

/* ---- reading the module's lines ---- */

/* "10 minutes", "1 minute", "45 seconds" at s: seconds, or -1. */
static long
duration(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (end == s || n < 0 || n > 1000000)
		return -1;
	if (strncmp(end, " minute", 7) == 0)
		return n * 60;
	if (strncmp(end, " second", 7) == 0)
		return n;
	return -1;
}

/* The text between `from` and `to` in msg, into out. */
static void
between(const char *msg, const char *from, const char *to, char *out, size_t outsz)
{
	const char *a = strstr(msg, from), *b;
	size_t n;

	out[0] = '\0';
	if (a == NULL)
		return;
	a += strlen(from);
	if ((b = strstr(a, to)) == NULL)
		return;
	n = (size_t)(b - a);
	if (n < outsz) {
		memcpy(out, a, n);
		out[n] = '\0';
	}
}

static long
duration_after(const char *msg, const char *marker)
{
	const char *p = strstr(msg, marker);

	return p != NULL ? duration(p + strlen(marker)) : -1;
}

static int
starts(const char *msg, const char *prefix)
{
	return strncmp(msg, prefix, strlen(prefix)) == 0;
}

/* The error lines: (prefix, outcome, where a duration follows or NULL). */
static const struct {
	const char *prefix;
	enum pa_outcome outcome;
	const char *duration_marker;
} errors[] = {
	{ "The login ID or password is not correct.", PA_WRONG, NULL },
	{ "There were too many failed logins.", PA_DELAY, "Please wait " },
	{ "This account is locked", PA_LOCKED, "Please try again in " },
	{ "This account has been suspended.", PA_DISABLED, NULL },
	{ "The registration of this account is not complete.", PA_NOT_REGISTERED, NULL },
	{ "The login service is not available", PA_UNAVAIL, NULL },
	{ "The mail with the one-time key could not be sent.", PA_UNAVAIL, NULL },
	{ "The one-time key is no longer valid", PA_KEY_VOID, NULL },
	{ "The one-time key has expired.", PA_KEY_EXPIRED, NULL },
	{ "The one-time key is not correct.", PA_KEY_WRONG, NULL },
	{ "The one-time key is the 10-digit number", PA_KEY_WRONG, NULL },
	{ "Too many requests for a new key.", PA_TOO_MANY, NULL },
	{ "A new key can be requested in ", PA_COOLDOWN, "requested in " },
};

static void
parse_error(const char *msg, struct pa_result *out, enum pa_outcome *error)
{
	const char *p;
	size_t i;
	long secs;

	for (i = 0; i < sizeof errors / sizeof errors[0]; i++) {
		if (!starts(msg, errors[i].prefix))
			continue;
		*error = errors[i].outcome;
		if (errors[i].duration_marker != NULL &&
		    (secs = duration_after(msg, errors[i].duration_marker)) >= 0)
			out->seconds = secs;
		if (errors[i].outcome == PA_KEY_WRONG) {
			p = strstr(msg, "You can try ");
			out->tries_left = p != NULL ? atoi(p + 12) : 0;
		}
		return;
	}
}

void
pa_parse_message(const char *msg, struct pa_result *out, int *key_flags)
{
	enum pa_outcome error = PA_OK;
	long secs;

	if (starts(msg, "A one-time key was sent to ")) {
		between(msg, "sent to ", ". It is valid for ", out->masked, sizeof out->masked);
		secs = duration_after(msg, "It is valid for ");
		*key_flags |= KF_SENT;
	} else if (starts(msg, "The one-time key sent to ")) {
		between(msg, "sent to ", " is valid for ", out->masked, sizeof out->masked);
		secs = duration_after(msg, " is valid for ");
		*key_flags |= KF_PENDING;
	} else if (starts(msg, "A new one-time key was sent to ")) {
		between(msg, "sent to ", "; the previous key", out->masked, sizeof out->masked);
		secs = duration_after(msg, "The new key is valid for ");
		*key_flags |= KF_RESENT;
	} else {
		parse_error(msg, out, &error);
		if (error != PA_OK)
			out->outcome = error;
		return;
	}
	if (secs >= 0)
		out->seconds = secs;
}

/* ---- the conversation ---- */

static void
free_replies(struct pam_response *resp, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (resp[i].resp != NULL) {
			sodium_memzero(resp[i].resp, strlen(resp[i].resp));
			free(resp[i].resp);
		}
	free(resp);
}

static int
conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *ptr)
{
	struct conv_data *d = ptr;
	struct pam_response *r;
	int i;

	if (n <= 0 || n > PAM_MAX_NUM_MSG || (r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_CONV_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
		case PAM_PROMPT_ECHO_ON:
			/* No answer left: the member has not given it yet.  A
			 * key (or a request for a new one) is not given when the
			 * password has just mailed a new key: the old one had
			 * expired, no key typed before can be right, and the new
			 * one is as good as a new request. */
			if (d->next == d->nanswers || (d->next > 0 && (d->key_flags & KF_SENT))) {
				d->unanswered = 1;
				free_replies(r, n);
				return PAM_CONV_ERR;
			}
			if ((r[i].resp = strdup(d->answers[d->next++])) == NULL) {
				free_replies(r, n);
				return PAM_BUF_ERR;
			}
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			d->out->outcome = PA_OK;
			pa_parse_message(msg[i]->msg, d->out, &d->key_flags);
			if (d->out->outcome != PA_OK)
				d->error = d->out->outcome;
			break;
		default:
			free_replies(r, n);
			return PAM_CONV_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* ---- transactions ---- */

static enum pa_outcome
failed(const struct conv_data *d, int rc)
{
	/* A new mail went out in the second step: on request (再請求), or
	 * because the key had expired and the password mailed another. */
	if ((d->key_flags & KF_RESENT) || ((d->key_flags & KF_SENT) && d->nanswers >= 2))
		return PA_KEY_RESENT;
	if (d->error != PA_OK)
		return d->error;
	if ((d->key_flags & (KF_SENT | KF_PENDING)) && d->unanswered)
		return PA_KEY;
	return rc == PAM_AUTHINFO_UNAVAIL ? PA_UNAVAIL : PA_ERROR;
}

/* What the module put into the PAM environment, read before pam_end
 * wipes it. */
static void
take_env(pam_handle_t *pamh, const char *name, char *out, size_t outsz)
{
	const char *v = pam_getenv(pamh, name);

	if (v != NULL && strlen(v) < outsz)
		memcpy(out, v, strlen(v) + 1);
}

/* The previous login, while the newest of the history is still that one. */
static void
ask_history(const struct pa_ctx *c, pam_handle_t *pamh, struct pa_result *out)
{
	const void *user = NULL;

	if (c->history == NULL || pam_get_item(pamh, PAM_USER, &user) != PAM_SUCCESS ||
	    user == NULL)
		return;
	out->history_rc = c->history(user, out->proof, out->last_login, sizeof out->last_login);
}

/* After a right password (and key): the account, the ticket and the
 * proof, the previous login, the session. */
static enum pa_outcome
logged_in(const struct pa_ctx *c, pam_handle_t *pamh, struct pa_result *out)
{
	int rc;

	take_env(pamh, "KENPO_TICKET", out->ticket, sizeof out->ticket);
	take_env(pamh, "KENPO_PROOF", out->proof, sizeof out->proof);
	rc = pam_acct_mgmt(pamh, 0);
	if (rc == PAM_NEW_AUTHTOK_REQD) {
		ask_history(c, pamh, out);
		return PA_MUST_CHANGE;
	}
	if (rc == PAM_ACCT_EXPIRED)
		return PA_DISABLED;
	if (rc != PAM_SUCCESS)
		return rc == PAM_PERM_DENIED ? PA_LOCKED : PA_UNAVAIL;
	ask_history(c, pamh, out);
	/* pam_kenpo records this login; a failure here never fails the
	 * login (as pam_lastlog). */
	(void)pam_open_session(pamh, 0);
	return PA_OK;
}

static void
run(const struct pa_ctx *c, const char *login, const char *const *answers, size_t n, int auth,
    struct pa_result *out)
{
	struct conv_data d = { .nanswers = n, .error = PA_OK, .out = out };
	struct pam_conv conv = { conversation, &d };
	pam_handle_t *pamh = NULL;
	const void *user = NULL;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	out->tries_left = -1;
	out->seconds = -1;
	out->history_rc = -1;
	for (i = 0; i < n && i < ANSWERS_MAX; i++)
		d.answers[i] = answers[i];
	if (gate_enter(&logins) != 0) {
		out->outcome = PA_UNAVAIL;
		return;
	}
	if (pam_start(c->service, login, &conv, &pamh) != PAM_SUCCESS) {
		gate_leave(&logins);
		out->outcome = PA_UNAVAIL;
		return;
	}
	rc = pam_set_item(pamh, PAM_RHOST, c->rhost);
	if (rc == PAM_SUCCESS && auth)
		rc = pam_authenticate(pamh, PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS && auth) {
		out->outcome = logged_in(c, pamh, out);
	} else if (rc == PAM_SUCCESS) {
		(void)pam_open_session(pamh, 0);
		out->outcome = PA_OK;
	} else {
		out->outcome = failed(&d, rc);
	}
	if (pam_get_item(pamh, PAM_USER, &user) == PAM_SUCCESS && user != NULL)
		snprintf(out->login, sizeof out->login, "%s", (const char *)user);
	pam_end(pamh, rc);
	gate_leave(&logins);
}

void
pa_password(const struct pa_ctx *c, const char *login, const char *password,
	    struct pa_result *out)
{
	const char *answers[] = { password };

	run(c, login, answers, 1, 1, out);
}

void
pa_key(const struct pa_ctx *c, const char *login, const char *password, const char *key,
       struct pa_result *out)
{
	const char *answers[] = { password, key };

	run(c, login, answers, 2, 1, out);
}

void
pa_resend(const struct pa_ctx *c, const char *login, const char *password, struct pa_result *out)
{
	const char *answers[] = { password, "" };

	run(c, login, answers, 2, 1, out);
}

void
pa_open_session(const struct pa_ctx *c, const char *login, struct pa_result *out)
{
	run(c, login, NULL, 0, 0, out);
}
